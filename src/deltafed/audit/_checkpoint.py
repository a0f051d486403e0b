"""Signed tree heads ("checkpoints") of the audit log, as compact JWS.

A checkpoint says: *the log of node N had S entries whose Merkle root was R at time T*. It is a
compact JWS (RFC 7515) with protected header ``{"alg", "kid", "typ":
"deltafed-checkpoint+jws"}`` and payload ``{"log", "size", "root", "issued_at"}``, both
RFC 8785 canonical JSON, signed by the node's signing key. Anyone holding it can later check that
the log still contains exactly those first S entries, and verify inclusion proofs against it.

The root names its hash: ``sha-256:<hex>``, or ``sm3:<hex>`` in a ``gm`` federation, whose
checkpoints are signed with ``SM2SM3``; a checkpoint mixing the two profiles is refused.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from deltafed._canonical import canonicalize
from deltafed._errors import (
    AlgorithmNotAllowedError,
    CryptoProfileMismatchError,
    InvalidInputError,
    MalformedMessageError,
    WrongIssuerError,
    WrongTypeError,
)
from deltafed._profile import CRYPTO_PROFILES, INTERNATIONAL, CryptoProfile, profile_of_algorithm
from deltafed._text import rfc3339_instant
from deltafed.keys import (
    KID_PATTERN,
    SUPPORTED_ALGORITHMS,
    KeyResolver,
    Signer,
    b64url_decode,
    b64url_encode,
)

__all__ = ["CHECKPOINT_TYPE", "Checkpoint", "parse_checkpoint", "sign_checkpoint"]

CHECKPOINT_TYPE = "deltafed-checkpoint+jws"
_MAX_JWS = 4096
_ROOT = re.compile(r"(sha-256|sm3):[0-9a-f]{64}")
_PROFILE_OF_ROOT = {p.digest_name: p for p in CRYPTO_PROFILES.values()}
_KID = re.compile(KID_PATTERN)
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_HEADER_KEYS = {"alg", "kid", "typ"}
_PAYLOAD_KEYS = {"log", "size", "root", "issued_at"}


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A parsed (not necessarily verified) signed tree head, with its verbatim JWS."""

    log: str
    size: int
    root: bytes
    issued_at: datetime
    kid: str
    alg: str
    jws: str
    signing_input: bytes
    signature: bytes
    #: The crypto profile the root's hash names (and the signature's algorithm belongs to).
    crypto: CryptoProfile = INTERNATIONAL

    def verify(self, resolver: KeyResolver) -> None:
        """Check the signature with the key ``resolver`` trusts for the log at issue time.

        Raises a :class:`~deltafed.ProtocolError` or :class:`~deltafed.TrustError` subclass.
        Using the time of issue is what keeps old checkpoints verifiable after a key rotation,
        as long as the registry keeps the retired key with its validity window.
        """
        verifier = resolver.resolve(self.log, self.kid, self.issued_at)
        if verifier.alg != self.alg:
            raise AlgorithmNotAllowedError(
                f"checkpoint says alg {self.alg}, key {self.kid} is {verifier.alg}"
            )
        verifier.verify(self.signature, self.signing_input)

    def root_text(self) -> str:
        return f"{self.crypto.digest_name}:{self.root.hex()}"


def _utc_text(when: datetime) -> str:
    if when.tzinfo is None:
        raise InvalidInputError("checkpoint time must be timezone-aware")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sign_checkpoint(
    signer: Signer,
    *,
    log: str,
    size: int,
    root: bytes,
    issued_at: datetime,
    crypto: CryptoProfile = INTERNATIONAL,
) -> str:
    """Sign a tree head (a root made with ``crypto``'s hash); return the compact JWS text."""
    if signer.alg not in SUPPORTED_ALGORITHMS:
        raise AlgorithmNotAllowedError(f"cannot sign checkpoints with {signer.alg}")
    if signer.alg not in crypto.algorithms:
        raise CryptoProfileMismatchError(
            f"a {crypto.name} checkpoint cannot be signed with {signer.alg}", field="alg"
        )
    header = {"alg": signer.alg, "kid": signer.kid, "typ": CHECKPOINT_TYPE}
    payload = {
        "log": str(log),
        "size": size,
        "root": f"{crypto.digest_name}:{root.hex()}",
        "issued_at": _utc_text(issued_at),
    }
    signing_input = (
        b64url_encode(canonicalize(header)) + "." + b64url_encode(canonicalize(payload))
    ).encode("ascii")
    return signing_input.decode("ascii") + "." + b64url_encode(signer.sign(signing_input))


def _json_object(part: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(b64url_decode(part), parse_float=_no_float, parse_constant=_no_float)
    except (ValueError, InvalidInputError) as exc:
        raise MalformedMessageError(f"checkpoint {what} is not base64url JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise MalformedMessageError(f"checkpoint {what} is not a JSON object")
    return value


def _no_float(token: str) -> Any:
    raise ValueError(f"no floats allowed ({token})")


def parse_checkpoint(jws: str | bytes, *, log: str | None = None) -> Checkpoint:
    """Parse a checkpoint's structure (not its signature); refuse anything unexpected.

    ``log``, if given, is the node whose log it must be (else :class:`WrongIssuerError`).
    """
    if not isinstance(jws, str | bytes):
        raise MalformedMessageError(f"a checkpoint is a compact JWS, not {type(jws).__name__}")
    text = jws.decode("ascii", "replace") if isinstance(jws, bytes) else jws
    if not text.isascii() or not _COMPACT.fullmatch(text):
        # The whole input is the checkpoint: no whitespace, line ending or second value.
        raise MalformedMessageError("checkpoint is not a compact JWS (three base64url parts)")
    if len(text) > _MAX_JWS:
        raise MalformedMessageError(f"checkpoint longer than {_MAX_JWS} characters")
    parts = text.split(".")
    if len(parts) != 3:
        raise MalformedMessageError("checkpoint is not a compact JWS (three parts)")
    header = _json_object(parts[0], "header")
    payload = _json_object(parts[1], "payload")
    if set(header) != _HEADER_KEYS:
        raise MalformedMessageError(f"checkpoint header must have exactly {sorted(_HEADER_KEYS)}")
    if header["typ"] != CHECKPOINT_TYPE:
        raise WrongTypeError(f"checkpoint typ is {header['typ']!r}, not {CHECKPOINT_TYPE!r}")
    if header["alg"] not in SUPPORTED_ALGORITHMS:
        raise AlgorithmNotAllowedError(f"checkpoint alg {header['alg']!r} is not allowed")
    if not isinstance(header["kid"], str) or not _KID.fullmatch(header["kid"]):
        raise MalformedMessageError("checkpoint kid must be 1 to 64 base64url characters")
    if set(payload) != _PAYLOAD_KEYS:
        raise MalformedMessageError(f"checkpoint payload must have exactly {sorted(_PAYLOAD_KEYS)}")
    size, root, issued, who = (
        payload["size"],
        payload["root"],
        payload["issued_at"],
        payload["log"],
    )
    if type(size) is not int or not 0 <= size < 2**53:
        raise MalformedMessageError("checkpoint size must be a non-negative integer")
    if not isinstance(root, str) or not _ROOT.fullmatch(root):
        raise MalformedMessageError("checkpoint root must be sha-256:<64 hex> or sm3:<64 hex>")
    digest_name, _, root_hex = root.partition(":")
    crypto = _PROFILE_OF_ROOT[digest_name]
    if header["alg"] not in crypto.algorithms:
        owner = profile_of_algorithm(header["alg"])
        raise CryptoProfileMismatchError(
            f"checkpoint root is {digest_name}, signed with {header['alg']} "
            f"({owner.name if owner else 'no'} profile)",
            field="alg",
        )
    if not isinstance(who, str) or not 0 < len(who) <= 128:
        raise MalformedMessageError("checkpoint log must be a member id")
    if log is not None and who != str(log):
        raise WrongIssuerError(f"checkpoint is for the log of {who}, not {log}")
    issued_at = rfc3339_instant(issued)
    if issued_at is None:
        raise MalformedMessageError("checkpoint issued_at must be a UTC timestamp")
    try:
        signature = b64url_decode(parts[2])
    except InvalidInputError as exc:
        raise MalformedMessageError("checkpoint signature is not base64url") from exc
    return Checkpoint(
        log=who,
        size=size,
        root=bytes.fromhex(root_hex),
        issued_at=issued_at,
        kid=header["kid"],
        alg=header["alg"],
        jws=text,
        signing_input=f"{parts[0]}.{parts[1]}".encode("ascii"),
        signature=signature,
        crypto=crypto,
    )
