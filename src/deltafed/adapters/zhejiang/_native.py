"""The Zhejiang public data gateway, as modelled here (not an official specification).

Pattern (after public client code of the Zhejiang public data platform):

* An application has an ``appKey`` and an ``appSecret``. ``refreshTokenByKey`` exchanges them
  for a *request secret* (lives about 15 minutes) and a *refresh secret* (about 48 hours);
  ``refreshTokenBySec`` uses the refresh secret to get a fresh request secret.
* Every call is a form POST carrying ``appKey``, ``requestTime`` (epoch milliseconds) and
  ``sign = md5_hex(appKey + secret + requestTime)``, where the secret is the app secret for
  ``refreshTokenByKey``, the refresh secret for ``refreshTokenBySec`` and the request secret
  for business calls.
* Answers are ``{"code": "00", "msg": ..., "datas": ...}``; ``datas`` is often a JSON string
  that must be decoded again.

Native codes and what they become (:data:`ZHEJIANG_CODES`): ``00`` ok; ``11`` request secret
expired (refresh with the refresh secret and retry once); ``12`` refresh secret expired (start
again from the app secret and retry once); ``13`` request time outside the accepted window;
``14`` bad signature; ``15`` unknown appKey; ``16`` no permission for the service or type;
``18`` over quota; ``19`` bad parameter; ``20`` no data; ``99`` gateway busy (transient).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
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
    "API_PATH",
    "KEY_PATH",
    "REFRESH_SECRET_LIFETIME_MS",
    "REQUEST_SECRET_LIFETIME_MS",
    "SEC_PATH",
    "ZHEJIANG_CODES",
    "ZJ_DATE_FORMAT",
    "ZJ_HOLDER_TYPES",
    "ZJ_LONG_TERM",
    "ZJ_STATUS",
    "ZJ_TIME_FORMAT",
    "ZhejiangCredentials",
    "ZhejiangGatewayClient",
    "epoch_ms",
    "zhejiang_sign",
]

#: About 15 minutes and 48 hours, in milliseconds.
REQUEST_SECRET_LIFETIME_MS: Final = 15 * 60 * 1000
REFRESH_SECRET_LIFETIME_MS: Final = 48 * 3600 * 1000
#: Renew a secret this long before it ends, so a call never races its expiry.
_RENEW_MARGIN_MS: Final = 30_000

KEY_PATH: Final = "/gateway/app/refreshTokenByKey.htm"
SEC_PATH: Final = "/gateway/app/refreshTokenBySec.htm"
API_PATH: Final = "/gateway/api/{service}.htm"

#: Native code -> (error class raised, meaning). ``00`` is success; 11 and 12 are handled by
#: renewing the secret and retrying once before they are raised.
ZHEJIANG_CODES: Final[Mapping[str, tuple[type[DeltafedError], str]]] = {
    "11": (AdapterAuthError, "request secret expired"),
    "12": (AdapterAuthError, "refresh secret expired"),
    "13": (AdapterAuthError, "request time outside the accepted window"),
    "14": (AdapterAuthError, "signature does not match"),
    "15": (AdapterAuthError, "unknown appKey"),
    "16": (AdapterAuthError, "no permission for this service or certificate type"),
    "18": (AdapterQuotaError, "call quota exceeded"),
    "19": (AdapterError, "bad request parameter"),
    "20": (NotFoundError, "no matching data"),
    "99": (AdapterUnavailableError, "gateway busy"),
}


def zhejiang_sign(app_key: str, secret: str, request_time: int | str) -> str:
    """``md5_hex(appKey + secret + requestTime)``, the gateway's request signature."""
    text = f"{app_key}{secret}{request_time}"
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def epoch_ms(clock: Clock) -> int:
    """The clock's time in epoch milliseconds."""
    return int(clock().timestamp() * 1000)


@dataclass(frozen=True)
class ZhejiangCredentials:
    app_key: str
    app_secret: str

    def __post_init__(self) -> None:
        if not self.app_key or not self.app_secret:
            raise ConfigurationError("Zhejiang gateway needs app_key and app_secret")

    def __repr__(self) -> str:
        return f"ZhejiangCredentials(app_key={self.app_key!r}, app_secret=<hidden>)"


@dataclass
class _Secrets:
    request: str
    request_end: int
    refresh: str
    refresh_end: int


class _RenewError(Exception):
    """Internal: the gateway said a secret expired (``code`` 11 or 12)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class ZhejiangGatewayClient:
    """Calls services of the Zhejiang gateway: secrets, signing and envelope decoding."""

    def __init__(
        self,
        http: NativeHttp,
        credentials: ZhejiangCredentials,
        *,
        clock: Clock = system_clock,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._http = http
        self._credentials = credentials
        self._clock = clock
        self._retry = retry if retry is not None else RetryPolicy()
        self._secrets: _Secrets | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(
        self, service: str, params: Mapping[str, str], *, idempotent: bool = True
    ) -> Any:
        """Call ``service`` with ``params``; return its decoded ``datas``.

        A call that is not ``idempotent`` is not retried (see :func:`retrying`)."""

        async def attempt() -> Any:
            await self._ensure_secret()
            try:
                return await self._invoke(service, params)
            except _RenewError as renew:
                # Renew once, then a second "expired" is an authentication failure.
                await self._renew(renew.code)
                try:
                    return await self._invoke(service, params)
                except _RenewError as again:
                    raise AdapterAuthError(
                        f"Zhejiang gateway: {ZHEJIANG_CODES[again.code][1]} right after renewal"
                    ) from again

        return await retrying(self._retry, attempt, idempotent=idempotent)

    # --- secrets ----------------------------------------------------------------------------

    async def _ensure_secret(self) -> None:
        now = epoch_ms(self._clock)
        s = self._secrets
        if s is not None and now < s.request_end - _RENEW_MARGIN_MS:
            return
        if s is not None and now < s.refresh_end - _RENEW_MARGIN_MS:
            try:
                await self._by_refresh_secret()
                return
            except _RenewError:
                pass
        await self._by_app_secret()

    async def _renew(self, code: str) -> None:
        if code == "11" and self._secrets is not None:
            try:
                await self._by_refresh_secret()
                return
            except _RenewError:
                pass
        await self._by_app_secret()

    async def _by_app_secret(self) -> None:
        self._secrets = None
        datas = await self._post(KEY_PATH, self._credentials.app_secret, {})
        self._secrets = self._parse_secrets(datas)

    async def _by_refresh_secret(self) -> None:
        if self._secrets is None:
            raise AdapterAuthError("Zhejiang gateway: no secrets yet")
        datas = await self._post(SEC_PATH, self._secrets.refresh, {})
        self._secrets = self._parse_secrets(datas)

    def _parse_secrets(self, datas: Any) -> _Secrets:
        if not isinstance(datas, dict):
            raise AdapterDataError("Zhejiang gateway: secrets answer is not an object")
        try:
            secrets = _Secrets(
                request=str(datas["requestSecret"]),
                request_end=int(datas["requestSecretEndTime"]),
                refresh=str(datas["refreshSecret"]),
                refresh_end=int(datas["refreshSecretEndTime"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AdapterDataError(f"Zhejiang gateway: malformed secrets answer: {exc}") from exc
        if not secrets.request or not secrets.refresh:
            raise AdapterDataError("Zhejiang gateway: empty secret")
        return secrets

    # --- one signed call --------------------------------------------------------------------

    async def _invoke(self, service: str, params: Mapping[str, str]) -> Any:
        if self._secrets is None:
            raise AdapterAuthError("Zhejiang gateway: no secrets yet")
        return await self._post(API_PATH.format(service=service), self._secrets.request, params)

    async def _post(self, path: str, secret: str, params: Mapping[str, str]) -> Any:
        request_time = str(epoch_ms(self._clock))
        form = {
            **params,
            "appKey": self._credentials.app_key,
            "requestTime": request_time,
            "sign": zhejiang_sign(self._credentials.app_key, secret, request_time),
        }
        status, body = await self._http.send("POST", path, form=form)
        envelope = decode_json_object(body, what="Zhejiang gateway answer")
        code = envelope.get("code")
        if not isinstance(code, str):
            raise AdapterDataError(f"Zhejiang gateway: answer (HTTP {status}) has no string 'code'")
        if code == "00":
            return _decode_datas(envelope.get("datas"))
        if code in ("11", "12") and path not in (KEY_PATH,):
            raise _RenewError(code)
        known = ZHEJIANG_CODES.get(code)
        msg = str(envelope.get("msg", ""))[:200]
        if known is None:
            raise AdapterError(f"Zhejiang gateway: unknown code {code[:10]!r}: {msg}")
        cls, meaning = known
        raise cls(f"Zhejiang gateway code {code}: {meaning} ({msg})")


def _decode_datas(datas: Any) -> Any:
    """``datas`` as a value: a JSON string is decoded once more."""
    if isinstance(datas, str):
        stripped = datas.strip()
        if stripped[:1] in ("{", "["):
            try:
                return json.loads(stripped)
            except ValueError as exc:
                raise AdapterDataError(f"Zhejiang gateway: datas is broken JSON: {exc}") from exc
    return datas


# --- native vocabulary (shared by the adapter's mapping and the sandbox) --------------------

#: Native licence status -> shared status code.
ZJ_STATUS: Final[Mapping[str, str]] = {
    "ZC": "01",  # 正常 valid
    "ZK": "02",  # 暂扣 withheld
    "CX": "03",  # 撤销 revoked
    "ZX": "04",  # 注销 cancelled
    "GQ": "05",  # 过期 expired
    "QT": "99",  # 其他 other
}
#: Native holder id type -> shared holder type code.
ZJ_HOLDER_TYPES: Final[Mapping[str, str]] = {"SFZ": "111", "TYSHXYDM": "001"}
#: ``validTo`` of a licence without an end date.
ZJ_LONG_TERM: Final = "长期"
#: Dates are ``yyyy-MM-dd``; record times ``yyyy-MM-dd HH:mm:ss`` in Beijing time.
ZJ_DATE_FORMAT: Final = "%Y-%m-%d"
ZJ_TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
