"""Polling the publication point: live trust updates with no restart.

A :class:`RegistryPoller` asks a source (:class:`~deltafed.registry.RegistryClient`,
:class:`~deltafed.registry.AsyncRegistryClient` or :class:`~deltafed.registry.RegistryFile`)
to refresh its :class:`TrustedRegistry` every ``interval`` seconds. The source verifies and
walks every new version and switches to it in one step, so requests being answered keep
going; a failed poll changes nothing and is recorded in :attr:`RegistryPoller.status` (what
``/health`` and ``/metrics`` report). Tests and operators trigger a poll with :meth:`poll`.
"""

from __future__ import annotations

import inspect
import logging
import math
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import anyio
import anyio.to_thread

from deltafed._clock import Clock, system_clock
from deltafed._errors import ConfigurationError, DeltafedError, InternalError
from deltafed.registry._models import RegistryDocument
from deltafed.registry._trusted import TrustedRegistry

__all__ = ["PollStatus", "RegistryPoller", "RegistrySource"]

_log = logging.getLogger("deltafed.registry")


class RegistrySource(Protocol):
    """Something that refreshes a trusted registry from a publication point."""

    @property
    def trusted(self) -> TrustedRegistry: ...

    @property
    def location(self) -> str: ...

    def refresh(self) -> bool | Awaitable[bool]: ...


@dataclass(slots=True)
class PollStatus:
    """What the polls so far did; read by health and metrics."""

    polls: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    updates: int = 0
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    #: The error code of the last failed poll, cleared by a successful one.
    last_error: str | None = None

    @property
    def failing(self) -> bool:
        """Whether the last poll failed (the last verified version stays in force)."""
        return self.consecutive_failures > 0


class RegistryPoller:
    """Refreshes ``source`` every ``interval`` seconds; see the module docstring.

    ``on_update`` is called with the newly trusted document after a poll changed the version
    (e.g. to record it in a trusted-state store shared by replicas).
    """

    def __init__(
        self,
        source: RegistrySource,
        *,
        interval: float = 60.0,
        clock: Clock = system_clock,
        on_update: Callable[[RegistryDocument], None] | None = None,
    ) -> None:
        if not (math.isfinite(interval) and interval > 0):
            raise ConfigurationError("the registry poll interval must be a positive number")
        self.source = source
        self.interval = float(interval)
        self.status = PollStatus()
        self._clock = clock
        self._on_update = on_update
        self._async_lock = anyio.Lock()
        self._thread_lock = threading.Lock()

    @property
    def trusted(self) -> TrustedRegistry:
        return self.source.trusted

    async def poll(self) -> bool:
        """One poll now; whether the trusted version changed. Failures are recorded, not
        raised (the last verified version stays in force)."""
        async with self._async_lock:
            refresh = self.source.refresh
            if inspect.iscoroutinefunction(refresh):
                return self._record(await self._attempt_async(refresh))
            return self._record(await anyio.to_thread.run_sync(self._attempt, refresh))

    def poll_blocking(self) -> bool:
        """:meth:`poll` for a synchronous source, from synchronous code."""
        refresh = self.source.refresh
        if inspect.iscoroutinefunction(refresh):
            raise ConfigurationError("an asynchronous source is polled with await poll()")
        return self._record(self._attempt(refresh))

    async def run(self) -> None:
        """Poll now and then every ``interval`` seconds, until cancelled."""
        while True:
            await self.poll()
            await anyio.sleep(self.interval)

    def _attempt(self, refresh: Callable[[], object]) -> bool | DeltafedError:
        with self._thread_lock:
            try:
                return bool(refresh())
            except DeltafedError as exc:
                return exc
            except Exception as exc:  # noqa: BLE001 - a poll must never kill the node
                _log.exception("registry poll of %s failed unexpectedly", self.source.location)
                return InternalError(f"unexpected failure: {type(exc).__name__}")

    async def _attempt_async(self, refresh: Callable[[], Awaitable[bool]]) -> bool | DeltafedError:
        try:
            return bool(await refresh())
        except DeltafedError as exc:
            return exc
        except Exception as exc:  # noqa: BLE001 - a poll must never kill the node
            _log.exception("registry poll of %s failed unexpectedly", self.source.location)
            return InternalError(f"unexpected failure: {type(exc).__name__}")

    def _record(self, outcome: bool | DeltafedError) -> bool:
        status = self.status
        now = self._clock()
        status.polls += 1
        status.last_attempt = now
        if isinstance(outcome, DeltafedError):
            status.failures += 1
            status.consecutive_failures += 1
            status.last_error = outcome.code
            _log.warning(
                "registry poll of %s failed (%s): %s; version %s stays in force",
                self.source.location,
                outcome.code,
                outcome,
                self.trusted.version,
            )
            return False
        status.consecutive_failures = 0
        status.last_error = None
        status.last_success = now
        if outcome:
            status.updates += 1
            if self._on_update is not None:
                self._on_update(self.trusted.current)
        return outcome
