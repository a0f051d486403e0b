"""``deltafed adapter``: the plugin template (``new``) and golden samples (``golden``).

The generated package passing the conformance suite is tests/e2e/test_new_region.py."""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from deltafed.cli import main
from deltafed.cli._adapter import render_plugin


def test_template_renders_a_package_with_its_entry_point() -> None:
    files = render_plugin("he-fei", "340000")
    assert sorted(files) == [
        "README.md",
        "pyproject.toml",
        "src/deltafed_he_fei/__init__.py",
        "src/deltafed_he_fei/_adapter.py",
        "src/deltafed_he_fei/_mapping.py",
        "src/deltafed_he_fei/_native.py",
        "src/deltafed_he_fei/_sandbox.py",
        "src/deltafed_he_fei/py.typed",
        "tests/test_conformance.py",
        "tests/test_golden.py",
        "tests/test_mapping.py",
    ]
    assert not [path for path, text in files.items() if "{{" in text or "}}" in text]
    project = tomllib.loads(files["pyproject.toml"])["project"]
    assert project["name"] == "deltafed-he-fei"
    assert project["entry-points"]["deltafed.adapters"] == {
        "he-fei": "deltafed_he_fei:HeFeiAdapter"
    }
    assert 'REGION: Final = "340000"' in files["src/deltafed_he_fei/_adapter.py"]


def test_only_the_mapping_is_marked_to_write() -> None:
    files = render_plugin("wanjiang", "340000")
    marked = sorted(p for p, text in files.items() if p.endswith(".py") and "TODO(mapping)" in text)
    assert marked == ["src/deltafed_wanjiang/_mapping.py"]
    assert files["src/deltafed_wanjiang/_mapping.py"].count("TODO(mapping)") >= 8


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["Wanjiang", "--region", "340000"], "must be lower-case"),
        (["wan_jiang", "--region", "340000"], "must be lower-case"),
        (["jiangsu", "--region", "320000"], "installed already"),
        (["wanjiang", "--region", "440000"], "not a region of the synthetic population"),
    ],
)
def test_new_refuses_bad_names_and_regions(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["adapter", "new", *argv, "--out", str(tmp_path / "pkg")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "pkg").exists()


def test_new_never_writes_into_a_non_empty_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["adapter", "new", "wanjiang", "--region", "340000", "--out", str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_golden_regenerates_a_builtin_adapters_samples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["adapter", "golden", "jiangsu", "--out", str(tmp_path)]) == 0
    assert "wrote 6 golden samples of adapter jiangsu" in capsys.readouterr().out
    shipped = resources.files("deltafed_conformance").joinpath("golden", "jiangsu")
    for written in sorted(tmp_path.iterdir()):
        expected = json.loads(shipped.joinpath(written.name).read_text("utf-8"))
        assert json.loads(written.read_text("utf-8")) == expected, written.name


def test_golden_of_an_unknown_adapter_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["adapter", "golden", "no-such", "--out", str(tmp_path / "g")]) == 2
    assert "no-such" in capsys.readouterr().err
    assert not (tmp_path / "g").exists()
