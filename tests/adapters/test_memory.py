"""The base class's invariants, exercised through the in-memory adapter."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import anyio
import pytest

from deltafed import (
    AdapterDataError,
    AdapterError,
    AdapterTimeoutError,
    AdapterUnavailableError,
    ConfigurationError,
    IdentifierError,
    InvalidInputError,
    NotFoundError,
    SizeLimitError,
)
from deltafed.adapters import RecordData
from deltafed.schemas.certificates import CertificateMetadata
from deltafed.schemas.common import CertificateStatus, HolderType
from deltafed.testing import InMemoryAdapter, synthetic_catalogue, synthetic_population

pytestmark = pytest.mark.anyio

REGION = "320000"
DATA = synthetic_population().region(REGION)
CARD = DATA.certificates[0]
PERSON = DATA.residents[0]


@pytest.fixture
def adapter() -> InMemoryAdapter:
    return InMemoryAdapter.synthetic(REGION)


async def test_find_by_identifier_and_by_holder(adapter: InMemoryAdapter) -> None:
    by_id = await adapter.find_certificate(certificate_id=CARD.certificate_id)
    assert by_id.identifier == CARD.certificate_id
    assert by_id.holder_code == PERSON.resident_id
    by_holder = await adapter.find_certificate(
        holder_code=PERSON.resident_id, holder_type=HolderType.RESIDENT, type_code=CARD.type_code
    )
    assert by_holder == by_id


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({}, InvalidInputError),
        (
            {"certificate_id": CARD.certificate_id, "holder_code": PERSON.resident_id},
            InvalidInputError,
        ),
        (
            {"holder_code": PERSON.resident_id, "holder_type": HolderType.RESIDENT},
            InvalidInputError,
        ),
        ({"certificate_id": CARD.certificate_id[:-1] + "0"}, IdentifierError),
        (
            {
                "holder_code": PERSON.resident_id[:-1] + "0",
                "holder_type": HolderType.RESIDENT,
                "type_code": CARD.type_code,
            },
            IdentifierError,
        ),
        (
            {
                "holder_code": DATA.companies[0].credit_code,
                "holder_type": HolderType.ORGANISATION,
                "type_code": CARD.type_code,
            },
            InvalidInputError,
        ),
    ],
)
async def test_find_refuses_bad_questions(
    adapter: InMemoryAdapter, kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        await adapter.find_certificate(**kwargs)  # type: ignore[arg-type]
    assert adapter.calls == []  # refused before the platform was asked


async def test_unknown_certificate_is_not_found(adapter: InMemoryAdapter) -> None:
    other_region = synthetic_population().region("310000").certificates[0]
    with pytest.raises(NotFoundError):
        await adapter.find_certificate(certificate_id=other_region.certificate_id)


async def test_type_not_in_catalogue_is_not_found_before_asking(adapter: InMemoryAdapter) -> None:
    from deltafed.adapters._synthetic import agency_credit_code, certificate_identifier

    unknown_type = agency_credit_code("100000", 99) + "001"
    cid = certificate_identifier(unknown_type, CARD.issuer_code, "T1")
    with pytest.raises(NotFoundError):
        await adapter.find_certificate(certificate_id=cid)
    assert adapter.calls == []


async def test_certificate_data_releases_exactly_the_fields(adapter: InMemoryAdapter) -> None:
    out = await adapter.certificate_data(CARD.certificate_id, ["name", "birth_date"])
    assert out == {"name": PERSON.name, "birth_date": PERSON.birth_date.isoformat()}


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ([], InvalidInputError),
        (["name", "name"], InvalidInputError),
        (["spouse_name"], InvalidInputError),  # a field of another type
        ("name", InvalidInputError),
        ([f"f{i}" for i in range(65)], SizeLimitError),
    ],
)
async def test_certificate_data_refuses_bad_field_lists(
    adapter: InMemoryAdapter, fields: list[str], error: type[Exception]
) -> None:
    with pytest.raises(error):
        await adapter.certificate_data(CARD.certificate_id, fields)


async def test_status_follows_revocation(adapter: InMemoryAdapter) -> None:
    assert await adapter.certificate_status(CARD.certificate_id) is CertificateStatus.VALID
    adapter.revoke(CARD.certificate_id)
    assert await adapter.certificate_status(CARD.certificate_id) is CertificateStatus.REVOKED
    meta = await adapter.find_certificate(certificate_id=CARD.certificate_id)
    assert meta.status is CertificateStatus.REVOKED


async def test_fetch_record(adapter: InMemoryAdapter) -> None:
    rec = await adapter.fetch_record(
        "social_insurance", PERSON.resident_id, HolderType.RESIDENT, ["months_paid", "insured"]
    )
    assert rec.record_type == "social_insurance"
    assert list(rec.fields) == ["months_paid", "insured"]
    assert rec.fields["insured"] is True
    assert isinstance(rec.fields["months_paid"], int)
    with pytest.raises(NotFoundError):
        await adapter.fetch_record("tax", PERSON.resident_id, HolderType.RESIDENT, ["x"])
    with pytest.raises(InvalidInputError):
        await adapter.fetch_record(
            "social_insurance", DATA.companies[0].credit_code, HolderType.ORGANISATION, ["insured"]
        )


# --- a misbehaving adapter: the base must catch every kind of bad output --------------------


class Misbehaving(InMemoryAdapter):
    name = "misbehaving"

    def __init__(self, mode: str) -> None:
        base = InMemoryAdapter.synthetic(REGION)
        super().__init__(
            REGION, synthetic_catalogue(REGION), base._certificates.values(), base._records.values()
        )
        self.mode = mode

    async def _find_certificate(self, **kwargs: object) -> CertificateMetadata:  # type: ignore[override]
        if self.mode == "other_certificate":
            return await super()._find_certificate(
                certificate_id=DATA.certificates[1].certificate_id,
                holder_code=None,
                holder_type=None,
                type_code=None,
            )
        if self.mode == "not_a_model":
            return {"identifier": CARD.certificate_id}  # type: ignore[return-value]
        if self.mode == "unvalidated":
            good = await super()._find_certificate(**kwargs)  # type: ignore[arg-type]
            return CertificateMetadata.model_construct(**{**dict(good), "holder_code": "x"})
        if self.mode == "hang":
            await anyio.sleep_forever()
        if self.mode == "crash":
            raise RuntimeError("boom")
        if self.mode == "os":
            raise ConnectionResetError("reset")
        if self.mode == "key":
            raise KeyError("ZZBS")
        return await super()._find_certificate(**kwargs)  # type: ignore[arg-type]

    async def _certificate_data(
        self, certificate_id: str, fields: tuple[str, ...]
    ) -> Mapping[str, str]:
        data = dict(await super()._certificate_data(certificate_id, fields))
        if self.mode == "extra_field":
            data["address"] = "x"
        if self.mode == "non_string":
            data[fields[0]] = 5  # type: ignore[assignment]
        if self.mode == "huge":
            data[fields[0]] = "x" * 5000
        return data

    async def _certificate_status(self, certificate_id: str) -> CertificateStatus:
        if self.mode == "bad_status":
            return "42"  # type: ignore[return-value]
        return await super()._certificate_status(certificate_id)

    async def _fetch_record(
        self, record_type: str, subject_code: str, subject_type: HolderType, fields: tuple[str, ...]
    ) -> RecordData:
        rec = await super()._fetch_record(record_type, subject_code, subject_type, fields)
        if self.mode == "naive_time":
            return RecordData(record_type, datetime(2026, 1, 1), rec.fields)
        if self.mode == "float":
            return RecordData(record_type, rec.as_of, dict.fromkeys(fields, 1.5))
        if self.mode == "wrong_type":
            return RecordData("household_registration", rec.as_of, rec.fields)
        return rec


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("other_certificate", AdapterDataError),
        ("not_a_model", AdapterDataError),
        ("unvalidated", AdapterDataError),
        ("crash", AdapterError),
        ("os", AdapterUnavailableError),
        ("key", AdapterDataError),
    ],
)
async def test_bad_find_output_is_refused(mode: str, error: type[Exception]) -> None:
    adapter = Misbehaving(mode)
    with pytest.raises(error) as info:
        await adapter.find_certificate(certificate_id=CARD.certificate_id)
    assert info.value.__cause__ is not None or mode in {"other_certificate", "not_a_model"}


async def test_hook_that_hangs_times_out() -> None:
    adapter = Misbehaving("hang")
    adapter.timeout = 0.01
    with pytest.raises(AdapterTimeoutError):
        await adapter.find_certificate(certificate_id=CARD.certificate_id)


@pytest.mark.parametrize("mode", ["extra_field", "non_string", "huge"])
async def test_bad_data_output_is_refused(mode: str) -> None:
    with pytest.raises(AdapterDataError):
        await Misbehaving(mode).certificate_data(CARD.certificate_id, ["name"])


async def test_bad_status_is_refused() -> None:
    with pytest.raises(AdapterDataError):
        await Misbehaving("bad_status").certificate_status(CARD.certificate_id)


@pytest.mark.parametrize("mode", ["naive_time", "float", "wrong_type"])
async def test_bad_record_output_is_refused(mode: str) -> None:
    with pytest.raises(AdapterDataError):
        await Misbehaving(mode).fetch_record(
            "social_insurance", PERSON.resident_id, HolderType.RESIDENT, ["insured"]
        )


async def test_closed_adapter_refuses_calls(adapter: InMemoryAdapter) -> None:
    async with adapter as same:
        assert same is adapter
    with pytest.raises(AdapterUnavailableError):
        await adapter.certificate_status(CARD.certificate_id)


def test_from_config() -> None:
    adapter = InMemoryAdapter.from_config({"region": "330000", "seed": 7})
    assert adapter.region == "330000"
    assert adapter.catalogue().region == "330000"
    for bad in ({}, {"region": "330000", "colour": "red"}, {"region": "999999"}):
        with pytest.raises(ConfigurationError):
            InMemoryAdapter.from_config(bad)


def test_seeded_data_must_match_the_catalogue() -> None:
    from deltafed.testing import MemoryRecord

    with pytest.raises(ConfigurationError):
        InMemoryAdapter(
            REGION,
            synthetic_catalogue(REGION),
            records=[
                MemoryRecord("tax", PERSON.resident_id, HolderType.RESIDENT, datetime.now(UTC))
            ],
        )
