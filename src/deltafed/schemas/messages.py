"""The bodies carried inside signed protocol messages.

* certificate verification: :class:`VerificationRequest` -> :class:`VerificationResult`
* certificate data release: :class:`ReleaseRequest` -> :class:`ReleaseResult`
* record request: :class:`RecordRequest` -> :class:`RecordResponse`

The envelope (who signs, for whom, under which scenario, when) belongs to the protocol layer;
these models hold only what is asked and answered. A certificate is named either by its
identifier or by holder code + holder type + type code, never both. Every request states its
use cause (用证事由), 1 to 200 characters. Dates are ISO ``YYYY-MM-DD`` strings on the wire.
"""

from __future__ import annotations

from typing import Annotated, Final, Self

from pydantic import (
    Field,
    PlainValidator,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from deltafed._errors import InvalidInputError
from deltafed.schemas._base import Code, Name, Timestamp, WireBool, WireModel
from deltafed.schemas._checks import (
    IsoDate,
    RequiredText,
    fail,
    fail_at,
    holder_code_after_type,
    no_duplicates,
)
from deltafed.schemas.catalogue import MAX_FIELDS
from deltafed.schemas.common import CertificateStatus, HolderType
from deltafed.schemas.identifiers import CertificateId, CertificateTypeCode, certificate_type_of

__all__ = [
    "MAX_SUMMARY_ENTRIES",
    "FieldValue",
    "RecordRequest",
    "RecordResponse",
    "RecordValue",
    "ReleaseRequest",
    "ReleaseResult",
    "VerificationRequest",
    "VerificationResult",
]

#: Most entries a verification summary may carry: it is a summary, not a release.
MAX_SUMMARY_ENTRIES: Final = 8

#: A holder code on the wire, validated against its holder type.
HolderCode = Annotated[str, StringConstraints(min_length=1, max_length=18)]
#: One released certificate field value.
FieldValue = Annotated[str, StringConstraints(max_length=2000)]
_MAX_SAFE_INT: Final = 2**53 - 1
_MAX_VALUE_CHARS: Final = 2000


def _record_value(value: object) -> object:
    # One validator instead of a union, so that an error names the field and nothing else.
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INT:
            raise fail("integer_range", f"integers on the wire are within +-{_MAX_SAFE_INT}")
        return value
    if isinstance(value, str):
        if len(value) > _MAX_VALUE_CHARS:
            raise fail("string_too_long", f"at most {_MAX_VALUE_CHARS} characters")
        return value
    raise fail("record_value", "a record value is a string, an integer, a boolean or null")


#: One record field value: text, integer, boolean or null (never a float).
RecordValue = Annotated[
    str | int | bool | None,
    PlainValidator(_record_value),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "maxLength": _MAX_VALUE_CHARS},
                {"type": "integer", "minimum": -_MAX_SAFE_INT, "maximum": _MAX_SAFE_INT},
                {"type": "boolean"},
                {"type": "null"},
            ]
        }
    ),
]
_RequestedFields = Annotated[tuple[Code, ...], Field(min_length=1, max_length=MAX_FIELDS)]
_SummaryValue = Annotated[str, StringConstraints(max_length=200)]


class VerificationRequest(WireModel):
    """Ask a region whether a certificate is valid.

    Name the certificate by ``certificate_id``, or by ``holder_code`` + ``holder_type`` +
    ``type_code`` (the holder's certificate of that type); exactly one of the two ways.
    """

    certificate_id: CertificateId | None = None
    holder_type: HolderType | None = None
    holder_code: HolderCode | None = None
    type_code: CertificateTypeCode | None = None
    #: 用证事由: why the certificate is used; stamped on what is released.
    use_cause: RequiredText

    @field_validator("holder_code")
    @classmethod
    def _check_holder_code(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else holder_code_after_type(value, info, "holder_type")

    @model_validator(mode="after")
    def _one_way_to_name_it(self) -> Self:
        by_holder = {
            "holder_code": self.holder_code,
            "holder_type": self.holder_type,
            "type_code": self.type_code,
        }
        given = [name for name, value in by_holder.items() if value is not None]
        if self.certificate_id is not None:
            if given:
                raise fail_at(
                    (given[0],),
                    fail(
                        "ambiguous", "name the certificate by certificate_id or by holder, not both"
                    ),
                    by_holder[given[0]],
                )
            return self
        missing = [name for name in by_holder if name not in given]
        if len(missing) == len(by_holder):
            raise fail_at(
                ("certificate_id",),
                fail("missing", "give certificate_id, or holder_code + holder_type + type_code"),
                None,
            )
        if missing:
            raise fail_at(
                (missing[0],),
                fail("missing", f"{missing[0]} is required when the holder names the certificate"),
                None,
            )
        return self

    @property
    def target_type_code(self) -> str:
        """The certificate type asked about, from ``type_code`` or the identifier."""
        if self.type_code is not None:
            return self.type_code
        if self.certificate_id is None:  # the validator guarantees one of the two
            raise InvalidInputError("certificate_id or type_code is required", field="type_code")
        return certificate_type_of(self.certificate_id)


class ReleaseRequest(VerificationRequest):
    """Ask a region to release some fields of a certificate (only those a scenario allows)."""

    fields: _RequestedFields

    @field_validator("fields")
    @classmethod
    def _unique_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        no_duplicates(value, "field")
        return value


def _type_embedded(certificate_id: str, type_code: str) -> None:
    if certificate_id.split(".")[5] != type_code:
        raise fail_at(
            ("type_code",),
            fail("identifier_mismatch", "type_code differs from the one in certificate_id"),
            type_code,
        )


class VerificationResult(WireModel):
    """Whether a certificate is valid, with a minimal summary (not a data release)."""

    valid: WireBool
    certificate_id: CertificateId
    type_code: CertificateTypeCode
    status: CertificateStatus
    valid_from: IsoDate
    valid_until: IsoDate | None = None
    issuer_name: Name
    #: A few non-sensitive facts (for example the certificate name); at most 8 entries.
    summary: Annotated[dict[Code, _SummaryValue], Field(max_length=MAX_SUMMARY_ENTRIES)] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _type_embedded(self.certificate_id, self.type_code)
        if self.valid and self.status is not CertificateStatus.VALID:
            raise fail_at(
                ("valid",),
                fail("inconsistent", f"a certificate with status {self.status.value} is not valid"),
                self.valid,
            )
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise fail_at(
                ("valid_until",),
                fail("window", "valid_until is before valid_from"),
                self.valid_until.isoformat(),
            )
        return self


class ReleaseResult(WireModel):
    """The released fields of one certificate."""

    certificate_id: CertificateId
    type_code: CertificateTypeCode
    fields: Annotated[dict[Code, FieldValue], Field(max_length=MAX_FIELDS)]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _type_embedded(self.certificate_id, self.type_code)
        return self


class RecordRequest(WireModel):
    """Ask a region for some fields of a record about a resident or an organisation."""

    record_type: Code
    subject_type: HolderType
    subject_code: HolderCode
    fields: _RequestedFields
    use_cause: RequiredText

    @field_validator("subject_code")
    @classmethod
    def _check_subject_code(cls, value: str, info: ValidationInfo) -> str:
        return holder_code_after_type(value, info, "subject_type")

    @field_validator("fields")
    @classmethod
    def _unique_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        no_duplicates(value, "field")
        return value


class RecordResponse(WireModel):
    """The requested fields of a record, as of a point in time."""

    record_type: Code
    as_of: Timestamp
    fields: Annotated[dict[Code, RecordValue], Field(max_length=MAX_FIELDS)]
