"""The gm crypto profile in the protocol: SM2SM3 messages, SM3 request digests, and the typed
refusal of a message in the other profile."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from deltafed import (
    AlgorithmNotAllowedError,
    BindingMismatchError,
    ConfigurationError,
    CryptoProfileMismatchError,
    MalformedMessageError,
)
from deltafed._clock import FixedClock
from deltafed._profile import GM, INTERNATIONAL, crypto_profile
from deltafed.keys import PrivateKey, StaticKeyResolver
from deltafed.protocol import (
    Limits,
    MemoryReplayStore,
    ProtocolVerifier,
    new_problem_response,
    new_request,
    new_response,
    sign_document,
    sign_request,
    sign_response,
)

SHANGHAI = "310000/shzwfw/yitongban"
JIANGSU = "320000/gongan/hukou"
CLOCK = FixedClock(datetime(2026, 1, 15, 8, 0, tzinfo=UTC))


def _request(key: PrivateKey, jti: str = "gm-profile-request-1") -> bytes:
    claims = new_request(
        issuer=SHANGHAI,
        audience=JIANGSU,
        operation="record.request",
        target="hukou.household",
        scenario="settle",
        body={},
        now=CLOCK(),
        jti=jti,
    )
    return sign_request(claims, key)


def _verifier(keys: dict[str, list[PrivateKey]], audience: str, limits: Limits) -> ProtocolVerifier:
    resolver = StaticKeyResolver({m: [k.public_key for k in ks] for m, ks in keys.items()})
    return ProtocolVerifier(
        resolver, audience, clock=CLOCK, replay=MemoryReplayStore(), limits=limits
    )


def test_gm_exchange_signs_with_sm2_and_digests_with_sm3() -> None:
    sh, js = PrivateKey.generate("SM2"), PrivateKey.generate("SM2")
    keys = {SHANGHAI: [sh], JIANGSU: [js]}
    raw = _request(sh)
    assert b'"alg":"SM2SM3"' in base64.urlsafe_b64decode(raw.split(b".")[0] + b"==")
    request = _verifier(keys, JIANGSU, Limits(crypto=GM)).verify_request(raw)
    assert request.alg == "SM2SM3"
    assert request.digest == GM.digest_text(raw)
    assert request.digest.startswith("sm3:")
    response = sign_response(new_response(request, status="ok", body={"ok": True}, now=CLOCK()), js)
    requester = ProtocolVerifier(
        StaticKeyResolver({JIANGSU: [js.public_key]}),
        SHANGHAI,
        clock=CLOCK,
        replay=None,
        limits=Limits(crypto=GM),
    )
    verified = requester.verify_response(response, request_raw=raw)
    assert verified.claims.req == GM.digest_text(raw)
    # A response bound with the SHA-256 digest of the same bytes does not bind in gm.
    forged = new_response(request, status="ok", body={}, now=CLOCK())
    forged = forged.model_copy(update={"req": INTERNATIONAL.digest_text(raw)})
    with pytest.raises(BindingMismatchError):
        requester.verify_response(sign_response(forged, js), request_raw=raw)


def test_documents_and_problems_in_gm() -> None:
    sh = PrivateKey.generate("SM2")
    doc = sign_document(
        {"iss": SHANGHAI, "iat": 1_768_464_000, "exp": 1_768_464_000 + 600},
        typ="deltafed-consent+jws",
        signer=sh,
    )
    verified = _verifier({SHANGHAI: [sh]}, JIANGSU, Limits(crypto=GM)).verify_document(
        doc, typ="deltafed-consent+jws"
    )
    assert verified.alg == "SM2SM3"
    problem = new_problem_response(
        b"garbage",
        issuer=JIANGSU,
        now=CLOCK(),
        body={"code": "malformed_message", "title": "x", "status": 400},
        crypto="gm",
    )
    assert problem.req == GM.digest_text(b"garbage")


def test_an_international_message_is_refused_by_a_gm_node_with_a_typed_code() -> None:
    ed = PrivateKey.generate("EdDSA")
    with pytest.raises(CryptoProfileMismatchError) as info:
        _verifier({SHANGHAI: [ed]}, JIANGSU, Limits(crypto=GM)).verify_request(_request(ed))
    assert info.value.code == "crypto_profile_mismatch"
    assert info.value.field == "alg"
    assert isinstance(info.value, AlgorithmNotAllowedError)


def test_a_gm_message_is_refused_by_an_international_node_with_a_typed_code() -> None:
    sm2 = PrivateKey.generate("SM2")
    with pytest.raises(CryptoProfileMismatchError):
        _verifier({SHANGHAI: [sm2]}, JIANGSU, Limits()).verify_request(_request(sm2))


def test_unknown_algorithms_keep_their_own_code() -> None:
    from deltafed.protocol._jws import parse_compact

    header = b"eyJhbGciOiJub25lIiwia2lkIjoiYSIsInR5cCI6ImRlbHRhZmVkLXJlcXVlc3QrandzIn0"
    with pytest.raises(AlgorithmNotAllowedError) as info:
        parse_compact(header + b".e30.", max_bytes=4096, algorithms=GM.algorithms, crypto=GM)
    assert type(info.value) is AlgorithmNotAllowedError


def test_limits_follow_the_profile() -> None:
    assert Limits().algorithms == ("EdDSA", "ES256")
    assert Limits().crypto is INTERNATIONAL
    assert Limits(crypto=GM).algorithms == ("SM2SM3",)
    assert Limits(algorithms=("SM2SM3", "X-HSM"), crypto=GM).algorithms == ("SM2SM3", "X-HSM")
    with pytest.raises(ConfigurationError):
        Limits(algorithms=("EdDSA",), crypto=GM)
    with pytest.raises(ConfigurationError):
        Limits(algorithms=("SM2SM3",))
    with pytest.raises(ConfigurationError):
        crypto_profile("fips")


def test_sm3_and_hmac_sm3_known_answers() -> None:
    # GB/T 32905-2016 Appendix A, example 1: SM3("abc").
    assert GM.digest(b"abc").hex() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )
    assert GM.mac(b"k", b"m") != INTERNATIONAL.mac(b"k", b"m")
    assert len(GM.mac(b"k", b"m")) == 32


def test_malformed_gm_signature_is_refused() -> None:
    sh = PrivateKey.generate("SM2")
    raw = _request(sh)
    head, payload, _ = raw.split(b".")
    with pytest.raises(MalformedMessageError):
        _verifier({SHANGHAI: [sh]}, JIANGSU, Limits(crypto=GM)).verify_request(
            head + b"." + payload + b".A"
        )
