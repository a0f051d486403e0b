"""Every Python the package claims is tested: the classifiers, the README and ``make test`` agree.

``make test`` runs this whole suite under each supported version (``tools/pythons.py``), so
the tests here, like every other, run under 3.11, 3.12 and 3.13; the demo itself runs in
``tests/demo/test_demo.py``.
"""

from __future__ import annotations

import importlib.util
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

import deltafed

ROOT = Path(__file__).resolve().parent.parent
SUPPORTED = ["3.11", "3.12", "3.13"]


def _runner() -> ModuleType:
    """``tools/pythons.py``, the runner behind ``make test`` (a script, not in the package)."""
    name = "deltafed_tools_pythons"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / "pythons.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_classifiers_list_every_supported_version() -> None:
    assert _runner().supported_versions() == SUPPORTED
    with (ROOT / "pyproject.toml").open("rb") as fh:
        project = tomllib.load(fh)["project"]
    assert project["requires-python"] == f">={SUPPORTED[0]}"


def test_readme_says_which_versions_are_supported() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "Python 3.11, 3.12 and 3.13" in readme


def test_this_python_is_a_supported_one() -> None:
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in SUPPORTED


def test_every_module_imports_without_a_warning_in_a_fresh_interpreter() -> None:
    names = [
        m.name for m in pkgutil.walk_packages(deltafed.__path__, "deltafed.") if "._" not in m.name
    ]
    assert "deltafed.node" in names
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    done = subprocess.run(
        [sys.executable, "-W", "error", "-X", "dev", "-c", code, "deltafed", *names],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_the_runner_finds_this_python() -> None:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    found = _runner().find_interpreter(version)
    assert found is not None
    probe = [str(found), "-c", "import sys; print(sys.version_info[:2])"]
    out = subprocess.run(probe, capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.strip() == str(sys.version_info[:2])


@pytest.mark.parametrize(
    ("ci", "code", "verdict"),
    [("true", 1, "FAILED (missing under CI=true)"), ("", 0, "SKIPPED (not on this machine)")],
)
def test_a_missing_version_fails_under_ci_and_is_skipped_locally(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    ci: str,
    code: int,
    verdict: str,
) -> None:
    monkeypatch.setenv("CI", ci)
    assert _runner().main(["--extras", "dev", "--versions", "3.99"]) == code
    out = capsys.readouterr().out
    assert f"Python 3.99: {verdict}: no working python3.99" in out
