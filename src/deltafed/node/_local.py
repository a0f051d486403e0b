"""A whole federation in one process, with synthetic data and TEST keys.

:class:`LocalFederation` creates an anchor, one member per region with its key and endpoint, a
signed registry with the synthetic catalogues and a few use scenarios, and builds nodes and
clients wired to it. Tests, the quick start, the demo and the benchmark use it; a deployment
never does (its keys are generated in memory, or derived from a public seed).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Final

import httpx

from deltafed._clock import Clock
from deltafed._errors import ConfigurationError
from deltafed._profile import crypto_profile
from deltafed.adapters import ProvinceAdapter
from deltafed.adapters._synthetic import (
    BUSINESS_LICENCE,
    DEFAULT_SEED,
    ENTERPRISE_STANDING,
    HOUSEHOLD_REGISTRATION,
    IDENTITY_CARD,
    SOCIAL_INSURANCE,
    synthetic_catalogue,
)
from deltafed.adapters.memory import InMemoryAdapter
from deltafed.audit import AuditLog, MemoryAuditStore
from deltafed.keys import PrivateKey
from deltafed.node._node import AuditRecorder, Node
from deltafed.protocol import MemoryReplayStore, ReplayStore
from deltafed.registry import AnchorKeys, RegistryBuilder, TrustedRegistry, sign_registry
from deltafed.schemas.catalogue import UseScenario
from deltafed.schemas.identifiers import parse_member_id

__all__ = [
    "ANHUI",
    "JIANGSU",
    "SCENARIO_COUNT",
    "SCENARIO_HUKOU",
    "SCENARIO_MATCH",
    "SCENARIO_RELEASE",
    "SCENARIO_SOCIAL",
    "SCENARIO_SUBSCRIBE",
    "SCENARIO_VERIFY",
    "SHANGHAI",
    "ZHEJIANG",
    "LocalFederation",
    "default_scenarios",
]

SHANGHAI: Final = "310000/dsj"
JIANGSU: Final = "320000/dsj"
ZHEJIANG: Final = "330000/dsj"
ANHUI: Final = "340000/dsj"

#: Verify identity cards and business licences; no consent (a verification releases no data).
SCENARIO_VERIFY: Final = "yrd-identity-verify"
#: Household registration for school enrolment; consent required, at most 30 days.
SCENARIO_HUKOU: Final = "yrd-hukou-school-enrolment"
#: Release name and birth date of an identity card; consent required.
SCENARIO_RELEASE: Final = "yrd-identity-release"
#: Social insurance standing; the law allows it without consent.
SCENARIO_SOCIAL: Final = "yrd-social-insurance-check"
#: Purpose-bound matching: yes/no social-insurance conditions of residents and companies.
SCENARIO_MATCH: Final = "yrd-social-insurance-match"
#: Proactive services: changes to residents' identity cards (issued, renewed, revoked...).
SCENARIO_SUBSCRIBE: Final = "yrd-identity-card-changes"
#: Purpose-bound matching: how many residents are registered in a division (at least 5 shown).
SCENARIO_COUNT: Final = "yrd-registered-residents-count"

_NAMES: Final = {
    "310000": "Shanghai Big Data Centre (test)",
    "320000": "Jiangsu Big Data Centre (test)",
    "330000": "Zhejiang Big Data Bureau (test)",
    "340000": "Anhui Data Resources Bureau (test)",
}


def default_scenarios(requester: str, providers: Sequence[str]) -> tuple[UseScenario, ...]:
    """The scenarios of a local federation: ``requester`` asks ``providers`` regions."""
    common: dict[str, Any] = {
        "legal_basis": "Synthetic test basis - not a real regulation",
        "requester": requester,
        "providers": list(providers),
    }
    return (
        UseScenario.parse(
            {
                **common,
                "id": SCENARIO_VERIFY,
                "name": "Identity verification for cross-region services",
                "service_matter": "跨省通办 identity check (test)",
                "operations": ["certificate.verify"],
                "certificate_types": [IDENTITY_CARD.type_code, BUSINESS_LICENCE.type_code],
                "consent_required": False,
            }
        ),
        UseScenario.parse(
            {
                **common,
                "id": SCENARIO_HUKOU,
                "name": "Household registration for school enrolment",
                "service_matter": "Primary school enrolment of non-local children (test)",
                "operations": ["record.request"],
                "record_types": [HOUSEHOLD_REGISTRATION.code],
                "allowed_fields": ["registered_division", "is_household_head"],
                "consent_required": True,
                "max_consent_days": 30,
            }
        ),
        UseScenario.parse(
            {
                **common,
                "id": SCENARIO_RELEASE,
                "name": "Identity card data for account opening",
                "service_matter": "Social security account opening (test)",
                "operations": ["certificate.release"],
                "certificate_types": [IDENTITY_CARD.type_code],
                "allowed_fields": ["name", "birth_date"],
                "consent_required": True,
            }
        ),
        UseScenario.parse(
            {
                **common,
                "id": SCENARIO_SOCIAL,
                "name": "Social insurance standing for talent subsidies",
                "service_matter": "Talent housing subsidy (test)",
                "operations": ["record.request"],
                "record_types": [SOCIAL_INSURANCE.code],
                "allowed_fields": ["insured", "months_paid"],
                "consent_required": False,
            }
        ),
        UseScenario.parse(
            {
                **common,
                "id": SCENARIO_MATCH,
                "name": "Social insurance conditions for subsidies (yes/no only)",
                "service_matter": "Talent and enterprise subsidies (test)",
                "operations": ["match.ask"],
                "predicates": [
                    {
                        "id": "resident-insured-12-months",
                        "record_type": SOCIAL_INSURANCE.code,
                        "field": "months_paid",
                        "comparison": "ge",
                        "threshold": 12,
                    },
                    {
                        "id": "company-insures-50-employees",
                        "record_type": ENTERPRISE_STANDING.code,
                        "field": "employees",
                        "comparison": "ge",
                        "threshold": 50,
                    },
                ],
                "rate_limit": {"burst": 10, "per_hour": 60},
                "consent_required": False,
            }
        ),
        UseScenario.parse(
            {
                **common,
                "id": SCENARIO_COUNT,
                "name": "Registered residents per division (group leasing checks)",
                "service_matter": "Housing safety inspection (test)",
                "operations": ["match.ask"],
                "aggregates": [
                    {
                        "id": "residents-registered-in-division",
                        "record_type": HOUSEHOLD_REGISTRATION.code,
                        "field": "registered_division",
                    }
                ],
                "min_group_size": 5,
                "rate_limit": {"burst": 10, "per_hour": 60},
                "consent_required": False,
            }
        ),
        UseScenario.parse(
            {
                **common,
                "id": SCENARIO_SUBSCRIBE,
                "name": "Identity card changes of residents served (proactive services)",
                "service_matter": "Residence permit renewal offered proactively (test)",
                "operations": ["subscription.create"],
                "certificate_types": [IDENTITY_CARD.type_code],
                "events": [
                    "certificate.issued",
                    "certificate.renewed",
                    "certificate.changed",
                    "certificate.revoked",
                    "condition.changed",
                ],
                "predicates": [
                    {
                        "id": "resident-insured-12-months",
                        "record_type": SOCIAL_INSURANCE.code,
                        "field": "months_paid",
                        "comparison": "ge",
                        "threshold": 12,
                    }
                ],
                "max_subscription_days": 365,
                "consent_required": False,
            }
        ),
    )


def _test_key(seed: int | None, name: str, alg: str = "EdDSA") -> PrivateKey:
    if seed is None:
        return PrivateKey.generate(alg)
    return PrivateKey.from_seed(
        hashlib.sha256(f"deltafed-test-key:{seed}:{name}".encode()).digest(), alg
    )


class LocalFederation:
    """Anchor, members, keys, signed registry and scenarios of a synthetic federation.

    ``members`` maps each member id to its endpoint URL (``None``: a made-up
    ``http://<region>.deltafed.test`` one, for in-process transports). The first member is
    the requester of the default scenarios, the others' regions their providers.
    ``key_seed`` makes the TEST keys deterministic. ``clock`` is shared by everything built.
    ``crypto`` is the federation's crypto profile (``gm``: SM2 keys, SM3 digests; needs the
    ``deltafed[gm]`` extra).
    """

    def __init__(
        self,
        *,
        clock: Clock,
        members: Mapping[str, str | None] | None = None,
        scenarios: Sequence[UseScenario] | None = None,
        data_seed: int = DEFAULT_SEED,
        key_seed: int | None = None,
        validity: timedelta = timedelta(days=7),
        crypto: str = "international",
    ) -> None:
        self.crypto = crypto_profile(crypto)
        alg = self.crypto.algorithms[0]
        chosen = dict(members) if members is not None else {SHANGHAI: None, JIANGSU: None}
        if not chosen:
            raise ConfigurationError("a federation needs at least one member")
        self.clock = clock
        self.data_seed = data_seed
        self.endpoints: dict[str, str] = {}
        for member, endpoint in chosen.items():
            region = parse_member_id(member).region
            self.endpoints[member] = endpoint or f"http://{region}.deltafed.test"
        self.members: tuple[str, ...] = tuple(self.endpoints)
        self.anchor_key = _test_key(key_seed, "anchor", alg)
        self.anchor = AnchorKeys.of([self.anchor_key.public_key], 1)
        self.keys: dict[str, PrivateKey] = {m: _test_key(key_seed, m, alg) for m in self.members}
        requester = self.members[0]
        providers = sorted({parse_member_id(m).region for m in self.members[1:]}) or [
            parse_member_id(requester).region
        ]
        self.scenarios = (
            tuple(scenarios) if scenarios is not None else default_scenarios(requester, providers)
        )
        self.validity = validity
        self.version = 0
        self.registry_bytes = self.sign_registry()

    def builder(self) -> RegistryBuilder:
        """A registry builder holding this federation (to change it, then :meth:`publish`)."""
        now = self.clock()
        builder = RegistryBuilder(
            "yrd-test", self.anchor, version=self.version + 1, crypto=self.crypto.name
        )
        regions: set[str] = set()
        for member in self.members:
            region = parse_member_id(member).region
            builder.add_member(
                member, _NAMES.get(region, f"Member {member}"), endpoint=self.endpoints[member]
            )
            builder.add_key(
                member, self.keys[member].public_key, not_before=now - timedelta(days=30)
            )
            regions.add(region)
        for region in sorted(regions):
            builder.set_catalogue(synthetic_catalogue(region))
        for scenario in self.scenarios:
            builder.add_scenario(scenario)
        return builder

    def sign_registry(self, builder: RegistryBuilder | None = None) -> bytes:
        """Build (from ``builder`` or the federation), sign and remember a new version."""
        chosen = builder if builder is not None else self.builder()
        chosen.version = self.version + 1
        doc = chosen.build(issued_at=self.clock(), validity=self.validity)
        self.version = doc.version
        self.registry_bytes = sign_registry(doc, [self.anchor_key])
        return self.registry_bytes

    def trusted_registry(self) -> TrustedRegistry:
        """A fresh :class:`TrustedRegistry` pinned to the anchor, holding the registry."""
        trusted = TrustedRegistry(self.anchor, clock=self.clock)
        trusted.update(self.registry_bytes)
        return trusted

    def adapter(self, member: str) -> InMemoryAdapter:
        """An in-memory adapter with the synthetic population of the member's region."""
        return InMemoryAdapter.synthetic(parse_member_id(member).region, seed=self.data_seed)

    def audit_log(self, member: str) -> AuditLog:
        """An in-memory audit log for ``member``, signed with its key."""
        return AuditLog(
            MemoryAuditStore(),
            node=member,
            signer=self.keys[member],
            subject_key=hashlib.sha256(f"subject-key:{member}".encode()).digest(),
            clock=self.clock,
            crypto=self.crypto,
        )

    def node(
        self,
        member: str,
        *,
        adapter: ProvinceAdapter | None = None,
        audit: AuditRecorder | None = None,
        replay: ReplayStore | None = None,
        registry: TrustedRegistry | None = None,
        **options: Any,
    ) -> Node:
        """A node for ``member`` (in-memory adapter, audit log and replay store by default)."""
        return Node(
            member,
            self.keys[member],
            registry if registry is not None else self.trusted_registry(),
            adapter if adapter is not None else self.adapter(member),
            audit if audit is not None else self.audit_log(member),
            replay if replay is not None else MemoryReplayStore(),
            clock=self.clock,
            **options,
        )

    def asgi_transport(self, nodes: Mapping[str, Node]) -> httpx.AsyncBaseTransport:
        """One async httpx transport routing each member's endpoint host to its node."""
        return _Router({httpx.URL(self.endpoints[m]).host: n for m, n in nodes.items()})


class _Router(httpx.AsyncBaseTransport):
    def __init__(self, by_host: Mapping[str, Node]) -> None:
        self._transports = {h: httpx.ASGITransport(app=n) for h, n in by_host.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self._transports.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError(f"no node at {request.url.host}", request=request)
        return await transport.handle_async_request(request)
