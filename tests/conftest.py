"""Fixtures for the whole suite.

* ``open_files`` - the files under a folder this process holds open.
* ``pg_url`` - a PostgreSQL database of its own for each test marked ``postgres``. The server
  is ``DELTAFED_TEST_PG`` (default ``postgresql://postgres@127.0.0.1:5432/test``). When it does
  not answer, the test is skipped with the reason - unless the environment variable ``CI`` is
  ``true``: in CI a missing server is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_FDS = Path("/proc/self/fd")
ADMIN_URL = os.environ.get("DELTAFED_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def open_files() -> Callable[[Path], list[str]]:
    """``open_files(folder)``: the files under ``folder`` that this process holds open.

    Seen through ``/proc/self/fd``, so a connection that was never closed shows up at once,
    on every Python, whether or not the garbage collector has run (3.13 only warns when it does).
    """
    if not _FDS.is_dir():
        pytest.skip("needs /proc/self/fd to list open files")

    def under(folder: Path) -> list[str]:
        root = str(folder.resolve()) + os.sep
        found = []
        for fd in _FDS.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:  # closed since the listing
                continue
            if target.startswith(root):
                found.append(target)
        return sorted(found)

    return under


def _admin() -> object:
    try:
        import psycopg
    except ImportError as exc:  # the postgres extra is not installed
        reason = f"psycopg is not installed ({exc}); pip install -e '.[postgres]'"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = f"no PostgreSQL server answers at {ADMIN_URL}: {str(exc).strip()[:200]}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)


def database_url(name: str) -> str:
    """The URL of database ``name`` on the test server."""
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, uniquely named database; dropped (with any open connections) afterwards."""
    import psycopg

    name = f"deltafed_test_{secrets.token_hex(6)}"
    admin = _admin()
    assert isinstance(admin, psycopg.Connection)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(name)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
