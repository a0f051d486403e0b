"""The replay store shared by every worker and host of a node: PostgreSQL.

One row per message id. :meth:`PostgresReplayStore.register` claims an id with a single
``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` statement, so of two workers (on any hosts)
receiving the same request at once exactly one gets the claim and answers it; the other is told
"already being answered", and once the answer is stored any replica hands the stored bytes to
an identical resend. This replaces a per-process in-flight guard.

Semantics are those of :class:`~deltafed.protocol.ReplayStore`, plus one for crashes: a claim
not answered within ``claim_lease`` seconds (its worker was killed, or lost its database
connection before storing the answer) may be claimed again by the identical request, so a
retry is not refused until the message expires. A different request reusing the id is refused
as always. Expired rows are deleted at most every ``purge_every`` seconds per process (and by
:meth:`purge`); a row past its expiry is treated as absent before that.
"""

from __future__ import annotations

import secrets
import threading
from typing import TYPE_CHECKING, Any, Final

from deltafed import _pg
from deltafed._errors import ConfigurationError, InternalError, ReplayCapacityError
from deltafed.protocol._replay import ReplayRecord

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = ["PostgresReplayStore"]

_COMPONENT: Final = "replay"
_MIGRATIONS: Final = (
    """
    CREATE TABLE replay (
        key TEXT PRIMARY KEY,
        digest TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        response BYTEA,
        claimed_at BIGINT NOT NULL,
        claim TEXT NOT NULL
    );
    CREATE INDEX replay_expires_at ON replay (expires_at);
    """,
)
#: An empty stored response means "released: process the identical request again".
_RELEASED: Final = b""
_ATTEMPTS: Final = 3

_CLAIM: Final = """
INSERT INTO replay AS r (key, digest, expires_at, response, claimed_at, claim)
VALUES (%(key)s, %(digest)s, %(expires_at)s, NULL, %(now)s, %(claim)s)
ON CONFLICT (key) DO UPDATE
SET digest = EXCLUDED.digest, expires_at = EXCLUDED.expires_at, response = NULL,
    claimed_at = EXCLUDED.claimed_at, claim = EXCLUDED.claim
WHERE r.expires_at <= %(now)s
   OR r.claim = EXCLUDED.claim
   OR (r.digest = EXCLUDED.digest AND r.response = ''::bytea)
   OR (r.digest = EXCLUDED.digest AND r.response IS NULL AND r.claimed_at <= %(stale)s)
RETURNING (xmax = 0) AS inserted
"""


def _full(max_entries: int) -> ReplayCapacityError:
    return ReplayCapacityError(
        f"replay store holds about {max_entries} unexpired messages and accepts no more",
        remediation="Retry after some messages expired, or raise the store's max_entries.",
    )


class PostgresReplayStore:
    """A :class:`~deltafed.protocol.ReplayStore` in PostgreSQL (see the module).

    ``max_entries`` bounds the rows. Each process counts them every ``count_every`` seconds
    and whenever its estimate (the last count plus its own claims since) reaches the bound, so
    with many processes the bound may be passed by what the others claimed since the last
    count (it exists to stop a flood, not to count exactly).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        pool: ConnectionPool | None = None,
        max_entries: int = 1_000_000,
        claim_lease: int = 30,
        purge_every: int = 60,
        count_every: int = 5,
    ) -> None:
        if (url is None) == (pool is None):
            raise ConfigurationError("give PostgresReplayStore a url or a pool")
        if max_entries < 1:
            raise ConfigurationError("max_entries must be at least 1")
        if claim_lease < 1:
            raise ConfigurationError("claim_lease must be at least 1 second")
        self.max_entries = max_entries
        self.claim_lease = claim_lease
        self.purge_every = purge_every
        self.count_every = count_every
        self._own = pool is None
        self._pool = pool if pool is not None else _pg.open_pool(str(url), max_size=4)
        self._lock = threading.Lock()
        self._last_purge = 0
        self._count = 0
        self._added = 0
        self._count_at = -(2**62)
        try:
            with self._pool.connection() as conn:
                _pg.migrate(conn, _COMPONENT, _MIGRATIONS)
        except Exception:
            self.close()
            raise

    def _run(self, work: Any, attempts: int = _ATTEMPTS) -> Any:
        try:
            return _pg.run(self._pool, work, attempts)
        except ReplayCapacityError:
            raise
        except Exception as exc:
            raise InternalError(f"replay store failed: {type(exc).__name__}") from exc

    def _maintain(self, now: int) -> None:
        with self._lock:
            due = now - self._last_purge >= self.purge_every
            if due:
                self._last_purge = now
        if due:
            self.purge(now)

    def _full(self, now: int, conn: psycopg.Connection[Any]) -> bool:
        """Whether the store is at capacity: exact when near it, else from a recent count."""
        with self._lock:
            estimate = self._count + self._added
            stale = now - self._count_at >= self.count_every
        if estimate < self.max_entries and not stale:
            return False
        # On the caller's connection: taking a second one from the pool could deadlock it.
        row = conn.execute("SELECT count(*) FROM replay").fetchone()
        count = 0 if row is None else int(row[0])
        with self._lock:
            self._count, self._added, self._count_at = count, 0, now
        return count >= self.max_entries

    def register(self, key: str, digest: str, *, expires_at: int, now: int) -> ReplayRecord | None:
        self._maintain(now)
        # One token per call: if the connection drops after the claim committed, the retry
        # recognises its own claim instead of reporting "already being answered".
        claim = secrets.token_hex(16)
        args = {
            "key": key,
            "digest": digest,
            "expires_at": expires_at,
            "now": now,
            "stale": now - self.claim_lease,
            "claim": claim,
        }

        def work(conn: psycopg.Connection[Any]) -> ReplayRecord | None:
            for _ in range(_ATTEMPTS):
                if self._full(now, conn):
                    known = conn.execute(
                        "SELECT 1 FROM replay WHERE key = %s AND expires_at > %s", (key, now)
                    ).fetchone()
                    if known is None:
                        raise _full(self.max_entries)
                claimed = conn.execute(_CLAIM, args).fetchone()
                if claimed is not None:
                    if claimed[0]:
                        with self._lock:
                            self._added += 1
                    return None
                row = conn.execute(
                    "SELECT digest, expires_at, response FROM replay WHERE key = %s", (key,)
                ).fetchone()
                if row is not None:
                    response = None if row[2] is None else bytes(row[2])
                    return ReplayRecord(str(row[0]), int(row[1]), response)
                # Deleted in between (purged): claim again.
            raise InternalError("replay claim did not settle")

        result: ReplayRecord | None = self._run(work)
        return result

    def set_response(self, key: str, digest: str, response: bytes) -> None:
        def work(conn: psycopg.Connection[Any]) -> None:
            conn.execute(
                "UPDATE replay SET response = %s WHERE key = %s AND digest = %s",
                (bytes(response), key, digest),
            )

        self._run(work)

    def forget(self, key: str, digest: str) -> bool:
        def work(conn: psycopg.Connection[Any]) -> bool:
            cur = conn.execute(
                "UPDATE replay SET response = %s WHERE key = %s AND digest = %s",
                (_RELEASED, key, digest),
            )
            return cur.rowcount > 0

        released: bool = self._run(work)
        return released

    def purge(self, now: int) -> int:
        def work(conn: psycopg.Connection[Any]) -> int:
            return conn.execute("DELETE FROM replay WHERE expires_at <= %s", (now,)).rowcount

        removed: int = self._run(work)
        with self._lock:
            self._count = max(0, self._count - removed)
        return removed

    def __len__(self) -> int:
        def work(conn: psycopg.Connection[Any]) -> int:
            row = conn.execute("SELECT count(*) FROM replay").fetchone()
            return 0 if row is None else int(row[0])

        count: int = self._run(work)
        return count

    def close(self) -> None:
        if self._own:
            self._pool.close()

    def __enter__(self) -> PostgresReplayStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
