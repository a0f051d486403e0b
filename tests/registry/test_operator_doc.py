"""docs/trust.md "Operator steps" runs as written: its ``sh`` commands in order in an empty
directory (``deltafed`` in process, ``> FILE`` redirecting the output), its ``json`` files
written under the name the line before each gives."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from deltafed.cli import main
from deltafed.registry import load_anchor_file, verify_registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "trust.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_NAMED = re.compile(r"`([\w.-]+)`:\s*\Z")


def _section() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("## Operator steps\n")
    return text[start : text.index("### Rotating a member's key", start)]


def test_operator_steps_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    section = _section()
    written, commands = [], []
    for match in _BLOCK.finditer(section):
        language, body = match.group(1), match.group(2)
        if language == "json":
            named = _NAMED.search(section[: match.start()].rstrip("\n").rsplit("\n", 1)[-1])
            assert named is not None, "a json block must follow the line naming its file"
            (tmp_path / named.group(1)).write_text(body, encoding="utf-8")
            written.append(named.group(1))
            continue
        assert language == "sh", language
        for line in body.splitlines():
            command, _, target = line.partition(" > ")
            argv = shlex.split(command)
            assert argv[0] == "deltafed", line
            capsys.readouterr()
            assert main(argv[1:]) == 0, f"{line}\n{capsys.readouterr().err}"
            if target:
                (tmp_path / target.strip()).write_text(capsys.readouterr().out, encoding="utf-8")
            commands.append(argv[1])
    assert written == ["catalogue.json", "scenarios.json"]
    assert commands.count("keys") == 8
    assert commands.count("registry") == 11
    doc = verify_registry(Path("registry.jws").read_bytes(), load_anchor_file("anchor.json"))
    assert len(doc.scenarios.scenarios) == 5
    assert [c.region for c in doc.catalogues] == ["320000"]
    assert "VERIFIED" in capsys.readouterr().out  # what `registry show` ends with


def test_the_scenario_examples_use_every_key() -> None:
    import json

    from deltafed.schemas.catalogue import Catalogue, ScenarioList, UseScenario

    blocks = dict(
        zip(
            ("catalogue", "scenarios"),
            [b for lang, b in _BLOCK.findall(_section()) if lang == "json"],
            strict=True,
        )
    )
    scenarios = json.loads(blocks["scenarios"])["scenarios"]
    assert set().union(*(s.keys() for s in scenarios)) == set(UseScenario.model_fields)
    ScenarioList.parse_json(blocks["scenarios"])
    catalogue = json.loads(blocks["catalogue"])
    assert set(catalogue) | {"concern_desks"} == set(Catalogue.model_fields)
