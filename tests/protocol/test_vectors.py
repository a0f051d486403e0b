"""Run every vector in docs/vectors/, and check that the generator reproduces them exactly."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from deltafed import DeltafedError
from deltafed._clock import FixedClock
from deltafed.keys import PublicKey, StaticKeyResolver
from deltafed.policy import verify_consent
from deltafed.protocol import Limits, MemoryReplayStore, ProtocolVerifier
from deltafed.schemas import PROBLEM_CODES

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"
CASES = sorted((VECTORS / "cases").glob("*.json"))

#: The cases the issue asks for by name, at least.
REQUIRED = {
    "request-valid",
    "response-valid",
    "request-es256-valid",
    "request-tampered-payload",
    "request-tampered-signature",
    "request-wrong-key",
    "request-unknown-kid",
    "request-expired",
    "request-future-dated",
    "request-lifetime-too-long",
    "request-wrong-audience",
    "request-replay-different-bytes",
    "request-identical-retransmission",
    "request-alg-none",
    "request-alg-hs256-public-key",
    "request-wrong-typ",
    "request-crit-header",
    "request-embedded-jwk-header",
    "request-non-canonical-payload",
    "request-float-in-payload",
    "request-oversized",
    "response-bound-to-another-request",
    "response-wrong-issuer",
}


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _resolver() -> StaticKeyResolver:
    resolver = StaticKeyResolver()
    for entry in _load(VECTORS / "keys.json")["keys"]:
        if entry["trusted"]:
            resolver.add(entry["member"], PublicKey.from_jwk(entry["public_jwk"]))
    return resolver


def _verifier(context: dict[str, Any]) -> ProtocolVerifier:
    limits = Limits(max_bytes=context["max_bytes"]) if "max_bytes" in context else Limits()
    return ProtocolVerifier(
        _resolver(),
        context["audience"],
        clock=FixedClock(datetime.fromtimestamp(context["now"], UTC)),
        replay=MemoryReplayStore(),
        limits=limits,
    )


def run_case(case: dict[str, Any]) -> Any:
    context = case["context"]
    verifier = _verifier(context)
    for seen in context.get("seen", []):
        earlier = verifier.verify_request(seen["input"].encode())
        if seen["response"] is not None:
            verifier.remember_response(earlier, seen["response"].encode())
    data = case["input"].encode()
    if case["kind"] == "request":
        return verifier.verify_request(data)
    if case["kind"] == "response":
        return verifier.verify_response(data, request_raw=context["request"].encode())
    if case["kind"] == "consent":
        return verify_consent(verifier, data)
    return verifier.verify_document(data, typ=context["typ"])


def test_all_required_cases_exist() -> None:
    assert {path.stem for path in CASES} >= REQUIRED


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_vector(path: Path) -> None:
    case = _load(path)
    assert case["name"] == path.stem
    assert case["why"]
    if case["expected"] == "ok":
        verified = run_case(case)
        if case["kind"] == "request":
            expected_duplicate = case["context"].get("duplicate_of")
            duplicate = verified.duplicate_of
            assert duplicate == (expected_duplicate.encode() if expected_duplicate else None)
        if case["kind"] != "consent":
            assert verified.raw == case["input"].encode()
    else:
        assert case["expected"] in PROBLEM_CODES
        with pytest.raises(DeltafedError) as info:
            run_case(case)
        assert info.value.code == case["expected"], info.value


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "deltafed_vector_generator", VECTORS / "generate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_vectors_are_what_the_generator_produces(tmp_path: Path) -> None:
    _generator().write(tmp_path)
    produced = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*.json")}
    committed = {p.relative_to(VECTORS): p.read_bytes() for p in [VECTORS / "keys.json", *CASES]}
    assert sorted(produced) == sorted(committed)
    for name, content in produced.items():
        assert committed[name] == content, f"{name} differs: run docs/vectors/generate.py"


def test_keys_are_labelled_test_only() -> None:
    keys = _load(VECTORS / "keys.json")
    assert "TEST ONLY" in keys["warning"]
    for entry in keys["keys"]:
        assert PublicKey.from_jwk(entry["public_jwk"]).kid == entry["public_jwk"]["kid"]
