"""Reminders and escalations with a frozen clock, across the 2026 Spring Festival and its
make-up working days (filed Friday 13 February; Saturday 14th is a working day; 15th to 23rd
are off)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio
import anyio.from_thread
import httpx
import pytest

from deltafed.concerns import CHINA_STANDARD_TIME, ConcernFiler, ConcernSupervisor
from deltafed.concerns._example import SCENARIO_CONCERNS, SCENARIO_SUPERVISION
from deltafed.testing import JIANGSU

pytestmark = pytest.mark.anyio
SUPERVISOR = "320000/zwfw"


def cst(day: int, hour: int, month: int = 2) -> datetime:
    """``hour`` o'clock in China on ``day`` ``month`` 2026."""
    return datetime(2026, month, day, hour, 0, tzinfo=CHINA_STANDARD_TIME)


def tick(world: Any, when: datetime) -> list[Any]:
    """Move the frozen clock to ``when`` and run the node's deadline sweep."""
    world.clock.set(when)
    return list(world.service.tick())


async def test_reminder_then_escalation_across_the_holiday(
    world: Any, shanghai: ConcernFiler, make_concern: Any
) -> None:
    filed = await shanghai.afile(make_concern(), scenario=SCENARIO_CONCERNS)
    # Still Friday: nothing is due yet.
    assert tick(world, cst(13, 18)) == []
    # Saturday 14th is a make-up working day, the last one before the acknowledgement is due.
    reminders = tick(world, cst(14, 9))
    assert [(e.kind, e.stage) for e in reminders] == [("reminder", "acknowledge")]
    assert tick(world, cst(14, 10)) == []  # once per stage
    # Sunday 15th (the holiday): the acknowledgement is overdue and escalated.
    late = tick(world, cst(15, 8))
    assert [(e.kind, e.stage, e.to) for e in late] == [("escalated", "acknowledge", SUPERVISOR)]
    # During the holiday nothing else falls due: the answer is due at the end of the 25th.
    assert tick(world, cst(20, 12)) == []
    assert tick(world, cst(24, 12)) == []
    # Wednesday 25th, the last working day for the answer: a reminder, then the escalation.
    assert [e.stage for e in tick(world, cst(25, 9))] == ["answer"]
    escalated = tick(world, cst(26, 0))
    assert [(e.kind, e.stage) for e in escalated] == [("escalated", "answer")]
    assert tick(world, datetime(2026, 3, 10, tzinfo=UTC)) == []

    # The filer sees every notice in the signed history.
    seen = await shanghai.ahistory(filed.id)
    assert [e.event.kind for e in seen.events] == [
        "filed",
        "reminder",
        "escalated",
        "reminder",
        "escalated",
    ]
    assert seen.status == "filed"

    # Every event was audited by the responding node, escalations with the supervisor.
    entries = world.logs[JIANGSU].by_counterpart(SUPERVISOR)
    assert [e.operation for e in entries] == ["concern.escalate", "concern.escalate"]

    # The supervisor reads what was escalated to it, and verifies it from the filing on.
    async with httpx.AsyncClient(transport=world.transport(), timeout=10) as http:
        supervisor = ConcernSupervisor(
            world.client(SUPERVISOR, http),
            world.node.registry,
            scenario=SCENARIO_SUPERVISION,
            clock=world.clock,
        )
        (escalated,) = await supervisor.aescalations(JIANGSU)
        # Once escalated, the supervisor may also read the history itself.
        result = await world.client(SUPERVISOR, http).exchange(
            JIANGSU,
            operation="concern.history",
            target=filed.id,
            scenario=SCENARIO_SUPERVISION,
            body={"concern_id": filed.id},
        )
    assert escalated.concern_id == filed.id
    assert escalated.filer_member == shanghai.member
    assert escalated.filing_request == filed.filing_request
    assert len(escalated.events) == 5
    assert result.response.ok
    assert len(result.body["events"]) == 5


async def test_acknowledged_in_time_means_no_acknowledgement_notice(
    world: Any, shanghai: ConcernFiler, make_concern: Any
) -> None:
    filed = await shanghai.afile(make_concern(), scenario=SCENARIO_CONCERNS)
    world.service.acknowledge(filed.id)
    assert tick(world, cst(14, 9)) == []
    assert tick(world, cst(15, 9)) == []
    # The answer is still owed: reminded on the 25th, escalated after it.
    assert [e.stage for e in tick(world, cst(25, 9))] == ["answer"]
    world.service.answer(filed.id, "已核实，数据无误 (test)", outcome="not_upheld")
    assert tick(world, datetime(2026, 3, 1, tzinfo=UTC)) == []


async def test_the_background_sweep_signs_what_is_due(
    world: Any, shanghai: ConcernFiler, make_concern: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await shanghai.afile(make_concern(), scenario=SCENARIO_CONCERNS)
    world.clock.set(cst(16, 9))  # the acknowledgement is overdue
    swept = anyio.Event()
    tick = world.service.tick

    def observed_tick(now: datetime | None = None) -> list[Any]:
        signed = tick(now)
        anyio.from_thread.run_sync(swept.set)  # the sweep runs in a worker thread
        return signed

    monkeypatch.setattr(world.service, "tick", observed_tick)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(world.service.run_sweeps, 3600.0)
        await swept.wait()
        tasks.cancel_scope.cancel()
    (record,) = world.service.list_concerns()
    assert record.notices == frozenset({"escalated:acknowledge"})
