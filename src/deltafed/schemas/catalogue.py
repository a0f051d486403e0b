"""The certificate catalogue (证照目录) and the use-scenario list (用证清单).

A region publishes its :class:`Catalogue`: which certificate types it issues and which record
types it can answer for, each with the fields it holds. The federation publishes the
:class:`ScenarioList`: for each :class:`UseScenario`, which requesting member may ask which
regions for which certificate or record types, for which fields, and whether the holder's
consent is required. Nothing outside a scenario is allowed (default deny), and a scenario names
the fields its stated purpose needs, no more (minimal use).

These are documents, not messages: they do no I/O and never read the time; a check that depends
on the time takes it as an argument.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Final, Literal

from pydantic import Field, ValidationInfo, field_validator

from deltafed._errors import IdentifierError, InvalidInputError
from deltafed.schemas._base import Code, Name, Timestamp, WireBool, WireModel
from deltafed.schemas._checks import RequiredText, fail, no_duplicates, not_empty
from deltafed.schemas.common import HolderType, Operation
from deltafed.schemas.concerns import ConcernCategory, ConcernDesk, check_concern_categories
from deltafed.schemas.identifiers import (
    CertificateTypeCode,
    MemberId,
    ProvinceCode,
    certificate_type_of,
    parse_member_id,
)
from deltafed.schemas.matching import MAX_GROUP_SIZE, Aggregate, Predicate, RateLimit

__all__ = [
    "EVENT_KINDS",
    "MAX_CATALOGUE_ENTRIES",
    "MAX_FIELDS",
    "MAX_SCENARIOS",
    "Catalogue",
    "CertificateType",
    "EventKind",
    "FieldSpec",
    "RecordType",
    "ScenarioList",
    "UseScenario",
]

#: Most fields one certificate type, record type or scenario may list.
MAX_FIELDS: Final = 256
#: Most certificate types (and, separately, record types) one catalogue may list.
MAX_CATALOGUE_ENTRIES: Final = 4096
#: Most scenarios one scenario list may hold.
MAX_SCENARIOS: Final = 4096
#: Longest consent a scenario may allow, in days.
_MAX_CONSENT_DAYS: Final = 3650

_CERTIFICATE_OPERATIONS: Final = frozenset({"certificate.verify", "certificate.release"})
_FIELD_OPERATIONS: Final = frozenset({"certificate.release", "record.request"})
#: What a subscriber may be told about (``docs/protocol.md`` section 13).
EVENT_KINDS: Final = (
    "certificate.issued",
    "certificate.renewed",
    "certificate.changed",
    "certificate.revoked",
    "condition.changed",
)
EventKind = Literal[
    "certificate.issued",
    "certificate.renewed",
    "certificate.changed",
    "certificate.revoked",
    "condition.changed",
]
_MAX_SUBSCRIPTION_DAYS: Final = 366
_CERT_ID_PREFIX: Final = "1.2.156.3005.2."


class FieldSpec(WireModel):
    """One data field of a certificate or record type."""

    #: Machine name of the field, as requested and released (``holder_name``, ``ZZMC``...).
    name: Code
    #: Human title of the field.
    title: Name
    #: Whether the field is personal information (most are; say ``False`` only when sure).
    personal: WireBool = True


_Fields = Annotated[tuple[FieldSpec, ...], Field(max_length=MAX_FIELDS)]
_HolderTypes = Annotated[tuple[HolderType, ...], Field(min_length=1, max_length=2)]


class _WithFields(WireModel):
    """A catalogue entry with a ``fields`` list: names unique, looked up by name.

    Each subclass declares ``fields`` itself, last, so its field order stays its own.
    """

    if TYPE_CHECKING:
        fields: tuple[FieldSpec, ...]

    @field_validator("fields", check_fields=False)
    @classmethod
    def _unique_fields(cls, value: tuple[FieldSpec, ...]) -> tuple[FieldSpec, ...]:
        no_duplicates((f.name for f in value), "field name")
        return value

    def field(self, name: str) -> FieldSpec | None:
        """The field called ``name``, or ``None``."""
        return next((f for f in self.fields if f.name == name), None)


class CertificateType(_WithFields):
    """A type of electronic certificate a region issues (one entry of its catalogue)."""

    #: GB/T 36903 type code: the defining agency's credit code + 3 digits.
    type_code: CertificateTypeCode
    name: Name
    #: The province-level region whose catalogue lists the type.
    region: ProvinceCode
    #: Who can hold a certificate of this type (resident, organisation, or both).
    holder_types: _HolderTypes
    #: The fields a certificate of this type carries.
    fields: _Fields

    @field_validator("holder_types")
    @classmethod
    def _unique_holder_types(cls, value: tuple[HolderType, ...]) -> tuple[HolderType, ...]:
        no_duplicates(value, "holder type")
        return value


class RecordType(_WithFields):
    """A type of record (registration, social insurance, ...) a region can answer for."""

    code: Code
    name: Name
    region: ProvinceCode
    #: Whose records these are (resident, organisation, or both).
    subject_types: _HolderTypes
    fields: _Fields

    @field_validator("subject_types")
    @classmethod
    def _unique_subject_types(cls, value: tuple[HolderType, ...]) -> tuple[HolderType, ...]:
        no_duplicates(value, "subject type")
        return value


class Catalogue(WireModel):
    """The catalogue one region publishes: its certificate types and record types.

    Every entry must belong to the catalogue's own region, and codes are unique.
    """

    region: ProvinceCode
    certificate_types: Annotated[
        tuple[CertificateType, ...], Field(max_length=MAX_CATALOGUE_ENTRIES)
    ] = ()
    record_types: Annotated[tuple[RecordType, ...], Field(max_length=MAX_CATALOGUE_ENTRIES)] = ()
    #: Who answers concerns about this region's certificates, records and procedures.
    concern_desks: Annotated[tuple[ConcernDesk, ...], Field(max_length=64)] | None = None

    @field_validator("concern_desks")
    @classmethod
    def _check_desks(
        cls, value: tuple[ConcernDesk, ...] | None, info: ValidationInfo
    ) -> tuple[ConcernDesk, ...] | None:
        region = info.data.get("region")
        for desk in value or ():
            if region is not None and desk.member.region != region:
                raise fail(
                    "region_mismatch",
                    f"concern desk {desk.member} is not in this catalogue's region {region}",
                )
        return value

    @field_validator("certificate_types")
    @classmethod
    def _check_certificate_types(
        cls, value: tuple[CertificateType, ...], info: ValidationInfo
    ) -> tuple[CertificateType, ...]:
        no_duplicates((t.type_code for t in value), "certificate type code")
        _same_region(value, info, "certificate type")
        return value

    @field_validator("record_types")
    @classmethod
    def _check_record_types(
        cls, value: tuple[RecordType, ...], info: ValidationInfo
    ) -> tuple[RecordType, ...]:
        no_duplicates((t.code for t in value), "record type code")
        _same_region(value, info, "record type")
        return value

    def certificate_type(self, type_code: str) -> CertificateType | None:
        """The certificate type with this code, or ``None``."""
        return next((t for t in self.certificate_types if t.type_code == type_code), None)

    def record_type(self, code: str) -> RecordType | None:
        """The record type with this code, or ``None``."""
        return next((t for t in self.record_types if t.code == code), None)


def _same_region(
    entries: tuple[CertificateType, ...] | tuple[RecordType, ...], info: ValidationInfo, what: str
) -> None:
    region = info.data.get("region")
    if region is None:  # the region itself failed; that error is reported already
        return
    for entry in entries:
        if entry.region != region:
            raise fail(
                "region_mismatch",
                f"{what} {getattr(entry, 'type_code', None) or getattr(entry, 'code', '')} "
                f"belongs to region {entry.region}, not to this catalogue's region {region}",
            )


class UseScenario(WireModel):
    """One entry of the use-scenario list: who may ask whom for what, and why.

    A request is permitted only when a scenario names its requester, the provider region, the
    operation and the certificate or record type (:meth:`permits`), and it may only ask for
    :attr:`allowed_fields`.
    """

    id: Code
    name: Name
    #: The government service matter (政务服务事项) the data is used for.
    service_matter: RequiredText
    #: The law or regulation that allows the use.
    legal_basis: RequiredText
    #: A member (``REGION/DEPT/SYSTEM``) or an organisation (``REGION/DEPT``); the latter
    #: covers every system of that department.
    requester: MemberId
    #: The regions the requester may ask.
    providers: Annotated[tuple[ProvinceCode, ...], Field(min_length=1, max_length=4)]
    operations: Annotated[tuple[Operation, ...], Field(min_length=1, max_length=8)]
    #: Certificate type codes usable in this scenario (required for certificate operations).
    certificate_types: Annotated[
        tuple[CertificateTypeCode, ...], Field(max_length=MAX_CATALOGUE_ENTRIES)
    ] = ()
    #: Record type codes usable in this scenario (required for ``record.request``).
    record_types: Annotated[tuple[Code, ...], Field(max_length=MAX_CATALOGUE_ENTRIES)] = ()
    #: The fields the scenario's purpose needs; nothing else may be released.
    allowed_fields: Annotated[tuple[Code, ...], Field(max_length=MAX_FIELDS)] = ()
    consent_required: WireBool = True
    #: Longest consent accepted, in days; only meaningful when consent is required.
    max_consent_days: Annotated[int, Field(strict=True, ge=1, le=_MAX_CONSENT_DAYS)] | None = None
    valid_from: Timestamp | None = None
    valid_until: Timestamp | None = None
    #: For ``concern.file``: the concern categories the requester may file (default deny).
    concern_categories: Annotated[tuple[ConcernCategory, ...], Field(max_length=3)] | None = None

    @field_validator("concern_categories")
    @classmethod
    def _check_concern_categories(
        cls, value: tuple[str, ...] | None, info: ValidationInfo
    ) -> tuple[str, ...] | None:
        return check_concern_categories(value, info.data.get("operations"))

    #: Purpose-bound matching (``match.ask``): the yes/no questions the purpose needs.
    predicates: Annotated[tuple[Predicate, ...], Field(max_length=MAX_FIELDS)] = ()
    #: Purpose-bound matching: the counts the purpose needs.
    aggregates: Annotated[tuple[Aggregate, ...], Field(max_length=MAX_FIELDS)] = ()
    #: Counts below this are answered only as "fewer than min_group_size".
    min_group_size: Annotated[int, Field(strict=True, ge=2, le=MAX_GROUP_SIZE)] | None = None
    #: Questions per requester under this scenario (a node default applies when absent).
    rate_limit: RateLimit | None = None
    #: What a subscriber may be told about (``subscription.create``).
    events: Annotated[tuple[EventKind, ...], Field(max_length=len(EVENT_KINDS))] = ()
    #: Longest subscription accepted, in days.
    max_subscription_days: (
        Annotated[int, Field(strict=True, ge=1, le=_MAX_SUBSCRIPTION_DAYS)] | None
    ) = None

    @field_validator("providers")
    @classmethod
    def _unique_providers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        no_duplicates(value, "provider region")
        return value

    @field_validator("operations")
    @classmethod
    def _unique_operations(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        no_duplicates(value, "operation")
        return value

    @field_validator("certificate_types")
    @classmethod
    def _check_certificate_types(
        cls, value: tuple[str, ...], info: ValidationInfo
    ) -> tuple[str, ...]:
        no_duplicates(value, "certificate type code")
        ops = info.data.get("operations")
        if ops is not None:
            uses_certificates = bool(_CERTIFICATE_OPERATIONS.intersection(ops))
            if uses_certificates:
                not_empty(value, "certificate type for a certificate operation")
            elif value and "subscription.create" not in ops:
                raise fail(
                    "unused", "certificate types are listed but no certificate operation is allowed"
                )
        return value

    @field_validator("record_types")
    @classmethod
    def _check_record_types(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        no_duplicates(value, "record type code")
        ops = info.data.get("operations")
        if ops is not None:
            if "record.request" in ops:
                not_empty(value, "record type for record.request")
            elif value:
                raise fail("unused", "record types are listed but record.request is not allowed")
        return value

    @field_validator("allowed_fields")
    @classmethod
    def _check_allowed_fields(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        no_duplicates(value, "field name")
        ops = info.data.get("operations")
        if ops is not None and _FIELD_OPERATIONS.intersection(ops):
            not_empty(value, "allowed field for an operation that releases data")
        return value

    @field_validator("max_consent_days")
    @classmethod
    def _check_max_consent_days(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("consent_required") is False:
            raise fail("unused", "max_consent_days is set but consent is not required")
        return value

    @field_validator("valid_until")
    @classmethod
    def _check_window(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("valid_from")
        if value is not None and start is not None and value <= start:
            raise fail("window", "valid_until must be after valid_from")
        return value

    @field_validator("predicates")
    @classmethod
    def _check_predicates(
        cls, value: tuple[Predicate, ...], info: ValidationInfo
    ) -> tuple[Predicate, ...]:
        no_duplicates((p.id for p in value), "predicate id")
        ops = info.data.get("operations")
        if ops is not None and value and not {"match.ask", "subscription.create"} & set(ops):
            raise fail("unused", "predicates are listed but neither match.ask nor subscriptions")
        return value

    @field_validator("aggregates")
    @classmethod
    def _check_aggregates(
        cls, value: tuple[Aggregate, ...], info: ValidationInfo
    ) -> tuple[Aggregate, ...]:
        no_duplicates((a.id for a in value), "aggregate id")
        predicates = {p.id for p in info.data.get("predicates", ())}
        if predicates & {a.id for a in value}:
            raise fail("duplicate", "an aggregate has the id of a predicate")
        ops = info.data.get("operations")
        if ops is not None:
            if "match.ask" in ops and not value and not predicates:
                raise fail("required", "match.ask needs at least one predicate or aggregate")
            if value and "match.ask" not in ops:
                raise fail("unused", "aggregates are listed but match.ask is not allowed")
        if value and info.data.get("consent_required") is not False:
            raise fail(
                "consent",
                "a count over a place has no single holder to consent: put aggregates in a "
                "scenario with consent_required false",
            )
        return value

    @field_validator("min_group_size")
    @classmethod
    def _check_min_group_size(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None and info.data.get("aggregates"):
            raise fail("required", "a scenario with aggregates needs min_group_size")
        return value

    @field_validator("events")
    @classmethod
    def _check_events(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        no_duplicates(value, "event kind")
        ops = info.data.get("operations")
        if ops is not None:
            if "subscription.create" in ops:
                not_empty(value, "event kind for subscription.create")
            elif value:
                raise fail("unused", "events are listed but subscription.create is not allowed")
        if "condition.changed" in value and not info.data.get("predicates"):
            raise fail("required", "condition.changed needs a predicate as its condition")
        return value

    def predicate(self, predicate_id: str) -> Predicate | None:
        """The predicate with this id, or ``None``."""
        return next((p for p in self.predicates if p.id == predicate_id), None)

    def aggregate(self, aggregate_id: str) -> Aggregate | None:
        """The aggregate with this id, or ``None``."""
        return next((a for a in self.aggregates if a.id == aggregate_id), None)

    def matches_requester(self, requester: str) -> bool:
        """Whether ``requester`` is the scenario's requester or one of its systems."""
        try:
            member = parse_member_id(requester)
        except IdentifierError:
            return False
        return member == self.requester or member.organisation == self.requester

    def in_force(self, at: datetime) -> bool:
        """Whether the scenario applies at ``at`` (``valid_from <= at < valid_until``)."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise InvalidInputError("the time must be timezone-aware", field="at")
        if self.valid_from is not None and at < self.valid_from:
            return False
        return self.valid_until is None or at < self.valid_until

    def permits(
        self,
        requester: str,
        provider_region: str,
        operation: str,
        target: str,
        *,
        at: datetime | None = None,
    ) -> bool:
        """Whether this scenario lets ``requester`` perform ``operation`` on ``target``.

        ``target`` is a certificate type code or a certificate identifier (whose embedded type
        code is used) for certificate operations, and a record type code for
        ``record.request``. A scenario with a validity window permits nothing unless ``at``
        is given and falls inside the window (default deny); the caller passes the time from
        its injected clock. Fields are checked separately with :meth:`disallowed_fields`.
        """
        if at is None:
            if self.valid_from is not None or self.valid_until is not None:
                return False
        elif not self.in_force(at):
            return False
        if not self.matches_requester(requester):
            return False
        if provider_region not in self.providers or operation not in self.operations:
            return False
        if operation == "match.ask":
            return self.predicate(target) is not None or self.aggregate(target) is not None
        if operation == "subscription.create":
            if self.predicate(target) is not None:
                return "condition.changed" in self.events
            return target in self.certificate_types
        if operation in _CERTIFICATE_OPERATIONS:
            type_code = target
            if target.startswith(_CERT_ID_PREFIX):
                try:
                    type_code = certificate_type_of(target)
                except IdentifierError:
                    return False
            return type_code in self.certificate_types
        return target in self.record_types

    def disallowed_fields(self, fields: tuple[str, ...] | list[str]) -> tuple[str, ...]:
        """The requested fields this scenario does not allow, in request order (empty if none)."""
        allowed = set(self.allowed_fields)
        return tuple(f for f in fields if f not in allowed)


class ScenarioList(WireModel):
    """The published use-scenario list (用证清单); scenario ids are unique."""

    scenarios: Annotated[tuple[UseScenario, ...], Field(max_length=MAX_SCENARIOS)] = ()

    @field_validator("scenarios")
    @classmethod
    def _unique_ids(cls, value: tuple[UseScenario, ...]) -> tuple[UseScenario, ...]:
        no_duplicates((s.id for s in value), "scenario id")
        return value

    def get(self, scenario_id: str) -> UseScenario | None:
        """The scenario with this id, or ``None``."""
        return next((s for s in self.scenarios if s.id == scenario_id), None)
