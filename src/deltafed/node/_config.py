"""Node configuration (the TOML file of ``deltafed serve``) and :func:`build_node`.

Example::

    [node]
    member = "320000/dsj"
    key_file = "keys/jiangsu.pem"        # the member's private key (PEM or JWK), mode 0600
    host = "127.0.0.1"
    port = 8443
    log_level = "info"                   # debug, info, warning, error, critical
    log_format = "json"                  # one JSON object per line (or "text")
    metrics = true                       # serve /metrics (the metrics extra)

    [registry]
    file = "registry.jws"                # the signed registry
    anchor = "anchor.json"               # the pinned trust anchor, delivered out of band
    grace_hours = 24
    url = "https://anchor.example/yrd/registry.jws"  # optional publication point to poll
    poll_seconds = 60                    # poll the URL (or else the file); 0: never
    warn_expiry_hours = 24               # /health degraded when the registry expires sooner

    [audit]
    db = "audit.db"                      # SQLite, durable commits
    subject_key_file = "subject.key"     # hex (or raw bytes), at least 16 bytes, secret

    [replay]
    db = "replay.db"                     # shared by the worker processes of the node

    [store]                              # optional: PostgreSQL instead of the SQLite files
    url = "postgresql://deltafed@db.example/shanghai"  # audit, replay, registry state,
                                         # concerns, subscriptions, event outbox and inbox
    pool_size = 8                        # connections per worker process
    claim_lease = 30                     # seconds before a crashed worker's claim is retaken

    [state]
    db = "state.db"                      # optional: rate-limit buckets, subscriptions,
                                         # event outbox and inbox (SQLite)
    deliver_every = 5                    # seconds between change feed reads and deliveries

    [state.retry]                        # optional: redelivery of failed events (RetryPolicy)
    attempts = 8                         # deliveries of one event, the first included,
                                         # before it is parked for the operator
    initial_wait = 2                     # seconds after the first failure; then doubled
    max_wait = 3600                      # longest wait between two deliveries

    [adapter]
    name = "jiangsu"                     # an entry point of deltafed.adapters
    [adapter.config]                     # passed to the adapter's from_config
    sandbox = true

    [concerns]                           # optional: answer cross-region concerns
    db = "concerns.db"                   # SQLite: the concerns and their signed histories
                                         # (not used with a [store] url)
    sweep_seconds = 300                  # how often reminders and escalations are swept

    [tls]                                # required unless host is loopback
    cert_file = "tls/node.crt"           # the node's certificate chain (PEM)
    key_file = "tls/node.key"            # its private key (PEM)
    client_ca_file = "tls/members-ca.pem"  # optional: require client certificates (mutual TLS)

With ``[store] url`` the audit log, the replay store, the trusted registry state, the
concerns (with ``[concerns]``) and the subscriptions, event outbox and inbox (with ``[state]``)
live in that PostgreSQL database (the ``postgres`` extra), shared by every worker and host
running the same configuration; ``[audit] db``, ``[replay] db`` and ``[concerns] db`` are then
not used, and ``[state] db`` holds only the rate-limit buckets. ``claim_lease`` is also how long
a worker's claim on a concern's deadline notice or on an outbox event holds if the worker dies
(without a ``[store]`` url it still applies to them). Without a url the audit log is the
SQLite file ``[audit] db`` and the last trusted registry version is kept in ``[registry]
state_db`` (default: ``<audit db name>-registry-state.db`` beside it), so a rollback is refused
across restarts either way.

Relative paths are relative to the configuration file. Unknown keys are refused. A node that
listens on an address other than loopback without ``[tls]`` is refused unless ``[node]`` says
``allow_plain_http = true``: signed messages are not encrypted, so the records they carry need
TLS on the wire.
"""

from __future__ import annotations

import functools
import os
import ssl
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import httpx

from deltafed import _pg
from deltafed._clock import Clock, system_clock
from deltafed._errors import ConfigurationError, InvalidInputError
from deltafed._limits import is_loopback_host
from deltafed._retry import RetryPolicy
from deltafed._text import hex_or_raw_secret
from deltafed.adapters import ProvinceAdapter, create_adapter
from deltafed.audit import AuditLog, AuditStore, PostgresAuditStore, SqliteAuditStore
from deltafed.client import AsyncFederationClient
from deltafed.concerns import (
    ConcernService,
    ConcernStore,
    PostgresConcernStore,
    SqliteConcernStore,
)
from deltafed.events import (
    DELIVERY_RETRY,
    ChangePublisher,
    DeliveryLoop,
    EventStore,
    Outbox,
    PostgresEventStore,
    SqliteEventStore,
)
from deltafed.keys import PrivateKey, Signer
from deltafed.matching import RateLimiter, SqliteBucketStore
from deltafed.node._metrics import NodeMetrics
from deltafed.node._node import Node
from deltafed.node._observe import LOG_LEVELS
from deltafed.protocol import (
    Limits,
    MemoryReplayStore,
    PostgresReplayStore,
    ReplayStore,
    SqliteReplayStore,
)
from deltafed.registry import (
    AsyncRegistryClient,
    PostgresRegistryState,
    RegistryFile,
    RegistryPoller,
    RegistryStateStore,
    SqliteRegistryState,
    TrustedRegistry,
    load_anchor_file,
)
from deltafed.schemas.identifiers import parse_member_id

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

__all__ = ["NodeConfig", "build_node", "load_config", "open_concerns"]

_MAX_CONFIG_BYTES: Final = 64 * 1024
_SECTIONS: Final = {
    "node": {
        "member",
        "key_file",
        "host",
        "port",
        "response_lifetime",
        "max_bytes",
        "allow_plain_http",
        "health_probe_seconds",
        "log_level",
        "log_format",
        "metrics",
    },
    "registry": {
        "file",
        "anchor",
        "grace_hours",
        "url",
        "poll_seconds",
        "warn_expiry_hours",
        "state_db",
    },
    "audit": {"db", "subject_key_file", "checkpoint_every"},
    "replay": {"db", "max_entries"},
    "state": {"db", "deliver_every", "retry"},
    "adapter": {"name", "config"},
    "tls": {"cert_file", "key_file", "client_ca_file"},
    "concerns": {"db", "sweep_seconds"},
    "store": {"url", "pool_size", "claim_lease"},
}


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Everything a node needs to start, with paths resolved."""

    member: str
    key_file: Path
    registry_file: Path
    anchor_file: Path
    audit_db: Path
    subject_key_file: Path
    adapter: str
    adapter_config: Mapping[str, Any] = field(default_factory=dict)
    replay_db: Path | None = None
    replay_max_entries: int = 1_000_000
    #: The node's state file (SQLite): rate-limit buckets, subscriptions, event outbox and
    #: inbox (these three in PostgreSQL with a ``store_url``); without it buckets are in
    #: memory and the node serves no events.
    state_db: Path | None = None
    deliver_every: float = 5.0
    #: How the outbox tries a failed delivery again (``[state.retry]``).
    delivery_retry: RetryPolicy = DELIVERY_RETRY
    host: str = "127.0.0.1"
    port: int = 8443
    grace: timedelta = timedelta(hours=24)
    response_lifetime: int = 60
    max_bytes: int = 262_144
    checkpoint_every: int | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = None
    allow_plain_http: bool = False
    registry_url: str | None = None
    poll_seconds: int = 60
    warn_expiry: timedelta = timedelta(hours=24)
    health_probe_seconds: int = 10
    log_level: str = "info"
    log_format: str = "json"
    metrics: bool = False
    #: ``[concerns] db``: the node answers concerns (protocol section 10) when set (with a
    #: ``store_url`` the concerns are kept there and this path is not used).
    concerns_db: Path | None = None
    concerns_sweep_seconds: int = 300
    #: ``[store] url``: a PostgreSQL database for the audit log, replay, registry state,
    #: concerns and events.
    store_url: str | None = None
    store_pool_size: int = 8
    claim_lease: int = 30
    #: ``[registry] state_db``: the SQLite registry state (when there is no ``store_url``).
    registry_state_db: Path | None = None

    @property
    def registry_state_path(self) -> Path:
        """Where the SQLite registry state lives when there is no ``[store] url``."""
        if self.registry_state_db is not None:
            return self.registry_state_db
        return self.audit_db.with_name(self.audit_db.stem + "-registry-state.db")

    @property
    def tls(self) -> bool:
        """Whether the node serves HTTPS."""
        return self.tls_cert_file is not None

    def check_transport(self, host: str) -> None:
        """Refuse plain HTTP on an address other than loopback, unless explicitly allowed."""
        if self.tls or self.allow_plain_http or is_loopback_host(host):
            return
        raise ConfigurationError(
            f"refusing to serve plain HTTP on {host}: released records would cross the "
            "network unencrypted",
            remediation="Add a [tls] section with cert_file and key_file (and client_ca_file "
            "for mutual TLS), or set allow_plain_http = true in [node] behind a TLS proxy.",
        )

    def uvicorn_tls_options(self) -> dict[str, Any]:
        """The uvicorn keyword arguments that turn on (mutual) TLS; empty without ``[tls]``."""
        if self.tls_cert_file is None:
            return {}
        options: dict[str, Any] = {
            "ssl_certfile": str(self.tls_cert_file),
            "ssl_keyfile": str(self.tls_key_file),
        }
        if self.tls_client_ca_file is not None:
            options["ssl_ca_certs"] = str(self.tls_client_ca_file)
            options["ssl_cert_reqs"] = ssl.CERT_REQUIRED
        return options

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, base: Path) -> NodeConfig:
        """Validate a parsed configuration; ``base`` resolves relative paths."""
        unknown = set(data) - set(_SECTIONS)
        if unknown:
            raise ConfigurationError(f"unknown configuration sections: {sorted(unknown)}")
        sections: dict[str, Mapping[str, Any]] = {}
        for name, allowed in _SECTIONS.items():
            section = data.get(name, {})
            if not isinstance(section, Mapping):
                raise ConfigurationError(f"[{name}] must be a table")
            extra = set(section) - allowed
            if extra:
                raise ConfigurationError(f"[{name}]: unknown keys {sorted(extra)}")
            sections[name] = section

        def need(section: str, key: str, kind: type) -> Any:
            value = sections[section].get(key)
            if value is None:
                raise ConfigurationError(f"[{section}] {key} is required")
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ConfigurationError(f"[{section}] {key} must be a {kind.__name__}")
            return value

        def optional(section: str, key: str, kind: type, default: Any) -> Any:
            if sections[section].get(key) is None:
                return default
            return need(section, key, kind)

        def path(value: str) -> Path:
            candidate = Path(value)
            return candidate if candidate.is_absolute() else base / candidate

        member = need("node", "member", str)
        try:
            parse_member_id(member)
        except InvalidInputError as exc:
            raise ConfigurationError(f"[node] member: {exc.message}") from exc
        adapter_config = sections["adapter"].get("config", {})
        if not isinstance(adapter_config, Mapping):
            raise ConfigurationError("[adapter.config] must be a table")
        port = optional("node", "port", int, 8443)
        if not 0 <= port <= 65535:
            raise ConfigurationError("[node] port must be 0 to 65535")
        replay_db = sections["replay"].get("db")
        state_db = optional("state", "db", str, None)
        tls_cert = optional("tls", "cert_file", str, None)
        tls_key = optional("tls", "key_file", str, None)
        tls_ca = optional("tls", "client_ca_file", str, None)
        if (tls_cert is None) != (tls_key is None):
            raise ConfigurationError("[tls] needs both cert_file and key_file")
        if tls_ca is not None and tls_cert is None:
            raise ConfigurationError("[tls] client_ca_file needs cert_file and key_file")
        registry_url = optional("registry", "url", str, None)
        if registry_url is not None and not registry_url.startswith(("https://", "http://")):
            raise ConfigurationError("[registry] url must be an http(s) URL")
        poll_seconds = optional("registry", "poll_seconds", int, 60)
        if poll_seconds < 0:
            raise ConfigurationError("[registry] poll_seconds must not be negative")
        log_level = optional("node", "log_level", str, "info").lower()
        if log_level not in LOG_LEVELS:
            raise ConfigurationError(f"[node] log_level must be one of {', '.join(LOG_LEVELS)}")
        log_format = optional("node", "log_format", str, "json")
        if log_format not in ("json", "text"):
            raise ConfigurationError('[node] log_format must be "json" or "text"')
        metrics = sections["node"].get("metrics", False)
        if not isinstance(metrics, bool):
            raise ConfigurationError("[node] metrics must be true or false")
        allow_plain = sections["node"].get("allow_plain_http", False)
        if not isinstance(allow_plain, bool):
            raise ConfigurationError("[node] allow_plain_http must be true or false")
        for name, value in (
            ("cert_file", tls_cert),
            ("key_file", tls_key),
            ("client_ca_file", tls_ca),
        ):
            if value is not None and not path(value).is_file():
                raise ConfigurationError(f"[tls] {name}: no file at {path(value)}")
        store_url = optional("store", "url", str, None)
        if store_url is not None and not _pg.is_postgres_url(store_url):
            raise ConfigurationError("[store] url must be a postgresql:// URL")
        pool_size = optional("store", "pool_size", int, 8)
        if not 2 <= pool_size <= 100:
            raise ConfigurationError("[store] pool_size must be 2 to 100")
        claim_lease = optional("store", "claim_lease", int, 30)
        if not 1 <= claim_lease <= 3600:
            raise ConfigurationError("[store] claim_lease must be 1 to 3600 seconds")
        registry_state = optional("registry", "state_db", str, None)
        audit_db = optional("audit", "db", str, None)
        if audit_db is None and store_url is None:
            raise ConfigurationError("[audit] db is required (or a [store] url)")
        return cls(
            member=member,
            key_file=path(need("node", "key_file", str)),
            registry_file=path(need("registry", "file", str)),
            anchor_file=path(need("registry", "anchor", str)),
            audit_db=path(audit_db if audit_db is not None else "audit.db"),
            subject_key_file=path(need("audit", "subject_key_file", str)),
            adapter=need("adapter", "name", str),
            adapter_config=dict(adapter_config),
            replay_db=path(replay_db) if isinstance(replay_db, str) else None,
            replay_max_entries=optional("replay", "max_entries", int, 1_000_000),
            state_db=path(state_db) if state_db is not None else None,
            deliver_every=_seconds(sections["state"].get("deliver_every", 5.0)),
            delivery_retry=RetryPolicy.from_config(
                sections["state"].get("retry", {}), where="state.retry", base=DELIVERY_RETRY
            ),
            host=optional("node", "host", str, "127.0.0.1"),
            port=port,
            grace=timedelta(hours=optional("registry", "grace_hours", int, 24)),
            response_lifetime=optional("node", "response_lifetime", int, 60),
            max_bytes=optional("node", "max_bytes", int, 262_144),
            checkpoint_every=optional("audit", "checkpoint_every", int, None),
            tls_cert_file=path(tls_cert) if tls_cert is not None else None,
            tls_key_file=path(tls_key) if tls_key is not None else None,
            tls_client_ca_file=path(tls_ca) if tls_ca is not None else None,
            allow_plain_http=allow_plain,
            registry_url=registry_url,
            poll_seconds=poll_seconds,
            warn_expiry=timedelta(hours=optional("registry", "warn_expiry_hours", int, 24)),
            health_probe_seconds=optional("node", "health_probe_seconds", int, 10),
            log_level=log_level,
            log_format=log_format,
            metrics=metrics,
            concerns_db=_concerns_db(
                sections["concerns"] if "concerns" in data else None, store_url, path
            ),
            concerns_sweep_seconds=_sweep(optional("concerns", "sweep_seconds", int, 300)),
            store_url=store_url,
            store_pool_size=pool_size,
            claim_lease=claim_lease,
            registry_state_db=path(registry_state) if registry_state is not None else None,
        )


def _concerns_db(
    section: Mapping[str, Any] | None, store_url: str | None, path: Callable[[str], Path]
) -> Path | None:
    """``[concerns] db``; ``None`` without a ``[concerns]`` section (the node takes none)."""
    if section is None:
        return None
    db = section.get("db")
    if db is None and store_url is not None:
        return path("concerns.db")  # not used: the concerns live in PostgreSQL
    if not isinstance(db, str):
        raise ConfigurationError(
            "[concerns] db is required (or a [store] url)"
            if db is None
            else "[concerns] db must be a str"
        )
    return path(db)


def _sweep(seconds: int) -> int:
    if not 10 <= seconds <= 86_400:
        raise ConfigurationError("[concerns] sweep_seconds must be 10 to 86400")
    return seconds


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
        raise ConfigurationError("[state] deliver_every must be 0 to 3600 seconds")
    return float(value)


def load_config(path: str | os.PathLike[str]) -> NodeConfig:
    """Read and validate a node's TOML configuration file."""
    target = Path(path)
    try:
        with target.open("rb") as fh:
            raw = fh.read(_MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigurationError(f"cannot read configuration {target}: {exc}") from exc
    if len(raw) > _MAX_CONFIG_BYTES:
        raise ConfigurationError(f"configuration {target} is larger than {_MAX_CONFIG_BYTES} B")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"configuration {target} is not valid TOML: {exc}") from exc
    return NodeConfig.from_mapping(data, base=target.parent.resolve())


def _subject_key(path: Path) -> bytes:
    try:
        data = path.read_bytes()[:4096]
    except OSError as exc:
        raise ConfigurationError(f"cannot read subject key {path}: {exc}") from exc
    return hex_or_raw_secret(data)


def open_concerns(
    config: NodeConfig,
    *,
    signer: Signer,
    registry: TrustedRegistry,
    audit: AuditLog,
    adapter: ProvinceAdapter | None,
    clock: Clock = system_clock,
    pool: ConnectionPool | None = None,
) -> tuple[ConcernService, ConcernStore]:
    """The concern service of ``config`` and its store (close it): in the ``[store] url``
    database when there is one (on ``pool`` if given), else in the SQLite ``[concerns] db``."""
    if config.concerns_db is None:
        raise ConfigurationError(
            "this node takes no concerns", remediation="Add a [concerns] section with db."
        )
    store: ConcernStore
    if config.store_url is None:
        store = SqliteConcernStore(config.concerns_db)
    elif pool is not None:
        store = PostgresConcernStore(pool=pool)
    else:
        store = PostgresConcernStore(config.store_url, pool_size=config.store_pool_size)
    try:
        service = ConcernService(
            config.member,
            signer,
            registry,
            store,
            audit,
            adapter=adapter,
            clock=clock,
            claim_lease=config.claim_lease,
        )
    except BaseException:
        store.close()
        raise
    return service, store


def build_node(config: NodeConfig, *, clock: Clock = system_clock) -> Node:
    """Open everything ``config`` names and return the node; it closes them on shutdown."""
    key = PrivateKey.load(config.key_file)
    closers: list[Any] = []
    try:
        return _build_node(config, key, clock, closers)
    except BaseException:
        for close in reversed(closers):
            close()
        raise


def _build_node(config: NodeConfig, key: PrivateKey, clock: Clock, closers: list[Any]) -> Node:
    store: AuditStore
    replay: ReplayStore
    state: RegistryStateStore
    pool: ConnectionPool | None = None
    if config.store_url is not None:
        pool = _pg.open_pool(
            config.store_url, max_size=config.store_pool_size, name=f"deltafed {config.member}"
        )
        closers.append(pool.close)
        state = PostgresRegistryState(pool=pool)
        store = PostgresAuditStore(pool=pool)
        replay = PostgresReplayStore(
            pool=pool, max_entries=config.replay_max_entries, claim_lease=config.claim_lease
        )
    else:
        sqlite_state = SqliteRegistryState(config.registry_state_path)
        closers.append(sqlite_state.close)
        state = sqlite_state
        sqlite_store = SqliteAuditStore(config.audit_db)
        closers.append(sqlite_store.close)
        store = sqlite_store
        if config.replay_db is not None:
            sqlite_replay = SqliteReplayStore(
                config.replay_db, max_entries=config.replay_max_entries
            )
            closers.append(sqlite_replay.close)
            replay = sqlite_replay
        else:
            replay = MemoryReplayStore(max_entries=config.replay_max_entries)
    registry = TrustedRegistry(
        load_anchor_file(config.anchor_file), clock=clock, grace=config.grace, state=state
    )
    registry.update_from_file(config.registry_file)
    member = registry.member(config.member)
    if member.key(key.kid) is None:
        raise ConfigurationError(
            f"the key in {config.key_file} ({key.kid}) is not a key of {config.member} "
            "in the registry"
        )
    adapter = create_adapter(config.adapter, config.adapter_config)
    audit = AuditLog(
        store,
        node=config.member,
        signer=key,
        subject_key=_subject_key(config.subject_key_file),
        clock=clock,
        checkpoint_every=config.checkpoint_every,
        crypto=registry.profile,
    )
    source: AsyncRegistryClient | RegistryFile | None = None
    poller: RegistryPoller | None = None
    if config.poll_seconds > 0:
        if config.registry_url is not None:
            source = AsyncRegistryClient(registry, config.registry_url)
        else:
            source = RegistryFile(registry, config.registry_file)
        poller = RegistryPoller(source, interval=config.poll_seconds, clock=clock)
    buckets: SqliteBucketStore | None = None
    events: EventStore | None = None
    if config.state_db is not None:
        buckets = SqliteBucketStore(config.state_db)
        closers.append(buckets.close)
        if pool is not None:
            events = PostgresEventStore(pool=pool)
        else:
            sqlite_events = SqliteEventStore(config.state_db)
            closers.append(sqlite_events.close)
            events = sqlite_events
    concerns: tuple[ConcernService, ConcernStore] | None = None
    if config.concerns_db is not None:
        concerns = open_concerns(
            config,
            signer=key,
            registry=registry,
            audit=audit,
            adapter=adapter,
            clock=clock,
            pool=pool,
        )
        closers.append(concerns[1].close)
    node = Node(
        config.member,
        key,
        registry,
        adapter,
        audit,
        replay,
        clock=clock,
        limits=Limits(max_bytes=config.max_bytes, crypto=registry.profile),
        response_lifetime=config.response_lifetime,
        poller=poller,
        probe_every=config.health_probe_seconds,
        expiry_warning=config.warn_expiry,
        concerns=concerns[0] if concerns is not None else None,
        rate_limiter=RateLimiter(buckets, clock=clock) if buckets is not None else None,
        events=events,
    )
    if config.metrics:
        NodeMetrics().bind(node)
    opened = list(closers)
    outgoing: httpx.AsyncClient | None = None
    if events is not None:
        # Change events: read the change feed and deliver from the outbox while served.
        outgoing = httpx.AsyncClient(timeout=10.0)
        client = AsyncFederationClient(
            config.member,
            key,
            registry,
            clock=clock,
            http=outgoing,
            audit=audit,
            retry=RetryPolicy(attempts=1),
        )
        loop = DeliveryLoop(
            ChangePublisher(adapter, events, clock=clock, scenarios=registry.scenario),
            Outbox(
                events,
                client,
                clock=clock,
                retry=config.delivery_retry,
                claim_lease=config.claim_lease,
            ),
            interval=config.deliver_every,
        )
        node.in_background(loop.run_forever)

    async def close() -> None:
        await adapter.aclose()
        if isinstance(source, AsyncRegistryClient):
            await source.aclose()
        if outgoing is not None:
            await outgoing.aclose()
        for closer in reversed(opened):
            closer()

    node.on_shutdown(close)
    if concerns is not None:
        # Reminders and escalations are signed while the node is served.
        node.in_background(
            functools.partial(concerns[0].run_sweeps, float(config.concerns_sweep_seconds))
        )
    return node
