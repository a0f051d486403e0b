"""FederationClient against a scripted peer (pytest-httpx): retries, verification, errors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from deltafed import (
    BindingMismatchError,
    ConfigurationError,
    DeltafedError,
    MalformedMessageError,
    PeerProblemError,
    PeerTimeoutError,
    SchemaValidationError,
    SignatureInvalidError,
    SizeLimitError,
    TransportError,
    UnknownKeyError,
    UnknownMemberError,
)
from deltafed.adapters import synthetic_population
from deltafed.adapters._synthetic import IDENTITY_CARD
from deltafed.node import JIANGSU, SCENARIO_SOCIAL, SCENARIO_VERIFY, SHANGHAI
from deltafed.policy import verify_consent
from deltafed.protocol import ProtocolVerifier, new_problem_response, sign_response

from .conftest import RECORDS_URL, RESPONSE_TYPE, URL, World

JS = synthetic_population().region("320000")
HOLDER = JS.residents[0].resident_id
CARD = JS.find(HOLDER, IDENTITY_CARD.type_code)
assert CARD is not None

RESULT: dict[str, Any] = {
    "valid": True,
    "certificate_id": CARD.certificate_id,
    "type_code": IDENTITY_CARD.type_code,
    "status": "01",
    "valid_from": "2024-11-28",
    "issuer_name": "苏公安厅（测试）",
}


def verify(world: World, **kw: Any) -> Any:
    with world.client(**kw) as client:
        return client.verify_certificate(
            JIANGSU,
            scenario=SCENARIO_VERIFY,
            use_cause="test",
            holder_code=HOLDER,
            holder_type="111",
            type_code=IDENTITY_CARD.type_code,
        )


def test_success(world: World, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_callback(lambda r: world.peer.answer(r, RESULT), url=URL)
    result = verify(world)
    assert result.valid is True
    assert result.certificate_id == CARD.certificate_id
    sent = httpx_mock.get_requests()[0]
    assert sent.headers["content-type"] == "application/deltafed-request+jws"


def test_region_code_finds_the_member(world: World, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_callback(lambda r: world.peer.answer(r, RESULT), url=URL)
    with world.client() as client:
        outcome = client.exchange(
            "320000",
            operation="certificate.verify",
            target=IDENTITY_CARD.type_code,
            scenario=SCENARIO_VERIFY,
            body={"certificate_id": CARD.certificate_id, "use_cause": "x"},
        )
    assert outcome.provider == JIANGSU
    assert outcome.attempts == 1


def test_unknown_provider(world: World) -> None:
    with world.client() as client, pytest.raises(UnknownMemberError):
        client.verify_certificate(
            "340000", scenario=SCENARIO_VERIFY, use_cause="x", certificate_id=CARD.certificate_id
        )


@pytest.mark.parametrize("status", [409, 502, 503, 504])
def test_retries_the_same_bytes_after_a_transient_status(
    world: World, httpx_mock: HTTPXMock, status: int
) -> None:
    httpx_mock.add_response(url=URL, status_code=status, text="busy")
    httpx_mock.add_callback(lambda r: world.peer.answer(r, RESULT), url=URL)
    assert verify(world).valid is True
    first, second = httpx_mock.get_requests()
    assert first.content == second.content


def test_retries_the_same_bytes_after_a_dropped_connection(
    world: World, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_exception(httpx.RemoteProtocolError("connection dropped"), url=URL)
    httpx_mock.add_callback(lambda r: world.peer.answer(r, RESULT), url=URL)
    assert verify(world).valid is True
    first, second = httpx_mock.get_requests()
    assert first.content == second.content


def test_gives_up_after_the_attempts(world: World, httpx_mock: HTTPXMock) -> None:
    for _ in range(3):
        httpx_mock.add_exception(httpx.ConnectError("refused"), url=URL)
    with pytest.raises(TransportError):
        verify(world)
    assert len(httpx_mock.get_requests()) == 3


def test_timeout_maps_to_peer_timeout(world: World, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=URL)
    with pytest.raises(PeerTimeoutError):
        verify(world, attempts=1)


def test_last_transient_answer_is_verified_and_raised(world: World, httpx_mock: HTTPXMock) -> None:
    for _ in range(3):
        httpx_mock.add_callback(
            lambda r: world.peer.problem(r, "adapter_unavailable", 503), url=URL
        )
    with pytest.raises(PeerProblemError) as info:
        verify(world)
    assert info.value.problem_code == "adapter_unavailable"
    assert len(httpx_mock.get_requests()) == 3


def test_unsigned_gateway_error_is_a_transport_error(world: World, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=URL, status_code=502, text="<html>bad gateway</html>")
    with pytest.raises(TransportError):
        verify(world, attempts=1)


def test_signed_refusal_is_not_retried(world: World, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_callback(
        lambda r: world.peer.problem(
            r, "field_not_allowed", 403, field="body.fields", remediation="Ask less."
        ),
        url=URL,
    )
    with pytest.raises(PeerProblemError) as info:
        verify(world)
    assert info.value.problem_code == "field_not_allowed"
    assert info.value.field == "body.fields"
    assert info.value.remediation == "Ask less."
    assert len(httpx_mock.get_requests()) == 1


def test_self_addressed_not_found_is_a_communication_failure(
    world: World, httpx_mock: HTTPXMock
) -> None:
    # What a node answers on a path that is no endpoint (§4.2, §7.1): signed, addressed to
    # itself, req the empty digest. It is not the peer's answer to our request (§7.2).
    def no_endpoint(request: httpx.Request) -> httpx.Response:
        claims = new_problem_response(
            b"",
            issuer=JIANGSU,
            now=world.clock(),
            body={"code": "not_found", "title": "Not found", "status": 404},
        )
        signed = sign_response(claims, world.fed.keys[JIANGSU])
        return httpx.Response(404, content=signed, headers={"content-type": RESPONSE_TYPE})

    httpx_mock.add_callback(no_endpoint, url=URL)
    with pytest.raises(DeltafedError) as info:
        verify(world, attempts=1)
    assert not isinstance(info.value, PeerProblemError)
    assert info.value.code == "wrong_audience"


def test_unsigned_answer_is_a_protocol_error(world: World, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=URL, status_code=400, json={"error": "no"})
    with pytest.raises(MalformedMessageError):
        verify(world)


def test_tampered_response_is_detected(world: World, httpx_mock: HTTPXMock) -> None:
    def tampered(request: httpx.Request) -> httpx.Response:
        good = world.peer.answer(request, RESULT).content
        head, payload, sig = good.split(b".")
        bad = head + b"." + payload + b"." + (b"B" if sig[:1] == b"A" else b"A") + sig[1:]
        return httpx.Response(200, content=bad, headers={"content-type": RESPONSE_TYPE})

    httpx_mock.add_callback(tampered, url=URL)
    with pytest.raises(SignatureInvalidError):
        verify(world)


@pytest.mark.parametrize("junk", [b"\n", b" ", b"\x00"])
def test_response_with_trailing_bytes_is_refused(
    world: World, httpx_mock: HTTPXMock, junk: bytes
) -> None:
    def padded(request: httpx.Request) -> httpx.Response:
        good = world.peer.answer(request, RESULT).content
        return httpx.Response(200, content=good + junk, headers={"content-type": RESPONSE_TYPE})

    httpx_mock.add_callback(padded, url=URL)
    with pytest.raises(MalformedMessageError):
        verify(world)


def test_response_to_another_request_is_refused(world: World, httpx_mock: HTTPXMock) -> None:
    with world.client() as client:
        other = client._core.prepare(
            JIANGSU,
            operation="certificate.verify",
            target=CARD.certificate_id,
            scenario=SCENARIO_VERIFY,
            body={"certificate_id": CARD.certificate_id, "use_cause": "other"},
            consent=None,
        ).raw
    httpx_mock.add_callback(lambda r: world.peer.answer(r, RESULT, for_request=other), url=URL)
    with pytest.raises(BindingMismatchError):
        verify(world)


def test_response_signed_by_another_member_is_refused(world: World, httpx_mock: HTTPXMock) -> None:
    # Zhejiang's key in a response that names Jiangsu as issuer: Jiangsu has no such key.
    httpx_mock.add_callback(lambda r: world.peer.answer(r, RESULT, signer="330000/dsj"), url=URL)
    with pytest.raises(UnknownKeyError):
        verify(world)


def test_oversized_response(world: World, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=URL, status_code=200, content=b"a" * 300_000, headers={"content-type": RESPONSE_TYPE}
    )
    with pytest.raises(SizeLimitError):
        verify(world)


def test_extra_released_field_is_refused(world: World, httpx_mock: HTTPXMock) -> None:
    body = {"record_type": "social_insurance", "as_of": "2026-01-01T00:00:00Z"}
    body["fields"] = {"insured": True, "employer_credit_code": "91321100YY0320013M"}
    httpx_mock.add_callback(lambda r: world.peer.answer(r, body), url=RECORDS_URL)
    with world.client() as client, pytest.raises(MalformedMessageError) as info:
        client.request_record(
            JIANGSU,
            scenario=SCENARIO_SOCIAL,
            use_cause="subsidy",
            record_type="social_insurance",
            subject_code=HOLDER,
            subject_type="111",
            fields=["insured"],
        )
    assert "employer_credit_code" in info.value.message


def test_invalid_request_is_refused_before_sending(world: World) -> None:
    with world.client() as client, pytest.raises(SchemaValidationError) as info:
        client.verify_certificate(JIANGSU, scenario=SCENARIO_VERIFY, use_cause="x")
    assert info.value.field == "certificate_id"


def test_requester_audit_entries(world: World, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_callback(lambda r: world.peer.answer(r, RESULT), url=URL)
    httpx_mock.add_callback(lambda r: world.peer.problem(r, "not_found", 404), url=URL)
    verify(world, audit=world.audit)
    with pytest.raises(PeerProblemError):
        verify(world, audit=world.audit)
    first, second = world.audit.entry(0), world.audit.entry(1)
    assert (first.role, first.counterpart, first.outcome) == ("requester", JIANGSU, "ok")
    assert second.outcome == "not_found"
    assert first.subject_refs == (world.audit.subject_ref(HOLDER),)


def test_issue_consent_is_verifiable(world: World) -> None:
    with world.client() as client:
        signed = client.issue_consent(
            holder_type="111",
            holder_code=HOLDER,
            scenario="yrd-hukou-school-enrolment",
            scope=["registered_division"],
            operations=["record.request"],
            lifetime=timedelta(days=3),
        )
    verifier = ProtocolVerifier(
        world.fed.trusted_registry(), JIANGSU, clock=world.clock, replay=None
    )
    consent = verify_consent(verifier, signed)
    assert consent.issuer == SHANGHAI
    assert consent.requester == SHANGHAI
    assert consent.expires_at - consent.issued_at == timedelta(days=3)


def test_bad_configuration(world: World) -> None:
    with pytest.raises(ConfigurationError):
        world.client(attempts=0)


@pytest.mark.anyio
async def test_async_client_retries_and_verifies(world: World, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadError("dropped"), url=URL)
    httpx_mock.add_callback(lambda r: world.peer.answer(r, RESULT), url=URL)
    async with world.async_client(audit=world.audit) as client:
        result = await client.verify_certificate(
            JIANGSU,
            scenario=SCENARIO_VERIFY,
            use_cause="test",
            certificate_id=CARD.certificate_id,
        )
    assert result.valid is True
    first, second = httpx_mock.get_requests()
    assert first.content == second.content
    assert world.audit.entry(0).outcome == "ok"


@pytest.mark.anyio
async def test_async_client_maps_problems(world: World, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_callback(lambda r: world.peer.problem(r, "consent_required", 403), url=URL)
    async with world.async_client() as client:
        with pytest.raises(PeerProblemError) as info:
            await client.verify_certificate(
                SHANGHAI.replace("310000", "320000"),
                scenario=SCENARIO_VERIFY,
                use_cause="test",
                certificate_id=CARD.certificate_id,
            )
    assert info.value.problem_code == "consent_required"
