"""Rate limits for purpose-bound matching: one token bucket per requester and scenario.

A bucket holds at most ``burst`` tokens and regains ``per_hour`` tokens an hour; each question
takes one. The state lives in a store (in memory, or a SQLite file shared by the worker
processes of a node), and the time comes from the injected clock, so the limiter is exact in
tests. What the limits do and do not protect against is in ``docs/security.md``.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import threading
from pathlib import Path
from typing import Final, Protocol

from deltafed._clock import Clock
from deltafed._errors import InternalError, RateLimitedError
from deltafed._sqlite import opening
from deltafed.schemas.matching import RateLimit

__all__ = [
    "DEFAULT_RATE_LIMIT",
    "BucketStore",
    "MemoryBucketStore",
    "RateLimiter",
    "SqliteBucketStore",
]

#: The limit of a scenario that sets none: 20 at once, 60 an hour.
DEFAULT_RATE_LIMIT: Final = RateLimit(burst=20, per_hour=60)


def _refill(
    state: tuple[float, float] | None, burst: int, per_hour: int, now: float
) -> tuple[float, float]:
    """The bucket's tokens at ``now`` (full when new); time never runs backwards here."""
    if state is None:
        return float(burst), now
    tokens, updated = state
    elapsed = max(0.0, now - updated)
    return min(float(burst), tokens + elapsed * per_hour / 3600.0), max(now, updated)


class BucketStore(Protocol):
    """Where buckets live. ``take`` is atomic: it returns 0 when a token was taken, else the
    seconds until one will be there (and takes nothing)."""

    def take(self, key: str, burst: int, per_hour: int, now: float) -> float: ...


class MemoryBucketStore:
    """Buckets in a dict (one process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, burst: int, per_hour: int, now: float) -> float:
        with self._lock:
            tokens, at = _refill(self._buckets.get(key), burst, per_hour, now)
            if tokens < 1.0:
                self._buckets[key] = (tokens, at)
                return (1.0 - tokens) * 3600.0 / per_hour
            self._buckets[key] = (tokens - 1.0, at)
            return 0.0


_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS match_buckets (
    key TEXT PRIMARY KEY, tokens REAL NOT NULL, updated REAL NOT NULL
);
"""


class SqliteBucketStore:
    """Buckets in a SQLite file; each ``take`` is one ``BEGIN IMMEDIATE`` transaction, so the
    worker processes of one node share the limit."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        with opening(self.path, what="rate-limit store", timeout=10.0) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        self._db = db

    def take(self, key: str, burst: int, per_hour: int, now: float) -> float:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    row = self._db.execute(
                        "SELECT tokens, updated FROM match_buckets WHERE key = ?", (key,)
                    ).fetchone()
                    tokens, at = _refill(
                        None if row is None else (row[0], row[1]), burst, per_hour, now
                    )
                    wait = 0.0
                    if tokens < 1.0:
                        wait = (1.0 - tokens) * 3600.0 / per_hour
                    else:
                        tokens -= 1.0
                    self._db.execute(
                        "INSERT OR REPLACE INTO match_buckets (key, tokens, updated) "
                        "VALUES (?, ?, ?)",
                        (key, tokens, at),
                    )
                finally:
                    self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                raise InternalError(f"rate-limit store failed: {exc}") from exc
            return wait

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteBucketStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RateLimiter:
    """Takes one token per question from the bucket of (requester, scenario).

    ``default`` applies to scenarios that set no ``rate_limit``.
    """

    def __init__(
        self,
        store: BucketStore | None = None,
        *,
        clock: Clock,
        default: RateLimit = DEFAULT_RATE_LIMIT,
    ) -> None:
        self.store: BucketStore = store if store is not None else MemoryBucketStore()
        self.clock = clock
        self.default = default

    def take(self, requester: str, scenario: str, limit: RateLimit | None = None) -> None:
        """Take a token, or raise :class:`~deltafed.RateLimitedError` saying when to retry."""
        chosen = limit if limit is not None else self.default
        key = f"{requester}\x00{scenario}"
        wait = self.store.take(key, chosen.burst, chosen.per_hour, self.clock().timestamp())
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise RateLimitedError(
                f"too many questions under scenario {scenario}; a token is back in {seconds} s",
                field="scn",
                remediation=f"Ask again in {seconds} seconds, and ask only what the purpose needs.",
            )
