"""SM2 keys and signatures: the published examples, JWK, PEM, thumbprints, bad input."""

from __future__ import annotations

import json
from types import ModuleType

import pytest
from cryptography.hazmat.primitives import hashes

from deltafed import AlgorithmNotAllowedError, InvalidInputError, SignatureInvalidError
from deltafed._sm2 import Sm2PrivateNative
from deltafed.keys import PrivateKey, PublicKey, b64url_encode, jwk_thumbprint

MESSAGE = b"message digest"

# GB/T 32918.5-2017 (GM/T 0003.5-2012) Annex A: the SM2 recommended curve, default signer id.
ANNEX_D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
ANNEX_X = 0x09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020
ANNEX_Y = 0xCCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13
ANNEX_K = 0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
ANNEX_R = 0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3
ANNEX_S = 0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA


def _rs(r: int, s: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def test_published_example_public_key_derivation_and_signature() -> None:
    native = Sm2PrivateNative.from_scalar(ANNEX_D)
    assert (native.public.x, native.public.y) == (ANNEX_X, ANNEX_Y)
    key = PrivateKey(native)
    assert key.alg == "SM2SM3"
    # The published signature verifies with deltafed (signer id 1234567812345678, SM3).
    key.public_key.verify(_rs(ANNEX_R, ANNEX_S), MESSAGE)
    with pytest.raises(SignatureInvalidError):
        key.public_key.verify(_rs(ANNEX_R, ANNEX_S), MESSAGE + b".")
    with pytest.raises(SignatureInvalidError):
        key.public_key.verify(_rs(ANNEX_R, ANNEX_S ^ 1), MESSAGE)


def test_published_example_reproduced_with_its_fixed_k(sm2_reference: ModuleType) -> None:
    curve = sm2_reference.SM2_CURVE
    assert sm2_reference.public_point(curve, ANNEX_D) == (ANNEX_X, ANNEX_Y)
    assert sm2_reference.sign(curve, ANNEX_D, MESSAGE, ANNEX_K) == (ANNEX_R, ANNEX_S)


def test_gmt_0003_2_annex_a_example_on_the_test_curve(sm2_reference: ModuleType) -> None:
    # GM/T 0003.2-2012 Annex A (a 256-bit test curve, signer id ALICE123@YAHOO.COM): Z, the
    # public key and the signature with the published k. Checks the reference implementation
    # that makes the gm vectors.
    curve = sm2_reference.Curve(
        p=0x8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3,
        a=0x787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498,
        b=0x63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A,
        gx=0x421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D,
        gy=0x0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2,
        n=0x8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7,
    )
    ident = b"ALICE123@YAHOO.COM"
    d = 0x128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263
    k = 0x6CB28D99385C175C94F94E934817663FC176D925DD72B727260DBAAE1FB2F96F
    public = sm2_reference.public_point(curve, d)
    assert public == (
        0x0AE4C7798AA0F119471BEE11825BE46202BB79E2A5844495E97C04FF4DF2548A,
        0x7C0240F88F1CD4E16352A73C17B7F16F07353E53A176D684A9FE0C6BB798E857,
    )
    assert sm2_reference.z_value(curve, public, ident).hex().upper() == (
        "F4A38489E32B45B6F876E3AC2168CA392362DC8F23459C1D1146FC3DBFB7BC9A"
    )
    signature = sm2_reference.sign(curve, d, MESSAGE, k, ident)
    assert signature == (
        0x40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1,
        0x6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7,
    )
    assert sm2_reference.verify(curve, public, MESSAGE, signature, ident)


def test_reference_and_library_agree_both_ways(sm2_reference: ModuleType) -> None:
    key = PrivateKey.generate("SM2")
    d = int.from_bytes(_d(key), "big")
    curve = sm2_reference.SM2_CURVE
    public = sm2_reference.public_point(curve, d)
    signature = key.sign(b"deltafed")
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    assert sm2_reference.verify(curve, public, b"deltafed", (r, s))
    k = sm2_reference.deterministic_k(curve, d, b"deltafed")
    key.public_key.verify(_rs(*sm2_reference.sign(curve, d, b"deltafed", k)), b"deltafed")


def _d(key: PrivateKey) -> bytes:
    from deltafed.keys import b64url_decode

    return b64url_decode(key.to_private_jwk()["d"])


def test_jwk_members_and_sm3_thumbprint() -> None:
    key = PrivateKey.generate("SM2SM3")
    jwk = key.public_jwk()
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "SM2", "SM2SM3", "sig")
    required = {"crv": "SM2", "kty": "EC", "x": jwk["x"], "y": jwk["y"]}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
    digest = hashes.Hash(hashes.SM3())
    digest.update(canonical)
    assert jwk["kid"] == b64url_encode(digest.finalize()) == jwk_thumbprint(jwk)
    assert PublicKey.from_jwk(jwk) == key.public_key


def test_private_jwk_and_pem_round_trips() -> None:
    key = PrivateKey.generate("SM2")
    assert PrivateKey.from_private_jwk(key.to_private_jwk()).kid == key.kid
    assert PrivateKey.from_pem(key.to_pem()).kid == key.kid
    assert PrivateKey.from_pem(key.to_pem(b"secret"), b"secret").kid == key.kid
    assert PublicKey.from_pem(key.public_key.to_pem()) == key.public_key
    with pytest.raises(InvalidInputError):
        PrivateKey.from_pem(key.to_pem(b"secret"), b"wrong")


def test_seeded_keys_are_deterministic() -> None:
    seed = bytes(range(32))
    assert PrivateKey.from_seed(seed, "SM2").kid == PrivateKey.from_seed(seed, "SM2SM3").kid
    assert PrivateKey.from_seed(seed, "SM2").kid != PrivateKey.from_seed(seed).kid


def test_signatures_are_64_raw_bytes_and_randomised() -> None:
    key = PrivateKey.generate("SM2")
    first, second = key.sign(b"x"), key.sign(b"x")
    assert len(first) == len(second) == 64
    assert first != second
    key.public_key.verify(first, b"x")
    key.public_key.verify(second, b"x")


@pytest.mark.parametrize(
    "signature",
    [b"", bytes(63), bytes(65), bytes(64), b"\xff" * 64],
    ids=["empty", "short", "long", "zero", "out-of-range"],
)
def test_bad_signatures_are_refused(signature: bytes) -> None:
    key = PrivateKey.generate("SM2")
    with pytest.raises(SignatureInvalidError):
        key.public_key.verify(signature, b"x")


def test_off_curve_and_mislabelled_jwks_are_refused() -> None:
    jwk = PrivateKey.generate("SM2").public_jwk()
    with pytest.raises(InvalidInputError):
        PublicKey.from_jwk({**jwk, "y": jwk["x"], "kid": "x"} | {"kid": jwk["kid"]})
    p256 = PrivateKey.generate("ES256").public_jwk()
    # A P-256 point labelled SM2 is not on the SM2 curve (or has another thumbprint).
    with pytest.raises(InvalidInputError):
        PublicKey.from_jwk(
            {k: v for k, v in p256.items() if k not in {"alg", "kid"}} | {"crv": "SM2"}
        )
    with pytest.raises(InvalidInputError):
        PublicKey.from_jwk({**jwk, "alg": "ES256"})
    with pytest.raises(AlgorithmNotAllowedError):
        PublicKey.from_jwk({**jwk, "crv": "SM9"})


def test_private_scalar_range_is_checked() -> None:
    with pytest.raises(InvalidInputError):
        Sm2PrivateNative.from_scalar(0)
    with pytest.raises(InvalidInputError):
        Sm2PrivateNative.from_scalar(
            0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123 - 1
        )
