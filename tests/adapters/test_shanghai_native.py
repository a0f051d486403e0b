"""The modelled Shanghai licence platform protocol, against pytest-httpx."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from pytest_httpx import HTTPXMock

from deltafed import (
    AdapterAuthError,
    AdapterDataError,
    AdapterError,
    AdapterQuotaError,
    AdapterTimeoutError,
    FixedClock,
    RetryPolicy,
)
from deltafed.adapters._http import HttpSettings, NativeHttp
from deltafed.adapters.shanghai import (
    SHANGHAI_CODES,
    ShanghaiCredentials,
    ShanghaiLicenceClient,
    canonical_request,
    sh_signature,
)

pytestmark = pytest.mark.anyio

BASE = "https://sh.example"
TOKEN = f"{BASE}/oauth2/token"
STATUS = f"{BASE}/api/v2/licences/X/status"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def token_answer(token: str, expires: int = 1800) -> dict[str, Any]:
    return {"access_token": token, "token_type": "Bearer", "expires_in": expires}


def fail(code: str) -> dict[str, Any]:
    return {"success": False, "errorCode": code, "errorMsg": "m", "result": None}


OK = {"success": True, "errorCode": None, "errorMsg": None, "result": {"status": "VALID"}}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def client(clock: FixedClock) -> ShanghaiLicenceClient:
    counter = itertools.count(1)
    return ShanghaiLicenceClient(
        NativeHttp(HttpSettings(base_url=BASE)),
        ShanghaiCredentials("client-1", "client-secret"),
        clock=clock,
        retry=RetryPolicy.no_wait(attempts=3),
        nonce=lambda: f"nonce-{next(counter)}",
    )


def test_signature_known_answer() -> None:
    canonical = canonical_request(
        "get", "/api/v2/licences/X/status", "2026-01-01T00:00:00Z", "nonce-1", b""
    )
    assert canonical == (
        f"GET\n/api/v2/licences/X/status\n2026-01-01T00:00:00Z\nnonce-1\n{EMPTY_SHA256}"
    )
    # base64(HMAC-SHA256("client-secret", canonical)), computed independently with openssl.
    assert (
        sh_signature("client-secret", canonical) == "L4zbBaDbrVYPyEb2caIYp/xEIpI78lbQDmn3Q8wEq5E="
    )


async def test_token_then_signed_request(
    client: ShanghaiLicenceClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=TOKEN, method="POST", json=token_answer("tok-1"))
    httpx_mock.add_response(url=STATUS, method="GET", json=OK)
    assert await client.call("GET", "/api/v2/licences/X/status") == {"status": "VALID"}
    first, second = httpx_mock.get_requests()
    assert dict(parse_qsl(first.content.decode())) == {
        "grant_type": "client_credentials",
        "client_id": "client-1",
        "client_secret": "client-secret",
    }
    assert second.headers["authorization"] == "Bearer tok-1"
    assert second.headers["x-sh-client-id"] == "client-1"
    assert second.headers["x-sh-timestamp"] == "2026-01-01T00:00:00Z"
    assert second.headers["x-sh-nonce"] == "nonce-1"
    assert second.headers["x-sh-signature"] == "L4zbBaDbrVYPyEb2caIYp/xEIpI78lbQDmn3Q8wEq5E="


async def test_body_and_query_are_signed(
    client: ShanghaiLicenceClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-1"))
    httpx_mock.add_response(method="POST", json=OK)
    await client.call("POST", "/api/v2/records/r/query", params={"a": "1 2"}, body={"x": "值"})
    request = httpx_mock.get_requests()[1]
    assert request.url.raw_path == b"/api/v2/records/r/query?a=1+2"
    assert json.loads(request.content) == {"x": "值"}
    canonical = canonical_request(
        "POST", "/api/v2/records/r/query?a=1+2", "2026-01-01T00:00:00Z", "nonce-1", request.content
    )
    assert request.headers["x-sh-signature"] == sh_signature("client-secret", canonical)


@pytest.mark.parametrize("code", ["A0230", "A0231"])
async def test_refused_token_is_renewed_and_the_call_retried_once(
    client: ShanghaiLicenceClient, httpx_mock: HTTPXMock, code: str
) -> None:
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-1"))
    httpx_mock.add_response(url=STATUS, status_code=401, json=fail(code))
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-2"))
    httpx_mock.add_response(url=STATUS, json=OK)
    await client.call("GET", "/api/v2/licences/X/status")
    requests = httpx_mock.get_requests()
    assert [r.url for r in requests] == [TOKEN, STATUS, TOKEN, STATUS]
    assert requests[3].headers["authorization"] == "Bearer tok-2"


async def test_token_renewed_before_it_ends(
    client: ShanghaiLicenceClient, httpx_mock: HTTPXMock, clock: FixedClock
) -> None:
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-1"))
    httpx_mock.add_response(url=STATUS, json=OK, is_reusable=True)
    await client.call("GET", "/api/v2/licences/X/status")
    clock.advance(1800 - 59)
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-2"))
    await client.call("GET", "/api/v2/licences/X/status")
    assert [r.url for r in httpx_mock.get_requests()] == [TOKEN, STATUS, TOKEN, STATUS]


async def test_refused_twice_is_an_auth_failure(
    client: ShanghaiLicenceClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-1"))
    httpx_mock.add_response(url=STATUS, status_code=401, json=fail("A0230"))
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-2"))
    httpx_mock.add_response(url=STATUS, status_code=401, json=fail("A0230"))
    with pytest.raises(AdapterAuthError):
        await client.call("GET", "/api/v2/licences/X/status")


@pytest.mark.parametrize(
    ("status", "answer", "error"),
    [
        (401, {"error": "invalid_client"}, AdapterAuthError),
        (400, {"error": "unauthorized_client"}, AdapterAuthError),
        (429, {"error": "slow_down"}, AdapterQuotaError),
        (200, {"access_token": "t", "token_type": "mac", "expires_in": 5}, AdapterDataError),
        (200, {"token_type": "Bearer"}, AdapterDataError),
    ],
)
async def test_token_endpoint_failures(
    client: ShanghaiLicenceClient,
    httpx_mock: HTTPXMock,
    status: int,
    answer: dict[str, Any],
    error: type[Exception],
) -> None:
    httpx_mock.add_response(url=TOKEN, status_code=status, json=answer)
    with pytest.raises(AdapterError) as info:
        await client.call("GET", "/api/v2/licences/X/status")
    assert type(info.value) is error
    assert len(httpx_mock.get_requests()) == 1


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, text="oops"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.Response(200, json=fail("B0001")),
        httpx.Response(200, json=fail("B0210")),
    ],
    ids=["500", "connect", "timeout", "B0001", "B0210"],
)
async def test_transient_failure_is_retried(
    client: ShanghaiLicenceClient, httpx_mock: HTTPXMock, failure: httpx.Response | Exception
) -> None:
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-1"))
    if isinstance(failure, Exception):
        httpx_mock.add_exception(failure, url=STATUS)
    else:
        httpx_mock.add_response(
            url=STATUS, status_code=failure.status_code, content=failure.content
        )
    httpx_mock.add_response(url=STATUS, json=OK)
    await client.call("GET", "/api/v2/licences/X/status")
    assert [r.url for r in httpx_mock.get_requests()] == [TOKEN, STATUS, STATUS]


async def test_retries_are_bounded(client: ShanghaiLicenceClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-1"))
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=STATUS, is_reusable=True)
    with pytest.raises(AdapterTimeoutError):
        await client.call("GET", "/api/v2/licences/X/status")
    assert len(httpx_mock.get_requests()) == 4


PERMANENT = {
    code: cls
    for code, (cls, _) in SHANGHAI_CODES.items()
    if code not in {"A0230", "A0231", "B0001", "B0210"}
}


@pytest.mark.parametrize(("code", "error"), sorted(PERMANENT.items()))
async def test_every_permanent_code_is_mapped_and_not_retried(
    client: ShanghaiLicenceClient, httpx_mock: HTTPXMock, code: str, error: type[Exception]
) -> None:
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-1"))
    httpx_mock.add_response(url=STATUS, json=fail(code))
    with pytest.raises(error) as info:
        await client.call("GET", "/api/v2/licences/X/status")
    assert type(info.value) is error
    assert len(httpx_mock.get_requests()) == 2


def test_code_table_covers_the_documented_codes() -> None:
    assert set(SHANGHAI_CODES) == {
        "A0230", "A0231", "A0301", "A0340", "A0341", "A0400", "A0410", "A0501", "B0001", "B0210"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"<html>", AdapterDataError),
        (b'{"success": "yes"}', AdapterDataError),
        (b'{"success": true}', AdapterDataError),
        (b'{"success": false}', AdapterDataError),
        (b'{"success": false, "errorCode": "C9999"}', AdapterError),
    ],
)
async def test_malformed_answers(
    client: ShanghaiLicenceClient, httpx_mock: HTTPXMock, answer: bytes, error: type[Exception]
) -> None:
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-1"))
    httpx_mock.add_response(url=STATUS, content=answer)
    with pytest.raises(AdapterError) as info:
        await client.call("GET", "/api/v2/licences/X/status")
    assert type(info.value) is error


def test_credentials_hide_the_secret() -> None:
    assert "client-secret" not in repr(ShanghaiCredentials("client-1", "client-secret"))
