"""Fuzzing the verifier: random and mutated messages raise a DeltafedError and nothing else."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deltafed import DeltafedError
from deltafed._clock import FixedClock
from deltafed._errors import all_error_classes
from deltafed.keys import PrivateKey, StaticKeyResolver
from deltafed.protocol import (
    REQUEST_TYP,
    RESPONSE_TYP,
    MemoryReplayStore,
    ProtocolVerifier,
    VerifiedRequest,
    new_request,
    new_response,
    sign_request,
    sign_response,
)
from deltafed.protocol._json import canonical_bytes, canonical_json_value

SHANGHAI = "310000/shzwfw/yitongban"
JIANGSU = "320000/gongan/hukou"
NOW = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
SH = PrivateKey.from_seed(b"\x01" * 32)
JS = PrivateKey.from_seed(b"\x02" * 32)
RESOLVER = StaticKeyResolver({SHANGHAI: [SH.public_key], JIANGSU: [JS.public_key]})
CLAIMS = new_request(
    issuer=SHANGHAI,
    audience=JIANGSU,
    operation="certificate.verify",
    target="11100000000013338W032",
    scenario="kuasheng",
    body={"use_cause": "fuzz", "n": [1, 2, {"k": None}]},
    now=NOW,
    jti="fuzz-request-000001",
)
REQUEST = sign_request(CLAIMS, SH)
_PROVIDER = ProtocolVerifier(RESOLVER, JIANGSU, clock=FixedClock(NOW), replay=None)
RESPONSE = sign_response(
    new_response(_PROVIDER.verify_request(REQUEST), status="ok", body={"ok": True}, now=NOW), JS
)
ALL_CODES = {cls.code for cls in all_error_classes()}
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _verifiers() -> tuple[ProtocolVerifier, ProtocolVerifier]:
    clock = FixedClock(NOW)
    provider = ProtocolVerifier(RESOLVER, JIANGSU, clock=clock, replay=MemoryReplayStore())
    requester = ProtocolVerifier(RESOLVER, SHANGHAI, clock=clock, replay=None)
    return provider, requester


def _only_deltafed_errors(data: bytes) -> int:
    """Verify ``data`` every way; any exception but a DeltafedError fails the test.

    Returns how many of the three verifications accepted the data."""
    provider, requester = _verifiers()
    accepted, codes = 0, []
    for check in (
        lambda: provider.verify_request(data),
        lambda: requester.verify_response(data, request_raw=REQUEST),
        lambda: provider.verify_document(data, typ="deltafed-consent+jws"),
    ):
        try:
            check()
        except DeltafedError as exc:
            codes.append(exc.code)
        else:
            accepted += 1
    assert set(codes) <= ALL_CODES  # a stable code, whatever the failure
    return accepted


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@SETTINGS
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    assert _only_deltafed_errors(data) == 0


segment = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@SETTINGS
@given(st.lists(segment, min_size=1, max_size=5))
def test_random_segments(parts: list[str]) -> None:
    assert _only_deltafed_errors(".".join(parts).encode()) == 0


@SETTINGS
@given(st.sampled_from([REQUEST, RESPONSE]), st.data())
def test_mutated_messages(message: bytes, data: st.DataObject) -> None:
    mutated = bytearray(message)
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if not mutated:
            break
        at = data.draw(st.integers(0, len(mutated) - 1))
        if action == "flip":
            mutated[at] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "delete":
            del mutated[at]
        elif action == "insert":
            mutated.insert(at, data.draw(st.integers(0, 255)))
        else:
            del mutated[at:]
    accepted = _only_deltafed_errors(bytes(mutated))
    # A signed message has one spelling: any change must be refused.
    assert accepted == (1 if bytes(mutated) == message else 0)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=True)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _signed(header: dict[str, Any], payload: bytes, key: PrivateKey) -> bytes:
    signing_input = _b64(json.dumps(header).encode()) + b"." + _b64(payload)
    return signing_input + b"." + _b64(key.sign(signing_input))


@SETTINGS
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "iss",
                "aud",
                "iat",
                "exp",
                "jti",
                "op",
                "tgt",
                "scn",
                "body",
                "cns",
                "req",
                "rid",
                "sts",
                "x",
            ]
        ),
        json_values,
    ),
    st.sampled_from([REQUEST_TYP, RESPONSE_TYP, "deltafed-consent+jws"]),
)
def test_validly_signed_random_claims(changes: dict[str, Any], typ: str) -> None:
    claims = {**CLAIMS.to_wire(), **changes}
    try:
        payload = json.dumps(
            claims, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except ValueError:
        return
    _only_deltafed_errors(_signed({"alg": "EdDSA", "kid": SH.kid, "typ": typ}, payload, SH))


@SETTINGS
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=6))
def test_random_headers(header: dict[str, Any]) -> None:
    try:
        raw = json.dumps(header).encode()
    except ValueError:
        return
    signing_input = _b64(raw) + b"." + _b64(canonical_bytes(CLAIMS.to_wire()))
    _only_deltafed_errors(signing_input + b"." + _b64(SH.sign(signing_input)))


wire_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=500, deadline=None)
@given(wire_json)
def test_fast_canonical_form_equals_rfc8785(value: Any) -> None:
    import rfc8785

    try:
        expected = rfc8785.dumps(value)
    except Exception:  # noqa: BLE001 - e.g. lone surrogates: then ours must refuse too
        try:
            canonical_json_value(value)
        except DeltafedError:
            return
        raise AssertionError("rfc8785 refused a value that deltafed encoded") from None
    assert canonical_json_value(value) == expected


def test_the_unmutated_messages_verify() -> None:
    provider, requester = _verifiers()
    assert isinstance(provider.verify_request(REQUEST), VerifiedRequest)
    assert requester.verify_response(RESPONSE, request_raw=REQUEST).ok
    assert _only_deltafed_errors(REQUEST) == 1
    assert _only_deltafed_errors(RESPONSE) == 1


# Characters on both sides of U+E000, where code point order and UTF-16 order part ways:
# BMP letters, the private use area, full-width forms (issuer names) and astral characters.
_BOUNDARY = st.sampled_from(
    ["a", "Z", "é", "测", "\ud7ff", "\ue000", "\uf8ff", "（", "）", "\uffef", "😀", "\U00010000"]
)
_boundary_text = st.lists(_BOUNDARY, max_size=4).map("".join)
boundary_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | _boundary_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_boundary_text, inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None)
@given(boundary_json)
def test_non_ascii_names_and_values_encode_as_rfc8785(value: Any) -> None:
    import rfc8785

    assert canonical_json_value(value) == rfc8785.dumps(value)


def test_non_ascii_values_stay_on_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import rfc8785

    calls: list[Any] = []
    reference = rfc8785.dumps

    def counting(value: Any) -> bytes:
        calls.append(value)
        return reference(value)

    monkeypatch.setattr(rfc8785, "dumps", counting)
    values = {"issuer_name": "测试样例（测试）", "list": ["😀", {"b": "\ue000", "a": "）"}]}
    assert canonical_json_value(values) == reference(values)
    assert calls == []
    # A member name beyond U+E000 anywhere does need the reference encoder.
    names = {"list": [{"（": 1, "😀": 2}], "a": "x"}
    assert canonical_json_value(names) == reference(names)
    assert calls == [names]
