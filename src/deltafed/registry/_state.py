"""The trusted registry state that outlives a process: the last verified version per federation.

A :class:`~deltafed.registry.TrustedRegistry` keeps its verified version in memory, so on its
own it refuses a rollback only until the process restarts, and each replica of a node refuses
it only for itself. Given a :class:`RegistryStateStore`, it also records every version it
admits there, and refuses one older than the store holds (or the same version with other
bytes), across restarts, replicas and hosts that share the store.

Interface (what a poller or a CLI calls; :meth:`TrustedRegistry.update` calls it for you):

* ``admit(federation, version, digest)`` - atomically: when the store holds nothing for
  ``federation`` or an older version, record ``(version, digest)``; when it holds the same
  version with the same ``digest``, do nothing; otherwise raise
  :class:`~deltafed.RollbackError` and change nothing. ``digest`` is ``sha-256:<hex>`` of the
  signed registry *payload* (the document the anchor signed, not the signature container, so
  a cosigned copy of one version is the same version).
* ``last(federation)`` - the recorded ``(version, digest)`` or ``None``.

Three stores: :class:`MemoryRegistryState` (one process), :class:`SqliteRegistryState` (one
host; ``deltafed registry verify --state FILE`` uses it) and
:class:`PostgresRegistryState` (every replica of a node that shares its database:
``[store] url``). Call ``admit`` only with a version whose signatures were verified: the store
trusts what it is told.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from deltafed import _pg
from deltafed._errors import ConfigurationError, InternalError, RollbackError

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = [
    "MemoryRegistryState",
    "PostgresRegistryState",
    "RegistryStateStore",
    "SqliteRegistryState",
    "payload_digest",
]

_COMPONENT: Final = "registry_state"
_MIGRATIONS: Final = (
    "CREATE TABLE registry_state ("
    " federation TEXT PRIMARY KEY,"
    " version BIGINT NOT NULL CHECK (version >= 1),"
    " digest TEXT NOT NULL,"
    " updated_at TEXT NOT NULL)",
)


def payload_digest(payload: bytes) -> str:
    """The digest :meth:`RegistryStateStore.admit` takes: ``sha-256:`` and hex."""
    return "sha-256:" + hashlib.sha256(payload).hexdigest()


@runtime_checkable
class RegistryStateStore(Protocol):
    """Where the last verified registry version of each federation is kept (see module)."""

    def admit(self, federation: str, version: int, digest: str) -> None: ...

    def last(self, federation: str) -> tuple[int, str] | None: ...


def _refuse(federation: str, version: int, digest: str, known: tuple[int, str]) -> None:
    """Raise if ``(version, digest)`` would roll back from ``known``."""
    if version < known[0]:
        raise RollbackError(
            f"registry version {version} of {federation} is older than version {known[0]}, "
            "already trusted by this node",
            remediation="Publish a version higher than every version ever trusted.",
        )
    if version == known[0] and digest != known[1]:
        raise RollbackError(
            f"registry version {version} of {federation} differs from the document of the same "
            "version already trusted by this node",
            remediation="The anchor must publish changes under a higher version.",
        )


class MemoryRegistryState:
    """A registry state store in process memory (tests; a single process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, tuple[int, str]] = {}

    def admit(self, federation: str, version: int, digest: str) -> None:
        with self._lock:
            known = self._known.get(federation)
            if known is not None:
                _refuse(federation, version, digest, known)
            self._known[federation] = (version, digest)

    def last(self, federation: str) -> tuple[int, str] | None:
        with self._lock:
            return self._known.get(federation)


class SqliteRegistryState:
    """A registry state store in a SQLite file, shared by the processes of one host.

    Each ``admit`` is one ``BEGIN IMMEDIATE`` transaction with ``synchronous=FULL``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
        except sqlite3.Error as exc:
            raise ConfigurationError(f"cannot open registry state {self.path}: {exc}") from exc
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            _pg.migrate_sqlite(self._db, _COMPONENT, _MIGRATIONS)
        except (sqlite3.Error, ConfigurationError) as exc:
            self._db.close()
            if isinstance(exc, ConfigurationError):
                raise
            raise ConfigurationError(f"cannot open registry state {self.path}: {exc}") from exc

    def admit(self, federation: str, version: int, digest: str) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    row = self._db.execute(
                        "SELECT version, digest FROM registry_state WHERE federation = ?",
                        (federation,),
                    ).fetchone()
                    if row is not None:
                        _refuse(federation, version, digest, (int(row[0]), str(row[1])))
                    self._db.execute(
                        "INSERT OR REPLACE INTO registry_state"
                        " (federation, version, digest, updated_at)"
                        " VALUES (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                        (federation, version, digest),
                    )
                    self._db.execute("COMMIT")
                finally:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
            except sqlite3.Error as exc:
                raise InternalError(f"registry state store failed: {exc}") from exc

    def last(self, federation: str) -> tuple[int, str] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT version, digest FROM registry_state WHERE federation = ?", (federation,)
            ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteRegistryState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PostgresRegistryState:
    """A registry state store in PostgreSQL, shared by every replica and host of a node.

    ``admit`` is one statement (``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` the stored
    version is lower), so two replicas admitting different versions at once end with the
    higher one and neither can lower it. Give it a URL (it opens and closes its own pool) or a
    shared ``pool``.
    """

    def __init__(self, url: str | None = None, *, pool: ConnectionPool | None = None) -> None:
        if (url is None) == (pool is None):
            raise ConfigurationError("give PostgresRegistryState a url or a pool")
        self._own = pool is None
        self._pool = pool if pool is not None else _pg.open_pool(str(url), max_size=2)
        try:
            with self._pool.connection() as conn:
                _pg.migrate(conn, _COMPONENT, _MIGRATIONS)
        except Exception:
            self.close()
            raise

    def admit(self, federation: str, version: int, digest: str) -> None:
        def work(conn: psycopg.Connection[Any]) -> tuple[int, str] | None:
            row = conn.execute(
                "INSERT INTO registry_state AS s (federation, version, digest, updated_at)"
                " VALUES (%s, %s, %s, to_char(now() AT TIME ZONE 'UTC',"
                ' \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\'))'
                " ON CONFLICT (federation) DO UPDATE SET version = EXCLUDED.version,"
                " digest = EXCLUDED.digest, updated_at = EXCLUDED.updated_at"
                " WHERE s.version < EXCLUDED.version"
                " RETURNING version",
                (federation, version, digest),
            ).fetchone()
            if row is not None:
                return None
            known = conn.execute(
                "SELECT version, digest FROM registry_state WHERE federation = %s",
                (federation,),
            ).fetchone()
            return None if known is None else (int(known[0]), str(known[1]))

        try:
            known = _pg.run(self._pool, work, attempts=3)
        except Exception as exc:
            raise InternalError(f"registry state store failed: {type(exc).__name__}") from exc
        if known is not None:
            _refuse(federation, version, digest, known)

    def last(self, federation: str) -> tuple[int, str] | None:
        def work(conn: psycopg.Connection[Any]) -> tuple[int, str] | None:
            row = conn.execute(
                "SELECT version, digest FROM registry_state WHERE federation = %s",
                (federation,),
            ).fetchone()
            return None if row is None else (int(row[0]), str(row[1]))

        return _pg.run(self._pool, work, attempts=3)

    def close(self) -> None:
        if self._own:
            self._pool.close()

    def __enter__(self) -> PostgresRegistryState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
