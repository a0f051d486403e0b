"""A gm registry: SM2 anchor and member keys, the declared profile, and what is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deltafed import FixedClock, RegistryInvalidError, SchemaValidationError, cli
from deltafed._profile import GM, INTERNATIONAL
from deltafed.cli import main
from deltafed.keys import PrivateKey, b64url_decode
from deltafed.registry import (
    AnchorKeys,
    RegistryBuilder,
    RegistryDocument,
    TrustedRegistry,
    load_anchor_file,
    sign_registry,
    verify_registry,
)

NOW = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
MEMBER = "310000/dsj"


def _gm_doc(anchor: PrivateKey, member: PrivateKey, version: int = 1) -> RegistryDocument:
    return (
        RegistryBuilder("yrd-gm", AnchorKeys.of([anchor], 1), version=version, crypto="gm")
        .add_member(MEMBER, "Shanghai big data centre", endpoint="https://sh.example.test")
        .add_key(MEMBER, member.public_key, not_before=NOW - timedelta(days=1))
        .build(issued_at=NOW)
    )


def test_gm_registry_signs_verifies_and_declares_its_profile() -> None:
    anchor, member = PrivateKey.generate("SM2"), PrivateKey.generate("SM2")
    doc = _gm_doc(anchor, member)
    assert doc.crypto == "gm"
    assert doc.profile is GM
    assert doc.to_wire()["crypto"] == "gm"
    signed = sign_registry(doc, [anchor])
    protected = json.loads(signed)["signatures"][0]["protected"]
    assert json.loads(b64url_decode(protected))["alg"] == "SM2SM3"
    assert verify_registry(signed, AnchorKeys.of([anchor], 1)) == doc
    trusted = TrustedRegistry(AnchorKeys.of([anchor], 1), clock=FixedClock(NOW))
    trusted.update(signed)
    assert trusted.profile is GM
    assert trusted.resolve(MEMBER, member.kid, NOW).alg == "SM2SM3"


def test_international_registry_bytes_do_not_change() -> None:
    key = PrivateKey.from_seed(bytes(32))
    doc = RegistryBuilder("yrd", AnchorKeys.of([key], 1)).build(issued_at=NOW)
    assert "crypto" not in doc.to_wire()
    assert doc.profile is INTERNATIONAL


def test_keys_of_another_profile_are_refused() -> None:
    sm2, ed = PrivateKey.generate("SM2"), PrivateKey.from_seed(bytes(32))
    with pytest.raises(SchemaValidationError, match="crypto profile"):
        _gm_doc(sm2, ed)
    with pytest.raises(SchemaValidationError, match="crypto profile"):
        _gm_doc(ed, sm2)
    with pytest.raises(SchemaValidationError, match="crypto profile"):
        RegistryBuilder("yrd", AnchorKeys.of([sm2], 1)).build(issued_at=NOW)
    wire = _gm_doc(sm2, PrivateKey.generate("SM2")).to_wire()
    with pytest.raises(SchemaValidationError):
        RegistryDocument.parse({**wire, "crypto": "international"})
    with pytest.raises(SchemaValidationError):
        RegistryDocument.parse({**wire, "crypto": "fips"})


def test_a_registry_cannot_switch_profile() -> None:
    ed = PrivateKey.from_seed(bytes(32))
    sm2 = PrivateKey.generate("SM2")
    first = RegistryBuilder("yrd", AnchorKeys.of([ed], 1)).build(issued_at=NOW)
    trusted = TrustedRegistry(AnchorKeys.of([ed], 1), clock=FixedClock(NOW))
    trusted.update(sign_registry(first, [ed]))
    # The old anchor hands over to an SM2 anchor and the profile to gm: refused, nothing changes.
    second = (
        RegistryBuilder("yrd", AnchorKeys.of([sm2], 1), version=2, crypto="gm")
        .add_member(MEMBER, "Shanghai")
        .build(issued_at=NOW)
    )
    with pytest.raises(RegistryInvalidError, match="crypto profile"):
        trusted.update(sign_registry(second, [ed, sm2]))
    assert trusted.version == 1
    assert trusted.profile is INTERNATIONAL


def test_registry_cli_workflow_in_gm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("deltafed.cli._keys", "deltafed.cli._registry"))

    def run(*argv: str) -> str:
        assert main(list(argv)) == 0, capsys.readouterr().err
        return capsys.readouterr().out

    for name in ("anchor", "node"):
        run("keys", "generate", "--alg", "SM2", "--out", str(tmp_path / f"{name}.pem"))
        pem = run("keys", "export-public", str(tmp_path / f"{name}.pem"), "--format", "pem")
        (tmp_path / f"{name}.pub.pem").write_text(pem)
    doc, signed, pinned = (str(tmp_path / n) for n in ("doc.json", "reg.json", "anchor.json"))
    run(
        "registry", "init", "--federation", "yrd-gm", "--crypto", "gm",
        "--anchor-key", str(tmp_path / "anchor.pub.pem"), "--out", doc, "--anchor-out", pinned,
    )  # fmt: skip
    run("registry", "add-member", "--doc", doc, "--id", MEMBER, "--name", "Shanghai")
    run(
        "registry",
        "add-key",
        "--doc",
        doc,
        "--member",
        MEMBER,
        "--key",
        str(tmp_path / "node.pub.pem"),
    )
    run("registry", "sign", "--doc", doc, "--key", str(tmp_path / "anchor.pem"), "--out", signed)
    run("registry", "verify", signed, "--anchor", pinned)
    out = run("registry", "show", signed, "--anchor", pinned)
    assert "crypto       gm (SM2SM3)" in out
    verified = verify_registry(Path(signed).read_bytes(), load_anchor_file(pinned))
    assert verified.profile is GM
    # An Ed25519 key cannot join a gm federation.
    ed = PrivateKey.from_seed(bytes(32))
    (tmp_path / "ed.pub.pem").write_bytes(ed.public_key.to_pem())
    status = main(
        [
            "registry",
            "add-key",
            "--doc",
            doc,
            "--member",
            MEMBER,
            "--key",
            str(tmp_path / "ed.pub.pem"),
        ]
    )
    assert status != 0
    assert "crypto profile" in capsys.readouterr().err
