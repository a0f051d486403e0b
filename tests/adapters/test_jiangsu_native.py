"""The modelled Jiangsu gateway and certificate-sharing API, against pytest-httpx."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from deltafed import (
    AdapterAuthError,
    AdapterDataError,
    AdapterError,
    AdapterTimeoutError,
    FixedClock,
    RetryPolicy,
)
from deltafed.adapters._http import HttpSettings, NativeHttp
from deltafed.adapters.jiangsu import (
    JIANGSU_GATEWAY_CODES,
    JIANGSU_STATUS,
    JiangsuCertShareClient,
    JiangsuCredentials,
    tif_headers,
    tif_signature,
)

pytestmark = pytest.mark.anyio

BASE = "https://js.example"
TOKEN = f"{BASE}/cert-share/api/v1/token"
STATUS = f"{BASE}/cert-share/api/v1/certificate/status"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def head(status: int, data: Any = None) -> dict[str, Any]:
    return {"head": {"status": status, "message": "m"}, "data": data}


def token_answer(token: str, expires: int = 7200) -> dict[str, Any]:
    return head(0, {"accessToken": token, "expiresIn": expires})


OK = head(0, {"ZZBS": "x", "ZZZT": "01"})


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def client(clock: FixedClock) -> JiangsuCertShareClient:
    counter = itertools.count(1)
    return JiangsuCertShareClient(
        NativeHttp(HttpSettings(base_url=BASE)),
        JiangsuCredentials("paas-1", "paas-token", "acc-1", "acc-key"),
        clock=clock,
        retry=RetryPolicy.no_wait(attempts=3),
        nonce=lambda: f"nonce-{next(counter)}",
    )


def test_signature_known_answer() -> None:
    # sha256_hex("1767225600" + "paas-token" + "nonce-1" + "1767225600"), computed independently.
    expected = "fa58edf3851cd2071ea945d94ab91cff0df9625a901d8663da280c96067d4ffe"
    assert tif_signature("1767225600", "paas-token", "nonce-1") == expected
    assert tif_headers("paas-1", "paas-token", "1767225600", "nonce-1") == {
        "x-tif-paasid": "paas-1",
        "x-tif-timestamp": "1767225600",
        "x-tif-nonce": "nonce-1",
        "x-tif-signature": expected,
    }


def test_credentials_hide_secrets() -> None:
    text = repr(JiangsuCredentials("paas-1", "paas-token", "acc-1", "acc-key"))
    assert "paas-token" not in text
    assert "acc-key" not in text


async def test_token_then_signed_business_call(
    client: JiangsuCertShareClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=TOKEN, method="POST", json=token_answer("tok-1"))
    httpx_mock.add_response(url=STATUS, method="POST", json=OK)
    assert await client.call(STATUS.removeprefix(BASE), {"certIdentifier": "x"}) == {
        "ZZBS": "x",
        "ZZZT": "01",
    }
    first, second = httpx_mock.get_requests()
    assert json.loads(first.content) == {"accessId": "acc-1", "accessKey": "acc-key"}
    assert first.headers["x-tif-nonce"] == "nonce-1"
    assert json.loads(second.content) == {
        "accessId": "acc-1",
        "accessToken": "tok-1",
        "data": {"certIdentifier": "x"},
    }
    assert second.headers["x-tif-paasid"] == "paas-1"
    assert second.headers["x-tif-timestamp"] == "1767225600"
    assert second.headers["x-tif-nonce"] == "nonce-2"
    assert second.headers["x-tif-signature"] == tif_signature("1767225600", "paas-token", "nonce-2")


async def test_expired_token_is_renewed_and_the_call_retried_once(
    client: JiangsuCertShareClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-1"))
    httpx_mock.add_response(url=STATUS, json=head(11))
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-2"))
    httpx_mock.add_response(url=STATUS, json=OK)
    await client.call("/cert-share/api/v1/certificate/status", {})
    requests = httpx_mock.get_requests()
    assert [r.url for r in requests] == [TOKEN, STATUS, TOKEN, STATUS]
    assert json.loads(requests[3].content)["accessToken"] == "tok-2"


async def test_token_renewed_before_it_ends(
    client: JiangsuCertShareClient, httpx_mock: HTTPXMock, clock: FixedClock
) -> None:
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-1"))
    httpx_mock.add_response(url=STATUS, json=OK, is_reusable=True)
    await client.call("/cert-share/api/v1/certificate/status", {})
    clock.advance(7200 - 30)
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-2"))
    await client.call("/cert-share/api/v1/certificate/status", {})
    assert [r.url for r in httpx_mock.get_requests()] == [TOKEN, STATUS, TOKEN, STATUS]


async def test_auth_failure_twice_is_raised(
    client: JiangsuCertShareClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-1"))
    httpx_mock.add_response(url=STATUS, json=head(11))
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-2"))
    httpx_mock.add_response(url=STATUS, json=head(11))
    with pytest.raises(AdapterAuthError):
        await client.call("/cert-share/api/v1/certificate/status", {})


async def test_wrong_access_key_fails_at_the_token(
    client: JiangsuCertShareClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=TOKEN, json=head(11))
    with pytest.raises(AdapterAuthError):
        await client.call("/cert-share/api/v1/certificate/status", {})
    assert len(httpx_mock.get_requests()) == 1


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(502, text="bad gateway"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.Response(200, json=head(500)),
    ],
    ids=["502", "connect", "timeout", "status500"],
)
async def test_transient_failure_is_retried(
    client: JiangsuCertShareClient, httpx_mock: HTTPXMock, failure: httpx.Response | Exception
) -> None:
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-1"))
    if isinstance(failure, Exception):
        httpx_mock.add_exception(failure, url=STATUS)
    else:
        httpx_mock.add_response(
            url=STATUS, status_code=failure.status_code, content=failure.content
        )
    httpx_mock.add_response(url=STATUS, json=OK)
    await client.call("/cert-share/api/v1/certificate/status", {})
    assert [r.url for r in httpx_mock.get_requests()] == [TOKEN, STATUS, STATUS]
    nonces = [r.headers["x-tif-nonce"] for r in httpx_mock.get_requests()]
    assert len(set(nonces)) == 3  # a retry is a new request with a new nonce


async def test_retries_are_bounded(client: JiangsuCertShareClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-1"))
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=STATUS, is_reusable=True)
    with pytest.raises(AdapterTimeoutError):
        await client.call("/cert-share/api/v1/certificate/status", {})
    assert len(httpx_mock.get_requests()) == 4


PERMANENT_STATUS = {s: cls for s, (cls, _) in JIANGSU_STATUS.items() if s not in {11, 500}}


@pytest.mark.parametrize(("status", "error"), sorted(PERMANENT_STATUS.items()))
async def test_every_permanent_head_status_is_mapped_and_not_retried(
    client: JiangsuCertShareClient, httpx_mock: HTTPXMock, status: int, error: type[Exception]
) -> None:
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-1"))
    httpx_mock.add_response(url=STATUS, json=head(status))
    with pytest.raises(error) as info:
        await client.call("/cert-share/api/v1/certificate/status", {})
    assert type(info.value) is error
    assert len(httpx_mock.get_requests()) == 2


@pytest.mark.parametrize(
    ("errcode", "http_status"), [("1001", 401), ("1002", 401), ("1003", 401), ("1004", 429)]
)
async def test_every_gateway_errcode_is_mapped_and_not_retried(
    client: JiangsuCertShareClient, httpx_mock: HTTPXMock, errcode: str, http_status: int
) -> None:
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-1"))
    httpx_mock.add_response(
        url=STATUS, status_code=http_status, json={"errcode": errcode, "errmsg": "no"}
    )
    with pytest.raises(AdapterError) as info:
        await client.call("/cert-share/api/v1/certificate/status", {})
    assert type(info.value) is JIANGSU_GATEWAY_CODES[errcode][0]
    assert len(httpx_mock.get_requests()) == 2


def test_code_tables_cover_the_documented_codes() -> None:
    assert set(JIANGSU_STATUS) == {10, 11, 20, 100, 500}
    assert set(JIANGSU_GATEWAY_CODES) == {"1001", "1002", "1003", "1004"}


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"not json", AdapterDataError),
        (b'{"head": {"status": "0"}}', AdapterDataError),
        (b'{"data": {}}', AdapterDataError),
        (b'{"head": {"status": 77, "message": "new"}}', AdapterError),
    ],
)
async def test_malformed_answers(
    client: JiangsuCertShareClient, httpx_mock: HTTPXMock, answer: bytes, error: type[Exception]
) -> None:
    httpx_mock.add_response(url=TOKEN, json=token_answer("tok-1"))
    httpx_mock.add_response(url=STATUS, content=answer)
    with pytest.raises(AdapterError) as info:
        await client.call("/cert-share/api/v1/certificate/status", {})
    assert type(info.value) is error
