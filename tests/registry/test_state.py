"""Registry state stores: the last verified version survives restarts and is shared by replicas."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deltafed import ConfigurationError, RollbackError, ThresholdNotMetError
from deltafed.registry import (
    MemoryRegistryState,
    PostgresRegistryState,
    RegistryStateStore,
    SqliteRegistryState,
    TrustedRegistry,
    payload_digest,
)

Opener = Callable[[], RegistryStateStore]


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def open_state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Open the store again as a restarted process or another replica would."""
    opened: list[Any] = []
    shared = MemoryRegistryState()

    def open_() -> RegistryStateStore:
        store: Any
        if request.param == "memory":
            return shared
        if request.param == "sqlite":
            store = SqliteRegistryState(tmp_path / "state.db")
        else:
            store = PostgresRegistryState(request.getfixturevalue("pg_url"))
        opened.append(store)
        return store  # type: ignore[no-any-return]

    yield open_
    for store in opened:
        store.close()


def test_admit_moves_only_forward(open_state: Opener) -> None:
    store = open_state()
    assert isinstance(store, RegistryStateStore)
    assert store.last("yrd") is None
    store.admit("yrd", 3, "sha-256:3")
    store.admit("yrd", 3, "sha-256:3")  # the same version again: fine
    with pytest.raises(RollbackError, match="older than version 3"):
        store.admit("yrd", 2, "sha-256:2")
    with pytest.raises(RollbackError, match="differs"):
        store.admit("yrd", 3, "sha-256:other")
    store.admit("other-federation", 1, "sha-256:1")
    store.admit("yrd", 5, "sha-256:5")
    assert store.last("yrd") == (5, "sha-256:5")
    assert store.last("other-federation") == (1, "sha-256:1")


def test_state_outlives_the_store_object(open_state: Opener) -> None:
    open_state().admit("yrd", 7, "sha-256:7")
    again = open_state()  # a restart, or another replica
    assert again.last("yrd") == (7, "sha-256:7")
    with pytest.raises(RollbackError):
        again.admit("yrd", 6, "sha-256:6")


def test_concurrent_admits_keep_the_highest(open_state: Opener) -> None:
    stores = [open_state() for _ in range(4)]
    errors: list[BaseException] = []

    def admit(store: RegistryStateStore, version: int) -> None:
        try:
            store.admit("yrd", version, f"sha-256:{version}")
        except RollbackError as exc:  # a lower version arriving after a higher one
            errors.append(exc)

    threads = [threading.Thread(target=admit, args=(stores[v % 4], v)) for v in range(1, 21)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stores[0].last("yrd") == (20, "sha-256:20")
    assert all(isinstance(e, RollbackError) for e in errors)


def test_trusted_registry_refuses_a_rollback_after_a_restart(
    open_state: Opener, world: Any
) -> None:
    v1 = world.signed(world.doc(1))
    v2 = world.signed(world.doc(2))
    first = TrustedRegistry(world.anchor(), clock=world.clock, state=open_state())
    first.update(v1)
    first.update(v2)
    # A new process (or another replica) starts from the pinned anchor and meets version 1.
    restarted = TrustedRegistry(world.anchor(), clock=world.clock, state=open_state())
    with pytest.raises(RollbackError, match="already trusted by this node"):
        restarted.update(v1)
    assert restarted.version is None  # nothing admitted
    restarted.update(v2)
    assert restarted.version == 2


def test_a_refused_document_is_never_recorded(open_state: Opener, world: Any) -> None:
    store = open_state()
    registry = TrustedRegistry(world.anchor(), clock=world.clock, state=store)
    forged = world.signed(world.doc(9), indices=(1,))  # not signed by the anchor
    with pytest.raises(ThresholdNotMetError):
        registry.update(forged)
    assert store.last("yrd") is None


def test_payload_digest() -> None:
    assert payload_digest(b"").startswith("sha-256:e3b0c442")


@pytest.mark.postgres
def test_postgres_needs_a_url_or_a_pool(pg_url: str) -> None:
    with pytest.raises(ConfigurationError):
        PostgresRegistryState()
    with pytest.raises(ConfigurationError):
        PostgresRegistryState("sqlite:///x")
