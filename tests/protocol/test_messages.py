"""Sign and verify requests, responses and documents; every check has its own failure."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from deltafed import (
    AlgorithmNotAllowedError,
    BindingMismatchError,
    ConfigurationError,
    ExpiredError,
    InvalidInputError,
    LifetimeTooLongError,
    MalformedMessageError,
    NotYetValidError,
    ReplayError,
    SchemaValidationError,
    SignatureInvalidError,
    SizeLimitError,
    UnknownKeyError,
    UnknownMemberError,
    WrongAudienceError,
    WrongIssuerError,
    WrongTypeError,
)
from deltafed._canonical import canonicalize, sha256_digest
from deltafed._clock import FixedClock
from deltafed.keys import PrivateKey, StaticKeyResolver
from deltafed.protocol import (
    REQUEST_TYP,
    RESPONSE_TYP,
    Limits,
    MemoryReplayStore,
    ProtocolVerifier,
    RequestClaims,
    new_jti,
    new_problem_response,
    new_request,
    new_response,
    sign_document,
    sign_request,
    sign_response,
)

SHANGHAI = "310000/shzwfw/yitongban"
JIANGSU = "320000/gongan/hukou"
ZHEJIANG = "330000/zjzwfw"
CERT = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"
Forge = Callable[..., bytes]


def request_claims(clock: FixedClock, **overrides: Any) -> RequestClaims:
    args: dict[str, Any] = {
        "issuer": SHANGHAI,
        "audience": JIANGSU,
        "operation": "certificate.verify",
        "target": CERT,
        "scenario": "kuasheng-hukou-qianyi",
        "body": {"certificate_id": CERT, "use_cause": "户口迁移核验 (test)"},
        "now": clock(),
    }
    args.update(overrides)
    return new_request(**args)


def claims_dict(clock: FixedClock, **changes: Any) -> dict[str, Any]:
    data = request_claims(clock).to_wire()
    data.update(changes)
    return data


def header(key: PrivateKey, typ: str = REQUEST_TYP, **extra: Any) -> dict[str, Any]:
    return {"alg": key.alg, "kid": key.kid, "typ": typ, **extra}


# --- happy paths -----------------------------------------------------------------------------


def test_request_round_trip(clock: FixedClock, sh_key: PrivateKey, provider: ProtocolVerifier):
    claims = request_claims(clock)
    raw = sign_request(claims, sh_key)
    assert raw.isascii()
    assert raw.count(b".") == 2
    verified = provider.verify_request(raw)
    assert verified.claims == claims
    assert verified.raw == raw
    assert verified.digest == sha256_digest(raw)
    assert verified.kid == sh_key.kid
    assert verified.alg == "EdDSA"
    assert verified.duplicate_of is None
    assert verified.issuer == SHANGHAI
    assert verified.jti == claims.jti
    header_seg, payload_seg, _ = raw.split(b".")
    payload = base64.urlsafe_b64decode(payload_seg + b"==")
    assert payload == canonicalize(claims.to_wire())
    decoded_header = json.loads(base64.urlsafe_b64decode(header_seg + b"=="))
    assert decoded_header == {"alg": "EdDSA", "kid": sh_key.kid, "typ": REQUEST_TYP}


def test_response_round_trip(
    clock: FixedClock,
    sh_key: PrivateKey,
    js_key: PrivateKey,
    provider: ProtocolVerifier,
    requester: ProtocolVerifier,
):
    raw_request = sign_request(request_claims(clock), sh_key)
    request = provider.verify_request(raw_request)
    claims = new_response(request, status="ok", body={"valid": True}, now=clock())
    raw_response = sign_response(claims, js_key)
    response = requester.verify_response(raw_response, request_raw=raw_request)
    assert response.ok
    assert response.body == {"valid": True}
    assert response.claims.req == sha256_digest(raw_request)
    assert response.claims.rid == request.jti
    assert response.claims.iss == JIANGSU
    assert response.claims.aud == SHANGHAI


def _payload(raw: bytes) -> bytes:
    segment = raw.split(b".")[1]
    return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))


def test_signed_payload_is_the_canonical_wire_form_of_the_claims(
    clock: FixedClock, sh_key: PrivateKey, js_key: PrivateKey, provider: ProtocolVerifier
):
    # Signing reads the validated fields directly instead of serialising the model: for every
    # shape of claims (optional members present and absent) the bytes must be those of to_wire.
    consent = sign_document(
        {"iss": SHANGHAI, "sub": "x"}, typ="deltafed-consent+jws", signer=sh_key
    )
    for claims in (request_claims(clock), request_claims(clock, consent=consent)):
        assert _payload(sign_request(claims, sh_key)) == canonicalize(claims.to_wire())
    raw_request = sign_request(request_claims(clock), sh_key)
    request = provider.verify_request(raw_request)
    ok = new_response(
        request, status="ok", body={"valid": True, "n": [1, {"a": None}]}, now=clock()
    )
    problem = new_problem_response(
        b"not a request",
        issuer=JIANGSU,
        body={"code": "malformed_message", "title": "Malformed message", "status": 400},
        now=clock(),
    )
    assert problem.rid is None
    for answer in (ok, problem):
        assert _payload(sign_response(answer, js_key)) == canonicalize(answer.to_wire())


def test_message_ids_are_fresh_base64url_of_128_bits(clock: FixedClock):
    ids = {new_jti() for _ in range(1000)}
    assert len(ids) == 1000
    for jti in ids:
        assert len(jti) == 22
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", jti)
        assert len(base64.urlsafe_b64decode(jti + "==")) == 16
    assert request_claims(clock).jti != request_claims(clock).jti


def test_es256_request(clock: FixedClock, resolver: StaticKeyResolver, provider):
    key = PrivateKey.generate("ES256")
    resolver.add(ZHEJIANG, key.public_key)
    raw = sign_request(request_claims(clock, issuer=ZHEJIANG), key)
    verified = provider.verify_request(raw)
    assert verified.alg == "ES256"
    assert verified.issuer == ZHEJIANG


def test_str_input_is_accepted(clock: FixedClock, sh_key: PrivateKey, provider):
    raw = sign_request(request_claims(clock), sh_key)
    assert provider.verify_request(raw.decode()).raw == raw


def test_clock_skew_is_tolerated_both_ways(clock: FixedClock, sh_key: PrivateKey, provider):
    future = sign_request(request_claims(clock, now=clock() + timedelta(seconds=60)), sh_key)
    provider.verify_request(future)
    clock.advance(60 + 59)
    old = sign_request(request_claims(clock, now=clock() - timedelta(seconds=119)), sh_key)
    provider.verify_request(old)


# --- request failures ------------------------------------------------------------------------


def test_tampered_payload(clock: FixedClock, sh_key: PrivateKey, provider, forge: Forge):
    good = sign_request(request_claims(clock), sh_key)
    tampered = claims_dict(clock, tgt="ANOTHER-TARGET")
    raw = forge(header(sh_key), tampered, None, signature=_signature(good))
    with pytest.raises(SignatureInvalidError) as info:
        provider.verify_request(raw)
    assert info.value.code == "bad_signature"


def _signature(raw: bytes) -> bytes:
    seg = raw.split(b".")[2]
    return base64.urlsafe_b64decode(seg + b"=" * (-len(seg) % 4))


def test_tampered_signature(clock: FixedClock, sh_key: PrivateKey, provider, forge: Forge):
    good = sign_request(request_claims(clock), sh_key)
    sig = bytearray(_signature(good))
    sig[5] ^= 1
    raw = forge(header(sh_key), claims_dict(clock), None, signature=bytes(sig))
    with pytest.raises(SignatureInvalidError):
        provider.verify_request(raw)


def test_signed_with_another_members_key_under_this_kid(
    clock: FixedClock, sh_key: PrivateKey, zj_key: PrivateKey, provider, forge: Forge
):
    raw = forge(header(sh_key), claims_dict(clock), zj_key)
    with pytest.raises(SignatureInvalidError):
        provider.verify_request(raw)


def test_key_of_another_member(clock, zj_key: PrivateKey, provider, forge: Forge):
    raw = forge(header(zj_key), claims_dict(clock), zj_key)
    with pytest.raises(UnknownKeyError) as info:
        provider.verify_request(raw)
    assert info.value.code == "unknown_key"


def test_unknown_member_passes_through(clock, sh_key: PrivateKey, provider, forge: Forge):
    raw = forge(header(sh_key), claims_dict(clock, iss="340000/wsjkw"), sh_key)
    with pytest.raises(UnknownMemberError):
        provider.verify_request(raw)


def test_expired(clock: FixedClock, sh_key: PrivateKey, provider):
    raw = sign_request(request_claims(clock), sh_key)
    clock.advance(60 + 60)
    with pytest.raises(ExpiredError):
        provider.verify_request(raw)


def test_future_dated(clock: FixedClock, sh_key: PrivateKey, provider):
    raw = sign_request(request_claims(clock, now=clock() + timedelta(seconds=61)), sh_key)
    with pytest.raises(NotYetValidError):
        provider.verify_request(raw)


def test_lifetime_too_long(clock: FixedClock, sh_key: PrivateKey, provider, forge: Forge):
    data = claims_dict(clock)
    data["exp"] = data["iat"] + 301
    with pytest.raises(LifetimeTooLongError):
        provider.verify_request(forge(header(sh_key), data, sh_key))


def test_exp_before_iat_is_malformed(clock, sh_key: PrivateKey, provider, forge: Forge):
    data = claims_dict(clock)
    data["exp"] = data["iat"]
    with pytest.raises(MalformedMessageError, match="exp must be after iat"):
        provider.verify_request(forge(header(sh_key), data, sh_key))


def test_wrong_audience(clock: FixedClock, sh_key: PrivateKey, provider):
    raw = sign_request(request_claims(clock, audience=ZHEJIANG), sh_key)
    with pytest.raises(WrongAudienceError):
        provider.verify_request(raw)


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", "ES512"])
def test_algorithm_not_allowed(clock, sh_key: PrivateKey, provider, forge: Forge, alg: str):
    raw = forge({"alg": alg, "kid": sh_key.kid, "typ": REQUEST_TYP}, claims_dict(clock), None)
    with pytest.raises(AlgorithmNotAllowedError):
        provider.verify_request(raw)


def test_hs256_with_public_key_as_secret(clock, sh_key: PrivateKey, provider, forge: Forge):
    import hashlib
    import hmac

    secret = sh_key.public_key.to_pem()
    unsigned = forge(
        {"alg": "HS256", "kid": sh_key.kid, "typ": REQUEST_TYP}, claims_dict(clock), None
    )
    signing_input = unsigned.rsplit(b".", 1)[0]
    mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
    raw = signing_input + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")
    with pytest.raises(AlgorithmNotAllowedError):
        provider.verify_request(raw)


def test_header_alg_must_match_the_key(clock, sh_key: PrivateKey, provider, forge: Forge):
    raw = forge({"alg": "ES256", "kid": sh_key.kid, "typ": REQUEST_TYP}, claims_dict(clock), sh_key)
    with pytest.raises(AlgorithmNotAllowedError, match="EdDSA key"):
        provider.verify_request(raw)


def test_wrong_typ(clock, sh_key: PrivateKey, provider, forge: Forge):
    raw = forge(header(sh_key, RESPONSE_TYP), claims_dict(clock), sh_key)
    with pytest.raises(WrongTypeError):
        provider.verify_request(raw)


@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["exp"]},
        {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}},
        {"jku": "https://127.0.0.1/keys"},
        {"x5u": "https://127.0.0.1/x5u"},
        {"x5c": ["AAAA"]},
        {"b64": False},
        {"cty": "json"},
    ],
)
def test_header_members_outside_the_profile(clock, sh_key, provider, forge: Forge, extra):
    raw = forge(header(sh_key, **extra), claims_dict(clock), sh_key)
    with pytest.raises(MalformedMessageError) as info:
        provider.verify_request(raw)
    assert info.value.field == f"header.{next(iter(extra))}"


@pytest.mark.parametrize("missing", ["kid", "typ"])
def test_header_members_are_required(clock, sh_key, provider, forge: Forge, missing: str):
    hdr = header(sh_key)
    del hdr[missing]
    with pytest.raises(MalformedMessageError):
        provider.verify_request(forge(hdr, claims_dict(clock), sh_key))


def test_non_canonical_payload(clock, sh_key: PrivateKey, provider, forge: Forge):
    payload = json.dumps(claims_dict(clock), indent=1).encode()
    with pytest.raises(MalformedMessageError, match="canonical"):
        provider.verify_request(forge(header(sh_key), payload, sh_key))


def test_float_in_payload(clock, sh_key: PrivateKey, provider, forge: Forge):
    payload = canonicalize(claims_dict(clock)).replace(b'"body":{', b'"body":{"amount":1.5,', 1)
    with pytest.raises(MalformedMessageError, match="float"):
        provider.verify_request(forge(header(sh_key), payload, sh_key))


def test_duplicate_member_in_payload(clock, sh_key: PrivateKey, provider, forge: Forge):
    payload = canonicalize(claims_dict(clock)).replace(b'{"aud"', b'{"aud":"x","aud"', 1)
    with pytest.raises(MalformedMessageError, match="canonical"):
        provider.verify_request(forge(header(sh_key), payload, sh_key))


def test_oversized(clock, sh_key: PrivateKey, provider):
    raw = sign_request(request_claims(clock, body={"pad": "x" * 262_144}), sh_key)
    with pytest.raises(SizeLimitError) as info:
        provider.verify_request(raw)
    assert info.value.status == 413


def test_non_canonical_base64(clock, sh_key: PrivateKey, provider):
    raw = sign_request(request_claims(clock), sh_key)
    head, payload, sig = raw.split(b".")
    # An Ed25519 signature is 64 bytes: 86 base64url characters, the last one carrying 4
    # padding bits. Setting one of them gives another spelling of the same signature.
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = sig[:-1] + bytes([alphabet[alphabet.index(sig[-1:]) ^ 1]])
    with pytest.raises(MalformedMessageError, match="canonical base64url"):
        provider.verify_request(b".".join([head, payload, twin]))


@pytest.mark.parametrize(
    "data",
    [b"", b"abc", b"a.b", b"a.b.c.d", b"..", b"a b.c.d", "é.a.b", b"=.=.=", b"e30.e30.\n"],
)
def test_garbage_is_malformed(provider, data):
    with pytest.raises(MalformedMessageError):
        provider.verify_request(data)


def test_claims_schema_is_enforced(clock, sh_key: PrivateKey, provider, forge: Forge):
    raw = forge(header(sh_key), claims_dict(clock, op="certificate.delete"), sh_key)
    with pytest.raises(MalformedMessageError) as info:
        provider.verify_request(raw)
    assert info.value.field == "op"


def test_iss_must_be_a_member_id(clock, sh_key: PrivateKey, provider, forge: Forge):
    raw = forge(header(sh_key), claims_dict(clock, iss="Shanghai"), sh_key)
    with pytest.raises(MalformedMessageError) as info:
        provider.verify_request(raw)
    assert info.value.field == "iss"


# --- replay ----------------------------------------------------------------------------------


def test_replay_with_different_bytes_is_refused(clock, sh_key: PrivateKey, provider):
    first = request_claims(clock)
    provider.verify_request(sign_request(first, sh_key))
    again = request_claims(clock, jti=first.jti, target="OTHER")
    with pytest.raises(ReplayError) as info:
        provider.verify_request(sign_request(again, sh_key))
    assert info.value.status == 409


def test_identical_retransmission_gets_the_original_response(
    clock, sh_key: PrivateKey, js_key: PrivateKey, provider
):
    raw = sign_request(request_claims(clock), sh_key)
    request = provider.verify_request(raw)
    with pytest.raises(ReplayError, match="already being answered"):
        provider.verify_request(raw)
    response = sign_response(new_response(request, status="ok", body={}, now=clock()), js_key)
    provider.remember_response(request, response)
    clock.advance(30)
    again = provider.verify_request(raw)
    assert again.duplicate_of == response
    assert again.claims == request.claims


def test_same_jti_from_two_issuers_is_not_a_replay(
    clock, sh_key: PrivateKey, resolver: StaticKeyResolver, provider
):
    key = PrivateKey.generate()
    resolver.add(ZHEJIANG, key.public_key)
    first = request_claims(clock)
    provider.verify_request(sign_request(first, sh_key))
    other = request_claims(clock, issuer=ZHEJIANG, jti=first.jti)
    assert provider.verify_request(sign_request(other, key)).duplicate_of is None


def test_without_a_replay_store_nothing_is_remembered(clock, sh_key, resolver):
    verifier = ProtocolVerifier(resolver, JIANGSU, clock=clock, replay=None)
    raw = sign_request(request_claims(clock), sh_key)
    verifier.verify_request(raw)
    verifier.verify_request(raw)


# --- responses -------------------------------------------------------------------------------


@pytest.fixture
def exchange(clock, sh_key, js_key, provider):
    raw_request = sign_request(request_claims(clock), sh_key)
    return raw_request, provider.verify_request(raw_request)


def test_response_bound_to_another_request(clock, sh_key, js_key, provider, requester, exchange):
    _raw_request, request = exchange
    other = sign_request(request_claims(clock), sh_key)
    response = sign_response(new_response(request, status="ok", body={}, now=clock()), js_key)
    with pytest.raises(BindingMismatchError):
        requester.verify_response(response, request_raw=other)


def test_response_naming_another_request_id(clock, js_key, requester, exchange, forge: Forge):
    raw_request, request = exchange
    claims = new_response(request, status="ok", body={}, now=clock()).to_wire()
    claims["rid"] = "A" * 22
    raw = forge(header(js_key, RESPONSE_TYP), claims, js_key)
    with pytest.raises(BindingMismatchError, match="request id"):
        requester.verify_response(raw, request_raw=raw_request)


def test_response_from_the_wrong_issuer(clock, zj_key, requester, exchange, forge: Forge):
    raw_request, request = exchange
    claims = new_response(request, status="ok", body={}, now=clock()).to_wire()
    claims["iss"] = ZHEJIANG
    raw = forge(header(zj_key, RESPONSE_TYP), claims, zj_key)
    with pytest.raises(WrongIssuerError):
        requester.verify_response(raw, request_raw=raw_request)


def test_response_to_someone_else(clock, js_key, resolver, exchange):
    raw_request, request = exchange
    raw = sign_response(new_response(request, status="ok", body={}, now=clock()), js_key)
    other = ProtocolVerifier(resolver, ZHEJIANG, clock=clock, replay=None)
    with pytest.raises(WrongAudienceError):
        other.verify_response(raw, request_raw=raw_request)


def test_request_verified_as_response_is_wrong_type(clock, requester, exchange, sh_key, forge):
    raw_request, _ = exchange
    with pytest.raises(WrongTypeError):
        requester.verify_response(raw_request, request_raw=raw_request)


def test_expired_response(clock, js_key, requester, exchange):
    raw_request, request = exchange
    raw = sign_response(new_response(request, status="ok", body={}, now=clock()), js_key)
    clock.advance(200)
    with pytest.raises(ExpiredError):
        requester.verify_response(raw, request_raw=raw_request)


def test_response_issuer_must_be_the_requests_audience(clock, exchange):
    _, request = exchange
    with pytest.raises(InvalidInputError):
        new_response(request, issuer=ZHEJIANG, status="ok", body={}, now=clock())


def test_problem_response(clock, js_key, requester, exchange):
    raw_request, request = exchange
    body = {"code": "not_authorized", "title": "Not authorised", "status": 403}
    raw = sign_response(new_response(request, status="problem", body=body, now=clock()), js_key)
    verified = requester.verify_response(raw, request_raw=raw_request)
    assert not verified.ok
    assert verified.body["code"] == "not_authorized"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"code": "peer_problem", "title": "x", "status": 502},
        {"code": "not_found", "title": "", "status": 404},
        {"code": "not_found", "title": "x", "status": 200},
        {"code": "not_found", "title": "x", "status": True},
    ],
)
def test_problem_body_must_be_a_problem(clock, exchange, body):
    _, request = exchange
    with pytest.raises(SchemaValidationError):
        new_response(request, status="problem", body=body, now=clock())


def test_problem_answering_bytes_that_did_not_verify(clock, sh_key, js_key, requester, forge):
    claims = claims_dict(clock)
    raw_request = forge(header(sh_key), claims, js_key)  # signed with the wrong key
    body = {"code": "bad_signature", "title": "Signature does not verify", "status": 401}
    problem = new_problem_response(raw_request, issuer=JIANGSU, body=body, now=clock())
    assert problem.aud == SHANGHAI
    assert problem.rid == claims["jti"]
    assert problem.req == sha256_digest(raw_request)
    raw = sign_response(problem, js_key)
    verified = requester.verify_response(raw, request_raw=raw_request)
    assert verified.body["code"] == "bad_signature"


def test_problem_answering_garbage_is_self_addressed(clock):
    body = {"code": "malformed_message", "title": "Not a compact JWS", "status": 400}
    problem = new_problem_response(b"garbage", issuer=JIANGSU, body=body, now=clock())
    assert problem.aud == JIANGSU
    assert problem.rid is None
    assert problem.req == sha256_digest(b"garbage")


# --- documents -------------------------------------------------------------------------------


def test_document_round_trip(clock, sh_key, provider):
    now = int(clock().timestamp())
    payload = {"iss": SHANGHAI, "iat": now, "exp": now + 3600, "offers": ["certificate.verify"]}
    raw = sign_document(payload, typ="deltafed-metadata+jws", signer=sh_key)
    doc = provider.verify_document(raw, typ="deltafed-metadata+jws")
    assert doc.payload == payload
    assert doc.issuer == SHANGHAI
    assert doc.kid == sh_key.kid
    with pytest.raises(WrongTypeError):
        provider.verify_document(raw, typ="deltafed-consent+jws")
    clock.advance(3600 + 60)
    with pytest.raises(ExpiredError):
        provider.verify_document(raw, typ="deltafed-metadata+jws")


def test_document_from_the_future(clock, sh_key, provider):
    payload = {"iss": SHANGHAI, "iat": int(clock().timestamp()) + 61}
    raw = sign_document(payload, typ="deltafed-consent+jws", signer=sh_key)
    with pytest.raises(NotYetValidError):
        provider.verify_document(raw, typ="deltafed-consent+jws")


@pytest.mark.parametrize(
    ("payload", "typ"),
    [
        ({"iss": SHANGHAI}, REQUEST_TYP),
        ({"iss": SHANGHAI}, "consent"),
        ({"x": 1}, "deltafed-consent+jws"),
        ({"iss": "nobody"}, "deltafed-consent+jws"),
        ({"iss": SHANGHAI, "n": 1.5}, "deltafed-consent+jws"),
    ],
)
def test_sign_document_refuses(sh_key, payload, typ):
    with pytest.raises(InvalidInputError):
        sign_document(payload, typ=typ, signer=sh_key)


def test_verify_document_refuses_message_types(provider):
    with pytest.raises(InvalidInputError):
        provider.verify_document(b"a.b.c", typ=REQUEST_TYP)


# --- builders and configuration --------------------------------------------------------------


@pytest.mark.parametrize("lifetime", [0, 301, True])
def test_lifetime_bounds(clock, lifetime):
    with pytest.raises(InvalidInputError):
        request_claims(clock, lifetime=lifetime)


def test_naive_now_is_refused(clock):
    with pytest.raises(InvalidInputError):
        request_claims(clock, now=clock().replace(tzinfo=None))


def test_new_request_validates(clock):
    with pytest.raises(InvalidInputError):
        request_claims(clock, body={"x": 0.5})
    with pytest.raises(InvalidInputError):
        request_claims(clock, jti="short")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"algorithms": ("none",)},
        {"algorithms": ("HS256",)},
        {"algorithms": ()},
        {"max_bytes": 10},
        {"clock_skew": -1},
        {"max_lifetime": 0},
    ],
)
def test_limits_refuse_unsafe_configuration(kwargs):
    with pytest.raises(ConfigurationError):
        Limits(**kwargs)


def test_verifier_refuses_bad_audience(resolver, clock):
    with pytest.raises(ConfigurationError):
        ProtocolVerifier(resolver, "Jiangsu", clock=clock, replay=MemoryReplayStore())


def test_limits_are_applied(clock, sh_key, resolver):
    strict = ProtocolVerifier(
        resolver, JIANGSU, clock=clock, replay=None, limits=Limits(algorithms=("ES256",))
    )
    with pytest.raises(AlgorithmNotAllowedError):
        strict.verify_request(sign_request(request_claims(clock), sh_key))
    short = ProtocolVerifier(
        resolver, JIANGSU, clock=clock, replay=None, limits=Limits(max_lifetime=30)
    )
    with pytest.raises(LifetimeTooLongError):
        short.verify_request(sign_request(request_claims(clock, lifetime=31), sh_key))


@pytest.mark.parametrize("number", [b"9007199254740992", b"-9007199254740992", b"1e400"])
def test_numbers_outside_the_wire_range(clock, sh_key, provider, forge: Forge, number: bytes):
    payload = canonicalize(claims_dict(clock)).replace(b'"body":{', b'"body":{"n":' + number + b",")
    with pytest.raises(MalformedMessageError):
        provider.verify_request(forge(header(sh_key), payload, sh_key))


def test_float_in_document(clock, sh_key: PrivateKey, provider, forge: Forge):
    raw = forge(
        header(sh_key, "deltafed-consent+jws"),
        b'{"iss":"' + SHANGHAI.encode() + b'","n":1.5}',
        sh_key,
    )
    with pytest.raises(MalformedMessageError, match="float"):
        provider.verify_document(raw, typ="deltafed-consent+jws")


def test_public_names_are_sorted_and_resolve():
    import deltafed.protocol as protocol

    # isort style, as ruff (RUF022) keeps it: CONSTANTS, then Classes, then functions.
    def style(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert list(protocol.__all__) == sorted(set(protocol.__all__), key=style)
    for name in protocol.__all__:
        assert hasattr(protocol, name), name
    assert {"ProtocolVerifier", "sign_request", "verify_request"} - set(protocol.__all__) == {
        "verify_request"
    }


def test_the_http_names_are_shared_by_node_and_client() -> None:
    import deltafed.client._client as client_module
    import deltafed.node as node
    import deltafed.protocol as protocol

    assert protocol.OPERATION_PATHS == {
        "certificate.verify": "/deltafed/v1/certificates/verify",
        "certificate.release": "/deltafed/v1/certificates/release",
        "record.request": "/deltafed/v1/records",
        "concern.file": "/deltafed/v1/concerns",
        "concern.history": "/deltafed/v1/concerns/history",
        "concern.escalations": "/deltafed/v1/concerns/escalations",
        "match.ask": "/deltafed/v1/match",
        "subscription.create": "/deltafed/v1/subscriptions",
        "subscription.list": "/deltafed/v1/subscriptions/list",
        "subscription.cancel": "/deltafed/v1/subscriptions/cancel",
        "event.deliver": "/deltafed/v1/events",
    }
    assert {v: k for k, v in protocol.PATH_OPERATIONS.items()} == protocol.OPERATION_PATHS
    for path in (protocol.HEALTH_PATH, protocol.METADATA_PATH, protocol.OPENAPI_PATH):
        assert path.startswith(protocol.API_PREFIX + "/")
    # The paths and versions are exported by the protocol alone (one name, one place); the node
    # and the client use the protocol's.
    for name in ("API_PREFIX", "METADATA_PATH", "OPERATION_PATHS", "PROTOCOL_VERSIONS"):
        assert name not in node.__all__, name
    assert protocol.REQUEST_MEDIA_TYPE == "application/deltafed-request+jws"
    for alias in ("REQUEST_TYPE", "RESPONSE_TYPE", "METADATA_TYPE"):
        assert not hasattr(node, alias), alias
    assert protocol.PROTOCOL_VERSIONS == ("1",)
    assert client_module.OPERATION_PATHS is protocol.OPERATION_PATHS


def test_peek_unverified_claims_reads_without_checking(clock: FixedClock, sh_key: PrivateKey):
    from deltafed.protocol import peek_unverified_claims

    raw = sign_request(request_claims(clock), sh_key)
    claims = peek_unverified_claims(raw)
    assert claims is not None
    assert claims["iss"] == SHANGHAI
    # A broken signature is not noticed: the claims are unverified.
    head, payload, _ = raw.split(b".")
    assert peek_unverified_claims(head + b"." + payload + b".AAAA") == claims
    assert peek_unverified_claims(b"not a jws") is None
    array = base64.urlsafe_b64encode(b"[1]").rstrip(b"=")
    assert peek_unverified_claims(head + b"." + array + b".AAAA") is None
