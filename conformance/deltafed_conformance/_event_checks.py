"""Checks of subscriptions and change events (``docs/protocol.md`` section 13, EVENT-NNN)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from deltafed._errors import DeltafedError
from deltafed.schemas.events import Subscription, SubscriptionList
from deltafed_conformance._model import Check, CheckFailed
from deltafed_conformance._profile import Subject
from deltafed_conformance._session import Session

__all__ = ["EVENT_CHECKS"]

_KINDS: Final = ["certificate.renewed", "certificate.revoked"]


def _fail(condition: bool, reason: str) -> None:
    if condition:
        raise CheckFailed(reason)


def _subject(session: Session) -> Subject:
    subject: Subject = session.need(session.profile.subscribe, "[subscribe] subject")
    return subject


def _create(session: Session, *, kinds: list[str] | None = None, days: int = 30) -> dict[str, Any]:
    subject = _subject(session)
    type_code = session.need(subject.type_code, "subscribe.type_code")
    expires = session.clock() + timedelta(days=days)
    return session.claims(
        op="subscription.create",
        tgt=type_code,
        scn=subject.scenario,
        body={
            "subject_type": subject.holder_type,
            "subject_code": subject.holder_code,
            "kinds": kinds or list(_KINDS),
            "expires_at": expires.isoformat(),
            "use_cause": "deltafed conformance",
        },
    )


def _parse(model: Any, body: dict[str, Any]) -> Any:
    try:
        return model.parse(body)
    except DeltafedError as exc:
        raise CheckFailed(f"the answer is not a {model.__name__}: {exc.message}") from exc


async def event_subscribe(session: Session) -> None:
    subject = _subject(session)
    body = (await session.send(_create(session))).expect_ok()
    sub: Subscription = _parse(Subscription, body)
    _fail(str(sub.subscriber) != session.tester, f"the subscriber is {sub.subscriber}")
    _fail(sub.target != subject.type_code, f"the subscription watches {sub.target}")
    _fail(sub.subject_code != subject.holder_code, "the subscription is about another subject")
    _fail(set(sub.kinds) != set(_KINDS), f"the subscription has kinds {list(sub.kinds)}")
    _fail(sub.cancelled, "a new subscription is cancelled")


async def event_list_cancel(session: Session) -> None:
    subject = _subject(session)
    created = _parse(Subscription, (await session.send(_create(session))).expect_ok())

    async def listed() -> dict[str, Subscription]:
        claims = session.claims(
            op="subscription.list",
            tgt="subscriptions",
            scn=subject.scenario,
            body={"use_cause": "deltafed conformance"},
        )
        answer: SubscriptionList = _parse(
            SubscriptionList, (await session.send(claims)).expect_ok()
        )
        return {s.id: s for s in answer.subscriptions}

    before = await listed()
    _fail(created.id not in before, "a new subscription is not listed")
    _fail(
        any(str(s.subscriber) != session.tester for s in before.values()),
        "the list holds another member's subscriptions",
    )
    cancel = session.claims(
        op="subscription.cancel",
        tgt=created.id,
        scn=subject.scenario,
        body={"subscription": created.id},
    )
    body = (await session.send(cancel)).expect_ok()
    _fail(body != {"subscription": created.id, "cancelled": True}, f"cancel answered {body}")
    after = await listed()
    _fail(not after[created.id].cancelled, "a cancelled subscription is listed as active")


async def event_kind_refused(session: Session) -> None:
    claims = _create(session, kinds=["condition.changed"])
    (await session.send(claims)).expect_problem("not_authorized", 403)


async def event_expiry_bounded(session: Session) -> None:
    scenario = session.registry.scenario(_subject(session).scenario)
    days = (scenario.max_subscription_days or 90) + 30
    (await session.send(_create(session, days=days))).expect_problem("invalid_input", 400)


async def event_sender_checked(session: Session) -> None:
    # The tester is no provider of a scenario that names the node as subscriber.
    subject = _subject(session)
    event_id = "evt-conformance-00000001"
    claims = session.claims(
        op="event.deliver",
        tgt=event_id,
        scn=subject.scenario,
        body={
            "event_id": event_id,
            "subscription": "sub-conformance-0000001",
            "kind": "certificate.renewed",
            "subject_type": subject.holder_type,
            "subject_code": subject.holder_code,
            "target": session.need(subject.type_code, "subscribe.type_code"),
            "occurred_at": session.clock().isoformat(),
            "seq": 1,
        },
    )
    (await session.send(claims)).expect_problem("not_authorized", 403)


_TABLE: Final = (
    ("DF-EVENT-001", "Subscription answered", "§13.1 [EVENT-001]",
     "subscription.create is answered with a Subscription of the requester, for the subject, "
     "target and kinds asked", event_subscribe),
    ("DF-EVENT-002", "Own subscriptions listed and cancelled", "§13.1 [EVENT-002]",
     "subscription.list lists the requester's subscriptions only; a cancelled one is listed "
     "as cancelled", event_list_cancel),
    ("DF-EVENT-003", "Event kinds outside the scenario", "§13.1 [EVENT-001]",
     "a kind the scenario does not allow is refused with not_authorized (403)",
     event_kind_refused),
    ("DF-EVENT-004", "Subscription lifetime bounded", "§13.1 [EVENT-001]",
     "an expiry beyond the scenario's longest subscription is refused with invalid_input (400)",
     event_expiry_bounded),
    ("DF-EVENT-005", "Events only from providers", "§13.2 [EVENT-006]",
     "an event from a member that is no provider of the scenario is refused with "
     "not_authorized (403)", event_sender_checked),
)  # fmt: skip

#: The subscription and event checks, in run order.
EVENT_CHECKS: Final[tuple[Check, ...]] = tuple(
    Check(check_id, title, f"docs/protocol.md {section}: {text}", run)
    for check_id, title, section, text, run in _TABLE
)
