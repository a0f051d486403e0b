"""Checking a whole audit log: the chain, the Merkle tree, the index and the checkpoints.

:func:`verify_log` streams the store once, in seq order, and recomputes everything from the
stored bytes; nothing the store says about hashes is believed, it is compared. It returns a
:class:`VerificationReport` listing each problem with the position of the entry where it shows
first; :meth:`VerificationReport.raise_for_problems` turns the first one into an
:class:`~deltafed.AuditIntegrityError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from deltafed._canonical import canonicalize
from deltafed._errors import AuditIntegrityError, DeltafedError
from deltafed._profile import GM, INTERNATIONAL, CryptoProfile
from deltafed._text import rfc3339_instant
from deltafed.audit._checkpoint import Checkpoint, parse_checkpoint
from deltafed.audit._merkle import Frontier, leaf_hash
from deltafed.audit._store import AuditStore
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
    """
    if crypto is None:
        crypto = _profile_of_log(store)
    problems = _Collector(max_problems)
    by_size = _load_checkpoints(
        [*store.checkpoints(), *checkpoints], node=node, resolver=resolver, problems=problems
    )
    checked = sum(len(v) for v in by_size.values())
    entry_model: Any = None
    if strict:
        from deltafed.schemas.audit import AuditEntry

        entry_model = AuditEntry

    frontier = Frontier(crypto=crypto)
    shadow = Frontier(crypto=crypto)
    cursors = _NodeCursors(store)
    prev = genesis_hash(crypto)
    expected = 0
    anchored = 0
    if 0 in by_size:
        anchored = _compare_roots(by_size[0], frontier, anchored, problems)
    for r in store.read():
        reported = False

        def flag(kind: IntegrityFailureKind, detail: str, at: int = r.seq) -> None:
            nonlocal reported
            if not reported:
                problems.add(at, kind, detail)
                reported = True

        gap = r.seq != expected
        if r.seq > expected:
            flag("deleted", f"entries {expected} to {r.seq - 1} are missing", expected)
        elif gap:
            flag("reordered", f"entry {r.seq} follows entry {expected - 1}")
        leaf = leaf_hash(r.entry, crypto)
        try:
            d = json.loads(r.entry)
        except ValueError:
            d = None
        check = _entry_checks(d, r.seq, node, r.request, r.response, crypto)
        if check is not None and check[0] == "reordered":
            flag(*check)
        if r.leaf != leaf:
            flag("modified", "entry bytes do not match their stored leaf hash")
        if not gap and isinstance(d, dict) and d.get("prev_hash") != prev:
            flag("chain_broken", f"entry does not link to entry {r.seq - 1}")
        if check is not None:
            flag(*check)
        elif isinstance(d, dict):
            bad_index = _index_checks(d, r.at, r.counterpart, r.scenario, r.subject_refs)
            if bad_index is not None:
                flag("index_mismatch", bad_index)
        if strict and isinstance(d, dict):
            try:
                entry_model.parse(d)
                if canonicalize(d) != r.entry:
                    flag("modified", "entry bytes are not RFC 8785 canonical")
            except DeltafedError as exc:
                flag("modified", f"entry does not match the AuditEntry schema: {exc}")
        # A byte flipped in one entry should be reported there, not again at the next entry
        # or in every subtree above it: the chain and the stored-subtree check continue from
        # the leaf hash the entry had when it was written, if it is known. The roots compared
        # with checkpoints come from the bytes alone.
        written = r.leaf if r.leaf is not None else leaf
        prev = f"{crypto.digest_name}:{written.hex()}"
        expected = r.seq + 1
        frontier.append(leaf)
        for level, idx, value in shadow.append(written):
            if level == 0:
                cursors.next(0)
                continue  # compared above through r.leaf
            stored = cursors.next(level)
            if stored is None or stored != (idx, value):
                problems.add(
                    ((idx + 1) << level) - 1,
                    "nodes_mismatch",
                    f"stored Merkle subtree ({level}, {idx}) does not match the entries",
                )
        if frontier.size in by_size:
            anchored = _compare_roots(by_size[frontier.size], frontier, anchored, problems)
    extra = cursors.next(0)
    if extra is not None:
        problems.add(
            frontier.size,
            "truncated",
            f"Merkle leaves are stored beyond the last entry (leaf {extra[0]})",
        )
    for size in sorted(s for s in by_size if s > frontier.size):
        for cp in by_size[size]:
            problems.add(
                frontier.size,
                "truncated",
                f"the log has {frontier.size} entries, a checkpoint issued "
                f"{cp.issued_at.isoformat()} covers {cp.size}",
            )
    if require_anchored and anchored < frontier.size:
        problems.add(
            anchored,
            "unanchored",
            f"entries {anchored} to {frontier.size - 1} are not covered by a signed checkpoint",
        )
    return VerificationReport(
        crypto=crypto,
        size=frontier.size,
        root=frontier.root(),
        checkpoints_checked=checked,
        signatures_checked=resolver is not None,
        anchored_size=anchored,
        problems=tuple(problems.items),
    )


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
