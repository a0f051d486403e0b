"""The audit log a node writes before it releases any answer, and reads for residents.

:class:`AuditLog` turns one exchange into an :class:`~deltafed.schemas.audit.AuditEntry`,
chains it to the previous entry, extends the Merkle tree, and has the store write the entry,
the verbatim request and response and the index rows in one durable transaction. Identity
numbers and credit codes never reach the store: the index holds ``hmac-sha256:`` references
keyed with a secret that stays with the node.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

import anyio.to_thread

from deltafed._canonical import encode_checked
from deltafed._clock import Clock, system_clock
from deltafed._errors import (
    AuditError,
    AuditIntegrityError,
    ConfigurationError,
    IdentifierError,
    InvalidInputError,
    NotFoundError,
    SizeLimitError,
)
from deltafed._profile import INTERNATIONAL, CryptoProfile
from deltafed.audit._checkpoint import Checkpoint, parse_checkpoint, sign_checkpoint
from deltafed.audit._merkle import (
    Frontier,
    consistency_path,
    inclusion_path,
    leaf_hash,
    root_from_getter,
    verify_consistency,
    verify_inclusion,
)
from deltafed.audit._store import AppendRecord, AuditStore, StoredRecord
from deltafed.audit._verify import VerificationReport, at_key, genesis_hash, verify_log
from deltafed.keys import KeyResolver, Signer, b64url_decode, b64url_encode
from deltafed.schemas.audit import AuditEntry
from deltafed.schemas.identifiers import MemberId, parse_credit_code, parse_resident_id

__all__ = [
    "MAX_EVIDENCE_BYTES",
    "AccessRecord",
    "AuditLog",
    "ConsistencyProof",
    "InclusionProof",
    "subject_ref",
    "verify_consistency_proof",
    "verify_export",
    "verify_inclusion_proof",
    "write_export",
]

#: Largest request or response the log accepts as evidence.
MAX_EVIDENCE_BYTES = 8 * 1024 * 1024
_MIN_SUBJECT_KEY = 16
_APPEND_ATTEMPTS = 5
#: Most entries committed in one transaction by group commit.
_MAX_BATCH = 64


@dataclass(slots=True)
class _Pending:
    """One ``record`` call waiting for its entry to be committed."""

    values: dict[str, Any]
    request: bytes
    response: bytes
    refs: tuple[str, ...]
    entry: AuditEntry | None = None
    error: BaseException | None = None
    done: bool = False


def _settle(settled: list[tuple[_Pending, asyncio.Future[AuditEntry]]]) -> None:
    """In the caller's event loop: each future gets its entry or its error."""
    for pending, waiter in settled:
        if waiter.done():  # the caller was cancelled; its entry is committed all the same
            continue
        if pending.error is not None:
            waiter.set_exception(pending.error)
        elif pending.entry is not None:
            waiter.set_result(pending.entry)


async def record_exchange(recorder: Any, entry: dict[str, Any], *, alone: bool) -> None:
    """Write ``entry`` with ``recorder`` from an event loop; return once it is durable.

    An :class:`AuditLog` commits it through :meth:`AuditLog.record_async`, on this thread
    when the caller is ``alone`` (it has no other exchange under way) and the store allows;
    another recorder's ``record_async`` is awaited, or its blocking ``record`` runs in a
    worker thread. What the node and the async client share.
    """
    if isinstance(recorder, AuditLog):
        await recorder.record_async(**entry, inline=alone)
        return
    record_async = getattr(recorder, "record_async", None)
    if record_async is not None:
        await record_async(**entry)
    else:
        await anyio.to_thread.run_sync(functools.partial(recorder.record, **entry))


def _normalise_subject(subject: str) -> str:
    try:
        return parse_resident_id(subject)
    except IdentifierError:
        pass
    try:
        return parse_credit_code(subject)
    except IdentifierError:
        raise IdentifierError(
            "an audit subject must be a resident identity number or a unified social credit code",
            field="subjects",
        ) from None


def subject_ref(subject_key: bytes, subject: str, crypto: CryptoProfile = INTERNATIONAL) -> str:
    """The keyed reference the log indexes ``subject`` (identity number or credit code) by:
    ``hmac-sha256:<hex>``, or ``hmac-sm3:<hex>`` with ``crypto=GM``."""
    normal = _normalise_subject(subject)
    mac = crypto.mac(subject_key, b"deltafed-audit-subject-v1\x00" + normal.encode())
    return f"{crypto.hmac_name}:{mac.hex()}"


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Proof that one entry is leaf ``seq`` of the tree a signed checkpoint commits to.

    Checking it needs nothing else from the log: :func:`verify_inclusion_proof`.
    """

    seq: int
    tree_size: int
    path: tuple[bytes, ...]
    entry: bytes
    checkpoint: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "tree_size": self.tree_size,
            "path": [p.hex() for p in self.path],
            "entry": b64url_encode(self.entry),
            "checkpoint": self.checkpoint,
        }

    @classmethod
    def from_json(cls, data: Any) -> InclusionProof:
        try:
            path = tuple(bytes.fromhex(p) for p in data["path"])
            seq, size = data["seq"], data["tree_size"]
            if type(seq) is not int or type(size) is not int or len(path) > 64:
                raise TypeError("bad proof numbers")
            return cls(
                seq=seq,
                tree_size=size,
                path=path,
                entry=b64url_decode(data["entry"]),
                checkpoint=str(data["checkpoint"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"not an inclusion proof: {exc}") from exc


def verify_inclusion_proof(
    proof: InclusionProof, *, log: str, resolver: KeyResolver | None
) -> Checkpoint:
    """Check ``proof`` against its signed checkpoint; return the checkpoint.

    The checkpoint signature is checked through ``resolver`` (pass ``None`` only when the
    checkpoint was obtained from a trusted channel). Raises
    :class:`~deltafed.AuditIntegrityError` (with the position) when the path does not lead to
    the signed root.
    """
    cp = parse_checkpoint(proof.checkpoint, log=log)
    if resolver is not None:
        cp.verify(resolver)
    if cp.size != proof.tree_size:
        raise AuditIntegrityError(
            f"proof is for a tree of {proof.tree_size}, the checkpoint for {cp.size}",
            position=proof.seq,
        )
    try:
        claimed = json.loads(proof.entry).get("seq")
    except (ValueError, AttributeError):
        claimed = None
    if claimed != proof.seq:
        raise AuditIntegrityError("entry does not carry the proven seq", position=proof.seq)
    leaf = leaf_hash(proof.entry, cp.crypto)
    if not verify_inclusion(leaf, proof.seq, cp.size, proof.path, cp.root, cp.crypto):
        raise AuditIntegrityError(
            f"entry {proof.seq} is not in the tree signed at {cp.issued_at.isoformat()}",
            position=proof.seq,
        )
    return cp


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """Proof that the log signed in ``old`` is a prefix of the log signed in ``new``.

    A peer that kept an older checkpoint checks a newer one with it, without the log:
    entries were only appended in between, none changed or removed.
    """

    old: str
    new: str
    path: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new, "path": [p.hex() for p in self.path]}

    @classmethod
    def from_json(cls, data: Any) -> ConsistencyProof:
        try:
            path = tuple(bytes.fromhex(p) for p in data["path"])
            if len(path) > 128:
                raise ValueError("path too long")
            return cls(old=str(data["old"]), new=str(data["new"]), path=path)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"not a consistency proof: {exc}") from exc


def verify_consistency_proof(
    proof: ConsistencyProof, *, log: str, resolver: KeyResolver | None
) -> tuple[Checkpoint, Checkpoint]:
    """Check both signed tree heads and that the older is a prefix of the newer.

    Raises :class:`~deltafed.AuditIntegrityError` (position: the old size) when it is not.
    """
    old = parse_checkpoint(proof.old, log=log)
    new = parse_checkpoint(proof.new, log=log)
    if resolver is not None:
        old.verify(resolver)
        new.verify(resolver)
    if old.crypto is not new.crypto or not verify_consistency(
        old.size, new.size, proof.path, old.root, new.root, new.crypto
    ):
        raise AuditIntegrityError(
            f"the log signed at {new.issued_at.isoformat()} (size {new.size}) does not extend "
            f"the one signed at {old.issued_at.isoformat()} (size {old.size})",
            position=min(old.size, new.size),
        )
    return old, new


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """One use of a subject's data, as the resident (or company) sees it."""

    seq: int
    at: datetime
    requester: MemberId
    responder: MemberId
    operation: str
    scenario: str
    fields: tuple[str, ...]
    outcome: str
    request_id: str
    #: Which side wrote this entry: ``"requester"`` or ``"responder"``.
    recorded_by: str
    #: What was asked and answered when no field was released (a match, an event), if said.
    detail: str | None = None

    @classmethod
    def of(cls, entry: AuditEntry) -> AccessRecord:
        requester = entry.node if entry.role == "requester" else entry.counterpart
        responder = entry.counterpart if entry.role == "requester" else entry.node
        return cls(
            seq=entry.seq,
            at=entry.at,
            requester=requester,
            responder=responder,
            operation=entry.operation,
            scenario=entry.scenario,
            fields=tuple(entry.fields),
            outcome=entry.outcome,
            request_id=entry.request_id,
            recorded_by=entry.role,
            detail=entry.detail,
        )


class AuditLog:
    """The tamper-evident log of one node.

    ``record`` returns only once the entry is durable in ``store``: a node releases a response
    after ``record`` returned, never before, so there is no answer without its evidence.
    ``subject_key`` (at least 16 random bytes, kept secret, stable over the life of the log)
    keys the subject index. ``checkpoint_every`` signs a tree head every N entries.
    Thread-safe; several processes may share one SQLite store.
    """

    def __init__(
        self,
        store: AuditStore,
        *,
        node: MemberId | str,
        signer: Signer,
        subject_key: bytes,
        clock: Clock = system_clock,
        checkpoint_every: int | None = None,
        crypto: CryptoProfile = INTERNATIONAL,
    ) -> None:
        if not isinstance(subject_key, bytes) or len(subject_key) < _MIN_SUBJECT_KEY:
            raise ConfigurationError(f"subject_key must be at least {_MIN_SUBJECT_KEY} bytes")
        if checkpoint_every is not None and checkpoint_every < 1:
            raise ConfigurationError("checkpoint_every must be a positive number of entries")
        self.store = store
        self.node = MemberId.parse(node) if isinstance(node, str) else node
        self._signer = signer
        self._subject_key = subject_key
        self._clock = clock
        self._every = checkpoint_every
        #: The federation's crypto profile: the hash of the chain, tree and digests, the HMAC
        #: of the subject index, the algorithm of the checkpoints.
        self.crypto = crypto
        self._genesis = genesis_hash(crypto)
        self._lock = threading.RLock()
        self._frontier: Frontier | None = None
        self._prev = self._genesis
        # Group commit: callers queue their entry; one of them (the leader) commits all that
        # are queued in one transaction, while the others wait for it.
        self._queue: list[_Pending] = []
        self._queue_cv = threading.Condition(threading.Lock())
        self._leading = False
        # A store without append_batch gets one entry per transaction.
        self._batch_limit = _MAX_BATCH if hasattr(store, "append_batch") else 1
        # record_async: entries queued for the writer thread, with the loop and future of
        # each caller; the thread is started by the first entry and stopped by shutdown().
        self._writer_queue: list[tuple[_Pending, asyncio.AbstractEventLoop, Any]] = []
        self._writer_cv = threading.Condition(threading.Lock())
        self._writer: threading.Thread | None = None
        self._writer_stopping = False
        self._writer_busy = False  # a batch taken off the queue and not yet settled
        # record_async(inline=True) only with a store whose commit makes no network round
        # trip: a slow database must never stall the caller's event loop.
        self._inline_ok = getattr(store, "commits_locally", False) is True
        #: Called after each durable commit with (entries written, seconds it took); metrics.
        self.on_commit: Callable[[int, float], None] | None = None

    # --- writing ---------------------------------------------------------------------------

    def _get_node(self, level: int, index: int) -> bytes:
        value = self.store.node(level, index)
        if value is None:
            raise AuditIntegrityError(
                f"Merkle subtree ({level}, {index}) is missing from the store",
                position=index << level,
            )
        return value

    def _load_tail(self) -> Frontier:
        size = self.store.size()
        frontier = Frontier.load(size, self._get_node, self.crypto)
        self._prev = (
            self._genesis
            if size == 0
            else f"{self.crypto.digest_name}:{self._get_node(0, size - 1).hex()}"
        )
        self._frontier = frontier
        return frontier

    def subject_ref(self, subject: str) -> str:
        return subject_ref(self._subject_key, subject, self.crypto)

    def _pending(
        self,
        *,
        role: str,
        counterpart: MemberId | str,
        operation: str,
        scenario: str,
        subjects: Sequence[str],
        fields: Sequence[str],
        outcome: str,
        request_id: str,
        request: bytes,
        response: bytes,
        detail: str | None,
    ) -> _Pending:
        """Check the evidence and key the subjects: what a commit needs of one exchange."""
        for name, blob in (("request", request), ("response", response)):
            if not isinstance(blob, bytes):
                raise InvalidInputError(f"{name} must be the verbatim bytes", field=name)
            if len(blob) > MAX_EVIDENCE_BYTES:
                raise SizeLimitError(
                    f"{name} of {len(blob)} bytes exceeds {MAX_EVIDENCE_BYTES}", field=name
                )
        if isinstance(subjects, str):
            raise InvalidInputError("subjects must be a sequence of identifiers", field="subjects")
        refs = tuple(sorted({self.subject_ref(s) for s in subjects}))
        return _Pending(
            values={
                "role": role,
                "node": self.node,
                "counterpart": counterpart,
                "operation": operation,
                "scenario": scenario,
                "subject_refs": refs,
                "fields": tuple(fields),
                "outcome": outcome,
                "request_id": request_id,
                "request_digest": self.crypto.digest_text(request),
                "response_digest": self.crypto.digest_text(response),
                **({} if detail is None else {"detail": detail}),
            },
            request=request,
            response=response,
            refs=refs,
        )

    def record(
        self,
        *,
        role: str,
        counterpart: MemberId | str,
        operation: str,
        scenario: str,
        subjects: Sequence[str],
        fields: Sequence[str],
        outcome: str,
        request_id: str,
        request: bytes,
        response: bytes,
        detail: str | None = None,
    ) -> AuditEntry:
        """Append one exchange durably; return its entry. Raise, and release nothing, if not.

        ``detail`` says what was asked and answered when no field was released (a match's
        predicate and answer, an event's kind); it must not hold personal data.
        """
        pending = self._pending(
            role=role,
            counterpart=counterpart,
            operation=operation,
            scenario=scenario,
            subjects=subjects,
            fields=fields,
            outcome=outcome,
            request_id=request_id,
            request=request,
            response=response,
            detail=detail,
        )
        self._commit(pending)
        if pending.error is not None:
            raise pending.error
        if pending.entry is None:  # pragma: no cover - _commit always sets one or the other
            raise AuditError("audit entry was neither committed nor refused")
        return pending.entry

    async def record_async(
        self,
        *,
        role: str,
        counterpart: MemberId | str,
        operation: str,
        scenario: str,
        subjects: Sequence[str],
        fields: Sequence[str],
        outcome: str,
        request_id: str,
        request: bytes,
        response: bytes,
        detail: str | None = None,
        inline: bool = False,
    ) -> AuditEntry:
        """:meth:`record` for an event loop: return once the entry is durable, never before.

        Under asyncio the entry goes to the log's writer thread, which commits what is queued
        in one transaction (group commit) and wakes the waiting callers once it is durable; a
        failed commit raises :class:`~deltafed.AuditError` in every caller of that
        transaction. Elsewhere (another event loop library) :meth:`record` runs in a worker
        thread. Cancelling the caller does not withdraw an entry already handed over.

        ``inline=True`` says the caller has nothing else to do meanwhile (a node answering
        its only request): if the store commits locally (``commits_locally``: the SQLite and
        memory stores, not PostgreSQL) and nothing is waiting for the writer thread, the
        entry is then committed on the calling thread, blocking its event loop for that one
        commit, which saves the two thread wake-ups of the hand-over and back (on a virtual
        machine they can cost more than the commit). The entry is exactly as durable either
        way; otherwise it joins the writer thread's queue as usual.
        """
        kwargs: dict[str, Any] = {
            "role": role,
            "counterpart": counterpart,
            "operation": operation,
            "scenario": scenario,
            "subjects": subjects,
            "fields": fields,
            "outcome": outcome,
            "request_id": request_id,
            "request": request,
            "response": response,
            "detail": detail,
        }
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio (trio under anyio): the plain thread hop
            return await anyio.to_thread.run_sync(functools.partial(self.record, **kwargs))
        pending = self._pending(**kwargs)
        if inline and self._inline_ok and not self._writer_queue and not self._writer_busy:
            return self._commit_inline(pending)
        waiter: asyncio.Future[AuditEntry] = loop.create_future()
        with self._writer_cv:
            self._writer_queue.append((pending, loop, waiter))
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_queued, name="deltafed-audit-writer", daemon=True
                )
                self._writer.start()
            self._writer_cv.notify()
        return await waiter

    def _commit_inline(self, pending: _Pending) -> AuditEntry:
        """:meth:`record_async`'s ``inline`` case: commit on this thread, with the writer
        thread's errors (a failed commit is an :class:`~deltafed.AuditError`)."""
        try:
            self._commit(pending)
        except Exception as exc:  # typed as the writer thread types it
            failed = AuditError(f"audit commit failed: {exc}")
            raise failed from exc
        if pending.error is not None:
            raise pending.error
        if pending.entry is None:  # pragma: no cover - _commit sets one or the other
            raise AuditError("audit entry was neither committed nor refused")
        return pending.entry

    def _write_queued(self) -> None:
        """The writer thread: commit what :meth:`record_async` queued, batch by batch, and
        settle each caller's future in its own event loop once its batch is done."""
        try:
            while True:
                with self._writer_cv:
                    while not self._writer_queue and not self._writer_stopping:
                        self._writer_cv.wait()
                    if not self._writer_queue:
                        return
                    batch = self._writer_queue[: self._batch_limit]
                    del self._writer_queue[: self._batch_limit]
                    self._writer_busy = True
                try:
                    self._write_batch(batch)
                finally:
                    with self._writer_cv:
                        self._writer_busy = False
        finally:
            with self._writer_cv:
                self._writer = None

    def _write_batch(self, batch: list[tuple[_Pending, asyncio.AbstractEventLoop, Any]]) -> None:
        items = [pending for pending, _, _ in batch]
        try:
            self._append_batch(items)
        except BaseException as exc:  # noqa: BLE001 - each waiting caller gets it, typed
            for item in items:
                if item.entry is None and item.error is None:
                    failed = AuditError(f"audit commit failed: {exc}")
                    failed.__cause__ = exc
                    item.error = failed
        for item in items:
            if item.entry is None and item.error is None:  # pragma: no cover - defensive
                item.error = AuditError("audit entry was neither committed nor refused")
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Pending, Any]]] = {}
        for pending, loop, waiter in batch:
            by_loop.setdefault(loop, []).append((pending, waiter))
        for loop, settled in by_loop.items():
            # A closed loop raises RuntimeError: nobody waits for these entries any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, settled)

    def shutdown(self) -> None:
        """Wait until every entry handed to :meth:`record_async` is committed (or has
        failed), then stop the writer thread. The store stays open; a later
        :meth:`record_async` starts a writer again. Blocks: call it from a worker thread in
        an event loop."""
        with self._writer_cv:
            writer = self._writer
            if writer is None:
                return
            self._writer_stopping = True
            self._writer_cv.notify_all()
        try:
            writer.join()
        finally:
            with self._writer_cv:
                self._writer_stopping = False

    def _commit(self, mine: _Pending) -> None:
        """Group commit: return once ``mine`` is committed (or has failed).

        Whoever finds no commit running leads: it takes what is queued (up to a bound), writes
        it in one transaction, marks each done, and leads again until its own entry is done;
        then it hands over to a waiting caller. So concurrent exchanges share one fsync, and
        each caller still returns only after its own entry is durable.
        """
        with self._queue_cv:
            self._queue.append(mine)
            while not mine.done and self._leading:
                self._queue_cv.wait()
            if mine.done:
                return
            self._leading = True
        try:
            while not mine.done:
                with self._queue_cv:
                    batch = self._queue[: self._batch_limit]
                    del self._queue[: self._batch_limit]
                try:
                    self._append_batch(batch)
                except BaseException as exc:
                    # Nothing of this batch is known to be durable: every caller in it fails,
                    # each with its own error (raised in its own thread); the leader re-raises.
                    for item in batch:
                        if item is not mine and item.entry is None and item.error is None:
                            failed = AuditError(f"audit commit failed: {exc}")
                            failed.__cause__ = exc
                            item.error = failed
                    raise
                finally:
                    with self._queue_cv:
                        for item in batch:
                            item.done = True
                        self._queue_cv.notify_all()
        finally:
            with self._queue_cv:
                self._leading = False
                self._queue_cv.notify_all()

    def _build(
        self, batch: list[_Pending], frontier: Frontier, prev: str
    ) -> tuple[Frontier, str, list[AppendRecord], list[tuple[_Pending, AuditEntry]]]:
        """Chain and hash ``batch`` onto the tail ``(frontier, prev)``; bad input is set as
        that item's error and skipped."""
        grown = frontier.copy()
        records: list[AppendRecord] = []
        built: list[tuple[_Pending, AuditEntry]] = []
        for item in batch:
            item.error = None
            try:
                entry = AuditEntry.parse(
                    {
                        **item.values,
                        "seq": grown.size,
                        "at": self._clock(),
                        "prev_hash": prev,
                    }
                )
            except InvalidInputError as exc:  # this caller's bad input; the others go on
                item.error = exc
                continue
            # A validated AuditEntry holds only strings, I-JSON integers (NonNegInt is bounded)
            # and tuples of strings: canonicalize's type walk would find nothing.
            entry_bytes = encode_checked(entry.to_wire())
            leaf = leaf_hash(entry_bytes, self.crypto)
            records.append(
                AppendRecord(
                    seq=entry.seq,
                    entry=entry_bytes,
                    request=item.request,
                    response=item.response,
                    at=at_key(entry.at),
                    counterpart=str(entry.counterpart),
                    scenario=entry.scenario,
                    subject_refs=item.refs,
                    nodes=tuple(grown.append(leaf)),
                )
            )
            built.append((item, entry))
            prev = f"{self.crypto.digest_name}:{leaf.hex()}"
        return grown, prev, records, built

    def _done(
        self, before: int, grown: Frontier, prev: str, built: list[tuple[_Pending, AuditEntry]]
    ) -> None:
        self._frontier = grown
        self._prev = prev
        for item, entry in built:
            item.entry = entry
        if self._every is not None and grown.size // self._every > before // self._every:
            self.checkpoint()

    def _append_batch(self, batch: list[_Pending]) -> None:
        """Chain, hash and write ``batch`` in one transaction; set each item's entry or error."""
        locked = getattr(self.store, "append_locked", None)
        with self._lock:
            if locked is not None:
                self._append_locked(batch, locked)
                return
            for _ in range(_APPEND_ATTEMPTS):
                frontier = self._frontier or self._load_tail()
                grown, prev, records, built = self._build(batch, frontier, self._prev)
                if not records:
                    return
                started = time.perf_counter()
                try:
                    done = self._store_batch(records)
                except BaseException:
                    # The commit may or may not have happened: trust only the store from here.
                    self._frontier = None
                    raise
                if done:
                    if self.on_commit is not None:
                        self._report_commit(len(records), time.perf_counter() - started)
                    self._done(frontier.size, grown, prev, built)
                    return
                # Another writer took these positions: reload the tail and chain onto it.
                self._frontier = None
        failure = AuditError(f"could not append to the audit log in {_APPEND_ATTEMPTS} attempts")
        for item in batch:
            if item.entry is None and item.error is None:
                item.error = failure

    def _report_commit(self, entries: int, seconds: float) -> None:
        callback = self.on_commit
        if callback is None:
            return
        try:
            callback(entries, seconds)
        except Exception:
            logging.getLogger("deltafed.audit").exception("audit commit callback failed")

    def _append_locked(self, batch: list[_Pending], locked: Any) -> None:
        """The same with a store that serialises writers itself (``append_locked``: several
        processes or hosts on one database): the entries are chained inside the store's
        transaction, on the tail it holds, so they are never built on a stale one."""
        outcome: list[tuple[int, Frontier, str, list[tuple[_Pending, AuditEntry]]]] = []

        def build(size: int) -> list[AppendRecord]:
            outcome.clear()
            cached = self._frontier
            if cached is None or cached.size != size:
                self._frontier = None
                frontier = Frontier.load(size, self._get_node, self.crypto)
                self._prev = (
                    self._genesis
                    if size == 0
                    else f"{self.crypto.digest_name}:{self._get_node(0, size - 1).hex()}"
                )
                self._frontier = frontier
            else:
                frontier = cached
            grown, prev, records, built = self._build(batch, frontier, self._prev)
            outcome.append((frontier.size, grown, prev, built))
            return records

        started = time.perf_counter()
        try:
            locked(build)
        except BaseException:
            self._frontier = None
            raise
        if outcome:
            before, grown, prev, built = outcome[0]
            if built:
                if self.on_commit is not None:
                    self._report_commit(len(built), time.perf_counter() - started)
                self._done(before, grown, prev, built)

    def _store_batch(self, records: list[AppendRecord]) -> bool:
        if self._batch_limit == 1:
            return self.store.append(records[0])
        return self.store.append_batch(records)

    # --- tree heads and proofs -------------------------------------------------------------

    @property
    def size(self) -> int:
        with self._lock:
            return self._load_tail().size

    def root(self, size: int | None = None) -> bytes:
        """The Merkle root of the first ``size`` entries (default: all)."""
        with self._lock:
            n = self._load_tail().size if size is None else size
            return root_from_getter(self._get_node, n, self.crypto)

    def checkpoint(self) -> bytes:
        """Sign and store the current tree head; return the compact JWS (ASCII bytes)."""
        with self._lock:
            frontier = self._load_tail()
            jws = sign_checkpoint(
                self._signer,
                log=self.node,
                size=frontier.size,
                root=frontier.root(),
                issued_at=self._clock(),
                crypto=self.crypto,
            )
            self.store.add_checkpoint(frontier.size, jws)
        return jws.encode("ascii")

    def latest_checkpoint(self) -> bytes | None:
        stored = self.store.checkpoints()
        return stored[-1].encode("ascii") if stored else None

    def prove(self, seq: int, *, checkpoint: bytes | str | None = None) -> InclusionProof:
        """Inclusion proof of entry ``seq`` against ``checkpoint``.

        Without one, the latest stored checkpoint that covers ``seq`` is used, or a new one
        is signed.
        """
        with self._lock:
            if checkpoint is None:
                cps = [parse_checkpoint(c, log=self.node) for c in self.store.checkpoints()]
                covering = [c for c in cps if c.size > seq]
                cp = covering[-1] if covering else parse_checkpoint(self.checkpoint())
            else:
                cp = parse_checkpoint(checkpoint, log=self.node)
            if not 0 <= seq < cp.size:
                raise NotFoundError(f"entry {seq} is not covered by a tree of {cp.size}")
            record = self._record(seq)
            path = inclusion_path(self._get_node, seq, cp.size, self.crypto)
        return InclusionProof(
            seq=seq, tree_size=cp.size, path=tuple(path), entry=record.entry, checkpoint=cp.jws
        )

    def prove_consistency(
        self, old: bytes | str, new: bytes | str | None = None
    ) -> ConsistencyProof:
        """Consistency proof from checkpoint ``old`` to ``new`` (default: a fresh one)."""
        with self._lock:
            old_cp = parse_checkpoint(old, log=self.node)
            new_cp = parse_checkpoint(new if new is not None else self.checkpoint(), log=self.node)
            if old_cp.size > new_cp.size:
                raise InvalidInputError("the old checkpoint is larger than the new one")
            path = consistency_path(self._get_node, old_cp.size, new_cp.size, self.crypto)
        return ConsistencyProof(old=old_cp.jws, new=new_cp.jws, path=tuple(path))

    # --- reading ---------------------------------------------------------------------------

    def _record(self, seq: int) -> StoredRecord:
        for record in self.store.read(seq, seq + 1):
            return record
        raise NotFoundError(f"no audit entry {seq}")

    def entry(self, seq: int) -> AuditEntry:
        return AuditEntry.parse_json(self._record(seq).entry)

    def _entries(self, seqs: Iterable[int]) -> list[AuditEntry]:
        found: list[AuditEntry] = []
        for seq in seqs:
            record = next(iter(self.store.read(seq, seq + 1)), None)
            if record is None:
                raise AuditIntegrityError(
                    f"the index lists entry {seq}, which is missing from the log", position=seq
                )
            found.append(AuditEntry.parse_json(record.entry))
        return found

    def subject_view(self, subject: str) -> list[AccessRecord]:
        """Who used this subject's data, when, for which scenario and fields, with what result."""
        ref = self.subject_ref(subject)
        return [AccessRecord.of(e) for e in self._entries(self.store.seqs_by_subject(ref))]

    def by_counterpart(self, counterpart: MemberId | str) -> list[AuditEntry]:
        return self._entries(self.store.seqs_by_counterpart(str(counterpart)))

    def by_scenario(self, scenario: str) -> list[AuditEntry]:
        return self._entries(self.store.seqs_by_scenario(scenario))

    def between(self, start: datetime, end: datetime) -> list[AuditEntry]:
        """Entries with ``start <= at < end``."""
        if start.tzinfo is None or end.tzinfo is None:
            raise InvalidInputError("between() needs timezone-aware datetimes")
        return self._entries(self.store.seqs_between(at_key(start), at_key(end)))

    # --- export and verification -----------------------------------------------------------

    def export(
        self,
        out: IO[str],
        *,
        seqs: Iterable[int] | None = None,
        subject: str | None = None,
        include_evidence: bool = True,
    ) -> int:
        """Write JSON lines for an inspector: the checkpoint, then each entry with its proof.

        The selection is ``seqs``, or the entries of ``subject``, or the whole log. A fresh
        checkpoint is signed so that every exported entry is covered. Returns the number of
        entries written; :func:`verify_export` checks such a file.
        """
        with self._lock:
            jws = self.checkpoint().decode("ascii")
            if subject is not None:
                chosen: Iterable[int] | None = self.store.seqs_by_subject(self.subject_ref(subject))
            else:
                chosen = seqs
            return write_export(
                self.store, out, checkpoint=jws, seqs=chosen, include_evidence=include_evidence
            )

    def verify(
        self,
        *,
        resolver: KeyResolver | None = None,
        checkpoints: Sequence[str | bytes] = (),
        require_anchored: bool = False,
    ) -> VerificationReport:
        """:func:`~deltafed.audit.verify_log` over this log's store."""
        return verify_log(
            self.store,
            node=self.node,
            resolver=resolver,
            checkpoints=checkpoints,
            require_anchored=require_anchored,
            crypto=self.crypto,
        )


def write_export(
    store: AuditStore,
    out: IO[str],
    *,
    checkpoint: str | bytes,
    seqs: Iterable[int] | None = None,
    include_evidence: bool = True,
) -> int:
    """Write an export against an existing signed ``checkpoint`` (see :meth:`AuditLog.export`).

    Only entries the checkpoint covers can be proven; asking for a later one raises
    :class:`~deltafed.NotFoundError`.
    """
    cp = parse_checkpoint(checkpoint)

    def get(level: int, index: int) -> bytes:
        value = store.node(level, index)
        if value is None:
            raise AuditIntegrityError(
                f"Merkle subtree ({level}, {index}) is missing", position=index << level
            )
        return value

    chosen = range(cp.size) if seqs is None else sorted(set(seqs))
    out.write(json.dumps({"type": "checkpoint", "jws": cp.jws}) + "\n")
    count = 0
    for seq in chosen:
        if not 0 <= seq < cp.size:
            raise NotFoundError(f"entry {seq} is not covered by the checkpoint of size {cp.size}")
        record = next(iter(store.read(seq, seq + 1)), None)
        if record is None:
            raise AuditIntegrityError(f"entry {seq} is missing from the store", position=seq)
        line: dict[str, Any] = {
            "type": "entry",
            "seq": seq,
            "tree_size": cp.size,
            "entry": b64url_encode(record.entry),
            "path": [p.hex() for p in inclusion_path(get, seq, cp.size, cp.crypto)],
        }
        if include_evidence:
            line["request"] = b64url_encode(record.request)
            line["response"] = b64url_encode(record.response)
        out.write(json.dumps(line, sort_keys=True) + "\n")
        count += 1
    return count


def verify_export(
    lines: Iterable[str], *, log: str, resolver: KeyResolver | None
) -> list[AuditEntry]:
    """Check an :meth:`AuditLog.export` file: checkpoint, every proof, every evidence digest.

    Returns the verified entries; raises on the first failure.
    """
    cp_jws: str | None = None
    verified: list[AuditEntry] = []
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            kind = item["type"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(f"export line {number + 1} is not valid: {exc}") from exc
        if kind == "checkpoint":
            cp_jws = str(item["jws"])
            cp = parse_checkpoint(cp_jws, log=log)
            if resolver is not None:
                cp.verify(resolver)
            continue
        if kind != "entry" or cp_jws is None:
            raise InvalidInputError(f"export line {number + 1}: entry before any checkpoint")
        proof = InclusionProof.from_json({**item, "checkpoint": cp_jws})
        verify_inclusion_proof(proof, log=log, resolver=None)
        entry = AuditEntry.parse_json(proof.entry)
        for name, digest in (
            ("request", entry.request_digest),
            ("response", entry.response_digest),
        ):
            if name in item:
                blob = b64url_decode(item[name])
                if cp.crypto.digest_text(blob) != digest:
                    raise AuditIntegrityError(
                        f"exported {name} does not match entry {entry.seq}", position=entry.seq
                    )
        verified.append(entry)
    if cp_jws is None:
        raise InvalidInputError("export holds no checkpoint")
    return verified
