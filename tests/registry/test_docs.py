"""The python examples of docs/trust.md run, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "trust.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks() -> list[str]:
    return _BLOCK.findall(DOC.read_text(encoding="utf-8"))


def test_trust_doc_has_examples() -> None:
    assert len(_blocks()) >= 5


def test_trust_doc_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {"__name__": "trust_doc"}
    for number, block in enumerate(_blocks(), 1):
        code = compile(block, f"{DOC.name}[python block {number}]", "exec")
        exec(code, namespace)
    printed = capsys.readouterr().out.split()
    # Each example that provokes a refusal prints the error code it got.
    assert printed == ["threshold_not_met", "key_compromised", "registry_expired"]
