"""Generate the gm (SM2/SM3) test vectors in this directory. TEST KEYS ONLY.

Run from the repository root, with the gm extra installed:
``.venv/bin/python docs/vectors/gm/generate.py``. SM2 signatures are randomised; to make the
files reproducible byte for byte, the vectors are signed by :class:`DeterministicSm2`, whose
nonce is derived from the key and the signed bytes (``sm2_reference.deterministic_k``). Any
verifier checks them like any other SM2 signature. A test checks that the committed files equal
what this script produces.

Output: ``keys.json``, ``cases/*.json`` (the format of ``docs/vectors/README.md``, each case
with ``context.crypto = "gm"``), ``registry.jws`` with its pinned ``anchor.json``, and
``audit.json`` (a gm audit log's entries, its SM2SM3 checkpoint and its SM3 Merkle root), and
``sm2-published-examples.json`` (the signature examples of GB/T 32918, with their fixed k).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from deltafed._canonical import canonicalize
from deltafed._clock import FixedClock
from deltafed._profile import GM, INTERNATIONAL
from deltafed.audit import AuditLog, MemoryAuditStore, write_export
from deltafed.keys import PrivateKey, PublicKey, b64url_decode, b64url_encode
from deltafed.protocol import (
    VerifiedRequest,
    new_problem_response,
    new_request,
    new_response,
    sign_document,
    sign_request,
    sign_response,
)
from deltafed.registry import AnchorKeys, RegistryBuilder, sign_registry

HERE = Path(__file__).resolve().parent
NOW = int(datetime(2026, 1, 15, 8, 0, 0, tzinfo=UTC).timestamp())
SHANGHAI = "310000/shzwfw/yitongban"
JIANGSU = "320000/gongan/hukou"
ZHEJIANG = "330000/zjzwfw"
CERT = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"
RESIDENT = "11010519491231002X"
SUBJECT_KEY = hashlib.sha256(b"deltafed gm test vector subject key").digest()
WARNING = "TEST ONLY - these keys are public; never trust them outside tests."


def _reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "deltafed_sm2_reference", HERE / "sm2_reference.py"
    )
    if spec is None or spec.loader is None:
        raise ImportError("sm2_reference.py not found")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


REF = _reference()


def _seed(label: str) -> bytes:
    return hashlib.sha256(f"deltafed gm test vector key: {label}".encode()).digest()


class DeterministicSm2:
    """An SM2SM3 :class:`~deltafed.keys.Signer` with a derived nonce, for reproducible vectors.

    The key is ``PrivateKey.from_seed(seed, "SM2")``; signatures come from the pure-Python
    reference (GM/T 0003.2 with the default signer id) with ``k`` from HMAC-SM3 of the key
    and the signed bytes. TEST ONLY."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._private = PrivateKey.from_seed(_seed(label), "SM2")
        self._d = int.from_bytes(b64url_decode(self._private.to_private_jwk()["d"]), "big")

    @property
    def alg(self) -> str:
        return "SM2SM3"

    @property
    def kid(self) -> str:
        return self._private.kid

    @property
    def public_key(self) -> PublicKey:
        return self._private.public_key

    def public_jwk(self) -> dict[str, str]:
        return self._private.public_jwk()

    def to_private_jwk(self) -> dict[str, str]:
        return self._private.to_private_jwk()

    def sign(self, data: bytes) -> bytes:
        curve = REF.SM2_CURVE
        r, s = REF.sign(curve, self._d, data, REF.deterministic_k(curve, self._d, data))
        return int(r).to_bytes(32, "big") + int(s).to_bytes(32, "big")


ANCHOR = DeterministicSm2("anchor")
SH_KEY = DeterministicSm2("shanghai")
JS_KEY = DeterministicSm2("jiangsu")
#: An international (Ed25519) key the verifier trusts for Zhejiang: its messages must still be
#: refused by a gm verifier, with crypto_profile_mismatch.
ZJ_ED25519 = PrivateKey.from_seed(_seed("zhejiang-ed25519"))


def keys_document() -> dict[str, Any]:
    def entry(member: str | None, key: Any, label: str) -> dict[str, Any]:
        return {
            "member": member,
            "trusted": member is not None,
            "seed_label": label,
            "public_jwk": key.public_jwk(),
            "private_jwk": key.to_private_jwk(),
        }

    return {
        "warning": WARNING,
        "seed": "seeds are SHA-256 of 'deltafed gm test vector key: <label>'; an SM2 private "
        "key is int(seed) mod (n - 2) + 1, an Ed25519 key the seed itself",
        "signer_id": "1234567812345678",
        "keys": [
            entry(None, ANCHOR, "anchor"),
            entry(SHANGHAI, SH_KEY, "shanghai"),
            entry(JIANGSU, JS_KEY, "jiangsu"),
            entry(ZHEJIANG, ZJ_ED25519, "zhejiang-ed25519"),
        ],
    }


def case(name: str, why: str, kind: str, message: bytes, expected: str, **context: Any) -> dict:
    ctx: dict[str, Any] = {
        "crypto": "gm",
        "now": context.pop("now", NOW),
        "audience": context.pop("audience", JIANGSU if kind == "request" else SHANGHAI),
    }
    ctx.update(context)
    return {
        "name": name,
        "why": why,
        "kind": kind,
        "input": message.decode("ascii"),
        "context": ctx,
        "expected": expected,
    }


def _request(**changes: Any) -> Any:
    args: dict[str, Any] = {
        "issuer": SHANGHAI,
        "audience": JIANGSU,
        "operation": "certificate.verify",
        "target": CERT,
        "scenario": "kuasheng-hukou-qianyi",
        "body": {"certificate_id": CERT, "use_cause": "跨省户口迁移 (gm test vector)"},
        "now": NOW,
        "jti": "gm-vector-request-0001",
    }
    args.update(changes)
    return new_request(**args)


def _verified(raw: bytes, claims: Any) -> VerifiedRequest:
    return VerifiedRequest(
        claims=claims, raw=raw, digest=GM.digest_text(raw), kid=SH_KEY.kid, alg="SM2SM3"
    )


def build_cases() -> list[dict[str, Any]]:
    claims = _request()
    valid = sign_request(claims, SH_KEY)
    response = sign_response(
        new_response(
            _verified(valid, claims),
            status="ok",
            body={"valid": True, "status": "01"},
            now=NOW,
            jti="gm-vector-response-0001",
        ),
        JS_KEY,
    )
    problem = sign_response(
        new_response(
            _verified(valid, claims),
            status="problem",
            body={"code": "not_authorized", "title": "Scenario does not allow this", "status": 403},
            now=NOW,
            jti="gm-vector-response-0002",
        ),
        JS_KEY,
    )
    garbage_problem = sign_response(
        new_problem_response(
            b"not a jws",
            issuer=JIANGSU,
            now=NOW,
            jti="gm-vector-response-0003",
            body={"code": "malformed_message", "title": "Not a compact JWS", "status": 400},
            crypto=GM,
        ),
        JS_KEY,
    )
    sha_bound = new_response(
        _verified(valid, claims),
        status="ok",
        body={"valid": True},
        now=NOW,
        jti="gm-vector-response-0004",
    ).model_copy(update={"req": INTERNATIONAL.digest_text(valid)})
    consent = sign_document(
        {
            "iss": SHANGHAI,
            "iat": NOW,
            "exp": NOW + 86_400,
            "holder": "gm-vector",
            "scope": ["ZZMC"],
        },
        typ="deltafed-consent+jws",
        signer=SH_KEY,
    )
    head, _payload, signature = valid.split(b".")
    tampered_payload = canonicalize({**claims.to_wire(), "tgt": "ANOTHER-TARGET"})
    return [
        case(
            "request-valid",
            "A request signed with SM2 (SM3, signer id 1234567812345678) by a trusted key.",
            "request",
            valid,
            "ok",
        ),
        case(
            "request-tampered-payload",
            "The payload was changed after signing; the SM2 signature is the original one.",
            "request",
            head + b"." + b64url_encode(tampered_payload).encode() + b"." + signature,
            "bad_signature",
        ),
        case(
            "request-international-algorithm",
            "Signed with EdDSA by a key the verifier trusts: in a gm federation the algorithm "
            "is of the wrong crypto profile.",
            "request",
            sign_request(_request(issuer=ZHEJIANG, jti="gm-vector-request-ed"), ZJ_ED25519),
            "crypto_profile_mismatch",
        ),
        case(
            "response-valid",
            "The SM2-signed answer, bound to the request by its SM3 digest.",
            "response",
            response,
            "ok",
            request=valid.decode(),
        ),
        case(
            "response-problem-valid",
            "A signed problem answering the request.",
            "response",
            problem,
            "ok",
            request=valid.decode(),
        ),
        case(
            "response-problem-to-garbage",
            "A problem answering bytes that were not a request: req is the SM3 of those bytes, "
            "and it is addressed to its own issuer.",
            "response",
            garbage_problem,
            "wrong_audience",
            request=valid.decode(),
        ),
        case(
            "response-sha256-binding",
            "req is the SHA-256 of the request bytes: in a gm federation only SM3 binds.",
            "response",
            sign_response(sha_bound, JS_KEY),
            "binding_mismatch",
            request=valid.decode(),
        ),
        case(
            "document-consent-valid",
            "A consent document signed with SM2 by its issuer.",
            "document",
            consent,
            "ok",
            typ="deltafed-consent+jws",
        ),
    ]


def registry_files() -> tuple[bytes, dict[str, Any]]:
    """The signed gm registry and its pinned anchor."""
    anchor = AnchorKeys.of([ANCHOR.public_key], 1)
    issued = datetime.fromtimestamp(NOW, UTC)
    doc = (
        RegistryBuilder("yrd-gm-vectors", anchor, crypto="gm")
        .add_member(SHANGHAI, "Shanghai one-network service (test)")
        .add_key(SHANGHAI, SH_KEY.public_key, not_before=issued - timedelta(days=1))
        .add_member(JIANGSU, "Jiangsu household registration (test)")
        .add_key(JIANGSU, JS_KEY.public_key, not_before=issued - timedelta(days=1))
        .build(issued_at=issued)
    )
    return sign_registry(doc, [ANCHOR]), anchor.to_wire()


def audit_document() -> dict[str, Any]:
    """Two entries of Jiangsu's gm audit log and the SM2SM3 checkpoint over them."""
    cases = {c["name"]: c for c in build_cases()}
    request = cases["request-valid"]["input"].encode()
    answers = (cases["response-valid"]["input"], cases["response-problem-valid"]["input"])
    log = AuditLog(
        MemoryAuditStore(),
        node=JIANGSU,
        signer=JS_KEY,
        subject_key=SUBJECT_KEY,
        clock=FixedClock(datetime.fromtimestamp(NOW, UTC)),
        crypto=GM,
    )
    for number, answer in enumerate(answers):
        log.record(
            role="responder",
            counterpart=SHANGHAI,
            operation="certificate.verify",
            scenario="kuasheng-hukou-qianyi",
            subjects=[RESIDENT],
            fields=[],
            outcome="ok" if number == 0 else "not_authorized",
            request_id=f"gm-vector-request-000{number + 1}",
            request=request,
            response=answer.encode(),
        )
    checkpoint = log.checkpoint().decode("ascii")
    out = io.StringIO()
    write_export(log.store, out, checkpoint=checkpoint)
    return {
        "warning": WARNING,
        "log": JIANGSU,
        "subject": RESIDENT,
        "subject_key": SUBJECT_KEY.hex(),
        "entries": [canonicalize(log.entry(i).to_wire()).decode("utf-8") for i in range(log.size)],
        "root": f"sm3:{log.root().hex()}",
        "checkpoint": checkpoint,
        "export": out.getvalue().splitlines(),
    }


def published_examples() -> dict[str, Any]:
    """The examples of the standard, checked here with the reference before they are written.

    GB/T 32918.5-2017 (GM/T 0003.5-2012) Annex A signs on the recommended SM2 curve with the
    default signer id; GM/T 0003.2-2012 Annex A on a 256-bit test curve with another id."""
    recommended = {
        "source": "GB/T 32918.5-2017 (GM/T 0003.5-2012), Annex A: SM2 recommended curve",
        "curve": "SM2",
        "signer_id": "1234567812345678",
        "message": "message digest",
        "d": "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8",
        "x": "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020",
        "y": "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13",
        "k": "59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21",
        "r": "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3",
        "s": "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA",
    }
    test_curve = {
        "source": "GM/T 0003.2-2012 (GB/T 32918.2), Annex A: 256-bit test curve over Fp",
        "curve": {
            "p": "8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3",
            "a": "787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498",
            "b": "63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A",
            "gx": "421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D",
            "gy": "0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2",
            "n": "8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7",
        },
        "signer_id": "ALICE123@YAHOO.COM",
        "message": "message digest",
        "d": "128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263",
        "x": "0AE4C7798AA0F119471BEE11825BE46202BB79E2A5844495E97C04FF4DF2548A",
        "y": "7C0240F88F1CD4E16352A73C17B7F16F07353E53A176D684A9FE0C6BB798E857",
        "z": "F4A38489E32B45B6F876E3AC2168CA392362DC8F23459C1D1146FC3DBFB7BC9A",
        "k": "6CB28D99385C175C94F94E934817663FC176D925DD72B727260DBAAE1FB2F96F",
        "r": "40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1",
        "s": "6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7",
    }
    for example in (recommended, test_curve):
        params = example["curve"]
        curve = (
            REF.SM2_CURVE
            if params == "SM2"
            else REF.Curve(**{k: int(v, 16) for k, v in dict(params).items()})
        )
        d, ident = int(str(example["d"]), 16), str(example["signer_id"]).encode()
        message = str(example["message"]).encode()
        public = REF.public_point(curve, d)
        signature = REF.sign(curve, d, message, int(str(example["k"]), 16), ident)
        if public != (int(str(example["x"]), 16), int(str(example["y"]), 16)) or signature != (
            int(str(example["r"]), 16),
            int(str(example["s"]), 16),
        ):
            raise ValueError(f"the reference does not reproduce {example['source']}")
    return {"recommended_curve": recommended, "test_curve": test_curve}


def write(directory: Path = HERE) -> None:
    cases_dir = directory / "cases"
    cases_dir.mkdir(parents=True, exist_ok=True)
    (directory / "keys.json").write_text(dump(keys_document()), encoding="utf-8")
    names = set()
    for item in build_cases():
        names.add(f"{item['name']}.json")
        (cases_dir / f"{item['name']}.json").write_text(dump(item), encoding="utf-8")
    for stale in cases_dir.glob("*.json"):
        if stale.name not in names:
            stale.unlink()
    registry, anchor = registry_files()
    (directory / "registry.jws").write_bytes(registry)
    (directory / "anchor.json").write_text(dump(anchor), encoding="utf-8")
    (directory / "audit.json").write_text(dump(audit_document()), encoding="utf-8")
    (directory / "sm2-published-examples.json").write_text(
        dump(published_examples()), encoding="utf-8"
    )


def dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
