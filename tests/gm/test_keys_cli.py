"""``deltafed keys`` with SM2: generate, show, export-public, with and without a passphrase."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deltafed.cli import main
from deltafed.keys import PrivateKey, PublicKey


@pytest.mark.parametrize("alg", ["SM2", "SM2SM3"])
def test_generate_show_export_sm2(
    alg: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "node.pem"
    monkeypatch.setenv("DELTAFED_TEST_PASS", "test only passphrase")
    password = ["--password-env", "DELTAFED_TEST_PASS"]
    assert main(["keys", "generate", "--out", str(path), "--alg", alg, *password]) == 0
    kid = capsys.readouterr().out.strip()
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    key = PrivateKey.load(path, b"test only passphrase")
    assert (key.alg, key.kid) == ("SM2SM3", kid)

    assert main(["keys", "show", str(path), *password]) == 0
    out = capsys.readouterr().out
    assert "alg: SM2SM3" in out
    jwk = json.loads(out.split("public_jwk: ", 1)[1])
    assert (jwk["kty"], jwk["crv"], jwk["kid"]) == ("EC", "SM2", kid)
    assert "d" not in jwk

    assert main(["keys", "export-public", str(path), "--format", "pem", *password]) == 0
    assert PublicKey.from_pem(capsys.readouterr().out.encode()).kid == kid
