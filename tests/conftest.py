"""Fixtures for the whole suite.

* ``open_files`` - the files under a folder this process holds open.
* ``pg_url`` - a PostgreSQL database of its own for each test marked ``postgres``. The server
  is ``DELTAFED_TEST_PG`` (default ``postgresql://postgres@127.0.0.1:5432/test``). When it does
  not answer, the test is skipped with the reason - unless the environment variable ``CI`` is
  ``true``: in CI a missing server is a failure, never a silent skip.
* ``chromium`` - headless Chromium, to look at a page as a browser renders it (tests marked
  ``browser``). The program is ``DELTAFED_TEST_CHROMIUM`` (default: ``chromium`` on ``PATH``,
  Debian's package; ``make test`` installs it under ``CI=true``). Without it the test is
  skipped with the reason, and fails when ``CI`` is ``true``, as for PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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


#: How Chromium is started: headless, and nothing that reaches the network or a profile.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


@dataclass(frozen=True)
class Chromium:
    """Headless Chromium; every call starts it afresh with a new, empty profile folder."""

    executable: str

    def _run(self, page: Path, *args: str, width: int, height: int) -> str:
        with tempfile.TemporaryDirectory(prefix="deltafed-chromium-") as profile:
            done = subprocess.run(
                [
                    self.executable,
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={profile}",
                    f"--window-size={width},{height}",
                    *args,
                    page.resolve().as_uri(),
                ],
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )
        if done.returncode != 0:
            raise AssertionError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
        return done.stdout

    def dump_dom(self, page: Path, *, width: int = 1280, height: int = 1024) -> str:
        """The document after it loaded (and its scripts ran), serialised."""
        return self._run(page, "--dump-dom", width=width, height=height)

    def screenshot(self, page: Path, png: Path, *, width: int = 1280, height: int = 1024) -> None:
        """A PNG of the page as painted in a window of ``width`` by ``height`` pixels."""
        self._run(page, f"--screenshot={png.resolve()}", width=width, height=height)


@pytest.fixture(scope="session")
def chromium() -> Chromium:
    """Headless Chromium, or a skip with the reason (a failure when ``CI`` is ``true``)."""
    wanted = os.environ.get("DELTAFED_TEST_CHROMIUM", "chromium")
    found = shutil.which(wanted)
    if found is None:
        reason = (
            f"no Chromium at {wanted!r} (DELTAFED_TEST_CHROMIUM): apt-get install chromium, "
            "or make test with CI=true, which installs it"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return Chromium(found)
