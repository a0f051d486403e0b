"""Traceability: every requirement of the normative docs has a check or a reason, and the
table in docs/conformance.md is generated from the mapping."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from deltafed_conformance import ALL_CHECKS, Check
from deltafed_conformance._trace import (
    NORMATIVE_DOCS,
    load_trace,
    main,
    parse_trace,
    render_trace_table,
    replace_block,
    scan_document,
    scan_documents,
    trace_problems,
)

ROOT = Path(__file__).resolve().parents[2]


async def _noop(session: object) -> None:
    return None


WIRE = Check("DF-NEG-001", "wire", "docs/protocol.md §1: x", _noop)
LOCAL = Check("DF-MAP-001", "local", "docs/protocol.md §4: x", _noop, in_process=True)


def _problems(doc: str, mapping: str) -> list[str]:
    requirements, problems = scan_document(doc, "docs/x.md")
    traces, wrong = parse_trace(mapping)
    return problems + wrong + trace_problems(requirements, traces, (WIRE, LOCAL))


def test_every_requirement_of_the_normative_docs_is_traced() -> None:
    requirements, problems = scan_documents(ROOT)
    traces, wrong = load_trace()
    problems += wrong + trace_problems(requirements, traces, ALL_CHECKS)
    assert problems == []
    assert len(requirements) >= 80
    assert {r.doc for r in requirements} == set(NORMATIVE_DOCS)


def test_the_table_in_docs_conformance_md_is_generated() -> None:
    text = (ROOT / "docs" / "conformance.md").read_text("utf-8")
    requirements, _ = scan_documents(ROOT)
    traces, _ = load_trace()
    table = render_trace_table(requirements, traces, ALL_CHECKS)
    assert text == replace_block(text, "requirements", table), (
        "docs/conformance.md is stale: run `python -m deltafed_conformance._trace`"
    )
    for requirement in requirements:
        assert f"| `{requirement.id}` |" in table


def test_a_traced_requirement_passes() -> None:
    doc = "# 1. One\n\nA node MUST answer. [REQ:T-001] It MAY be slow.\n"
    assert _problems(doc, "T-001: DF-NEG-001\n") == []
    assert _problems(doc, "T-001: | nothing outside can see it\n") == []
    assert _problems(doc, "T-001: DF-MAP-001 | only the adapter shows it\n") == []


@pytest.mark.parametrize(
    ("doc", "mapping", "expected"),
    [
        # A MUST sentence without an id.
        ("A node MUST answer.\n", "", "a requirement without an id"),
        ("Nodes MUST NOT lie; they answer.\n", "", "a requirement without an id"),
        ("A field is REQUIRED.\n", "", "a requirement without an id"),
        # The id belongs to the sentence before it, not to the next one.
        ("A MUST x. [REQ:T-001] B MUST y.\n", "T-001: DF-NEG-001\n", "without an id"),
        # An id with neither a check nor a reason.
        ("A MUST x. [REQ:T-001]\n", "", "T-001 has neither a check nor a reason"),
        ("A MUST x. [REQ:T-001]\n", "T-001:\n", "has no check on the wire"),
        # Only an in-process check: say why none runs on the wire.
        ("A MUST x. [REQ:T-001]\n", "T-001: DF-MAP-001\n", "has no check on the wire"),
        # Unknown checks, unknown ids, a bad line, order, repetition.
        ("A MUST x. [REQ:T-001]\n", "T-001: DF-NEG-999\n", "names unknown checks"),
        ("A MUST x. [REQ:T-001]\n", "T-001: DF-NEG-001\nT-002: DF-NEG-001\n", "in no normative"),
        ("A MUST x. [REQ:T-001]\n", "T-001: not-a-check\n", "is not a check id"),
        ("A MUST x. [REQ:T-001]\n", "T-001 DF-NEG-001\n", "not 'ID: CHECKS | reason'"),
        (
            "A MUST x. [REQ:T-001] B MUST y. [REQ:T-002]\n",
            "T-002: DF-NEG-001\nT-001: DF-NEG-001\n",
            "not sorted",
        ),
        ("A MUST x. [REQ:T-001]\n", "T-001: DF-NEG-001\nT-001: | r\n", "more than once"),
        # The same id twice in the documents, and a malformed tag.
        ("A MUST x. [REQ:T-001]\n\nB MUST y. [REQ:T-001]\n", "T-001: DF-NEG-001\n", "used twice"),
        ("A MUST x. [REQ:t-1]\n", "", "malformed requirement tag"),
    ],
)
def test_the_rules_fail_when_broken(doc: str, mapping: str, expected: str) -> None:
    problems = _problems(doc, mapping)
    assert any(expected in p for p in problems), problems


def test_the_scanner_reads_markdown_as_prose() -> None:
    doc = (
        "# 5. Verification\n\n"
        "The key words `MUST` and `SHALL` are those of RFC 2119.\n\n"
        "```\nA MUST in a code block is an example.\n```\n\n"
        "* a list item MUST carry its own id, e.g. this one. [REQ:T-001]\n"
        "* the next item\n  MUST too, across lines... like so. [REQ:T-002]\n\n"
        "| a | table row MUST have one |  [REQ:T-003]\n\n"
        "A sentence ending in a colon MUST still count:\n[REQ:T-004]\n\n"
        "## 5.1 Steps\n\n"
        "1. **Size** MUST be checked first. [REQ:T-005] Then the rest.\n"
    )
    requirements, problems = scan_document(doc, "docs/x.md")
    assert problems == []
    assert [(r.id, r.section) for r in requirements] == [
        ("T-001", "§5"),
        ("T-002", "§5"),
        ("T-003", "§5"),
        ("T-004", "§5"),
        ("T-005", "§5.1"),
    ]
    assert requirements[4].sentence == "**Size** MUST be checked first."


def test_the_mapping_is_packaged_and_every_new_check_is_traced() -> None:
    traces, problems = load_trace()
    assert problems == []
    named = {check for trace in traces for check in trace.checks}
    assert {"DF-NEG-024", "DF-NEG-029", "DF-POL-008"} <= named


def test_main_rewrites_the_tables_in_both_languages(tmp_path: Path) -> None:
    pages = ("docs/conformance.md", "docs/zh/conformance.md")
    for name in (*NORMATIVE_DOCS, *pages):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, tmp_path / name)
    for name in pages:
        text = (tmp_path / name).read_text("utf-8")
        stale = replace_block(replace_block(text, "checks", "stale\n"), "requirements", "stale\n")
        (tmp_path / name).write_text(stale, encoding="utf-8")
    assert main([str(tmp_path)]) == 0
    for name in pages:
        assert (tmp_path / name).read_text("utf-8") == (ROOT / name).read_text("utf-8")
