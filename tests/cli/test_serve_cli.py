"""``deltafed serve``: configuration, dry run, serving through uvicorn (stubbed), errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from deltafed import ConfigurationError, system_clock
from deltafed.cli import _serve, main
from deltafed.node import Node, build_node, load_config
from deltafed.testing import JIANGSU, SHANGHAI, LocalFederation

OpenFiles = Callable[[Path], list[str]]


def write_node_files(tmp_path: Path, **overrides: Any) -> Path:
    fed = LocalFederation(clock=system_clock, key_seed=21)
    fed.keys[JIANGSU].save(tmp_path / "jiangsu.pem")
    fed.keys[SHANGHAI].save(tmp_path / "shanghai.pem")
    (tmp_path / "registry.jws").write_bytes(fed.registry_bytes)
    (tmp_path / "anchor.json").write_text(json.dumps(fed.anchor.to_wire()))
    (tmp_path / "subject.key").write_text("11" * 32)
    settings = {
        "key_file": '"jiangsu.pem"',
        "adapter": '"memory"',
        "extra": "",
        "registry_extra": "",
    }
    settings.update(overrides)
    config = tmp_path / "node.toml"
    config.write_text(
        f"""
[node]
member = "{JIANGSU}"
key_file = {settings["key_file"]}
host = "127.0.0.1"
port = 0
{settings["extra"]}

[registry]
file = "registry.jws"
anchor = "anchor.json"
{settings["registry_extra"]}

[audit]
db = "audit.db"
subject_key_file = "subject.key"

[replay]
db = "replay.db"

[adapter]
name = {settings["adapter"]}
[adapter.config]
region = "320000"
"""
    )
    return config


def test_check_builds_the_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], open_files: OpenFiles
) -> None:
    config = write_node_files(tmp_path)
    assert main(["serve", "--config", str(config), "--check"]) == 0
    out = capsys.readouterr().out
    assert f"node {JIANGSU}" in out
    assert "POST /deltafed/v1/records  (record.request)" in out
    assert (tmp_path / "audit.db").exists()
    assert (tmp_path / "replay.db").exists()
    assert open_files(tmp_path) == []


def test_a_node_that_fails_to_build_closes_what_it_opened(
    tmp_path: Path, open_files: OpenFiles
) -> None:
    config = load_config(write_node_files(tmp_path))
    # The audit database opens first; the replay store then fails to open.
    (tmp_path / "replay.db").write_bytes(b"not a database, " * 512)
    with pytest.raises(ConfigurationError, match="cannot open replay store") as refused:
        build_node(config)
    assert (tmp_path / "audit.db").exists()
    assert open_files(tmp_path) == [], refused.value


def test_a_node_holds_its_files_until_shut_down(tmp_path: Path, open_files: OpenFiles) -> None:
    node = build_node(load_config(write_node_files(tmp_path)))
    held = {Path(p).name for p in open_files(tmp_path)}
    assert {"audit.db", "replay.db"} <= held
    anyio.run(node.aclose)
    assert open_files(tmp_path) == []
    anyio.run(node.aclose)  # a second shutdown is harmless


def test_serve_hands_the_node_to_uvicorn(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    open_files: OpenFiles,
) -> None:
    config = write_node_files(tmp_path)
    served: dict[str, Any] = {}

    def fake_run(app: Any, *, host: str, port: int, log_level: str, json_logs: bool) -> None:
        served.update(app=app, host=host, port=port, log_level=log_level, json_logs=json_logs)

    monkeypatch.setattr(_serve, "run_uvicorn", fake_run)
    argv = ["serve", "--config", str(config), "--port", "9999", "--log-level", "warning"]
    assert main(argv) == 0
    assert (served["host"], served["port"]) == ("127.0.0.1", 9999)
    assert (served["log_level"], served["json_logs"]) == ("warning", True)
    node = served["app"]
    assert isinstance(node, Node)

    async def health() -> httpx.Response:
        transport = httpx.ASGITransport(app=node)
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as http:
            return await http.get("/deltafed/v1/health")

    response = anyio.run(health)
    assert response.json()["member"] == JIANGSU
    assert "listening on http://127.0.0.1:9999" in capsys.readouterr().out
    # uvicorn has returned (stubbed here): serve closed the node's files behind it.
    assert open_files(tmp_path) == []


def test_missing_uvicorn_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_node_files(tmp_path)
    real = _serve.importlib.import_module

    def no_uvicorn(name: str, *args: Any) -> Any:
        if name == "uvicorn":
            raise ImportError("No module named 'uvicorn'")
        return real(name, *args)

    monkeypatch.setattr(_serve.importlib, "import_module", no_uvicorn)
    assert main(["serve", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "error configuration_error: deltafed serve needs uvicorn" in err
    assert "deltafed[serve]" in err
    assert not (tmp_path / "audit.db").exists()  # nothing was opened


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"extra": 'colour = "blue"'}, "unknown keys ['colour']"),
        ({"adapter": '"no-such-adapter"'}, "no adapter named 'no-such-adapter'"),
        ({"key_file": '"shanghai.pem"'}, "is not a key of 320000/dsj"),
        ({"key_file": "42"}, "key_file must be a str"),
        ({"registry_extra": 'url = "ftp://x/registry.jws"'}, "url must be an http(s) URL"),
        ({"registry_extra": "poll_seconds = -1"}, "poll_seconds must not be negative"),
        ({"extra": 'log_level = "loud"'}, "log_level must be one of debug, info"),
        ({"extra": 'log_format = "xml"'}, 'log_format must be "json" or "text"'),
        ({"extra": 'metrics = "yes"'}, "metrics must be true or false"),
    ],
)
def test_configuration_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    overrides: dict[str, str],
    message: str,
) -> None:
    config = write_node_files(tmp_path, **overrides)
    assert main(["serve", "--config", str(config), "--check"]) == 2
    assert message in capsys.readouterr().err


def test_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    config = load_config(write_node_files(tmp_path))
    assert config.registry_file == tmp_path.resolve() / "registry.jws"
    assert config.port == 0


def test_not_toml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "node.toml"
    bad.write_text("[node\n")
    assert main(["serve", "--config", str(bad), "--check"]) == 2
    assert "not valid TOML" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("registry_extra", "source"),
    [
        ("", "RegistryFile"),
        ('url = "https://anchor.example.test/yrd/registry.jws"', "AsyncRegistryClient"),
        ("poll_seconds = 0", None),
    ],
)
def test_the_node_polls_its_publication_point(
    tmp_path: Path, registry_extra: str, source: str | None
) -> None:
    node = build_node(load_config(write_node_files(tmp_path, registry_extra=registry_extra)))
    try:
        if source is None:
            assert node.poller is None
        else:
            assert node.poller is not None
            assert type(node.poller.source).__name__ == source
            assert node.poller.interval == 60
            assert node.poller.trusted is node.registry
    finally:
        anyio.run(node.aclose)


def test_a_node_with_metrics_on_serves_them(tmp_path: Path) -> None:
    extra = 'metrics = true\nlog_level = "debug"\nlog_format = "text"'
    config = load_config(write_node_files(tmp_path, extra=extra))
    assert (config.log_level, config.log_format, config.metrics) == ("debug", "text", True)
    node = build_node(config)

    async def scrape() -> httpx.Response:
        transport = httpx.ASGITransport(app=node)
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as http:
            return await http.get("/metrics")

    try:
        response = anyio.run(scrape)
    finally:
        anyio.run(node.aclose)
    assert response.status_code == 200
    assert "deltafed_registry_version 1.0" in response.text
