"""``deltafed events``: the operator's view of a node's event outbox (proactive services).

``deltafed events outbox --db state.db [--parked] [--json]`` lists the events waiting, parked
or delivered; ``deltafed events requeue --db state.db SEQ`` gives a parked event back to the
delivery loop (after the subscriber's problem is fixed). Both read the node's state file, or,
for a node whose ``[store]`` is PostgreSQL, its database: ``--db postgresql://...``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from deltafed import _pg
from deltafed._errors import ConfigurationError, NotFoundError
from deltafed.events import OutboxItem, PostgresEventStore, SqliteEventStore

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "events", help="the event outbox of a node (list, requeue parked events)"
    )
    actions = parser.add_subparsers(dest="events_command", metavar="ACTION", required=True)
    outbox = actions.add_parser(
        "outbox",
        help="list the outbox",
        description="List the events of a node's outbox, oldest first: state, attempts, the "
        "last error, to whom and about what kind of change (no personal data is printed).",
    )
    outbox.add_argument("--db", required=True, help="the node's [state] db, or its [store] url")
    outbox.add_argument("--parked", action="store_true", help="only the parked events")
    outbox.add_argument("--json", action="store_true", help="one JSON object per line")
    outbox.set_defaults(func=_run_outbox)
    requeue = actions.add_parser(
        "requeue",
        help="give a parked event back to the delivery loop",
        description="Put a parked event back in the queue with its attempts reset.",
    )
    requeue.add_argument("--db", required=True, help="the node's [state] db, or its [store] url")
    requeue.add_argument("seq", type=int, help="the event's position in the outbox")
    requeue.set_defaults(func=_run_requeue)


def _open(target: str) -> SqliteEventStore | PostgresEventStore:
    if _pg.is_postgres_url(target):
        return PostgresEventStore(target, pool_size=1)
    path = Path(target)
    if not path.is_file():
        raise ConfigurationError(f"no state file at {path}")
    return SqliteEventStore(path)


def _row(item: OutboxItem) -> dict[str, Any]:
    return {
        "seq": item.seq,
        "event_id": item.event.event_id,
        "kind": item.event.kind,
        "subscriber": item.subscriber,
        "scenario": item.scenario,
        "state": item.state,
        "attempts": item.attempts,
        "last_error": item.last_error,
    }


def _run_outbox(args: argparse.Namespace) -> int:
    with _open(args.db) as store:
        items = store.parked() if args.parked else store.outbox()
    if args.json:
        for item in items:
            print(json.dumps(_row(item), ensure_ascii=False))
        return 0
    if not items:
        print("no parked events" if args.parked else "the outbox is empty")
        return 0
    for item in items:
        error = f"  last error: {item.last_error}" if item.last_error else ""
        print(
            f"#{item.seq} {item.state:<9} {item.event.kind:<20} to {item.subscriber} "
            f"({item.scenario}), {item.attempts} attempt(s){error}"
        )
    return 0


def _run_requeue(args: argparse.Namespace) -> int:
    with _open(args.db) as store:
        if not store.requeue(args.seq):
            raise NotFoundError(f"no parked event #{args.seq}", field="seq")
    print(f"event #{args.seq} requeued")
    return 0
