"""The event stores (``open_event_store``: SQLite, PostgreSQL) shared by several workers: each
due event is claimed by one worker until delivered, failed or its lease ran out; a change batch
read by two workers is enqueued once; and two outboxes running at once deliver each event once.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from types import SimpleNamespace

import anyio
import pytest

from deltafed import FixedClock
from deltafed.events import EventStore, Outbox
from deltafed.schemas.common import HolderType
from deltafed.schemas.events import ChangeEvent
from deltafed.testing import synthetic_population

from .conftest import EventStoreOpener
from .test_events import CARD, World

AT = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SH = "310000/dsj"


#: Distinct subjects (synthetic residents of the three regions).
SUBJECTS = [
    r.resident_id
    for region in ("310000", "320000", "330000")
    for r in synthetic_population().region(region).residents
]


def _event(number: int, subject: int = 0) -> ChangeEvent:
    return ChangeEvent(
        event_id=f"evt-store-test-{number:06d}",
        subscription="sub-store-test-0000001",
        kind="certificate.renewed",
        subject_type=HolderType.RESIDENT,
        subject_code=SUBJECTS[subject],
        target="11100000000013338W032",
        occurred_at=AT,
        seq=number,
    )


def _enqueue(store: EventStore, *events: ChangeEvent) -> None:
    assert store.enqueue([(e, SH, "s") for e in events], cursor=None)


def test_a_due_event_is_claimed_by_one_worker_until_done_or_stale(
    open_event_store: EventStoreOpener,
) -> None:
    first, second = open_event_store("js"), open_event_store("js")  # two workers
    _enqueue(first, _event(1, 0), _event(2, 0), _event(3, 1))
    claimed = first.claim_due(100, 10, claim="a", lease=30)
    # The oldest event of each subject; A's second waits for its first.
    assert [i.event.event_id for i in claimed] == ["evt-store-test-000001", "evt-store-test-000003"]
    assert second.claim_due(129, 10, claim="b", lease=30) == []
    first.delivered(claimed[0].seq)  # A's first delivered: A's second is due, to anyone
    assert [i.event.event_id for i in second.claim_due(129, 10, claim="b", lease=30)] == [
        "evt-store-test-000002"
    ]
    # B's claim outlived its worker: after the lease another worker takes it.
    assert first.claim_due(129, 10, claim="c", lease=30) == []
    [retaken] = first.claim_due(130, 10, claim="c", lease=30)
    assert retaken.event.event_id == "evt-store-test-000003"
    # A failure frees it for its next attempt (when due again).
    first.failed(retaken.seq, next_at=140, error="transport_error: x", park=False)
    assert second.claim_due(139, 10, claim="d", lease=30) == []
    [again] = second.claim_due(140, 10, claim="d", lease=30)
    assert (again.seq, again.attempts) == (retaken.seq, 1)


def test_workers_claiming_at_once_get_disjoint_events(open_event_store: EventStoreOpener) -> None:
    workers = [open_event_store("js") for _ in range(4)]
    subjects = len(SUBJECTS)
    _enqueue(workers[0], *(_event(n, n % subjects) for n in range(2 * subjects)))
    barrier = threading.Barrier(len(workers))
    got: list[str] = []
    lock = threading.Lock()

    def claim(store: EventStore, name: str) -> None:
        barrier.wait(timeout=60)  # a safety net against a hang, not a timing
        items = store.claim_due(100, 5, claim=name, lease=30)
        with lock:
            got.extend(i.event.event_id for i in items)

    threads = [threading.Thread(target=claim, args=(w, f"w{i}")) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One due event per subject: every one claimed, none twice.
    assert len(got) == subjects
    assert len(set(got)) == subjects


def test_a_batch_read_by_two_workers_is_enqueued_once(open_event_store: EventStoreOpener) -> None:
    first, second = open_event_store("js"), open_event_store("js")
    # Both read the feed from its start (cursor None), then enqueue what they made of it.
    assert first.enqueue([(_event(1), SH, "s")], cursor=("adapter", "c1"), since=None)
    assert not second.enqueue([(_event(2), SH, "s")], cursor=("adapter", "c1"), since=None)
    assert first.cursor("adapter") == "c1"
    # The next batch, again read by both from c1.
    assert second.enqueue(
        [(_event(3), SH, "s")], cursor=("adapter", "c2"), conditions=[("sub-x", True)], since="c1"
    )
    assert not first.enqueue(
        [(_event(4), SH, "s")], cursor=("adapter", "c2"), conditions=[("sub-y", True)], since="c1"
    )
    assert [i.event.event_id for i in first.outbox()] == [
        "evt-store-test-000001",
        "evt-store-test-000003",
    ]
    assert (first.condition("sub-x"), first.condition("sub-y")) == (True, None)


@pytest.mark.anyio
async def test_two_outboxes_at_once_deliver_each_event_once(
    open_event_store: EventStoreOpener,
) -> None:
    world = World(open_event_store)
    try:
        await world.subscribe()
        new_id = world.adapter.renew(CARD.certificate_id, valid_until=None, at=world.clock())
        world.adapter.revoke(new_id, at=world.clock())
        # A second worker of the Jiangsu node: its own store connection, publisher and outbox.
        store = world.open_store("jiangsu")
        other = Outbox(store, world.client("320000/dsj"), clock=world.clock)
        publishers = [
            world.publisher,
            type(world.publisher)(world.adapter, store, clock=world.clock),
        ]
        enqueued = [await p.poll_once() for p in publishers]
        assert sorted(enqueued) == [0, 2]  # the second read the same batch: nothing twice
        reports = []

        async def deliver(outbox: Outbox) -> None:
            reports.append(await outbox.run_once())

        for _ in range(2):  # the revocation waits for the renewal
            async with anyio.create_task_group() as tg:
                tg.start_soon(deliver, world.outbox)
                tg.start_soon(deliver, other)
        assert sum(r.delivered for r in reports) == 2
        assert sum(r.failed for r in reports) == 0
        assert [e.kind for e in world.seen()] == ["certificate.renewed", "certificate.revoked"]
        # Each event was sent once: one delivery in each audit log, no duplicate received.
        sent = Counter(
            r.operation for r in world.js.audit.by_counterpart(SH) if r.role == "requester"
        )
        assert sent["event.deliver"] == 2
        received = [
            r for r in world.sh.audit.by_counterpart("320000/dsj") if r.operation == "event.deliver"
        ]
        assert len(received) == 2
    finally:
        await world.http.aclose()


@pytest.mark.anyio
async def test_a_round_starts_no_delivery_once_half_its_lease_has_passed(
    open_event_store: EventStoreOpener,
) -> None:
    clock = FixedClock(AT)
    store = open_event_store("js")
    _enqueue(store, _event(1, 0), _event(2, 1))  # two subjects: both due at once
    start = clock().timestamp()

    class SlowSubscriber:
        """Answers ok, six seconds later each time."""

        async def exchange(self, member: str, **request: object) -> object:
            clock.advance(6)
            return SimpleNamespace(response=SimpleNamespace(ok=True), body={})

    outbox = Outbox(store, SlowSubscriber(), clock=clock, claim_lease=10)  # type: ignore[arg-type]
    assert (await outbox.run_once()).delivered == 1  # 6 s >= 10 s / 2: the second waits
    # Still claimed by that round until its lease runs out, then anyone's.
    assert store.claim_due(start + 9, 10, claim="other", lease=10) == []
    [left] = store.claim_due(start + 10, 10, claim="other", lease=10)
    assert left.event.seq == 2
