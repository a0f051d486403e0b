"""``run_demo``: build the federation on disk, serve three nodes, run the cases, report."""

from __future__ import annotations

import asyncio
import shlex
import shutil
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from pathlib import Path
from typing import Final, TextIO

from deltafed._clock import Clock, system_clock
from deltafed._errors import ConfigurationError, DeltafedError
from deltafed._profile import crypto_profile
from deltafed.audit import AccessRecord, AuditLog, SqliteAuditStore
from deltafed.demo._cases import CASES, RESIDENT, Case, UnexpectedOutcomeError, World, region_name
from deltafed.demo._files import NODES, TESTER, DemoFiles, write_federation
from deltafed.demo._table import render_row, render_table
from deltafed.keys import PrivateKey
from deltafed.node import Node, NodeConfig, build_node, load_config
from deltafed.node._loopback import LoopbackServer, load_uvicorn
from deltafed.registry import TrustedRegistry, load_anchor_file

__all__ = ["CaseResult", "DemoReport", "NodeFactory", "run_demo"]

#: Builds a node from its configuration; :func:`~deltafed.node.build_node` by default. Tests
#: pass their own to break a node on purpose.
NodeFactory = Callable[[NodeConfig], Node]

_CST: Final = timezone(timedelta(hours=8))
_VALIDITY: Final = timedelta(days=7)
#: Fixed, since rows print as the cases end; a longer cell wraps within its column.
_WIDTHS: Final = (2, 43, 20, 26, 42, 6, 4)
_HEADERS: Final = ("#", "case", "from -> to", "expected", "got", "ms", "")
_RIGHT: Final = (0, 5)


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One row of the table."""

    number: int
    title: str
    route: str
    expected: str
    got: str
    milliseconds: float
    passed: bool


@dataclass
class DemoReport:
    """What a demo run did; ``exit_code`` is 0 only if every case behaved as expected."""

    directory: Path
    files: DemoFiles | None = None
    cases: list[CaseResult] = field(default_factory=list)
    audit: list[str] = field(default_factory=list)
    conformance_commands: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    kept: bool = True

    @property
    def failures(self) -> list[CaseResult]:
        return [c for c in self.cases if not c.passed]

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.cases) and not self.failures

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def _fresh_directory(directory: str | Path | None, clock: Clock) -> tuple[Path, bool]:
    """The folder to fill, created; and whether this run created it."""
    if directory is None:
        stamp = clock().astimezone(_CST).strftime("%Y%m%d-%H%M%S")
        base = Path.cwd() / f"deltafed-demo-{stamp}"
        candidate, n = base, 1
        while candidate.exists():
            n += 1
            candidate = base.with_name(f"{base.name}-{n}")
        candidate.mkdir(mode=0o700)
        return candidate.resolve(), True
    target = Path(directory).expanduser()
    if target.exists():
        if not target.is_dir():
            raise ConfigurationError(f"{target} exists and is not a folder")
        if any(target.iterdir()):
            raise ConfigurationError(
                f"{target} is not empty",
                remediation="Give --dir a new or empty folder (the demo never overwrites files).",
            )
        return target.resolve(), False
    target.mkdir(mode=0o700, parents=True)
    return target.resolve(), True


def _run_case(number: int, case: Case, world: World) -> CaseResult:
    start = time.perf_counter()
    try:
        got = case.run(world)
        passed = True
    except UnexpectedOutcomeError as failed:
        got, passed = failed.got, False
    except DeltafedError as exc:
        got, passed = f"error {exc.code}: {exc.message}", False
    except Exception as exc:  # noqa: BLE001 - a crash is a failed case, reported in the table
        got, passed = f"{type(exc).__name__}: {exc}", False
    elapsed = (time.perf_counter() - start) * 1000
    return CaseResult(number, case.title, case.route, case.expected, got, elapsed, passed)


def _print_header(out: TextIO, files: DemoFiles, servers: Mapping[str, LoopbackServer]) -> None:
    root = files.root

    def rel(path: Path) -> str:
        return path.relative_to(root).as_posix()

    print("deltafed demo: a Yangtze River Delta federation on this machine", file=out)
    print("(synthetic residents and companies, TEST keys: nothing here is real)\n", file=out)
    print(f"folder    {root}", file=out)
    print(
        f"anchor    {rel(files.anchor)}  (its private key {rel(files.anchor_key)}: TEST ONLY)",
        file=out,
    )
    print(
        f"registry  {rel(files.registry)}  version {files.registry_version}, "
        f"{len(NODES)} nodes + tester {TESTER}, expires "
        f"{files.expires_at.astimezone(_CST):%Y-%m-%d %H:%M} CST",
        file=out,
    )
    profile = crypto_profile(files.crypto)
    print(
        f"crypto    {profile.name}: signatures {', '.join(profile.algorithms)}, digests "
        f"{profile.digest_name}, subject index {profile.hmac_name}",
        file=out,
    )
    for member, node in files.nodes.items():
        print(
            f"node      {member}  {region_name(member):<8}  {servers[member].url}  "
            f"adapter {node.adapter} (sandbox)  audit {rel(node.audit_db)}  "
            f"config {rel(node.config)}",
            file=out,
        )
    print(file=out)


def _print_view(out: TextIO, world: World) -> None:
    print(
        f"\nWho used the data of {RESIDENT.name} ({RESIDENT.resident_id}), as the audit logs "
        "show it to the resident:",
        file=out,
    )
    by_request: dict[str, list[AccessRecord]] = {}
    for record in world.view:
        by_request.setdefault(record.request_id, []).append(record)
    rows = []
    for records in sorted(by_request.values(), key=lambda rs: min(r.at for r in rs)):
        first = min(records, key=lambda r: r.at)
        sides = sorted({r.recorded_by for r in records}, reverse=True)
        rows.append(
            (
                first.at.astimezone(_CST).strftime("%H:%M:%S"),
                f"{region_name(str(first.requester))} {first.requester}",
                f"{region_name(str(first.responder))} {first.responder}",
                first.scenario,
                ", ".join(first.fields) or first.detail or "-",
                first.outcome,
                " + ".join(sides),
            )
        )
    headers = (
        "when (CST)",
        "who asked",
        "who answered",
        "why (scenario)",
        "fields (or what)",
        "outcome",
        "logged by",
    )
    for line in render_table(headers, rows, max_widths=(0, 0, 0, 0, 40, 0, 0)):
        print("  " + line, file=out)


def _conformance_commands(files: DemoFiles) -> list[str]:
    return [
        shlex.join(
            [
                "deltafed",
                "conformance",
                "--url",
                node.endpoint,
                "--registry",
                str(files.registry),
                "--anchor",
                str(files.anchor),
                "--tester-key",
                str(files.tester_key),
                "--tester-id",
                TESTER,
                "--profile",
                str(node.profile),
            ]
        )
        for node in files.nodes.values()
    ]


def _wait_forever() -> None:
    threading.Event().wait()


def run_demo(
    directory: str | Path | None = None,
    *,
    out: TextIO | None = None,
    serve: bool = False,
    keep: bool = True,
    node_factory: NodeFactory = build_node,
    clock: Clock = system_clock,
    cases: Sequence[Case] = CASES,
    serve_until: Callable[[DemoReport], None] | None = None,
    crypto: str = "international",
) -> DemoReport:
    """Create a federation in ``directory``, serve its three nodes, run the cases, report.

    ``directory``: a new or empty folder (default: a fresh ``./deltafed-demo-<time>/``); it is
    left for inspection unless ``keep`` is false and every case passed. ``serve``: after the
    cases, keep the nodes running until ``serve_until`` returns (default: until Ctrl-C).
    ``node_factory`` builds each node from its configuration file. ``crypto`` is the
    federation's crypto profile (``gm``: SM2 and SM3 throughout; needs ``deltafed[gm]``).
    Ctrl-C at any point stops the servers cleanly and propagates as :class:`KeyboardInterrupt`.
    """
    crypto = crypto_profile(crypto).name
    if crypto == "gm":
        PrivateKey.generate("SM2SM3")  # fail before writing anything if the gm extra is missing
    stream = out if out is not None else sys.stdout
    started = time.perf_counter()
    load_uvicorn()  # fail before writing anything if the serve extra is missing
    root, created = _fresh_directory(directory, clock)
    report = DemoReport(directory=root)
    servers: dict[str, LoopbackServer] = {}
    nodes: dict[str, Node] = {}
    logs: dict[str, AuditLog] = {}
    completed = False
    try:
        servers = {member: LoopbackServer() for member in NODES}
        files = write_federation(
            root,
            {m: s.port for m, s in servers.items()},
            now=clock(),
            validity=_VALIDITY,
            crypto=crypto,
        )
        report.files = files
        report.conformance_commands = _conformance_commands(files)
        _print_header(stream, files, servers)

        for member, node_files in files.nodes.items():
            nodes[member] = node_factory(load_config(node_files.config))
            servers[member].start(nodes[member])
        registry = TrustedRegistry(load_anchor_file(files.anchor), clock=clock)
        registry.update_from_file(files.registry)
        keys = {m: PrivateKey.load(n.key) for m, n in files.nodes.items()}
        for member, node_files in files.nodes.items():
            # The member's services write their requester entries into the same log file
            # as its node (the store is safe for several writers).
            logs[member] = AuditLog(
                SqliteAuditStore(node_files.audit_db),
                node=member,
                signer=keys[member],
                subject_key=bytes.fromhex(node_files.subject_key.read_text("ascii").strip()),
                clock=clock,
                crypto=registry.profile,
            )
        world = World(nodes=nodes, registry=registry, keys=keys, logs=logs, clock=clock)

        for line in render_row(_HEADERS, _WIDTHS, _RIGHT):
            print(line, file=stream)
        print("  ".join("-" * w for w in _WIDTHS), file=stream)
        for number, case in enumerate(cases, start=1):
            result = _run_case(number, case, world)
            report.cases.append(result)
            cells = (
                str(number),
                result.title,
                result.route,
                result.expected,
                result.got,
                f"{result.milliseconds:.1f}",
                "PASS" if result.passed else "FAIL",
            )
            for line in render_row(cells, _WIDTHS, _RIGHT):
                print(line, file=stream)
            stream.flush()
        if world.view:
            _print_view(stream, world)
        report.audit = list(world.audit_lines)
        if report.audit:
            print("\nAudit logs (verify_log over each SQLite file):", file=stream)
            for line in report.audit:
                print(f"  {line}", file=stream)
        completed = True
    except DeltafedError as exc:
        report.error = f"error {exc.code}: {exc.message}"
    finally:
        report.seconds = time.perf_counter() - started
        # Ctrl-C or a failure on the way: nothing may keep running.
        if not (serve and completed and report.ok):
            _shutdown(servers, nodes, logs)

    _print_summary(stream, report, serve=serve)
    if serve and report.ok:
        try:
            print(
                "\nThe nodes keep running; run the conformance suite from another terminal. "
                "Ctrl-C stops them.",
                file=stream,
            )
            stream.flush()
            (serve_until or (lambda _: _wait_forever()))(report)
        finally:
            _shutdown(servers, nodes, logs)
            print("nodes stopped", file=stream)
    if not keep and report.ok:
        shutil.rmtree(root)
        if not created:
            root.mkdir(mode=0o700)
        report.kept = False
    return report


def _shutdown(
    servers: Mapping[str, LoopbackServer], nodes: Mapping[str, Node], logs: Mapping[str, AuditLog]
) -> None:
    for server in servers.values():
        server.stop()
    # A server's shutdown closes its node; this closes a node whose server never started.
    for node in nodes.values():
        asyncio.run(node.aclose())
    for log in logs.values():
        store = log.store
        if isinstance(store, SqliteAuditStore):
            store.close()


def _print_summary(out: TextIO, report: DemoReport, *, serve: bool) -> None:
    print(file=out)
    if report.error is not None:
        print(f"FAIL: the demo could not run: {report.error}", file=out)
    for case in report.failures:
        print(f"FAIL: case {case.number} ({case.title}): expected {case.expected}", file=out)
        print(f"      got {case.got}", file=out)
    passed = sum(c.passed for c in report.cases)
    verdict = "all passed" if report.ok else "FAILED"
    print(
        f"{passed} of {len(report.cases)} cases behaved as expected - {verdict} - "
        f"in {report.seconds:.2f} s",
        file=out,
    )
    if report.files is None:
        return
    print(f"\nEverything is in {report.directory} (see README.txt there).", file=out)
    first = next(iter(report.files.nodes.values()))
    print(
        f"Serve a node again:   deltafed serve --config {shlex.quote(str(first.config))}",
        file=out,
    )
    print("Run the conformance suite against a node (one command per node):", file=out)
    for command in report.conformance_commands:
        print(f"  {command}", file=out)
    if not serve:
        print(
            "  (the nodes have stopped: run `deltafed demo --serve` to keep them up, or start "
            "one with deltafed serve --config as above)",
            file=out,
        )
