"""The demo's concern cases, on a clock frozen on Friday 13 February 2026 (10:00 in China).

Deadlines run over days and across holidays, so these cases do not use the demo's live nodes:
each builds a small federation in process (Shanghai files, Jiangsu answers through its
sandboxed platform, a Jiangsu supervising office) and moves its clock instead of waiting. The
next day is a make-up working Saturday; the Spring Festival runs from the 15th to the 23rd.
Every exchange is still a signed request and a signed response, and every event is signed.

Each function returns ``(as expected, what happened)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Final

import anyio
import httpx

from deltafed._clock import FixedClock
from deltafed._errors import DeltafedError, PeerProblemError
from deltafed._retry import RetryPolicy
from deltafed.adapters._synthetic import IDENTITY_CARD
from deltafed.adapters.jiangsu import JiangsuAdapter
from deltafed.client import AsyncFederationClient
from deltafed.concerns import (
    ConcernFiler,
    ConcernService,
    ConcernSupervisor,
    SqliteConcernStore,
    official_calendar,
)
from deltafed.concerns._example import SCENARIO_CONCERNS, SCENARIO_SUPERVISION, add_concerns
from deltafed.node import Node
from deltafed.schemas.concerns import Concern
from deltafed.testing import (
    SCENARIO_VERIFY,
    LocalFederation,
    synthetic_catalogue,
    synthetic_population,
)

__all__ = ["concern_answered", "concern_escalated", "concern_not_allowed"]

SHANGHAI: Final = "310000/dsj"
JIANGSU: Final = "320000/dsj"
ZHEJIANG: Final = "330000/dsj"
SUPERVISOR: Final = "320000/zwfw"
#: Friday 13 February 2026, 10:00 China Standard Time.
FRIDAY: Final = datetime(2026, 2, 13, 2, 0, tzinfo=UTC)
#: A resident born in Jiangsu who now lives in Shanghai, and their Jiangsu identity card.
_HOLDER: Final = synthetic_population().region("320000").residents[1]
_CARD: Final = next(
    c
    for c in synthetic_population().region("320000").certificates
    if c.holder_code == _HOLDER.resident_id and c.type_code == IDENTITY_CARD.type_code
)

Scene = Callable[["_Federation"], Awaitable[tuple[bool, str]]]


class _Federation:
    """Shanghai, Jiangsu (answering concerns) and the Jiangsu supervisor, in process."""

    def __init__(self, clock: FixedClock, fed: LocalFederation, node: Node) -> None:
        self.clock = clock
        self.fed = fed
        self.node = node

    def service(self) -> ConcernService:
        concerns = self.node.concerns
        if not isinstance(concerns, ConcernService):  # pragma: no cover - built below
            raise TypeError("the Jiangsu node has no concern service")
        return concerns

    def client(self, member: str, http: httpx.AsyncClient) -> AsyncFederationClient:
        return AsyncFederationClient(
            member,
            self.fed.keys[member],
            self.node.registry,
            clock=self.clock,
            http=http,
            retry=RetryPolicy.no_wait(),
        )


def _objection(number: int) -> Concern:
    return Concern.parse(
        {
            "id": f"sh-2026-0213-{number:06d}",
            "filer": {"type": "111", "code": _HOLDER.resident_id},
            "subject": {"kind": "certificate", "ref": _CARD.certificate_id},
            "category": "objection",
            "text": "身份证住址有误，应为扬州市测试路521号 (demo)",
            "consent": {"given": True, "given_at": "2026-02-13T01:55:00Z"},
            "filed_at": "2026-02-13T01:58:00Z",
        }
    )


def _run(scene: Scene) -> tuple[bool, str]:
    async def main() -> tuple[bool, str]:
        clock = FixedClock(FRIDAY)
        fed = LocalFederation(
            clock=clock,
            members={SHANGHAI: None, JIANGSU: None, ZHEJIANG: None, SUPERVISOR: None},
            validity=timedelta(days=60),
            key_seed=2026,
        )
        fed.sign_registry(
            add_concerns(
                fed.builder(),
                synthetic_catalogue("320000"),
                desk=JIANGSU,
                supervisor=SUPERVISOR,
                filers=[SHANGHAI],
            )
        )
        adapter, _ = JiangsuAdapter.with_sandbox(clock=clock)
        registry = fed.trusted_registry()
        audit = fed.audit_log(JIANGSU)
        with SqliteConcernStore() as store:
            service = ConcernService(
                JIANGSU, fed.keys[JIANGSU], registry, store, audit, adapter=adapter, clock=clock
            )
            node = fed.node(
                JIANGSU, adapter=adapter, audit=audit, registry=registry, concerns=service
            )
            try:
                return await scene(_Federation(clock, fed, node))
            finally:
                await node.aclose()
                await adapter.aclose()

    return anyio.run(main)


async def _answered(world: _Federation) -> tuple[bool, str]:
    transport = world.fed.asgi_transport({JIANGSU: world.node})
    async with httpx.AsyncClient(transport=transport, timeout=10) as http:
        shanghai = world.client(SHANGHAI, http)
        filer = ConcernFiler(shanghai, world.node.registry, clock=world.clock)
        filed = await filer.afile(_objection(1), scenario=SCENARIO_CONCERNS)
        due = filed.events[0].event.answer_due
        # Jiangsu acknowledges within the hour, accepts, and upholds the objection on the
        # make-up working Saturday: the platform issues a corrected card.
        service = world.service()
        world.clock.advance(3600)
        service.acknowledge(filed.id)
        world.clock.set(FRIDAY + timedelta(days=1))
        service.update(filed.id, "accepted")
        answer = await service.uphold_objection(
            filed.id, "住址已按户籍档案更正 (demo)", corrections={"address": "扬州市测试路521号"}
        )
        seen = await filer.ahistory(filed.id)
        correction = answer.answer.correction if answer.answer is not None else None
        if correction is None or correction.new_certificate_id is None or due is None:
            return False, "answered without a correction"
        fixed = await shanghai.verify_certificate(
            JIANGSU,
            scenario=SCENARIO_VERIFY,
            use_cause="异议处理: 核验更正后的证照",
            certificate_id=correction.new_certificate_id,
        )
        old = await shanghai.verify_certificate(
            JIANGSU,
            scenario=SCENARIO_VERIFY,
            use_cause="异议处理: 核验原证照",
            certificate_id=_CARD.certificate_id,
        )
    in_time = seen.events[-1].event.iat < int(due.timestamp())
    ok = (
        filed.responsible == JIANGSU
        and seen.status == "answered"
        and in_time
        and fixed.valid
        and not old.valid
    )
    version = correction.new_certificate_id.split(".")[-2]
    return ok, (
        f"routed to {filed.responsible}, {len(seen.events)} signed events, answered "
        f"{'in time' if in_time else 'LATE'}; version {version} "
        f"{'valid' if fixed.valid else 'NOT valid'} {fixed.status.value}, "
        f"old {old.status.value}"
    )


async def _escalated(world: _Federation) -> tuple[bool, str]:
    transport = world.fed.asgi_transport({JIANGSU: world.node})
    async with httpx.AsyncClient(transport=transport, timeout=10) as http:
        filer = ConcernFiler(world.client(SHANGHAI, http), world.node.registry, clock=world.clock)
        filed = await filer.afile(_objection(2), scenario=SCENARIO_CONCERNS)
        # Nobody acknowledges. Sunday 15 February, 09:00 in China: the Spring Festival holiday.
        world.clock.set(datetime(2026, 2, 15, 1, 0, tzinfo=UTC))
        signed = world.service().tick()
        supervisor = ConcernSupervisor(
            world.client(SUPERVISOR, http),
            world.node.registry,
            scenario=SCENARIO_SUPERVISION,
            clock=world.clock,
        )
        listed = await supervisor.aescalations(JIANGSU)
    if [e.concern_id for e in listed] != [filed.id]:
        return False, f"the supervisor sees {len(listed)} escalated concerns"
    events = listed[0].events
    last = events[-1].event
    working = official_calendar().is_working_day(datetime(2026, 2, 15).date())
    ok = (
        [e.kind for e in signed] == ["escalated"]
        and last.kind == "escalated"
        and last.to == SUPERVISOR
        and not working
    )
    return ok, (
        f"{last.stage} deadline missed; escalated to {last.to} on 15 Feb (holiday), "
        f"supervisor verified {len(events)} events"
    )


async def _not_allowed(world: _Federation) -> tuple[bool, str]:
    transport = world.fed.asgi_transport({JIANGSU: world.node})
    async with httpx.AsyncClient(transport=transport, timeout=10) as http:
        filer = ConcernFiler(world.client(ZHEJIANG, http), world.node.registry, clock=world.clock)
        try:
            await filer.afile(_objection(3), scenario=SCENARIO_CONCERNS)
        except PeerProblemError as exc:
            stored = world.service().list_concerns()
            return exc.problem_code == "not_authorized" and not stored, (
                f"refused {exc.problem_code}"
            )
        except DeltafedError as exc:
            return False, f"failed {exc.code}"
    return False, "the concern was filed"


def concern_answered() -> tuple[bool, str]:
    """A Shanghai resident's objection to a Jiangsu card: routed, acknowledged, answered in
    time, and the corrected card verifies."""
    return _run(_answered)


def concern_escalated() -> tuple[bool, str]:
    """A concern nobody acknowledges is escalated to the supervisor after its deadline."""
    return _run(_escalated)


def concern_not_allowed() -> tuple[bool, str]:
    """A member no scenario allows to file cannot file."""
    return _run(_not_allowed)
