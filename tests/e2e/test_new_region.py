"""Issue 18's acceptance: a new region onboarded with ``deltafed onboard`` and a plugin made by
``deltafed adapter new`` passes the conformance suite, with no file written by hand.

The package is installed as pip would leave it - its ``src`` on the path and a ``dist-info``
whose ``entry_points.txt`` is the entry-point table of the generated ``pyproject.toml`` - rather
than by pip itself: building it needs its build backend, which a test without the network
cannot fetch. Everything else runs as an integrator runs it: the commands through
``deltafed.cli.main``, the node from the generated ``node.toml``, the generated package's own
tests with pytest in a child interpreter.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from deltafed.cli import main
from deltafed.node import build_node, load_config
from deltafed.testing import LoopbackServer

pytestmark = pytest.mark.slow

NAME = "wanjiang"
REGION = "340000"
MODULE = "deltafed_wanjiang"


def _install(package: Path, site: Path) -> None:
    """What ``pip install -e`` leaves behind: a dist-info carrying the declared entry points."""
    project = tomllib.loads((package / "pyproject.toml").read_text("utf-8"))["project"]
    points = project["entry-points"]["deltafed.adapters"]
    dist = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = "".join(f"{name} = {target}\n" for name, target in points.items())
    (dist / "entry_points.txt").write_text(f"[deltafed.adapters]\n{lines}")


def _files(folder: Path) -> dict[Path, bytes]:
    return {
        p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture
def region(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[tuple[Path, Path, Path]]:
    package, site, onboarded = tmp_path / "deltafed-wanjiang", tmp_path / "site", tmp_path / "ah"
    assert main(["adapter", "new", NAME, "--region", REGION, "--out", str(package)]) == 0
    _install(package, site)
    monkeypatch.syspath_prepend(str(package / "src"))
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    capsys.readouterr()
    yield package, site, onboarded
    for name in [m for m in sys.modules if m.startswith(MODULE)]:
        del sys.modules[name]


def test_new_region_passes_the_conformance_suite(
    region: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    package, site, onboarded = region
    before = _files(package)

    # In process, against the adapter: the node, the adapter contract, the golden samples.
    assert main(["conformance", "--adapter", NAME]) == 0
    out = capsys.readouterr().out
    assert f"{NAME}  DF-MAP-001  PASS" in out
    assert f"{NAME}  DF-ADP-012  PASS" in out
    assert " FAIL " not in out
    assert "PASSED:" in out

    # Onboarded into a test federation of its own, then on the wire against its node.
    server = LoopbackServer()
    args = ["onboard", REGION, "--out", str(onboarded), "--adapter", NAME]
    assert main([*args, "--endpoint", server.url, "--test-federation"]) == 0
    capsys.readouterr()
    node = build_node(load_config(onboarded / "node.toml"))
    server.start(node)
    try:
        status = main(
            [
                "conformance",
                "--url", server.url,
                "--registry", str(onboarded / "registry.jws"),
                "--anchor", str(onboarded / "anchor.json"),
                "--tester-key", str(onboarded / "tester.pem"),
                "--tester-id", "310000/conformance",
                "--profile", str(onboarded / "profile.toml"),
            ]
        )  # fmt: skip
    finally:
        server.stop()
    out = capsys.readouterr().out
    assert status == 0, out
    for check in ("DF-EXC-001", "DF-EXC-005", "DF-NEG-011", "DF-POL-001", "DF-EVENT-001"):
        assert f"{check}  PASS" in out, check  # the profile's subjects, keys and scenarios
    assert " FAIL " not in out

    # The package's own tests, as its author runs them.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(package / "src"), str(site)])
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=package,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "10 passed" in done.stdout

    # Nothing in the package was written by hand, or by running it.
    assert _files(package) == before
