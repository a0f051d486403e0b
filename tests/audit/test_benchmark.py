"""The audit benchmark runs and ends with its verification line (nothing about time asserted)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "audit.py"


def test_audit_benchmark_quick_ends_with_verify_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = importlib.util.spec_from_file_location("deltafed_audit_benchmark", BENCHMARK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--quick", "--dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(re.fullmatch(r"  ratio +\d+\.\d\d", line) for line in lines)
    assert any(re.match(r"  concurrent ratio +\d+\.\d\d ", line) for line in lines)
    # PostgreSQL is measured when a server answers, and otherwise skipped with its reason.
    assert any(
        re.fullmatch(r"  postgres concurrent ratio \d+\.\d\d", line)
        or re.fullmatch(r"postgres appends: skipped \(.+\)", line)
        for line in lines
    )
    assert re.fullmatch(r"verify 2000 entries: \d+\.\d s", lines[-1])
