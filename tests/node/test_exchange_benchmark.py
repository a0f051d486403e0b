"""The exchange benchmark runs its sweep and prints its two ratios (nothing about time asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "exchange.py"


def test_exchange_benchmark_quick_sweep_prints_table_and_ratios() -> None:
    # A child process: the benchmark forks its servers, which pytest's threads must not see.
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    rows = [
        line for line in lines if re.fullmatch(r"\| (\d+) \| \d+ \| \d+ \| \d+% \| .+ ms \|", line)
    ]
    assert [row.split(" | ")[0] for row in rows] == ["| 1", "| 4"]
    assert re.fullmatch(r"peak ratio: \d+\.\d\d", lines[-2])
    assert re.fullmatch(r"single ratio: \d+\.\d\d", lines[-1])
