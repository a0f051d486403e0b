"""One entry of a node's audit log.

An entry records one exchange from one side (``requester`` or ``responder``): who talked to
whom, under which scenario, about which subjects, which fields were released, and the outcome.
Subjects appear only as keyed hashes (``hmac-sha256:...``), never as identity numbers; the
request and response appear only as digests of their exact bytes. ``prev_hash`` chains each
entry to the one before it. Writing and verifying the chain belongs to :mod:`deltafed.audit`.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema

from deltafed._errors import all_error_classes
from deltafed.schemas._base import Code, NonNegInt, Timestamp, WireModel
from deltafed.schemas._checks import fail
from deltafed.schemas.catalogue import MAX_FIELDS
from deltafed.schemas.common import Digest, Operation, RequestId, SubjectRef
from deltafed.schemas.concerns import ConcernAction
from deltafed.schemas.identifiers import MemberId

__all__ = ["OUTCOMES", "AuditEntry", "Outcome"]

#: ``ok``, or the code of the error that ended the exchange.
OUTCOMES: Final[tuple[str, ...]] = ("ok", *sorted(cls.code for cls in all_error_classes()))
_OUTCOME_SET: Final = frozenset(OUTCOMES)


def _check_outcome(value: str) -> str:
    if value not in _OUTCOME_SET:
        raise fail("outcome", f"outcome must be 'ok' or an error code, got {value!r}")
    return value


#: The result of an exchange: ``ok`` or an error code.
Outcome = Annotated[
    Code,
    AfterValidator(_check_outcome),
    WithJsonSchema({"type": "string", "enum": list(OUTCOMES)}),
]


class AuditEntry(WireModel):
    """One exchange, as one side recorded it."""

    #: Position in the log, from 0.
    seq: NonNegInt
    at: Timestamp
    role: Literal["requester", "responder"]
    #: The node that wrote the entry.
    node: MemberId
    #: The other side of the exchange.
    counterpart: MemberId
    #: The operation, or the concern action the node signed (``concern.answer``...).
    operation: Literal[Operation, ConcernAction]
    scenario: Code
    #: Keyed hashes of the subjects (holders) concerned.
    subject_refs: Annotated[tuple[SubjectRef, ...], Field(max_length=64)]
    #: The fields released (empty when nothing was).
    fields: Annotated[tuple[Code, ...], Field(max_length=MAX_FIELDS)]
    outcome: Outcome
    request_id: RequestId
    request_digest: Digest
    response_digest: Digest
    #: Digest of the previous entry (a fixed genesis value for the first).
    prev_hash: Digest
    #: What was asked and answered when no field was released, e.g. a match's predicate and
    #: its boolean (``predicate si-12-months = true``) or an event's kind; absent otherwise.
    detail: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
