"""``deltafed registry``: an operator's whole workflow from files, and its failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deltafed import FixedClock, RollbackError, cli
from deltafed.cli import main
from deltafed.keys import PrivateKey
from deltafed.registry import (
    RegistryFile,
    TrustedRegistry,
    load_anchor_file,
    load_registry_file,
)

MEMBER = "310000/dsj"

SCENARIO = {
    "id": "sh-hukou-check",
    "name": "Household check for school enrolment",
    "service_matter": "Primary school enrolment of non-local children",
    "legal_basis": "Synthetic test basis",
    "requester": MEMBER,
    "providers": ["320000"],
    "operations": ["record.request"],
    "record_types": ["hukou"],
    "allowed_fields": ["name", "address"],
}


class Files:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.keys: dict[str, PrivateKey] = {}

    def key(self, name: str, seed: int) -> tuple[str, str]:
        """Write a test key pair; return (private path, public path)."""
        key = PrivateKey.from_seed(bytes([seed]) * 32)
        self.keys[name] = key
        private = self.root / f"{name}.pem"
        key.save(private)
        public = self.root / f"{name}.pub.pem"
        public.write_bytes(key.public_key.to_pem())
        return str(private), str(public)

    def path(self, name: str) -> str:
        return str(self.root / name)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["registry", *argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Files:
    # Only this command group: other groups' modules are not this test's business.
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("deltafed.cli._registry",))
    return Files(tmp_path)


def _build(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    _, a0 = files.key("a0", 10)
    _, a1 = files.key("a1", 11)
    _, m = files.key("member", 101)
    doc, anchor = files.path("doc.json"), files.path("anchor.json")
    steps = [
        ("init", "--federation", "yrd", "--anchor-key", a0, a1, "--threshold", "2",
         "--out", doc, "--anchor-out", anchor),
        ("add-member", "--doc", doc, "--id", MEMBER, "--name", "Shanghai Big Data Centre",
         "--endpoint", "https://sh.example.test/fed"),
        ("add-key", "--doc", doc, "--member", MEMBER, "--key", m,
         "--not-before", "2026-01-01T00:00:00+08:00"),
    ]  # fmt: skip
    Path(files.path("scn.json")).write_text(json.dumps(SCENARIO))
    Path(files.path("cat.json")).write_text(json.dumps({"region": "320000"}))
    steps.append(("add-scenario", "--doc", doc, "--file", files.path("scn.json")))
    steps.append(("set-catalogue", "--doc", doc, "--file", files.path("cat.json")))
    for step in steps:
        status, _, err = run(capsys, *step)
        assert status == 0, (step, err)


def test_operator_workflow(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    _build(files, capsys)
    a0, a1 = str(files.root / "a0.pem"), str(files.root / "a1.pem")
    doc, anchor, reg = files.path("doc.json"), files.path("anchor.json"), files.path("reg.jws")

    status, out, _ = run(capsys, "sign", "--doc", doc, "--key", a0, "--out", reg)
    assert status == 0
    assert "1 of 2 required" in out
    # One of two anchor keys signed: not yet trusted.
    status, _, err = run(capsys, "verify", reg, "--anchor", anchor)
    assert status == 2
    assert "threshold_not_met" in err
    status, out, _ = run(capsys, "cosign", reg, "--key", a1)
    assert status == 0
    assert "2 signature(s)" in out
    status, out, _ = run(capsys, "verify", reg, "--anchor", anchor)
    assert status == 0
    assert "version 1 verified" in out

    status, out, _ = run(capsys, "show", reg, "--anchor", anchor)
    assert status == 0
    assert MEMBER in out
    assert "VERIFIED" in out
    assert "sh-hukou-check" in out
    assert files.keys["member"].kid in out
    status, out, _ = run(capsys, "show", reg)
    assert status == 0
    assert "NOT VERIFIED" in out

    # The working document now holds the next version.
    assert json.loads(Path(doc).read_text())["version"] == 2
    pinned = load_anchor_file(anchor)
    first = load_registry_file(reg, pinned)
    assert first.version == 1
    assert first.member(MEMBER) is not None

    # Retire the key, sign v2 with both anchor keys, and feed both versions to a client.
    kid = files.keys["member"].kid
    status, _, err = run(capsys, "retire-key", "--doc", doc, "--member", MEMBER, "--kid", kid,
                         "--at", "2026-06-01T00:00:00+00:00")  # fmt: skip
    assert status == 0, err
    reg2 = files.path("reg2.jws")
    status, _, _ = run(capsys, "sign", "--doc", doc, "--key", a0, a1, "--out", reg2)
    assert status == 0
    clock = FixedClock(datetime.now(UTC))
    trusted = TrustedRegistry(pinned, clock=clock)
    trusted.update_from_file(reg)
    trusted.update_from_file(reg2)
    key = trusted.member(MEMBER).key(kid)
    assert key is not None
    assert key.state == "retired"
    with pytest.raises(RollbackError):
        trusted.update_from_file(reg)

    # While the retired key's window is open it is shown as retiring, with its end; after it,
    # as retired.
    key_line = f"key {kid}  "
    status, out, _ = run(capsys, "show", reg2, "--at", "2026-05-31T23:59:59+00:00")
    assert status == 0
    line = next(x for x in out.splitlines() if key_line in x)
    assert "retiring until 2026-06-01T00:00:00+00:00" in line
    status, out, _ = run(capsys, "show", reg2, "--at", "2026-06-01T00:00:00+00:00")
    line = next(x for x in out.splitlines() if key_line in x)
    assert f"{key_line}retired  [" in line
    assert "retiring" not in out
    status, _, err = run(capsys, "show", reg2, "--at", "yesterday")
    assert status == 2
    assert "RFC 3339" in err


def test_anchor_rotation_from_the_command_line(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    _build(files, capsys)
    a0, a1 = str(files.root / "a0.pem"), str(files.root / "a1.pem")
    a2, a2_pub = files.key("a2", 12)
    doc, anchor = files.path("doc.json"), files.path("anchor.json")
    reg1, reg2, reg3 = (files.path(f"r{i}.jws") for i in (1, 2, 3))
    assert run(capsys, "sign", "--doc", doc, "--key", a0, a1, "--out", reg1)[0] == 0
    anchor2 = files.path("anchor2.json")
    status, out, _ = run(capsys, "set-anchor", "--doc", doc, "--anchor-key", a2_pub,
                         "--threshold", "1", "--anchor-out", anchor2)  # fmt: skip
    assert status == 0
    assert "old AND the new" in out
    # Signed by the old threshold and the new key: accepted by a client pinned to the old one.
    assert run(capsys, "sign", "--doc", doc, "--key", a0, a1, a2, "--out", reg2)[0] == 0
    assert run(capsys, "sign", "--doc", doc, "--key", a2, "--out", reg3)[0] == 0
    trusted = TrustedRegistry(load_anchor_file(anchor), clock=FixedClock(datetime.now(UTC)))
    for path in (reg1, reg2, reg3):
        trusted.update_from_file(path)
    assert trusted.version == 3
    assert trusted.anchor.same_as(load_anchor_file(files.path("anchor2.json")))


def test_sign_cosign_and_publish_write_every_version(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    """A node that trusts version 1 follows a rotation it missed from the publication point."""
    _build(files, capsys)
    a0, a1 = str(files.root / "a0.pem"), str(files.root / "a1.pem")
    a2, a2_pub = files.key("a2", 12)
    doc, anchor = files.path("doc.json"), files.path("anchor.json")
    staging, point = files.root / "registry.jws", files.root / "www" / "registry.jws"
    point.parent.mkdir()
    status, out, _ = run(capsys, "sign", "--doc", doc, "--key", a0, "--out", str(staging))
    assert status == 0
    assert "registry.1.jws" in out
    assert run(capsys, "cosign", str(staging), "--key", a1)[0] == 0
    assert (files.root / "registry.1.jws").read_bytes() == staging.read_bytes()
    assert run(capsys, "publish", str(staging), "--anchor", anchor, "--to", str(point))[0] == 0
    trusted = TrustedRegistry(load_anchor_file(anchor), clock=FixedClock(datetime.now(UTC)))
    source = RegistryFile(trusted, point)
    assert source.refresh() is True
    assert trusted.version == 1
    rotated = files.path("rotated-anchor.json")
    assert run(capsys, "set-anchor", "--doc", doc, "--anchor-key", a2_pub,
               "--threshold", "1", "--anchor-out", rotated)[0] == 0  # fmt: skip
    assert run(capsys, "sign", "--doc", doc, "--key", a0, a1, "--out", str(staging))[0] == 0
    assert run(capsys, "cosign", str(staging), "--key", a2)[0] == 0
    assert run(capsys, "publish", str(staging), "--anchor", anchor, "--to", str(point))[0] == 0
    assert run(capsys, "sign", "--doc", doc, "--key", a2, "--out", str(staging))[0] == 0
    # Version 3 is signed by the new anchor alone: the old pin refuses to publish it.
    status, _, err = run(capsys, "publish", str(staging), "--anchor", anchor, "--to", str(point))
    assert status == 2
    assert "threshold_not_met" in err
    assert run(capsys, "publish", str(staging), "--anchor", rotated, "--to", str(point))[0] == 0
    assert sorted(p.name for p in point.parent.iterdir()) == [
        "registry.1.jws",
        "registry.2.jws",
        "registry.3.jws",
        "registry.jws",
    ]
    assert source.refresh() is True  # walks version 2 (the rotation), then 3
    assert trusted.version == 3
    assert trusted.anchor.same_as(load_anchor_file(rotated))


def test_compromise_key(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    _build(files, capsys)
    doc = files.path("doc.json")
    kid = files.keys["member"].kid
    at = datetime.now(UTC) - timedelta(hours=2)
    status, _, err = run(capsys, "compromise-key", "--doc", doc, "--member", MEMBER,
                         "--kid", kid, "--at", at.isoformat())  # fmt: skip
    assert status == 0, err
    entry = json.loads(Path(doc).read_text())["members"][0]["keys"][0]
    assert entry["state"] == "compromised"
    assert datetime.fromisoformat(entry["compromised_at"]) == at


# name, command (with {doc}, {files} placeholders), expected error code on stderr
FAILURES = [
    ("private-key-as-public", ["add-key", "--doc", "{doc}", "--member", MEMBER, "--key",
                               "{root}/member.pem"], "invalid_input"),
    ("duplicate-member", ["add-member", "--doc", "{doc}", "--id", MEMBER, "--name", "Again"],
     "invalid_input"),
    ("bad-member-id", ["add-member", "--doc", "{doc}", "--id", "Shanghai", "--name", "X"],
     "invalid_identifier"),
    ("unknown-member", ["add-key", "--doc", "{doc}", "--member", "340000/nobody", "--key",
                        "{root}/member.pub.pem"], "unknown_member"),
    ("unknown-kid", ["retire-key", "--doc", "{doc}", "--member", MEMBER, "--kid", "nokid"],
     "unknown_key"),
    ("naive-time", ["compromise-key", "--doc", "{doc}", "--member", MEMBER, "--kid", "x",
                    "--at", "2026-01-01T00:00:00"], "invalid_input"),
    ("duplicate-key", ["add-key", "--doc", "{doc}", "--member", MEMBER, "--key",
                       "{root}/member.pub.pem"], "schema_violation"),
    ("missing-doc", ["add-member", "--doc", "{root}/nope.json", "--id", MEMBER, "--name", "X"],
     "configuration_error"),
    ("garbage-registry", ["show", "{root}/scn.json"], "registry_invalid"),
    ("bad-scenario-file", ["add-scenario", "--doc", "{doc}", "--file", "{root}/cat.json"],
     "schema_violation"),
    ("threshold-too-high", ["init", "--federation", "yrd", "--anchor-key", "{root}/a0.pub.pem",
                            "--threshold", "3", "--out", "{root}/new.json"], "schema_violation"),
    ("init-refuses-overwrite", ["init", "--federation", "yrd", "--anchor-key",
                                "{root}/a0.pub.pem", "--out", "{doc}"], "configuration_error"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "code"), [row[1:] for row in FAILURES], ids=[row[0] for row in FAILURES]
)
def test_failures_are_reported_with_codes(
    files: Files, capsys: pytest.CaptureFixture[str], argv: list[str], code: str
) -> None:
    _build(files, capsys)
    before = Path(files.path("doc.json")).read_bytes()
    args = [a.format(doc=files.path("doc.json"), root=files.root) for a in argv]
    status, _, err = run(capsys, *args)
    assert status == 2
    assert err.startswith(f"error {code}:"), err
    assert "Traceback" not in err
    assert Path(files.path("doc.json")).read_bytes() == before


def test_tampered_registry_fails_verify(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    _build(files, capsys)
    a0, a1 = str(files.root / "a0.pem"), str(files.root / "a1.pem")
    reg = files.path("reg.jws")
    run(capsys, "sign", "--doc", files.path("doc.json"), "--key", a0, a1, "--out", reg)
    outer = json.loads(Path(reg).read_text())
    outer["payload"] = outer["payload"][:-2] + ("AA" if outer["payload"][-2:] != "AA" else "BB")
    Path(reg).write_text(json.dumps(outer))
    status, _, err = run(capsys, "verify", reg, "--anchor", files.path("anchor.json"))
    assert status == 2
    assert "threshold_not_met" in err


def test_registry_group_is_registered(capsys: pytest.CaptureFixture[str]) -> None:
    assert "deltafed.cli._registry" in cli._COMMAND_MODULES
    with pytest.raises(SystemExit) as info:
        main(["registry", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for action in ("init", "add-member", "add-key", "retire-key", "sign", "verify", "show"):
        assert action in out


@pytest.mark.parametrize("where", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_verify_with_state_refuses_a_rollback_across_runs(
    files: Files, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest, where: str
) -> None:
    _build(files, capsys)
    a0, a1 = str(files.root / "a0.pem"), str(files.root / "a1.pem")
    doc, anchor = files.path("doc.json"), files.path("anchor.json")
    reg1, reg2 = files.path("reg1.jws"), files.path("reg2.jws")
    for reg in (reg1, reg2):
        assert run(capsys, "sign", "--doc", doc, "--key", a0, a1, "--out", reg)[0] == 0
    state = files.path("state.db") if where == "sqlite" else request.getfixturevalue("pg_url")
    status, out, _ = run(capsys, "verify", reg1, "--anchor", anchor, "--state", state)
    assert status == 0
    assert "last verified before this: none; now version 1" in out
    status, out, _ = run(capsys, "verify", reg2, "--anchor", anchor, "--state", state)
    assert (status, "before this: version 1; now version 2" in out) == (0, True)
    # Each run is a new process with no memory: only the state store sees the rollback.
    status, _, err = run(capsys, "verify", reg1, "--anchor", anchor, "--state", state)
    assert status == 2
    assert "rollback" in err
    assert run(capsys, "verify", reg1, "--anchor", anchor)[0] == 0  # without --state: no memory
