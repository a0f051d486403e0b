"""The Jiangsu platform, as modelled here (not an official specification).

Two layers, after patterns seen in public client code of government services:

* **A header-signed gateway.** Every request carries ``x-tif-paasid`` (the caller's PaaS id),
  ``x-tif-timestamp`` (epoch seconds), ``x-tif-nonce`` (random, single use) and
  ``x-tif-signature = sha256_hex(timestamp + paas_token + nonce + timestamp)``. The gateway
  refuses with an HTTP error and ``{"errcode", "errmsg"}``: ``1001`` bad signature, ``1002``
  timestamp outside the window, ``1003`` unknown PaaS id (HTTP 401), ``1004`` rate limited
  (HTTP 429).
* **A certificate-sharing API behind it.** JSON requests ``{accessId, accessToken, data}``
  where ``data`` holds ``certIdentifier`` or ``holderCode``/``holderTypeCode``/``certTypeCode``
  and the mandatory ``useCause``; answers ``{head: {status, message}, data}``. Certificates use
  the GB/T 36903 pinyin field names (``ZZBS``, ``CZZTDM``...) with ``yyyyMMdd`` dates. The
  access token comes from ``/token`` with ``accessId`` and ``accessKey``.

Head status codes (:data:`JIANGSU_STATUS`): ``0`` ok; ``10`` no matching certificate;
``11`` authentication failed (the access token is renewed and the call retried once);
``20`` bad parameter; ``100`` no permission for that certificate type; ``500`` system error
(transient).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from deltafed._clock import Clock, system_clock
from deltafed._errors import (
    AdapterAuthError,
    AdapterDataError,
    AdapterError,
    AdapterQuotaError,
    AdapterUnavailableError,
    ConfigurationError,
    DeltafedError,
    NotFoundError,
)
from deltafed._retry import RetryPolicy
from deltafed.adapters._http import NativeHttp, decode_json_object, retrying

__all__ = [
    "CORRECT_PATH",
    "COUNT_PATH",
    "DATA_PATH",
    "JIANGSU_GATEWAY_CODES",
    "JIANGSU_STATUS",
    "JS_CHANGE_TYPES",
    "JS_RECORD_TIME_FORMAT",
    "QUERY_PATH",
    "RECORD_PATH",
    "REVOKE_PATH",
    "STATUS_PATH",
    "TOKEN_PATH",
    "JiangsuCertShareClient",
    "JiangsuCredentials",
    "tif_headers",
    "tif_signature",
]

TOKEN_PATH: Final = "/cert-share/api/v1/token"  # noqa: S105 - a path
QUERY_PATH: Final = "/cert-share/api/v1/certificate/query"
DATA_PATH: Final = "/cert-share/api/v1/certificate/data"
STATUS_PATH: Final = "/cert-share/api/v1/certificate/status"
RECORD_PATH: Final = "/cert-share/api/v1/record/query"
#: Issue a corrected version of a certificate / revoke one (an upheld objection, 异议处理).
CORRECT_PATH: Final = "/cert-share/api/v1/certificate/correct"
REVOKE_PATH: Final = "/cert-share/api/v1/certificate/revoke"
COUNT_PATH: Final = "/cert-share/api/v1/record/count"
#: The certificate change log, read from a sequence number (the change feed).
CHANGES_PATH: Final = "/cert-share/api/v1/certificate/changes"
#: Native change types of the change log -> the shared change kinds.
JS_CHANGE_TYPES: Final = {
    "ISSUE": "certificate.issued",
    "RENEW": "certificate.renewed",
    "CHANGE": "certificate.changed",
    "REVOKE": "certificate.revoked",
}
#: Record times: ``yyyyMMddHHmmss`` in Beijing time.
JS_RECORD_TIME_FORMAT: Final = "%Y%m%d%H%M%S"
#: Renew the access token this many seconds before it ends.
_RENEW_MARGIN_S: Final = 60

#: head.status -> (error class, meaning); ``0`` is success, ``11`` is renewed once first.
JIANGSU_STATUS: Final[Mapping[int, tuple[type[DeltafedError], str]]] = {
    10: (NotFoundError, "no matching certificate"),
    11: (AdapterAuthError, "authentication failed"),
    20: (AdapterError, "bad request parameter"),
    100: (AdapterAuthError, "no permission for that certificate type"),
    500: (AdapterUnavailableError, "certificate platform system error"),
}
#: Gateway errcode -> (error class, meaning).
JIANGSU_GATEWAY_CODES: Final[Mapping[str, tuple[type[DeltafedError], str]]] = {
    "1001": (AdapterAuthError, "gateway signature invalid"),
    "1002": (AdapterAuthError, "gateway timestamp outside the window"),
    "1003": (AdapterAuthError, "unknown PaaS id"),
    "1004": (AdapterQuotaError, "gateway rate limit exceeded"),
}


def tif_signature(timestamp: str, paas_token: str, nonce: str) -> str:
    """``sha256_hex(timestamp + token + nonce + timestamp)``."""
    text = f"{timestamp}{paas_token}{nonce}{timestamp}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def tif_headers(paas_id: str, paas_token: str, timestamp: str, nonce: str) -> dict[str, str]:
    """The four gateway headers for one request."""
    return {
        "x-tif-paasid": paas_id,
        "x-tif-timestamp": timestamp,
        "x-tif-nonce": nonce,
        "x-tif-signature": tif_signature(timestamp, paas_token, nonce),
    }


@dataclass(frozen=True)
class JiangsuCredentials:
    paas_id: str
    paas_token: str
    access_id: str
    access_key: str

    def __post_init__(self) -> None:
        if not all((self.paas_id, self.paas_token, self.access_id, self.access_key)):
            raise ConfigurationError("Jiangsu needs paas_id, paas_token, access_id, access_key")

    def __repr__(self) -> str:
        return (
            f"JiangsuCredentials(paas_id={self.paas_id!r}, access_id={self.access_id!r}, "
            "paas_token=<hidden>, access_key=<hidden>)"
        )


class _ReauthError(Exception):
    """Internal: head.status 11 on a business call."""


def _nonce() -> str:
    return secrets.token_hex(16)


class JiangsuCertShareClient:
    """Calls the certificate-sharing API through the signed gateway."""

    def __init__(
        self,
        http: NativeHttp,
        credentials: JiangsuCredentials,
        *,
        clock: Clock = system_clock,
        retry: RetryPolicy | None = None,
        nonce: Callable[[], str] = _nonce,
    ) -> None:
        self._http = http
        self._credentials = credentials
        self._clock = clock
        self._retry = retry if retry is not None else RetryPolicy()
        self._nonce = nonce
        self._token: str | None = None
        self._token_end = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(self, path: str, data: Mapping[str, Any], *, idempotent: bool = True) -> Any:
        """Call a business ``path`` with ``data``; return the answer's ``data``.

        A call that is not ``idempotent`` is not retried (see :func:`retrying`)."""

        async def attempt() -> Any:
            await self._ensure_token()
            try:
                return await self._business(path, data)
            except _ReauthError:
                await self._new_token()
                try:
                    return await self._business(path, data)
                except _ReauthError as again:
                    raise AdapterAuthError(
                        "Jiangsu certificate platform: authentication failed right after a "
                        "new access token"
                    ) from again

        return await retrying(self._retry, attempt, idempotent=idempotent)

    async def _ensure_token(self) -> None:
        now = int(self._clock().timestamp())
        if self._token is None or now >= self._token_end - _RENEW_MARGIN_S:
            await self._new_token()

    async def _new_token(self) -> None:
        self._token = None
        data = await self._post(
            TOKEN_PATH,
            {"accessId": self._credentials.access_id, "accessKey": self._credentials.access_key},
            token_call=True,
        )
        if not isinstance(data, dict):
            raise AdapterDataError("Jiangsu token answer: data is not an object")
        token, expires = data.get("accessToken"), data.get("expiresIn")
        if not isinstance(token, str) or not token or not isinstance(expires, int):
            raise AdapterDataError("Jiangsu token answer: accessToken or expiresIn missing")
        self._token = token
        self._token_end = int(self._clock().timestamp()) + expires

    async def _business(self, path: str, data: Mapping[str, Any]) -> Any:
        if self._token is None:
            raise AdapterAuthError("Jiangsu: no access token (call _ensure_token first)")
        body = {
            "accessId": self._credentials.access_id,
            "accessToken": self._token,
            "data": dict(data),
        }
        return await self._post(path, body, token_call=False)

    async def _post(self, path: str, body: Mapping[str, Any], *, token_call: bool) -> Any:
        timestamp = str(int(self._clock().timestamp()))
        headers = tif_headers(
            self._credentials.paas_id, self._credentials.paas_token, timestamp, self._nonce()
        )
        headers["content-type"] = "application/json;charset=utf-8"
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        status, raw = await self._http.send("POST", path, content=content, headers=headers)
        envelope = decode_json_object(raw, what="Jiangsu answer")
        if "errcode" in envelope or status != 200:
            code = str(envelope.get("errcode", ""))[:10]
            known = JIANGSU_GATEWAY_CODES.get(code)
            if known is None:
                raise AdapterError(f"Jiangsu gateway: HTTP {status}, errcode {code!r}")
            cls, meaning = known
            raise cls(f"Jiangsu gateway errcode {code}: {meaning}")
        head = envelope.get("head")
        if not isinstance(head, dict) or not isinstance(head.get("status"), int):
            raise AdapterDataError("Jiangsu answer: head.status missing")
        code_value: int = head["status"]
        if code_value == 0:
            return envelope.get("data")
        if code_value == 11 and not token_call:
            raise _ReauthError
        known_status = JIANGSU_STATUS.get(code_value)
        message = str(head.get("message", ""))[:200]
        if known_status is None:
            raise AdapterError(f"Jiangsu answer: unknown head.status {code_value}: {message}")
        cls, meaning = known_status
        raise cls(f"Jiangsu head.status {code_value}: {meaning} ({message})")
