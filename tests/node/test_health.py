"""``/health``: degraded while the platform does not answer its probe (cached, cheap), when the
registry is about to expire, and when a registry poll failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest

from deltafed import FixedClock
from deltafed.adapters.shanghai import ShanghaiAdapter
from deltafed.node import Node
from deltafed.testing import JIANGSU, SHANGHAI, InMemoryAdapter, LocalFederation

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
HEALTH = "/deltafed/v1/health"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class CountingAdapter(InMemoryAdapter):
    probes = 0

    async def _probe(self) -> None:
        self.probes += 1
        await super()._probe()


class HangingAdapter(InMemoryAdapter):
    probe_timeout = 0.05

    async def _probe(self) -> None:
        await anyio.sleep_forever()


def _federation(clock: FixedClock) -> LocalFederation:
    return LocalFederation(clock=clock, members={SHANGHAI: None, JIANGSU: None}, key_seed=9)


async def health(node: Node) -> tuple[int, dict[str, Any]]:
    transport = httpx.ASGITransport(app=node)
    async with httpx.AsyncClient(transport=transport, base_url="http://node.test") as http:
        response = await http.get(HEALTH)
    return response.status_code, response.json()


async def test_a_platform_that_does_not_answer_degrades_health_and_probes_are_cached() -> None:
    clock = FixedClock(T0)
    fed = _federation(clock)
    adapter = CountingAdapter.synthetic("320000")
    node = fed.node(JIANGSU, adapter=adapter, probe_every=10)
    status, body = await health(node)
    assert (status, body["status"], body["platform"]) == (200, "ok", "ok")
    assert "degraded" not in body
    adapter.down = True
    for _ in range(5):  # within the probe interval: the cached answer, no new probe
        status, body = await health(node)
        assert body["status"] == "ok"
    assert adapter.probes == 1
    clock.advance(10)
    status, body = await health(node)
    assert status == 200
    assert body["status"] == "degraded"
    assert body["degraded"] == ["platform_unavailable"]
    assert body["platform"] == "unavailable"
    assert body["platform_error"] == "adapter_unavailable"
    assert adapter.probes == 2
    adapter.down = False
    clock.advance(10)
    assert (await health(node))[1]["status"] == "ok"


async def test_a_province_sandbox_can_be_down() -> None:
    clock = FixedClock(T0)
    fed = LocalFederation(clock=clock, members={JIANGSU: None, SHANGHAI: None}, key_seed=9)
    adapter, sandbox = ShanghaiAdapter.with_sandbox(clock=clock)
    async with adapter:
        node = fed.node(SHANGHAI, adapter=adapter)
        assert (await health(node))[1]["platform"] == "ok"
        assert sandbox.requests == []  # the probe is not a business call
        sandbox.down = True
        clock.advance(60)
        status, body = await health(node)
        assert status == 200
        assert body["status"] == "degraded"
        assert body["platform_error"] == "adapter_unavailable"


async def test_a_hanging_platform_is_cut_off_by_the_probe_timeout() -> None:
    clock = FixedClock(T0)
    node = _federation(clock).node(JIANGSU, adapter=HangingAdapter.synthetic("320000"))
    with anyio.fail_after(30):
        status, body = await health(node)
    assert status == 200
    assert body["platform_error"] == "adapter_timeout"


async def test_a_registry_near_its_expiry_degrades_health() -> None:
    clock = FixedClock(T0)
    fed = _federation(clock)
    node = fed.node(JIANGSU, expiry_warning=timedelta(hours=12))
    expires = node.registry.expires_at
    assert expires is not None
    clock.set(expires - timedelta(hours=13))
    assert (await health(node))[1]["status"] == "ok"
    clock.set(expires - timedelta(hours=11))
    status, body = await health(node)
    assert status == 200
    assert body["degraded"] == ["registry_expiring"]
    assert body["registry_expires_in"] == 11 * 3600
    clock.set(expires + timedelta(hours=1))
    status, body = await health(node)
    assert (status, body["degraded"]) == (200, ["registry_grace"])
    clock.set(expires + timedelta(days=2))
    status, body = await health(node)
    assert (status, body["status"]) == (503, "unavailable")


def test_health_settings_are_checked() -> None:
    from deltafed import ConfigurationError

    fed = _federation(FixedClock(T0))
    with pytest.raises(ConfigurationError):
        fed.node(JIANGSU, probe_every=-1)
    with pytest.raises(ConfigurationError):
        fed.node(JIANGSU, expiry_warning=timedelta(hours=-1))
