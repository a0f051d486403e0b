"""A Shanghai filer, a Jiangsu node that answers concerns, and a Jiangsu supervisor, in process.

The clock starts on Friday 13 February 2026, 10:00 in China: the next day is a make-up
working Saturday, then the Spring Festival holiday runs from the 15th to the 23rd.

``open_store`` and ``world`` run every test that uses them once per concern store: SQLite (a
file) and PostgreSQL (a database of its own, see ``pg_url``).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from deltafed import FixedClock, RetryPolicy
from deltafed.audit import AuditLog
from deltafed.client import AsyncFederationClient
from deltafed.concerns import (
    ConcernFiler,
    ConcernService,
    ConcernStore,
    PostgresConcernStore,
    SqliteConcernStore,
)
from deltafed.concerns._example import add_concerns
from deltafed.node import Node
from deltafed.schemas.concerns import Concern
from deltafed.testing import (
    JIANGSU,
    SHANGHAI,
    ZHEJIANG,
    InMemoryAdapter,
    LocalFederation,
    synthetic_catalogue,
    synthetic_population,
)

T0 = datetime(2026, 2, 13, 2, 0, tzinfo=UTC)  # Friday 10:00 CST
SUPERVISOR = "320000/zwfw"
POPULATION = synthetic_population()
#: A Jiangsu household register (居民户口簿) held by a resident who now lives in Shanghai.
CERT = POPULATION.region("320000").certificates[1]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def a_concern(number: int = 1, **change: Any) -> Concern:
    data: dict[str, Any] = {
        "id": f"sh-concern-{number:06d}-test",
        "filer": {"type": "111", "code": CERT.holder_code},
        "subject": {"kind": "certificate", "ref": CERT.certificate_id},
        "category": "objection",
        "text": "户籍地址有误：应为扬州市测试路521号 (test)",
        "attachments": [
            {
                "name": "proof.pdf",
                "media_type": "application/pdf",
                "digest": "sha-256:" + hashlib.sha256(b"synthetic proof").hexdigest(),
                "size": 15,
            }
        ],
        "consent": {"given": True, "given_at": "2026-02-13T01:55:00Z"},
        "filed_at": "2026-02-13T01:58:00Z",
    }
    data.update(change)
    return Concern.parse(data)


@dataclass
class World:
    clock: FixedClock
    fed: LocalFederation
    node: Node
    service: ConcernService
    store: ConcernStore
    adapter: InMemoryAdapter
    logs: dict[str, AuditLog] = field(default_factory=dict)

    def transport(self) -> httpx.AsyncBaseTransport:
        return self.fed.asgi_transport({JIANGSU: self.node})

    def client(self, member: str, http: httpx.AsyncClient) -> AsyncFederationClient:
        return AsyncFederationClient(
            member,
            self.fed.keys[member],
            self.node.registry,
            clock=self.clock,
            http=http,
            audit=self.logs.get(member),
            retry=RetryPolicy.no_wait(),
        )


StoreOpener = Callable[[], ConcernStore]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreOpener]:
    """Opens a store on the same data each time it is called (as another worker, or the node
    restarted, would); every store opened is closed after the test."""
    opened: list[ConcernStore] = []

    def sqlite() -> ConcernStore:
        return SqliteConcernStore(tmp_path / "concerns.db")

    def postgres() -> ConcernStore:
        return PostgresConcernStore(url, pool_size=2)

    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
        make = postgres
    else:
        make = sqlite

    def open_one() -> ConcernStore:
        store = make()
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def world(open_store: StoreOpener) -> World:
    clock = FixedClock(T0)
    fed = LocalFederation(
        clock=clock,
        members={SHANGHAI: None, JIANGSU: None, ZHEJIANG: None, SUPERVISOR: None},
        validity=timedelta(days=400),
        key_seed=16,
    )
    builder = add_concerns(
        fed.builder(),
        synthetic_catalogue("320000"),
        desk=JIANGSU,
        supervisor=SUPERVISOR,
        filers=[SHANGHAI],
    )
    fed.sign_registry(builder)
    logs = {m: fed.audit_log(m) for m in (SHANGHAI, JIANGSU)}
    adapter = fed.adapter(JIANGSU)
    registry = fed.trusted_registry()
    store = open_store()
    service = ConcernService(
        JIANGSU,
        fed.keys[JIANGSU],
        registry,
        store,
        logs[JIANGSU],
        adapter=adapter,
        clock=clock,
    )
    node = fed.node(
        JIANGSU, adapter=adapter, audit=logs[JIANGSU], registry=registry, concerns=service
    )
    return World(clock, fed, node, service, store, adapter, logs)


@pytest.fixture
async def shanghai(world: World) -> AsyncIterator[ConcernFiler]:
    async with httpx.AsyncClient(transport=world.transport(), timeout=10) as http:
        client = world.client(SHANGHAI, http)
        yield ConcernFiler(client, world.node.registry, clock=world.clock)


@pytest.fixture
def make_concern() -> Any:
    """:func:`a_concern`: a valid objection, with any member changed."""
    return a_concern
