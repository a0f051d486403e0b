"""Small validators shared by the schema modules.

They raise :class:`pydantic_core.PydanticCustomError` so that, inside a model, the failure is
reported with the path of the field being validated and becomes a
:class:`~deltafed.SchemaValidationError` through :meth:`~deltafed.schemas.WireModel.parse`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Annotated, TypeVar

from pydantic import StringConstraints
from pydantic_core import PydanticCustomError

__all__ = ["RequiredText", "fail", "no_duplicates", "not_empty"]

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
