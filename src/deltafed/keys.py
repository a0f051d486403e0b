"""Keys and the signer seam.

A :class:`Signer` is anything that can sign bytes under a JOSE algorithm name and say its key
id; :class:`PrivateKey` is the built-in one (Ed25519 as ``EdDSA``, the default, ECDSA P-256
as ``ES256``, and SM2 with SM3 as ``SM2SM3`` for the ``gm`` crypto profile, which needs the
``deltafed[gm]`` extra). Other keys - one held in an HSM - plug in by implementing
:class:`Signer` and :class:`Verifier`; the protocol code only ever sees those two protocols.

Key ids are RFC 7638 JWK thumbprints (base64url without padding) over SHA-256, and over SM3
for SM2 keys. Signatures are in JWS form: 64 raw bytes for every algorithm (``r || s`` for
ES256 and SM2SM3, not DER).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal, Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from deltafed._errors import (
    AlgorithmNotAllowedError,
    ConfigurationError,
    InternalError,
    InvalidInputError,
    SignatureInvalidError,
    UnknownKeyError,
    UnknownMemberError,
)
from deltafed._profile import CryptoProfile, crypto_profile, sm3
from deltafed._sm2 import SM2_ORDER, Sm2PrivateNative, Sm2PublicNative, is_sm2_pem, sm2_available

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "Algorithm",
    "CryptoProfile",
    "KeyResolver",
    "PrivateKey",
    "PublicKey",
    "Signer",
    "StaticKeyResolver",
    "Verifier",
    "b64url_decode",
    "b64url_encode",
    "crypto_profile",
    "jwk_thumbprint",
]

Algorithm = Literal["EdDSA", "ES256", "SM2SM3"]
#: The algorithms deltafed signs and verifies with (SM2SM3 with the ``gm`` extra installed).
SUPPORTED_ALGORITHMS: Final[tuple[str, ...]] = ("EdDSA", "ES256", "SM2SM3")
#: Names accepted for an algorithm where a person types one (``--alg SM2``).
_ALG_ALIASES: Final = {"SM2": "SM2SM3", "Ed25519": "EdDSA"}

_MAX_JWK_FIELD = 256
#: A key id (``kid``) wherever one is written: 1 to 64 characters of the base64url alphabet
#: (an RFC 7638 SHA-256 thumbprint has 43). Protocol §2.1.
KID_PATTERN: Final = "[A-Za-z0-9_-]{1,64}"
#: The order of the P-256 group, and half of it: an ES256 ``s`` above the half is refused.
P256_ORDER: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_P256_HALF_ORDER: Final = P256_ORDER // 2


def low_s(s: int) -> int:
    """The low-S form of an ECDSA P-256 ``s`` (``n - s`` when ``s`` is above ``n / 2``)."""
    return P256_ORDER - s if s > _P256_HALF_ORDER else s


_B64URL_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64URL: Final = re.compile("[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url strictly; anything else is an :class:`InvalidInputError`."""
    if not isinstance(text, str) or len(text) > 1_400_000:
        raise InvalidInputError("base64url value is not a string or too long")
    # The whole value, in its one spelling: the alphabet only (base64's decoder would skip any
    # other character), no length of 1 mod 4, and zero padding bits in the last character.
    rest = len(text) % 4
    if not _B64URL.fullmatch(text) or rest == 1:
        raise InvalidInputError("base64url value must be unpadded URL-safe base64")
    if rest and _B64URL_ALPHABET.index(text[-1]) & (0b1111 if rest == 2 else 0b11):
        raise InvalidInputError("base64url value is not in its canonical spelling")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:  # pragma: no cover - alphabet checked above
        raise InvalidInputError(f"not valid base64url: {exc}") from exc


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint of a public JWK (OKP or EC), base64url of its SHA-256.

    For an SM2 key (``kty`` EC, ``crv`` SM2) the same members are hashed with SM3 instead,
    so a ``gm`` federation uses no other hash (protocol section 11.2, GM-007)."""
    kty = jwk.get("kty")
    members: tuple[str, ...]
    if kty == "OKP":
        members = ("crv", "kty", "x")
    elif kty == "EC":
        members = ("crv", "kty", "x", "y")
    else:
        raise InvalidInputError(f"unsupported JWK key type {kty!r}", field="kty")
    try:
        required = {m: str(jwk[m]) for m in members}
    except KeyError as exc:
        raise InvalidInputError(
            f"JWK lacks member {exc.args[0]!r}", field=str(exc.args[0])
        ) from exc
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
    if kty == "EC" and required["crv"] == "SM2":
        return b64url_encode(sm3(canonical))
    return b64url_encode(hashlib.sha256(canonical).digest())


@runtime_checkable
class Signer(Protocol):
    """What the protocol needs to sign: an algorithm name, a key id, and a signing function."""

    @property
    def alg(self) -> str: ...

    @property
    def kid(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...

    def public_jwk(self) -> dict[str, str]: ...


@runtime_checkable
class Verifier(Protocol):
    """What the protocol needs to verify: an algorithm name, a key id, and a check."""

    @property
    def alg(self) -> str: ...

    @property
    def kid(self) -> str: ...

    def verify(self, signature: bytes, data: bytes) -> None:
        """Return if ``signature`` is valid over ``data``; raise SignatureInvalidError if not."""
        ...


_PublicNative = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | Sm2PublicNative
_PrivateNative = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | Sm2PrivateNative


def _alg_of_public(key: object) -> Algorithm:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(key, Sm2PublicNative):
        return "SM2SM3"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise AlgorithmNotAllowedError(f"unsupported key type {type(key).__name__}")


class PublicKey:
    """A public key that verifies JWS signatures; implements :class:`Verifier`."""

    __slots__ = ("_alg", "_jwk", "_key", "_kid", "_verify_raw")

    def __init__(self, key: _PublicNative) -> None:
        self._alg: Algorithm = _alg_of_public(key)
        self._key = key
        self._jwk = _public_jwk(key)
        self._kid = jwk_thumbprint(self._jwk)
        # Ed25519 and SM2 verify the JWS signature as it is: the check is chosen once here, not
        # by an isinstance test on an abstract class at every message.
        self._verify_raw: Callable[[bytes, bytes], None] | None = (
            key.verify if isinstance(key, ed25519.Ed25519PublicKey | Sm2PublicNative) else None
        )

    @property
    def alg(self) -> Algorithm:
        return self._alg

    @property
    def kid(self) -> str:
        return self._kid

    def verify(self, signature: bytes, data: bytes) -> None:
        try:
            if self._verify_raw is not None:
                self._verify_raw(signature, data)
                return
            if not isinstance(self._key, ec.EllipticCurvePublicKey):  # pragma: no cover
                raise InternalError("unsupported public key")
            if len(signature) != 64:
                raise SignatureInvalidError("ES256 signature must be 64 bytes")
            r = int.from_bytes(signature[:32], "big")
            s = int.from_bytes(signature[32:], "big")
            if s > _P256_HALF_ORDER:
                # (r, n - s) verifies too: only the low-S form is accepted, so that a
                # message has one byte string (protocol §1).
                raise SignatureInvalidError("ES256 signature is not in low-S form")
            self._key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature as exc:
            raise SignatureInvalidError("signature does not verify") from exc

    def to_jwk(self) -> dict[str, str]:
        """The public JWK, with ``kid``, ``alg`` and ``use``."""
        return {**self._jwk, "kid": self._kid, "alg": self._alg, "use": "sig"}

    def to_pem(self) -> bytes:
        if isinstance(self._key, Sm2PublicNative):
            return self._key.to_pem()
        return self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> PublicKey:
        """Load a public JWK; a ``kid`` or ``alg`` in it must match the key."""
        if not isinstance(jwk, Mapping):
            raise InvalidInputError("JWK must be an object")
        for name, value in jwk.items():
            if not isinstance(value, str) or len(value) > _MAX_JWK_FIELD:
                if name == "key_ops":
                    continue
                raise InvalidInputError(f"JWK member {name!r} must be a short string", field=name)
        if "d" in jwk:
            raise InvalidInputError("a public JWK must not carry the private part 'd'", field="d")
        kty, crv = jwk.get("kty"), jwk.get("crv")
        try:
            native: _PublicNative
            if kty == "OKP" and crv == "Ed25519":
                native = ed25519.Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
            elif kty == "EC" and crv == "P-256":
                x = int.from_bytes(_exact(b64url_decode(jwk["x"]), 32, "x"), "big")
                y = int.from_bytes(_exact(b64url_decode(jwk["y"]), 32, "y"), "big")
                native = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
            elif kty == "EC" and crv == "SM2":
                x = int.from_bytes(_exact(b64url_decode(jwk["x"]), 32, "x"), "big")
                y = int.from_bytes(_exact(b64url_decode(jwk["y"]), 32, "y"), "big")
                native = Sm2PublicNative.from_point(x, y)
            else:
                raise AlgorithmNotAllowedError(f"unsupported JWK kty={kty!r} crv={crv!r}")
        except KeyError as exc:
            raise InvalidInputError(
                f"JWK lacks member {exc.args[0]!r}", field=str(exc.args[0])
            ) from exc
        except ValueError as exc:
            raise InvalidInputError(f"JWK is not a valid public key: {exc}") from exc
        key = cls(native)
        if "kid" in jwk and jwk["kid"] != key.kid:
            raise InvalidInputError("JWK kid is not the key's RFC 7638 thumbprint", field="kid")
        if "alg" in jwk and jwk["alg"] != key.alg:
            raise InvalidInputError(f"JWK alg {jwk['alg']!r} does not fit the key", field="alg")
        if "use" in jwk and jwk["use"] != "sig":
            raise InvalidInputError("JWK 'use' must be 'sig' for a signing key", field="use")
        return key

    @classmethod
    def from_pem(cls, data: bytes) -> PublicKey:
        if is_sm2_pem(data):
            return cls(Sm2PublicNative.from_pem(data))
        try:
            native = serialization.load_pem_public_key(data)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(f"not a PEM public key: {exc}") from exc
        if not isinstance(native, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
            raise AlgorithmNotAllowedError(f"unsupported key type {type(native).__name__}")
        return cls(native)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other._kid == self._kid

    def __hash__(self) -> int:
        return hash(self._kid)

    def __repr__(self) -> str:
        return f"PublicKey(alg={self._alg!r}, kid={self._kid!r})"


def _sm2_scalar(seed: bytes) -> int:
    return int.from_bytes(seed, "big") % (SM2_ORDER - 2) + 1


def _exact(data: bytes, size: int, name: str) -> bytes:
    if len(data) != size:
        raise InvalidInputError(f"JWK member {name!r} must be {size} bytes", field=name)
    return data


def _public_jwk(key: _PublicNative) -> dict[str, str]:
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
    if isinstance(key, Sm2PublicNative):
        return {
            "kty": "EC",
            "crv": "SM2",
            "x": b64url_encode(key.x.to_bytes(32, "big")),
            "y": b64url_encode(key.y.to_bytes(32, "big")),
        }
    numbers = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(32, "big")),
        "y": b64url_encode(numbers.y.to_bytes(32, "big")),
    }


class PrivateKey:
    """A private signing key; implements :class:`Signer`. ``repr`` never shows the secret."""

    __slots__ = ("_key", "_public", "_sign_raw")

    def __init__(self, key: _PrivateNative) -> None:
        self._key = key
        self._public = PublicKey(
            key.public if isinstance(key, Sm2PrivateNative) else key.public_key()
        )
        # Ed25519 and SM2 signatures are the JWS signature as they are (see PublicKey).
        self._sign_raw: Callable[[bytes], bytes] | None = (
            key.sign if isinstance(key, ed25519.Ed25519PrivateKey | Sm2PrivateNative) else None
        )

    @classmethod
    def generate(cls, alg: str = "EdDSA") -> PrivateKey:
        """A new key for ``alg`` (``EdDSA``, ``ES256``, or ``SM2SM3``, also spelt ``SM2``)."""
        alg = _ALG_ALIASES.get(alg, alg)
        if alg == "EdDSA":
            return cls(ed25519.Ed25519PrivateKey.generate())
        if alg == "ES256":
            return cls(ec.generate_private_key(ec.SECP256R1()))
        if alg == "SM2SM3":
            return cls(Sm2PrivateNative.generate())
        raise AlgorithmNotAllowedError(f"cannot generate keys for algorithm {alg!r}")

    @classmethod
    def from_seed(cls, seed: bytes, alg: str = "EdDSA") -> PrivateKey:
        """A deterministic key from 32 bytes: for test keys and vectors only.

        Ed25519 takes the seed as its private key; SM2 reduces it to a scalar in [1, n-2].
        """
        seed = _exact(seed, 32, "seed")
        alg = _ALG_ALIASES.get(alg, alg)
        if alg == "SM2SM3":
            return cls(Sm2PrivateNative.from_scalar(_sm2_scalar(seed)))
        if alg != "EdDSA":
            raise AlgorithmNotAllowedError(f"no seeded keys for algorithm {alg!r}")
        return cls(ed25519.Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def alg(self) -> Algorithm:
        return self._public.alg

    @property
    def kid(self) -> str:
        return self._public.kid

    @property
    def public_key(self) -> PublicKey:
        return self._public

    def public_jwk(self) -> dict[str, str]:
        return self._public.to_jwk()

    def sign(self, data: bytes) -> bytes:
        if self._sign_raw is not None:
            return self._sign_raw(data)
        if not isinstance(self._key, ec.EllipticCurvePrivateKey):  # pragma: no cover
            raise InternalError("unsupported private key")
        der = self._key.sign(data, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + low_s(s).to_bytes(32, "big")

    def to_private_jwk(self) -> dict[str, str]:
        """The private JWK (with ``d``). Handle with care."""
        if isinstance(self._key, ed25519.Ed25519PrivateKey):
            d = self._key.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
        elif isinstance(self._key, Sm2PrivateNative):
            d = self._key.scalar.to_bytes(32, "big")
        else:
            d = self._key.private_numbers().private_value.to_bytes(32, "big")
        return {**self._public.to_jwk(), "d": b64url_encode(d)}

    @classmethod
    def from_private_jwk(cls, jwk: Mapping[str, Any]) -> PrivateKey:
        if not isinstance(jwk, Mapping) or "d" not in jwk:
            raise InvalidInputError("a private JWK must carry 'd'", field="d")
        public = PublicKey.from_jwk({k: v for k, v in jwk.items() if k != "d"})
        d = b64url_decode(str(jwk["d"]))
        try:
            key: _PrivateNative
            if public.alg == "EdDSA":
                key = ed25519.Ed25519PrivateKey.from_private_bytes(_exact(d, 32, "d"))
            elif public.alg == "SM2SM3":
                key = Sm2PrivateNative.from_scalar(int.from_bytes(_exact(d, 32, "d"), "big"))
            else:
                value = int.from_bytes(_exact(d, 32, "d"), "big")
                key = ec.derive_private_key(value, ec.SECP256R1())
        except ValueError as exc:
            raise InvalidInputError(f"JWK is not a valid private key: {exc}") from exc
        result = cls(key)
        if result.kid != public.kid:
            raise InvalidInputError("private part 'd' does not belong to the public part")
        return result

    def to_pem(self, password: bytes | None = None) -> bytes:
        if isinstance(self._key, Sm2PrivateNative):
            return self._key.to_pem(password)
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    @classmethod
    def from_pem(cls, data: bytes, password: bytes | None = None) -> PrivateKey:
        if is_sm2_pem(data):
            return cls(Sm2PrivateNative.from_pem(data, password))
        try:
            native = serialization.load_pem_private_key(data, password=password)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            # An SM2 key encrypted with a common cipher shows its curve only once decrypted.
            if sm2_available():
                try:
                    return cls(Sm2PrivateNative.from_pem(data, password))
                except InvalidInputError:
                    pass
            raise InvalidInputError(f"not a usable PEM private key: {exc}") from exc
        if isinstance(native, ed25519.Ed25519PrivateKey):
            return cls(native)
        if isinstance(native, ec.EllipticCurvePrivateKey) and isinstance(
            native.curve, ec.SECP256R1
        ):
            return cls(native)
        raise AlgorithmNotAllowedError(f"unsupported private key type {type(native).__name__}")

    def save(self, path: str | os.PathLike[str], password: bytes | None = None) -> Path:
        """Write the key as PEM, readable by its owner only (mode 0600), never overwriting."""
        target = Path(path)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise ConfigurationError(f"refusing to overwrite existing key file {target}") from exc
        with os.fdopen(fd, "wb") as fh:
            fh.write(self.to_pem(password))
        os.chmod(target, 0o600)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str], password: bytes | None = None) -> PrivateKey:
        target = Path(path)
        try:
            data = target.read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"cannot read key file {target}: {exc}") from exc
        if data.lstrip().startswith(b"{"):
            try:
                return cls.from_private_jwk(json.loads(data))
            except ValueError as exc:
                raise InvalidInputError(f"key file {target} is not valid JSON") from exc
        return cls.from_pem(data, password)

    def __repr__(self) -> str:
        return f"PrivateKey(alg={self.alg!r}, kid={self.kid!r})"


@runtime_checkable
class KeyResolver(Protocol):
    """Finds the key a member signed with, as trusted at a given time.

    The protocol layer calls it for every signature it checks; the trust registry implements
    it from verified state only. It must raise :class:`~deltafed.UnknownKeyError` for a key it
    does not know, :class:`~deltafed.UnknownMemberError` for an unknown member,
    :class:`~deltafed.KeyCompromisedError` for a key used at or after its compromise time, and
    :class:`~deltafed.KeyNotValidError` for a key outside its validity window.
    """

    def resolve(self, member: str, kid: str, at: datetime) -> Verifier: ...


class StaticKeyResolver:
    """A fixed map of member -> public keys, valid at any time. For tests and tools."""

    def __init__(self, keys: Mapping[str, list[PublicKey]] | None = None) -> None:
        self._keys: dict[str, dict[str, PublicKey]] = {}
        for member, items in (keys or {}).items():
            for key in items:
                self.add(member, key)

    def add(self, member: str, key: PublicKey) -> None:
        self._keys.setdefault(str(member), {})[key.kid] = key

    def resolve(self, member: str, kid: str, at: datetime) -> Verifier:
        known = self._keys.get(str(member))
        if known is None:
            raise UnknownMemberError(f"unknown member {member}")
        try:
            return known[kid]
        except KeyError:
            raise UnknownKeyError(f"member {member} has no key {kid}") from None
