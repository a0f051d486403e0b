"""``/metrics``: a node's Prometheus metrics (the ``metrics`` extra: prometheus-client).

:class:`NodeMetrics` observes a node's exchanges and audit commits and reads its live state
(registry, poller, replay store, platform probe) at each scrape. Labels are bounded and never
hold a subject's identifier: the operation, the verified peer member id (``unverified`` for
bytes that could not be verified), the outcome (``ok`` or a problem code), adapter error codes.

With ``PROMETHEUS_MULTIPROC_DIR`` set in the environment *before* the worker processes start
(``deltafed serve --workers N``), prometheus-client keeps counters and histograms in files in
that directory and every scrape adds up all workers; the live gauges (registry, replay store,
platform) are those of the worker that answers the scrape.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

from deltafed._errors import ConfigurationError
from deltafed.audit import AuditLog
from deltafed.node._observe import ExchangeRecord

if TYPE_CHECKING:
    from deltafed.node._node import Node

__all__ = ["METRICS_PATH", "NodeMetrics"]

#: Where a node with metrics on serves them.
METRICS_PATH: Final = "/metrics"
_LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_COMMIT_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
_BATCH_BUCKETS: Final = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def _prometheus() -> ModuleType:
    try:
        return importlib.import_module("prometheus_client")
    except ImportError as exc:
        raise ConfigurationError(
            "metrics need prometheus-client, which is not installed",
            remediation="Install the metrics extra: pip install 'deltafed[metrics]'.",
        ) from exc


class NodeMetrics:
    """The Prometheus metrics of one node; :meth:`bind` attaches them to it."""

    def __init__(self) -> None:
        pc = _prometheus()
        self._pc = pc
        self.registry: Any = pc.CollectorRegistry()
        self.requests: Any = pc.Counter(
            "deltafed_requests",
            "Exchanges answered, by operation, verified peer and outcome",
            ["operation", "peer", "outcome"],
            registry=self.registry,
        )
        self.latency: Any = pc.Histogram(
            "deltafed_request_duration_seconds",
            "Seconds from the request body to the answer, audit write included",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.replayed: Any = pc.Counter(
            "deltafed_replayed_answers",
            "Identical retransmissions answered with the stored answer",
            registry=self.registry,
        )
        self.adapter_errors: Any = pc.Counter(
            "deltafed_adapter_errors",
            "Failures of the native platform, by mapped error code",
            ["code"],
            registry=self.registry,
        )
        self.audit_commit: Any = pc.Histogram(
            "deltafed_audit_commit_duration_seconds",
            "Seconds one audit transaction (one group commit) took to become durable",
            buckets=_COMMIT_BUCKETS,
            registry=self.registry,
        )
        self.audit_batch: Any = pc.Histogram(
            "deltafed_audit_batch_size",
            "Audit entries written by one group commit",
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self._live: _LiveCollector | None = None

    def bind(self, node: Node) -> NodeMetrics:
        """Observe ``node``'s exchanges and audit commits and serve at ``/metrics``."""
        if self._live is not None:
            raise ConfigurationError("these metrics are already bound to a node")
        self._live = _LiveCollector(node)
        self.registry.register(self._live)
        node.observe(self)
        node.metrics = self
        if isinstance(node.audit, AuditLog):
            node.audit.on_commit = self.audit_committed
        return self

    def exchange_done(self, record: ExchangeRecord) -> None:
        self.requests.labels(record.operation, record.peer, record.outcome).inc()
        self.latency.labels(record.operation).observe(record.duration)
        if record.replayed:
            self.replayed.inc()
        if record.adapter_error is not None:
            self.adapter_errors.labels(record.adapter_error).inc()

    def audit_committed(self, entries: int, seconds: float) -> None:
        self.audit_commit.observe(seconds)
        self.audit_batch.observe(entries)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its media type (all workers in multi-process mode)."""
        pc = self._pc
        registry = self.registry
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            multiprocess = importlib.import_module("prometheus_client.multiprocess")
            registry = pc.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            if self._live is not None:
                registry.register(self._live)
        return bytes(pc.generate_latest(registry)), str(pc.CONTENT_TYPE_LATEST)


class _LiveCollector:
    """Gauges read from the node at each scrape."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._core = importlib.import_module("prometheus_client.core")

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        core = self._core
        node = self._node
        registry = node.registry
        yield core.GaugeMetricFamily(
            "deltafed_registry_version",
            "Version of the trusted registry (0: none)",
            value=registry.version or 0,
        )
        expires = registry.expires_at
        if expires is not None:
            yield core.GaugeMetricFamily(
                "deltafed_registry_expiry_seconds",
                "Seconds until the trusted registry expires (negative: expired, in grace or past)",
                value=(expires - node.clock()).total_seconds(),
            )
        state = core.GaugeMetricFamily(
            "deltafed_registry_state", "1 for the trusted registry's state", labels=["state"]
        )
        current = str(registry.state)
        for name in ("empty", "fresh", "grace", "expired"):
            state.add_metric([name], 1.0 if name == current else 0.0)
        yield state
        poller = node.poller
        if poller is not None:
            status = poller.status
            yield core.CounterMetricFamily(
                "deltafed_registry_polls", "Polls of the publication point", value=status.polls
            )
            yield core.CounterMetricFamily(
                "deltafed_registry_poll_failures",
                "Polls that failed (the last verified version stayed in force)",
                value=status.failures,
            )
            yield core.GaugeMetricFamily(
                "deltafed_registry_poll_failing",
                "1 while the last poll of the publication point failed",
                value=1.0 if status.failing else 0.0,
            )
            if status.last_success is not None:
                yield core.GaugeMetricFamily(
                    "deltafed_registry_last_poll_success_timestamp_seconds",
                    "When a poll last succeeded (Unix time)",
                    value=status.last_success.timestamp(),
                )
        try:
            size = len(node.replay)
        except Exception:  # noqa: BLE001 - a scrape must not fail because one store did
            size = None
        if size is not None:
            yield core.GaugeMetricFamily(
                "deltafed_replay_entries", "Request ids held by the replay store", value=size
            )
        platform = node.platform_status
        if platform is not None:
            yield core.GaugeMetricFamily(
                "deltafed_platform_up",
                "1 if the native platform answered the last health probe",
                value=1.0 if platform else 0.0,
            )
