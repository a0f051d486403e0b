"""A writer killed with SIGKILL mid-append leaves a log that verifies and holds every entry it
released (printed) before it died."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from deltafed.audit import SqliteAuditStore, verify_log
from deltafed.keys import PrivateKey, StaticKeyResolver

NODE = "310000/gongan/hukou"

WRITER = textwrap.dedent(
    """
    import sys, threading
    from deltafed.keys import PrivateKey
    from deltafed.audit import AuditLog, SqliteAuditStore
    from deltafed.schemas.identifiers import compute_resident_check

    store = SqliteAuditStore(sys.argv[1])
    log = AuditLog(store, node="310000/gongan/hukou", signer=PrivateKey.from_seed(bytes([1]) * 32),
                   subject_key=b"k" * 32, checkpoint_every=17)
    out = threading.Lock()

    def work(worker):
        n = 0
        while True:
            body = "31010419900101%03d" % (n % 1000)
            rid = "w%d-%d" % (worker, n)
            entry = log.record(
                role="responder", counterpart="320000/renshe/shebao", operation="record.request",
                scenario="social-insurance-transfer",
                subjects=[body + compute_resident_check(body)],
                fields=["name"], outcome="ok", request_id=rid,
                request=("request " + rid).encode() * 20,
                response=("response " + rid).encode() * 50,
            )
            # Released: only now may the answer leave the node.
            with out:
                sys.stdout.write("%d %s\\n" % (entry.seq, rid))
                sys.stdout.flush()
            n += 1

    for w in range(4):
        threading.Thread(target=work, args=(w,), daemon=True).start()
    threading.Event().wait()
    """
)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_under_load_loses_nothing_released(tmp_path: Path, seed: int) -> None:
    db = tmp_path / "crash.db"
    kill_after = random.Random(seed).randint(40, 400)
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    released: dict[int, str] = {}
    try:
        for line in proc.stdout:
            seq, rid = line.split()
            released[int(seq)] = rid
            if len(released) >= kill_after:
                proc.send_signal(signal.SIGKILL)
                break
        # Whatever it managed to print before dying was released too.
        for line in proc.stdout:
            seq, rid = line.split()
            released[int(seq)] = rid
    finally:
        proc.kill()
        proc.wait()
        _, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err
    assert len(released) >= kill_after

    store = SqliteAuditStore(db)
    try:
        resolver = StaticKeyResolver({NODE: [PrivateKey.from_seed(bytes([1]) * 32).public_key]})
        report = verify_log(store, node=NODE, resolver=resolver)
        assert report.ok, report.problems
        assert report.checkpoints_checked >= 1
        assert report.size >= len(released)
        stored = {r.seq: r.entry for r in store.read()}
        for seq, rid in released.items():
            assert seq in stored
            assert f'"request_id":"{rid}"'.encode() in stored[seq]
    finally:
        store.close()
