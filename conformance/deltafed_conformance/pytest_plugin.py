"""Run the conformance suite from pytest: one test item per check.

Enable it explicitly (it is not auto-loaded) and write a one-line test module::

    # test_deltafed_conformance.py
    from deltafed_conformance.pytest_plugin import test_deltafed_conformance  # noqa: F401

then ``pytest -p deltafed_conformance.pytest_plugin --deltafed-adapter jiangsu`` or, for a
live node, ``--deltafed-url URL --deltafed-registry FILE --deltafed-anchor FILE
--deltafed-tester-key FILE --deltafed-tester-id MEMBER [--deltafed-profile FILE]``. The
suite runs once per session; each item reports its check: a failure fails, a skip skips, a
declared gap (``--deltafed-expected-failures FILE``) is an xfail, and a declared gap that
passes fails.
"""

from __future__ import annotations

import pytest

from deltafed_conformance._checks import ALL_CHECKS
from deltafed_conformance._model import RunReport, Verdict
from deltafed_conformance._runner import ExpectedFailures, run
from deltafed_conformance._targets import AdapterTarget, LiveTarget, Target

__all__ = ["pytest_addoption", "pytest_generate_tests", "test_deltafed_conformance"]

_LIVE = ("registry", "anchor", "tester_key", "tester_id")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("deltafed-conformance")
    group.addoption("--deltafed-adapter", action="append", default=[], metavar="NAME")
    group.addoption("--deltafed-url", metavar="URL")
    for name in (*_LIVE, "profile", "expected_failures"):
        group.addoption(f"--deltafed-{name.replace('_', '-')}", dest=f"deltafed_{name}")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "deltafed_check" in metafunc.fixturenames:
        metafunc.parametrize("deltafed_check", [c.id for c in ALL_CHECKS])


def _targets(config: pytest.Config) -> list[Target]:
    adapters: list[str] = config.getoption("deltafed_adapter")
    url: str | None = config.getoption("deltafed_url")
    if adapters:
        return [AdapterTarget(name) for name in adapters]
    if url:
        values = {name: config.getoption(f"deltafed_{name}") for name in _LIVE}
        missing = [f"--deltafed-{n.replace('_', '-')}" for n, v in values.items() if not v]
        if missing:
            raise pytest.UsageError(f"--deltafed-url needs {', '.join(missing)}")
        return [
            LiveTarget(
                url,
                registry=values["registry"],
                anchor=values["anchor"],
                tester_key=values["tester_key"],
                tester_id=values["tester_id"],
                profile=config.getoption("deltafed_profile"),
            )
        ]
    return []


@pytest.fixture(scope="session")
def deltafed_report(pytestconfig: pytest.Config) -> RunReport:
    """The whole suite, run once for the session against the targets given on the command
    line."""
    targets = _targets(pytestconfig)
    if not targets:
        pytest.skip("no target: give --deltafed-adapter NAME or --deltafed-url URL")
    path = pytestconfig.getoption("deltafed_expected_failures")
    expected = ExpectedFailures.load(path) if path else ExpectedFailures({})
    return run(targets, expected=expected)


def test_deltafed_conformance(deltafed_report: RunReport, deltafed_check: str) -> None:
    """One check, on every target of the run."""
    outcomes = [(t.target, t.outcome(deltafed_check)) for t in deltafed_report.targets]
    bad = [
        f"{name}: {o.result.reason or 'passed, but declared as expected failure'}"
        for name, o in outcomes
        if o.bad
    ]
    if bad:
        pytest.fail("\n".join(bad), pytrace=False)
    verdicts = {o.verdict for _, o in outcomes}
    if verdicts == {Verdict.SKIPPED}:
        pytest.skip("; ".join(f"{n}: {o.result.reason}" for n, o in outcomes))
    if Verdict.XFAILED in verdicts:
        pytest.xfail("; ".join(f"{n}: {o.expected_failure}" for n, o in outcomes))
