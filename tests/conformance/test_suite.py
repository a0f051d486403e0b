"""The suite passes against every built-in adapter, and catches each deliberately faulty node
on exactly the check of the requirement it breaks."""

from __future__ import annotations

import pytest

from deltafed_conformance import ALL_CHECKS, AdapterTarget, RunReport, Status, run

from .faulty import FAULTY, Faulty

BUILT_IN = ("memory", "shanghai", "jiangsu", "zhejiang")
MAPPING = {"DF-MAP-001", "DF-MAP-002", "DF-MAP-003"}


@pytest.fixture(scope="module")
def built_in() -> RunReport:
    return run([AdapterTarget(name, key_seed=7) for name in BUILT_IN])


@pytest.mark.parametrize("adapter", BUILT_IN)
def test_built_in_adapter_passes(built_in: RunReport, adapter: str) -> None:
    target = built_in.target(adapter)
    assert len(target.outcomes) == len(ALL_CHECKS)
    assert target.ids(Status.FAIL, Status.ERROR) == set()
    skipped = target.ids(Status.SKIP)
    # The memory adapter has no native platform, so no golden samples; nothing else skips.
    assert skipped == (MAPPING if adapter == "memory" else set())


def test_the_run_passes(built_in: RunReport) -> None:
    assert built_in.passed
    assert built_in.exit_status == 0


def test_check_ids_are_unique_and_quote_the_protocol() -> None:
    ids = [c.id for c in ALL_CHECKS]
    assert len(ids) == len(set(ids))
    for check in ALL_CHECKS:
        assert check.requirement.startswith(
            ("docs/protocol.md §", "docs/node.md", "docs/adapters.md")
        )


@pytest.mark.parametrize("faulty", FAULTY, ids=lambda f: f.name)
def test_faulty_target_fails_exactly_its_check(faulty: Faulty) -> None:
    report = run([faulty.target()])
    target = report.targets[0]
    failing = target.ids(Status.FAIL, Status.ERROR)
    reasons = {o.check.id: o.result.reason for o in target.outcomes if o.check.id in failing}
    assert failing == faulty.failing, reasons
    assert not report.passed
    assert report.exit_status == 1


def test_unsigned_errors_leave_the_negative_cases_unjudged() -> None:
    unsigned = next(f for f in FAULTY if f.name == "unsigned-errors")
    target = run([unsigned.target()]).targets[0]
    tampered = target.outcome("DF-NEG-001")
    assert tampered.result.status is Status.SKIP
    assert "DF-ERR-001" in tampered.result.reason


def test_a_signed_answer_that_does_not_validate_fails_the_check_that_received_it() -> None:
    # A problem code outside §6 is the node's fault: the replay check fails, no skip elsewhere.
    unlisted = next(f for f in FAULTY if f.name == "unlisted-problem-code")
    target = run([unlisted.target()]).targets[0]
    replay = target.outcome("DF-NEG-004")
    assert replay.result.status is Status.FAIL
    assert "does not validate" in replay.result.reason
    assert "replayed" in replay.result.reason
    assert target.ids(Status.SKIP) == {"DF-MAP-001", "DF-MAP-002", "DF-MAP-003"}


#: The checks added with the traceability table; each has a target that breaks only its
#: requirement. Where two checks test one requirement, its target fails both (a node that
#: answers every certificate valid: DF-EXC-007 and 008; an unchecked iss: DF-NEG-028 and 052).
NEW_CHECKS = {
    "DF-NEG-024", "DF-NEG-025", "DF-NEG-026", "DF-NEG-027", "DF-NEG-028", "DF-NEG-029",
    "DF-POL-008", "DF-EXC-007", "DF-EXC-008", "DF-EXC-009", "DF-EXC-010", "DF-ERR-006",
    "DF-IDEM-003",
    # issue 12: a city as region, the depth limit, a null claim, a negative iat, an unread body
    "DF-NEG-052", "DF-NEG-054", "DF-NEG-055", "DF-NEG-056", "DF-ERR-050",
}  # fmt: skip


def test_every_new_check_fails_on_a_target_that_breaks_its_requirement() -> None:
    caught = {check for faulty in FAULTY for check in faulty.failing}
    assert caught >= NEW_CHECKS
    alone = {next(iter(f.failing)) for f in FAULTY if len(f.failing) == 1}
    assert alone >= NEW_CHECKS - {"DF-EXC-007", "DF-NEG-028"}
