"""``deltafed audit``: check a node's audit log, show a resident's view, export for inspectors.

* ``verify --db FILE`` recomputes the chain, the Merkle tree and the index, and checks every
  stored checkpoint (and any ``--checkpoint FILE`` a peer kept) against keys from
  ``--public-key FILE`` (repeat it for retired keys) or a verified ``--registry`` and
  ``--anchor``. Exit 0 when intact, 1 with the first bad position when not.
* ``subject ID --db FILE --subject-key-file FILE`` lists who used that person's or company's
  data, when, for which scenario and which fields.
* ``export --db FILE --out FILE`` writes entries with inclusion proofs and the checkpoint they
  are proven against (JSON lines); ``verify-export FILE`` checks such a file.
* ``checkpoint --db FILE --signing-key FILE`` signs and prints the current tree head.

``--db`` takes a SQLite file or a ``postgresql://`` URL (the node's ``[store] url``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from deltafed import _pg
from deltafed._clock import system_clock
from deltafed._errors import ConfigurationError, InvalidInputError, NotFoundError
from deltafed._profile import INTERNATIONAL, profile_of_algorithm
from deltafed._text import hex_or_raw_secret, one_line
from deltafed.audit import (
    AccessRecord,
    AuditLog,
    AuditStore,
    open_audit_store,
    parse_checkpoint,
    subject_ref,
    verify_export,
    verify_log,
    write_export,
)
from deltafed.keys import KeyResolver, PrivateKey, PublicKey, StaticKeyResolver
from deltafed.schemas.audit import AuditEntry

__all__ = ["register"]

_MAX_SMALL_FILE = 64 * 1024


def _read_small(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read(_MAX_SMALL_FILE + 1)
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from exc
    if len(data) > _MAX_SMALL_FILE:
        raise InvalidInputError(f"{path} is larger than {_MAX_SMALL_FILE} bytes")
    return data


def _open_store(path: str) -> AuditStore:
    if not _pg.is_postgres_url(path) and not Path(path).is_file():
        raise ConfigurationError(f"no audit database at {path}")
    return open_audit_store(path, pool_size=2)


def _log_node(store: AuditStore, given: str | None) -> str:
    if given:
        return given
    # The first entry there is, not entry 0: if entry 0 was deleted, verification must still
    # run and report the deletion at position 0.
    first = next(iter(store.read()), None)
    if first is None:
        raise ConfigurationError("the log has no entry; name its node with --node")
    try:
        node = json.loads(first.entry)["node"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"cannot read the node from entry {first.seq}; pass --node"
        ) from exc
    return str(node)


def _public_key(path: str) -> PublicKey:
    data = _read_small(path)
    if data.lstrip().startswith(b"{"):
        try:
            return PublicKey.from_jwk(json.loads(data))
        except ValueError as exc:
            raise InvalidInputError(f"{path} is not valid JSON") from exc
    return PublicKey.from_pem(data)


def _resolver(args: argparse.Namespace, node: str) -> KeyResolver | None:
    if args.registry or args.anchor:
        if not (args.registry and args.anchor):
            raise ConfigurationError("--registry and --anchor go together")
        from deltafed.registry import TrustedRegistry, load_anchor_file

        registry = TrustedRegistry(load_anchor_file(args.anchor), clock=system_clock)
        registry.update_from_file(args.registry)
        return registry
    if args.public_key:
        return StaticKeyResolver({node: [_public_key(p) for p in args.public_key]})
    return None


def _subject_key(path: str) -> bytes:
    return hex_or_raw_secret(_read_small(path))


def _add_keys(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--node", help="member id of the log's node (default: from entry 0)")
    parser.add_argument(
        "--public-key",
        action="append",
        default=[],
        metavar="FILE",
        help="node public key, PEM or JWK; repeat for retired keys",
    )
    parser.add_argument("--registry", metavar="FILE", help="signed registry to take keys from")
    parser.add_argument("--anchor", metavar="FILE", help="pinned anchor for --registry")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "audit", help="verify, query and export a node's audit log"
    )
    actions = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)

    verify = actions.add_parser("verify", help="check the whole log and its checkpoints")
    verify.add_argument("--db", required=True, metavar="FILE|URL")
    _add_keys(verify)
    verify.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="FILE",
        help="a checkpoint held outside the log (e.g. by a peer); repeatable",
    )
    verify.add_argument(
        "--require-anchored",
        action="store_true",
        help="fail if entries after the last signed checkpoint exist",
    )
    verify.add_argument("--strict", action="store_true", help="also validate every entry schema")
    verify.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="check a large log in N processes (same checks, same report)",
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(func=_run_verify)

    subject = actions.add_parser("subject", help="who used this subject's data")
    subject.add_argument("id", metavar="ID", help="resident identity number or credit code")
    subject.add_argument("--db", required=True, metavar="FILE|URL")
    subject.add_argument(
        "--subject-key-file", required=True, metavar="FILE", help="the node's subject index key"
    )
    subject.add_argument("--json", action="store_true", help="print JSON lines")
    subject.set_defaults(func=_run_subject)

    export = actions.add_parser("export", help="entries with inclusion proofs, as JSON lines")
    export.add_argument("--db", required=True, metavar="FILE|URL")
    export.add_argument("--out", required=True, metavar="FILE")
    export.add_argument("--seq", type=int, action="append", metavar="N", help="repeatable")
    export.add_argument("--subject", metavar="ID", help="only this subject's entries")
    export.add_argument("--subject-key-file", metavar="FILE")
    export.add_argument(
        "--no-evidence", action="store_true", help="leave out the request and response bytes"
    )
    export.set_defaults(func=_run_export)

    check = actions.add_parser("verify-export", help="check a file written by export")
    check.add_argument("file", metavar="FILE")
    _add_keys(check)
    check.set_defaults(func=_run_verify_export)

    sign = actions.add_parser("checkpoint", help="sign and print the current tree head")
    sign.add_argument("--db", required=True, metavar="FILE|URL")
    sign.add_argument("--node", required=True, help="member id of the log's node")
    sign.add_argument("--signing-key", required=True, metavar="FILE", help="PEM or private JWK")
    sign.set_defaults(func=_run_checkpoint)


def _run_verify(args: argparse.Namespace) -> int:
    store = _open_store(args.db)
    try:
        node = _log_node(store, args.node)
        resolver = _resolver(args, node)
        held = [one_line(_read_small(p)).decode("ascii", "replace") for p in args.checkpoint]
        report = verify_log(
            store,
            node=node,
            resolver=resolver,
            checkpoints=held,
            require_anchored=args.require_anchored,
            strict=args.strict,
            workers=args.workers,
        )
    finally:
        store.close()
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "node": node,
                    "size": report.size,
                    "root": report.root_text,
                    "anchored_size": report.anchored_size,
                    "checkpoints_checked": report.checkpoints_checked,
                    "signatures_checked": report.signatures_checked,
                    "problems": [
                        {"position": p.position, "kind": p.kind, "detail": p.detail}
                        for p in report.problems
                    ],
                },
                indent=2,
            )
        )
    else:
        print(f"log of {node}: {report.size} entries, root {report.root_text}")
        print(
            f"checkpoints: {report.checkpoints_checked} valid; entries 0 to "
            f"{report.anchored_size - 1} are covered by a signed checkpoint"
            if report.anchored_size
            else f"checkpoints: {report.checkpoints_checked} valid; no entry is covered yet"
        )
        if not report.signatures_checked:
            print(
                "warning: no --public-key or --registry given: checkpoint signatures were NOT "
                "checked",
                file=sys.stderr,
            )
        for problem in report.problems:
            print(f"PROBLEM {problem}")
        first = report.first
        if first is None:
            print("OK")
        elif first.position is None:
            print(f"FAILED: first problem: {first}")
        else:
            print(f"FAILED: first problem at position {first.position}")
    return 0 if report.ok else 1


def _row(record: AccessRecord) -> dict[str, Any]:
    return {
        "seq": record.seq,
        "at": record.at.isoformat(),
        "requester": str(record.requester),
        "responder": str(record.responder),
        "operation": record.operation,
        "scenario": record.scenario,
        "fields": list(record.fields),
        "outcome": record.outcome,
        "request_id": record.request_id,
        "recorded_by": record.recorded_by,
        **({} if record.detail is None else {"detail": record.detail}),
    }


def _run_subject(args: argparse.Namespace) -> int:
    key = _subject_key(args.subject_key_file)
    store = _open_store(args.db)
    try:
        ref = subject_ref(key, args.id)
        records = []
        for seq in store.seqs_by_subject(ref):
            stored = next(iter(store.read(seq, seq + 1)), None)
            if stored is None:
                raise NotFoundError(f"entry {seq} is indexed but missing")
            records.append(AccessRecord.of(AuditEntry.parse_json(stored.entry)))
    finally:
        store.close()
    if args.json:
        for record in records:
            print(json.dumps(_row(record), ensure_ascii=False))
        return 0
    if not records:
        print("no recorded use of this subject's data")
        return 0
    concerns = sum(r.operation.startswith("concern.") for r in records)
    print(f"{len(records) - concerns} recorded uses, {concerns} concern entries:")
    for r in records:
        if r.operation.startswith("concern."):
            # The resident's own concerns (filed, acknowledged, answered, escalated...).
            print(
                f"  #{r.seq} {r.at.isoformat()} concern {r.operation.removeprefix('concern.')} "
                f"({r.requester} / {r.responder}, request {r.request_id}) -> {r.outcome}"
            )
            continue
        fields = ", ".join(r.fields) or "-"
        print(
            f"  #{r.seq} {r.at.isoformat()} {r.requester} asked {r.responder} "
            f"({r.operation}, scenario {r.scenario}) fields: {fields} -> {r.outcome}"
            + ("" if r.detail is None else f" [{r.detail}]")
        )
    return 0


def _run_export(args: argparse.Namespace) -> int:
    store = _open_store(args.db)
    try:
        checkpoints = store.checkpoints()
        if not checkpoints:
            raise ConfigurationError(
                "the log has no signed checkpoint to prove entries against",
                remediation="run `deltafed audit checkpoint` first",
            )
        latest = checkpoints[-1]
        seqs: list[int] | None = args.seq
        if args.subject:
            if not args.subject_key_file:
                raise ConfigurationError("--subject needs --subject-key-file")
            ref = subject_ref(_subject_key(args.subject_key_file), args.subject)
            seqs = store.seqs_by_subject(ref)
        size = parse_checkpoint(latest).size
        if seqs is not None:
            seqs = [s for s in seqs if s < size]
        with open(args.out, "w", encoding="utf-8") as out:
            count = write_export(
                store,
                out,
                checkpoint=latest,
                seqs=seqs,
                include_evidence=not args.no_evidence,
            )
        later = store.size() - size
    finally:
        store.close()
    print(f"wrote {count} entries proven against the checkpoint of size {size} to {args.out}")
    if later > 0:
        print(f"note: {later} later entries are not covered by a checkpoint yet", file=sys.stderr)
    return 0


def _run_verify_export(args: argparse.Namespace) -> int:
    try:
        with open(args.file, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {args.file}: {exc}") from exc
    node = args.node
    if not node:
        try:
            first = json.loads(lines[0]) if lines else {}
            node = parse_checkpoint(str(first.get("jws", ""))).log
        except (ValueError, AttributeError) as exc:
            raise InvalidInputError(f"{args.file} does not start with a checkpoint") from exc
    resolver = _resolver(args, node)
    if resolver is None:
        raise ConfigurationError("verify-export needs --public-key or --registry and --anchor")
    entries = verify_export(lines, log=node, resolver=resolver)
    print(f"OK: {len(entries)} entries of the log of {node} are proven and their evidence matches")
    return 0


def _run_checkpoint(args: argparse.Namespace) -> int:
    key = PrivateKey.load(args.signing_key)
    store = _open_store(args.db)
    try:
        # Signing a tree head never touches the subject index, so its key is not needed here.
        log = AuditLog(
            store,
            node=args.node,
            signer=key,
            subject_key=b"\x00" * 32,
            clock=system_clock,
            crypto=profile_of_algorithm(key.alg) or INTERNATIONAL,
        )
        print(log.checkpoint().decode("ascii"))
    finally:
        store.close()
    return 0
