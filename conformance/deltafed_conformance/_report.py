"""Reports: live terminal lines, JSON, JUnit XML, and a static HTML matrix."""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

from deltafed_conformance._model import Check, CheckOutcome, RunReport, Status, Verdict
from deltafed_conformance._targets import Target

__all__ = [
    "TerminalReporter",
    "render_check_table",
    "render_html",
    "render_json",
    "render_junit",
    "report_document",
    "summary_lines",
    "write_reports",
]

SUITE: Final = "deltafed-conformance"
_MARK: Final = {
    Verdict.PASSED: "PASS",
    Verdict.FAILED: "FAIL",
    Verdict.SKIPPED: "SKIP",
    Verdict.XFAILED: "XFAIL",
    Verdict.XPASSED: "XPASS",
}


class TerminalReporter:
    """Prints one line per check as it ends, then a summary (plain lines, no TTY tricks)."""

    def __init__(self, out: TextIO, *, verbose: bool = False) -> None:
        self.out = out
        self.verbose = verbose

    def __call__(self, target: Target, outcome: CheckOutcome, index: int, total: int) -> None:
        verdict = outcome.verdict
        if verdict is Verdict.PASSED and not self.verbose:
            # Keep passes short: one line each, no reason.
            line = f"[{index:>3}/{total}] {target.name}  {outcome.check.id}  PASS"
        else:
            reason = outcome.result.reason or outcome.expected_failure or ""
            line = (
                f"[{index:>3}/{total}] {target.name}  {outcome.check.id}  {_MARK[verdict]}"
                f"  {outcome.check.title}" + (f": {reason}" if reason else "")
            )
        print(line, file=self.out, flush=True)

    def summary(self, report: RunReport) -> None:
        for line in summary_lines(report):
            print(line, file=self.out)


def summary_lines(report: RunReport) -> list[str]:
    lines = [""]
    for target in report.targets:
        counts: dict[str, int] = {}
        for outcome in target.outcomes:
            counts[outcome.verdict.value] = counts.get(outcome.verdict.value, 0) + 1
        parts = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
        lines.append(f"{target.target} ({target.kind}): {parts} in {target.duration:.2f} s")
        for outcome in target.outcomes:
            if outcome.bad:
                what = (
                    "passed but is declared as an expected failure"
                    if outcome.verdict is Verdict.XPASSED
                    else outcome.result.reason
                )
                lines.append(f"  {_MARK[outcome.verdict]} {outcome.check.id}: {what}")
    total = report.counts()
    lines.append(
        f"{'PASSED' if report.passed else 'FAILED'}: "
        + ", ".join(f"{n} {v}" for v, n in total.items() if n)
        + f" ({len(report.targets)} target(s), {len(report.checks)} checks) "
        f"in {report.duration:.2f} s"
    )
    return lines


def _outcome(outcome: CheckOutcome) -> dict[str, Any]:
    check = outcome.check
    return {
        "id": check.id,
        "title": check.title,
        "category": check.category,
        "requirement": check.requirement,
        "status": outcome.result.status.value,
        "verdict": outcome.verdict.value,
        "reason": outcome.result.reason,
        "duration": round(outcome.result.duration, 6),
        "expected_failure": outcome.expected_failure,
    }


def report_document(report: RunReport) -> dict[str, Any]:
    """The JSON report as a dict."""
    return {
        "suite": SUITE,
        "started": report.started,
        "duration": round(report.duration, 3),
        "passed": report.passed,
        "counts": report.counts(),
        "checks": [
            {
                "id": c.id,
                "title": c.title,
                "category": c.category,
                "requirement": c.requirement,
            }
            for c in report.checks
        ],
        "targets": [
            {
                "name": t.target,
                "kind": t.kind,
                "duration": round(t.duration, 3),
                "passed": not any(o.bad for o in t.outcomes),
                "results": [_outcome(o) for o in t.outcomes],
            }
            for t in report.targets
        ],
    }


def render_json(report: RunReport) -> str:
    """The run as a JSON document: every target, every check, its status and reason."""
    return json.dumps(report_document(report), ensure_ascii=False, indent=2) + "\n"


def render_junit(report: RunReport) -> str:
    """JUnit XML: one ``testsuite`` per target, one ``testcase`` per check.

    A failed check (or an expected failure that passed) is a ``failure``, a check that could
    not run an ``error``, a skipped check or a declared gap a ``skipped``.
    """
    root = ET.Element(
        "testsuites", name=SUITE, tests=str(sum(len(t.outcomes) for t in report.targets))
    )
    for target in report.targets:
        verdicts = [o.verdict for o in target.outcomes]
        errors = sum(
            1
            for o in target.outcomes
            if o.result.status is Status.ERROR and o.verdict is Verdict.FAILED
        )
        failures = sum(1 for o in target.outcomes if o.bad) - errors
        suite = ET.SubElement(
            root,
            "testsuite",
            name=target.target,
            tests=str(len(verdicts)),
            failures=str(failures),
            errors=str(errors),
            skipped=str(sum(v in (Verdict.SKIPPED, Verdict.XFAILED) for v in verdicts)),
            time=f"{target.duration:.3f}",
        )
        for outcome in target.outcomes:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{SUITE}.{target.target}.{outcome.check.category}",
                name=f"{outcome.check.id} {outcome.check.title}",
                time=f"{outcome.result.duration:.3f}",
            )
            verdict = outcome.verdict
            reason = outcome.result.reason
            if verdict is Verdict.XPASSED:
                ET.SubElement(case, "failure", message="passed, but declared as expected failure")
            elif verdict is Verdict.FAILED:
                tag = "error" if outcome.result.status is Status.ERROR else "failure"
                element = ET.SubElement(case, tag, message=reason[:500])
                element.text = f"{outcome.check.requirement}\n{reason}"
            elif verdict is Verdict.XFAILED:
                ET.SubElement(
                    case, "skipped", message=f"expected failure: {outcome.expected_failure}"
                )
            elif verdict is Verdict.SKIPPED:
                ET.SubElement(case, "skipped", message=reason[:500])
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


_STYLE: Final = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
td.id, td.id code, td.verdict, th.target { white-space: nowrap; }
.passed { background: #dff0d8; }
.failed, .xpassed { background: #f2dede; color: #8a1f11; }
.xfailed { background: #fcf8e3; color: #6d5200; }
.skipped { background: #eef1f4; color: #555; }
td.verdict a { color: inherit; font-weight: bold; }
.req { color: #555; font-size: 90%; }
ul.counts { list-style: none; padding: 0; display: flex; gap: 0.5em; flex-wrap: wrap; }
ul.counts li { padding: 2px 8px; border: 1px solid #ccc; }
ul.counts a { color: inherit; }
section.outcomes { margin-top: 1.5em; padding: 0.2em 1em 0.5em; border-left: 6px solid; }
section.failed { border-color: #c9302c; } section.xfailed { border-color: #d5a000; }
section.skipped { border-color: #8a96a3; }
section.outcomes h2 { margin: 0.4em 0; }
section.outcomes ol { padding-left: 1.5em; }
section.outcomes li { margin: 0.4em 0; }
section.outcomes li:target { outline: 2px solid #337ab7; }
.reason { margin: 0.2em 0 0; overflow-wrap: anywhere; }
section.outcomes a { color: inherit; }
"""

#: The sections under the matrix, in order: (id, css class, heading, verdicts listed).
_SECTIONS: Final = (
    (
        "failures",
        "failed",
        "Failures: these fail the run",
        (Verdict.FAILED, Verdict.XPASSED),
    ),
    (
        "expected-failures",
        "xfailed",
        "Declared gaps: failed as the expected-failures file says",
        (Verdict.XFAILED,),
    ),
    ("skipped", "skipped", "Skipped: not judged", (Verdict.SKIPPED,)),
)


def _anchor(target_index: int, check_id: str) -> str:
    """The id of the reason of one cell (target positions make it unique; names may repeat)."""
    return f"t{target_index}-{check_id}"


def _cell_mark(outcome: CheckOutcome) -> str:
    if outcome.verdict is Verdict.FAILED and outcome.result.status is Status.ERROR:
        return "ERROR"
    return _MARK[outcome.verdict]


def _why(outcome: CheckOutcome) -> str:
    verdict = outcome.verdict
    if verdict is Verdict.XPASSED:
        return f"passed, but declared as an expected failure: {outcome.expected_failure}"
    if verdict is Verdict.XFAILED:
        return f"{outcome.result.reason} (declared: {outcome.expected_failure})"
    if outcome.result.status is Status.ERROR:
        return f"the check could not run: {outcome.result.reason}"
    return outcome.result.reason or outcome.expected_failure or ""


def render_html(report: RunReport) -> str:
    """A static page: a matrix of checks (rows) by targets (columns), then the reasons.

    Every cell that did not pass links to its reason. The reasons are in separate sections,
    each in its own colour: failures (what fails the run), declared gaps, and skips.
    """
    esc: Callable[[object], str] = lambda value: html.escape(str(value), quote=True)  # noqa: E731
    header = "".join(
        f'<th class="target">{esc(t.target)}<br><small>{esc(t.kind)}</small></th>'
        for t in report.targets
    )
    rows = []
    for check in report.checks:
        cells = []
        for index, target in enumerate(report.targets, start=1):
            try:
                outcome = target.outcome(check.id)
            except KeyError:
                cells.append("<td></td>")
                continue
            verdict = outcome.verdict
            mark = _cell_mark(outcome)
            if verdict is Verdict.PASSED:
                cells.append(f'<td class="verdict passed">{mark}</td>')
                continue
            cells.append(
                f'<td class="verdict {verdict.value}">'
                f'<a href="#{_anchor(index, check.id)}" title="{esc(_why(outcome))}">{mark}</a>'
                "</td>"
            )
        rows.append(
            f'<tr id="{esc(check.id)}"><td class="id"><code>{esc(check.id)}</code></td>'
            f'<td>{esc(check.title)}<div class="req">{esc(check.requirement)}</div></td>'
            + "".join(cells)
            + "</tr>"
        )
    sections = []
    for section_id, css, heading, verdicts in _SECTIONS:
        items = []
        for index, target in enumerate(report.targets, start=1):
            for outcome in target.outcomes:
                if outcome.verdict not in verdicts:
                    continue
                check = outcome.check
                items.append(
                    f'<li id="{_anchor(index, check.id)}">'
                    f"<b>{esc(target.target)}</b> "
                    f'<a href="#{esc(check.id)}"><code>{esc(check.id)}</code></a> '
                    f"{_cell_mark(outcome)} {esc(check.title)}"
                    f'<div class="reason">{esc(_why(outcome))}</div></li>'
                )
        body = f"<ol>{''.join(items)}</ol>" if items else "<p>none</p>"
        sections.append(
            f'<section id="{section_id}" class="outcomes {css}">'
            f"<h2>{heading} ({len(items)})</h2>{body}</section>"
        )
    overall = "PASSED" if report.passed else "FAILED"
    section_of = {v: section_id for section_id, _, _, vs in _SECTIONS for v in vs}
    totals = report.counts()
    counts = "".join(
        f'<li class="{v.value}">'
        + (f'<a href="#{section_of[v]}">{n} {v.value}</a>' if v in section_of else f"{n} {v}")
        + "</li>"
        for v in Verdict
        if (n := totals[v.value])
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>deltafed conformance: {overall}</title><style>{_STYLE}</style></head><body>"
        f"<h1>deltafed conformance: {overall}</h1>"
        f"<p>Started {esc(report.started)}; {len(report.checks)} checks on "
        f"{len(report.targets)} target(s); {report.duration:.2f} s.</p>"
        f'<ul class="counts">{counts}</ul>'
        f'<table class="matrix"><thead><tr><th>Check</th><th>Requirement</th>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>" + "".join(sections) + "</body></html>\n"
    )


def write_reports(
    report: RunReport,
    *,
    json_path: str | Path | None = None,
    junit_path: str | Path | None = None,
    html_path: str | Path | None = None,
) -> None:
    """Write the JSON, JUnit XML and HTML reports to the paths given (``None`` skips one)."""
    for path, render in (
        (json_path, render_json),
        (junit_path, render_junit),
        (html_path, render_html),
    ):
        if path is not None:
            Path(path).write_text(render(report), encoding="utf-8")


def render_check_table(checks: Sequence[Check]) -> str:
    """The Markdown table of ``checks`` that ``docs/conformance.md`` carries."""
    lines = ["| id | check | requirement |", "| --- | --- | --- |"]
    for check in checks:
        requirement = check.requirement.removeprefix("docs/protocol.md ").replace("|", "\\|")
        lines.append(f"| `{check.id}` | {check.title} | {requirement} |")
    return "\n".join(lines) + "\n"
