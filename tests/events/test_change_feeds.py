"""The change feed hook of the three province sandboxes (and the in-memory adapter)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from deltafed import FixedClock
from deltafed.adapters._synthetic import IDENTITY_CARD
from deltafed.adapters.jiangsu import JiangsuAdapter
from deltafed.adapters.shanghai import ShanghaiAdapter
from deltafed.adapters.zhejiang import ZhejiangAdapter
from deltafed.testing import InMemoryAdapter, synthetic_population

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
Kind = type[JiangsuAdapter] | type[ZhejiangAdapter] | type[ShanghaiAdapter]


def _card(region: str, index: int = 0) -> str:
    data = synthetic_population().region(region)
    person = data.residents[index]
    return next(
        c.certificate_id
        for c in data.certificates
        if c.holder_code == person.resident_id and c.type_code == IDENTITY_CARD.type_code
    )


@pytest.mark.anyio
@pytest.mark.parametrize("kind", [JiangsuAdapter, ZhejiangAdapter, ShanghaiAdapter])
async def test_each_sandbox_reports_renewals_changes_and_revocations_in_order(kind: Kind) -> None:
    clock = FixedClock(T0)
    adapter, sandbox = kind.with_sandbox(clock=clock)
    first, second = _card(adapter.region, 0), _card(adapter.region, 1)
    async with adapter:
        empty = await adapter.changes(None)
        assert empty.changes == ()
        renewed = sandbox.renew(first, valid_until=date(2046, 3, 1))
        clock.advance(60)
        corrected = sandbox.correct(second, {"address": "测试路 1 号"})
        clock.advance(60)
        sandbox.revoke(renewed.certificate_id)
        batch = await adapter.changes(empty.cursor)
        assert [(c.kind, c.certificate_id) for c in batch.changes] == [
            ("certificate.renewed", renewed.certificate_id),
            ("certificate.changed", corrected.certificate_id),
            ("certificate.revoked", renewed.certificate_id),
        ]
        assert [c.occurred_at for c in batch.changes] == [
            T0,
            T0.replace(minute=1),
            T0.replace(minute=2),
        ]
        assert batch.changes[0].holder_code == renewed.holder_code
        # The renewed certificate is what the platform now answers for the holder.
        meta = await adapter.find_certificate(
            holder_code=renewed.holder_code,
            holder_type=renewed.holder_type,
            type_code=renewed.type_code,
            use_cause="核验",
        )
        assert meta.identifier == renewed.certificate_id
        assert (await adapter.changes(batch.cursor)).changes == ()
        # A small page: the cursor moves by what was read, nothing is skipped.
        page = await adapter.changes(empty.cursor, limit=2)
        rest = await adapter.changes(page.cursor, limit=2)
        assert [c.kind for c in page.changes + rest.changes] == [c.kind for c in batch.changes]


@pytest.mark.anyio
async def test_the_memory_adapter_reports_its_changes() -> None:
    adapter = InMemoryAdapter.synthetic("320000", clock=FixedClock(T0))
    card = _card("320000")
    new_id = adapter.renew(card, valid_until=None, at=T0)
    batch = await adapter.changes(None)
    assert [(c.kind, c.certificate_id) for c in batch.changes] == [("certificate.renewed", new_id)]


@pytest.mark.anyio
@pytest.mark.parametrize("kind", [JiangsuAdapter, ZhejiangAdapter, ShanghaiAdapter])
async def test_each_sandbox_reports_record_changes(kind: Kind) -> None:
    clock = FixedClock(T0)
    adapter, sandbox = kind.with_sandbox(clock=clock)
    person = synthetic_population().region(adapter.region).residents[0]
    async with adapter:
        start = await adapter.changes(None)
        sandbox.update_record("social_insurance", person.resident_id, months_paid=3)
        batch = await adapter.changes(start.cursor)
        [change] = batch.changes
        assert (change.kind, change.record_type, change.holder_code, change.certificate_id) == (
            "record.changed",
            "social_insurance",
            person.resident_id,
            None,
        )
        record = await adapter.fetch_record(
            "social_insurance", person.resident_id, change.holder_type, ["months_paid"],
            use_cause="核验",
        )  # fmt: skip
        assert record.fields["months_paid"] == 3
