"""A node process killed with SIGKILL while answering under load: its audit log verifies, and
every answer a client received has its entry in the log (no answer without its evidence)."""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from deltafed import DeltafedError, system_clock
from deltafed.adapters._synthetic import IDENTITY_CARD
from deltafed.audit import SqliteAuditStore, verify_log
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

from .test_serve_cli import write_node_files

BODY = {
    "holder_code": synthetic_population().region("320000").residents[0].resident_id,
    "holder_type": "111",
    "type_code": IDENTITY_CARD.type_code,
    "use_cause": "crash test",
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    with httpx.Client(timeout=2) as http:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "the node exited during start-up"
            try:
                if http.get(f"{url}/deltafed/v1/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.02)  # start-up poll, not a timing assertion
    raise AssertionError("the node never became healthy")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("seed", [1, 2])
def test_sigkill_under_load_leaves_evidence_for_every_released_answer(
    tmp_path: Path, seed: int
) -> None:
    config = write_node_files(tmp_path)  # Jiangsu node, memory adapter, SQLite audit log
    fed = LocalFederation(clock=system_clock, key_seed=21)  # the same TEST keys
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    verifier = ProtocolVerifier(
        StaticKeyResolver({JIANGSU: [fed.keys[JIANGSU].public_key]}),
        SHANGHAI,
        clock=system_clock,
        replay=None,
    )
    kill_after = random.Random(seed).randint(30, 150)
    released: set[str] = set()
    lock = threading.Lock()
    enough = threading.Event()
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=5) as http:
            while not stop.is_set():
                claims = new_request(
                    issuer=SHANGHAI,
                    audience=JIANGSU,
                    operation="certificate.verify",
                    target=IDENTITY_CARD.type_code,
                    scenario=SCENARIO_VERIFY,
                    body=BODY,
                    now=system_clock(),
                )
                raw = sign_request(claims, fed.keys[SHANGHAI])
                try:
                    answer = http.post(
                        url + OPERATION_PATHS["certificate.verify"],
                        content=raw,
                        headers={"content-type": REQUEST_MEDIA_TYPE},
                    )
                except httpx.TransportError:
                    continue  # the node is gone, or going
                if answer.status_code != 200:
                    continue
                try:
                    verifier.verify_response(answer.content, request_raw=raw)
                except DeltafedError:
                    continue
                with lock:  # a signed, verified answer reached the client: released
                    released.add(claims.jti)
                    if len(released) >= kill_after:
                        enough.set()

    with subprocess.Popen(
        [sys.executable, "-m", "deltafed", "serve", "--config", str(config), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as proc:
        workers = [threading.Thread(target=load, daemon=True) for _ in range(4)]
        try:
            _wait_healthy(url, proc)
            for worker in workers:
                worker.start()
            assert enough.wait(timeout=120), f"only {len(released)} answers in time"
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            stop.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for worker in workers:
            worker.join(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    store = SqliteAuditStore(tmp_path / "audit.db")
    try:
        resolver = StaticKeyResolver({JIANGSU: [fed.keys[JIANGSU].public_key]})
        report = verify_log(store, node=JIANGSU, resolver=resolver)
        assert report.ok, report.problems
        logged = {record.entry for record in store.read()}
        logged_ids = {
            rid for rid in released if any(f'"request_id":"{rid}"'.encode() in e for e in logged)
        }
        assert logged_ids == released, f"{len(released - logged_ids)} answers without evidence"
        assert report.size >= len(released)
    finally:
        store.close()
