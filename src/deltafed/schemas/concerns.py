"""Cross-region concerns (异议、咨询、投诉): what a filer sends, what the responsible region signs
back, and the federation policy that routes them and sets their deadlines.

* :class:`Concern` - the body of a ``concern.file`` request: who files (a resident or a
  company, by identifier), about what (a certificate, a record type or a procedure), which
  category, the text, attachments by digest, and the filer's consent to share it with the
  responsible region.
* :class:`ConcernEvent` - the payload of one signed event of a concern's history
  (``deltafed-concern-event+jws``): filed, acknowledged, a status change, the answer, a
  reminder, an escalation. Each is bound to the concern id and chained to the one before.
* :class:`ConcernDesk` (in a region's catalogue) and :class:`ConcernPolicy` (in the registry):
  who answers which concerns, who supervises them, and the deadlines in working days.

Pure data with validation; the protocol rules are in ``docs/protocol.md`` section 10.
"""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal, Self

from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from deltafed._errors import IdentifierError
from deltafed.schemas._base import Code, Name, NonNegInt, Timestamp, WireBool, WireModel
from deltafed.schemas._checks import fail, holder_code_after_type, no_duplicates, not_empty
from deltafed.schemas.common import Digest, HolderType
from deltafed.schemas.identifiers import (
    CertificateId,
    CertificateTypeCode,
    MemberId,
    ProvinceCode,
    parse_certificate_id,
    province_of,
)

__all__ = [
    "CONCERN_ACTIONS",
    "CONCERN_EVENT_TYP",
    "CONCERN_OPERATIONS",
    "FINAL_STATUSES",
    "Attachment",
    "Concern",
    "ConcernAction",
    "ConcernAnswer",
    "ConcernCategory",
    "ConcernDeadline",
    "ConcernDesk",
    "ConcernEvent",
    "ConcernEventKind",
    "ConcernFiler",
    "ConcernHistory",
    "ConcernId",
    "ConcernPolicy",
    "ConcernStatus",
    "ConcernSubject",
    "Correction",
    "EscalationList",
    "HistoryQuery",
    "ShareConsent",
    "Stage",
]

#: ``typ`` of a signed concern event.
CONCERN_EVENT_TYP: Final = "deltafed-concern-event+jws"
#: The wire operations of concerns (requests sent to the responsible member's node).
CONCERN_OPERATIONS: Final = ("concern.file", "concern.history", "concern.escalations")

#: objection to data (异议), question (咨询), complaint (投诉).
ConcernCategory = Literal["objection", "question", "complaint"]
ConcernStatus = Literal[
    "filed", "acknowledged", "accepted", "in_progress", "answered", "closed", "rejected"
]
#: Statuses after which nothing but reading happens.
FINAL_STATUSES: Final = frozenset({"closed", "rejected"})
ConcernEventKind = Literal["filed", "acknowledged", "status", "answered", "reminder", "escalated"]
#: A deadline stage: acknowledging, or answering.
Stage = Literal["acknowledge", "answer"]
#: What the responsible node's audit log calls the events it signs (not wire operations).
ConcernAction = Literal[
    "concern.acknowledge", "concern.update", "concern.answer", "concern.remind", "concern.escalate"
]
CONCERN_ACTIONS: Final = (
    "concern.acknowledge",
    "concern.update",
    "concern.answer",
    "concern.remind",
    "concern.escalate",
)

#: A concern id: 16 to 64 characters of the base64url alphabet, chosen by the filer.
ConcernId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16,64}$")]
_Text = Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)]
_Reason = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
_MediaType = Annotated[
    str, StringConstraints(min_length=3, max_length=100, pattern=r"^[a-z0-9.+-]+/[a-z0-9.+-]+$")
]
_MAX_ATTACHMENTS: Final = 16
_MAX_DESK_ENTRIES: Final = 4096
_CODE: Final = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")


class ConcernFiler(WireModel):
    """The resident or company the concern is from."""

    type: HolderType
    #: Resident identity number (``111``) or unified social credit code (``001``).
    code: Annotated[str, StringConstraints(max_length=18)]

    @field_validator("code")
    @classmethod
    def _code(cls, value: str, info: ValidationInfo) -> str:
        return holder_code_after_type(value, info, "type")


class ConcernSubject(WireModel):
    """What the concern is about.

    A certificate is named by its identifier (its issuing agency's code says which region
    issued it); a record type and a procedure by their code and the region that holds them.
    """

    kind: Literal["certificate", "record_type", "procedure"]
    ref: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    region: ProvinceCode | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind == "certificate":
            try:
                parse_certificate_id(self.ref)
            except IdentifierError as exc:
                raise ValueError(f"ref: {exc.message}") from None
            issuer_region = _issuer_region(self.ref)
            if self.region is not None and self.region != issuer_region:
                raise ValueError(
                    f"the certificate was issued in region {issuer_region}, not {self.region}"
                )
        else:
            if not _CODE.fullmatch(self.ref):
                raise ValueError(f"ref: a {self.kind} code is 1 to 64 characters [A-Za-z0-9_.:-]")
            if self.region is None:
                raise ValueError(f"a {self.kind} subject names its region")
        return self

    @property
    def responsible_region(self) -> str:
        """The region that answers: the issuer's for a certificate, else the one named."""
        if self.kind == "certificate":
            return _issuer_region(self.ref)
        return str(self.region)


def _issuer_region(certificate_id: str) -> str:
    # 1.2.156.3005.2.<type>.<issuer credit code>.<serial>.<version>.<check>: the issuing
    # agency's credit code holds its division code in positions 3 to 8.
    return province_of(certificate_id.split(".")[6][2:8])


class Attachment(WireModel):
    """A document attached by digest; the bytes travel (or not) outside the protocol."""

    name: Name
    media_type: _MediaType
    digest: Digest
    size: NonNegInt


class ShareConsent(WireModel):
    """The filer's consent to share the concern with the responsible region."""

    given: WireBool
    given_at: Timestamp


class Concern(WireModel):
    """The body of a ``concern.file`` request."""

    id: ConcernId
    filer: ConcernFiler
    subject: ConcernSubject
    category: ConcernCategory
    text: _Text
    attachments: Annotated[tuple[Attachment, ...], Field(max_length=_MAX_ATTACHMENTS)] = ()
    consent: ShareConsent
    filed_at: Timestamp

    @field_validator("attachments")
    @classmethod
    def _unique(cls, value: tuple[Attachment, ...]) -> tuple[Attachment, ...]:
        no_duplicates((a.digest for a in value), "attachment digest")
        return value


class HistoryQuery(WireModel):
    """The body of a ``concern.history`` request."""

    concern_id: ConcernId


class Correction(WireModel):
    """What an upheld objection changed on the native platform."""

    action: Literal["corrected", "revoked"]
    certificate_id: CertificateId
    #: The identifier of the corrected certificate (a new version), for ``corrected``.
    new_certificate_id: CertificateId | None = None
    #: The fields corrected, with their new values, for ``corrected``.
    fields: (
        Annotated[
            dict[Code, Annotated[str, StringConstraints(max_length=2000)]], Field(max_length=64)
        ]
        | None
    ) = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.action == "corrected" and (self.new_certificate_id is None or not self.fields):
            raise ValueError("a correction names the new certificate and the fields changed")
        if self.action == "revoked" and (self.new_certificate_id or self.fields):
            raise ValueError("a revocation names no new certificate and no fields")
        return self


class ConcernAnswer(WireModel):
    """The responsible region's answer."""

    text: _Text
    #: ``upheld`` / ``not_upheld`` for an objection or a complaint, ``information`` for a question.
    outcome: Literal["upheld", "not_upheld", "information"]
    attachments: Annotated[tuple[Attachment, ...], Field(max_length=_MAX_ATTACHMENTS)] = ()
    correction: Correction | None = None


class ConcernEvent(WireModel):
    """The payload of one signed event of a concern's history.

    ``iss`` is the responsible member (its registry keys verify the signature), ``aud`` the
    member that filed. ``seq`` counts from 0 (``filed``); ``prev`` is the digest of the filing
    request for event 0 and of the previous event's compact JWS after that. ``status`` is the
    concern's status once this event happened.
    """

    iss: MemberId
    aud: MemberId
    cid: ConcernId
    seq: NonNegInt
    prev: Digest
    iat: NonNegInt
    kind: ConcernEventKind
    status: ConcernStatus
    #: ``filed``: the deadlines, end of the working day, as instants.
    ack_due: Timestamp | None = None
    answer_due: Timestamp | None = None
    #: ``status`` to ``rejected`` (required) or any status change (optional note).
    reason: _Reason | None = None
    #: ``answered``.
    answer: ConcernAnswer | None = None
    #: ``reminder`` and ``escalated``: the stage whose deadline is near or missed, and when.
    stage: Stage | None = None
    due: Timestamp | None = None
    #: ``escalated``: the supervising member.
    to: MemberId | None = None

    @model_validator(mode="after")
    def _by_kind(self) -> Self:
        kind = self.kind
        needs = {
            "filed": ("ack_due", "answer_due"),
            "answered": ("answer",),
            "reminder": ("stage", "due"),
            "escalated": ("stage", "due", "to"),
        }.get(kind, ())
        for name in needs:
            if getattr(self, name) is None:
                raise ValueError(f"a {kind} event needs {name}")
        allowed = set(needs) | ({"reason"} if kind == "status" else set())
        for name in ("ack_due", "answer_due", "reason", "answer", "stage", "due", "to"):
            if name not in allowed and getattr(self, name) is not None:
                raise ValueError(f"a {kind} event has no {name}")
        if kind == "filed" and (self.seq != 0 or self.status != "filed"):
            raise ValueError("the filed event is event 0 with status filed")
        if kind != "filed" and self.seq == 0:
            raise ValueError("event 0 is the filed event")
        if kind == "status" and self.status == "rejected" and self.reason is None:
            raise ValueError("a rejection gives its reason")
        if kind == "answered" and self.status != "answered":
            raise ValueError("an answered event has status answered")
        if kind == "acknowledged" and self.status != "acknowledged":
            raise ValueError("an acknowledged event has status acknowledged")
        if kind == "status" and self.status in ("filed", "acknowledged", "answered"):
            raise ValueError(f"status {self.status} is reached by its own event, not an update")
        return self


class ConcernHistory(WireModel):
    """The ok body answering ``concern.file`` and ``concern.history``: the exact filing
    request (compact JWS, which event 0 points at) and every event so far."""

    concern_id: ConcernId
    filing: Annotated[
        str,
        StringConstraints(
            max_length=65_536, pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"
        ),
    ]
    events: Annotated[
        tuple[Annotated[str, StringConstraints(max_length=32_768)], ...],
        Field(min_length=1, max_length=256),
    ]


class EscalationList(WireModel):
    """The ok body answering ``concern.escalations``: the histories escalated to the asker."""

    concerns: Annotated[tuple[ConcernHistory, ...], Field(max_length=256)] = ()


# --- registry: who answers, who supervises, how fast ------------------------------------------


class ConcernDesk(WireModel):
    """In a region's catalogue: the member that answers concerns about some of its certificate
    types, record types and procedures, the categories it takes, and who supervises it."""

    member: MemberId
    categories: Annotated[tuple[ConcernCategory, ...], Field(min_length=1, max_length=3)]
    certificate_types: Annotated[
        tuple[CertificateTypeCode, ...], Field(max_length=_MAX_DESK_ENTRIES)
    ] = ()
    record_types: Annotated[tuple[Code, ...], Field(max_length=_MAX_DESK_ENTRIES)] = ()
    procedures: Annotated[tuple[Code, ...], Field(max_length=_MAX_DESK_ENTRIES)] = ()
    #: The member escalations go to when a deadline is missed.
    supervisor: MemberId

    @field_validator("categories", "certificate_types", "record_types", "procedures")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        no_duplicates(value, "entry")
        return value

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not (self.certificate_types or self.record_types or self.procedures):
            raise ValueError("a concern desk answers for at least one type or procedure")
        if self.supervisor == self.member:
            raise ValueError("a desk cannot supervise itself")
        return self

    def covers(self, subject: ConcernSubject) -> bool:
        """Whether this desk answers for ``subject`` (its region is checked by the caller)."""
        if subject.kind == "certificate":
            return subject.ref.split(".")[5] in self.certificate_types
        if subject.kind == "record_type":
            return subject.ref in self.record_types
        return subject.ref in self.procedures


class ConcernDeadline(WireModel):
    """Federation policy for one category: working days to acknowledge and to answer."""

    category: ConcernCategory
    acknowledge_days: Annotated[int, Field(strict=True, ge=1, le=30)]
    answer_days: Annotated[int, Field(strict=True, ge=1, le=60)]

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.answer_days < self.acknowledge_days:
            raise ValueError("answer_days must not be shorter than acknowledge_days")
        return self


class ConcernPolicy(WireModel):
    """The federation's concern policy in the registry: the deadline of each category."""

    deadlines: Annotated[tuple[ConcernDeadline, ...], Field(min_length=1, max_length=3)]

    @field_validator("deadlines")
    @classmethod
    def _unique(cls, value: tuple[ConcernDeadline, ...]) -> tuple[ConcernDeadline, ...]:
        no_duplicates((d.category for d in value), "category")
        return value

    def deadline(self, category: str) -> ConcernDeadline | None:
        return next((d for d in self.deadlines if d.category == category), None)


def check_concern_categories(
    value: tuple[str, ...] | None, operations: tuple[str, ...] | None
) -> tuple[str, ...] | None:
    """For :class:`~deltafed.schemas.catalogue.UseScenario`: categories go with concern.file."""
    if operations is None:
        return value
    if "concern.file" in operations:
        not_empty(value or (), "concern category for concern.file")
        no_duplicates(value or (), "concern category")
    elif value is not None:
        raise fail("unused", "concern categories are listed but concern.file is not allowed")
    return value
