"""``deltafed demo --crypto gm``: every demo case in a gm federation over real loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deltafed.cli import main
from deltafed.demo import CASES
from deltafed.keys import PrivateKey, b64url_decode
from deltafed.registry import load_anchor_file, verify_registry


def test_demo_in_a_gm_federation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "demo"
    assert main(["demo", "--crypto", "gm", "--dir", str(folder)]) == 0
    text = capsys.readouterr().out
    assert "crypto    gm: signatures SM2SM3, digests sm3, subject index hmac-sm3" in text
    assert f"{len(CASES)} of {len(CASES)} cases behaved as expected - all passed" in text
    assert "FAIL" not in text
    assert text.count("hash chain and Merkle tree intact") == 3
    registry = verify_registry(
        (folder / "registry.jws").read_bytes(), load_anchor_file(folder / "anchor.json")
    )
    assert registry.crypto == "gm"
    signed = json.loads((folder / "registry.jws").read_bytes())
    assert json.loads(b64url_decode(signed["signatures"][0]["protected"]))["alg"] == "SM2SM3"
    for key in (folder / "keys").glob("*.pem"):
        assert PrivateKey.load(key).alg == "SM2SM3"
