"""`deltafed demo --serve` shuts its nodes down cleanly on SIGTERM, as on Ctrl-C."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from deltafed.demo import CASES

READY = "Ctrl-C stops them"


def _read_until(proc: subprocess.Popen[str], marker: str, limit: float) -> str:
    """Lines of stdout up to the one holding ``marker``; a reader thread feeds a queue so a
    silent child fails the test after ``limit`` seconds instead of hanging it."""
    assert proc.stdout is not None
    stream = proc.stdout
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + limit
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"{marker!r} never printed; got:\n{''.join(seen)}")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_while_serving_stops_the_nodes_cleanly(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        [sys.executable, "-m", "deltafed", "demo", "--serve", "--dir", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        try:
            printed = _read_until(proc, READY, limit=60)
            assert f"{len(CASES)} of {len(CASES)} cases behaved as expected" in printed
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.stderr is not None
        err = proc.stderr.read()
    assert proc.returncode == 130
    assert "shut down cleanly" in err
    assert (folder / "registry.jws").is_file()
