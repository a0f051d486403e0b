"""The demo's cross-region cases. Each one checks its own outcome.

A case returns what it saw (the "got" column) when the federation behaved as expected, and
raises :class:`UnexpectedOutcomeError` with what it saw otherwise. Any other exception also
fails the case: a broken node cannot pass by crashing.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

import anyio
import httpx

from deltafed._canonical import canonicalize
from deltafed._clock import Clock, FixedClock
from deltafed._errors import (
    ConfigurationError,
    PeerProblemError,
    PolicyError,
    SignatureInvalidError,
)
from deltafed._retry import RetryPolicy
from deltafed.adapters._synthetic import (
    BUSINESS_LICENCE,
    HOUSEHOLD_REGISTER,
    IDENTITY_CARD,
    SOCIAL_INSURANCE,
)
from deltafed.audit import AccessRecord, AuditLog
from deltafed.client import AsyncFederationClient, FederationClient
from deltafed.demo._concern_cases import (
    concern_answered,
    concern_escalated,
    concern_not_allowed,
)
from deltafed.demo._files import (
    JIANGSU,
    SCENARIO_COMPANY_MATCH,
    SCENARIO_LICENCE,
    SCENARIO_PERMIT,
    SCENARIO_PROACTIVE,
    SCENARIO_RESIDENT_COUNT,
    SCENARIO_SUBSIDY,
    SHANGHAI,
    ZHEJIANG,
)
from deltafed.events import ChangePublisher, EventStore, Inbox, Outbox
from deltafed.keys import PrivateKey, b64url_decode, b64url_encode
from deltafed.node import Node
from deltafed.protocol import (
    OPERATION_PATHS,
    REQUEST_MEDIA_TYPE,
    ProtocolVerifier,
    new_request,
    sign_request,
)
from deltafed.registry import TrustedRegistry
from deltafed.schemas.common import CertificateStatus
from deltafed.schemas.events import ChangeEvent
from deltafed.schemas.messages import RecordResponse
from deltafed.testing import InMemoryAdapter, SandboxTransport, synthetic_population

__all__ = ["CASES", "Case", "UnexpectedOutcomeError", "Use", "World", "region_name"]

_REGION_NAMES: Final = {"310000": "Shanghai", "320000": "Jiangsu", "330000": "Zhejiang"}

POPULATION: Final = synthetic_population()
#: The Jiangsu resident of the story (a synthetic person: born in the 1850s).
RESIDENT: Final = POPULATION.region("320000").residents[0]
_OTHER_RESIDENT: Final = POPULATION.region("320000").residents[1]
_ZJ_RESIDENT: Final = POPULATION.region("330000").residents[0]
_SUPPLIER: Final = POPULATION.region("330000").companies[0]
_REVOKED_SUPPLIER: Final = POPULATION.region("330000").companies[1]
#: A Zhejiang company with more than 50 insured employees (the supplier has fewer).
_BIG_COMPANY: Final = POPULATION.region("330000").companies[2]


def region_name(member: str) -> str:
    return _REGION_NAMES.get(member.split("/")[0], member)


class UnexpectedOutcomeError(Exception):
    """The federation did not behave as the case expects; ``got`` says what happened."""

    def __init__(self, got: str) -> None:
        super().__init__(got)
        self.got = got


def _expect(condition: bool, got: str) -> str:
    if not condition:
        raise UnexpectedOutcomeError(got)
    return got


@dataclass(frozen=True, slots=True)
class Use:
    """A use of the resident's data the answering node (Jiangsu unless said) must have
    recorded."""

    requester: str
    scenario: str
    operation: str
    outcome: str
    fields: tuple[str, ...] = ()
    responder: str = JIANGSU


@dataclass
class World:
    """What the cases work with: the running nodes and the requesters' means."""

    nodes: Mapping[str, Node]
    registry: TrustedRegistry
    keys: Mapping[str, PrivateKey]
    logs: Mapping[str, AuditLog]
    clock: Clock
    #: The uses of :data:`RESIDENT`'s data the cases caused, in order.
    uses: list[Use] = field(default_factory=list)
    #: The resident's view, as the last case read it from the audit logs.
    view: list[AccessRecord] = field(default_factory=list)
    #: One line per audit log, from the last case.
    audit_lines: list[str] = field(default_factory=list)

    @contextlib.contextmanager
    def client(
        self, member: str, transport: httpx.BaseTransport | None = None
    ) -> Iterator[FederationClient]:
        """A client of ``member``, recording its side in the member's audit log."""
        with (
            httpx.Client(transport=transport, timeout=10.0) as http,
            FederationClient(
                member,
                self.keys[member],
                self.registry,
                clock=self.clock,
                http=http,
                audit=self.logs[member],
            ) as client,
        ):
            yield client


@dataclass(frozen=True, slots=True)
class Case:
    """One row of the demo: who asks whom, what should happen, and the check that runs it."""

    title: str
    requester: str
    provider: str | None
    expected: str
    run: Callable[[World], str]

    @property
    def route(self) -> str:
        if self.provider is None:
            return "all three nodes"
        return f"{region_name(self.requester)} -> {region_name(self.provider)}"


# --- helpers --------------------------------------------------------------------------------


def _platform_calls(node: Node) -> int:
    """How many calls the node's adapter made to its province platform so far."""
    sandbox = getattr(node.adapter, "sandbox", None)
    if isinstance(sandbox, SandboxTransport):
        return len(sandbox.requests)
    if isinstance(node.adapter, InMemoryAdapter):
        return len(node.adapter.calls)
    raise ConfigurationError(f"cannot count the platform calls of {type(node.adapter).__name__}")


def _revoke(node: Node, certificate_id: str) -> None:
    sandbox = getattr(node.adapter, "sandbox", None)
    if isinstance(sandbox, SandboxTransport):
        sandbox.revoke(certificate_id)
    elif isinstance(node.adapter, InMemoryAdapter):
        node.adapter.revoke(certificate_id)
    else:
        raise ConfigurationError(f"cannot revoke a certificate in {type(node.adapter).__name__}")


def _rewrite(jws: bytes, change: Callable[[dict[str, object]], None]) -> bytes:
    """The same compact JWS with its payload changed and its signature kept."""
    head, payload, signature = jws.split(b".")
    claims = json.loads(b64url_decode(payload.decode("ascii")))
    change(claims)
    return b".".join((head, b64url_encode(canonicalize(claims)).encode("ascii"), signature))


def _status(valid: bool, status: CertificateStatus) -> str:
    return f"{'valid' if valid else 'NOT valid'}, status {status.value}"


class _ForgeValid(httpx.BaseTransport):
    """A man in the middle turning a certificate answer into 'valid', signature kept."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        content = response.read()
        response.close()

        def make_valid(claims: dict[str, object]) -> None:
            body = claims.get("body")
            if isinstance(body, dict):
                body["valid"] = True
                body["status"] = CertificateStatus.VALID.value

        return httpx.Response(
            response.status_code,
            headers={"content-type": response.headers.get("content-type", "")},
            content=_rewrite(content, make_valid),
        )

    def close(self) -> None:
        self.inner.close()


class _DropFirstAnswer(httpx.BaseTransport):
    """The network loses the first answer after the node produced it."""

    def __init__(self, inner: httpx.BaseTransport, on_drop: Callable[[], None]) -> None:
        self.inner = inner
        self.on_drop = on_drop
        self.sent: list[bytes] = []
        self.answers: list[bytes] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        content = response.read()
        response.close()
        self.sent.append(request.read())
        self.answers.append(content)
        if len(self.sent) == 1:
            self.on_drop()
            raise httpx.RemoteProtocolError("demo: connection lost before the answer arrived")
        return httpx.Response(
            response.status_code,
            headers={"content-type": response.headers.get("content-type", "")},
            content=content,
        )

    def close(self) -> None:
        self.inner.close()


# --- the cases ------------------------------------------------------------------------------


def _permit_identity(world: World) -> str:
    with world.client(SHANGHAI) as shanghai:
        seen = []
        for ctype in (IDENTITY_CARD, HOUSEHOLD_REGISTER):
            world.uses.append(Use(SHANGHAI, SCENARIO_PERMIT, "certificate.verify", "ok"))
            result = shanghai.verify_certificate(
                JIANGSU,
                scenario=SCENARIO_PERMIT,
                use_cause="上海市居住证申领: 申请人身份核验",
                holder_code=RESIDENT.resident_id,
                holder_type="111",
                type_code=ctype.type_code,
            )
            seen.append(
                (result.valid and result.status is CertificateStatus.VALID, ctype.name, result)
            )
    got = ", ".join(f"{'valid' if r.valid else 'NOT valid'} {r.status.value}" for _, _, r in seen)
    return _expect(all(ok for ok, _, _ in seen), got)


def _procurement_licence(world: World) -> str:
    with world.client(JIANGSU) as jiangsu:
        result = jiangsu.verify_certificate(
            ZHEJIANG,
            scenario=SCENARIO_LICENCE,
            use_cause="江苏省政府采购供应商注册: 营业执照核验",
            holder_code=_SUPPLIER.credit_code,
            holder_type="001",
            type_code=BUSINESS_LICENCE.type_code,
        )
    got = _status(result.valid, result.status)
    return _expect(result.valid and result.status is CertificateStatus.VALID, got)


def _consent(client: FederationClient) -> bytes:
    # The resident agreed at the Shanghai counter; Shanghai's key records it.
    return client.issue_consent(
        holder_type="111",
        holder_code=RESIDENT.resident_id,
        scenario=SCENARIO_SUBSIDY,
        scope=["insured", "months_paid"],
        operations=["record.request"],
        lifetime=timedelta(days=30),
    )


_ALLOWED: Final = ("insured", "months_paid")


def _minimal_release(world: World) -> str:
    responder = world.logs[JIANGSU]
    with world.client(SHANGHAI) as shanghai:
        world.uses.append(Use(SHANGHAI, SCENARIO_SUBSIDY, "record.request", "ok", _ALLOWED))
        record = shanghai.request_record(
            JIANGSU,
            scenario=SCENARIO_SUBSIDY,
            use_cause="上海市人才安居补贴: 参保状态核验",
            record_type=SOCIAL_INSURANCE.code,
            subject_code=RESIDENT.resident_id,
            subject_type="111",
            fields=list(_ALLOWED),
            consent=_consent(shanghai),
        )
    released = sorted(record.fields)
    logged = responder.entry(responder.size - 1)
    got = ", ".join(released) + (
        "; audit lists the same" if sorted(logged.fields) == released else "; audit DIFFERS"
    )
    return _expect(
        released == sorted(_ALLOWED)
        and sorted(logged.fields) == sorted(_ALLOWED)
        and logged.scenario == SCENARIO_SUBSIDY,
        got,
    )


def _refused(code: str, ask: Callable[[], RecordResponse]) -> str:
    """Expect the record request ``ask`` makes to be refused with ``code`` by the requester's
    client, before sending: the registry it holds already says the provider would refuse it."""
    try:
        record = ask()
    except PeerProblemError as refusal:
        return _expect(False, f"sent, then refused {refusal.problem_code}")
    except PolicyError as refusal:
        return _expect(refusal.code == code, f"refused {refusal.code}, not sent")
    raise UnexpectedOutcomeError(f"RELEASED {', '.join(sorted(record.fields))}")


def _extra_field(world: World) -> str:
    with world.client(SHANGHAI) as shanghai:
        return _refused(
            "field_not_allowed",
            lambda: shanghai.request_record(
                JIANGSU,
                scenario=SCENARIO_SUBSIDY,
                use_cause="上海市人才安居补贴: 参保状态核验",
                record_type=SOCIAL_INSURANCE.code,
                subject_code=RESIDENT.resident_id,
                subject_type="111",
                fields=[*_ALLOWED, "employer_credit_code"],
                consent=_consent(shanghai),
            ),
        )


def _unauthorized(world: World) -> str:
    with world.client(ZHEJIANG) as zhejiang:
        return _refused(
            "not_authorized",
            lambda: zhejiang.request_record(
                JIANGSU,
                scenario=SCENARIO_SUBSIDY,
                use_cause="not a Zhejiang service's purpose",
                record_type=SOCIAL_INSURANCE.code,
                subject_code=RESIDENT.resident_id,
                subject_type="111",
                fields=list(_ALLOWED),
            ),
        )


def _tampered_request(world: World) -> str:
    log = world.logs[JIANGSU]
    before = log.size
    signed = sign_request(
        new_request(
            issuer=SHANGHAI,
            audience=JIANGSU,
            operation="certificate.verify",
            target=IDENTITY_CARD.type_code,
            scenario=SCENARIO_PERMIT,
            body={
                "holder_code": _OTHER_RESIDENT.resident_id,
                "holder_type": "111",
                "type_code": IDENTITY_CARD.type_code,
                "use_cause": "上海市居住证申领: 申请人身份核验",
            },
            now=world.clock(),
        ),
        world.keys[SHANGHAI],
    )

    def swap_holder(claims: dict[str, object]) -> None:
        body = claims["body"]
        if not isinstance(body, dict):
            raise TypeError("a request body is an object")
        body["holder_code"] = RESIDENT.resident_id

    tampered = _rewrite(signed, swap_holder)
    url = world.registry.endpoint_for(JIANGSU) + OPERATION_PATHS["certificate.verify"]
    with httpx.Client(timeout=10.0) as http:
        answer = http.post(url, content=tampered, headers={"content-type": REQUEST_MEDIA_TYPE})
    verified = ProtocolVerifier(
        world.registry, SHANGHAI, clock=world.clock, replay=None
    ).verify_response(answer.content, request_raw=tampered)
    code = verified.body.get("code") if not verified.ok else "ok"
    got = f"refused {code}, HTTP {answer.status_code}, signed"
    unlogged = log.size == before
    if not unlogged:
        got += "; but the node logged it"
    return _expect(not verified.ok and code == "bad_signature" and unlogged, got)


def _revoked_licence(world: World) -> str:
    cert = POPULATION.region("330000").find(
        _REVOKED_SUPPLIER.credit_code, BUSINESS_LICENCE.type_code
    )
    if cert is None:
        raise LookupError("the synthetic population has no such licence")
    _revoke(world.nodes[ZHEJIANG], cert.certificate_id)  # revoked in Zhejiang this morning
    with world.client(JIANGSU) as jiangsu:
        result = jiangsu.verify_certificate(
            ZHEJIANG,
            scenario=SCENARIO_LICENCE,
            use_cause="江苏省政府采购供应商注册: 营业执照核验",
            certificate_id=cert.certificate_id,
        )
    got = _status(result.valid, result.status)
    return _expect(not result.valid and result.status is CertificateStatus.REVOKED, got)


def _forged_answer(world: World) -> str:
    cert = POPULATION.region("330000").find(
        _REVOKED_SUPPLIER.credit_code, BUSINESS_LICENCE.type_code
    )
    if cert is None:
        raise LookupError("the synthetic population has no such licence")
    with world.client(JIANGSU, transport=_ForgeValid(httpx.HTTPTransport())) as jiangsu:
        try:
            result = jiangsu.verify_certificate(
                ZHEJIANG,
                scenario=SCENARIO_LICENCE,
                use_cause="江苏省政府采购供应商注册: 营业执照核验",
                certificate_id=cert.certificate_id,
            )
        except SignatureInvalidError as rejected:
            return f"rejected {rejected.code} by the client"
    forged = _status(result.valid, result.status)
    raise UnexpectedOutcomeError(f"ACCEPTED the forged answer: {forged}")


def _retry_once(world: World) -> str:
    node = world.nodes[ZHEJIANG]
    log = world.logs[ZHEJIANG]
    entries_before = log.size
    calls_before = _platform_calls(node)
    at_drop: list[int] = []
    drop = _DropFirstAnswer(
        httpx.HTTPTransport(), on_drop=lambda: at_drop.append(_platform_calls(node))
    )
    with world.client(SHANGHAI, transport=drop) as shanghai:
        result = shanghai.verify_certificate(
            ZHEJIANG,
            scenario=SCENARIO_PERMIT,
            use_cause="上海市居住证申领: 申请人身份核验",
            holder_code=_ZJ_RESIDENT.resident_id,
            holder_type="111",
            type_code=IDENTITY_CARD.type_code,
        )
    # Shanghai keeps its requester entry in its own log: Zhejiang's grows by its answer only.
    new_entries = log.size - entries_before
    first_calls = at_drop[0] - calls_before if at_drop else -1
    resend_calls = _platform_calls(node) - at_drop[0] if at_drop else -1
    same_bytes = len(drop.sent) == 2 and drop.sent[0] == drop.sent[1]
    same_answer = len(drop.answers) == 2 and drop.answers[0] == drop.answers[1]
    got = (
        f"{len(drop.sent)} sends{'' if same_bytes else ' (DIFFERENT bytes)'}, "
        f"{'1 answer' if same_answer else '2 DIFFERENT answers'}, {new_entries} audit entry, "
        f"{resend_calls} calls on resend"
    )
    return _expect(
        result.valid
        and same_bytes
        and same_answer
        and new_entries == 1
        and first_calls >= 1
        and resend_calls == 0,
        got,
    )


def _company_condition(world: World) -> str:
    responder = world.logs[ZHEJIANG]
    answers = []
    with world.client(SHANGHAI) as shanghai:
        for company in (_SUPPLIER, _BIG_COMPANY):
            answers.append(
                shanghai.ask_predicate(
                    ZHEJIANG,
                    scenario=SCENARIO_COMPANY_MATCH,
                    predicate="company-insures-50-employees",
                    subject_code=company.credit_code,
                    subject_type="001",
                    use_cause="上海市企业稳岗补贴: 参保职工人数条件核验",
                )
            )
    logged = [responder.entry(responder.size - n) for n in (2, 1)]
    released = [e.fields for e in logged]
    got = ", ".join("yes" if a else "no" for a in answers) + (
        "; no field released" if released == [(), ()] else "; a field WAS released"
    )
    details = [e.detail or "" for e in logged]
    return _expect(
        answers == [False, True]
        and released == [(), ()]
        and all(d.startswith("predicate company-insures-50-employees") for d in details),
        got,
    )


def _small_count(world: World) -> str:
    with world.client(SHANGHAI) as shanghai:
        answer = shanghai.count_subjects(
            ZHEJIANG,
            scenario=SCENARIO_RESIDENT_COUNT,
            aggregate="residents-registered-in-division",
            place=_ZJ_RESIDENT.division,
            use_cause="住房安全检查: 群租排查",
        )
    if answer.fewer_than is not None:
        return _expect(answer.count is None, f"fewer than {answer.fewer_than}")
    raise UnexpectedOutcomeError(f"count {answer.count} released")


def _sandbox(node: Node) -> SandboxTransport:
    sandbox = getattr(node.adapter, "sandbox", None)
    if not isinstance(sandbox, SandboxTransport):
        raise ConfigurationError("the proactive cases need the Jiangsu node on its sandbox")
    return sandbox


def _event_stores(world: World) -> tuple[EventStore, EventStore]:
    js, sh = world.nodes[JIANGSU].events, world.nodes[SHANGHAI].events
    if js is None or sh is None:
        raise ConfigurationError("the proactive cases need nodes with a [state] db")
    return js, sh


class _Network(httpx.AsyncBaseTransport):
    """Loopback HTTP, with Shanghai made unreachable, or its answers lost, on demand."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.down = 0
        self.lose = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down > 0:
            self.down -= 1
            raise httpx.ConnectError("Shanghai is down (demo)", request=request)
        response = await self.inner.handle_async_request(request)
        if self.lose > 0:
            self.lose -= 1
            await response.aread()
            raise httpx.ReadError("the answer was lost (demo)", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _deliver(world: World, network: _Network, rounds: int) -> list[int]:
    """Jiangsu reads its change feed, then runs its outbox ``rounds`` times; the schedule
    clock jumps an hour between rounds so that every retry is due (no waiting)."""
    store, _ = _event_stores(world)
    schedule = FixedClock(world.clock())
    async with httpx.AsyncClient(transport=network, timeout=10.0) as http:
        client = AsyncFederationClient(
            JIANGSU, world.keys[JIANGSU], world.registry, clock=world.clock, http=http,
            audit=world.logs[JIANGSU], retry=RetryPolicy(attempts=1),
        )  # fmt: skip
        publisher = ChangePublisher(
            world.nodes[JIANGSU].adapter,
            store,
            clock=world.clock,
            scenarios=world.registry.scenario,
        )
        await publisher.poll_once()
        outbox = Outbox(store, client, clock=schedule)
        delivered = []
        for _ in range(rounds):
            delivered.append((await outbox.run_once()).delivered)
            schedule.advance(3600)
    return delivered


def _proactive_renewal(world: World) -> str:
    _, inbox_store = _event_stores(world)
    with world.client(SHANGHAI) as shanghai:
        subscribed = shanghai.exchange(
            JIANGSU,
            operation="subscription.create",
            target=IDENTITY_CARD.type_code,
            scenario=SCENARIO_PROACTIVE,
            body={
                "subject_type": "111",
                "subject_code": RESIDENT.resident_id,
                "kinds": ["certificate.renewed", "certificate.changed", "certificate.revoked"],
                "expires_at": (world.clock() + timedelta(days=180)).isoformat(),
                "use_cause": "上海市居住证主动续办: 关注申请人身份证变更",
            },
        )
    world.uses.append(Use(SHANGHAI, SCENARIO_PROACTIVE, "subscription.create", "ok"))
    if not subscribed.response.ok:
        raise UnexpectedOutcomeError(f"subscription refused: {subscribed.body.get('code')}")
    sandbox = _sandbox(world.nodes[JIANGSU])
    current = sandbox.find(RESIDENT.resident_id, IDENTITY_CARD.type_code)
    if current is None:
        raise UnexpectedOutcomeError("the resident has no identity card in Jiangsu")
    renewed = sandbox.renew(current.certificate_id, valid_until=None)
    network = _Network()
    world.uses.append(Use(JIANGSU, SCENARIO_PROACTIVE, "event.deliver", "ok", (), SHANGHAI))
    delivered = anyio.run(_deliver, world, network, 1)
    offers: list[str] = []

    def offer(event: ChangeEvent, sender: str) -> None:
        # The event carries no data: Shanghai asks under its own scenario, then acts.
        world.uses.append(Use(SHANGHAI, SCENARIO_PERMIT, "certificate.verify", "ok"))
        with world.client(SHANGHAI) as shanghai:
            card = shanghai.verify_certificate(
                JIANGSU,
                scenario=SCENARIO_PERMIT,
                use_cause="上海市居住证主动续办: 新身份证核验",
                holder_code=event.subject_code,
                holder_type=event.subject_type,
                type_code=event.target,
            )
        current = card.certificate_id == event.certificate_id
        if card.valid and current and event.kind == "certificate.renewed":
            offers.append(f"居住证 renewal offered to {RESIDENT.name}")

    handled = Inbox(inbox_store).process(offer)
    got = f"{delivered[0]} event, {handled} handled, " + (
        "renewal offered" if offers else "NO offer"
    )
    return _expect(delivered == [1] and handled == 1 and len(offers) == 1, got) + (
        f" ({renewed.certificate_id.split('.')[-2]})"
    )


def _redelivered_once(world: World) -> str:
    js_store, inbox_store = _event_stores(world)
    renewed = _sandbox(world.nodes[JIANGSU]).find(RESIDENT.resident_id, IDENTITY_CARD.type_code)
    if renewed is None:
        raise UnexpectedOutcomeError("no identity card to change")
    _sandbox(world.nodes[JIANGSU]).correct(renewed.certificate_id, {"address": "上海市测试路 1 号"})
    network = _Network()
    network.down, network.lose = 1, 1  # Shanghai down, then its answer lost
    # Received twice (the answer to the first copy was lost): two entries in Shanghai's log.
    for _ in range(2):
        world.uses.append(Use(JIANGSU, SCENARIO_PROACTIVE, "event.deliver", "ok", (), SHANGHAI))
    delivered = anyio.run(_deliver, world, network, 3)
    handled = Inbox(inbox_store).process(lambda event, sender: None)
    received = [
        r
        for r in world.logs[SHANGHAI].subject_view(RESIDENT.resident_id)
        if r.operation == "event.deliver" and r.detail and "certificate.changed" in r.detail
    ]
    got = f"tried 3 times, received {len(received)} times, processed {handled} time(s)"
    return _expect(
        delivered == [0, 0, 1] and len(received) == 2 and handled == 1 and not js_store.parked(),
        got,
    )


def _resident_view(world: World) -> str:
    records: list[AccessRecord] = []
    for log in world.logs.values():
        records.extend(log.subject_view(RESIDENT.resident_id))
    records.sort(key=lambda r: (r.at, r.recorded_by != "requester"))
    world.view = records
    responder = [r for r in records if r.recorded_by == "responder"]
    requester_ids = {r.request_id for r in records if r.recorded_by == "requester"}
    # Each answering node's log is in its own order: compare node by node.
    seen = [
        Use(
            str(r.requester), r.scenario, r.operation, r.outcome, tuple(sorted(r.fields)),
            str(r.responder),
        )
        for r in sorted(responder, key=lambda r: (str(r.responder), r.seq))
    ]  # fmt: skip
    expected = sorted(
        (
            Use(u.requester, u.scenario, u.operation, u.outcome, tuple(sorted(u.fields)),
                u.responder)
            for u in world.uses
        ),
        key=lambda u: u.responder,
    )  # fmt: skip
    # A delivery whose answer was lost is in the subscriber's log only; its event (the same
    # event id, in the detail) is in both logs through the copy that was answered.
    requester_details = {r.detail for r in records if r.recorded_by == "requester" and r.detail}
    both_sides = all(
        r.request_id in requester_ids
        or (r.operation == "event.deliver" and r.detail in requester_details)
        for r in responder
    )
    requesters = sorted({str(r.requester) for r in responder})
    got = f"{len(responder)} uses, {len(requesters)} requesters, " + (
        "logged by both sides" if both_sides else "a requester entry is MISSING"
    )
    if seen != expected:
        got += f"; expected {len(expected)} uses as the cases made them"
    return _expect(seen == expected and both_sides, got)


def _audit_logs(world: World) -> str:
    lines: list[str] = []
    total = 0
    ok = True
    for member, log in world.logs.items():
        log.checkpoint()
        report = log.verify(resolver=world.registry)
        total += report.size
        ok = ok and report.ok and report.checkpoints_checked >= 1
        state = "intact" if report.ok else f"TAMPERED: {report.first}"
        lines.append(
            f"{member}  {report.size} entries, {report.checkpoints_checked} signed checkpoint(s), "
            f"hash chain and Merkle tree {state}"
        )
    world.audit_lines = lines
    got = f"{len(lines)} logs, {total} entries, " + ("all intact" if ok else "PROBLEMS")
    return _expect(ok, got)


CASES: Final[tuple[Case, ...]] = (
    Case(
        "Jiangsu 身份证, 户口簿 for Shanghai 居住证",
        SHANGHAI,
        JIANGSU,
        "valid 01, valid 01",
        _permit_identity,
    ),
    Case(
        "Zhejiang 营业执照 for Jiangsu procurement",
        JIANGSU,
        ZHEJIANG,
        "valid, status 01",
        _procurement_licence,
    ),
    Case(
        "Social insurance: only the allowed fields",
        SHANGHAI,
        JIANGSU,
        "insured, months_paid",
        _minimal_release,
    ),
    Case(
        "Same, plus employer_credit_code",
        SHANGHAI,
        JIANGSU,
        "refused field_not_allowed",
        _extra_field,
    ),
    Case(
        "A requester the scenario does not name",
        ZHEJIANG,
        JIANGSU,
        "refused not_authorized",
        _unauthorized,
    ),
    Case(
        "Request altered in transit",
        SHANGHAI,
        JIANGSU,
        "refused bad_signature",
        _tampered_request,
    ),
    Case(
        "营业执照 revoked in Zhejiang this morning",
        JIANGSU,
        ZHEJIANG,
        "NOT valid, status 03",
        _revoked_licence,
    ),
    Case(
        "Forged 'valid' answer for that 营业执照",
        JIANGSU,
        ZHEJIANG,
        "rejected bad_signature",
        _forged_answer,
    ),
    Case(
        "Answer lost on the network, resent",
        SHANGHAI,
        ZHEJIANG,
        "answered once",
        _retry_once,
    ),
    Case(
        "Objection to a Jiangsu 身份证 address",
        SHANGHAI,
        JIANGSU,
        "answered in time, fixed",
        lambda world: _expect(*concern_answered()),
    ),
    Case(
        "Concern unacknowledged over 春节",
        SHANGHAI,
        JIANGSU,
        "escalated to supervisor",
        lambda world: _expect(*concern_escalated()),
    ),
    Case(
        "Concern from a member not allowed",
        ZHEJIANG,
        JIANGSU,
        "refused not_authorized",
        lambda world: _expect(*concern_not_allowed()),
    ),
    Case(
        "Zhejiang company insures >= 50 employees?",
        SHANGHAI,
        ZHEJIANG,
        "no, yes; no field released",
        _company_condition,
    ),
    Case(
        "Residents registered in a Zhejiang division",
        SHANGHAI,
        ZHEJIANG,
        "fewer than 5",
        _small_count,
    ),
    Case(
        "Jiangsu 身份证 renewed: Shanghai told",
        JIANGSU,
        SHANGHAI,
        "1 event, 1 handled, renewal offered",
        _proactive_renewal,
    ),
    Case(
        "Shanghai down, the event sent again",
        JIANGSU,
        SHANGHAI,
        "received 2 times, processed 1 time(s)",
        _redelivered_once,
    ),
    Case(
        f"Who used {RESIDENT.name}'s data?",
        SHANGHAI,
        None,
        "every use, both sides",
        _resident_view,
    ),
    Case(
        "Audit logs verify, checkpoints signed",
        SHANGHAI,
        None,
        "intact",
        _audit_logs,
    ),
)
