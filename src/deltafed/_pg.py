"""PostgreSQL plumbing shared by the stores: connection pools, retries and schema migrations.

Only the stores use this module, and only when a ``postgresql://`` URL is configured; psycopg
(the ``postgres`` extra) is imported when a pool is opened, so the rest of deltafed runs
without it.

Migrations are a small forward-only scheme (``docs/adr/0007-postgresql-stores.md``): each
store names a *component* and lists its migrations in order; :func:`migrate` applies the ones
a database has not seen yet, in ONE transaction that holds an advisory lock, and records the
component's version in ``deltafed_schema_version``. Workers and hosts starting at the same
time therefore migrate once; a database already migrated by a newer deltafed is refused
rather than written with an old idea of its schema.
"""

from __future__ import annotations

import importlib
import re
import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

from deltafed._errors import ConfigurationError

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = [
    "SCHEMA_TABLE",
    "connection_lost",
    "is_postgres_url",
    "migrate",
    "migrate_sqlite",
    "open_pool",
    "redact",
    "run",
]

#: The table that records each component's schema version.
SCHEMA_TABLE: Final = "deltafed_schema_version"
#: Advisory lock key held while migrating (any constant; "deltafed" in ASCII, truncated).
_MIGRATION_LOCK: Final = 0x64656C7461666564
_URL = re.compile(r"postgres(?:ql)?://\S*", re.ASCII)
_T = TypeVar("_T")


def is_postgres_url(text: str) -> bool:
    """Whether ``text`` names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    return _URL.fullmatch(text) is not None


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


def _psycopg() -> Any:
    try:
        importlib.import_module("psycopg_pool")
        return importlib.import_module("psycopg")
    except ImportError as exc:
        raise ConfigurationError(
            "a postgresql:// store needs psycopg and psycopg-pool",
            remediation="Install the postgres extra: pip install 'deltafed[postgres]'.",
        ) from exc


def open_pool(
    url: str, *, max_size: int = 4, name: str = "deltafed", timeout: float = 10.0
) -> ConnectionPool:
    """Open a pool of autocommit connections to ``url`` and wait until one works.

    Every connection is checked when it is taken from the pool, so connections the server
    dropped (a restart, ``pg_terminate_backend``) are replaced instead of handed out.
    Raises :class:`~deltafed.ConfigurationError` if the server does not answer in ``timeout``.
    """
    if not is_postgres_url(url):
        raise ConfigurationError(f"not a postgresql:// URL: {redact(url)[:200]}")
    _psycopg()
    from psycopg_pool import ConnectionPool, PoolTimeout

    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=max(1, max_size),
        kwargs={"autocommit": True},
        check=ConnectionPool.check_connection,
        name=name,
        timeout=timeout,
        open=False,
    )
    try:
        pool.open(wait=True, timeout=timeout)
    except PoolTimeout as exc:
        pool.close()
        raise ConfigurationError(
            f"cannot connect to {redact(url)} within {timeout:g} s",
            remediation="Check that the PostgreSQL server runs and the URL is right.",
        ) from exc
    return pool


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says the connection to the server broke (so a retry may succeed)."""
    psycopg = _psycopg()
    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = getattr(exc, "sqlstate", None) or ""
    # 08: connection exception; 57P01-57P03: admin shutdown, crash shutdown, cannot connect now.
    return state == "" or state.startswith("08") or state in ("57P01", "57P02", "57P03")


def run(pool: ConnectionPool, work: Callable[[psycopg.Connection[Any]], _T], attempts: int) -> _T:
    """Run ``work`` on a pooled connection; on a lost connection, again on a fresh one.

    Only for work that is safe to repeat (idempotent, or whose lost transaction rolled back).
    """
    for attempt in range(attempts):
        try:
            with pool.connection() as conn:
                return work(conn)
        except Exception as exc:
            if attempt + 1 >= attempts or not connection_lost(exc):
                raise
    raise ConfigurationError("no attempt made")  # pragma: no cover - attempts >= 1


def migrate(conn: psycopg.Connection[Any], component: str, migrations: Sequence[str]) -> int:
    """Bring ``component``'s schema to ``len(migrations)``; return the version it had.

    Each migration is one SQL script; all pending ones run in one transaction under an
    advisory lock, so concurrent starts apply them exactly once, and a failure applies none.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS deltafed_schema_version ("
            " component TEXT PRIMARY KEY,"
            " version INTEGER NOT NULL CHECK (version >= 0),"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        row = conn.execute(
            "SELECT version FROM deltafed_schema_version WHERE component = %s", (component,)
        ).fetchone()
        version = 0 if row is None else int(row[0])
        _check_version(component, version, len(migrations))
        for script in migrations[version:]:
            conn.execute(script)
        if version < len(migrations):
            conn.execute(
                "INSERT INTO deltafed_schema_version (component, version) VALUES (%s, %s)"
                " ON CONFLICT (component) DO UPDATE"
                " SET version = EXCLUDED.version, applied_at = now()",
                (component, len(migrations)),
            )
    return version


def migrate_sqlite(db: sqlite3.Connection, component: str, migrations: Sequence[str]) -> int:
    """:func:`migrate` for a SQLite connection opened with ``isolation_level=None``."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(
            "CREATE TABLE IF NOT EXISTS deltafed_schema_version ("
            " component TEXT PRIMARY KEY, version INTEGER NOT NULL, applied_at TEXT NOT NULL"
            " DEFAULT CURRENT_TIMESTAMP)"
        )
        row = db.execute(
            "SELECT version FROM deltafed_schema_version WHERE component = ?", (component,)
        ).fetchone()
        version = 0 if row is None else int(row[0])
        _check_version(component, version, len(migrations))
        for script in migrations[version:]:
            for statement in script.split(";"):
                if statement.strip():
                    db.execute(statement)
        if version < len(migrations):
            db.execute(
                "INSERT OR REPLACE INTO deltafed_schema_version (component, version) VALUES (?, ?)",
                (component, len(migrations)),
            )
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return version


def _check_version(component: str, version: int, known: int) -> None:
    if version > known:
        raise ConfigurationError(
            f"the database holds {component} schema version {version}; this deltafed knows "
            f"versions up to {known}",
            remediation="Run a deltafed at least as new as the one that migrated the database.",
        )
