"""Audit log benchmark: durable appends per second, and the time to verify a large log.

Run: ``.venv/bin/python benchmarks/audit.py [--quick] [--appends N] [--verify-size N] [--dir DIR]``

1. *Appends*: ``AuditLog.record`` into a SQLite file (WAL, ``synchronous=FULL``, one
   transaction per entry) against a baseline in the same run - the same rows inserted into the
   same schema, one durable transaction each, with no hashing, canonical JSON, HMAC or
   validation. Both pay the fsync; the ratio is what the evidence costs on top. Then the same
   from ``--threads`` concurrent callers on both sides (``AuditLog.record`` shares commits
   between waiting callers; each baseline thread has its own connection and commits its own
   rows, one durable transaction each), printed as ``concurrent ratio`` over the better of
   the two baselines, one thread or all (goal: at least 0.8).
   With a PostgreSQL server at ``--pg`` (default ``$DELTAFED_BENCH_PG`` or
   ``postgresql://postgres@127.0.0.1:5432/postgres``) the same appends, one thread and
   ``--threads`` at once, go to ``PostgresAuditStore`` in a database of their own, against raw
   inserts into the same schema (one transaction per row) in another; both databases are
   dropped afterwards. Without a server the run says why it skipped them.
2. *Verification*: a log of ``--verify-size`` entries (default one million) is built through
   the bulk path (entries written exactly as ``record`` writes them, many per transaction,
   ``synchronous=OFF`` - for setup only), one checkpoint is signed, then ``verify_log`` is
   timed with ``--workers`` processes (2 by default) and in one process, against a baseline
   that only reads the same rows. The run ends with the line ``verify N entries: S s``, the
   time with ``--workers`` (goal: under 10 s for one million).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import platform
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from deltafed import FixedClock
from deltafed._canonical import canonicalize
from deltafed.audit import AppendRecord, AuditLog, SqliteAuditStore, sign_checkpoint, verify_log
from deltafed.audit._merkle import Frontier, leaf_hash
from deltafed.audit._parallel import CHUNK_LEVEL
from deltafed.audit._verify import GENESIS_HASH, at_key
from deltafed.keys import PrivateKey, StaticKeyResolver
from deltafed.schemas.audit import AuditEntry
from deltafed.schemas.identifiers import compute_resident_check

NODE = "310000/gongan/hukou"
PEER = "320000/renshe/shebao"
SUBJECT_KEY = b"benchmark-subject-key-0123456789"
REQUEST = b"eyJhbGciOiJFZERTQSIsInR5cCI6ImRlbHRhZmVkLXJlcXVlc3Qrandz"  # + padding below
REQUEST = REQUEST + b"." + b"A" * 600 + b"." + b"S" * 86
RESPONSE = b"eyJhbGciOiJFZERTQSJ9." + b"B" * 1200 + b"." + b"S" * 86


def resident(n: int) -> str:
    body = f"31010419900101{n % 1000:03d}"
    return body + compute_resident_check(body)


def bench_appends(directory: Path, n: int) -> tuple[float, float]:
    key = PrivateKey.from_seed(b"\x07" * 32)
    clock = FixedClock(datetime(2026, 5, 1, tzinfo=UTC))
    store = SqliteAuditStore(directory / "appends.db")
    if store.pragma("synchronous") != 2:
        raise SystemExit("the audit store is not synchronous=FULL")
    log = AuditLog(store, node=NODE, signer=key, subject_key=SUBJECT_KEY, clock=clock)
    started = time.perf_counter()
    for i in range(n):
        log.record(
            role="responder",
            counterpart=PEER,
            operation="record.request",
            scenario="social-insurance-transfer",
            subjects=[resident(i)],
            fields=["name", "insured_months"],
            outcome="ok",
            request_id=f"req-{i:08d}",
            request=REQUEST,
            response=RESPONSE,
        )
        clock.advance(0.01)
    audited = n / (time.perf_counter() - started)
    store.close()

    # Baseline: the same schema and the same bytes, one durable transaction per row, no crypto.
    base = SqliteAuditStore(directory / "baseline.db")
    base.close()
    db = sqlite3.connect(directory / "baseline.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    entry = b"x" * 700
    fake_hash = b"\x00" * 32
    started = time.perf_counter()
    for i in range(n):
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?)",
            (i, f"2026-05-01T00:00:{i:09d}Z", PEER, "s", entry, REQUEST, RESPONSE),
        )
        db.execute("INSERT INTO subjects VALUES (?, ?)", (f"ref-{i % 1000}", i))
        db.execute("INSERT INTO nodes VALUES (0, ?, ?)", (i, fake_hash))
        db.execute("COMMIT")
    baseline = n / (time.perf_counter() - started)
    db.close()
    return audited, baseline


def _in_threads(threads: int, n: int, work: Callable[[int], None]) -> float:
    """Run ``work(i)`` for i in range(n) from ``threads`` threads; the rate per second."""
    counter = iter(range(n))
    lock = threading.Lock()
    failures: list[BaseException] = []

    def worker() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            try:
                work(i)
            except BaseException as e:  # noqa: BLE001 - reported below, the run fails
                failures.append(e)
                return

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"a concurrent append failed: {failures[0]!r}")
    return n / elapsed


def bench_concurrent_appends(directory: Path, n: int, threads: int) -> tuple[float, float]:
    """Durable appends from ``threads`` callers at once, against concurrent raw inserts."""
    key = PrivateKey.from_seed(b"\x09" * 32)
    clock = FixedClock(datetime(2026, 5, 1, tzinfo=UTC))
    store = SqliteAuditStore(directory / "concurrent.db")
    if store.pragma("synchronous") != 2:
        raise SystemExit("the audit store is not synchronous=FULL")
    log = AuditLog(store, node=NODE, signer=key, subject_key=SUBJECT_KEY, clock=clock)

    def record(i: int) -> None:
        log.record(
            role="responder",
            counterpart=PEER,
            operation="record.request",
            scenario="social-insurance-transfer",
            subjects=[resident(i)],
            fields=["name", "insured_months"],
            outcome="ok",
            request_id=f"req-{i:08d}",
            request=REQUEST,
            response=RESPONSE,
        )

    audited = _in_threads(threads, n, record)
    store.close()

    base = SqliteAuditStore(directory / "concurrent-baseline.db")
    base.close()
    local = threading.local()
    connections: list[sqlite3.Connection] = []
    connections_lock = threading.Lock()
    entry = b"x" * 700
    fake_hash = b"\x00" * 32

    def insert(i: int) -> None:
        db = getattr(local, "db", None)
        if db is None:
            db = sqlite3.connect(
                directory / "concurrent-baseline.db",
                isolation_level=None,
                timeout=60,
                check_same_thread=False,
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            local.db = db
            with connections_lock:
                connections.append(db)
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?)",
            (i, f"2026-05-01T00:00:{i:09d}Z", PEER, "s", entry, REQUEST, RESPONSE),
        )
        db.execute("INSERT INTO subjects VALUES (?, ?)", (f"ref-{i % 1000}", i))
        db.execute("INSERT INTO nodes VALUES (0, ?, ?)", (i, fake_hash))
        db.execute("COMMIT")

    baseline = _in_threads(threads, n, insert)
    for db in connections:
        db.close()
    return audited, baseline


def _record_into(log: AuditLog, offset: int) -> Callable[[int], None]:
    def record(i: int) -> None:
        log.record(
            role="responder",
            counterpart=PEER,
            operation="record.request",
            scenario="social-insurance-transfer",
            subjects=[resident(i)],
            fields=["name", "insured_months"],
            outcome="ok",
            request_id=f"req-{offset + i:08d}",
            request=REQUEST,
            response=RESPONSE,
        )

    return record


def bench_pg_appends(admin_url: str, n: int, threads: int) -> dict[str, float] | str:
    """PostgreSQL appends against raw inserts, or the reason they were skipped."""
    try:
        import psycopg

        from deltafed.audit import PostgresAuditStore
    except ImportError as e:
        return f"psycopg is not installed ({e}); pip install -e '.[postgres]'"
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as e:
        return f"no PostgreSQL server answers at {admin_url}: {' '.join(str(e).split())[:160]}"
    suffix = os.urandom(6).hex()
    names = [f"deltafed_bench_{suffix}_log", f"deltafed_bench_{suffix}_base"]
    base_url = admin_url.rpartition("/")[0]
    result: dict[str, float] = {}
    try:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
        key = PrivateKey.from_seed(b"\x0a" * 32)
        clock = FixedClock(datetime(2026, 5, 1, tzinfo=UTC))
        store = PostgresAuditStore(f"{base_url}/{names[0]}", pool_size=threads + 1)
        try:
            log = AuditLog(store, node=NODE, signer=key, subject_key=SUBJECT_KEY, clock=clock)
            result["record"] = _in_threads(1, n, _record_into(log, 0))
            result["record_concurrent"] = _in_threads(threads, n, _record_into(log, n))
        finally:
            store.close()
        PostgresAuditStore(f"{base_url}/{names[1]}").close()  # the same schema, migrated
        local = threading.local()
        opened: list[Any] = []
        opened_lock = threading.Lock()
        entry = b"x" * 700
        fake_hash = b"\x00" * 32

        def insert(i: int) -> None:
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = psycopg.connect(f"{base_url}/{names[1]}", autocommit=True)
                local.conn = conn
                with opened_lock:
                    opened.append(conn)
            with conn.transaction():
                conn.execute(
                    "INSERT INTO audit_entries VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (i, f"2026-05-01T00:00:{i:09d}Z", PEER, "s", entry, REQUEST, RESPONSE),
                )
                conn.execute("INSERT INTO audit_subjects VALUES (%s, %s)", (f"ref-{i}", i))
                conn.execute("INSERT INTO audit_nodes VALUES (0, %s, %s)", (i, fake_hash))

        result["baseline"] = _in_threads(1, n, insert)
        result["baseline_concurrent"] = _in_threads(threads, n, lambda i: insert(n + i))
        for conn in opened:
            conn.close()
    finally:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    return result


def build_log(path: Path, n: int, key: PrivateKey) -> None:
    """Write ``n`` entries exactly as ``AuditLog.record`` would, many per transaction."""
    store = SqliteAuditStore(path, durable=False)
    refs = [
        "hmac-sha256:"
        + hmac.new(
            SUBJECT_KEY, b"deltafed-audit-subject-v1\x00" + resident(i).encode(), "sha256"
        ).hexdigest()
        for i in range(1000)
    ]
    request_digest = "sha-256:" + hashlib.sha256(REQUEST).hexdigest()
    response_digest = "sha-256:" + hashlib.sha256(RESPONSE).hexdigest()
    start = datetime(2026, 5, 1, tzinfo=UTC)
    frontier = Frontier()
    prev = GENESIS_HASH
    batch: list[AppendRecord] = []
    for i in range(n):
        at = start + timedelta(milliseconds=10 * i)
        # pydantic's JSON form of an aware UTC datetime, as record() stores it
        at_text = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if at.microsecond else "%Y-%m-%dT%H:%M:%SZ")
        d = {
            "at": at_text,
            "counterpart": PEER,
            "fields": ["name", "insured_months"],
            "node": NODE,
            "operation": "record.request",
            "outcome": "ok",
            "prev_hash": prev,
            "request_digest": request_digest,
            "request_id": f"req-{i:08d}",
            "response_digest": response_digest,
            "role": "responder",
            "scenario": "social-insurance-transfer",
            "seq": i,
            "subject_refs": [refs[i % 1000]],
        }
        # Keys sorted, ASCII only, no floats: json.dumps gives the RFC 8785 bytes here.
        entry = json.dumps(d, sort_keys=True, separators=(",", ":")).encode()
        if i < 3 and canonicalize(AuditEntry.parse_json(entry).to_wire()) != entry:
            raise SystemExit("the bulk builder does not write entries as record() does")
        leaf = leaf_hash(entry)
        batch.append(
            AppendRecord(
                seq=i,
                entry=entry,
                request=REQUEST,
                response=RESPONSE,
                at=at_key(at),
                counterpart=PEER,
                scenario="social-insurance-transfer",
                subject_refs=(refs[i % 1000],),
                nodes=tuple(frontier.append(leaf)),
            )
        )
        prev = "sha-256:" + leaf.hex()
        if len(batch) == 20_000:
            store.append_many_unsafe(batch)
            batch = []
    if batch:
        store.append_many_unsafe(batch)
    store.add_checkpoint(
        n,
        sign_checkpoint(
            key, log=NODE, size=n, root=frontier.root(), issued_at=start + timedelta(days=1)
        ),
    )
    store.close()


def bench_verify(directory: Path, n: int, workers: int) -> dict[str, float]:
    key = PrivateKey.from_seed(b"\x08" * 32)
    path = directory / "verify.db"
    started = time.perf_counter()
    build_log(path, n, key)
    built = time.perf_counter() - started

    db = sqlite3.connect(path)
    started = time.perf_counter()
    total = 0
    for row in db.execute("SELECT seq, entry, request, response FROM entries ORDER BY seq"):
        total += len(row[1])
    raw_read = time.perf_counter() - started
    db.close()

    store = SqliteAuditStore(path)
    started = time.perf_counter()
    count = sum(1 for _ in store.read())
    store_read = time.perf_counter() - started
    if count != n:
        raise SystemExit(f"the benchmark log holds {count} entries, not {n}")

    resolver = StaticKeyResolver({NODE: [key.public_key]})
    timings: dict[str, float] = {}
    for label, count in (("verify_s", workers), ("verify_one_s", 1)):
        started = time.perf_counter()
        report = verify_log(
            store, node=NODE, resolver=resolver, require_anchored=True, workers=count
        )
        timings[label] = time.perf_counter() - started
        if not report.ok or report.size != n or report.anchored_size != n:
            raise SystemExit(f"the benchmark log did not verify: {report.problems[:3]}")
    store.close()
    return {
        "build_s": built,
        "raw_read_s": raw_read,
        "store_read_s": store_read,
        **timings,
        "file_mb": path.stat().st_size / 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8, help="concurrent appenders")
    parser.add_argument(
        "--pg",
        default=os.environ.get(
            "DELTAFED_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL server's admin URL ('none' to skip)",
    )
    parser.add_argument("--verify-size", type=int, default=1_000_000)
    parser.add_argument(
        "--workers", type=int, default=2, help="processes for verify_log (this VM has 2 cores)"
    )
    parser.add_argument("--dir", type=Path, default=None, help="where to put the databases")
    parser.add_argument("--quick", action="store_true", help="50 appends, a 2000-entry log")
    args = parser.parse_args(argv)
    if args.quick:
        args.appends, args.verify_size = 50, 2000
    print(f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, {sys.platform}")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        directory = Path(tmp)
        print(f"databases in {directory} (filesystem of {os.path.realpath(directory)})")
        audited, baseline = bench_appends(directory, args.appends)
        print(f"appends, durable (synchronous=FULL), {args.appends} entries:")
        print(f"  AuditLog.record     {audited:10.0f} /s")
        print(f"  baseline inserts    {baseline:10.0f} /s")
        print(f"  ratio               {audited / baseline:10.2f}")
        concurrent, concurrent_base = bench_concurrent_appends(
            directory, args.appends, args.threads
        )
        # Peak against peak: concurrent raw inserts contend for SQLite's write lock and may be
        # slower than one connection inserting alone, so the better baseline is the reference.
        best_base = max(baseline, concurrent_base)
        print(f"appends, durable, {args.appends} entries from {args.threads} threads at once:")
        print(f"  AuditLog.record     {concurrent:10.0f} /s")
        print(f"  baseline inserts    {concurrent_base:10.0f} /s")
        print(f"  concurrent ratio    {concurrent / best_base:10.2f}  (over the better baseline")
        print("                                  of one thread and of all; goal >= 0.8)")
        pg = (
            "--pg none"
            if args.pg == "none"
            else bench_pg_appends(args.pg, args.appends, args.threads)
        )
        if isinstance(pg, str):
            print(f"postgres appends: skipped ({pg})")
        else:
            print(f"postgres appends (PostgresAuditStore), {args.appends} entries:")
            print(f"  AuditLog.record     {pg['record']:10.0f} /s")
            print(f"  baseline inserts    {pg['baseline']:10.0f} /s")
            print(f"  postgres ratio      {pg['record'] / pg['baseline']:10.2f}")
            print(f"  {args.threads} threads: record {pg['record_concurrent']:.0f} /s, ", end="")
            print(f"baseline {pg['baseline_concurrent']:.0f} /s")
            best = max(pg["baseline"], pg["baseline_concurrent"])
            print(f"  postgres concurrent ratio {pg['record_concurrent'] / best:4.2f}")
        r = bench_verify(directory, args.verify_size, args.workers)
        print(f"verify a log of {args.verify_size} entries ({r['file_mb']:.0f} MB):")
        print(f"  bulk build (setup)  {r['build_s']:10.1f} s")
        print(f"  baseline raw read   {r['raw_read_s']:10.1f} s")
        print(f"  store.read() only   {r['store_read_s']:10.1f} s")
        split = args.verify_size >= 2 << CHUNK_LEVEL
        print(f"  verify_log, workers={args.workers}  {r['verify_s']:8.1f} s", end="")
        print("" if split else "  (under two ranges: checked in one process)")
        print(f"  verify_log, 1 process {r['verify_one_s']:8.1f} s")
        print(f"  one process / workers {r['verify_one_s'] / r['verify_s']:8.2f}")
        print(f"  ratio to raw read   {r['verify_s'] / r['raw_read_s']:10.1f}")
    print(f"verify {args.verify_size} entries: {r['verify_s']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
