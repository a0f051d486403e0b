"""Live trust updates: the compromise drill, in-flight requests across a swap, the lifespan
poller, and a node built from configuration that polls its registry file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from deltafed import FixedClock, KeyCompromisedError
from deltafed.adapters._synthetic import IDENTITY_CARD
from deltafed.node import Node
from deltafed.protocol import new_request, sign_request
from deltafed.protocol._jws import peek_payload
from deltafed.registry import RegistryFile, RegistryPoller, TrustedRegistry, write_publication
from deltafed.schemas.certificates import CertificateMetadata
from deltafed.testing import (
    JIANGSU,
    SHANGHAI,
    InMemoryAdapter,
    LocalFederation,
    synthetic_population,
)

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
HOLDER = synthetic_population().region("320000").residents[0].resident_id
VERIFY = "/deltafed/v1/certificates/verify"
REQUEST_TYPE = "application/deltafed-request+jws"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class GatedAdapter(InMemoryAdapter):
    """Jiangsu's synthetic data; a call waits at the gate once ``gated`` is set."""

    gated = False

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.entered = anyio.Event()
        self.gate = anyio.Event()

    async def _find_certificate(self, **kw: Any) -> CertificateMetadata:
        if self.gated:
            self.entered.set()
            await self.gate.wait()
        return await super()._find_certificate(**kw)


class Drill:
    def __init__(self, tmp_path: Path, replicas: int = 2) -> None:
        self.clock = FixedClock(T0)
        self.fed = LocalFederation(
            clock=self.clock, members={SHANGHAI: None, JIANGSU: None}, key_seed=7
        )
        # One publication point shared by every replica (a directory on shared storage).
        self.point = tmp_path / "publication" / "registry.jws"
        self.point.parent.mkdir()
        write_publication(self.point, self.fed.registry_bytes)
        self.nodes: list[Node] = []
        for _ in range(replicas):
            trusted = self.fed.trusted_registry()  # each replica verifies on its own
            poller = RegistryPoller(
                RegistryFile(trusted, self.point), interval=60, clock=self.clock
            )
            adapter = GatedAdapter.synthetic("320000")
            self.nodes.append(
                self.fed.node(JIANGSU, adapter=adapter, registry=trusted, poller=poller)
            )

    def request(self) -> bytes:
        claims = new_request(
            issuer=SHANGHAI,
            audience=JIANGSU,
            operation="certificate.verify",
            target=IDENTITY_CARD.type_code,
            scenario="yrd-identity-verify",
            body={
                "holder_code": HOLDER,
                "holder_type": "111",
                "type_code": IDENTITY_CARD.type_code,
                "use_cause": "compromise drill (test)",
            },
            now=self.clock(),
        )
        return sign_request(claims, self.fed.keys[SHANGHAI])

    async def outcome(self, node: Node, raw: bytes | None = None) -> str:
        answer = await node.handle(VERIFY, raw or self.request(), content_type=REQUEST_TYPE)
        payload = peek_payload(answer.body)
        assert payload is not None
        return "ok" if payload["sts"] == "ok" else str(payload["body"]["code"])

    def publish_compromise(self) -> str:
        """The anchor marks Shanghai's key compromised since a minute ago and publishes."""
        kid = self.fed.keys[SHANGHAI].kid
        builder = self.fed.builder()
        builder.compromise_key(SHANGHAI, kid, at=self.clock() - timedelta(minutes=1))
        write_publication(self.point, self.fed.sign_registry(builder))
        return kid

    async def poll_all(self) -> None:
        """What one poll interval brings: every replica's poller runs once."""
        for node in self.nodes:
            assert node.poller is not None
            await node.poller.poll()


async def test_every_replica_refuses_a_compromised_key_within_one_poll(tmp_path: Path) -> None:
    drill = Drill(tmp_path)
    requester_registry = drill.fed.trusted_registry()
    requester_poller = RegistryPoller(RegistryFile(requester_registry, drill.point))
    for node in drill.nodes:
        assert await drill.outcome(node) == "ok"
    kid = drill.publish_compromise()
    # Nothing changes before the replicas poll: the update is what the poll brings.
    assert [await drill.outcome(node) for node in drill.nodes] == ["ok", "ok"]
    drill.clock.advance(60)  # one poll interval later
    await drill.poll_all()
    assert [await drill.outcome(node) for node in drill.nodes] == [
        "key_compromised",
        "key_compromised",
    ]
    for node in drill.nodes:
        assert node.registry.version == 2
        health = node.health()
        assert health.status == 200
        assert b'"registry_version":2' in health.body
    # A client polls the same point and stops trusting the key as well.
    assert await requester_poller.poll() is True
    with pytest.raises(KeyCompromisedError):
        requester_registry.resolve(SHANGHAI, kid, drill.clock())


async def test_a_request_in_flight_survives_the_swap(tmp_path: Path) -> None:
    drill = Drill(tmp_path, replicas=1)
    node = drill.nodes[0]
    adapter = node.adapter
    assert isinstance(adapter, GatedAdapter)
    adapter.gated = True
    outcomes: list[str] = []
    raw = drill.request()

    async def in_flight() -> None:
        outcomes.append(await drill.outcome(node, raw))

    async with anyio.create_task_group() as tg:
        tg.start_soon(in_flight)
        await adapter.entered.wait()  # verified, now waiting on the platform
        drill.publish_compromise()
        await drill.poll_all()
        assert node.registry.version == 2
        adapter.gate.set()
    # Verified under version 1 before the swap, answered after it: not dropped.
    assert outcomes == ["ok"]
    adapter.gated = False
    assert await drill.outcome(node) == "key_compromised"


async def test_a_failed_poll_keeps_the_version_and_shows_in_health(tmp_path: Path) -> None:
    drill = Drill(tmp_path, replicas=1)
    node = drill.nodes[0]
    drill.point.write_bytes(b"garbage")
    await drill.poll_all()
    assert node.registry.version == 1
    assert await drill.outcome(node) == "ok"
    health = node.health()
    assert health.status == 200
    assert b'"status":"degraded"' in health.body
    assert b'"last_error":"registry_invalid"' in health.body
    drill.publish_compromise()
    await drill.poll_all()
    assert b'"status":"ok"' in node.health().body


class _CountingSource:
    """A source whose refreshes the test can count and wait for."""

    def __init__(self, trusted: TrustedRegistry) -> None:
        self.trusted = trusted
        self.location = "memory"
        self.polled = anyio.Event()

    async def refresh(self) -> bool:
        self.polled.set()
        return False


async def test_the_lifespan_runs_the_poller_and_stops_it(tmp_path: Path) -> None:
    drill = Drill(tmp_path, replicas=1)
    trusted = drill.fed.trusted_registry()
    source = _CountingSource(trusted)
    node = drill.fed.node(JIANGSU, registry=trusted, poller=RegistryPoller(source, interval=3600))
    sent: list[str] = []
    inbox: list[dict[str, str]] = [{"type": "lifespan.startup"}]
    shutdown = anyio.Event()

    async def receive() -> dict[str, str]:
        if inbox:
            return inbox.pop(0)
        await shutdown.wait()
        return {"type": "lifespan.shutdown"}

    async def send(message: dict[str, str]) -> None:
        sent.append(message["type"])

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(node, {"type": "lifespan"}, receive, send)
            await source.polled.wait()  # the first poll runs at startup
            shutdown.set()
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert node.poller is not None
    assert node.poller.status.polls == 1


def test_the_drill_over_two_loopback_servers(tmp_path: Path) -> None:
    """Two replicas served over real HTTP, polling one publication point from their lifespan;
    the poll an interval brings is triggered from outside, no restart, no sleep."""
    import httpx

    from deltafed import system_clock
    from deltafed.testing import LoopbackServer

    fed = LocalFederation(clock=system_clock, members={SHANGHAI: None, JIANGSU: None}, key_seed=8)
    point = tmp_path / "registry.jws"
    write_publication(point, fed.registry_bytes)
    servers: list[LoopbackServer] = []
    pollers: list[RegistryPoller] = []
    try:
        for _ in range(2):
            trusted = fed.trusted_registry()
            poller = RegistryPoller(RegistryFile(trusted, point), interval=3600)
            server = LoopbackServer()
            server.start(fed.node(JIANGSU, registry=trusted, poller=poller))
            servers.append(server)
            pollers.append(poller)

        def outcomes() -> list[str]:
            found = []
            for server in servers:
                claims = new_request(
                    issuer=SHANGHAI,
                    audience=JIANGSU,
                    operation="certificate.verify",
                    target=IDENTITY_CARD.type_code,
                    scenario="yrd-identity-verify",
                    body={
                        "holder_code": HOLDER,
                        "holder_type": "111",
                        "type_code": IDENTITY_CARD.type_code,
                        "use_cause": "compromise drill (test)",
                    },
                    now=system_clock(),
                )
                response = httpx.post(
                    server.url + VERIFY,
                    content=sign_request(claims, fed.keys[SHANGHAI]),
                    headers={"content-type": REQUEST_TYPE},
                )
                payload = peek_payload(response.content)
                assert payload is not None
                found.append("ok" if payload["sts"] == "ok" else payload["body"]["code"])
            return found

        assert outcomes() == ["ok", "ok"]
        builder = fed.builder()
        builder.compromise_key(
            SHANGHAI, fed.keys[SHANGHAI].kid, at=system_clock() - timedelta(minutes=1)
        )
        write_publication(point, fed.sign_registry(builder))
        for poller in pollers:
            poller.poll_blocking()  # the poll the next interval brings
            assert poller.trusted.version == 2
            assert not poller.status.failing
        assert outcomes() == ["key_compromised", "key_compromised"]
    finally:
        for server in servers:
            server.stop()
