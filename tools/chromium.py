"""Make sure headless Chromium is there for the browser tests (``make test`` runs this first).

The tests marked ``browser`` look at the HTML conformance report as Chromium renders it. They
use ``DELTAFED_TEST_CHROMIUM`` (default ``chromium`` on ``PATH``). Without it they are skipped
with the reason - unless the environment variable ``CI`` is ``true``: then this script
installs Debian's ``chromium`` package with apt-get (as root, or through ``sudo -n``), and
fails if it cannot, so a green CI run has looked at the page.

Standard library only: it runs before any virtual environment exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys


def _found() -> str | None:
    return shutil.which(os.environ.get("DELTAFED_TEST_CHROMIUM", "chromium"))


def _apt() -> list[str] | None:
    """How to run apt-get with the rights to install, or ``None``."""
    if shutil.which("apt-get") is None:
        return None
    if os.geteuid() == 0:
        return ["apt-get"]
    if shutil.which("sudo") is not None:
        return ["sudo", "-n", "apt-get"]
    return None


def main() -> int:
    found = _found()
    if found is not None:
        print(f"chromium: {found}")
        return 0
    if os.environ.get("CI") != "true":
        print(
            "chromium: not found; the browser tests will be skipped "
            "(apt-get install chromium, or set DELTAFED_TEST_CHROMIUM)"
        )
        return 0
    apt = _apt()
    if apt is None:
        print(
            "chromium: CI=true but Chromium is missing and apt-get cannot install it",
            file=sys.stderr,
        )
        return 1
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for args in (["update"], ["install", "-y", "chromium"]):
        done = subprocess.run([*apt, *args], env=env, check=False)
        if done.returncode != 0:
            print(f"chromium: {' '.join([*apt, *args])} exited {done.returncode}", file=sys.stderr)
            return 1
    found = _found()
    if found is None:
        print("chromium: installed, yet not on PATH", file=sys.stderr)
        return 1
    print(f"chromium: installed {found}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
