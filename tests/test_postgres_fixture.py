"""Tests marked ``postgres`` skip without a server - and fail instead when ``CI`` is ``true``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")
SAMPLE = """
import pytest

@pytest.mark.postgres
def test_needs_the_server(pg_url):
    assert pg_url
"""


@pytest.mark.parametrize(("ci", "expected"), [("", "1 skipped"), ("true", "1 error")])
def test_no_server(tmp_path: Path, ci: str, expected: str) -> None:
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    env = {
        **os.environ,
        "CI": ci,
        "DELTAFED_TEST_PG": "postgresql://postgres@127.0.0.1:1/none",  # nothing listens
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-o",
         "markers=postgres", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert expected in done.stdout, done.stdout + done.stderr
    assert "no PostgreSQL server answers at postgresql://postgres@127.0.0.1:1/none" in done.stdout
    assert done.returncode == (0 if ci == "" else 1)
