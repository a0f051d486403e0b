"""Proactive services (``docs/protocol.md`` section 13): subscriptions and signed change events.

A member subscribes, under a use scenario, to changes about a subject it serves; the provider's
node reads its platform's change feed, and delivers a signed ``event.deliver`` request per change
from a durable outbox, at least once, in order per subject; the subscriber drops redeliveries by
event id. Every subscription and every delivered event is in both audit logs. The state is kept
in a :class:`SqliteEventStore` (the node's ``[state] db``) or, for a node whose ``[store]`` is
PostgreSQL, a :class:`PostgresEventStore`, shared by the node's workers.
"""

from deltafed.events._pgstore import PostgresEventStore
from deltafed.events._service import (
    DELIVERY_RETRY,
    ChangePublisher,
    DeliveryLoop,
    DeliveryReport,
    Inbox,
    Outbox,
    Subscriptions,
    check_sender,
)
from deltafed.events._store import EventStore, OutboxItem, SqliteEventStore

__all__ = [
    "DELIVERY_RETRY",
    "ChangePublisher",
    "DeliveryLoop",
    "DeliveryReport",
    "EventStore",
    "Inbox",
    "Outbox",
    "OutboxItem",
    "PostgresEventStore",
    "SqliteEventStore",
    "Subscriptions",
    "check_sender",
]
