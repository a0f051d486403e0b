"""SM2 signatures over SM3 (GM/T 0003, GB/T 32918) through the ``deltafed[gm]`` extra.

The implementation is ``tongsuopy`` (Tongsuo, compiled; ADR 0004 records the choice and the
measurements). It is imported on first use only, so the library works without the extra and
says :class:`~deltafed.CryptoUnavailableError` the moment an SM2 key is used.

Signatures use the GM/T 0009 default signer id ``1234567812345678`` for the Z value and are
64 raw bytes ``r || s`` on the wire (DER only inside this module). No I/O, no clock.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from deltafed._errors import CryptoUnavailableError, InvalidInputError, SignatureInvalidError

__all__ = [
    "DEFAULT_SIGNER_ID",
    "SM2_CURVE_OID_DER",
    "SM2_ORDER",
    "Sm2PrivateNative",
    "Sm2PublicNative",
    "is_sm2_pem",
    "sm2_available",
]

#: The signer id (ENTL/ID of GM/T 0009) every deltafed SM2 signature uses.
DEFAULT_SIGNER_ID: Final = b"1234567812345678"
#: DER of the SM2 curve OID 1.2.156.10197.1.301, as it appears in SPKI and PKCS#8 keys.
SM2_CURVE_OID_DER: Final = bytes.fromhex("06082a811ccf5501822d")
#: DER prefix of every OID under 1.2.156.10197 (OSCCA: SM2, SM3, SM4...).
_GM_ARC: Final = bytes.fromhex("2a811ccf55")
#: The order n of the SM2 base point.
SM2_ORDER: Final = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123

_PEM = re.compile(rb"-----BEGIN ([A-Z ]+)-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END \1-----\s*\Z")
_modules: tuple[Any, Any, Any, Any] | None = None


def _load() -> tuple[Any, Any, Any, Any]:
    """(ec, hashes, serialization, exceptions) of tongsuopy, or CryptoUnavailableError."""
    global _modules
    if _modules is None:
        try:
            from tongsuopy.crypto import exceptions, hashes, serialization
            from tongsuopy.crypto.asymciphers import ec
        except ImportError as exc:
            raise CryptoUnavailableError(
                "SM2 needs the 'gm' extra (tongsuopy), which is not installed"
            ) from exc
        _modules = (ec, hashes, serialization, exceptions)
    return _modules


def sm2_available() -> bool:
    """Whether SM2 can be used here (the ``gm`` extra is installed)."""
    try:
        _load()
    except CryptoUnavailableError:
        return False
    return True


def is_sm2_pem(data: bytes) -> bool:
    """Whether ``data`` is one PEM block that names an OSCCA algorithm (the SM2 curve, or SM4
    encryption as Tongsuo writes an encrypted SM2 key)."""
    match = _PEM.match(data.strip() + b"\n") if isinstance(data, bytes) else None
    if match is None:
        return False
    try:
        der = base64.b64decode(b"".join(match.group(2).split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    return _GM_ARC in der


def _ecdsa() -> Any:
    ec, hashes, _, _ = _load()
    return ec.ECDSA(hashes.SM3())


class Sm2PublicNative:
    """An SM2 public key (a point on the SM2 curve, checked on construction)."""

    __slots__ = ("_key", "x", "y")

    def __init__(self, key: Any) -> None:
        ec, _, _, _ = _load()
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "SM2":
            raise InvalidInputError("not an SM2 public key")
        numbers = key.public_numbers()
        self._key = key
        self.x: int = numbers.x
        self.y: int = numbers.y

    @classmethod
    def from_point(cls, x: int, y: int) -> Sm2PublicNative:
        ec, _, _, _ = _load()
        try:
            return cls(ec.EllipticCurvePublicNumbers(x, y, ec.SM2()).public_key())
        except ValueError as exc:
            raise InvalidInputError(f"not a point on the SM2 curve: {exc}") from exc

    @classmethod
    def from_pem(cls, data: bytes) -> Sm2PublicNative:
        _, _, serialization, exceptions = _load()
        try:
            return cls(serialization.load_pem_public_key(data))
        except (ValueError, TypeError, exceptions.UnsupportedAlgorithm) as exc:
            raise InvalidInputError(f"not an SM2 PEM public key: {exc}") from exc

    def verify(self, signature: bytes, data: bytes) -> None:
        """Return if ``signature`` (64 bytes ``r || s``) is valid; else SignatureInvalidError."""
        _, _, _, exceptions = _load()
        if len(signature) != 64:
            raise SignatureInvalidError("SM2SM3 signature must be 64 bytes")
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        if not (0 < r < SM2_ORDER and 0 < s < SM2_ORDER):
            raise SignatureInvalidError("SM2 signature value out of range")
        try:
            self._key.verify(encode_dss_signature(r, s), data, _ecdsa())
        except exceptions.InvalidSignature as exc:
            raise SignatureInvalidError("signature does not verify") from exc

    def to_pem(self) -> bytes:
        _, _, serialization, _ = _load()
        data: bytes = self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return data


class Sm2PrivateNative:
    """An SM2 private key; ``repr`` never shows it."""

    __slots__ = ("_key", "public")

    def __init__(self, key: Any) -> None:
        ec, _, _, _ = _load()
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "SM2":
            raise InvalidInputError("not an SM2 private key")
        self._key = key
        self.public = Sm2PublicNative(key.public_key())

    @classmethod
    def generate(cls) -> Sm2PrivateNative:
        ec, _, _, _ = _load()
        return cls(ec.generate_private_key(ec.SM2()))

    @classmethod
    def from_scalar(cls, d: int) -> Sm2PrivateNative:
        """The key with private scalar ``d``; SM2 requires ``1 <= d <= n - 2``."""
        ec, _, _, _ = _load()
        if not 1 <= d <= SM2_ORDER - 2:
            raise InvalidInputError("SM2 private scalar out of range [1, n-2]", field="d")
        try:
            return cls(ec.derive_private_key(d, ec.SM2()))
        except ValueError as exc:
            raise InvalidInputError(f"not a valid SM2 private key: {exc}") from exc

    @classmethod
    def from_pem(cls, data: bytes, password: bytes | None) -> Sm2PrivateNative:
        _, _, serialization, exceptions = _load()
        try:
            return cls(serialization.load_pem_private_key(data, password))
        except (ValueError, TypeError, exceptions.UnsupportedAlgorithm) as exc:
            raise InvalidInputError(f"not a usable SM2 PEM private key: {exc}") from exc

    @property
    def scalar(self) -> int:
        value: int = self._key.private_numbers().private_value
        return value

    def sign(self, data: bytes) -> bytes:
        """SM2 with SM3 and the default signer id over ``data``: 64 bytes ``r || s``."""
        r, s = decode_dss_signature(self._key.sign(data, _ecdsa()))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def to_pem(self, password: bytes | None) -> bytes:
        _, _, serialization, _ = _load()
        encryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        data: bytes = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        return data

    def __repr__(self) -> str:
        return "Sm2PrivateNative(<secret>)"
