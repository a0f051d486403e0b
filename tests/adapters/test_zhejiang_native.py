"""The modelled Zhejiang gateway protocol, byte for byte, against pytest-httpx."""

from __future__ import annotations

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
    AdapterTimeoutError,
    AdapterUnavailableError,
    FixedClock,
    RetryPolicy,
)
from deltafed.adapters._http import HttpSettings, NativeHttp
from deltafed.adapters.zhejiang import (
    ZHEJIANG_CODES,
    ZhejiangCredentials,
    ZhejiangGatewayClient,
    zhejiang_sign,
)

pytestmark = pytest.mark.anyio

BASE = "https://zj.example"
KEY = f"{BASE}/gateway/app/refreshTokenByKey.htm"
SEC = f"{BASE}/gateway/app/refreshTokenBySec.htm"
API = f"{BASE}/gateway/api/license/status.htm"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
T0_MS = 1767225600000


def secrets_answer(request: str, refresh: str, now_ms: int = T0_MS) -> dict[str, Any]:
    datas = {
        "requestSecret": request,
        "requestSecretEndTime": now_ms + 15 * 60_000,
        "refreshSecret": refresh,
        "refreshSecretEndTime": now_ms + 48 * 3_600_000,
    }
    return {"code": "00", "msg": "成功", "datas": json.dumps(datas)}


OK = {"code": "00", "msg": "成功", "datas": json.dumps({"licenseStatus": "ZC"})}


def form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def client(clock: FixedClock) -> ZhejiangGatewayClient:
    return ZhejiangGatewayClient(
        NativeHttp(HttpSettings(base_url=BASE)),
        ZhejiangCredentials("app-1", "app-secret"),
        clock=clock,
        retry=RetryPolicy.no_wait(attempts=3),
    )


def test_sign_known_answer() -> None:
    # md5_hex("app-1" + "app-secret" + "1767225600000"), computed independently.
    assert zhejiang_sign("app-1", "app-secret", T0_MS) == "8eb7f27109a0ad29618121cf657d9a62"
    assert zhejiang_sign("app-1", "req-1", "1767225600000") == "bcabe043d04f60790adfd7a7e8f340e0"


def test_credentials_hide_the_secret() -> None:
    assert "app-secret" not in repr(ZhejiangCredentials("app-1", "app-secret"))


async def test_gets_secrets_then_signs_with_the_request_secret(
    client: ZhejiangGatewayClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=KEY, method="POST", json=secrets_answer("req-1", "ref-1"))
    httpx_mock.add_response(url=API, method="POST", json=OK)
    assert await client.call("license/status", {"licenseCode": "X"}) == {"licenseStatus": "ZC"}
    first, second = httpx_mock.get_requests()
    assert form(first) == {
        "appKey": "app-1",
        "requestTime": "1767225600000",
        "sign": "8eb7f27109a0ad29618121cf657d9a62",
    }
    assert form(second) == {
        "licenseCode": "X",
        "appKey": "app-1",
        "requestTime": "1767225600000",
        "sign": "bcabe043d04f60790adfd7a7e8f340e0",
    }
    assert second.headers["content-type"] == "application/x-www-form-urlencoded"


async def test_secret_reused_while_valid(
    client: ZhejiangGatewayClient, httpx_mock: HTTPXMock, clock: FixedClock
) -> None:
    httpx_mock.add_response(url=KEY, json=secrets_answer("req-1", "ref-1"))
    httpx_mock.add_response(url=API, json=OK, is_reusable=True)
    await client.call("license/status", {})
    clock.advance(10 * 60)
    await client.call("license/status", {})
    assert [r.url.path for r in httpx_mock.get_requests()].count(httpx.URL(KEY).path) == 1


async def test_expired_request_secret_is_refreshed_and_the_call_retried_once(
    client: ZhejiangGatewayClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=KEY, json=secrets_answer("req-1", "ref-1"))
    httpx_mock.add_response(url=API, json={"code": "11", "msg": "过期", "datas": None})
    httpx_mock.add_response(url=SEC, json=secrets_answer("req-2", "ref-1"))
    httpx_mock.add_response(url=API, json=OK)
    assert await client.call("license/status", {}) == {"licenseStatus": "ZC"}
    requests = httpx_mock.get_requests()
    assert [r.url for r in requests] == [KEY, API, SEC, API]
    assert form(requests[2])["sign"] == zhejiang_sign("app-1", "ref-1", T0_MS)
    assert form(requests[3])["sign"] == zhejiang_sign("app-1", "req-2", T0_MS)


async def test_request_secret_renewed_before_it_ends(
    client: ZhejiangGatewayClient, httpx_mock: HTTPXMock, clock: FixedClock
) -> None:
    httpx_mock.add_response(url=KEY, json=secrets_answer("req-1", "ref-1"))
    httpx_mock.add_response(url=API, json=OK, is_reusable=True)
    await client.call("license/status", {})
    clock.advance(15 * 60)
    later = T0_MS + 15 * 60_000
    httpx_mock.add_response(url=SEC, json=secrets_answer("req-2", "ref-1", later))
    await client.call("license/status", {})
    assert [r.url for r in httpx_mock.get_requests()] == [KEY, API, SEC, API]
    assert form(httpx_mock.get_requests()[3])["sign"] == zhejiang_sign("app-1", "req-2", later)


async def test_after_48_hours_starts_again_from_the_app_secret(
    client: ZhejiangGatewayClient, httpx_mock: HTTPXMock, clock: FixedClock
) -> None:
    httpx_mock.add_response(url=KEY, json=secrets_answer("req-1", "ref-1"))
    httpx_mock.add_response(url=API, json=OK, is_reusable=True)
    await client.call("license/status", {})
    clock.advance(49 * 3600)
    httpx_mock.add_response(url=KEY, json=secrets_answer("req-9", "ref-9", T0_MS + 49 * 3_600_000))
    await client.call("license/status", {})
    assert [r.url for r in httpx_mock.get_requests()] == [KEY, API, KEY, API]


async def test_refresh_secret_refused_falls_back_to_app_secret(
    client: ZhejiangGatewayClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=KEY, json=secrets_answer("req-1", "ref-1"))
    httpx_mock.add_response(url=API, json={"code": "11", "msg": "过期", "datas": None})
    httpx_mock.add_response(url=SEC, json={"code": "12", "msg": "过期", "datas": None})
    httpx_mock.add_response(url=KEY, json=secrets_answer("req-2", "ref-2"))
    httpx_mock.add_response(url=API, json=OK)
    await client.call("license/status", {})
    assert [r.url for r in httpx_mock.get_requests()] == [KEY, API, SEC, KEY, API]


async def test_expired_twice_is_an_auth_failure(
    client: ZhejiangGatewayClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=KEY, json=secrets_answer("req-1", "ref-1"))
    httpx_mock.add_response(url=API, json={"code": "11", "msg": "过期", "datas": None})
    httpx_mock.add_response(url=SEC, json=secrets_answer("req-2", "ref-1"))
    httpx_mock.add_response(url=API, json={"code": "11", "msg": "过期", "datas": None})
    with pytest.raises(AdapterAuthError):
        await client.call("license/status", {})


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, text="oops"),
        httpx.Response(503, text="busy"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.Response(200, json={"code": "99", "msg": "系统繁忙", "datas": None}),
    ],
    ids=["500", "503", "connect", "timeout", "code99"],
)
async def test_transient_failure_is_retried(
    client: ZhejiangGatewayClient, httpx_mock: HTTPXMock, failure: httpx.Response | Exception
) -> None:
    httpx_mock.add_response(url=KEY, json=secrets_answer("req-1", "ref-1"))
    if isinstance(failure, Exception):
        httpx_mock.add_exception(failure, url=API)
    else:
        httpx_mock.add_response(url=API, status_code=failure.status_code, content=failure.content)
    httpx_mock.add_response(url=API, json=OK)
    assert await client.call("license/status", {}) == {"licenseStatus": "ZC"}
    assert [r.url for r in httpx_mock.get_requests()] == [KEY, API, API]


async def test_retries_are_bounded(client: ZhejiangGatewayClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=KEY, json=secrets_answer("req-1", "ref-1"))
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=API, is_reusable=True)
    with pytest.raises(AdapterTimeoutError):
        await client.call("license/status", {})
    assert [r.url for r in httpx_mock.get_requests()] == [KEY, API, API, API]


PERMANENT = {
    code: cls for code, (cls, _) in ZHEJIANG_CODES.items() if code not in {"11", "12", "99"}
}


@pytest.mark.parametrize(("code", "error"), sorted(PERMANENT.items()))
async def test_every_permanent_code_is_mapped_and_not_retried(
    client: ZhejiangGatewayClient, httpx_mock: HTTPXMock, code: str, error: type[Exception]
) -> None:
    httpx_mock.add_response(url=KEY, json=secrets_answer("req-1", "ref-1"))
    httpx_mock.add_response(url=API, json={"code": code, "msg": "失败", "datas": None})
    with pytest.raises(error) as info:
        await client.call("license/status", {})
    assert type(info.value) is error
    assert [r.url for r in httpx_mock.get_requests()] == [KEY, API]


def test_code_table_covers_the_documented_codes() -> None:
    assert set(ZHEJIANG_CODES) == {"11", "12", "13", "14", "15", "16", "18", "19", "20", "99"}
    assert ZHEJIANG_CODES["99"][0] is AdapterUnavailableError


async def test_bad_app_secret_fails_at_the_key_exchange(
    client: ZhejiangGatewayClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=KEY, json={"code": "14", "msg": "签名错误", "datas": None})
    with pytest.raises(AdapterAuthError):
        await client.call("license/status", {})
    assert len(httpx_mock.get_requests()) == 1


@pytest.mark.parametrize(
    "answer",
    [
        b"<html>",
        b'{"code": "00", "msg": "ok", "datas": "{broken"}',
        b'{"msg": "no code"}',
        b'["not", "an", "object"]',
        b'{"code": "77", "msg": "new code"}',
    ],
)
async def test_malformed_answers(
    client: ZhejiangGatewayClient, httpx_mock: HTTPXMock, answer: bytes
) -> None:
    httpx_mock.add_response(url=KEY, json=secrets_answer("req-1", "ref-1"))
    httpx_mock.add_response(url=API, content=answer)
    with pytest.raises(AdapterError) as info:
        await client.call("license/status", {})
    expected = AdapterError if b"77" in answer else AdapterDataError
    assert type(info.value) is expected


async def test_datas_may_be_an_object(client: ZhejiangGatewayClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=KEY, json=secrets_answer("req-1", "ref-1"))
    httpx_mock.add_response(url=API, json={"code": "00", "msg": "ok", "datas": {"a": 1}})
    assert await client.call("license/status", {}) == {"a": 1}


async def test_oversized_answer_is_refused(clock: FixedClock, httpx_mock: HTTPXMock) -> None:
    small = ZhejiangGatewayClient(
        NativeHttp(HttpSettings(base_url=BASE, max_response_bytes=1000)),
        ZhejiangCredentials("app-1", "app-secret"),
        clock=clock,
        retry=RetryPolicy.no_wait(),
    )
    httpx_mock.add_response(url=KEY, json=secrets_answer("req-1", "ref-1"))
    httpx_mock.add_response(url=API, json={"code": "00", "datas": "x" * 5000})
    with pytest.raises(AdapterDataError):
        await small.call("license/status", {})
