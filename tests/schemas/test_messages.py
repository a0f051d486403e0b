"""Message bodies: verification, release, record request and response."""

from __future__ import annotations

from typing import Any

import pytest

from deltafed import InvalidInputError, SchemaValidationError
from deltafed.schemas.common import CertificateStatus, HolderType
from deltafed.schemas.messages import (
    RecordRequest,
    RecordResponse,
    ReleaseRequest,
    ReleaseResult,
    VerificationRequest,
    VerificationResult,
)

CERT_ID = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"
TYPE_CODE = "11100000000013338W032"
OTHER_TYPE_CODE = "11310000MA1B2C3D87001"
RESIDENT = "31010419900307123X"
COMPANY = "91330100MC3D4E5F67"


def by_id(**over: Any) -> dict[str, Any]:
    return {"certificate_id": CERT_ID, "use_cause": "Apply for a synthetic permit", **over}


def by_holder(**over: Any) -> dict[str, Any]:
    base = {
        "holder_code": RESIDENT.lower(),
        "holder_type": "111",
        "type_code": TYPE_CODE,
        "use_cause": "Apply for a synthetic permit",
    }
    return {k: v for k, v in {**base, **over}.items() if v is not None}


def test_verification_request_two_ways() -> None:
    a = VerificationRequest.parse(by_id())
    assert a.target_type_code == TYPE_CODE
    b = VerificationRequest.parse(by_holder())
    assert b.holder_code == RESIDENT
    assert b.holder_type is HolderType.RESIDENT
    assert b.target_type_code == TYPE_CODE
    assert b.to_wire() == by_holder(holder_code=RESIDENT)
    assert VerificationRequest.parse_json(b.model_dump_json()) == b
    c = VerificationRequest.parse(by_holder(holder_code=COMPANY, holder_type="001"))
    assert c.holder_type is HolderType.ORGANISATION


@pytest.mark.parametrize(
    ("data", "field", "error_type"),
    [
        ({"use_cause": "x"}, "certificate_id", "schema_missing"),
        (by_id(holder_type="111"), "holder_type", "schema_ambiguous"),
        (by_id(type_code=TYPE_CODE), "type_code", "schema_ambiguous"),
        (by_holder(holder_type=None), "holder_type", "schema_missing"),
        (by_holder(type_code=None), "type_code", "schema_missing"),
        (by_holder(holder_code=None), "holder_code", "schema_missing"),
        (by_holder(holder_type="001"), "holder_code", "identifier_credit_check"),
        (by_holder(use_cause=""), "use_cause", "string_too_short"),
        (by_holder(use_cause="   "), "use_cause", "string_too_short"),
        (by_holder(use_cause="因" * 201), "use_cause", "string_too_long"),
        ({"certificate_id": CERT_ID}, "use_cause", "missing"),
        (by_id(extra="1"), "extra", "extra_forbidden"),
    ],
)
def test_verification_request_rejects(data: dict[str, Any], field: str, error_type: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        VerificationRequest.parse(data)
    assert (info.value.field, info.value.error_type) == (field, error_type)


def test_use_cause_of_200_chars_is_accepted() -> None:
    assert len(VerificationRequest.parse(by_id(use_cause="因" * 200)).use_cause) == 200


def test_release_request_fields() -> None:
    r = ReleaseRequest.parse(by_id(fields=["holder_name", "valid_until"]))
    assert r.fields == ("holder_name", "valid_until")
    for bad, error_type in (([], "too_short"), (["a", "a"], "schema_duplicate")):
        with pytest.raises(SchemaValidationError) as info:
            ReleaseRequest.parse(by_id(fields=bad))
        assert (info.value.field, info.value.error_type) == ("fields", error_type)
    with pytest.raises(SchemaValidationError) as info:
        ReleaseRequest.parse(by_id())
    assert info.value.field == "fields"
    # The holder rules are inherited.
    with pytest.raises(SchemaValidationError) as info:
        ReleaseRequest.parse(by_id(fields=["a"], holder_type="111"))
    assert info.value.field == "holder_type"


def result(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "valid": True,
        "certificate_id": CERT_ID,
        "type_code": TYPE_CODE,
        "status": "01",
        "valid_from": "2024-01-05",
        "valid_until": "2030-01-04",
        "issuer_name": "Synthetic licensing office",
        "summary": {"name": "Synthetic driving licence"},
    }
    base.update(over)
    return base


def test_verification_result() -> None:
    r = VerificationResult.parse(result())
    assert r.status is CertificateStatus.VALID
    assert r.to_wire() == result()
    assert not VerificationResult.parse(result(valid=False, status="03")).valid
    assert VerificationResult.parse(result(valid_until=None)).valid_until is None


@pytest.mark.parametrize(
    ("over", "field", "error_type"),
    [
        ({"status": "03"}, "valid", "schema_inconsistent"),
        ({"type_code": OTHER_TYPE_CODE}, "type_code", "schema_identifier_mismatch"),
        ({"valid_until": "2024-01-04"}, "valid_until", "schema_window"),
        ({"valid_from": "2024/01/05"}, "valid_from", "schema_date"),
        ({"valid": 1}, "valid", "bool_type"),
        ({"summary": {f"k{i}": "v" for i in range(9)}}, "summary", "too_long"),
        ({"summary": {"k": "v" * 201}}, "summary.k", "string_too_long"),
        ({"summary": {"bad key": "v"}}, "summary.bad key.[key]", "string_pattern_mismatch"),
        ({"summary": {"k": 1}}, "summary.k", "string_type"),
    ],
)
def test_verification_result_rejects(over: dict[str, Any], field: str, error_type: str) -> None:
    with pytest.raises(SchemaValidationError) as info:
        VerificationResult.parse(result(**over))
    assert (info.value.field, info.value.error_type) == (field, error_type)


def test_release_result() -> None:
    r = ReleaseResult.parse(
        {"certificate_id": CERT_ID, "type_code": TYPE_CODE, "fields": {"holder_name": "Test"}}
    )
    assert r.fields == {"holder_name": "Test"}
    with pytest.raises(SchemaValidationError) as info:
        ReleaseResult.parse({"certificate_id": CERT_ID, "type_code": TYPE_CODE, "fields": {"a": 1}})
    assert info.value.field == "fields.a"


def test_record_request_and_response() -> None:
    req = RecordRequest.parse(
        {
            "record_type": "hukou",
            "subject_type": "001",
            "subject_code": COMPANY,
            "fields": ["address"],
            "use_cause": "Synthetic check",
        }
    )
    assert req.subject_type is HolderType.ORGANISATION
    with pytest.raises(InvalidInputError) as info:
        RecordRequest.parse({**req.to_wire(), "subject_type": "111"})
    assert info.value.field == "subject_code"

    resp = RecordResponse.parse_json(
        '{"record_type": "hukou", "as_of": "2026-01-01T08:00:00+08:00",'
        ' "fields": {"address": "1 Synthetic Road", "members": 3, "owner": true, "note": null}}'
    )
    assert resp.fields == {"address": "1 Synthetic Road", "members": 3, "owner": True, "note": None}
    assert resp.as_of.utcoffset() is not None
    for bad in ('{"x": 1.5}', '{"x": [1]}', '{"x": {"y": 1}}', '{"x": 9007199254740992}'):
        with pytest.raises(SchemaValidationError):
            RecordResponse.parse_json(
                '{"record_type": "r", "as_of": "2026-01-01T00:00:00Z", "fields": ' + bad + "}"
            )
