"""The writer thread behind ``AuditLog.record_async``: callers wait until their own entry is
committed, queued entries share a transaction in the order they came, a failed commit fails
every caller of that transaction with ``AuditError``, and ``shutdown`` drains the queue."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from deltafed import AuditError, FixedClock, InvalidInputError
from deltafed.audit import AuditLog, SqliteAuditStore, verify_log
from deltafed.audit._store import AppendRecord
from deltafed.keys import PrivateKey

from .conftest import NODE, PEER, SUBJECT_KEY, resident


class GatedStore:
    """A SQLite store whose first batch waits at a gate; it records every batch's seqs."""

    def __init__(self, path: Path) -> None:
        self.inner = SqliteAuditStore(path)
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.batches: list[list[int]] = []
        self.fail_batch: int | None = None

    def append_batch(self, records: Sequence[AppendRecord]) -> bool:
        if not self.batches:
            self.entered.set()
            assert self.gate.wait(timeout=30)
        self.batches.append([r.seq for r in records])
        if self.fail_batch == len(self.batches) - 1:
            raise OSError("disk full")
        return self.inner.append_batch(records)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[GatedStore]:
    store = GatedStore(tmp_path / "audit.db")
    with store.inner:
        yield store


@pytest.fixture
def glog(gated: GatedStore, key: PrivateKey, clock: FixedClock) -> Iterator[AuditLog]:
    log = AuditLog(gated, node=NODE, signer=key, subject_key=SUBJECT_KEY, clock=clock)  # type: ignore[arg-type]
    yield log
    gated.gate.set()
    log.shutdown()


def _entry(n: int, outcome: str = "ok") -> dict[str, Any]:
    return {
        "role": "responder",
        "counterpart": PEER,
        "operation": "record.request",
        "scenario": "social-insurance-transfer",
        "subjects": [resident(n)],
        "fields": ["insured"],
        "outcome": outcome,
        "request_id": f"req-{n:04d}-writer-thread",
        "request": b"request %d" % n,
        "response": b"response %d" % n,
    }


async def _queued(log: AuditLog, count: int) -> None:
    """Let the loop run until ``count`` entries wait behind the blocked first commit."""
    deadline = time.monotonic() + 30
    while len(log._writer_queue) < count:
        assert time.monotonic() < deadline, "entries never queued"
        await asyncio.sleep(0)


async def _blocked_then_released(
    log: AuditLog, store: GatedStore, outcomes: list[str]
) -> list[Any]:
    """Entry 0 enters its commit and blocks; the others queue; then the gate opens."""
    first = asyncio.create_task(log.record_async(**_entry(0)))
    while not store.entered.is_set():
        await asyncio.sleep(0)
    others = [
        asyncio.create_task(log.record_async(**_entry(i, outcome)))
        for i, outcome in enumerate(outcomes, start=1)
    ]
    await _queued(log, len(outcomes))
    assert not any(task.done() for task in [first, *others])  # nobody answered early
    store.gate.set()
    return await asyncio.gather(first, *others, return_exceptions=True)


def test_queued_entries_share_one_commit_in_their_order(glog: AuditLog, gated: GatedStore) -> None:
    results = asyncio.run(_blocked_then_released(glog, gated, ["ok"] * 5))
    assert gated.batches == [[0], [1, 2, 3, 4, 5]]
    assert [r.seq for r in results] == list(range(6))
    assert [r.request_id for r in results] == [f"req-{i:04d}-writer-thread" for i in range(6)]
    assert verify_log(gated.inner, node=NODE).ok


def test_a_bad_entry_fails_only_its_own_caller(glog: AuditLog, gated: GatedStore) -> None:
    results = asyncio.run(_blocked_then_released(glog, gated, ["ok", "no such outcome", "ok"]))
    assert isinstance(results[2], InvalidInputError)
    assert [results[i].seq for i in (0, 1, 3)] == [0, 1, 2]
    assert verify_log(gated.inner, node=NODE).ok


def test_a_failed_commit_fails_each_waiting_caller_with_audit_error(
    glog: AuditLog, gated: GatedStore
) -> None:
    gated.fail_batch = 1
    results = asyncio.run(_blocked_then_released(glog, gated, ["ok", "ok", "ok"]))
    assert results[0].seq == 0
    errors = results[1:]
    assert all(isinstance(e, AuditError) for e in errors)
    assert len({id(e) for e in errors}) == 3  # one error object per caller
    assert all(isinstance(e.__cause__, OSError) for e in errors)
    assert glog.size == 1  # nothing of the failed commit was kept

    async def after() -> Any:
        return await glog.record_async(**_entry(9))

    assert asyncio.run(after()).seq == 1  # the log goes on from the stored tail
    assert verify_log(gated.inner, node=NODE).ok


def test_shutdown_commits_what_is_queued_and_stops_the_thread(
    glog: AuditLog, gated: GatedStore
) -> None:
    async def scenario() -> list[Any]:
        tasks = [asyncio.create_task(glog.record_async(**_entry(0)))]
        while not gated.entered.is_set():
            await asyncio.sleep(0)
        tasks += [asyncio.create_task(glog.record_async(**_entry(i))) for i in (1, 2, 3)]
        await _queued(glog, 3)
        stopping = asyncio.create_task(asyncio.to_thread(glog.shutdown))
        await asyncio.sleep(0)
        gated.gate.set()
        await stopping
        assert glog._writer is None
        assert not glog._writer_queue
        assert glog.size == 4  # all four committed before shutdown returned
        return await asyncio.gather(*tasks)

    results = asyncio.run(scenario())
    assert [r.seq for r in results] == [0, 1, 2, 3]

    async def again() -> Any:
        return await glog.record_async(**_entry(4))

    assert asyncio.run(again()).seq == 4  # a later entry starts a writer again
    assert verify_log(gated.inner, node=NODE).ok


def test_a_cancelled_caller_does_not_withdraw_its_entry(glog: AuditLog, gated: GatedStore) -> None:
    async def scenario() -> Any:
        first = asyncio.create_task(glog.record_async(**_entry(0)))
        while not gated.entered.is_set():
            await asyncio.sleep(0)
        second = asyncio.create_task(glog.record_async(**_entry(1)))
        await _queued(glog, 1)
        second.cancel()
        gated.gate.set()
        with pytest.raises(asyncio.CancelledError):
            await second
        return await first

    assert asyncio.run(scenario()).seq == 0
    glog.shutdown()
    assert glog.size == 2  # the cancelled caller's evidence is kept all the same
    assert verify_log(gated.inner, node=NODE).ok


def test_sync_and_async_callers_chain_onto_one_log(
    tmp_path: Path, key: PrivateKey, clock: FixedClock
) -> None:
    with SqliteAuditStore(tmp_path / "audit.db") as store:
        log = AuditLog(store, node=NODE, signer=key, subject_key=SUBJECT_KEY, clock=clock)

        async def mixed() -> None:
            threads = [asyncio.to_thread(log.record, **_entry(i)) for i in range(0, 20, 2)]
            tasks = [log.record_async(**_entry(i)) for i in range(1, 20, 2)]
            await asyncio.gather(*threads, *tasks)

        asyncio.run(mixed())
        log.shutdown()
        assert log.size == 20
        assert sorted(e.request_id for e in log.by_counterpart(PEER)) == sorted(
            f"req-{i:04d}-writer-thread" for i in range(20)
        )
        assert verify_log(store, node=NODE).ok


# --- inline=True: the caller has nothing else to do --------------------------------------------


class ThreadNotingStore:
    """A SQLite store that notes the thread of each batch it commits."""

    def __init__(self, path: Path) -> None:
        self.inner = SqliteAuditStore(path)
        self.threads: list[int] = []
        self.fail = False

    def append_batch(self, records: Sequence[AppendRecord]) -> bool:
        self.threads.append(threading.get_ident())
        if self.fail:
            raise OSError("disk full")
        return self.inner.append_batch(records)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_inline_commits_on_the_calling_thread_before_returning(
    tmp_path: Path, key: PrivateKey, clock: FixedClock
) -> None:
    store = ThreadNotingStore(tmp_path / "audit.db")
    with store.inner:
        log = AuditLog(store, node=NODE, signer=key, subject_key=SUBJECT_KEY, clock=clock)  # type: ignore[arg-type]

        async def one(n: int) -> tuple[Any, int]:
            entry = await log.record_async(**_entry(n), inline=True)
            return entry, log.size  # the size the store holds when the caller resumes

        results = [asyncio.run(one(n)) for n in range(3)]
        assert [(entry.seq, size) for entry, size in results] == [(0, 1), (1, 2), (2, 3)]
        assert store.threads == [threading.get_ident()] * 3
        assert log._writer is None  # no writer thread was ever started
        assert verify_log(store.inner, node=NODE).ok


def test_inline_joins_the_writer_thread_when_it_is_busy_or_has_a_queue(
    glog: AuditLog, gated: GatedStore
) -> None:
    async def scenario() -> list[Any]:
        first = asyncio.create_task(glog.record_async(**_entry(0)))
        while not gated.entered.is_set():
            await asyncio.sleep(0)
        # The writer is committing entry 0: an inline caller would wait for the log's lock
        # on the event loop's thread, so it queues instead (and shares the next commit).
        second = asyncio.create_task(glog.record_async(**_entry(1), inline=True))
        await _queued(glog, 1)
        third = asyncio.create_task(glog.record_async(**_entry(2), inline=True))
        await _queued(glog, 2)
        gated.gate.set()
        return await asyncio.gather(first, second, third)

    results = asyncio.run(scenario())
    assert [r.seq for r in results] == [0, 1, 2]
    assert gated.batches == [[0], [1, 2]]
    assert verify_log(gated.inner, node=NODE).ok


def test_an_inline_commit_that_fails_raises_audit_error_and_keeps_nothing(
    tmp_path: Path, key: PrivateKey, clock: FixedClock
) -> None:
    store = ThreadNotingStore(tmp_path / "audit.db")
    with store.inner:
        log = AuditLog(store, node=NODE, signer=key, subject_key=SUBJECT_KEY, clock=clock)  # type: ignore[arg-type]
        store.fail = True
        with pytest.raises(AuditError) as failed:
            asyncio.run(log.record_async(**_entry(0), inline=True))
        assert isinstance(failed.value.__cause__, OSError)
        assert log.size == 0
        with pytest.raises(InvalidInputError):  # bad input is the caller's own error
            asyncio.run(log.record_async(**_entry(1, "no such outcome"), inline=True))
        store.fail = False
        assert asyncio.run(log.record_async(**_entry(2), inline=True)).seq == 0
        assert verify_log(store.inner, node=NODE).ok


class RemoteStore(ThreadNotingStore):
    """The same store, as one that commits over a network would present itself."""

    commits_locally = False


def test_inline_never_runs_a_network_commit_on_the_event_loop(
    tmp_path: Path, key: PrivateKey, clock: FixedClock
) -> None:
    store = RemoteStore(tmp_path / "audit.db")
    with store.inner:
        log = AuditLog(store, node=NODE, signer=key, subject_key=SUBJECT_KEY, clock=clock)  # type: ignore[arg-type]
        entry = asyncio.run(log.record_async(**_entry(0), inline=True))
        log.shutdown()
        assert entry.seq == 0
        assert store.threads != [threading.get_ident()]  # the writer thread committed it
        assert len(store.threads) == 1
