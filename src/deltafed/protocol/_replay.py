"""Replay stores: which message ids a node has seen, and what it answered.

An entry lives until the message's ``exp`` plus the clock skew: after that the message would
be refused as expired anyway, so forgetting it cannot let a replay through. A store is bounded;
when it is full it refuses new messages rather than forget unexpired ones.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from deltafed._errors import ConfigurationError, InternalError, ReplayCapacityError
from deltafed._sqlite import opening

__all__ = ["MemoryReplayStore", "ReplayRecord", "ReplayStore", "SqliteReplayStore"]

_DEFAULT_MAX_ENTRIES = 1_000_000

#: The response a store keeps for a released message: "process the identical bytes again".
#: A real response is a compact JWS and never empty.
_RELEASED = b""


def _full(max_entries: int) -> ReplayCapacityError:
    return ReplayCapacityError(
        f"replay store holds {max_entries} unexpired messages and accepts no more",
        remediation="Retry after some messages expired, or raise the store's max_entries.",
    )


@dataclass(frozen=True, slots=True)
class ReplayRecord:
    """What a store remembers of one message."""

    digest: str
    expires_at: int
    response: bytes | None = None


@runtime_checkable
class ReplayStore(Protocol):
    """Remembers message ids until they expire. Implementations must be thread-safe.

    ``key`` identifies a message (the verifier uses issuer and ``jti``), ``digest`` the exact
    bytes, ``expires_at`` and ``now`` are epoch seconds.
    """

    def register(self, key: str, digest: str, *, expires_at: int, now: int) -> ReplayRecord | None:
        """Atomically purge what expired at ``now``, then: if ``key`` is unknown, remember it
        and return ``None``; if it is known with the same ``digest`` and was released by
        :meth:`forget`, claim it again (it is in flight once more) and return ``None``;
        otherwise return its record unchanged. A full store raises
        :class:`~deltafed.ReplayCapacityError`."""
        ...

    def set_response(self, key: str, digest: str, response: bytes) -> None:
        """Attach the signed response sent for the message ``key`` with ``digest``."""
        ...

    def forget(self, key: str, digest: str) -> bool:
        """Release the message ``key`` if it is the one with ``digest``; whether it was.

        A node releases a request it answered with a transient problem, so that the identical
        retransmission is processed again. The id stays bound to ``digest`` until it expires:
        a different request reusing the id is still refused.
        """
        ...

    def purge(self, now: int) -> int:
        """Forget entries that expired at ``now``; return how many were removed."""
        ...

    def __len__(self) -> int: ...


class MemoryReplayStore:
    """A replay store in process memory, for a single-process node and for tests."""

    def __init__(self, *, max_entries: int = _DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ConfigurationError("max_entries must be at least 1")
        self.max_entries = max_entries
        # Plain tuples of atoms, which the garbage collector stops tracking: a store of a
        # million entries must not slow every collection down.
        self._entries: dict[str, tuple[str, int, bytes | None]] = {}
        self._expiry: list[tuple[int, str]] = []
        self._lock = threading.Lock()

    def _purge(self, now: int) -> int:
        removed = 0
        while self._expiry and self._expiry[0][0] <= now:
            expires_at, key = heapq.heappop(self._expiry)
            record = self._entries.get(key)
            if record is not None and record[1] == expires_at:
                del self._entries[key]
                removed += 1
        return removed

    def register(self, key: str, digest: str, *, expires_at: int, now: int) -> ReplayRecord | None:
        with self._lock:
            self._purge(now)
            known = self._entries.get(key)
            if known is not None:
                if known[0] == digest and known[2] == _RELEASED:
                    self._entries[key] = (digest, known[1], None)
                    return None
                return ReplayRecord(*known)
            if len(self._entries) >= self.max_entries:
                raise _full(self.max_entries)
            self._entries[key] = (digest, expires_at, None)
            heapq.heappush(self._expiry, (expires_at, key))
            return None

    def set_response(self, key: str, digest: str, response: bytes) -> None:
        with self._lock:
            known = self._entries.get(key)
            if known is not None and known[0] == digest:
                self._entries[key] = (digest, known[1], bytes(response))

    def forget(self, key: str, digest: str) -> bool:
        with self._lock:
            known = self._entries.get(key)
            if known is None or known[0] != digest:
                return False
            self._entries[key] = (digest, known[1], _RELEASED)
            return True

    def purge(self, now: int) -> int:
        with self._lock:
            return self._purge(now)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS replay (
    key TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    response BLOB
);
CREATE INDEX IF NOT EXISTS replay_expires_at ON replay (expires_at);
CREATE TABLE IF NOT EXISTS replay_count (id INTEGER PRIMARY KEY CHECK (id = 0), n INTEGER);
INSERT OR IGNORE INTO replay_count VALUES (0, 0);
CREATE TRIGGER IF NOT EXISTS replay_ins AFTER INSERT ON replay
    BEGIN UPDATE replay_count SET n = n + 1 WHERE id = 0; END;
CREATE TRIGGER IF NOT EXISTS replay_del AFTER DELETE ON replay
    BEGIN UPDATE replay_count SET n = n - 1 WHERE id = 0; END;
"""


class SqliteReplayStore:
    """A replay store in a SQLite file, shared by the worker processes of one node.

    Each registration is one ``BEGIN IMMEDIATE`` transaction, so two processes cannot both
    accept the same message id. The database runs in WAL mode with ``synchronous=NORMAL``: a
    process crash loses nothing, a power cut may lose the last commits.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, max_entries: int = _DEFAULT_MAX_ENTRIES
    ) -> None:
        if max_entries < 1:
            raise ConfigurationError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.path = Path(path)
        self._lock = threading.Lock()
        with opening(self.path, what="replay store", timeout=10.0) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
        self._db = db

    def register(self, key: str, digest: str, *, expires_at: int, now: int) -> ReplayRecord | None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.execute("DELETE FROM replay WHERE expires_at <= ?", (now,))
                    row = self._db.execute(
                        "SELECT digest, expires_at, response FROM replay WHERE key = ?", (key,)
                    ).fetchone()
                    if row is not None:
                        if row[0] == digest and row[2] == _RELEASED:
                            self._db.execute(
                                "UPDATE replay SET response = NULL WHERE key = ?", (key,)
                            )
                            return None
                        return ReplayRecord(row[0], row[1], row[2])
                    (count,) = self._db.execute(
                        "SELECT n FROM replay_count WHERE id = 0"
                    ).fetchone()
                    if count >= self.max_entries:
                        raise _full(self.max_entries)
                    self._db.execute(
                        "INSERT INTO replay (key, digest, expires_at) VALUES (?, ?, ?)",
                        (key, digest, expires_at),
                    )
                    return None
                finally:
                    self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise InternalError(f"replay store failed: {exc}") from exc

    def _rollback(self) -> None:
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def set_response(self, key: str, digest: str, response: bytes) -> None:
        with self._lock:
            try:
                self._db.execute(
                    "UPDATE replay SET response = ? WHERE key = ? AND digest = ?",
                    (bytes(response), key, digest),
                )
            except sqlite3.Error as exc:
                raise InternalError(f"replay store failed: {exc}") from exc

    def forget(self, key: str, digest: str) -> bool:
        with self._lock:
            try:
                cursor = self._db.execute(
                    "UPDATE replay SET response = ? WHERE key = ? AND digest = ?",
                    (_RELEASED, key, digest),
                )
            except sqlite3.Error as exc:
                raise InternalError(f"replay store failed: {exc}") from exc
            return cursor.rowcount > 0

    def purge(self, now: int) -> int:
        with self._lock:
            try:
                cursor = self._db.execute("DELETE FROM replay WHERE expires_at <= ?", (now,))
            except sqlite3.Error as exc:
                raise InternalError(f"replay store failed: {exc}") from exc
            return cursor.rowcount

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT n FROM replay_count WHERE id = 0").fetchone()
            return int(count)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteReplayStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
