"""Two workers sweeping one concern store at the same time (each its own service and store, as
two processes or hosts hold them): every reminder and escalation is signed, audited and stored
exactly once. A barrier makes both sweeps reach every notice's claim together, so each notice
is contested, whichever backend (``open_store``: SQLite file, PostgreSQL database)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from deltafed.concerns import ConcernService, ConcernStore
from deltafed.concerns._example import SCENARIO_CONCERNS
from deltafed.schemas.concerns import ConcernEvent
from deltafed.testing import JIANGSU, SHANGHAI

from .conftest import SUPERVISOR, World
from .test_deadlines import cst

pytestmark = pytest.mark.anyio
CONCERNS = 3


class Contested:
    """A store whose ``claim_notice`` waits until the other sweeper claims the same notice."""

    def __init__(self, store: ConcernStore, barrier: threading.Barrier, seen: list[Any]) -> None:
        self._store = store
        self._barrier = barrier
        self._seen = seen

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def claim_notice(self, concern_id: str, notice: str, **how: Any) -> bool:
        self._barrier.wait(timeout=60)  # a safety net against a hang, not a timing
        claimed = self._store.claim_notice(concern_id, notice, **how)
        self._seen.append((concern_id, notice, claimed))
        return claimed


def _sweep_together(services: list[ConcernService], when: datetime) -> list[ConcernEvent]:
    signed: list[ConcernEvent] = []
    failures: list[BaseException] = []

    def sweep(service: ConcernService) -> None:
        try:
            signed.extend(service.tick(when))
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    threads = [threading.Thread(target=sweep, args=(s,)) for s in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    return signed


async def test_two_workers_sweeping_at_once_send_each_notice_once(
    world: World, shanghai: Any, make_concern: Any, open_store: Callable[[], ConcernStore]
) -> None:
    for number in range(1, CONCERNS + 1):
        await shanghai.afile(make_concern(number), scenario=SCENARIO_CONCERNS)
    barrier = threading.Barrier(2)
    seen: list[tuple[str, str, bool]] = []
    services = [
        ConcernService(
            JIANGSU,
            world.service.signer,
            world.service.registry,
            Contested(store, barrier, seen),  # type: ignore[arg-type]
            world.service.audit,
            clock=world.clock,
        )
        for store in (world.store, open_store())
    ]

    reminders = _sweep_together(services, cst(14, 9))  # the acknowledgement's last day
    escalations = _sweep_together(services, cst(26, 0))  # both deadlines passed

    # Each notice was claimed by both sweepers and won by one.
    claims = Counter((cid, notice) for cid, notice, _ in seen)
    assert set(claims.values()) == {2}
    assert len(claims) == CONCERNS * 3
    won = Counter((cid, notice) for cid, notice, claimed in seen if claimed)
    assert won == dict.fromkeys(claims, 1)

    # One event per concern and notice, in the answers and in the histories...
    assert sorted((e.cid, e.kind, e.stage) for e in reminders) == [
        (make_concern(n).id, "reminder", "acknowledge") for n in range(1, CONCERNS + 1)
    ]
    assert Counter((e.cid, e.kind, e.stage) for e in escalations) == {
        (make_concern(n).id, "escalated", stage): 1
        for n in range(1, CONCERNS + 1)
        for stage in ("acknowledge", "answer")
    }
    for number in range(1, CONCERNS + 1):
        view = world.service.show(make_concern(number).id)
        assert [(e.kind, e.stage) for e in view.events] == [
            ("filed", None),
            ("reminder", "acknowledge"),
            ("escalated", "acknowledge"),
            ("escalated", "answer"),
        ]
        assert [e.seq for e in view.events] == [0, 1, 2, 3]
    # ...and in the audit log: no entry for an event that lost a race.
    log = world.logs[JIANGSU]
    escalated = [e.operation for e in log.by_counterpart(SUPERVISOR)]
    assert escalated == ["concern.escalate"] * (CONCERNS * 2)
    reminded = [e.operation for e in log.by_counterpart(SHANGHAI)]
    assert reminded.count("concern.remind") == CONCERNS
    # A later sweep by either worker finds nothing left to send.
    for service in services:
        assert service.tick(cst(27, 0)) == []
