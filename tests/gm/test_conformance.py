"""The conformance suite against gm nodes: every check passes (DF-NEG-014 needs two
algorithms in one profile and is skipped), and a node that does not tell the crypto profile
apart fails exactly DF-GM-001."""

from __future__ import annotations

import pytest

from deltafed import AlgorithmNotAllowedError, CryptoProfileMismatchError
from deltafed.node import Node
from deltafed.protocol import VerifiedRequest
from deltafed_conformance import ALL_CHECKS, AdapterTarget, RunReport, Status, run

MAPPING = {"DF-MAP-001", "DF-MAP-002", "DF-MAP-003"}
GM_ADAPTERS = ("memory", "zhejiang")


@pytest.fixture(scope="module")
def gm_run() -> RunReport:
    return run([AdapterTarget(name, key_seed=7, crypto="gm") for name in GM_ADAPTERS])


@pytest.mark.parametrize("adapter", GM_ADAPTERS)
def test_gm_node_passes(gm_run: RunReport, adapter: str) -> None:
    target = gm_run.target(adapter)
    assert len(target.outcomes) == len(ALL_CHECKS)
    failing = target.ids(Status.FAIL, Status.ERROR)
    reasons = {o.check.id: o.result.reason for o in target.outcomes if o.check.id in failing}
    assert failing == set(), reasons
    expected_skips = {"DF-NEG-014"} | (MAPPING if adapter == "memory" else set())
    assert target.ids(Status.SKIP) == expected_skips
    assert target.outcome("DF-GM-001").result.status is Status.PASS
    assert target.outcome("DF-GM-002").result.status is Status.PASS


class ProfileBlind(Node):
    """Refuses an algorithm of the other profile, but with the generic code."""

    def verify(self, raw: bytes) -> VerifiedRequest:
        try:
            return super().verify(raw)
        except CryptoProfileMismatchError as exc:
            raise AlgorithmNotAllowedError(exc.message, field="alg") from exc


@pytest.mark.parametrize("crypto", ["gm", "international"])
def test_a_profile_blind_node_fails_exactly_df_gm_001(crypto: str) -> None:
    target = AdapterTarget(
        "memory",
        name=f"profile-blind-{crypto}",
        node_factory=lambda parts: parts.build(ProfileBlind),
        key_seed=7,
        crypto=crypto,
    )
    report = run([target])
    outcome = report.targets[0]
    assert outcome.ids(Status.FAIL, Status.ERROR) == {"DF-GM-001"}
    assert not report.passed
