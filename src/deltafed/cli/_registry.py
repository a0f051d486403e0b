"""``deltafed registry``: build, sign and inspect the federation registry from files.

The operator keeps an unsigned *working document* (the registry's JSON, ``DOC.json``) and
edits it with ``init``, ``add-member``, ``add-key``, ``retire-key``, ``compromise-key``,
``set-anchor``, ``set-catalogue`` and ``add-scenario``. ``sign`` stamps the issue and expiry
times, signs the document with the anchor keys given and then raises the working document's
version by one, so the working document always holds the *next* version to publish.
``cosign`` adds signatures of other anchor key holders to a signed file without changing it.
``sign`` and ``cosign`` also write the file under its versioned name beside it
(``registry.<version>.jws``): nodes that missed versions fetch them from there.
``publish`` copies a verified file to the publication point, with its versioned name.
``verify`` checks a signed file against a pinned anchor (with ``--state FILE|URL`` it also
refuses a version older than the last one verified there, and records this one: a SQLite file
or the node's ``postgresql://`` store); ``show`` prints a summary.
``init --crypto gm`` starts a federation whose every key is SM2 and every digest SM3.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from deltafed import _pg
from deltafed._clock import system_clock
from deltafed._errors import ConfigurationError, InvalidInputError
from deltafed._text import rfc3339_instant
from deltafed.keys import PrivateKey, PublicKey
from deltafed.registry import (
    AnchorKeys,
    MemberKey,
    PostgresRegistryState,
    RegistryBuilder,
    RegistryDocument,
    SqliteRegistryState,
    add_signatures,
    load_anchor_file,
    parse_signed_registry,
    payload_digest,
    sign_registry,
    verify_registry,
    write_publication,
)
from deltafed.registry._files import read_limited
from deltafed.registry._signing import MAX_REGISTRY_BYTES
from deltafed.schemas.catalogue import Catalogue, ScenarioList, UseScenario

__all__ = ["register"]

_MAX_INPUT = 4 * 1024 * 1024
_MAX_KEY_FILE = 64 * 1024


def _time(text: str) -> datetime:
    value = rfc3339_instant(text)
    if value is None:
        raise InvalidInputError(
            f"not an RFC 3339 time with a UTC offset: {text!r}, e.g. 2026-03-01T08:00:00+08:00"
        )
    return value


def _public_key(path: str) -> PublicKey:
    data = read_limited(path, _MAX_KEY_FILE)
    if data.lstrip().startswith(b"{"):
        try:
            jwk = json.loads(data)
        except ValueError as exc:
            raise InvalidInputError(f"{path} is not valid JSON") from exc
        return PublicKey.from_jwk(jwk)
    if b"PRIVATE KEY" in data:
        raise InvalidInputError(f"{path} holds a private key; give the public key file")
    return PublicKey.from_pem(data)


def _anchor(paths: list[str], threshold: int) -> AnchorKeys:
    keys = [_public_key(p) for p in paths]
    return AnchorKeys.parse(
        {"keys": [k.to_jwk() for k in keys], "threshold": threshold},
    )


def _read_doc(path: str) -> RegistryDocument:
    return RegistryDocument.parse_json(read_limited(path, _MAX_INPUT), max_bytes=_MAX_INPUT)


def _write_json(path: str, value: Any) -> None:
    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot write {path}: {exc}") from exc


def _save(path: str, builder: RegistryBuilder, doc: RegistryDocument) -> None:
    updated = builder.build(issued_at=doc.issued_at, expires_at=doc.expires_at)
    _write_json(path, updated.to_wire())


def _cmd_init(args: argparse.Namespace) -> int:
    if Path(args.out).exists() and not args.force:
        raise ConfigurationError(f"{args.out} exists; use --force to overwrite")
    anchor = _anchor(args.anchor_key, args.threshold)
    now = system_clock()
    doc = RegistryBuilder(args.federation, anchor, crypto=args.crypto).build(issued_at=now)
    _write_json(args.out, doc.to_wire())
    if args.anchor_out:
        _write_json(args.anchor_out, anchor.to_wire())
    print(
        f"created working registry {args.out} (version 1, {len(anchor.keys)} anchor keys, "
        f"crypto profile {doc.profile.name})"
    )
    return 0


def _edit(args: argparse.Namespace) -> tuple[RegistryDocument, RegistryBuilder]:
    doc = _read_doc(args.doc)
    return doc, RegistryBuilder.from_document(doc)


def _cmd_add_member(args: argparse.Namespace) -> int:
    doc, b = _edit(args)
    b.add_member(args.id, args.name, endpoint=args.endpoint)
    _save(args.doc, b, doc)
    print(f"added member {args.id}")
    return 0


def _cmd_add_key(args: argparse.Namespace) -> int:
    doc, b = _edit(args)
    key = _public_key(args.key)
    not_before = _time(args.not_before) if args.not_before else system_clock()
    not_after = _time(args.not_after) if args.not_after else None
    b.add_key(args.member, key, not_before=not_before, not_after=not_after)
    _save(args.doc, b, doc)
    print(f"added key {key.kid} to {args.member}")
    return 0


def _cmd_retire_key(args: argparse.Namespace) -> int:
    doc, b = _edit(args)
    at = _time(args.at) if args.at else system_clock()
    b.retire_key(args.member, args.kid, at=at)
    _save(args.doc, b, doc)
    print(f"retired key {args.kid} of {args.member} from {at.isoformat()}")
    return 0


def _cmd_compromise_key(args: argparse.Namespace) -> int:
    doc, b = _edit(args)
    at = _time(args.at)
    b.compromise_key(args.member, args.kid, at=at)
    _save(args.doc, b, doc)
    print(f"marked key {args.kid} of {args.member} compromised since {at.isoformat()}")
    return 0


def _cmd_set_anchor(args: argparse.Namespace) -> int:
    doc, b = _edit(args)
    anchor = _anchor(args.anchor_key, args.threshold)
    b.set_anchor(anchor)
    _save(args.doc, b, doc)
    if args.anchor_out:
        _write_json(args.anchor_out, anchor.to_wire())
    print(
        f"anchor set to {len(anchor.keys)} keys, threshold {anchor.threshold}; sign the next "
        "version with the old AND the new anchor keys"
    )
    return 0


def _cmd_set_catalogue(args: argparse.Namespace) -> int:
    doc, b = _edit(args)
    catalogue = Catalogue.parse_json(read_limited(args.file, _MAX_INPUT), max_bytes=_MAX_INPUT)
    b.set_catalogue(catalogue)
    _save(args.doc, b, doc)
    print(f"catalogue of region {catalogue.region} set")
    return 0


def _cmd_add_scenario(args: argparse.Namespace) -> int:
    doc, b = _edit(args)
    raw = read_limited(args.file, _MAX_INPUT)
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise InvalidInputError(f"{args.file} is not valid JSON: {exc}") from exc
    scenarios: tuple[UseScenario, ...]
    if isinstance(data, dict) and "scenarios" in data:
        scenarios = ScenarioList.parse_json(raw, max_bytes=_MAX_INPUT).scenarios
    else:
        scenarios = (UseScenario.parse_json(raw, max_bytes=_MAX_INPUT),)
    for scenario in scenarios:
        b.add_scenario(scenario, replace=args.replace)
    _save(args.doc, b, doc)
    print(f"added {len(scenarios)} scenario(s): {', '.join(s.id for s in scenarios)}")
    return 0


def _cmd_sign(args: argparse.Namespace) -> int:
    _, b = _edit(args)
    signers = [PrivateKey.load(p) for p in args.key]
    now = system_clock()
    stamped = b.build(issued_at=now, validity=timedelta(days=args.valid_days))
    data = sign_registry(stamped, signers)
    versioned = write_publication(args.out, data)
    b.bump()
    _save(args.doc, b, stamped)
    have = len({s.kid for s in signers} & stamped.anchor.kids)
    print(
        f"signed version {stamped.version} (expires {stamped.expires_at.isoformat()}) with "
        f"{have} of {stamped.anchor.threshold} required anchor signatures -> {args.out} "
        f"(and {versioned.name}); working document now at version {b.version}"
    )
    return 0


def _cmd_cosign(args: argparse.Namespace) -> int:
    data = read_limited(args.registry, MAX_REGISTRY_BYTES)
    signers = [PrivateKey.load(p) for p in args.key]
    out = args.out or args.registry
    signed = add_signatures(data, signers)
    version = parse_signed_registry(signed).document().version
    if re.fullmatch(rf".+\.{version}\.jws", Path(out).name):
        try:  # already the versioned copy: rewrite it alone
            Path(out).write_bytes(signed)
        except OSError as exc:
            raise ConfigurationError(f"cannot write {out}: {exc}") from exc
    else:
        write_publication(out, signed)
    print(f"{out} now carries {len(parse_signed_registry(signed).kids)} signature(s)")
    return 0


def _cmd_publish(args: argparse.Namespace) -> int:
    data = read_limited(args.registry, MAX_REGISTRY_BYTES)
    doc = verify_registry(data, load_anchor_file(args.anchor))
    if system_clock() >= doc.expires_at:
        raise ConfigurationError(
            f"registry version {doc.version} expired at {doc.expires_at.isoformat()}; "
            "sign a new version instead of publishing this one"
        )
    versioned = write_publication(args.to, data)
    print(f"published version {doc.version} at {args.to} and {versioned}")
    return 0


def _open_state(location: str) -> SqliteRegistryState | PostgresRegistryState:
    if _pg.is_postgres_url(location):
        return PostgresRegistryState(location)
    return SqliteRegistryState(location)


def _cmd_verify(args: argparse.Namespace) -> int:
    anchor = load_anchor_file(args.anchor)
    data = read_limited(args.registry, MAX_REGISTRY_BYTES)
    doc = verify_registry(data, anchor)
    now = system_clock()
    state = "EXPIRED" if now >= doc.expires_at else "valid"
    if args.state is not None and (state == "valid" or args.allow_expired):
        with _open_state(args.state) as store:
            before = store.last(str(doc.federation))
            store.admit(
                str(doc.federation),
                doc.version,
                payload_digest(parse_signed_registry(data).payload),
            )
        seen = "none" if before is None else f"version {before[0]}"
        print(f"state: last verified before this: {seen}; now version {doc.version}")
    print(
        f"ok: registry {doc.federation} version {doc.version} verified against the anchor "
        f"({anchor.threshold} of {len(anchor.keys)}); {state}, expires "
        f"{doc.expires_at.isoformat()}"
    )
    return 0 if state == "valid" or args.allow_expired else 1


def _key_state(key: MemberKey, now: datetime) -> str:
    # A retired key still verifies what it signed inside its window: while that window is open
    # it is retiring, not yet retired.
    if key.state == "retired" and key.not_after is not None and now < key.not_after:
        return f"retiring until {key.not_after.isoformat()}"
    if key.compromised_at is not None:
        return f"{key.state} since {key.compromised_at.isoformat()}"
    return key.state


def _summary(doc: RegistryDocument, now: datetime) -> list[str]:
    lines = [
        f"federation   {doc.federation}",
        f"crypto       {doc.profile.name} ({', '.join(doc.profile.algorithms)})",
        f"version      {doc.version}",
        f"issued at    {doc.issued_at.isoformat()}",
        f"expires at   {doc.expires_at.isoformat()}",
        f"anchor       {doc.anchor.threshold} of {len(doc.anchor.keys)}: "
        + ", ".join(k.kid for k in doc.anchor.keys),
        f"members      {len(doc.members)}",
    ]
    for member in doc.members:
        lines.append(f"  {member.id}  {member.name}  {member.endpoint or '(no endpoint)'}")
        for key in member.keys:
            end = key.not_after.isoformat() if key.not_after else "open"
            window = f"{key.not_before.isoformat()} .. {end}"
            lines.append(f"    key {key.kid}  {_key_state(key, now)}  [{window})")
    lines.append(f"catalogues   {', '.join(c.region for c in doc.catalogues) or '(none)'}")
    lines.append(f"scenarios    {len(doc.scenarios.scenarios)}")
    for scenario in doc.scenarios.scenarios:
        lines.append(
            f"  {scenario.id}  requester {scenario.requester} -> "
            f"{', '.join(scenario.providers)}  ({', '.join(scenario.operations)})"
        )
    return lines


def _cmd_show(args: argparse.Namespace) -> int:
    data = read_limited(args.registry, MAX_REGISTRY_BYTES)
    if args.anchor:
        doc = verify_registry(data, load_anchor_file(args.anchor))
        status = "VERIFIED against the pinned anchor"
    else:
        signed = parse_signed_registry(data)
        doc = signed.document()
        status = "NOT VERIFIED (pass --anchor to check the signatures)"
        print(f"signatures   {len(signed.kids)}: {', '.join(signed.kids)}")
    now = _time(args.at) if args.at else system_clock()
    for line in _summary(doc, now):
        print(line)
    print(f"status       {status}")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "registry",
        help="build, sign and inspect the federation trust registry",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    sub = parser.add_subparsers(dest="registry_command", metavar="ACTION", required=True)

    def doc_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--doc", required=True, help="the unsigned working document (JSON)")

    p = sub.add_parser("init", help="create a working document")
    p.add_argument("--federation", required=True)
    p.add_argument("--anchor-key", nargs="+", required=True, metavar="PUBFILE")
    p.add_argument("--threshold", type=int, default=1)
    p.add_argument(
        "--crypto",
        choices=("international", "gm"),
        default="international",
        help="crypto profile: international (Ed25519/P-256, SHA-256; default) or gm (SM2, SM3)",
    )
    p.add_argument("--out", required=True)
    p.add_argument("--anchor-out", help="also write the anchor to pin (AnchorKeys JSON)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    p.set_defaults(func=_cmd_init)

    p = sub.add_parser("add-member", help="add a member (region department or system)")
    doc_arg(p)
    p.add_argument("--id", required=True, help="REGION/DEPARTMENT[/SYSTEM]")
    p.add_argument("--name", required=True)
    p.add_argument("--endpoint")
    p.set_defaults(func=_cmd_add_member)

    p = sub.add_parser("add-key", help="add a member's public key")
    doc_arg(p)
    p.add_argument("--member", required=True)
    p.add_argument("--key", required=True, metavar="PUBFILE", help="public key, PEM or JWK")
    p.add_argument("--not-before", help="ISO 8601 time with offset (default: now)")
    p.add_argument("--not-after", help="ISO 8601 time with offset (default: open)")
    p.set_defaults(func=_cmd_add_key)

    p = sub.add_parser("retire-key", help="end a key's window; it stays listed")
    doc_arg(p)
    p.add_argument("--member", required=True)
    p.add_argument("--kid", required=True)
    p.add_argument("--at", help="end of the window (default: now)")
    p.set_defaults(func=_cmd_retire_key)

    p = sub.add_parser("compromise-key", help="mark a key compromised since a time")
    doc_arg(p)
    p.add_argument("--member", required=True)
    p.add_argument("--kid", required=True)
    p.add_argument("--at", required=True, help="earliest time the key may have been exposed")
    p.set_defaults(func=_cmd_compromise_key)

    p = sub.add_parser("set-anchor", help="rotate the anchor keys or change the threshold")
    doc_arg(p)
    p.add_argument("--anchor-key", nargs="+", required=True, metavar="PUBFILE")
    p.add_argument("--threshold", type=int, required=True)
    p.add_argument("--anchor-out")
    p.set_defaults(func=_cmd_set_anchor)

    p = sub.add_parser("set-catalogue", help="set a region's certificate catalogue")
    doc_arg(p)
    p.add_argument("--file", required=True, help="Catalogue JSON")
    p.set_defaults(func=_cmd_set_catalogue)

    p = sub.add_parser("add-scenario", help="add use scenarios")
    doc_arg(p)
    p.add_argument("--file", required=True, help="UseScenario or ScenarioList JSON")
    p.add_argument("--replace", action="store_true", help="replace scenarios with the same id")
    p.set_defaults(func=_cmd_add_scenario)

    p = sub.add_parser("sign", help="sign the working document and bump its version")
    doc_arg(p)
    p.add_argument("--key", nargs="+", required=True, metavar="KEYFILE")
    p.add_argument("--out", required=True)
    p.add_argument("--valid-days", type=int, default=7)
    p.set_defaults(func=_cmd_sign)

    p = sub.add_parser("cosign", help="add anchor signatures to a signed registry")
    p.add_argument("registry")
    p.add_argument("--key", nargs="+", required=True, metavar="KEYFILE")
    p.add_argument("--out", help="default: overwrite the input")
    p.set_defaults(func=_cmd_cosign)

    p = sub.add_parser(
        "publish", help="verify a signed registry and copy it to the publication point"
    )
    p.add_argument("registry")
    p.add_argument("--anchor", required=True, help="pinned AnchorKeys JSON")
    p.add_argument(
        "--to", required=True, metavar="PATH", help="the published file, e.g. /srv/yrd/registry.jws"
    )
    p.set_defaults(func=_cmd_publish)

    p = sub.add_parser("verify", help="verify a signed registry against a pinned anchor")
    p.add_argument("registry")
    p.add_argument("--anchor", required=True, help="pinned AnchorKeys JSON")
    p.add_argument("--allow-expired", action="store_true", help="exit 0 even if expired")
    p.add_argument(
        "--state",
        metavar="FILE|URL",
        help="refuse a version older than the last one verified there, then record this one",
    )
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("show", help="print a readable summary of a signed registry")
    p.add_argument("registry")
    p.add_argument("--anchor", help="verify against this pinned anchor first")
    p.add_argument(
        "--at",
        metavar="TIME",
        help="show key states as of this RFC 3339 time (default: now); a retired key whose "
        "window is still open shows as 'retiring until ...'",
    )
    p.set_defaults(func=_cmd_show)
