"""``deltafed audit``: verify, subject view, export and its check, from files."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deltafed import FixedClock
from deltafed.audit import AuditLog, SqliteAuditStore
from deltafed.cli import main
from deltafed.keys import PrivateKey
from deltafed.schemas.identifiers import compute_resident_check

NODE = "310000/gongan/hukou"
PEER = "320000/renshe/shebao"
SUBJECT_KEY = bytes(range(100, 132))


def resident(n: int) -> str:
    body = f"31010419900101{n:03d}"
    return body + compute_resident_check(body)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    key = PrivateKey.from_seed(b"\x05" * 32)
    paths = {
        "db": tmp_path / "audit.db",
        "key": tmp_path / "node.pem",
        "pub": tmp_path / "node.pub.pem",
        "subject_key": tmp_path / "subject.key",
        "out": tmp_path / "export.jsonl",
    }
    key.save(paths["key"])
    paths["pub"].write_bytes(key.public_key.to_pem())
    paths["subject_key"].write_text(SUBJECT_KEY.hex() + "\n")
    store = SqliteAuditStore(paths["db"])
    clock = FixedClock(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
    log = AuditLog(store, node=NODE, signer=key, subject_key=SUBJECT_KEY, clock=clock)
    for i in range(8):
        log.record(
            role="responder",
            counterpart=PEER,
            operation="record.request",
            scenario="social-insurance-transfer",
            subjects=[resident(i % 3)],
            fields=["name", "insured_months"],
            outcome="ok" if i != 5 else "consent_required",
            request_id=f"req-{i}",
            request=f"request-{i}".encode(),
            response=f"response-{i}".encode(),
        )
        clock.advance(60)
    log.checkpoint()
    store.close()
    return paths


def test_verify_ok(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["audit", "verify", "--db", str(files["db"]), "--public-key", str(files["pub"])])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"log of {NODE}: 8 entries" in out
    assert out.strip().endswith("OK")


def test_verify_reports_the_position(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    conn = sqlite3.connect(files["db"], isolation_level=None)
    conn.execute("DELETE FROM entries WHERE seq = 3")
    conn.close()
    args = ["audit", "verify", "--db", str(files["db"]), "--public-key", str(files["pub"])]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "PROBLEM deleted at 3" in out
    assert "FAILED: first problem at position 3" in out
    assert main([*args, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["problems"][0] == {
        "position": 3,
        "kind": "deleted",
        "detail": "entries 3 to 3 are missing",
    }


def test_verify_reports_a_deleted_first_entry_at_position_0(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # The first entry and every checkpoint deleted: not "the log is empty", a deletion at 0.
    conn = sqlite3.connect(files["db"], isolation_level=None)
    conn.execute("DELETE FROM entries WHERE seq = 0")
    conn.execute("DELETE FROM checkpoints")
    conn.close()
    args = ["audit", "verify", "--db", str(files["db"]), "--public-key", str(files["pub"])]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "PROBLEM deleted at 0" in out
    assert "FAILED: first problem at position 0" in out
    assert "None" not in out
    assert main([*args, "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["problems"][0]["position"] == 0


def test_a_bad_checkpoint_is_never_reported_at_position_none(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.pem"
    other.write_bytes(PrivateKey.from_seed(b"\x06" * 32).public_key.to_pem())
    assert main(["audit", "verify", "--db", str(files["db"]), "--public-key", str(other)]) == 1
    out = capsys.readouterr().out
    assert "FAILED: first problem: bad_checkpoint" in out
    assert "None" not in out


def test_verify_without_keys_warns(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify", "--db", str(files["db"])]) == 0
    assert "NOT checked" in capsys.readouterr().err


def test_verify_with_the_wrong_key(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.pem"
    other.write_bytes(PrivateKey.from_seed(b"\x06" * 32).public_key.to_pem())
    assert main(["audit", "verify", "--db", str(files["db"]), "--public-key", str(other)]) == 1
    assert "bad_checkpoint" in capsys.readouterr().out


def test_subject_view(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    args = ["audit", "subject", resident(2), "--db", str(files["db"])]
    assert main([*args, "--subject-key-file", str(files["subject_key"])]) == 0
    out = capsys.readouterr().out
    assert "2 recorded uses" in out
    assert f"{PEER} asked {NODE}" in out
    assert "#5 " in out
    assert "consent_required" in out
    assert main([*args, "--subject-key-file", str(files["subject_key"]), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["seq"] for r in rows] == [2, 5]
    assert rows[0]["fields"] == ["name", "insured_months"]
    assert rows[0]["scenario"] == "social-insurance-transfer"


def test_subject_view_with_another_key_finds_nothing(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = tmp_path / "wrong.key"
    wrong.write_text("ab" * 32)
    args = ["audit", "subject", resident(2), "--db", str(files["db"])]
    assert main([*args, "--subject-key-file", str(wrong)]) == 0
    assert "no recorded use" in capsys.readouterr().out


def test_bad_subject_is_an_error(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["audit", "subject", "12345", "--db", str(files["db"])]
    assert main([*args, "--subject-key-file", str(files["subject_key"])]) == 2
    assert "invalid_identifier" in capsys.readouterr().err


def test_export_and_verify_export(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(files["out"])
    assert main(["audit", "export", "--db", str(files["db"]), "--out", out]) == 0
    assert "wrote 8 entries" in capsys.readouterr().out
    lines = files["out"].read_text().splitlines()
    assert len(lines) == 9
    assert json.loads(lines[0])["type"] == "checkpoint"
    assert main(["audit", "verify-export", out, "--public-key", str(files["pub"])]) == 0
    assert "OK: 8 entries" in capsys.readouterr().out
    # one subject only, and a tampered file
    args = ["audit", "export", "--db", str(files["db"]), "--out", out, "--subject", resident(1)]
    assert main([*args, "--subject-key-file", str(files["subject_key"])]) == 0
    lines = files["out"].read_text().splitlines()
    assert [json.loads(x)["seq"] for x in lines[1:]] == [1, 4, 7]
    item = json.loads(lines[2])
    item["entry"] = item["entry"][:-3] + ("AAA" if item["entry"][-3:] != "AAA" else "BBB")
    files["out"].write_text("\n".join([lines[0], json.dumps(item)]) + "\n")
    assert main(["audit", "verify-export", out, "--public-key", str(files["pub"])]) == 2
    assert "audit_integrity" in capsys.readouterr().err


def test_checkpoint_command(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    args = ["audit", "checkpoint", "--db", str(files["db"]), "--node", NODE]
    assert main([*args, "--signing-key", str(files["key"])]) == 0
    jws = capsys.readouterr().out.strip()
    assert jws.count(".") == 2
    conn = sqlite3.connect(files["db"])
    assert conn.execute("SELECT count(*) FROM checkpoints").fetchone() == (2,)
    conn.close()


def test_missing_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "--db", str(tmp_path / "none.db")]) == 2
    assert "configuration_error" in capsys.readouterr().err


def test_verify_with_workers(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from deltafed.audit import _parallel

    monkeypatch.setattr(_parallel, "CHUNK_LEVEL", 2)  # 8 entries: two ranges of 4
    args = ["audit", "verify", "--db", str(files["db"]), "--public-key", str(files["pub"])]
    assert main([*args, "--workers", "2"]) == 0
    assert capsys.readouterr().out.strip().endswith("OK")
    conn = sqlite3.connect(files["db"], isolation_level=None)
    conn.execute("DELETE FROM entries WHERE seq = 4")
    conn.close()
    assert main([*args, "--workers", "2"]) == 1
    assert "PROBLEM deleted at 4" in capsys.readouterr().out
    assert main([*args, "--workers", "0"]) != 0
    assert "workers must be a positive integer" in capsys.readouterr().err
