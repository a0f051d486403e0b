"""docs/protocol.md: its python examples run, and its problem-code table is the real one."""

from __future__ import annotations

import re
from pathlib import Path

from deltafed._errors import error_for_code
from deltafed.schemas import PROBLEM_CODES

DOCS = Path(__file__).resolve().parents[2] / "docs"
SPEC = (DOCS / "protocol.md").read_text(encoding="utf-8")


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def test_the_examples_run() -> None:
    blocks = python_blocks(SPEC)
    assert len(blocks) >= 5
    namespace: dict[str, object] = {"__name__": "protocol_docs"}
    for block in blocks:
        exec(compile(block, "docs/protocol.md", "exec"), namespace)
    assert "response" in namespace


def test_problem_code_table_is_complete_and_right() -> None:
    section = SPEC.split("## 6. Problem codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", section, flags=re.MULTILINE)
    table = {code: int(status) for code, status in rows}
    assert set(table) == set(PROBLEM_CODES)
    for code, status in table.items():
        assert error_for_code(code).status == status, code
