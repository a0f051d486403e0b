"""The python examples of docs/quickstart.md (and its Chinese twin) and docs/node.md run."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks(name: str) -> list[str]:
    blocks = _BLOCK.findall((DOCS / name).read_text(encoding="utf-8"))
    assert blocks, f"{name} has no python examples"
    return blocks


@pytest.mark.parametrize("name", ["quickstart.md", "zh/quickstart.md", "node.md"])
def test_examples_run(
    name: str, capsys: pytest.CaptureFixture[str], open_files: Callable[[Path], list[str]]
) -> None:
    namespace: dict[str, Any] = {"__name__": f"docs.{name}"}
    for index, block in enumerate(python_blocks(name)):
        code = compile(block, f"{name}[block {index}]", "exec")
        exec(code, namespace)
    if name.endswith("quickstart.md"):  # the Chinese twin runs the same code
        out = capsys.readouterr().out
        assert "True VALID" in out
        assert "['birth_date', 'name']" in out
        assert "field_not_allowed" in out
        assert not namespace["thread"].is_alive()
        assert open_files(namespace["workdir"]) == []  # the example closes what it opened
