"""The Shanghai licence platform, as modelled here (an invented convention, not official).

* **Token.** OAuth 2.0 client credentials (RFC 6749 section 4.4): a form POST to
  ``/oauth2/token`` with ``grant_type=client_credentials``, ``client_id``, ``client_secret``
  answers ``{"access_token", "token_type": "Bearer", "expires_in"}``; a refusal is an OAuth
  error object (``{"error": "invalid_client"}``).
* **Request signature.** Every API call carries ``Authorization: Bearer <token>``,
  ``X-SH-Client-Id``, ``X-SH-Timestamp`` (ISO 8601 UTC, seconds), ``X-SH-Nonce`` and
  ``X-SH-Signature = base64(HMAC-SHA256(client_secret, canonical))`` where ``canonical`` is
  ``METHOD \\n PATH?QUERY \\n TIMESTAMP \\n NONCE \\n sha256_hex(body)``.
* **Resources.** ``GET /api/v2/licences/{id}``, ``GET /api/v2/licences?holderId=&holderIdType=
  &licenceType=``, ``POST /api/v2/licences/{id}/extract`` (``{"fields": [...]}``), ``GET
  /api/v2/licences/{id}/status``, ``POST /api/v2/records/{type}/query``. camelCase fields,
  nested objects, ISO 8601 dates.
* **Envelope.** ``{"success": bool, "errorCode", "errorMsg", "result"}``, error codes in the
  style ``A`` (caller) / ``B`` (platform) + four digits (:data:`SHANGHAI_CODES`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import httpx

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
from deltafed._text import rfc3339_instant
from deltafed.adapters._http import NativeHttp, decode_json_object, retrying

__all__ = [
    "SHANGHAI_CODES",
    "SH_HOLDER_TYPES",
    "SH_STATUS",
    "TOKEN_PATH",
    "ShanghaiCredentials",
    "ShanghaiLicenceClient",
    "canonical_request",
    "iso_timestamp",
    "sh_signature",
]

TOKEN_PATH: Final = "/oauth2/token"  # noqa: S105 - a path
_RENEW_MARGIN_S: Final = 60
_RENEW_CODES: Final = frozenset({"A0230", "A0231"})

#: errorCode -> (error class, meaning). A0230/A0231 renew the token and retry once first;
#: B-codes are the platform's own failures and are retried as transient.
SHANGHAI_CODES: Final[Mapping[str, tuple[type[DeltafedError], str]]] = {
    "A0230": (AdapterAuthError, "access token expired"),
    "A0231": (AdapterAuthError, "access token invalid"),
    "A0301": (AdapterAuthError, "access denied for this licence type"),
    "A0340": (AdapterAuthError, "request signature invalid"),
    "A0341": (AdapterAuthError, "request timestamp outside the window or nonce reused"),
    "A0400": (AdapterError, "bad request parameter"),
    "A0410": (NotFoundError, "licence or record not found"),
    "A0501": (AdapterQuotaError, "request quota exceeded"),
    "B0001": (AdapterUnavailableError, "platform error"),
    "B0210": (AdapterUnavailableError, "platform overloaded"),
}
#: OAuth error -> error class.
_OAUTH_ERRORS: Final[Mapping[str, type[DeltafedError]]] = {
    "invalid_client": AdapterAuthError,
    "unauthorized_client": AdapterAuthError,
    "invalid_grant": AdapterAuthError,
    "invalid_scope": AdapterAuthError,
    "temporarily_unavailable": AdapterUnavailableError,
}

#: Native status -> shared status code.
SH_STATUS: Final[Mapping[str, str]] = {
    "VALID": "01",
    "SUSPENDED": "02",
    "REVOKED": "03",
    "CANCELLED": "04",
    "EXPIRED": "05",
    "OTHER": "99",
}
#: Native holder id type -> shared holder type code.
SH_HOLDER_TYPES: Final[Mapping[str, str]] = {"ID_CARD": "111", "USCC": "001"}


def iso_timestamp(clock: Clock) -> str:
    """The clock's time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical_request(method: str, target: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The text signed for one request; ``target`` is the path with its query string."""
    body_hash = hashlib.sha256(body).hexdigest()
    return "\n".join((method.upper(), target, timestamp, nonce, body_hash))


def sh_signature(client_secret: str, canonical: str) -> str:
    """``base64(HMAC-SHA256(client_secret, canonical))``."""
    mac = hmac.new(client_secret.encode("utf-8"), canonical.encode("utf-8"), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


@dataclass(frozen=True)
class ShanghaiCredentials:
    client_id: str
    client_secret: str

    def __post_init__(self) -> None:
        if not self.client_id or not self.client_secret:
            raise ConfigurationError("Shanghai needs client_id and client_secret")

    def __repr__(self) -> str:
        return f"ShanghaiCredentials(client_id={self.client_id!r}, client_secret=<hidden>)"


class _RenewError(Exception):
    """Internal: the platform refused the access token."""


def _nonce() -> str:
    return secrets.token_urlsafe(16)


class ShanghaiLicenceClient:
    """Calls the Shanghai licence platform: token, signing, envelope."""

    def __init__(
        self,
        http: NativeHttp,
        credentials: ShanghaiCredentials,
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
        self._token_end = 0.0

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        idempotent: bool = True,
    ) -> Any:
        """Call a resource; return the envelope's ``result``.

        A call that is not ``idempotent`` is not retried (see :func:`retrying`)."""
        target = str(httpx.URL(path, params=dict(params or {})).raw_path, "ascii")
        content = (
            b""
            if body is None
            else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        )

        async def attempt() -> Any:
            await self._ensure_token()
            try:
                return await self._signed(method, target, content)
            except _RenewError:
                await self._new_token()
                try:
                    return await self._signed(method, target, content)
                except _RenewError as again:
                    raise AdapterAuthError(
                        "Shanghai platform refused a freshly issued access token"
                    ) from again

        return await retrying(self._retry, attempt, idempotent=idempotent)

    async def _ensure_token(self) -> None:
        if self._token is None or self._clock().timestamp() >= self._token_end - _RENEW_MARGIN_S:
            await self._new_token()

    async def _new_token(self) -> None:
        self._token = None
        status, raw = await self._http.send(
            "POST",
            TOKEN_PATH,
            form={
                "grant_type": "client_credentials",
                "client_id": self._credentials.client_id,
                "client_secret": self._credentials.client_secret,
            },
        )
        answer = decode_json_object(raw, what="Shanghai token answer")
        if status != 200 or "error" in answer:
            error = str(answer.get("error", ""))[:40]
            cls = _OAUTH_ERRORS.get(error, AdapterError)
            if status == 429:
                cls = AdapterQuotaError
            raise cls(f"Shanghai token endpoint: HTTP {status} {error}")
        token, kind, expires = (
            answer.get("access_token"),
            answer.get("token_type"),
            answer.get("expires_in"),
        )
        if not isinstance(token, str) or not token or not isinstance(expires, int):
            raise AdapterDataError("Shanghai token answer: access_token or expires_in missing")
        if not isinstance(kind, str) or kind.lower() != "bearer":
            raise AdapterDataError("Shanghai token answer: token_type is not Bearer")
        self._token = token
        self._token_end = self._clock().timestamp() + expires

    async def _signed(self, method: str, target: str, content: bytes) -> Any:
        if self._token is None:
            raise AdapterAuthError("Shanghai: no access token (call _ensure_token first)")
        timestamp = iso_timestamp(self._clock)
        nonce = self._nonce()
        canonical = canonical_request(method, target, timestamp, nonce, content)
        headers = {
            "authorization": f"Bearer {self._token}",
            "x-sh-client-id": self._credentials.client_id,
            "x-sh-timestamp": timestamp,
            "x-sh-nonce": nonce,
            "x-sh-signature": sh_signature(self._credentials.client_secret, canonical),
        }
        if content:
            headers["content-type"] = "application/json; charset=utf-8"
        status, raw = await self._http.send(
            method, target, content=content or None, headers=headers
        )
        envelope = decode_json_object(raw, what="Shanghai answer")
        success = envelope.get("success")
        if success is True:
            if "result" not in envelope:
                raise AdapterDataError("Shanghai answer: success without result")
            return envelope["result"]
        if success is not False:
            raise AdapterDataError(f"Shanghai answer (HTTP {status}): no boolean 'success'")
        code = envelope.get("errorCode")
        if not isinstance(code, str):
            raise AdapterDataError("Shanghai answer: failure without errorCode")
        if code in _RENEW_CODES:
            raise _RenewError(code)
        known = SHANGHAI_CODES.get(code)
        message = str(envelope.get("errorMsg", ""))[:200]
        if known is None:
            raise AdapterError(f"Shanghai answer: unknown errorCode {code[:10]!r}: {message}")
        cls, meaning = known
        raise cls(f"Shanghai errorCode {code}: {meaning} ({message})")


def parse_iso_instant(text: str) -> datetime:
    """An ISO 8601 instant with an offset; naive times are bad data."""
    value = rfc3339_instant(text)
    if value is None:
        raise AdapterDataError(f"Shanghai: {str(text)[:30]!r} is not an ISO 8601 time with offset")
    return value
