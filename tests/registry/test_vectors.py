"""Run every trust registry vector (protocol §15), and check that the generator reproduces them
byte for byte."""

from __future__ import annotations

import importlib.util
import json
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from deltafed import DeltafedError, FixedClock
from deltafed.registry import AnchorKeys, TrustedRegistry

HERE = Path(__file__).resolve().parents[2] / "docs" / "vectors" / "registry"
CASES = sorted((HERE / "cases").glob("*.json"))


def run_case(case: dict[str, Any]) -> TrustedRegistry:
    context = case["context"]
    trusted = TrustedRegistry(
        AnchorKeys.parse(case["anchor"]),
        clock=FixedClock(datetime.fromisoformat(context["now"])),
        grace=timedelta(seconds=context["grace_seconds"]),
    )
    for earlier in context["trusted"]:
        trusted.update(earlier.encode("utf-8"))
    before = trusted.version
    try:
        trusted.update(case["input"].encode("utf-8"))
    except DeltafedError:
        assert trusted.version == before  # a refused file changes nothing
        raise
    return trusted


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_vector(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    assert case["name"] == path.stem
    if case["expected"] == "ok":
        trusted = run_case(case)
        assert trusted.state.value == case["state"]
        assert trusted.version == case["version"]
        assert sorted(trusted.anchor.kids) == case["anchor_after"]
        return
    with pytest.raises(DeltafedError) as caught:
        run_case(case)
    assert caught.value.code == case["expected"], caught.value


def test_every_outcome_the_spec_names_is_covered() -> None:
    cases = [json.loads(p.read_text(encoding="utf-8")) for p in CASES]
    outcomes = {c["expected"] for c in cases}
    assert outcomes >= {"ok", "threshold_not_met", "rollback", "registry_expired",
                        "registry_invalid"}  # fmt: skip
    assert {c.get("state") for c in cases if c["expected"] == "ok"} == {"fresh", "grace"}


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("registry_vectors", HERE / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generator_reproduces_the_committed_files(tmp_path: Path) -> None:
    _generator().write(tmp_path)
    produced = sorted(p.name for p in (tmp_path / "cases").glob("*.json"))
    assert produced == [p.name for p in CASES]
    for path in CASES:
        assert (tmp_path / "cases" / path.name).read_bytes() == path.read_bytes(), path.name
