"""The HTTP binding of the protocol: paths, media types, and the little ASGI the node needs.

No web framework: the node is one ASGI callable with a fixed routing table. The body of a
request is read chunk by chunk and refused as soon as it exceeds the limit, so an oversized
upload never sits in memory.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final

from deltafed._errors import SizeLimitError

__all__ = [
    "API_PREFIX",
    "JSON_TYPE",
    "METADATA_PATH",
    "METADATA_TYPE",
    "OPERATION_PATHS",
    "PATH_OPERATIONS",
    "PROTOCOL_VERSIONS",
    "REQUEST_TYPE",
    "RESPONSE_TYPE",
    "Answer",
    "Receive",
    "Scope",
    "Send",
    "read_body",
    "send_answer",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Every path of the binding starts with this.
API_PREFIX: Final = "/deltafed/v1"
#: The protocol versions a node of this library speaks.
PROTOCOL_VERSIONS: Final = ("1",)

#: Media type of a request body (a compact JWS).
REQUEST_TYPE: Final = "application/deltafed-request+jws"
#: Media type of a response body (a compact JWS).
RESPONSE_TYPE: Final = "application/deltafed-response+jws"
#: Media type of the signed node metadata.
METADATA_TYPE: Final = "application/deltafed-metadata+jws"
JSON_TYPE: Final = "application/json"

#: Operation -> path of the POST endpoint that performs it.
OPERATION_PATHS: Final = {
    "certificate.verify": f"{API_PREFIX}/certificates/verify",
    "certificate.release": f"{API_PREFIX}/certificates/release",
    "record.request": f"{API_PREFIX}/records",
}
PATH_OPERATIONS: Final = {path: op for op, path in OPERATION_PATHS.items()}
METADATA_PATH: Final = f"{API_PREFIX}/metadata"
HEALTH_PATH: Final = f"{API_PREFIX}/health"
OPENAPI_PATH: Final = f"{API_PREFIX}/openapi.json"


@dataclass(frozen=True, slots=True)
class Answer:
    """What the node sends back: status, media type, body and extra headers."""

    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = field(default=())


async def read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The request body, and whether the client is still connected.

    Raises :class:`~deltafed.SizeLimitError` as soon as more than ``limit`` bytes arrived;
    what was read is then discarded.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        kind = message.get("type")
        if kind == "http.disconnect":
            return b"".join(chunks), False
        if kind != "http.request":
            continue
        chunk = message.get("body", b"") or b""
        size += len(chunk)
        if size > limit:
            raise SizeLimitError(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True


async def send_answer(send: Send, answer: Answer) -> None:
    headers = [
        (b"content-type", answer.content_type.encode("latin-1")),
        (b"content-length", str(len(answer.body)).encode("ascii")),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
    ]
    headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers)
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body, "more_body": False})


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (lower-case ``name``), or ``None``."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def media_type(value: str | None) -> str | None:
    """The media type of a Content-Type value, without parameters, lower-cased."""
    if value is None:
        return None
    return value.split(";", 1)[0].strip().lower()
