"""The filer's region's side of concerns: file, then read the signed history back.

The filer's node is the one that asks: it files with ``concern.file`` and polls
``concern.history``; the responsible node never calls out. Every answer is a signed response
bound to the request (as for any exchange), and every event in it is verified on its own
(:func:`~deltafed.concerns.verify_history`): signed by the member the registry routes the
concern to, addressed to the filer, chained from the exact filing request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deltafed._clock import Clock, system_clock
from deltafed._errors import InvalidInputError, MalformedMessageError, NotFoundError
from deltafed._profile import INTERNATIONAL, CryptoProfile
from deltafed.client import AsyncFederationClient, ExchangeResult, FederationClient
from deltafed.concerns._events import VerifiedEvent, verify_history
from deltafed.concerns._routing import route
from deltafed.protocol import Limits, ProtocolVerifier, peek_unverified_claims
from deltafed.registry import TrustedRegistry
from deltafed.schemas.concerns import Concern, ConcernHistory, EscalationList
from deltafed.schemas.problem import Problem

__all__ = ["ConcernFiler", "ConcernSupervisor", "EscalatedConcern", "FiledConcern"]


@dataclass(frozen=True, slots=True)
class FiledConcern:
    """A concern as its filer's region knows it: what was sent and the verified history."""

    concern: Concern
    responsible: str
    scenario: str
    filing_request: bytes
    events: tuple[VerifiedEvent, ...]
    #: The federation's crypto profile (its hash makes the digests of the chain).
    crypto: CryptoProfile = INTERNATIONAL

    @property
    def id(self) -> str:
        return self.concern.id

    @property
    def filing_digest(self) -> str:
        return self.crypto.digest_text(self.filing_request)

    @property
    def status(self) -> str:
        return self.events[-1].event.status


class ConcernFiler:
    """Files concerns for ``client``'s member and keeps their verified histories.

    ``client`` is a :class:`~deltafed.client.FederationClient` (use the plain methods) or an
    :class:`~deltafed.client.AsyncFederationClient` (use the ``a``-prefixed ones). Its audit
    log, if any, records each exchange with the filer as subject.
    """

    def __init__(
        self,
        client: FederationClient | AsyncFederationClient,
        registry: TrustedRegistry,
        *,
        clock: Clock = system_clock,
        limits: Limits | None = None,
    ) -> None:
        self.client = client
        self.registry = registry
        self.member = client.member
        self._documents = ProtocolVerifier(
            registry, self.member, clock=clock, replay=None, limits=limits
        )
        self._filed: dict[str, FiledConcern] = {}

    # --- building and reading (shared by the sync and async methods) --------------------------

    def _file_args(self, concern: Concern | Mapping[str, Any], scenario: str) -> dict[str, Any]:
        parsed = concern if isinstance(concern, Concern) else Concern.parse(concern)
        desk = route(self.registry.current, parsed.subject, parsed.category)
        return {
            "provider": str(desk.member),
            "operation": "concern.file",
            "target": parsed.id,
            "scenario": scenario,
            "body": parsed.to_wire(),
            "_concern": parsed,
        }

    def _history_args(self, concern_id: str) -> dict[str, Any]:
        known = self._filed.get(concern_id)
        if known is None:
            raise NotFoundError(f"this filer has not filed concern {concern_id}", field="id")
        return {
            "provider": known.responsible,
            "operation": "concern.history",
            "target": concern_id,
            "scenario": known.scenario,
            "body": {"concern_id": concern_id},
        }

    def _accept(
        self, result: ExchangeResult, concern: Concern, scenario: str, filing: bytes
    ) -> FiledConcern:
        history = _history(result)
        if history.concern_id != concern.id:
            raise MalformedMessageError("the history is about another concern", field="body")
        known = self._filed.get(concern.id)
        if known is not None:
            filing = known.filing_request
        elif history.filing.encode("ascii") != filing:
            # Filed before (by this member, with another message id): the history starts from
            # that first filing, which must be ours and say the same.
            filing = history.filing.encode("ascii")
            _check_own_filing(filing, self.member, concern)
        if history.filing.encode("ascii") != filing:
            raise MalformedMessageError(
                "the history does not start from the filing sent", field="body.filing"
            )
        events = verify_history(
            self._documents,
            history.events,
            concern_id=concern.id,
            filing_digest=self._documents.limits.crypto.digest_text(filing),
            responsible=result.provider,
            filer=self.member,
        )
        if known is not None and len(events) < len(known.events):
            raise MalformedMessageError(
                f"the history of {concern.id} lost events it had before", field="body.events"
            )
        filed = FiledConcern(
            concern=concern,
            responsible=result.provider,
            scenario=scenario,
            filing_request=filing,
            events=tuple(events),
            crypto=self._documents.limits.crypto,
        )
        self._filed[concern.id] = filed
        return filed

    # --- sync ----------------------------------------------------------------------------------

    def file(self, concern: Concern | Mapping[str, Any], *, scenario: str) -> FiledConcern:
        """File ``concern`` with the member the registry routes it to; the verified history."""
        client = _sync(self.client)
        args = self._file_args(concern, scenario)
        parsed = args.pop("_concern")
        result = client.exchange(args.pop("provider"), **args)
        return self._accept(result, parsed, scenario, result.request)

    def history(self, concern_id: str) -> FiledConcern:
        """Fetch and verify the whole history of a concern filed here."""
        client = _sync(self.client)
        args = self._history_args(concern_id)
        result = client.exchange(args.pop("provider"), **args)
        known = self._filed[concern_id]
        return self._accept(result, known.concern, known.scenario, known.filing_request)

    # --- async ---------------------------------------------------------------------------------

    async def afile(self, concern: Concern | Mapping[str, Any], *, scenario: str) -> FiledConcern:
        """:meth:`file` with an :class:`~deltafed.client.AsyncFederationClient`."""
        client = _async(self.client)
        args = self._file_args(concern, scenario)
        parsed = args.pop("_concern")
        result = await client.exchange(args.pop("provider"), **args)
        return self._accept(result, parsed, scenario, result.request)

    async def ahistory(self, concern_id: str) -> FiledConcern:
        """:meth:`history` with an :class:`~deltafed.client.AsyncFederationClient`."""
        client = _async(self.client)
        args = self._history_args(concern_id)
        result = await client.exchange(args.pop("provider"), **args)
        known = self._filed[concern_id]
        return self._accept(result, known.concern, known.scenario, known.filing_request)

    def filed(self, concern_id: str) -> FiledConcern:
        """What this filer last verified of a concern."""
        try:
            return self._filed[concern_id]
        except KeyError:
            raise NotFoundError(f"this filer has not filed concern {concern_id}") from None


@dataclass(frozen=True, slots=True)
class EscalatedConcern:
    """A concern escalated to the supervisor: the filing (as the responsible node kept it)
    and its verified history."""

    concern_id: str
    responsible: str
    filer_member: str
    filing_request: bytes
    events: tuple[VerifiedEvent, ...]

    @property
    def status(self) -> str:
        return self.events[-1].event.status


class ConcernSupervisor:
    """Reads the concerns escalated to ``client``'s member by a responsible member, verifying
    each history from its filing on (sync and ``a``-prefixed async methods, as
    :class:`ConcernFiler`). ``scenario`` is the use scenario that lets the supervisor read."""

    def __init__(
        self,
        client: FederationClient | AsyncFederationClient,
        registry: TrustedRegistry,
        *,
        scenario: str,
        clock: Clock = system_clock,
        limits: Limits | None = None,
    ) -> None:
        self.client = client
        self.registry = registry
        self.scenario = scenario
        self.member = client.member
        self._documents = ProtocolVerifier(
            registry, self.member, clock=clock, replay=None, limits=limits
        )

    def _args(self) -> dict[str, Any]:
        return {
            "operation": "concern.escalations",
            "target": str(self.member),
            "scenario": self.scenario,
            "body": {},
        }

    def _read(self, result: ExchangeResult) -> list[EscalatedConcern]:
        out: list[EscalatedConcern] = []
        for history in escalations(result).concerns:
            filing = history.filing.encode("ascii")
            claims = peek_unverified_claims(filing) or {}
            filer = claims.get("iss")
            if not isinstance(filer, str) or claims.get("tgt") != history.concern_id:
                raise MalformedMessageError(
                    f"the filing of {history.concern_id} does not name its filer and concern",
                    field="body.concerns",
                )
            events = verify_history(
                self._documents,
                history.events,
                concern_id=history.concern_id,
                filing_digest=self._documents.limits.crypto.digest_text(filing),
                responsible=result.provider,
                filer=filer,
            )
            if not any(e.event.kind == "escalated" and e.event.to == self.member for e in events):
                raise MalformedMessageError(
                    f"concern {history.concern_id} was not escalated to {self.member}",
                    field="body.concerns",
                )
            out.append(
                EscalatedConcern(
                    concern_id=history.concern_id,
                    responsible=str(result.provider),
                    filer_member=filer,
                    filing_request=filing,
                    events=tuple(events),
                )
            )
        return out

    def escalations(self, responsible: str) -> list[EscalatedConcern]:
        """The concerns ``responsible`` escalated to this member, each history verified."""
        result = _sync(self.client).exchange(responsible, **self._args())
        return self._read(result)

    async def aescalations(self, responsible: str) -> list[EscalatedConcern]:
        """:meth:`escalations` with an :class:`~deltafed.client.AsyncFederationClient`."""
        result = await _async(self.client).exchange(responsible, **self._args())
        return self._read(result)


def _check_own_filing(filing: bytes, member: str, concern: Concern) -> None:
    claims = peek_unverified_claims(filing) or {}
    if (
        claims.get("iss") != member
        or claims.get("op") != "concern.file"
        or claims.get("body") != concern.to_wire()
    ):
        raise MalformedMessageError(
            "the history starts from a filing this member did not send", field="body.filing"
        )


def escalations(result: ExchangeResult) -> EscalationList:
    """The typed body of a verified ``concern.escalations`` answer (problems raised)."""
    _raise_problem(result)
    try:
        return EscalationList.parse(result.body)
    except InvalidInputError as exc:
        raise MalformedMessageError(f"escalation list: {exc.message}", field="body") from exc


def _raise_problem(result: ExchangeResult) -> None:
    if not result.response.ok:
        raise Problem.parse(result.body).to_error()


def _history(result: ExchangeResult) -> ConcernHistory:
    _raise_problem(result)
    try:
        return ConcernHistory.parse(result.body)
    except InvalidInputError as exc:
        raise MalformedMessageError(f"concern history: {exc.message}", field="body") from exc


def _sync(client: FederationClient | AsyncFederationClient) -> FederationClient:
    if not isinstance(client, FederationClient):
        raise InvalidInputError("use the a-prefixed methods with an async client")
    return client


def _async(client: FederationClient | AsyncFederationClient) -> AsyncFederationClient:
    if not isinstance(client, AsyncFederationClient):
        raise InvalidInputError("use the plain methods with a sync client")
    return client
