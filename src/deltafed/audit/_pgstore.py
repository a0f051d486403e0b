"""The audit store for a node of many workers and hosts: PostgreSQL (the ``postgres`` extra).

Same tables and duties as :class:`~deltafed.audit.SqliteAuditStore`, plus one row,
``audit_head``, that holds the log's size. Every append runs in one transaction that first
takes that row ``FOR UPDATE``: writers in any process on any host queue there, each sees the
size the previous one committed, and the chain cannot fork. :meth:`append_locked` lets
:class:`~deltafed.audit.AuditLog` chain its entries *inside* that transaction, so a worker
never builds entries on a stale tail and has them refused; ``seq`` stays the primary key as a
second line of defence.

A commit is durable when it returns (PostgreSQL's ``synchronous_commit``, on by default; with
streaming replication set ``synchronous_standby_names`` to have it on a standby too).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from deltafed import _pg
from deltafed._errors import AuditError, ConfigurationError, DeltafedError
from deltafed.audit._store import AppendRecord, RawRow, StoredRecord

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = ["PostgresAuditStore"]

_COMPONENT: Final = "audit"
_MIGRATIONS: Final = (
    """
    CREATE TABLE audit_entries (
        seq BIGINT PRIMARY KEY CHECK (seq >= 0),
        at TEXT NOT NULL,
        counterpart TEXT NOT NULL,
        scenario TEXT NOT NULL,
        entry BYTEA NOT NULL,
        request BYTEA NOT NULL,
        response BYTEA NOT NULL
    );
    CREATE INDEX audit_entries_at ON audit_entries (at);
    CREATE INDEX audit_entries_counterpart ON audit_entries (counterpart, seq);
    CREATE INDEX audit_entries_scenario ON audit_entries (scenario, seq);
    CREATE TABLE audit_subjects (
        subject_ref TEXT NOT NULL,
        seq BIGINT NOT NULL REFERENCES audit_entries (seq),
        PRIMARY KEY (subject_ref, seq)
    );
    CREATE INDEX audit_subjects_seq ON audit_subjects (seq);
    CREATE TABLE audit_nodes (
        level INTEGER NOT NULL CHECK (level >= 0),
        idx BIGINT NOT NULL CHECK (idx >= 0),
        hash BYTEA NOT NULL,
        PRIMARY KEY (level, idx)
    );
    CREATE TABLE audit_checkpoints (
        id BIGSERIAL PRIMARY KEY,
        size BIGINT NOT NULL,
        jws TEXT NOT NULL
    );
    CREATE TABLE audit_head (
        id INTEGER PRIMARY KEY CHECK (id = 0),
        size BIGINT NOT NULL CHECK (size >= 0)
    );
    INSERT INTO audit_head (id, size) VALUES (0, 0);
    """,
)

_READ: Final = """
SELECT e.seq, e.entry, e.request, e.response, e.at, e.counterpart, e.scenario,
       (SELECT string_agg(s.subject_ref, ' ') FROM audit_subjects s WHERE s.seq = e.seq),
       n.hash
FROM audit_entries e LEFT JOIN audit_nodes n ON n.level = 0 AND n.idx = e.seq
WHERE e.seq >= %s AND e.seq < %s
ORDER BY e.seq
LIMIT %s
"""
_PAGE: Final = 512
_MAX_SEQ: Final = 2**63 - 1
#: Attempts of a read (or of an append whose transaction is known to have rolled back) when
#: the server dropped the connection.
_ATTEMPTS: Final = 3


class _TakenError(Exception):
    """The positions asked for are taken (rolls the transaction back)."""


class PostgresAuditStore:
    """An :class:`~deltafed.audit.AuditStore` in a PostgreSQL database (see the module).

    ``url`` is a ``postgresql://`` URL (the store opens, migrates and closes its own pool of
    up to ``pool_size`` connections), or pass a shared ``pool``. Safe to share between
    threads; any number of processes and hosts may append to one database.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        pool: ConnectionPool | None = None,
        pool_size: int = 4,
    ) -> None:
        if (url is None) == (pool is None):
            raise ConfigurationError("give PostgresAuditStore a url or a pool")
        self._own = pool is None
        # append_locked reads Merkle nodes while it holds a connection: at least two.
        self._pool = (
            pool if pool is not None else _pg.open_pool(str(url), max_size=max(2, pool_size))
        )
        self._closed = threading.Event()
        try:
            with self._pool.connection() as conn:
                _pg.migrate(conn, _COMPONENT, _MIGRATIONS)
        except Exception:
            self.close()
            raise

    # --- writing -----------------------------------------------------------------------------

    def append(self, record: AppendRecord) -> bool:
        return self.append_batch((record,))

    def append_batch(self, records: Sequence[AppendRecord]) -> bool:
        if not records:
            return True
        first = records[0].seq

        def build(size: int) -> Sequence[AppendRecord]:
            if size != first:
                raise _TakenError
            return records

        try:
            self.append_locked(build)
        except _TakenError:
            return False
        return True

    def append_locked(
        self, build: Callable[[int], Sequence[AppendRecord]]
    ) -> Sequence[AppendRecord]:
        """In ONE transaction holding the log's head row: read the size, call ``build(size)``
        for records numbered from it, write them, commit; return what was written.

        ``build`` may read committed nodes through :meth:`node` (every node below the size is
        final). If the connection is lost, the append is retried only when it is certain that
        the lost transaction did not commit (its first entry is not in the table).
        """
        for attempt in range(_ATTEMPTS):
            built: list[Sequence[AppendRecord]] = []
            try:
                with self._pool.connection() as conn:
                    return self._append_locked(conn, build, built)
            except (_TakenError, DeltafedError):
                raise
            except Exception as exc:
                if not _pg.connection_lost(exc):
                    raise AuditError(f"audit append failed: {type(exc).__name__}") from exc
                if built and self._committed(built[0]):
                    return built[0]
                if attempt + 1 >= _ATTEMPTS:
                    raise AuditError(f"audit append failed: {type(exc).__name__}") from exc
        raise AuditError("audit append was not attempted")  # pragma: no cover

    def _append_locked(
        self,
        conn: psycopg.Connection[Any],
        build: Callable[[int], Sequence[AppendRecord]],
        built: list[Sequence[AppendRecord]],
    ) -> Sequence[AppendRecord]:
        with conn.transaction():
            row = conn.execute("SELECT size FROM audit_head WHERE id = 0 FOR UPDATE").fetchone()
            if row is None:
                raise AuditError("the audit head row is missing")
            size = int(row[0])
            records = build(size)
            built.append(records)
            if not records:
                return records
            for offset, record in enumerate(records):
                if record.seq != size + offset:
                    raise AuditError("records must be consecutive from the log's size")
            # One round trip for all the writes of the batch.
            with conn.pipeline(), conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO audit_entries"
                    " (seq, at, counterpart, scenario, entry, request, response)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [
                        (r.seq, r.at, r.counterpart, r.scenario, r.entry, r.request, r.response)
                        for r in records
                    ],
                )
                refs = [(ref, r.seq) for r in records for ref in sorted(set(r.subject_refs))]
                if refs:
                    cur.executemany(
                        "INSERT INTO audit_subjects (subject_ref, seq) VALUES (%s, %s)", refs
                    )
                nodes = [n for r in records for n in r.nodes]
                if nodes:
                    cur.executemany(
                        "INSERT INTO audit_nodes (level, idx, hash) VALUES (%s, %s, %s)", nodes
                    )
                cur.execute("UPDATE audit_head SET size = %s WHERE id = 0", (size + len(records),))
        return records

    def _committed(self, records: Sequence[AppendRecord]) -> bool:
        if not records:
            return False
        first = records[0]
        row = self._one("SELECT entry FROM audit_entries WHERE seq = %s", (first.seq,))
        return row is not None and bytes(row[0]) == first.entry

    def append_many_unsafe(self, records: Sequence[AppendRecord]) -> None:
        """Write many records in one transaction: for building test and benchmark logs only."""
        if not self.append_batch(records):
            raise AuditError("positions taken")

    # --- reading -----------------------------------------------------------------------------

    def _all(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        def work(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
            return conn.execute(sql, args).fetchall()

        try:
            return _pg.run(self._pool, work, _ATTEMPTS)
        except Exception as exc:
            raise AuditError(f"audit read failed: {type(exc).__name__}") from exc

    def _one(self, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        rows = self._all(sql, args)
        return rows[0] if rows else None

    def size(self) -> int:
        row = self._one("SELECT size FROM audit_head WHERE id = 0", ())
        return 0 if row is None else int(row[0])

    def read(self, start: int = 0, stop: int | None = None) -> Iterator[StoredRecord]:
        # Page by seq: no transaction or connection is held while the caller consumes.
        end = _MAX_SEQ if stop is None else stop
        position = start
        while position < end:
            rows = self._all(_READ, (position, end, _PAGE))
            for seq, entry, request, response, at, cp, sc, refs, leaf in rows:
                yield StoredRecord(
                    seq=int(seq),
                    entry=bytes(entry),
                    request=bytes(request),
                    response=bytes(response),
                    at=str(at),
                    counterpart=str(cp),
                    scenario=str(sc),
                    subject_refs=tuple(sorted(refs.split(" "))) if refs else (),
                    leaf=None if leaf is None else bytes(leaf),
                )
            if len(rows) < _PAGE:
                return
            position = int(rows[-1][0]) + 1

    def _verify_rows(self, start: int = 0, stop: int | None = None) -> Iterator[RawRow]:
        """:meth:`read` as plain tuples (:data:`RawRow`), in larger pages, for the verifier."""
        end = _MAX_SEQ if stop is None else stop
        position = start
        page = 8 * _PAGE
        while position < end:
            rows = self._all(_READ, (position, end, page))
            for seq, entry, request, response, at, cp, sc, refs, leaf in rows:
                yield (
                    int(seq),
                    bytes(entry),
                    bytes(request),
                    bytes(response),
                    str(at),
                    str(cp),
                    str(sc),
                    tuple(sorted(refs.split(" "))) if refs else (),
                    None if leaf is None else bytes(leaf),
                )
            if len(rows) < page:
                return
            position = int(rows[-1][0]) + 1

    def _leaf_at_position(self, position: int) -> int | None:
        """The index of the stored leaf node that comes ``position``-th in index order."""
        row = self._one(
            "SELECT idx FROM audit_nodes WHERE level = 0 ORDER BY idx LIMIT 1 OFFSET %s",
            (position,),
        )
        return None if row is None else int(row[0])

    def _conninfo(self) -> str:
        """What a verifying worker process connects with (the pool's connection string)."""
        return str(self._pool.conninfo)

    def node(self, level: int, index: int) -> bytes | None:
        row = self._one(
            "SELECT hash FROM audit_nodes WHERE level = %s AND idx = %s", (level, index)
        )
        return None if row is None else bytes(row[0])

    def iter_nodes(self, level: int) -> Iterator[tuple[int, bytes]]:
        position = 0
        while True:
            rows = self._all(
                "SELECT idx, hash FROM audit_nodes WHERE level = %s AND idx >= %s"
                " ORDER BY idx LIMIT %s",
                (level, position, 4 * _PAGE),
            )
            for idx, value in rows:
                yield int(idx), bytes(value)
            if len(rows) < 4 * _PAGE:
                return
            position = int(rows[-1][0]) + 1

    def _seqs(self, sql: str, *args: str) -> list[int]:
        return [int(r[0]) for r in self._all(sql, args)]

    def seqs_by_subject(self, subject_ref: str) -> list[int]:
        return self._seqs(
            "SELECT seq FROM audit_subjects WHERE subject_ref = %s ORDER BY seq", subject_ref
        )

    def seqs_by_counterpart(self, counterpart: str) -> list[int]:
        return self._seqs(
            "SELECT seq FROM audit_entries WHERE counterpart = %s ORDER BY seq", counterpart
        )

    def seqs_by_scenario(self, scenario: str) -> list[int]:
        return self._seqs(
            "SELECT seq FROM audit_entries WHERE scenario = %s ORDER BY seq", scenario
        )

    def seqs_between(self, start: str, end: str) -> list[int]:
        return self._seqs(
            "SELECT seq FROM audit_entries WHERE at >= %s AND at < %s ORDER BY seq", start, end
        )

    def add_checkpoint(self, size: int, jws: str) -> None:
        def work(conn: psycopg.Connection[Any]) -> None:
            conn.execute("INSERT INTO audit_checkpoints (size, jws) VALUES (%s, %s)", (size, jws))

        try:
            # Not retried: a lost insert may have committed, and a checkpoint twice is harmless
            # but pointless; the caller can sign another.
            _pg.run(self._pool, work, 1)
        except Exception as exc:
            raise AuditError(f"cannot store checkpoint: {type(exc).__name__}") from exc

    def checkpoints(self) -> list[str]:
        return [str(r[0]) for r in self._all("SELECT jws FROM audit_checkpoints ORDER BY id", ())]

    def close(self) -> None:
        if self._own and not self._closed.is_set():
            self._closed.set()
            self._pool.close()
