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
from deltafed._limits import LimitedBody
from deltafed.protocol._paths import (
    API_PREFIX,
    HEALTH_PATH,
    METADATA_MEDIA_TYPE,
    METADATA_PATH,
    OPENAPI_PATH,
    OPERATION_PATHS,
    PATH_OPERATIONS,
    PROTOCOL_VERSIONS,
    REQUEST_MEDIA_TYPE,
    RESPONSE_MEDIA_TYPE,
)

__all__ = [
    "API_PREFIX",
    "HEALTH_PATH",
    "JSON_TYPE",
    "METADATA_MEDIA_TYPE",
    "METADATA_PATH",
    "OPENAPI_PATH",
    "OPERATION_PATHS",
    "PATH_OPERATIONS",
    "PROTOCOL_VERSIONS",
    "REQUEST_MEDIA_TYPE",
    "RESPONSE_MEDIA_TYPE",
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

JSON_TYPE: Final = "application/json"


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
    body = LimitedBody(
        limit, too_large=lambda n: SizeLimitError(f"request body exceeds the limit of {n} bytes")
    )
    while True:
        message = await receive()
        kind = message.get("type")
        if kind == "http.disconnect":
            return body.bytes(), False
        if kind != "http.request":
            continue
        body.add(message.get("body", b"") or b"")
        if not message.get("more_body", False):
            return body.bytes(), True


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
