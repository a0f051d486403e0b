"""Node-to-node exchange over real loopback HTTP: federated path against an unsigned baseline.

Both sides use the same ASGI server (uvicorn, in a child process, one worker), the same
client library (httpx.AsyncClient, one connection pool, N requests in flight) and the same
answer (the JSON of a certificate verification result):

* **baseline** - a bare ASGI app that reads the JSON request and answers the stored JSON
  result: no signing, no policy, no audit, no adapter;
* **federated** - a Shanghai ``AsyncFederationClient`` asks a Jiangsu ``Node``: the request
  is signed, verified against the registry (with replay protection), policy-checked, answered
  through the in-memory adapter, signed, written to the audit log, and verified by the client
  with its binding to the request.

By default one run sweeps 1, 2, 4, 8 and 16 requests in flight (``--concurrency 1,2,4,8,16``)
for both sides. Within each round every level runs baseline then federated, back to back, so
that noise from other processes falls on both; each figure is the median of ``--rounds``
rounds. The run ends with two lines: ``peak ratio: X`` (best federated throughput over best
baseline throughput, whatever the level of each) and ``single ratio: Y`` (federated over
baseline at 1 in flight).

The audit log is SQLite with ``synchronous=FULL`` (``--audit durable``, the default and the
production setting: one fsync per answer), ``synchronous=OFF`` (``--audit os``), or in memory
(``--audit memory``), or ``PostgresAuditStore`` (``--audit postgres``: a database of its own
on the server at ``--pg``, dropped afterwards; the run says why it stops when no server
answers). Run: ``.venv/bin/python benchmarks/exchange.py [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from deltafed import system_clock
from deltafed.adapters._synthetic import IDENTITY_CARD
from deltafed.audit import AuditLog, MemoryAuditStore, SqliteAuditStore
from deltafed.client import AsyncFederationClient
from deltafed.protocol import MemoryReplayStore
from deltafed.testing import (
    JIANGSU,
    SCENARIO_VERIFY,
    SHANGHAI,
    LocalFederation,
    synthetic_population,
)

RESIDENT = synthetic_population().region("320000").residents[0].resident_id
REQUEST_BODY = {
    "holder_code": RESIDENT,
    "holder_type": "111",
    "type_code": IDENTITY_CARD.type_code,
    "use_cause": "benchmark",
}


def _serve(app: Any, sock: socket.socket) -> None:
    import uvicorn

    config = uvicorn.Config(app, log_level="error", lifespan="on", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


class BaselineApp:
    """Reads a JSON body, answers a fixed JSON body: the floor of the HTTP path."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = json.loads(body)
        if request.get("holder_code") != RESIDENT:  # the baseline does read what it got
            status, payload = 404, b'{"code":"not_found"}'
        else:
            status, payload = 200, self.answer
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(payload)),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def _node_process(
    sock: socket.socket, fed: LocalFederation, audit_mode: str, workdir: str, ready: Any
) -> None:
    key = fed.keys[JIANGSU]
    if audit_mode == "memory":
        store: Any = MemoryAuditStore()
    elif audit_mode.startswith("postgresql://"):
        from deltafed.audit import PostgresAuditStore

        store = PostgresAuditStore(audit_mode, pool_size=8)
    else:
        store = SqliteAuditStore(Path(workdir) / "audit.db", durable=audit_mode == "durable")
    audit = AuditLog(
        store,
        node=JIANGSU,
        signer=key,
        subject_key=hashlib.sha256(b"bench subject key").digest(),
        clock=system_clock,
    )
    node = fed.node(JIANGSU, audit=audit, replay=MemoryReplayStore())
    ready.set()
    _serve(node, sock)


def _baseline_process(sock: socket.socket, answer: bytes, ready: Any) -> None:
    ready.set()
    _serve(BaselineApp(answer), sock)


async def _load(
    call: Callable[[], Awaitable[None]], *, requests: int, concurrency: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            start = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - start)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - began, latencies


async def _baseline_round(url: str, requests: int, concurrency: int) -> tuple[float, list[float]]:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:

        async def call() -> None:
            response = await http.post(url, json=REQUEST_BODY)
            response.raise_for_status()
            if response.json()["valid"] is not True:
                raise RuntimeError("baseline answered a wrong result")

        await _load(call, requests=min(50, requests), concurrency=concurrency)  # warm up
        return await _load(call, requests=requests, concurrency=concurrency)


async def _federated_round(
    fed: LocalFederation, requests: int, concurrency: int
) -> tuple[float, list[float]]:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        client = AsyncFederationClient(
            SHANGHAI, fed.keys[SHANGHAI], fed.trusted_registry(), http=http
        )

        async def call() -> None:
            result = await client.verify_certificate(
                JIANGSU, scenario=SCENARIO_VERIFY, **REQUEST_BODY
            )
            if result.valid is not True:
                raise RuntimeError("node answered a wrong result")

        await _load(call, requests=min(50, requests), concurrency=concurrency)
        return await _load(call, requests=requests, concurrency=concurrency)


def _listen() -> tuple[socket.socket, str]:
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
    # and without it every answer (written in two parts) waits for a delayed ACK (40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _levels(text: str) -> list[int]:
    levels = [int(part) for part in text.split(",") if part.strip()]
    if not levels or any(level < 1 for level in levels):
        raise argparse.ArgumentTypeError("a comma-separated list of positive integers")
    return levels


def _answer() -> bytes:
    """The baseline answers what the node answers, as plain JSON."""
    meta = synthetic_population().region("320000").find(RESIDENT, IDENTITY_CARD.type_code)
    if meta is None:
        raise SystemExit("the synthetic population lost the benchmark's resident")
    return json.dumps(
        {
            "valid": True,
            "certificate_id": meta.certificate_id,
            "type_code": meta.type_code,
            "status": "01",
            "valid_from": meta.valid_from.isoformat(),
            "valid_until": meta.valid_until.isoformat() if meta.valid_until else None,
            "issuer_name": meta.issuer_name,
            "summary": {"name": meta.type_name},
        },
        ensure_ascii=False,
    ).encode()


def _create_database(admin_url: str) -> tuple[str, str]:
    """A fresh database for the audit log: its name and URL, or the run stops saying why."""
    try:
        import psycopg
    except ImportError as e:
        raise SystemExit(f"--audit postgres skipped: psycopg is not installed ({e})") from e
    name = f"deltafed_bench_{os.urandom(6).hex()}"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as e:
        reason = " ".join(str(e).split())[:160]
        raise SystemExit(f"--audit postgres skipped: no server at {admin_url}: {reason}") from e
    return name, f"{admin_url.rpartition('/')[0]}/{name}"


def _drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


Runs = dict[int, list[tuple[float, list[float]]]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=250, help="per level, side and round")
    parser.add_argument(
        "--concurrency", type=_levels, default=[1, 2, 4, 8, 16], help="e.g. 1,2,4,8,16"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--audit", choices=["durable", "os", "memory", "postgres"], default="durable"
    )
    parser.add_argument(
        "--pg",
        default=os.environ.get(
            "DELTAFED_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="the PostgreSQL server's admin URL for --audit postgres",
    )
    parser.add_argument("--quick", action="store_true", help="levels 1 and 4, few requests")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.rounds, args.concurrency = 40, 1, [1, 4]
    levels: list[int] = sorted(set(args.concurrency))
    audit_mode = args.audit
    pg_database = None
    if args.audit == "postgres":
        pg_database = _create_database(args.pg)
        audit_mode = pg_database[1]

    ctx = multiprocessing.get_context("fork")
    node_sock, node_url = _listen()
    base_sock, base_url = _listen()
    fed = LocalFederation(
        clock=system_clock, members={SHANGHAI: None, JIANGSU: node_url}, key_seed=99
    )
    answer = _answer()
    baseline: Runs = {level: [] for level in levels}
    federated: Runs = {level: [] for level in levels}
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        node_ready, base_ready = ctx.Event(), ctx.Event()
        processes = [
            ctx.Process(
                target=_node_process,
                args=(node_sock, fed, audit_mode, workdir, node_ready),
                daemon=True,
            ),
            ctx.Process(
                target=_baseline_process, args=(base_sock, answer, base_ready), daemon=True
            ),
        ]
        for process in processes:
            process.start()
        if not (node_ready.wait(60) and base_ready.wait(60)):
            raise SystemExit("the servers did not start")
        try:
            for _ in range(args.rounds):
                for level in levels:
                    baseline[level].append(
                        asyncio.run(_baseline_round(base_url + "/verify", args.requests, level))
                    )
                    federated[level].append(
                        asyncio.run(_federated_round(fed, args.requests, level))
                    )
        finally:
            for process in processes:
                process.terminate()
                process.join(10)
            if pg_database is not None:
                _drop_database(args.pg, pg_database[0])
    elapsed = time.perf_counter() - began

    def rate(runs: list[tuple[float, list[float]]]) -> float:
        return statistics.median(args.requests / seconds for seconds, _ in runs)

    def p50(runs: list[tuple[float, list[float]]]) -> float:
        return 1000 * _percentile([x for _, lat in runs for x in lat], 0.5)

    print(
        f"exchange benchmark: {args.requests} requests per level and side x {args.rounds} "
        f"rounds, audit {args.audit}, python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, {elapsed:.0f} s"
    )
    print("| in flight | baseline req/s | federated req/s | kept | p50 baseline / federated |")
    print("|---|---|---|---|---|")
    for level in levels:
        b, f = rate(baseline[level]), rate(federated[level])
        print(
            f"| {level} | {b:.0f} | {f:.0f} | {100 * f / b:.0f}% "
            f"| {p50(baseline[level]):.2f} / {p50(federated[level]):.2f} ms |"
        )
    best_base = max(levels, key=lambda level: rate(baseline[level]))
    best_fed = max(levels, key=lambda level: rate(federated[level]))
    peak = rate(federated[best_fed]) / rate(baseline[best_base])
    print(
        f"best baseline {rate(baseline[best_base]):.0f} req/s at {best_base} in flight, "
        f"best federated {rate(federated[best_fed]):.0f} req/s at {best_fed} in flight "
        "(goals: peak >= 0.6, single >= 0.5)"
    )
    print(f"peak ratio: {peak:.2f}")
    if 1 in baseline:
        print(f"single ratio: {rate(federated[1]) / rate(baseline[1]):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
