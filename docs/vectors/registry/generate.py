"""Generate the trust registry test vectors in this directory. TEST KEYS ONLY.

Run from the repository root: ``.venv/bin/python docs/vectors/registry/generate.py``. The output
is deterministic (Ed25519, fixed times), and ``tests/registry/test_vectors.py`` checks that the
committed files equal what this script produces and that deltafed gives each case its expected
outcome (protocol §15).
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from deltafed._canonical import canonicalize
from deltafed.keys import PrivateKey, b64url_encode
from deltafed.registry import AnchorKeys, RegistryBuilder, RegistryDocument, sign_registry
from deltafed.registry._signing import REGISTRY_TYP

HERE = Path(__file__).resolve().parent
T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
DAY = timedelta(days=1)
MEMBER = "320000/gongan/hukou"


def _key(label: str) -> PrivateKey:
    return PrivateKey.from_seed(
        hashlib.sha256(f"deltafed registry vector key: {label}".encode()).digest()
    )


A = [_key(f"anchor-a{n}") for n in (1, 2, 3)]
B = [_key(f"anchor-b{n}") for n in (1, 2, 3)]
HUKOU = _key("hukou")
OLD = AnchorKeys.of([k.public_key for k in A], threshold=2)
NEW = AnchorKeys.of([k.public_key for k in B], threshold=2)


def document(version: int, anchor: AnchorKeys = OLD, issued: datetime = T0) -> RegistryDocument:
    builder = RegistryBuilder("yrd-vectors", anchor, version=version)
    builder.add_member(MEMBER, "Jiangsu household registration (synthetic)",
                       endpoint="https://js.example.test/fed")  # fmt: skip
    builder.add_key(MEMBER, HUKOU.public_key, not_before=T0 - 30 * DAY)
    return builder.build(issued_at=issued, validity=7 * DAY)


def signed(doc: RegistryDocument, signers: list[PrivateKey]) -> str:
    return sign_registry(doc, signers).decode("ascii")


def raw_signed(payload: dict[str, Any], signers: list[PrivateKey], **extra: Any) -> str:
    """Sign any payload (canonicalised) the way sign_registry does; ``extra`` members are added
    to every signature object (to show what a verifier must refuse)."""
    payload_b64 = b64url_encode(canonicalize(payload))
    entries = []
    for signer in signers:
        header = {"alg": signer.alg, "kid": signer.kid, "typ": REGISTRY_TYP}
        protected = b64url_encode(canonicalize(header))
        value = signer.sign(f"{protected}.{payload_b64}".encode("ascii"))
        entries.append({"protected": protected, "signature": b64url_encode(value), **extra})
    body = {"payload": payload_b64, "signatures": entries}
    return json.dumps(body, indent=2) + "\n"


def _time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def case(
    name: str,
    why: str,
    data: str,
    expected: str,
    *,
    now: datetime = T0 + DAY,
    trusted: tuple[str, ...] = (),
    state: str | None = None,
    version: int | None = None,
    anchor_after: AnchorKeys | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "name": name,
        "why": why,
        "anchor": OLD.to_wire(),
        "context": {"now": _time(now), "grace_seconds": 86400, "trusted": list(trusted)},
        "input": data,
        "expected": expected,
    }
    if expected == "ok":
        result["state"] = state
        result["version"] = version
        result["anchor_after"] = sorted((anchor_after or OLD).kids)
    return result


def _member_jwk(doc: RegistryDocument, **change: Any) -> dict[str, Any]:
    wire = doc.to_wire()
    wire["members"][0]["keys"][0]["jwk"].update(change)
    return wire


def build_cases() -> list[dict[str, Any]]:
    v1 = document(1)
    v1_file = signed(v1, A[:2])
    v2_file = signed(document(2), [A[0], A[2]])
    rotation = document(2, NEW)
    rotation_file = signed(rotation, [A[0], A[1], B[0], B[1]])
    after = document(3, NEW, T0 + DAY)
    expires = v1.expires_at
    return [
        case("registry-valid", "Signed by 2 of the 3 anchor keys, fresh.", v1_file, "ok",
             state="fresh", version=1),
        case("registry-threshold-not-met", "One anchor key signed; the threshold is 2.",
             signed(v1, A[:1]), "threshold_not_met"),
        case("registry-unknown-signers-ignored",
             "One anchor key and two keys the anchor does not hold: only the first counts.",
             signed(v1, [A[0], B[0], B[1]]), "threshold_not_met"),
        case("registry-rollback", "Version 1 offered to a verifier that trusts version 2.",
             v1_file, "rollback", trusted=(v2_file,)),
        case("registry-same-version-other-payload",
             "Version 1 again with another payload (an equivocation).",
             signed(document(1, issued=T0 + timedelta(hours=1)), A[:2]), "rollback",
             now=T0 + DAY, trusted=(v1_file,)),
        case("registry-expired", "The verifier's time is expires_at plus the 24 h grace.",
             v1_file, "registry_expired", now=expires + DAY),
        case("registry-in-grace", "One hour past expires_at, inside the grace period.",
             v1_file, "ok", now=expires + timedelta(hours=1), state="grace", version=1),
        case("registry-issued-in-the-future", "issued_at is 5 minutes and 1 second ahead.",
             signed(document(1, issued=T0 + DAY + timedelta(minutes=5, seconds=1)), A[:2]),
             "registry_invalid"),
        case("registry-anchor-rotation",
             "Version 2 names a new anchor and is signed by 2 old and 2 new keys.",
             rotation_file, "ok", trusted=(v1_file,), state="fresh", version=2,
             anchor_after=NEW),
        case("registry-after-rotation",
             "Version 3, signed by the new anchor only, after the rotation was trusted.",
             signed(after, B[1:]), "ok", now=T0 + 2 * DAY, trusted=(v1_file, rotation_file),
             state="fresh", version=3, anchor_after=NEW),
        case("registry-rotation-new-keys-only",
             "A new anchor signed only by its own keys cannot take over.",
             signed(rotation, B[:2]), "threshold_not_met", trusted=(v1_file,)),
        case("registry-rotation-old-keys-only",
             "A new anchor must meet its own threshold too.",
             signed(rotation, A[:2]), "threshold_not_met", trusted=(v1_file,)),
        case("registry-skips-the-rotation",
             "Version 3 signed by the new anchor, offered to a verifier still on the old one.",
             signed(after, B[1:]), "threshold_not_met", now=T0 + 2 * DAY, trusted=(v1_file,)),
        case("registry-kid-not-thumbprint", "A member key listed under another key's kid.",
             raw_signed(_member_jwk(v1, kid=A[2].kid), A[:2]), "registry_invalid"),
        case("registry-unknown-alg", "A member key whose alg is RS256.",
             raw_signed(_member_jwk(v1, alg="RS256"), A[:2]), "registry_invalid"),
        case("registry-alg-absent", "A member key without alg: the curve says EdDSA.",
             raw_signed(_alg_absent(v1), A[:2]), "ok", state="fresh", version=1),
        case("registry-unprotected-header", "Each signature also carries an unprotected header.",
             raw_signed(v1.to_wire(), A[:2], header={"kid": A[0].kid}), "registry_invalid"),
        case("registry-time-with-a-space", "issued_at written with a space for T.",
             raw_signed({**v1.to_wire(), "issued_at": "2026-03-01 00:00:00Z"}, A[:2]),
             "registry_invalid"),
    ]  # fmt: skip


def _alg_absent(doc: RegistryDocument) -> dict[str, Any]:
    wire = doc.to_wire()
    del wire["members"][0]["keys"][0]["jwk"]["alg"]
    return wire


def write(directory: Path = HERE) -> None:
    cases_dir = directory / "cases"
    cases_dir.mkdir(parents=True, exist_ok=True)
    names = set()
    for item in build_cases():
        names.add(f"{item['name']}.json")
        (cases_dir / f"{item['name']}.json").write_text(dump(item), encoding="utf-8")
    for stale in cases_dir.glob("*.json"):
        if stale.name not in names:
            stale.unlink()


def dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
