"""The node over httpx's ASGI transport: every answer signed, steps in order, idempotent retry."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest

from deltafed import (
    AdapterAuthError,
    AdapterError,
    AdapterTimeoutError,
    AdapterUnavailableError,
    ConfigurationError,
    DeltafedError,
    NotFoundError,
)
from deltafed._canonical import sha256_digest
from deltafed.adapters._synthetic import HOUSEHOLD_REGISTRATION, IDENTITY_CARD
from deltafed.adapters.jiangsu import JiangsuAdapter
from deltafed.client import issue_consent
from deltafed.node import METADATA_TYP, Exchange, Node
from deltafed.protocol import MemoryReplayStore, ProtocolVerifier
from deltafed.protocol._jws import peek_payload
from deltafed.registry import TrustedRegistry
from deltafed.schemas.messages import VerificationResult
from deltafed.testing import JIANGSU, SHANGHAI, ZHEJIANG, InMemoryAdapter, synthetic_population

from .conftest import BASE, Harness

pytestmark = pytest.mark.anyio

JS = synthetic_population().region("320000")
HOLDER = JS.residents[0].resident_id
CARD = JS.find(HOLDER, IDENTITY_CARD.type_code)
assert CARD is not None

VERIFY_BY_HOLDER: dict[str, Any] = {
    "holder_code": HOLDER,
    "holder_type": "111",
    "type_code": IDENTITY_CARD.type_code,
    "use_cause": "跨省通办 test",
}


def problem_of(harness: Harness, sent: Any) -> dict[str, Any]:
    verified = harness.verify(sent)
    assert verified.claims.sts == "problem"
    assert sent.status == verified.body["status"]
    assert sent.response.headers["content-type"] == "application/deltafed-response+jws"
    return verified.body


def self_addressed(harness: Harness, body: bytes) -> dict[str, Any]:
    """A problem answering bytes that were not a request: signed by the node, to itself."""
    payload = peek_payload(body)
    assert payload is not None
    assert payload["iss"] == JIANGSU
    assert payload["sts"] == "problem"
    return dict(payload["body"])


async def test_verification_by_holder(harness: Harness) -> None:
    sent = await harness.post(harness.sign(body=VERIFY_BY_HOLDER))
    assert sent.status == 200
    assert sent.response.headers["cache-control"] == "no-store"
    verified = harness.verify(sent)
    assert verified.ok
    assert verified.body["valid"] is True
    assert verified.body["certificate_id"] == CARD.certificate_id
    assert verified.body["status"] == "01"
    assert verified.body["summary"] == {"name": "居民身份证"}
    assert "holder_name" not in json.dumps(verified.body)
    entry = harness.audit_log.entry(0)
    assert entry.role == "responder"
    assert entry.counterpart == SHANGHAI
    assert entry.outcome == "ok"
    assert entry.fields == ()
    assert entry.subject_refs == (harness.audit_log.subject_ref(HOLDER),)
    assert harness.adapter.use_causes == ["跨省通办 test"]  # the request's own use cause


async def test_every_verification_answer_is_a_valid_result(harness: Harness) -> None:
    cards = [c for c in JS.certificates if c.type_code == IDENTITY_CARD.type_code]
    assert len(cards) > 3
    for cert in cards:
        body = {"certificate_id": cert.certificate_id, "use_cause": "check"}
        sent = await harness.post(harness.sign(body=body, target=cert.certificate_id))
        verified = harness.verify(sent)
        assert verified.ok, verified.body
        assert VerificationResult.parse(verified.body).to_wire() == verified.body
        assert verified.body["issuer_name"] == cert.issuer_name


async def test_verification_by_identifier(harness: Harness) -> None:
    body = {"certificate_id": CARD.certificate_id, "use_cause": "check"}
    sent = await harness.post(harness.sign(body=body, target=CARD.certificate_id))
    assert harness.verify(sent).body["valid"] is True


async def test_revoked_certificate_is_not_valid(harness: Harness) -> None:
    harness.adapter.revoke(CARD.certificate_id)
    verified = harness.verify(await harness.post(harness.sign(body=VERIFY_BY_HOLDER)))
    assert verified.body["valid"] is False
    assert verified.body["status"] == "03"


async def test_record_release_returns_exactly_the_decided_fields(harness: Harness) -> None:
    consent = issue_consent(
        harness.fed.keys[SHANGHAI],
        issuer=SHANGHAI,
        holder_type="111",
        holder_code=HOLDER,
        scenario="yrd-hukou-school-enrolment",
        requester=SHANGHAI,
        scope=["registered_division", "is_household_head"],
        operations=["record.request"],
        now=harness.clock(),
        lifetime=timedelta(days=10),
    )
    raw = harness.sign(
        operation="record.request",
        target=HOUSEHOLD_REGISTRATION.code,
        scenario="yrd-hukou-school-enrolment",
        body={
            "record_type": HOUSEHOLD_REGISTRATION.code,
            "subject_type": "111",
            "subject_code": HOLDER,
            "fields": ["is_household_head"],
            "use_cause": "school enrolment",
        },
        consent=consent,
    )
    sent = await harness.post(raw, "/deltafed/v1/records")
    verified = harness.verify(sent)
    assert verified.ok
    assert verified.body["fields"] == {"is_household_head": True}
    assert harness.audit_log.entry(0).fields == ("is_household_head",)
    assert harness.adapter.use_causes == ["school enrolment"]


async def test_the_use_cause_reaches_the_native_platform(harness: Harness) -> None:
    adapter, sandbox = JiangsuAdapter.with_sandbox(clock=harness.clock)
    node = harness.fed.node(
        JIANGSU, adapter=adapter, audit=harness.audit, replay=MemoryReplayStore()
    )
    await harness.http.aclose()
    harness.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=node), base_url=BASE)
    body = {**VERIFY_BY_HOLDER, "use_cause": "  居住证办理：身份核验  "}
    verified = harness.verify(await harness.post(harness.sign(body=body)))
    assert verified.body["valid"] is True
    assert sandbox.use_causes == ["居住证办理：身份核验"]
    await adapter.aclose()


async def test_identical_retransmission_gets_the_same_bytes(harness: Harness) -> None:
    raw = harness.sign(body=VERIFY_BY_HOLDER)
    first = await harness.post(raw)
    harness.later(5)
    second = await harness.post(raw)
    assert second.response.content == first.response.content
    assert second.status == first.status == 200
    assert harness.adapter.calls == ["find_certificate"]
    assert harness.audit_log.size == 1


async def test_retransmitted_problem_keeps_its_status(harness: Harness) -> None:
    body = dict(VERIFY_BY_HOLDER, holder_code=JS.residents[1].resident_id)
    body["type_code"] = "11100000YG0000022G001"  # marriage certificate: not in the scenario
    raw = harness.sign(body=body, target=body["type_code"])
    first = await harness.post(raw)
    second = await harness.post(raw)
    assert first.status == second.status == 403
    assert second.response.content == first.response.content


async def test_same_id_other_bytes_is_a_replay(harness: Harness) -> None:
    jti = "replay-test-0000001"
    await harness.post(harness.sign(body=VERIFY_BY_HOLDER, jti=jti))
    other = dict(VERIFY_BY_HOLDER, use_cause="another cause")
    sent = await harness.post(harness.sign(body=other, jti=jti))
    assert sent.status == 409
    assert problem_of(harness, sent)["code"] == "replay"
    assert harness.audit_log.size == 1


async def test_unauthorized_requester_is_refused(harness: Harness) -> None:
    sent = await harness.post(harness.sign(body=VERIFY_BY_HOLDER, sender=ZHEJIANG))
    verifier = ProtocolVerifier(harness.registry, ZHEJIANG, clock=harness.clock, replay=None)
    verified = verifier.verify_response(sent.response.content, request_raw=sent.request)
    assert sent.status == 403
    assert verified.body["code"] == "not_authorized"
    assert harness.adapter.calls == []
    assert harness.audit_log.entry(0).outcome == "not_authorized"


async def test_operation_must_fit_the_path(harness: Harness) -> None:
    sent = await harness.post(harness.sign(body=VERIFY_BY_HOLDER), "/deltafed/v1/records")
    problem = problem_of(harness, sent)
    assert (problem["code"], problem["field"]) == ("malformed_message", "op")


async def test_target_must_be_what_the_body_names(harness: Harness) -> None:
    sent = await harness.post(harness.sign(body=VERIFY_BY_HOLDER, target=CARD.certificate_id))
    problem = problem_of(harness, sent)
    assert (problem["code"], problem["field"]) == ("invalid_input", "tgt")


async def test_body_schema_violation_names_the_field(harness: Harness) -> None:
    body = dict(VERIFY_BY_HOLDER, holder_code="110101197608056896")  # bad check digit
    sent = await harness.post(harness.sign(body=body))
    problem = problem_of(harness, sent)
    assert problem["code"] == "invalid_identifier"
    assert problem["field"] == "body.holder_code"


async def test_unsigned_garbage_gets_a_signed_problem(harness: Harness) -> None:
    sent = await harness.post(b"not a jws at all")
    assert sent.status == 400
    assert self_addressed(harness, sent.response.content)["code"] == "malformed_message"
    assert harness.audit_log.size == 0


@pytest.mark.parametrize("junk", [b"\n", b"\r\n", b" ", b"\x00"])
async def test_trailing_bytes_are_refused_and_the_genuine_request_still_answered(
    harness: Harness, junk: bytes
) -> None:
    # A party in the middle relays X + junk first: it must not be answered, audited or
    # remembered, or the genuine X would then be refused as a replay.
    raw = harness.sign(body=VERIFY_BY_HOLDER)
    relayed = await harness.post(raw + junk)
    assert relayed.status == 400
    assert self_addressed(harness, relayed.response.content)["code"] == "malformed_message"
    assert harness.adapter.calls == []
    assert harness.audit_log.size == 0
    genuine = await harness.post(raw)
    assert genuine.status == 200
    assert harness.verify(genuine).body["valid"] is True
    assert harness.audit_log.size == 1
    assert harness.audit_log.entry(0).request_id == harness.verify(genuine).claims.rid


async def test_tampered_request_is_refused(harness: Harness) -> None:
    raw = harness.sign(body=VERIFY_BY_HOLDER)
    head, payload, sig = raw.split(b".")
    tampered = head + b"." + payload + b"." + (b"A" if sig[:1] != b"A" else b"B") + sig[1:]
    sent = await harness.post(tampered)
    assert sent.status == 401
    assert problem_of(harness, sent)["code"] == "bad_signature"


async def test_expired_request_is_refused(harness: Harness) -> None:
    raw = harness.sign(body=VERIFY_BY_HOLDER, lifetime=30)
    harness.later(30 + 60)
    sent = await harness.post(raw)
    assert problem_of(harness, sent)["code"] == "expired"


async def test_request_for_another_member_is_refused(harness: Harness) -> None:
    sent = await harness.post(harness.sign(body=VERIFY_BY_HOLDER, audience=ZHEJIANG))
    assert sent.status == 401
    # Signed by Jiangsu, which the request did not address: the requester cannot take it as
    # the answer to its request (wrong issuer), but can read why.
    payload = peek_payload(sent.response.content)
    assert payload is not None
    assert payload["body"]["code"] == "wrong_audience"


async def test_wrong_media_type(harness: Harness) -> None:
    raw = harness.sign(body=VERIFY_BY_HOLDER)
    response = await harness.http.post(
        "/deltafed/v1/certificates/verify", content=raw, headers={"content-type": "text/plain"}
    )
    assert response.status_code == 400
    assert self_addressed(harness, response.content)["field"] == "content-type"


async def test_oversized_body(harness: Harness) -> None:
    sent = await harness.post(b"x" * (harness.node.limits.max_bytes + 1))
    assert sent.status == 413
    assert self_addressed(harness, sent.response.content)["code"] == "too_large"


async def test_a_body_not_read_is_answered_with_the_empty_digest(harness: Harness) -> None:
    raw = harness.sign(body=VERIFY_BY_HOLDER)
    for answer in (
        await harness.node.handle("/deltafed/v1/nothing-here", raw, content_type=None),
        await harness.node.handle(
            "/deltafed/v1/nothing", raw, content_type="application/deltafed-request+jws"
        ),
    ):
        payload = peek_payload(answer.body)
        assert payload is not None
        assert payload["req"] == sha256_digest(b"")
        assert payload["aud"] == JIANGSU
        assert "rid" not in payload
    sent = await harness.post(raw, path="/deltafed/v1/nothing-here")
    assert sent.status == 404
    assert peek_payload(sent.response.content)["req"] == sha256_digest(b"")  # type: ignore[index]


async def test_unknown_path_and_wrong_method(harness: Harness) -> None:
    missing = await harness.http.get("/deltafed/v1/nothing-here")
    assert missing.status_code == 404
    assert self_addressed(harness, missing.content)["code"] == "not_found"
    wrong = await harness.http.get("/deltafed/v1/records")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "POST"
    assert self_addressed(harness, wrong.content)["status"] == 405
    assert self_addressed(harness, wrong.content)["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        (AdapterUnavailableError("platform down"), 503, "adapter_unavailable"),
        (AdapterTimeoutError("platform slow"), 504, "adapter_timeout"),
        (RuntimeError("native client bug"), 502, "adapter_error"),
    ],
)
async def test_adapter_failures_become_problems(
    harness: Harness, failure: BaseException, status: int, code: str
) -> None:
    harness.adapter.fail = failure
    sent = await harness.post(harness.sign(body=VERIFY_BY_HOLDER))
    assert sent.status == status
    problem = problem_of(harness, sent)
    assert problem["code"] == code
    assert "Traceback" not in sent.response.text
    assert "native client bug" not in json.dumps(problem)
    assert harness.audit_log.entry(0).outcome == code


@pytest.mark.parametrize(
    "failure",
    [
        AdapterAuthError("浙江网关 code 14: 签名错误 (appKey zj-prod-0042, host 10.3.4.5)"),
        NotFoundError("Shanghai errorCode LIC-404: 证照不存在 (库 licence_db_03)"),
        AdapterError("Jiangsu head.status 100: 无权限"),
    ],
)
async def test_native_error_text_stays_in_the_node(
    harness: Harness, failure: DeltafedError, caplog: pytest.LogCaptureFixture
) -> None:
    # The code goes to the requester; the platform's own text only to the node's log.
    harness.adapter.fail = failure
    with caplog.at_level("WARNING", logger="deltafed.node"):
        sent = await harness.post(harness.sign(body=VERIFY_BY_HOLDER))
    problem = problem_of(harness, sent)
    assert problem["code"] == failure.code
    wire = json.dumps(problem, ensure_ascii=False)
    for native in ("签名", "证照", "无权限", "10.3.4.5", "licence_db", "errorCode", "head.status"):
        assert native not in wire
    assert failure.message in caplog.text


async def test_bad_native_data_is_a_problem(harness: Harness) -> None:
    harness.adapter.bad_metadata = True
    sent = await harness.post(harness.sign(body=VERIFY_BY_HOLDER))
    assert problem_of(harness, sent)["code"] == "adapter_bad_data"


async def test_transient_problem_is_processed_again(harness: Harness) -> None:
    raw = harness.sign(body=VERIFY_BY_HOLDER, jti="transient-request-0001")
    harness.adapter.fail = AdapterUnavailableError("platform down")
    first = await harness.post(raw)
    assert first.status == 503
    # Released, not forgotten: the id stays bound to these bytes.
    assert len(harness.replay) == 1
    other_body = {**VERIFY_BY_HOLDER, "use_cause": "another request, same id"}
    reused = harness.sign(body=other_body, jti="transient-request-0001")
    refused = await harness.post(reused)
    assert problem_of(harness, refused)["code"] == "replay"
    harness.adapter.fail = None
    second = await harness.post(raw)
    assert second.status == 200
    third = await harness.post(raw)
    assert third.response.content == second.response.content
    assert harness.adapter.calls == ["find_certificate"]  # the failed call never reached it
    assert [harness.audit_log.entry(i).outcome for i in range(2)] == ["adapter_unavailable", "ok"]
    assert harness.audit_log.size == 2


async def test_a_replay_store_without_forget_still_processes_again(harness: Harness) -> None:
    class OldStore:
        """A replay store written before ReplayStore.forget existed."""

        def __init__(self) -> None:
            self.inner = MemoryReplayStore()

        def register(self, key: str, digest: str, *, expires_at: int, now: int) -> Any:
            return self.inner.register(key, digest, expires_at=expires_at, now=now)

        def set_response(self, key: str, digest: str, response: bytes) -> None:
            self.inner.set_response(key, digest, response)

        def purge(self, now: int) -> int:
            return self.inner.purge(now)

        def __len__(self) -> int:
            return len(self.inner)

    old = OldStore()
    node = harness.fed.node(JIANGSU, adapter=harness.adapter, audit=harness.audit, replay=old)  # type: ignore[arg-type]
    await harness.http.aclose()
    harness.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=node), base_url=BASE)
    raw = harness.sign(body=VERIFY_BY_HOLDER)
    harness.adapter.fail = AdapterUnavailableError("platform down")
    assert (await harness.post(raw)).status == 503
    assert len(old) == 1  # kept with the empty "process again" answer
    harness.adapter.fail = None
    second = await harness.post(raw)
    assert second.status == 200
    assert (await harness.post(raw)).response.content == second.response.content
    assert harness.adapter.calls == ["find_certificate"]


async def test_audit_failure_withholds_the_answer(harness: Harness) -> None:
    raw = harness.sign(body=VERIFY_BY_HOLDER)
    harness.audit.fail = True
    first = await harness.post(raw)
    assert first.status == 500
    problem = problem_of(harness, first)
    assert problem["code"] == "internal_error"
    assert "disk" not in json.dumps(problem)
    assert harness.audit_log.size == 0
    assert len(harness.replay) == 1  # released for the identical bytes only
    harness.audit.fail = False
    second = await harness.post(raw)
    assert second.status == 200
    assert harness.verify(second).body["valid"] is True
    assert harness.audit_log.size == 1


async def test_a_failed_commit_in_the_writer_thread_withholds_the_answer(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The node awaits AuditLog.record_async (the log's writer thread) when the log has it.
    harness.node.audit = harness.audit_log
    store = harness.audit_log.store

    def full(records: Any) -> bool:
        raise OSError("disk full")

    monkeypatch.setattr(store, "append_batch", full)
    raw = harness.sign(body=VERIFY_BY_HOLDER)
    first = await harness.post(raw)
    assert first.status == 500
    problem = problem_of(harness, first)
    assert problem["code"] == "internal_error"
    assert "disk" not in json.dumps(problem)
    assert harness.audit_log.size == 0
    monkeypatch.undo()
    second = await harness.post(raw)
    assert second.status == 200
    assert harness.verify(second).body["valid"] is True
    assert harness.audit_log.size == 1
    await harness.node.aclose()  # drains and stops the writer thread
    assert harness.audit_log._writer is None


async def test_the_only_request_in_flight_commits_its_entry_inline(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One request at a time: the node commits on its own thread (no writer-thread hand-over).
    harness.node.audit = harness.audit_log
    asked: list[bool] = []
    original = harness.audit_log.record_async

    async def spy(**entry: Any) -> Any:
        asked.append(entry["inline"])
        return await original(**entry)

    monkeypatch.setattr(harness.audit_log, "record_async", spy)
    for _ in range(2):
        sent = await harness.post(harness.sign(body=VERIFY_BY_HOLDER))
        assert sent.response.status_code == 200
    assert asked == [True, True]
    assert harness.audit_log._writer is None  # never started
    assert harness.audit_log.size == 2


async def test_requests_in_flight_together_share_the_writer_thread(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.node.audit = harness.audit_log
    asked: list[bool] = []
    original = harness.audit_log.record_async
    arrived, release = anyio.Event(), anyio.Event()
    waiting = 0
    find = harness.adapter._find_certificate

    async def gated_find(**kw: Any) -> Any:
        nonlocal waiting
        waiting += 1
        if waiting == 2:
            arrived.set()
        await release.wait()
        return await find(**kw)

    async def spy(**entry: Any) -> Any:
        asked.append(entry["inline"])
        return await original(**entry)

    monkeypatch.setattr(harness.adapter, "_find_certificate", gated_find)
    monkeypatch.setattr(harness.audit_log, "record_async", spy)
    async with anyio.create_task_group() as group:
        for _ in range(2):
            group.start_soon(harness.post, harness.sign(body=VERIFY_BY_HOLDER))
        await arrived.wait()  # both requests verified and in the adapter
        release.set()
    assert asked == [False, False]
    assert harness.audit_log.size == 2
    await harness.node.aclose()


async def test_unexpected_exception_is_a_bare_internal_error(harness: Harness) -> None:
    class Broken(Node):
        async def perform(self, exchange: Exchange) -> dict[str, Any]:
            raise KeyError("secret internal detail")

    node = Broken(
        JIANGSU,
        harness.fed.keys[JIANGSU],
        harness.fed.trusted_registry(),
        harness.adapter,
        harness.audit,
        MemoryReplayStore(),
        clock=harness.clock,
    )
    await harness.http.aclose()
    harness.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=node), base_url=BASE)
    sent = await harness.post(harness.sign(body=VERIFY_BY_HOLDER))
    assert sent.status == 500
    problem = problem_of(harness, sent)
    assert problem["code"] == "internal_error"
    assert "secret" not in sent.response.text


async def test_metadata_is_signed(harness: Harness) -> None:
    response = await harness.http.get("/deltafed/v1/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/deltafed-metadata+jws"
    verifier = ProtocolVerifier(harness.registry, SHANGHAI, clock=harness.clock, replay=None)
    document = verifier.verify_document(response.content, typ=METADATA_TYP)
    payload = document.payload
    assert document.issuer == JIANGSU
    assert payload["protocol_versions"] == ["1"]
    assert payload["keys"][0]["kid"] == harness.fed.keys[JIANGSU].kid
    assert payload["endpoints"]["base"] == "http://320000.deltafed.test"
    assert payload["endpoints"]["paths"]["record.request"] == "/deltafed/v1/records"
    assert IDENTITY_CARD.type_code in payload["offers"]["certificate_types"]
    assert "household_registration" in payload["offers"]["record_types"]


async def test_health_follows_the_registry(harness: Harness) -> None:
    response = await harness.http.get("/deltafed/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["registry_version"] == 1
    harness.later(timedelta(days=7, hours=1).total_seconds())
    assert (await harness.http.get("/deltafed/v1/health")).json()["status"] == "degraded"
    harness.later(timedelta(days=1).total_seconds())
    expired = await harness.http.get("/deltafed/v1/health")
    assert expired.status_code == 503
    assert expired.json()["status"] == "unavailable"


async def test_openapi_describes_every_path_with_resolvable_refs(harness: Harness) -> None:
    response = await harness.http.get("/deltafed/v1/openapi.json")
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {
        "/deltafed/v1/certificates/verify",
        "/deltafed/v1/certificates/release",
        "/deltafed/v1/records",
        "/deltafed/v1/concerns",
        "/deltafed/v1/concerns/history",
        "/deltafed/v1/concerns/escalations",
        "/deltafed/v1/match",
        "/deltafed/v1/subscriptions",
        "/deltafed/v1/subscriptions/list",
        "/deltafed/v1/subscriptions/cancel",
        "/deltafed/v1/events",
        "/deltafed/v1/metadata",
        "/deltafed/v1/health",
        "/deltafed/v1/openapi.json",
    }
    schemas = document["components"]["schemas"]
    refs: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("$ref"), str):
                refs.append(value["$ref"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in schemas, ref
    assert "VerificationRequest" in schemas
    assert "Problem" in schemas


async def test_lifespan_runs_shutdown_callbacks(harness: Harness) -> None:
    closed: list[str] = []

    async def closer() -> None:
        closed.append("adapter")

    harness.node.on_shutdown(closer)
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: Any) -> None:
        sent.append(message["type"])

    await harness.node({"type": "lifespan"}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert closed == ["adapter"]


async def test_node_refuses_an_adapter_of_another_region(harness: Harness) -> None:
    registry: TrustedRegistry = harness.fed.trusted_registry()
    with pytest.raises(ConfigurationError):
        Node(
            JIANGSU,
            harness.fed.keys[JIANGSU],
            registry,
            InMemoryAdapter.synthetic("330000"),
            harness.audit,
            MemoryReplayStore(),
            clock=harness.clock,
        )


def test_a_local_federation_needs_a_member() -> None:
    from deltafed import ConfigurationError, system_clock
    from deltafed.testing import LocalFederation

    with pytest.raises(ConfigurationError, match="at least one member"):
        LocalFederation(clock=system_clock, members={})
