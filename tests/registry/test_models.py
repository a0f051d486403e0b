"""Document model validation and the package's public surface."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import deltafed.registry as registry
from deltafed import SchemaValidationError
from deltafed.registry import Member, MemberKey, PublicJwk, RegistryDocument

EXPECTED_API = {
    "DEFAULT_GRACE", "DEFAULT_VALIDITY", "MAX_REGISTRY_BYTES", "REGISTRY_TYP",
    # documents
    "AnchorKeys", "KeyState", "Member", "MemberKey", "PublicJwk", "RegistryBuilder",
    "RegistryDocument",
    # signing
    "SignedRegistry", "add_signatures", "parse_signed_registry", "sign_registry",
    "verify_registry",
    # trusted state, files, network
    "AsyncRegistryClient", "RegistryClient", "RegistryState", "TrustedRegistry", "load_anchor_file",
    "load_registry_file",
    # live updates
    "PollStatus", "RegistryFile", "RegistryPoller", "write_publication",
    # state that outlives a process
    "MemoryRegistryState", "PostgresRegistryState", "RegistryStateStore", "SqliteRegistryState",
    "payload_digest",
}  # fmt: skip


def test_public_api_is_pinned_and_resolves() -> None:
    # ruff (RUF022) keeps __all__ sorted; here the set itself is pinned.
    assert len(registry.__all__) == len(set(registry.__all__))
    assert set(registry.__all__) == EXPECTED_API
    for name in registry.__all__:
        assert hasattr(registry, name), name


def _jwk(world: Any) -> dict[str, Any]:
    return PublicJwk.from_key(world.sh_key.public_key).to_wire()


# name, change to a valid MemberKey mapping, why it must fail
KEY_CASES = [
    ("wrong-kid", lambda w, k: k["jwk"].update(kid=w.js_key.kid), "kid must be the thumbprint"),
    ("private-part", lambda w, k: k["jwk"].update(d="AAAA"), "a private JWK is never published"),
    ("bad-point", lambda w, k: k["jwk"].update(x="AAAA"), "not an Ed25519 public key"),
    ("wrong-alg", lambda w, k: k["jwk"].update(alg="ES256"), "alg must fit the key"),
    ("rsa", lambda w, k: k["jwk"].update(kty="RSA"), "only OKP and EC keys"),
    ("compromised-no-time", lambda w, k: k.update(state="compromised"), "needs compromised_at"),
    (
        "time-not-compromised",
        lambda w, k: k.update(compromised_at=w.T0.isoformat()),
        "compromised_at only on a compromised key",
    ),
    ("retired-open", lambda w, k: k.update(state="retired"), "a retired key needs not_after"),
    (
        "empty-window",
        lambda w, k: k.update(not_after=k["not_before"]),
        "not_after must follow not_before",
    ),
    ("naive-time", lambda w, k: k.update(not_before="2026-03-01T08:00:00"), "times need a zone"),
    ("space-time", lambda w, k: k.update(not_before="2026-03-01 08:00:00Z"), "T, not a space"),
    ("no-seconds", lambda w, k: k.update(not_before="2026-03-01T08:00Z"), "seconds are written"),
    ("short-offset", lambda w, k: k.update(not_before="2026-03-01T08:00:00+0800"), "+HH:MM"),
    ("lower-case", lambda w, k: k.update(not_before="2026-03-01t08:00:00z"), "upper-case T, Z"),
    ("epoch-string", lambda w, k: k.update(not_before="1772352000"), "not epoch seconds"),
    ("okp-with-y", lambda w, k: k["jwk"].update(y=k["jwk"]["x"]), "an Ed25519 key has no y"),
    ("okp-p256", lambda w, k: k["jwk"].update(crv="P-256"), "kty and crv must fit"),
    ("unknown-state", lambda w, k: k.update(state="revoked"), "closed list of states"),
]


@pytest.mark.parametrize(
    ("change", "why"), [row[1:] for row in KEY_CASES], ids=[row[0] for row in KEY_CASES]
)
def test_member_key_validation(world: Any, change: Any, why: str) -> None:
    entry: dict[str, Any] = {"jwk": _jwk(world), "not_before": world.T0.isoformat()}
    assert MemberKey.parse(entry).kid == world.sh_key.kid
    change(world, entry)
    with pytest.raises(SchemaValidationError):
        MemberKey.parse(entry)


@pytest.mark.parametrize(
    "endpoint",
    [
        "ftp://sh.example.test/",
        "https://",
        "https://sh.example.test/a b",
        "x" * 600,
        "javascript:1",
    ],
)
def test_endpoint_must_be_http(world: Any, endpoint: str) -> None:
    with pytest.raises(SchemaValidationError):
        Member.parse({"id": world.SH, "name": "x", "endpoint": endpoint})


def test_duplicate_member_ids_refused(world: Any) -> None:
    data = world.doc().to_wire()
    data["members"].append(data["members"][0])
    with pytest.raises(SchemaValidationError, match="listed twice"):
        RegistryDocument.parse(data)


def test_version_must_be_positive_strict_int(world: Any) -> None:
    data = world.doc().to_wire()
    for bad in (0, -1, "2", True):
        data["version"] = bad
        with pytest.raises(SchemaValidationError):
            RegistryDocument.parse(data)


def test_wire_round_trip(world: Any) -> None:
    b = world.builder()
    b.retire_key(world.SH, world.sh_key.kid, at=world.T0 + timedelta(days=1))
    b.compromise_key(world.JS, world.js_key.kid, at=world.T0)
    doc = b.build(issued_at=world.T0)
    assert RegistryDocument.parse(doc.to_wire()) == doc


@pytest.mark.parametrize(
    "spelling",
    ["2026-03-01T08:00:00Z", "2026-03-01T16:00:00+08:00", "2026-03-01T08:00:00.5Z",
     "2026-03-01T08:00:00.123456789-00:00"],
)  # fmt: skip
def test_member_key_times_in_rfc3339(world: Any, spelling: str) -> None:
    entry: dict[str, Any] = {"jwk": _jwk(world), "not_before": spelling}
    assert MemberKey.parse(entry).not_before.replace(microsecond=0) == world.T0
