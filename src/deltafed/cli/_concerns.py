"""``deltafed concerns``: the operator's side of cross-region concerns, from a node's config.

* ``list`` - the concerns the node holds (``--status``: only those), with their deadlines;
* ``show ID`` - one concern and its whole signed history;
* ``ack ID`` - acknowledge receipt;
* ``update ID STATUS [--reason]`` - accepted, in_progress, closed or rejected (with a reason);
* ``answer ID --text T [--outcome O] [--correct FIELD=VALUE ...] [--revoke]`` - answer; with
  ``--correct`` or ``--revoke`` the objection is upheld and the certificate is corrected or
  revoked on the native platform first, through the node's adapter;
* ``close ID`` - close an answered concern;
* ``sweep`` - sign the reminders and escalations due now (the node also does it while served).

Every action signs one event with the node's key and writes it to the node's audit log before it
is stored; repeating an action that already happened prints the event it produced. With a
``[store] url`` the audit log and the concerns are those in PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio

from deltafed._clock import system_clock
from deltafed._errors import InvalidInputError
from deltafed.adapters import create_adapter
from deltafed.audit import AuditLog, PostgresAuditStore, SqliteAuditStore
from deltafed.concerns import ConcernService
from deltafed.keys import PrivateKey
from deltafed.node import NodeConfig, load_config, open_concerns
from deltafed.node._config import _subject_key
from deltafed.registry import TrustedRegistry, load_anchor_file
from deltafed.schemas.concerns import ConcernEvent

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "concerns",
        help="act on the cross-region concerns a node answers",
        description="List, show and act on the concerns a node answers (protocol section 10).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, helptext: str, run: Callable[..., int]) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = actions.add_parser(name, help=helptext)
        sub.add_argument("--config", required=True, metavar="FILE", help="node configuration")
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.set_defaults(func=run)
        return sub

    listing = action("list", "the concerns the node holds", _run_list)
    listing.add_argument("--status", help="only concerns in this status")
    action("show", "one concern and its history", _run_show).add_argument("id")
    action("ack", "acknowledge a concern", _run_ack).add_argument("id")
    update = action("update", "change a concern's status", _run_update)
    update.add_argument("id")
    update.add_argument("status", choices=["accepted", "in_progress", "closed", "rejected"])
    update.add_argument("--reason", help="required for rejected")
    answer = action("answer", "answer a concern", _run_answer)
    answer.add_argument("id")
    answer.add_argument("--text", required=True)
    answer.add_argument(
        "--outcome", choices=["upheld", "not_upheld", "information"], default="information"
    )
    answer.add_argument(
        "--correct",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="uphold an objection: correct this field of the certificate (repeatable)",
    )
    answer.add_argument(
        "--revoke", action="store_true", help="uphold an objection: revoke the certificate"
    )
    close = action("close", "close an answered concern", _run_close)
    close.add_argument("id")
    close.add_argument("--reason")
    action("sweep", "sign the reminders and escalations due now", _run_sweep)


@contextmanager
def _service(config: NodeConfig, *, with_adapter: bool = False) -> Iterator[ConcernService]:
    key = PrivateKey.load(config.key_file)
    registry = TrustedRegistry(
        load_anchor_file(config.anchor_file), clock=system_clock, grace=config.grace
    )
    registry.update_from_file(config.registry_file)
    store: SqliteAuditStore | PostgresAuditStore
    if config.store_url is not None:
        store = PostgresAuditStore(config.store_url, pool_size=2)
    else:
        store = SqliteAuditStore(config.audit_db)
    adapter = create_adapter(config.adapter, config.adapter_config) if with_adapter else None
    try:
        audit = AuditLog(
            store, node=config.member, signer=key, subject_key=_subject_key(config.subject_key_file)
        )
        service, concerns = open_concerns(
            config, signer=key, registry=registry, audit=audit, adapter=adapter
        )
        try:
            yield service
        finally:
            concerns.close()
    finally:
        store.close()
        if adapter is not None:
            anyio.run(adapter.aclose)


def _print_event(event: ConcernEvent, as_json: bool) -> None:
    if as_json:
        print(json.dumps(event.to_wire(), ensure_ascii=False))
        return
    extra = ""
    if event.reason:
        extra = f" - {event.reason}"
    if event.answer is not None:
        extra = f" - {event.answer.outcome}: {event.answer.text}"
        if event.answer.correction is not None:
            fix = event.answer.correction
            extra += f" [{fix.action} {fix.new_certificate_id or fix.certificate_id}]"
    if event.to is not None:
        extra = f" - {event.stage} due {event.due.isoformat() if event.due else '?'} -> {event.to}"
    elif event.stage is not None:
        extra = f" - {event.stage} due {event.due.isoformat() if event.due else '?'}"
    print(f"  #{event.seq} {event.kind} -> {event.status}{extra}")


def _run_list(args: argparse.Namespace) -> int:
    with _service(load_config(args.config)) as service:
        records = service.list_concerns(status=args.status)
    if args.json:
        for r in records:
            row = {
                "id": r.id,
                "status": r.status,
                "category": r.concern.category,
                "filer_member": r.filer_member,
                "subject": r.concern.subject.to_wire(),
                "ack_due": r.ack_due.isoformat(),
                "answer_due": r.answer_due.isoformat(),
                "notices": sorted(r.notices),
            }
            print(json.dumps(row, ensure_ascii=False))
        return 0
    if not records:
        print("no concerns")
        return 0
    for r in records:
        notices = f" [{', '.join(sorted(r.notices))}]" if r.notices else ""
        print(
            f"{r.id} {r.status} {r.concern.category} from {r.filer_member} about "
            f"{r.concern.subject.kind} {r.concern.subject.ref}; acknowledge by "
            f"{r.ack_due.isoformat()}, answer by {r.answer_due.isoformat()}{notices}"
        )
    return 0


def _run_show(args: argparse.Namespace) -> int:
    with _service(load_config(args.config)) as service:
        view = service.show(args.id)
    if args.json:
        print(
            json.dumps(
                {
                    "concern": view.record.concern.to_wire(),
                    "filer_member": view.record.filer_member,
                    "status": view.record.status,
                    "events": [e.to_wire() for e in view.events],
                },
                ensure_ascii=False,
            )
        )
        return 0
    concern = view.record.concern
    print(f"{concern.id}: {concern.category} from {view.record.filer_member}, {view.record.status}")
    print(f"  about {concern.subject.kind} {concern.subject.ref}")
    print(f"  {concern.text}")
    for event in view.events:
        _print_event(event, False)
    return 0


def _run_ack(args: argparse.Namespace) -> int:
    with _service(load_config(args.config)) as service:
        _print_event(service.acknowledge(args.id), args.json)
    return 0


def _run_update(args: argparse.Namespace) -> int:
    with _service(load_config(args.config)) as service:
        _print_event(service.update(args.id, args.status, reason=args.reason), args.json)
    return 0


def _corrections(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name or not value:
            raise InvalidInputError(f"--correct takes FIELD=VALUE, got {pair!r}", field="correct")
        out[name] = value
    return out


def _run_answer(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    corrections = _corrections(args.correct)
    upheld = bool(corrections) or args.revoke
    with _service(config, with_adapter=upheld) as service:
        if upheld:
            event = anyio.run(
                lambda: service.uphold_objection(
                    args.id, args.text, corrections=corrections or None, revoke=args.revoke
                )
            )
        else:
            event = service.answer(args.id, args.text, outcome=args.outcome)
        _print_event(event, args.json)
    return 0


def _run_close(args: argparse.Namespace) -> int:
    with _service(load_config(args.config)) as service:
        _print_event(service.close(args.id, reason=args.reason), args.json)
    return 0


def _run_sweep(args: argparse.Namespace) -> int:
    with _service(load_config(args.config)) as service:
        events = service.tick()
    for event in events:
        _print_event(event, args.json)
    if not events and not args.json:
        print("nothing due")
    return 0
