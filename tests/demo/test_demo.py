"""The demo end to end: a real federation on loopback, every case checked, broken nodes caught."""

from __future__ import annotations

import io
import re
import socket
import stat
import unicodedata
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from deltafed import ConfigurationError, system_clock
from deltafed.demo import CASES, Case, DemoReport, World, run_demo
from deltafed.demo._table import render_table, text_width, wrap
from deltafed.keys import PrivateKey
from deltafed.node import Node, NodeConfig, build_node, load_config
from deltafed.registry import TrustedRegistry, load_anchor_file
from deltafed.testing import LoopbackServer


def _refused(url: str) -> bool:
    port = int(url.rsplit(":", 1)[1])
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _display(line: str) -> list[str | None]:
    """``line`` by terminal column: a wide character, then ``None`` for its right half."""
    cells: list[str | None] = []
    for ch in line:
        # Ambiguous width ("…", "→"): one column in a Western terminal, two in a Chinese one.
        assert unicodedata.east_asian_width(ch) != "A", f"{ch!r} has no fixed width: {line!r}"
        cells.append(ch)
        if text_width(ch) == 2:
            cells.append(None)
    return cells


def _parse_table(lines: list[str]) -> list[list[list[str]]]:
    """Rows of the table (header first), each a list of cells, each its lines of text.

    The columns are where the rule under the header has dashes; every line must leave the
    gaps between them blank and put no character across a column's edge.
    """
    spans = [(m.start(), m.end()) for m in re.finditer(r"-+", lines[1])]
    rows: list[list[list[str]]] = []
    for line in [lines[0], *lines[2:]]:
        columns = _display(line)
        assert len(columns) <= spans[-1][1], f"wider than the table: {line!r}"
        columns += [" "] * (spans[-1][1] - len(columns))
        cells = []
        for n, (start, end) in enumerate(spans):
            gap = columns[spans[n - 1][1] if n else 0 : start]
            assert all(c == " " for c in gap), f"column {n} misaligned: {line!r}"
            cells.append("".join(c for c in columns[start:end] if c is not None).strip())
        if cells[0] or not rows:
            rows.append([[c] if c else [] for c in cells])
        else:  # a cell wrapped onto this line
            for n, c in enumerate(cells):
                if c:
                    rows[-1][n].append(c)
    return rows


def _table_lines(text: str, header: str, indent: str = "") -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(indent + header))
    end = lines.index("", start)
    assert all(line.startswith(indent) for line in lines[start:end])
    return [line.removeprefix(indent) for line in lines[start:end]]


def _assert_tables(text: str, report: DemoReport) -> None:
    """Every word of every case is printed, in columns that line up in any terminal."""

    def joined(fragments: list[str]) -> str:  # wrapping may break a word: compare without spaces
        return "".join(fragments).replace(" ", "")

    rows = _parse_table(_table_lines(text, " #  case"))
    assert [joined(c) for c in rows[0]] == ["#", "case", "from->to", "expected", "got", "ms", ""]
    assert len(rows) == 1 + len(report.cases)
    for row, case in zip(rows[1:], report.cases, strict=True):
        expected = (
            str(case.number),
            case.title,
            case.route,
            case.expected,
            case.got,
            f"{case.milliseconds:.1f}",
            "PASS",
        )
        assert [joined(c) for c in row] == [e.replace(" ", "") for e in expected]
    assert any(len(row[4]) > 1 for row in rows[1:])  # some results did need more than a line
    view = _parse_table(_table_lines(text, "when (CST)", indent="  "))
    assert len(view) > 2


def _run(tmp_path: Path, **kw: object) -> tuple[DemoReport, str]:
    out = io.StringIO()
    report = run_demo(tmp_path / "demo", out=out, **kw)  # type: ignore[arg-type]
    return report, out.getvalue()


def test_every_case_passes_over_real_loopback(
    tmp_path: Path, open_files: Callable[[Path], list[str]]
) -> None:
    """Also the check that the package imports and the demo runs under each supported Python:
    ``make test`` runs the whole suite under every one of them."""
    report, text = _run(tmp_path)
    assert open_files(tmp_path) == []  # every node and log closed its SQLite files
    assert report.error is None
    assert [c.number for c in report.cases] == list(range(1, len(CASES) + 1))
    assert [c.title for c in report.failures] == []
    assert report.exit_code == 0
    assert f"{len(CASES)} of {len(CASES)} cases behaved as expected - all passed" in text
    assert text.count("PASS") == len(CASES)
    assert "FAIL" not in text
    # The resident's view and the audit verification are printed.
    assert "Who used the data of" in text
    assert text.count("hash chain and Merkle tree intact") == 3
    _assert_tables(text, report)
    # The conformance command names the files the demo wrote, one per node.
    assert report.files is not None
    commands = report.conformance_commands
    assert len(commands) == 3
    for command in commands:
        assert f"--registry {report.files.registry}" in command
        assert f"--tester-key {report.files.tester_key}" in command
        assert command in text
    # The servers were shut down after the cases.
    for node in report.files.nodes.values():
        assert _refused(node.endpoint)


def test_the_folder_holds_a_usable_federation(tmp_path: Path) -> None:
    report, _ = _run(tmp_path)
    files = report.files
    assert files is not None
    assert report.kept
    assert files.root == (tmp_path / "demo").resolve()
    registry = TrustedRegistry(load_anchor_file(files.anchor), clock=system_clock)
    doc = registry.update_from_file(files.registry)
    assert {str(m.id) for m in doc.members} >= set(files.nodes)
    for member, node in files.nodes.items():
        assert stat.S_IMODE(node.key.stat().st_mode) == 0o600
        assert stat.S_IMODE(node.subject_key.stat().st_mode) == 0o600
        assert node.audit_db.stat().st_size > 0
        config = load_config(node.config)
        assert config.member == member
        assert config.port == node.port
        assert PrivateKey.load(config.key_file).kid == registry.member(member).keys[0].jwk.kid
        assert node.profile.is_file()
    assert stat.S_IMODE(files.anchor_key.stat().st_mode) == 0o600
    assert (files.root / "README.txt").read_text(encoding="utf-8").startswith("deltafed demo")


def _jiangsu_platform_down(config: NodeConfig) -> Node:
    node = build_node(config)
    if config.member == "320000/dsj":
        node.adapter.sandbox.faults.set(server_error=-1)  # type: ignore[attr-defined]
    return node


def test_a_node_whose_platform_is_down_fails_loudly(tmp_path: Path) -> None:
    report, text = _run(tmp_path, node_factory=_jiangsu_platform_down)
    assert report.exit_code == 1
    failed = {c.number for c in report.failures}
    # Every case that needs Jiangsu's platform to answer fails; the others still pass.
    assert {1, 3}.issubset(failed)
    assert 2 not in failed
    assert 7 not in failed
    assert "FAIL: case 1 (" in text
    assert "adapter_unavailable" in text
    assert "FAILED" in text


def _zhejiang_signs_with_a_stranger_key(config: NodeConfig) -> Node:
    node = build_node(config)
    if config.member == "330000/dsj":
        node.signer = PrivateKey.generate()  # a key the registry does not list
    return node


def test_a_node_signing_with_the_wrong_key_fails_loudly(tmp_path: Path) -> None:
    report, text = _run(tmp_path, node_factory=_zhejiang_signs_with_a_stranger_key)
    assert report.exit_code == 1
    failed = {c.number for c in report.failures}
    assert {2, 7, 9}.issubset(failed)  # every answer from Zhejiang is refused by the client
    assert not failed & {1, 3, 4, 5, 6}
    for number in (2, 7, 9):
        assert f"FAIL: case {number} (" in text


def test_a_node_that_cannot_start_fails_the_demo(tmp_path: Path) -> None:
    def refuse(config: NodeConfig) -> Node:
        raise ConfigurationError("this node is broken on purpose")

    report, text = _run(tmp_path, node_factory=refuse)
    assert report.exit_code == 1
    assert report.cases == []
    assert "FAIL: the demo could not run: error configuration_error: this node is broken" in text


def test_a_server_that_cannot_start_leaves_no_file_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_files: Callable[[Path], list[str]]
) -> None:
    def cannot_start(self: LoopbackServer, app: object, **options: object) -> None:
        raise ConfigurationError("no server today")

    monkeypatch.setattr(LoopbackServer, "start", cannot_start)
    report, text = _run(tmp_path)
    assert report.exit_code == 1
    assert "no server today" in text
    # The first node was built (its audit and replay databases opened) but never served.
    assert open_files(tmp_path) == []


def test_a_non_empty_folder_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    target.mkdir()
    (target / "precious.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="not empty"):
        run_demo(target, out=io.StringIO())
    assert (target / "precious.txt").read_text(encoding="utf-8") == "keep me"


def test_no_keep_removes_the_folder_after_a_successful_run(tmp_path: Path) -> None:
    report, _ = _run(tmp_path, keep=False)
    assert report.exit_code == 0
    assert not report.kept
    assert not (tmp_path / "demo").exists()


def test_default_folder_is_fresh_and_left_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    report = run_demo(out=io.StringIO())
    assert report.exit_code == 0
    assert report.directory.parent == tmp_path.resolve()
    assert report.directory.name.startswith("deltafed-demo-")
    assert (report.directory / "registry.jws").is_file()


def test_serve_keeps_the_nodes_up_until_told_to_stop(tmp_path: Path) -> None:
    seen: dict[str, int] = {}

    def while_serving(report: DemoReport) -> None:
        assert report.files is not None
        for member, node in report.files.nodes.items():
            seen[member] = httpx.get(node.endpoint + "/deltafed/v1/health", timeout=5).status_code

    report, text = _run(tmp_path, serve=True, serve_until=while_serving)
    assert report.exit_code == 0
    assert seen == {"310000/dsj": 200, "320000/dsj": 200, "330000/dsj": 200}
    assert "nodes stopped" in text
    assert report.files is not None
    for node in report.files.nodes.values():
        assert _refused(node.endpoint)


def test_ctrl_c_while_serving_stops_the_servers(tmp_path: Path) -> None:
    endpoints: list[str] = []

    def interrupt(report: DemoReport) -> None:
        assert report.files is not None
        endpoints.extend(n.endpoint for n in report.files.nodes.values())
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, serve=True, serve_until=interrupt)
    assert len(endpoints) == 3
    assert all(_refused(url) for url in endpoints)


def test_tables_align_chinese_text() -> None:
    assert text_width("居住证") == 6
    assert text_width("abc") == 3
    lines = render_table(("name", "n"), [("测试苏甲子", "1"), ("abc", "22")], right=(1,))
    assert [text_width(line) for line in lines[2:]] == [text_width(lines[2])] * 2
    assert lines[3].endswith("22")


def test_long_cells_wrap_and_keep_every_character() -> None:
    assert wrap("2 sends, 1 answer, 0 calls on resend", 12) == [
        "2 sends, 1",
        "answer, 0",
        "calls on",
        "resend",
    ]
    # Chinese text has no spaces: it breaks between characters, never inside one.
    assert wrap("测试苏甲子的居住证", 7) == ["测试苏", "甲子的", "居住证"]
    assert wrap("sub-KLuRBTT8Y3YiKkDu", 8) == ["sub-KLuR", "BTT8Y3Yi", "KkDu"]
    assert wrap("", 5) == [""]
    lines = render_table(
        ("case", "got"), [("居住证 for Shanghai", "valid 01, valid 01")], max_widths=(0, 9)
    )
    assert lines == [
        "case                 got",
        "-------------------  ---------",
        "居住证 for Shanghai  valid 01,",
        "                     valid 01",
    ]
    assert all("…" not in line for line in lines)


def test_ctrl_c_during_the_cases_stops_the_servers(tmp_path: Path) -> None:
    endpoints: list[str] = []

    def interrupted(world: World) -> str:
        endpoints.extend(world.registry.endpoint_for(m) for m in world.nodes)
        raise KeyboardInterrupt

    cases = (CASES[0], Case("interrupted", "310000/dsj", None, "-", interrupted))
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, serve=True, cases=cases)
    assert len(endpoints) == 3
    assert all(_refused(url) for url in endpoints)
