"""The deltafed conformance suite: does a node speak the federation protocol correctly?

Run it against an adapter in process (``deltafed conformance --adapter jiangsu``) or against
a live node of any implementation (``deltafed conformance --url ... --registry ...``), or
from Python::

    from deltafed_conformance import AdapterTarget, run

    report = run([AdapterTarget("memory")])
    assert report.passed

Each :class:`Check` has a stable id, quotes the section of ``docs/protocol.md`` it enforces,
and yields a :class:`Result` (pass, fail, skip or error). See ``docs/conformance.md``.
"""

from deltafed_conformance._checks import ALL_CHECKS, select_checks
from deltafed_conformance._golden import GoldenSample, generate_golden, load_golden
from deltafed_conformance._model import (
    Check,
    CheckFailed,
    CheckOutcome,
    CheckSkipped,
    Result,
    RunReport,
    Status,
    TargetReport,
    Verdict,
)
from deltafed_conformance._profile import Profile, Subject, load_profile, synthetic_profile
from deltafed_conformance._report import (
    TerminalReporter,
    render_html,
    render_json,
    render_junit,
    report_document,
    write_reports,
)
from deltafed_conformance._runner import ExpectedFailures, run, run_async
from deltafed_conformance._session import Reply, Session, craft
from deltafed_conformance._targets import (
    AdapterTarget,
    FederationFixture,
    LiveTarget,
    NodeParts,
    Target,
)

__all__ = [
    "ALL_CHECKS",
    "AdapterTarget",
    "Check",
    "CheckFailed",
    "CheckOutcome",
    "CheckSkipped",
    "ExpectedFailures",
    "FederationFixture",
    "GoldenSample",
    "LiveTarget",
    "NodeParts",
    "Profile",
    "Reply",
    "Result",
    "RunReport",
    "Session",
    "Status",
    "Subject",
    "Target",
    "TargetReport",
    "TerminalReporter",
    "Verdict",
    "craft",
    "generate_golden",
    "load_golden",
    "load_profile",
    "render_html",
    "render_json",
    "render_junit",
    "report_document",
    "run",
    "run_async",
    "select_checks",
    "synthetic_profile",
    "write_reports",
]
