"""The suite against a live node on loopback, through files as an integrator gets them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from deltafed._clock import SimulatedClock
from deltafed.adapters.jiangsu import JiangsuAdapter
from deltafed.testing import LoopbackServer
from deltafed_conformance import FederationFixture, LiveTarget, Status, run
from deltafed_conformance._checks import ALL_CHECKS
from deltafed_conformance._profile import Profile, identity_cards
from deltafed_conformance._targets import SIMULATED_START, profile_to_mapping

IN_PROCESS = {c.id for c in ALL_CHECKS if c.in_process}


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[LoopbackServer, FederationFixture, dict[str, Path]]]:
    server = LoopbackServer()
    # The node and the suite share a simulated clock at a date the working-day calendar knows
    # (concern deadlines), so the test does not depend on the year it runs in.
    clock = SimulatedClock(SIMULATED_START)
    fixture = FederationFixture("320000", clock=clock, endpoint=server.url, key_seed=5)
    adapter, sandbox = JiangsuAdapter.with_sandbox(clock=clock)
    node = fixture.parts(adapter).build()
    paths = fixture.write(tmp_path)
    # The integrator names a certificate their platform holds as revoked.
    revoked = identity_cards("320000")[1]
    sandbox.revoke(str(revoked.certificate_id))
    profile = json.loads(paths["profile"].read_text("utf-8"))
    profile["revoked"] = profile_to_mapping(Profile(revoked=revoked))["revoked"]
    paths["profile"].write_text(json.dumps(profile), "utf-8")
    server.start(node)
    try:
        yield server, fixture, paths
    finally:
        server.stop()


def test_live_node_on_loopback_passes(
    live: tuple[LoopbackServer, FederationFixture, dict[str, Path]],
) -> None:
    server, fixture, paths = live
    target = LiveTarget(
        server.url,
        registry=paths["registry"],
        anchor=paths["anchor"],
        tester_key=paths["tester"],
        tester_id=fixture.tester,
        profile=paths["profile"],
        clock=fixture.clock,
    )
    report = run([target])
    outcome = report.targets[0]
    assert len(outcome.outcomes) == len(ALL_CHECKS)
    assert outcome.ids(Status.FAIL, Status.ERROR) == set()
    # Golden mapping and platform faults need the adapter in process; the rest runs on the wire.
    assert outcome.ids(Status.SKIP) == IN_PROCESS
    assert {"DF-MAP-001", "DF-ERR-006", "DF-EXC-008"} <= IN_PROCESS
    assert outcome.outcome("DF-EXC-007").result.status is Status.PASS
    assert report.passed


def test_live_node_without_profile_skips_what_it_cannot_know(
    live: tuple[LoopbackServer, FederationFixture, dict[str, Path]],
) -> None:
    server, fixture, paths = live
    target = LiveTarget(
        server.url,
        registry=paths["registry"],
        anchor=paths["anchor"],
        tester_key=paths["tester"],
        tester_id=fixture.tester,
        clock=fixture.clock,
    )
    outcome = run([target]).targets[0]
    # The node is found by its registry endpoint; protocol checks run with a stand-in probe.
    assert outcome.ids(Status.FAIL, Status.ERROR) == set()
    skipped = outcome.ids(Status.SKIP)
    assert "DF-NEG-011" in skipped  # no compromised key given
    assert "DF-EXC-001" in skipped  # no subject given
    assert {"DF-NEG-001", "DF-NEG-004", "DF-IDEM-001", "DF-ERR-001"} <= outcome.ids(Status.PASS)


def test_unreachable_node_is_an_error_not_a_pass(
    live: tuple[LoopbackServer, FederationFixture, dict[str, Path]],
) -> None:
    _, fixture, paths = live
    closed = LoopbackServer()  # bound, never started: nothing answers
    try:
        target = LiveTarget(
            closed.url,
            registry=paths["registry"],
            anchor=paths["anchor"],
            tester_key=paths["tester"],
            tester_id=fixture.tester,
            node_id=fixture.node,
            timeout=2.0,
            clock=fixture.clock,
        )
        report = run([target], [c for c in ALL_CHECKS if c.id == "DF-DISC-003"])
    finally:
        closed.stop()
    assert report.targets[0].ids(Status.ERROR) == {"DF-DISC-003"}
    assert report.exit_status == 1
