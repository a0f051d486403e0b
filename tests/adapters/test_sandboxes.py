"""Each province adapter against its sandbox: lookups, release, records and every fault."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deltafed import (
    AdapterAuthError,
    AdapterDataError,
    AdapterQuotaError,
    AdapterTimeoutError,
    AdapterUnavailableError,
    ConfigurationError,
    FixedClock,
    NotFoundError,
)
from deltafed.adapters import create_adapter
from deltafed.adapters._province import HttpProvinceAdapter
from deltafed.adapters.jiangsu import JiangsuAdapter
from deltafed.adapters.shanghai import ShanghaiAdapter
from deltafed.adapters.zhejiang import ZhejiangAdapter
from deltafed.schemas.common import CertificateStatus, HolderType
from deltafed.testing import JiangsuSandbox, ShanghaiSandbox, ZhejiangSandbox, synthetic_population

pytestmark = pytest.mark.anyio

ADAPTERS: list[type[HttpProvinceAdapter]] = [ShanghaiAdapter, JiangsuAdapter, ZhejiangAdapter]
IDS = [cls.name for cls in ADAPTERS]


def first_company_licence(region: str) -> tuple[str, str, str]:
    data = synthetic_population().region(region)
    cert = next(c for c in data.certificates if c.holder_type is HolderType.ORGANISATION)
    return cert.certificate_id, cert.holder_code, cert.type_code


@pytest.mark.parametrize("cls", ADAPTERS, ids=IDS)
async def test_lookups_release_and_records(cls: type[HttpProvinceAdapter]) -> None:
    adapter, _ = cls.with_sandbox()
    data = synthetic_population().region(adapter.region)
    async with adapter:
        for cert in data.certificates:
            meta = await adapter.find_certificate(certificate_id=cert.certificate_id)
            assert (meta.identifier, meta.number, meta.valid_until) == (
                cert.certificate_id,
                cert.number,
                cert.valid_until,
            )
        cid, holder, type_code = first_company_licence(adapter.region)
        meta = await adapter.find_certificate(
            holder_code=holder, holder_type=HolderType.ORGANISATION, type_code=type_code
        )
        assert meta.identifier == cid
        assert meta.valid_until is None  # long-term licence survives every native format
        released = await adapter.certificate_data(cid, ["legal_representative", "company_name"])
        assert list(released) == ["legal_representative", "company_name"]
        assert released["company_name"].startswith("测试样例")
        rec = await adapter.fetch_record(
            "enterprise_standing", holder, HolderType.ORGANISATION, ["employees", "in_operation"]
        )
        assert rec.fields["in_operation"] is True
        assert isinstance(rec.fields["employees"], int)
        assert rec.as_of == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("cls", ADAPTERS, ids=IDS)
async def test_holder_without_that_type_is_not_found(cls: type[HttpProvinceAdapter]) -> None:
    adapter, _ = cls.with_sandbox()
    data = synthetic_population().region(adapter.region)
    without = data.residents[1]  # residents at odd positions hold no driving licence
    licence_type = next(c.type_code for c in data.certificates if c.type_name == "机动车驾驶证")
    with pytest.raises(NotFoundError):
        await adapter.find_certificate(
            holder_code=without.resident_id, holder_type=HolderType.RESIDENT, type_code=licence_type
        )


@pytest.mark.parametrize("cls", ADAPTERS, ids=IDS)
async def test_revoked_mid_session(cls: type[HttpProvinceAdapter]) -> None:
    adapter, sandbox = cls.with_sandbox()
    cid = synthetic_population().region(adapter.region).certificates[2].certificate_id
    assert await adapter.certificate_status(cid) is CertificateStatus.VALID
    sandbox.revoke(cid)
    assert await adapter.certificate_status(cid) is CertificateStatus.REVOKED
    assert (await adapter.find_certificate(certificate_id=cid)).status is CertificateStatus.REVOKED
    with pytest.raises(NotFoundError):
        sandbox.revoke(cid[:-1] + "X")


@pytest.mark.parametrize("cls", ADAPTERS, ids=IDS)
async def test_expired_token_is_renewed_transparently(cls: type[HttpProvinceAdapter]) -> None:
    adapter, sandbox = cls.with_sandbox()
    cid = synthetic_population().region(adapter.region).certificates[0].certificate_id
    await adapter.certificate_status(cid)
    sandbox.faults.expired_token = 1
    before = len(sandbox.requests)
    assert await adapter.certificate_status(cid) is CertificateStatus.VALID
    assert len(sandbox.requests) - before == 3  # refused call, renewal, call again
    assert sandbox.faults.expired_token == 0


@pytest.mark.parametrize("cls", ADAPTERS, ids=IDS)
async def test_token_lifetime_runs_out_on_the_clock(cls: type[HttpProvinceAdapter]) -> None:
    clock = FixedClock(datetime(2026, 3, 1, tzinfo=UTC))
    adapter, _ = cls.with_sandbox(clock=clock)
    cid = synthetic_population().region(adapter.region).certificates[0].certificate_id
    await adapter.certificate_status(cid)
    clock.advance(3 * 24 * 3600)  # past every token and refresh-secret lifetime
    assert await adapter.certificate_status(cid) is CertificateStatus.VALID


@pytest.mark.parametrize("cls", ADAPTERS, ids=IDS)
@pytest.mark.parametrize(
    ("fault", "count", "error"),
    [
        ("bad_signature", 1, AdapterAuthError),
        ("quota_exceeded", 1, AdapterQuotaError),
        ("server_error", 3, AdapterUnavailableError),
        ("timeout", 3, AdapterTimeoutError),
        ("malformed_body", 1, AdapterDataError),
        ("truncated_body", 1, AdapterDataError),
    ],
)
async def test_fault_is_mapped(
    cls: type[HttpProvinceAdapter], fault: str, count: int, error: type[Exception]
) -> None:
    adapter, sandbox = cls.with_sandbox()
    cid = synthetic_population().region(adapter.region).certificates[0].certificate_id
    await adapter.certificate_status(cid)  # tokens in place
    sandbox.faults.set(**{fault: count})
    before = len(sandbox.requests)
    with pytest.raises(error):
        await adapter.certificate_status(cid)
    # Transient faults use up the three attempts; permanent ones are not retried.
    expected_calls = 3 if fault in {"server_error", "timeout"} else 1
    assert len(sandbox.requests) - before == expected_calls
    assert await adapter.certificate_status(cid) is CertificateStatus.VALID  # recovers


@pytest.mark.parametrize("cls", ADAPTERS, ids=IDS)
@pytest.mark.parametrize("fault", ["server_error", "timeout"])
async def test_transient_fault_cured_by_retry(cls: type[HttpProvinceAdapter], fault: str) -> None:
    adapter, sandbox = cls.with_sandbox(**{fault: 2})
    cid = synthetic_population().region(adapter.region).certificates[0].certificate_id
    meta = await adapter.find_certificate(certificate_id=cid)
    assert meta.identifier == cid
    assert getattr(sandbox.faults, fault) == 0


@pytest.mark.parametrize("cls", [ShanghaiAdapter, JiangsuAdapter], ids=["shanghai", "jiangsu"])
async def test_no_permission_for_a_type(cls: type[HttpProvinceAdapter]) -> None:
    adapter, sandbox = cls.with_sandbox()
    assert isinstance(sandbox, ShanghaiSandbox | JiangsuSandbox)
    cid, _, type_code = first_company_licence(adapter.region)
    sandbox.denied_types.add(type_code)
    before = len(sandbox.requests)
    with pytest.raises(AdapterAuthError):
        await adapter.certificate_data(cid, ["company_name"])
    assert len(sandbox.requests) - before == 2  # token + the refused call, no retry


async def test_zhejiang_datas_object_and_string_are_both_decoded() -> None:
    adapter, sandbox = ZhejiangAdapter.with_sandbox()
    assert isinstance(sandbox, ZhejiangSandbox)
    cid = synthetic_population().region("330000").certificates[0].certificate_id
    assert await adapter.certificate_status(cid) is CertificateStatus.VALID  # datas object
    assert (await adapter.find_certificate(certificate_id=cid)).identifier == cid  # string


async def test_zhejiang_refresh_secret_expiry_goes_back_to_the_app_secret() -> None:
    adapter, sandbox = ZhejiangAdapter.with_sandbox()
    assert isinstance(sandbox, ZhejiangSandbox)
    cid = synthetic_population().region("330000").certificates[0].certificate_id
    await adapter.certificate_status(cid)
    sandbox.expire_request_secrets()
    sandbox.expire_refresh_secrets()
    before = len(sandbox.requests)
    assert await adapter.certificate_status(cid) is CertificateStatus.VALID
    paths = [r.url.path for r in sandbox.requests[before:]]
    assert paths == [
        "/gateway/api/license/status.htm",
        "/gateway/app/refreshTokenBySec.htm",
        "/gateway/app/refreshTokenByKey.htm",
        "/gateway/api/license/status.htm",
    ]


@pytest.mark.parametrize("cls", ADAPTERS, ids=IDS)
async def test_configured_sandbox_with_faults(cls: type[HttpProvinceAdapter]) -> None:
    adapter = create_adapter(
        cls.name, {"sandbox": True, "seed": 11, "faults": {"quota_exceeded": 1}}
    )
    assert isinstance(adapter, cls)
    cid = synthetic_population(11).region(adapter.region).certificates[0].certificate_id
    with pytest.raises(AdapterQuotaError):
        await adapter.certificate_status(cid)
    assert await adapter.certificate_status(cid) is CertificateStatus.VALID
    await adapter.aclose()


@pytest.mark.parametrize("cls", ADAPTERS, ids=IDS)
def test_real_configuration_is_checked(cls: type[HttpProvinceAdapter]) -> None:
    creds = dict.fromkeys(cls.credential_keys, "x")
    adapter = cls.from_config({"base_url": "https://platform.example", **creds, "timeout": 5})
    assert adapter.region == cls.default_region
    assert adapter.timeout == 5.0
    assert cls.from_config({"base_url": "http://127.0.0.1:8080", **creds}).sandbox is None
    bad_configs = [
        {"base_url": "http://platform.example", **creds},  # plain http off loopback
        {"base_url": "https://platform.example"},  # no credentials
        {**creds},  # no base_url
        {"base_url": "https://platform.example", **creds, "colour": "red"},
        {"base_url": "https://platform.example", **creds, "faults": {"timeout": 1}},
        {"sandbox": True, "faults": {"earthquake": 1}},
        {"sandbox": "yes"},
        {"sandbox": True, "timeout": -1},
    ]
    for config in bad_configs:
        with pytest.raises(ConfigurationError):
            cls.from_config(config)


@pytest.mark.parametrize("cls", ADAPTERS, ids=IDS)
async def test_unreachable_platform_is_unavailable(cls: type[HttpProvinceAdapter]) -> None:
    # Port 9 on loopback: nothing listens, the connection is refused at once.
    creds = dict.fromkeys(cls.credential_keys, "x")
    adapter = cls.from_config({"base_url": "http://127.0.0.1:9", **creds, "retry": {"attempts": 1}})
    cid = synthetic_population().region(adapter.region).certificates[0].certificate_id
    with pytest.raises(AdapterUnavailableError):
        await adapter.certificate_status(cid)
    await adapter.aclose()
