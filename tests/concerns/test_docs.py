"""The python examples of docs/concerns.md run as written."""

from __future__ import annotations

import re
import tomllib
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


_TOML = re.compile(r"^```toml\n(.*?)^```", re.MULTILINE | re.DOTALL)
#: What a node's configuration needs besides the sections the guide shows.
_BASE = {
    "node": {"member": "320000/dsj", "key_file": "k.pem"},
    "registry": {"file": "registry.jws", "anchor": "anchor.json"},
    "audit": {"db": "audit.db", "subject_key_file": "subject.key"},
    "adapter": {"name": "memory"},
}


def test_the_configuration_sections_shown_are_accepted() -> None:
    from deltafed.node import NodeConfig

    blocks = [tomllib.loads(b) for b in _TOML.findall(DOC.read_text(encoding="utf-8"))]
    assert len(blocks) == 2
    sqlite, postgres = (NodeConfig.from_mapping({**_BASE, **b}, base=Path("/n")) for b in blocks)
    assert (sqlite.concerns_db, sqlite.store_url) == (Path("/n/concerns.db"), None)
    # With a [store] url the node takes concerns without a [concerns] db: they go there.
    assert postgres.concerns_db is not None
    assert postgres.store_url is not None
    assert postgres.store_url.startswith("postgresql://")
    assert postgres.claim_lease == 30
