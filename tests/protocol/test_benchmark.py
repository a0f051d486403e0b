"""The protocol benchmark runs (a smoke test: nothing about time is asserted)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "protocol.py"


def test_benchmark_runs_quickly(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("deltafed_protocol_benchmark", BENCHMARK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--quick"]) == 0
    out = capsys.readouterr().out
    for label in ("floor", "exchange (deltafed, full)", "ratio exchange / floor", "joserfc"):
        assert label in out
    from deltafed._sm2 import sm2_available

    if sm2_available():
        assert "gm ratio exchange / floor" in out
