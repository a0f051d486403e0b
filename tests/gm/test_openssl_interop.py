"""Interop with an independent implementation: OpenSSL 3's SM2 and SM3 command line.

deltafed signs (Tongsuo through the gm extra), ``openssl pkeyutl`` verifies with the default
signer id and SM3, and the other way round; keys move both ways as PEM; SM3 digests equal
``openssl dgst -sm3``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from deltafed import SignatureInvalidError
from deltafed._profile import GM
from deltafed.keys import PrivateKey, PublicKey

DISTID = "distid:1234567812345678"
MESSAGE = "跨省户口迁移 deltafed SM2 interop".encode()


def _run(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(list(args), capture_output=True, check=False)


def _to_der(signature: bytes) -> bytes:
    return encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )


def _from_der(der: bytes) -> bytes:
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _openssl_verify(openssl: str, tmp: Path, pub: Path, signature: bytes) -> bool:
    (tmp / "msg").write_bytes(MESSAGE)
    (tmp / "sig").write_bytes(_to_der(signature))
    result = _run(
        openssl, "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pkeyopt", DISTID,
        "-pubin", "-inkey", str(pub), "-in", str(tmp / "msg"), "-sigfile", str(tmp / "sig"),
    )  # fmt: skip
    return result.returncode == 0 and b"Verified Successfully" in result.stdout


def test_deltafed_signature_verifies_with_openssl(openssl: str, tmp_path: Path) -> None:
    key = PrivateKey.generate("SM2")
    pub = tmp_path / "pub.pem"
    pub.write_bytes(key.public_key.to_pem())
    assert _openssl_verify(openssl, tmp_path, pub, key.sign(MESSAGE))
    # ... and OpenSSL does refuse a signature over other bytes: the check can fail.
    assert not _openssl_verify(openssl, tmp_path, pub, key.sign(MESSAGE + b"!"))


def test_openssl_signature_verifies_with_deltafed(openssl: str, tmp_path: Path) -> None:
    priv, pub = tmp_path / "priv.pem", tmp_path / "pub.pem"
    assert _run(openssl, "genpkey", "-algorithm", "SM2", "-out", str(priv)).returncode == 0
    assert _run(openssl, "pkey", "-in", str(priv), "-pubout", "-out", str(pub)).returncode == 0
    (tmp_path / "msg").write_bytes(MESSAGE)
    signed = _run(
        openssl, "pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-pkeyopt", DISTID,
        "-inkey", str(priv), "-in", str(tmp_path / "msg"),
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    signature = _from_der(signed.stdout)
    public = PublicKey.from_pem(pub.read_bytes())
    assert public.alg == "SM2SM3"
    public.verify(signature, MESSAGE)
    with pytest.raises(SignatureInvalidError):
        public.verify(signature, MESSAGE + b"!")
    # The private key OpenSSL wrote loads in deltafed and is the same key.
    assert PrivateKey.from_pem(priv.read_bytes()).public_key == public


def test_openssl_reads_deltafed_pem_keys(openssl: str, tmp_path: Path) -> None:
    key = PrivateKey.generate("SM2")
    plain, encrypted = tmp_path / "plain.pem", tmp_path / "encrypted.pem"
    plain.write_bytes(key.to_pem())
    encrypted.write_bytes(key.to_pem(b"test-only"))
    for path, extra in ((plain, []), (encrypted, ["-passin", "pass:test-only"])):
        out = _run(openssl, "pkey", "-in", str(path), *extra, "-pubout")
        assert out.returncode == 0, out.stderr
        assert PublicKey.from_pem(out.stdout) == key.public_key


def test_openssl_encrypted_key_loads_in_deltafed(openssl: str, tmp_path: Path) -> None:
    priv = tmp_path / "aes.pem"
    made = _run(
        openssl, "genpkey", "-algorithm", "SM2", "-aes-256-cbc", "-pass", "pass:test-only",
        "-out", str(priv),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    key = PrivateKey.from_pem(priv.read_bytes(), b"test-only")
    assert key.alg == "SM2SM3"


@pytest.mark.parametrize("data", [b"", b"abc", b"a" * 1000, MESSAGE])
def test_sm3_equals_openssl_dgst(openssl: str, tmp_path: Path, data: bytes) -> None:
    (tmp_path / "data").write_bytes(data)
    out = _run(openssl, "dgst", "-sm3", "-r", str(tmp_path / "data"))
    assert out.returncode == 0, out.stderr
    assert GM.digest_text(data) == "sm3:" + out.stdout.split()[0].decode()
