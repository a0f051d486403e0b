"""Every built-in adapter passes the same contract checks, against its sandbox."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from deltafed.adapters import InMemoryAdapter, ProvinceAdapter, load_adapter
from deltafed.adapters.contract import check_adapter, sample_for
from deltafed.adapters.jiangsu import JiangsuAdapter
from deltafed.adapters.shanghai import ShanghaiAdapter
from deltafed.adapters.zhejiang import ZhejiangAdapter

pytestmark = pytest.mark.anyio


def memory() -> tuple[ProvinceAdapter, Callable[[str], object]]:
    adapter = InMemoryAdapter.synthetic("340000")
    return adapter, adapter.revoke


def province(
    cls: type[ShanghaiAdapter | JiangsuAdapter | ZhejiangAdapter],
) -> Callable[[], tuple[ProvinceAdapter, Callable[[str], object]]]:
    def make() -> tuple[ProvinceAdapter, Callable[[str], object]]:
        adapter, sandbox = cls.with_sandbox()
        return adapter, sandbox.revoke

    return make


FACTORIES = {
    "memory": memory,
    "shanghai": province(ShanghaiAdapter),
    "jiangsu": province(JiangsuAdapter),
    "zhejiang": province(ZhejiangAdapter),
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
async def test_builtin_adapter_passes_the_contract(name: str) -> None:
    adapter, revoke = FACTORIES[name]()
    report = await check_adapter(adapter, sample_for(adapter.region), revoke=revoke)
    assert report.failed == []
    assert "revocation_seen" in report.passed
    assert len(report.passed) == 13
    assert "use_cause_accepted" in report.passed


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_builtin_adapter_is_found_by_its_entry_point(name: str) -> None:
    cls = load_adapter(name)
    assert cls.name == name
    assert type(FACTORIES[name]()[0]) is cls


async def test_a_broken_adapter_fails_the_contract() -> None:
    # The checker itself must be able to fail: an adapter that mixes up holders.
    class Wrong(InMemoryAdapter):
        async def _certificate_status(self, certificate_id: str):  # type: ignore[no-untyped-def]
            return "01"  # never reports a revocation

    adapter = Wrong.synthetic("340000")
    report = await check_adapter(adapter, sample_for("340000"), revoke=adapter.revoke)
    assert [name for name, _ in report.failed] == ["revocation_seen"]
