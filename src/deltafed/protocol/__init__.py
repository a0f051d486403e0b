"""The signed exchange protocol: build, sign and verify one message.

Requests and responses are compact JWS (RFC 7515) whose protected header holds exactly
``alg``, ``kid`` and ``typ`` and whose payload is the RFC 8785 canonical JSON of the claims.
:class:`ProtocolVerifier` takes the bytes as received and returns a typed verified message or
raises a :class:`~deltafed.DeltafedError` naming the first check that failed. The normative
description, for implementers in any language, is ``docs/protocol.md``.
"""

from deltafed.protocol._build import (
    MAX_LIFETIME,
    new_jti,
    new_problem_response,
    new_request,
    new_response,
    sign_document,
    sign_request,
    sign_response,
)
from deltafed.protocol._claims import (
    DOCUMENT_TYPES,
    REQUEST_TYP,
    RESPONSE_TYP,
    RequestClaims,
    ResponseClaims,
    VerifiedDocument,
    VerifiedRequest,
    VerifiedResponse,
)
from deltafed.protocol._jws import peek_unverified_claims
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
from deltafed.protocol._replay import (
    MemoryReplayStore,
    ReplayRecord,
    ReplayStore,
    SqliteReplayStore,
)
from deltafed.protocol._replay_pg import PostgresReplayStore
from deltafed.protocol._verifier import Limits, ProtocolVerifier

__all__ = [
    "API_PREFIX",
    "DOCUMENT_TYPES",
    "HEALTH_PATH",
    "MAX_LIFETIME",
    "METADATA_MEDIA_TYPE",
    "METADATA_PATH",
    "OPENAPI_PATH",
    "OPERATION_PATHS",
    "PATH_OPERATIONS",
    "PROTOCOL_VERSIONS",
    "REQUEST_MEDIA_TYPE",
    "REQUEST_TYP",
    "RESPONSE_MEDIA_TYPE",
    "RESPONSE_TYP",
    "Limits",
    "MemoryReplayStore",
    "PostgresReplayStore",
    "ProtocolVerifier",
    "ReplayRecord",
    "ReplayStore",
    "RequestClaims",
    "ResponseClaims",
    "SqliteReplayStore",
    "VerifiedDocument",
    "VerifiedRequest",
    "VerifiedResponse",
    "new_jti",
    "new_problem_response",
    "new_request",
    "new_response",
    "peek_unverified_claims",
    "sign_document",
    "sign_request",
    "sign_response",
]
