"""``deltafed keys``: generate, show, export-public."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from deltafed.cli import main
from deltafed.keys import PrivateKey, PublicKey


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_generate_show_export(alg: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "node.pem"
    assert main(["keys", "generate", "--out", str(path), "--alg", alg]) == 0
    kid = capsys.readouterr().out.strip()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = PrivateKey.load(path)
    assert key.kid == kid
    assert key.alg == alg

    assert main(["keys", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"alg: {alg}" in out
    assert f"kid: {kid}" in out
    jwk = json.loads(out.split("public_jwk: ", 1)[1])
    assert "d" not in jwk
    assert key.to_private_jwk()["d"] not in out
    assert PublicKey.from_jwk(jwk).kid == kid

    assert main(["keys", "export-public", str(path)]) == 0
    assert PublicKey.from_jwk(json.loads(capsys.readouterr().out)).kid == kid
    assert main(["keys", "export-public", str(path), "--format", "pem"]) == 0
    pem = capsys.readouterr().out
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert PublicKey.from_pem(pem.encode()).kid == kid


def test_generate_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "node.pem"
    path.write_text("existing")
    assert main(["keys", "generate", "--out", str(path)]) == 2
    assert "error configuration_error" in capsys.readouterr().err
    assert path.read_text() == "existing"


def test_password_from_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "node.pem"
    monkeypatch.setenv("DELTAFED_TEST_PASS", "test only passphrase")
    args = ["--password-env", "DELTAFED_TEST_PASS"]
    assert main(["keys", "generate", "--out", str(path), *args]) == 0
    kid = capsys.readouterr().out.strip()
    assert b"ENCRYPTED" in path.read_bytes()
    assert main(["keys", "show", str(path), *args]) == 0
    assert f"kid: {kid}" in capsys.readouterr().out
    assert main(["keys", "show", str(path)]) == 2
    assert "error invalid_input" in capsys.readouterr().err
    monkeypatch.delenv("DELTAFED_TEST_PASS")
    assert main(["keys", "show", str(path), *args]) == 2
    assert "DELTAFED_TEST_PASS" in capsys.readouterr().err


def test_show_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["keys", "show", str(tmp_path / "missing.pem")]) == 2
    assert "error configuration_error" in capsys.readouterr().err
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    assert main(["keys", "export-public", str(bad)]) == 2
    assert "error invalid_input" in capsys.readouterr().err


def test_unknown_algorithm_is_a_usage_error(tmp_path: Path):
    with pytest.raises(SystemExit) as info:
        main(["keys", "generate", "--out", str(tmp_path / "k.pem"), "--alg", "HS256"])
    assert info.value.code == 2
