"""What a node tells the outside about its exchanges: metrics and structured logs.

The node reports every answered ``POST`` as an :class:`ExchangeRecord` to its observers
(:meth:`Node.observe`): :class:`~deltafed.node.NodeMetrics` counts it for ``/metrics`` and
:class:`ExchangeLogger` writes it as one JSON line. A record names the operation, the verified
peer member, the scenario, the request id, the outcome and the duration; it never holds a
subject's identifier (identity numbers, credit codes, certificate ids), so nothing built from
it can leak one.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from deltafed._errors import ConfigurationError

__all__ = [
    "EXCHANGE_LOGGER",
    "LOG_LEVELS",
    "UNVERIFIED",
    "ExchangeLogger",
    "ExchangeObserver",
    "ExchangeRecord",
    "JsonFormatter",
    "configure_logging",
]

#: The logger that carries one line per exchange.
EXCHANGE_LOGGER: Final = "deltafed.exchange"
#: ``peer`` of a request whose sender could not be verified.
UNVERIFIED: Final = "unverified"
#: The log levels a node configuration and `deltafed serve --log-level` accept.
LOG_LEVELS: Final = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True, slots=True)
class ExchangeRecord:
    """One answered ``POST``, as metrics and logs see it (no subject identifiers)."""

    #: ``certificate.verify``, ``certificate.release``, ``record.request`` or ``unknown``.
    operation: str
    #: The verified requester's member id, or ``unverified``.
    peer: str
    #: ``ok`` or the problem code answered.
    outcome: str
    #: The HTTP status answered.
    status: int
    #: Seconds from receiving the body to the answer (audit write included).
    duration: float
    #: The request's ``jti`` once verified.
    request_id: str | None = None
    #: The use scenario the request cited, once verified.
    scenario: str | None = None
    #: The stored answer of an identical retransmission was sent again.
    replayed: bool = False
    #: The code of the adapter error behind the outcome, if the platform failed.
    adapter_error: str | None = None


class ExchangeObserver(Protocol):
    """Receives every exchange a node answered; must be quick and must not raise."""

    def exchange_done(self, record: ExchangeRecord) -> None: ...


class ExchangeLogger:
    """Logs each exchange as one INFO line on ``deltafed.exchange`` with its fields as
    ``extra`` (:class:`JsonFormatter` writes them as JSON); refusals of unverified bytes are
    logged too, with peer ``unverified``."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger if logger is not None else logging.getLogger(EXCHANGE_LOGGER)

    def exchange_done(self, record: ExchangeRecord) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        fields = asdict(record)
        fields["duration_ms"] = round(fields.pop("duration") * 1000, 3)
        self.logger.info("exchange", extra={"deltafed": fields})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message``, and the fields
    an :class:`ExchangeLogger` attached; a traceback, if any, as ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "deltafed", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=str)


def configure_logging(level: str = "info", *, json_lines: bool = True) -> None:
    """Send deltafed's logs (``deltafed.*``) to standard error at ``level``, one JSON object
    per line (or plain text), replacing a handler this function installed before.

    ``deltafed serve`` calls it; an application embedding a node configures logging its own
    way (attach :class:`JsonFormatter` to a handler of the ``deltafed`` logger).
    """
    name = level.lower()
    if name not in LOG_LEVELS:
        raise ConfigurationError(f"log level must be one of {', '.join(LOG_LEVELS)}, not {level!r}")
    root = logging.getLogger("deltafed")
    for handler in list(root.handlers):
        if getattr(handler, "_deltafed", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler._deltafed = True  # type: ignore[attr-defined]
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(name.upper())
