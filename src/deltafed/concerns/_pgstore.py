"""The concern store of a node whose ``[store]`` is PostgreSQL (the ``postgres`` extra).

Same tables and semantics as :class:`~deltafed.concerns.SqliteConcernStore`, shared by every
worker and host of the node. Each write runs in one transaction that first takes the
concern's row ``FOR UPDATE``: appends, notice claims and notices queue there, each sees what
the previous one committed, so a history cannot fork and a notice is claimed (then stored)
once, whichever workers sweep at the same time. ``(concern_id, seq)`` stays the primary key as
a second line of defence. Text is ordered bytewise (``COLLATE "C"``), as SQLite orders it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from deltafed import _pg
from deltafed._errors import ConfigurationError, DeltafedError, InternalError, InvalidInputError
from deltafed.concerns._store import ConcernRecord, _record

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = ["PostgresConcernStore"]

_COMPONENT: Final = "concerns"
_MIGRATIONS: Final = (
    """
    CREATE TABLE concerns (
        id TEXT PRIMARY KEY,
        concern TEXT NOT NULL,
        filer_member TEXT NOT NULL,
        responsible TEXT NOT NULL,
        supervisor TEXT NOT NULL,
        scenario TEXT NOT NULL,
        status TEXT NOT NULL,
        filing_request BYTEA NOT NULL,
        filing_digest TEXT NOT NULL,
        received_at TEXT NOT NULL,
        ack_due TEXT NOT NULL,
        answer_due TEXT NOT NULL,
        notices TEXT[] NOT NULL DEFAULT '{}'
    );
    CREATE INDEX concerns_received ON concerns (received_at COLLATE "C", id COLLATE "C");
    CREATE INDEX concerns_status ON concerns (status);
    CREATE TABLE concern_events (
        concern_id TEXT NOT NULL REFERENCES concerns (id),
        seq INTEGER NOT NULL CHECK (seq >= 0),
        event BYTEA NOT NULL,
        PRIMARY KEY (concern_id, seq)
    );
    CREATE TABLE concern_escalations (
        concern_id TEXT NOT NULL REFERENCES concerns (id),
        supervisor TEXT NOT NULL,
        PRIMARY KEY (concern_id, supervisor)
    );
    CREATE INDEX concern_escalations_supervisor ON concern_escalations (supervisor);
    CREATE TABLE concern_claims (
        concern_id TEXT NOT NULL REFERENCES concerns (id),
        notice TEXT NOT NULL,
        claim TEXT NOT NULL,
        claimed_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (concern_id, notice)
    );
    """,
)
_COLUMNS: Final = (
    "concern, filer_member, responsible, supervisor, scenario, status, filing_request, "
    "filing_digest, received_at, ack_due, answer_due, notices"
)
#: Attempts of a read when the server dropped the connection (writes are tried once).
_ATTEMPTS: Final = 3
_T = TypeVar("_T")


class PostgresConcernStore:
    """A :class:`~deltafed.concerns.ConcernStore` in PostgreSQL (see the module).

    ``url`` is a ``postgresql://`` URL (the store opens, migrates and closes its own pool of
    up to ``pool_size`` connections), or pass a shared ``pool`` (left open by :meth:`close`).
    Safe to share between threads; any number of processes and hosts may use one database.
    """

    def __init__(
        self, url: str | None = None, *, pool: ConnectionPool | None = None, pool_size: int = 4
    ) -> None:
        if (url is None) == (pool is None):
            raise ConfigurationError("give PostgresConcernStore a url or a pool")
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

    def __enter__(self) -> PostgresConcernStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, work: Callable[[psycopg.Connection[Any]], _T], attempts: int = 1) -> _T:
        try:
            return _pg.run(self._pool, work, attempts)
        except DeltafedError:
            raise
        except Exception as exc:
            raise InternalError(f"concern store failed: {type(exc).__name__}") from exc

    def create(self, record: ConcernRecord, first_event: bytes) -> bool:
        def work(conn: psycopg.Connection[Any]) -> bool:
            with conn.transaction():
                row = conn.execute(
                    f"INSERT INTO concerns (id, {_COLUMNS}) VALUES "  # noqa: S608 - constant
                    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (id) DO NOTHING RETURNING 1",
                    (
                        record.id,
                        json.dumps(record.concern.to_wire(), ensure_ascii=False),
                        record.filer_member,
                        record.responsible,
                        record.supervisor,
                        record.scenario,
                        record.status,
                        bytes(record.filing_request),
                        record.filing_digest,
                        record.received_at.isoformat(),
                        record.ack_due.isoformat(),
                        record.answer_due.isoformat(),
                        sorted(record.notices),
                    ),
                ).fetchone()
                if row is None:
                    return False
                conn.execute(
                    "INSERT INTO concern_events (concern_id, seq, event) VALUES (%s, 0, %s)",
                    (record.id, bytes(first_event)),
                )
            return True

        return self._run(work)

    def get(self, concern_id: str) -> ConcernRecord | None:
        def work(conn: psycopg.Connection[Any]) -> tuple[Any, ...] | None:
            return conn.execute(
                f"SELECT {_COLUMNS} FROM concerns WHERE id = %s",  # noqa: S608 - constant
                (concern_id,),
            ).fetchone()

        row = self._run(work, _ATTEMPTS)
        return _pg_record(row) if row is not None else None

    def events(self, concern_id: str) -> list[bytes]:
        def work(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
            return conn.execute(
                "SELECT event FROM concern_events WHERE concern_id = %s ORDER BY seq",
                (concern_id,),
            ).fetchall()

        return [bytes(r[0]) for r in self._run(work, _ATTEMPTS)]

    def append(
        self, concern_id: str, seq: int, event: bytes, *, status: str, notice: str | None
    ) -> None:
        def work(conn: psycopg.Connection[Any]) -> None:
            with conn.transaction():
                row = conn.execute(
                    "SELECT notices, supervisor FROM concerns WHERE id = %s FOR UPDATE",
                    (concern_id,),
                ).fetchone()
                if row is None:
                    raise InvalidInputError(f"no concern {concern_id}", field="concern_id")
                counted = conn.execute(
                    "SELECT count(*) FROM concern_events WHERE concern_id = %s", (concern_id,)
                ).fetchone()
                if counted is None or int(counted[0]) != seq:
                    raise InvalidInputError(
                        f"concern {concern_id} changed meanwhile (event {seq} is taken); "
                        "read it again",
                        field="seq",
                    )
                notices = set(row[0])
                if notice is not None and notice in notices:
                    raise InvalidInputError(
                        f"concern {concern_id} already has its {notice} notice", field="notice"
                    )
                conn.execute(
                    "INSERT INTO concern_events (concern_id, seq, event) VALUES (%s, %s, %s)",
                    (concern_id, seq, bytes(event)),
                )
                if notice is not None:
                    notices.add(notice)
                    if notice.startswith("escalated:"):
                        conn.execute(
                            "INSERT INTO concern_escalations (concern_id, supervisor) "
                            "VALUES (%s, %s) ON CONFLICT DO NOTHING",
                            (concern_id, row[1]),
                        )
                    conn.execute(
                        "DELETE FROM concern_claims WHERE concern_id = %s AND notice = %s",
                        (concern_id, notice),
                    )
                conn.execute(
                    "UPDATE concerns SET status = %s, notices = %s WHERE id = %s",
                    (status, sorted(notices), concern_id),
                )

        self._run(work)

    def claim_notice(
        self, concern_id: str, notice: str, *, claim: str, now: float, lease: float
    ) -> bool:
        def work(conn: psycopg.Connection[Any]) -> bool:
            with conn.transaction():
                # The row lock orders this claim after any append that records the notice.
                row = conn.execute(
                    "SELECT notices FROM concerns WHERE id = %s FOR UPDATE", (concern_id,)
                ).fetchone()
                if row is None or notice in row[0]:
                    return False
                claimed = conn.execute(
                    "INSERT INTO concern_claims AS c (concern_id, notice, claim, claimed_at) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (concern_id, notice) DO UPDATE "
                    "SET claim = EXCLUDED.claim, claimed_at = EXCLUDED.claimed_at "
                    "WHERE c.claim = EXCLUDED.claim OR c.claimed_at <= %s RETURNING 1",
                    (concern_id, notice, claim, now, now - lease),
                ).fetchone()
                return claimed is not None

        # Safe to repeat: a retry recognises its own claim token.
        return self._run(work, _ATTEMPTS)

    def release_notice(self, concern_id: str, notice: str, *, claim: str) -> None:
        def work(conn: psycopg.Connection[Any]) -> None:
            conn.execute(
                "DELETE FROM concern_claims WHERE concern_id = %s AND notice = %s AND claim = %s",
                (concern_id, notice, claim),
            )

        self._run(work, _ATTEMPTS)

    def find(self, *, status: str | None = None) -> list[ConcernRecord]:
        where = "" if status is None else " WHERE status = %s"
        args: tuple[str, ...] = () if status is None else (status,)

        def work(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
            return conn.execute(
                f"SELECT {_COLUMNS} FROM concerns{where} "  # noqa: S608 - constants
                'ORDER BY received_at COLLATE "C", id COLLATE "C"',
                args,
            ).fetchall()

        return [_pg_record(r) for r in self._run(work, _ATTEMPTS)]

    def escalated_to(self, member: str) -> list[str]:
        def work(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
            return conn.execute(
                "SELECT concern_id FROM concern_escalations WHERE supervisor = %s "
                'ORDER BY concern_id COLLATE "C"',
                (member,),
            ).fetchall()

        return [str(r[0]) for r in self._run(work, _ATTEMPTS)]


def _pg_record(row: tuple[Any, ...]) -> ConcernRecord:
    # The notices arrive as a list; the SQLite reader takes them as JSON.
    return _record((*row[:11], json.dumps(list(row[11]))))
