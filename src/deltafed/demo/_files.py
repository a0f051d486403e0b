"""The demo federation on disk: TEST keys, the anchor, the signed registry, node configurations.

Everything a real deployment keeps in separate places sits in one folder, so that it can be
inspected and reused (``deltafed serve --config nodes/jiangsu.toml``)::

    README.txt              what the folder holds
    anchor.json             the pinned trust anchor (public)
    registry.jws            the registry signed by the anchor
    conformance/<region>.toml  what the conformance suite may ask each node (its profile)
    keys/anchor.pem         the anchor's private key - TEST ONLY (mode 0600)
    keys/<region>.pem       each node's private key (0600); keys/tester*.pem, outsider.pem:
                            the conformance tester's keys (one marked compromised), an outsider's
    keys/<region>-subject.key  each audit log's secret subject key, hex (0600)
    nodes/<region>.toml     each node's configuration
    data/<region>-audit.db  each node's SQLite audit log; data/<region>-replay.db its replay store
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from deltafed._errors import ConfigurationError
from deltafed._profile import crypto_profile
from deltafed.adapters._synthetic import (
    BUSINESS_LICENCE,
    HOUSEHOLD_REGISTER,
    HOUSEHOLD_REGISTRATION,
    IDENTITY_CARD,
    SOCIAL_INSURANCE,
)
from deltafed.keys import PrivateKey
from deltafed.registry import AnchorKeys, RegistryBuilder, sign_registry
from deltafed.schemas.catalogue import UseScenario
from deltafed.schemas.identifiers import compute_resident_check
from deltafed.testing import synthetic_catalogue, synthetic_population

__all__ = [
    "FEDERATION",
    "JIANGSU",
    "NODES",
    "OUTSIDER",
    "SCENARIO_COMPANY_MATCH",
    "SCENARIO_LICENCE",
    "SCENARIO_PERMIT",
    "SCENARIO_PROACTIVE",
    "SCENARIO_RESIDENT_COUNT",
    "SCENARIO_SUBSIDY",
    "SHANGHAI",
    "TESTER",
    "TESTER_SCENARIOS",
    "ZHEJIANG",
    "DemoFiles",
    "NodeFiles",
    "demo_scenarios",
    "write_federation",
]

FEDERATION: Final = "yrd-demo"

SHANGHAI: Final = "310000/dsj"
JIANGSU: Final = "320000/dsj"
ZHEJIANG: Final = "330000/dsj"
#: The member the conformance suite signs its requests as (it serves nothing).
TESTER: Final = "310000/conformance"
#: A registered member that no scenario allows (the conformance suite checks it is refused).
OUTSIDER: Final = "340000/outsider"

#: member id -> (short name, display name, adapter entry point)
NODES: Final[Mapping[str, tuple[str, str, str]]] = {
    SHANGHAI: ("shanghai", "Shanghai Big Data Centre (demo)", "shanghai"),
    JIANGSU: ("jiangsu", "Jiangsu Big Data Centre (demo)", "jiangsu"),
    ZHEJIANG: ("zhejiang", "Zhejiang Big Data Bureau (demo)", "zhejiang"),
}

#: Shanghai checks identity documents of applicants from Jiangsu and Zhejiang (居住证申领).
SCENARIO_PERMIT: Final = "sh-residence-permit-identity"
#: Shanghai asks Jiangsu for two fields of a social insurance record (人才安居补贴).
SCENARIO_SUBSIDY: Final = "sh-talent-subsidy-social-insurance"
#: Jiangsu checks a Zhejiang supplier's business licence (政府采购供应商注册).
SCENARIO_LICENCE: Final = "js-procurement-supplier-licence"
#: Shanghai asks Zhejiang yes/no about a company's social insurance (企业补贴, no record).
SCENARIO_COMPANY_MATCH: Final = "sh-enterprise-subsidy-match"
#: Shanghai counts residents registered in a Zhejiang division (群租排查); small counts hidden.
SCENARIO_RESIDENT_COUNT: Final = "sh-group-leasing-count"
#: Shanghai subscribes to changes of the Jiangsu identity cards of residents it serves (主动服务).
SCENARIO_PROACTIVE: Final = "sh-residence-permit-proactive"
#: The conformance tester's scenarios, by the operation they permit.
TESTER_SCENARIOS: Final[Mapping[str, str]] = {
    "certificate.verify": "conformance-verify",
    "certificate.release": "conformance-release",
    "record.request": "conformance-record",
    "record.request.no_consent": "conformance-record-no-consent",
}

_BASIS: Final = "Synthetic demo basis - not a real regulation"
_PROVIDERS: Final = ["310000", "320000", "330000"]


def demo_scenarios() -> tuple[UseScenario, ...]:
    """The use-scenario list of the demo federation (the tester's scenarios included)."""
    raw: list[dict[str, Any]] = [
        {
            "id": SCENARIO_PERMIT,
            "name": "居住证申领: identity of applicants from other regions",
            "service_matter": "上海市居住证申领 (demo)",
            "requester": SHANGHAI,
            "providers": ["320000", "330000"],
            "operations": ["certificate.verify"],
            "certificate_types": [IDENTITY_CARD.type_code, HOUSEHOLD_REGISTER.type_code],
            "consent_required": False,
        },
        {
            "id": SCENARIO_SUBSIDY,
            "name": "人才安居补贴: social insurance standing in the home region",
            "service_matter": "上海市人才安居补贴申请 (demo)",
            "requester": SHANGHAI,
            "providers": ["320000"],
            "operations": ["record.request"],
            "record_types": [SOCIAL_INSURANCE.code],
            "allowed_fields": ["insured", "months_paid"],
            "consent_required": True,
            "max_consent_days": 30,
        },
        {
            "id": SCENARIO_LICENCE,
            "name": "政府采购供应商注册: business licence of suppliers",
            "service_matter": "江苏省政府采购供应商注册 (demo)",
            "requester": JIANGSU,
            "providers": ["330000"],
            "operations": ["certificate.verify"],
            "certificate_types": [BUSINESS_LICENCE.type_code],
            "consent_required": False,
        },
        {
            "id": SCENARIO_PROACTIVE,
            "name": "居住证 proactive renewal: changes of the home-region identity card",
            "service_matter": "上海市居住证主动续办 (demo)",
            "requester": SHANGHAI,
            "providers": ["320000"],
            "operations": ["subscription.create"],
            "certificate_types": [IDENTITY_CARD.type_code],
            "events": ["certificate.renewed", "certificate.changed", "certificate.revoked"],
            "max_subscription_days": 365,
            "consent_required": False,
        },
        {
            "id": SCENARIO_COMPANY_MATCH,
            "name": "企业补贴: does the company insure at least 50 employees? (yes/no only)",
            "service_matter": "上海市企业稳岗补贴 (demo)",
            "requester": SHANGHAI,
            "providers": ["330000"],
            "operations": ["match.ask"],
            "predicates": [
                {
                    "id": "company-insures-50-employees",
                    "record_type": "enterprise_standing",
                    "field": "employees",
                    "comparison": "ge",
                    "threshold": 50,
                }
            ],
            "rate_limit": {"burst": 20, "per_hour": 120},
            "consent_required": False,
        },
        {
            "id": SCENARIO_RESIDENT_COUNT,
            "name": "群租排查: residents registered per division (at least 5 shown)",
            "service_matter": "住房安全检查 (demo)",
            "requester": SHANGHAI,
            "providers": ["330000"],
            "operations": ["match.ask"],
            "aggregates": [
                {
                    "id": "residents-registered-in-division",
                    "record_type": "household_registration",
                    "field": "registered_division",
                }
            ],
            "min_group_size": 5,
            "rate_limit": {"burst": 20, "per_hour": 120},
            "consent_required": False,
        },
        {
            "id": TESTER_SCENARIOS["certificate.verify"],
            "name": "Conformance testing: certificate verification",
            "service_matter": "deltafed conformance suite (demo)",
            "requester": TESTER,
            "providers": _PROVIDERS,
            "operations": ["certificate.verify"],
            "certificate_types": [IDENTITY_CARD.type_code, BUSINESS_LICENCE.type_code],
            "consent_required": False,
        },
        {
            "id": TESTER_SCENARIOS["certificate.release"],
            "name": "Conformance testing: certificate release with consent",
            "service_matter": "deltafed conformance suite (demo)",
            "requester": TESTER,
            "providers": _PROVIDERS,
            "operations": ["certificate.release"],
            "certificate_types": [IDENTITY_CARD.type_code],
            "allowed_fields": ["name", "birth_date"],
            "consent_required": True,
            "max_consent_days": 30,
        },
        {
            "id": TESTER_SCENARIOS["record.request"],
            "name": "Conformance testing: record request with consent",
            "service_matter": "deltafed conformance suite (demo)",
            "requester": TESTER,
            "providers": _PROVIDERS,
            "operations": ["record.request"],
            "record_types": ["household_registration"],
            "allowed_fields": ["registered_division", "is_household_head"],
            "consent_required": True,
            "max_consent_days": 30,
        },
        {
            "id": TESTER_SCENARIOS["record.request.no_consent"],
            "name": "Conformance testing: record request without consent",
            "service_matter": "deltafed conformance suite (demo)",
            "requester": TESTER,
            "providers": _PROVIDERS,
            "operations": ["record.request"],
            "record_types": [SOCIAL_INSURANCE.code],
            "allowed_fields": ["insured", "months_paid"],
            "consent_required": False,
        },
    ]
    return tuple(UseScenario.parse({**item, "legal_basis": _BASIS}) for item in raw)


@dataclass(frozen=True, slots=True)
class NodeFiles:
    """The files of one node."""

    member: str
    short: str
    name: str
    adapter: str
    endpoint: str
    port: int
    key: Path
    subject_key: Path
    config: Path
    profile: Path
    audit_db: Path
    replay_db: Path
    state_db: Path


@dataclass(frozen=True, slots=True)
class DemoFiles:
    """Where :func:`write_federation` put everything."""

    root: Path
    anchor: Path
    anchor_key: Path
    registry: Path
    tester_key: Path
    nodes: Mapping[str, NodeFiles]
    registry_version: int
    expires_at: datetime
    #: The federation's crypto profile (``international`` or ``gm``).
    crypto: str = "international"


def _secret_file(path: Path, data: bytes) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)
    return path


def _node_toml(node: NodeFiles, base: Path) -> str:
    def rel(path: Path) -> str:
        return path.relative_to(base).as_posix()

    # The paths are relative to the nodes/ folder the file lives in.
    up = "../"
    return (
        f"# {node.name}: a deltafed node of the demo federation (TEST keys, synthetic data).\n"
        f"# Run it alone with: deltafed serve --config {rel(node.config)}\n"
        "[node]\n"
        f'member = "{node.member}"\n'
        f'key_file = "{up}{rel(node.key)}"\n'
        'host = "127.0.0.1"\n'
        f"port = {node.port}\n"
        "\n[registry]\n"
        f'file = "{up}registry.jws"\n'
        f'anchor = "{up}anchor.json"\n'
        "\n[audit]\n"
        f'db = "{up}{rel(node.audit_db)}"\n'
        f'subject_key_file = "{up}{rel(node.subject_key)}"\n'
        "\n[replay]\n"
        f'db = "{up}{rel(node.replay_db)}"\n'
        "\n[state]\n"
        f'db = "{up}{rel(node.state_db)}"\n'
        "# The demo's cases drive event delivery themselves (run_once); a node served alone\n"
        "# should deliver every few seconds: lower deliver_every.\n"
        "deliver_every = 3600\n"
        "\n[adapter]\n"
        f'name = "{node.adapter}"\n'
        "[adapter.config]\n"
        "sandbox = true\n"
    )


def _profile_toml(member: str) -> str:
    """The conformance profile of a node: synthetic subjects it holds, the tester's scenarios."""
    region = member.split("/")[0]
    data = synthetic_population().region(region)
    card = next(c for c in data.certificates if c.type_code == IDENTITY_CARD.type_code)
    holder = card.holder_code
    first17 = f"{holder[:6]}18600101123"  # born 1860-01-01: nobody the sandbox holds
    absent = first17 + compute_resident_check(first17)
    scn = TESTER_SCENARIOS
    return f"""\
# Conformance profile of {member} in the demo federation (synthetic subjects).
# deltafed conformance --url ... --profile this-file (see the command the demo prints)
node = "{member}"

[verify]
scenario = "{scn["certificate.verify"]}"
type_code = "{card.type_code}"
holder_type = "111"
holder_code = "{holder}"
certificate_id = "{card.certificate_id}"

[release]
scenario = "{scn["certificate.release"]}"
type_code = "{card.type_code}"
holder_type = "111"
holder_code = "{holder}"
fields = ["name", "birth_date"]
outside_field = "address"

[record]
scenario = "{scn["record.request.no_consent"]}"
record_type = "{SOCIAL_INSURANCE.code}"
holder_type = "111"
holder_code = "{holder}"
fields = ["insured", "months_paid"]
outside_field = "employer_credit_code"

[consent_record]
scenario = "{scn["record.request"]}"
record_type = "{HOUSEHOLD_REGISTRATION.code}"
holder_type = "111"
holder_code = "{holder}"
fields = ["is_household_head"]
outside_field = "household_size"

[absent]
holder_code = "{absent}"

[keys]
compromised_key = "../keys/tester-compromised.pem"
outsider_id = "{OUTSIDER}"
outsider_key = "../keys/outsider.pem"
"""


_README: Final = """\
deltafed demo federation - synthetic data and TEST keys only. Never use these keys elsewhere.

anchor.json            the pinned trust anchor (public keys, threshold)
registry.jws           the federation registry, signed by the anchor
conformance/*.toml     per node, what the conformance suite may ask it (its profile)
keys/anchor.pem        the anchor's private key (TEST ONLY)
keys/<region>.pem      each node's private key; keys/tester*.pem and keys/outsider.pem
                       the conformance tester's (one compromised on purpose) and an outsider's
keys/*-subject.key     each audit log's secret key for its subject index
nodes/<region>.toml    each node's configuration: deltafed serve --config nodes/jiangsu.toml
data/*-audit.db        each node's audit log:  deltafed audit --help
data/*-replay.db       each node's replay store

The registry expires seven days after the demo ran; run the demo again for a fresh one.
"""


def write_federation(
    root: Path,
    ports: Mapping[str, int],
    *,
    now: datetime,
    validity: timedelta,
    crypto: str = "international",
) -> DemoFiles:
    """Create the demo federation in ``root`` (an existing, empty folder).

    ``ports`` gives the loopback port of each node (already bound by the caller): the
    registry publishes the endpoints and the configurations name the ports. ``crypto`` is the
    federation's crypto profile: ``gm`` makes every key SM2 and every digest SM3.
    """
    alg = crypto_profile(crypto).algorithms[0]
    if set(ports) != set(NODES):
        raise ConfigurationError(f"need a port for each of {sorted(NODES)}")
    for sub in ("keys", "nodes", "data", "conformance"):
        (root / sub).mkdir(mode=0o700)
    (root / "README.txt").write_text(_README, encoding="utf-8")

    anchor_key = PrivateKey.generate(alg)
    anchor_key_path = anchor_key.save(root / "keys" / "anchor.pem")
    anchor = AnchorKeys.of([anchor_key.public_key], 1)
    anchor_path = root / "anchor.json"
    anchor_path.write_text(json.dumps(anchor.to_wire(), indent=2) + "\n", encoding="utf-8")

    builder = RegistryBuilder(FEDERATION, anchor, version=1, crypto=crypto)
    since = now - timedelta(days=1)
    nodes: dict[str, NodeFiles] = {}
    for member, (short, name, adapter) in NODES.items():
        key = PrivateKey.generate(alg)
        endpoint = f"http://127.0.0.1:{ports[member]}"
        node = NodeFiles(
            member=member,
            short=short,
            name=name,
            adapter=adapter,
            endpoint=endpoint,
            port=ports[member],
            key=key.save(root / "keys" / f"{short}.pem"),
            subject_key=_secret_file(
                root / "keys" / f"{short}-subject.key", secrets.token_hex(32).encode() + b"\n"
            ),
            config=root / "nodes" / f"{short}.toml",
            profile=root / "conformance" / f"{short}.toml",
            audit_db=root / "data" / f"{short}-audit.db",
            replay_db=root / "data" / f"{short}-replay.db",
            state_db=root / "data" / f"{short}-state.db",
        )
        node.config.write_text(_node_toml(node, root), encoding="utf-8")
        node.profile.write_text(_profile_toml(member), encoding="utf-8")
        nodes[member] = node
        builder.add_member(member, name, endpoint=endpoint)
        builder.add_key(member, key.public_key, not_before=since)
        builder.set_catalogue(synthetic_catalogue(member.split("/")[0]))
    tester_key = PrivateKey.generate(alg)
    tester_path = tester_key.save(root / "keys" / "tester.pem")
    builder.add_member(TESTER, "Conformance tester (demo)")
    builder.add_key(TESTER, tester_key.public_key, not_before=since)
    compromised = PrivateKey.generate(alg)
    compromised.save(root / "keys" / "tester-compromised.pem")
    builder.add_key(TESTER, compromised.public_key, not_before=since)
    builder.compromise_key(TESTER, compromised.kid, at=now - timedelta(hours=1))
    outsider = PrivateKey.generate(alg)
    outsider.save(root / "keys" / "outsider.pem")
    builder.add_member(OUTSIDER, "A member no scenario allows (demo)")
    builder.add_key(OUTSIDER, outsider.public_key, not_before=since)
    for scenario in demo_scenarios():
        builder.add_scenario(scenario)
    doc = builder.build(issued_at=now, validity=validity)
    registry_path = root / "registry.jws"
    registry_path.write_bytes(sign_registry(doc, [anchor_key]))
    return DemoFiles(
        root=root,
        anchor=anchor_path,
        anchor_key=anchor_key_path,
        registry=registry_path,
        tester_key=tester_path,
        nodes=nodes,
        registry_version=doc.version,
        expires_at=doc.expires_at,
        crypto=doc.profile.name,
    )
