"""Crypto profiles: which signature algorithms and which hash one federation uses.

A federation declares one profile in its registry and every member uses it for everything:

- ``international`` (the default): Ed25519 (``EdDSA``) or ECDSA P-256 (``ES256``) signatures,
  SHA-256 for the request digest ``req``, the audit hash chain and Merkle tree, HMAC-SHA256
  for the audit subject index.
- ``gm`` (national commercial cryptography, GB/T 39786): SM2 signatures over SM3
  (``SM2SM3``, GM/T 0003 with the GM/T 0009 signer id), SM3 (GB/T 32905) for every digest,
  HMAC-SM3 for the subject index.

SM3 and HMAC-SM3 come from ``cryptography``; SM2 needs the ``deltafed[gm]`` extra (see
:mod:`deltafed._sm2`). No I/O here.
"""

from __future__ import annotations

import hashlib
import hmac as _hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as _crypto_hmac

from deltafed._errors import ConfigurationError

__all__ = [
    "CRYPTO_PROFILES",
    "GM",
    "INTERNATIONAL",
    "CryptoProfile",
    "CryptoProfileName",
    "crypto_profile",
    "profile_of_algorithm",
    "sm3",
]

CryptoProfileName = Literal["international", "gm"]


def sm3(data: bytes) -> bytes:
    """The SM3 digest (GB/T 32905) of ``data``: 32 bytes."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _hmac_sha256(key: bytes, data: bytes) -> bytes:
    return _hmac.new(key, data, "sha256").digest()


def _hmac_sm3(key: bytes, data: bytes) -> bytes:
    mac = _crypto_hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()


@dataclass(frozen=True, slots=True, eq=False)
class CryptoProfile:
    """One federation-wide choice of algorithms.

    ``algorithms`` are the JWS ``alg`` values members may sign with; ``digest_name`` is the
    prefix of digests on the wire (``sha-256:<hex>`` or ``sm3:<hex>``); ``hmac_name`` the
    prefix of keyed subject references (``hmac-sha256:`` or ``hmac-sm3:``).
    """

    name: CryptoProfileName
    algorithms: tuple[str, ...]
    digest_name: str
    hmac_name: str
    hash_fn: Callable[[bytes], bytes] = field(repr=False)
    mac_fn: Callable[[bytes, bytes], bytes] = field(repr=False)

    def digest(self, data: bytes) -> bytes:
        """The profile's hash of ``data`` (32 bytes)."""
        return self.hash_fn(data)

    def digest_text(self, data: bytes) -> str:
        """``<digest_name>:<64 lower-case hex>`` of ``data``, as written on the wire."""
        return f"{self.digest_name}:{self.hash_fn(data).hex()}"

    def mac(self, key: bytes, data: bytes) -> bytes:
        """The profile's HMAC of ``data`` under ``key`` (32 bytes)."""
        return self.mac_fn(key, data)

    def __repr__(self) -> str:
        return f"CryptoProfile({self.name!r})"


INTERNATIONAL: Final = CryptoProfile(
    name="international",
    algorithms=("EdDSA", "ES256"),
    digest_name="sha-256",
    hmac_name="hmac-sha256",
    hash_fn=_sha256,
    mac_fn=_hmac_sha256,
)
GM: Final = CryptoProfile(
    name="gm",
    algorithms=("SM2SM3",),
    digest_name="sm3",
    hmac_name="hmac-sm3",
    hash_fn=sm3,
    mac_fn=_hmac_sm3,
)

#: Every profile by name.
CRYPTO_PROFILES: Final[dict[str, CryptoProfile]] = {p.name: p for p in (INTERNATIONAL, GM)}


def crypto_profile(name: str | CryptoProfile) -> CryptoProfile:
    """The profile called ``name``; :class:`ConfigurationError` for an unknown name."""
    if isinstance(name, CryptoProfile):
        return name
    try:
        return CRYPTO_PROFILES[name]
    except (KeyError, TypeError):
        known = ", ".join(CRYPTO_PROFILES)
        raise ConfigurationError(
            f"unknown crypto profile {str(name)[:32]!r}; known: {known}"
        ) from None


def profile_of_algorithm(alg: str) -> CryptoProfile | None:
    """The profile whose algorithms include ``alg``, or ``None``."""
    for profile in CRYPTO_PROFILES.values():
        if alg in profile.algorithms:
            return profile
    return None
