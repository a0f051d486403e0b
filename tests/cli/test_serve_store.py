"""``[store] url``: a node on PostgreSQL; the trusted registry version kept across restarts."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

import anyio
import psycopg
import pytest

from deltafed import ConfigurationError, RollbackError
from deltafed.audit import PostgresAuditStore
from deltafed.cli import _serve, main
from deltafed.concerns import PostgresConcernStore, SqliteConcernStore
from deltafed.events import PostgresEventStore, SqliteEventStore
from deltafed.node import CONFIG_ENV, Node, _factory, app_from_environment, build_node, load_config
from deltafed.protocol import PostgresReplayStore
from deltafed.registry import SqliteRegistryState
from deltafed.testing import JIANGSU

from .test_serve_cli import write_node_files


def _store(url: str) -> str:
    return f'\n[store]\nurl = "{url}"\npool_size = 3\nclaim_lease = 7\n'


@pytest.mark.postgres
def test_a_node_on_postgresql(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_node_files(tmp_path, extra=_store(pg_url))
    assert main(["serve", "--config", str(config), "--check"]) == 0
    out = capsys.readouterr().out
    assert "store postgresql://postgres@127.0.0.1" in out
    assert not (tmp_path / "audit.db").exists()  # nothing of the node went to SQLite
    loaded = load_config(config)
    node = build_node(loaded)
    try:
        assert isinstance(node.audit.store, PostgresAuditStore)  # type: ignore[attr-defined]
        assert isinstance(node.replay, PostgresReplayStore)
        assert node.replay.claim_lease == 7
    finally:
        anyio.run(node.aclose)
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT component, version FROM deltafed_schema_version ORDER BY component"
        ).fetchall()
        assert rows == [("audit", 1), ("registry_state", 1), ("replay", 1)]
        (version,) = conn.execute("SELECT version FROM registry_state").fetchone() or (None,)
        assert version == node.registry.version
        # Another replica (or this one, restarted) must not start on an older registry.
        conn.execute("UPDATE registry_state SET version = version + 1")
    with pytest.raises(RollbackError):
        build_node(loaded)


@pytest.mark.postgres
def test_a_node_on_postgresql_keeps_its_concerns_and_events_there(
    tmp_path: Path, pg_url: str
) -> None:
    # [concerns] without db: with a [store] url the concerns live in PostgreSQL; so do the
    # subscriptions and the outbox, [state] db keeping only the rate-limit buckets.
    sections = '\n[concerns]\nsweep_seconds = 60\n\n[state]\ndb = "state.db"\n'
    config = load_config(write_node_files(tmp_path, extra=_store(pg_url) + sections))
    node = build_node(config)
    try:
        assert node.concerns is not None
        assert isinstance(node.concerns.store, PostgresConcernStore)
        assert node.concerns.claim_lease == 7  # [store] claim_lease
        assert isinstance(node.events, PostgresEventStore)
    finally:
        anyio.run(node.aclose)
    assert not (tmp_path / "concerns.db").exists()
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT component FROM deltafed_schema_version").fetchall()
        assert {("concerns",), ("events",)} <= set(rows)
    # The buckets' file has no event tables.
    with closing(sqlite3.connect(tmp_path / "state.db")) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "outbox" not in tables


def test_concerns_need_a_db_or_a_store_url(tmp_path: Path) -> None:
    config = write_node_files(
        tmp_path, extra='\n[concerns]\nsweep_seconds = 60\n\n[state]\ndb = "state.db"\n'
    )
    with pytest.raises(ConfigurationError, match=r"\[concerns\] db is required"):
        load_config(config)
    config.write_text(
        config.read_text().replace("[concerns]\n", '[concerns]\ndb = "concerns.db"\n')
    )
    node = build_node(load_config(config))
    try:
        assert node.concerns is not None
        assert isinstance(node.concerns.store, SqliteConcernStore)
        assert isinstance(node.events, SqliteEventStore)
    finally:
        anyio.run(node.aclose)


def test_sqlite_node_keeps_the_registry_version_across_restarts(tmp_path: Path) -> None:
    config = load_config(write_node_files(tmp_path))
    node = build_node(config)
    anyio.run(node.aclose)
    assert config.registry_state_path == tmp_path / "audit-registry-state.db"
    with SqliteRegistryState(config.registry_state_path) as state:
        last = state.last(str(node.registry.current.federation))
        assert last is not None
        assert last[0] == node.registry.version
        state.admit(str(node.registry.current.federation), last[0] + 1, "sha-256:newer")
    with pytest.raises(RollbackError, match="already trusted by this node"):
        build_node(config)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('[store]\nurl = "mysql://x"\n', "must be a postgresql"),
        ('[store]\nurl = "postgresql://x/y"\npool_size = 1\n', "pool_size"),
        ('[store]\nurl = "postgresql://x/y"\nclaim_lease = 0\n', "claim_lease"),
        ('[store]\nurl = "postgresql://x/y"\nother = 1\n', "unknown keys"),
    ],
)
def test_store_section_is_checked(tmp_path: Path, section: str, message: str) -> None:
    config = write_node_files(tmp_path, extra="\n" + section)
    with pytest.raises(ConfigurationError, match=message):
        load_config(config)


def test_workers_need_a_shared_replay_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_node_files(tmp_path)
    config.write_text(config.read_text().replace('[replay]\ndb = "replay.db"\n', ""))
    assert main(["serve", "--config", str(config), "--workers", "2"]) == 2
    assert "a replay store the workers share" in capsys.readouterr().err
    assert main(["serve", "--config", str(config), "--workers", "0"]) == 2


def test_workers_are_handed_to_uvicorn_as_a_factory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_node_files(tmp_path)
    served: dict[str, object] = {}

    class FakeUvicorn:
        @staticmethod
        def run(app: object, **options: object) -> None:
            served.update(options, app=app)

    monkeypatch.setattr(_serve, "_uvicorn", lambda: FakeUvicorn)
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    assert main(["serve", "--config", str(config), "--workers", "3"]) == 0
    assert "with 3 workers" in capsys.readouterr().out
    assert served["app"] == "deltafed.node:app_from_environment"
    assert (served["factory"], served["workers"]) == (True, 3)
    # What each worker process does with the import string:
    monkeypatch.setenv(CONFIG_ENV, os.environ[CONFIG_ENV])
    logging_set: list[tuple[str, bool]] = []
    monkeypatch.setattr(
        _factory,
        "configure_logging",
        lambda level, json_lines: logging_set.append((level, json_lines)),
    )
    node = app_from_environment()
    assert logging_set == [("info", True)]
    try:
        assert isinstance(node, Node)
        assert str(node.member) == JIANGSU
    finally:
        anyio.run(node.aclose)
    monkeypatch.delenv(CONFIG_ENV)
    with pytest.raises(ConfigurationError, match=CONFIG_ENV):
        app_from_environment()
