"""The responding node: an ASGI application that answers signed, policy-checked requests.

One request goes through these steps, each of which may end it with a signed problem:

1. the body is read within the size limit, with the request media type;
2. :class:`~deltafed.protocol.ProtocolVerifier` checks it against the trust registry
   (signature, sender a current member, audience, time window, replay); an identical
   retransmission gets the stored answer back and goes no further;
3. the operation must be the one of the path, the body must parse, and the target must be
   the one the body names;
4. :class:`~deltafed.policy.PolicyEngine` decides (scenario, requester, fields, consent);
5. the province adapter is asked for exactly the decided fields;
6. the answer is signed, written to the audit log (durably), remembered for retransmissions,
   and only then released.

Every answer to an exchange is a signed response, problems included. A failure that is not a
:class:`~deltafed.DeltafedError` is logged here and answered as a bare ``internal_error``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final, Literal, Protocol, TypeVar

import anyio
import anyio.to_thread

from deltafed._clock import Clock, system_clock
from deltafed._errors import (
    AdapterError,
    ConfigurationError,
    ConsentInvalidError,
    DeltafedError,
    InternalError,
    InvalidInputError,
    MalformedMessageError,
    MethodNotAllowedError,
    NotAuthorizedError,
    NotFoundError,
    ReplayError,
    SizeLimitError,
)
from deltafed.adapters import ProvinceAdapter
from deltafed.audit._log import record_exchange
from deltafed.events import EventStore, Subscriptions, check_sender
from deltafed.keys import Signer
from deltafed.matching import Matcher, RateLimiter
from deltafed.node._http import (
    HEALTH_PATH,
    JSON_TYPE,
    METADATA_MEDIA_TYPE,
    METADATA_PATH,
    OPENAPI_PATH,
    OPERATION_PATHS,
    PATH_OPERATIONS,
    PROTOCOL_VERSIONS,
    REQUEST_MEDIA_TYPE,
    RESPONSE_MEDIA_TYPE,
    Answer,
    Receive,
    Scope,
    Send,
    header,
    media_type,
    read_body,
    send_answer,
)
from deltafed.node._observe import UNVERIFIED, ExchangeLogger, ExchangeObserver, ExchangeRecord
from deltafed.node._openapi import openapi_document
from deltafed.policy import Decision, PolicyEngine, PolicyRequest
from deltafed.protocol import (
    Limits,
    ProtocolVerifier,
    ReplayStore,
    VerifiedRequest,
    new_problem_response,
    new_response,
    peek_unverified_claims,
    sign_document,
    sign_response,
)
from deltafed.registry import RegistryPoller, TrustedRegistry
from deltafed.schemas.common import CertificateStatus
from deltafed.schemas.events import (
    ChangeEvent,
    EventAck,
    SubscriptionCancel,
    SubscriptionListQuery,
    SubscriptionRequest,
)
from deltafed.schemas.identifiers import MemberId, parse_member_id
from deltafed.schemas.matching import MatchQuestion
from deltafed.schemas.messages import (
    RecordRequest,
    RecordResponse,
    ReleaseRequest,
    ReleaseResult,
    VerificationRequest,
    VerificationResult,
)
from deltafed.schemas.problem import Problem

__all__ = [
    "METADATA_TYP",
    "TRANSIENT_CODES",
    "AuditRecorder",
    "ConcernHandler",
    "Exchange",
    "Node",
]

_log = logging.getLogger("deltafed.node")

#: ``typ`` of the signed node metadata.
METADATA_TYP: Final = "deltafed-metadata+jws"
#: Problems that say "not now" rather than "no": they are not remembered, so the identical
#: retransmission of the request is processed again.
TRANSIENT_CODES: Final = frozenset(
    {
        "adapter_unavailable",
        "adapter_timeout",
        "adapter_quota_exceeded",
        "internal_error",
        "replay_capacity",
        "rate_limited",
    }
)
#: What a replay store without ``forget`` holds for a request to process again.
_PROCESS_AGAIN: Final = b""
#: Certificates are issued in China Standard Time: a validity date is a date there.
_CST: Final = timezone(timedelta(hours=8))
_METADATA_LIFETIME: Final = 300

_T = TypeVar("_T")
_Model = TypeVar(
    "_Model",
    VerificationRequest,
    ReleaseRequest,
    RecordRequest,
    MatchQuestion,
    SubscriptionRequest,
    SubscriptionCancel,
    SubscriptionListQuery,
    ChangeEvent,
)


#: Where a node with metrics on serves them (outside the federation API's prefix).
METRICS_PATH: Final = "/metrics"


class MetricsExporter(Protocol):
    """What serves ``/metrics`` (:class:`deltafed.node.NodeMetrics` fits)."""

    def render(self) -> tuple[bytes, str]:
        """The exposition body and its media type."""
        ...


class AuditRecorder(Protocol):
    """What the node needs of an audit log (:class:`deltafed.audit.AuditLog` fits).

    ``record`` must return only once the entry is durable; it may block (the node calls it in
    a worker thread). A recorder may also offer ``async def record_async`` with the same
    arguments and the same promise, which the node then awaits instead.
    """

    def record(
        self,
        *,
        role: str,
        counterpart: MemberId | str,
        operation: str,
        scenario: str,
        subjects: list[str] | tuple[str, ...],
        fields: list[str] | tuple[str, ...],
        outcome: str,
        request_id: str,
        request: bytes,
        response: bytes,
    ) -> object: ...


class ConcernHandler(Protocol):
    """What the node needs to answer concern operations
    (:class:`deltafed.concerns.ConcernService` fits): the ok body and the subjects to audit."""

    async def perform(self, request: VerifiedRequest) -> tuple[dict[str, Any], list[str]]: ...


@dataclass(slots=True)
class Exchange:
    """One verified request being answered: what the audit entry will say about it."""

    request: VerifiedRequest
    #: Holder or record subject codes concerned (raw; the audit log keeps keyed hashes).
    subjects: list[str] = field(default_factory=list)
    #: The fields released (set only once data was obtained).
    fields: tuple[str, ...] = ()
    decision: Decision | None = None
    #: What was asked and answered, when the fields say nothing (a match: the predicate and
    #: its answer); written to the audit entry's ``detail``.
    detail: str | None = None


class Node:
    """The node of member ``member_id``: an ASGI application (``await node(scope, receive,
    send)``), also callable in-process with :meth:`handle`.

    Everything is injected: ``signer`` (the member's current key), ``registry`` (the verified
    trust registry, also the key resolver), ``adapter`` (the province platform, for the
    member's region), ``audit`` (written before any answer to a verified request is
    released), ``replay`` (the request ids seen, and their answers), ``clock``. ``policy``
    defaults to a :class:`PolicyEngine` over the same registry. Subclasses may override the
    steps (:meth:`verify`, :meth:`decide`, :meth:`perform`, :meth:`sign`) - the conformance
    suite builds its deliberately faulty nodes that way.
    """

    def __init__(
        self,
        member_id: str,
        signer: Signer,
        registry: TrustedRegistry,
        adapter: ProvinceAdapter,
        audit: AuditRecorder,
        replay: ReplayStore,
        *,
        clock: Clock = system_clock,
        limits: Limits | None = None,
        policy: PolicyEngine | None = None,
        response_lifetime: int = 60,
        concerns: ConcernHandler | None = None,
        poller: RegistryPoller | None = None,
        probe_every: float = 10.0,
        expiry_warning: timedelta = timedelta(hours=24),
        rate_limiter: RateLimiter | None = None,
        events: EventStore | None = None,
    ) -> None:
        try:
            self.member: MemberId = parse_member_id(member_id)
        except InvalidInputError as exc:
            raise ConfigurationError(f"node member id: {exc.message}") from exc
        if adapter.region != self.member.region:
            raise ConfigurationError(
                f"adapter serves region {adapter.region}, the node's member is in "
                f"{self.member.region}"
            )
        if replay is None:
            raise ConfigurationError("a node needs a replay store")
        if not 1 <= response_lifetime <= 300:
            raise ConfigurationError("response_lifetime must be 1 to 300 seconds")
        if not 0 <= probe_every <= 3600:
            raise ConfigurationError("probe_every must be 0 to 3600 seconds")
        if expiry_warning < timedelta(0):
            raise ConfigurationError("expiry_warning must not be negative")
        if poller is not None and poller.trusted is not registry:
            raise ConfigurationError("the registry poller must refresh the node's own registry")
        self.signer = signer
        self.registry = registry
        self.adapter = adapter
        self.audit = audit
        self.replay = replay
        self.clock = clock
        profile = registry.profile
        self.limits = limits if limits is not None else Limits(crypto=profile)
        if self.limits.crypto is not profile:
            raise ConfigurationError(
                f"the node's limits are for the {self.limits.crypto.name!r} crypto profile, "
                f"the registry's is {profile.name!r}"
            )
        audit_crypto = getattr(audit, "crypto", profile)
        if audit_crypto is not profile:
            raise ConfigurationError(
                f"the audit log hashes with the {audit_crypto.name!r} profile, the registry's "
                f"is {profile.name!r}"
            )
        if signer.alg not in profile.algorithms:
            raise ConfigurationError(
                f"the node's key is a {signer.alg} key; the federation's crypto profile "
                f"{profile.name!r} signs with {', '.join(profile.algorithms)}"
            )
        self.response_lifetime = response_lifetime
        #: Answers the concern operations (``None``: this node takes no concerns).
        self.concerns = concerns
        self.verifier = ProtocolVerifier(
            registry, self.member, clock=clock, replay=replay, limits=self.limits
        )
        self.policy = (
            policy
            if policy is not None
            else PolicyEngine(
                registry, provider_region=self.member.region, clock=clock, limits=self.limits
            )
        )
        self.matcher = Matcher(
            adapter, rate_limiter if rate_limiter is not None else RateLimiter(clock=clock)
        )
        #: Subscriptions, outbox and inbox (``None``: this node serves no events).
        self.events = events
        self.subscriptions = Subscriptions(events, clock=clock) if events is not None else None
        #: Refreshes :attr:`registry` from the publication point while the node is served.
        self.poller = poller
        #: Health turns ``degraded`` when the registry expires sooner than this.
        self.expiry_warning = expiry_warning
        self._probe_every = timedelta(seconds=probe_every)
        self._probe: tuple[datetime, str | None] | None = None
        self._probing = False
        self._in_flight: set[str] = set()
        self._on_shutdown: list[Callable[[], Awaitable[None]]] = []
        self._background: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self._observers: list[ExchangeObserver] = [ExchangeLogger()]
        #: Serves ``/metrics`` when set (:meth:`deltafed.node.NodeMetrics.bind` sets it).
        self.metrics: MetricsExporter | None = None
        if poller is not None:
            self._background.append(poller.run)

    # --- ASGI --------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            return
        try:
            answer = await self._route(scope, receive)
        except Exception:  # noqa: BLE001 - last line of defence: no traceback on the wire
            _log.exception("unexpected failure answering %s", scope.get("path"))
            answer = self._refuse(b"", InternalError("unexpected failure"))
        await send_answer(send, answer)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as background:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    for task in self._background:
                        background.start_soon(task)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    background.cancel_scope.cancel()
                    break
        await self.aclose()
        await send({"type": "lifespan.shutdown.complete"})

    def on_shutdown(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback`` when the server shuts the node down (see :meth:`aclose`)."""
        self._on_shutdown.append(callback)

    def in_background(self, task: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``task`` while the server serves the node (started at lifespan startup,
        cancelled at shutdown); the registry poller runs this way."""
        self._background.append(task)

    async def aclose(self) -> None:
        """Let the audit log commit what it holds (its ``shutdown``, if it has one), then run
        the shutdown callbacks (closing what :func:`build_node` opened)."""
        drain = getattr(self.audit, "shutdown", None)
        if drain is not None:
            try:
                await anyio.to_thread.run_sync(drain)
            except Exception:  # noqa: BLE001 - the closers below must still run
                _log.exception("audit log shutdown failed")
        callbacks, self._on_shutdown = self._on_shutdown, []
        for callback in reversed(callbacks):
            try:
                await callback()
            except Exception:  # noqa: BLE001 - one failing closer must not skip the others
                _log.exception("shutdown callback failed")

    async def _route(self, scope: Scope, receive: Receive) -> Answer:
        method = str(scope.get("method", "GET")).upper()
        path = str(scope.get("path", ""))
        if path in PATH_OPERATIONS:
            if method != "POST":
                return self._method_not_allowed("POST")
            try:
                body, _ = await read_body(receive, self.limits.max_bytes)
            except SizeLimitError as exc:
                return self._refuse(b"", exc)
            return await self.handle(path, body, content_type=header(scope, b"content-type"))
        if path == METRICS_PATH and self.metrics is not None:
            if method not in ("GET", "HEAD"):
                return self._method_not_allowed("GET")
            text, kind = self.metrics.render()
            return Answer(200, kind, text)
        if path in (METADATA_PATH, HEALTH_PATH, OPENAPI_PATH):
            if method not in ("GET", "HEAD"):
                return self._method_not_allowed("GET")
            if path == METADATA_PATH:
                return Answer(200, METADATA_MEDIA_TYPE, self.metadata())
            if path == HEALTH_PATH:
                await self.probe_platform()
                return self.health()
            return Answer(200, JSON_TYPE, self.openapi())
        return self._refuse(b"", NotFoundError(f"no endpoint at {path[:200]}"))

    # --- the exchange ------------------------------------------------------------------------

    async def handle(self, path: str, body: bytes, *, content_type: str | None) -> Answer:
        """Answer one POST to ``path`` with ``body``, in-process (no HTTP needed).

        Every answer is reported to the node's observers (:meth:`observe`) as an
        :class:`~deltafed.node.ExchangeRecord`.
        """
        trace = _Trace(PATH_OPERATIONS.get(path, "unknown"))
        token = _TRACE.set(trace)
        started = time.perf_counter()
        try:
            answer = await self._handle(path, body, content_type=content_type)
        finally:
            _TRACE.reset(token)
        self._report(trace, answer, time.perf_counter() - started)
        return answer

    def observe(self, observer: ExchangeObserver) -> None:
        """Report every exchange to ``observer`` (metrics, logs), after the answer is ready."""
        self._observers.append(observer)

    def _report(self, trace: _Trace, answer: Answer, duration: float) -> None:
        record = ExchangeRecord(
            operation=trace.operation,
            peer=trace.peer,
            outcome=trace.outcome or ("ok" if answer.status == 200 else "internal_error"),
            status=answer.status,
            duration=duration,
            request_id=trace.request_id,
            scenario=trace.scenario,
            replayed=trace.replayed,
            adapter_error=trace.adapter_error,
        )
        for observer in self._observers:
            try:
                observer.exchange_done(record)
            except Exception:  # noqa: BLE001 - an observer never costs an answer
                _log.exception("exchange observer %r failed", observer)

    async def _handle(self, path: str, body: bytes, *, content_type: str | None) -> Answer:
        operation = PATH_OPERATIONS.get(path)
        if operation is None:
            # Not an endpoint: the body is not read as a request (§4.2), req is the empty digest.
            return self._refuse(b"", NotFoundError(f"no endpoint at {path[:200]}"))
        if media_type(content_type) != REQUEST_MEDIA_TYPE:
            return self._refuse(
                body,
                MalformedMessageError(
                    f"the request media type must be {REQUEST_MEDIA_TYPE}", field="content-type"
                ),
            )
        try:
            request = self.verify(body)
        except DeltafedError as exc:
            return self._refuse(body, exc)
        trace = _TRACE.get()
        if trace is not None:
            claims = request.claims
            trace.peer, trace.request_id, trace.scenario = str(claims.iss), claims.jti, claims.scn
        if request.duplicate_of is not None and request.duplicate_of != _PROCESS_AGAIN:
            return self._stored(request.duplicate_of)
        if request.digest in self._in_flight:
            return self._refuse(
                body, ReplayError(f"request {request.jti} is already being answered", field="jti")
            )
        self._in_flight.add(request.digest)
        try:
            return await self._answer(operation, request)
        finally:
            self._in_flight.discard(request.digest)

    def verify(self, raw: bytes) -> VerifiedRequest:
        """Step 2: verify the request bytes (signature, trust, audience, time, replay)."""
        return self.verifier.verify_request(raw)

    def decide(self, request: PolicyRequest) -> Decision:
        """Step 4: the policy decision."""
        return self.policy.decide(request)

    def sign(self, claims: Any) -> bytes:
        """Sign a response's claims with the node's key."""
        return sign_response(claims, self.signer)

    async def _answer(self, operation: str, request: VerifiedRequest) -> Answer:
        claims = request.claims
        exchange = Exchange(request=request)
        problem: Problem | None = None
        result: dict[str, Any] = {}
        try:
            if claims.op != operation:
                raise MalformedMessageError(
                    f"operation {claims.op} is not served at {OPERATION_PATHS[operation]}; "
                    f"post it to {OPERATION_PATHS[claims.op]}",
                    field="op",
                )
            result = await self.perform(exchange)
        except DeltafedError as exc:
            problem = Problem.from_error(exc, request_id=claims.jti)
            exchange.fields = ()
            trace = _TRACE.get()
            if trace is not None and isinstance(exc, AdapterError):
                trace.adapter_error = exc.code
        except Exception:  # noqa: BLE001 - a bug becomes a bare internal_error, logged here
            _log.exception("unexpected failure answering request %s", claims.jti)
            problem = Problem.from_error(InternalError("unexpected failure"), request_id=claims.jti)
            exchange.fields = ()
        status: Literal["ok", "problem"] = "ok" if problem is None else "problem"
        response = self.sign(
            new_response(
                request,
                status=status,
                body=result if problem is None else problem.to_wire(),
                now=self.clock(),
                lifetime=self.response_lifetime,
            )
        )
        outcome = "ok" if problem is None else problem.code
        _set_outcome(outcome)
        extra: dict[str, Any] = {}
        if exchange.detail is not None and problem is None:
            extra["detail"] = exchange.detail
        try:
            await self._record(
                **extra,
                role="responder",
                counterpart=claims.iss,
                operation=claims.op,
                scenario=claims.scn,
                subjects=list(exchange.subjects),
                fields=list(exchange.fields),
                outcome=outcome,
                request_id=claims.jti,
                request=request.raw,
                response=response,
            )
        except Exception:  # noqa: BLE001 - any audit failure withholds the answer
            # No answer without its evidence: this one is withheld, and the identical
            # retransmission will be processed again.
            _log.exception("audit write failed for request %s; answer withheld", claims.jti)
            self._forget(request)
            problem = Problem.from_error(InternalError("audit failed"), request_id=claims.jti)
            _set_outcome(problem.code)
            withheld = self.sign(
                new_response(
                    request,
                    status="problem",
                    body=problem.to_wire(),
                    now=self.clock(),
                    lifetime=self.response_lifetime,
                )
            )
            return Answer(problem.status, RESPONSE_MEDIA_TYPE, withheld)
        if problem is not None and problem.code in TRANSIENT_CODES:
            self._forget(request)
        else:
            self._remember(request, response)
        return Answer(200 if problem is None else problem.status, RESPONSE_MEDIA_TYPE, response)

    async def _record(self, **entry: Any) -> None:
        """Write the audit entry; return once it is durable (see
        :func:`deltafed.audit._log.record_exchange`). With this request the only one in
        flight, an :class:`~deltafed.audit.AuditLog` may commit it on this thread."""
        await record_exchange(self.audit, entry, alone=len(self._in_flight) <= 1)

    def _forget(self, request: VerifiedRequest) -> None:
        try:
            self.verifier.forget_request(request)
        except DeltafedError:
            # A retransmission will be refused as "already being answered" until the entry
            # expires, instead of being processed again.
            _log.exception("could not forget request %s", request.jti)

    def _remember(self, request: VerifiedRequest, response: bytes) -> None:
        try:
            self.verifier.remember_response(request, response)
        except DeltafedError:
            # The answer is audited and may be released; a retransmission will be refused as
            # "already being answered" instead of getting these bytes back.
            _log.exception("could not remember the answer to request %s", request.jti)

    async def _platform(self, call: Awaitable[_T]) -> _T:
        """Await a call to the province's platform. Its error keeps its code, but the text,
        which may be the platform's own (a native code, a Chinese message, an internal host
        name), stays in this node's log: peers get a generic detail (protocol §4.1)."""
        try:
            return await call
        except DeltafedError as exc:
            _log.warning("platform error %s: %s", exc.code, exc.message)
            raise _from_platform(exc) from exc

    async def perform(self, exchange: Exchange) -> dict[str, Any]:
        """Steps 3 to 5: parse the body, decide, ask the adapter; the result body."""
        op = exchange.request.claims.op
        if op.startswith("concern."):
            return await self._concern(exchange)
        if op == "certificate.verify":
            return await self._verify_certificate(exchange)
        if op == "certificate.release":
            return await self._release_certificate(exchange)
        if op == "match.ask":
            return await self._match(exchange)
        if op.startswith("subscription."):
            return await self._subscription(exchange)
        if op == "event.deliver":
            return self._receive_event(exchange)
        if op == "record.request":
            return await self._request_record(exchange)
        raise NotFoundError(f"this node does not serve {op}", field="op")

    def _event_store(self) -> tuple[EventStore, Subscriptions]:
        if self.events is None or self.subscriptions is None:
            raise NotFoundError("this node serves no subscriptions or events", field="op")
        return self.events, self.subscriptions

    def _subscriber_scenario(self, exchange: Exchange) -> Any:
        claims = exchange.request.claims
        scenario = self.registry.scenario(claims.scn)
        if (
            "subscription.create" not in scenario.operations
            or not scenario.matches_requester(str(claims.iss))
            or self.member.region not in scenario.providers
            or not scenario.in_force(self.clock())
        ):
            raise NotAuthorizedError(
                f"scenario {scenario.id} gives {claims.iss} no subscriptions here", field="scn"
            )
        return scenario

    async def _subscription(self, exchange: Exchange) -> dict[str, Any]:
        store, subscriptions = self._event_store()
        claims = exchange.request.claims
        if claims.op == "subscription.create":
            body = _parse(SubscriptionRequest, claims.body)
            exchange.subjects = [body.subject_code]
            decision = self.decide(
                PolicyRequest.from_claims(
                    claims, holder_code=body.subject_code, holder_type=body.subject_type
                )
            )
            exchange.decision = decision
            if decision.consent is not None:
                uncovered = [k for k in body.kinds if k not in decision.consent.scope]
                if uncovered:
                    raise ConsentInvalidError(
                        f"the consent's scope does not list the event kind(s) "
                        f"{', '.join(uncovered)}",
                        field="cns.scope",
                    )
            predicate = decision.scenario.predicate(claims.tgt)
            baseline: bool | None = None
            if predicate is not None and body.kinds == ("condition.changed",):
                # Where the condition stands now, kept in the node (never answered): the
                # first event says it flipped.
                baseline = await self.adapter.evaluate_predicate(
                    predicate, body.subject_code, body.subject_type, use_cause=body.use_cause
                )
            created = subscriptions.create(decision.scenario, claims.iss, claims.tgt, body)
            if baseline is not None:
                store.set_condition(created.id, baseline)
            exchange.detail = f"subscription {created.id}: {', '.join(created.kinds)}"
            return created.to_wire()
        scenario = self._subscriber_scenario(exchange)
        if claims.op == "subscription.list":
            _parse(SubscriptionListQuery, claims.body)
            _same_target(claims.tgt, "subscriptions")
            return subscriptions.list(scenario, claims.iss).to_wire()
        cancel = _parse(SubscriptionCancel, claims.body)
        _same_target(claims.tgt, cancel.subscription)
        answer, found = subscriptions.cancel(scenario, claims.iss, cancel.subscription)
        exchange.subjects = [found.subject_code]
        exchange.detail = f"subscription {found.id} cancelled"
        return answer.to_wire()

    def _receive_event(self, exchange: Exchange) -> dict[str, Any]:
        store, _ = self._event_store()
        claims = exchange.request.claims
        check_sender(self.registry.scenario(claims.scn), self.member, claims.iss)
        event = _parse(ChangeEvent, claims.body)
        _same_target(claims.tgt, event.event_id)
        exchange.subjects = [event.subject_code]
        fresh = store.receive(event, str(claims.iss), self.clock().timestamp())
        exchange.detail = f"event {event.kind} ({event.event_id})"
        return EventAck(event_id=event.event_id, duplicate=not fresh).to_wire()

    async def _match(self, exchange: Exchange) -> dict[str, Any]:
        claims = exchange.request.claims
        body = _parse(MatchQuestion, claims.body)
        _same_target(claims.tgt, body.asked)
        if body.subject_code is not None:
            exchange.subjects = [body.subject_code]
        decision = self.decide(
            PolicyRequest.from_claims(
                claims, holder_code=body.subject_code, holder_type=body.subject_type
            )
        )
        exchange.decision = decision
        answer = await self.matcher.answer(decision.scenario, str(claims.iss), body)
        exchange.detail = answer.describe()
        return answer.to_wire()

    async def _concern(self, exchange: Exchange) -> dict[str, Any]:
        if self.concerns is None:
            raise NotFoundError(f"{self.member} takes no concerns", field="op")
        result, subjects = await self.concerns.perform(exchange.request)
        exchange.subjects = list(subjects)
        return result

    async def _verify_certificate(self, exchange: Exchange) -> dict[str, Any]:
        claims = exchange.request.claims
        body = _parse(VerificationRequest, claims.body)
        _same_target(claims.tgt, body.certificate_id or body.type_code)
        if body.holder_code is not None:
            exchange.subjects = [body.holder_code]
        decision = self.decide(
            PolicyRequest.from_claims(
                claims, holder_code=body.holder_code, holder_type=body.holder_type
            )
        )
        exchange.decision = decision
        meta = await self._platform(
            self.adapter.find_certificate(
                certificate_id=body.certificate_id,
                holder_code=body.holder_code,
                holder_type=body.holder_type,
                type_code=body.type_code,
                use_cause=body.use_cause,
            )
        )
        exchange.subjects = [meta.holder_code]
        decision.confirm_holder(meta.holder_code, meta.holder_type)
        today = self.clock().astimezone(_CST).date()
        in_window = meta.valid_from <= today and (
            meta.valid_until is None or today <= meta.valid_until
        )
        # Every value comes from the metadata the adapter has just validated: building the
        # result without validating those identifiers a second time saves their check-character
        # arithmetic on every answer (the requester validates the result it receives).
        result = VerificationResult.model_construct(
            valid=meta.status is CertificateStatus.VALID and in_window,
            certificate_id=meta.identifier,
            type_code=meta.type_code,
            status=meta.status,
            valid_from=meta.valid_from,
            valid_until=meta.valid_until,
            issuer_name=meta.issuer_name,
            summary={"name": meta.name},
        )
        return result.to_wire()

    async def _release_certificate(self, exchange: Exchange) -> dict[str, Any]:
        claims = exchange.request.claims
        body = _parse(ReleaseRequest, claims.body)
        _same_target(claims.tgt, body.certificate_id or body.type_code)
        if body.holder_code is not None:
            exchange.subjects = [body.holder_code]
        decision = self.decide(
            PolicyRequest.from_claims(
                claims,
                fields=body.fields,
                holder_code=body.holder_code,
                holder_type=body.holder_type,
            )
        )
        exchange.decision = decision
        meta = await self._platform(
            self.adapter.find_certificate(
                certificate_id=body.certificate_id,
                holder_code=body.holder_code,
                holder_type=body.holder_type,
                type_code=body.type_code,
                use_cause=body.use_cause,
            )
        )
        exchange.subjects = [meta.holder_code]
        decision.confirm_holder(meta.holder_code, meta.holder_type)
        data = await self._platform(
            self.adapter.certificate_data(
                meta.identifier, decision.fields, use_cause=body.use_cause
            )
        )
        result = ReleaseResult(
            certificate_id=meta.identifier, type_code=meta.type_code, fields=data
        )
        exchange.fields = decision.fields
        return result.to_wire()

    async def _request_record(self, exchange: Exchange) -> dict[str, Any]:
        claims = exchange.request.claims
        body = _parse(RecordRequest, claims.body)
        _same_target(claims.tgt, body.record_type)
        exchange.subjects = [body.subject_code]
        decision = self.decide(
            PolicyRequest.from_claims(
                claims,
                fields=body.fields,
                holder_code=body.subject_code,
                holder_type=body.subject_type,
            )
        )
        exchange.decision = decision
        record = await self._platform(
            self.adapter.fetch_record(
                body.record_type,
                body.subject_code,
                body.subject_type,
                decision.fields,
                use_cause=body.use_cause,
            )
        )
        result = RecordResponse(
            record_type=record.record_type, as_of=record.as_of, fields=dict(record.fields)
        )
        exchange.fields = decision.fields
        return result.to_wire()

    # --- answers that are not exchanges ------------------------------------------------------

    def _refuse(self, raw: bytes, exc: BaseException) -> Answer:
        """A signed problem answering bytes that were not (or not yet) a verified request."""
        if not isinstance(exc, DeltafedError) or isinstance(exc, InternalError):
            _log.info("refusing a request: %r", exc)
        problem = Problem.from_error(exc)
        _set_outcome(problem.code)
        return Answer(problem.status, RESPONSE_MEDIA_TYPE, self._problem_bytes(raw, problem))

    def _problem_bytes(self, raw: bytes, problem: Problem) -> bytes:
        try:
            claims = new_problem_response(
                raw,
                issuer=self.member,
                body=problem.to_wire(),
                now=self.clock(),
                crypto=self.limits.crypto,
            )
        except DeltafedError:
            claims = new_problem_response(
                b"",
                issuer=self.member,
                body=problem.to_wire(),
                now=self.clock(),
                crypto=self.limits.crypto,
            )
        return self.sign(claims)

    def _method_not_allowed(self, allowed: str) -> Answer:
        problem = Problem.from_error(
            MethodNotAllowedError(f"method not allowed here; use {allowed}", field="method")
        )
        return Answer(
            405,
            RESPONSE_MEDIA_TYPE,
            self._problem_bytes(b"", problem),
            headers=(("allow", allowed),),
        )

    def _stored(self, response: bytes) -> Answer:
        payload = peek_unverified_claims(response) or {}
        status = 200
        outcome = "ok"
        if payload.get("sts") == "problem":
            body = payload.get("body")
            code = body.get("status") if isinstance(body, dict) else None
            status = code if isinstance(code, int) and 400 <= code <= 599 else 500
            named = body.get("code") if isinstance(body, dict) else None
            outcome = named if isinstance(named, str) else "internal_error"
        trace = _TRACE.get()
        if trace is not None:
            trace.replayed = True
        _set_outcome(outcome)
        return Answer(status, RESPONSE_MEDIA_TYPE, response)

    def metadata(self) -> bytes:
        """The signed node metadata: who I am, my keys, what I offer, protocol versions."""
        now = int(self.clock().timestamp())
        catalogue = self.adapter.catalogue()
        try:
            name: str | None = self.registry.member(self.member).name
        except DeltafedError:
            name = None
        try:
            base: str | None = self.registry.endpoint_for(self.member)
        except DeltafedError:
            base = None
        payload: dict[str, Any] = {
            "iss": str(self.member),
            "iat": now,
            "exp": now + _METADATA_LIFETIME,
            "region": self.member.region,
            "protocol_versions": list(PROTOCOL_VERSIONS),
            "keys": [self.signer.public_jwk()],
            "endpoints": {"base": base, "paths": self._served_paths()},
            "offers": {
                "operations": sorted(self._served_paths()),
                "certificate_types": [t.type_code for t in catalogue.certificate_types],
                "record_types": [t.code for t in catalogue.record_types],
            },
            "limits": {
                "max_bytes": self.limits.max_bytes,
                "max_lifetime": self.limits.max_lifetime,
                "clock_skew": self.limits.clock_skew,
                "algorithms": list(self.limits.algorithms),
            },
        }
        if name is not None:
            payload["name"] = name
        return sign_document(payload, typ=METADATA_TYP, signer=self.signer)

    def _served_paths(self) -> dict[str, str]:
        return {
            op: path
            for op, path in OPERATION_PATHS.items()
            if self.concerns is not None or not op.startswith("concern.")
        }

    async def probe_platform(self) -> None:
        """Probe the native platform (:meth:`ProvinceAdapter.probe`) unless the last probe is
        more recent than ``probe_every`` seconds (by the node's clock) or one is running, so
        ``/health`` stays cheap however often it is called."""
        now = self.clock()
        last = self._probe
        if self._probing or (last is not None and now - last[0] < self._probe_every):
            return
        self._probing = True
        try:
            error: str | None = None
            try:
                await self.adapter.probe()
            except DeltafedError as exc:
                error = exc.code
            except Exception:  # noqa: BLE001 - a probe reports, it never fails the node
                _log.exception("platform probe failed unexpectedly")
                error = "adapter_error"
            self._probe = (self.clock(), error)
        finally:
            self._probing = False

    @property
    def platform_status(self) -> bool | None:
        """Whether the native platform answered the last probe (``None``: not probed yet)."""
        return None if self._probe is None else self._probe[1] is None

    def health(self) -> Answer:
        """``ok`` (200) when nothing is wrong; ``degraded`` (200) with the reasons while the
        registry is in its grace period or expires within ``expiry_warning``, the last
        registry poll failed, or the platform did not answer its last probe (see
        :meth:`probe_platform`); ``unavailable`` with 503 once the registry expired, so that
        a load balancer stops sending. Computed from state at hand: cheap."""
        registry = self.registry
        state = str(registry.state)
        healthy = state in ("fresh", "grace")
        now = self.clock()
        reasons: list[str] = []
        body: dict[str, Any] = {
            "member": str(self.member),
            "protocol_versions": list(PROTOCOL_VERSIONS),
            "registry": state,
            "registry_version": registry.version,
            "time": now.astimezone(UTC).isoformat(),
        }
        if state == "grace":
            reasons.append("registry_grace")
        expires = registry.expires_at
        if expires is not None:
            left = expires - now
            body["registry_expires_in"] = int(left.total_seconds())
            if state == "fresh" and left < self.expiry_warning:
                reasons.append("registry_expiring")
        if self.poller is not None:
            poll = self.poller.status
            body["registry_poll"] = {
                "status": "failing" if poll.failing else "ok",
                "last_error": poll.last_error,
                "last_success": poll.last_success.isoformat() if poll.last_success else None,
            }
            if poll.failing:
                reasons.append("registry_poll_failing")
        if self._probe is None:
            body["platform"] = "unknown"
        elif self._probe[1] is None:
            body["platform"] = "ok"
        else:
            body["platform"] = "unavailable"
            body["platform_error"] = self._probe[1]
            reasons.append("platform_unavailable")
        status = ("degraded" if reasons else "ok") if healthy else "unavailable"
        body = {"status": status, **body}
        if reasons:
            body["degraded"] = reasons
        return Answer(200 if healthy else 503, JSON_TYPE, _json(body))

    def openapi(self) -> bytes:
        return _json(openapi_document(self.member))


@dataclass(slots=True)
class _Trace:
    """What :meth:`Node.handle` learns about one exchange as it goes, for its observers."""

    operation: str
    peer: str = UNVERIFIED
    outcome: str | None = None
    request_id: str | None = None
    scenario: str | None = None
    replayed: bool = False
    adapter_error: str | None = None


_TRACE: ContextVar[_Trace | None] = ContextVar("deltafed_exchange_trace", default=None)


def _set_outcome(outcome: str) -> None:
    trace = _TRACE.get()
    if trace is not None:
        trace.outcome = outcome


def _json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _parse(model: type[_Model], body: dict[str, Any]) -> _Model:
    try:
        return model.parse(body)
    except InvalidInputError as exc:
        exc.field = f"body.{exc.field}" if exc.field else "body"
        raise


def _same_target(target: str, named: str | None) -> None:
    if target != named:
        raise InvalidInputError(
            "tgt must be what the body asks about: the certificate id, the certificate type "
            "code (when asking by holder) or the record type",
            field="tgt",
        )


#: What a peer reads in a problem caused by the province's platform, by code.
PLATFORM_DETAIL: Final = "The province's platform reported this; the node keeps the details."


def _from_platform(exc: DeltafedError) -> DeltafedError:
    """``exc`` with the same class and code, its text replaced by a generic one."""
    try:
        generic = type(exc)(PLATFORM_DETAIL, field=exc.field if exc.field else None)
    except TypeError:  # a subclass with another constructor: keep the code's family
        generic = AdapterError(PLATFORM_DETAIL)
    return generic
