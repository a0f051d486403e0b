"""End to end: a Shanghai service asks the Jiangsu and Zhejiang nodes, over loopback HTTP and
over the ASGI transport (each test runs in both modes)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from deltafed import DeltafedError, PeerProblemError, SignatureInvalidError
from deltafed._canonical import canonicalize
from deltafed.adapters._synthetic import HOUSEHOLD_REGISTRATION, IDENTITY_CARD
from deltafed.client import AsyncFederationClient, FederationClient
from deltafed.keys import b64url_decode, b64url_encode
from deltafed.protocol import ProtocolVerifier, new_request, sign_request
from deltafed.testing import (
    JIANGSU,
    SCENARIO_HUKOU,
    SCENARIO_RELEASE,
    SCENARIO_SOCIAL,
    SCENARIO_VERIFY,
    SHANGHAI,
    ZHEJIANG,
    synthetic_population,
)

from .conftest import ZJ_ADAPTER_RETRY, Federation

POPULATION = synthetic_population()
JS_RESIDENT = POPULATION.region("320000").residents[0].resident_id
ZJ_RESIDENT = POPULATION.region("330000").residents[0].resident_id


async def consent_for(
    client: AsyncFederationClient, holder: str, *, lifetime: timedelta = timedelta(days=10)
) -> bytes:
    return client.issue_consent(
        holder_type="111",
        holder_code=holder,
        scenario=SCENARIO_HUKOU,
        scope=["registered_division", "is_household_head"],
        operations=["record.request"],
        lifetime=lifetime,
    )


async def hukou(client: AsyncFederationClient, fields: list[str], consent: bytes | None) -> Any:
    return await client.request_record(
        JIANGSU,
        scenario=SCENARIO_HUKOU,
        use_cause="Primary school enrolment",
        record_type=HOUSEHOLD_REGISTRATION.code,
        subject_code=JS_RESIDENT,
        subject_type="111",
        fields=fields,
        consent=consent,
    )


@pytest.mark.anyio
async def test_verification_in_two_regions(
    federation: Federation, shanghai: AsyncFederationClient
) -> None:
    for provider, holder in ((JIANGSU, JS_RESIDENT), (ZHEJIANG, ZJ_RESIDENT)):
        result = await shanghai.verify_certificate(
            provider,
            scenario=SCENARIO_VERIFY,
            use_cause="跨省通办 identity check",
            holder_code=holder,
            holder_type="111",
            type_code=IDENTITY_CARD.type_code,
        )
        assert result.valid is True
        assert result.summary == {"name": "居民身份证"}
        assert federation.node_audit[provider].size == 1  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_record_release_with_minimal_fields(
    federation: Federation, shanghai: AsyncFederationClient
) -> None:
    consent = await consent_for(shanghai, JS_RESIDENT)
    record = await hukou(shanghai, ["is_household_head"], consent)
    assert record.record_type == HOUSEHOLD_REGISTRATION.code
    assert list(record.fields) == ["is_household_head"]
    responder = federation.node_audit[JIANGSU].entry(0)  # type: ignore[attr-defined]
    assert responder.fields == ("is_household_head",)
    assert responder.outcome == "ok"


# What the registry already refuses is refused by the client before sending, with the class
# whose code the node sends; with screen=False the request travels and the node refuses it with
# that same code.
_REFUSED: list[tuple[str, str, str, str, str, str, dict[str, Any]]] = [
    # (case, requester, provider, operation, target, scenario, body)
    (
        "not_authorized",
        ZHEJIANG,
        JIANGSU,
        "certificate.verify",
        IDENTITY_CARD.type_code,
        SCENARIO_VERIFY,
        {
            "holder_code": JS_RESIDENT,
            "holder_type": "111",
            "type_code": IDENTITY_CARD.type_code,
            "use_cause": "not allowed",
        },
    ),
    (
        "not_authorized",  # Shanghai is not a provider of the social insurance scenario
        JIANGSU,
        SHANGHAI,
        "record.request",
        "social_insurance",
        SCENARIO_SOCIAL,
        {
            "record_type": "social_insurance",
            "subject_code": POPULATION.region("310000").residents[0].resident_id,
            "subject_type": "111",
            "fields": ["insured"],
            "use_cause": "subsidy",
        },
    ),
    (
        "field_not_allowed",
        SHANGHAI,
        JIANGSU,
        "record.request",
        HOUSEHOLD_REGISTRATION.code,
        SCENARIO_HUKOU,
        {
            "record_type": HOUSEHOLD_REGISTRATION.code,
            "subject_code": JS_RESIDENT,
            "subject_type": "111",
            "fields": ["registered_division", "household_size"],
            "use_cause": "Primary school enrolment",
        },
    ),
    (
        "scenario_unknown",
        SHANGHAI,
        JIANGSU,
        "certificate.verify",
        IDENTITY_CARD.type_code,
        "no-such-scenario",
        {
            "holder_code": JS_RESIDENT,
            "holder_type": "111",
            "type_code": IDENTITY_CARD.type_code,
            "use_cause": "x",
        },
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize("case", _REFUSED, ids=[f"{c[0]}-{c[1][:2]}-{c[2][:2]}" for c in _REFUSED])
async def test_what_the_registry_refuses_is_refused_before_sending_with_the_nodes_code(
    federation: Federation, case: tuple[str, str, str, str, str, str, dict[str, Any]]
) -> None:
    code, requester, provider, operation, target, scenario, body = case
    ask = {"operation": operation, "target": target, "scenario": scenario, "body": body}
    async with federation.client(requester) as client:
        with pytest.raises(DeltafedError) as local:
            await client.exchange(provider, **ask)
        assert local.value.code == code
        assert "not sent" in local.value.message
        assert federation.node_audit[provider].size == 0  # type: ignore[attr-defined]
        answered = await client.exchange(provider, **ask, screen=False)
    assert not answered.response.ok
    assert answered.body["code"] == code
    assert federation.node_audit[provider].entry(0).outcome == code  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_missing_consent(shanghai: AsyncFederationClient) -> None:
    with pytest.raises(PeerProblemError) as info:
        await hukou(shanghai, ["registered_division"], None)
    assert info.value.problem_code == "consent_required"


@pytest.mark.anyio
async def test_expired_consent(federation: Federation, shanghai: AsyncFederationClient) -> None:
    consent = await consent_for(shanghai, JS_RESIDENT, lifetime=timedelta(days=1))
    federation.clock.advance(timedelta(days=2).total_seconds())
    with pytest.raises(PeerProblemError) as info:
        await hukou(shanghai, ["registered_division"], consent)
    assert info.value.problem_code == "consent_expired"


@pytest.mark.anyio
async def test_replayed_request(federation: Federation, shanghai: AsyncFederationClient) -> None:
    outcome = await shanghai.exchange(
        JIANGSU,
        operation="certificate.verify",
        target=IDENTITY_CARD.type_code,
        scenario=SCENARIO_VERIFY,
        body={
            "holder_code": JS_RESIDENT,
            "holder_type": "111",
            "type_code": IDENTITY_CARD.type_code,
            "use_cause": "first",
        },
    )
    assert outcome.response.ok
    replay = sign_request(
        new_request(
            issuer=SHANGHAI,
            audience=JIANGSU,
            operation="certificate.verify",
            target=IDENTITY_CARD.type_code,
            scenario=SCENARIO_VERIFY,
            body={
                "holder_code": JS_RESIDENT,
                "holder_type": "111",
                "type_code": IDENTITY_CARD.type_code,
                "use_cause": "replayed id, other content",
            },
            now=federation.clock(),
            jti=outcome.response.claims.rid,
        ),
        federation.fed.keys[SHANGHAI],
    )
    url = federation.fed.endpoints[JIANGSU] + "/deltafed/v1/certificates/verify"
    headers = {"content-type": "application/deltafed-request+jws"}
    async with httpx.AsyncClient(transport=federation.transport()) as http:
        refused = await http.post(url, content=replay, headers=headers)
        again = await http.post(url, content=outcome.request, headers=headers)
    assert refused.status_code == 409
    verifier = ProtocolVerifier(
        federation.fed.trusted_registry(), SHANGHAI, clock=federation.clock, replay=None
    )
    problem = verifier.verify_response(refused.content, request_raw=replay)
    assert problem.body["code"] == "replay"
    assert again.content == outcome.response.raw  # the identical bytes get the original answer
    assert federation.node_audit[JIANGSU].size == 1  # type: ignore[attr-defined]


class _Tamper(httpx.AsyncBaseTransport):
    """Turns every certificate into an invalid one on the way, keeping the signature."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        await response.aclose()
        head, payload, sig = body.split(b".")
        claims = json.loads(b64url_decode(payload.decode()))
        claims["body"]["valid"] = False
        forged = head + b"." + b64url_encode(canonicalize(claims)).encode() + b"." + sig
        return httpx.Response(response.status_code, headers=response.headers, content=forged)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.anyio
async def test_tampered_response_is_detected(federation: Federation) -> None:
    async with federation.client(transport=_Tamper(federation.transport())) as client:
        with pytest.raises(SignatureInvalidError):
            await client.verify_certificate(
                JIANGSU,
                scenario=SCENARIO_VERIFY,
                use_cause="tamper",
                holder_code=JS_RESIDENT,
                holder_type="111",
                type_code=IDENTITY_CARD.type_code,
            )


def test_sync_client_over_loopback(federation: Federation) -> None:
    if federation.mode != "loopback":
        pytest.skip("the synchronous client needs a real socket (no sync ASGI transport)")
    with FederationClient(
        SHANGHAI,
        federation.fed.keys[SHANGHAI],
        federation.fed.trusted_registry(),
        clock=federation.clock,
    ) as client:
        result = client.release_certificate(
            JIANGSU,
            scenario=SCENARIO_RELEASE,
            use_cause="account opening",
            fields=["birth_date"],
            holder_code=JS_RESIDENT,
            holder_type="111",
            type_code=IDENTITY_CARD.type_code,
            consent=client.issue_consent(
                holder_type="111",
                holder_code=JS_RESIDENT,
                scenario=SCENARIO_RELEASE,
                scope=["birth_date"],
                operations=["certificate.release"],
                lifetime=timedelta(days=1),
            ),
        )
    assert list(result.fields) == ["birth_date"]
    assert result.fields["birth_date"].startswith("18")


class _DropFirstAnswer(httpx.AsyncBaseTransport):
    """Forwards every request; loses the connection before the first answer arrives."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.forwarded: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.forwarded.append(request.content)
        if len(self.forwarded) == 1:
            await response.aread()
            await response.aclose()
            raise httpx.RemoteProtocolError("peer closed connection without response")
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.anyio
async def test_retry_after_a_dropped_connection_gets_the_original_answer(
    federation: Federation,
) -> None:
    drop = _DropFirstAnswer(federation.transport())
    async with federation.client(transport=drop) as client:
        result = await client.verify_certificate(
            JIANGSU,
            scenario=SCENARIO_VERIFY,
            use_cause="retry",
            holder_code=JS_RESIDENT,
            holder_type="111",
            type_code=IDENTITY_CARD.type_code,
        )
    assert result.valid is True
    assert len(drop.forwarded) == 2
    assert drop.forwarded[0] == drop.forwarded[1]
    assert federation.platform_calls(JIANGSU) == ["retry"]  # the platform was asked once
    assert federation.node_audit[JIANGSU].size == 1  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_node_whose_adapter_is_down(federation: Federation) -> None:
    federation.zj_sandbox.faults.set(server_error=1000)
    async with federation.client() as client:
        with pytest.raises(PeerProblemError) as info:
            await client.verify_certificate(
                ZHEJIANG,
                scenario=SCENARIO_VERIFY,
                use_cause="platform down",
                holder_code=ZJ_RESIDENT,
                holder_type="111",
                type_code=IDENTITY_CARD.type_code,
            )
    assert info.value.problem_code == "adapter_unavailable"
    audit = federation.node_audit[ZHEJIANG]
    assert [audit.entry(i).outcome for i in range(audit.size)] == ["adapter_unavailable"] * 3  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_adapter_back_before_the_retry(federation: Federation) -> None:
    # Every try of the Zhejiang adapter for the first send fails; the platform is back before
    # the client sends the same bytes again.
    federation.zj_sandbox.faults.set(server_error=ZJ_ADAPTER_RETRY.attempts)
    async with federation.client() as client:
        result = await client.verify_certificate(
            ZHEJIANG,
            scenario=SCENARIO_VERIFY,
            use_cause="platform back",
            holder_code=ZJ_RESIDENT,
            holder_type="111",
            type_code=IDENTITY_CARD.type_code,
        )
    assert result.valid is True
    audit = federation.node_audit[ZHEJIANG]
    outcomes = [audit.entry(i).outcome for i in range(audit.size)]  # type: ignore[attr-defined]
    assert outcomes == ["adapter_unavailable", "ok"]
