"""Scale-out of one node over real loopback HTTP: SQLite, PostgreSQL, PostgreSQL with 2 workers.

Three runs of the same node configuration, each a real ``deltafed serve`` process tree:

* **sqlite 1 worker** - the embedded default: SQLite audit log (``synchronous=FULL``) and
  SQLite replay store;
* **postgres 1 worker** - ``[store] url``: audit log, replay store and registry state in a
  PostgreSQL database of its own (``synchronous_commit`` on, the server's default);
* **postgres 2 workers** - the same with ``--workers 2``: two processes sharing the database,
  as two replicas behind a load balancer would.

The client (this process, ``httpx.AsyncClient``, ``--concurrency`` requests in flight) signs
every request *before* the clock starts and verifies every answer (signature, binding to its
request, result) *after* it stops, so the measured window holds only the node's work and the
HTTP exchange; the client still shares the machine's CPUs with the workers. Each figure is the
median of ``--rounds`` rounds, the three setups alternating. The final line is the ratio of
the two PostgreSQL runs. Run: ``.venv/bin/python benchmarks/scale.py [--quick]``; the
PostgreSQL server is ``DELTAFED_BENCH_PG`` (default ``postgresql://postgres@127.0.0.1:5432/test``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg

from deltafed import system_clock
from deltafed.adapters._synthetic import IDENTITY_CARD
from deltafed.keys import StaticKeyResolver
from deltafed.protocol import (
    OPERATION_PATHS,
    REQUEST_MEDIA_TYPE,
    ProtocolVerifier,
    new_request,
    sign_request,
)
from deltafed.testing import (
    JIANGSU,
    SCENARIO_VERIFY,
    SHANGHAI,
    LocalFederation,
    synthetic_population,
)

ADMIN_URL = os.environ.get("DELTAFED_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
BODY = {
    "holder_code": synthetic_population().region("320000").residents[0].resident_id,
    "holder_type": "111",
    "type_code": IDENTITY_CARD.type_code,
    "use_cause": "benchmark",
}
PATH = OPERATION_PATHS["certificate.verify"]


def _write_node(root: Path, fed: LocalFederation, store: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    fed.keys[JIANGSU].save(root / "jiangsu.pem")
    (root / "registry.jws").write_bytes(fed.registry_bytes)
    (root / "anchor.json").write_text(json.dumps(fed.anchor.to_wire()))
    (root / "subject.key").write_text("11" * 32)
    config = root / "node.toml"
    config.write_text(
        f"""
[node]
member = "{JIANGSU}"
key_file = "jiangsu.pem"
host = "127.0.0.1"

[registry]
file = "registry.jws"
anchor = "anchor.json"

[audit]
db = "audit.db"
subject_key_file = "subject.key"

[replay]
db = "replay.db"

[adapter]
name = "memory"
[adapter.config]
region = "320000"
{store}
"""
    )
    return config


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _serving(config: Path, workers: int) -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "deltafed", "serve", "--config", str(config)]
    argv += ["--port", str(port), "--workers", str(workers)]
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        try:
            deadline = time.monotonic() + 120
            with httpx.Client(timeout=2) as http:
                while True:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the node ({config}) did not start")
                    try:
                        if http.get(url + "/deltafed/v1/health").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(0.05)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _signed(fed: LocalFederation, n: int) -> list[bytes]:
    out = []
    for _ in range(n):
        claims = new_request(
            issuer=SHANGHAI,
            audience=JIANGSU,
            operation="certificate.verify",
            target=IDENTITY_CARD.type_code,
            scenario=SCENARIO_VERIFY,
            body=BODY,
            now=system_clock(),
            lifetime=300,
        )
        out.append(sign_request(claims, fed.keys[SHANGHAI]))
    return out


async def _round(url: str, requests: list[bytes], concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    answers: list[tuple[bytes, bytes]] = []
    queue = list(reversed(requests))
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:

        async def worker() -> None:
            while queue:
                raw = queue.pop()
                began = time.perf_counter()
                answer = await http.post(
                    url + PATH, content=raw, headers={"content-type": REQUEST_MEDIA_TYPE}
                )
                latencies.append(time.perf_counter() - began)
                answers.append((raw, answer.content))

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return elapsed, latencies if _all_valid(answers) else []


_VERIFIER: ProtocolVerifier | None = None


def _all_valid(answers: list[tuple[bytes, bytes]]) -> bool:
    if _VERIFIER is None:
        raise RuntimeError("no verifier")
    for raw, content in answers:
        verified = _VERIFIER.verify_response(content, request_raw=raw)
        if not verified.ok or verified.body.get("valid") is not True:
            raise RuntimeError(f"the node answered {verified.body}")
    return True


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextmanager
def _database() -> Iterator[str]:
    name = f"deltafed_bench_{secrets.token_hex(5)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rpartition("/")[0] + "/" + name
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    global _VERIFIER
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="few requests, one round")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.rounds = 150, 1
    fed = LocalFederation(clock=system_clock, key_seed=33)
    _VERIFIER = ProtocolVerifier(
        StaticKeyResolver({JIANGSU: [fed.keys[JIANGSU].public_key]}),
        SHANGHAI,
        clock=system_clock,
        replay=None,
    )
    setups = [("sqlite", 1), ("postgres", 1), ("postgres", 2)]
    results: dict[tuple[str, int], list[tuple[float, list[float]]]] = {s: [] for s in setups}
    with tempfile.TemporaryDirectory() as tmp, _database() as pg_url:
        configs = {
            "sqlite": _write_node(Path(tmp) / "sqlite", fed, ""),
            "postgres": _write_node(
                Path(tmp) / "postgres", fed, f'[store]\nurl = "{pg_url}"\npool_size = 8\n'
            ),
        }
        for _ in range(args.rounds):
            for store, workers in setups:
                with _serving(configs[store], workers) as url:
                    asyncio.run(_round(url, _signed(fed, 50), args.concurrency))  # warm up
                    requests = _signed(fed, args.requests)
                    results[(store, workers)].append(
                        asyncio.run(_round(url, requests, args.concurrency))
                    )
    print(
        f"node scale-out over loopback HTTP: {args.requests} certificate verifications per "
        f"round, {args.concurrency} in flight, median of {args.rounds} round(s), "
        f"{os.cpu_count()} CPUs shared by client and workers"
    )
    print()
    print("| store | workers | req/s | p50 ms | p99 ms |")
    print("| --- | --- | --- | --- | --- |")
    rate: dict[tuple[str, int], float] = {}
    for setup in setups:
        rounds = results[setup]
        rate[setup] = statistics.median(args.requests / elapsed for elapsed, _ in rounds)
        lat = [x for _, latencies in rounds for x in latencies]
        print(
            f"| {setup[0]} | {setup[1]} | {rate[setup]:.0f} | "
            f"{_percentile(lat, 0.5) * 1000:.2f} | {_percentile(lat, 0.99) * 1000:.2f} |"
        )
    print()
    print(f"postgres / sqlite (1 worker each): {rate[('postgres', 1)] / rate[('sqlite', 1)]:.2f}")
    print(f"scale ratio 2 workers / 1 worker: {rate[('postgres', 2)] / rate[('postgres', 1)]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
