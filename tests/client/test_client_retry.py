"""Both clients honour their RetryPolicy: how many sends, which failures, the deadline.

Every send is the same signed bytes (the node answers an identical retransmission once), so
a retry never acts twice; what is not transient is never sent again."""

from __future__ import annotations

import httpx
import pytest
from pytest_httpx import HTTPXMock

from deltafed import PeerProblemError, PeerTimeoutError, RetryPolicy, TransportError

from .conftest import URL, Twin, World
from .test_client import RESULT, verify


def test_attempts_count_the_first_send(world: World, twin: Twin, httpx_mock: HTTPXMock) -> None:
    for _ in range(2):
        httpx_mock.add_exception(httpx.ConnectError("refused"), url=URL)
    with pytest.raises(TransportError):
        verify(twin, retry=RetryPolicy.no_wait(attempts=2))
    first, second = httpx_mock.get_requests()
    assert first.content == second.content


def test_one_attempt_sends_once(world: World, twin: Twin, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=URL, status_code=503, text="busy")
    with pytest.raises(TransportError):
        verify(twin, retry=RetryPolicy(attempts=1))
    assert len(httpx_mock.get_requests()) == 1


def test_retry_on_chooses_among_the_transient_failures(
    world: World, twin: Twin, httpx_mock: HTTPXMock
) -> None:
    only_timeouts = RetryPolicy(
        attempts=3, initial_wait=0, max_wait=0, retry_on=(PeerTimeoutError,)
    )
    # A 504 counts as a timeout: sent again. A 503 counts as a transport failure: not.
    httpx_mock.add_response(url=URL, status_code=504, text="gateway timeout")
    httpx_mock.add_callback(lambda r: world.peer.answer(r, RESULT), url=URL)
    assert verify(twin, retry=only_timeouts).valid is True
    assert len(httpx_mock.get_requests()) == 2
    httpx_mock.reset()
    httpx_mock.add_response(url=URL, status_code=503, text="busy")
    with pytest.raises(TransportError):
        verify(twin, retry=only_timeouts)
    assert len(httpx_mock.get_requests()) == 1


def test_a_refusal_is_never_retried(world: World, twin: Twin, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_callback(lambda r: world.peer.problem(r, "not_authorized", 403), url=URL)
    with pytest.raises(PeerProblemError) as info:
        verify(twin, retry=RetryPolicy.no_wait(attempts=5))
    assert info.value.problem_code == "not_authorized"
    assert len(httpx_mock.get_requests()) == 1


def test_no_wait_that_would_end_after_the_deadline(
    world: World, twin: Twin, httpx_mock: HTTPXMock
) -> None:
    # The first wait (an hour, no jitter) would end after the 1 s deadline: no second send,
    # and nothing sleeps.
    policy = RetryPolicy(attempts=3, initial_wait=3600, max_wait=3600, jitter=0, deadline=1)
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=URL)
    with pytest.raises(PeerTimeoutError):
        verify(twin, retry=policy)
    assert len(httpx_mock.get_requests()) == 1
