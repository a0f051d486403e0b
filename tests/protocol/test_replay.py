"""Replay stores: remember until expiry, purge after, refuse when full, safe across threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deltafed import ReplayCapacityError
from deltafed.protocol import (
    MemoryReplayStore,
    PostgresReplayStore,
    ReplayRecord,
    ReplayStore,
    SqliteReplayStore,
)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator:
    opened: list[SqliteReplayStore | PostgresReplayStore] = []

    def make(max_entries: int = 1000) -> ReplayStore:
        store: SqliteReplayStore | PostgresReplayStore
        if request.param == "memory":
            return MemoryReplayStore(max_entries=max_entries)
        if request.param == "postgres":
            # purge_every=0: purge on every registration, like the other stores.
            store = PostgresReplayStore(
                request.getfixturevalue("pg_url"), max_entries=max_entries, purge_every=0
            )
        else:
            store = SqliteReplayStore(tmp_path / f"replay{len(opened)}.db", max_entries=max_entries)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def test_register_then_find(make_store) -> None:
    store = make_store()
    assert isinstance(store, ReplayStore)
    assert store.register("a", "sha-256:1", expires_at=200, now=100) is None
    assert store.register("a", "sha-256:2", expires_at=300, now=101) == ReplayRecord(
        "sha-256:1", 200, None
    )
    assert len(store) == 1


def test_response_is_attached_only_to_the_same_digest(make_store) -> None:
    store = make_store()
    store.register("a", "sha-256:1", expires_at=200, now=100)
    store.set_response("a", "sha-256:other", b"wrong")
    assert store.register("a", "sha-256:1", expires_at=200, now=100).response is None
    store.set_response("a", "sha-256:1", b"signed answer")
    assert store.register("a", "sha-256:1", expires_at=200, now=100).response == b"signed answer"
    store.set_response("missing", "sha-256:1", b"ignored")
    assert len(store) == 1


def test_forget_releases_only_the_same_digest(make_store) -> None:
    store = make_store()
    store.register("a", "sha-256:1", expires_at=200, now=100)
    store.register("b", "sha-256:1", expires_at=200, now=100)
    assert store.forget("a", "sha-256:other") is False
    assert store.forget("missing", "sha-256:1") is False
    assert store.forget("a", "sha-256:1") is True
    # Released, not removed: the id stays bound to its digest until it expires.
    assert len(store) == 2
    assert store.register("a", "sha-256:other", expires_at=200, now=150) == ReplayRecord(
        "sha-256:1", 200, b""
    )
    # The identical message claims it again (it is in flight once more), exactly once.
    assert store.register("a", "sha-256:1", expires_at=200, now=150) is None
    assert store.register("a", "sha-256:1", expires_at=200, now=150) == ReplayRecord(
        "sha-256:1", 200, None
    )
    assert store.purge(200) == 2
    assert len(store) == 0


def test_a_released_entry_keeps_its_place(make_store) -> None:
    store = make_store(max_entries=1)
    store.register("a", "d", expires_at=200, now=100)
    store.forget("a", "d")
    with pytest.raises(ReplayCapacityError):
        store.register("b", "d", expires_at=200, now=100)
    assert store.register("b", "d", expires_at=300, now=200) is None


def test_entries_are_purged_after_expiry(make_store) -> None:
    store = make_store()
    store.register("a", "d", expires_at=200, now=100)
    store.register("b", "d", expires_at=300, now=100)
    assert store.purge(199) == 0
    assert store.purge(200) == 1
    assert len(store) == 1
    # an expired id is forgotten on the next registration as well
    assert store.register("c", "d", expires_at=400, now=300) is None
    assert len(store) == 1
    assert store.register("b", "d", expires_at=400, now=300) is None


def test_full_store_refuses_instead_of_forgetting(make_store) -> None:
    store = make_store(max_entries=2)
    store.register("a", "d", expires_at=200, now=100)
    store.register("b", "d", expires_at=200, now=100)
    with pytest.raises(ReplayCapacityError, match="accepts no more") as refused:
        store.register("c", "d", expires_at=200, now=100)
    assert refused.value.code == "replay_capacity"
    assert refused.value.status == 503
    # a known id is still answered when full
    assert store.register("a", "d", expires_at=200, now=100) is not None
    # and room comes back once entries expire
    assert store.register("c", "d", expires_at=300, now=200) is None


def test_concurrent_registration_accepts_each_id_once(make_store) -> None:
    store = make_store(max_entries=10_000)
    accepted: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        for i in range(200):
            if store.register(f"id{i}", "d", expires_at=1000, now=1) is None:
                with lock:
                    accepted.append(f"id{i}")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(accepted) == sorted(f"id{i}" for i in range(200))
    assert len(store) == 200


def test_sqlite_store_is_shared_between_connections(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with SqliteReplayStore(path) as first, SqliteReplayStore(path) as second:
        assert first.register("a", "d1", expires_at=200, now=100) is None
        assert second.register("a", "d2", expires_at=200, now=100) == ReplayRecord("d1", 200)
        first.set_response("a", "d1", b"resp")
        assert second.register("a", "d1", expires_at=200, now=150).response == b"resp"
    with SqliteReplayStore(path) as reopened:
        assert len(reopened) == 1
        assert reopened.purge(500) == 1


def test_bad_configuration(tmp_path: Path) -> None:
    from deltafed import ConfigurationError

    with pytest.raises(ConfigurationError):
        MemoryReplayStore(max_entries=0)
    with pytest.raises(ConfigurationError):
        SqliteReplayStore(tmp_path / "x.db", max_entries=0)
    with pytest.raises(ConfigurationError):
        SqliteReplayStore(tmp_path / "missing-dir" / "x.db")


def test_a_replay_store_that_fails_to_open_leaves_nothing_open(
    tmp_path: Path, open_files: Callable[[Path], list[str]]
) -> None:
    from deltafed import ConfigurationError

    with SqliteReplayStore(tmp_path / "ok.db") as store:
        assert open_files(tmp_path)
        store.close()  # closing twice is fine
    assert open_files(tmp_path) == []
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database, " * 512)
    with pytest.raises(ConfigurationError, match="cannot open replay store") as refused:
        SqliteReplayStore(junk)
    # Checked while the traceback (and the half-built store in it) is still alive.
    assert open_files(tmp_path) == [], refused.value
