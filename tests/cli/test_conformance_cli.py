"""``deltafed conformance``: targets, reports, exit statuses."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from deltafed._clock import system_clock
from deltafed.cli import main
from deltafed_conformance import ALL_CHECKS, FederationFixture


def test_adapters_pass_and_reports_are_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = {kind: tmp_path / f"report.{kind}" for kind in ("json", "xml", "html")}
    status = main(
        [
            "conformance",
            "--adapter", "shanghai",
            "--adapter", "jiangsu",
            "--adapter", "zhejiang",
            "--json", str(paths["json"]),
            "--junit", str(paths["xml"]),
            "--html", str(paths["html"]),
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0, out
    n = len(ALL_CHECKS)
    assert f"[{n:3d}/{n}] zhejiang  {ALL_CHECKS[-1].id}" in out
    last = out.rstrip().splitlines()[-1]
    assert last.startswith(f"PASSED: {3 * n} passed (3 target(s), {n} checks) in ")
    assert json.loads(paths["json"].read_text("utf-8"))["passed"] is True
    assert len(ET.parse(paths["xml"]).getroot().findall("testsuite")) == 3
    assert '<th class="target">jiangsu<br>' in paths["html"].read_text("utf-8")


def test_live_node_needs_its_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "--url", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "--registry, --anchor, --tester-key, --tester-id" in err


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--adapter", "memory", "--url", "http://127.0.0.1:9"],
        ["--adapter", "memory", "--only", "DF-NOPE"],
    ],
)
def test_usage_errors(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", *args]) == 2
    assert "deltafed conformance:" in capsys.readouterr().err


def test_unknown_adapter_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "--adapter", "nowhere"]) == 2
    assert "no adapter named 'nowhere'" in capsys.readouterr().err


def test_expected_failures_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gaps = tmp_path / "gaps.txt"
    gaps.write_text("DF-SIG-002 thought broken\n", "utf-8")
    args = ["conformance", "--adapter", "memory", "--only", "DF-SIG"]
    assert main([*args, "--expected-failures", str(gaps)]) == 1
    assert "XPASS DF-SIG-002" in capsys.readouterr().out
    gaps.write_text("DF-NOPE-001 not a check\n", "utf-8")
    assert main([*args, "--expected-failures", str(gaps)]) == 2


def test_list_and_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "--list", "--only", "DF-NEG-01"]) == 0
    out = capsys.readouterr().out
    assert "DF-NEG-010  Unknown member" in out
    assert "DF-NEG-009" not in out


def test_live_node_by_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Nothing listens on this endpoint: every check of the selection is an error, exit 1.
    fixture = FederationFixture("330000", clock=system_clock, endpoint="http://127.0.0.1:9")
    paths = fixture.write(tmp_path)
    status = main(
        [
            "conformance",
            "--url", "http://127.0.0.1:9",
            "--registry", str(paths["registry"]),
            "--anchor", str(paths["anchor"]),
            "--tester-key", str(paths["tester"]),
            "--tester-id", fixture.tester,
            "--profile", str(paths["profile"]),
            "--only", "DF-DISC-003",
        ]
    )  # fmt: skip
    assert status == 1
    assert "DF-DISC-003  FAIL  Health endpoint: transport failure" in capsys.readouterr().out
