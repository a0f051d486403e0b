"""The gm test vectors (docs/vectors/gm): every case, the registry and the audit checkpoint
verify as stated, and the generator reproduces the committed files byte for byte."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from deltafed import DeltafedError, SignatureInvalidError
from deltafed._clock import FixedClock
from deltafed._profile import GM
from deltafed._sm2 import Sm2PrivateNative
from deltafed.audit import parse_checkpoint, verify_export
from deltafed.audit._log import subject_ref
from deltafed.audit._merkle import leaf_hash, root_from_getter
from deltafed.keys import PrivateKey, PublicKey, StaticKeyResolver
from deltafed.protocol import Limits, MemoryReplayStore, ProtocolVerifier
from deltafed.registry import AnchorKeys, verify_registry
from deltafed.schemas import PROBLEM_CODES

GM_VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors" / "gm"
CASES = sorted((GM_VECTORS / "cases").glob("*.json"))
FILES = ["keys.json", "registry.jws", "anchor.json", "audit.json", "sm2-published-examples.json"]


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _resolver() -> StaticKeyResolver:
    resolver = StaticKeyResolver()
    for entry in _load(GM_VECTORS / "keys.json")["keys"]:
        if entry["trusted"]:
            resolver.add(entry["member"], PublicKey.from_jwk(entry["public_jwk"]))
    return resolver


def _run(case: dict[str, Any]) -> Any:
    context = case["context"]
    assert context["crypto"] == "gm"
    verifier = ProtocolVerifier(
        _resolver(),
        context["audience"],
        clock=FixedClock(datetime.fromtimestamp(context["now"], UTC)),
        replay=MemoryReplayStore(),
        limits=Limits(crypto=GM),
    )
    data = case["input"].encode()
    if case["kind"] == "request":
        return verifier.verify_request(data)
    if case["kind"] == "response":
        return verifier.verify_response(data, request_raw=context["request"].encode())
    return verifier.verify_document(data, typ=context["typ"])


def test_the_set_covers_each_kind() -> None:
    names = {p.stem for p in CASES}
    assert {
        "request-valid",
        "response-valid",
        "response-problem-valid",
        "document-consent-valid",
        "request-international-algorithm",
    } <= names


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_gm_vector(path: Path) -> None:
    case = _load(path)
    assert case["name"] == path.stem
    assert case["why"]
    if case["expected"] == "ok":
        verified = _run(case)
        assert verified.raw == case["input"].encode()
        assert verified.alg == "SM2SM3"
    else:
        assert case["expected"] in PROBLEM_CODES
        with pytest.raises(DeltafedError) as info:
            _run(case)
        assert info.value.code == case["expected"], info.value


def test_registry_vector() -> None:
    anchor = AnchorKeys.parse(_load(GM_VECTORS / "anchor.json"))
    doc = verify_registry((GM_VECTORS / "registry.jws").read_bytes(), anchor)
    assert doc.crypto == "gm"
    assert {k.alg for m in doc.members for k in m.keys} == {"SM2SM3"}


def test_audit_vector() -> None:
    audit = _load(GM_VECTORS / "audit.json")
    cp = parse_checkpoint(audit["checkpoint"], log=audit["log"])
    assert (cp.alg, cp.crypto, cp.size) == ("SM2SM3", GM, len(audit["entries"]))
    cp.verify(_resolver())
    assert cp.root_text() == audit["root"]
    # Recompute the chain and the SM3 Merkle root from the entries alone.
    leaves = [leaf_hash(e.encode(), GM) for e in audit["entries"]]
    assert root_from_getter(lambda level, index: leaves[index], 1, GM) == leaves[0]
    prev = "sm3:" + "0" * 64
    for text, leaf in zip(audit["entries"], leaves, strict=True):
        entry = json.loads(text)
        assert entry["prev_hash"] == prev
        assert entry["request_digest"].startswith("sm3:")
        prev = f"sm3:{leaf.hex()}"
    key = bytes.fromhex(audit["subject_key"])
    assert json.loads(audit["entries"][0])["subject_refs"] == [
        subject_ref(key, audit["subject"], GM)
    ]
    assert subject_ref(key, audit["subject"], GM).startswith("hmac-sm3:")
    assert (
        audit["subject_key"] == hashlib.sha256(b"deltafed gm test vector subject key").hexdigest()
    )
    entries = verify_export(audit["export"], log=audit["log"], resolver=_resolver())
    assert len(entries) == len(audit["entries"])


def test_published_example_vector_verifies_with_deltafed() -> None:
    # The standard's example on the recommended curve: deltafed derives the same public key
    # from d and verifies the published (r, s) with signer id 1234567812345678 and SM3.
    example = _load(GM_VECTORS / "sm2-published-examples.json")["recommended_curve"]
    assert example["signer_id"] == "1234567812345678"
    native = Sm2PrivateNative.from_scalar(int(example["d"], 16))
    assert (native.public.x, native.public.y) == (int(example["x"], 16), int(example["y"], 16))
    signature = bytes.fromhex(example["r"]) + bytes.fromhex(example["s"])
    PrivateKey(native).public_key.verify(signature, example["message"].encode())
    with pytest.raises(SignatureInvalidError):
        PrivateKey(native).public_key.verify(signature, example["message"].encode() + b"!")


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "deltafed_gm_vector_generator", GM_VECTORS / "generate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_committed_gm_vectors_are_what_the_generator_produces(tmp_path: Path) -> None:
    _generator().write(tmp_path)
    produced = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    committed = {
        p.relative_to(GM_VECTORS): p.read_bytes()
        for p in [*(GM_VECTORS / f for f in FILES), *CASES]
    }
    assert sorted(produced) == sorted(committed)
    for name, content in produced.items():
        assert committed[name] == content, f"{name} differs: run docs/vectors/gm/generate.py"
