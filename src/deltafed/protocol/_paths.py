"""The HTTP binding's names (``docs/protocol.md`` section 7): paths and media types.

Shared by the node that serves them and the client that calls them.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "API_PREFIX",
    "HEALTH_PATH",
    "METADATA_MEDIA_TYPE",
    "METADATA_PATH",
    "OPENAPI_PATH",
    "OPERATION_PATHS",
    "PATH_OPERATIONS",
    "PROTOCOL_VERSIONS",
    "REQUEST_MEDIA_TYPE",
    "RESPONSE_MEDIA_TYPE",
]

#: Every path of the binding starts with this.
API_PREFIX: Final = "/deltafed/v1"
#: The protocol versions this library speaks.
PROTOCOL_VERSIONS: Final = ("1",)

#: Media type of a request body (a compact JWS).
REQUEST_MEDIA_TYPE: Final = "application/deltafed-request+jws"
#: Media type of a response body (a compact JWS).
RESPONSE_MEDIA_TYPE: Final = "application/deltafed-response+jws"
#: Media type of the signed node metadata.
METADATA_MEDIA_TYPE: Final = "application/deltafed-metadata+jws"

#: Operation -> path of the POST endpoint that performs it.
OPERATION_PATHS: Final = {
    "certificate.verify": f"{API_PREFIX}/certificates/verify",
    "certificate.release": f"{API_PREFIX}/certificates/release",
    "record.request": f"{API_PREFIX}/records",
    # cross-region concerns (docs/protocol.md section 10)
    "concern.file": f"{API_PREFIX}/concerns",
    "concern.history": f"{API_PREFIX}/concerns/history",
    "concern.escalations": f"{API_PREFIX}/concerns/escalations",
    "match.ask": f"{API_PREFIX}/match",
    "subscription.create": f"{API_PREFIX}/subscriptions",
    "subscription.list": f"{API_PREFIX}/subscriptions/list",
    "subscription.cancel": f"{API_PREFIX}/subscriptions/cancel",
    "event.deliver": f"{API_PREFIX}/events",
}
#: Path -> the operation performed there.
PATH_OPERATIONS: Final = {path: op for op, path in OPERATION_PATHS.items()}
#: The signed node metadata (GET).
METADATA_PATH: Final = f"{API_PREFIX}/metadata"
#: The unsigned health answer (GET).
HEALTH_PATH: Final = f"{API_PREFIX}/health"
#: The OpenAPI description of the node (GET).
OPENAPI_PATH: Final = f"{API_PREFIX}/openapi.json"
