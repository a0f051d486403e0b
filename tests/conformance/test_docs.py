"""docs/conformance.md: its Python examples run, its profile parses, its check table is current."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from deltafed_conformance import ALL_CHECKS
from deltafed_conformance._profile import identity_cards, profile_from_mapping, synthetic_profile
from deltafed_conformance._report import render_check_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "conformance.md"
TEXT = DOC.read_text("utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", TEXT, flags=re.S | re.M)


def test_python_examples_run() -> None:
    blocks = _blocks("python")
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {})


def test_profile_example_is_the_synthetic_profile() -> None:
    (example,) = _blocks("toml")
    parsed = profile_from_mapping(tomllib.loads(example), base=DOC.parent)
    expected = synthetic_profile("320000", node="320000/dsj")
    assert parsed.verify == expected.verify
    assert parsed.release == expected.release
    assert parsed.record == expected.record
    assert parsed.absent_holder_code == expected.absent_holder_code
    assert parsed.outsider_id == "340000/conformance-outsider"
    assert parsed.revoked == identity_cards("320000")[1]


def test_check_table_is_generated_and_complete() -> None:
    begin, end = "<!-- checks:begin -->\n", "<!-- checks:end -->"
    table = TEXT[TEXT.index(begin) + len(begin) : TEXT.index(end)]
    assert table == render_check_table(ALL_CHECKS)
    for check in ALL_CHECKS:
        assert f"`{check.id}`" in table
