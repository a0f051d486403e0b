"""Keys: JWK and PEM round trips, RFC 7638 thumbprints, key files, signatures."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from deltafed import (
    AlgorithmNotAllowedError,
    ConfigurationError,
    InvalidInputError,
    SignatureInvalidError,
    UnknownKeyError,
    UnknownMemberError,
)
from deltafed.keys import (
    P256_ORDER,
    KeyResolver,
    PrivateKey,
    PublicKey,
    Signer,
    StaticKeyResolver,
    Verifier,
    b64url_decode,
    b64url_encode,
    jwk_thumbprint,
)

# RFC 8037, appendix A.1 to A.3: an Ed25519 key and its RFC 7638 thumbprint.
RFC8037_PUBLIC = {
    "kty": "OKP",
    "crv": "Ed25519",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_rfc8037_thumbprint() -> None:
    assert jwk_thumbprint(RFC8037_PUBLIC) == RFC8037_THUMBPRINT
    assert PublicKey.from_jwk(RFC8037_PUBLIC).kid == RFC8037_THUMBPRINT


def test_rfc8037_signature() -> None:
    # RFC 8037 A.4: the JWS signature of "Example of Ed25519 signing" is deterministic.
    key = PrivateKey.from_private_jwk({**RFC8037_PUBLIC, "d": RFC8037_D})
    signing_input = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
    expected = (
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
    )
    assert b64url_encode(key.sign(signing_input)) == expected
    key.public_key.verify(b64url_decode(expected), signing_input)


def test_ec_thumbprint_uses_required_members_only() -> None:
    key = PrivateKey.generate("ES256")
    jwk = key.public_key.to_jwk()
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert jwk_thumbprint(jwk) == key.kid == jwk["kid"]
    assert jwk["alg"] == "ES256"


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_jwk_round_trip(alg: str) -> None:
    key = PrivateKey.generate(alg)
    public = PublicKey.from_jwk(key.public_jwk())
    assert public == key.public_key
    assert hash(public) == hash(key.public_key)
    private = PrivateKey.from_private_jwk(key.to_private_jwk())
    assert private.kid == key.kid
    assert private.alg == alg
    signature = private.sign(b"data")
    key.public_key.verify(signature, b"data")


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_pem_round_trip(alg: str) -> None:
    key = PrivateKey.generate(alg)
    assert PrivateKey.from_pem(key.to_pem()).kid == key.kid
    assert PublicKey.from_pem(key.public_key.to_pem()).kid == key.kid
    encrypted = key.to_pem(b"test only passphrase")
    assert b"ENCRYPTED" in encrypted
    assert PrivateKey.from_pem(encrypted, b"test only passphrase").kid == key.kid
    with pytest.raises(InvalidInputError):
        PrivateKey.from_pem(encrypted, b"wrong")
    with pytest.raises(InvalidInputError):
        PrivateKey.from_pem(encrypted)


def test_es256_signatures_are_raw_r_and_s() -> None:
    key = PrivateKey.generate("ES256")
    signature = key.sign(b"payload")
    assert len(signature) == 64
    key.public_key.verify(signature, b"payload")
    with pytest.raises(SignatureInvalidError):
        key.public_key.verify(signature, b"other payload")
    with pytest.raises(SignatureInvalidError):
        key.public_key.verify(signature[:63], b"payload")
    # A DER signature (what cryptography gives natively) is not a JWS signature.
    native = ec.derive_private_key(
        int.from_bytes(b64url_decode(key.to_private_jwk()["d"]), "big"), ec.SECP256R1()
    )
    der = native.sign(b"payload", ec.ECDSA(hashes.SHA256()))
    with pytest.raises(SignatureInvalidError):
        key.public_key.verify(der, b"payload")
    r, s = decode_dss_signature(der)
    # The same signature as raw r || s, in its low-S form, is one; its high-S twin is not.
    low, high = (s, P256_ORDER - s) if s <= P256_ORDER // 2 else (P256_ORDER - s, s)
    key.public_key.verify(r.to_bytes(32, "big") + low.to_bytes(32, "big"), b"payload")
    with pytest.raises(SignatureInvalidError):
        key.public_key.verify(r.to_bytes(32, "big") + high.to_bytes(32, "big"), b"payload")


def test_ed25519_bad_signatures() -> None:
    key = PrivateKey.generate()
    with pytest.raises(SignatureInvalidError):
        key.public_key.verify(b"\x00" * 64, b"data")
    with pytest.raises(SignatureInvalidError):
        key.public_key.verify(b"\x00" * 10, b"data")


def test_seeded_keys_are_deterministic() -> None:
    seed = bytes(range(32))
    assert PrivateKey.from_seed(seed).kid == PrivateKey.from_seed(seed).kid
    with pytest.raises(InvalidInputError):
        PrivateKey.from_seed(b"short")


def test_save_writes_owner_only_and_refuses_overwrite(tmp_path: Path) -> None:
    key = PrivateKey.generate()
    path = key.save(tmp_path / "node.pem")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert PrivateKey.load(path).kid == key.kid
    with pytest.raises(ConfigurationError, match="overwrite"):
        PrivateKey.generate().save(path)
    assert PrivateKey.load(path).kid == key.kid


def test_save_refuses_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("do not touch")
    link = tmp_path / "key.pem"
    link.symlink_to(target)
    with pytest.raises(ConfigurationError):
        PrivateKey.generate().save(link)
    assert target.read_text() == "do not touch"


def test_load_private_jwk_file_and_errors(tmp_path: Path) -> None:
    import json

    key = PrivateKey.generate("ES256")
    path = tmp_path / "key.jwk"
    path.write_text(json.dumps(key.to_private_jwk()))
    assert PrivateKey.load(path).kid == key.kid
    (tmp_path / "bad.jwk").write_text("{not json")
    with pytest.raises(InvalidInputError):
        PrivateKey.load(tmp_path / "bad.jwk")
    with pytest.raises(ConfigurationError):
        PrivateKey.load(tmp_path / "missing.pem")
    (tmp_path / "garbage.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n")
    with pytest.raises(InvalidInputError):
        PrivateKey.load(tmp_path / "garbage.pem")


def test_repr_never_shows_the_secret() -> None:
    key = PrivateKey.from_private_jwk({**RFC8037_PUBLIC, "d": RFC8037_D})
    assert RFC8037_D not in repr(key)
    assert repr(key) == f"PrivateKey(alg='EdDSA', kid='{RFC8037_THUMBPRINT}')"
    assert "d" not in key.public_jwk()


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        {"kty": "OKP", "crv": "X25519", "x": RFC8037_PUBLIC["x"]},
        {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"},
    ],
)
def test_unsupported_jwk_types(jwk: dict[str, str]) -> None:
    with pytest.raises(AlgorithmNotAllowedError):
        PublicKey.from_jwk(jwk)


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "OKP", "crv": "Ed25519"},  # no x
        {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"},  # wrong length
        {"kty": "OKP", "crv": "Ed25519", "x": "not base64!"},
        {"kty": "OKP", "crv": "Ed25519", "x": 42},
        {"kty": "OKP", "crv": "Ed25519", "x": "A" * 300},
        {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
        {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(b"\x01" * 32),
            "y": b64url_encode(b"\x01" * 32),
        },
        {**RFC8037_PUBLIC, "kid": "not-the-thumbprint"},
        {**RFC8037_PUBLIC, "alg": "ES256"},
        {**RFC8037_PUBLIC, "use": "enc"},
        {**RFC8037_PUBLIC, "d": RFC8037_D},  # a private key where a public one is expected
    ],
)
def test_bad_public_jwks_are_invalid_input(jwk: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        PublicKey.from_jwk(jwk)


def test_bad_private_jwks_are_invalid_input() -> None:
    with pytest.raises(InvalidInputError):
        PrivateKey.from_private_jwk(RFC8037_PUBLIC)  # no d
    with pytest.raises(InvalidInputError):
        PrivateKey.from_private_jwk({**RFC8037_PUBLIC, "d": "AAAA"})
    other = PrivateKey.generate().to_private_jwk()["d"]
    with pytest.raises(InvalidInputError, match="does not belong"):
        PrivateKey.from_private_jwk({**RFC8037_PUBLIC, "d": other})
    with pytest.raises(InvalidInputError):
        PublicKey.from_jwk(["not", "a", "mapping"])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        jwk_thumbprint({"kty": "OKP", "crv": "Ed25519"})
    with pytest.raises(InvalidInputError):
        jwk_thumbprint({"kty": "oct", "k": "AAAA"})


def test_rsa_pem_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(AlgorithmNotAllowedError):
        PrivateKey.from_pem(pem)
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(AlgorithmNotAllowedError):
        PublicKey.from_pem(public_pem)
    with pytest.raises(InvalidInputError):
        PublicKey.from_pem(b"not a pem")


def test_generate_refuses_unknown_algorithms() -> None:
    with pytest.raises(AlgorithmNotAllowedError):
        PrivateKey.generate("HS256")


@pytest.mark.parametrize("text", ["AA==", "A+/A", "AA AA", 42, "A" * 1_400_001, "A"])
def test_b64url_decode_is_strict(text: object) -> None:
    with pytest.raises(InvalidInputError):
        b64url_decode(text)  # type: ignore[arg-type]


def test_protocols_are_implemented() -> None:
    key = PrivateKey.generate()
    resolver = StaticKeyResolver({"310000/shzwfw": [key.public_key]})
    assert isinstance(key, Signer)
    assert isinstance(key.public_key, Verifier)
    assert isinstance(resolver, KeyResolver)


def test_static_resolver() -> None:
    from datetime import UTC, datetime

    key = PrivateKey.generate()
    resolver = StaticKeyResolver({"310000/shzwfw": [key.public_key]})
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert resolver.resolve("310000/shzwfw", key.kid, at) is key.public_key
    with pytest.raises(UnknownKeyError):
        resolver.resolve("310000/shzwfw", "other", at)
    with pytest.raises(UnknownMemberError):
        resolver.resolve("320000/gongan", key.kid, at)


def test_sm2_without_the_gm_extra_is_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from deltafed import ConfigurationError, CryptoUnavailableError, _sm2

    monkeypatch.setattr(_sm2, "_modules", None)
    for name in ("tongsuopy", "tongsuopy.crypto", "tongsuopy.crypto.asymciphers"):
        monkeypatch.setitem(sys.modules, name, None)
    assert not _sm2.sm2_available()
    with pytest.raises(CryptoUnavailableError) as info:
        PrivateKey.generate("SM2")
    assert info.value.code == "crypto_unavailable"
    assert isinstance(info.value, ConfigurationError)
    assert "deltafed[gm]" in (info.value.remediation or "")
    jwk = {"kty": "EC", "crv": "SM2", "x": "A" * 43, "y": "A" * 43}
    with pytest.raises(CryptoUnavailableError):
        PublicKey.from_jwk(jwk)


def test_a_gm_federation_without_the_extra_is_a_typed_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import io
    import sys

    from deltafed import CryptoUnavailableError, FixedClock, _sm2
    from deltafed.demo import run_demo
    from deltafed.testing import LocalFederation

    monkeypatch.setattr(_sm2, "_modules", None)
    for name in ("tongsuopy", "tongsuopy.crypto", "tongsuopy.crypto.asymciphers"):
        monkeypatch.setitem(sys.modules, name, None)
    from datetime import UTC, datetime

    with pytest.raises(CryptoUnavailableError):
        LocalFederation(clock=FixedClock(datetime(2026, 1, 1, tzinfo=UTC)), crypto="gm")
    folder = tmp_path / "demo"
    with pytest.raises(CryptoUnavailableError):
        run_demo(folder, out=io.StringIO(), crypto="gm")
    assert not folder.exists()


def test_a_gm_registry_without_the_extra_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import sys

    from deltafed import CryptoUnavailableError, _sm2
    from deltafed.registry import AnchorKeys, RegistryDocument

    vectors = Path(__file__).resolve().parents[1] / "docs" / "vectors" / "gm"
    monkeypatch.setattr(_sm2, "_modules", None)
    for name in ("tongsuopy", "tongsuopy.crypto", "tongsuopy.crypto.asymciphers"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(CryptoUnavailableError):
        AnchorKeys.parse(json.loads((vectors / "anchor.json").read_text()))
    payload = b64url_decode(json.loads((vectors / "registry.jws").read_bytes())["payload"])
    with pytest.raises(CryptoUnavailableError):
        RegistryDocument.parse_json(payload)
