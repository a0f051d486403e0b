"""RegistryClient over pytest-httpx: caching, retries, failures leave the state unchanged."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from deltafed import (
    ConfigurationError,
    PeerTimeoutError,
    RetryPolicy,
    RollbackError,
    SizeLimitError,
    ThresholdNotMetError,
    TransportError,
)
from deltafed.registry import AsyncRegistryClient, RegistryClient, TrustedRegistry

URL = "https://anchor.example.test/registry.jws"


#: Three tries, no waits.
NO_WAIT = RetryPolicy.no_wait(attempts=3)


def _client(world: Any, http: httpx.Client, retry: RetryPolicy = NO_WAIT) -> RegistryClient:
    trusted = TrustedRegistry(world.anchor(), clock=world.clock)
    return RegistryClient(trusted, URL, http=http, retry=retry)


def test_refresh_caches_with_etag(world: Any, httpx_mock: HTTPXMock) -> None:
    v1 = world.signed(world.doc(1))
    httpx_mock.add_response(url=URL, content=v1, headers={"ETag": '"v1"'})
    httpx_mock.add_response(url=URL, status_code=304, match_headers={"If-None-Match": '"v1"'})
    with httpx.Client() as http:
        client = _client(world, http)
        assert client.refresh() is True
        assert client.trusted.version == 1
        assert client.refresh() is False
    first, second = httpx_mock.get_requests()
    assert "If-None-Match" not in first.headers
    assert second.headers["If-None-Match"] == '"v1"'
    # The registry's media type (protocol §15.1), whatever type the server then sends.
    assert first.headers["Accept"].startswith("application/deltafed-registry+jws")


def test_same_version_again_is_unchanged(world: Any, httpx_mock: HTTPXMock) -> None:
    v1 = world.signed(world.doc(1))
    httpx_mock.add_response(url=URL, content=v1, is_reusable=True)
    with httpx.Client() as http:
        client = _client(world, http)
        assert client.refresh() is True
        assert client.refresh() is False


# name, list of responses ("status" int or an exception), expected error, requests made
RETRY_CASES = [
    ("5xx-then-ok", [503, 200], None, 2),
    ("connect-error-then-ok", [httpx.ConnectError("refused"), 200], None, 2),
    ("timeout-then-ok", [httpx.ReadTimeout("slow"), 200], None, 2),
    ("429-then-ok", [429, 200], None, 2),
    ("5xx-exhausted", [500, 502, 503], TransportError, 3),
    ("timeouts-exhausted", [httpx.ConnectTimeout("t")] * 3, PeerTimeoutError, 3),
    ("404-not-retried", [404], TransportError, 1),
    ("403-not-retried", [403], TransportError, 1),
    ("redirect-not-followed", [302], TransportError, 1),
]


@pytest.mark.parametrize(
    ("responses", "expected", "requests"),
    [row[1:] for row in RETRY_CASES],
    ids=[row[0] for row in RETRY_CASES],
)
def test_retries(
    world: Any,
    httpx_mock: HTTPXMock,
    responses: list[Any],
    expected: type[Exception] | None,
    requests: int,
) -> None:
    body = world.signed(world.doc(1))
    for item in responses:
        if isinstance(item, Exception):
            httpx_mock.add_exception(item, url=URL)
        elif item == 200:
            httpx_mock.add_response(url=URL, content=body)
        else:
            httpx_mock.add_response(url=URL, status_code=item)
    with httpx.Client() as http:
        client = _client(world, http)
        if expected is None:
            assert client.refresh() is True
            assert client.trusted.version == 1
        else:
            with pytest.raises(expected) as info:
                client.refresh()
            assert client.trusted.version is None
            if not isinstance(responses[0], int):
                assert isinstance(info.value.__cause__, httpx.HTTPError)
    assert len(httpx_mock.get_requests()) == requests


# policy, list of responses, expected error, requests made
POLICY_CASES = [
    ("one-attempt", RetryPolicy(attempts=1), [503], TransportError, 1),
    ("two-attempts", RetryPolicy.no_wait(attempts=2), [503, 503], TransportError, 2),
    (
        "only-timeouts-retried",
        RetryPolicy(attempts=3, initial_wait=0, max_wait=0, retry_on=(PeerTimeoutError,)),
        [httpx.ReadTimeout("slow"), 503],
        TransportError,
        2,
    ),
    (
        "deadline-before-the-first-wait-ends",
        RetryPolicy(attempts=3, initial_wait=3600, max_wait=3600, jitter=0, deadline=1),
        [httpx.ConnectError("refused")],
        TransportError,
        1,
    ),
]


@pytest.mark.parametrize(
    ("policy", "responses", "expected", "requests"),
    [row[1:] for row in POLICY_CASES],
    ids=[row[0] for row in POLICY_CASES],
)
@pytest.mark.anyio
async def test_both_twins_honour_the_policy(
    world: Any,
    httpx_mock: HTTPXMock,
    policy: RetryPolicy,
    responses: list[Any],
    expected: type[Exception],
    requests: int,
) -> None:
    for item in [*responses, *responses]:  # once for each twin
        if isinstance(item, Exception):
            httpx_mock.add_exception(item, url=URL)
        else:
            httpx_mock.add_response(url=URL, status_code=item)
    with httpx.Client() as http, pytest.raises(expected):
        _client(world, http, policy).refresh()
    assert len(httpx_mock.get_requests()) == requests
    async with httpx.AsyncClient() as async_http:
        trusted = TrustedRegistry(world.anchor(), clock=world.clock)
        client = AsyncRegistryClient(trusted, URL, http=async_http, retry=policy)
        with pytest.raises(expected):
            await client.refresh()
    assert len(httpx_mock.get_requests()) == 2 * requests


def test_untrusted_download_keeps_state_and_etag(world: Any, httpx_mock: HTTPXMock) -> None:
    v2 = world.signed(world.doc(2))
    forged = world.signed(world.doc(3), (3,))  # not the anchor
    old = world.signed(world.doc(1))
    httpx_mock.add_response(url=URL, content=v2, headers={"ETag": '"v2"'})
    httpx_mock.add_response(url=URL, content=forged, headers={"ETag": '"v3"'})
    httpx_mock.add_response(url=URL, content=old, headers={"ETag": '"v1"'})
    httpx_mock.add_response(url=URL, status_code=304, match_headers={"If-None-Match": '"v2"'})
    with httpx.Client() as http:
        client = _client(world, http)
        assert client.refresh() is True
        with pytest.raises(ThresholdNotMetError):
            client.refresh()
        with pytest.raises(RollbackError):
            client.refresh()
        assert client.trusted.version == 2
        assert client.refresh() is False  # the ETag of the last good file is still sent


def test_oversized_download_is_refused(world: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=URL, content=b" " * 2048)
    with httpx.Client() as http:
        trusted = TrustedRegistry(world.anchor(), clock=world.clock)
        client = RegistryClient(
            trusted, URL, http=http, retry=RetryPolicy.no_wait(), max_bytes=1024
        )
        with pytest.raises(SizeLimitError):
            client.refresh()
        assert trusted.version is None


def test_owns_its_http_client(world: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=URL, content=world.signed(world.doc(1)))
    trusted = TrustedRegistry(world.anchor(), clock=world.clock)
    with RegistryClient(trusted, URL, retry=RetryPolicy.no_wait()) as client:
        assert client.refresh() is True
    with pytest.raises(ConfigurationError, match="http"):
        RegistryClient(trusted, "file:///etc/passwd")
    with pytest.raises(ConfigurationError, match="retry must be a RetryPolicy"):
        AsyncRegistryClient(trusted, URL, retry=2)  # type: ignore[arg-type]


# --- the async twin ------------------------------------------------------------------------


def _async_client(world: Any, http: httpx.AsyncClient) -> AsyncRegistryClient:
    trusted = TrustedRegistry(world.anchor(), clock=world.clock)
    return AsyncRegistryClient(trusted, URL, http=http, retry=RetryPolicy.no_wait(attempts=3))


@pytest.mark.anyio
async def test_async_refresh_retries_and_caches(world: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=URL)
    httpx_mock.add_response(url=URL, status_code=502)
    httpx_mock.add_response(url=URL, content=world.signed(world.doc(1)), headers={"ETag": '"a"'})
    httpx_mock.add_response(url=URL, status_code=304, match_headers={"If-None-Match": '"a"'})
    async with httpx.AsyncClient() as http:
        client = _async_client(world, http)
        assert await client.refresh() is True
        assert client.trusted.version == 1
        assert await client.refresh() is False
    assert len(httpx_mock.get_requests()) == 4


@pytest.mark.anyio
async def test_async_failures(world: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=URL, is_reusable=True)
    async with httpx.AsyncClient() as http:
        client = _async_client(world, http)
        with pytest.raises(PeerTimeoutError):
            await client.refresh()
    assert len(httpx_mock.get_requests()) == 3
    httpx_mock.reset()
    httpx_mock.add_response(url=URL, content=world.signed(world.doc(1), (3,)))
    httpx_mock.add_response(url=URL, status_code=404)
    async with httpx.AsyncClient() as http:
        client = _async_client(world, http)
        with pytest.raises(ThresholdNotMetError):
            await client.refresh()
        with pytest.raises(TransportError):
            await client.refresh()
        assert client.trusted.version is None
