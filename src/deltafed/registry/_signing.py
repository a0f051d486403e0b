"""Sign and verify the registry: a JWS in General JSON Serialization (RFC 7515, 7.2.1).

The payload is the RFC 8785 canonical JSON of the :class:`RegistryDocument`; each anchor key
adds one signature whose protected header is exactly ``{"alg", "kid", "typ"}`` with
``typ = "deltafed-registry+jws"``. Verification counts the *distinct* anchor keys with a valid
signature and compares the count with the threshold: signatures by unknown keys are ignored,
several signatures by one key count once, an invalid signature counts for nothing.

Signatures are checked over the bytes as received, before the payload is parsed, and the
payload must already be canonical, so two files with the same payload are the same document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from deltafed._canonical import canonicalize
from deltafed._errors import (
    DeltafedError,
    InvalidInputError,
    RegistryInvalidError,
    SignatureInvalidError,
    SizeLimitError,
    ThresholdNotMetError,
)
from deltafed.keys import KID_PATTERN, PublicKey, Signer, b64url_decode, b64url_encode
from deltafed.registry._models import AnchorKeys, RegistryDocument

__all__ = [
    "MAX_REGISTRY_BYTES",
    "MAX_SIGNATURES",
    "REGISTRY_TYP",
    "SignedRegistry",
    "add_signatures",
    "parse_signed_registry",
    "sign_registry",
    "verify_registry",
]

#: The ``typ`` of every registry signature's protected header.
REGISTRY_TYP: Final = "deltafed-registry+jws"
#: Largest signed registry file accepted (before any parsing).
MAX_REGISTRY_BYTES: Final = 4 * 1024 * 1024
#: Most signatures a registry file may carry.
MAX_SIGNATURES: Final = 32

_ALLOWED_ALGS: Final = frozenset({"EdDSA", "ES256", "SM2SM3"})
_MAX_PROTECTED = 1024
_MAX_SIGNATURE_B64 = 200
_KID: Final = re.compile(KID_PATTERN)


@dataclass(frozen=True, slots=True)
class _Signature:
    alg: str
    kid: str
    protected: str  # base64url as received: it is part of the signing input
    value: bytes


@dataclass(frozen=True, slots=True)
class SignedRegistry:
    """A registry file taken apart, signatures *not yet checked*.

    ``payload`` holds the document bytes as received; ``kids`` the key ids of the signatures in
    file order. Use :func:`verify_registry` to trust anything in it.
    """

    payload: bytes
    payload_b64: str
    signatures: tuple[_Signature, ...]

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(s.kid for s in self.signatures)

    def valid_signers(self, anchor: AnchorKeys) -> frozenset[str]:
        """Key ids of ``anchor`` that made at least one valid signature over this payload."""
        keys: dict[str, PublicKey] = {jwk.kid: jwk.public_key() for jwk in anchor.keys}
        valid: set[str] = set()
        for sig in self.signatures:
            key = keys.get(sig.kid)
            if key is None or sig.kid in valid or sig.alg != key.alg:
                continue
            try:
                key.verify(sig.value, _signing_input(sig.protected, self.payload_b64))
            except SignatureInvalidError:
                continue
            valid.add(sig.kid)
        return frozenset(valid)

    def check_threshold(self, anchor: AnchorKeys, *, role: str = "anchor") -> None:
        """Raise :class:`ThresholdNotMetError` unless ``anchor``'s threshold signed."""
        valid = self.valid_signers(anchor)
        if len(valid) < anchor.threshold:
            raise ThresholdNotMetError(
                f"registry carries {len(valid)} valid signature(s) of the {role} keys, "
                f"{anchor.threshold} required",
                remediation="Have the required number of anchor key holders sign the document.",
            )

    def document(self) -> RegistryDocument:
        """Parse the payload (call only after the signatures were checked).

        The payload must be in RFC 8785 canonical form, so one document has one encoding.
        """
        decoded = _loads(self.payload, "payload")
        try:
            canonical = canonicalize(decoded)
        except DeltafedError as exc:
            raise RegistryInvalidError(f"registry payload cannot be canonicalised: {exc}") from exc
        if canonical != self.payload:
            raise RegistryInvalidError("registry payload is not in RFC 8785 canonical form")
        try:
            return RegistryDocument.parse(decoded)
        except InvalidInputError as exc:
            raise RegistryInvalidError(
                f"registry payload does not match the schema: {exc.message}", field=exc.field
            ) from exc


def _signing_input(protected_b64: str, payload_b64: str) -> bytes:
    return f"{protected_b64}.{payload_b64}".encode("ascii")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate member {key!r}")
        result[key] = value
    return result


def _refuse_float(token: str) -> Any:
    raise ValueError(f"floats are not allowed (got {token})")


def _loads(raw: bytes, what: str) -> Any:
    try:
        return json.loads(
            raw,
            object_pairs_hook=_no_duplicates,
            parse_float=_refuse_float,
            parse_constant=_refuse_float,
        )
    except (ValueError, RecursionError) as exc:
        raise RegistryInvalidError(f"registry {what} is not valid JSON: {exc}") from exc


def _b64(value: object, what: str, limit: int) -> tuple[str, bytes]:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise RegistryInvalidError(f"registry {what} must be a non-empty base64url string")
    try:
        return value, b64url_decode(value)
    except InvalidInputError as exc:
        raise RegistryInvalidError(f"registry {what} is not base64url: {exc.message}") from exc


def _parse_signature(item: object, index: int) -> _Signature:
    where = f"signatures[{index}]"
    if not isinstance(item, dict) or set(item) != {"protected", "signature"}:
        raise RegistryInvalidError(
            f"registry {where} must hold exactly 'protected' and 'signature'", field=where
        )
    protected_b64, protected_raw = _b64(item["protected"], f"{where}.protected", _MAX_PROTECTED)
    _, value = _b64(item["signature"], f"{where}.signature", _MAX_SIGNATURE_B64)
    header = _loads(protected_raw, f"{where} protected header")
    if not isinstance(header, dict) or set(header) != {"alg", "kid", "typ"}:
        raise RegistryInvalidError(
            f"registry {where} protected header must hold exactly alg, kid and typ", field=where
        )
    if header["typ"] != REGISTRY_TYP:
        raise RegistryInvalidError(
            f"registry {where} has typ {header['typ']!r}, expected {REGISTRY_TYP!r}", field=where
        )
    alg, kid = header["alg"], header["kid"]
    if not isinstance(alg, str) or alg not in _ALLOWED_ALGS:
        raise RegistryInvalidError(f"registry {where} uses algorithm {alg!r}", field=where)
    if not isinstance(kid, str) or not _KID.fullmatch(kid):
        raise RegistryInvalidError(f"registry {where} has no usable kid", field=where)
    return _Signature(alg=alg, kid=kid, protected=protected_b64, value=value)


def parse_signed_registry(data: bytes, *, max_bytes: int = MAX_REGISTRY_BYTES) -> SignedRegistry:
    """Take a registry file apart without trusting it (structure and size checks only)."""
    if not isinstance(data, bytes | bytearray):
        raise RegistryInvalidError("registry must be given as bytes")
    if len(data) > max_bytes:
        raise SizeLimitError(f"registry of {len(data)} bytes exceeds the limit of {max_bytes}")
    if not data.strip():
        raise RegistryInvalidError("registry file is empty")
    outer = _loads(bytes(data), "file")
    if not isinstance(outer, dict) or set(outer) != {"payload", "signatures"}:
        raise RegistryInvalidError(
            "registry must be a General JSON JWS holding exactly 'payload' and 'signatures'"
        )
    payload_b64, payload = _b64(outer["payload"], "payload", max_bytes)
    items = outer["signatures"]
    if not isinstance(items, list) or not items:
        raise RegistryInvalidError("registry carries no signatures")
    if len(items) > MAX_SIGNATURES:
        raise RegistryInvalidError(f"registry carries more than {MAX_SIGNATURES} signatures")
    signatures = tuple(_parse_signature(item, i) for i, item in enumerate(items))
    return SignedRegistry(payload=payload, payload_b64=payload_b64, signatures=signatures)


def verify_registry(
    data: bytes, anchor: AnchorKeys, *, max_bytes: int = MAX_REGISTRY_BYTES
) -> RegistryDocument:
    """Verify a signed registry against ``anchor`` and return the document it carries.

    Raises :class:`~deltafed.SizeLimitError`, :class:`~deltafed.RegistryInvalidError` for any
    malformed input, :class:`~deltafed.ThresholdNotMetError` if fewer than
    ``anchor.threshold`` distinct anchor keys signed. It does not look at the time: expiry,
    rollback and anchor rotation are the business of :class:`TrustedRegistry`.
    """
    signed = parse_signed_registry(data, max_bytes=max_bytes)
    signed.check_threshold(anchor)
    return signed.document()


def _signature_entry(signer: Signer, payload_b64: str) -> dict[str, str]:
    header = {"alg": signer.alg, "kid": signer.kid, "typ": REGISTRY_TYP}
    protected = b64url_encode(canonicalize(header))
    value = signer.sign(_signing_input(protected, payload_b64))
    return {"protected": protected, "signature": b64url_encode(value)}


def _serialise(payload_b64: str, signatures: Iterable[dict[str, str]]) -> bytes:
    body = {"payload": payload_b64, "signatures": list(signatures)}
    return json.dumps(body, indent=2).encode("ascii") + b"\n"


def sign_registry(doc: RegistryDocument, signers: Sequence[Signer]) -> bytes:
    """The signed registry file: ``doc`` canonicalised, one signature per signer."""
    if not signers:
        raise RegistryInvalidError("at least one anchor key must sign the registry")
    kids = [s.kid for s in signers]
    if len(set(kids)) != len(kids):
        raise RegistryInvalidError("the same key was given twice to sign the registry")
    payload_b64 = b64url_encode(canonicalize(doc.to_wire()))
    return _serialise(payload_b64, (_signature_entry(s, payload_b64) for s in signers))


def add_signatures(data: bytes, signers: Sequence[Signer]) -> bytes:
    """Add signatures to an existing registry file (for anchor keys held by different people).

    The payload is not changed; a signer whose key already signed is skipped. The existing
    signatures are not checked here: :func:`verify_registry` decides what counts.
    """
    signed = parse_signed_registry(data)
    present = set(signed.kids)
    entries = [
        {"protected": s.protected, "signature": b64url_encode(s.value)} for s in signed.signatures
    ]
    for signer in signers:
        if signer.kid not in present:
            entries.append(_signature_entry(signer, signed.payload_b64))
            present.add(signer.kid)
    if len(entries) > MAX_SIGNATURES:
        raise RegistryInvalidError(f"registry would carry more than {MAX_SIGNATURES} signatures")
    return _serialise(signed.payload_b64, entries)
