"""Interoperability with an independent JOSE implementation (jwcrypto, a dev-only dependency).

Both ways: what deltafed signs verifies with jwcrypto, and what jwcrypto signs by following
docs/protocol.md (claims, canonical JSON payload, header members) verifies in deltafed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jwcrypto import jwk as jc_jwk
from jwcrypto import jws as jc_jws

from deltafed import SignatureInvalidError
from deltafed._clock import FixedClock
from deltafed.keys import (
    P256_ORDER,
    PrivateKey,
    StaticKeyResolver,
    b64url_decode,
    b64url_encode,
    low_s,
)
from deltafed.protocol import (
    REQUEST_TYP,
    RESPONSE_TYP,
    ProtocolVerifier,
    new_request,
    new_response,
    sign_document,
    sign_request,
    sign_response,
)

SHANGHAI = "310000/shzwfw/yitongban"
JIANGSU = "320000/gongan/hukou"


def spec_canonical(value: Any) -> bytes:
    """RFC 8785 for ASCII-only, float-free JSON, written from the RFC, not from deltafed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def jc_verify(token: bytes, key: PrivateKey) -> tuple[dict[str, Any], bytes]:
    public = jc_jwk.JWK(**key.public_jwk())
    obj = jc_jws.JWS()
    obj.deserialize(token.decode())
    obj.verify(public, alg=key.alg)
    return obj.jose_header, obj.payload


def jc_sign(header: dict[str, Any], payload: bytes, key: PrivateKey) -> bytes:
    private = jc_jwk.JWK(**key.to_private_jwk())
    obj = jc_jws.JWS(payload)
    obj.add_signature(private, alg=header["alg"], protected=json.dumps(header))
    compact = obj.serialize(compact=True).encode()
    # A general JOSE library may give either of the two ES256 forms; the protocol takes the
    # low-S one only (§1), so an implementation built on one normalises before sending.
    return with_s(compact, low_s) if header["alg"] == "ES256" else compact


def with_s(compact: bytes, change: Any) -> bytes:
    """The ES256 message with ``s`` replaced by ``change(s)``."""
    head, payload, signature = compact.split(b".")
    raw = b64url_decode(signature.decode())
    s = change(int.from_bytes(raw[32:], "big"))
    return head + b"." + payload + b"." + b64url_encode(raw[:32] + s.to_bytes(32, "big")).encode()


@pytest.fixture(params=["EdDSA", "ES256"])
def keys(request: pytest.FixtureRequest) -> tuple[PrivateKey, PrivateKey]:
    return PrivateKey.generate(request.param), PrivateKey.generate(request.param)


@pytest.fixture
def verifiers(keys, clock: FixedClock) -> tuple[ProtocolVerifier, ProtocolVerifier]:
    sh, js = keys
    resolver = StaticKeyResolver({SHANGHAI: [sh.public_key], JIANGSU: [js.public_key]})
    provider = ProtocolVerifier(resolver, JIANGSU, clock=clock, replay=None)
    requester = ProtocolVerifier(resolver, SHANGHAI, clock=clock, replay=None)
    return provider, requester


def _claims(clock: FixedClock) -> dict[str, Any]:
    now = int(clock().timestamp())
    return {
        "iss": SHANGHAI,
        "aud": JIANGSU,
        "iat": now,
        "exp": now + 60,
        "jti": "interop-request-00001",
        "op": "record.request",
        "tgt": "social-insurance.payment",
        "scn": "settle-in-suzhou",
        "body": {"subject_type": "111", "fields": ["months_paid"], "use_cause": "test"},
    }


def test_deltafed_request_verifies_with_jwcrypto(keys, clock: FixedClock) -> None:
    sh, _ = keys
    claims = new_request(
        issuer=SHANGHAI,
        audience=JIANGSU,
        operation="certificate.verify",
        target="11100000000013338W032",
        scenario="kuasheng-hukou-qianyi",
        body={"use_cause": "跨省通办 interop"},
        now=clock(),
    )
    token = sign_request(claims, sh)
    header, payload = jc_verify(token, sh)
    assert header == {"alg": sh.alg, "kid": sh.kid, "typ": REQUEST_TYP}
    assert json.loads(payload) == claims.to_wire()


def test_deltafed_response_and_document_verify_with_jwcrypto(keys, clock, verifiers) -> None:
    sh, js = keys
    provider, _ = verifiers
    request_raw = jc_sign(
        {"alg": sh.alg, "kid": sh.kid, "typ": REQUEST_TYP}, spec_canonical(_claims(clock)), sh
    )
    request = provider.verify_request(request_raw)
    response = sign_response(new_response(request, status="ok", body={"n": 3}, now=clock()), js)
    header, payload = jc_verify(response, js)
    assert header["typ"] == RESPONSE_TYP
    assert json.loads(payload)["rid"] == "interop-request-00001"
    document = sign_document({"iss": JIANGSU, "v": 1}, typ="deltafed-metadata+jws", signer=js)
    assert json.loads(jc_verify(document, js)[1]) == {"iss": JIANGSU, "v": 1}


def test_jwcrypto_exchange_verifies_in_deltafed(keys, clock, verifiers) -> None:
    sh, js = keys
    provider, requester = verifiers
    request_raw = jc_sign(
        {"typ": REQUEST_TYP, "kid": sh.kid, "alg": sh.alg}, spec_canonical(_claims(clock)), sh
    )
    request = provider.verify_request(request_raw)
    assert request.claims.op == "record.request"
    assert request.claims.body["fields"] == ["months_paid"]

    import hashlib

    now = int(clock().timestamp())
    response_claims = {
        "iss": JIANGSU,
        "aud": SHANGHAI,
        "iat": now,
        "exp": now + 60,
        "jti": "interop-response-0001",
        "req": "sha-256:" + hashlib.sha256(request_raw).hexdigest(),
        "rid": "interop-request-00001",
        "sts": "ok",
        "body": {"fields": {"months_paid": 36}},
    }
    response_raw = jc_sign(
        {"alg": js.alg, "kid": js.kid, "typ": RESPONSE_TYP}, spec_canonical(response_claims), js
    )
    response = requester.verify_response(response_raw, request_raw=request_raw)
    assert response.body == {"fields": {"months_paid": 36}}


def test_es256_high_s_twin_is_refused(clock) -> None:
    sh = PrivateKey.generate("ES256")
    resolver = StaticKeyResolver({SHANGHAI: [sh.public_key]})
    provider = ProtocolVerifier(resolver, JIANGSU, clock=clock, replay=None)
    raw = jc_sign(
        {"typ": REQUEST_TYP, "kid": sh.kid, "alg": sh.alg}, spec_canonical(_claims(clock)), sh
    )
    provider.verify_request(raw)  # the low-S form
    twin = with_s(raw, lambda s: P256_ORDER - s)  # verifies as ECDSA, a second byte form
    with pytest.raises(SignatureInvalidError):
        provider.verify_request(twin)


def test_jwcrypto_signature_by_another_key_is_refused(keys, clock, verifiers) -> None:
    sh, js = keys
    provider, _ = verifiers
    forged = jc_sign(
        {"alg": sh.alg, "kid": sh.kid, "typ": REQUEST_TYP}, spec_canonical(_claims(clock)), js
    )
    with pytest.raises(SignatureInvalidError):
        provider.verify_request(forged)
