"""The PostgreSQL audit store: the SQLite store's semantics, shared by processes and hosts."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from deltafed import ConfigurationError, FixedClock
from deltafed._pg import migrate
from deltafed.audit import (
    AppendRecord,
    AuditLog,
    AuditStore,
    PostgresAuditStore,
    SqliteAuditStore,
    open_audit_store,
    verify_export,
    verify_inclusion_proof,
    verify_log,
)
from deltafed.cli import main
from deltafed.keys import PrivateKey
from deltafed.schemas.identifiers import compute_resident_check

pytestmark = pytest.mark.postgres

NODE = "310000/gongan/hukou"
PEER = "320000/renshe/shebao"
SUBJECT_KEY = bytes(range(32))
START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def resident(n: int) -> str:
    body = f"31010419900101{n:03d}"
    return body + compute_resident_check(body)


def write(log: AuditLog, clock: FixedClock | None, n: int, tag: str = "") -> None:
    """Record ``n`` synthetic exchanges (one second apart when a clock is given)."""
    for i in range(n):
        log.record(
            role="responder",
            counterpart=PEER,
            operation="record.request",
            scenario="social-insurance-transfer" if i % 2 else "housing-fund-loan",
            subjects=[resident(i % 5)],
            fields=["name", "insured_months"],
            outcome="ok",
            request_id=f"req-{tag}{i:04d}",
            request=f"eyJhbGciOiJFZERTQSJ9.request-{tag}{i}.c2ln".encode(),
            response=f"eyJhbGciOiJFZERTQSJ9.response-{tag}{i}.c2ln".encode(),
        )
        if clock is not None:
            clock.advance(1)


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[PostgresAuditStore]:
    store = PostgresAuditStore(pg_url)
    yield store
    store.close()


def new_log(store: AuditStore, key: PrivateKey, clock: FixedClock | None = None) -> AuditLog:
    if clock is None:
        return AuditLog(store, node=NODE, signer=key, subject_key=SUBJECT_KEY)
    return AuditLog(store, node=NODE, signer=key, subject_key=SUBJECT_KEY, clock=clock)


def test_same_bytes_and_root_as_sqlite(
    pg_store: PostgresAuditStore, tmp_path: Path, key: PrivateKey, resolver: object
) -> None:
    assert isinstance(pg_store, AuditStore)
    sqlite = SqliteAuditStore(tmp_path / "audit.db")
    try:
        pg_clock, lite_clock = FixedClock(START), FixedClock(START)
        pg_log, lite = new_log(pg_store, key, pg_clock), new_log(sqlite, key, lite_clock)
        write(pg_log, pg_clock, 13)
        write(lite, lite_clock, 13)
        assert pg_log.size == lite.size == 13
        assert pg_log.root() == lite.root()
        assert list(pg_store.read()) == list(sqlite.read())
        assert list(pg_store.read(4, 9)) == list(sqlite.read(4, 9))
        for level in range(4):
            assert list(pg_store.iter_nodes(level)) == list(sqlite.iter_nodes(level))
        ref = pg_log.subject_ref(resident(2))
        assert pg_store.seqs_by_subject(ref) == sqlite.seqs_by_subject(ref) == [2, 7, 12]
        assert pg_store.seqs_by_counterpart(PEER) == list(range(13))
        assert pg_store.seqs_by_scenario("housing-fund-loan") == list(range(0, 13, 2))
        assert pg_store.seqs_between("2026-03-01T08:00:03", "2026-03-01T08:00:05") == [3, 4]
        assert [a.seq for a in pg_log.subject_view(resident(2))] == [2, 7, 12]
    finally:
        sqlite.close()
    pg_log.checkpoint()
    report = verify_log(pg_store, node=NODE, resolver=resolver, require_anchored=True)  # type: ignore[arg-type]
    assert report.ok, report.problems
    assert report.size == 13


def test_proofs_checkpoints_and_export(
    pg_store: PostgresAuditStore, key: PrivateKey, resolver: object
) -> None:
    clock = FixedClock(START)
    log = new_log(pg_store, key, clock)
    write(log, clock, 6)
    old = log.checkpoint()
    write(log, clock, 5, tag="b")
    proof = log.prove(3)
    assert verify_inclusion_proof(proof, log=NODE, resolver=resolver).size == 6  # type: ignore[arg-type]
    log.prove_consistency(old)
    out = io.StringIO()
    assert log.export(out, subject=resident(1)) == 2
    entries = verify_export(out.getvalue().splitlines(), log=NODE, resolver=resolver)  # type: ignore[arg-type]
    assert [e.seq for e in entries] == [1, 7]
    assert len(pg_store.checkpoints()) == 3  # old, the consistency head, the export's


def test_a_taken_position_is_refused(pg_store: PostgresAuditStore, key: PrivateKey) -> None:
    log = new_log(pg_store, key, FixedClock(START))
    write(log, None, 2)
    stale = AppendRecord(1, b"{}", b"q", b"r", "2026", PEER, "s", ())
    assert pg_store.append(stale) is False
    assert pg_store.append_batch([stale]) is False
    assert pg_store.size() == 2


def test_writers_on_one_database_never_fork(pg_url: str, key: PrivateKey, resolver: object) -> None:
    stores = [PostgresAuditStore(pg_url), PostgresAuditStore(pg_url)]
    try:
        logs = [new_log(s, key) for s in stores]
        for i in range(6):  # interleaved: each writer's cached tail is stale every time
            write(logs[i % 2], None, 1, tag=f"i{i}-")
        threads = [
            threading.Thread(target=write, args=(logs[t % 2], None, 8, f"t{t}-")) for t in range(6)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        report = verify_log(stores[0], node=NODE, resolver=resolver)  # type: ignore[arg-type]
        assert report.ok, report.problems
        assert report.size == 6 + 6 * 8
    finally:
        for s in stores:
            s.close()


_CHILD = """
import sys
from deltafed.keys import PrivateKey
from deltafed.audit import AuditLog, PostgresAuditStore
url, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = PostgresAuditStore(url, pool_size=2)
log = AuditLog(store, node="310000/gongan/hukou", signer=PrivateKey.from_seed(b"\\x01" * 32),
               subject_key=bytes(range(32)))
for i in range(n):
    log.record(role="responder", counterpart="320000/renshe/shebao", operation="record.request",
               scenario="s", subjects=[], fields=[], outcome="ok", request_id=f"{tag}-{i}",
               request=f"q-{tag}-{i}".encode(), response=f"r-{tag}-{i}".encode())
store.close()
"""


def test_many_processes_append_one_chain(
    pg_url: str, pg_store: PostgresAuditStore, resolver: object
) -> None:
    """Separate processes (as workers or hosts are) append at once; one chain, nothing lost."""
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    children = [
        subprocess.Popen([sys.executable, "-c", _CHILD, pg_url, f"p{n}", "10"], env=env)
        for n in range(4)
    ]
    assert [c.wait(timeout=120) for c in children] == [0, 0, 0, 0]
    report = verify_log(pg_store, node=NODE, resolver=resolver)  # type: ignore[arg-type]
    assert report.ok, report.problems
    assert report.size == 40
    ids = sorted(r.entry for r in pg_store.read())
    assert len(ids) == len(set(ids)) == 40
    import json

    seen = sorted(json.loads(r.entry)["request_id"] for r in pg_store.read())
    assert seen == sorted(f"p{n}-{i}" for n in range(4) for i in range(10))


def test_migrations_run_once_and_refuse_a_newer_schema(pg_url: str) -> None:
    PostgresAuditStore(pg_url).close()
    PostgresAuditStore(pg_url).close()  # already migrated: nothing to do
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert migrate(conn, "audit", ("SELECT 1",)) == 1
        rows = conn.execute("SELECT component, version FROM deltafed_schema_version").fetchall()
        assert rows == [("audit", 1)]
        conn.execute("UPDATE deltafed_schema_version SET version = 2 WHERE component = 'audit'")
    with pytest.raises(ConfigurationError, match="schema version 2"):
        PostgresAuditStore(pg_url)


def test_a_failed_migration_applies_nothing(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        with pytest.raises(psycopg.Error):
            migrate(conn, "demo", ("CREATE TABLE demo_a (x INT)", "CREATE TABLE broken ("))
        assert conn.execute("SELECT to_regclass('demo_a')").fetchone() == (None,)
        assert migrate(conn, "demo", ("CREATE TABLE demo_a (x INT)",)) == 0


def test_connections_killed_by_the_server_are_replaced(
    pg_url: str, pg_store: PostgresAuditStore, key: PrivateKey, resolver: object
) -> None:
    log = new_log(pg_store, key)
    write(log, None, 3)
    with psycopg.connect(pg_url, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert killed is not None
    assert killed[0] >= 1
    write(log, None, 3, tag="after-")
    report = verify_log(pg_store, node=NODE, resolver=resolver)  # type: ignore[arg-type]
    assert report.ok
    assert report.size == 6


def test_audit_cli_reads_a_postgresql_url(
    pg_url: str, tmp_path: Path, key: PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    store = open_audit_store(pg_url)
    assert isinstance(store, PostgresAuditStore)
    clock = FixedClock(START)
    log = new_log(store, key, clock)
    write(log, clock, 7)
    log.checkpoint()
    store.close()
    pub = tmp_path / "node.pub.pem"
    pub.write_bytes(key.public_key.to_pem())
    subject_key = tmp_path / "subject.key"
    subject_key.write_text(SUBJECT_KEY.hex())
    assert main(["audit", "verify", "--db", pg_url, "--public-key", str(pub)]) == 0
    assert f"log of {NODE}: 7 entries" in capsys.readouterr().out
    args = ["audit", "subject", resident(1), "--db", pg_url]
    assert main([*args, "--subject-key-file", str(subject_key)]) == 0
    assert "2 recorded uses" in capsys.readouterr().out
    out = tmp_path / "export.jsonl"
    assert main(["audit", "export", "--db", pg_url, "--out", str(out)]) == 0
    assert "wrote 7 entries" in capsys.readouterr().out
    assert main(["audit", "verify-export", str(out), "--public-key", str(pub)]) == 0
    assert "OK: 7 entries" in capsys.readouterr().out
