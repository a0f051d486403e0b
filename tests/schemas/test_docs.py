"""The python examples in docs/schemas.md run, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import deltafed.schemas as schemas

DOC = Path(__file__).resolve().parents[2] / "docs" / "schemas.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text(encoding="utf-8"))


def test_docs_have_examples() -> None:
    assert len(blocks()) >= 8


def test_docs_examples_run() -> None:
    namespace: dict[str, object] = {"__name__": "docs_schemas"}
    for i, code in enumerate(blocks()):
        exec(compile(code, f"{DOC.name}[python block {i}]", "exec"), namespace)


def test_docs_mention_every_pinyin_field_and_model() -> None:
    text = DOC.read_text(encoding="utf-8")
    for english, pinyin in schemas.PINYIN_FIELDS.items():
        assert f"| `{english}` | `{pinyin}` |" in text, english
    for spec in schemas.EXPORTED_MODELS:
        module, _, name = spec.partition(":")
        if module.startswith("deltafed.schemas"):
            assert f"`{name}`" in text, name
    assert "deltafed schemas export" in text
