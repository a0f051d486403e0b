"""The pytest plugin, run in a child pytest against an in-process adapter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from deltafed_conformance import ALL_CHECKS


def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text("[pytest]\n", "utf-8")
    (tmp_path / "test_deltafed_conformance.py").write_text(
        "from deltafed_conformance.pytest_plugin import test_deltafed_conformance  # noqa\n",
        "utf-8",
    )
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "deltafed_conformance.pytest_plugin",
         "-p", "no:cacheprovider", "-q", "-rs", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_plugin_reports_one_item_per_check(tmp_path: Path) -> None:
    result = _pytest(tmp_path, "--deltafed-adapter", "zhejiang")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(ALL_CHECKS)} passed" in result.stdout


def test_plugin_xfails_declared_gaps_and_fails_unexpected_passes(tmp_path: Path) -> None:
    gaps = tmp_path / "gaps.txt"
    gaps.write_text("DF-MAP-001 no golden samples for the memory adapter\n"
                    "DF-SIG-002 believed broken\n", "utf-8")  # fmt: skip
    result = _pytest(
        tmp_path, "--deltafed-adapter", "memory", "--deltafed-expected-failures", str(gaps)
    )
    assert result.returncode == 1
    assert "1 failed" in result.stdout
    assert "passed, but declared as expected failure" in result.stdout
    assert "3 skipped" in result.stdout


def test_plugin_without_target_skips(tmp_path: Path) -> None:
    result = _pytest(tmp_path)
    assert result.returncode == 0
    assert f"{len(ALL_CHECKS)} skipped" in result.stdout
