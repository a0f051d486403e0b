"""The audit entry schema."""

from __future__ import annotations

from typing import Any

import pytest

from deltafed import InvalidInputError, SchemaValidationError
from deltafed._errors import all_error_classes
from deltafed.schemas.audit import OUTCOMES, AuditEntry

DIGEST = "sha-256:" + "ab" * 32
REF = "hmac-sha256:" + "0f" * 32


def entry(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "seq": 0,
        "at": "2026-01-01T00:00:00Z",
        "role": "responder",
        "node": "310000/scjg/licences",
        "counterpart": "320000/scjg/portal",
        "operation": "certificate.release",
        "scenario": "sc-open-shop",
        "subject_refs": [REF],
        "fields": ["holder_name"],
        "outcome": "ok",
        "request_id": "0b8f5a9e-2f42-4d5e-9a51-3a1f0d1f6c11",
        "request_digest": DIGEST,
        "response_digest": DIGEST,
        "prev_hash": "sha-256:" + "0" * 64,
    }
    base.update(over)
    return base


def test_entry_round_trips() -> None:
    e = AuditEntry.parse(entry())
    assert e.subject_refs == (REF,)
    assert AuditEntry.parse_json(e.model_dump_json()) == e
    assert e.to_wire() == entry(at="2026-01-01T00:00:00Z")


def test_outcomes_are_ok_or_an_error_code() -> None:
    assert set(OUTCOMES) == {"ok"} | {cls.code for cls in all_error_classes()}
    assert AuditEntry.parse(entry(outcome="field_not_allowed")).outcome == "field_not_allowed"


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"seq": -1}, "seq"),
        ({"seq": 1.0}, "seq"),
        ({"seq": "1"}, "seq"),
        ({"at": "2026-01-01T00:00:00"}, "at"),
        ({"role": "observer"}, "role"),
        ({"node": "310000"}, "node"),
        ({"operation": "record.delete"}, "operation"),
        ({"subject_refs": ["31010419900307123X"]}, "subject_refs[0]"),
        ({"subject_refs": ["hmac-sha256:" + "0F" * 32]}, "subject_refs[0]"),
        ({"fields": ["a b"]}, "fields[0]"),
        ({"outcome": "fine"}, "outcome"),
        ({"request_id": "x" * 129}, "request_id"),
        ({"request_digest": "sha256:" + "ab" * 32}, "request_digest"),
        ({"response_digest": DIGEST + "0"}, "response_digest"),
        ({"prev_hash": "sha-256:" + "g" * 64}, "prev_hash"),
        ({"signature": "x"}, "signature"),
    ],
)
def test_entry_rejects(over: dict[str, Any], field: str) -> None:
    data = entry(**over)
    with pytest.raises(InvalidInputError) as info:
        AuditEntry.parse(data)
    assert info.value.field == field


def test_missing_field() -> None:
    data = entry()
    del data["prev_hash"]
    with pytest.raises(SchemaValidationError) as info:
        AuditEntry.parse(data)
    assert (info.value.field, info.value.error_type) == ("prev_hash", "missing")
