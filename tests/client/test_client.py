"""Both clients against a scripted peer (pytest-httpx): retries, verification, errors, and
what is refused before sending. Every test runs against the sync and the async twin."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest
from pytest_httpx import HTTPXMock

from deltafed import (
    BindingMismatchError,
    ConfigurationError,
    DeltafedError,
    FieldNotAllowedError,
    IdentifierError,
    InvalidInputError,
    MalformedMessageError,
    NotAuthorizedError,
    PeerProblemError,
    PeerTimeoutError,
    RetryPolicy,
    ScenarioUnknownError,
    SchemaValidationError,
    SignatureInvalidError,
    SizeLimitError,
    TransportError,
    UnknownKeyError,
    UnknownMemberError,
)
from deltafed.adapters._synthetic import IDENTITY_CARD
from deltafed.policy import verify_consent
from deltafed.protocol import ProtocolVerifier, new_problem_response, sign_response
from deltafed.testing import (
    JIANGSU,
    SCENARIO_SOCIAL,
    SCENARIO_VERIFY,
    SHANGHAI,
    ZHEJIANG,
    synthetic_population,
)

from .conftest import RECORDS_URL, RESPONSE_TYPE, URL, Recorder, Twin, World

JS = synthetic_population().region("320000")
#: One try, no retry.
ONCE = RetryPolicy(attempts=1)
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


def verify(twin: Twin, **client: Any) -> Any:
    return twin.run(
        "verify_certificate",
        JIANGSU,
        client=client,
        scenario=SCENARIO_VERIFY,
        use_cause="test",
        holder_code=HOLDER,
        holder_type="111",
        type_code=IDENTITY_CARD.type_code,
    )


def test_success(world: World, twin: Twin, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_callback(lambda r: world.peer.answer(r, RESULT), url=URL)
    result = verify(twin)
    assert result.valid is True
    assert result.certificate_id == CARD.certificate_id
    sent = httpx_mock.get_requests()[0]
    assert sent.headers["content-type"] == "application/deltafed-request+jws"


def test_region_code_finds_the_member(world: World, twin: Twin, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_callback(lambda r: world.peer.answer(r, RESULT), url=URL)
    outcome = twin.run(
        "exchange",
        "320000",
        operation="certificate.verify",
        target=IDENTITY_CARD.type_code,
        scenario=SCENARIO_VERIFY,
        body={"certificate_id": CARD.certificate_id, "use_cause": "x"},
    )
    assert outcome.provider == JIANGSU
    assert outcome.attempts == 1


def test_unknown_provider(world: World, twin: Twin) -> None:
    recorder = Recorder()
    with pytest.raises(UnknownMemberError) as info:
        twin.run(
            "verify_certificate",
            "340000",
            transport=recorder.transport,
            scenario=SCENARIO_VERIFY,
            use_cause="x",
            certificate_id=CARD.certificate_id,
        )
    assert "no member of region 340000 has an endpoint" in info.value.message
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("provider", "detail"),
    [
        ("Anhui", "'Anhui' is not a region code or member id"),
        ("123456", "'123456' is not a region code or member id"),
        ("anhui/dsj", "'anhui/dsj' is not a region code or member id: member id must be"),
    ],
)
def test_a_provider_that_is_no_region_code_or_member_id(
    twin: Twin, provider: str, detail: str
) -> None:
    recorder = Recorder()
    with pytest.raises(IdentifierError) as info:
        twin.run(
            "verify_certificate",
            provider,
            transport=recorder.transport,
            scenario=SCENARIO_VERIFY,
            use_cause="x",
            certificate_id=CARD.certificate_id,
        )
    assert info.value.message.startswith(detail)
    assert info.value.field == "provider"
    assert "340000" in (info.value.remediation or "")
    assert recorder.requests == []


@pytest.mark.parametrize("status", [409, 502, 503, 504])
def test_retries_the_same_bytes_after_a_transient_status(
    world: World, twin: Twin, httpx_mock: HTTPXMock, status: int
) -> None:
    httpx_mock.add_response(url=URL, status_code=status, text="busy")
    httpx_mock.add_callback(lambda r: world.peer.answer(r, RESULT), url=URL)
    assert verify(twin).valid is True
    first, second = httpx_mock.get_requests()
    assert first.content == second.content


def test_retries_the_same_bytes_after_a_dropped_connection(
    world: World, twin: Twin, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_exception(httpx.RemoteProtocolError("connection dropped"), url=URL)
    httpx_mock.add_callback(lambda r: world.peer.answer(r, RESULT), url=URL)
    assert verify(twin).valid is True
    first, second = httpx_mock.get_requests()
    assert first.content == second.content


def test_gives_up_after_the_attempts(world: World, twin: Twin, httpx_mock: HTTPXMock) -> None:
    for _ in range(3):
        httpx_mock.add_exception(httpx.ConnectError("refused"), url=URL)
    with pytest.raises(TransportError):
        verify(twin)
    assert len(httpx_mock.get_requests()) == 3


def test_timeout_maps_to_peer_timeout(world: World, twin: Twin, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=URL)
    with pytest.raises(PeerTimeoutError):
        verify(twin, retry=ONCE)


def test_last_transient_answer_is_verified_and_raised(
    world: World, twin: Twin, httpx_mock: HTTPXMock
) -> None:
    for _ in range(3):
        httpx_mock.add_callback(
            lambda r: world.peer.problem(r, "adapter_unavailable", 503), url=URL
        )
    with pytest.raises(PeerProblemError) as info:
        verify(twin)
    assert info.value.problem_code == "adapter_unavailable"
    assert len(httpx_mock.get_requests()) == 3


def test_unsigned_gateway_error_is_a_transport_error(
    world: World, twin: Twin, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=URL, status_code=502, text="<html>bad gateway</html>")
    with pytest.raises(TransportError):
        verify(twin, retry=ONCE)


def test_signed_refusal_is_not_retried(world: World, twin: Twin, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_callback(
        lambda r: world.peer.problem(
            r, "field_not_allowed", 403, field="body.fields", remediation="Ask less."
        ),
        url=URL,
    )
    with pytest.raises(PeerProblemError) as info:
        verify(twin)
    assert info.value.problem_code == "field_not_allowed"
    assert info.value.field == "body.fields"
    assert info.value.remediation == "Ask less."
    assert len(httpx_mock.get_requests()) == 1


def test_self_addressed_not_found_is_a_communication_failure(
    world: World, twin: Twin, httpx_mock: HTTPXMock
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
        verify(twin, retry=ONCE)
    assert not isinstance(info.value, PeerProblemError)
    assert info.value.code == "wrong_audience"


def test_unsigned_answer_is_a_protocol_error(
    world: World, twin: Twin, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=URL, status_code=400, json={"error": "no"})
    with pytest.raises(MalformedMessageError):
        verify(twin)


def test_tampered_response_is_detected(world: World, twin: Twin, httpx_mock: HTTPXMock) -> None:
    def tampered(request: httpx.Request) -> httpx.Response:
        good = world.peer.answer(request, RESULT).content
        head, payload, sig = good.split(b".")
        bad = head + b"." + payload + b"." + (b"B" if sig[:1] == b"A" else b"A") + sig[1:]
        return httpx.Response(200, content=bad, headers={"content-type": RESPONSE_TYPE})

    httpx_mock.add_callback(tampered, url=URL)
    with pytest.raises(SignatureInvalidError):
        verify(twin)


@pytest.mark.parametrize("junk", [b"\n", b" ", b"\x00"])
def test_response_with_trailing_bytes_is_refused(
    world: World, twin: Twin, httpx_mock: HTTPXMock, junk: bytes
) -> None:
    def padded(request: httpx.Request) -> httpx.Response:
        good = world.peer.answer(request, RESULT).content
        return httpx.Response(200, content=good + junk, headers={"content-type": RESPONSE_TYPE})

    httpx_mock.add_callback(padded, url=URL)
    with pytest.raises(MalformedMessageError):
        verify(twin)


def test_response_to_another_request_is_refused(
    world: World, twin: Twin, httpx_mock: HTTPXMock
) -> None:
    with world.client() as builder:
        other = builder._core.prepare(
            JIANGSU,
            operation="certificate.verify",
            target=CARD.certificate_id,
            scenario=SCENARIO_VERIFY,
            body={"certificate_id": CARD.certificate_id, "use_cause": "other"},
            consent=None,
        ).raw
    httpx_mock.add_callback(lambda r: world.peer.answer(r, RESULT, for_request=other), url=URL)
    with pytest.raises(BindingMismatchError):
        verify(twin)


def test_response_signed_by_another_member_is_refused(
    world: World, twin: Twin, httpx_mock: HTTPXMock
) -> None:
    # Zhejiang's key in a response that names Jiangsu as issuer: Jiangsu has no such key.
    httpx_mock.add_callback(lambda r: world.peer.answer(r, RESULT, signer="330000/dsj"), url=URL)
    with pytest.raises(UnknownKeyError):
        verify(twin)


def test_oversized_response(world: World, twin: Twin, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=URL, status_code=200, content=b"a" * 300_000, headers={"content-type": RESPONSE_TYPE}
    )
    with pytest.raises(SizeLimitError):
        verify(twin)


def test_extra_released_field_is_refused(world: World, twin: Twin, httpx_mock: HTTPXMock) -> None:
    body = {"record_type": "social_insurance", "as_of": "2026-01-01T00:00:00Z"}
    body["fields"] = {"insured": True, "employer_credit_code": "91321100YY0320013M"}
    httpx_mock.add_callback(lambda r: world.peer.answer(r, body), url=RECORDS_URL)
    with pytest.raises(MalformedMessageError) as info:
        twin.run(
            "request_record",
            JIANGSU,
            scenario=SCENARIO_SOCIAL,
            use_cause="subsidy",
            record_type="social_insurance",
            subject_code=HOLDER,
            subject_type="111",
            fields=["insured"],
        )
    assert "employer_credit_code" in info.value.message


def test_invalid_request_is_refused_before_sending(world: World, twin: Twin) -> None:
    recorder = Recorder()
    with pytest.raises(SchemaValidationError) as info:
        twin.run(
            "verify_certificate",
            JIANGSU,
            transport=recorder.transport,
            scenario=SCENARIO_VERIFY,
            use_cause="x",
        )
    assert info.value.field == "certificate_id"
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("method", "field", "kwargs"),
    [
        ("verify_certificate", "holder_type", {"holder_code": HOLDER, "holder_type": 111}),
        ("verify_certificate", "holder_type", {"holder_code": HOLDER, "holder_type": "112"}),
        ("request_record", "subject_type", {"subject_code": HOLDER, "subject_type": 111}),
        ("ask_predicate", "subject_type", {"subject_code": HOLDER, "subject_type": 1.0}),
        ("issue_consent", "holder_type", {"holder_code": HOLDER, "holder_type": 111}),
    ],
)
def test_a_holder_type_that_is_no_code_is_a_typed_error(
    twin: Twin, method: str, field: str, kwargs: dict[str, Any]
) -> None:
    arguments: dict[str, Any] = {
        "verify_certificate": {"type_code": IDENTITY_CARD.type_code, "use_cause": "x"},
        "request_record": {"record_type": "social_insurance", "fields": ["insured"]},
        "ask_predicate": {"predicate": "resident-anything", "use_cause": "x"},
        "issue_consent": {
            "scenario": SCENARIO_SOCIAL,
            "scope": ["insured"],
            "operations": ["record.request"],
            "lifetime": timedelta(days=1),
        },
    }[method]
    if method == "request_record":
        arguments["use_cause"] = "x"
    provider = () if method == "issue_consent" else (JIANGSU,)
    if method != "issue_consent":
        arguments["scenario"] = SCENARIO_SOCIAL
    recorder = Recorder()
    with pytest.raises(InvalidInputError) as info:
        twin.run(method, *provider, transport=recorder.transport, **arguments, **kwargs)
    assert info.value.field == field
    assert "unknown holder type" in info.value.message
    assert "'111'" in info.value.message  # says what a valid one looks like
    assert recorder.requests == []


def test_requester_audit_entries(world: World, twin: Twin, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_callback(lambda r: world.peer.answer(r, RESULT), url=URL)
    httpx_mock.add_callback(lambda r: world.peer.problem(r, "not_found", 404), url=URL)
    verify(twin, audit=world.audit)
    with pytest.raises(PeerProblemError):
        verify(twin, audit=world.audit)
    first, second = world.audit.entry(0), world.audit.entry(1)
    assert (first.role, first.counterpart, first.outcome) == ("requester", JIANGSU, "ok")
    assert second.outcome == "not_found"
    assert first.subject_refs == (world.audit.subject_ref(HOLDER),)


def test_issue_consent_is_verifiable(world: World, twin: Twin) -> None:
    signed = twin.run(
        "issue_consent",
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


def test_bad_configuration(world: World, twin: Twin) -> None:
    with pytest.raises(ConfigurationError, match="retry must be a RetryPolicy"):
        twin.new(retry=3)


# What the registry already shows the provider's node would refuse: refused before anything is
# sent, by the error class whose code the node would answer with (protocol §5: policy order).
_SOCIAL = {
    "record_type": "social_insurance",
    "subject_code": HOLDER,
    "subject_type": "111",
    "use_cause": "subsidy",
}
_VERIFY = {
    "holder_code": HOLDER,
    "holder_type": "111",
    "type_code": IDENTITY_CARD.type_code,
    "use_cause": "x",
}


@pytest.mark.parametrize(
    ("error", "member", "method", "provider", "kwargs"),
    [
        (
            ScenarioUnknownError,
            SHANGHAI,
            "verify_certificate",
            JIANGSU,
            {"scenario": "no-such-scenario", **_VERIFY},
        ),
        (  # a requester the scenario does not name
            NotAuthorizedError,
            ZHEJIANG,
            "verify_certificate",
            JIANGSU,
            {"scenario": SCENARIO_VERIFY, **_VERIFY},
        ),
        (  # a provider region the scenario does not name
            NotAuthorizedError,
            SHANGHAI,
            "verify_certificate",
            SHANGHAI,
            {"scenario": SCENARIO_VERIFY, **_VERIFY},
        ),
        (  # an operation the scenario does not allow
            NotAuthorizedError,
            SHANGHAI,
            "request_record",
            JIANGSU,
            {"scenario": SCENARIO_VERIFY, "fields": ["insured"], **_SOCIAL},
        ),
        (
            FieldNotAllowedError,
            SHANGHAI,
            "request_record",
            JIANGSU,
            {"scenario": SCENARIO_SOCIAL, "fields": ["insured", "employer_credit_code"], **_SOCIAL},
        ),
    ],
    ids=["unknown-scenario", "requester", "provider", "operation", "field"],
)
def test_what_the_registry_refuses_is_refused_before_sending(
    world: World,
    twin: Twin,
    error: type[DeltafedError],
    member: str,
    method: str,
    provider: str,
    kwargs: dict[str, Any],
) -> None:
    recorder = Recorder()
    with pytest.raises(error) as info:
        twin.run(
            method,
            provider,
            client={"member": member, "audit": world.audit},
            transport=recorder.transport,
            **kwargs,
        )
    assert type(info.value) is error  # the local class, not PeerProblemError
    assert info.value.message.startswith("not sent to ")
    assert recorder.requests == []
    assert world.audit.size == 0
    if error is FieldNotAllowedError:
        assert "employer_credit_code" in info.value.message
        assert info.value.field == "body.fields"


def test_exchange_refuses_too_unless_told_to_send(world: World, twin: Twin) -> None:
    recorder = Recorder()
    ask = {
        "operation": "record.request",
        "target": "social_insurance",
        "scenario": SCENARIO_SOCIAL,
        "body": {**_SOCIAL, "fields": ["insured", "employer_credit_code"]},
    }
    with pytest.raises(FieldNotAllowedError):
        twin.run("exchange", JIANGSU, transport=recorder.transport, **ask)
    assert recorder.requests == []
    # screen=False sends it (to test a node's own refusal): the recorder sees it.
    with pytest.raises(TransportError):
        twin.run(
            "exchange",
            JIANGSU,
            client={"retry": ONCE},
            transport=recorder.transport,
            screen=False,
            **ask,
        )
    assert len(recorder.requests) == 1


def test_operations_the_registry_does_not_decide_are_not_screened(world: World, twin: Twin) -> None:
    # A concern is routed by the node's concern service, not by a scenario's parties.
    recorder = Recorder()
    with pytest.raises(TransportError):
        twin.run(
            "exchange",
            JIANGSU,
            client={"retry": ONCE},
            transport=recorder.transport,
            operation="concern.history",
            target="cn-0000000000000000",
            scenario="no-such-scenario",
            body={"concern": "cn-0000000000000000"},
        )
    assert len(recorder.requests) == 1


def _spy_inline(world: World, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    asked: list[bool] = []
    original = world.audit.record_async

    async def spy(**entry: Any) -> Any:
        asked.append(entry["inline"])
        return await original(**entry)

    monkeypatch.setattr(world.audit, "record_async", spy)
    return asked


def test_async_client_commits_inline_when_it_has_one_exchange_under_way(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _spy_inline(world, monkeypatch)
    transport = httpx.MockTransport(lambda r: world.peer.answer(r, RESULT))

    async def twice() -> None:
        async with (
            httpx.AsyncClient(transport=transport) as http,
            world.async_client(http=http, audit=world.audit) as client,
        ):
            for _ in range(2):
                await client.verify_certificate(
                    JIANGSU,
                    scenario=SCENARIO_VERIFY,
                    use_cause="test",
                    holder_code=HOLDER,
                    holder_type="111",
                    type_code=IDENTITY_CARD.type_code,
                )
                assert client._in_flight == 0

    anyio.run(twice)
    assert asked == [True, True]
    assert world.audit._writer is None  # the writer thread was never started
    assert world.audit.size == 2


def test_async_client_exchanges_under_way_together_share_the_writer_thread(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _spy_inline(world, monkeypatch)
    both = anyio.Event()
    arrived = 0

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal arrived
        arrived += 1
        if arrived == 2:
            both.set()
        await both.wait()  # each answer waits until both requests are out
        return world.peer.answer(request, RESULT)

    async def together() -> None:
        async with (
            httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http,
            world.async_client(http=http, audit=world.audit) as client,
            anyio.create_task_group() as group,
        ):
            for _ in range(2):
                group.start_soon(
                    functools.partial(
                        client.verify_certificate,
                        JIANGSU,
                        scenario=SCENARIO_VERIFY,
                        use_cause="test",
                        holder_code=HOLDER,
                        holder_type="111",
                        type_code=IDENTITY_CARD.type_code,
                    )
                )
        world.audit.shutdown()

    anyio.run(together)
    assert asked == [False, False]
    assert world.audit.size == 2
