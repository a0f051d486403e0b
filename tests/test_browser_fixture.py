"""Tests that need Chromium skip without it - and fail instead when ``CI`` is ``true``;
``tools/chromium.py`` (run by ``make test``) says so, or installs it under ``CI=true``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFTEST = Path(__file__).with_name("conftest.py")
SAMPLE = """
def test_needs_chromium(chromium):
    assert chromium.executable
"""
MISSING = "/nonexistent/chromium"


@pytest.mark.parametrize(("ci", "expected"), [("", "1 skipped"), ("true", "1 error")])
def test_no_chromium(tmp_path: Path, ci: str, expected: str) -> None:
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    env = {**os.environ, "CI": ci, "DELTAFED_TEST_CHROMIUM": MISSING}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert expected in done.stdout, done.stdout + done.stderr
    assert f"no Chromium at '{MISSING}'" in done.stdout
    assert done.returncode == (0 if ci == "" else 1)


@pytest.mark.parametrize(("ci", "status"), [("", 0), ("true", 1)])
def test_the_tool_without_chromium_nor_apt(tmp_path: Path, ci: str, status: int) -> None:
    """Outside CI a missing Chromium is a note; in CI it must be installed, and cannot be here
    (nothing on ``PATH``, so no apt-get)."""
    env = {**os.environ, "CI": ci, "DELTAFED_TEST_CHROMIUM": MISSING, "PATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "chromium.py")],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == status, done.stdout + done.stderr
    if ci:
        assert "CI=true but Chromium is missing and apt-get cannot install it" in done.stderr
    else:
        assert "the browser tests will be skipped" in done.stdout


def test_the_tool_finds_chromium(tmp_path: Path) -> None:
    fake = tmp_path / "my-chromium"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    env = {**os.environ, "CI": "true", "DELTAFED_TEST_CHROMIUM": str(fake)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "chromium.py")],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"chromium: {fake}\n"
