"""Compact JWS (RFC 7515, section 7.1) with deltafed's header profile.

The protected header holds exactly ``alg``, ``kid`` and ``typ``; the payload is the RFC 8785
canonical JSON of the claims. Signing goes through the :class:`~deltafed.keys.Signer` seam and
verification through :class:`~deltafed.keys.Verifier`, so an SM2 or HSM signer needs no change
here. ADR 0002 records why this is written over ``cryptography`` rather than through a JOSE
library.

:func:`parse_compact` does the structural part of verification only (sizes, base64url,
JSON, header allow-list, canonical payload); nothing it returns is trusted until the caller
has checked the signature.
"""

from __future__ import annotations

import binascii
import functools
import re
from collections.abc import Collection
from typing import Any, NamedTuple

from deltafed._errors import (
    AlgorithmNotAllowedError,
    CryptoProfileMismatchError,
    InternalError,
    InvalidInputError,
    MalformedMessageError,
    SizeLimitError,
)
from deltafed._profile import CryptoProfile, profile_of_algorithm
from deltafed.keys import KID_PATTERN, Signer
from deltafed.protocol._json import canonical_bytes, canonical_json_value, loads_strict

__all__ = [
    "FORBIDDEN_ALGORITHMS",
    "HEADER_MEMBERS",
    "ParsedJws",
    "encode_compact",
    "parse_compact",
    "peek_payload",
    "peek_unverified_claims",
]

#: The protected header members deltafed writes and accepts: no more, no fewer.
HEADER_MEMBERS = frozenset({"alg", "kid", "typ"})

#: Algorithm names that are never accepted, whatever a configuration says.
FORBIDDEN_ALGORITHMS = frozenset({"none", "HS256", "HS384", "HS512"})

_MAX_HEADER_SEGMENT = 1024
_MAX_SIGNATURE_BYTES = 512
_KID = re.compile(KID_PATTERN)
_TYP = re.compile(r"[a-z0-9.\-]{1,48}\+jws")
_COMPACT = re.compile(rb"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)")


# base64url through binascii directly: the base64 module's wrappers cost more than the
# decoding itself for messages of this size.
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_PADDING = {0: b"", 2: b"==", 3: b"="}


def _b64encode(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=")


_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_SIXTET = {char: value for value, char in enumerate(_ALPHABET)}
#: Bits of the last character that must be zero, by segment length mod 4.
_PADDING_BITS = {0: 0, 2: 0b1111, 3: 0b11}


def _b64decode(segment: bytes, what: str) -> bytes:
    # The alphabet was checked by _COMPACT. A segment whose length is 1 mod 4 cannot be
    # base64url, and one whose last character has padding bits set is a twin spelling of the
    # same bytes: refused, so that one message has exactly one byte string.
    rest = len(segment) % 4
    if rest == 1 or (rest and _SIXTET[segment[-1]] & _PADDING_BITS[rest]):
        raise MalformedMessageError(f"{what} is not in canonical base64url", field=what)
    try:
        return binascii.a2b_base64(segment.translate(_FROM_URLSAFE) + _PADDING[rest])
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - alphabet checked above
        raise MalformedMessageError(f"{what} is not valid base64url", field=what) from exc


class _Header(NamedTuple):
    alg: str
    kid: str
    typ: str
    #: The first profile violation other than the algorithm: (message, field), or None.
    problem: tuple[str, str] | None


@functools.lru_cache(maxsize=1024)
def _header(segment: bytes) -> _Header:
    # Peers use few distinct headers: decoding and checking each once saves work on every
    # message. Failures raise and are not cached. The algorithm is checked by the caller,
    # against its own allow-list, before the problem recorded here is raised.
    if len(segment) > _MAX_HEADER_SEGMENT:
        raise MalformedMessageError("protected header is too long", field="header")
    header = loads_strict(_b64decode(segment, "header"), what="header")
    if not isinstance(header, dict):
        raise MalformedMessageError("protected header is not a JSON object", field="header")
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise MalformedMessageError("protected header lacks 'alg'", field="header.alg")
    kid, typ = header.get("kid"), header.get("typ")
    problem: tuple[str, str] | None = None
    extra = sorted(set(header) - HEADER_MEMBERS)
    if extra:
        name = extra[0][:32]
        problem = (f"protected header member {name!r} is not allowed", f"header.{name}")
    elif not isinstance(kid, str) or not _KID.fullmatch(kid):
        problem = ("protected header 'kid' is missing or ill-formed", "kid")
    elif not isinstance(typ, str) or not _TYP.fullmatch(typ):
        problem = ("protected header 'typ' is missing or ill-formed", "typ")
    return _Header(
        alg, kid if isinstance(kid, str) else "", typ if isinstance(typ, str) else "", problem
    )


@functools.lru_cache(maxsize=256)
def _header_segment(alg: str, kid: str, typ: str) -> bytes:
    return _b64encode(canonical_bytes({"alg": alg, "kid": kid, "typ": typ}))


def encode_compact(header_typ: str, payload: bytes, signer: Signer) -> bytes:
    """Sign ``payload`` (already canonical JSON) as a compact JWS with the given ``typ``."""
    signing_input = _header_segment(signer.alg, signer.kid, header_typ) + b"." + _b64encode(payload)
    signature = signer.sign(signing_input)
    if not isinstance(signature, bytes) or not signature:
        raise InternalError(f"signer {signer.kid!r} returned no signature")
    return signing_input + b"." + _b64encode(signature)


class ParsedJws(NamedTuple):
    """A structurally valid compact JWS whose signature is not yet checked."""

    alg: str
    kid: str
    typ: str
    payload: dict[str, Any]
    payload_bytes: bytes
    signing_input: bytes
    signature: bytes


def parse_compact(
    data: bytes,
    *,
    max_bytes: int,
    algorithms: Collection[str],
    crypto: CryptoProfile | None = None,
) -> ParsedJws:
    """Check size, structure and header of a compact JWS; the signature is not checked here.

    With ``crypto``, an ``alg`` of another crypto profile is refused with
    :class:`CryptoProfileMismatchError` rather than the plain ``algorithm_not_allowed``.
    """
    if len(data) > max_bytes:
        raise SizeLimitError(f"message of {len(data)} bytes exceeds the limit of {max_bytes}")
    match = _COMPACT.fullmatch(data)
    if match is None:
        raise MalformedMessageError("not a compact JWS (three base64url segments)")
    header_seg, payload_seg, signature_seg = match.groups()
    header = _header(header_seg)
    alg = header.alg
    if alg in FORBIDDEN_ALGORITHMS or alg not in algorithms:
        owner = profile_of_algorithm(alg)
        if crypto is not None and owner is not None and owner is not crypto:
            raise CryptoProfileMismatchError(
                f"algorithm {alg!r} is of the {owner.name!r} crypto profile; "
                f"this federation uses {crypto.name!r}",
                field="alg",
            )
        raise AlgorithmNotAllowedError(f"algorithm {alg[:32]!r} is not allowed", field="alg")
    if header.problem is not None:
        raise MalformedMessageError(header.problem[0], field=header.problem[1])
    payload_bytes = _b64decode(payload_seg, "payload")
    payload = loads_strict(payload_bytes, what="payload", canonical_follows=True)
    if not isinstance(payload, dict):
        raise MalformedMessageError("payload is not a JSON object", field="payload")
    try:
        canonical = canonical_json_value(payload)
    except InvalidInputError as exc:
        raise MalformedMessageError(f"payload cannot be canonicalised: {exc.message}") from exc
    if canonical != payload_bytes:
        raise MalformedMessageError("payload is not in RFC 8785 canonical form", field="payload")
    signature = _b64decode(signature_seg, "signature") if signature_seg else b""
    if len(signature) > _MAX_SIGNATURE_BYTES:
        raise MalformedMessageError("signature is too long", field="signature")
    return ParsedJws(
        alg=alg,
        kid=header.kid,
        typ=header.typ,
        payload=payload,
        payload_bytes=payload_bytes,
        signing_input=header_seg + b"." + payload_seg,
        signature=signature,
    )


def peek_payload(data: bytes) -> dict[str, Any] | None:
    """The payload of a compact JWS without any check (not even for duplicate members).

    For addressing a problem, and for reading back a request this node signed itself."""
    match = _COMPACT.fullmatch(data)
    if match is None:
        return None
    try:
        payload = loads_strict(
            _b64decode(match.group(2), "payload"), what="payload", canonical_follows=True
        )
    except MalformedMessageError:
        return None
    return payload if isinstance(payload, dict) else None


def peek_unverified_claims(data: bytes) -> dict[str, Any] | None:
    """The payload of a compact JWS, **unverified**: no signature, trust or time check.

    ``None`` if ``data`` is not a compact JWS with a JSON object payload. Never act on what
    this returns; it is for reading back what this member signed itself (a stored answer, a
    request it sent) and for addressing a problem to the claimed sender.
    """
    return peek_payload(data)
