"""Reports parse, and the expected-failures file behaves strictly."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

import pytest

from deltafed import ConfigurationError
from deltafed_conformance import (
    AdapterTarget,
    ExpectedFailures,
    RunReport,
    TerminalReporter,
    Verdict,
    render_html,
    render_json,
    render_junit,
    run,
    select_checks,
)

from .faulty import FAULTY

CHECKS = select_checks(["DF-SIG", "DF-MAP"])


def _unbound() -> AdapterTarget:
    return next(f for f in FAULTY if f.name == "unbound-response").target()


@pytest.fixture(scope="module")
def report() -> RunReport:
    return run([AdapterTarget("memory", name="good"), _unbound()], CHECKS)


def test_json_report(report: RunReport) -> None:
    document = json.loads(render_json(report))
    assert document["passed"] is False
    assert [t["name"] for t in document["targets"]] == ["good", "memory"]
    results = {r["id"]: r for r in document["targets"][1]["results"]}
    assert results["DF-SIG-002"]["status"] == "fail"
    assert results["DF-SIG-002"]["requirement"].startswith("docs/protocol.md §4")
    assert results["DF-MAP-001"]["status"] == "skip"
    assert {c["id"] for c in document["checks"]} == {c.id for c in CHECKS}


def test_junit_report(report: RunReport) -> None:
    root = ET.fromstring(render_junit(report))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["good", "memory"]
    assert suites[0].get("failures") == "0"
    assert suites[1].get("failures") == "1"
    failed = [c for c in suites[1].iter("testcase") if c.find("failure") is not None]
    assert [c.get("name", "").split()[0] for c in failed] == ["DF-SIG-002"]
    assert int(suites[1].get("skipped", "0")) == 3


def test_html_matrix(report: RunReport) -> None:
    page = render_html(report)
    assert page.startswith("<!DOCTYPE html>")
    assert '<table class="matrix">' in page
    for check in CHECKS:
        assert f'<tr id="{check.id}">' in page
    assert page.count('<td class="verdict failed">') == 1
    assert page.count('<td class="verdict skipped">') == 3 * 2
    assert '<a href="#t2-DF-SIG-002"' in page
    assert '<li id="t2-DF-SIG-002">' in page
    assert '<th class="target">good<br>' in page


def test_terminal_lines() -> None:
    out = io.StringIO()
    reporter = TerminalReporter(out)
    result = run([_unbound()], select_checks(["DF-SIG-00"]), progress=reporter)
    reporter.summary(result)
    text = out.getvalue()
    assert "[  2/5] memory  DF-SIG-002  FAIL" in text
    assert text.rstrip().splitlines()[-1].startswith("FAILED: ")


def test_declared_gap_does_not_fail_the_run() -> None:
    expected = ExpectedFailures.parse("DF-SIG-002  we sign before we know the digest\n")
    result = run([_unbound()], select_checks(["DF-SIG-00"]), expected=expected)
    outcome = result.targets[0].outcome("DF-SIG-002")
    assert outcome.verdict is Verdict.XFAILED
    assert result.passed
    assert result.exit_status == 0


def test_unexpected_pass_of_a_declared_gap_fails_the_run() -> None:
    expected = ExpectedFailures.parse("# known gaps\nDF-SIG-003 misaddressed (fixed now?)\n")
    result = run([_unbound()], select_checks(["DF-SIG-00"]), expected=expected)
    outcome = result.targets[0].outcome("DF-SIG-003")
    assert outcome.verdict is Verdict.XPASSED
    assert not result.passed
    out = io.StringIO()
    TerminalReporter(out).summary(result)
    assert "XPASS DF-SIG-003: passed but is declared as an expected failure" in out.getvalue()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("DF-NOPE-001 no such check\n", "no check"),
        ("DF-SIG-002\n", "needs a reason"),
        ("DF-SIG-002 one\nDF-SIG-002 two\n", "twice"),
    ],
)
def test_bad_expected_failures_file(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ExpectedFailures.parse(text, [c.id for c in select_checks()])
