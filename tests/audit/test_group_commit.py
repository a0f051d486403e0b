"""Group commit: concurrent ``record`` calls share one transaction, each returns only after
its own entry is committed, and one caller's failure does not leak into another's answer."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from deltafed import AuditError, FixedClock, InvalidInputError
from deltafed.audit import AuditLog, SqliteAuditStore, verify_log
from deltafed.audit._store import AppendRecord
from deltafed.keys import PrivateKey, StaticKeyResolver

from .conftest import NODE, PEER, SUBJECT_KEY, resident


class GatedStore:
    """A SQLite store whose first batch waits at a gate, and which counts batches."""

    def __init__(self, path: Path) -> None:
        self.inner = SqliteAuditStore(path)
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.batches: list[list[int]] = []
        self.fail_next = False
        self.fail_batch: int | None = None

    def append_batch(self, records: Sequence[AppendRecord]) -> bool:
        if not self.batches:
            self.entered.set()
            assert self.gate.wait(timeout=30)
        self.batches.append([r.seq for r in records])
        if self.fail_batch == len(self.batches) - 1:
            raise AuditError("disk full")
        if self.fail_next:
            self.fail_next = False
            raise AuditError("disk full")
        return self.inner.append_batch(records)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _record(log: AuditLog, n: int, outcome: str = "ok") -> Any:
    return log.record(
        role="responder",
        counterpart=PEER,
        operation="record.request",
        scenario="social-insurance-transfer",
        subjects=[resident(n)],
        fields=["insured"],
        outcome=outcome,
        request_id=f"req-{n:04d}-group-commit",
        request=b"request %d" % n,
        response=b"response %d" % n,
    )


def _wait_queued(log: AuditLog, count: int) -> None:
    """Wait until ``count`` callers are queued behind the blocked leader (bounded)."""
    deadline = time.monotonic() + 30
    while len(log._queue) < count:
        assert time.monotonic() < deadline, "callers never queued"
        time.sleep(0.001)


def _run(log: AuditLog, store: GatedStore, outcomes: list[str]) -> dict[int, Any]:
    results: dict[int, Any] = {}

    def call(i: int, outcome: str) -> None:
        try:
            results[i] = _record(log, i, outcome)
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            results[i] = exc

    leader = threading.Thread(target=call, args=(0, "ok"))
    leader.start()
    assert store.entered.wait(timeout=30)  # the leader is inside its commit
    followers = [
        threading.Thread(target=call, args=(i, outcome))
        for i, outcome in enumerate(outcomes, start=1)
    ]
    for t in followers:
        t.start()
    _wait_queued(log, len(outcomes))
    assert all(i not in results for i in range(1, len(outcomes) + 1))  # nobody returned early
    store.gate.set()
    for t in [leader, *followers]:
        t.join(timeout=30)
    return results


@pytest.fixture
def key() -> PrivateKey:
    return PrivateKey.from_seed(b"\x02" * 32)


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[GatedStore]:
    store = GatedStore(tmp_path / "audit.db")
    with store.inner:
        yield store


@pytest.fixture
def glog(gated: GatedStore, key: PrivateKey, clock: FixedClock) -> AuditLog:
    return AuditLog(gated, node=NODE, signer=key, subject_key=SUBJECT_KEY, clock=clock)  # type: ignore[arg-type]


def test_waiting_callers_are_committed_together(
    glog: AuditLog, gated: GatedStore, key: PrivateKey
) -> None:
    results = _run(glog, gated, ["ok"] * 6)
    assert gated.batches == [[0], [1, 2, 3, 4, 5, 6]]  # 7 entries, 2 transactions
    assert sorted(r.seq for r in results.values()) == list(range(7))
    report = verify_log(
        gated.inner, node=NODE, resolver=StaticKeyResolver({NODE: [key.public_key]})
    )
    assert report.ok, report.problems
    assert report.size == 7


def test_a_bad_entry_fails_only_its_own_caller(glog: AuditLog, gated: GatedStore) -> None:
    results = _run(glog, gated, ["ok", "no such outcome", "ok"])
    assert isinstance(results[2], InvalidInputError)
    assert [results[i].seq for i in (0, 1, 3)] == [0, 1, 2]
    assert gated.batches == [[0], [1, 2]]
    assert verify_log(gated.inner, node=NODE).ok


def test_a_failed_commit_fails_every_caller_of_the_batch(glog: AuditLog, gated: GatedStore) -> None:
    gated.fail_next = True  # the leader's own batch fails
    results = _run(glog, gated, ["ok", "ok"])
    assert isinstance(results[0], AuditError)
    # The followers were committed by the next leader, on a tail reloaded from the store.
    assert sorted(results[i].seq for i in (1, 2)) == [0, 1]
    assert glog.size == 2
    assert verify_log(gated.inner, node=NODE).ok


def test_a_failed_follower_batch_fails_each_of_its_callers(
    glog: AuditLog, gated: GatedStore
) -> None:
    gated.fail_batch = 1  # the followers' batch
    results = _run(glog, gated, ["ok", "ok", "ok"])
    assert results[0].seq == 0
    errors = [results[i] for i in (1, 2, 3)]
    assert gated.batches == [[0], [1, 2, 3]]
    assert all(isinstance(e, AuditError) for e in errors)
    assert len({id(e) for e in errors}) == 3  # one error object per caller
    # The caller that led the batch raises the store's error; the others a chained one.
    (original,) = [e for e in errors if e.__cause__ is None]
    assert original.message == "disk full"
    assert all(e.__cause__ is original for e in errors if e is not original)
    assert glog.size == 1  # nothing of the failed batch was kept
    assert _record(glog, 9).seq == 1  # and the log goes on from the stored tail
    assert verify_log(gated.inner, node=NODE).ok


class OneAtATimeStore:
    """A store written before append_batch existed: only ``append``."""

    def __init__(self, path: Path) -> None:
        self.inner = SqliteAuditStore(path)
        self.appends = 0

    def append(self, record: AppendRecord) -> bool:
        self.appends += 1
        return self.inner.append(record)

    def __getattr__(self, name: str) -> Any:
        if name == "append_batch":
            raise AttributeError(name)
        return getattr(self.inner, name)


def test_a_store_without_batches_gets_one_entry_per_transaction(
    tmp_path: Path, key: PrivateKey, clock: FixedClock
) -> None:
    store = OneAtATimeStore(tmp_path / "audit.db")
    with store.inner:
        log = AuditLog(store, node=NODE, signer=key, subject_key=SUBJECT_KEY, clock=clock)  # type: ignore[arg-type]
        threads = [threading.Thread(target=_record, args=(log, i)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert store.appends == 8
        assert log.size == 8
        assert verify_log(store.inner, node=NODE).ok
