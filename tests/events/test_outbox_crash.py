"""A served node killed (SIGKILL) with events in its outbox delivers them after its restart,
each once, in order; the subscriber was down meanwhile."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from deltafed import system_clock
from deltafed.adapters._synthetic import IDENTITY_CARD
from deltafed.audit import AuditLog, SqliteAuditStore
from deltafed.events import SqliteEventStore
from deltafed.node._loopback import LoopbackServer
from deltafed.protocol import MemoryReplayStore
from deltafed.schemas.common import HolderType
from deltafed.schemas.events import ChangeEvent, Subscription
from deltafed.testing import (
    JIANGSU,
    SCENARIO_SUBSCRIBE,
    SHANGHAI,
    LocalFederation,
    synthetic_population,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

RESIDENT = synthetic_population().region("320000").residents[0]
DEADLINE = 60.0


def _until(condition: object, what: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll ``condition`` (a callable) until it holds, within a deadline."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the node exited while waiting for: {what}")
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)  # polling a real process, not a timing assertion
    raise AssertionError(f"timed out waiting for: {what}")


def _files(tmp_path: Path, fed: LocalFederation, port: int) -> Path:
    fed.keys[JIANGSU].save(tmp_path / "jiangsu.pem")
    (tmp_path / "registry.jws").write_bytes(fed.registry_bytes)
    (tmp_path / "anchor.json").write_text(json.dumps(fed.anchor.to_wire()))
    (tmp_path / "subject.key").write_text("22" * 32)
    config = tmp_path / "node.toml"
    config.write_text(
        f"""
[node]
member = "{JIANGSU}"
key_file = "jiangsu.pem"
host = "127.0.0.1"
port = {port}

[registry]
file = "registry.jws"
anchor = "anchor.json"

[audit]
db = "audit.db"
subject_key_file = "subject.key"

[replay]
db = "replay.db"

[state]
db = "state.db"
deliver_every = 0.05

[state.retry]
attempts = 50

[adapter]
name = "memory"
[adapter.config]
region = "320000"
"""
    )
    return config


def _seed_outbox(path: Path, now_iso: str) -> list[str]:
    """A subscription of Shanghai's and three events about one resident, in the outbox."""
    from datetime import datetime

    now = datetime.fromisoformat(now_iso)
    sub = Subscription(
        id="sub-crash-test-00000001",
        subscriber=SHANGHAI,
        scenario=SCENARIO_SUBSCRIBE,
        target=IDENTITY_CARD.type_code,
        subject_type=HolderType.RESIDENT,
        subject_code=RESIDENT.resident_id,
        kinds=("certificate.renewed", "certificate.changed", "certificate.revoked"),
        created_at=now,
        expires_at=now + timedelta(days=30),
    )
    events = [
        ChangeEvent(
            event_id=f"evt-crash-test-0000000{n}",
            subscription=sub.id,
            kind=kind,
            subject_type=HolderType.RESIDENT,
            subject_code=RESIDENT.resident_id,
            target=IDENTITY_CARD.type_code,
            occurred_at=now,
            seq=n,
        )
        for n, kind in enumerate(
            ("certificate.renewed", "certificate.changed", "certificate.revoked"), start=1
        )
    ]
    with SqliteEventStore(path) as store:
        store.add_subscription(sub)
        store.enqueue([(e, SHANGHAI, SCENARIO_SUBSCRIBE) for e in events], cursor=None)
    return [e.event_id for e in events]


def _outbox(path: Path) -> list[tuple[str, int]]:
    with SqliteEventStore(path) as store:
        return [(item.state, item.attempts) for item in store.outbox()]


@pytest.fixture
def shanghai_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    yield server
    server.stop()


def test_events_in_the_outbox_survive_sigkill_and_arrive_once(
    tmp_path: Path, shanghai_server: LoopbackServer
) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        js_port = sock.getsockname()[1]
    fed = LocalFederation(
        clock=system_clock,
        key_seed=21,
        members={SHANGHAI: shanghai_server.url, JIANGSU: f"http://127.0.0.1:{js_port}"},
    )
    config = _files(tmp_path, fed, js_port)
    state = tmp_path / "state.db"
    ids = _seed_outbox(state, system_clock().isoformat())

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "deltafed", "serve", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    # 1. Shanghai is down: the node tries, fails, and keeps the events.
    node = start()
    try:
        _until(lambda: _outbox(state)[0][1] >= 2, "two failed attempts", node)
    finally:
        node.send_signal(signal.SIGKILL)
        node.wait(timeout=30)
    assert [s for s, _ in _outbox(state)] == ["pending"] * 3

    # 2. Shanghai comes up; the node restarts and delivers everything, once, in order.
    sh_store = SqliteEventStore(tmp_path / "shanghai-state.db")
    sh_audit = AuditLog(
        SqliteAuditStore(tmp_path / "shanghai-audit.db"),
        node=SHANGHAI,
        signer=fed.keys[SHANGHAI],
        subject_key=b"s" * 32,
    )
    shanghai = fed.node(SHANGHAI, audit=sh_audit, replay=MemoryReplayStore(), events=sh_store)
    shanghai_server.start(shanghai)
    node = start()
    try:
        _until(lambda: [s for s, _ in _outbox(state)] == ["delivered"] * 3, "all delivered", node)
    finally:
        node.send_signal(signal.SIGTERM)
        node.wait(timeout=30)
    received = sh_store.unprocessed()
    assert [e.event_id for e, _ in received] == ids
    assert {sender for _, sender in received} == {JIANGSU}
    # Both audit logs hold every delivery; the resident's view shows them.
    mine = [
        r for r in sh_audit.subject_view(RESIDENT.resident_id) if r.operation == "event.deliver"
    ]
    assert len(mine) == 3
    js_store = SqliteAuditStore(tmp_path / "audit.db")
    try:
        theirs = [e for e in js_store.read() if b"event.deliver" in e.entry]
    finally:
        js_store.close()
    assert len(theirs) == 3
    with httpx.Client() as http:  # the node is gone; Shanghai still answers
        assert http.get(f"{shanghai_server.url}/deltafed/v1/health").status_code == 200
    sh_store.close()
    sh_audit.store.close()
