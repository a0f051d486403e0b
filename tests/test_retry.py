"""The one RetryPolicy: its checks, its wait schedule, and the loop that applies it.

Nothing sleeps: the loop takes the sleep, the clock and the random draw as arguments, and the
tests record what it asked for."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from deltafed import (
    AdapterTimeoutError,
    AdapterUnavailableError,
    ConfigurationError,
    NotAuthorizedError,
    PeerTimeoutError,
    RetryPolicy,
    SignatureInvalidError,
    TransportError,
)
from deltafed._retry import TRANSIENT_ERRORS, RetryableError, call_async, call_sync

# --- checks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attempts": 0}, "attempts must be a whole number from 1 to 100 (the first try"),
        ({"attempts": 101}, "attempts must be a whole number from 1 to 100"),
        ({"attempts": True}, "attempts must be a whole number"),
        ({"attempts": 2.0}, "attempts must be a whole number"),
        ({"initial_wait": -1}, "initial_wait must be a number from 0 to 86400, got -1"),
        ({"initial_wait": math.nan}, "initial_wait must be a number"),
        ({"max_wait": math.inf}, "max_wait must be a number"),
        ({"max_wait": 1.0, "initial_wait": 5.0}, "max_wait (1.0) is shorter than initial_wait"),
        ({"multiplier": 0.5}, "multiplier must be a number from 1 to 10"),
        ({"jitter": 1.5}, "jitter must be a number from 0 to 1"),
        ({"jitter": "full"}, "jitter must be a number"),
        ({"deadline": 0}, "deadline must be more than 0 seconds"),
        ({"deadline": -3}, "deadline must be a number from 0 to 86400"),
        ({"retry_on": [TransportError]}, "retry_on must be a tuple of error classes"),
        ({"retry_on": (NotAuthorizedError,)}, "is not a transient error; only TransportError"),
        ({"retry_on": (ValueError,)}, "is not a transient error"),
    ],
)
def test_bad_values_are_refused_clearly(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        RetryPolicy(**kwargs)
    assert message in info.value.message
    assert info.value.field == next(iter(kwargs))


def test_defaults() -> None:
    policy = RetryPolicy()
    assert policy.attempts == 3
    assert policy.retry_on == TRANSIENT_ERRORS
    assert policy.deadline is None
    assert policy.schedule() == (0.1, 0.2)


def test_the_policy_is_frozen() -> None:
    with pytest.raises(AttributeError):
        RetryPolicy().attempts = 5  # type: ignore[misc]


def test_subclasses_of_transient_errors_may_be_retried() -> None:
    class SlowPeerError(PeerTimeoutError):
        pass

    assert RetryPolicy(retry_on=(SlowPeerError,)).retries(SlowPeerError("x"))
    assert not RetryPolicy(retry_on=(SlowPeerError,)).retries(PeerTimeoutError("x"))


# --- the schedule --------------------------------------------------------------------------


def test_schedule_grows_by_the_multiplier_up_to_max_wait() -> None:
    policy = RetryPolicy(attempts=6, initial_wait=0.5, multiplier=3, max_wait=10, jitter=0)
    assert policy.schedule() == (0.5, 1.5, 4.5, 10.0, 10.0)
    assert [policy.wait(n) for n in range(1, 6)] == [0.5, 1.5, 4.5, 10.0, 10.0]


def test_one_attempt_has_no_wait() -> None:
    assert RetryPolicy(attempts=1).schedule() == ()


def test_no_wait_waits_nothing() -> None:
    policy = RetryPolicy.no_wait(attempts=4)
    assert policy.attempts == 4
    assert policy.schedule() == (0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("jitter", "draw", "expected"),
    [(0.0, 0.99, 0.8), (1.0, 0.0, 0.8), (1.0, 0.5, 0.4), (0.25, 0.5, 0.7), (1.0, 0.999, 0.0008)],
)
def test_jitter_shortens_a_wait_by_at_most_its_share(
    jitter: float, draw: float, expected: float
) -> None:
    policy = RetryPolicy(attempts=5, initial_wait=0.2, max_wait=5, jitter=jitter)
    assert policy.wait(3, draw=lambda: draw) == pytest.approx(expected)


def test_a_large_failure_count_does_not_overflow() -> None:
    policy = RetryPolicy(attempts=100, initial_wait=1, multiplier=10, max_wait=60, jitter=0)
    assert policy.wait(99) == 60.0


def test_failures_count_from_one() -> None:
    with pytest.raises(ValueError, match="failures counts from 1"):
        RetryPolicy().wait(0)


# --- from a configuration table ------------------------------------------------------------


def test_from_config_reads_the_field_names() -> None:
    policy = RetryPolicy.from_config(
        {"attempts": 5, "initial_wait": 1, "max_wait": 30.5, "retry_on": ["timeout"]}
    )
    assert policy == RetryPolicy(
        attempts=5, initial_wait=1.0, max_wait=30.5, retry_on=(PeerTimeoutError,)
    )


def test_from_config_keeps_the_base_for_missing_keys() -> None:
    base = RetryPolicy(attempts=8, initial_wait=2, max_wait=3600, jitter=0)
    assert RetryPolicy.from_config({"attempts": 4}, base=base) == RetryPolicy(
        attempts=4, initial_wait=2, max_wait=3600, jitter=0
    )
    assert RetryPolicy.from_config({}, base=base) == base


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"retries": 3}, "[state.retry]: unknown keys ['retries'] (known: attempts, deadline"),
        ({"max_attempts": 3}, "unknown keys ['max_attempts']"),
        ({"attempts": "3"}, "[state.retry] attempts must be a whole number"),
        ({"initial_wait": "1s"}, "[state.retry] initial_wait must be a number of seconds"),
        ({"jitter": True}, "[state.retry] jitter must be a number of seconds"),
        ({"attempts": 0}, "[state.retry] retry attempts must be a whole number from 1 to 100"),
        ({"retry_on": "timeout"}, "[state.retry] retry_on must be a list of error codes"),
        ({"retry_on": ["not_authorized"]}, "['not_authorized'] are not transient error codes"),
    ],
)
def test_from_config_refuses_what_it_cannot_read(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        RetryPolicy.from_config(table, where="state.retry")
    assert message in info.value.message


def test_from_config_needs_a_table() -> None:
    with pytest.raises(ConfigurationError, match=r"\[retry\] must be a table"):
        RetryPolicy.from_config(3)  # type: ignore[arg-type]


# --- the loop, sync and async twins --------------------------------------------------------


class Script:
    """An operation that fails with the scripted errors, then returns "done"; and a fake clock
    that the injected sleep moves."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls = 0
        self.now = 100.0
        self.slept: list[float] = []

    def step(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def run(kind: str, policy: RetryPolicy, script: Script, draw: Callable[[], float]) -> Any:
    if kind == "sync":
        return call_sync(
            policy, script.step, sleep=script.sleep, monotonic=lambda: script.now, draw=draw
        )

    async def step() -> str:
        return script.step()

    async def sleep(seconds: float) -> None:
        script.sleep(seconds)

    async def go() -> Any:
        return await call_async(policy, step, sleep=sleep, monotonic=lambda: script.now, draw=draw)

    return anyio.run(go)


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def transient(error: Exception) -> RetryableError:
    assert isinstance(error, TRANSIENT_ERRORS)
    return RetryableError(error)


def test_the_loop_waits_the_schedule_then_succeeds(kind: str) -> None:
    policy = RetryPolicy(attempts=4, initial_wait=0.5, multiplier=2, max_wait=10, jitter=0.5)
    script = Script(transient(TransportError("down")), transient(PeerTimeoutError("slow")))
    assert run(kind, policy, script, draw=lambda: 0.5) == "done"
    assert script.calls == 3
    assert script.slept == [0.375, 0.75]  # 0.5 and 1.0, each shortened by 0.5 * 0.5


def test_the_loop_stops_after_the_attempts_with_the_last_failure(kind: str) -> None:
    errors = [TransportError(f"down {n}") for n in range(3)]
    script = Script(*(transient(e) for e in errors))
    with pytest.raises(RetryableError) as info:
        run(kind, RetryPolicy.no_wait(attempts=3), script, draw=lambda: 0.0)
    assert info.value.error is errors[2]
    assert script.calls == 3
    assert script.slept == [0.0, 0.0]


def test_the_loop_does_not_retry_what_is_not_marked_transient(kind: str) -> None:
    # Even a TransportError raised bare is final: only the component knows it was transient.
    for error in (SignatureInvalidError("bad"), TransportError("HTTP 404"), KeyError("bug")):
        script = Script(error)
        with pytest.raises(type(error)):
            run(kind, RetryPolicy.no_wait(attempts=5), script, draw=lambda: 0.0)
        assert script.calls == 1
        assert script.slept == []


def test_the_loop_retries_only_the_classes_in_retry_on(kind: str) -> None:
    policy = RetryPolicy(attempts=5, initial_wait=0, max_wait=0, retry_on=(AdapterTimeoutError,))
    script = Script(
        transient(AdapterTimeoutError("slow")), transient(AdapterUnavailableError("down"))
    )
    with pytest.raises(RetryableError) as info:
        run(kind, policy, script, draw=lambda: 0.0)
    assert isinstance(info.value.error, AdapterUnavailableError)
    assert script.calls == 2


def test_the_loop_takes_no_wait_that_ends_after_the_deadline(kind: str) -> None:
    # Waits of 0.4 s, 0.8 s, 1.6 s: the first ends at 0.4 s (before the 1 s deadline), the
    # second would end at 1.2 s, so the loop stops after the second try.
    policy = RetryPolicy(attempts=10, initial_wait=0.4, max_wait=10, jitter=0, deadline=1.0)
    script = Script(*(transient(TransportError("down")) for _ in range(10)))
    with pytest.raises(RetryableError):
        run(kind, policy, script, draw=lambda: 0.0)
    assert script.calls == 2
    assert script.slept == [0.4]


def test_no_second_try_when_the_first_wait_ends_after_the_deadline(kind: str) -> None:
    policy = RetryPolicy(attempts=10, initial_wait=0.4, max_wait=10, jitter=0, deadline=0.3)
    first = transient(TransportError("down"))
    script = Script(first, transient(TransportError("down again")))
    with pytest.raises(RetryableError) as info:
        run(kind, policy, script, draw=lambda: 0.0)
    assert info.value is first
    assert script.calls == 1
    assert script.slept == []


def test_one_attempt_means_one_try(kind: str) -> None:
    first = transient(TransportError("down"))
    script = Script(first)
    with pytest.raises(RetryableError) as info:
        run(kind, RetryPolicy.no_wait(attempts=1), script, draw=lambda: 0.0)
    assert info.value is first
    assert script.calls == 1
    assert script.slept == []


def test_a_success_at_once_neither_waits_nor_draws(kind: str) -> None:
    def draw() -> float:
        raise AssertionError("no wait is computed for a call that succeeds at once")

    script = Script()
    assert run(kind, RetryPolicy(attempts=3, initial_wait=1, max_wait=1), script, draw) == "done"
    assert script.calls == 1
    assert script.slept == []


def test_the_async_loop_awaits_what_a_plain_function_returns() -> None:
    # A lambda returning a coroutine (as the registry client passes) is awaited, not returned.
    script = Script(transient(TransportError("down")))

    async def step() -> str:
        return script.step()

    async def go() -> Any:
        return await call_async(RetryPolicy.no_wait(), lambda: step())

    assert anyio.run(go) == "done"
    assert script.calls == 2
