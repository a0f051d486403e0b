"""One logical node of many processes on PostgreSQL: the same request answered once, faults.

Real processes (``deltafed serve``), real loopback HTTP, a real PostgreSQL server. Every test
checks the same promises afterwards: every answer a client received has its audit entry (the
response bytes it received are the ones the entry's digest names), the log verifies, no request
was answered with two different answers, and the only problems clients saw were signed,
transient, and resolved by retrying the identical bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from deltafed import system_clock
from deltafed.adapters._synthetic import IDENTITY_CARD
from deltafed.audit import PostgresAuditStore, verify_log
from deltafed.keys import StaticKeyResolver
from deltafed.node import TRANSIENT_CODES
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

from .test_serve_cli import write_node_files

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and /proc"),
]

BODY = {
    "holder_code": synthetic_population().region("320000").residents[0].resident_id,
    "holder_type": "111",
    "type_code": IDENTITY_CARD.type_code,
    "use_cause": "scale-out test",
}
#: What a client retries: the node's transient problems, and "already being answered".
RETRY_CODES = TRANSIENT_CODES | {"replay"}
DEADLINE = 90.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _poll(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    """Wait for ``condition`` with a deadline (a poll, not a timing assumption)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _workers(pid: int) -> set[int]:
    """The worker processes uvicorn's supervisor ``pid`` runs."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return set()
    found = set()
    for child in children:
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            found.add(int(child))
    return found


@contextmanager
def serve(config: Path, *, workers: int = 1) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "deltafed", "serve", "--config", str(config)]
    argv += ["--port", str(port), "--workers", str(workers)]
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        try:

            def healthy() -> bool:
                assert proc.poll() is None, "the node exited during start-up"
                try:
                    with httpx.Client(timeout=2) as http:
                        return http.get(f"{url}/deltafed/v1/health").status_code == 200
                except httpx.TransportError:
                    return False

            _poll(healthy, "the node to answer")
            if workers > 1:
                _poll(lambda: len(_workers(proc.pid)) == workers, f"{workers} workers")
            yield url, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Clients:
    """Signs requests as Shanghai and drives them to a final answer, keeping what it saw."""

    fed: LocalFederation
    verifier: ProtocolVerifier
    answers: dict[str, bytes] = field(default_factory=dict)
    seen: Counter[str] = field(default_factory=Counter)
    retried: set[str] = field(default_factory=set)
    cut: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self) -> tuple[str, bytes]:
        claims = new_request(
            issuer=SHANGHAI,
            audience=JIANGSU,
            operation="certificate.verify",
            target=IDENTITY_CARD.type_code,
            scenario=SCENARIO_VERIFY,
            body=BODY,
            now=system_clock(),
        )
        return claims.jti, sign_request(claims, self.fed.keys[SHANGHAI])

    def post(self, http: httpx.Client, url: str, raw: bytes) -> tuple[bool, bytes | str]:
        """One attempt: ``(True, answer)``, or ``(False, what went wrong)`` to retry."""
        try:
            answer = http.post(
                url + OPERATION_PATHS["certificate.verify"],
                content=raw,
                headers={"content-type": REQUEST_MEDIA_TYPE},
            )
        except httpx.TransportError:
            return False, "transport"
        # Raises (failing the test) unless the node signed it and bound it to these bytes.
        verified = self.verifier.verify_response(answer.content, request_raw=raw)
        if verified.ok:
            return True, answer.content
        code = str(verified.body["code"])
        assert code in RETRY_CODES, f"a non-transient problem: {verified.body}"
        return False, code

    def drive(self, http: httpx.Client, urls: list[str], jti: str, raw: bytes) -> bytes:
        """Send ``raw`` (the same bytes every time, to the next URL) until it is answered."""
        deadline = time.monotonic() + DEADLINE
        attempt = 0
        while time.monotonic() < deadline:
            done, got = self.post(http, urls[attempt % len(urls)], raw)
            attempt += 1
            if done:
                assert isinstance(got, bytes)
                with self.lock:
                    previous = self.answers.setdefault(jti, got)
                assert previous == got, f"request {jti} answered twice, differently"
                return got
            with self.lock:
                self.seen[str(got)] += 1
                self.retried.add(jti)
                if got == "transport":
                    self.cut.add(jti)
            time.sleep(0.01)  # retry pacing, not a timing assumption
        raise AssertionError(f"request {jti} was not answered in {DEADLINE} s")


def _clients() -> Clients:
    fed = LocalFederation(clock=system_clock, key_seed=21)  # the keys write_node_files uses
    resolver = StaticKeyResolver({JIANGSU: [fed.keys[JIANGSU].public_key]})
    return Clients(fed, ProtocolVerifier(resolver, SHANGHAI, clock=system_clock, replay=None))


def _check_evidence(pg_url: str, clients: Clients, *, faults: bool) -> None:
    """Every received answer has its entry; the log verifies; nothing answered twice."""
    store = PostgresAuditStore(pg_url)
    try:
        resolver = StaticKeyResolver({JIANGSU: [clients.fed.keys[JIANGSU].public_key]})
        report = verify_log(store, node=JIANGSU, resolver=resolver)
        assert report.ok, report.problems
        by_id: dict[str, list[str]] = {}
        for record in store.read():
            entry = json.loads(record.entry)
            by_id.setdefault(entry["request_id"], []).append(entry["response_digest"])
    finally:
        store.close()
    for jti, answer in clients.answers.items():
        digest = "sha-256:" + hashlib.sha256(answer).hexdigest()
        assert digest in by_id.get(jti, []), f"the answer to {jti} has no audit entry"
    twice = {jti for jti, digests in by_id.items() if len(digests) > 1}
    # Only a request whose worker was killed after its entry was committed but before its
    # answer was stored can have been processed again (after the claim lease); its client saw
    # the connection cut, and received exactly one of the answers (checked above).
    assert twice <= (clients.cut if faults else set()), twice
    assert all(len(digests) <= 2 for digests in by_id.values())


def _node(tmp_path: Path, pg_url: str) -> Path:
    store = f'\n[store]\nurl = "{pg_url}"\npool_size = 4\nclaim_lease = 2\n'
    return write_node_files(tmp_path, extra=store)


def test_two_hosts_answer_the_same_request_once(tmp_path: Path, pg_url: str) -> None:
    """Two processes with one configuration (two hosts) get identical bytes at the same time."""
    config = _node(tmp_path, pg_url)
    clients = _clients()
    outcomes: list[tuple[bool, bytes | str]] = []
    with serve(config) as (first, _), serve(config) as (second, _), httpx.Client() as http:
        for _ in range(6):
            jti, raw = clients.request()
            barrier = threading.Barrier(2)
            both: list[tuple[bool, bytes | str]] = []

            def send(
                url: str,
                raw: bytes = raw,
                barrier: threading.Barrier = barrier,
                both: list[tuple[bool, bytes | str]] = both,
            ) -> None:
                with httpx.Client(timeout=30) as own:
                    barrier.wait(timeout=30)
                    both.append(clients.post(own, url, raw))

            threads = [threading.Thread(target=send, args=(u,)) for u in (first, second)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            outcomes.extend(both)
            answered = {bytes(got) for done, got in both if done and isinstance(got, bytes)}
            assert len(answered) <= 1, "two different answers to one request"
            # Whatever the first copies got, a retry on either host gets the one answer.
            final = {clients.drive(http, [url], jti, raw) for url in (first, second)}
            assert len(final) == 1
            assert answered <= final
    # Each refused copy was "already being answered" (replay), never a second processing.
    refused = Counter(str(got) for done, got in outcomes if not done)
    assert set(refused) <= {"replay"}, refused
    _check_evidence(pg_url, clients, faults=False)
    assert len(clients.answers) == 6


def _load(
    clients: Clients, url: str, stop: threading.Event, count: Callable[[], None]
) -> Callable[[], None]:
    def run() -> None:
        with httpx.Client(timeout=30) as http:
            while not stop.is_set():
                jti, raw = clients.request()
                clients.drive(http, [url], jti, raw)
                count()

    return run


@contextmanager
def under_load(clients: Clients, url: str, threads: int = 4) -> Iterator[Callable[[int], None]]:
    """Clients keep sending new requests; ``wait_for(n)`` returns after n more answers."""
    answered = threading.Semaphore(0)
    stop = threading.Event()
    failures: list[BaseException] = []

    def guarded(run: Callable[[], None]) -> Callable[[], None]:
        def wrapper() -> None:
            try:
                run()
            except BaseException as exc:  # noqa: BLE001 - surfaced in the test thread below
                failures.append(exc)
                stop.set()

        return wrapper

    workers = [
        threading.Thread(target=guarded(_load(clients, url, stop, answered.release)))
        for _ in range(threads)
    ]
    for worker in workers:
        worker.start()

    def wait_for(n: int) -> None:
        for _ in range(n):
            assert not failures, failures
            assert answered.acquire(timeout=DEADLINE), "the load stopped making progress"

    try:
        yield wait_for
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=DEADLINE)
    if failures:
        raise failures[0]


def test_sigkill_of_a_worker_under_load(tmp_path: Path, pg_url: str) -> None:
    clients = _clients()
    with (
        serve(_node(tmp_path, pg_url), workers=2) as (url, proc),
        under_load(clients, url) as wait_for,
    ):
        wait_for(10)
        before = _workers(proc.pid)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        # The supervisor starts a replacement; the other worker answers meanwhile.
        _poll(
            lambda: len(_workers(proc.pid)) == 2 and victim not in _workers(proc.pid),
            "a replacement worker",
        )
        wait_for(15)
    assert proc.returncode is not None
    _check_evidence(pg_url, clients, faults=True)
    assert len(clients.answers) >= 25
    assert set(clients.seen) <= RETRY_CODES | {"transport"}, clients.seen


def test_database_connections_terminated_under_load(tmp_path: Path, pg_url: str) -> None:
    clients = _clients()
    name = pg_url.rsplit("/", 1)[1]
    with (
        serve(_node(tmp_path, pg_url), workers=2) as (url, _),
        under_load(clients, url) as wait_for,
        psycopg.connect(pg_url, autocommit=True) as admin,
    ):
        wait_for(10)

        def connections() -> int:
            (count,) = admin.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            ).fetchone() or (0,)
            return int(count)

        for _ in range(2):  # twice: the replacements are terminated too
            # A pool replaces a dropped connection when it next takes one, so a worker that
            # the kernel gave no request since the last round has none yet: wait for it.
            _poll(lambda: connections() >= 2, "a connection of each worker")
            (killed,) = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            ).fetchone() or (0,)
            assert killed >= 2  # at least one connection of each worker
            wait_for(10)
        # The pools reconnected: the node has connections again and keeps answering.
        _poll(lambda: connections() >= 2, "the pools to reconnect")
    _check_evidence(pg_url, clients, faults=False)
    assert len(clients.answers) >= 30
    # No connection was cut at the HTTP level: what clients saw were signed problems.
    assert set(clients.seen) <= RETRY_CODES, clients.seen
