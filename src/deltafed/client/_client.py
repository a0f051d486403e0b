"""The requesting side: :class:`FederationClient` (sync) and :class:`AsyncFederationClient`.

One exchange:

1. find the provider's member id and endpoint in the verified registry;
2. refuse locally what the registry already shows the provider will refuse - an unknown
   scenario, a requester, provider region, operation or target the scenario does not name, a
   field it does not allow - with the error class whose ``code`` the node would send
   (:class:`~deltafed.ScenarioUnknownError`, :class:`~deltafed.NotAuthorizedError`,
   :class:`~deltafed.FieldNotAllowedError`): nothing travels;
3. build the request claims and sign them once;
4. POST the signed bytes; on a transport failure or a 409/502/503/504 answer, send the
   *same* bytes again as the :class:`~deltafed.RetryPolicy` says. The node answers an identical
   retransmission with the response it already signed, so a retry never acts twice;
5. verify the response (signature under a registry key of the provider, audience, time
   window, and binding to exactly the bytes sent);
6. write the requester's audit entry, when an audit log is given;
7. return the typed result, or raise.

Errors: transport failures become :class:`~deltafed.TransportError` /
:class:`~deltafed.PeerTimeoutError`; an answer that is not a verifiable signed response
becomes a :class:`~deltafed.ProtocolError` subclass (or a trust error from the registry); a
*signed problem* becomes :class:`~deltafed.PeerProblemError` whose ``problem_code`` is the
code the peer sent. The peer's code is never raised as our own error class: a peer's
``bad_signature`` means it refused our request, not that we refused its answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final, TypeVar

import httpx

from deltafed._clock import Clock, system_clock
from deltafed._errors import (
    ConfigurationError,
    DeltafedError,
    InvalidInputError,
    MalformedMessageError,
    PeerTimeoutError,
    PolicyError,
    SizeLimitError,
    TransportError,
    UnknownMemberError,
)
from deltafed._limits import LimitedBody
from deltafed._retry import RetryableError, RetryPolicy, call_async, call_sync
from deltafed.audit._log import record_exchange
from deltafed.client._consent import issue_consent
from deltafed.keys import Signer
from deltafed.policy import PolicyEngine, PolicyRequest
from deltafed.protocol import (
    OPERATION_PATHS,
    REQUEST_MEDIA_TYPE,
    RESPONSE_MEDIA_TYPE,
    Limits,
    ProtocolVerifier,
    VerifiedResponse,
    new_request,
    peek_unverified_claims,
    sign_request,
)
from deltafed.registry import TrustedRegistry
from deltafed.registry._trusted import check_member_or_region
from deltafed.schemas._base import WireModel
from deltafed.schemas._checks import parse_holder_type
from deltafed.schemas.common import HolderType
from deltafed.schemas.identifiers import MemberId, parse_member_id
from deltafed.schemas.matching import MatchAnswer, MatchQuestion
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
    "RETRY_STATUSES",
    "AsyncFederationClient",
    "ExchangeResult",
    "FederationClient",
]

#: HTTP statuses after which the identical request is sent again: the gateway statuses, and
#: 409, which a node answers while the first copy of the same bytes is still being processed.
#: For the policy's ``retry_on`` a 504 counts as a :class:`~deltafed.PeerTimeoutError`, the
#: others as a :class:`~deltafed.TransportError`.
RETRY_STATUSES: Final = frozenset({409, 502, 503, 504})

#: The operations a node decides with its policy engine from the registry (protocol §5): the
#: client runs the same first checks before sending them.
_SCREENED_OPERATIONS: Final = frozenset(
    {
        "certificate.verify",
        "certificate.release",
        "record.request",
        "match.ask",
        "subscription.create",
    }
)

_Result = TypeVar("_Result", VerificationResult, ReleaseResult, RecordResponse, MatchAnswer)


@dataclass(frozen=True, slots=True)
class ExchangeResult:
    """One completed exchange: the bytes we signed and the verified answer (the evidence)."""

    request: bytes
    response: VerifiedResponse
    provider: MemberId
    attempts: int

    @property
    def body(self) -> dict[str, Any]:
        return self.response.body


@dataclass(frozen=True, slots=True)
class _Prepared:
    raw: bytes
    url: str
    provider: MemberId
    operation: str
    scenario: str
    jti: str
    subjects: tuple[str, ...]


class _ResendError(RetryableError):
    """Internal: this attempt may be repeated with the same bytes.

    ``status`` is 0 when the transport failed (``error`` is then raised when the policy stops),
    else the answer's status, content and media type (then verified when the policy stops).
    """

    def __init__(self, error: DeltafedError, status: int, content: bytes, ct: str) -> None:
        super().__init__(error)
        self.status = status
        self.content = content
        self.content_type = ct


def _answered_too_much(url: str) -> Callable[[int], DeltafedError]:
    return lambda limit: SizeLimitError(f"{url} answered more than {limit} bytes")


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def _subjects(body: Mapping[str, Any]) -> tuple[str, ...]:
    # holder_code / subject_code name the person or company an exchange is about.
    code = body.get("holder_code") or body.get("subject_code")
    filer = body.get("filer")  # a concern: the resident or company who files it
    if code is None and isinstance(filer, Mapping):
        code = filer.get("code")
    return (code,) if isinstance(code, str) else ()


class _Core:
    """What the sync and async clients share: everything but the I/O."""

    def __init__(
        self,
        member_id: str,
        signer: Signer,
        registry: TrustedRegistry,
        *,
        clock: Clock,
        audit: Any,
        limits: Limits | None,
        retry: RetryPolicy | None,
        request_lifetime: int,
    ) -> None:
        try:
            self.member: MemberId = parse_member_id(member_id)
        except InvalidInputError as exc:
            raise ConfigurationError(f"client member id: {exc.message}") from exc
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError("retry must be a RetryPolicy")
        self.signer = signer
        self.registry = registry
        self.clock = clock
        self.audit = audit
        self.limits = limits if limits is not None else Limits(crypto=registry.profile)
        self.retry = retry if retry is not None else RetryPolicy()
        self.request_lifetime = request_lifetime
        self.verifier = ProtocolVerifier(
            registry, self.member, clock=clock, replay=None, limits=self.limits
        )
        self._engines: dict[str, PolicyEngine] = {}

    # --- building ------------------------------------------------------------------------

    def provider(self, provider: str) -> tuple[MemberId, str]:
        """The member id and endpoint that serve ``provider`` (a member id or a region)."""
        check_member_or_region(provider, field="provider")
        if "/" in provider:
            member = self.registry.member(provider)
            return member.id, self.registry.endpoint_for(provider)
        endpoint = self.registry.endpoint_for(provider)
        served = [
            m.id
            for m in self.registry.members()
            if m.id.region == provider and m.endpoint == endpoint
        ]
        if len(served) != 1:
            raise UnknownMemberError(
                f"region {provider} is served at {endpoint} by {len(served)} members; "
                "name the member"
            )
        return served[0], endpoint

    def screen(
        self,
        provider: MemberId,
        *,
        operation: str,
        target: str,
        scenario: str,
        body: Mapping[str, Any],
    ) -> None:
        """Refuse what the registry shows ``provider``'s node would refuse, before sending."""
        if operation not in _SCREENED_OPERATIONS:
            return
        engine = self._engines.get(provider.region)
        if engine is None:
            engine = PolicyEngine(
                self.registry, provider_region=provider.region, clock=self.clock, limits=self.limits
            )
            self._engines[provider.region] = engine
        asked = body.get("fields")
        fields = tuple(asked) if isinstance(asked, list | tuple) else ()
        request = PolicyRequest(
            requester=self.member,
            operation=operation,
            target=target,
            scenario=scenario,
            fields=fields,
        )
        try:
            engine.screen(request)
        except PolicyError as exc:
            raise type(exc)(
                f"not sent to {provider}, whose node would refuse it: {exc.message}",
                field=exc.field,
                remediation=exc.remediation,
            ) from exc

    def prepare(
        self,
        provider: str,
        *,
        operation: str,
        target: str,
        scenario: str,
        body: Mapping[str, Any],
        consent: bytes | str | None,
        screen: bool = True,
    ) -> _Prepared:
        audience, endpoint = self.provider(provider)
        if screen:
            self.screen(audience, operation=operation, target=target, scenario=scenario, body=body)
        claims = new_request(
            issuer=self.member,
            audience=audience,
            operation=operation,
            target=target,
            scenario=scenario,
            body=body,
            consent=consent,
            now=self.clock(),
            lifetime=self.request_lifetime,
        )
        raw = sign_request(claims, self.signer)
        return _Prepared(
            raw=raw,
            url=endpoint.rstrip("/") + OPERATION_PATHS[operation],
            provider=audience,
            operation=operation,
            scenario=scenario,
            jti=claims.jti,
            subjects=_subjects(body),
        )

    # --- reading -------------------------------------------------------------------------

    @staticmethod
    def check_status(url: str, status: int, content: bytes, content_type: str) -> None:
        if status in RETRY_STATUSES:
            kind = PeerTimeoutError if status == 504 else TransportError
            raise _ResendError(kind(f"{url} answered {status}"), status, content, content_type)

    @staticmethod
    def transport_failure(error: httpx.TransportError, url: str) -> _ResendError:
        failure: DeltafedError
        if isinstance(error, httpx.TimeoutException):
            failure = PeerTimeoutError(f"no answer from {url} in time: {type(error).__name__}")
        else:
            failure = TransportError(f"cannot exchange with {url}: {type(error).__name__}: {error}")
        return _ResendError(failure, 0, b"", "")

    @staticmethod
    def last_answer(last: _ResendError) -> tuple[int, bytes, str]:
        """The answer to verify after the last try, or raise the transport failure."""
        if last.status == 0:
            raise last.error from last.error.__cause__
        return last.status, last.content, last.content_type

    def verify(
        self, prepared: _Prepared, status: int, content: bytes, content_type: str
    ) -> VerifiedResponse:
        if _media_type(content_type) != RESPONSE_MEDIA_TYPE:
            if status >= 500:
                raise TransportError(
                    f"{prepared.url} answered HTTP {status} without a signed response"
                )
            raise MalformedMessageError(
                f"{prepared.url} answered HTTP {status} with {content_type or 'no media type'}, "
                "not a signed response",
                field="content-type",
            )
        return self.verifier.verify_response(content, request_raw=prepared.raw)

    def record_kwargs(self, prepared: _Prepared, response: VerifiedResponse) -> dict[str, Any]:
        body = response.body
        if response.ok:
            outcome = "ok"
            released = body.get("fields")
            fields = sorted(released) if isinstance(released, dict) else []
        else:
            code = body.get("code")
            outcome = code if isinstance(code, str) else "internal_error"
            fields = []
        return {
            "role": "requester",
            "counterpart": prepared.provider,
            "operation": prepared.operation,
            "scenario": prepared.scenario,
            "subjects": list(prepared.subjects),
            "fields": fields,
            "outcome": outcome,
            "request_id": prepared.jti,
            "request": prepared.raw,
            "response": response.raw,
            **_match_detail(prepared, response),
        }

    @staticmethod
    def raise_for_problem(response: VerifiedResponse) -> None:
        if response.ok:
            return
        try:
            problem = Problem.parse(response.body)
        except InvalidInputError as exc:
            raise MalformedMessageError(
                f"the peer's problem is not a valid problem: {exc.message}", field="body"
            ) from exc
        raise problem.to_error()


def _match_detail(prepared: _Prepared, response: VerifiedResponse) -> dict[str, str]:
    """For a match answer, the audit entry's detail: the question and the answer; for an
    event delivered, its kind."""
    if not response.ok:
        return {}
    if prepared.operation == "event.deliver":
        body = (peek_unverified_claims(prepared.raw) or {}).get("body")
        kind = body.get("kind") if isinstance(body, dict) else None
        event_id = body.get("event_id") if isinstance(body, dict) else None
        return {"detail": f"event {kind} ({event_id})"} if isinstance(kind, str) else {}
    if prepared.operation != "match.ask":
        return {}
    try:
        return {"detail": MatchAnswer.parse(response.body).describe()}
    except InvalidInputError:
        return {}


def _match_body(
    *,
    predicate: str | None,
    subject_code: str | None,
    subject_type: HolderType | str | None,
    aggregate: str | None,
    place: str | None,
    use_cause: str,
) -> tuple[str, dict[str, Any]]:
    data: dict[str, Any] = {"use_cause": use_cause}
    for name, value in (
        ("predicate", predicate),
        ("subject_code", subject_code),
        ("aggregate", aggregate),
        ("place", place),
    ):
        if value is not None:
            data[name] = value
    if subject_type is not None:
        data["subject_type"] = parse_holder_type(subject_type, field="subject_type").value
    question = MatchQuestion.parse(data)  # refuse a malformed question before signing it
    return question.asked, question.to_wire()


def _check_match(answer: MatchAnswer, asked: str) -> MatchAnswer:
    if (answer.predicate or answer.aggregate) != asked:
        raise MalformedMessageError(f"the peer answered another question than {asked}")
    return answer


def _typed(model: type[_Result], body: dict[str, Any]) -> _Result:
    try:
        return model.parse(body)
    except InvalidInputError as exc:
        raise MalformedMessageError(
            f"the peer's signed {model.__name__} is not valid: {exc.message}",
            field=f"body.{exc.field}" if exc.field else "body",
        ) from exc


def _check_released(result: ReleaseResult | RecordResponse, asked: Sequence[str]) -> None:
    extra = sorted(set(result.fields) - set(asked))
    if extra:
        raise MalformedMessageError(
            f"the peer released fields that were not asked for: {', '.join(extra)}",
            field="body.fields",
        )


def _certificate_body(
    *,
    certificate_id: str | None,
    holder_code: str | None,
    holder_type: HolderType | str | None,
    type_code: str | None,
    use_cause: str,
    fields: Sequence[str] | None,
) -> tuple[str, dict[str, Any]]:
    data: dict[str, Any] = {"use_cause": use_cause}
    if certificate_id is not None:
        data["certificate_id"] = certificate_id
    if holder_code is not None:
        data["holder_code"] = holder_code
    if holder_type is not None:
        data["holder_type"] = parse_holder_type(holder_type).value
    if type_code is not None:
        data["type_code"] = type_code
    model: type[WireModel] = VerificationRequest
    if fields is not None:
        if isinstance(fields, str):
            raise InvalidInputError("fields is a sequence of field names", field="fields")
        data["fields"] = list(fields)
        model = ReleaseRequest
    parsed = model.parse(data)  # refuse a malformed request before signing anything
    body = parsed.to_wire()
    return (certificate_id if certificate_id is not None else str(type_code)), body


def _record_body(
    *,
    record_type: str,
    subject_code: str,
    subject_type: HolderType | str,
    fields: Sequence[str],
    use_cause: str,
) -> dict[str, Any]:
    if isinstance(fields, str):
        raise InvalidInputError("fields is a sequence of field names", field="fields")
    return RecordRequest.parse(
        {
            "record_type": record_type,
            "subject_type": parse_holder_type(subject_type, field="subject_type").value,
            "subject_code": subject_code,
            "fields": list(fields),
            "use_cause": use_cause,
        }
    ).to_wire()


class _Api:
    """The typed operations, shared by the sync and async clients through ``_call``."""

    _core: _Core

    def issue_consent(
        self,
        *,
        holder_type: HolderType | str,
        holder_code: str,
        scenario: str,
        scope: Sequence[str],
        operations: Sequence[str],
        lifetime: timedelta,
        requester: str | None = None,
        explicit_request: bool = True,
    ) -> bytes:
        """A consent recorded by this member (its key signs it), for itself by default."""
        core = self._core
        return issue_consent(
            core.signer,
            issuer=core.member,
            holder_type=holder_type,
            holder_code=holder_code,
            scenario=scenario,
            requester=requester if requester is not None else core.member,
            scope=scope,
            operations=operations,
            now=core.clock(),
            lifetime=lifetime,
            explicit_request=explicit_request,
        )


class FederationClient(_Api):
    """A member's client for asking other regions' nodes (synchronous, on httpx).

    ``registry`` is the verified trust registry (endpoints, keys); ``audit`` an optional
    :class:`deltafed.audit.AuditLog` that gets one ``requester`` entry per verified answer;
    ``retry`` is the :class:`~deltafed.RetryPolicy` for sending one request again after a
    transport failure or a 409/502/503/504 answer (always the same signed bytes, which the node
    answers once; ``RetryPolicy.no_wait()`` in tests). ``http`` may be given (for a transport,
    proxies or TLS settings); the client closes only an ``httpx.Client`` it created.
    """

    def __init__(
        self,
        member_id: str,
        signer: Signer,
        registry: TrustedRegistry,
        *,
        clock: Clock = system_clock,
        http: httpx.Client | None = None,
        audit: Any = None,
        limits: Limits | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 10.0,
        request_lifetime: int = 60,
    ) -> None:
        self._core = _Core(
            member_id,
            signer,
            registry,
            clock=clock,
            audit=audit,
            limits=limits,
            retry=retry,
            request_lifetime=request_lifetime,
        )
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=timeout)

    @property
    def member(self) -> MemberId:
        return self._core.member

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> FederationClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _post(self, prepared: _Prepared) -> tuple[int, bytes, str]:
        limit = self._core.limits.max_bytes
        try:
            with self._http.stream(
                "POST",
                prepared.url,
                content=prepared.raw,
                headers={"content-type": REQUEST_MEDIA_TYPE, "accept": RESPONSE_MEDIA_TYPE},
            ) as response:
                body = LimitedBody(limit, too_large=_answered_too_much(prepared.url))
                for chunk in response.iter_bytes():
                    body.add(chunk)
                status = response.status_code
                content_type = response.headers.get("content-type", "")
        except httpx.TransportError as exc:
            failure = self._core.transport_failure(exc, prepared.url)
            failure.error.__cause__ = exc
            raise failure from exc
        content = body.bytes()
        self._core.check_status(prepared.url, status, content, content_type)
        return status, content, content_type

    def _send(self, prepared: _Prepared) -> tuple[int, bytes, str, int]:
        attempts = 0

        def attempt() -> tuple[int, bytes, str]:
            nonlocal attempts
            attempts += 1
            return self._post(prepared)

        try:
            status, content, content_type = call_sync(self._core.retry, attempt)
        except _ResendError as last:
            status, content, content_type = _Core.last_answer(last)
        return status, content, content_type, attempts

    def exchange(
        self,
        provider: str,
        *,
        operation: str,
        target: str,
        scenario: str,
        body: Mapping[str, Any],
        consent: bytes | str | None = None,
        screen: bool = True,
    ) -> ExchangeResult:
        """Send one request and return the verified answer, problems included (not raised).

        A request the registry shows the provider will refuse raises the policy error the
        node would answer with, before anything is sent; ``screen=False`` sends it anyway
        (to test a node's own refusals).
        """
        core = self._core
        prepared = core.prepare(
            provider,
            operation=operation,
            target=target,
            scenario=scenario,
            body=body,
            consent=consent,
            screen=screen,
        )
        status, content, content_type, attempts = self._send(prepared)
        response = core.verify(prepared, status, content, content_type)
        if core.audit is not None:
            core.audit.record(**core.record_kwargs(prepared, response))
        return ExchangeResult(
            request=prepared.raw, response=response, provider=prepared.provider, attempts=attempts
        )

    def _call(
        self,
        provider: str,
        operation: str,
        target: str,
        scenario: str,
        body: dict[str, Any],
        consent: bytes | str | None,
    ) -> dict[str, Any]:
        result = self.exchange(
            provider,
            operation=operation,
            target=target,
            scenario=scenario,
            body=body,
            consent=consent,
        )
        _Core.raise_for_problem(result.response)
        return result.body

    def verify_certificate(
        self,
        provider: str,
        *,
        scenario: str,
        use_cause: str,
        certificate_id: str | None = None,
        holder_code: str | None = None,
        holder_type: HolderType | str | None = None,
        type_code: str | None = None,
        consent: bytes | str | None = None,
    ) -> VerificationResult:
        """Ask ``provider`` whether a certificate is valid (by identifier, or by holder+type)."""
        target, body = _certificate_body(
            certificate_id=certificate_id,
            holder_code=holder_code,
            holder_type=holder_type,
            type_code=type_code,
            use_cause=use_cause,
            fields=None,
        )
        data = self._call(provider, "certificate.verify", target, scenario, body, consent)
        return _typed(VerificationResult, data)

    def release_certificate(
        self,
        provider: str,
        *,
        scenario: str,
        use_cause: str,
        fields: Sequence[str],
        certificate_id: str | None = None,
        holder_code: str | None = None,
        holder_type: HolderType | str | None = None,
        type_code: str | None = None,
        consent: bytes | str | None = None,
    ) -> ReleaseResult:
        """Ask ``provider`` for ``fields`` of a certificate (only those the scenario allows)."""
        target, body = _certificate_body(
            certificate_id=certificate_id,
            holder_code=holder_code,
            holder_type=holder_type,
            type_code=type_code,
            use_cause=use_cause,
            fields=fields,
        )
        data = self._call(provider, "certificate.release", target, scenario, body, consent)
        result = _typed(ReleaseResult, data)
        _check_released(result, fields)
        return result

    def request_record(
        self,
        provider: str,
        *,
        scenario: str,
        use_cause: str,
        record_type: str,
        subject_code: str,
        subject_type: HolderType | str,
        fields: Sequence[str],
        consent: bytes | str | None = None,
    ) -> RecordResponse:
        """Ask ``provider`` for ``fields`` of a record about a resident or organisation."""
        body = _record_body(
            record_type=record_type,
            subject_code=subject_code,
            subject_type=subject_type,
            fields=fields,
            use_cause=use_cause,
        )
        data = self._call(provider, "record.request", record_type, scenario, body, consent)
        result = _typed(RecordResponse, data)
        _check_released(result, fields)
        return result

    def ask_predicate(
        self,
        provider: str,
        *,
        scenario: str,
        predicate: str,
        subject_code: str,
        subject_type: HolderType | str,
        use_cause: str,
        consent: bytes | str | None = None,
    ) -> bool:
        """Whether the scenario's ``predicate`` holds for a subject: a signed yes or no."""
        target, body = _match_body(
            predicate=predicate,
            subject_code=subject_code,
            subject_type=subject_type,
            aggregate=None,
            place=None,
            use_cause=use_cause,
        )
        data = self._call(provider, "match.ask", target, scenario, body, consent)
        answer = _check_match(_typed(MatchAnswer, data), target)
        return bool(answer.result)

    def count_subjects(
        self, provider: str, *, scenario: str, aggregate: str, place: str, use_cause: str
    ) -> MatchAnswer:
        """The scenario's ``aggregate`` at ``place``: ``count``, or ``fewer_than`` K."""
        target, body = _match_body(
            predicate=None,
            subject_code=None,
            subject_type=None,
            aggregate=aggregate,
            place=place,
            use_cause=use_cause,
        )
        data = self._call(provider, "match.ask", target, scenario, body, None)
        return _check_match(_typed(MatchAnswer, data), target)


class AsyncFederationClient(_Api):
    """The asynchronous twin of :class:`FederationClient` (``httpx.AsyncClient``)."""

    def __init__(
        self,
        member_id: str,
        signer: Signer,
        registry: TrustedRegistry,
        *,
        clock: Clock = system_clock,
        http: httpx.AsyncClient | None = None,
        audit: Any = None,
        limits: Limits | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 10.0,
        request_lifetime: int = 60,
    ) -> None:
        self._core = _Core(
            member_id,
            signer,
            registry,
            clock=clock,
            audit=audit,
            limits=limits,
            retry=retry,
            request_lifetime=request_lifetime,
        )
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=timeout)
        self._in_flight = 0  # exchanges of this client under way (for the audit commit)

    @property
    def member(self) -> MemberId:
        return self._core.member

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncFederationClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _post(self, prepared: _Prepared) -> tuple[int, bytes, str]:
        limit = self._core.limits.max_bytes
        try:
            async with self._http.stream(
                "POST",
                prepared.url,
                content=prepared.raw,
                headers={"content-type": REQUEST_MEDIA_TYPE, "accept": RESPONSE_MEDIA_TYPE},
            ) as response:
                body = LimitedBody(limit, too_large=_answered_too_much(prepared.url))
                async for chunk in response.aiter_bytes():
                    body.add(chunk)
                status = response.status_code
                content_type = response.headers.get("content-type", "")
        except httpx.TransportError as exc:
            failure = self._core.transport_failure(exc, prepared.url)
            failure.error.__cause__ = exc
            raise failure from exc
        content = body.bytes()
        self._core.check_status(prepared.url, status, content, content_type)
        return status, content, content_type

    async def _send(self, prepared: _Prepared) -> tuple[int, bytes, str, int]:
        attempts = 0

        async def attempt() -> tuple[int, bytes, str]:
            nonlocal attempts
            attempts += 1
            return await self._post(prepared)

        try:
            status, content, content_type = await call_async(self._core.retry, attempt)
        except _ResendError as last:
            status, content, content_type = _Core.last_answer(last)
        return status, content, content_type, attempts

    async def exchange(
        self,
        provider: str,
        *,
        operation: str,
        target: str,
        scenario: str,
        body: Mapping[str, Any],
        consent: bytes | str | None = None,
        screen: bool = True,
    ) -> ExchangeResult:
        """Send one request and return the verified answer, problems included (not raised).

        A request the registry shows the provider will refuse raises the policy error the
        node would answer with, before anything is sent; ``screen=False`` sends it anyway
        (to test a node's own refusals).
        """
        core = self._core
        prepared = core.prepare(
            provider,
            operation=operation,
            target=target,
            scenario=scenario,
            body=body,
            consent=consent,
            screen=screen,
        )
        self._in_flight += 1
        try:
            status, content, content_type, attempts = await self._send(prepared)
            response = core.verify(prepared, status, content, content_type)
            if core.audit is not None:
                await record_exchange(
                    core.audit, core.record_kwargs(prepared, response), alone=self._in_flight == 1
                )
        finally:
            self._in_flight -= 1
        return ExchangeResult(
            request=prepared.raw, response=response, provider=prepared.provider, attempts=attempts
        )

    async def _call(
        self,
        provider: str,
        operation: str,
        target: str,
        scenario: str,
        body: dict[str, Any],
        consent: bytes | str | None,
    ) -> dict[str, Any]:
        result = await self.exchange(
            provider,
            operation=operation,
            target=target,
            scenario=scenario,
            body=body,
            consent=consent,
        )
        _Core.raise_for_problem(result.response)
        return result.body

    async def verify_certificate(
        self,
        provider: str,
        *,
        scenario: str,
        use_cause: str,
        certificate_id: str | None = None,
        holder_code: str | None = None,
        holder_type: HolderType | str | None = None,
        type_code: str | None = None,
        consent: bytes | str | None = None,
    ) -> VerificationResult:
        """See :meth:`FederationClient.verify_certificate`."""
        target, body = _certificate_body(
            certificate_id=certificate_id,
            holder_code=holder_code,
            holder_type=holder_type,
            type_code=type_code,
            use_cause=use_cause,
            fields=None,
        )
        data = await self._call(provider, "certificate.verify", target, scenario, body, consent)
        return _typed(VerificationResult, data)

    async def release_certificate(
        self,
        provider: str,
        *,
        scenario: str,
        use_cause: str,
        fields: Sequence[str],
        certificate_id: str | None = None,
        holder_code: str | None = None,
        holder_type: HolderType | str | None = None,
        type_code: str | None = None,
        consent: bytes | str | None = None,
    ) -> ReleaseResult:
        """See :meth:`FederationClient.release_certificate`."""
        target, body = _certificate_body(
            certificate_id=certificate_id,
            holder_code=holder_code,
            holder_type=holder_type,
            type_code=type_code,
            use_cause=use_cause,
            fields=fields,
        )
        data = await self._call(provider, "certificate.release", target, scenario, body, consent)
        result = _typed(ReleaseResult, data)
        _check_released(result, fields)
        return result

    async def request_record(
        self,
        provider: str,
        *,
        scenario: str,
        use_cause: str,
        record_type: str,
        subject_code: str,
        subject_type: HolderType | str,
        fields: Sequence[str],
        consent: bytes | str | None = None,
    ) -> RecordResponse:
        """See :meth:`FederationClient.request_record`."""
        body = _record_body(
            record_type=record_type,
            subject_code=subject_code,
            subject_type=subject_type,
            fields=fields,
            use_cause=use_cause,
        )
        data = await self._call(provider, "record.request", record_type, scenario, body, consent)
        result = _typed(RecordResponse, data)
        _check_released(result, fields)
        return result

    async def ask_predicate(
        self,
        provider: str,
        *,
        scenario: str,
        predicate: str,
        subject_code: str,
        subject_type: HolderType | str,
        use_cause: str,
        consent: bytes | str | None = None,
    ) -> bool:
        """See :meth:`FederationClient.ask_predicate`."""
        target, body = _match_body(
            predicate=predicate,
            subject_code=subject_code,
            subject_type=subject_type,
            aggregate=None,
            place=None,
            use_cause=use_cause,
        )
        data = await self._call(provider, "match.ask", target, scenario, body, consent)
        answer = _check_match(_typed(MatchAnswer, data), target)
        return bool(answer.result)

    async def count_subjects(
        self, provider: str, *, scenario: str, aggregate: str, place: str, use_cause: str
    ) -> MatchAnswer:
        """See :meth:`FederationClient.count_subjects`."""
        target, body = _match_body(
            predicate=None,
            subject_code=None,
            subject_type=None,
            aggregate=aggregate,
            place=place,
            use_cause=use_cause,
        )
        data = await self._call(provider, "match.ask", target, scenario, body, None)
        return _check_match(_typed(MatchAnswer, data), target)
