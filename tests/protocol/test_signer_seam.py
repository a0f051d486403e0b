"""A signer the protocol has never heard of plugs in through deltafed.keys.Signer/Verifier.

This stands in for an SM2-with-SM3 signer or a key held in an HSM: a private algorithm name,
its own signing object, its own verifier returned by the resolver. No protocol code changes.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from deltafed import AlgorithmNotAllowedError, SignatureInvalidError, UnknownKeyError
from deltafed._clock import FixedClock
from deltafed.keys import Signer, Verifier
from deltafed.protocol import Limits, ProtocolVerifier, new_request, sign_request

SHANGHAI = "310000/shzwfw/yitongban"
JIANGSU = "320000/gongan/hukou"
ALG = "X-HSM-Ed25519"


class HsmSigner:
    """A signer whose key never leaves its object (as in an HSM)."""

    def __init__(self) -> None:
        self._key = ed25519.Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
        self.calls = 0

    @property
    def alg(self) -> str:
        return ALG

    @property
    def kid(self) -> str:
        return "hsm-slot-1"

    def sign(self, data: bytes) -> bytes:
        self.calls += 1
        return self._key.sign(data)

    def public_jwk(self) -> dict[str, str]:
        return {"kty": "OKP", "crv": "Ed25519", "x": "(not needed here)"}

    def verifier(self) -> HsmVerifier:
        return HsmVerifier(self._key.public_key())


class HsmVerifier:
    def __init__(self, key: ed25519.Ed25519PublicKey) -> None:
        self._key = key

    @property
    def alg(self) -> str:
        return ALG

    @property
    def kid(self) -> str:
        return "hsm-slot-1"

    def verify(self, signature: bytes, data: bytes) -> None:
        try:
            self._key.verify(signature, data)
        except InvalidSignature as exc:
            raise SignatureInvalidError("signature does not verify") from exc


class Resolver:
    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier

    def resolve(self, member: str, kid: str, at: datetime) -> Verifier:
        if member == SHANGHAI and kid == self.verifier.kid:
            return self.verifier
        raise UnknownKeyError(f"no key {kid} for {member}")


def test_a_plugged_in_signer_and_verifier(clock: FixedClock) -> None:
    signer = HsmSigner()
    assert isinstance(signer, Signer)
    claims = new_request(
        issuer=SHANGHAI,
        audience=JIANGSU,
        operation="record.request",
        target="hukou.household",
        scenario="settle",
        body={},
        now=clock(),
    )
    raw = sign_request(claims, signer)
    assert signer.calls == 1
    verifier = ProtocolVerifier(
        Resolver(signer.verifier()),
        JIANGSU,
        clock=clock,
        replay=None,
        limits=Limits(algorithms=("EdDSA", "ES256", ALG)),
    )
    assert verifier.verify_request(raw).alg == ALG

    default = ProtocolVerifier(Resolver(signer.verifier()), JIANGSU, clock=clock, replay=None)
    with pytest.raises(AlgorithmNotAllowedError):
        default.verify_request(raw)
