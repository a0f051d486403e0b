"""What the three native clients share: one httpx client, retries, and error translation.

Only transient failures are retried - a 5xx answer, a transport error, a timeout - as the
adapter's :class:`~deltafed.RetryPolicy` says, and only by calls that cannot act twice.
Permanent failures (bad signature, no permission, not found, quota) are raised at once.
Responses larger than ``max_response_bytes`` are refused while they are read, not after.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import httpx

from deltafed._errors import (
    AdapterDataError,
    AdapterTimeoutError,
    AdapterUnavailableError,
    ConfigurationError,
)
from deltafed._limits import LimitedBody
from deltafed._retry import RetryableError, RetryPolicy, call_async

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "TRANSIENT_ERRORS",
    "HttpSettings",
    "NativeHttp",
    "decode_json_object",
    "retrying",
]

T = TypeVar("T")

#: Largest native response body read, in bytes.
DEFAULT_MAX_RESPONSE_BYTES = 1_048_576

#: The adapter errors a retry may cure.
TRANSIENT_ERRORS: Final = (AdapterUnavailableError, AdapterTimeoutError)
#: What a call that is not idempotent gets: one try.
_ONCE: Final = RetryPolicy(attempts=1)


async def retrying(
    policy: RetryPolicy, call: Callable[[], Awaitable[T]], *, idempotent: bool = True
) -> T:
    """Run ``call``, retrying it on :data:`TRANSIENT_ERRORS` as ``policy`` says.

    A call that is not ``idempotent`` (one that issues something new on the platform, like a
    corrected certificate) is made once: after a timeout or a 5xx nobody knows whether the
    platform acted, and a second call could act twice.
    """

    async def attempt() -> T:
        try:
            return await call()
        except TRANSIENT_ERRORS as exc:
            raise RetryableError(exc) from exc

    try:
        return await call_async(policy if idempotent else _ONCE, attempt)
    except RetryableError as last:
        raise last.error from last.error.__cause__


@dataclass(frozen=True)
class HttpSettings:
    """Where and how a native client connects."""

    base_url: str
    timeout: float = 10.0
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    transport: httpx.AsyncBaseTransport | None = None

    def __post_init__(self) -> None:
        url = httpx.URL(self.base_url)
        if url.scheme not in ("https", "http") or not url.host:
            raise ConfigurationError(f"base_url must be an http(s) URL, got {self.base_url!r}")
        if not 0 < self.timeout <= 300:
            raise ConfigurationError("timeout must be between 0 and 300 seconds")
        if not 0 < self.max_response_bytes <= 64 * 1_048_576:
            raise ConfigurationError("max_response_bytes must be between 1 byte and 64 MiB")


class NativeHttp:
    """A thin httpx wrapper that turns transport failures into adapter errors."""

    def __init__(self, settings: HttpSettings) -> None:
        self.settings = settings
        self._client = httpx.AsyncClient(
            base_url=settings.base_url,
            timeout=httpx.Timeout(settings.timeout),
            transport=settings.transport,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        form: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """Send one request; return the status and body, or raise an adapter error.

        A 5xx status is raised as :class:`AdapterUnavailableError` (transient); every other
        status is returned for the native protocol to interpret.
        """
        request = self._client.build_request(
            method, path, content=content, data=form, params=params, headers=headers
        )
        try:
            response = await self._client.send(request, stream=True)
            try:
                body = await self._read_limited(response)
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            raise AdapterTimeoutError(f"native platform timed out: {exc}") from exc
        except httpx.DecodingError as exc:
            raise AdapterDataError(f"native response could not be decoded: {exc}") from exc
        except httpx.RequestError as exc:
            raise AdapterUnavailableError(f"native platform unreachable: {exc}") from exc
        if response.status_code >= 500:
            raise AdapterUnavailableError(
                f"native platform answered HTTP {response.status_code}",
                remediation="Transient failure of the province platform; retry later.",
            )
        return response.status_code, body

    async def _read_limited(self, response: httpx.Response) -> bytes:
        limit = self.settings.max_response_bytes
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise AdapterDataError(f"native response of {declared} bytes exceeds {limit}")
        body = LimitedBody(
            limit, too_large=lambda n: AdapterDataError(f"native response exceeds {n} bytes")
        )
        async for chunk in response.aiter_bytes():
            body.add(chunk)
        return body.bytes()


def decode_json_object(body: bytes | str, *, what: str) -> dict[str, Any]:
    """Decode a JSON object from native bytes; anything else is :class:`AdapterDataError`."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise AdapterDataError(f"{what}: not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise AdapterDataError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value
