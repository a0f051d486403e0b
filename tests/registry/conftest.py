"""Shared fixtures: deterministic test keys, a small federation, a fixed clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from deltafed import FixedClock
from deltafed.keys import PrivateKey
from deltafed.registry import AnchorKeys, RegistryBuilder, RegistryDocument, sign_registry
from deltafed.schemas.catalogue import Catalogue, UseScenario

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

SH = "310000/dsj"  # Shanghai big data centre (synthetic)
JS = "320000/gongan/hukou"  # Jiangsu household registration system (synthetic)


def make_key(seed: int) -> PrivateKey:
    """A deterministic Ed25519 test key (never a real key)."""
    return PrivateKey.from_seed(bytes([seed]) * 32)


class World:
    """Anchor keys A0..A5, member keys, and a fixed clock at T0."""

    T0 = T0
    HOUR = HOUR
    DAY = DAY
    SH = SH
    JS = JS

    def __init__(self) -> None:
        self.clock = FixedClock(T0)
        self.anchor_keys = [make_key(10 + i) for i in range(6)]
        self.sh_key = make_key(101)
        self.sh_key2 = make_key(102)
        self.js_key = make_key(111)
        self.js_key2 = make_key(112)

    def anchor(self, indices: Sequence[int] = (0,), threshold: int = 1) -> AnchorKeys:
        return AnchorKeys.of([self.anchor_keys[i].public_key for i in indices], threshold)

    def signers(self, indices: Sequence[int]) -> list[PrivateKey]:
        return [self.anchor_keys[i] for i in indices]

    def builder(self, anchor: AnchorKeys | None = None, version: int = 1) -> RegistryBuilder:
        b = RegistryBuilder("yrd", anchor or self.anchor(), version=version)
        b.add_member(SH, "Shanghai Big Data Centre", endpoint="https://sh.example.test/fed")
        b.add_member(JS, "Jiangsu Hukou System", endpoint="https://js.example.test/fed")
        b.add_key(SH, self.sh_key.public_key, not_before=T0 - 30 * DAY)
        b.add_key(JS, self.js_key.public_key, not_before=T0 - 30 * DAY)
        b.set_catalogue(Catalogue(region="320000"))
        b.add_scenario(
            UseScenario.parse(
                {
                    "id": "sh-hukou-check",
                    "name": "Household check for school enrolment",
                    "service_matter": "Primary school enrolment of non-local children",
                    "legal_basis": "Synthetic test basis",
                    "requester": SH,
                    "providers": ["320000"],
                    "operations": ["record.request"],
                    "record_types": ["hukou"],
                    "allowed_fields": ["name", "address"],
                }
            )
        )
        return b

    def doc(
        self,
        version: int = 1,
        *,
        anchor: AnchorKeys | None = None,
        issued_at: datetime | None = None,
        validity: timedelta = 7 * DAY,
    ) -> RegistryDocument:
        return self.builder(anchor, version).build(
            issued_at=issued_at or self.clock(), validity=validity
        )

    def signed(self, doc: RegistryDocument, indices: Sequence[int] = (0,)) -> bytes:
        return sign_registry(doc, self.signers(indices))


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
