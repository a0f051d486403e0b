"""The claims of request and response messages, and what verification hands back."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, Self

from pydantic import (
    AfterValidator,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from deltafed._errors import IdentifierError, InvalidInputError
from deltafed.schemas._base import Code, NonNegInt, WireModel
from deltafed.schemas.common import Operation
from deltafed.schemas.identifiers import MemberId
from deltafed.schemas.problem import PROBLEM_CODES, Problem

__all__ = [
    "DOCUMENT_TYPES",
    "REQUEST_TYP",
    "RESPONSE_TYP",
    "CompactJws",
    "Digest",
    "JsonObject",
    "MessageId",
    "RequestClaims",
    "ResponseClaims",
    "Target",
    "VerifiedDocument",
    "VerifiedRequest",
    "VerifiedResponse",
    "member_id",
]

#: ``typ`` of a request message.
REQUEST_TYP: Final = "deltafed-request+jws"
#: ``typ`` of a response message.
RESPONSE_TYP: Final = "deltafed-response+jws"
#: ``typ`` values of the generic signed documents defined so far.
DOCUMENT_TYPES: Final = frozenset({"deltafed-consent+jws", "deltafed-metadata+jws"})

_MAX_SAFE_INT = 2**53 - 1
_MAX_DEPTH = 32

#: A message id: 16 to 64 characters of the base64url alphabet.
MessageId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16,64}$")]
#: What a request is about: a certificate type code, a record type code or a certificate id.
Target = Annotated[
    str, StringConstraints(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9_.:/\-]+$")
]
#: A compact JWS carried inside another message (a consent).
CompactJws = Annotated[
    str,
    StringConstraints(
        max_length=16_384, pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"
    ),
]
#: ``sha-256:`` (or ``sm3:`` in the ``gm`` crypto profile) and the lower-case hex digest.
Digest = Annotated[str, StringConstraints(pattern=r"^(?:sha-256|sm3):[0-9a-f]{64}$")]


def _check_json(value: Any, depth: int) -> None:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return
    if kind is int:
        if not -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
            raise ValueError("integer outside the I-JSON range")
        return
    if kind is dict or kind is list:
        if depth > _MAX_DEPTH:
            raise ValueError(f"nested deeper than {_MAX_DEPTH} levels")
        if kind is dict:
            for key, item in value.items():
                if type(key) is not str:
                    raise ValueError("object member names must be strings")
                if type(item) is not str:
                    _check_json(item, depth + 1)
        else:
            for item in value:
                if type(item) is not str:
                    _check_json(item, depth + 1)
        return
    if isinstance(value, float):
        raise ValueError("floats are not allowed on the wire")
    raise ValueError(f"{kind.__name__} is not a JSON value")


def _json_object(value: dict[str, Any]) -> dict[str, Any]:
    # body is at level 1 (the payload at level 0): objects and arrays up to level 32.
    _check_json(value, 1)
    return value


#: A JSON object without floats, integers within the I-JSON range, at most 32 levels deep
#: (itself at level 1, objects and arrays inside it up to level 32; protocol §2.2).
JsonObject = Annotated[dict[str, Any], AfterValidator(_json_object)]


@functools.lru_cache(maxsize=1024)
def _member(value: str) -> MemberId:
    return MemberId.parse(value)


def _cached_member(value: object) -> MemberId:
    # A federation has few members: cache their (immutable) parsed ids. Failures raise and
    # are not cached.
    if type(value) is not str:
        return MemberId.parse(value)
    return _member(value)


def member_id(value: str) -> MemberId:
    """Parse a member id (cached); :class:`~deltafed.IdentifierError` if it is not one."""
    try:
        return _cached_member(value)
    except PydanticCustomError as exc:
        raise IdentifierError(exc.message(), field="member_id") from exc


#: A :class:`MemberId` field whose parsing is cached.
Member = Annotated[
    MemberId,
    PlainValidator(_cached_member, json_schema_input_type=str),
    PlainSerializer(str, return_type=str),
]


class _MessageClaims(WireModel):
    """What request and response claims share."""

    def _signing_fields(self) -> dict[str, Any]:
        # The claims to sign, by wire name (the field names), without None: the validated
        # values themselves, not copies, so that signing serialises once. Equal to to_wire()
        # for every field type the claims have; a test checks it. Never change what it returns.
        return {name: value for name, value in self.__dict__.items() if value is not None}


class RequestClaims(_MessageClaims):
    """What a requesting member signs. Field names are the wire names."""

    iss: Member
    aud: Member
    iat: NonNegInt
    exp: NonNegInt
    jti: MessageId
    op: Operation
    tgt: Target
    scn: Code
    body: JsonObject
    cns: CompactJws | None = None

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.exp <= self.iat:
            raise ValueError("exp must be after iat")
        return self


def _problem_body(body: dict[str, Any]) -> None:
    code = body.get("code")
    if not isinstance(code, str) or code not in PROBLEM_CODES:
        raise ValueError("a problem body needs a 'code' from the closed list of problem codes")
    # The members, their types and lengths, no null member, the status of the code (§4.1).
    try:
        Problem.parse(body)
    except InvalidInputError as exc:
        raise ValueError(f"not a problem object: {exc.reason}") from None


class ResponseClaims(_MessageClaims):
    """What an answering member signs.

    ``req`` is the digest of the exact request bytes answered and ``rid`` the request's
    ``jti``; ``rid`` is absent only in a problem answering bytes that could not be read as a
    request (see :func:`~deltafed.protocol.new_problem_response`).
    """

    iss: Member
    aud: Member
    iat: NonNegInt
    exp: NonNegInt
    jti: MessageId
    req: Digest
    rid: MessageId | None = None
    sts: Literal["ok", "problem"]
    body: JsonObject

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.exp <= self.iat:
            raise ValueError("exp must be after iat")
        if self.sts == "problem":
            _problem_body(self.body)
        elif self.rid is None:
            raise ValueError("an 'ok' response must name the request it answers in 'rid'")
        return self


@dataclass(frozen=True, slots=True)
class VerifiedRequest:
    """A request whose every check passed. ``raw`` is the exact bytes received.

    ``duplicate_of`` holds the signed response already sent for these same bytes when the
    request is an identical retransmission: send it again instead of acting twice.
    """

    claims: RequestClaims
    raw: bytes
    digest: str
    kid: str
    alg: str
    duplicate_of: bytes | None = None

    @property
    def issuer(self) -> MemberId:
        return self.claims.iss

    @property
    def jti(self) -> str:
        return self.claims.jti


@dataclass(frozen=True, slots=True)
class VerifiedResponse:
    """A response whose every check passed, bound to the request it answers."""

    claims: ResponseClaims
    raw: bytes
    digest: str
    kid: str
    alg: str

    @property
    def ok(self) -> bool:
        return self.claims.sts == "ok"

    @property
    def body(self) -> dict[str, Any]:
        return self.claims.body


@dataclass(frozen=True, slots=True)
class VerifiedDocument:
    """A generic signed document (consent, node metadata) whose signature and typ passed."""

    payload: dict[str, Any]
    issuer: MemberId
    kid: str
    alg: str
    typ: str
    raw: bytes
