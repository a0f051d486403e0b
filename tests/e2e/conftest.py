"""Three nodes (Shanghai, Jiangsu, Zhejiang) reached over real loopback sockets or in process.

Loopback: each node runs under uvicorn in a background thread on a socket bound to port 0
before the registry is signed, so its endpoint is known; startup is awaited with an event.
In process: the same nodes behind httpx's ASGI transport. The tests run once per mode.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from deltafed import FixedClock, RetryPolicy
from deltafed.adapters.jiangsu import JiangsuAdapter
from deltafed.adapters.shanghai import ShanghaiAdapter
from deltafed.adapters.zhejiang import ZhejiangAdapter
from deltafed.client import AsyncFederationClient
from deltafed.node import Node
from deltafed.testing import JIANGSU, SHANGHAI, ZHEJIANG, LocalFederation, LoopbackServer

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
#: How the Zhejiang node's adapter retries its platform (no waits).
ZJ_ADAPTER_RETRY = RetryPolicy.no_wait(attempts=3)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Federation:
    """Three nodes and the means to reach them, in one of the two modes."""

    def __init__(self, mode: str, adapters: str = "mixed") -> None:
        self.mode = mode
        self.adapters = adapters
        self.clock = FixedClock(T0)
        self.servers: dict[str, LoopbackServer] = {}
        members: dict[str, str | None] = {SHANGHAI: None, JIANGSU: None, ZHEJIANG: None}
        if mode == "loopback":
            for member in members:
                self.servers[member] = LoopbackServer()
                members[member] = self.servers[member].url
        self.fed = LocalFederation(clock=self.clock, members=members, key_seed=11)
        self.zj_adapter, self.zj_sandbox = ZhejiangAdapter.with_sandbox(
            clock=self.clock, retry=ZJ_ADAPTER_RETRY
        )
        self.platforms: dict[str, Any] = {ZHEJIANG: self.zj_sandbox}
        if adapters == "province":
            # Every node behind its own province's platform (sandboxed), as in production.
            sh_adapter, self.platforms[SHANGHAI] = ShanghaiAdapter.with_sandbox(clock=self.clock)
            js_adapter, self.platforms[JIANGSU] = JiangsuAdapter.with_sandbox(clock=self.clock)
            self.nodes: dict[str, Node] = {
                SHANGHAI: self.fed.node(SHANGHAI, adapter=sh_adapter),
                JIANGSU: self.fed.node(JIANGSU, adapter=js_adapter),
                ZHEJIANG: self.fed.node(ZHEJIANG, adapter=self.zj_adapter),
            }
        else:
            self.nodes = {
                SHANGHAI: self.fed.node(SHANGHAI),
                JIANGSU: self.fed.node(JIANGSU),
                ZHEJIANG: self.fed.node(ZHEJIANG, adapter=self.zj_adapter),
            }
            self.platforms[SHANGHAI] = self.nodes[SHANGHAI].adapter
            self.platforms[JIANGSU] = self.nodes[JIANGSU].adapter
        self.node_audit = {m: n.audit for m, n in self.nodes.items()}
        for member, server in self.servers.items():
            server.start(self.nodes[member])

    def transport(self) -> httpx.AsyncBaseTransport:
        if self.mode == "loopback":
            return httpx.AsyncHTTPTransport()
        return self.fed.asgi_transport(self.nodes)

    @contextlib.asynccontextmanager
    async def client(
        self,
        member: str = SHANGHAI,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        **kw: Any,
    ) -> AsyncIterator[AsyncFederationClient]:
        async with httpx.AsyncClient(transport=transport or self.transport(), timeout=10) as http:
            yield AsyncFederationClient(
                member,
                self.fed.keys[member],
                self.fed.trusted_registry(),
                clock=self.clock,
                http=http,
                retry=retry if retry is not None else RetryPolicy.no_wait(),
                **kw,
            )

    def platform_calls(self, member: str) -> list[str | None]:
        """The use causes of the certificate and record calls that reached the member's
        platform (the in-memory adapter or the province sandbox): one per call."""
        calls: list[str | None] = self.platforms[member].use_causes
        return calls

    def close(self) -> None:
        for server in self.servers.values():
            server.stop()


@pytest.fixture(
    params=[
        ("loopback", "mixed"),
        ("asgi", "mixed"),
        ("loopback", "province"),
        ("asgi", "province"),
    ],
    ids=lambda p: "-".join(p),
)
def federation(request: pytest.FixtureRequest) -> Iterator[Federation]:
    world = Federation(*request.param)
    try:
        yield world
    finally:
        world.close()


@pytest.fixture
async def shanghai(federation: Federation) -> AsyncIterator[AsyncFederationClient]:
    async with federation.client(audit=federation.fed.audit_log(SHANGHAI)) as client:
        yield client
