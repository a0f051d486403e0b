"""The HTML report as headless Chromium renders it, not only as its markup parses.

A probe script (the test's, appended to a copy of the page) measures the laid-out page and
writes what it saw into the document; ``--dump-dom`` returns it.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any, Protocol

import pytest

from deltafed_conformance import (
    AdapterTarget,
    ExpectedFailures,
    RunReport,
    Verdict,
    render_html,
    run,
    select_checks,
)

from .faulty import FAULTY

pytestmark = pytest.mark.browser


class Chromium(Protocol):
    """The ``chromium`` fixture of ``tests/conftest.py``."""

    def dump_dom(self, page: Path, *, width: int = ..., height: int = ...) -> str: ...

    def screenshot(self, page: Path, png: Path, *, width: int = ..., height: int = ...) -> None: ...


#: Where the reason of each verdict that is not a pass must be listed.
SECTION = {
    Verdict.FAILED: "failures",
    Verdict.XPASSED: "failures",
    Verdict.XFAILED: "expected-failures",
    Verdict.SKIPPED: "skipped",
}

PROBE = """
<script>
window.addEventListener("load", () => {
  const seen = {ids: [], cells: [], sections: [], tableBottom: 0};
  const table = document.querySelector("table.matrix");
  seen.tableBottom = table.getBoundingClientRect().bottom;
  for (const code of table.querySelectorAll("td.id code")) {
    const style = getComputedStyle(code);
    seen.ids.push({
      text: code.textContent,
      boxes: code.getClientRects().length,
      height: code.getBoundingClientRect().height,
      lineHeight: parseFloat(style.lineHeight) || 1.2 * parseFloat(style.fontSize),
    });
  }
  for (const row of table.querySelectorAll("tbody tr")) {
    [...row.querySelectorAll("td.verdict")].forEach((td, i) => {
      const link = td.querySelector("a[href]");
      const href = link ? link.getAttribute("href") : null;
      const to = href && href.startsWith("#") ? document.getElementById(href.slice(1)) : null;
      const section = to ? to.closest("section") : null;
      seen.cells.push({
        check: row.id,
        target: i + 1,
        text: td.textContent,
        background: getComputedStyle(td).backgroundColor,
        href: href,
        found: to !== null,
        section: section ? section.id : null,
        reason: to ? to.textContent : null,
      });
    });
  }
  for (const section of document.querySelectorAll("section")) {
    const box = section.getBoundingClientRect();
    seen.sections.push({
      id: section.id,
      background: getComputedStyle(section).backgroundColor,
      border: getComputedStyle(section).borderLeftColor,
      top: box.top,
      items: section.querySelectorAll("li").length,
    });
  }
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(seen);
  document.body.appendChild(out);
});
</script>
"""


@pytest.fixture(scope="module")
def report() -> RunReport:
    """Every kind of verdict: a failure, an unexpected pass, a declared gap, skips."""
    unbound = next(f for f in FAULTY if f.name == "unbound-response").target()
    bad_sig = next(f for f in FAULTY if f.name == "accepts-bad-signature").target()
    # Declared for every target: a gap on the unbound node, an unexpected pass on the others.
    gaps = ExpectedFailures.parse("DF-SIG-002  the digest is computed too late (OPS-1)\n")
    checks = select_checks(["DF-SIG", "DF-NEG-001", "DF-NEG-002", "DF-MAP"])
    return run([AdapterTarget("memory", name="good"), unbound, bad_sig], checks, expected=gaps)


def _probe(chromium: Chromium, page: str, folder: Path, *, width: int) -> dict[str, Any]:
    probed = folder / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium.dump_dom(probed, width=width, height=900)
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found is not None, "the probe did not run: " + dom[-500:]
    seen: dict[str, Any] = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    return seen


def test_the_rendered_report(report: RunReport, chromium: Chromium, tmp_path: Path) -> None:
    verdicts = {o.verdict for t in report.targets for o in t.outcomes}
    assert verdicts == set(Verdict)  # the page shows every kind
    page = render_html(report)
    # Narrow on purpose: the requirement column takes the room, the check ids must not wrap.
    seen = _probe(chromium, page, tmp_path, width=760)

    assert [i["text"] for i in seen["ids"]] == [c.id for c in report.checks]
    for shown in seen["ids"]:
        assert shown["boxes"] == 1, f"{shown['text']} wraps"
        assert shown["height"] <= shown["lineHeight"] * 1.2, shown

    cells = {(c["check"], c["target"]): c for c in seen["cells"]}
    assert len(cells) == len(report.checks) * len(report.targets)
    colours: dict[str, set[str]] = {}
    for index, target in enumerate(report.targets, start=1):
        for outcome in target.outcomes:
            cell = cells[(outcome.check.id, index)]
            kind = SECTION.get(outcome.verdict, "passed")
            colours.setdefault(kind, set()).add(cell["background"])
            if outcome.verdict is Verdict.PASSED:
                assert cell["href"] is None
                continue
            # Every other cell links to an anchor that exists, in the right section,
            # naming the target and the check, with the reason.
            assert cell["found"], cell
            assert cell["section"] == SECTION[outcome.verdict], cell
            assert target.target in cell["reason"]
            assert outcome.check.id in cell["reason"]
            assert (outcome.result.reason or "") in cell["reason"]
    # One colour for a pass, one for what fails the run (a failure, an unexpected pass), one
    # for a declared gap, one for a skip.
    assert all(len(c) == 1 for c in colours.values()), colours
    assert len({next(iter(c)) for c in colours.values()}) == len(colours)

    sections = {s["id"]: s for s in seen["sections"]}
    assert list(sections) == ["failures", "expected-failures", "skipped"]
    for shown in sections.values():
        assert shown["top"] > seen["tableBottom"]  # under the matrix
    assert len({s["background"] for s in sections.values()}) == 3
    assert len({s["border"] for s in sections.values()}) == 3
    # A section in the colour of the cells that link into it.
    for name, shown in sections.items():
        assert {shown["background"]} == colours[name]
    counted = dict.fromkeys(sections, 0)
    for target in report.targets:
        for outcome in target.outcomes:
            if outcome.verdict is not Verdict.PASSED:
                counted[SECTION[outcome.verdict]] += 1
    assert {k: s["items"] for k, s in sections.items()} == counted


def test_the_report_paints(report: RunReport, chromium: Chromium, tmp_path: Path) -> None:
    """A screenshot is taken (kept in the test's folder for a human to look at)."""
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    png = tmp_path / "report.png"
    chromium.screenshot(page, png, width=1000, height=1400)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1000, 1400)
