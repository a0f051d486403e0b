"""The responding node: an ASGI application answering signed, policy-checked requests.

:class:`Node` is built from objects (member id, signer, trusted registry, adapter, audit log,
replay store, clock); :func:`build_node` builds one from a :class:`NodeConfig` (the TOML file
of ``deltafed serve``); :func:`app_from_environment` is the factory each worker process of
``deltafed serve --workers N`` calls. See ``docs/node.md``.
"""

from deltafed.node._config import NodeConfig, build_node, load_config, open_concerns
from deltafed.node._factory import CONFIG_ENV, app_from_environment
from deltafed.node._http import Answer
from deltafed.node._metrics import NodeMetrics
from deltafed.node._node import (
    METADATA_TYP,
    METRICS_PATH,
    TRANSIENT_CODES,
    AuditRecorder,
    Exchange,
    MetricsExporter,
    Node,
)
from deltafed.node._observe import (
    EXCHANGE_LOGGER,
    ExchangeLogger,
    ExchangeObserver,
    ExchangeRecord,
    JsonFormatter,
    configure_logging,
)
from deltafed.node._openapi import openapi_document

__all__ = [
    "CONFIG_ENV",
    "EXCHANGE_LOGGER",
    "METADATA_TYP",
    "METRICS_PATH",
    "TRANSIENT_CODES",
    "Answer",
    "AuditRecorder",
    "Exchange",
    "ExchangeLogger",
    "ExchangeObserver",
    "ExchangeRecord",
    "JsonFormatter",
    "MetricsExporter",
    "Node",
    "NodeConfig",
    "NodeMetrics",
    "app_from_environment",
    "build_node",
    "configure_logging",
    "load_config",
    "open_concerns",
    "openapi_document",
]
