"""docs/deploy.md runs as written: its ``sh`` commands in order in an empty directory
(``deltafed`` in process, ``python3`` as a subprocess), its files written where it names them,
its Python examples executed in the same directory."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from deltafed.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "deploy.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
# A file's content is the block right after a line ending with its name: "... `node.toml`:"
_NAMED = re.compile(r"`([\w.-]+)`:\s*\Z")


def _blocks() -> list[tuple[str, str]]:
    return _BLOCK.findall(DOC.read_text(encoding="utf-8"))


def _named_blocks() -> list[tuple[str, str, str | None]]:
    """(language, body, file name or None) for every block, in order."""
    text = DOC.read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        named = _NAMED.search(before)
        found.append((match.group(1), match.group(2), named.group(1) if named else None))
    return found


def _run(line: str, cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    command, _, target = line.partition(" > ")
    argv = shlex.split(command)
    if argv[0] == "deltafed":
        capsys.readouterr()
        status = main(argv[1:])
        out, err = capsys.readouterr()
        assert status == 0, f"{line}\n{err}"
    elif argv[0] == "python3":
        done = subprocess.run(
            [sys.executable, *argv[1:]],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"{line}\n{done.stderr}"
        out = done.stdout
    else:
        raise AssertionError(f"docs/deploy.md runs a command the test cannot: {line}")
    if target:
        (cwd / target.strip()).write_text(out, encoding="utf-8")


def test_every_block_is_run_or_declared_foreign() -> None:
    languages = {language for language, _ in _blocks()}
    assert languages <= {"sh", "python", "toml", "json", "text", "ini", "yaml"}
    assert sum(1 for language, _ in _blocks() if language == "sh") >= 5


def test_the_yaml_and_json_examples_parse() -> None:
    for language, body in _blocks():
        if language == "json":
            json.loads(body)
        if language == "toml":
            tomllib.loads(body)


def test_the_deployment_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "deploy_doc"}
    commands = 0
    written = []
    for index, (language, body, name) in enumerate(_named_blocks()):
        if language in ("toml", "json") and name is not None:
            (tmp_path / name).write_text(body, encoding="utf-8")
            written.append(name)
        elif language == "sh":
            for line in body.splitlines():
                if line.strip() and not line.startswith("#"):
                    _run(line, tmp_path, capsys)
                    commands += 1
        elif language == "python":
            exec(compile(body, f"deploy.md[block {index}]", "exec"), namespace)
    assert commands >= 20
    assert written == ["scenarios.json", "node.toml"]
    published = sorted(p.name for p in (tmp_path / "www" / "yrd").iterdir())
    assert published == ["registry.1.jws", "registry.jws"]
    assert (tmp_path / "archive-2026-03.jsonl").read_text(encoding="utf-8").strip()
