"""Electronic certificate metadata after GB/T 36903.

:class:`CertificateMetadata` uses English field names and ISO dates on the deltafed wire. The
provincial certificate libraries speak the pinyin abbreviations of GB/T 36903 with ``yyyyMMdd``
dates; :meth:`CertificateMetadata.from_gbt36903` and :meth:`CertificateMetadata.to_gbt36903`
convert between the two, and :data:`PINYIN_FIELDS` is the mapping table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Annotated, Any, Final, Self

from pydantic import StringConstraints, ValidationInfo, field_validator, model_validator

from deltafed._errors import InvalidInputError, SchemaValidationError
from deltafed.schemas._base import Name, WireModel
from deltafed.schemas._checks import IsoDate, fail, fail_at, holder_code_after_type
from deltafed.schemas.common import CertificateStatus, HolderType
from deltafed.schemas.identifiers import (
    CertificateId,
    CertificateTypeCode,
    CreditCode,
)

__all__ = [
    "LONG_TERM_MARKERS",
    "PINYIN_FIELDS",
    "CertificateMetadata",
    "CertificateNumber",
    "format_yyyymmdd",
    "parse_yyyymmdd",
]

#: The number printed on a certificate (ZZBH), as its issuer writes it.
CertificateNumber = Annotated[
    str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)
]

#: English field name -> GB/T 36903 pinyin abbreviation.
PINYIN_FIELDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "name": "ZZMC",  # 证照名称
        "type_code": "ZZLXDM",  # 证照类型代码
        "number": "ZZBH",  # 证照编号
        "identifier": "ZZBS",  # 证照标识
        "issuer_name": "ZZBFJG",  # 证照颁发机构
        "issuer_code": "ZZBFJGDM",  # 证照颁发机构代码
        "issued_on": "ZZBFRQ",  # 证照颁发日期
        "holder_name": "CZZT",  # 持证主体
        "holder_type": "CZZTDMLXDM",  # 持证主体代码类型代码
        "holder_code": "CZZTDM",  # 持证主体代码
        "valid_from": "ZZYXQQSRQ",  # 证照有效期起始日期
        "valid_until": "ZZYXQJZRQ",  # 证照有效期截止日期
        "status": "ZZZT",  # 证照状态
    }
)
_ENGLISH: Final = {pinyin: english for english, pinyin in PINYIN_FIELDS.items()}
#: Older feeds write the holder code type without the trailing DM.
_PINYIN_ALIASES: Final = {"CZZTDMLX": "CZZTDMLXDM"}
_DATE_FIELDS: Final = frozenset({"issued_on", "valid_from", "valid_until"})
#: Values of ZZYXQJZRQ that mean "no end date" (long-term validity).
LONG_TERM_MARKERS: Final = frozenset({"", "长期"})
_YYYYMMDD = re.compile(r"[0-9]{8}")


def parse_yyyymmdd(value: object, *, field: str) -> date:
    """Parse a GB/T 36903 ``yyyyMMdd`` date; the error names ``field``."""
    if not isinstance(value, str) or not _YYYYMMDD.fullmatch(value):
        raise SchemaValidationError(
            f"{field}: dates must be 8 digits yyyyMMdd, got {str(value)[:20]!r}",
            field=field,
            error_type="schema_date",
        )
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise SchemaValidationError(
            f"{field}: {value} is not a real date", field=field, error_type="schema_date"
        ) from None


def format_yyyymmdd(value: date) -> str:
    """A date as GB/T 36903 ``yyyyMMdd``."""
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


class CertificateMetadata(WireModel):
    """The metadata of one electronic certificate (GB/T 36903), with English field names.

    The identifier must embed the type code and the issuing authority's code, the holder code
    must match its type (resident identity number for ``111``, credit code for ``001``), and a
    validity end, if any, must not precede the start. ``valid_until`` of ``None`` means
    long-term validity.
    """

    name: Name
    type_code: CertificateTypeCode
    number: CertificateNumber
    identifier: CertificateId
    issuer_name: Name
    issuer_code: CreditCode
    issued_on: IsoDate
    holder_name: Name
    holder_type: HolderType
    holder_code: Annotated[str, StringConstraints(max_length=18)]
    valid_from: IsoDate
    valid_until: IsoDate | None = None
    status: CertificateStatus

    @field_validator("holder_code")
    @classmethod
    def _check_holder_code(cls, value: str, info: ValidationInfo) -> str:
        return holder_code_after_type(value, info, "holder_type")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        embedded = self.identifier.split(".")
        if embedded[5] != self.type_code:
            raise fail_at(
                ("identifier",),
                fail("identifier_mismatch", "the identifier does not embed this type code"),
                self.identifier,
            )
        if embedded[6] != self.issuer_code:
            raise fail_at(
                ("identifier",),
                fail("identifier_mismatch", "the identifier does not embed the issuer's code"),
                self.identifier,
            )
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise fail_at(
                ("valid_until",),
                fail("window", "valid_until is before valid_from"),
                self.valid_until,
            )
        return self

    def is_valid_on(self, day: date) -> bool:
        """Whether the certificate is in force on ``day``: status valid and inside its dates."""
        if self.status is not CertificateStatus.VALID or day < self.valid_from:
            return False
        return self.valid_until is None or day <= self.valid_until

    @classmethod
    def from_gbt36903(cls, mapping: Mapping[str, Any]) -> Self:
        """Build from a record keyed by pinyin abbreviations, with ``yyyyMMdd`` dates.

        Unknown keys are refused. A missing, empty or ``长期`` ZZYXQJZRQ means long-term. Any
        failure raises an :class:`~deltafed.InvalidInputError` whose ``field`` is the pinyin
        name.
        """
        if not isinstance(mapping, Mapping):
            raise SchemaValidationError(
                f"{cls.__name__}: a GB/T 36903 record must be a mapping", field="$"
            )
        english: dict[str, Any] = {}
        for key, value in mapping.items():
            pinyin = _PINYIN_ALIASES.get(key, key)
            name = _ENGLISH.get(pinyin) if isinstance(pinyin, str) else None
            if name is None:
                raise SchemaValidationError(
                    f"{cls.__name__}: unknown GB/T 36903 field {str(key)[:40]!r}",
                    field=str(key)[:40],
                    error_type="extra_forbidden",
                )
            if name in english:
                raise SchemaValidationError(
                    f"{cls.__name__}: {pinyin} is given twice", field=pinyin, error_type="duplicate"
                )
            if name == "valid_until" and value in LONG_TERM_MARKERS:
                continue
            if name in _DATE_FIELDS:
                value = parse_yyyymmdd(value, field=pinyin)
            english[name] = value
        try:
            return cls.parse(english)
        except InvalidInputError as exc:
            field = exc.field or "$"
            head = field.split(".")[0].split("[")[0]
            pinyin = PINYIN_FIELDS.get(head, head)
            raise type(exc)(
                exc.message,
                field=pinyin + field[len(head) :],
                remediation=exc.remediation,
                reason=exc.reason,
                error_type=exc.error_type,
            ) from exc

    def to_gbt36903(self) -> dict[str, str]:
        """The record keyed by pinyin abbreviations, dates as ``yyyyMMdd``.

        A long-term certificate has no ZZYXQJZRQ key.
        """
        out: dict[str, str] = {}
        for english, pinyin in PINYIN_FIELDS.items():
            value = getattr(self, english)
            if value is None:
                continue
            out[pinyin] = format_yyyymmdd(value) if english in _DATE_FIELDS else str(value)
        return out
