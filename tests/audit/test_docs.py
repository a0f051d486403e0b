"""The python examples of docs/audit.md run, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit.md"


def test_audit_doc_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) >= 4
    namespace: dict[str, object] = {"__name__": "audit_doc"}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    namespace["store"].close()  # type: ignore[attr-defined]
