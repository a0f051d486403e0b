"""Purpose-bound matching: the predicates and aggregates a scenario allows, and the bodies of
``match.ask`` (``docs/protocol.md`` section 12).

A use scenario never lets a matching requester name a field. It names, once, each
:class:`Predicate` (one field of one record type, a comparison and a threshold) and each
:class:`Aggregate` (a count of the subjects of one record type whose field equals a place);
the requester then cites the predicate or aggregate by id. The answer carries the boolean, or
the count, or only "fewer than K" when the count is below the scenario's minimum group size.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, Self

from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from deltafed.schemas._base import Code, WireBool, WireModel
from deltafed.schemas._checks import RequiredText, fail, holder_code_after_type
from deltafed.schemas.common import HolderType

__all__ = [
    "COMPARISONS",
    "MAX_GROUP_SIZE",
    "Aggregate",
    "MatchAnswer",
    "MatchQuestion",
    "Predicate",
    "RateLimit",
    "Threshold",
    "compare",
]

#: The comparisons a predicate may use.
COMPARISONS: Final = ("eq", "ne", "lt", "le", "gt", "ge")
#: Largest minimum group size a scenario may set.
MAX_GROUP_SIZE: Final = 1000
_ORDERED: Final = frozenset({"lt", "le", "gt", "ge"})

#: A threshold: a string, a whole number or a boolean (never a float).
Threshold = (
    Annotated[str, StringConstraints(min_length=1, max_length=200)]
    | Annotated[int, Field(strict=True, ge=-(2**53 - 1), le=2**53 - 1)]
    | WireBool
)
#: A place an aggregate counts over (a division code, an address code...).
Place = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")
]


class Predicate(WireModel):
    """A yes/no question a scenario allows: ``<record_type>.<field> <comparison> <threshold>``.

    Ordering comparisons (``lt le gt ge``) need a whole-number threshold; a boolean threshold
    only ``eq``/``ne``.
    """

    id: Code
    record_type: Code
    field: Code
    comparison: Literal["eq", "ne", "lt", "le", "gt", "ge"]
    threshold: Threshold

    @model_validator(mode="after")
    def _typed(self) -> Self:
        kind = type(self.threshold)
        if self.comparison in _ORDERED and kind is not int:
            raise fail("comparison", f"{self.comparison} needs a whole-number threshold")
        return self


class Aggregate(WireModel):
    """A count a scenario allows: subjects of ``record_type`` whose ``field`` equals a place."""

    id: Code
    record_type: Code
    field: Code


class RateLimit(WireModel):
    """A token bucket: ``burst`` questions at once, refilled at ``per_hour`` an hour."""

    burst: Annotated[int, Field(strict=True, ge=1, le=10_000)]
    per_hour: Annotated[int, Field(strict=True, ge=1, le=1_000_000)]


def compare(value: object, comparison: str, threshold: str | int | bool) -> bool:
    """Whether ``value <comparison> threshold`` holds.

    A missing value (``None``) or a value of another type than the threshold never satisfies
    a predicate, whatever the comparison: an absent fact is not evidence of anything.
    """
    if value is None or type(value) is not type(threshold):
        return False
    if comparison == "eq":
        return value == threshold
    if comparison == "ne":
        return value != threshold
    if not isinstance(value, int) or isinstance(value, bool) or not isinstance(threshold, int):
        return False
    if comparison == "lt":
        return value < threshold
    if comparison == "le":
        return value <= threshold
    if comparison == "gt":
        return value > threshold
    if comparison == "ge":
        return value >= threshold
    return False


class MatchQuestion(WireModel):
    """The body of ``match.ask``: a predicate about one subject, or an aggregate over a place.

    Exactly one of ``predicate`` (with ``subject_code`` and ``subject_type``) or ``aggregate``
    (with ``place``). The request's ``tgt`` is the predicate or aggregate id.
    """

    predicate: Code | None = None
    subject_type: HolderType | None = None
    subject_code: Annotated[str, StringConstraints(min_length=1, max_length=18)] | None = None
    aggregate: Code | None = None
    place: Place | None = None
    use_cause: RequiredText

    @field_validator("subject_code")
    @classmethod
    def _check_subject_code(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else holder_code_after_type(value, info, "subject_type")

    @model_validator(mode="after")
    def _one_question(self) -> Self:
        if (self.predicate is None) == (self.aggregate is None):
            raise fail("question", "ask exactly one of predicate or aggregate")
        if self.predicate is not None:
            if self.subject_code is None or self.subject_type is None or self.place is not None:
                raise fail("question", "a predicate needs subject_code and subject_type only")
        elif self.place is None or self.subject_code is not None or self.subject_type is not None:
            raise fail("question", "an aggregate needs place only")
        return self

    @property
    def asked(self) -> str:
        """The id of the predicate or aggregate asked."""
        return self.predicate if self.predicate is not None else str(self.aggregate)


class MatchAnswer(WireModel):
    """The body of a ``match.ask`` answer: the boolean, or the count, or "fewer than K".

    Nothing else: no field value, no record time.
    """

    predicate: Code | None = None
    result: WireBool | None = None
    aggregate: Code | None = None
    place: Place | None = None
    count: Annotated[int, Field(strict=True, ge=0, le=2**53 - 1)] | None = None
    fewer_than: Annotated[int, Field(strict=True, ge=2, le=MAX_GROUP_SIZE)] | None = None

    @model_validator(mode="after")
    def _one_answer(self) -> Self:
        if self.predicate is not None:
            ok = self.result is not None and self.aggregate is None and self.place is None
            ok = ok and self.count is None and self.fewer_than is None
        else:
            ok = self.aggregate is not None and self.place is not None and self.result is None
            ok = ok and (self.count is None) != (self.fewer_than is None)
        if not ok:
            raise fail(
                "answer",
                "an answer is a predicate with its result, or an aggregate and place with "
                "count or fewer_than",
            )
        return self

    def describe(self) -> str:
        """One line for the audit log: what was asked and what was answered."""
        if self.predicate is not None:
            return f"predicate {self.predicate} = {str(self.result).lower()}"
        if self.fewer_than is not None:
            return f"aggregate {self.aggregate} at {self.place} = fewer than {self.fewer_than}"
        return f"aggregate {self.aggregate} at {self.place} = {self.count}"
