"""The example Anhui plugin: found through an entry point, passes the adapter contract."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deltafed.adapters import available_adapters, broken_adapters, load_adapter
from deltafed_conformance import (
    ALL_CHECKS,
    AdapterTarget,
    Status,
    generate_golden,
    load_golden,
    run,
)
from deltafed_conformance._golden import render_golden

PLUGIN_SRC = Path(__file__).parents[2] / "docs" / "examples" / "anhui-adapter" / "src"
PYPROJECT = PLUGIN_SRC.parent / "pyproject.toml"


@pytest.fixture
def anhui_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # What `pip install` would leave behind: the package on sys.path and a dist-info whose
    # entry_points.txt carries the entry point declared in the plugin's pyproject.toml.
    assert 'anhui = "deltafed_anhui:AnhuiAdapter"' in PYPROJECT.read_text()
    dist = tmp_path / "deltafed_anhui-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: deltafed-anhui\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(
        "[deltafed.adapters]\nanhui = deltafed_anhui:AnhuiAdapter\n"
    )
    monkeypatch.syspath_prepend(str(PLUGIN_SRC))
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield
    for name in [m for m in sys.modules if m.startswith("deltafed_anhui")]:
        del sys.modules[name]


def test_not_there_before_installation() -> None:
    assert "anhui" not in available_adapters()


@pytest.mark.usefixtures("anhui_installed")
def test_discovered_through_its_entry_point() -> None:
    cls = load_adapter("anhui")
    assert cls.__module__.startswith("deltafed_anhui")
    assert "anhui" in available_adapters()
    assert [b for b in broken_adapters() if b.name == "anhui"] == []


@pytest.mark.usefixtures("anhui_installed")
def test_plugin_passes_the_conformance_suite_with_its_golden_samples() -> None:
    # What `deltafed conformance --adapter anhui` runs: the node on the plugin, the adapter
    # contract (DF-ADP), and the golden mapping checks with the samples the plugin ships.
    target = run([AdapterTarget("anhui")]).targets[0]
    assert target.ids(Status.FAIL, Status.ERROR) == set(), {
        o.check.id: o.result.reason for o in target.outcomes if o.result.status is Status.FAIL
    }
    mapping = {"DF-MAP-001", "DF-MAP-002", "DF-MAP-003"}
    contract = {c.id for c in ALL_CHECKS if c.id.startswith("DF-ADP")}
    assert mapping | contract | {"DF-EXC-008", "DF-ERR-006"} <= target.ids(Status.PASS)
    assert len(load_golden("anhui", package="deltafed_anhui")) == 6


@pytest.mark.anyio
@pytest.mark.usefixtures("anhui_installed")
async def test_plugin_golden_samples_are_reproducible() -> None:
    files = await generate_golden("anhui")
    folder = PLUGIN_SRC / "deltafed_anhui" / "golden"
    assert sorted(p.name for p in folder.glob("*.json")) == sorted(files)
    for name, sample in files.items():
        assert (folder / name).read_text("utf-8") == render_golden(sample)
