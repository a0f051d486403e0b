"""Open the audit store a path or URL names."""

from __future__ import annotations

import os

from deltafed import _pg
from deltafed.audit._pgstore import PostgresAuditStore
from deltafed.audit._store import SqliteAuditStore

__all__ = ["open_audit_store"]


def open_audit_store(
    location: str | os.PathLike[str], *, pool_size: int = 4
) -> SqliteAuditStore | PostgresAuditStore:
    """A :class:`PostgresAuditStore` for a ``postgresql://`` URL, else a
    :class:`SqliteAuditStore` on that file. The caller closes it."""
    if isinstance(location, str) and _pg.is_postgres_url(location):
        return PostgresAuditStore(location, pool_size=pool_size)
    return SqliteAuditStore(location)
