"""``deltafed demo`` through the command line: exit statuses, --dir, --keep, Ctrl-C."""

from __future__ import annotations

from pathlib import Path

import pytest

import deltafed.demo._run as demo_run
from deltafed.cli import main


def test_demo_runs_and_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "fed"
    assert main(["demo", "--dir", str(target)]) == 0
    out = capsys.readouterr().out
    assert "all passed" in out
    assert f"Everything is in {target.resolve()}" in out
    assert (target / "registry.jws").is_file()
    # The node configurations it wrote are usable by `deltafed serve`.
    assert main(["serve", "--config", str(target / "nodes" / "jiangsu.toml"), "--check"]) == 0


def test_no_keep_removes_the_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "fed"
    assert main(["demo", "--dir", str(target), "--no-keep"]) == 0
    assert not target.exists()
    assert "removed" in capsys.readouterr().out


def test_non_empty_dir_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "something").write_text("x", encoding="utf-8")
    assert main(["demo", "--dir", str(tmp_path)]) == 2
    assert "is not empty" in capsys.readouterr().err


def test_ctrl_c_while_serving_exits_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupt() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(demo_run, "_wait_forever", interrupt)
    assert main(["demo", "--dir", str(tmp_path / "fed"), "--serve"]) == 130
    captured = capsys.readouterr()
    assert "nodes stopped" in captured.out
    assert "shut down cleanly" in captured.err


def test_help_lists_demo(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    out = capsys.readouterr().out
    assert "--dir" in out
    assert "--keep" in out
    assert "--serve" in out
