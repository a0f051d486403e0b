"""Small validators shared by the schema modules.

They raise :class:`pydantic_core.PydanticCustomError` so that, inside a model, the failure is
reported with the path of the field being validated and becomes a
:class:`~deltafed.SchemaValidationError` through :meth:`~deltafed.schemas.WireModel.parse`;
:func:`parse_holder_type`, for arguments outside a model, raises an
:class:`~deltafed.InvalidInputError` itself.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable
from datetime import date, datetime
from typing import Annotated, TypeVar

from pydantic import (
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from deltafed._errors import InvalidInputError
from deltafed.schemas.common import HolderType
from deltafed.schemas.identifiers import _check_holder_code

__all__ = [
    "IsoDate",
    "RequiredText",
    "fail",
    "fail_at",
    "holder_code_after_type",
    "no_duplicates",
    "not_empty",
    "parse_holder_type",
]

_T = TypeVar("_T", bound=Hashable)


def fail(kind: str, message: str) -> PydanticCustomError:
    """A validation failure with the machine type ``schema_<kind>``."""
    return PydanticCustomError(f"schema_{kind}", message)


def no_duplicates(values: Iterable[_T], what: str) -> None:
    """Refuse a collection in which some value appears twice."""
    seen: set[_T] = set()
    for value in values:
        if value in seen:
            raise fail("duplicate", f"duplicate {what}: {value}")
        seen.add(value)


def not_empty(values: tuple[object, ...], what: str) -> None:
    """Refuse an empty collection."""
    if not values:
        raise fail("empty", f"at least one {what} is required")


#: Free text that must not be empty (a name of a service matter, a legal basis, a use cause).
RequiredText = Annotated[
    str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)
]


def fail_at(
    loc: tuple[str | int, ...], error: PydanticCustomError, value: object
) -> ValidationError:
    """A failure found by a model validator, reported at the path ``loc`` of the model.

    Raise it from a ``model_validator(mode="after")``: pydantic prefixes the model's own path
    when the model is nested, so the reported field stays exact.
    """
    return ValidationError.from_exception_data(
        "validation", [InitErrorDetails(type=error, loc=loc, input=value)]
    )


def holder_code_after_type(value: str, info: ValidationInfo, type_field: str) -> str:
    """Validate a holder code by the holder type validated just before it (in ``info.data``).

    When the type itself failed, the code is left to that error.
    """
    holder_type = info.data.get(type_field)
    if holder_type is None:
        return value
    return _check_holder_code(value, holder_type)


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _parse_iso_date(value: object) -> object:
    if isinstance(value, datetime):
        raise fail("date", "a date is required, not a date and time")
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise fail("date", "dates are YYYY-MM-DD strings")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail("date", f"{value} is not a real date") from None


#: A calendar date, on the wire as an ISO ``YYYY-MM-DD`` string (nothing else is accepted).
IsoDate = Annotated[
    date,
    PlainValidator(_parse_iso_date),
    PlainSerializer(lambda d: d.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date", "maxLength": 10}),
]


def parse_holder_type(value: object, *, field: str = "holder_type") -> HolderType:
    """``value`` as a :class:`HolderType`; anything else (``111`` as an int, ``"112"``) is an
    :class:`~deltafed.InvalidInputError` naming ``field``."""
    if isinstance(value, HolderType):
        return value
    if isinstance(value, str):
        try:
            return HolderType(value)
        except ValueError:
            pass
    known = ", ".join(repr(t.value) for t in HolderType)
    raise InvalidInputError(
        f"unknown holder type {value!r}: give one of {known} (a string)",
        field=field,
        remediation="Pass HolderType.RESIDENT or HolderType.ORGANISATION, or their string codes.",
    )
