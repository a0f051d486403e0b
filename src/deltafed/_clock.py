"""Time is read in one place and injected everywhere else.

Every check that depends on the time takes a ``now`` argument or a :data:`Clock`; only
:func:`system_clock` reads the real time, so tests can fix or move it without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = ["Clock", "FixedClock", "SimulatedClock", "system_clock"]

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to; for tests and deterministic demos."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = start

    def __call__(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = when

    def advance(self, seconds: float) -> None:
        self._now = self._now + timedelta(seconds=seconds)


class SimulatedClock:
    """A clock that starts at ``start`` and runs at the real pace from there.

    For a self-contained federation (the in-process conformance target, tests with servers)
    whose outcome must not depend on the year it runs in: the working-day calendar knows only
    the years it ships (:mod:`deltafed._workdays`), so such a run is placed at a date it knows
    while expiries, leases and timeouts still see time pass. Never for a node that talks to
    the real world: its peers check times against their own clocks.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs a timezone-aware datetime")
        self.start = start.astimezone(UTC)
        self._origin = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._origin)
