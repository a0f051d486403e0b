"""The PostgreSQL replay store as the replicas of one node share it: one claim per message id."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from deltafed import ConfigurationError, ReplayCapacityError
from deltafed._pg import open_pool
from deltafed.protocol import PostgresReplayStore, ReplayRecord

pytestmark = pytest.mark.postgres


@pytest.fixture
def replicas(pg_url: str) -> Iterator[list[PostgresReplayStore]]:
    """Three stores on one database, as three workers or hosts hold them."""
    stores = [PostgresReplayStore(pg_url, claim_lease=5) for _ in range(3)]
    yield stores
    for store in stores:
        store.close()


def _race(replicas: list[PostgresReplayStore], key: str) -> list[ReplayRecord | None]:
    barrier = threading.Barrier(6)
    results: list[ReplayRecord | None] = []
    lock = threading.Lock()

    def claim(store: PostgresReplayStore) -> None:
        barrier.wait(timeout=10)
        got = store.register(key, "sha-256:d", expires_at=1000, now=100)
        with lock:
            results.append(got)

    threads = [threading.Thread(target=claim, args=(replicas[i % 3],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_one_claim_among_replicas_racing(replicas: list[PostgresReplayStore]) -> None:
    for round_ in range(10):
        results = _race(replicas, f"iss|jti-{round_}")
        assert results.count(None) == 1, results
        assert all(r == ReplayRecord("sha-256:d", 1000, None) for r in results if r is not None)


def test_stored_answer_on_any_replica(replicas: list[PostgresReplayStore]) -> None:
    first, second, third = replicas
    assert first.register("k", "d1", expires_at=200, now=100) is None
    assert second.register("k", "d1", expires_at=200, now=101) == ReplayRecord("d1", 200, None)
    first.set_response("k", "d1", b"signed answer")
    assert third.register("k", "d1", expires_at=200, now=102) == ReplayRecord(
        "d1", 200, b"signed answer"
    )
    # A different request reusing the id is refused on every replica.
    assert second.register("k", "d2", expires_at=300, now=103) == ReplayRecord(
        "d1", 200, b"signed answer"
    )


def test_a_released_claim_is_taken_once_by_any_replica(
    replicas: list[PostgresReplayStore],
) -> None:
    first, second, third = replicas
    first.register("k", "d1", expires_at=200, now=100)
    assert first.forget("k", "d1") is True
    assert second.register("k", "d1", expires_at=200, now=101) is None
    assert third.register("k", "d1", expires_at=200, now=101) == ReplayRecord("d1", 200, None)


def test_a_crashed_claim_is_taken_over_after_the_lease(
    replicas: list[PostgresReplayStore],
) -> None:
    first, second, _ = replicas
    assert first.register("k", "d1", expires_at=500, now=100) is None
    # The worker holding the claim dies; before the lease ends a retry is "being answered" ...
    assert second.register("k", "d1", expires_at=500, now=104) == ReplayRecord("d1", 500, None)
    # ... after it, the identical request is claimed again, once; another one never.
    assert second.register("k", "d2", expires_at=500, now=105) == ReplayRecord("d1", 500, None)
    assert second.register("k", "d1", expires_at=500, now=105) is None
    assert first.register("k", "d1", expires_at=500, now=106) == ReplayRecord("d1", 500, None)
    # An answered message is never taken over.
    second.set_response("k", "d1", b"answer")
    assert first.register("k", "d1", expires_at=500, now=400) == ReplayRecord("d1", 500, b"answer")


def test_expired_rows_are_cleaned_up_on_the_way(pg_url: str) -> None:
    with PostgresReplayStore(pg_url, purge_every=10) as store:
        for i in range(5):
            store.register(f"k{i}", "d", expires_at=150, now=100)
        assert len(store) == 5
        store.register("late", "d", expires_at=400, now=105)  # inside purge_every: no purge
        assert len(store) == 6
        store.register("later", "d", expires_at=400, now=200)
        assert len(store) == 2


def test_capacity_counts_other_replicas(pg_url: str) -> None:
    with (
        PostgresReplayStore(pg_url, max_entries=3, count_every=0) as one,
        PostgresReplayStore(pg_url, max_entries=3, count_every=0) as two,
    ):
        one.register("a", "d", expires_at=200, now=100)
        one.register("b", "d", expires_at=200, now=100)
        two.register("c", "d", expires_at=200, now=100)
        with pytest.raises(ReplayCapacityError):
            one.register("d", "d", expires_at=200, now=100)
        with pytest.raises(ReplayCapacityError):
            two.register("d", "d", expires_at=200, now=100)
        assert one.register("a", "d", expires_at=200, now=100) is not None  # known: answered
        assert two.register("d", "d", expires_at=300, now=200) is None  # room after expiry


def test_configuration_is_checked(pg_url: str) -> None:
    with pytest.raises(ConfigurationError):
        PostgresReplayStore()
    with pytest.raises(ConfigurationError):
        PostgresReplayStore(pg_url, claim_lease=0)
    with pytest.raises(ConfigurationError):
        PostgresReplayStore(pg_url, max_entries=0)
    with pytest.raises(ConfigurationError, match="cannot connect"):
        open_pool("postgresql://nobody@127.0.0.1:1/none", timeout=0.5)
    with pytest.raises(ConfigurationError, match="not a postgresql"):
        open_pool("sqlite:///replay.db")
