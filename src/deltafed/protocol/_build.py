"""Building and signing messages."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Literal

from deltafed._errors import InvalidInputError
from deltafed._profile import INTERNATIONAL, CryptoProfile, crypto_profile
from deltafed.keys import Signer
from deltafed.protocol._claims import (
    REQUEST_TYP,
    RESPONSE_TYP,
    RequestClaims,
    ResponseClaims,
    VerifiedRequest,
)
from deltafed.protocol._json import canonical_bytes, canonical_json_value
from deltafed.protocol._jws import _b64encode, encode_compact, peek_payload
from deltafed.schemas.identifiers import MemberId, parse_member_id

__all__ = [
    "MAX_LIFETIME",
    "new_jti",
    "new_problem_response",
    "new_request",
    "new_response",
    "sign_document",
    "sign_request",
    "sign_response",
]

#: The longest lifetime the builders give a message, in seconds (the default verifier limit).
MAX_LIFETIME: Final = 300

_TYP = re.compile(r"deltafed-[a-z0-9.\-]{1,38}\+jws")
_JTI = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_jti() -> str:
    """A fresh random message id (128 bits, base64url: 22 characters).

    What ``secrets.token_urlsafe(16)`` gives, through the JWS code's own base64url encoder
    instead of the ``secrets`` and ``base64`` wrappers."""
    return _b64encode(os.urandom(16)).decode("ascii")


def _epoch(now: datetime | int) -> int:
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise InvalidInputError("'now' must be timezone-aware", field="now")
        return int(now.timestamp())
    if isinstance(now, bool) or not isinstance(now, int) or now < 0:
        raise InvalidInputError("'now' must be a datetime or epoch seconds", field="now")
    return now


def _lifetime(lifetime: int) -> int:
    if isinstance(lifetime, bool) or not isinstance(lifetime, int):
        raise InvalidInputError("lifetime must be whole seconds", field="lifetime")
    if not 1 <= lifetime <= MAX_LIFETIME:
        raise InvalidInputError(f"lifetime must be 1 to {MAX_LIFETIME} seconds", field="lifetime")
    return lifetime


def new_request(
    *,
    issuer: str,
    audience: str,
    operation: str,
    target: str,
    scenario: str,
    body: Mapping[str, Any],
    consent: str | bytes | None = None,
    now: datetime | int,
    lifetime: int = 60,
    jti: str | None = None,
) -> RequestClaims:
    """The claims of a new request, validated; sign them with :func:`sign_request`."""
    iat = _epoch(now)
    return RequestClaims.parse(
        {
            "iss": issuer,
            "aud": audience,
            "iat": iat,
            "exp": iat + _lifetime(lifetime),
            "jti": jti if jti is not None else new_jti(),
            "op": operation,
            "tgt": target,
            "scn": scenario,
            "body": dict(body),
            "cns": consent.decode("ascii", "replace") if isinstance(consent, bytes) else consent,
        }
    )


def new_response(
    request: VerifiedRequest,
    *,
    issuer: str | None = None,
    status: Literal["ok", "problem"],
    body: Mapping[str, Any],
    now: datetime | int,
    lifetime: int = 60,
    jti: str | None = None,
) -> ResponseClaims:
    """The claims of the answer to a verified request, bound to its exact bytes.

    ``issuer`` defaults to the request's audience and, if given, must equal it.
    """
    if issuer is not None and issuer != request.claims.aud:
        raise InvalidInputError(
            "a response is issued by the member the request was addressed to", field="iss"
        )
    iat = _epoch(now)
    return ResponseClaims.parse(
        {
            "iss": request.claims.aud,
            "aud": request.claims.iss,
            "iat": iat,
            "exp": iat + _lifetime(lifetime),
            "jti": jti if jti is not None else new_jti(),
            "req": request.digest,
            "rid": request.claims.jti,
            "sts": status,
            "body": dict(body),
        }
    )


def _unverified_sender(raw_request: bytes) -> tuple[MemberId | None, str | None]:
    """Best effort: the claimed ``iss`` and ``jti`` of bytes that failed verification."""
    payload = peek_payload(raw_request) if isinstance(raw_request, bytes) else None
    if payload is None:
        return None, None
    iss, jti = payload.get("iss"), payload.get("jti")
    member: MemberId | None = None
    if isinstance(iss, str):
        try:
            member = parse_member_id(iss)
        except InvalidInputError:
            member = None
    return member, jti if isinstance(jti, str) and _JTI.fullmatch(jti) else None


def new_problem_response(
    raw_request: bytes,
    *,
    issuer: str,
    body: Mapping[str, Any],
    now: datetime | int,
    audience: str | None = None,
    lifetime: int = 60,
    jti: str | None = None,
    crypto: CryptoProfile | str = INTERNATIONAL,
) -> ResponseClaims:
    """A problem answering bytes that did not verify (or were never a request).

    ``req`` is the digest of ``raw_request`` as received, with the hash of the federation's
    ``crypto`` profile. The receiver's claims in it are not
    trusted, but they are the best address there is: ``aud`` is ``audience`` if given, else
    the ``iss`` claimed in the request if it is a well-formed member id, else ``issuer``
    itself; ``rid`` is the claimed ``jti`` if well-formed, else absent.
    """
    claimed_iss, claimed_jti = _unverified_sender(raw_request)
    iat = _epoch(now)
    return ResponseClaims.parse(
        {
            "iss": issuer,
            "aud": audience or claimed_iss or issuer,
            "iat": iat,
            "exp": iat + _lifetime(lifetime),
            "jti": jti if jti is not None else new_jti(),
            "req": crypto_profile(crypto).digest_text(raw_request),
            "rid": claimed_jti,
            "sts": "problem",
            "body": dict(body),
        }
    )


def sign_request(claims: RequestClaims, signer: Signer) -> bytes:
    """The compact JWS of a request: ASCII bytes, ready to POST."""
    if not isinstance(claims, RequestClaims):
        raise InvalidInputError("sign_request takes RequestClaims (see new_request)")
    return encode_compact(REQUEST_TYP, canonical_json_value(claims._signing_fields()), signer)


def sign_response(claims: ResponseClaims, signer: Signer) -> bytes:
    """The compact JWS of a response."""
    if not isinstance(claims, ResponseClaims):
        raise InvalidInputError("sign_response takes ResponseClaims (see new_response)")
    return encode_compact(RESPONSE_TYP, canonical_json_value(claims._signing_fields()), signer)


def sign_document(payload: Mapping[str, Any], *, typ: str, signer: Signer) -> bytes:
    """Sign a generic document (consent, node metadata) as a compact JWS.

    ``typ`` must be ``deltafed-<kind>+jws`` and not a request or response type; the payload
    must name its issuer in ``iss`` (a member id): that is the key the verifier looks up.
    """
    if not isinstance(typ, str) or not _TYP.fullmatch(typ) or typ in (REQUEST_TYP, RESPONSE_TYP):
        raise InvalidInputError(
            "typ must be 'deltafed-<kind>+jws' and not a request or response type", field="typ"
        )
    if not isinstance(payload, Mapping):
        raise InvalidInputError("a document payload must be a mapping")
    iss = payload.get("iss")
    if not isinstance(iss, str):
        raise InvalidInputError("a document payload must name its issuer in 'iss'", field="iss")
    parse_member_id(iss)
    return encode_compact(typ, canonical_bytes(dict(payload)), signer)
