"""Fixtures for the whole suite."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

_FDS = Path("/proc/self/fd")


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
