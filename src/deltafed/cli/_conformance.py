"""``deltafed conformance``: run the conformance suite against adapters or a live node.

Exit status: 0 every check passed (or was skipped, or failed as declared), 1 a check failed or
a declared gap passed, 2 a usage error (bad arguments, unreadable files).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from deltafed.adapters import load_adapter

__all__ = ["register"]

_LIVE_REQUIRED = ("registry", "anchor", "tester_key", "tester_id")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "conformance",
        help="run the conformance suite against an adapter or a live node",
        description=(
            "Check that a node speaks the deltafed protocol: in process against an adapter "
            "(--adapter NAME), or on the wire against a running node of any implementation "
            "(--url URL with --registry, --anchor, --tester-key and --tester-id)."
        ),
    )
    target = parser.add_argument_group("target (one of)")
    target.add_argument(
        "--adapter",
        action="append",
        metavar="NAME",
        help="an adapter by entry-point name (repeatable); the suite starts a node on it",
    )
    target.add_argument("--url", help="base URL of a running node")
    target.add_argument(
        "--crypto",
        choices=("international", "gm"),
        default="international",
        help="with --adapter: the crypto profile of the federation built around it (a live "
        "node's profile is its registry's)",
    )
    live = parser.add_argument_group("live node")
    live.add_argument("--registry", metavar="FILE", help="the federation's signed registry")
    live.add_argument("--anchor", metavar="FILE", help="the pinned trust anchor (JSON)")
    live.add_argument("--tester-key", metavar="FILE", help="the tester member's private key")
    live.add_argument("--tester-id", metavar="MEMBER", help="the tester's member id")
    live.add_argument("--profile", metavar="FILE", help="target profile (TOML or JSON)")
    live.add_argument("--node-id", metavar="MEMBER", help="the node's member id")
    out = parser.add_argument_group("reports and selection")
    out.add_argument("--json", metavar="FILE", help="write the JSON report")
    out.add_argument("--junit", metavar="FILE", help="write JUnit XML")
    out.add_argument("--html", metavar="FILE", help="write the HTML matrix")
    out.add_argument(
        "--expected-failures",
        metavar="FILE",
        help="declared gaps: one check id and a reason per line",
    )
    out.add_argument(
        "--only", action="append", metavar="PREFIX", help="run checks whose id starts so"
    )
    out.add_argument("--list", action="store_true", help="list the checks and exit")
    out.add_argument("-v", "--verbose", action="store_true", help="a line for every check")
    parser.set_defaults(func=_conformance)


def _usage(message: str) -> int:
    print(f"deltafed conformance: {message}", file=sys.stderr)
    return 2


def _conformance(args: argparse.Namespace) -> int:
    import deltafed_conformance as dc

    checks = dc.select_checks(args.only)
    if not checks:
        return _usage(f"no check id starts with {', '.join(args.only)}")
    if args.list:
        for check in checks:
            print(f"{check.id}  {check.title}\n    {check.requirement}")
        return 0
    targets: list[dc.Target]
    if args.adapter and args.url:
        return _usage("give --adapter or --url, not both")
    if args.adapter:
        for name in args.adapter:
            load_adapter(name)  # an unknown name is a usage error, before anything runs
        targets = [dc.AdapterTarget(name, crypto=args.crypto) for name in args.adapter]
    elif args.url:
        missing = [f"--{n.replace('_', '-')}" for n in _LIVE_REQUIRED if not getattr(args, n)]
        if missing:
            return _usage(f"--url needs {', '.join(missing)}")
        targets = [
            dc.LiveTarget(
                args.url,
                registry=args.registry,
                anchor=args.anchor,
                tester_key=args.tester_key,
                tester_id=args.tester_id,
                profile=args.profile,
                node_id=args.node_id,
            )
        ]
    else:
        return _usage("give --adapter NAME or --url URL (see --help)")
    expected = (
        dc.ExpectedFailures.load(args.expected_failures)
        if args.expected_failures
        else dc.ExpectedFailures({})
    )
    reporter = dc.TerminalReporter(sys.stdout, verbose=args.verbose)
    report = dc.run(targets, checks, expected=expected, progress=reporter)
    reporter.summary(report)
    dc.write_reports(report, json_path=args.json, junit_path=args.junit, html_path=args.html)
    return report.exit_status
