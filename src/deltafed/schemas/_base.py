"""The base every wire model derives from, and the translation of validation failures.

Rules that hold for every model on the wire:

* models are frozen (a verified message cannot be altered after the fact);
* inbound models forbid unknown fields;
* there are no floats: integers are strict (``1.0`` is refused, not coerced), and nothing is
  typed ``float``;
* every string has a bounded length;
* timestamps are RFC 3339 ``date-time`` strings with an explicit offset (:data:`Timestamp`).

The public way in is :meth:`WireModel.parse` / :meth:`WireModel.parse_json`, which raise
:class:`~deltafed.SchemaValidationError` (or :class:`~deltafed.IdentifierError`) naming the
field and the reason, never a bare pydantic error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
)
from pydantic import ValidationError as _PydanticValidationError
from pydantic_core import PydanticCustomError

from deltafed._errors import IdentifierError, SchemaValidationError, SizeLimitError

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "TIMESTAMP_PATTERN",
    "Code",
    "LongText",
    "Name",
    "NonNegInt",
    "ShortText",
    "Text",
    "Timestamp",
    "WireBool",
    "WireInt",
    "WireModel",
    "translate_validation_error",
]

#: Largest JSON document :meth:`WireModel.parse_json` accepts.
MAX_DOCUMENT_BYTES = 1_048_576

#: Error types raised by identifier validators; they become :class:`IdentifierError`.
IDENTIFIER_ERROR_PREFIX = "identifier_"

WireInt = StrictInt
WireBool = StrictBool
NonNegInt = Annotated[StrictInt, Field(ge=0, le=2**53 - 1)]

#: A machine code: ASCII letters, digits, ``_ - . :``, at most 64 characters.
Code = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")
]
#: A person's or organisation's name.
Name = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
ShortText = Annotated[str, StringConstraints(max_length=64)]
Text = Annotated[str, StringConstraints(max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=2000)]


def _utc(value: datetime) -> datetime:
    return value


#: The one spelling of a timestamp on the wire (RFC 3339 ``date-time``, upper-case ``T`` and
#: ``Z``, 1 to 9 fraction digits, an offset ``Z`` or ``+HH:MM``/``-HH:MM``). The offset is left
#: optional here only so that a naive time is reported as such (``timezone_aware``).
_RFC3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)
#: The same grammar, offset required, as the JSON Schema ``pattern`` of every timestamp.
TIMESTAMP_PATTERN: Final = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$"
)


def _not_a_number(value: Any) -> Any:
    # Pydantic would read a number as epoch seconds; on the wire a timestamp is an RFC 3339
    # string (as its JSON Schema says), and a float must never get in.
    if isinstance(value, int | float):
        raise PydanticCustomError(
            "datetime_type", "a timestamp is an RFC 3339 string, not a number"
        )
    # Pydantic's own parser is lenient (a space for T, no seconds, "+0800", digits only): a
    # second implementation would refuse those, so one grammar is enforced here.
    if isinstance(value, str) and not _RFC3339.fullmatch(value):
        raise PydanticCustomError(
            "datetime_parsing",
            "a timestamp is an RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS, an optional fraction, "
            "and Z or +HH:MM",
        )
    return value


#: A timezone-aware instant, written as :data:`TIMESTAMP_PATTERN`; naive datetimes, numbers
#: and other spellings are refused.
Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_not_a_number),
    AfterValidator(_utc),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": TIMESTAMP_PATTERN}),
]


def _loc_to_field(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "$"


def translate_validation_error(
    exc: _PydanticValidationError, *, model: str
) -> SchemaValidationError | IdentifierError:
    """Turn a pydantic error into ours: the first failing field, its reason, all reasons."""
    errors = exc.errors(include_url=False)
    first = errors[0] if errors else {"loc": (), "msg": str(exc), "type": "value_error"}
    field = _loc_to_field(tuple(first["loc"]))
    reason = str(first["msg"])
    kind = str(first["type"])
    summary = "; ".join(f"{_loc_to_field(tuple(e['loc']))}: {e['msg']}" for e in errors[:5])
    message = f"{model}: {summary}" if summary else f"{model}: {reason}"
    cls = IdentifierError if kind.startswith(IDENTIFIER_ERROR_PREFIX) else SchemaValidationError
    return cls(message, field=field, reason=reason, error_type=kind)


class WireModel(BaseModel):
    """Base of every model that crosses a boundary."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        allow_inf_nan=False,
        populate_by_name=True,
        use_enum_values=False,
        validate_default=True,
    )

    @classmethod
    def parse(cls, data: Mapping[str, Any] | Any) -> Self:
        """Validate a Python mapping; raise a :class:`DeltafedError` subclass on failure."""
        try:
            # What model_validate(data) runs, without its Python wrapper: this is on every
            # message's path.
            return cls.__pydantic_validator__.validate_python(data)  # type: ignore[no-any-return]
        except _PydanticValidationError as exc:
            raise translate_validation_error(exc, model=cls.__name__) from exc

    @classmethod
    def parse_json(cls, data: bytes | str, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Self:
        """Validate a JSON document, refusing one over ``max_bytes`` before parsing it."""
        raw = data.encode() if isinstance(data, str) else data
        if len(raw) > max_bytes:
            raise SizeLimitError(
                f"{cls.__name__}: document of {len(raw)} bytes exceeds the limit of {max_bytes}"
            )
        try:
            decoded = json.loads(raw, parse_float=_refuse_float, parse_constant=_refuse_float)
        except _FloatRefusedError as exc:
            raise SchemaValidationError(
                f"{cls.__name__}: {exc}",
                field=_float_path(raw),
                reason=str(exc),
                error_type="float_not_allowed",
            ) from exc
        except (ValueError, RecursionError) as exc:
            raise SchemaValidationError(
                f"{cls.__name__}: not valid JSON: {exc}", field="$", error_type="json_invalid"
            ) from exc
        return cls.parse(decoded)

    def to_wire(self) -> dict[str, Any]:
        """The JSON-compatible form of this model, by wire (alias) names, without ``None``."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class _FloatRefusedError(ValueError):
    pass


def _refuse_float(token: str) -> Any:
    raise _FloatRefusedError(f"floats are not allowed on the wire (got {token[:32]})")


_FLOAT_MARK = object()


def _float_path(raw: bytes) -> str:
    """The path of the first float (in document order) of a JSON document; ``$`` if unknown."""
    try:
        decoded = json.loads(
            raw, parse_float=lambda _: _FLOAT_MARK, parse_constant=lambda _: _FLOAT_MARK
        )
    except (ValueError, RecursionError):
        return "$"
    todo: list[tuple[tuple[int | str, ...], Any]] = [((), decoded)]
    while todo:
        loc, node = todo.pop(0)
        if node is _FLOAT_MARK:
            return _loc_to_field(loc)
        if isinstance(node, dict):
            todo[0:0] = [((*loc, str(k)), v) for k, v in node.items()]
        elif isinstance(node, list):
            todo[0:0] = [((*loc, i), v) for i, v in enumerate(node)]
    return "$"
