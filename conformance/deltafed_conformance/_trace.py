"""Traceability: every requirement of the normative docs, and the checks that test it.

A requirement is a ``MUST`` / ``MUST NOT`` / ``REQUIRED`` / ``SHALL`` sentence of a normative
document (:data:`NORMATIVE_DOCS`) followed by its stable id, ``[REQ:PROTO-012]``. The mapping
``traceability.txt`` (next to this module, one requirement per line, sorted) names for each id
the checks that test it, or the reason no check can see it from outside a node:

    PROTO-003: DF-NEG-014
    NODE-027: DF-ADP-010 | a live node's platform cannot be made to fail from outside

Checks that run only in process against an adapter (:attr:`Check.in_process`) count as
in-process checks: a requirement needs a check that runs on the wire, or a reason (and then
may add in-process checks). :func:`trace_problems` lists everything that breaks these rules;
a test keeps the list empty, and :func:`render_trace_table` is the table that
``docs/conformance.md`` carries (``python -m deltafed_conformance._trace`` rewrites it).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

from deltafed_conformance._model import Check

__all__ = [
    "NORMATIVE_DOCS",
    "Requirement",
    "Trace",
    "load_trace",
    "parse_trace",
    "render_trace_table",
    "scan_document",
    "scan_documents",
    "trace_problems",
]

#: Every normative document, relative to the repository root. Add a new one here.
NORMATIVE_DOCS: Final[tuple[str, ...]] = (
    "docs/protocol.md",
    "docs/node.md",
    "docs/adapters.md",
    "docs/trust.md",
)

_ID: Final = r"[A-Z]+(?:-[A-Z]+)*-\d{3}"
_TAG: Final = re.compile(rf"\[REQ:({_ID})\]")
_TRAILING_TAG: Final = re.compile(rf"\s*\[REQ:({_ID})\]")
_ANY_TAG: Final = re.compile(r"\[REQ:[^\]]*\]")
_KEYWORD: Final = re.compile(r"\b(?:MUST|REQUIRED|SHALL)\b")
_CODE_SPAN: Final = re.compile(r"`[^`\n]*`")
_HEADING: Final = re.compile(r"#{1,6} +(.+)")
_SECTION: Final = re.compile(r"(\d+(?:\.\d+)*)\.? ")
_MARKER: Final = re.compile(r"(?:[*+-]|\d+\.)\s+")
_BLOCK_START: Final = re.compile(r"\s*(?:[*+-]|\d+\.)\s|\s*\|")
# A sentence ends with . ! or ? before white space, unless it ends an abbreviation (e.g., etc.)
# or an ellipsis.
_END: Final = re.compile(r"(?<![A-Za-z]\.[a-z])(?<!\betc)(?<!\bcf)(?<!\bvs)(?<!\.\.)[.!?](?=\s|$)")
_LINE: Final = re.compile(rf"({_ID}):([^|]*)(?:\|(.*))?")
_CHECK: Final = re.compile(r"DF-[A-Z]+-\d{3}")
TRACE_FILE: Final = "traceability.txt"


@dataclass(frozen=True, slots=True)
class Requirement:
    """One requirement: its id, where it is, and its sentence (without the id)."""

    id: str
    doc: str
    section: str
    line: int
    sentence: str


@dataclass(frozen=True, slots=True)
class Trace:
    """One line of the mapping: the checks that test a requirement, or why none can."""

    id: str
    checks: tuple[str, ...]
    reason: str
    line: int


@dataclass(frozen=True, slots=True)
class _Sentence:
    text: str
    ids: tuple[str, ...]
    line: int


def _blocks(text: str) -> Iterable[tuple[int, str, str]]:
    """(first line number, section, text) of each paragraph, list item or table row."""
    section = ""
    fenced = False
    current: list[str] = []
    start = 0

    def flush() -> Iterable[tuple[int, str, str]]:
        if current:
            block = " ".join(part.strip() for part in current)
            yield start, section, _MARKER.sub("", block, count=1)
            current.clear()

    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            yield from flush()
            fenced = not fenced
            continue
        if fenced:
            continue
        heading = _HEADING.fullmatch(line.strip())
        if heading is not None and line.startswith("#"):
            yield from flush()
            title = heading.group(1)
            match = _SECTION.match(title)
            section = f"§{match.group(1)}" if match else title.strip()
            continue
        if not line.strip():
            yield from flush()
            continue
        if _BLOCK_START.match(line):
            yield from flush()
        if not current:
            start = number
        current.append(line)
    yield from flush()


def _sentences(block: str, line: int) -> list[_Sentence]:
    # Code spans may hold dots and key words: blank them out, keeping offsets.
    masked = _CODE_SPAN.sub(lambda m: "`" + "x" * (len(m.group(0)) - 2) + "`", block)
    masked = _ANY_TAG.sub(lambda m: " " * len(m.group(0)), masked)
    sentences: list[_Sentence] = []
    begin = 0
    ends = [m.end() for m in _END.finditer(masked)] + [len(block)]
    position = 0
    for end in ends:
        if end <= position:
            continue
        # The ids in the sentence and those written right after it belong to it.
        tail = end
        ids = _TAG.findall(block, begin, end)
        while True:
            match = _TRAILING_TAG.match(block, tail)
            if match is None:
                break
            ids.append(match.group(1))
            tail = match.end()
        text = block[begin:end]
        if text.strip() or ids:
            sentences.append(_Sentence(masked[begin:end], tuple(ids), line))
        begin = position = tail
    return sentences


def scan_document(text: str, doc: str) -> tuple[list[Requirement], list[str]]:
    """The requirements of one document, and what is wrong with its tags."""
    requirements: list[Requirement] = []
    problems: list[str] = []
    for line, section, block in _blocks(text):
        for bad in _ANY_TAG.findall(_CODE_SPAN.sub("", block)):
            if _TAG.fullmatch(bad) is None:
                problems.append(f"{doc}:{line}: malformed requirement tag {bad}")
        for sentence in _sentences(block, line):
            plain = " ".join(sentence.text.split())
            if _KEYWORD.search(sentence.text) and not sentence.ids:
                problems.append(f"{doc}:{line}: a requirement without an id: {plain[:120]!r}")
            for requirement_id in sentence.ids:
                requirements.append(Requirement(requirement_id, doc, section, line, plain))
    return requirements, problems


def scan_documents(root: Path) -> tuple[list[Requirement], list[str]]:
    """Every requirement of :data:`NORMATIVE_DOCS` under ``root``, and the tag problems."""
    requirements: list[Requirement] = []
    problems: list[str] = []
    for doc in NORMATIVE_DOCS:
        found, wrong = scan_document((root / doc).read_text("utf-8"), doc)
        requirements.extend(found)
        problems.extend(wrong)
    return requirements, problems


def parse_trace(text: str) -> tuple[list[Trace], list[str]]:
    """The mapping's lines, and what is wrong with its syntax or order."""
    traces: list[Trace] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            problems.append(f"{TRACE_FILE}:{number}: not 'ID: CHECKS | reason': {raw!r}")
            continue
        checks = tuple(match.group(2).split())
        for check in checks:
            if _CHECK.fullmatch(check) is None:
                problems.append(f"{TRACE_FILE}:{number}: {check!r} is not a check id")
        traces.append(Trace(match.group(1), checks, (match.group(3) or "").strip(), number))
    ids = [t.id for t in traces]
    if ids != sorted(ids):
        problems.append(f"{TRACE_FILE}: lines are not sorted by requirement id")
    for repeated in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"{TRACE_FILE}: {repeated} is listed more than once")
    return traces, problems


def load_trace() -> tuple[list[Trace], list[str]]:
    """The packaged mapping (see the module docstring)."""
    text = resources.files("deltafed_conformance").joinpath(TRACE_FILE).read_text("utf-8")
    return parse_trace(text)


def trace_problems(
    requirements: Sequence[Requirement], traces: Sequence[Trace], checks: Sequence[Check]
) -> list[str]:
    """Everything that breaks the traceability rules (an empty list when all is well)."""
    problems: list[str] = []
    seen: dict[str, Requirement] = {}
    for requirement in requirements:
        first = seen.setdefault(requirement.id, requirement)
        if first is not requirement:
            problems.append(
                f"{requirement.id} is used twice: {first.doc}:{first.line} and "
                f"{requirement.doc}:{requirement.line}"
            )
    by_id = {c.id: c for c in checks}
    mapped = {t.id: t for t in traces}
    for trace in traces:
        where = f"{TRACE_FILE}:{trace.line}"
        if trace.id not in seen:
            problems.append(f"{where}: {trace.id} is in no normative document")
        unknown = [c for c in trace.checks if c not in by_id]
        if unknown:
            problems.append(f"{where}: {trace.id} names unknown checks {unknown}")
        wire = [c for c in trace.checks if c in by_id and not by_id[c].in_process]
        if not wire and not trace.reason:
            problems.append(
                f"{where}: {trace.id} has no check on the wire: name one, or say why none can "
                "see it from outside ('| reason')"
            )
    for requirement_id, requirement in seen.items():
        if requirement_id not in mapped:
            problems.append(
                f"{requirement.doc}:{requirement.line}: {requirement_id} has neither a check "
                f"nor a reason in {TRACE_FILE}"
            )
    return problems


def _where(requirement: Requirement) -> str:
    name = requirement.doc.rsplit("/", 1)[-1]
    return f"{name} {requirement.section}".strip()


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_trace_table(
    requirements: Sequence[Requirement], traces: Sequence[Trace], checks: Sequence[Check]
) -> str:
    """The Markdown traceability table that ``docs/conformance.md`` carries."""
    by_id: Mapping[str, Check] = {c.id: c for c in checks}
    mapped = {t.id: t for t in traces}
    rows = []
    wire_count = reason_count = 0
    for requirement in sorted(requirements, key=lambda r: (r.id.rsplit("-", 1)[0], r.id)):
        trace = mapped.get(requirement.id)
        names = trace.checks if trace else ()
        wire = [c for c in names if c in by_id and not by_id[c].in_process]
        local = [c for c in names if c in by_id and by_id[c].in_process]
        if wire:
            wire_count += 1
        else:
            reason_count += 1
        rows.append(
            f"| `{requirement.id}` | {_where(requirement)} | "
            f"{', '.join(f'`{c}`' for c in wire) or '-'} | "
            f"{', '.join(f'`{c}`' for c in local) or '-'} | "
            f"{_cell(trace.reason) if trace and trace.reason else ''} |"
        )
    head = [
        f"{len(rows)} requirements: {wire_count} tested on the wire, {reason_count} with a "
        "reason why no check can see them from outside.",
        "",
        "| requirement | where | checks on the wire | in process (adapter) | why not on the wire |",
        "| --- | --- | --- | --- | --- |",
    ]
    return "\n".join(head + rows) + "\n"


def replace_block(text: str, name: str, content: str) -> str:
    """``text`` with the generated block ``<!-- name:begin -->...<!-- name:end -->`` replaced."""
    begin, end = f"<!-- {name}:begin -->\n", f"<!-- {name}:end -->"
    start, stop = text.index(begin) + len(begin), text.index(end)
    return text[:start] + content + text[stop:]


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite the generated tables of ``docs/conformance.md`` (and of its Chinese twin
    ``docs/zh/conformance.md``, if there is one) under a repository root."""
    from deltafed_conformance._checks import ALL_CHECKS
    from deltafed_conformance._report import render_check_table

    args = list(sys.argv[1:] if argv is None else argv)
    root = Path(args[0]) if args else Path.cwd()
    requirements, problems = scan_documents(root)
    traces, wrong = load_trace()
    problems += wrong + trace_problems(requirements, traces, ALL_CHECKS)
    tables = {
        "checks": render_check_table(ALL_CHECKS),
        "requirements": render_trace_table(requirements, traces, ALL_CHECKS),
    }
    pages = [root / "docs" / "conformance.md"]
    # The Chinese page carries the same tables (tests/test_docs_zh.py compares them).
    chinese = root / "docs" / "zh" / "conformance.md"
    if chinese.exists():
        pages.append(chinese)
    for page in pages:
        text = page.read_text("utf-8")
        for name, table in tables.items():
            text = replace_block(text, name, table)
        page.write_text(text, encoding="utf-8")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
