"""Certificate metadata (GB/T 36903) and its pinyin / yyyyMMdd mapping."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from deltafed import IdentifierError, InvalidInputError, SchemaValidationError
from deltafed.schemas.certificates import (
    PINYIN_FIELDS,
    CertificateMetadata,
    format_yyyymmdd,
    parse_yyyymmdd,
)
from deltafed.schemas.common import CertificateStatus, HolderType

# GB/T 36904 vector from DOMAIN.md: type 11100000000013338W032, issuer 11220000013544541J.
CERT_ID = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"
RESIDENT = "31010419900307123X"  # synthetic, valid check character
COMPANY = "91330100MC3D4E5F67"  # synthetic, valid check characters


def gbt(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ZZMC": "Synthetic driving licence",
        "ZZLXDM": "11100000000013338W032",
        "ZZBH": "SYN-0001",
        "ZZBS": CERT_ID,
        "ZZBFJG": "Synthetic licensing office",
        "ZZBFJGDM": "11220000013544541J",
        "ZZBFRQ": "20240105",
        "CZZT": "Test Holder",
        "CZZTDM": RESIDENT.lower(),
        "CZZTDMLXDM": "111",
        "ZZYXQQSRQ": "20240105",
        "ZZYXQJZRQ": "20300104",
        "ZZZT": "01",
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def test_pinyin_table_is_the_documented_one() -> None:
    assert dict(PINYIN_FIELDS) == {
        "name": "ZZMC",
        "type_code": "ZZLXDM",
        "number": "ZZBH",
        "identifier": "ZZBS",
        "issuer_name": "ZZBFJG",
        "issuer_code": "ZZBFJGDM",
        "issued_on": "ZZBFRQ",
        "holder_name": "CZZT",
        "holder_type": "CZZTDMLXDM",
        "holder_code": "CZZTDM",
        "valid_from": "ZZYXQQSRQ",
        "valid_until": "ZZYXQJZRQ",
        "status": "ZZZT",
    }
    assert set(PINYIN_FIELDS) == set(CertificateMetadata.model_fields)
    with pytest.raises(TypeError):
        PINYIN_FIELDS["name"] = "X"  # type: ignore[index]


def test_from_gbt36903_maps_names_and_dates_and_round_trips() -> None:
    meta = CertificateMetadata.from_gbt36903(gbt())
    assert meta.issued_on == date(2024, 1, 5)
    assert meta.valid_until == date(2030, 1, 4)
    assert meta.holder_type is HolderType.RESIDENT
    assert meta.holder_code == RESIDENT  # lowercase x normalised
    assert meta.status is CertificateStatus.VALID
    assert meta.to_gbt36903() == gbt(CZZTDM=RESIDENT)
    wire = meta.to_wire()
    assert wire["issued_on"] == "2024-01-05"
    assert CertificateMetadata.parse(wire) == meta
    assert CertificateMetadata.parse_json(meta.model_dump_json()) == meta


@pytest.mark.parametrize("marker", [None, "", "长期"])
def test_long_term_validity(marker: str | None) -> None:
    meta = CertificateMetadata.from_gbt36903(gbt(ZZYXQJZRQ=marker))
    assert meta.valid_until is None
    assert "ZZYXQJZRQ" not in meta.to_gbt36903()
    assert meta.is_valid_on(date(2999, 1, 1))


def test_old_holder_type_key_is_accepted() -> None:
    record = gbt()
    record["CZZTDMLX"] = record.pop("CZZTDMLXDM")
    assert CertificateMetadata.from_gbt36903(record).holder_type is HolderType.RESIDENT
    record["CZZTDMLXDM"] = "111"
    with pytest.raises(SchemaValidationError) as info:
        CertificateMetadata.from_gbt36903(record)
    assert info.value.field == "CZZTDMLXDM"


def test_is_valid_on() -> None:
    meta = CertificateMetadata.from_gbt36903(gbt())
    assert meta.is_valid_on(date(2024, 1, 5))
    assert meta.is_valid_on(date(2030, 1, 4))
    assert not meta.is_valid_on(date(2024, 1, 4))
    assert not meta.is_valid_on(date(2030, 1, 5))
    revoked = CertificateMetadata.from_gbt36903(gbt(ZZZT="03"))
    assert not revoked.is_valid_on(date(2025, 1, 1))


@pytest.mark.parametrize(
    ("over", "field", "cls"),
    [
        ({"ZZBFRQ": "2024-01-05"}, "ZZBFRQ", SchemaValidationError),
        ({"ZZBFRQ": "20240230"}, "ZZBFRQ", SchemaValidationError),
        ({"ZZYXQQSRQ": 20240105}, "ZZYXQQSRQ", SchemaValidationError),
        ({"ZZYXQJZRQ": "2030010"}, "ZZYXQJZRQ", SchemaValidationError),
        ({"ZZYXQJZRQ": "20240104"}, "ZZYXQJZRQ", SchemaValidationError),
        ({"CZZTDM": "110101197608056896"}, "CZZTDM", IdentifierError),
        ({"CZZTDM": COMPANY}, "CZZTDM", IdentifierError),  # a credit code for type 111
        ({"CZZTDMLXDM": "002"}, "CZZTDMLXDM", SchemaValidationError),
        ({"ZZBFJGDM": "91350100M000100Y4Z"}, "ZZBFJGDM", IdentifierError),
        ({"ZZBFJGDM": "91350100M000100Y43"}, "ZZBS", SchemaValidationError),
        ({"ZZLXDM": "91350100M000100Y43001"}, "ZZBS", SchemaValidationError),
        ({"ZZLXDM": "11100000000013338W03"}, "ZZLXDM", IdentifierError),
        ({"ZZBS": CERT_ID[:-1] + "G"}, "ZZBS", IdentifierError),
        ({"ZZZT": "06"}, "ZZZT", SchemaValidationError),
        ({"ZZMC": ""}, "ZZMC", SchemaValidationError),
        ({"ZZMC": "x" * 129}, "ZZMC", SchemaValidationError),
        ({"ZZBH": None}, "ZZBH", SchemaValidationError),
        ({"XYZ": "1"}, "XYZ", SchemaValidationError),
    ],
)
def test_from_gbt36903_errors_name_the_pinyin_field(
    over: dict[str, Any], field: str, cls: type[InvalidInputError]
) -> None:
    with pytest.raises(cls) as info:
        CertificateMetadata.from_gbt36903(gbt(**over))
    assert info.value.field == field
    assert type(info.value) is cls


def test_company_holder() -> None:
    meta = CertificateMetadata.from_gbt36903(gbt(CZZTDM=COMPANY.lower(), CZZTDMLXDM="001"))
    assert meta.holder_code == COMPANY


def test_date_helpers() -> None:
    assert parse_yyyymmdd("20240229", field="ZZBFRQ") == date(2024, 2, 29)
    with pytest.raises(SchemaValidationError, match="ZZBFRQ"):
        parse_yyyymmdd("20230229", field="ZZBFRQ")
    assert format_yyyymmdd(date(987, 6, 5)) == "09870605"


def test_wire_dates_are_iso_only() -> None:
    wire = CertificateMetadata.from_gbt36903(gbt()).to_wire()
    for bad in ["20240105", "2024-1-05", "2024-01-05T00:00:00", 20240105, "2024-02-30"]:
        with pytest.raises(SchemaValidationError) as info:
            CertificateMetadata.parse({**wire, "issued_on": bad})
        assert info.value.field == "issued_on"
