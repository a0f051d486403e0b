"""Generate the concern test vectors in this directory. TEST KEYS ONLY.

Run from the repository root: ``.venv/bin/python docs/vectors/concerns/generate.py``. The keys
are those of ``docs/vectors/keys.json`` (same public seeds); the output is deterministic
(Ed25519, fixed times and ids), and ``tests/concerns/test_vectors.py`` checks that the committed
files equal what this script produces and that deltafed gives each case its expected outcome.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deltafed._canonical import sha256_digest
from deltafed.concerns import sign_event
from deltafed.keys import PrivateKey
from deltafed.protocol import new_request, peek_unverified_claims, sign_document, sign_request
from deltafed.schemas import compute_certificate_check
from deltafed.schemas.concerns import CONCERN_EVENT_TYP, ConcernEvent

HERE = Path(__file__).resolve().parent
NOW = int(datetime(2026, 2, 13, 2, 0, 0, tzinfo=UTC).timestamp())  # Friday 10:00 CST
SHANGHAI = "310000/shzwfw/yitongban"
JIANGSU = "320000/gongan/hukou"
ANHUI = "340000/wsjkw"
CONCERN_ID = "sh-2026-0213-000001"
CERT = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"
_CHECK = compute_certificate_check("11100000000013338W032", "11220000013544541J", "2430599", "002")
#: The corrected version of CERT.
FIXED = f"1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.002.{_CHECK}"
ACK_DUE = "2026-02-14T16:00:00Z"  # end of the make-up Saturday 14 February (CST)
ANSWER_DUE = "2026-02-25T16:00:00Z"  # end of Wednesday 25 February, after the Spring Festival


def _seed(label: str) -> bytes:
    return hashlib.sha256(f"deltafed test vector key: {label}".encode()).digest()


SH_KEY = PrivateKey.from_seed(_seed("shanghai"))
JS_KEY = PrivateKey.from_seed(_seed("jiangsu"))
UNTRUSTED_KEY = PrivateKey.from_seed(_seed("untrusted"))

CONCERN: dict[str, Any] = {
    "id": CONCERN_ID,
    "filer": {"type": "111", "code": "11010519491231002X"},
    "subject": {"kind": "certificate", "ref": CERT},
    "category": "objection",
    "text": "证照地址有误 (synthetic)",
    "attachments": [
        {
            "name": "proof.pdf",
            "media_type": "application/pdf",
            "digest": "sha-256:" + hashlib.sha256(b"synthetic proof").hexdigest(),
            "size": 15,
        }
    ],
    "consent": {"given": True, "given_at": "2026-02-13T01:55:00Z"},
    "filed_at": "2026-02-13T01:58:00Z",
}


def filing() -> bytes:
    claims = new_request(
        issuer=SHANGHAI,
        audience=JIANGSU,
        operation="concern.file",
        target=CONCERN_ID,
        scenario="yrd-cross-region-concerns",
        body=CONCERN,
        now=NOW,
        jti="vector-concern-file-0001",
    )
    return sign_request(claims, SH_KEY)


def chain(steps: list[dict[str, Any]], first_prev: str, key: Any = JS_KEY) -> list[bytes]:
    """Sign ``steps`` as a chain of events (each a partial payload) after ``first_prev``."""
    out: list[bytes] = []
    prev = first_prev
    for seq, step in enumerate(steps):
        payload = {
            "iss": JIANGSU,
            "aud": SHANGHAI,
            "cid": CONCERN_ID,
            "seq": seq,
            "prev": prev,
            **step,
        }
        raw = sign_event(ConcernEvent.parse(payload), key)
        out.append(raw)
        prev = sha256_digest(raw)
    return out


FILED = {
    "iat": NOW,
    "kind": "filed",
    "status": "filed",
    "ack_due": ACK_DUE,
    "answer_due": ANSWER_DUE,
}
ANSWERED_STEPS = [
    FILED,
    {"iat": NOW + 3600, "kind": "acknowledged", "status": "acknowledged"},
    {"iat": NOW + 7200, "kind": "status", "status": "accepted"},
    {
        "iat": NOW + 86_400,
        "kind": "answered",
        "status": "answered",
        "answer": {
            "text": "地址已更正 (synthetic)",
            "outcome": "upheld",
            "correction": {
                "action": "corrected",
                "certificate_id": CERT,
                "new_certificate_id": FIXED,
                "fields": {"address": "扬州市测试路521号"},
            },
        },
    },
    {"iat": NOW + 90_000, "kind": "status", "status": "closed"},
]
OVERDUE_STEPS = [
    FILED,
    {
        "iat": NOW + 80_000,
        "kind": "reminder",
        "status": "filed",
        "stage": "acknowledge",
        "due": ACK_DUE,
    },
    {
        "iat": NOW + 140_000,
        "kind": "escalated",
        "status": "filed",
        "stage": "acknowledge",
        "due": ACK_DUE,
        "to": "320000/zwfw",
    },
]


def case(
    name: str, why: str, filing_raw: bytes, events: list[bytes], expected: str
) -> dict[str, Any]:
    return {
        "name": name,
        "why": why,
        "kind": "history",
        "input": {
            "concern_id": CONCERN_ID,
            "filing": filing_raw.decode("ascii"),
            "events": [e.decode("ascii") for e in events],
        },
        "context": {
            "now": NOW + 200_000,
            "filer": SHANGHAI,
            "responsible": JIANGSU,
            "concern_id": CONCERN_ID,
        },
        "expected": expected,
    }


def _raw_event(payload: dict[str, Any], key: Any = JS_KEY) -> bytes:
    # Bypasses the schema, to build events deltafed itself refuses to produce.
    return sign_document(payload, typ=CONCERN_EVENT_TYP, signer=key)


def build_cases() -> list[dict[str, Any]]:
    sent = filing()
    digest = sha256_digest(sent)
    answered = chain(ANSWERED_STEPS, digest)
    overdue = chain(OVERDUE_STEPS, digest)
    cases = [
        {
            "name": "request-concern-file-valid",
            "why": "A concern.file request, as the filing member signs it.",
            "kind": "request",
            "input": sent.decode("ascii"),
            "context": {"now": NOW, "audience": JIANGSU},
            "expected": "ok",
        },
        case(
            "history-answered-valid",
            "Filed, acknowledged, accepted, answered with a correction, closed.",
            sent,
            answered,
            "ok",
        ),
        case(
            "history-escalated-valid",
            "Filed, reminded before the acknowledgement deadline, escalated after it.",
            sent,
            overdue,
            "ok",
        ),
        case(
            "history-event-removed",
            "The acceptance is missing: the answer's prev names an event that is not there.",
            sent,
            [answered[0], answered[1], answered[3], answered[4]],
            "malformed_message",
        ),
        case(
            "history-events-reordered",
            "Two events swapped.",
            sent,
            [answered[0], answered[2], answered[1], answered[3]],
            "malformed_message",
        ),
        case(
            "history-another-filing",
            "Event 0 does not point at the filing the history carries.",
            sent,
            chain(ANSWERED_STEPS[:2], "sha-256:" + "00" * 32),
            "malformed_message",
        ),
        case(
            "history-skips-acknowledgement",
            "filed -> answered is not a transition.",
            sent,
            chain([ANSWERED_STEPS[0], ANSWERED_STEPS[3]], digest),
            "malformed_message",
        ),
        case(
            "history-other-concern",
            "An event about another concern id.",
            sent,
            [answered[0], _raw_event({**_payload(answered[0]), "cid": "sh-2026-0213-000002"})],
            "malformed_message",
        ),
        case(
            "history-signed-by-another-member",
            "An event signed by a member that is not the responsible one.",
            sent,
            [_raw_event({**_payload(answered[0]), "iss": SHANGHAI}, SH_KEY)],
            "wrong_issuer",
        ),
        case(
            "history-untrusted-key",
            "An event signed with a key the registry does not list.",
            sent,
            [_raw_event(_payload(answered[0]), UNTRUSTED_KEY)],
            "unknown_key",
        ),
        case(
            "history-tampered-signature",
            "The last signature byte of event 1 changed.",
            sent,
            [answered[0], _flip_last(answered[1])],
            "bad_signature",
        ),
        case(
            "history-rejected-without-reason",
            "A rejection must say why.",
            sent,
            [
                answered[0],
                _raw_event(
                    {
                        "iss": JIANGSU,
                        "aud": SHANGHAI,
                        "cid": CONCERN_ID,
                        "seq": 1,
                        "prev": sha256_digest(answered[0]),
                        "iat": NOW + 60,
                        "kind": "status",
                        "status": "rejected",
                    }
                ),
            ],
            "malformed_message",
        ),
        case(
            "history-empty",
            "A history without its filed event.",
            sent,
            [],
            "malformed_message",
        ),
    ]
    return cases


def _payload(raw: bytes) -> dict[str, Any]:
    payload = peek_unverified_claims(raw)
    if payload is None:  # pragma: no cover - our own events decode
        raise ValueError("unreadable event")
    return payload


def _flip_last(raw: bytes) -> bytes:
    head, payload, signature = raw.split(b".")
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # Change a middle character: the last one may carry padding bits (§2).
    middle = len(signature) // 2
    swapped = alphabet[(alphabet.index(signature[middle]) + 1) % 64]
    changed = signature[:middle] + bytes([swapped]) + signature[middle + 1 :]
    return b".".join((head, payload, changed))


def write(directory: Path = HERE) -> None:
    cases_dir = directory / "cases"
    cases_dir.mkdir(exist_ok=True)
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
