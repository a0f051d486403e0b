"""``deltafed demo [--dir DIR] [--keep | --no-keep] [--serve] [--crypto gm]``: the federation.

Exit status: 0 when every case behaved as expected, 1 when one did not (or the demo could not
run), 130 after Ctrl-C (the servers are shut down first).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from typing import Any

from deltafed.demo import run_demo

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run a three-region federation on this machine and show it working",
        description=(
            "Create a federation in a fresh folder (TEST keys, signed registry, node "
            "configurations, SQLite audit logs), serve the Shanghai, Jiangsu and Zhejiang "
            "nodes on loopback ports, run cross-region cases and check each outcome. "
            "Synthetic data only."
        ),
    )
    parser.add_argument(
        "--dir",
        metavar="DIR",
        help="a new or empty folder to create the federation in "
        "(default: ./deltafed-demo-<date>-<time>/)",
    )
    parser.add_argument(
        "--keep",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="leave the folder for inspection (the default); --no-keep removes it after a "
        "successful run (a failed run always keeps it)",
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="keep the nodes running after the cases, until Ctrl-C "
        "(to run the conformance suite against them)",
    )
    parser.add_argument(
        "--crypto",
        choices=("international", "gm"),
        default="international",
        help="the federation's crypto profile: international (Ed25519, SHA-256; default) or "
        "gm (SM2 with SM3, SM3, HMAC-SM3; needs deltafed[gm])",
    )
    parser.set_defaults(func=_demo)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # A process manager's SIGTERM gets the same clean shutdown as Ctrl-C.
    raise KeyboardInterrupt


def _demo(args: argparse.Namespace) -> int:
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        report = run_demo(
            args.dir, out=sys.stdout, serve=args.serve, keep=args.keep, crypto=args.crypto
        )
    except KeyboardInterrupt:
        print("\ninterrupted: the nodes were shut down cleanly", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if not report.kept:
        print(f"removed {report.directory} (--no-keep)")
    return report.exit_code
