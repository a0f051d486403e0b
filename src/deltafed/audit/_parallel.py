"""Checking a large audit log in several processes (``verify_log(..., workers=N)``).

The log is cut into ranges of ``2**CHUNK_LEVEL`` entries, aligned on that size, so each range
is a perfect Merkle subtree of its own. A worker process opens the file (or the PostgreSQL
database) itself and checks one range inside one read transaction, with the checks the
one-process scan makes: each entry's seq, stored leaf, digests of the stored request and
response, index rows, link to the entry before it (``prev_hash``), ``strict`` if asked, and
every stored subtree of the range. The parent then checks what joins the ranges: each range's
first entry links to the last entry of the range before it, the ranges hold every position,
the subtrees above the ranges match, and the root of every checkpoint's prefix is the signed
one (a prefix's root is the subtrees of the ranges before it and the range's own edge).

This path only ever concludes that a log is intact. At the first sign of anything else (a
range with a problem, a join that does not hold, a checkpoint beyond the end) it gives up and
:func:`~deltafed.audit.verify_log` checks the whole log again in one process, which reports
every problem where it shows first. So a damaged log gets the same report whatever
``workers`` says, and the work split over processes is only ever asked one question.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from deltafed._profile import CRYPTO_PROFILES, INTERNATIONAL, CryptoProfile
from deltafed.audit._checkpoint import Checkpoint
from deltafed.audit._merkle import Frontier
from deltafed.audit._pgstore import PostgresAuditStore
from deltafed.audit._store import AuditStore, SqliteAuditStore

__all__ = ["CHUNK_LEVEL", "scan_parallel"]

#: Each range is ``2**CHUNK_LEVEL`` entries (32,768): about 31 ranges in a million entries,
#: enough for two to four processes to finish together, and few subtrees above them.
CHUNK_LEVEL = 15

_MAX_SEQ = 2**63 - 1


class _Reader(Protocol):
    def rows(self, start: int, stop: int | None) -> Iterator[list[_Row]]:
        """Entries ``start <= seq < stop`` in seq order, in batches."""
        ...

    def nodes(self, level: int, lo: int | None, hi: int | None) -> list[tuple[int, bytes]]:
        """Stored subtrees of ``level`` with ``lo <= idx < hi`` (no bound for ``None``)."""
        ...

    def leaf_count(self, lo: int | None, hi: int | None) -> int: ...

    def begin(self) -> None: ...

    def end(self) -> None: ...


_SQLITE_ROWS = """
SELECT e.seq, e.entry, e.request, e.response, e.at, e.counterpart, e.scenario,
       (SELECT group_concat(s.subject_ref, ' ') FROM subjects s WHERE s.seq = e.seq),
       n.hash
FROM entries e LEFT JOIN nodes n ON n.level = 0 AND n.idx = e.seq
WHERE e.seq >= ? AND e.seq < ?
ORDER BY e.seq
"""


#: A row as a reader hands it over: :data:`RawRow`, except that the subject refs are still the
#: text the query joined them into (``None`` for none), split only by the check.
_Row = tuple[int, bytes, bytes, bytes, str, str, str, str | None, bytes | None]


class _SqliteReader:
    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30.0)

    def begin(self) -> None:
        self._db.execute("BEGIN")  # one snapshot for the whole range

    def end(self) -> None:
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def rows(self, start: int, stop: int | None) -> Iterator[list[_Row]]:
        # sqlite3 already gives int, bytes and str (or whatever a tampered column holds, which
        # the checks then refuse): the batches go to the check as they are. Small batches: a
        # row's bytes are hashed and decoded while still in the CPU's cache (64 rows are about
        # 300 kB; batches of 2048 made the whole check some 15% slower).
        cur = self._db.execute(_SQLITE_ROWS, (start, _MAX_SEQ if stop is None else stop))
        while batch := cur.fetchmany(64):
            yield batch

    def nodes(self, level: int, lo: int | None, hi: int | None) -> list[tuple[int, bytes]]:
        # As sqlite3 gives them: a tampered value of another type never equals a subtree made.
        rows: list[tuple[int, bytes]] = self._db.execute(
            "SELECT idx, hash FROM nodes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx",
            (level, -_MAX_SEQ if lo is None else lo, _MAX_SEQ if hi is None else hi),
        ).fetchall()
        return rows

    def leaf_count(self, lo: int | None, hi: int | None) -> int:
        (count,) = self._db.execute(
            "SELECT count(*) FROM nodes WHERE level = 0 AND idx >= ? AND idx < ?",
            (-_MAX_SEQ if lo is None else lo, _MAX_SEQ if hi is None else hi),
        ).fetchone()
        return int(count)


_PG_ROWS = """
SELECT e.seq, e.entry, e.request, e.response, e.at, e.counterpart, e.scenario,
       (SELECT string_agg(s.subject_ref, ' ') FROM audit_subjects s WHERE s.seq = e.seq),
       n.hash
FROM audit_entries e LEFT JOIN audit_nodes n ON n.level = 0 AND n.idx = e.seq
WHERE e.seq >= %s AND e.seq < %s
ORDER BY e.seq
"""


class _PostgresReader:
    def __init__(self, conninfo: str) -> None:
        import psycopg

        self._conn = psycopg.connect(conninfo)
        self._conn.read_only = True
        self._conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ

    def begin(self) -> None:
        return None  # psycopg opens a transaction at the first statement

    def end(self) -> None:
        self._conn.commit()

    def rows(self, start: int, stop: int | None) -> Iterator[list[_Row]]:
        with self._conn.cursor(name="deltafed_verify_rows") as cur:
            cur.execute(_PG_ROWS, (start, _MAX_SEQ if stop is None else stop))
            while batch := cur.fetchmany(2048):
                yield [
                    (
                        int(seq),
                        bytes(entry),
                        bytes(request),
                        bytes(response),
                        str(at),
                        str(cp),
                        str(sc),
                        refs,
                        None if leaf is None else bytes(leaf),
                    )
                    for seq, entry, request, response, at, cp, sc, refs, leaf in batch
                ]

    def nodes(self, level: int, lo: int | None, hi: int | None) -> list[tuple[int, bytes]]:
        rows = self._conn.execute(
            "SELECT idx, hash FROM audit_nodes WHERE level = %s AND idx >= %s AND idx < %s"
            " ORDER BY idx",
            (level, -_MAX_SEQ if lo is None else lo, _MAX_SEQ if hi is None else hi),
        ).fetchall()
        return [(int(i), bytes(h)) for i, h in rows]

    def leaf_count(self, lo: int | None, hi: int | None) -> int:
        row = self._conn.execute(
            "SELECT count(*) FROM audit_nodes WHERE level = 0 AND idx >= %s AND idx < %s",
            (-_MAX_SEQ if lo is None else lo, _MAX_SEQ if hi is None else hi),
        ).fetchone()
        return 0 if row is None else int(row[0])


@dataclass(frozen=True, slots=True)
class _Task:
    """One range for a worker: entries ``[start, stop)`` (``stop`` ``None``: to the end)."""

    start: int
    stop: int | None
    node: str
    crypto: str
    strict: bool
    #: The range is at most ``2**level`` entries, aligned on that size.
    level: int
    #: Checkpoint sizes whose prefix ends in this range: the worker returns its edge there.
    sizes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Result:
    intact: bool
    count: int = 0
    #: ``prev_hash`` of the range's first entry (checked by the parent) and the hash text the
    #: next range's first entry must carry.
    first_prev: object = None
    last: str = ""
    #: The range's Merkle edge after all its entries, and after ``size`` entries of the log
    #: for each checkpoint size asked.
    edge: tuple[tuple[int, bytes], ...] = ()
    edges: dict[int, tuple[tuple[int, bytes], ...]] = field(default_factory=dict)


_reader: _Reader | None = None


def _open_reader(kind: str, target: str) -> None:
    global _reader
    _reader = _SqliteReader(target) if kind == "sqlite" else _PostgresReader(target)


def _check_range(task: _Task) -> _Result:
    reader = _reader
    if reader is None:  # pragma: no cover - the pool's initializer opens it
        raise RuntimeError("no reader in this worker")
    reader.begin()
    try:
        return _check_range_in(reader, task)
    finally:
        reader.end()


class _Hashed:
    """``hashlib``'s ``digest``/``hexdigest`` over a profile's ``hash_fn`` (SM3)."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        self._value = value

    def digest(self) -> bytes:
        return self._value

    def hexdigest(self) -> str:
        return self._value.hex()


def _hasher(crypto: CryptoProfile) -> Callable[[bytes], _Hashed | hashlib._Hash]:
    """The profile's hash as a ``hashlib`` constructor: ``hashlib.sha256`` itself (two calls
    fewer per digest in the check's loop than ``crypto.hash_fn`` and ``digest_text``)."""
    if crypto is INTERNATIONAL:
        return hashlib.sha256
    hash_fn = crypto.hash_fn
    return lambda data: _Hashed(hash_fn(data))


def _check_range_in(reader: _Reader, task: _Task) -> _Result:
    # Imported here: the one-process checks are the reference, this calls them.
    from deltafed.audit._verify import _strict_model, decode_entry, index_ok, strict_problem

    crypto = CRYPTO_PROFILES[task.crypto]
    entry_model = _strict_model(task.strict)
    new_hash = _hasher(crypto)
    digest_prefix = f"{crypto.digest_name}:"
    node = task.node
    start = task.start
    # An empty edge at an aligned start: the subtrees made are the log's own, indexed as such.
    frontier = Frontier(size=start, crypto=crypto)
    made: dict[int, list[tuple[int, bytes]]] = {}
    edges: dict[int, tuple[tuple[int, bytes], ...]] = {}
    sizes = set(task.sizes)
    first_prev: object = None
    prev = ""
    expected = start
    for batch in reader.rows(start, task.stop):
        for seq, entry, request, response, at, counterpart, scenario, joined, stored_leaf in batch:
            leaf = new_hash(b"\x00" + entry).digest()
            d = decode_entry(entry)
            # The subject refs as the one-process scan reads them (split and sorted).
            if not joined:
                refs: tuple[str, ...] = ()
            elif " " in joined:
                refs = tuple(sorted(joined.split(" ")))
            else:
                refs = (joined,)
            # _entry_checks's tests, answered yes or no: the seq, node and both digests.
            if not (
                seq == expected
                and stored_leaf == leaf
                and type(d) is dict
                and (seq == start or d.get("prev_hash") == prev)
                and d.get("seq") == seq
                and d.get("node") == node
                and d.get("request_digest") == digest_prefix + new_hash(request).hexdigest()
                and d.get("response_digest") == digest_prefix + new_hash(response).hexdigest()
                and index_ok(d, at, counterpart, scenario, refs)
                and (entry_model is None or strict_problem(entry_model, d, entry) is None)
            ):
                return _Result(intact=False)
            if seq == start:
                first_prev = d.get("prev_hash")
            prev = digest_prefix + leaf.hex()
            expected += 1
            frontier.add(leaf, made)
            if frontier.size in sizes:
                edges[frontier.size] = tuple(frontier._stack)
    count = expected - start
    last = task.stop is None
    # The last range reads to the end: entries appended since the log's size was taken can make
    # it longer than one range, and its edge then no longer one the join can use.
    if count > 1 << task.level:
        return _Result(intact=False)
    # The stored subtrees inside the range are exactly the ones made (the last range: they
    # begin with them; subtrees past the end are not the log's yet). The first range also
    # takes any index below zero, as the one-process scan's in-order streams would.
    lo_leaf = None if start == 0 else start
    hi_leaf = None if last else task.stop
    if reader.leaf_count(lo_leaf, hi_leaf) != count:
        return _Result(intact=False)
    for level in range(1, task.level + 1):
        lo = None if start == 0 else start >> level
        hi = None if task.stop is None else task.stop >> level
        stored = reader.nodes(level, lo, hi)
        want = made.get(level, [])
        if (stored[: len(want)] if last else stored) != want:
            return _Result(intact=False)
    return _Result(
        intact=True,
        count=count,
        first_prev=first_prev,
        last=prev,
        edge=tuple(frontier._stack),
        edges=edges,
    )


def serve() -> None:
    """A worker process (``python -m deltafed.audit._worker``): read its source, then ranges,
    from stdin; write one result per range to stdout; stop at end of input."""
    feed, out = sys.stdin.buffer, sys.stdout.buffer
    kind, target = pickle.load(feed)  # noqa: S301 - our own parent process, over a pipe
    try:
        _open_reader(kind, target)
        ready = True
    except Exception:  # noqa: BLE001 - the parent checks in its own process instead
        ready = False
    while True:
        try:
            task = pickle.load(feed)  # noqa: S301
        except EOFError:
            return
        try:
            result = _check_range(task) if ready else _Result(intact=False)
        except Exception:  # noqa: BLE001 - as above
            result = _Result(intact=False)
        pickle.dump(result, out)
        out.flush()


def _run(source: tuple[str, str], tasks: list[_Task], workers: int) -> list[_Result] | None:
    """Hand ``tasks`` to ``workers`` processes; their results in task order, or ``None`` as
    soon as one range is not intact (or a worker fails)."""
    env = dict(os.environ)
    # The worker imports this deltafed, wherever it was imported from here.
    here = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    results: list[_Result | None] = [None] * len(tasks)
    lock = threading.Lock()
    todo = iter(range(len(tasks)))
    failed = threading.Event()

    def drive(proc: subprocess.Popen[bytes]) -> None:
        feed, back = proc.stdin, proc.stdout
        if feed is None or back is None:  # pragma: no cover - both are pipes
            failed.set()
            return
        try:
            pickle.dump(source, feed)
            while not failed.is_set():
                with lock:
                    i = next(todo, None)
                if i is None:
                    return
                pickle.dump(tasks[i], feed)
                feed.flush()
                result = pickle.load(back)  # noqa: S301 - our own worker, over a pipe
                if not isinstance(result, _Result) or not result.intact:
                    failed.set()
                    return
                results[i] = result
        except (OSError, EOFError, pickle.PickleError):
            failed.set()

    # This interpreter, running a module of this package.
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "deltafed.audit._worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        for _ in range(workers)
    ]
    threads = [threading.Thread(target=drive, args=(p,), daemon=True) for p in procs]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for p in procs:
            if p.stdin is not None:
                p.stdin.close()
            if p.stdout is not None:
                p.stdout.close()
            if p.wait(timeout=60) is None:  # pragma: no cover
                p.kill()
    if failed.is_set() or any(r is None for r in results):
        return None
    return [r for r in results if r is not None]


def _source(store: AuditStore) -> tuple[str, str] | None:
    if isinstance(store, SqliteAuditStore):
        return "sqlite", str(store.path)
    if isinstance(store, PostgresAuditStore):
        return "postgres", store._conninfo()
    return None


def scan_parallel(
    store: AuditStore,
    *,
    node: str,
    crypto: CryptoProfile,
    strict: bool,
    by_size: dict[int, list[Checkpoint]],
    workers: int,
    chunk_level: int | None = None,
) -> Any:
    """The ``_Scan`` of an intact log checked in ``workers`` processes, else ``None``.

    ``None`` also when the log is too small to split or the store cannot be opened from
    another process: the caller then checks it in its own process.
    """
    from deltafed.audit._verify import _Scan, genesis_hash

    source = _source(store)
    level = CHUNK_LEVEL if chunk_level is None else chunk_level
    chunk = 1 << level
    total = store.size()
    if source is None or total < 2 * chunk:
        return None
    count = (total + chunk - 1) // chunk
    sizes = sorted(s for s in by_size if s > 0)
    tasks = []
    for c in range(count):
        start = c * chunk
        stop = None if c == count - 1 else start + chunk
        mine = tuple(s for s in sizes if s > start and (stop is None or s <= stop))
        tasks.append(_Task(start, stop, node, crypto.name, strict, level, mine))
    results = _run(source, tasks, min(workers, count))
    if results is None:
        return None
    return _join(results, tasks, level, crypto, by_size, store, genesis_hash(crypto), _Scan)


def _join(
    results: list[_Result],
    tasks: list[_Task],
    level: int,
    crypto: CryptoProfile,
    by_size: dict[int, list[Checkpoint]],
    store: AuditStore,
    genesis: str,
    scan_type: Any,
) -> Any:
    from deltafed.audit._verify import _Collector

    chunk = 1 << level
    # Above the ranges: a tree whose leaves are the full ranges' subtrees.
    upper = Frontier(crypto=crypto)
    upper_made: dict[int, list[tuple[int, bytes]]] = {}
    edges_before: list[list[tuple[int, bytes]]] = []
    prev = genesis
    for result, task in zip(results, tasks, strict=True):
        if result.count and result.first_prev != prev:
            return None
        edges_before.append([(lv + level, h) for lv, h in upper._stack])
        if result.count == chunk and len(result.edge) == 1:
            # A full range is one subtree of the log, and may complete some above it.
            for lv, idx, value in upper.append(result.edge[0][1])[1:]:
                upper_made.setdefault(lv + level, []).append((idx, value))
        elif task.stop is not None:
            return None  # a range before the last one is short: positions are missing
        prev = result.last if result.count else prev
    for lv, want in upper_made.items():
        stored = []
        for item in store.iter_nodes(lv):
            stored.append(item)
            if len(stored) == len(want):
                break
        if stored != want:
            return None
    last = results[-1]
    size = sum(r.count for r in results)
    if last.count == chunk:
        final = Frontier(size, [(lv + level, h) for lv, h in upper._stack], crypto)
    else:
        final = Frontier(size, edges_before[-1] + list(last.edge), crypto)
    problems = _Collector(1)
    anchored = 0
    from deltafed.audit._verify import _compare_roots

    if 0 in by_size:
        anchored = _compare_roots(by_size[0], Frontier(crypto=crypto), anchored, problems)
    for s in sorted(by_size):
        if s == 0:
            continue
        if s > size:
            return None
        c = (s - 1) // chunk
        edge = results[c].edges.get(s)
        if edge is None:
            return None
        at = Frontier(s, edges_before[c] + list(edge), crypto)
        anchored = _compare_roots(by_size[s], at, anchored, problems)
    if problems.items:
        return None
    return scan_type(size=size, root=final.root(), anchored=anchored)
