"""``open_event_store`` runs every test that uses it once per event store: SQLite (files) and
PostgreSQL (a database of its own, see ``pg_url``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deltafed.events import EventStore, PostgresEventStore, SqliteEventStore

#: Opens the store called ``name`` (a node's): the same data each time it is called, as
#: another worker of that node (or the node restarted) would.
EventStoreOpener = Callable[[str], EventStore]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def open_event_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStoreOpener]:
    opened: list[SqliteEventStore | PostgresEventStore] = []
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None

    def open_one(name: str) -> EventStore:
        store: SqliteEventStore | PostgresEventStore
        if url is None:
            store = SqliteEventStore(tmp_path / f"{name}.db")
        else:
            # The nodes of a test share the database: their tables do not overlap (a
            # provider's outbox and cursors, a subscriber's inbox).
            store = PostgresEventStore(url, pool_size=2)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()
