"""The province adapters honour their RetryPolicy, and send a write only once.

On each built-in adapter and its sandbox: the policy's attempts bound the requests, its
``retry_on`` chooses the failures retried, a correction or a revocation is never sent twice
(after a 5xx nobody knows whether the platform acted), and the ``retry`` table of the
adapter's configuration is read with the policy's own field names."""

from __future__ import annotations

from typing import Any

import pytest

from deltafed import (
    AdapterTimeoutError,
    AdapterUnavailableError,
    ConfigurationError,
    RetryPolicy,
)
from deltafed.adapters._province import HttpProvinceAdapter
from deltafed.adapters._synthetic import IDENTITY_CARD
from deltafed.adapters.jiangsu import JiangsuAdapter
from deltafed.adapters.shanghai import ShanghaiAdapter
from deltafed.adapters.zhejiang import ZhejiangAdapter
from deltafed.schemas.common import CertificateStatus
from deltafed.testing import synthetic_population

pytestmark = pytest.mark.anyio
ADAPTERS: list[type[HttpProvinceAdapter]] = [ShanghaiAdapter, JiangsuAdapter, ZhejiangAdapter]
IDS = [cls.name for cls in ADAPTERS]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _card_id(region: str) -> str:
    return next(
        c.certificate_id
        for c in synthetic_population().region(region).certificates
        if c.type_code == IDENTITY_CARD.type_code and c.status is CertificateStatus.VALID
    )


async def _requests_for(adapter: HttpProvinceAdapter, call: Any, **faults: int) -> int:
    """How many requests ``call`` made to the sandbox with ``faults`` set (tokens in place)."""
    sandbox = adapter.sandbox
    assert sandbox is not None
    await adapter.certificate_status(_card_id(adapter.region))  # tokens in place
    sandbox.faults.set(**faults)
    before = len(sandbox.requests)
    try:
        await call()
    finally:
        sandbox.faults.set(server_error=0, timeout=0)
    return len(sandbox.requests) - before


@pytest.mark.parametrize("cls", ADAPTERS, ids=IDS)
@pytest.mark.parametrize("attempts", [1, 2, 5])
async def test_the_attempts_bound_the_requests(
    cls: type[HttpProvinceAdapter], attempts: int
) -> None:
    adapter, _ = cls.with_sandbox(retry=RetryPolicy.no_wait(attempts=attempts))
    cid = _card_id(adapter.region)
    failing = lambda: adapter.certificate_status(cid)  # noqa: E731
    with pytest.raises(AdapterUnavailableError):
        await _requests_for(adapter, failing, server_error=attempts)
    # As many failures as attempts: the last is raised. One fewer: the last try answers.
    assert await _requests_for(adapter, failing, server_error=attempts - 1) == attempts
    await adapter.aclose()


@pytest.mark.parametrize("cls", ADAPTERS, ids=IDS)
async def test_retry_on_chooses_the_failures_retried(cls: type[HttpProvinceAdapter]) -> None:
    only_timeouts = RetryPolicy(
        attempts=3, initial_wait=0, max_wait=0, retry_on=(AdapterTimeoutError,)
    )
    adapter, sandbox = cls.with_sandbox(retry=only_timeouts)
    cid = _card_id(adapter.region)
    assert await _requests_for(adapter, lambda: adapter.certificate_status(cid), timeout=2) == 3
    await adapter.certificate_status(cid)
    sandbox.faults.set(server_error=1)
    before = len(sandbox.requests)
    with pytest.raises(AdapterUnavailableError):
        await adapter.certificate_status(cid)
    assert len(sandbox.requests) - before == 1
    await adapter.aclose()


@pytest.mark.parametrize("cls", ADAPTERS, ids=IDS)
@pytest.mark.parametrize("fault", ["server_error", "timeout"])
async def test_a_write_is_sent_once(cls: type[HttpProvinceAdapter], fault: str) -> None:
    adapter, sandbox = cls.with_sandbox(retry=RetryPolicy.no_wait(attempts=3))
    cid = _card_id(adapter.region)
    error = AdapterUnavailableError if fault == "server_error" else AdapterTimeoutError

    async def correct() -> object:
        return await adapter.correct_certificate(cid, {"address": "测试路1号"}, reason="test")

    async def revoke() -> object:
        return await adapter.revoke_certificate(cid, reason="test")

    for write in (correct, revoke):
        await adapter.certificate_status(cid)
        sandbox.faults.set(**{fault: 1})
        before = len(sandbox.requests)
        with pytest.raises(error):
            await write()
        assert len(sandbox.requests) - before == 1
        assert getattr(sandbox.faults, fault) == 0
    # The same fault on a read is cured by the retry.
    sandbox.faults.set(**{fault: 1})
    assert await adapter.certificate_status(cid) is CertificateStatus.VALID
    await adapter.aclose()


@pytest.mark.parametrize("cls", ADAPTERS, ids=IDS)
async def test_the_retry_table_of_the_configuration(cls: type[HttpProvinceAdapter]) -> None:
    config = {"sandbox": True, "retry": {"attempts": 2, "initial_wait": 0, "max_wait": 0}}
    adapter = cls.from_config(config)
    cid = _card_id(adapter.region)
    with pytest.raises(AdapterUnavailableError):
        await _requests_for(adapter, lambda: adapter.certificate_status(cid), server_error=2)
    assert await adapter.certificate_status(cid) is CertificateStatus.VALID
    await adapter.aclose()
    with pytest.raises(ConfigurationError, match=r"\[adapter.config.retry\]: unknown keys"):
        cls.from_config({"sandbox": True, "retry": {"retries": 2}})
    with pytest.raises(ConfigurationError, match="unknown settings"):
        cls.from_config({"sandbox": True, "retry_attempts": 2})
