"""The Python examples in docs/adapters.md run, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

from deltafed.adapters import load_adapter, unregister_adapter

DOC = Path(__file__).parents[2] / "docs" / "adapters.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def test_docs_examples_run() -> None:
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 5
    namespace: dict[str, object] = {"__name__": "docs_adapters"}
    try:
        for index, block in enumerate(blocks):
            code = compile(block, f"{DOC.name}[block {index}]", "exec")
            exec(code, namespace)
        assert load_adapter("tiny-anhui") is namespace["TinyAnhuiAdapter"]
    finally:
        unregister_adapter("tiny-anhui")


def test_docs_say_the_native_sides_are_modelled() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "modelled, not official" in text
    for code in ("A0230", "1004", "head    | 100", "| 18 "):
        assert code in text
