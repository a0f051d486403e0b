"""The catalogue and use-scenario list: validation and the permission check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from deltafed import InvalidInputError, SchemaValidationError
from deltafed.schemas.catalogue import (
    Catalogue,
    CertificateType,
    FieldSpec,
    RecordType,
    ScenarioList,
    UseScenario,
)
from deltafed.schemas.common import HolderType
from deltafed.schemas.identifiers import MemberId

# Synthetic codes with correct check characters (see test_identifiers for how they are built).
AGENCY = "11310000MA1B2C3D87"
TYPE_CODE = AGENCY + "001"
OTHER_TYPE_CODE = AGENCY + "002"
CERT_ID = "1.2.156.3005.2.11310000MA1B2C3D87001.11320100MB2C3D4E7X.7.001.8"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def cert_type(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type_code": TYPE_CODE,
        "name": "Synthetic business licence",
        "region": "310000",
        "holder_types": ["001"],
        "fields": [
            {"name": "holder_name", "title": "Holder name"},
            {"name": "valid_until", "title": "Valid until", "personal": False},
        ],
    }
    base.update(over)
    return base


def scenario(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "sc-open-shop",
        "name": "Open a shop in another region",
        "service_matter": "Registration of an individual business",
        "legal_basis": "Synthetic regulation article 1",
        "requester": "320000/scjg",
        "providers": ["310000"],
        "operations": ["certificate.verify", "certificate.release"],
        "certificate_types": [TYPE_CODE],
        "allowed_fields": ["holder_name"],
        "consent_required": True,
        "max_consent_days": 30,
    }
    base.update(over)
    return base


def test_certificate_type_parses_and_looks_up_fields() -> None:
    ct = CertificateType.parse(cert_type())
    assert ct.holder_types == (HolderType.ORGANISATION,)
    assert ct.field("holder_name") == FieldSpec(name="holder_name", title="Holder name")
    assert ct.field("valid_until") is not None
    assert ct.field("valid_until").personal is False  # type: ignore[union-attr]
    assert ct.field("missing") is None


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"type_code": AGENCY + "01"}, "type_code"),
        ({"type_code": AGENCY[:-1] + "0001"}, "type_code"),
        ({"type_code": AGENCY + "00A"}, "type_code"),
        ({"region": "310100"}, "region"),
        ({"holder_types": []}, "holder_types"),
        ({"holder_types": ["001", "001"]}, "holder_types"),
        ({"holder_types": ["002"]}, "holder_types[0]"),
        (
            {"fields": [{"name": "a", "title": "A"}, {"name": "a", "title": "A again"}]},
            "fields",
        ),
        ({"fields": [{"name": "a b", "title": "A"}]}, "fields[0].name"),
    ],
)
def test_certificate_type_rejects(over: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        CertificateType.parse(cert_type(**over))
    assert info.value.field is not None
    assert info.value.field == field


def test_catalogue_lookup_and_region_rule() -> None:
    record = {
        "code": "hukou",
        "name": "Household registration",
        "region": "310000",
        "subject_types": ["111"],
        "fields": [{"name": "address", "title": "Registered address"}],
    }
    cat = Catalogue.parse(
        {"region": "310000", "certificate_types": [cert_type()], "record_types": [record]}
    )
    assert cat.certificate_type(TYPE_CODE) is cat.certificate_types[0]
    assert cat.certificate_type(OTHER_TYPE_CODE) is None
    assert cat.record_type("hukou") == RecordType.parse(record)
    assert cat.record_type("other") is None

    with pytest.raises(SchemaValidationError) as info:
        Catalogue.parse({"region": "320000", "certificate_types": [cert_type()]})
    assert info.value.field == "certificate_types"
    assert info.value.error_type == "schema_region_mismatch"

    with pytest.raises(SchemaValidationError) as info:
        Catalogue.parse({"region": "310000", "record_types": [record, record]})
    assert info.value.field == "record_types"
    assert info.value.error_type == "schema_duplicate"


def test_scenario_permits_exactly_what_it_names() -> None:
    sc = UseScenario.parse(scenario())
    assert sc.requester == MemberId("320000/scjg")
    ok = ("320000/scjg/portal", "310000", "certificate.verify", TYPE_CODE)
    assert sc.permits(*ok)
    assert sc.permits("320000/scjg", "310000", "certificate.release", TYPE_CODE)
    assert sc.permits("320000/scjg/portal", "310000", "certificate.verify", CERT_ID)
    # Each element changed on its own is refused.
    assert not sc.permits("320000/gongan", *ok[1:])
    assert not sc.permits("330000/scjg", *ok[1:])
    assert not sc.permits("not a member", *ok[1:])
    assert not sc.permits(ok[0], "330000", *ok[2:])
    assert not sc.permits(*ok[:2], "record.request", TYPE_CODE)
    assert not sc.permits(*ok[:3], OTHER_TYPE_CODE)
    assert not sc.permits(*ok[:3], CERT_ID[:-1] + "0")  # bad check character


def test_scenario_for_a_system_does_not_cover_the_organisation() -> None:
    sc = UseScenario.parse(scenario(requester="320000/scjg/portal"))
    assert sc.permits("320000/scjg/portal", "310000", "certificate.verify", TYPE_CODE)
    assert not sc.permits("320000/scjg", "310000", "certificate.verify", TYPE_CODE)
    assert not sc.permits("320000/scjg/other", "310000", "certificate.verify", TYPE_CODE)


def test_record_scenario() -> None:
    sc = UseScenario.parse(
        scenario(operations=["record.request"], certificate_types=[], record_types=["hukou"])
    )
    assert sc.permits("320000/scjg", "310000", "record.request", "hukou")
    assert not sc.permits("320000/scjg", "310000", "record.request", "tax")
    assert not sc.permits("320000/scjg", "310000", "certificate.verify", TYPE_CODE)


def test_scenario_window_needs_the_time() -> None:
    sc = UseScenario.parse(
        scenario(valid_from=T0.isoformat(), valid_until=(T0 + timedelta(days=10)).isoformat())
    )
    args = ("320000/scjg", "310000", "certificate.verify", TYPE_CODE)
    assert not sc.permits(*args)  # no time given: default deny
    assert sc.permits(*args, at=T0)
    assert sc.permits(*args, at=T0 + timedelta(days=9))
    assert not sc.permits(*args, at=T0 - timedelta(seconds=1))
    assert not sc.permits(*args, at=T0 + timedelta(days=10))
    with pytest.raises(InvalidInputError) as info:
        sc.permits(*args, at=datetime(2026, 1, 2))
    assert info.value.field == "at"


def test_disallowed_fields() -> None:
    sc = UseScenario.parse(scenario(allowed_fields=["holder_name", "address"]))
    assert sc.disallowed_fields(["holder_name"]) == ()
    assert sc.disallowed_fields(["birth_date", "holder_name", "phone"]) == ("birth_date", "phone")


@pytest.mark.parametrize(
    ("over", "field", "error_type"),
    [
        ({"certificate_types": []}, "certificate_types", "schema_empty"),
        ({"record_types": ["hukou"]}, "record_types", "schema_unused"),
        (
            {"operations": ["record.request"], "record_types": ["hukou"]},
            "certificate_types",
            "schema_unused",
        ),
        (
            {"operations": ["record.request"], "certificate_types": []},
            "record_types",
            "schema_empty",
        ),
        ({"allowed_fields": []}, "allowed_fields", "schema_empty"),
        ({"allowed_fields": ["a", "a"]}, "allowed_fields", "schema_duplicate"),
        ({"operations": []}, "operations", "too_short"),
        ({"operations": ["certificate.delete"]}, "operations[0]", "literal_error"),
        ({"operations": ["certificate.verify"] * 2}, "operations", "schema_duplicate"),
        ({"providers": ["310000", "310000"]}, "providers", "schema_duplicate"),
        ({"providers": []}, "providers", "too_short"),
        ({"consent_required": False}, "max_consent_days", "schema_unused"),
        ({"max_consent_days": 0}, "max_consent_days", "greater_than_equal"),
        ({"max_consent_days": 30.0}, "max_consent_days", "int_type"),
        ({"consent_required": "yes"}, "consent_required", "bool_type"),
        ({"requester": "320000/SCJG"}, "requester", "identifier_member_format"),
        ({"service_matter": ""}, "service_matter", "string_too_short"),
        ({"legal_basis": "x" * 201}, "legal_basis", "string_too_long"),
        (
            {"valid_from": T0.isoformat(), "valid_until": T0.isoformat()},
            "valid_until",
            "schema_window",
        ),
        ({"valid_from": "2026-01-01T00:00:00"}, "valid_from", "timezone_aware"),
        ({"purpose": "anything"}, "purpose", "extra_forbidden"),
    ],
)
def test_scenario_rejects(over: dict[str, Any], field: str, error_type: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        UseScenario.parse(scenario(**over))
    assert info.value.field == field
    assert info.value.error_type == error_type


def test_scenario_list_get_and_unique_ids() -> None:
    sl = ScenarioList.parse({"scenarios": [scenario(), scenario(id="sc-two")]})
    assert sl.get("sc-two") is sl.scenarios[1]
    assert sl.get("nope") is None
    with pytest.raises(SchemaValidationError) as info:
        ScenarioList.parse({"scenarios": [scenario(), scenario()]})
    assert info.value.field == "scenarios"
    assert "sc-open-shop" in info.value.message


def test_models_are_frozen() -> None:
    sc = UseScenario.parse(scenario())
    with pytest.raises(ValueError, match="frozen"):
        sc.id = "other"  # type: ignore[misc]
