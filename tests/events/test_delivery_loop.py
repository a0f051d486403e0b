"""The served node's delivery loop: a platform without a change feed still delivers."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx
import pytest

from deltafed import ConfigurationError, FixedClock
from deltafed.adapters import ChangeBatch, ProvinceAdapter
from deltafed.client import AsyncFederationClient
from deltafed.events import ChangePublisher, DeliveryLoop, Outbox, SqliteEventStore
from deltafed.testing import JIANGSU, SHANGHAI, InMemoryAdapter, LocalFederation

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


class NoFeed(InMemoryAdapter):
    async def _changes(self, since: str | None, limit: int) -> ChangeBatch:
        return await ProvinceAdapter._changes(self, since, limit)


@pytest.mark.anyio
async def test_without_a_change_feed_the_loop_warns_once_and_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FixedClock(T0)
    fed = LocalFederation(clock=clock, members={SHANGHAI: None, JIANGSU: None})
    adapter = NoFeed.synthetic("320000", clock=clock)
    with SqliteEventStore(":memory:") as store:
        async with httpx.AsyncClient(transport=fed.asgi_transport({})) as http:
            client = AsyncFederationClient(
                JIANGSU, fed.keys[JIANGSU], fed.trusted_registry(), clock=clock, http=http
            )
            loop = DeliveryLoop(
                ChangePublisher(adapter, store, clock=clock),
                Outbox(store, client, clock=clock),
                interval=1,
            )
            with caplog.at_level(logging.WARNING, logger="deltafed.events"):
                for _ in range(3):
                    report = await loop.run_once()
                    assert (report.delivered, report.failed) == (0, 0)
    warnings = [r for r in caplog.records if "change feed not read" in r.getMessage()]
    assert len(warnings) == 1


def test_the_interval_is_bounded() -> None:
    with pytest.raises(ConfigurationError):
        DeliveryLoop(None, None, interval=0)  # type: ignore[arg-type]
