"""The event store of a node whose ``[store]`` is PostgreSQL (the ``postgres`` extra).

Same tables and semantics as :class:`~deltafed.events.SqliteEventStore`, shared by every worker
and host of the node. :meth:`PostgresEventStore.claim_due` picks the due events with
``FOR UPDATE SKIP LOCKED`` and marks them claimed in the same statement, so workers claiming at
the same time get disjoint events; :meth:`PostgresEventStore.enqueue` moves the change feed's
cursor with a conditional update first, so of two workers that read the same batch one
enqueues it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

from deltafed import _pg
from deltafed._errors import ConfigurationError, DeltafedError, InternalError
from deltafed.events._store import OutboxItem
from deltafed.schemas.events import ChangeEvent, Subscription

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = ["PostgresEventStore"]

_COMPONENT: Final = "events"
_MIGRATIONS: Final = (
    """
    CREATE TABLE subscriptions (
        pos BIGSERIAL UNIQUE,
        id TEXT PRIMARY KEY,
        subscriber TEXT NOT NULL,
        doc TEXT NOT NULL,
        subject_code TEXT NOT NULL,
        target TEXT NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL,
        cancelled BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE INDEX subscriptions_subject ON subscriptions (subject_code, target);
    CREATE INDEX subscriptions_subscriber ON subscriptions (subscriber);
    CREATE TABLE outbox (
        seq BIGSERIAL PRIMARY KEY,
        event_id TEXT UNIQUE NOT NULL,
        subscriber TEXT NOT NULL,
        scenario TEXT NOT NULL,
        subject_code TEXT NOT NULL,
        body TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at DOUBLE PRECISION NOT NULL DEFAULT 0,
        last_error TEXT,
        claim TEXT,
        claimed_until DOUBLE PRECISION NOT NULL DEFAULT 0
    );
    CREATE INDEX outbox_state ON outbox (state, seq);
    CREATE INDEX outbox_subject ON outbox (subscriber, subject_code, seq)
        WHERE state <> 'delivered';
    CREATE TABLE inbox (
        pos BIGSERIAL UNIQUE,
        event_id TEXT PRIMARY KEY,
        sender TEXT NOT NULL,
        body TEXT NOT NULL,
        received_at DOUBLE PRECISION NOT NULL,
        processed BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE TABLE cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE conditions (subscription TEXT PRIMARY KEY, holds BOOLEAN NOT NULL);
    """,
)
_COLUMNS: Final = "seq, body, subscriber, scenario, state, attempts, next_at, last_error"
_CLAIM: Final = """
WITH picked AS (
    SELECT o.seq FROM outbox o
    WHERE o.state = 'pending' AND o.next_at <= %(now)s AND o.claimed_until <= %(now)s
      AND o.seq = (
        SELECT min(i.seq) FROM outbox i WHERE i.state <> 'delivered'
        AND i.subscriber = o.subscriber AND i.subject_code = o.subject_code)
    ORDER BY o.seq
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE outbox SET claim = %(claim)s, claimed_until = %(until)s
FROM picked WHERE outbox.seq = picked.seq
RETURNING outbox.seq, outbox.body, outbox.subscriber, outbox.scenario, outbox.state,
    outbox.attempts, outbox.next_at, outbox.last_error
"""
_UPSERT_CONDITION: Final = (
    "INSERT INTO conditions (subscription, holds) VALUES (%s, %s) "
    "ON CONFLICT (subscription) DO UPDATE SET holds = EXCLUDED.holds"
)
#: Attempts of a read when the server dropped the connection (writes are tried once).
_ATTEMPTS: Final = 3
_T = TypeVar("_T")


class PostgresEventStore:
    """An :class:`~deltafed.events.EventStore` in PostgreSQL (see the module).

    ``url`` is a ``postgresql://`` URL (the store opens, migrates and closes its own pool of
    up to ``pool_size`` connections), or pass a shared ``pool`` (left open by :meth:`close`).
    Safe to share between threads; any number of processes and hosts may use one database.
    """

    def __init__(
        self, url: str | None = None, *, pool: ConnectionPool | None = None, pool_size: int = 4
    ) -> None:
        if (url is None) == (pool is None):
            raise ConfigurationError("give PostgresEventStore a url or a pool")
        self._own = pool is None
        self._pool = pool if pool is not None else _pg.open_pool(str(url), max_size=pool_size)
        try:
            with self._pool.connection() as conn:
                _pg.migrate(conn, _COMPONENT, _MIGRATIONS)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self._own:
            self._pool.close()

    def __enter__(self) -> PostgresEventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing -------------------------------------------------------------------------

    def _run(self, work: Callable[[psycopg.Connection[Any]], _T], attempts: int = 1) -> _T:
        try:
            return _pg.run(self._pool, work, attempts)
        except DeltafedError:
            raise
        except Exception as exc:
            raise InternalError(f"event store failed: {type(exc).__name__}") from exc

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        def work(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
            return conn.execute(sql, args).fetchall()

        return self._run(work, _ATTEMPTS)

    def _write(self, sql: str, args: tuple[Any, ...]) -> int:
        def work(conn: psycopg.Connection[Any]) -> int:
            return conn.execute(sql, args).rowcount

        return self._run(work)

    # --- subscriptions (provider) -------------------------------------------------------

    def add_subscription(self, subscription: Subscription) -> None:
        self._write(
            "INSERT INTO subscriptions (id, subscriber, doc, subject_code, target, expires_at)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
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
    def _subscription(doc: str, cancelled: bool) -> Subscription:
        data = json.loads(doc)
        data["cancelled"] = bool(cancelled)
        return Subscription.parse(data)

    def subscription(self, subscription_id: str) -> Subscription | None:
        rows = self._rows(
            "SELECT doc, cancelled FROM subscriptions WHERE id = %s", (subscription_id,)
        )
        return self._subscription(*rows[0]) if rows else None

    def subscriptions_of(self, subscriber: str, scenario: str) -> list[Subscription]:
        rows = self._rows(
            "SELECT doc, cancelled FROM subscriptions WHERE subscriber = %s ORDER BY pos",
            (subscriber,),
        )
        found = [self._subscription(doc, c) for doc, c in rows]
        return [s for s in found if s.scenario == scenario]

    def cancel(self, subscription_id: str) -> bool:
        return (
            self._write(
                "UPDATE subscriptions SET cancelled = TRUE WHERE id = %s AND NOT cancelled",
                (subscription_id,),
            )
            > 0
        )

    def watching(self, subject_code: str, target: str | None, now: float) -> list[Subscription]:
        """The active subscriptions about a subject (``target``: only those watching it)."""
        rows = self._rows(
            "SELECT doc, cancelled FROM subscriptions WHERE subject_code = %s "
            "AND (%s::text IS NULL OR target = %s) AND NOT cancelled AND expires_at > %s "
            "ORDER BY pos",
            (subject_code, target, target, now),
        )
        return [self._subscription(doc, c) for doc, c in rows]

    def condition(self, subscription_id: str) -> bool | None:
        """Whether a condition subscription's predicate held when last seen (``None``: never)."""
        rows = self._rows(
            "SELECT holds FROM conditions WHERE subscription = %s", (subscription_id,)
        )
        return bool(rows[0][0]) if rows else None

    def set_condition(self, subscription_id: str, holds: bool) -> None:
        self._write(_UPSERT_CONDITION, (subscription_id, holds))

    # --- change feed and outbox (provider) ----------------------------------------------

    def cursor(self, name: str) -> str | None:
        rows = self._rows("SELECT value FROM cursors WHERE name = %s", (name,))
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
        """As :meth:`~deltafed.events.SqliteEventStore.enqueue`: ``False`` (nothing written)
        when the cursor is no longer at ``since``."""

        def work(conn: psycopg.Connection[Any]) -> bool:
            with conn.transaction():
                if cursor is not None:
                    # First: the row lock makes a worker that read the same batch wait here,
                    # then find the cursor moved.
                    if since is None:
                        moved = conn.execute(
                            "INSERT INTO cursors (name, value) VALUES (%s, %s) "
                            "ON CONFLICT (name) DO NOTHING",
                            cursor,
                        ).rowcount
                    else:
                        moved = conn.execute(
                            "UPDATE cursors SET value = %s WHERE name = %s AND value = %s",
                            (cursor[1], cursor[0], since),
                        ).rowcount
                    if moved == 0:
                        return False
                for subscription_id, holds in conditions:
                    conn.execute(_UPSERT_CONDITION, (subscription_id, holds))
                for event, subscriber, scenario in events:
                    conn.execute(
                        "INSERT INTO outbox (event_id, subscriber, scenario, subject_code, body)"
                        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
                        (
                            event.event_id,
                            subscriber,
                            scenario,
                            event.subject_code,
                            json.dumps(event.to_wire(), ensure_ascii=False),
                        ),
                    )
            return True

        return self._run(work)

    @staticmethod
    def _item(row: tuple[Any, ...]) -> OutboxItem:
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

    def claim_due(self, now: float, limit: int, *, claim: str, lease: float) -> list[OutboxItem]:
        """As :meth:`~deltafed.events.SqliteEventStore.claim_due`."""

        def work(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
            args = {"now": now, "limit": limit, "claim": claim, "until": now + lease}
            return conn.execute(_CLAIM, args).fetchall()

        rows = self._run(work)
        return sorted((self._item(r) for r in rows), key=lambda item: item.seq)

    def delivered(self, seq: int) -> None:
        self._write(
            "UPDATE outbox SET state = 'delivered', attempts = attempts + 1, last_error = NULL, "
            "claim = NULL, claimed_until = 0 WHERE seq = %s",
            (seq,),
        )

    def failed(self, seq: int, *, next_at: float, error: str, park: bool) -> None:
        self._write(
            "UPDATE outbox SET attempts = attempts + 1, next_at = %s, last_error = %s, "
            "state = %s, claim = NULL, claimed_until = 0 WHERE seq = %s",
            (next_at, error[:500], "parked" if park else "pending", seq),
        )

    def outbox(self, limit: int = 1000) -> list[OutboxItem]:
        """The outbox, oldest first, whatever the state (for the operator)."""
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM outbox ORDER BY seq LIMIT %s",  # noqa: S608 - constant
            (limit,),
        )
        return [self._item(r) for r in rows]

    def parked(self) -> list[OutboxItem]:
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM outbox WHERE state = 'parked' ORDER BY seq"  # noqa: S608
        )
        return [self._item(r) for r in rows]

    def requeue(self, seq: int) -> bool:
        return (
            self._write(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_at = 0 "
                "WHERE seq = %s AND state = 'parked'",
                (seq,),
            )
            > 0
        )

    # --- inbox (subscriber) --------------------------------------------------------------

    def receive(self, event: ChangeEvent, sender: str, now: float) -> bool:
        """Keep ``event``; ``False`` when its id was received before (a redelivery)."""
        return (
            self._write(
                "INSERT INTO inbox (event_id, sender, body, received_at) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (event_id) DO NOTHING",
                (event.event_id, sender, json.dumps(event.to_wire(), ensure_ascii=False), now),
            )
            > 0
        )

    def unprocessed(self) -> list[tuple[ChangeEvent, str]]:
        rows = self._rows(
            "SELECT body, sender FROM inbox WHERE NOT processed ORDER BY received_at, pos"
        )
        return [(ChangeEvent.parse(json.loads(body)), str(sender)) for body, sender in rows]

    def processed(self, event_id: str) -> None:
        self._write("UPDATE inbox SET processed = TRUE WHERE event_id = %s", (event_id,))
