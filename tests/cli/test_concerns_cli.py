"""``deltafed concerns``: an operator acts on a node's concerns through its configuration, with
the concerns and audit log in SQLite files or, with a ``[store] url``, in PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from deltafed import FixedClock
from deltafed.audit import PostgresAuditStore, SqliteAuditStore
from deltafed.cli import main
from deltafed.concerns._example import SCENARIO_CONCERNS, add_concerns
from deltafed.node import build_node, load_config
from deltafed.protocol import REQUEST_MEDIA_TYPE, new_request, sign_request
from deltafed.testing import (
    JIANGSU,
    SHANGHAI,
    LocalFederation,
    synthetic_catalogue,
    synthetic_population,
)

T0 = datetime(2026, 2, 13, 2, 0, tzinfo=UTC)
SUPERVISOR = "320000/zwfw"
CERT = synthetic_population().region("320000").certificates[0]  # an identity card
CONCERN_ID = "sh-cli-concern-000001"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """``None`` (SQLite files) or the PostgreSQL database of the node's ``[store] url``."""
    return request.getfixturevalue("pg_url") if request.param == "postgres" else None


@pytest.fixture
def config(tmp_path: Path, store_url: str | None) -> Path:
    clock = FixedClock(T0)
    fed = LocalFederation(
        clock=clock,
        members={SHANGHAI: None, JIANGSU: None, SUPERVISOR: None},
        validity=timedelta(days=500),
        key_seed=31,
    )
    builder = add_concerns(
        fed.builder(),
        synthetic_catalogue("320000"),
        desk=JIANGSU,
        supervisor=SUPERVISOR,
        filers=[SHANGHAI],
    )
    fed.sign_registry(builder)
    fed.keys[JIANGSU].save(tmp_path / "jiangsu.pem")
    (tmp_path / "registry.jws").write_bytes(fed.registry_bytes)
    (tmp_path / "anchor.json").write_text(json.dumps(fed.anchor.to_wire()))
    (tmp_path / "subject.key").write_text("22" * 32)
    path = tmp_path / "node.toml"
    path.write_text(
        f"""
[node]
member = "{JIANGSU}"
key_file = "jiangsu.pem"
port = 0

[registry]
file = "registry.jws"
anchor = "anchor.json"

[audit]
db = "audit.db"
subject_key_file = "subject.key"

[adapter]
name = "memory"
[adapter.config]
region = "320000"
"""
        + (
            '\n[concerns]\ndb = "concerns.db"\n'
            if store_url is None
            else f'\n[concerns]\n\n[store]\nurl = "{store_url}"\n'
        )
    )
    # Shanghai files an objection with the node built from this configuration.
    node = build_node(load_config(path), clock=clock)
    concern = {
        "id": CONCERN_ID,
        "filer": {"type": "111", "code": CERT.holder_code},
        "subject": {"kind": "certificate", "ref": CERT.certificate_id},
        "category": "objection",
        "text": "住址有误 (test)",
        "consent": {"given": True, "given_at": "2026-02-13T01:55:00Z"},
        "filed_at": "2026-02-13T01:58:00Z",
    }
    request = sign_request(
        new_request(
            issuer=SHANGHAI,
            audience=JIANGSU,
            operation="concern.file",
            target=CONCERN_ID,
            scenario=SCENARIO_CONCERNS,
            body=concern,
            now=clock(),
        ),
        fed.keys[SHANGHAI],
    )

    async def file() -> int:
        try:
            answer = await node.handle(
                "/deltafed/v1/concerns", request, content_type=REQUEST_MEDIA_TYPE
            )
            return answer.status
        finally:
            await node.aclose()

    assert anyio.run(file) == 200
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["concerns", *args]) == 0
    return capsys.readouterr().out


def test_operator_workflow(
    config: Path, store_url: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    c = str(config)
    listed = run(capsys, "list", "--config", c)
    assert CONCERN_ID in listed
    assert "filed objection" in listed
    assert "2026-02-14T16:00:00+00:00" in listed  # end of the make-up Saturday (CST)
    first = json.loads(run(capsys, "ack", CONCERN_ID, "--config", c, "--json"))
    assert (first["kind"], first["seq"]) == ("acknowledged", 1)
    # Idempotent: acknowledging again shows the same event, nothing new is signed.
    assert run(capsys, "ack", CONCERN_ID, "--config", c).strip().startswith("#1 acknowledged")
    # Acknowledged long after the deadline; the answer is overdue too: the sweep escalates it.
    swept = run(capsys, "sweep", "--config", c)
    assert "escalated" in swept
    assert SUPERVISOR in swept
    assert run(capsys, "sweep", "--config", c).strip() == "nothing due"
    answered = run(
        capsys,
        "answer",
        CONCERN_ID,
        "--config",
        c,
        "--text",
        "住址已更正 (test)",
        "--correct",
        "address=扬州市测试路999号",
    )
    assert "upheld" in answered
    assert "corrected 1.2.156.3005.2." in answered
    assert "closed" in run(capsys, "close", CONCERN_ID, "--config", c)
    shown = json.loads(run(capsys, "show", CONCERN_ID, "--config", c, "--json"))
    assert [e["kind"] for e in shown["events"]] == [
        "filed",
        "acknowledged",
        "escalated",
        "answered",
        "status",
    ]
    assert shown["status"] == "closed"
    # Every event is in the node's audit log, indexed by the filer.
    store = (
        SqliteAuditStore(config.parent / "audit.db")
        if store_url is None
        else PostgresAuditStore(store_url)
    )
    try:
        assert store.size() == 5  # the filing exchange and four signed events
    finally:
        store.close()
    if store_url is not None:
        # Nothing of the node went to SQLite.
        assert not (config.parent / "concerns.db").exists()
        assert not (config.parent / "audit.db").exists()
        return
    # The resident's view lists their concern beside every use of their data.
    assert (
        main(
            [
                "audit",
                "subject",
                CERT.holder_code,
                "--db",
                str(config.parent / "audit.db"),
                "--subject-key-file",
                str(config.parent / "subject.key"),
            ]
        )
        == 0
    )
    view = capsys.readouterr().out
    assert "0 recorded uses, 5 concern entries" in view
    for action in ("file", "acknowledge", "escalate", "answer", "update"):
        assert f"concern {action} " in view
    out = run(
        capsys,
        "list",
        "--config",
        c,
        "--status",
        "closed",
        "--json",
    )
    assert json.loads(out)["id"] == CONCERN_ID


def test_operator_errors(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = str(config)
    assert main(["concerns", "close", CONCERN_ID, "--config", c]) == 2
    assert "cannot become closed" in capsys.readouterr().err
    assert main(["concerns", "ack", "no-such-concern-0001", "--config", c]) == 2
    assert "not_found" in capsys.readouterr().err
    bad = ["concerns", "answer", CONCERN_ID, "--config", c, "--text", "x", "--correct", "x"]
    assert main(bad) == 2
    assert "FIELD=VALUE" in capsys.readouterr().err
