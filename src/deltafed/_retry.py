"""The one retry policy of deltafed, and the loop that applies it (on tenacity).

:class:`RetryPolicy` says how a failed operation is tried again: how many tries in all, the
waits between them, which failures may be retried and by when the last try must start. The
federation clients, the registry clients, the province adapters and the event outbox all take
one, and the first three run it through :func:`call_sync` / :func:`call_async` below.

Only a failure the component knows to be *transient* is ever retried, and only when trying
again cannot act twice: a dropped connection, a timeout, a gateway answer, a province platform
that is down. A component marks such a failure by raising :class:`RetryableError` around the
:class:`~deltafed.DeltafedError` that describes it; the policy's ``retry_on`` then chooses among
those. A refusal, a bad signature or a malformed answer is never retried, whatever the policy.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Final, TypeVar

import anyio
from tenacity import AsyncRetrying, RetryCallState, Retrying

from deltafed._errors import (
    AdapterTimeoutError,
    AdapterUnavailableError,
    ConfigurationError,
    DeltafedError,
    PeerTimeoutError,
    TransportError,
)

__all__ = [
    "TRANSIENT_ERRORS",
    "RetryPolicy",
    "RetryableError",
    "call_async",
    "call_sync",
]

_T = TypeVar("_T")

#: The error classes a retry may cure: nothing reached the other side, or it could not act.
TRANSIENT_ERRORS: Final[tuple[type[DeltafedError], ...]] = (
    TransportError,
    PeerTimeoutError,
    AdapterUnavailableError,
    AdapterTimeoutError,
)

_MAX_ATTEMPTS: Final = 100
_MAX_SECONDS: Final = 86_400.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a failed operation is tried again.

    * ``attempts``: how many times the operation is tried **in all, the first try included**
      (``1`` never retries), 1 to 100.
    * ``initial_wait``: seconds between the first and the second try; each later wait is the
      previous one times ``multiplier`` (1 to 10), and no wait is longer than ``max_wait``
      (0 to 86,400 seconds, at least ``initial_wait``).
    * ``jitter``: the share of each wait drawn at random, 0 to 1. A wait ``w`` becomes a
      uniform draw between ``w * (1 - jitter)`` and ``w``: ``0`` waits exactly, ``1`` is
      "full jitter" (anything up to ``w``), which spreads clients that failed together.
    * ``retry_on``: the transient error classes that are retried (default: all of
      :data:`TRANSIENT_ERRORS`). A class that is not transient is refused: a refusal is never
      cured by asking again.
    * ``deadline``: seconds after the first try began by which the last try must start, or
      ``None``; a wait that would end later is not taken and the last failure is raised.

    The default (3 attempts, waits of up to 0.1 s, 0.2 s... capped at 2 s, full jitter) suits
    a call someone waits for. :meth:`no_wait` is for tests and sandboxes: nothing sleeps.
    """

    attempts: int = 3
    initial_wait: float = 0.1
    multiplier: float = 2.0
    max_wait: float = 2.0
    jitter: float = 1.0
    retry_on: tuple[type[DeltafedError], ...] = TRANSIENT_ERRORS
    deadline: float | None = None

    def __post_init__(self) -> None:
        if type(self.attempts) is not int or not 1 <= self.attempts <= _MAX_ATTEMPTS:
            raise ConfigurationError(
                f"retry attempts must be a whole number from 1 to {_MAX_ATTEMPTS} (the first "
                f"try included), got {self.attempts!r}",
                field="attempts",
            )
        _check_number("initial_wait", self.initial_wait, 0.0, _MAX_SECONDS)
        _check_number("max_wait", self.max_wait, 0.0, _MAX_SECONDS)
        _check_number("multiplier", self.multiplier, 1.0, 10.0)
        _check_number("jitter", self.jitter, 0.0, 1.0)
        if self.max_wait < self.initial_wait:
            raise ConfigurationError(
                f"retry max_wait ({self.max_wait}) is shorter than initial_wait "
                f"({self.initial_wait})",
                field="max_wait",
            )
        if self.deadline is not None:
            _check_number("deadline", self.deadline, 0.0, _MAX_SECONDS)
            if self.deadline == 0:
                raise ConfigurationError(
                    "retry deadline must be more than 0 seconds (or None)", field="deadline"
                )
        if not isinstance(self.retry_on, tuple):
            raise ConfigurationError("retry_on must be a tuple of error classes", field="retry_on")
        for kind in self.retry_on:
            if not (isinstance(kind, type) and issubclass(kind, TRANSIENT_ERRORS)):
                names = ", ".join(k.__name__ for k in TRANSIENT_ERRORS)
                raise ConfigurationError(
                    f"retry_on: {kind!r} is not a transient error; only {names} (or their "
                    "subclasses) may be retried",
                    field="retry_on",
                )

    @classmethod
    def no_wait(cls, attempts: int = 3) -> RetryPolicy:
        """``attempts`` tries with no wait between them: for tests and sandboxes."""
        return cls(attempts=attempts, initial_wait=0.0, max_wait=0.0)

    @classmethod
    def from_config(
        cls, table: Mapping[str, Any], *, where: str = "retry", base: RetryPolicy | None = None
    ) -> RetryPolicy:
        """A policy from a configuration table whose keys are this class's field names.

        ``retry_on`` is given as a list of error codes (``["transport_error", "timeout"]``).
        Missing keys keep their values in ``base`` (default: ``RetryPolicy()``); unknown keys
        and wrong types are refused. ``where`` names the table in error messages.
        """
        if not isinstance(table, Mapping):
            raise ConfigurationError(f"[{where}] must be a table")
        known = {f.name for f in fields(cls)}
        extra = set(table) - known
        if extra:
            raise ConfigurationError(
                f"[{where}]: unknown keys {sorted(extra)} (known: {', '.join(sorted(known))})"
            )
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key == "retry_on":
                values[key] = _classes_from_codes(value, where)
            elif key == "attempts":
                if type(value) is not int:
                    raise ConfigurationError(f"[{where}] attempts must be a whole number")
                values[key] = value
            else:
                if type(value) not in (int, float):
                    raise ConfigurationError(f"[{where}] {key} must be a number of seconds")
                values[key] = float(value)
        try:
            return replace(base if base is not None else cls(), **values)
        except ConfigurationError as exc:
            raise ConfigurationError(f"[{where}] {exc.message}", field=exc.field) from exc

    def wait(self, failures: int, *, draw: Callable[[], float] = random.random) -> float:
        """Seconds to wait after the ``failures``-th failed try (1 for the first).

        ``draw`` returns a number in [0, 1) and is called only when ``jitter`` is not 0.
        """
        if failures < 1:
            raise ValueError("failures counts from 1")
        nominal = self.initial_wait * self.multiplier ** min(failures - 1, 64)
        nominal = min(nominal, self.max_wait)
        if self.jitter == 0 or nominal == 0:
            return nominal
        return nominal * (1.0 - self.jitter * draw())

    def schedule(self) -> tuple[float, ...]:
        """The longest wait before each retry (jitter only shortens them): one per retry."""
        return tuple(self.wait(n, draw=lambda: 0.0) for n in range(1, self.attempts))

    def retries(self, error: DeltafedError) -> bool:
        """Whether this policy retries a transient failure described by ``error``."""
        return isinstance(error, self.retry_on)


def _check_number(name: str, value: object, low: float, high: float) -> None:
    if not (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and low <= value <= high
    ):
        raise ConfigurationError(
            f"retry {name} must be a number from {low:g} to {high:g}, got {value!r}", field=name
        )


def _classes_from_codes(value: object, where: str) -> tuple[type[DeltafedError], ...]:
    by_code = {kind.code: kind for kind in TRANSIENT_ERRORS}
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(f"[{where}] retry_on must be a list of error codes")
    unknown = [v for v in value if v not in by_code]
    if unknown:
        raise ConfigurationError(
            f"[{where}] retry_on: {unknown} are not transient error codes "
            f"(known: {', '.join(sorted(by_code))})"
        )
    return tuple(by_code[v] for v in value)


class RetryableError(Exception):
    """Raised by one try: ``error`` ended it, and trying again may succeed without acting twice.

    The retry loop re-raises the last one when the policy says stop; the caller then raises
    ``error`` (or, like the federation client, uses what else it carries).
    """

    def __init__(self, error: DeltafedError) -> None:
        super().__init__(error.message)
        self.error = error


def _controller_kwargs(
    policy: RetryPolicy,
    monotonic: Callable[[], float],
    draw: Callable[[], float],
    started: float,
) -> dict[str, Any]:
    # The controller takes over after the first try failed (see _first_wait): its attempt
    # 1 is the second try, so every count it gives is one less than the tries made.

    def retry(state: RetryCallState) -> bool:
        outcome = state.outcome
        if outcome is None or not outcome.failed:
            return False
        exc = outcome.exception()
        return isinstance(exc, RetryableError) and policy.retries(exc.error)

    def stop(state: RetryCallState) -> bool:
        if state.attempt_number + 1 >= policy.attempts:
            return True
        if policy.deadline is None:
            return False
        return monotonic() - started + state.upcoming_sleep > policy.deadline

    def wait(state: RetryCallState) -> float:
        return policy.wait(state.attempt_number + 1, draw=draw)

    return {"retry": retry, "stop": stop, "wait": wait, "reraise": True}


def _first_wait(
    policy: RetryPolicy,
    failure: RetryableError,
    started: float,
    monotonic: Callable[[], float],
    draw: Callable[[], float],
) -> float:
    """The wait before the second try, or raise ``failure`` if there is to be none.

    The first try runs without the retry controller: almost every call succeeds at once, and
    setting up tenacity's machinery costs more than a fast call itself (about 23 us)."""
    if policy.attempts <= 1 or not policy.retries(failure.error):
        raise failure
    delay = policy.wait(1, draw=draw)
    if policy.deadline is not None and monotonic() - started + delay > policy.deadline:
        raise failure
    return delay


def call_sync(
    policy: RetryPolicy,
    attempt: Callable[[], _T],
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    draw: Callable[[], float] = random.random,
) -> _T:
    """Call ``attempt`` until it returns, raises something else than a retried
    :class:`RetryableError`, or ``policy`` says stop (then the last one is raised)."""
    started = monotonic()
    try:
        return attempt()
    except RetryableError as failure:
        sleep(_first_wait(policy, failure, started, monotonic, draw))
    controller = Retrying(sleep=sleep, **_controller_kwargs(policy, monotonic, draw, started))
    return controller(attempt)


async def call_async(
    policy: RetryPolicy,
    attempt: Callable[[], Awaitable[_T]],
    *,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    draw: Callable[[], float] = random.random,
) -> _T:
    """The asynchronous twin of :func:`call_sync`."""
    started = monotonic()
    try:
        return await attempt()
    except RetryableError as failure:
        delay = _first_wait(policy, failure, started, monotonic, draw)
    await sleep(delay)
    controller = AsyncRetrying(sleep=sleep, **_controller_kwargs(policy, monotonic, draw, started))

    async def once() -> _T:
        # A coroutine function, so that tenacity awaits what ``attempt`` returns (a lambda
        # returning a coroutine would be taken for a plain function).
        return await attempt()

    result: _T = await controller(once)
    return result
