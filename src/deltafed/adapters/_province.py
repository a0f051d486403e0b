"""What the three HTTP province adapters share: configuration, sandbox wiring, native parsing.

A province adapter is built either against the real platform::

    ZhejiangAdapter.from_config({"base_url": "https://gateway.example", "app_key": ...,
                                 "app_secret": ..., "timeout": 10})

or against its in-process sandbox, by configuration (``{"sandbox": True, "seed": 7,
"faults": {"server_error": 2}}``) or in code with :meth:`HttpProvinceAdapter.with_sandbox`,
which also returns the sandbox so faults can be switched at runtime.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from typing import Any, ClassVar, Final, Self

import httpx

from deltafed._clock import Clock, system_clock
from deltafed._errors import AdapterDataError, ConfigurationError
from deltafed._limits import is_loopback_host
from deltafed._retry import RetryPolicy
from deltafed.adapters._base import DEFAULT_TIMEOUT, ProvinceAdapter
from deltafed.adapters._http import HttpSettings, NativeHttp
from deltafed.adapters._sandboxkit import FAULT_NAMES, SandboxTransport
from deltafed.adapters._synthetic import DEFAULT_SEED, RegionData, synthetic_population

__all__ = ["HttpProvinceAdapter", "native_date", "native_str", "native_time"]

_COMMON_KEYS: Final = frozenset(
    {"region", "base_url", "timeout", "http_timeout", "retry", "sandbox", "seed", "faults"}
)


def native_str(doc: Mapping[str, Any], key: str, *, where: str, optional: bool = False) -> str:
    """A string field of a native document; missing or non-string is bad data."""
    value = doc.get(key)
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise AdapterDataError(f"{where}: field {key!r} missing or not a string")
    return value


def native_date(text: str, fmt: str, *, where: str, key: str) -> date:
    try:
        return datetime.strptime(text, fmt).date()
    except ValueError as exc:
        raise AdapterDataError(
            f"{where}: field {key!r} is not a {fmt} date: {text[:20]!r}"
        ) from exc


def native_time(text: str, fmt: str, zone: tzinfo, *, where: str, key: str) -> datetime:
    try:
        return datetime.strptime(text, fmt).replace(tzinfo=zone)
    except ValueError as exc:
        raise AdapterDataError(
            f"{where}: field {key!r} is not a {fmt} time: {text[:25]!r}"
        ) from exc


def _loopback(url: httpx.URL) -> bool:
    return is_loopback_host(url.host)


class HttpProvinceAdapter(ProvinceAdapter):
    """Base of the adapters that talk to a province platform over httpx."""

    #: The region the province's platform serves.
    default_region: ClassVar[str]
    #: The base URL the sandbox answers at (never resolved: the transport is in process).
    sandbox_base_url: ClassVar[str]
    #: Configuration keys holding credentials.
    credential_keys: ClassVar[tuple[str, ...]]

    def __init__(
        self,
        *,
        settings: HttpSettings,
        credentials: Mapping[str, str],
        region: str | None = None,
        clock: Clock = system_clock,
        retry: RetryPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(region=region or self.default_region, timeout=timeout)
        missing = [k for k in self.credential_keys if not credentials.get(k)]
        if missing:
            raise ConfigurationError(f"{type(self).__name__}: missing credentials {missing}")
        self._clock = clock
        self._retry = retry if retry is not None else RetryPolicy()
        self._http = NativeHttp(settings)
        #: The sandbox, when built by :meth:`with_sandbox`.
        self.sandbox: SandboxTransport | None = None
        self._setup(credentials)

    @abc.abstractmethod
    def _setup(self, credentials: Mapping[str, str]) -> None:
        """Build the native client from the credentials."""

    @classmethod
    @abc.abstractmethod
    def _make_sandbox(cls, data: RegionData, *, clock: Clock) -> SandboxTransport:
        """A sandbox of this province's platform seeded with ``data``."""

    @classmethod
    @abc.abstractmethod
    def _sandbox_credentials(cls) -> dict[str, str]:
        """Credentials the sandbox accepts."""

    async def _aclose(self) -> None:
        await self._http.aclose()

    async def _probe(self) -> None:
        # Any HTTP answer below 500 to a HEAD of the base URL means the platform is there;
        # no credentials are sent and no data is touched.
        await self._http.send("HEAD", "/")

    @classmethod
    def with_sandbox(
        cls,
        seed: int = DEFAULT_SEED,
        *,
        region: str | None = None,
        clock: Clock = system_clock,
        retry: RetryPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        **faults: int,
    ) -> tuple[Self, SandboxTransport]:
        """An adapter wired to a fresh in-process sandbox, and the sandbox.

        ``faults`` set the sandbox's fault counters (``server_error=2``...); retries do not
        wait unless ``retry`` says otherwise.
        """
        region = region or cls.default_region
        population = synthetic_population(seed)
        if region not in population.regions:
            raise ConfigurationError(f"no synthetic data for region {region!r}")
        sandbox = cls._make_sandbox(population.region(region), clock=clock)
        sandbox.faults.set(**faults)
        adapter = cls(
            settings=HttpSettings(base_url=cls.sandbox_base_url, transport=sandbox),
            credentials=cls._sandbox_credentials(),
            region=region,
            clock=clock,
            retry=retry if retry is not None else RetryPolicy.no_wait(),
            timeout=timeout,
        )
        adapter.sandbox = sandbox
        return adapter, sandbox

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        """Build from configuration; see the module docstring and ``docs/adapters.md``."""
        unknown = set(config) - _COMMON_KEYS - set(cls.credential_keys)
        if unknown:
            raise ConfigurationError(f"{cls.__name__}: unknown settings {sorted(unknown)}")
        region = _opt(config, "region", str) or cls.default_region
        timeout = float(_opt(config, "timeout", (int, float)) or DEFAULT_TIMEOUT)
        table = config.get("retry")
        where = "adapter.config.retry"
        retry = None if table is None else RetryPolicy.from_config(table, where=where)
        if config.get("sandbox", False) is True:
            faults = config.get("faults") or {}
            if not isinstance(faults, Mapping) or any(
                k not in FAULT_NAMES or not isinstance(v, int) for k, v in faults.items()
            ):
                raise ConfigurationError(
                    f"faults must map fault names {list(FAULT_NAMES)} to counts"
                )
            seed = _opt(config, "seed", int)
            adapter, _ = cls.with_sandbox(
                DEFAULT_SEED if seed is None else seed,
                region=region,
                retry=retry,
                timeout=timeout,
                **dict(faults),
            )
            return adapter
        if config.get("sandbox", False) is not False:
            raise ConfigurationError("'sandbox' must be true or false")
        if "faults" in config or "seed" in config:
            raise ConfigurationError("'faults' and 'seed' only apply to a sandbox")
        base_url = _opt(config, "base_url", str)
        if base_url is None:
            raise ConfigurationError(f"{cls.__name__}: 'base_url' is required")
        url = httpx.URL(base_url)
        if url.scheme != "https" and not (url.scheme == "http" and _loopback(url)):
            raise ConfigurationError("base_url must use https (plain http only on loopback)")
        http_timeout = _opt(config, "http_timeout", (int, float))
        settings = HttpSettings(
            base_url=base_url, timeout=float(http_timeout) if http_timeout else min(timeout, 10.0)
        )
        credentials = {}
        for key in cls.credential_keys:
            value = config.get(key)
            if not isinstance(value, str) or not value:
                raise ConfigurationError(f"{cls.__name__}: credential {key!r} is required")
            credentials[key] = value
        return cls(
            settings=settings, credentials=credentials, region=region, retry=retry, timeout=timeout
        )


def _opt(config: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigurationError(f"setting {key!r} has the wrong type")
    return value
