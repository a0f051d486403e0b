"""The python examples of docs/concerns.md run as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[2] / "docs" / "concerns.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_examples_run() -> None:
    blocks = _BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert len(blocks) == 2
    namespace: dict[str, Any] = {"__name__": "docs.concerns"}
    for index, block in enumerate(blocks):
        exec(compile(block, f"concerns.md[block {index}]", "exec"), namespace)
    assert namespace["policy"].deadline("objection").acknowledge_days == 1


#: The positional arguments each documented action needs, to parse a sample command line.
_POSITIONAL = {
    "list": [],
    "sweep": [],
    "update": ["ID", "accepted"],
    "answer": ["ID", "--text", "t"],
}


def test_the_cli_actions_documented_exist() -> None:
    from deltafed.cli import build_parser

    actions = set(re.findall(r"deltafed concerns (\w+)", DOC.read_text(encoding="utf-8")))
    assert actions == {"list", "show", "ack", "update", "answer", "close", "sweep"}
    parser = build_parser()
    for action in actions:
        argv = ["concerns", action, *_POSITIONAL.get(action, ["ID"]), "--config", "node.toml"]
        assert parser.parse_args(argv).action == action
