"""Malformed input of every kind gets a DeltafedError naming the field, never a bare error.

One valid document per exported model; each row breaks it in one way and names the field the
error must carry. Extra-field and missing-field rows are generated for every model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

import deltafed.schemas as s
from deltafed import DeltafedError, IdentifierError, InvalidInputError, SizeLimitError

RESIDENT = "31010419900307123X"
COMPANY = "91330100MC3D4E5F67"
TYPE_CODE = "11100000000013338W032"
CERT_ID = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"
DIGEST = "sha-256:" + "ab" * 32
AT = "2026-01-01T00:00:00Z"

FIELD = {"name": "holder_name", "title": "Holder name"}
CERT_TYPE = {
    "type_code": TYPE_CODE,
    "name": "Synthetic licence",
    "region": "310000",
    "holder_types": ["111"],
    "fields": [FIELD],
}
RECORD_TYPE = {
    "code": "hukou",
    "name": "Household registration",
    "region": "310000",
    "subject_types": ["111"],
    "fields": [FIELD],
}
SCENARIO = {
    "id": "sc-1",
    "name": "Synthetic scenario",
    "service_matter": "Synthetic service matter",
    "legal_basis": "Synthetic article 1",
    "requester": "320000/scjg",
    "providers": ["310000"],
    "operations": ["certificate.release"],
    "certificate_types": [TYPE_CODE],
    "allowed_fields": ["holder_name"],
    "consent_required": True,
}

CONCERN = {
    "id": "concern-0000000001",
    "filer": {"type": "111", "code": RESIDENT},
    "subject": {"kind": "certificate", "ref": CERT_ID},
    "category": "objection",
    "text": "The address is wrong (test)",
    "consent": {"given": True, "given_at": AT},
    "filed_at": AT,
}
CONCERN_HISTORY = {"concern_id": "concern-0000000001", "filing": "a.b.c", "events": ["d.e.f"]}
VALID: dict[str, dict[str, Any]] = {
    "Concern": CONCERN,
    "ConcernEvent": {
        "iss": "320000/dsj",
        "aud": "310000/dsj",
        "cid": "concern-0000000001",
        "seq": 0,
        "prev": DIGEST,
        "iat": 1767225600,
        "kind": "filed",
        "status": "filed",
        "ack_due": AT,
        "answer_due": AT,
    },
    "ConcernHistory": CONCERN_HISTORY,
    "ConcernPolicy": {
        "deadlines": [{"category": "question", "acknowledge_days": 1, "answer_days": 3}]
    },
    "EscalationList": {"concerns": [CONCERN_HISTORY]},
    "HistoryQuery": {"concern_id": "concern-0000000001"},
    "FieldSpec": FIELD,
    "CertificateType": CERT_TYPE,
    "RecordType": RECORD_TYPE,
    "Catalogue": {"region": "310000", "certificate_types": [CERT_TYPE]},
    "UseScenario": SCENARIO,
    "ScenarioList": {"scenarios": [SCENARIO]},
    "CertificateMetadata": {
        "name": "Synthetic licence",
        "type_code": TYPE_CODE,
        "number": "SYN-1",
        "identifier": CERT_ID,
        "issuer_name": "Synthetic office",
        "issuer_code": "11220000013544541J",
        "issued_on": "2024-01-05",
        "holder_name": "Test Holder",
        "holder_type": "111",
        "holder_code": RESIDENT,
        "valid_from": "2024-01-05",
        "status": "01",
    },
    "VerificationRequest": {"certificate_id": CERT_ID, "use_cause": "Synthetic cause"},
    "MatchQuestion": {
        "predicate": "p",
        "subject_type": "111",
        "subject_code": RESIDENT,
        "use_cause": "c",
    },
    "MatchAnswer": {"aggregate": "a", "place": "330106", "fewer_than": 5},
    "Aggregate": {"id": "a", "record_type": "r", "field": "f"},
    "Predicate": {"id": "p", "record_type": "r", "field": "f", "comparison": "ge", "threshold": 12},
    "RateLimit": {"burst": 1, "per_hour": 1},
    "EventAck": {"event_id": "evt-aaaaaaaaaaaaaaaaaaaa", "duplicate": False},
    "SubscriptionCancel": {"subscription": "sub-aaaaaaaaaaaaaaaaaaaa"},
    "SubscriptionList": {"subscriptions": []},
    "SubscriptionListQuery": {"use_cause": "c"},
    "SubscriptionRequest": {
        "subject_type": "111",
        "subject_code": RESIDENT,
        "kinds": ["certificate.renewed"],
        "expires_at": "2026-06-01T00:00:00Z",
        "use_cause": "c",
    },
    "Subscription": {
        "id": "sub-aaaaaaaaaaaaaaaaaaaa",
        "subscriber": "310000/dsj",
        "scenario": "s",
        "target": TYPE_CODE,
        "subject_type": "111",
        "subject_code": RESIDENT,
        "kinds": ["certificate.renewed"],
        "created_at": "2026-03-01T00:00:00Z",
        "expires_at": "2026-06-01T00:00:00Z",
    },
    "ChangeEvent": {
        "event_id": "evt-aaaaaaaaaaaaaaaaaaaa",
        "subscription": "sub-aaaaaaaaaaaaaaaaaaaa",
        "kind": "certificate.renewed",
        "subject_type": "111",
        "subject_code": RESIDENT,
        "target": TYPE_CODE,
        "certificate_id": CERT_ID,
        "occurred_at": "2026-03-01T00:00:00Z",
        "seq": 1,
    },
    "ReleaseRequest": {
        "holder_code": RESIDENT,
        "holder_type": "111",
        "type_code": TYPE_CODE,
        "use_cause": "Synthetic cause",
        "fields": ["holder_name"],
    },
    "VerificationResult": {
        "valid": True,
        "certificate_id": CERT_ID,
        "type_code": TYPE_CODE,
        "status": "01",
        "valid_from": "2024-01-05",
        "issuer_name": "Synthetic office",
    },
    "ReleaseResult": {
        "certificate_id": CERT_ID,
        "type_code": TYPE_CODE,
        "fields": {"holder_name": "Test Holder"},
    },
    "RecordRequest": {
        "record_type": "hukou",
        "subject_type": "001",
        "subject_code": COMPANY,
        "fields": ["address"],
        "use_cause": "Synthetic cause",
    },
    "RecordResponse": {"record_type": "hukou", "as_of": AT, "fields": {"members": 3}},
    "Consent": {
        "id": "c-1",
        "holder_type": "111",
        "holder_code": RESIDENT,
        "scenario": "sc-1",
        "requester": "320000/scjg",
        "scope": ["holder_name"],
        "operations": ["certificate.release"],
        "issued_at": AT,
        "expires_at": "2026-02-01T00:00:00Z",
        "explicit_request": False,
        "issuer": "320000/zwfw",
    },
    "Problem": {"code": "not_found", "title": "Not found", "status": 404},
    "AuditEntry": {
        "seq": 0,
        "at": AT,
        "role": "requester",
        "node": "320000/scjg/portal",
        "counterpart": "310000/scjg",
        "operation": "certificate.verify",
        "scenario": "sc-1",
        "subject_refs": [],
        "fields": [],
        "outcome": "ok",
        "request_id": "req-1",
        "request_digest": DIGEST,
        "response_digest": DIGEST,
        "prev_hash": DIGEST,
    },
}


def model(name: str) -> type[s.WireModel]:
    cls = getattr(s, name)
    assert issubclass(cls, s.WireModel)
    return cls  # type: ignore[no-any-return]


def test_the_valid_documents_are_valid_and_cover_every_exported_model() -> None:
    ours = {m.__name__ for m in s._export.exported_models() if m.__module__.startswith(s.__name__)}
    assert set(VALID) == ours
    for name, doc in VALID.items():
        assert model(name).parse_json(json.dumps(doc)).to_wire() is not None


# Each row: (kind, call, expected field).
Row = tuple[str, Callable[[], object], str]


def put(kind: str, how: str, name: str, key: str, value: Any, field: str | None = None) -> Row:
    """Break VALID[name] by setting ``key`` to ``value``; give it to ``how`` (parse/json)."""
    cls = model(name)
    doc = {**VALID[name], key: value}
    if how == "json":
        return (kind, lambda: cls.parse_json(json.dumps(doc)), field or key)
    return (kind, lambda: cls.parse(doc), field or key)


def raw(kind: str, name: str, doc: Any, field: str) -> Row:
    """Give ``doc`` as it is: a Python value to ``parse``, a string to ``parse_json``."""
    cls = model(name)
    if isinstance(doc, str):
        return (kind, lambda: cls.parse_json(doc), field)
    return (kind, lambda: cls.parse(doc), field)


NAIVE = "2026-01-01T00:00:00"
ROWS: list[Row] = [
    # wrong length
    ("length", lambda: s.parse_resident_id("3101041990030712"), "resident_id"),
    ("length", lambda: s.parse_credit_code("91330100MC3D4E5F6"), "credit_code"),
    ("length", lambda: s.parse_certificate_type_code(TYPE_CODE + "1"), "type_code"),
    put("length", "json", "ReleaseRequest", "holder_code", "3101"),
    put("length", "parse", "CertificateType", "type_code", TYPE_CODE[:-1]),
    put("length", "json", "AuditEntry", "prev_hash", DIGEST[:-1]),
    # bad charset
    ("charset", lambda: s.parse_credit_code("91330100MC3D4E5FI7"), "credit_code"),
    ("charset", lambda: s.parse_resident_id("31010419900307A23X"), "resident_id"),
    ("charset", lambda: s.parse_member_id("320000/Scjg"), "member_id"),
    put("charset", "json", "UseScenario", "requester", "320000/SCJG"),
    put("charset", "json", "ReleaseRequest", "fields", ["holder name"], "fields[0]"),
    put("charset", "parse", "VerificationRequest", "certificate_id", CERT_ID.lower()),
    # bad date
    put("date", "json", "CertificateMetadata", "issued_on", "2024-02-30"),
    put("date", "json", "VerificationResult", "valid_from", "20240105"),
    put("date", "json", "Consent", "holder_code", "310104" + "19900230" + "1234"),
    ("date", lambda: s.CertificateMetadata.from_gbt36903({"ZZBFRQ": "20241301"}), "ZZBFRQ"),
    ("date", lambda: s.parse_yyyymmdd("2024", field="ZZYXQQSRQ"), "ZZYXQQSRQ"),
    # unknown division code
    ("division", lambda: s.parse_division_code("999999"), "division_code"),
    ("division", lambda: s.parse_resident_id("990104199003071236"), "resident_id"),
    put("division", "json", "Catalogue", "region", "990000"),
    put("division", "json", "CertificateType", "region", "310100"),
    put("division", "json", "UseScenario", "providers", ["310000", "380000"], "providers[1]"),
    put("division", "json", "AuditEntry", "node", "990000/scjg"),
    # float
    put("float", "json", "AuditEntry", "seq", 1.0),
    put("float", "parse", "AuditEntry", "seq", 1.0),
    put("float", "json", "Problem", "status", 404.5),
    put("float", "parse", "Problem", "status", 404.0),
    put("float", "json", "RecordResponse", "fields", {"members": 3.0}, "fields.members"),
    put("float", "parse", "RecordResponse", "fields", {"members": 3.5}, "fields.members"),
    put("float", "json", "UseScenario", "max_consent_days", 1e1),
    raw("float", "Problem", '{"code": "not_found", "title": "t", "status": NaN}', "status"),
    put("float", "parse", "Consent", "issued_at", 1767225600.5),
    put("float", "json", "AuditEntry", "at", 1767225600.5),
    put("float", "json", "AuditEntry", "at", 1767225600),  # epoch numbers are not timestamps
    # overlong string
    put("overlong", "json", "VerificationRequest", "use_cause", "因" * 201),
    put("overlong", "json", "FieldSpec", "title", "t" * 129),
    put("overlong", "json", "FieldSpec", "name", "n" * 65),
    put("overlong", "json", "AuditEntry", "request_id", "r" * 129),
    put("overlong", "json", "ReleaseResult", "fields", {"a": "v" * 2001}, "fields.a"),
    put("overlong", "json", "Problem", "detail", "d" * 2001),
    put("overlong", "json", "CertificateMetadata", "number", "9" * 65),
    ("overlong", lambda: s.parse_member_id("320000/" + "a" * 200), "member_id"),
    # naive datetime
    put("naive", "json", "Consent", "issued_at", NAIVE),
    put("naive", "json", "AuditEntry", "at", NAIVE),
    put("naive", "json", "RecordResponse", "as_of", "2026-01-01 00:00"),
    put("naive", "parse", "RecordResponse", "as_of", datetime(2026, 1, 1)),
    put("naive", "json", "UseScenario", "valid_until", NAIVE),
    # wrong shape of the whole document or of a collection
    raw("shape", "Problem", ["not", "a", "mapping"], "$"),
    raw("shape", "Problem", "[1, 2]", "$"),
    raw("shape", "Problem", '{"code": ', "$"),
    put("shape", "json", "ScenarioList", "scenarios", {"sc-1": SCENARIO}),
    put("shape", "json", "CertificateType", "holder_types", "111"),
]


@pytest.mark.parametrize(("kind", "call", "field"), ROWS, ids=[f"{r[0]}-{r[2]}" for r in ROWS])
def test_malformed_input_is_a_deltafed_error_naming_the_field(
    kind: str, call: Callable[[], object], field: str
) -> None:
    with pytest.raises(DeltafedError) as info:
        call()
    err = info.value
    assert isinstance(err, InvalidInputError), (kind, repr(err))
    assert err.code in {"invalid_input", "invalid_identifier", "schema_violation"}
    assert err.field == field, (kind, repr(err))


def _required(name: str) -> list[str]:
    return [f for f, info in model(name).model_fields.items() if info.is_required()]


MISSING = [(name, f) for name in sorted(VALID) for f in _required(name)]
EXTRA = sorted(VALID)


@pytest.mark.parametrize(("name", "field"), MISSING, ids=[f"{n}.{f}" for n, f in MISSING])
def test_missing_field(name: str, field: str) -> None:
    doc = {k: v for k, v in VALID[name].items() if k != field}
    with pytest.raises(InvalidInputError) as info:
        model(name).parse_json(json.dumps(doc))
    assert (info.value.code, info.value.field) == ("schema_violation", field)
    assert info.value.error_type == "missing"


@pytest.mark.parametrize("name", EXTRA)
def test_extra_field(name: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        model(name).parse_json(json.dumps({**VALID[name], "unexpected": "x"}))
    assert (info.value.code, info.value.field) == ("schema_violation", "unexpected")
    assert info.value.error_type == "extra_forbidden"


@pytest.mark.parametrize("name", EXTRA)
def test_oversized_document(name: str) -> None:
    with pytest.raises(SizeLimitError):
        model(name).parse_json(json.dumps(VALID[name]), max_bytes=8)


def test_identifier_errors_are_identifier_errors_inside_models() -> None:
    with pytest.raises(IdentifierError) as info:
        s.Consent.parse({**VALID["Consent"], "holder_code": "110101197608056896"})
    assert info.value.field == "holder_code"
    assert info.value.error_type == "identifier_resident_check"


def test_nested_errors_carry_the_full_path() -> None:
    bad = {**SCENARIO, "requester": "320000/X"}
    with pytest.raises(InvalidInputError) as info:
        s.ScenarioList.parse_json(json.dumps({"scenarios": [SCENARIO, bad]}))
    assert info.value.field == "scenarios[1].requester"
    bad_type = {**CERT_TYPE, "fields": [FIELD, {"name": "x", "title": ""}]}
    with pytest.raises(InvalidInputError) as info:
        s.Catalogue.parse({"region": "310000", "certificate_types": [bad_type]})
    assert info.value.field == "certificate_types[0].fields[1].title"
    bad_cert = {**VALID["CertificateMetadata"], "holder_type": "001"}
    with pytest.raises(InvalidInputError) as info:
        s.CertificateMetadata.parse(bad_cert)
    assert info.value.field == "holder_code"
