"""The optional correction and revocation hooks (an upheld objection), on every built-in
adapter and its sandbox; a plugin without them says so with NotSupportedError."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from deltafed import InvalidInputError, NotFoundError, NotSupportedError
from deltafed.adapters import ProvinceAdapter, RecordData
from deltafed.adapters._synthetic import IDENTITY_CARD, synthetic_catalogue, synthetic_population
from deltafed.adapters.jiangsu import JiangsuAdapter
from deltafed.adapters.shanghai import ShanghaiAdapter
from deltafed.adapters.zhejiang import ZhejiangAdapter
from deltafed.schemas.catalogue import Catalogue
from deltafed.schemas.certificates import CertificateMetadata
from deltafed.schemas.common import CertificateStatus, HolderType
from deltafed.testing import InMemoryAdapter

pytestmark = pytest.mark.anyio
KINDS = ["memory", "shanghai", "jiangsu", "zhejiang"]
_REGIONS = {"memory": "320000", "shanghai": "310000", "jiangsu": "320000", "zhejiang": "330000"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=KINDS)
async def adapter(request: pytest.FixtureRequest) -> AsyncIterator[ProvinceAdapter]:
    kind = request.param
    made: ProvinceAdapter
    if kind == "memory":
        made = InMemoryAdapter.synthetic(_REGIONS[kind])
    else:
        cls = {"shanghai": ShanghaiAdapter, "jiangsu": JiangsuAdapter, "zhejiang": ZhejiangAdapter}
        made, _ = cls[kind].with_sandbox()
    try:
        yield made
    finally:
        await made.aclose()


def _card(region: str) -> Any:
    return next(
        c
        for c in synthetic_population().region(region).certificates
        if c.type_code == IDENTITY_CARD.type_code and c.status is CertificateStatus.VALID
    )


async def test_correct_issues_a_new_valid_version(adapter: ProvinceAdapter) -> None:
    card = _card(adapter.region)
    meta = await adapter.correct_certificate(
        card.certificate_id, {"address": "测试路9号", "name": "测试更正"}, reason="异议处理 (test)"
    )
    assert meta.identifier != card.certificate_id
    assert meta.identifier.split(".")[:8] == card.certificate_id.split(".")[:8]  # same serial
    assert meta.status is CertificateStatus.VALID
    assert meta.holder_name == "测试更正"
    data = await adapter.certificate_data(meta.identifier, ["address", "name", "gender"])
    assert data == {"address": "测试路9号", "name": "测试更正", "gender": card.data["gender"]}
    old = await adapter.find_certificate(certificate_id=card.certificate_id)
    assert old.status is CertificateStatus.CANCELLED
    found = await adapter.find_certificate(
        holder_code=card.holder_code, holder_type=HolderType.RESIDENT, type_code=card.type_code
    )
    assert found.identifier == meta.identifier


async def test_revoke(adapter: ProvinceAdapter) -> None:
    card = _card(adapter.region)
    status = await adapter.revoke_certificate(card.certificate_id, reason="异议处理 (test)")
    assert status is CertificateStatus.REVOKED
    assert (await adapter.certificate_status(card.certificate_id)) is CertificateStatus.REVOKED


async def test_inputs_are_checked_before_the_platform(adapter: ProvinceAdapter) -> None:
    card = _card(adapter.region)
    with pytest.raises(InvalidInputError):
        await adapter.correct_certificate(card.certificate_id, {"address": "x"}, reason=" ")
    with pytest.raises(InvalidInputError):
        await adapter.correct_certificate(card.certificate_id, {"no_such": "x"}, reason="r")
    with pytest.raises(InvalidInputError):
        await adapter.correct_certificate(card.certificate_id, {"address": ""}, reason="r")
    with pytest.raises(InvalidInputError):
        await adapter.revoke_certificate("not-a-certificate", reason="r")


class _Plugin(ProvinceAdapter):
    """A minimal plugin that implements only the required hooks."""

    name = "minimal"

    def _catalogue(self) -> Catalogue:
        return synthetic_catalogue(self.region)

    async def _find_certificate(self, **kw: Any) -> CertificateMetadata:
        raise NotFoundError("none")

    async def _certificate_data(
        self, certificate_id: str, fields: tuple[str, ...]
    ) -> Mapping[str, str]:
        raise NotFoundError("none")

    async def _certificate_status(self, certificate_id: str) -> CertificateStatus:
        raise NotFoundError("none")

    async def _fetch_record(self, *args: Any) -> RecordData:
        raise NotFoundError("none")


async def test_a_plugin_may_omit_the_hooks() -> None:
    plugin = _Plugin(region="320000")
    card = _card("320000")
    with pytest.raises(NotSupportedError) as caught:
        await plugin.correct_certificate(card.certificate_id, {"address": "x"}, reason="r")
    assert caught.value.code == "not_supported"
    with pytest.raises(NotSupportedError):
        await plugin.revoke_certificate(card.certificate_id, reason="r")
