"""Fetching the registry over HTTP into a :class:`TrustedRegistry`.

The client never trusts what it downloads: the bytes go to :meth:`TrustedRegistry.update`,
which verifies them or keeps the previous state. A refresh is conditional (``If-None-Match``
with the ETag, ``If-Modified-Since`` with the ``Last-Modified`` time of the version trusted);
when the published version is more than one ahead, the versions in between are fetched from
their versioned URLs beside the current one and verified in order on a staged copy (see
:mod:`deltafed.registry._publication`). Transient failures (connection errors, timeouts, 5xx,
429) are retried as the client's :class:`~deltafed.RetryPolicy` says (a GET acts on nothing,
so retrying it is always safe); other answers fail at once.
"""

from __future__ import annotations

from types import TracebackType
from typing import Final

import httpx

from deltafed._errors import (
    CommunicationError,
    ConfigurationError,
    PeerTimeoutError,
    SizeLimitError,
    TransportError,
)
from deltafed._limits import LimitedBody
from deltafed._retry import RetryableError, RetryPolicy, call_async, call_sync
from deltafed.registry._publication import peek_version, versioned_url, versions_to_walk
from deltafed.registry._signing import MAX_REGISTRY_BYTES
from deltafed.registry._trusted import TrustedRegistry

__all__ = ["AsyncRegistryClient", "RegistryClient"]

_USER_AGENT: Final = "deltafed-registry-client"
#: The registry's media type (protocol §15.1); plain JSON is what a static server often says.
_ACCEPT: Final = "application/deltafed-registry+jws, application/json;q=0.5"
_TRANSIENT_STATUS: Final = frozenset({429, 500, 502, 503, 504})


class _ClientBase:
    """What both clients share: settings, the retry policy, the body limit, the update."""

    def __init__(
        self,
        trusted: TrustedRegistry,
        url: str,
        *,
        retry: RetryPolicy | None,
        max_bytes: int,
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ConfigurationError(f"registry URL must be http(s), not {url[:80]!r}")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError("retry must be a RetryPolicy")
        self._trusted = trusted
        self._url = url
        self._retry = retry if retry is not None else RetryPolicy()
        self._max_bytes = max_bytes
        self._etag: str | None = None
        self._last_modified: str | None = None

    @property
    def trusted(self) -> TrustedRegistry:
        return self._trusted

    @property
    def location(self) -> str:
        return self._url

    def _request_headers(self, conditional: bool) -> dict[str, str]:
        if not conditional or self._trusted.version is None:
            return _headers(None, None)
        return _headers(self._etag, self._last_modified)

    def _walk(self, body: bytes) -> tuple[TrustedRegistry, list[str]]:
        """A staged copy of the trusted state and the URLs of the versions to walk first."""
        target = peek_version(body, max_bytes=self._max_bytes)
        urls = [
            versioned_url(self._url, version)
            for version in versions_to_walk(self._trusted.version, target)
        ]
        return self._trusted.staged(), urls

    def _accept(self, staged: TrustedRegistry, fetched: _Fetched) -> bool:
        """Verify the current file on the staged walk and switch to it; whether it changed."""
        before = self._trusted.version
        staged.update(fetched.body)
        self._trusted.adopt(staged)
        self._etag, self._last_modified = fetched.etag, fetched.last_modified
        return self._trusted.version != before


class _Fetched:
    """A downloaded file and its cache validators."""

    __slots__ = ("body", "etag", "last_modified")

    def __init__(self, response: httpx.Response, body: bytes) -> None:
        self.body = body
        self.etag = response.headers.get("ETag")
        self.last_modified = response.headers.get("Last-Modified")


def _registry_too_large(limit: int) -> SizeLimitError:
    return SizeLimitError(f"registry exceeds {limit} bytes")


class RegistryClient(_ClientBase):
    """Refreshes a :class:`TrustedRegistry` from the anchor's publication URL.

    ``http`` is an :class:`httpx.Client` to use (the caller keeps ownership); without one the
    client makes its own, without redirects. ``retry`` is the :class:`~deltafed.RetryPolicy` for
    transient failures (``RetryPolicy.no_wait()`` in tests: no sleeping).
    """

    def __init__(
        self,
        trusted: TrustedRegistry,
        url: str,
        *,
        http: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 10.0,
        max_bytes: int = MAX_REGISTRY_BYTES,
    ) -> None:
        super().__init__(trusted, url, retry=retry, max_bytes=max_bytes)
        self._owns_http = http is None
        self._http = http or httpx.Client(timeout=timeout, follow_redirects=False)

    def refresh(self) -> bool:
        """Fetch and verify the registry; return whether the trusted version changed.

        Raises a :class:`~deltafed.CommunicationError` if the registry could not be fetched
        and a :class:`~deltafed.TrustError` if what was fetched is not trustworthy; in both
        cases the trusted state is unchanged.
        """
        fetched = self._get(self._url, conditional=True)
        if fetched is None:
            return False
        staged, urls = self._walk(fetched.body)
        for url in urls:
            step = self._get(url, conditional=False)
            if step is None:
                raise TransportError(f"registry server answered 304 to an unconditional {url}")
            staged.update(step.body, intermediate=True)
        return self._accept(staged, fetched)

    def _get(self, url: str, *, conditional: bool) -> _Fetched | None:
        try:
            return call_sync(self._retry, lambda: self._fetch(url, conditional))
        except RetryableError as last:
            raise last.error from last.error.__cause__

    def _fetch(self, url: str, conditional: bool) -> _Fetched | None:
        headers = self._request_headers(conditional)
        try:
            with self._http.stream("GET", url, headers=headers) as response:
                if _check_status(response.status_code, self._trusted, url):
                    return None
                _check_declared_size(response, self._max_bytes)
                body = LimitedBody(self._max_bytes, too_large=_registry_too_large)
                for chunk in response.iter_bytes():
                    body.add(chunk)
                return _Fetched(response, body.bytes())
        except httpx.HTTPError as exc:
            raise _translate(exc) from exc

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncRegistryClient(_ClientBase):
    """The asynchronous twin of :class:`RegistryClient` (same rules, an ``httpx.AsyncClient``).

    Verification itself is synchronous and CPU-bound but small; it runs in the event loop.
    """

    def __init__(
        self,
        trusted: TrustedRegistry,
        url: str,
        *,
        http: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 10.0,
        max_bytes: int = MAX_REGISTRY_BYTES,
    ) -> None:
        super().__init__(trusted, url, retry=retry, max_bytes=max_bytes)
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def refresh(self) -> bool:
        """See :meth:`RegistryClient.refresh`."""
        fetched = await self._get(self._url, conditional=True)
        if fetched is None:
            return False
        staged, urls = self._walk(fetched.body)
        for url in urls:
            step = await self._get(url, conditional=False)
            if step is None:
                raise TransportError(f"registry server answered 304 to an unconditional {url}")
            staged.update(step.body, intermediate=True)
        return self._accept(staged, fetched)

    async def _get(self, url: str, *, conditional: bool) -> _Fetched | None:
        try:
            return await call_async(self._retry, lambda: self._fetch(url, conditional))
        except RetryableError as last:
            raise last.error from last.error.__cause__

    async def _fetch(self, url: str, conditional: bool) -> _Fetched | None:
        headers = self._request_headers(conditional)
        try:
            async with self._http.stream("GET", url, headers=headers) as response:
                if _check_status(response.status_code, self._trusted, url):
                    return None
                _check_declared_size(response, self._max_bytes)
                body = LimitedBody(self._max_bytes, too_large=_registry_too_large)
                async for chunk in response.aiter_bytes():
                    body.add(chunk)
                return _Fetched(response, body.bytes())
        except httpx.HTTPError as exc:
            raise _translate(exc) from exc

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncRegistryClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {"Accept": _ACCEPT, "User-Agent": _USER_AGENT}
    if etag is not None:
        headers["If-None-Match"] = etag
    if last_modified is not None:
        headers["If-Modified-Since"] = last_modified
    return headers


def _check_status(status: int, trusted: TrustedRegistry, url: str) -> bool:
    """True for 304 (unchanged); raise for anything but 200."""
    if status == 304:
        if trusted.version is None:
            raise TransportError("registry server answered 304 to a first fetch")
        return True
    if status in _TRANSIENT_STATUS:
        raise RetryableError(TransportError(f"registry server answered {status}"))
    if status != 200:
        raise TransportError(f"registry server answered {status} for {url}")
    return False


def _check_declared_size(response: httpx.Response, max_bytes: int) -> None:
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise SizeLimitError(f"registry of {declared} bytes exceeds {max_bytes}")


def _translate(exc: httpx.HTTPError) -> Exception:
    """A transient httpx failure wrapped for retrying, or a final TransportError."""
    error: CommunicationError
    if isinstance(exc, httpx.TimeoutException):
        error = PeerTimeoutError(f"registry fetch timed out: {exc}")
    elif isinstance(exc, httpx.TransportError):
        error = TransportError(f"registry fetch failed: {exc}")
    else:
        return TransportError(f"registry fetch failed: {exc}")
    error.__cause__ = exc
    return RetryableError(error)
