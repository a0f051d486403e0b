"""The use cause (用证事由) travels from the public adapter API to the native platform."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import pytest

from deltafed import InvalidInputError
from deltafed.adapters import MAX_USE_CAUSE_LENGTH, CallContext
from deltafed.adapters._province import HttpProvinceAdapter
from deltafed.adapters.jiangsu import DEFAULT_USE_CAUSE, JiangsuAdapter
from deltafed.adapters.shanghai import ShanghaiAdapter
from deltafed.adapters.shanghai._native import canonical_request, sh_signature
from deltafed.adapters.zhejiang import ZhejiangAdapter
from deltafed.schemas.common import CertificateStatus, HolderType
from deltafed.testing import SHANGHAI_SANDBOX_CLIENT_SECRET, InMemoryAdapter, synthetic_population

pytestmark = pytest.mark.anyio

ADAPTERS: list[type[HttpProvinceAdapter]] = [ShanghaiAdapter, JiangsuAdapter, ZhejiangAdapter]
IDS = [cls.name for cls in ADAPTERS]
CAUSE = "跨省通办：异地就医备案 (test)"


async def _every_call(adapter: Any, use_cause: str | None) -> int:
    """Make each of the four data calls once; return how many were made."""
    data = synthetic_population().region(adapter.region)
    card = data.certificates[0]
    await adapter.find_certificate(certificate_id=card.certificate_id, use_cause=use_cause)
    await adapter.find_certificate(
        holder_code=card.holder_code,
        holder_type=card.holder_type,
        type_code=card.type_code,
        use_cause=use_cause,
    )
    await adapter.certificate_data(card.certificate_id, ["name"], use_cause=use_cause)
    assert (
        await adapter.certificate_status(card.certificate_id, use_cause=use_cause)
        is CertificateStatus.VALID
    )
    await adapter.fetch_record(
        "household_registration",
        card.holder_code,
        HolderType.RESIDENT,
        ["registered_division"],
        use_cause=use_cause,
    )
    return 5


@pytest.mark.parametrize("cls", ADAPTERS, ids=IDS)
async def test_the_native_platform_receives_the_use_cause(
    cls: type[HttpProvinceAdapter],
) -> None:
    adapter, sandbox = cls.with_sandbox()
    async with adapter:
        calls = await _every_call(adapter, CAUSE)
    assert sandbox.use_causes == [CAUSE] * calls


async def test_jiangsu_sends_its_default_only_when_none_is_given() -> None:
    adapter, sandbox = JiangsuAdapter.with_sandbox()
    async with adapter:
        calls = await _every_call(adapter, None)
        assert sandbox.use_causes == [DEFAULT_USE_CAUSE] * calls
        adapter.use_cause = "本节点的默认事由"
        card = synthetic_population().region("320000").certificates[0]
        await adapter.certificate_status(card.certificate_id)
        await adapter.certificate_status(card.certificate_id, use_cause=CAUSE)
    assert sandbox.use_causes[-2:] == ["本节点的默认事由", CAUSE]


@pytest.mark.parametrize("cls", [ShanghaiAdapter, ZhejiangAdapter], ids=["shanghai", "zhejiang"])
async def test_no_use_cause_sends_no_native_field(cls: type[HttpProvinceAdapter]) -> None:
    adapter, sandbox = cls.with_sandbox()
    async with adapter:
        calls = await _every_call(adapter, None)
    assert sandbox.use_causes == [None] * calls
    assert not any(b"purpose" in r.url.raw_path for r in sandbox.requests)


async def test_shanghai_carries_the_cause_in_the_signed_query() -> None:
    adapter, sandbox = ShanghaiAdapter.with_sandbox()
    card = synthetic_population().region("310000").certificates[0]
    async with adapter:
        await adapter.certificate_status(card.certificate_id, use_cause=CAUSE)
    request = sandbox.requests[-1]
    assert request.url.params["purpose"] == CAUSE
    target = request.url.raw_path.decode("ascii")
    headers = request.headers

    def signature(signed_target: str) -> str:
        canonical = canonical_request(
            "GET", signed_target, headers["x-sh-timestamp"], headers["x-sh-nonce"], b""
        )
        return sh_signature(SHANGHAI_SANDBOX_CLIENT_SECRET, canonical)

    # The HMAC covers the query string, so the cause cannot be changed on the way.
    assert headers["x-sh-signature"] == signature(target)
    assert headers["x-sh-signature"] != signature(target.split("?", 1)[0])


async def test_memory_adapter_records_the_cause_of_each_hook_call() -> None:
    adapter = InMemoryAdapter.synthetic("320000")
    calls = await _every_call(adapter, CAUSE)
    assert adapter.use_causes == [CAUSE] * calls
    assert len(adapter.calls) == len(adapter.use_causes)


async def test_the_cause_is_stripped_and_bounded() -> None:
    adapter = InMemoryAdapter.synthetic("320000")
    cid = synthetic_population().region("320000").certificates[0].certificate_id
    await adapter.certificate_status(cid, use_cause="  户口迁移  ")
    assert adapter.use_causes == ["户口迁移"]
    await adapter.certificate_status(cid, use_cause="因" * MAX_USE_CAUSE_LENGTH)
    for bad in ("   ", "因" * (MAX_USE_CAUSE_LENGTH + 1), 42):
        with pytest.raises(InvalidInputError) as caught:
            await adapter.certificate_status(cid, use_cause=bad)  # type: ignore[arg-type]
        assert caught.value.field == "use_cause"
    # A refused cause never reached the platform.
    assert adapter.calls == ["certificate_status", "certificate_status"]


class _Watching(InMemoryAdapter):
    """Hooks with the original signatures, reading the cause from the call context."""

    seen: list[CallContext]

    async def _certificate_status(self, certificate_id: str) -> CertificateStatus:
        self.seen.append(self.call_context)
        await anyio.sleep(0)  # let the other call run in between
        self.seen.append(self.call_context)
        return await super()._certificate_status(certificate_id)

    async def _certificate_data(
        self, certificate_id: str, fields: tuple[str, ...]
    ) -> Mapping[str, str]:
        self.seen.append(self.call_context)
        return await super()._certificate_data(certificate_id, fields)


async def test_concurrent_calls_each_see_their_own_cause() -> None:
    adapter = _Watching.synthetic("320000")
    adapter.seen = []
    cid = synthetic_population().region("320000").certificates[0].certificate_id
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: adapter.certificate_status(cid, use_cause="甲"))
        tg.start_soon(lambda: adapter.certificate_status(cid, use_cause="乙"))
    assert sorted(c.use_cause or "" for c in adapter.seen) == ["乙", "乙", "甲", "甲"]
    # Each call saw the same cause before and after yielding.
    assert adapter.use_causes.count("甲") == adapter.use_causes.count("乙") == 1
    # Outside a call, and in a call made without one, the context is empty.
    assert adapter.call_context == CallContext()
    await adapter.certificate_data(cid, ["name"])
    assert adapter.seen[-1] == CallContext(use_cause=None)
