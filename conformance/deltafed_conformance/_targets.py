"""What the suite runs against: an adapter in process, or a live node on the wire.

:class:`AdapterTarget` builds a whole test federation around one adapter
(:class:`FederationFixture`: anchor, registry, the node's member, a tester member with a
second, compromised key, an outsider member no scenario names, and the scenarios of
:func:`deltafed.testing.default_scenarios`), starts a :class:`deltafed.node.Node` backed by the
adapter's sandbox, and talks to it through httpx's ASGI transport. :class:`LiveTarget` talks to
a node of any implementation at a URL, with the registry, anchor and tester identity the
integrator was given.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx

from deltafed._clock import Clock, SimulatedClock, system_clock
from deltafed._errors import ConfigurationError
from deltafed.adapters import ProvinceAdapter, create_adapter, load_adapter
from deltafed.adapters._province import HttpProvinceAdapter
from deltafed.audit import AuditLog
from deltafed.concerns import ConcernService, SqliteConcernStore
from deltafed.concerns._example import add_concerns
from deltafed.events import SqliteEventStore
from deltafed.keys import PrivateKey
from deltafed.node import Node
from deltafed.protocol import MemoryReplayStore, ReplayStore
from deltafed.registry import TrustedRegistry, load_anchor_file
from deltafed.testing import LocalFederation, default_scenarios, synthetic_catalogue
from deltafed_conformance._platform import Platform
from deltafed_conformance._profile import (
    Profile,
    identity_cards,
    load_profile,
    synthetic_profile,
)
from deltafed_conformance._session import Session

__all__ = [
    "AdapterTarget",
    "FederationFixture",
    "LiveTarget",
    "NodeParts",
    "Target",
]

#: The region the memory adapter serves when no configuration is given.
MEMORY_REGION: Final = "320000"

AsgiApp = Callable[..., Any]


class Target(abc.ABC):
    """Something the suite can run against; :meth:`open` yields a :class:`Session`."""

    #: A short label used in reports (one column of the HTML matrix).
    name: str
    #: ``adapter`` or ``live``.
    kind: str

    @abc.abstractmethod
    def open(self) -> contextlib.AbstractAsyncContextManager[Session]:
        """Start what is needed and yield the session; clean up on exit."""


def _seeded_key(seed: int | None, name: str, alg: str = "EdDSA") -> PrivateKey:
    if seed is None:
        return PrivateKey.generate(alg)
    digest = hashlib.sha256(f"deltafed-conformance:{seed}:{name}".encode()).digest()
    return PrivateKey.from_seed(digest, alg)


class FederationFixture:
    """A test federation around one node of ``region`` (synthetic, TEST keys only).

    The tester and the outsider are members of another region; the tester holds a second
    key that the registry marks compromised since a day before ``clock()``.
    """

    def __init__(
        self,
        region: str,
        *,
        clock: Clock,
        endpoint: str | None = None,
        key_seed: int | None = None,
        crypto: str = "international",
    ) -> None:
        self.clock = clock
        self.region = region
        other = "340000" if region != "340000" else "310000"
        self.node = f"{region}/dsj"
        self.tester = f"{other}/conformance"
        self.outsider = f"{other}/conformance-outsider"
        self.supervisor = f"{other}/conformance-supervisor"
        self.federation = LocalFederation(
            clock=clock,
            members={
                self.tester: None,
                self.node: endpoint,
                self.outsider: None,
                self.supervisor: None,
            },
            scenarios=default_scenarios(self.tester, [region]),
            key_seed=key_seed,
            crypto=crypto,
        )
        self.endpoint = self.federation.endpoints[self.node]
        self.compromised_key = _seeded_key(
            key_seed, "compromised", self.federation.crypto.algorithms[0]
        )
        now = clock()
        builder = self.federation.builder()
        builder.add_key(
            self.tester, self.compromised_key.public_key, not_before=now - timedelta(days=30)
        )
        builder.compromise_key(self.tester, self.compromised_key.kid, at=now - timedelta(days=1))
        # Concerns (protocol section 10): the node answers those about its catalogue.
        add_concerns(
            builder,
            synthetic_catalogue(region),
            desk=self.node,
            supervisor=self.supervisor,
            filers=[self.tester],
        )
        self.federation.sign_registry(builder)

    @property
    def node_key(self) -> PrivateKey:
        return self.federation.keys[self.node]

    @property
    def tester_key(self) -> PrivateKey:
        return self.federation.keys[self.tester]

    @property
    def outsider_key(self) -> PrivateKey:
        return self.federation.keys[self.outsider]

    def trusted_registry(self) -> TrustedRegistry:
        return self.federation.trusted_registry()

    def profile(self, seed: int | None = None) -> Profile:
        return synthetic_profile(self.region, seed=seed, node=self.node)

    def parts(self, adapter: ProvinceAdapter) -> NodeParts:
        registry = self.trusted_registry()
        audit = self.federation.audit_log(self.node)
        store = SqliteConcernStore()
        concerns = ConcernService(
            self.node, self.node_key, registry, store, audit, adapter=adapter, clock=self.clock
        )

        events = SqliteEventStore(":memory:")

        async def close_store() -> None:
            store.close()
            events.close()

        return NodeParts(
            member=self.node,
            signer=self.node_key,
            registry=registry,
            adapter=adapter,
            audit=audit,
            replay=MemoryReplayStore(),
            clock=self.clock,
            options={"concerns": concerns, "events": events},
            closers=[close_store],
        )

    def write(self, directory: str | Path, *, seed: int | None = None) -> dict[str, Path]:
        """Write what a :class:`LiveTarget` needs into ``directory``: ``anchor.json``,
        ``registry.jws``, ``tester.pem``, ``compromised.pem``, ``outsider.pem``,
        ``node.pem`` (for starting the node) and ``profile.json``. Returns the paths."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {
            "anchor": folder / "anchor.json",
            "registry": folder / "registry.jws",
            "profile": folder / "profile.json",
        }
        paths["anchor"].write_text(json.dumps(self.federation.anchor.to_wire()), "utf-8")
        paths["registry"].write_bytes(self.federation.registry_bytes)
        for name, key in (
            ("tester", self.tester_key),
            ("compromised", self.compromised_key),
            ("outsider", self.outsider_key),
            ("node", self.node_key),
        ):
            paths[name] = key.save(folder / f"{name}.pem")
        profile = profile_to_mapping(self.profile(seed))
        profile["keys"] = {
            "compromised_key": "compromised.pem",
            "outsider_id": self.outsider,
            "outsider_key": "outsider.pem",
        }
        paths["profile"].write_text(json.dumps(profile, indent=2, ensure_ascii=False), "utf-8")
        return paths


def profile_to_mapping(profile: Profile) -> dict[str, Any]:
    """The JSON form of a profile (without the key files)."""
    out: dict[str, Any] = {}
    if profile.node is not None:
        out["node"] = profile.node
    for name in (
        "verify",
        "release",
        "record",
        "consent_record",
        "revoked",
        "match",
        "count",
        "subscribe",
    ):
        subject = getattr(profile, name)
        if subject is None:
            continue
        entry = {
            k: v
            for k, v in {
                "scenario": subject.scenario,
                "holder_type": subject.holder_type,
                "holder_code": subject.holder_code,
                "type_code": subject.type_code,
                "certificate_id": subject.certificate_id,
                "record_type": subject.record_type,
                "outside_field": subject.outside_field,
                "predicate": subject.predicate,
                "aggregate": subject.aggregate,
                "place": subject.place,
            }.items()
            if v is not None and v != ""
        }
        if subject.fields:
            entry["fields"] = list(subject.fields)
        out[name] = entry
    if profile.absent_holder_code is not None:
        out["absent"] = {"holder_code": profile.absent_holder_code}
    return out


@dataclass
class NodeParts:
    """What a node is built from; a faulty-node factory may swap any part."""

    member: str
    signer: PrivateKey
    registry: TrustedRegistry
    adapter: ProvinceAdapter
    audit: AuditLog
    replay: ReplayStore
    clock: Clock
    options: dict[str, Any] = field(default_factory=dict)
    #: Run when the node shuts down (closing what the parts opened).
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def build(self, cls: type[Node] = Node, **changes: Any) -> Node:
        parts = replace(self, **changes) if changes else self
        node = cls(
            parts.member,
            parts.signer,
            parts.registry,
            parts.adapter,
            parts.audit,
            parts.replay,
            clock=parts.clock,
            **parts.options,
        )
        for closer in parts.closers:
            node.on_shutdown(closer)
        return node


def _default_adapter(name: str, config: Mapping[str, Any] | None, clock: Clock) -> ProvinceAdapter:
    if config is not None:
        return create_adapter(name, config)
    cls = load_adapter(name)
    if issubclass(cls, HttpProvinceAdapter):
        adapter, _ = cls.with_sandbox(clock=clock)
        return adapter
    if name == "memory":
        return create_adapter(name, {"region": MEMORY_REGION})
    return create_adapter(name, {"sandbox": True})


#: Where an in-process target's simulated clock starts (Monday 2 March 2026, 10:00 in China):
#: deadlines counted in working days from it stay in a year the calendar ships.
SIMULATED_START: Final = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


class AdapterTarget(Target):
    """A node the suite starts in process, backed by adapter ``adapter`` (an entry-point name).

    ``config`` is passed to the adapter's ``from_config`` (default: its sandbox).
    ``adapter_factory`` builds the adapter instead (it gets the clock), for adapters that
    are not registered. ``node_factory`` builds the node from its :class:`NodeParts`
    (default ``parts.build()``); ``wrap`` wraps the node's ASGI app - the test suite builds
    its deliberately faulty nodes with these two. ``key_seed`` makes the TEST keys
    deterministic. ``crypto`` is the federation's crypto profile (``gm``: SM2 and SM3).
    """

    kind = "adapter"

    def __init__(
        self,
        adapter: str,
        *,
        name: str | None = None,
        clock: Clock | None = None,
        config: Mapping[str, Any] | None = None,
        adapter_factory: Callable[[Clock], ProvinceAdapter] | None = None,
        node_factory: Callable[[NodeParts], Node] | None = None,
        wrap: Callable[[Node], AsgiApp] | None = None,
        key_seed: int | None = None,
        crypto: str = "international",
    ) -> None:
        self.adapter = adapter
        self.name = name or adapter
        # The federation is in process: its time is ours to choose. A simulated clock at a
        # date the working-day calendar knows keeps the run independent of the year.
        self.clock = clock or SimulatedClock(SIMULATED_START)
        self.config = config
        self._adapter_factory = adapter_factory
        self.node_factory = node_factory
        self.wrap = wrap
        self.key_seed = key_seed
        self.crypto = crypto

    def make_adapter(self) -> ProvinceAdapter:
        if self._adapter_factory is not None:
            return self._adapter_factory(self.clock)
        return _default_adapter(self.adapter, self.config, self.clock)

    @contextlib.asynccontextmanager
    async def open(self) -> AsyncIterator[Session]:
        adapter = self.make_adapter()
        fixture = FederationFixture(
            adapter.region, clock=self.clock, key_seed=self.key_seed, crypto=self.crypto
        )
        platform = Platform(adapter)
        profile = fixture.profile()
        spares = identity_cards(adapter.region)[1:]
        if platform.can_revoke and len(spares) >= 2:
            # One certificate revoked before the run, one kept to revoke during it.
            platform.revoke(str(spares[0].certificate_id))
            profile = replace(profile, revoked=spares[0])
            platform.spare = spares[1]
        parts = fixture.parts(adapter)
        node = self.node_factory(parts) if self.node_factory is not None else parts.build()
        app = self.wrap(node) if self.wrap is not None else node
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url=fixture.endpoint) as http:
                yield Session(
                    target=self.name,
                    http=http,
                    node=fixture.node,
                    tester=fixture.tester,
                    tester_key=fixture.tester_key,
                    registry=fixture.trusted_registry(),
                    clock=self.clock,
                    profile=profile,
                    compromised_key=fixture.compromised_key,
                    outsider=(fixture.outsider, fixture.outsider_key),
                    adapter_factory=self.make_adapter,
                    adapter_name=getattr(adapter, "name", self.adapter),
                    max_bytes=node.limits.max_bytes,
                    platform=platform,
                )
        finally:
            await node.aclose()
            await adapter.aclose()


class LiveTarget(Target):
    """A running node of any implementation, reached at ``url``.

    ``registry`` and ``anchor`` are the federation's signed registry and pinned anchor files;
    ``tester_key`` and ``tester_id`` the tester identity the federation gave the integrator.
    ``profile`` says which scenarios and subjects the node offers (without one, the checks
    that need them are skipped). The node's member id is ``node_id``, else the profile's,
    else the registry member whose endpoint is ``url``.
    """

    kind = "live"

    def __init__(
        self,
        url: str,
        *,
        registry: str | Path,
        anchor: str | Path,
        tester_key: str | Path,
        tester_id: str,
        profile: Profile | str | Path | None = None,
        node_id: str | None = None,
        name: str | None = None,
        clock: Clock | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.name = name or self.url
        self.registry_file = Path(registry)
        self.anchor_file = Path(anchor)
        self.tester_key_file = Path(tester_key)
        self.tester_id = tester_id
        if profile is None or isinstance(profile, Profile):
            self.profile = profile or Profile()
        else:
            self.profile = load_profile(profile)
        self.node_id = node_id
        self.clock = clock or system_clock
        self.timeout = timeout
        self.transport = transport

    def _node(self, registry: TrustedRegistry) -> str:
        chosen = self.node_id or self.profile.node
        if chosen is not None:
            return chosen
        for member in registry.members():
            endpoint = getattr(member, "endpoint", None)
            if endpoint is not None and str(endpoint).rstrip("/") == self.url:
                return str(member.id)
        raise ConfigurationError(
            f"no registry member has the endpoint {self.url}",
            remediation="Name the node with --node-id or 'node' in the profile.",
        )

    @contextlib.asynccontextmanager
    async def open(self) -> AsyncIterator[Session]:
        registry = TrustedRegistry(load_anchor_file(self.anchor_file), clock=self.clock)
        registry.update_from_file(self.registry_file)
        node = self._node(registry)
        profile = self.profile
        compromised = PrivateKey.load(profile.compromised_key) if profile.compromised_key else None
        outsider = None
        if profile.outsider_id is not None and profile.outsider_key is not None:
            outsider = (profile.outsider_id, PrivateKey.load(profile.outsider_key))
        async with httpx.AsyncClient(
            base_url=self.url, timeout=self.timeout, transport=self.transport
        ) as http:
            yield Session(
                target=self.name,
                http=http,
                node=node,
                tester=self.tester_id,
                tester_key=PrivateKey.load(self.tester_key_file),
                registry=registry,
                clock=self.clock,
                profile=profile,
                compromised_key=compromised,
                outsider=outsider,
            )
