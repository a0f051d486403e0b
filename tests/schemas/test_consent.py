"""Consent: validation and what it covers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from deltafed import (
    ConsentExpiredError,
    ConsentInvalidError,
    InvalidInputError,
)
from deltafed.schemas.consent import Consent

RESIDENT = "31010419900307123X"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def consent(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "consent-1",
        "holder_type": "111",
        "holder_code": RESIDENT,
        "scenario": "sc-open-shop",
        "requester": "320000/scjg",
        "scope": ["holder_name", "address"],
        "operations": ["certificate.release"],
        "issued_at": T0.isoformat(),
        "expires_at": (T0 + timedelta(days=30)).isoformat(),
        "explicit_request": True,
        "issuer": "320000/zwfw/portal",
    }
    base.update(over)
    return base


def test_consent_round_trips() -> None:
    c = Consent.parse(consent(holder_code=RESIDENT.lower()))
    assert c.holder_code == RESIDENT
    assert c.lifetime == timedelta(days=30)
    assert Consent.parse_json(c.model_dump_json()) == c


def test_covers_exactly_what_was_agreed() -> None:
    c = Consent.parse(consent())
    at = T0 + timedelta(days=1)
    assert c.covers(RESIDENT, "sc-open-shop", ["holder_name"], at)
    assert c.covers(RESIDENT.lower(), "sc-open-shop", ("holder_name", "address"), at)
    assert c.covers(RESIDENT, "sc-open-shop", [], at)
    assert c.covers(RESIDENT, "sc-open-shop", ["address"], T0)
    assert not c.covers("320102198505120016", "sc-open-shop", ["holder_name"], at)
    assert not c.covers(RESIDENT, "sc-other", ["holder_name"], at)
    assert not c.covers(RESIDENT, "sc-open-shop", ["holder_name", "phone"], at)
    assert not c.covers(RESIDENT, "sc-open-shop", ["holder_name"], T0 - timedelta(seconds=1))
    assert not c.covers(RESIDENT, "sc-open-shop", ["holder_name"], T0 + timedelta(days=30))
    kw: dict[str, Any] = {"operation": "certificate.release", "requester": "320000/scjg/portal"}
    assert c.covers(RESIDENT, "sc-open-shop", ["address"], at, **kw)
    assert not c.covers(RESIDENT, "sc-open-shop", ["address"], at, operation="record.request")
    assert not c.covers(RESIDENT, "sc-open-shop", ["address"], at, requester="320000/gongan")
    assert not c.covers(RESIDENT, "sc-open-shop", ["address"], at, requester="bogus")


def test_require_covers_says_why() -> None:
    c = Consent.parse(consent())
    at = T0 + timedelta(days=1)
    c.require_covers(RESIDENT, "sc-open-shop", ["address"], at)
    with pytest.raises(ConsentExpiredError) as expired:
        c.require_covers(RESIDENT, "sc-open-shop", ["address"], T0 + timedelta(days=31))
    assert expired.value.field == "expires_at"
    with pytest.raises(ConsentInvalidError) as wrong_fields:
        c.require_covers(RESIDENT, "sc-open-shop", ["phone", "address", "email"], at)
    assert wrong_fields.value.field == "fields"
    assert "email, phone" in wrong_fields.value.message
    with pytest.raises(InvalidInputError) as naive:
        c.require_covers(RESIDENT, "sc-open-shop", ["address"], datetime(2026, 3, 2))
    assert naive.value.field == "at"
    with pytest.raises(InvalidInputError) as as_text:
        c.require_covers(RESIDENT, "sc-open-shop", "address", at)
    assert as_text.value.field == "fields"


@pytest.mark.parametrize(
    ("over", "field", "error_type"),
    [
        ({"expires_at": T0.isoformat()}, "expires_at", "schema_window"),
        (
            {"expires_at": (T0 + timedelta(days=3651)).isoformat()},
            "expires_at",
            "schema_lifetime",
        ),
        ({"issued_at": "2026-03-01T09:00:00"}, "issued_at", "timezone_aware"),
        ({"holder_type": "001"}, "holder_code", "identifier_credit_check"),
        ({"holder_code": "110101197608056896"}, "holder_code", "identifier_resident_check"),
        ({"scope": []}, "scope", "too_short"),
        ({"scope": ["a", "a"]}, "scope", "schema_duplicate"),
        ({"operations": ["record.request"] * 2}, "operations", "schema_duplicate"),
        ({"issuer": "330000/zwfw"}, "issuer", "schema_region_mismatch"),
        ({"explicit_request": "true"}, "explicit_request", "bool_type"),
        ({"purpose": "x"}, "purpose", "extra_forbidden"),
    ],
)
def test_consent_rejects(over: dict[str, Any], field: str, error_type: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        Consent.parse(consent(**over))
    assert (info.value.field, info.value.error_type) == (field, error_type)
