"""verify_log(workers=2): same verdict and same report as one process, on SQLite and PostgreSQL.

The ranges are made 8 entries long here (``CHUNK_LEVEL = 3``), so a 37-entry log is five
ranges and tampering can be placed at a range's first or last entry, inside one, or at the
ends of the log. For each damage the test asks two things: the parallel pass itself notices
(``scan_parallel`` does not call the log intact), and the report ``verify_log`` gives with two
workers is the one it gives in one process (every problem, so the first one too).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from deltafed import FixedClock
from deltafed._profile import INTERNATIONAL
from deltafed._text import rfc3339_instant
from deltafed.audit import (
    AuditLog,
    AuditStore,
    SqliteAuditStore,
    VerificationReport,
    _parallel,
    verify_log,
)
from deltafed.audit._checkpoint import parse_checkpoint
from deltafed.audit._merkle import leaf_hash
from deltafed.audit._verify import at_key, at_matches, decode_entry
from deltafed.keys import PrivateKey, StaticKeyResolver
from deltafed.schemas.identifiers import compute_resident_check

NODE = "310000/gongan/hukou"
PEER = "320000/renshe/shebao"
SIZE = 37  # four full ranges of 8 and a short one


def resident(n: int) -> str:
    body = f"31010419900101{n:03d}"
    return body + compute_resident_check(body)


@pytest.fixture(autouse=True)
def small_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_parallel, "CHUNK_LEVEL", 3)


class Backend:
    """A store under test and plain SQL on its tables: what someone with database access does."""

    def __init__(self, store: AuditStore, execute: Callable[[str, tuple[Any, ...]], Any]) -> None:
        self.store = store
        self._execute = execute

    def sql(self, text: str, *args: Any) -> list[tuple[Any, ...]]:
        return list(self._execute(text, args) or [])

    def flip(self, column: str, seq: int, offset: int = 40) -> None:
        ((value,),) = self.sql(f"SELECT {column} FROM {{entries}} WHERE seq = ?", seq)
        data = bytearray(bytes(value))
        data[offset % len(data)] ^= 0x01
        self.sql(f"UPDATE {{entries}} SET {column} = ? WHERE seq = ?", bytes(data), seq)


def _fill(store: AuditStore) -> None:
    clock = FixedClock(datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
    log = AuditLog(
        store,
        node=NODE,
        signer=PrivateKey.from_seed(b"\x01" * 32),
        subject_key=bytes(range(32)),
        clock=clock,
    )
    for i in range(SIZE):
        log.record(
            role="responder",
            counterpart=PEER,
            operation="record.request",
            scenario="social-insurance-transfer" if i % 2 else "housing-fund-loan",
            subjects=[resident(i % 5)],
            fields=["name", "insured_months"],
            outcome="ok",
            request_id=f"req-{i:04d}",
            request=f"eyJhbGciOiJFZERTQSJ9.request-{i}.c2ln".encode(),
            response=f"eyJhbGciOiJFZERTQSJ9.response-{i}.c2ln".encode(),
        )
        clock.advance(1)
        if log.size in (8, 13, 24, 30):  # at range ends and inside ranges
            log.checkpoint()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path / "audit.db"
        store = SqliteAuditStore(path)
        conn = sqlite3.connect(path, isolation_level=None)
        names = {"entries": "entries", "subjects": "subjects", "nodes": "nodes"}
        names["checkpoints"] = "checkpoints"

        def run(text: str, args: tuple[Any, ...]) -> Any:
            return conn.execute(text.format(**names), args).fetchall()

        _fill(store)
        yield Backend(store, run)
        conn.close()
        store.close()
        return
    import psycopg

    from deltafed.audit import PostgresAuditStore

    url = request.getfixturevalue("pg_url")
    pg_store = PostgresAuditStore(url)
    pg = psycopg.connect(url, autocommit=True)
    tables = {t: f"audit_{t}" for t in ("entries", "subjects", "nodes", "checkpoints")}

    def run_pg(text: str, args: tuple[Any, ...]) -> Any:
        cur = pg.execute(text.format(**tables).replace("?", "%s"), args)
        return cur.fetchall() if cur.description else []

    _fill(pg_store)
    yield Backend(pg_store, run_pg)
    pg.close()
    pg_store.close()


def _resolver() -> StaticKeyResolver:
    return StaticKeyResolver({NODE: [PrivateKey.from_seed(b"\x01" * 32).public_key]})


def both(store: AuditStore, **kw: Any) -> tuple[VerificationReport, VerificationReport]:
    one = verify_log(store, node=NODE, resolver=_resolver(), **kw)
    two = verify_log(store, node=NODE, resolver=_resolver(), workers=2, **kw)
    return one, two


def parallel_says_intact(store: AuditStore, strict: bool = False) -> bool:
    by_size: dict[int, list[Any]] = {}
    for jws in store.checkpoints():
        cp = parse_checkpoint(jws, log=NODE)
        by_size.setdefault(cp.size, []).append(cp)
    scan = _parallel.scan_parallel(
        store, node=NODE, crypto=INTERNATIONAL, strict=strict, by_size=by_size, workers=2
    )
    return scan is not None


def test_an_intact_log_is_checked_in_parallel_with_the_same_result(backend: Backend) -> None:
    assert parallel_says_intact(backend.store)
    one, two = both(backend.store)
    assert one.ok
    assert two.ok
    assert (two.size, two.root, two.anchored_size) == (one.size, one.root, one.anchored_size)
    assert (two.size, two.anchored_size) == (SIZE, 30)
    # entries after the last checkpoint: the same single problem either way
    one, two = both(backend.store, require_anchored=True)
    assert [(p.position, p.kind) for p in one.problems] == [(30, "unanchored")]
    assert two.problems == one.problems
    # strict checks run in the workers too
    assert parallel_says_intact(backend.store, strict=True)
    assert both(backend.store, strict=True)[1].ok


def test_a_log_ending_on_a_range_boundary(backend: Backend) -> None:
    backend.sql("DELETE FROM {subjects} WHERE seq >= 32")
    backend.sql("DELETE FROM {entries} WHERE seq >= 32")
    backend.sql("DELETE FROM {nodes} WHERE ((idx + 1) << level) > 32")
    backend.sql("DELETE FROM {checkpoints}")
    if not isinstance(backend.store, SqliteAuditStore):
        backend.sql("UPDATE audit_head SET size = 32")
    assert parallel_says_intact(backend.store)
    one, two = both(backend.store)
    assert one.ok
    assert two.ok
    assert (two.size, two.root) == (one.size, one.root) == (32, one.root)


def test_a_last_range_that_grew_past_one_range_is_left_to_one_process(tmp_path: Path) -> None:
    # Entries appended after scan_parallel took the size land in the last range, which reads to
    # the end: its own subtrees and edge are only the log's while it is at most one range long.
    store = SqliteAuditStore(tmp_path / "audit.db")
    _fill(store)
    store.close()
    reader = _parallel._SqliteReader(str(tmp_path / "audit.db"))

    def check(start: int) -> _parallel._Result:
        reader.begin()
        try:
            task = _parallel._Task(start, None, NODE, "international", False, 3, ())
            return _parallel._check_range_in(reader, task)
        finally:
            reader.end()

    try:
        assert check(32).intact  # 5 entries: the last range of the 37
        assert check(32).count == 5
        assert not check(24).intact  # 13 entries, more than the 8 of a range
        assert not check(16).intact
    finally:
        reader.close()  # an unclosed connection warns when collected (Python 3.13)


def _same(one: VerificationReport, two: VerificationReport, position: int, kind: str) -> None:
    assert one.first is not None, "the one-process check found nothing"
    assert (one.first.position, one.first.kind) == (position, kind), one.problems
    assert two.problems == one.problems
    assert (two.size, two.root, two.anchored_size) == (one.size, one.root, one.anchored_size)


@pytest.mark.parametrize(
    ("seq", "where"),
    [
        (0, "first entry"),
        (7, "last of a range"),
        (8, "first of a range"),
        (13, "inside"),
        (36, "last entry"),
    ],
)
def test_a_modified_entry(backend: Backend, seq: int, where: str) -> None:
    backend.flip("entry", seq)
    assert not parallel_says_intact(backend.store), where
    _same(*both(backend.store), seq, "modified")


@pytest.mark.parametrize("seq", [8, 21])
def test_modified_evidence(backend: Backend, seq: int) -> None:
    backend.flip("response", seq, 5)
    assert not parallel_says_intact(backend.store)
    _same(*both(backend.store), seq, "modified")


@pytest.mark.parametrize("seq", [8, 21, 36])
def test_a_deleted_entry(backend: Backend, seq: int) -> None:
    backend.sql("DELETE FROM {subjects} WHERE seq = ?", seq)
    backend.sql("DELETE FROM {entries} WHERE seq = ?", seq)
    assert not parallel_says_intact(backend.store)
    one, two = both(backend.store)
    # the last entry gone leaves its leaf behind
    _same(one, two, seq, "truncated" if seq == SIZE - 1 else "deleted")


@pytest.mark.parametrize("pair", [(7, 8), (0, 1)])
def test_reordered_entries(backend: Backend, pair: tuple[int, int]) -> None:
    a, b = pair
    cols = "at, counterpart, scenario, entry, request, response"
    rows = {
        seq: row
        for seq, *row in backend.sql(
            f"SELECT seq, {cols} FROM {{entries}} WHERE seq IN (?, ?)", a, b
        )
    }
    for seq, other in ((a, b), (b, a)):
        backend.sql(
            "UPDATE {entries} SET at=?, counterpart=?, scenario=?, entry=?, request=?, response=?"
            " WHERE seq = ?",
            *rows[other],
            seq,
        )
    assert not parallel_says_intact(backend.store)
    _same(*both(backend.store), a, "reordered")


@pytest.mark.parametrize(
    ("seq", "position", "kind"),
    [(14, 15, "chain_broken"), (15, 15, "nodes_mismatch")],  # 15 completes subtree (1, 7)
)
def test_an_entry_rewritten_with_its_leaf_breaks_the_chain_at_a_boundary(
    backend: Backend, seq: int, position: int, kind: str
) -> None:
    ((entry,),) = backend.sql("SELECT entry FROM {entries} WHERE seq = ?", seq)
    forged = bytes(entry).replace(b'"ok"', b'"not_found"')
    backend.sql("UPDATE {entries} SET entry = ? WHERE seq = ?", forged, seq)
    backend.sql("UPDATE {nodes} SET hash = ? WHERE level = 0 AND idx = ?", leaf_hash(forged), seq)
    assert not parallel_says_intact(backend.store)
    one, two = both(backend.store)
    _same(one, two, position, kind)
    assert (seq + 1, "chain_broken") in [(p.position, p.kind) for p in one.problems]


@pytest.mark.parametrize(
    ("statement", "position", "kind"),
    [
        ("UPDATE {nodes} SET hash = ? WHERE level = 2 AND idx = 1", 7, "nodes_mismatch"),
        ("UPDATE {nodes} SET hash = ? WHERE level = 3 AND idx = 2", 23, "nodes_mismatch"),
        ("UPDATE {nodes} SET hash = ? WHERE level = 4 AND idx = 1", 31, "nodes_mismatch"),
        ("UPDATE {nodes} SET hash = ? WHERE level = 0 AND idx = 19", 19, "modified"),
    ],
)
def test_a_tampered_subtree(backend: Backend, statement: str, position: int, kind: str) -> None:
    backend.sql(statement, b"\x00" * 32)
    assert not parallel_says_intact(backend.store)
    _same(*both(backend.store), position, kind)


def test_a_tampered_index(backend: Backend) -> None:
    backend.sql("UPDATE {entries} SET counterpart = '330000/other' WHERE seq = 24")
    assert not parallel_says_intact(backend.store)
    _same(*both(backend.store), 24, "index_mismatch")


def test_a_leaf_stored_beyond_the_end(backend: Backend) -> None:
    backend.sql("INSERT INTO {nodes} (level, idx, hash) VALUES (0, 99, ?)", b"\x00" * 32)
    assert not parallel_says_intact(backend.store)
    _same(*both(backend.store), SIZE, "truncated")


def test_a_checkpoint_that_does_not_match(backend: Backend) -> None:
    # a valid chain from entry 20 on, signed by nobody: only the checkpoints at 24 and 30 tell
    ((entry,),) = backend.sql("SELECT entry FROM {entries} WHERE seq = 20")
    forged = bytes(entry).replace(b'"ok"', b'"not_found"')
    backend.sql("UPDATE {entries} SET entry = ? WHERE seq = 20", forged)
    prev = leaf_hash(forged)
    backend.sql("UPDATE {nodes} SET hash = ? WHERE level = 0 AND idx = 20", prev)
    # entry 21 still names the old hash: the change is visible in the chain too
    assert not parallel_says_intact(backend.store)
    one, two = both(backend.store)
    assert two.problems == one.problems
    assert any(p.kind == "checkpoint_mismatch" for p in one.problems)


def test_a_stored_checkpoint_beyond_the_log(backend: Backend) -> None:
    backend.sql("DELETE FROM {subjects} WHERE seq >= 28")
    backend.sql("DELETE FROM {entries} WHERE seq >= 28")
    backend.sql("DELETE FROM {nodes} WHERE ((idx + 1) << level) > 28")
    if not isinstance(backend.store, SqliteAuditStore):
        backend.sql("UPDATE audit_head SET size = 28")
    assert not parallel_says_intact(backend.store)
    _same(*both(backend.store), 28, "truncated")


def test_workers_must_be_a_positive_integer(backend: Backend) -> None:
    from deltafed import InvalidInputError

    for bad in (0, -1, 1.5, True):
        with pytest.raises(InvalidInputError):
            verify_log(backend.store, node=NODE, workers=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "at"),
    [
        ("2026-03-01T08:00:01.250000Z", "2026-03-01T08:00:01.250000Z"),
        ("2026-03-01T08:00:01Z", "2026-03-01T08:00:01.000000Z"),
        ("2026-03-01T08:00:01.25Z", "2026-03-01T08:00:01.250000Z"),
        ("2026-03-01T09:00:01+01:00", "2026-03-01T08:00:01.000000Z"),
        ("2026-03-01t08:00:01z", "2026-03-01T08:00:01.000000Z"),
        ("2026-02-30T08:00:01Z", "2026-02-30T08:00:01.000000Z"),
        ("0999-03-01T08:00:01.000000Z", "0999-03-01T08:00:01.000000Z"),
        ("2026-03-01T24:00:00.000000Z", "2026-03-01T24:00:00.000000Z"),
        ("2026-03-01T08:00:01Z", "2026-03-01T08:00:01.000001Z"),
        ("2026-03-01T08:00:01.000000Z", "2026-03-01T08:00:01Z"),
        ("2026-03-01T08:00:01", "2026-03-01T08:00:01.000000Z"),
        (None, "2026-03-01T08:00:01.000000Z"),
        (20260301, "2026-03-01T08:00:01.000000Z"),
        ("", ""),
    ],
)
def test_the_quick_time_check_agrees_with_the_full_one(text: object, at: str) -> None:
    when = rfc3339_instant(text)
    assert at_matches(text, at) == (when is not None and at_key(when) == at)


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1}',
        b'{"a":"\xc3\xa9"}',
        b'\xef\xbb\xbf{"a":1}',
        '{"a":1}'.encode("utf-16"),
        '{"a":1}'.encode("utf-16-le"),
        b'{"a":"\xed\xa0\x80"}',
        b'{"a":1',
        b"{",
        b"[1]",
        b"",
        b'{"a":1}\x00',
        b'{"a":"\xff"}',
        b'{"a":1} ',
        b'{"a":1}\n\t',
        b'{"a":1}x',
        b'{"a":1}{}',
        b'{"a":[1,2]}',
        b'{ "a" : 1 }',
        b'{"a":01}',
        b'{"a":NaN}',
        b'{"a"}',
        b"{}",
        b"{'a':1}",
        b'{"a":1,}',
    ],
)
def test_the_quick_decoder_agrees_with_json_loads(data: bytes) -> None:
    import json

    try:
        expected = json.loads(data)
    except ValueError:
        expected = None
    assert decode_entry(data) == expected
