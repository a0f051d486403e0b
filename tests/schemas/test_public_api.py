"""The public API of deltafed.schemas is pinned: a change to ``__all__`` must be deliberate."""

from __future__ import annotations

import importlib

import deltafed.schemas as schemas

EXPECTED = {
    # base and text types
    "Code", "IsoDate", "LongText", "MAX_DOCUMENT_BYTES", "Name", "NonNegInt", "RequiredText",
    "ShortText", "Text", "Timestamp", "WireBool", "WireInt", "WireModel",
    # identifiers
    "CREDIT_CODE_CHARSET", "CertificateId", "CertificateTypeCode", "CreditCode",
    "DELTA_PROVINCES", "DIVISIONS", "DivisionCode", "MemberId", "ProvinceCode", "ResidentId",
    "certificate_type_of", "compute_certificate_check", "compute_credit_check",
    "compute_organisation_check", "compute_resident_check", "division_name",
    "parse_certificate_id", "parse_certificate_type_code", "parse_credit_code",
    "parse_division_code", "parse_holder_code", "parse_member_id", "parse_resident_id",
    "province_of",
    # vocabularies
    "CertificateStatus", "Digest", "HolderType", "Operation", "RequestId", "SubjectRef",
    # catalogue and scenarios
    "Catalogue", "CertificateType", "FieldSpec", "MAX_CATALOGUE_ENTRIES", "MAX_FIELDS",
    "MAX_SCENARIOS", "RecordType", "ScenarioList", "UseScenario", "EVENT_KINDS", "EventKind",
    # matching, subscriptions and events
    "Aggregate", "MatchAnswer", "MatchQuestion", "Predicate", "RateLimit", "ChangeEvent",
    "EventAck", "Subscription", "SubscriptionCancel", "SubscriptionList", "SubscriptionListQuery",
    "SubscriptionRequest",
    # certificates
    "CertificateMetadata", "CertificateNumber", "LONG_TERM_MARKERS", "PINYIN_FIELDS",
    "format_yyyymmdd", "parse_yyyymmdd",
    # messages
    "FieldValue", "MAX_SUMMARY_ENTRIES", "RecordRequest", "RecordResponse", "RecordValue",
    "ReleaseRequest", "ReleaseResult", "VerificationRequest", "VerificationResult",
    # consent, problem, audit
    "Consent", "MAX_CONSENT_LIFETIME", "LOCAL_ONLY_CODES", "PROBLEM_CODES", "Problem",
    "ProblemCode", "AuditEntry", "OUTCOMES", "Outcome",
    # concerns
    "Concern", "ConcernEvent", "ConcernHistory", "ConcernPolicy", "EscalationList",
    "HistoryQuery",
    # export
    "EXPORTED_MODELS", "check_json_schemas", "export_json_schemas",
}  # fmt: skip


def _ruff_order(name: str) -> tuple[int, str]:
    # The order ruff's RUF022 keeps: CONSTANTS, then CamelCase, then everything else.
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_unique() -> None:
    assert list(schemas.__all__) == sorted(set(schemas.__all__), key=_ruff_order)


def test_all_is_pinned() -> None:
    assert set(schemas.__all__) == EXPECTED


def test_all_names_resolve() -> None:
    for name in schemas.__all__:
        assert hasattr(schemas, name), name


def test_submodule_all_lists_resolve_and_are_sorted() -> None:
    for sub in [
        "audit", "catalogue", "certificates", "common", "consent", "identifiers", "messages",
        "problem",
    ]:  # fmt: skip
        module = importlib.import_module(f"deltafed.schemas.{sub}")
        assert list(module.__all__) == sorted(set(module.__all__), key=_ruff_order), sub
        for name in module.__all__:
            assert hasattr(module, name), (sub, name)
            assert getattr(schemas, name) is getattr(module, name), (sub, name)
