"""A whole gm federation in process: SM2 messages, registry and consent; SM3 digests, audit
chain and Merkle tree; HMAC-SM3 subject index; SM2SM3 checkpoints and proofs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from deltafed import ConfigurationError, FixedClock
from deltafed._profile import GM
from deltafed.adapters._synthetic import HOUSEHOLD_REGISTRATION, IDENTITY_CARD
from deltafed.audit import parse_checkpoint, verify_inclusion_proof
from deltafed.audit._log import subject_ref
from deltafed.client import AsyncFederationClient
from deltafed.keys import PrivateKey, b64url_decode
from deltafed.node import Node
from deltafed.protocol import (
    OPERATION_PATHS,
    REQUEST_MEDIA_TYPE,
    Limits,
    MemoryReplayStore,
    ProtocolVerifier,
    new_request,
    sign_request,
)
from deltafed.testing import (
    JIANGSU,
    SCENARIO_HUKOU,
    SCENARIO_VERIFY,
    SHANGHAI,
    LocalFederation,
    synthetic_population,
)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
RESIDENT = synthetic_population().region("320000").residents[0].resident_id


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fed() -> LocalFederation:
    return LocalFederation(clock=FixedClock(T0), key_seed=14, crypto="gm")


@pytest.fixture
async def shanghai(fed: LocalFederation) -> AsyncIterator[tuple[AsyncFederationClient, dict]]:
    nodes = {JIANGSU: fed.node(JIANGSU)}
    async with httpx.AsyncClient(transport=fed.asgi_transport(nodes), timeout=10) as http:
        client = AsyncFederationClient(
            SHANGHAI,
            fed.keys[SHANGHAI],
            fed.trusted_registry(),
            clock=fed.clock,
            http=http,
            audit=fed.audit_log(SHANGHAI),
        )
        yield client, nodes


def _alg(jws: bytes) -> str:
    return str(json.loads(b64url_decode(jws.split(b".")[0].decode()))["alg"])


@pytest.mark.anyio
async def test_gm_exchange_end_to_end(
    fed: LocalFederation, shanghai: tuple[AsyncFederationClient, dict]
) -> None:
    client, nodes = shanghai
    assert all(k.alg == "SM2SM3" for k in fed.keys.values())
    assert fed.trusted_registry().profile is GM
    consent = client.issue_consent(
        holder_type="111",
        holder_code=RESIDENT,
        scenario=SCENARIO_HUKOU,
        scope=["registered_division"],
        operations=["record.request"],
        lifetime=timedelta(days=1),
    )
    assert _alg(consent) == "SM2SM3"
    record = await client.request_record(
        JIANGSU,
        scenario=SCENARIO_HUKOU,
        use_cause="Primary school enrolment",
        record_type=HOUSEHOLD_REGISTRATION.code,
        subject_code=RESIDENT,
        subject_type="111",
        fields=["registered_division"],
        consent=consent,
    )
    assert list(record.fields) == ["registered_division"]

    log = nodes[JIANGSU].audit
    entry = log.entry(0)
    assert entry.request_digest.startswith("sm3:")
    assert entry.prev_hash == "sm3:" + "0" * 64
    subject_key = hashlib.sha256(f"subject-key:{JIANGSU}".encode()).digest()
    assert entry.subject_refs == (subject_ref(subject_key, RESIDENT, GM),)
    assert entry.subject_refs[0].startswith("hmac-sm3:")
    checkpoint = log.checkpoint()
    cp = parse_checkpoint(checkpoint, log=JIANGSU)
    assert (cp.alg, cp.crypto) == ("SM2SM3", GM)
    assert cp.root_text().startswith("sm3:")
    registry = fed.trusted_registry()
    verify_inclusion_proof(log.prove(0, checkpoint=checkpoint), log=JIANGSU, resolver=registry)
    report = log.verify(resolver=registry)
    assert report.ok, report.problems
    assert report.root_text == cp.root_text()


@pytest.mark.anyio
async def test_an_ed25519_request_to_a_gm_node_gets_a_typed_signed_problem(
    fed: LocalFederation,
) -> None:
    outsider = PrivateKey.from_seed(bytes(32))
    claims = new_request(
        issuer=SHANGHAI,
        audience=JIANGSU,
        operation="certificate.verify",
        target=IDENTITY_CARD.type_code,
        scenario=SCENARIO_VERIFY,
        body={},
        now=T0,
    )
    raw = sign_request(claims, outsider)
    node = fed.node(JIANGSU)
    transport = httpx.ASGITransport(app=node)
    async with httpx.AsyncClient(transport=transport, base_url="http://js.test") as http:
        reply = await http.post(
            OPERATION_PATHS["certificate.verify"],
            content=raw,
            headers={"content-type": REQUEST_MEDIA_TYPE},
        )
    assert reply.status_code == 400
    # The problem is signed with SM2 and bound to the request with SM3.
    requester = ProtocolVerifier(
        fed.trusted_registry(), SHANGHAI, clock=fed.clock, replay=None, limits=Limits(crypto=GM)
    )
    verified = requester.verify_response(reply.content, request_raw=raw)
    assert verified.alg == "SM2SM3"
    assert verified.claims.req == GM.digest_text(raw)
    assert verified.claims.body["code"] == "crypto_profile_mismatch"
    assert node.audit.size == 0


def test_a_node_refuses_a_key_or_log_of_another_profile(fed: LocalFederation) -> None:
    registry = fed.trusted_registry()
    with pytest.raises(ConfigurationError, match="crypto profile"):
        Node(
            JIANGSU,
            PrivateKey.from_seed(bytes(32)),
            registry,
            fed.adapter(JIANGSU),
            fed.audit_log(JIANGSU),
            MemoryReplayStore(),
            clock=fed.clock,
        )
    international = LocalFederation(clock=fed.clock, key_seed=14)
    with pytest.raises(ConfigurationError, match="profile"):
        Node(
            JIANGSU,
            fed.keys[JIANGSU],
            registry,
            fed.adapter(JIANGSU),
            international.audit_log(JIANGSU),
            MemoryReplayStore(),
            clock=fed.clock,
        )
