"""Opening a SQLite database so that a failure part-way leaves no connection open.

Every SQLite store in deltafed keeps one connection for its lifetime and closes it in
``close()``. The gap is the constructor: a connection that opens but whose pragmas, schema or
version check then fail must be closed before the error propagates, or a node that retries
its configuration for months leaks one connection per attempt (Python 3.13 warns about each).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from deltafed._errors import ConfigurationError

__all__ = ["opening"]


@contextmanager
def opening(
    path: str | os.PathLike[str], *, what: str, timeout: float = 5.0
) -> Iterator[sqlite3.Connection]:
    """Connect to ``path`` (autocommit, shareable between threads) for the block to set up.

    If the block raises, the connection is closed; a ``sqlite3.Error`` from connecting or from
    the block becomes a :class:`ConfigurationError` "cannot open <what> <path>". On success the
    caller owns the connection and closes it.
    """
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=timeout)
    except sqlite3.Error as exc:
        raise ConfigurationError(f"cannot open {what} {path}: {exc}") from exc
    try:
        yield db
    except sqlite3.Error as exc:
        db.close()
        raise ConfigurationError(f"cannot open {what} {path}: {exc}") from exc
    except BaseException:
        db.close()
        raise
