"""Where the audit log keeps its entries: the :class:`AuditStore` interface and two stores.

A store is deliberately dumb: it never computes a hash. It keeps, per entry, the canonical entry
bytes, the verbatim request and response, the index keys (time, counterpart, scenario, keyed
subject references) and the Merkle subtrees the entry completes, and it writes all of that in
one durable transaction. Its one duty of care is sequence numbers: :meth:`AuditStore.append`
must refuse a ``seq`` that is already taken, so two writers can never fork the chain; the loser
reloads the tail and tries again. A PostgreSQL store would get that from a primary key on
``seq`` inside a transaction (see ``docs/audit.md``).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

from deltafed._errors import AuditError, ConfigurationError
from deltafed._sqlite import opening

__all__ = [
    "AppendRecord",
    "AuditStore",
    "MemoryAuditStore",
    "SqliteAuditStore",
    "StoredRecord",
]

_SCHEMA_VERSION = "1"


@dataclass(frozen=True, slots=True)
class AppendRecord:
    """Everything one append writes, in one transaction."""

    seq: int
    entry: bytes
    request: bytes
    response: bytes
    #: Index keys. ``at`` is the fixed-width UTC text ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, so
    #: text order is time order.
    at: str
    counterpart: str
    scenario: str
    subject_refs: tuple[str, ...]
    #: ``(level, index, hash)`` of each Merkle subtree this leaf completes, leaf first.
    nodes: tuple[tuple[int, int, bytes], ...] = field(default=())


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One entry as read back: its bytes, its index keys, and its stored leaf hash."""

    seq: int
    entry: bytes
    request: bytes
    response: bytes
    at: str
    counterpart: str
    scenario: str
    subject_refs: tuple[str, ...]
    leaf: bytes | None


#: One entry as the verifier streams it, without building a :class:`StoredRecord`:
#: ``(seq, entry, request, response, at, counterpart, scenario, subject_refs, leaf)``, the
#: same values in the same order as the record's fields.
RawRow = tuple[int, bytes, bytes, bytes, str, str, str, tuple[str, ...], bytes | None]


@runtime_checkable
class AuditStore(Protocol):
    """Durable, append-only storage behind :class:`~deltafed.audit.AuditLog`.

    A store whose commit involves no network round trip may say so with a class attribute
    ``commits_locally = True`` (the SQLite and memory stores do): only then may
    :meth:`AuditLog.record_async` commit on the caller's event loop thread (``inline``).
    """

    def append(self, record: AppendRecord) -> bool:
        """Write ``record`` durably in one transaction; ``False`` if its seq is taken."""
        ...

    def append_batch(self, records: Sequence[AppendRecord]) -> bool:
        """Write ``records`` (consecutive seqs) durably in ONE transaction, all or none;
        ``False`` if any seq is taken. This is what lets :class:`AuditLog` commit the
        entries of concurrent exchanges with one fsync (group commit)."""
        ...

    def size(self) -> int:
        """One more than the highest stored seq (0 when empty)."""
        ...

    def read(self, start: int = 0, stop: int | None = None) -> Iterator[StoredRecord]:
        """Entries with ``start <= seq < stop`` in seq order, streamed."""
        ...

    def node(self, level: int, index: int) -> bytes | None: ...

    def iter_nodes(self, level: int) -> Iterator[tuple[int, bytes]]:
        """``(index, hash)`` of the stored subtrees of one level, in index order."""
        ...

    def seqs_by_subject(self, subject_ref: str) -> list[int]: ...

    def seqs_by_counterpart(self, counterpart: str) -> list[int]: ...

    def seqs_by_scenario(self, scenario: str) -> list[int]: ...

    def seqs_between(self, start: str, end: str) -> list[int]:
        """Seqs with ``start <= at < end`` (fixed-width UTC text), in seq order."""
        ...

    def add_checkpoint(self, size: int, jws: str) -> None: ...

    def checkpoints(self) -> list[str]:
        """Every stored signed tree head, oldest first."""
        ...

    def close(self) -> None: ...


class MemoryAuditStore:
    """An in-process store for tests and demos; nothing survives the process."""

    #: No network round trip in a commit (see :class:`AuditStore`).
    commits_locally: ClassVar[bool] = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rows: dict[int, AppendRecord] = {}
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.checkpoint_list: list[str] = []

    def append(self, record: AppendRecord) -> bool:
        return self.append_batch((record,))

    def append_batch(self, records: Sequence[AppendRecord]) -> bool:
        with self._lock:
            for record in records:
                if record.seq in self.rows or any(
                    (lv, ix) in self.nodes for lv, ix, _ in record.nodes
                ):
                    return False
            for record in records:
                self.rows[record.seq] = record
                for level, index, value in record.nodes:
                    self.nodes[(level, index)] = value
            return True

    def size(self) -> int:
        with self._lock:
            return max(self.rows) + 1 if self.rows else 0

    def read(self, start: int = 0, stop: int | None = None) -> Iterator[StoredRecord]:
        with self._lock:
            keys = sorted(s for s in self.rows if s >= start and (stop is None or s < stop))
        for seq in keys:
            r = self.rows[seq]
            yield StoredRecord(
                seq=seq,
                entry=r.entry,
                request=r.request,
                response=r.response,
                at=r.at,
                counterpart=r.counterpart,
                scenario=r.scenario,
                subject_refs=tuple(sorted(r.subject_refs)),
                leaf=self.nodes.get((0, seq)),
            )

    def node(self, level: int, index: int) -> bytes | None:
        return self.nodes.get((level, index))

    def iter_nodes(self, level: int) -> Iterator[tuple[int, bytes]]:
        with self._lock:
            items = sorted((ix, h) for (lv, ix), h in self.nodes.items() if lv == level)
        yield from items

    def _where(self, match: Iterable[int]) -> list[int]:
        return sorted(match)

    def seqs_by_subject(self, subject_ref: str) -> list[int]:
        return self._where(s for s, r in self.rows.items() if subject_ref in r.subject_refs)

    def seqs_by_counterpart(self, counterpart: str) -> list[int]:
        return self._where(s for s, r in self.rows.items() if r.counterpart == counterpart)

    def seqs_by_scenario(self, scenario: str) -> list[int]:
        return self._where(s for s, r in self.rows.items() if r.scenario == scenario)

    def seqs_between(self, start: str, end: str) -> list[int]:
        return self._where(s for s, r in self.rows.items() if start <= r.at < end)

    def add_checkpoint(self, size: int, jws: str) -> None:
        with self._lock:
            self.checkpoint_list.append(jws)

    def checkpoints(self) -> list[str]:
        with self._lock:
            return list(self.checkpoint_list)

    def close(self) -> None:
        return None


_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY CHECK (seq >= 0),
    at TEXT NOT NULL,
    counterpart TEXT NOT NULL,
    scenario TEXT NOT NULL,
    entry BLOB NOT NULL,
    request BLOB NOT NULL,
    response BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_at ON entries (at);
CREATE INDEX IF NOT EXISTS entries_counterpart ON entries (counterpart, seq);
CREATE INDEX IF NOT EXISTS entries_scenario ON entries (scenario, seq);
CREATE TABLE IF NOT EXISTS subjects (
    subject_ref TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (subject_ref, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS subjects_seq ON subjects (seq);
CREATE TABLE IF NOT EXISTS nodes (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    size INTEGER NOT NULL,
    jws TEXT NOT NULL
);
"""

_READ = """
SELECT e.seq, e.entry, e.request, e.response, e.at, e.counterpart, e.scenario,
       (SELECT group_concat(s.subject_ref, ' ') FROM subjects s WHERE s.seq = e.seq),
       n.hash
FROM entries e LEFT JOIN nodes n ON n.level = 0 AND n.idx = e.seq
WHERE e.seq >= ? AND e.seq < ?
ORDER BY e.seq
"""

_MAX_SEQ = 2**63 - 1


class SqliteAuditStore:
    """The embedded default: one SQLite file in WAL mode with ``synchronous=FULL``.

    Every append is one ``BEGIN IMMEDIATE`` ... ``COMMIT`` transaction, so when
    :meth:`append` returns the entry is on disk (the WAL is fsynced at each commit).
    ``seq`` is the table's primary key: a second writer, in this process or another one on the
    same file, cannot insert the same position. Safe to share between threads.
    """

    #: No network round trip in a commit (see :class:`AuditStore`); a commit may wait for
    #: another process's write lock on the same file, for as long as that commit takes.
    commits_locally: ClassVar[bool] = True

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = True) -> None:
        self.path = Path(path)
        with opening(self.path, what="audit database", timeout=30.0) as db:
            version = self._prepare(db, durable=durable)
            if version != _SCHEMA_VERSION:
                raise ConfigurationError(
                    f"audit database {self.path} has schema version {version}, "
                    f"this deltafed reads version {_SCHEMA_VERSION}"
                )
        self._db = db
        self._lock = threading.RLock()

    @staticmethod
    def _prepare(db: sqlite3.Connection, *, durable: bool) -> object:
        """Set the pragmas, create the tables; return the file's schema version."""
        db.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is synced on every commit, so a committed entry survives power loss.
        db.execute(f"PRAGMA synchronous={'FULL' if durable else 'OFF'}")
        db.execute("PRAGMA foreign_keys=ON")
        db.executescript(_DDL)
        db.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
            (_SCHEMA_VERSION,),
        )
        (version,) = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return version

    def pragma(self, name: str) -> object:
        """Read one PRAGMA (for checks of the durability settings)."""
        if not name.isidentifier():
            raise ValueError("not a pragma name")
        with self._lock:
            row = self._db.execute(f"PRAGMA {name}").fetchone()
        return row[0] if row else None

    def append(self, record: AppendRecord) -> bool:
        return self.append_batch((record,))

    def append_batch(self, records: Sequence[AppendRecord]) -> bool:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise AuditError(f"cannot start an audit transaction: {exc}") from exc
            try:
                self._insert(records)
                self._db.execute("COMMIT")
            except sqlite3.IntegrityError:
                self._db.execute("ROLLBACK")
                return False
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise AuditError(f"audit append failed: {exc}") from exc
            return True

    def _insert(self, records: Sequence[AppendRecord]) -> None:
        self._db.executemany(
            "INSERT INTO entries (seq, at, counterpart, scenario, entry, request, response)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (r.seq, r.at, r.counterpart, r.scenario, r.entry, r.request, r.response)
                for r in records
            ],
        )
        self._db.executemany(
            "INSERT INTO subjects (subject_ref, seq) VALUES (?, ?)",
            [(ref, r.seq) for r in records for ref in sorted(set(r.subject_refs))],
        )
        self._db.executemany(
            "INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)",
            [n for r in records for n in r.nodes],
        )

    def append_many_unsafe(self, records: Sequence[AppendRecord]) -> None:
        """Write many records in one transaction: for building test and benchmark logs only."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._insert(records)
            self._db.execute("COMMIT")

    def size(self) -> int:
        with self._lock:
            (top,) = self._db.execute("SELECT max(seq) FROM entries").fetchone()
        return 0 if top is None else int(top) + 1

    def read(self, start: int = 0, stop: int | None = None) -> Iterator[StoredRecord]:
        # A cursor of its own, read in batches: a million entries never sit in memory at once.
        cur = self._db.cursor()
        try:
            cur.execute(_READ, (start, _MAX_SEQ if stop is None else stop))
            while True:
                with self._lock:
                    rows = cur.fetchmany(512)
                if not rows:
                    return
                for seq, entry, request, response, at, cp, sc, refs, leaf in rows:
                    yield StoredRecord(
                        seq=seq,
                        entry=bytes(entry),
                        request=bytes(request),
                        response=bytes(response),
                        at=at,
                        counterpart=cp,
                        scenario=sc,
                        subject_refs=tuple(sorted(refs.split(" "))) if refs else (),
                        leaf=None if leaf is None else bytes(leaf),
                    )
        finally:
            cur.close()

    def _verify_rows(self, start: int = 0, stop: int | None = None) -> Iterator[RawRow]:
        """:meth:`read` as plain tuples (:data:`RawRow`), for the verifier's hot loop."""
        cur = self._db.cursor()
        try:
            cur.execute(_READ, (start, _MAX_SEQ if stop is None else stop))
            while True:
                with self._lock:
                    rows = cur.fetchmany(2048)
                if not rows:
                    return
                for seq, entry, request, response, at, cp, sc, refs, leaf in rows:
                    yield (
                        seq,
                        bytes(entry),
                        bytes(request),
                        bytes(response),
                        at,
                        cp,
                        sc,
                        tuple(sorted(refs.split(" "))) if refs else (),
                        None if leaf is None else bytes(leaf),
                    )
        finally:
            cur.close()

    def _leaf_at_position(self, position: int) -> int | None:
        """The index of the stored leaf node that comes ``position``-th in index order."""
        with self._lock:
            row = self._db.execute(
                "SELECT idx FROM nodes WHERE level = 0 ORDER BY idx LIMIT 1 OFFSET ?", (position,)
            ).fetchone()
        return None if row is None else int(row[0])

    def node(self, level: int, index: int) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                "SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, index)
            ).fetchone()
        return None if row is None else bytes(row[0])

    def iter_nodes(self, level: int) -> Iterator[tuple[int, bytes]]:
        cur = self._db.cursor()
        try:
            cur.execute("SELECT idx, hash FROM nodes WHERE level = ? ORDER BY idx", (level,))
            while True:
                with self._lock:
                    rows = cur.fetchmany(2048)
                if not rows:
                    return
                for idx, value in rows:
                    yield int(idx), bytes(value)
        finally:
            cur.close()

    def _seqs(self, sql: str, *args: str) -> list[int]:
        with self._lock:
            return [int(r[0]) for r in self._db.execute(sql, args)]

    def seqs_by_subject(self, subject_ref: str) -> list[int]:
        return self._seqs(
            "SELECT seq FROM subjects WHERE subject_ref = ? ORDER BY seq", subject_ref
        )

    def seqs_by_counterpart(self, counterpart: str) -> list[int]:
        return self._seqs("SELECT seq FROM entries WHERE counterpart = ? ORDER BY seq", counterpart)

    def seqs_by_scenario(self, scenario: str) -> list[int]:
        return self._seqs("SELECT seq FROM entries WHERE scenario = ? ORDER BY seq", scenario)

    def seqs_between(self, start: str, end: str) -> list[int]:
        return self._seqs(
            "SELECT seq FROM entries WHERE at >= ? AND at < ? ORDER BY seq", start, end
        )

    def add_checkpoint(self, size: int, jws: str) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("INSERT INTO checkpoints (size, jws) VALUES (?, ?)", (size, jws))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise AuditError(f"cannot store checkpoint: {exc}") from exc

    def checkpoints(self) -> list[str]:
        with self._lock:
            return [str(r[0]) for r in self._db.execute("SELECT jws FROM checkpoints ORDER BY id")]

    def close(self) -> None:
        """Close the database; safe to call more than once."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteAuditStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
