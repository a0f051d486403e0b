"""Fixtures for the protocol tests: fixed test keys, members, a clock that only moves on demand."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from deltafed._canonical import canonicalize
from deltafed._clock import FixedClock
from deltafed.keys import PrivateKey, StaticKeyResolver
from deltafed.protocol import MemoryReplayStore, ProtocolVerifier

#: 2026-01-15T08:00:00Z - the fixed "now" of the protocol tests.
NOW = datetime(2026, 1, 15, 8, 0, 0, tzinfo=UTC)
SHANGHAI = "310000/shzwfw/yitongban"
JIANGSU = "320000/gongan/hukou"
ZHEJIANG = "330000/zjzwfw"


def seeded(label: str) -> PrivateKey:
    """A TEST ONLY Ed25519 key derived from a label."""
    return PrivateKey.from_seed(hashlib.sha256(b"deltafed test key " + label.encode()).digest())


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def sh_key() -> PrivateKey:
    return seeded("shanghai")


@pytest.fixture
def js_key() -> PrivateKey:
    return seeded("jiangsu")


@pytest.fixture
def zj_key() -> PrivateKey:
    return seeded("zhejiang")


@pytest.fixture
def resolver(sh_key: PrivateKey, js_key: PrivateKey, zj_key: PrivateKey) -> StaticKeyResolver:
    return StaticKeyResolver(
        {
            SHANGHAI: [sh_key.public_key],
            JIANGSU: [js_key.public_key],
            ZHEJIANG: [zj_key.public_key],
        }
    )


@pytest.fixture
def provider(resolver: StaticKeyResolver, clock: FixedClock) -> ProtocolVerifier:
    """Jiangsu's verifier: it receives requests."""
    return ProtocolVerifier(resolver, JIANGSU, clock=clock, replay=MemoryReplayStore())


@pytest.fixture
def requester(resolver: StaticKeyResolver, clock: FixedClock) -> ProtocolVerifier:
    """Shanghai's verifier: it receives responses."""
    return ProtocolVerifier(resolver, SHANGHAI, clock=clock, replay=None)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(
    header: dict[str, Any] | bytes,
    payload: dict[str, Any] | bytes,
    key: PrivateKey | None,
    *,
    signature: bytes | None = None,
) -> bytes:
    """A compact JWS built by hand, to make messages deltafed itself would never sign."""
    header_bytes = header if isinstance(header, bytes) else json.dumps(header).encode()
    payload_bytes = payload if isinstance(payload, bytes) else canonicalize(payload)
    signing_input = f"{b64(header_bytes)}.{b64(payload_bytes)}".encode()
    if signature is None:
        signature = key.sign(signing_input) if key is not None else b""
    return signing_input + b"." + b64(signature).encode()


@pytest.fixture(name="forge")
def forge_fixture() -> Callable[..., bytes]:
    return forge
