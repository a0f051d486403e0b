"""Checking a whole audit log: the chain, the Merkle tree, the index and the checkpoints.

:func:`verify_log` streams the store once, in seq order, and recomputes everything from the
stored bytes; nothing the store says about hashes is believed, it is compared. It returns a
:class:`VerificationReport` listing each problem with the position of the entry where it shows
first; :meth:`VerificationReport.raise_for_problems` turns the first one into an
:class:`~deltafed.AuditIntegrityError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any, Literal

from deltafed._canonical import canonicalize
from deltafed._errors import AuditIntegrityError, DeltafedError, InvalidInputError
from deltafed._profile import GM, INTERNATIONAL, CryptoProfile
from deltafed._text import rfc3339_instant
from deltafed.audit._checkpoint import Checkpoint, parse_checkpoint
from deltafed.audit._merkle import Frontier
from deltafed.audit._pgstore import PostgresAuditStore
from deltafed.audit._store import AuditStore, RawRow, SqliteAuditStore
from deltafed.keys import KeyResolver

__all__ = [
    "GENESIS_HASH",
    "IntegrityFailure",
    "IntegrityFailureKind",
    "VerificationReport",
    "verify_log",
]

#: ``prev_hash`` of the first entry.
GENESIS_HASH = "sha-256:" + "0" * 64


def genesis_hash(crypto: CryptoProfile = INTERNATIONAL) -> str:
    """The ``prev_hash`` of entry 0: ``sha-256:`` (or ``sm3:``) and 64 zeros."""
    return f"{crypto.digest_name}:" + "0" * 64


IntegrityFailureKind = Literal[
    "modified",
    "deleted",
    "reordered",
    "chain_broken",
    "index_mismatch",
    "nodes_mismatch",
    "truncated",
    "checkpoint_mismatch",
    "bad_checkpoint",
    "unanchored",
]


@dataclass(frozen=True, slots=True)
class IntegrityFailure:
    """One integrity failure. ``position`` is the seq of the first entry it concerns."""

    position: int | None
    kind: IntegrityFailureKind
    detail: str

    def __str__(self) -> str:
        where = "-" if self.position is None else str(self.position)
        return f"{self.kind} at {where}: {self.detail}"


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """What :func:`verify_log` found.

    ``problems`` are in the order they were found while streaming the log in seq order, so
    :attr:`first` is the earliest evidence of tampering (a checkpoint that does not parse or
    verify is found before any entry is read).
    """

    size: int
    root: bytes
    #: Checkpoints whose structure parsed and (with a resolver) whose signature verified.
    checkpoints_checked: int
    #: False when no key resolver was given: roots were compared, signatures were not.
    signatures_checked: bool
    #: Entries ``[0, anchored_size)`` match a valid signed checkpoint.
    anchored_size: int
    problems: tuple[IntegrityFailure, ...] = field(default=())
    #: The crypto profile the log was checked with (the hash of ``root``).
    crypto: CryptoProfile = INTERNATIONAL

    @property
    def root_text(self) -> str:
        """``sha-256:<hex>`` (or ``sm3:<hex>``) of :attr:`root`."""
        return f"{self.crypto.digest_name}:{self.root.hex()}"

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> IntegrityFailure | None:
        return self.problems[0] if self.problems else None

    def raise_for_problems(self) -> None:
        """Raise :class:`~deltafed.AuditIntegrityError` for the first problem, if any."""
        first = self.first
        if first is not None:
            more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            raise AuditIntegrityError(f"{first}{more}", position=first.position, kind=first.kind)


def at_key(when: datetime) -> str:
    """The fixed-width UTC text a store indexes times by."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Collector:
    def __init__(self, limit: int) -> None:
        self.items: list[IntegrityFailure] = []
        self.limit = limit

    def add(self, position: int | None, kind: IntegrityFailureKind, detail: str) -> None:
        if len(self.items) < self.limit:
            self.items.append(IntegrityFailure(position, kind, detail))


def _load_checkpoints(
    texts: Sequence[str | bytes],
    *,
    node: str,
    resolver: KeyResolver | None,
    problems: _Collector,
) -> dict[int, list[Checkpoint]]:
    by_size: dict[int, list[Checkpoint]] = {}
    for number, text in enumerate(texts):
        try:
            cp = parse_checkpoint(text, log=node)
            if resolver is not None:
                cp.verify(resolver)
        except DeltafedError as exc:
            problems.add(None, "bad_checkpoint", f"checkpoint #{number}: {exc}")
            continue
        by_size.setdefault(cp.size, []).append(cp)
    return by_size


def _entry_checks(
    d: Any, stored_seq: int, node: str, request: bytes, response: bytes, crypto: CryptoProfile
) -> tuple[IntegrityFailureKind, str] | None:
    if not isinstance(d, dict):
        return "modified", "entry is not a JSON object"
    seq = d.get("seq")
    if seq != stored_seq:
        if type(seq) is int:
            return "reordered", f"entry for position {seq} is stored at position {stored_seq}"
        return "modified", "entry has no valid seq"
    if d.get("node") != node:
        return "modified", f"entry names node {d.get('node')!r}, the log is {node}"
    if d.get("request_digest") != crypto.digest_text(request):
        return "modified", "stored request bytes do not match the entry's request_digest"
    if d.get("response_digest") != crypto.digest_text(response):
        return "modified", "stored response bytes do not match the entry's response_digest"
    return None


def _index_checks(
    d: dict[str, Any], at: str, counterpart: str, scenario: str, refs: tuple[str, ...]
) -> str | None:
    when = rfc3339_instant(d.get("at"))
    at_ok = when is not None and at_key(when) == at
    if not at_ok:
        return "time index does not match the entry"
    if d.get("counterpart") != counterpart:
        return "counterpart index does not match the entry"
    if d.get("scenario") != scenario:
        return "scenario index does not match the entry"
    listed = d.get("subject_refs")
    if not isinstance(listed, list) or tuple(sorted(set(map(str, listed)))) != refs:
        return "subject index does not match the entry"
    return None


class _NodeCursors:
    """One stream per tree level; subtrees of a level complete in index order."""

    def __init__(self, store: AuditStore) -> None:
        self._store = store
        self._iters: dict[int, Iterator[tuple[int, bytes]]] = {}

    def next(self, level: int) -> tuple[int, bytes] | None:
        it = self._iters.get(level)
        if it is None:
            it = self._iters[level] = self._store.iter_nodes(level)
        return next(it, None)


def _profile_of_log(store: AuditStore) -> CryptoProfile:
    first = next(iter(store.read(0, 1)), None)
    if first is None:
        return INTERNATIONAL
    try:
        prev = json.loads(first.entry).get("prev_hash")
    except (ValueError, AttributeError):
        return INTERNATIONAL
    return GM if isinstance(prev, str) and prev.startswith(f"{GM.digest_name}:") else INTERNATIONAL


def verify_log(
    store: AuditStore,
    *,
    node: str,
    resolver: KeyResolver | None = None,
    checkpoints: Sequence[str | bytes] = (),
    require_anchored: bool = False,
    strict: bool = False,
    max_problems: int = 100,
    crypto: CryptoProfile | None = None,
    workers: int = 1,
) -> VerificationReport:
    """Recompute and check the whole log of ``node`` in ``store``.

    * every entry: its seq is its position, it links to the previous entry (``prev_hash``), the
      stored request and response bytes match its digests, the index rows match it, and its
      leaf and every stored Merkle subtree match what the bytes give;
    * every checkpoint, stored or passed in ``checkpoints`` (tree heads a peer or inspector
      kept - the only defence against someone who rewrites the file *and* its checkpoints):
      its signature, through ``resolver`` at the time it was issued, and that the log prefix of
      its size has its root;
    * ``require_anchored``: entries after the last matching checkpoint count as a problem;
    * ``strict``: each entry is also validated against the ``AuditEntry`` schema and must be
      RFC 8785 canonical (slower).

    ``crypto`` is the federation's crypto profile; without it, the log says: the prefix of the
    first entry's ``prev_hash`` (``sha-256:`` or ``sm3:``), else ``international``.

    ``workers`` above 1 checks a large SQLite or PostgreSQL log in that many processes, each
    over its own ranges of entries, with the same checks. When every range is intact the report
    is built from theirs; when any range shows a problem, the log is checked again in this
    process, so a damaged log gets exactly the report one process gives. Small logs, and stores
    another process cannot open (:class:`~deltafed.audit.MemoryAuditStore`, other
    implementations), are checked in this process.
    """
    if type(workers) is not int or workers < 1:
        raise InvalidInputError("workers must be a positive integer")
    if crypto is None:
        crypto = _profile_of_log(store)
    problems = _Collector(max_problems)
    by_size = _load_checkpoints(
        [*store.checkpoints(), *checkpoints], node=node, resolver=resolver, problems=problems
    )
    checked = sum(len(v) for v in by_size.values())
    scan: _Scan | None = None
    if workers > 1:
        from deltafed.audit._parallel import scan_parallel

        scan = scan_parallel(
            store, node=node, crypto=crypto, strict=strict, by_size=by_size, workers=workers
        )
    if scan is None:
        scan = _scan(
            store, node=node, crypto=crypto, strict=strict, by_size=by_size, problems=problems
        )
    if require_anchored and scan.anchored < scan.size:
        problems.add(
            scan.anchored,
            "unanchored",
            f"entries {scan.anchored} to {scan.size - 1} are not covered by a signed checkpoint",
        )
    return VerificationReport(
        crypto=crypto,
        size=scan.size,
        root=scan.root,
        checkpoints_checked=checked,
        signatures_checked=resolver is not None,
        anchored_size=scan.anchored,
        problems=tuple(problems.items),
    )


@dataclass(frozen=True, slots=True)
class _Scan:
    """What streaming the entries gave: how many, their root, how far checkpoints cover."""

    size: int
    root: bytes
    anchored: int


def rows_of(store: AuditStore, start: int = 0, stop: int | None = None) -> Iterator[RawRow]:
    """The store's entries as :data:`RawRow` tuples, in seq order."""
    if isinstance(store, SqliteAuditStore | PostgresAuditStore):
        yield from store._verify_rows(start, stop)
        return
    for r in store.read(start, stop):
        yield (
            r.seq,
            r.entry,
            r.request,
            r.response,
            r.at,
            r.counterpart,
            r.scenario,
            r.subject_refs,
            r.leaf,
        )


def _leaf_at_position(store: AuditStore, position: int) -> int | None:
    if isinstance(store, SqliteAuditStore | PostgresAuditStore):
        return store._leaf_at_position(position)
    extra = next(islice(store.iter_nodes(0), position, None), None)
    return None if extra is None else extra[0]


_DECODER = json.JSONDecoder()
#: The decoder's scanner, as :meth:`json.JSONDecoder.raw_decode` calls it (typeshed omits it).
_SCAN_ONCE: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def decode_entry(entry: bytes) -> Any:
    """``json.loads(entry)``, or ``None`` where it raises ``ValueError``.

    An entry that opens with ``{`` and no NUL after it is what :func:`json.loads` reads as
    UTF-8 (``surrogatepass``) with the default decoder; that is done directly, skipping the
    encoding detection, and its scanner is called directly when the object ends the text (no
    whitespace around it, as the log writes it). Anything else goes through
    :func:`json.loads` itself.
    """
    try:
        if entry[:1] == b"{" and entry[1:2] not in (b"\x00", b""):
            text = entry.decode("utf-8", "surrogatepass")
            try:
                value, end = _SCAN_ONCE(text, 0)
            except StopIteration:
                return None  # what raw_decode turns into a JSONDecodeError at 0
            if end == len(text):
                return value
            return _DECODER.decode(text)
        return json.loads(entry)
    except ValueError:
        return None


#: The index's time text; a year below 1000 is left to the full check.
_AT_KEY = re.compile(r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


def at_matches(text: object, at: str) -> bool:
    """What :func:`_index_checks` asks of the entry's ``at``: it is an RFC 3339 instant whose
    :func:`at_key` is the index's ``at``.

    The common case, the entry writing the index text itself (or without its zero fraction),
    is settled by a fixed-shape match and a calendar check of that text; anything else is
    parsed and converted as before.
    """
    if (
        type(text) is str
        and (text == at or (text[19:] == "Z" and at[19:] == ".000000Z" and text[:19] == at[:19]))
        and _AT_KEY.fullmatch(at)
    ):
        try:
            datetime.fromisoformat(at)
        except ValueError:
            pass
        else:
            return True
    when = rfc3339_instant(text)
    return when is not None and at_key(when) == at


def index_ok(
    d: dict[str, Any], at: str, counterpart: str, scenario: str, refs: tuple[str, ...]
) -> bool:
    """:func:`_index_checks` finds nothing (the same tests, answered yes or no)."""
    if d.get("counterpart") != counterpart or d.get("scenario") != scenario:
        return False
    listed = d.get("subject_refs")
    if not isinstance(listed, list):
        return False
    if not (
        (len(listed) == 1 and len(refs) == 1 and type(listed[0]) is str and listed[0] == refs[0])
        or tuple(sorted(set(map(str, listed)))) == refs
    ):
        return False
    return at_matches(d.get("at"), at)


def strict_problem(entry_model: Any, d: dict[str, Any], entry: bytes) -> str | None:
    """What ``strict`` finds wrong with a decoded entry, or ``None``."""
    try:
        entry_model.parse(d)
        if canonicalize(d) != entry:
            return "entry bytes are not RFC 8785 canonical"
    except DeltafedError as exc:
        return f"entry does not match the AuditEntry schema: {exc}"
    return None


def _strict_model(strict: bool) -> Any:
    if not strict:
        return None
    from deltafed.schemas.audit import AuditEntry

    return AuditEntry


def _row_problem(
    row: RawRow,
    leaf: bytes,
    d: Any,
    *,
    expected: int,
    prev: str,
    node: str,
    crypto: CryptoProfile,
    entry_model: Any,
) -> tuple[int, IntegrityFailureKind, str] | None:
    """The first problem of one entry, in the order they are looked for (one per entry)."""
    seq, entry, request, response, at, counterpart, scenario, refs, stored_leaf = row
    gap = seq != expected
    if seq > expected:
        return expected, "deleted", f"entries {expected} to {seq - 1} are missing"
    if gap:
        return seq, "reordered", f"entry {seq} follows entry {expected - 1}"
    check = _entry_checks(d, seq, node, request, response, crypto)
    if check is not None and check[0] == "reordered":
        return seq, *check
    if stored_leaf != leaf:
        return seq, "modified", "entry bytes do not match their stored leaf hash"
    if isinstance(d, dict) and d.get("prev_hash") != prev:
        return seq, "chain_broken", f"entry does not link to entry {seq - 1}"
    if check is not None:
        return seq, *check
    if isinstance(d, dict):
        bad_index = _index_checks(d, at, counterpart, scenario, refs)
        if bad_index is not None:
            return seq, "index_mismatch", bad_index
    if entry_model is not None and isinstance(d, dict):
        bad = strict_problem(entry_model, d, entry)
        if bad is not None:
            return seq, "modified", bad
    return None


def _scan(
    store: AuditStore,
    *,
    node: str,
    crypto: CryptoProfile,
    strict: bool,
    by_size: dict[int, list[Checkpoint]],
    problems: _Collector,
) -> _Scan:
    """Stream the entries in one process; add every problem to ``problems`` in log order."""
    entry_model = _strict_model(strict)
    digest_name = crypto.digest_name
    hash_fn = crypto.hash_fn
    # ``shadow`` is the tree of the leaf hashes as written (the stored ones where known), which
    # the chain and the stored subtrees are compared with; ``frontier`` is the tree of the
    # bytes, for the roots compared with checkpoints. They are one tree until an entry's bytes
    # no longer give its stored leaf.
    shadow = Frontier(crypto=crypto)
    frontier: Frontier | None = None
    cursors = _NodeCursors(store)
    prev = genesis_hash(crypto)
    expected = 0
    anchored = 0
    if 0 in by_size:
        anchored = _compare_roots(by_size[0], shadow, anchored, problems)
    for row in rows_of(store):
        seq, entry, request, response, at, counterpart, scenario, refs, stored_leaf = row
        leaf = hash_fn(b"\x00" + entry)
        d = decode_entry(entry)
        if not (
            seq == expected
            and stored_leaf == leaf
            and isinstance(d, dict)
            and d.get("prev_hash") == prev
            and _entry_checks(d, seq, node, request, response, crypto) is None
            and index_ok(d, at, counterpart, scenario, refs)
            and (entry_model is None or strict_problem(entry_model, d, entry) is None)
        ):
            problem = _row_problem(
                row,
                leaf,
                d,
                expected=expected,
                prev=prev,
                node=node,
                crypto=crypto,
                entry_model=entry_model,
            )
            if problem is not None:
                problems.add(*problem)
        # A byte flipped in one entry should be reported there, not again at the next entry
        # or in every subtree above it: the chain and the stored-subtree check continue from
        # the leaf hash the entry had when it was written, if it is known. The roots compared
        # with checkpoints come from the bytes alone.
        written = stored_leaf if stored_leaf is not None else leaf
        prev = f"{digest_name}:{written.hex()}"
        expected = seq + 1
        if frontier is None and written != leaf:
            frontier = shadow.copy()
        if frontier is not None:
            frontier.append(leaf)
        made = shadow.append(written)
        for level, idx, value in made[1:]:  # the leaf itself was compared through its row
            stored = cursors.next(level)
            if stored is None or stored != (idx, value):
                problems.add(
                    ((idx + 1) << level) - 1,
                    "nodes_mismatch",
                    f"stored Merkle subtree ({level}, {idx}) does not match the entries",
                )
        if shadow.size in by_size:
            anchored = _compare_roots(by_size[shadow.size], frontier or shadow, anchored, problems)
    size = shadow.size
    # Every row's leaf was joined to it; one stored leaf more than there are rows is a trace of
    # entries removed from the end.
    extra = _leaf_at_position(store, size)
    if extra is not None:
        problems.add(
            size,
            "truncated",
            f"Merkle leaves are stored beyond the last entry (leaf {extra})",
        )
    for cp_size in sorted(s for s in by_size if s > size):
        for cp in by_size[cp_size]:
            problems.add(
                size,
                "truncated",
                f"the log has {size} entries, a checkpoint issued "
                f"{cp.issued_at.isoformat()} covers {cp.size}",
            )
    return _Scan(size=size, root=(frontier or shadow).root(), anchored=anchored)


def _compare_roots(
    cps: list[Checkpoint], frontier: Frontier, anchored: int, problems: _Collector
) -> int:
    root = frontier.root()
    for cp in cps:
        if cp.root == root:
            anchored = max(anchored, cp.size)
        else:
            problems.add(
                anchored,
                "checkpoint_mismatch",
                f"the first {cp.size} entries do not have the root signed at "
                f"{cp.issued_at.isoformat()}; the change lies in entries {anchored} to "
                f"{cp.size - 1}",
            )
    return anchored
