"""Proactive services: subscriptions, signed change events, at-least-once delivery, once-only
processing, order per subject, parking; every step in both audit logs. ``world`` runs on each
event store (``open_event_store``: SQLite, PostgreSQL)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from deltafed import ConfigurationError, FixedClock, NotAuthorizedError, RetryPolicy
from deltafed.adapters._synthetic import IDENTITY_CARD
from deltafed.client import AsyncFederationClient
from deltafed.events import DELIVERY_RETRY, ChangePublisher, Inbox, Outbox, SqliteEventStore
from deltafed.schemas.events import ChangeEvent, Subscription
from deltafed.testing import (
    JIANGSU,
    SCENARIO_SUBSCRIBE,
    SHANGHAI,
    InMemoryAdapter,
    LocalFederation,
    synthetic_population,
)

from .conftest import EventStoreOpener

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
JS = synthetic_population().region("320000")
RESIDENT = JS.residents[0]
CARD = next(
    c
    for c in JS.certificates
    if c.holder_code == RESIDENT.resident_id and c.type_code == IDENTITY_CARD.type_code
)


class Switch(httpx.AsyncBaseTransport):
    """Routes to the nodes; Shanghai can be down, or its answers lost on the way back."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down = False
        self.lose_answers = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host.startswith("310000") and self.down:
            raise httpx.ConnectError("Shanghai is down", request=request)
        response = await self.inner.handle_async_request(request)
        if request.url.host.startswith("310000") and self.lose_answers > 0:
            self.lose_answers -= 1
            await response.aread()
            raise httpx.ReadError("answer lost", request=request)
        return response


class World:
    def __init__(self, open_store: EventStoreOpener) -> None:
        self.open_store = open_store
        self.clock = FixedClock(T0)
        self.fed = LocalFederation(clock=self.clock, members={SHANGHAI: None, JIANGSU: None})
        self.js_store = open_store("jiangsu")
        self.sh_store = open_store("shanghai")
        self.adapter = InMemoryAdapter.synthetic("320000")
        self.adapter.clock = self.clock
        self.js = self.fed.node(JIANGSU, adapter=self.adapter, events=self.js_store)
        self.sh = self.fed.node(SHANGHAI, events=self.sh_store)
        self.net = Switch(self.fed.asgi_transport({JIANGSU: self.js, SHANGHAI: self.sh}))
        self.http = httpx.AsyncClient(transport=self.net)
        self.sh_client = self.client(SHANGHAI)
        self.outbox = Outbox(
            self.js_store,
            self.client(JIANGSU),
            clock=self.clock,
            retry=dataclasses.replace(DELIVERY_RETRY, attempts=4),
        )
        self.publisher = ChangePublisher(
            self.adapter,
            self.js_store,
            clock=self.clock,
            scenarios=self.fed.trusted_registry().scenario,
        )
        self.inbox = Inbox(self.sh_store)
        self.offers: list[str] = []

    def client(self, member: str) -> AsyncFederationClient:
        audit = self.js.audit if member == JIANGSU else self.sh.audit
        return AsyncFederationClient(
            member,
            self.fed.keys[member],
            self.fed.trusted_registry(),
            clock=self.clock,
            http=self.http,
            audit=audit,
            retry=RetryPolicy(attempts=1),
        )

    async def subscribe(self) -> Subscription:
        result = await self.sh_client.exchange(
            JIANGSU,
            operation="subscription.create",
            target=IDENTITY_CARD.type_code,
            scenario=SCENARIO_SUBSCRIBE,
            body={
                "subject_type": "111",
                "subject_code": RESIDENT.resident_id,
                "kinds": ["certificate.renewed", "certificate.revoked"],
                "expires_at": (T0 + timedelta(days=180)).isoformat(),
                "use_cause": "居住证续签主动服务",
            },
        )
        assert result.response.ok, result.body
        return Subscription.parse(result.body)

    def seen(self) -> list[ChangeEvent]:
        handled: list[ChangeEvent] = []
        self.inbox.process(lambda event, sender: handled.append(event))
        return handled


@pytest.fixture
async def world(open_event_store: EventStoreOpener) -> AsyncIterator[World]:
    w = World(open_event_store)
    yield w
    await w.http.aclose()


def _ops(log: Any) -> list[tuple[str, str, str | None]]:
    return [(r.operation, r.recorded_by, r.detail) for r in log.subject_view(RESIDENT.resident_id)]


@pytest.mark.anyio
async def test_a_renewal_reaches_the_subscriber_who_offers_its_service(world: World) -> None:
    sub = await world.subscribe()
    new_id = world.adapter.renew(CARD.certificate_id, valid_until=date(2046, 3, 1), at=T0)
    assert await world.publisher.poll_once() == 1
    assert await world.publisher.poll_once() == 0  # the cursor moved
    report = await world.outbox.run_once()
    assert (report.delivered, report.failed) == (1, 0)

    async def offer(event: ChangeEvent) -> None:
        # The event carries no data: Shanghai asks under its own scenario, then offers.
        result = await world.sh_client.verify_certificate(
            JIANGSU,
            scenario="yrd-identity-verify",
            use_cause="居住证续签主动服务",
            certificate_id=event.certificate_id,
        )
        if result.valid:
            world.offers.append(f"residence permit renewal offered to {event.subject_code}")

    events = world.seen()
    assert [(e.kind, e.subscription, e.certificate_id) for e in events] == [
        ("certificate.renewed", sub.id, new_id)
    ]
    await offer(events[0])
    assert world.offers == [f"residence permit renewal offered to {RESIDENT.resident_id}"]
    # Both audit logs, and the resident's view in each, show the subscription and the event.
    js_ops = _ops(world.js.audit)
    sh_ops = _ops(world.sh.audit)
    assert [(o, r) for o, r, _ in js_ops][:2] == [
        ("subscription.create", "responder"),
        ("event.deliver", "requester"),
    ]
    assert [(o, r) for o, r, _ in sh_ops][:2] == [
        ("subscription.create", "requester"),
        ("event.deliver", "responder"),
    ]
    assert all(
        d is not None and "certificate.renewed" in d
        for o, _, d in js_ops + sh_ops
        if o == "event.deliver"
    )


@pytest.mark.anyio
async def test_subscriber_down_then_back_nothing_lost_nothing_twice(world: World) -> None:
    await world.subscribe()
    world.adapter.renew(CARD.certificate_id, valid_until=None, at=T0)
    await world.publisher.poll_once()
    world.net.down = True
    first = await world.outbox.run_once()
    assert (first.delivered, first.failed) == (1 - 1, 1)
    assert (await world.outbox.run_once()).failed == 0  # not due yet: backoff
    world.clock.advance(3)
    assert (await world.outbox.run_once()).failed == 1
    world.net.down = False
    world.net.lose_answers = 1  # delivered, but the answer is lost: it will come again
    world.clock.advance(10)
    assert (await world.outbox.run_once()).failed == 1
    world.clock.advance(30)
    assert (await world.outbox.run_once()).delivered == 1
    events = world.seen()
    assert [e.kind for e in events] == ["certificate.renewed"]
    assert world.seen() == []
    duplicates = [
        d for o, r, d in _ops(world.sh.audit) if o == "event.deliver" and r == "responder"
    ]
    assert len(duplicates) == 2  # received twice, processed once


@pytest.mark.anyio
async def test_events_about_one_subject_keep_their_order(world: World) -> None:
    await world.subscribe()
    new_id = world.adapter.renew(CARD.certificate_id, valid_until=None, at=T0)
    world.adapter.revoke(new_id, at=T0 + timedelta(minutes=1))
    assert await world.publisher.poll_once() == 2
    world.net.down = True
    assert (await world.outbox.run_once()).failed == 1  # only the first was tried
    world.net.down = False
    world.clock.advance(5)
    assert (await world.outbox.run_once()).delivered == 1  # the first, the second waits for it
    assert (await world.outbox.run_once()).delivered == 1
    assert [e.kind for e in world.seen()] == ["certificate.renewed", "certificate.revoked"]


@pytest.mark.anyio
async def test_an_event_is_parked_after_its_attempts_and_can_be_requeued(world: World) -> None:
    await world.subscribe()
    world.adapter.renew(CARD.certificate_id, valid_until=None, at=T0)
    await world.publisher.poll_once()
    world.net.down = True
    parked = 0
    for _ in range(4):
        parked += (await world.outbox.run_once()).parked
        world.clock.advance(3600)
    assert parked == 1
    [item] = world.js_store.parked()
    assert item.attempts == 4
    assert item.last_error is not None
    assert "transport_error" in item.last_error
    world.net.down = False
    assert (await world.outbox.run_once()).delivered == 0  # parked: the operator decides
    assert world.js_store.requeue(item.seq)
    assert (await world.outbox.run_once()).delivered == 1
    assert len(world.seen()) == 1


@pytest.mark.anyio
async def test_subscriptions_are_listed_and_cancelled(world: World) -> None:
    sub = await world.subscribe()
    listed = await world.sh_client.exchange(
        JIANGSU,
        operation="subscription.list",
        target="subscriptions",
        scenario=SCENARIO_SUBSCRIBE,
        body={"use_cause": "核对订阅"},
    )
    assert [s["id"] for s in listed.body["subscriptions"]] == [sub.id]
    cancelled = await world.sh_client.exchange(
        JIANGSU,
        operation="subscription.cancel",
        target=sub.id,
        scenario=SCENARIO_SUBSCRIBE,
        body={"subscription": sub.id},
    )
    assert cancelled.body == {"subscription": sub.id, "cancelled": True}
    world.adapter.renew(CARD.certificate_id, valid_until=None, at=T0)
    assert await world.publisher.poll_once() == 0


@pytest.mark.anyio
async def test_a_subscription_outside_the_scenario_is_refused(world: World) -> None:
    outside = {
        "operation": "subscription.create",
        "target": "household_registration",
        "scenario": SCENARIO_SUBSCRIBE,
        "body": {
            "subject_type": "111",
            "subject_code": RESIDENT.resident_id,
            "kinds": ["certificate.renewed"],
            "expires_at": (T0 + timedelta(days=30)).isoformat(),
            "use_cause": "x",
        },
    }
    # The client refuses it before sending; sent anyway, the node refuses it with that code.
    with pytest.raises(NotAuthorizedError):
        await world.sh_client.exchange(JIANGSU, **outside)
    result = await world.sh_client.exchange(JIANGSU, **outside, screen=False)
    assert result.body["code"] == "not_authorized"
    too_long = await world.sh_client.exchange(
        JIANGSU,
        operation="subscription.create",
        target=IDENTITY_CARD.type_code,
        scenario=SCENARIO_SUBSCRIBE,
        body={
            "subject_type": "111",
            "subject_code": RESIDENT.resident_id,
            "kinds": ["certificate.renewed"],
            "expires_at": (T0 + timedelta(days=400)).isoformat(),
            "use_cause": "x",
        },
    )
    assert too_long.body["code"] == "invalid_input"


@pytest.mark.anyio
async def test_an_event_from_a_member_that_is_no_provider_is_refused(world: World) -> None:
    # Shanghai sends an "event" to itself: its region is not a provider of the scenario.
    result = await world.client(SHANGHAI).exchange(
        SHANGHAI,
        operation="event.deliver",
        target="evt-aaaaaaaaaaaaaaaaaaaa",
        scenario=SCENARIO_SUBSCRIBE,
        body={
            "event_id": "evt-aaaaaaaaaaaaaaaaaaaa",
            "subscription": "sub-aaaaaaaaaaaaaaaaaaaa",
            "kind": "certificate.renewed",
            "subject_type": "111",
            "subject_code": RESIDENT.resident_id,
            "target": IDENTITY_CARD.type_code,
            "occurred_at": T0.isoformat(),
            "seq": 1,
        },
    )
    assert result.body["code"] == "not_authorized"
    assert world.sh_store.unprocessed() == []


@pytest.mark.anyio
async def test_a_scenario_that_requires_consent_checks_it_for_subscriptions() -> None:
    from deltafed.schemas.catalogue import UseScenario
    from deltafed.testing import default_scenarios

    clock = FixedClock(T0)
    base = {s.id: s for s in default_scenarios(SHANGHAI, ["320000"])}[SCENARIO_SUBSCRIBE].to_wire()
    with_consent = UseScenario.parse({**base, "consent_required": True, "max_consent_days": 365})
    fed = LocalFederation(
        clock=clock, members={SHANGHAI: None, JIANGSU: None}, scenarios=[with_consent]
    )
    with SqliteEventStore(":memory:") as store:
        node = fed.node(JIANGSU, events=store)
        async with httpx.AsyncClient(transport=fed.asgi_transport({JIANGSU: node})) as http:
            client = AsyncFederationClient(
                SHANGHAI, fed.keys[SHANGHAI], fed.trusted_registry(), clock=clock, http=http
            )
            body = {
                "subject_type": "111",
                "subject_code": RESIDENT.resident_id,
                "kinds": ["certificate.renewed"],
                "expires_at": (T0 + timedelta(days=30)).isoformat(),
                "use_cause": "居住证主动续办",
            }
            ask = {
                "operation": "subscription.create",
                "target": IDENTITY_CARD.type_code,
                "scenario": SCENARIO_SUBSCRIBE,
                "body": body,
            }
            refused = await client.exchange(JIANGSU, **ask)
            assert refused.body["code"] == "consent_required"

            def consent(kinds: list[str]) -> bytes:
                return client.issue_consent(
                    holder_type="111",
                    holder_code=RESIDENT.resident_id,
                    scenario=SCENARIO_SUBSCRIBE,
                    scope=kinds,
                    operations=["subscription.create"],
                    lifetime=timedelta(days=30),
                )

            narrow = await client.exchange(JIANGSU, **ask, consent=consent(["certificate.revoked"]))
            assert narrow.body["code"] == "consent_invalid"
            accepted = await client.exchange(
                JIANGSU, **ask, consent=consent(["certificate.renewed"])
            )
            assert accepted.response.ok, accepted.body
            assert store.subscriptions_of(SHANGHAI, SCENARIO_SUBSCRIBE)[0].id == accepted.body["id"]


@pytest.mark.anyio
async def test_a_record_crossing_the_scenario_condition_is_an_event_with_only_the_boolean(
    world: World,
) -> None:
    predicate = "resident-insured-12-months"
    person = next(
        p
        for p in JS.residents
        if (rec := JS.record("social_insurance", p.resident_id)) is not None
        and isinstance(rec.fields["months_paid"], int)
        and rec.fields["months_paid"] >= 12
    )
    result = await world.sh_client.exchange(
        JIANGSU,
        operation="subscription.create",
        target=predicate,
        scenario=SCENARIO_SUBSCRIBE,
        body={
            "subject_type": "111",
            "subject_code": person.resident_id,
            "kinds": ["condition.changed"],
            "expires_at": (T0 + timedelta(days=30)).isoformat(),
            "use_cause": "人才补贴主动服务",
        },
    )
    assert result.response.ok, result.body
    assert "holds" not in result.body  # where the condition stands is not answered
    # A change that does not cross the threshold says nothing.
    world.adapter.update_record("social_insurance", person.resident_id, {"months_paid": 400})
    assert await world.publisher.poll_once() == 0
    # Crossing it (below 12 months) is one event: the predicate and the boolean, no value.
    world.adapter.update_record("social_insurance", person.resident_id, {"months_paid": 3})
    assert await world.publisher.poll_once() == 1
    assert (await world.outbox.run_once()).delivered == 1
    [event] = world.seen()
    assert (event.kind, event.target, event.holds) == ("condition.changed", predicate, False)
    wire = event.to_wire()
    assert "months_paid" not in json.dumps(wire)
    assert 3 not in wire.values()
    # And back: another event.
    world.adapter.update_record("social_insurance", person.resident_id, {"months_paid": 12})
    assert await world.publisher.poll_once() == 1
    await world.outbox.run_once()
    assert [e.holds for e in world.seen()] == [True]
    # A certificate subscription cannot ask for conditions, nor a predicate one for certificates.
    wrong = await world.sh_client.exchange(
        JIANGSU,
        operation="subscription.create",
        target=predicate,
        scenario=SCENARIO_SUBSCRIBE,
        body={
            "subject_type": "111",
            "subject_code": person.resident_id,
            "kinds": ["certificate.renewed"],
            "expires_at": (T0 + timedelta(days=30)).isoformat(),
            "use_cause": "x",
        },
    )
    assert wrong.body["code"] == "not_authorized"


@pytest.mark.anyio
async def test_the_outbox_waits_as_its_retry_policy_says(world: World) -> None:
    world.outbox = Outbox(
        world.js_store,
        world.client(JIANGSU),
        clock=world.clock,
        retry=RetryPolicy(attempts=4, initial_wait=10, multiplier=3, max_wait=60, jitter=0),
    )
    await world.subscribe()
    world.adapter.renew(CARD.certificate_id, valid_until=None, at=T0)
    await world.publisher.poll_once()
    world.net.down = True
    waits = []
    for _ in range(3):
        now = world.clock().timestamp()
        assert (await world.outbox.run_once()).failed == 1
        [item] = world.js_store.outbox()
        waits.append(item.next_at - now)
        assert (await world.outbox.run_once()).failed == 0  # not due yet
        world.clock.advance(item.next_at - now)
    assert waits == [10.0, 30.0, 60.0]
    assert (await world.outbox.run_once()).parked == 1


@pytest.mark.anyio
async def test_the_outbox_has_no_deadline(world: World) -> None:
    with pytest.raises(ConfigurationError, match="no deadline"):
        Outbox(
            world.js_store,
            world.client(JIANGSU),
            clock=world.clock,
            retry=RetryPolicy(deadline=60),
        )
    with pytest.raises(ConfigurationError, match="retry must be a RetryPolicy"):
        Outbox(world.js_store, world.client(JIANGSU), clock=world.clock, retry=8)  # type: ignore[arg-type]


def test_the_default_delivery_schedule() -> None:
    assert DELIVERY_RETRY.attempts == 8
    assert DELIVERY_RETRY.schedule() == (2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)
