"""Where a responding node keeps its concerns and their signed histories.

:class:`ConcernStore` is the interface; :class:`SqliteConcernStore` the default (a file, or
``":memory:"``), :class:`~deltafed.concerns.PostgresConcernStore` the store of a node whose
``[store]`` is PostgreSQL. Appending an event is atomic and refuses a ``seq`` that is not the
next one, so two operators acting at once cannot fork a history: the second gets
:class:`~deltafed.InvalidInputError` and reads again.

A deadline notice (``reminder:acknowledge``, ``escalated:answer``...) is *claimed* before it is
signed: :meth:`ConcernStore.claim_notice` answers ``True`` to one caller only, so of two sweeps
(workers, processes or hosts sharing the store) exactly one signs, audits and stores it. The
claim ends when the notice is appended or released, or after its lease (its sweeper died).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from deltafed._errors import InvalidInputError
from deltafed._sqlite import opening
from deltafed.schemas.concerns import Concern

__all__ = ["ConcernRecord", "ConcernStore", "SqliteConcernStore"]


@dataclass(frozen=True, slots=True)
class ConcernRecord:
    """One concern as the responsible node keeps it."""

    concern: Concern
    #: The member that filed it (the filer's region's node).
    filer_member: str
    responsible: str
    supervisor: str
    scenario: str
    status: str
    #: The exact filing request, and its digest (what event 0 points at).
    filing_request: bytes
    filing_digest: str
    received_at: datetime
    ack_due: datetime
    answer_due: datetime
    #: Deadline notices already sent: ``reminder:acknowledge``, ``escalated:answer``...
    notices: frozenset[str] = field(default_factory=frozenset)

    @property
    def id(self) -> str:
        return self.concern.id


class ConcernStore(Protocol):
    """What the concern service needs of its storage."""

    def create(self, record: ConcernRecord, first_event: bytes) -> bool:
        """Store a new concern with event 0; ``False`` (nothing written) if the id exists."""
        ...

    def get(self, concern_id: str) -> ConcernRecord | None: ...

    def events(self, concern_id: str) -> list[bytes]:
        """The signed events, oldest first."""
        ...

    def append(
        self, concern_id: str, seq: int, event: bytes, *, status: str, notice: str | None
    ) -> None:
        """Add event ``seq`` (it must be the next), set the status, remember the notice
        (a notice already remembered is refused: two sweeps never send it twice)."""
        ...

    def claim_notice(
        self, concern_id: str, notice: str, *, claim: str, now: float, lease: float
    ) -> bool:
        """Claim the sending of ``notice`` as ``claim`` (a token unique to the caller) at
        ``now`` (Unix seconds): ``True`` for one caller only, until the notice is appended or
        the claim released, or ``lease`` seconds passed. ``False`` when the notice was sent,
        the concern does not exist or another live claim holds it."""
        ...

    def release_notice(self, concern_id: str, notice: str, *, claim: str) -> None:
        """Give up claim ``claim`` (another one is left alone)."""
        ...

    def find(self, *, status: str | None = None) -> list[ConcernRecord]: ...

    def escalated_to(self, member: str) -> list[str]:
        """Ids of the concerns escalated to ``member``."""
        ...

    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS concerns (
    id TEXT PRIMARY KEY,
    concern TEXT NOT NULL,
    filer_member TEXT NOT NULL,
    responsible TEXT NOT NULL,
    supervisor TEXT NOT NULL,
    scenario TEXT NOT NULL,
    status TEXT NOT NULL,
    filing_request BLOB NOT NULL,
    filing_digest TEXT NOT NULL,
    received_at TEXT NOT NULL,
    ack_due TEXT NOT NULL,
    answer_due TEXT NOT NULL,
    notices TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS concern_events (
    concern_id TEXT NOT NULL REFERENCES concerns(id),
    seq INTEGER NOT NULL,
    event BLOB NOT NULL,
    PRIMARY KEY (concern_id, seq)
);
CREATE TABLE IF NOT EXISTS concern_escalations (
    concern_id TEXT NOT NULL REFERENCES concerns(id),
    supervisor TEXT NOT NULL,
    PRIMARY KEY (concern_id, supervisor)
);
CREATE TABLE IF NOT EXISTS concern_claims (
    concern_id TEXT NOT NULL REFERENCES concerns(id),
    notice TEXT NOT NULL,
    claim TEXT NOT NULL,
    claimed_at REAL NOT NULL,
    PRIMARY KEY (concern_id, notice)
);
"""
_COLUMNS = (
    "concern, filer_member, responsible, supervisor, scenario, status, filing_request, "
    "filing_digest, received_at, ack_due, answer_due, notices"
)


class SqliteConcernStore:
    """A :class:`ConcernStore` in SQLite (one connection, serialised by a lock).

    Several processes may share the file (the workers of one host): every write runs in a
    ``BEGIN IMMEDIATE`` transaction, so claims and appends are serialised by SQLite's lock.
    """

    def __init__(self, path: str | Path = ":memory:") -> None:
        # A connection whose setup fails is closed again (deltafed._sqlite.opening).
        with opening(str(path), what="the concern store") as db:
            db.execute("PRAGMA foreign_keys = ON")
            if str(path) != ":memory:":
                db.execute("PRAGMA journal_mode = WAL")
            db.executescript(_SCHEMA)
        self._db = db
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteConcernStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create(self, record: ConcernRecord, first_event: bytes) -> bool:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(
                    f"INSERT INTO concerns (id, {_COLUMNS}) VALUES "  # noqa: S608 - constant
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.id,
                        json.dumps(record.concern.to_wire(), ensure_ascii=False),
                        record.filer_member,
                        record.responsible,
                        record.supervisor,
                        record.scenario,
                        record.status,
                        record.filing_request,
                        record.filing_digest,
                        record.received_at.isoformat(),
                        record.ack_due.isoformat(),
                        record.answer_due.isoformat(),
                        json.dumps(sorted(record.notices)),
                    ),
                )
                self._db.execute(
                    "INSERT INTO concern_events (concern_id, seq, event) VALUES (?, 0, ?)",
                    (record.id, first_event),
                )
                self._db.execute("COMMIT")
            except sqlite3.IntegrityError:
                self._db.execute("ROLLBACK")
                return False
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return True

    def get(self, concern_id: str) -> ConcernRecord | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM concerns WHERE id = ?",  # noqa: S608 - constant
                (concern_id,),
            ).fetchone()
        return _record(row) if row is not None else None

    def events(self, concern_id: str) -> list[bytes]:
        with self._lock:
            rows = self._db.execute(
                "SELECT event FROM concern_events WHERE concern_id = ? ORDER BY seq",
                (concern_id,),
            ).fetchall()
        return [bytes(r[0]) for r in rows]

    def append(
        self, concern_id: str, seq: int, event: bytes, *, status: str, notice: str | None
    ) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                (count,) = self._db.execute(
                    "SELECT COUNT(*) FROM concern_events WHERE concern_id = ?", (concern_id,)
                ).fetchone()
                if count != seq:
                    raise InvalidInputError(
                        f"concern {concern_id} changed meanwhile (event {seq} is taken); "
                        "read it again",
                        field="seq",
                    )
                self._db.execute(
                    "INSERT INTO concern_events (concern_id, seq, event) VALUES (?, ?, ?)",
                    (concern_id, seq, event),
                )
                row = self._db.execute(
                    "SELECT notices, supervisor FROM concerns WHERE id = ?", (concern_id,)
                ).fetchone()
                notices = set(json.loads(row[0]))
                if notice is not None and notice in notices:
                    raise InvalidInputError(
                        f"concern {concern_id} already has its {notice} notice", field="notice"
                    )
                if notice is not None:
                    notices.add(notice)
                    if notice.startswith("escalated:"):
                        self._db.execute(
                            "INSERT OR IGNORE INTO concern_escalations VALUES (?, ?)",
                            (concern_id, row[1]),
                        )
                    self._db.execute(
                        "DELETE FROM concern_claims WHERE concern_id = ? AND notice = ?",
                        (concern_id, notice),
                    )
                self._db.execute(
                    "UPDATE concerns SET status = ?, notices = ? WHERE id = ?",
                    (status, json.dumps(sorted(notices)), concern_id),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def claim_notice(
        self, concern_id: str, notice: str, *, claim: str, now: float, lease: float
    ) -> bool:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT notices FROM concerns WHERE id = ?", (concern_id,)
                ).fetchone()
                claimed = False
                if row is not None and notice not in json.loads(row[0]):
                    claimed = (
                        self._db.execute(
                            "INSERT INTO concern_claims (concern_id, notice, claim, claimed_at) "
                            "VALUES (?, ?, ?, ?) ON CONFLICT (concern_id, notice) DO UPDATE "
                            "SET claim = excluded.claim, claimed_at = excluded.claimed_at "
                            "WHERE concern_claims.claim = excluded.claim "
                            "OR concern_claims.claimed_at <= ?",
                            (concern_id, notice, claim, now, now - lease),
                        ).rowcount
                        > 0
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return claimed

    def release_notice(self, concern_id: str, notice: str, *, claim: str) -> None:
        with self._lock:
            self._db.execute(
                "DELETE FROM concern_claims WHERE concern_id = ? AND notice = ? AND claim = ?",
                (concern_id, notice, claim),
            )

    def find(self, *, status: str | None = None) -> list[ConcernRecord]:
        query = f"SELECT {_COLUMNS} FROM concerns"  # noqa: S608 - constant
        args: tuple[str, ...] = ()
        if status is not None:
            query += " WHERE status = ?"
            args = (status,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY received_at, id", args).fetchall()
        return [_record(r) for r in rows]

    def escalated_to(self, member: str) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT concern_id FROM concern_escalations WHERE supervisor = ? "
                "ORDER BY concern_id",
                (member,),
            ).fetchall()
        return [str(r[0]) for r in rows]


def _record(row: tuple[object, ...]) -> ConcernRecord:
    return ConcernRecord(
        concern=Concern.parse_json(str(row[0])),
        filer_member=str(row[1]),
        responsible=str(row[2]),
        supervisor=str(row[3]),
        scenario=str(row[4]),
        status=str(row[5]),
        filing_request=bytes(row[6]) if isinstance(row[6], bytes | memoryview) else b"",
        filing_digest=str(row[7]),
        received_at=datetime.fromisoformat(str(row[8])),
        ack_due=datetime.fromisoformat(str(row[9])),
        answer_due=datetime.fromisoformat(str(row[10])),
        notices=frozenset(json.loads(str(row[11]))),
    )
