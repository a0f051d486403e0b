"""DF-DISC-003 follows docs/protocol.md §7.3: 200 "ok", or 200 "degraded" while the registry is
in its grace period, passes; 503 "unavailable" or anything else fails."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from deltafed_conformance._checks import CheckFailed, disc_health


def _session(status: int, body: Any, content_type: str = "application/json") -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/deltafed/v1/health"
        content = body if isinstance(body, bytes) else httpx.Response(200, json=body).content
        return httpx.Response(status, content=content, headers={"content-type": content_type})

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://node")
    return SimpleNamespace(http=http)


@pytest.mark.anyio
@pytest.mark.parametrize("state", ["ok", "degraded"])
async def test_a_healthy_or_degraded_node_passes(state: str) -> None:
    session = _session(200, {"status": state, "member": "320000/dsj"})
    async with session.http:
        await disc_health(session)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (503, {"status": "unavailable"}, "application/json"),
        (200, {"status": "unavailable"}, "application/json"),
        (200, {"state": "ok"}, "application/json"),
        (200, b"ok", "text/plain"),
        (200, b"not json", "application/json"),
    ],
)
async def test_anything_else_fails(status: int, body: Any, content_type: str) -> None:
    session = _session(status, body, content_type)
    async with session.http:
        with pytest.raises(CheckFailed):
            await disc_health(session)
