"""Run every concern vector, and check that the generator reproduces them byte for byte."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from deltafed import DeltafedError, FixedClock
from deltafed._canonical import sha256_digest
from deltafed.concerns import verify_history
from deltafed.keys import PublicKey, StaticKeyResolver
from deltafed.protocol import MemoryReplayStore, ProtocolVerifier
from deltafed.schemas.concerns import ConcernHistory

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"
HERE = VECTORS / "concerns"
CASES = sorted((HERE / "cases").glob("*.json"))


def _resolver() -> StaticKeyResolver:
    resolver = StaticKeyResolver()
    keys = json.loads((VECTORS / "keys.json").read_text(encoding="utf-8"))["keys"]
    for entry in keys:
        if entry["trusted"]:
            resolver.add(entry["member"], PublicKey.from_jwk(entry["public_jwk"]))
    return resolver


def run_case(case: dict[str, Any]) -> None:
    context = case["context"]
    clock = FixedClock(datetime.fromtimestamp(context["now"], UTC))
    if case["kind"] == "request":
        verifier = ProtocolVerifier(
            _resolver(), context["audience"], clock=clock, replay=MemoryReplayStore()
        )
        verifier.verify_request(case["input"].encode("ascii"))
        return
    history = ConcernHistory.parse(
        {**case["input"], "events": case["input"]["events"] or ["x.y.z"]}
    )
    verifier = ProtocolVerifier(_resolver(), context["filer"], clock=clock, replay=None)
    verify_history(
        verifier,
        case["input"]["events"],
        concern_id=context["concern_id"],
        filing_digest=sha256_digest(history.filing.encode("ascii")),
        responsible=context["responsible"],
        filer=context["filer"],
    )


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_vector(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    assert case["name"] == path.stem
    if case["expected"] == "ok":
        run_case(case)
        return
    with pytest.raises(DeltafedError) as caught:
        run_case(case)
    assert caught.value.code == case["expected"], caught.value


def test_both_outcomes_and_both_kinds_are_covered() -> None:
    cases = [json.loads(p.read_text(encoding="utf-8")) for p in CASES]
    assert {c["kind"] for c in cases} == {"request", "history"}
    assert sum(c["expected"] == "ok" for c in cases) >= 3
    assert len({c["expected"] for c in cases}) >= 4


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("concern_vectors", HERE / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generator_reproduces_the_committed_files(tmp_path: Path) -> None:
    _generator().write(tmp_path)
    produced = sorted(p.name for p in (tmp_path / "cases").glob("*.json"))
    assert produced == [p.name for p in CASES]
    for name in produced:
        assert (tmp_path / "cases" / name).read_bytes() == (HERE / "cases" / name).read_bytes()
