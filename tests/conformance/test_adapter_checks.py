"""The adapter contract (DF-ADP) is part of the suite: it judges with CheckFailed, so it still
fails a broken adapter under ``python -O``, and every built-in adapter passes it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deltafed_conformance import AdapterTarget, Status, run, select_checks

from .faulty import FAULTY

BROKEN = """
from deltafed.testing import InMemoryAdapter
from deltafed_conformance import AdapterTarget, run, select_checks

class NeverRevoked(InMemoryAdapter):
    async def _certificate_status(self, certificate_id):
        return "01"

target = AdapterTarget(
    "memory", adapter_factory=lambda clock: NeverRevoked.from_config({"region": "320000"})
)
outcome = run([target], select_checks(["DF-ADP-012"])).targets[0].outcomes[0]
print(outcome.result.status.value)
"""


@pytest.mark.parametrize("adapter", ["memory", "shanghai", "jiangsu", "zhejiang"])
def test_built_in_adapters_pass_the_contract(adapter: str) -> None:
    target = run([AdapterTarget(adapter)], select_checks(["DF-ADP"])).targets[0]
    assert len(target.outcomes) == 13
    assert target.ids(Status.PASS) == {o.check.id for o in target.outcomes}


def test_a_broken_adapter_fails_the_contract_also_under_python_o() -> None:
    for flags in ([], ["-O"]):
        result = subprocess.run(
            [sys.executable, *flags, "-c", BROKEN],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stdout.split()[-1] == "fail", (flags, result.stdout)


def test_the_broken_adapter_is_a_faulty_target_of_the_suite() -> None:
    never = next(f for f in FAULTY if f.name == "adapter-never-revokes")
    assert never.failing == {"DF-ADP-012"}
