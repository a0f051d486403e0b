"""The responsible member's side of concerns: take them, let operators act, keep deadlines.

:class:`ConcernService` plugs into a :class:`~deltafed.node.Node` (``Node(..., concerns=...)``)
and answers the three wire operations there, after the node verified the request:

* ``concern.file`` - route the concern through the registry (this member must be the desk that
  answers it), check the use scenario lets the sender file that category here (default deny)
  and that the filer consented to sharing it, then store it with its signed ``filed`` event
  and the deadlines. Filing the same concern again returns the same history (idempotent); a
  different concern under a used id is refused;
* ``concern.history`` - the signed history, to the member that filed it, or to the supervisor
  once the concern was escalated to it;
* ``concern.escalations`` - every history escalated to the asking supervisor.

Operators act through :meth:`acknowledge`, :meth:`update`, :meth:`answer`, :meth:`close` and
:meth:`reject` (the ``deltafed concerns`` CLI calls them); :meth:`uphold_objection` also
corrects or revokes the certificate on the native platform through the adapter. Each action
signs one event, writes it to the audit log (durably, first) and appends it to the history.
Repeating an action that already happened returns its event instead of signing another.

:meth:`tick` is the deadline sweep: the node runs it periodically, tests call it with a frozen
clock. On the last working day before a deadline it signs a ``reminder``; once the deadline
has passed with the step not done it signs an ``escalated`` event naming the supervising
member of the desk. Each is written once per stage: a sweep claims a notice in the store
before signing it, so of several workers or hosts sweeping one store at the same time exactly
one signs, audits and stores each notice.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

import anyio
import anyio.to_thread

from deltafed._clock import Clock, system_clock
from deltafed._errors import (
    CalendarError,
    ConfigurationError,
    ConsentRequiredError,
    DeltafedError,
    InvalidInputError,
    NotAuthorizedError,
    NotFoundError,
)
from deltafed._workdays import WorkdayCalendar, official_calendar
from deltafed.adapters import ProvinceAdapter
from deltafed.concerns._events import check_transition, sign_event
from deltafed.concerns._routing import check_filing, check_reader, deadlines, route
from deltafed.concerns._store import ConcernRecord, ConcernStore
from deltafed.keys import Signer
from deltafed.protocol import VerifiedRequest, peek_unverified_claims
from deltafed.registry import TrustedRegistry
from deltafed.schemas.concerns import (
    FINAL_STATUSES,
    Concern,
    ConcernAnswer,
    ConcernEvent,
    ConcernHistory,
    Correction,
    EscalationList,
    HistoryQuery,
)
from deltafed.schemas.identifiers import MemberId, parse_member_id

__all__ = ["ConcernAuditRecorder", "ConcernService", "ConcernView"]

_log = logging.getLogger("deltafed.concerns")

#: Statuses in which the acknowledgement is still owed.
_UNACKNOWLEDGED: Final = frozenset({"filed"})
#: Statuses in which the answer is still owed.
_UNANSWERED: Final = frozenset({"filed", "acknowledged", "accepted", "in_progress"})
_ACTIONS: Final = {
    "acknowledged": "concern.acknowledge",
    "status": "concern.update",
    "answered": "concern.answer",
    "reminder": "concern.remind",
    "escalated": "concern.escalate",
}


class ConcernAuditRecorder(Protocol):
    """What the service needs of an audit log (:class:`deltafed.audit.AuditLog` fits)."""

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


@dataclass(frozen=True, slots=True)
class ConcernView:
    """A concern and its history, as an operator sees it."""

    record: ConcernRecord
    events: tuple[ConcernEvent, ...]
    raw_events: tuple[bytes, ...]


def _event_payload(raw: bytes) -> ConcernEvent:
    # Our own stored events: decode without verifying again (they were signed here).
    payload = peek_unverified_claims(raw)
    if payload is None:
        raise ConfigurationError("the concern store holds an unreadable event")
    return ConcernEvent.parse(payload)


class ConcernService:
    """Concerns answered by ``member`` (see the module docstring).

    ``registry`` is the verified registry (routing, deadlines, scenarios); ``store`` keeps the
    concerns; ``audit`` gets one entry per signed event; ``adapter`` (optional) is asked to
    correct or revoke a certificate when an objection is upheld; ``calendar`` counts working
    days; ``clock`` is read once per action. ``claim_lease`` (seconds) is how long a sweep's
    claim on a notice holds if the sweep dies before storing it (then another sweep sends it).
    """

    def __init__(
        self,
        member: str,
        signer: Signer,
        registry: TrustedRegistry,
        store: ConcernStore,
        audit: ConcernAuditRecorder,
        *,
        adapter: ProvinceAdapter | None = None,
        clock: Clock = system_clock,
        calendar: WorkdayCalendar | None = None,
        claim_lease: float = 60.0,
    ) -> None:
        if not claim_lease > 0:
            raise ConfigurationError("the notice claim lease must be positive")
        try:
            self.member: MemberId = parse_member_id(member)
        except InvalidInputError as exc:
            raise ConfigurationError(f"concern service member id: {exc.message}") from exc
        self.signer = signer
        self.registry = registry
        self.store = store
        self.audit = audit
        self.adapter = adapter
        self.clock = clock
        self.calendar = calendar if calendar is not None else official_calendar()
        self.claim_lease = float(claim_lease)

    # --- the wire side (called by the node after verification) ------------------------------

    async def perform(self, request: VerifiedRequest) -> tuple[dict[str, Any], list[str]]:
        """Answer one verified concern request: (ok body, subject codes for the audit entry)."""
        return await anyio.to_thread.run_sync(functools.partial(self._perform, request))

    def _perform(self, request: VerifiedRequest) -> tuple[dict[str, Any], list[str]]:
        op = request.claims.op
        if op == "concern.file":
            return self._file(request)
        if op == "concern.history":
            return self._history_for(request)
        if op == "concern.escalations":
            return self._escalations_for(request), []
        raise NotFoundError(f"no concern operation {op}", field="op")

    def _file(self, request: VerifiedRequest) -> tuple[dict[str, Any], list[str]]:
        claims = request.claims
        concern = _body(Concern, claims.body)
        subjects = [concern.filer.code]
        if claims.tgt != concern.id:
            raise InvalidInputError("tgt must be the concern's id", field="tgt")
        now = self.clock()
        doc = self.registry.current
        region = concern.subject.responsible_region
        if region != self.member.region:
            raise NotAuthorizedError(
                f"concerns about {concern.subject.kind} {concern.subject.ref} are answered in "
                f"region {region}, not by {self.member}",
                field="aud",
            )
        desk = route(doc, concern.subject, concern.category)
        if desk.member != self.member:
            raise NotAuthorizedError(
                f"concerns about {concern.subject.kind} {concern.subject.ref} go to "
                f"{desk.member}, not {self.member}",
                field="aud",
            )
        check_filing(self.registry.scenario(claims.scn), claims.iss, desk, concern.category, now)
        if not concern.consent.given:
            raise ConsentRequiredError(
                "the filer has not consented to sharing the concern with the responsible region",
                field="body.consent.given",
            )
        existing = self.store.get(concern.id)
        if existing is not None:
            return self._refile(existing, concern, claims.iss), subjects
        try:
            ack_due, answer_due = deadlines(doc, concern.category, now, self.calendar)
        except CalendarError as exc:
            # The peer sees internal_error; the operator must add the year's schedule.
            _log.error("concern %s refused: %s. %s", concern.id, exc.message, exc.remediation)
            raise
        event = ConcernEvent(
            iss=self.member,
            aud=claims.iss,
            cid=concern.id,
            seq=0,
            prev=request.digest,
            iat=int(now.timestamp()),
            kind="filed",
            status="filed",
            ack_due=ack_due,
            answer_due=answer_due,
        )
        raw = sign_event(event, self.signer)
        record = ConcernRecord(
            concern=concern,
            filer_member=str(claims.iss),
            responsible=str(self.member),
            supervisor=str(desk.supervisor),
            scenario=claims.scn,
            status="filed",
            filing_request=request.raw,
            filing_digest=request.digest,
            received_at=now,
            ack_due=ack_due,
            answer_due=answer_due,
        )
        if not self.store.create(record, raw):
            raced = self.store.get(concern.id)
            if raced is None:  # pragma: no cover - a create refused for a missing id
                raise ConfigurationError("the concern store refused a new concern")
            return self._refile(raced, concern, claims.iss), subjects
        return self._history_body(concern.id), subjects

    def _refile(self, existing: ConcernRecord, concern: Concern, sender: str) -> dict[str, Any]:
        if existing.filer_member != sender or existing.concern != concern:
            raise InvalidInputError(
                f"concern id {concern.id} is already used for another concern", field="body.id"
            )
        return self._history_body(concern.id)

    def _history_body(self, concern_id: str) -> dict[str, Any]:
        record = self._get(concern_id)
        events = tuple(raw.decode("ascii") for raw in self.store.events(concern_id))
        return ConcernHistory(
            concern_id=concern_id, filing=record.filing_request.decode("ascii"), events=events
        ).to_wire()

    def _readable(self, record: ConcernRecord | None, reader: str) -> ConcernRecord:
        if record is not None:
            escalated = any(n.startswith("escalated:") for n in record.notices)
            if record.filer_member == reader or (escalated and record.supervisor == reader):
                return record
        # The same answer whether the concern does not exist or is someone else's.
        raise NotFoundError("no such concern for this member", field="tgt")

    def _history_for(self, request: VerifiedRequest) -> tuple[dict[str, Any], list[str]]:
        claims = request.claims
        query = _body(HistoryQuery, claims.body)
        if claims.tgt != query.concern_id:
            raise InvalidInputError("tgt must be the concern's id", field="tgt")
        check_reader(
            self.registry.scenario(claims.scn),
            claims.iss,
            self.member.region,
            "concern.history",
            self.clock(),
        )
        record = self._readable(self.store.get(query.concern_id), str(claims.iss))
        return self._history_body(record.id), [record.concern.filer.code]

    def _escalations_for(self, request: VerifiedRequest) -> dict[str, Any]:
        claims = request.claims
        if claims.tgt != str(claims.iss) or claims.body:
            raise InvalidInputError(
                "concern.escalations takes an empty body and the asker's member id as tgt",
                field="tgt",
            )
        check_reader(
            self.registry.scenario(claims.scn),
            claims.iss,
            self.member.region,
            "concern.escalations",
            self.clock(),
        )
        histories = [
            ConcernHistory.parse(self._history_body(cid))
            for cid in self.store.escalated_to(str(claims.iss))
        ]
        return EscalationList(concerns=tuple(histories)).to_wire()

    # --- operators ---------------------------------------------------------------------------

    def list_concerns(self, *, status: str | None = None) -> list[ConcernRecord]:
        """The concerns held, oldest first (``status``: only those in it)."""
        return self.store.find(status=status)

    def show(self, concern_id: str) -> ConcernView:
        """A concern and its whole history."""
        record = self._get(concern_id)
        raws = self.store.events(concern_id)
        return ConcernView(
            record=record,
            events=tuple(_event_payload(r) for r in raws),
            raw_events=tuple(raws),
        )

    def acknowledge(self, concern_id: str) -> ConcernEvent:
        """Acknowledge receipt (idempotent)."""
        return self._act(concern_id, "acknowledged", "acknowledged")

    def update(self, concern_id: str, status: str, *, reason: str | None = None) -> ConcernEvent:
        """Move to ``accepted``, ``in_progress``, ``closed`` or ``rejected`` (with a reason)."""
        if status in ("filed", "acknowledged", "answered"):
            raise InvalidInputError(
                f"{status} is reached by filing, acknowledging or answering, not an update",
                field="status",
            )
        return self._act(concern_id, "status", status, reason=reason)

    def close(self, concern_id: str, *, reason: str | None = None) -> ConcernEvent:
        """Close an answered concern."""
        return self.update(concern_id, "closed", reason=reason)

    def reject(self, concern_id: str, *, reason: str) -> ConcernEvent:
        """Reject a concern, saying why."""
        return self.update(concern_id, "rejected", reason=reason)

    def answer(
        self,
        concern_id: str,
        text: str,
        *,
        outcome: str = "information",
        correction: Correction | Mapping[str, Any] | None = None,
    ) -> ConcernEvent:
        """Answer the concern (idempotent: the same answer again returns the first event)."""
        answer = ConcernAnswer.parse(
            {
                "text": text,
                "outcome": outcome,
                **(
                    {}
                    if correction is None
                    else {
                        "correction": correction.to_wire()
                        if isinstance(correction, Correction)
                        else dict(correction)
                    }
                ),
            }
        )
        return self._act(concern_id, "answered", "answered", answer=answer)

    async def uphold_objection(
        self,
        concern_id: str,
        text: str,
        *,
        corrections: Mapping[str, str] | None = None,
        revoke: bool = False,
    ) -> ConcernEvent:
        """Uphold an objection to certificate data: correct the certificate (``corrections``,
        field -> new value) or revoke it on the native platform, then answer with what changed.

        Raises :class:`~deltafed.NotSupportedError` when the adapter has no such hook.
        """
        record = self._get(concern_id)
        subject = record.concern.subject
        if record.concern.category != "objection" or subject.kind != "certificate":
            raise InvalidInputError(
                "only an objection to a certificate's data can be upheld with a correction",
                field="concern_id",
            )
        if self.adapter is None:
            raise ConfigurationError("this concern service has no adapter to correct data with")
        if (corrections is None) == (not revoke):
            raise InvalidInputError("give corrections or revoke, one of them", field="corrections")
        existing = self._done(record, "answered")
        if existing is not None:
            return existing
        reason = f"concern {concern_id}"
        correction: Correction
        if revoke:
            await self.adapter.revoke_certificate(subject.ref, reason=reason)
            correction = Correction(action="revoked", certificate_id=subject.ref)
        else:
            fields = dict(corrections or {})
            meta = await self.adapter.correct_certificate(subject.ref, fields, reason=reason)
            correction = Correction(
                action="corrected",
                certificate_id=subject.ref,
                new_certificate_id=meta.identifier,
                fields=fields,
            )
        return self.answer(concern_id, text, outcome="upheld", correction=correction)

    # --- deadlines ---------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> list[ConcernEvent]:
        """Sign the reminders and escalations due at ``now`` (default: the clock's time)."""
        at = now if now is not None else self.clock()
        if at.tzinfo is None:
            raise InvalidInputError("the time must be timezone-aware", field="now")
        signed: list[ConcernEvent] = []
        for listed in self.store.find():
            if listed.status in FINAL_STATUSES or listed.status == "answered":
                continue
            for stage in ("acknowledge", "answer"):
                # Read again: another sweep (another worker) may have acted meanwhile.
                record = self._get(listed.id)
                kind = _owed_notice(record, stage, at)
                if kind is None:
                    continue
                notice = f"{kind}:{stage}"
                claim = secrets.token_hex(16)
                if not self.store.claim_notice(
                    record.id,
                    notice,
                    claim=claim,
                    now=self.clock().timestamp(),
                    lease=self.claim_lease,
                ):
                    continue  # another sweep sends (or sent) it
                try:
                    # What the claim now protects, read after taking it.
                    record = self._get(record.id)
                    if _owed_notice(record, stage, at) != kind:
                        self.store.release_notice(record.id, notice, claim=claim)
                        continue
                    signed.append(self._notice(record, kind, stage, at))
                except BaseException:
                    self.store.release_notice(record.id, notice, claim=claim)
                    raise
        return signed

    async def run_sweeps(self, every: float) -> None:
        """Run :meth:`tick` now and then every ``every`` seconds, until cancelled: what a
        served node runs in the background. A failing sweep is logged and tried again."""
        if not every > 0:
            raise ConfigurationError("the sweep interval must be positive")
        while True:
            try:
                await anyio.to_thread.run_sync(self.tick)
            except DeltafedError:
                _log.exception("concern deadline sweep failed; trying again later")
            await anyio.sleep(every)

    def _notice(self, record: ConcernRecord, kind: str, stage: str, at: datetime) -> ConcernEvent:
        due = record.ack_due if stage == "acknowledge" else record.answer_due
        extra: dict[str, Any] = {"stage": stage, "due": due}
        if kind == "escalated":
            extra["to"] = record.supervisor
        return self._append(record, kind, record.status, at=at, notice=f"{kind}:{stage}", **extra)

    # --- internals ---------------------------------------------------------------------------

    def _get(self, concern_id: str) -> ConcernRecord:
        record = self.store.get(concern_id)
        if record is None:
            raise NotFoundError(f"no concern {concern_id}", field="concern_id")
        return record

    def _done(self, record: ConcernRecord, status: str, **same: Any) -> ConcernEvent | None:
        """The event that already brought ``record`` to ``status`` with the same content."""
        for raw in reversed(self.store.events(record.id)):
            event = _event_payload(raw)
            if event.kind in ("reminder", "escalated"):
                continue
            if event.status == status and all(getattr(event, k) == v for k, v in same.items()):
                return event
            return None
        return None

    def _act(self, concern_id: str, kind: str, status: str, **values: Any) -> ConcernEvent:
        record = self._get(concern_id)
        if record.status == status:
            done = self._done(record, status, **values)
            if done is not None:
                return done
        return self._append(record, kind, status, at=self.clock(), notice=None, **values)

    def _append(
        self,
        record: ConcernRecord,
        kind: str,
        status: str,
        *,
        at: datetime,
        notice: str | None,
        **values: Any,
    ) -> ConcernEvent:
        raws = self.store.events(record.id)
        previous = _event_payload(raws[-1])

        event = ConcernEvent.parse(
            {
                "iss": str(self.member),
                "aud": record.filer_member,
                "cid": record.id,
                "seq": len(raws),
                "prev": self.registry.profile.digest_text(raws[-1]),
                "iat": max(int(at.timestamp()), previous.iat),
                "kind": kind,
                "status": status,
                **{
                    k: (v.to_wire() if hasattr(v, "to_wire") else v)
                    for k, v in values.items()
                    if v is not None
                },
            }
        )
        check_transition(record.status, event)
        raw = sign_event(event, self.signer)
        # Evidence first: an event that could not be audited is never stored or shown.
        self.audit.record(
            role="responder",
            counterpart=record.supervisor if kind == "escalated" else record.filer_member,
            operation=_ACTIONS[kind],
            scenario=record.scenario,
            subjects=[record.concern.filer.code],
            fields=[],
            outcome="ok",
            request_id=f"{record.id}.{event.seq}",
            request=record.filing_request,
            response=raw,
        )
        self.store.append(record.id, event.seq, raw, status=status, notice=notice)
        return event


def _owed_notice(record: ConcernRecord, stage: str, at: datetime) -> str | None:
    """The notice kind ``record`` is owed for ``stage`` at ``at``: ``escalated`` once the
    deadline passed, ``reminder`` from a day before it, each once; ``None`` otherwise."""
    due, owed = (
        (record.ack_due, _UNACKNOWLEDGED)
        if stage == "acknowledge"
        else (record.answer_due, _UNANSWERED)
    )
    if record.status not in owed:
        return None
    if at >= due:
        return "escalated" if f"escalated:{stage}" not in record.notices else None
    if due - timedelta(days=1) <= at and f"reminder:{stage}" not in record.notices:
        return "reminder"
    return None


def _body(model: type[Any], body: dict[str, Any]) -> Any:
    try:
        return model.parse(body)
    except InvalidInputError as exc:
        exc.field = f"body.{exc.field}" if exc.field else "body"
        raise
