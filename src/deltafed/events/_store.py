"""The durable state of subscriptions and events: one SQLite file per node, or the node's
PostgreSQL database (:class:`~deltafed.events.PostgresEventStore`).

* ``subscriptions``: what members subscribed to (provider side);
* ``outbox``: events to deliver, in ``seq`` order, with their attempts and state
  (``pending``, ``delivered``, ``parked``) (provider side);
* ``inbox``: event ids received, so that a redelivery is dropped (subscriber side);
* ``cursors``: how far the adapter's change feed has been read.

Enqueueing the events of a change batch and moving the cursor happen in one transaction, so a
crash never loses a change nor enqueues it twice; the cursor moves only from the value the batch
was read from, so of two workers reading the same batch one enqueues it. A worker *claims* the
events it is about to deliver (:meth:`EventStore.claim_due`) for a lease: another worker
sharing the store skips them until they are delivered, failed, or the lease ran out (the
claimant died), so each attempt is made by one worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from deltafed._errors import InternalError
from deltafed._sqlite import opening
from deltafed.schemas.events import ChangeEvent, Subscription

__all__ = ["EventStore", "OutboxItem", "SqliteEventStore"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS subscriptions (
    id TEXT PRIMARY KEY, subscriber TEXT NOT NULL, doc TEXT NOT NULL,
    subject_code TEXT NOT NULL, target TEXT NOT NULL, expires_at REAL NOT NULL,
    cancelled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS subscriptions_subject ON subscriptions (subject_code, target);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT UNIQUE NOT NULL,
    subscriber TEXT NOT NULL, scenario TEXT NOT NULL, subject_code TEXT NOT NULL,
    body TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL DEFAULT 0, last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox (state, seq);
CREATE TABLE IF NOT EXISTS inbox (
    event_id TEXT PRIMARY KEY, sender TEXT NOT NULL, body TEXT NOT NULL,
    received_at REAL NOT NULL, processed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS conditions (subscription TEXT PRIMARY KEY, holds INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox_claims (
    seq INTEGER PRIMARY KEY REFERENCES outbox (seq), claim TEXT NOT NULL, until REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One event waiting in (or parked in) the outbox."""

    seq: int
    event: ChangeEvent
    subscriber: str
    scenario: str
    state: str
    attempts: int
    next_at: float
    last_error: str | None


class EventStore(Protocol):
    """What the event machinery needs of a store (``SqliteEventStore`` and
    ``PostgresEventStore`` implement it)."""

    def add_subscription(self, subscription: Subscription) -> None: ...
    def subscription(self, subscription_id: str) -> Subscription | None: ...
    def subscriptions_of(self, subscriber: str, scenario: str) -> list[Subscription]: ...
    def cancel(self, subscription_id: str) -> bool: ...
    def watching(self, subject_code: str, target: str | None, now: float) -> list[Subscription]: ...
    def condition(self, subscription_id: str) -> bool | None: ...
    def set_condition(self, subscription_id: str, holds: bool) -> None: ...
    def cursor(self, name: str) -> str | None: ...
    def enqueue(
        self,
        events: Sequence[tuple[ChangeEvent, str, str]],
        *,
        cursor: tuple[str, str] | None,
        conditions: Sequence[tuple[str, bool]] = (),
        since: str | None = None,
    ) -> bool: ...
    def next_seq(self) -> int: ...
    def claim_due(
        self, now: float, limit: int, *, claim: str, lease: float
    ) -> list[OutboxItem]: ...
    def delivered(self, seq: int) -> None: ...
    def failed(self, seq: int, *, next_at: float, error: str, park: bool) -> None: ...
    def outbox(self, limit: int = 1000) -> list[OutboxItem]: ...
    def parked(self) -> list[OutboxItem]: ...
    def requeue(self, seq: int) -> bool: ...
    def receive(self, event: ChangeEvent, sender: str, now: float) -> bool: ...
    def unprocessed(self) -> list[tuple[ChangeEvent, str]]: ...
    def processed(self, event_id: str) -> None: ...


class SqliteEventStore:
    """:class:`EventStore` in a SQLite file (``":memory:"`` for tests and single processes)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path) if str(path) == ":memory:" else Path(path)
        self._lock = threading.RLock()
        with opening(self.path, what="event store", timeout=10.0) as db:
            if self.path != ":memory:":
                db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
        self._db = db

    # --- plumbing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                raise InternalError(f"event store failed: {exc}") from exc

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return list(self._db.execute(sql, args).fetchall())
            except sqlite3.Error as exc:
                raise InternalError(f"event store failed: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteEventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- subscriptions (provider) -------------------------------------------------------

    def add_subscription(self, subscription: Subscription) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO subscriptions (id, subscriber, doc, subject_code, target, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    subscription.id,
                    str(subscription.subscriber),
                    json.dumps(subscription.to_wire(), ensure_ascii=False),
                    subscription.subject_code,
                    subscription.target,
                    subscription.expires_at.timestamp(),
                ),
            )

    @staticmethod
    def _subscription(doc: str, cancelled: int) -> Subscription:
        data = json.loads(doc)
        data["cancelled"] = bool(cancelled)
        return Subscription.parse(data)

    def subscription(self, subscription_id: str) -> Subscription | None:
        rows = self._rows(
            "SELECT doc, cancelled FROM subscriptions WHERE id = ?", (subscription_id,)
        )
        return self._subscription(*rows[0]) if rows else None

    def subscriptions_of(self, subscriber: str, scenario: str) -> list[Subscription]:
        rows = self._rows(
            "SELECT doc, cancelled FROM subscriptions WHERE subscriber = ? ORDER BY rowid",
            (subscriber,),
        )
        found = [self._subscription(doc, c) for doc, c in rows]
        return [s for s in found if s.scenario == scenario]

    def cancel(self, subscription_id: str) -> bool:
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE subscriptions SET cancelled = 1 WHERE id = ? AND cancelled = 0",
                (subscription_id,),
            )
            return cursor.rowcount > 0

    def watching(self, subject_code: str, target: str | None, now: float) -> list[Subscription]:
        """The active subscriptions about a subject (``target``: only those watching it)."""
        rows = self._rows(
            "SELECT doc, cancelled FROM subscriptions WHERE subject_code = ? "
            "AND (? IS NULL OR target = ?) AND cancelled = 0 AND expires_at > ? ORDER BY rowid",
            (subject_code, target, target, now),
        )
        return [self._subscription(doc, c) for doc, c in rows]

    def condition(self, subscription_id: str) -> bool | None:
        """Whether a condition subscription's predicate held when last seen (``None``: never)."""
        rows = self._rows("SELECT holds FROM conditions WHERE subscription = ?", (subscription_id,))
        return bool(rows[0][0]) if rows else None

    def set_condition(self, subscription_id: str, holds: bool) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO conditions (subscription, holds) VALUES (?, ?)",
                (subscription_id, int(holds)),
            )

    # --- change feed and outbox (provider) ----------------------------------------------

    def cursor(self, name: str) -> str | None:
        rows = self._rows("SELECT value FROM cursors WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else None

    def next_seq(self) -> int:
        rows = self._rows("SELECT COALESCE(MAX(seq), 0) FROM outbox")
        return int(rows[0][0]) + 1

    def enqueue(
        self,
        events: Sequence[tuple[ChangeEvent, str, str]],
        *,
        cursor: tuple[str, str] | None,
        conditions: Sequence[tuple[str, bool]] = (),
        since: str | None = None,
    ) -> bool:
        """Add ``(event, subscriber, scenario)`` rows, record the conditions now seen and move
        ``cursor`` ``(name, value)``, in one transaction. With a ``cursor`` the batch was read
        from ``since`` (the cursor's value then, ``None`` at the start): if the cursor is
        elsewhere now, another worker enqueued the batch; nothing is written and ``False`` is
        returned."""
        with self._tx() as db:
            if cursor is not None:
                row = db.execute(
                    "SELECT value FROM cursors WHERE name = ?", (cursor[0],)
                ).fetchone()
                if (None if row is None else str(row[0])) != since:
                    return False
            for subscription_id, holds in conditions:
                db.execute(
                    "INSERT OR REPLACE INTO conditions (subscription, holds) VALUES (?, ?)",
                    (subscription_id, int(holds)),
                )
            for event, subscriber, scenario in events:
                db.execute(
                    "INSERT OR IGNORE INTO outbox (event_id, subscriber, scenario, subject_code,"
                    " body) VALUES (?, ?, ?, ?, ?)",
                    (
                        event.event_id,
                        subscriber,
                        scenario,
                        event.subject_code,
                        json.dumps(event.to_wire(), ensure_ascii=False),
                    ),
                )
            if cursor is not None:
                db.execute("INSERT OR REPLACE INTO cursors (name, value) VALUES (?, ?)", cursor)
        return True

    def _item(self, row: tuple[Any, ...]) -> OutboxItem:
        seq, body, subscriber, scenario, state, attempts, next_at, error = row
        return OutboxItem(
            seq=int(seq),
            event=ChangeEvent.parse(json.loads(body)),
            subscriber=str(subscriber),
            scenario=str(scenario),
            state=str(state),
            attempts=int(attempts),
            next_at=float(next_at),
            last_error=error,
        )

    _COLUMNS: Final = "seq, body, subscriber, scenario, state, attempts, next_at, last_error"

    def claim_due(self, now: float, limit: int, *, claim: str, lease: float) -> list[OutboxItem]:
        """Claim the events to try now, for ``lease`` seconds, as ``claim``: for each
        (subscriber, subject) only the oldest undelivered one, and only if its time has come
        and no other live claim holds it - so one subject's events go in order, one worker
        each."""
        with self._tx() as db:
            rows = db.execute(
                f"SELECT {self._COLUMNS} FROM outbox o WHERE state != 'delivered' AND seq = ("  # noqa: S608
                "SELECT MIN(seq) FROM outbox i WHERE i.state != 'delivered' "
                "AND i.subscriber = o.subscriber AND i.subject_code = o.subject_code) "
                "AND state = 'pending' AND next_at <= ? AND NOT EXISTS ("
                "SELECT 1 FROM outbox_claims c WHERE c.seq = o.seq AND c.until > ?) "
                "ORDER BY seq LIMIT ?",
                (now, now, limit),
            ).fetchall()
            db.executemany(
                "INSERT OR REPLACE INTO outbox_claims (seq, claim, until) VALUES (?, ?, ?)",
                [(row[0], claim, now + lease) for row in rows],
            )
        return [self._item(r) for r in rows]

    def delivered(self, seq: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM outbox_claims WHERE seq = ?", (seq,))
            db.execute(
                "UPDATE outbox SET state = 'delivered', attempts = attempts + 1, "
                "last_error = NULL WHERE seq = ?",
                (seq,),
            )

    def failed(self, seq: int, *, next_at: float, error: str, park: bool) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM outbox_claims WHERE seq = ?", (seq,))
            db.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_at = ?, last_error = ?, "
                "state = ? WHERE seq = ?",
                (next_at, error[:500], "parked" if park else "pending", seq),
            )

    def outbox(self, limit: int = 1000) -> list[OutboxItem]:
        """The outbox, oldest first, whatever the state (for the operator)."""
        rows = self._rows(
            f"SELECT {self._COLUMNS} FROM outbox ORDER BY seq LIMIT ?",  # noqa: S608
            (limit,),
        )
        return [self._item(r) for r in rows]

    def parked(self) -> list[OutboxItem]:
        rows = self._rows(
            f"SELECT {self._COLUMNS} FROM outbox WHERE state = 'parked' ORDER BY seq"  # noqa: S608
        )
        return [self._item(r) for r in rows]

    def requeue(self, seq: int) -> bool:
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_at = 0 "
                "WHERE seq = ? AND state = 'parked'",
                (seq,),
            )
            return cursor.rowcount > 0

    # --- inbox (subscriber) --------------------------------------------------------------

    def receive(self, event: ChangeEvent, sender: str, now: float) -> bool:
        """Keep ``event``; ``False`` when its id was received before (a redelivery)."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO inbox (event_id, sender, body, received_at) "
                "VALUES (?, ?, ?, ?)",
                (event.event_id, sender, json.dumps(event.to_wire(), ensure_ascii=False), now),
            )
            return cursor.rowcount > 0

    def unprocessed(self) -> list[tuple[ChangeEvent, str]]:
        rows = self._rows(
            "SELECT body, sender FROM inbox WHERE processed = 0 ORDER BY received_at, rowid"
        )
        return [(ChangeEvent.parse(json.loads(body)), str(sender)) for body, sender in rows]

    def processed(self, event_id: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE inbox SET processed = 1 WHERE event_id = ?", (event_id,))
