"""Proactive services: subscriptions, the change feed, the outbox and the inbox.

Provider side:

* :class:`Subscriptions` answers ``subscription.create``, ``.list`` and ``.cancel`` for the node
  (after the policy decision) and keeps them in the :class:`EventStore`;
* :class:`ChangePublisher` reads the adapter's change feed and enqueues one event per change
  and watching subscription, moving the feed's cursor in the same transaction;
* :class:`Outbox` delivers the enqueued events as signed ``event.deliver`` requests, at least
  once: a failed delivery is tried again later, after the waits of its
  :class:`~deltafed.RetryPolicy` (on the injected clock), and parked for the operator when the
  policy's ``attempts`` are used up.
  Events about one subject go one at a time, in order.

Subscriber side: the node keeps each event id in the store's inbox and answers a redelivery as
a duplicate; :class:`Inbox` hands each received event to the service once.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import anyio

from deltafed._clock import Clock
from deltafed._errors import (
    AdapterError,
    ConfigurationError,
    DeltafedError,
    InvalidInputError,
    NotAuthorizedError,
    NotFoundError,
)
from deltafed._retry import RetryPolicy
from deltafed.adapters import Change, ProvinceAdapter
from deltafed.client import AsyncFederationClient
from deltafed.events._store import EventStore
from deltafed.schemas.catalogue import UseScenario
from deltafed.schemas.events import (
    ChangeEvent,
    Subscription,
    SubscriptionCancel,
    SubscriptionList,
    SubscriptionRequest,
)
from deltafed.schemas.identifiers import MemberId

_log = logging.getLogger("deltafed.events")

__all__ = [
    "DELIVERY_RETRY",
    "ChangePublisher",
    "DeliveryLoop",
    "DeliveryReport",
    "Inbox",
    "Outbox",
    "Subscriptions",
    "check_sender",
]

#: How the outbox tries a delivery again by default: 8 deliveries in all (the first included),
#: 2 s after the first failure, then 4 s, 8 s... up to an hour, before the event is parked.
DELIVERY_RETRY: Final = RetryPolicy(
    attempts=8, initial_wait=2.0, multiplier=2.0, max_wait=3600.0, jitter=0.0
)
#: Longest subscription when the scenario sets no ``max_subscription_days``.
_DEFAULT_DAYS: Final = 90
_FEED: Final = "adapter"


def _new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_urlsafe(16)}"


class Subscriptions:
    """The provider's subscription operations, after the policy decision."""

    def __init__(self, store: EventStore, *, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def create(
        self, scenario: UseScenario, requester: MemberId, target: str, body: SubscriptionRequest
    ) -> Subscription:
        now = self.clock()
        outside = [k for k in body.kinds if k not in scenario.events]
        on_condition = scenario.predicate(target) is not None
        if on_condition != (set(body.kinds) == {"condition.changed"}):
            raise NotAuthorizedError(
                "a subscription to a predicate takes condition.changed only, and one to a "
                "certificate type certificate events only",
                field="body.kinds",
            )
        if outside:
            raise NotAuthorizedError(
                f"scenario {scenario.id} does not allow events {', '.join(outside)}",
                field="body.kinds",
            )
        days = scenario.max_subscription_days or _DEFAULT_DAYS
        if body.expires_at <= now or body.expires_at - now > timedelta(days=days):
            raise InvalidInputError(
                f"a subscription under {scenario.id} expires within {days} days from now",
                field="body.expires_at",
            )
        subscription = Subscription(
            id=_new_id("sub"),
            subscriber=requester,
            scenario=scenario.id,
            target=target,
            subject_type=body.subject_type,
            subject_code=body.subject_code,
            kinds=body.kinds,
            created_at=now,
            expires_at=body.expires_at,
        )
        self.store.add_subscription(subscription)
        return subscription

    def list(self, scenario: UseScenario, requester: MemberId) -> SubscriptionList:
        return SubscriptionList(
            subscriptions=tuple(self.store.subscriptions_of(str(requester), scenario.id))
        )

    def cancel(
        self, scenario: UseScenario, requester: MemberId, subscription_id: str
    ) -> tuple[SubscriptionCancel, Subscription]:
        found = self.store.subscription(subscription_id)
        if found is None or found.subscriber != requester or found.scenario != scenario.id:
            raise NotFoundError("no such subscription of yours", field="tgt")
        self.store.cancel(subscription_id)
        return SubscriptionCancel(subscription=subscription_id, cancelled=True), found


def check_sender(scenario: UseScenario, subscriber: MemberId, sender: MemberId) -> None:
    """An event is accepted only from a provider region of a subscription scenario of ours."""
    if (
        "subscription.create" not in scenario.operations
        or not scenario.matches_requester(str(subscriber))
        or sender.region not in scenario.providers
    ):
        raise NotAuthorizedError(
            f"scenario {scenario.id} lets {sender} send no events to {subscriber}", field="scn"
        )


class ChangePublisher:
    """Turns the adapter's change feed into outbox events for the watching subscriptions.

    ``scenarios`` finds a scenario by id (the registry's ``scenario``); it is needed for
    condition subscriptions: on a record change the publisher evaluates the subscription's
    predicate inside the node and emits ``condition.changed`` when the answer flips.
    """

    def __init__(
        self,
        adapter: ProvinceAdapter,
        store: EventStore,
        *,
        clock: Clock,
        scenarios: Callable[[str], UseScenario] | None = None,
    ) -> None:
        self.adapter = adapter
        self.store = store
        self.clock = clock
        self.scenarios = scenarios

    async def _conditions(
        self, change: Change, now: float, seen: dict[str, bool]
    ) -> list[tuple[Subscription, bool]]:
        """The condition subscriptions of the subject whose predicate flipped, and its value."""
        flipped: list[tuple[Subscription, bool]] = []
        if self.scenarios is None:
            return flipped
        for sub in self.store.watching(change.holder_code, None, now):
            if "condition.changed" not in sub.kinds:
                continue
            try:
                scenario = self.scenarios(sub.scenario)
            except DeltafedError:
                continue  # the scenario was withdrawn: nothing to evaluate under
            predicate = scenario.predicate(sub.target)
            if predicate is None or predicate.record_type != change.record_type:
                continue
            holds = await self.adapter.evaluate_predicate(
                predicate, sub.subject_code, sub.subject_type, use_cause=f"主动服务 {scenario.id}"
            )
            before = seen.get(sub.id, self.store.condition(sub.id))
            seen[sub.id] = holds
            if before is not None and before != holds:
                flipped.append((sub, holds))
        return flipped

    async def poll_once(self, *, limit: int = 100) -> int:
        """Read one batch of changes; return the number of events enqueued (none when another
        worker sharing the store enqueued the same batch first)."""
        since = self.store.cursor(_FEED)
        batch = await self.adapter.changes(since, limit=limit)
        now = self.clock().timestamp()
        seq = self.store.next_seq()
        events: list[tuple[ChangeEvent, str, str]] = []
        seen: dict[str, bool] = {}
        for change in batch.changes:
            if change.kind == "record.changed":
                for sub, holds in await self._conditions(change, now, seen):
                    event = ChangeEvent(
                        event_id=_new_id("evt"),
                        subscription=sub.id,
                        kind="condition.changed",
                        subject_type=change.holder_type,
                        subject_code=change.holder_code,
                        target=sub.target,
                        holds=holds,
                        occurred_at=change.occurred_at,
                        seq=seq,
                    )
                    seq += 1
                    events.append((event, str(sub.subscriber), sub.scenario))
                continue
            for sub in self.store.watching(change.holder_code, change.type_code, now):
                if change.kind not in sub.kinds:
                    continue
                event = ChangeEvent(
                    event_id=_new_id("evt"),
                    subscription=sub.id,
                    kind=change.kind,
                    subject_type=change.holder_type,
                    subject_code=change.holder_code,
                    target=change.type_code,
                    certificate_id=change.certificate_id,
                    occurred_at=change.occurred_at,
                    seq=seq,
                )
                seq += 1
                events.append((event, str(sub.subscriber), sub.scenario))
        if not self.store.enqueue(
            events, cursor=(_FEED, batch.cursor), conditions=list(seen.items()), since=since
        ):
            return 0  # another worker read the same batch and enqueued it first
        return len(events)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one :meth:`Outbox.run_once` did."""

    delivered: int = 0
    failed: int = 0
    parked: int = 0


class Outbox:
    """Delivers enqueued events at least once (see the module docstring).

    ``client`` is the provider's :class:`AsyncFederationClient` (built with
    ``retry=RetryPolicy(attempts=1)``: the outbox does its own retrying, on ``clock``), with
    the provider's audit log, so that every delivery is in it. ``retry`` gives the deliveries
    of one event in all (``attempts``) and the waits between them; every failed delivery
    counts, whatever ``retry_on`` says (a subscriber's refusal may be fixed by its operator,
    and a parked event waits for ours), and a ``deadline`` is refused: a run of the outbox
    counts attempts, not time since the first. Each round claims the events it tries for
    ``claim_lease`` seconds, so outboxes of several workers sharing one store never try the
    same event at once; a round starts no delivery once half its lease has passed (the rest is
    claimed again later). A delivery that outlasts the lease may be repeated by another
    worker; the subscriber drops the duplicate by its event id.
    """

    def __init__(
        self,
        store: EventStore,
        client: AsyncFederationClient,
        *,
        clock: Clock,
        retry: RetryPolicy = DELIVERY_RETRY,
        claim_lease: float = 60.0,
    ) -> None:
        if not isinstance(retry, RetryPolicy):
            raise ConfigurationError("retry must be a RetryPolicy")
        if retry.deadline is not None:
            raise ConfigurationError(
                "the outbox parks an event after retry.attempts deliveries; it has no deadline",
                field="deadline",
            )
        if not claim_lease > 0:
            raise ConfigurationError("the outbox claim lease must be positive")
        self.claim_lease = float(claim_lease)
        self.store = store
        self.client = client
        self.clock = clock
        self.retry = retry

    async def run_once(self, *, limit: int = 100) -> DeliveryReport:
        """Try every event that is due now, once; return what happened."""
        now = self.clock().timestamp()
        delivered = failed = parked = 0
        claimed = self.store.claim_due(
            now, limit, claim=secrets.token_hex(16), lease=self.claim_lease
        )
        for item in claimed:
            if self.clock().timestamp() - now >= self.claim_lease / 2:
                break  # the claims are running out: leave the rest to a later round
            event = item.event
            try:
                result = await self.client.exchange(
                    item.subscriber,
                    operation="event.deliver",
                    target=event.event_id,
                    scenario=item.scenario,
                    body=event.to_wire(),
                )
                ok = result.response.ok
                error = "" if ok else str(result.body.get("code", "problem"))
            except DeltafedError as exc:
                ok, error = False, f"{exc.code}: {exc.message}"
            if ok:
                self.store.delivered(item.seq)
                delivered += 1
                continue
            attempts = item.attempts + 1
            park = attempts >= self.retry.attempts
            next_at = now + self.retry.wait(attempts)
            self.store.failed(item.seq, next_at=next_at, error=error, park=park)
            failed += 1
            parked += int(park)
        return DeliveryReport(delivered=delivered, failed=failed, parked=parked)


class Inbox:
    """The subscriber's received events, each handed to ``handler`` once (in arrival order).

    An event is marked processed after ``handler`` returns; a handler that raises leaves it
    for the next :meth:`process`.
    """

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def process(self, handler: Callable[[ChangeEvent, str], object]) -> int:
        count = 0
        for event, sender in self.store.unprocessed():
            handler(event, sender)
            self.store.processed(event.event_id)
            count += 1
        return count


class DeliveryLoop:
    """What a served node runs in the background: read the change feed, deliver what is due,
    wait ``interval`` seconds, again. A platform without a change feed only delivers."""

    def __init__(
        self, publisher: ChangePublisher | None, outbox: Outbox, *, interval: float
    ) -> None:
        if not 0 < interval <= 3600:
            raise ConfigurationError("the delivery interval must be 0 to 3600 seconds")
        self.publisher = publisher
        self.outbox = outbox
        self.interval = interval
        self._last_feed_error: str | None = None

    async def run_once(self) -> DeliveryReport:
        if self.publisher is not None:
            try:
                await self.publisher.poll_once()
            except AdapterError as exc:
                if exc.message != self._last_feed_error:  # say it once, not every round
                    _log.warning("change feed not read: %s", exc.message)
                self._last_feed_error = exc.message
            else:
                self._last_feed_error = None
        return await self.outbox.run_once()

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except DeltafedError as exc:  # the loop goes on; the outbox keeps the events
                _log.error("event delivery round failed: %s: %s", exc.code, exc.message)
            except Exception:  # noqa: BLE001 - a bug must not stop the node being served
                _log.exception("event delivery round failed")
            await anyio.sleep(self.interval)
