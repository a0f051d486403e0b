"""``/metrics`` and the JSON exchange log: what they count and say, and that no subject's
identifier appears in either."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from deltafed import ConfigurationError, FixedClock
from deltafed.adapters._synthetic import IDENTITY_CARD
from deltafed.node import EXCHANGE_LOGGER, JsonFormatter, Node, NodeMetrics, configure_logging
from deltafed.protocol import new_request, sign_request
from deltafed.testing import (
    JIANGSU,
    SHANGHAI,
    InMemoryAdapter,
    LocalFederation,
    synthetic_population,
)

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
JS = synthetic_population().region("320000")
HOLDER = JS.residents[0].resident_id
CARD = JS.find(HOLDER, IDENTITY_CARD.type_code)
assert CARD is not None
REQUEST_TYPE = "application/deltafed-request+jws"
# Anything shaped like a resident identity number or a certificate identifier (not the
# digits of a float, such as a latency sum).
IDENTIFIER = re.compile(r"(?<![\d.])\d{17}[\dX](?![\d.])|1\.2\.156\.3005")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class World:
    def __init__(self) -> None:
        self.clock = FixedClock(T0)
        self.fed = LocalFederation(
            clock=self.clock, members={SHANGHAI: None, JIANGSU: None}, key_seed=11
        )
        self.adapter = InMemoryAdapter.synthetic("320000")
        self.node: Node = self.fed.node(JIANGSU, adapter=self.adapter)
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.node), base_url="http://node.test"
        )

    def request(self, body: dict[str, Any], target: str) -> bytes:
        claims = new_request(
            issuer=SHANGHAI,
            audience=JIANGSU,
            operation="certificate.verify",
            target=target,
            scenario="yrd-identity-verify",
            body={**body, "use_cause": "metrics test"},
            now=self.clock(),
        )
        return sign_request(claims, self.fed.keys[SHANGHAI])

    async def post(self, raw: bytes) -> httpx.Response:
        return await self.http.post(
            "/deltafed/v1/certificates/verify", content=raw, headers={"content-type": REQUEST_TYPE}
        )

    async def exchanges(self) -> None:
        """By holder, by certificate id (and its identical resend), garbage, a platform down."""
        by_holder = {"holder_code": HOLDER, "holder_type": "111", "type_code": CARD.type_code}
        assert (await self.post(self.request(by_holder, CARD.type_code))).status_code == 200
        by_id = self.request({"certificate_id": CARD.certificate_id}, CARD.certificate_id)
        assert (await self.post(by_id)).status_code == 200
        assert (await self.post(by_id)).status_code == 200  # the stored answer
        assert (await self.post(b"not a jws")).status_code == 400
        self.adapter.down = True
        assert (await self.post(self.request(by_holder, CARD.type_code))).status_code == 503
        self.adapter.down = False


def _value(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    raise AssertionError(f"no sample {name} {labels} in\n{text}")


def _requests(text: str, outcome: str, peer: str = SHANGHAI) -> float:
    labels = {"operation": "certificate.verify", "peer": peer, "outcome": outcome}
    return _value(text, "deltafed_requests_total", **labels)


async def test_metrics_after_exchanges_hold_no_identifier() -> None:
    world = World()
    NodeMetrics().bind(world.node)
    await world.exchanges()
    assert (await world.http.get("/deltafed/v1/health")).status_code == 200  # probes
    response = await world.http.get("/metrics")
    await world.http.aclose()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    text = response.text
    assert _requests(text, "ok") == 3
    assert _requests(text, "malformed_message", peer="unverified") == 1
    assert _requests(text, "adapter_unavailable") == 1
    assert _value(text, "deltafed_adapter_errors_total", code="adapter_unavailable") == 1
    assert _value(text, "deltafed_replayed_answers_total") == 1
    count = "deltafed_request_duration_seconds_count"
    assert _value(text, count, operation="certificate.verify") == 5
    assert _value(text, "deltafed_audit_commit_duration_seconds_count") == 3
    assert _value(text, "deltafed_audit_batch_size_sum") == 3
    assert _value(text, "deltafed_registry_version") == 1
    assert _value(text, "deltafed_registry_expiry_seconds") == 7 * 24 * 3600
    assert _value(text, "deltafed_registry_state", state="fresh") == 1
    assert _value(text, "deltafed_platform_up") == 1
    # Three request ids (the transient failure's id stays bound until it expires).
    assert _value(text, "deltafed_replay_entries") == 3
    # The holder's identity number, the certificate id: nowhere, in no label or value.
    assert HOLDER not in text
    assert CARD.certificate_id not in text
    assert IDENTIFIER.search(text) is None


async def test_without_metrics_there_is_no_metrics_endpoint() -> None:
    world = World()
    response = await world.http.get("/metrics")
    await world.http.aclose()
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/deltafed-response+jws"


async def test_one_json_log_line_per_exchange_without_identifiers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = World()
    with caplog.at_level(logging.INFO, logger=EXCHANGE_LOGGER):
        await world.exchanges()
    await world.http.aclose()
    records = [r for r in caplog.records if r.name == EXCHANGE_LOGGER]
    assert len(records) == 5
    lines = [JsonFormatter().format(r) for r in records]
    for line in lines:
        assert HOLDER not in line
        assert CARD.certificate_id not in line
        assert IDENTIFIER.search(line) is None
    first, _, resent, garbage, down = (json.loads(line) for line in lines)
    assert first["message"] == "exchange"
    assert first["level"] == "info"
    assert first["peer"] == SHANGHAI
    assert first["scenario"] == "yrd-identity-verify"
    assert first["outcome"] == "ok"
    assert first["operation"] == "certificate.verify"
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,64}", first["request_id"])
    assert first["duration_ms"] >= 0
    assert resent["replayed"] is True
    assert (garbage["peer"], garbage["outcome"], garbage["request_id"]) == (
        "unverified",
        "malformed_message",
        None,
    )
    assert (down["outcome"], down["adapter_error"]) == (
        "adapter_unavailable",
        "adapter_unavailable",
    )


def test_metrics_add_up_across_worker_processes(tmp_path: Path) -> None:
    """``serve --workers N``: with PROMETHEUS_MULTIPROC_DIR, one scrape counts every worker."""
    worker = textwrap.dedent(
        f"""
        import sys
        import anyio
        from datetime import datetime, UTC
        from deltafed import ConfigurationError, FixedClock
        from deltafed.node import NodeMetrics
        from deltafed.testing import JIANGSU, SHANGHAI, LocalFederation

        clock = FixedClock(datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
        fed = LocalFederation(clock=clock, members={{SHANGHAI: None, JIANGSU: None}}, key_seed=11)
        node = fed.node(JIANGSU)
        metrics = NodeMetrics().bind(node)
        async def garbage():
            return await node.handle(
                "/deltafed/v1/records", b"garbage", content_type="{REQUEST_TYPE}"
            )

        answer = anyio.run(garbage)
        assert answer.status == 400
        if sys.argv[1] == "scrape":
            sys.stdout.write(metrics.render()[0].decode())
        """
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for role in ("work", "scrape"):
        done = subprocess.run(
            [sys.executable, "-c", worker, role],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    labels = {"operation": "record.request", "peer": "unverified", "outcome": "malformed_message"}
    assert _value(done.stdout, "deltafed_requests_total", **labels) == 2
    assert _value(done.stdout, "deltafed_registry_version") == 1


def test_configure_logging_writes_json_lines_at_the_level(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger("deltafed")
    level = root.level
    try:
        configure_logging("info")
        logging.getLogger(EXCHANGE_LOGGER).info("exchange", extra={"deltafed": {"peer": "x"}})
        configure_logging("warning")  # replaces its handler, does not add one
        logging.getLogger(EXCHANGE_LOGGER).info("below the level")
        ours = [h for h in root.handlers if getattr(h, "_deltafed", False)]
        assert len(ours) == 1
    finally:
        for handler in [h for h in root.handlers if getattr(h, "_deltafed", False)]:
            root.removeHandler(handler)
        root.setLevel(level)
    lines = capsys.readouterr().err.splitlines()
    assert [json.loads(line)["peer"] for line in lines] == ["x"]
    with pytest.raises(ConfigurationError):
        configure_logging("loud")


async def test_a_failing_registry_poll_shows_in_the_metrics(tmp_path: Path) -> None:
    from deltafed.registry import RegistryFile, RegistryPoller, write_publication

    clock = FixedClock(T0)
    fed = LocalFederation(clock=clock, members={SHANGHAI: None, JIANGSU: None}, key_seed=11)
    point = tmp_path / "registry.jws"
    write_publication(point, fed.registry_bytes)
    trusted = fed.trusted_registry()
    poller = RegistryPoller(RegistryFile(trusted, point), clock=clock)
    metrics = NodeMetrics().bind(fed.node(JIANGSU, registry=trusted, poller=poller))
    await poller.poll()
    point.write_bytes(b"truncated")
    await poller.poll()
    text = metrics.render()[0].decode()
    assert _value(text, "deltafed_registry_polls_total") == 2
    assert _value(text, "deltafed_registry_poll_failures_total") == 1
    assert _value(text, "deltafed_registry_poll_failing") == 1
    assert _value(text, "deltafed_registry_last_poll_success_timestamp_seconds") == T0.timestamp()
    assert _value(text, "deltafed_registry_version") == 1
