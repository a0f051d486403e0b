"""Subscriptions and change events (``docs/protocol.md`` section 13): the bodies on the wire.

A member subscribes, under a use scenario, to changes about a subject it serves; the provider
sends a signed ``event.deliver`` request per change. An event says what changed and about whom,
never the record data: the subscriber then asks under its scenario.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from deltafed.schemas._base import Code, NonNegInt, Timestamp, WireBool, WireModel
from deltafed.schemas._checks import RequiredText, holder_code_after_type, no_duplicates
from deltafed.schemas.catalogue import EventKind
from deltafed.schemas.common import HolderType
from deltafed.schemas.identifiers import CertificateId, MemberId

__all__ = [
    "MAX_SUBSCRIPTIONS_LISTED",
    "ChangeEvent",
    "EventAck",
    "Subscription",
    "SubscriptionCancel",
    "SubscriptionList",
    "SubscriptionListQuery",
    "SubscriptionRequest",
]

#: Most subscriptions one ``subscription.list`` answer holds.
MAX_SUBSCRIPTIONS_LISTED: Final = 1000

_Id = Annotated[str, StringConstraints(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
_HolderCode = Annotated[str, StringConstraints(min_length=1, max_length=18)]
_Kinds = Annotated[tuple[EventKind, ...], Field(min_length=1, max_length=5)]


class SubscriptionRequest(WireModel):
    """The body of ``subscription.create``; ``tgt`` is the certificate type code watched."""

    subject_type: HolderType
    subject_code: _HolderCode
    kinds: _Kinds
    expires_at: Timestamp
    use_cause: RequiredText

    @field_validator("subject_code")
    @classmethod
    def _check_subject_code(cls, value: str, info: ValidationInfo) -> str:
        return holder_code_after_type(value, info, "subject_type")

    @field_validator("kinds")
    @classmethod
    def _unique_kinds(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        no_duplicates(value, "event kind")
        return value


class Subscription(WireModel):
    """A subscription as the provider holds it and answers it."""

    id: _Id
    subscriber: MemberId
    scenario: Code
    target: Code
    subject_type: HolderType
    subject_code: _HolderCode
    kinds: _Kinds
    created_at: Timestamp
    expires_at: Timestamp
    cancelled: WireBool = False


class SubscriptionList(WireModel):
    """The answer to ``subscription.list``: the requester's subscriptions under the scenario."""

    subscriptions: Annotated[tuple[Subscription, ...], Field(max_length=MAX_SUBSCRIPTIONS_LISTED)]


class SubscriptionListQuery(WireModel):
    """The body of ``subscription.list`` (``tgt`` is ``subscriptions``)."""

    use_cause: RequiredText


class SubscriptionCancel(WireModel):
    """The body of ``subscription.cancel`` (``tgt`` is the subscription id) and its answer."""

    subscription: _Id
    cancelled: WireBool | None = None


class ChangeEvent(WireModel):
    """The body of ``event.deliver``: what changed and about whom, no record data.

    For a certificate, ``target`` is its type code and ``certificate_id`` the certificate as
    it is now; for ``condition.changed``, ``target`` is the scenario's predicate and ``holds``
    whether it holds now (the one boolean the scenario allows, never the value behind it).

    ``event_id`` is unique per provider and stays the same on every redelivery: the subscriber
    drops an id it has seen. ``seq`` increases per provider, so events about one subject can be
    put in order.
    """

    event_id: _Id
    subscription: _Id
    kind: EventKind
    subject_type: HolderType
    subject_code: _HolderCode
    target: Code
    certificate_id: CertificateId | None = None
    #: For ``condition.changed``: whether the scenario's predicate (``target``) holds now.
    holds: WireBool | None = None
    occurred_at: Timestamp
    seq: NonNegInt

    @field_validator("subject_code")
    @classmethod
    def _check_subject_code(cls, value: str, info: ValidationInfo) -> str:
        return holder_code_after_type(value, info, "subject_type")


class EventAck(WireModel):
    """The subscriber's answer to ``event.deliver``."""

    event_id: _Id
    #: ``True`` when the subscriber had already received this event (and dropped it).
    duplicate: WireBool
