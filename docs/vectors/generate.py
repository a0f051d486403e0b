"""Generate the protocol test vectors in this directory. TEST KEYS ONLY.

Run from the repository root: ``.venv/bin/python docs/vectors/generate.py``. The output is
deterministic (Ed25519, RFC 6979 ECDSA, fixed times and message ids), and a test checks that
the committed files equal what this script produces, so a change to the protocol that
changes a vector shows up in review.

Valid messages are signed with deltafed's own API; invalid ones are assembled by hand here
(deltafed would refuse to produce most of them).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from deltafed.client import issue_consent
from deltafed.keys import P256_ORDER, PrivateKey, PublicKey, low_s
from deltafed.protocol import (
    REQUEST_TYP,
    RESPONSE_TYP,
    RequestClaims,
    ResponseClaims,
    VerifiedRequest,
    new_problem_response,
    new_request,
    new_response,
    sign_document,
    sign_request,
    sign_response,
)

HERE = Path(__file__).resolve().parent
NOW = int(datetime(2026, 1, 15, 8, 0, 0, tzinfo=UTC).timestamp())
SHANGHAI = "310000/shzwfw/yitongban"
JIANGSU = "320000/gongan/hukou"
ZHEJIANG = "330000/zjzwfw"
ANHUI = "340000/wsjkw"
CERT = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"
WARNING = "TEST ONLY - these keys are public; never trust them outside tests."


# --- keys ------------------------------------------------------------------------------------


def _seed(label: str) -> bytes:
    return hashlib.sha256(f"deltafed test vector key: {label}".encode()).digest()


class DeterministicEs256:
    """An ES256 :class:`~deltafed.keys.Signer` with RFC 6979 nonces, for reproducible vectors."""

    def __init__(self, label: str) -> None:
        scalar = int.from_bytes(_seed(label), "big") % (2**256 - 2**224) + 1
        self._native = ec.derive_private_key(scalar, ec.SECP256R1())
        self._private = PrivateKey(self._native)

    @property
    def alg(self) -> str:
        return "ES256"

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
        der = self._native.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + low_s(s).to_bytes(32, "big")


SH_KEY = PrivateKey.from_seed(_seed("shanghai"))
JS_KEY = PrivateKey.from_seed(_seed("jiangsu"))
ZJ_KEY = DeterministicEs256("zhejiang")
UNTRUSTED_KEY = PrivateKey.from_seed(_seed("untrusted"))

#: member -> keys the verifier of every case trusts.
TRUSTED: dict[str, list[Any]] = {SHANGHAI: [SH_KEY], JIANGSU: [JS_KEY], ZHEJIANG: [ZJ_KEY]}


def keys_document() -> dict[str, Any]:
    def entry(member: str | None, key: Any, seed_label: str | None) -> dict[str, Any]:
        return {
            "member": member,
            "trusted": member is not None,
            "seed_label": seed_label,
            "public_jwk": key.public_jwk(),
            "private_jwk": key.to_private_jwk(),
        }

    return {
        "warning": WARNING,
        "seed": "Ed25519 seeds are SHA-256 of 'deltafed test vector key: <label>'",
        "keys": [
            entry(SHANGHAI, SH_KEY, "shanghai"),
            entry(JIANGSU, JS_KEY, "jiangsu"),
            entry(ZHEJIANG, ZJ_KEY, None),
            entry(None, UNTRUSTED_KEY, "untrusted"),
        ],
    }


# --- hand-made messages ----------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def canonical(value: Any) -> bytes:
    import rfc8785

    return rfc8785.dumps(value)


def forge(
    header: dict[str, Any],
    payload: dict[str, Any] | bytes,
    sign: Callable[[bytes], bytes] | None,
) -> str:
    header_bytes = canonical(header)
    payload_bytes = payload if isinstance(payload, bytes) else canonical(payload)
    signing_input = f"{b64(header_bytes)}.{b64(payload_bytes)}"
    signature = sign(signing_input.encode()) if sign is not None else b""
    return f"{signing_input}.{b64(signature)}"


def nested(levels: int) -> dict[str, Any]:
    """An object holding ``levels - 1`` objects one inside the other (``levels`` in all)."""
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def hdr(key: Any, typ: str = REQUEST_TYP, **extra: Any) -> dict[str, Any]:
    return {"alg": key.alg, "kid": key.kid, "typ": typ, **extra}


def request_claims(**changes: Any) -> RequestClaims:
    args: dict[str, Any] = {
        "issuer": SHANGHAI,
        "audience": JIANGSU,
        "operation": "certificate.verify",
        "target": CERT,
        "scenario": "kuasheng-hukou-qianyi",
        "body": {"certificate_id": CERT, "use_cause": "跨省户口迁移 (test vector)"},
        "now": NOW,
        "jti": "vector-request-0001",
    }
    args.update(changes)
    return new_request(**args)


def request_dict(**changes: Any) -> dict[str, Any]:
    data = request_claims().to_wire()
    data.update(changes)
    return data


def _as_verified(raw: bytes, claims: RequestClaims) -> VerifiedRequest:
    from deltafed._canonical import sha256_digest

    return VerifiedRequest(
        claims=claims, raw=raw, digest=sha256_digest(raw), kid=SH_KEY.kid, alg="EdDSA"
    )


def response_for(raw_request: bytes, claims: RequestClaims, **changes: Any) -> ResponseClaims:
    body = changes.pop("body", {"valid": True, "status": "01"})
    response = new_response(
        _as_verified(raw_request, claims),
        status="ok",
        body=body,
        now=NOW,
        jti="vector-response-0001",
    )
    return response


# --- cases -----------------------------------------------------------------------------------


def case(
    name: str,
    why: str,
    kind: str,
    message: bytes | str,
    expected: str,
    **context: Any,
) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "now": context.pop("now", NOW),
        "audience": context.pop("audience", JIANGSU if kind == "request" else SHANGHAI),
    }
    ctx.update(context)
    return {
        "name": name,
        "why": why,
        "kind": kind,
        "input": message.decode("ascii") if isinstance(message, bytes) else message,
        "context": ctx,
        "expected": expected,
    }


def build_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    add = cases.append
    claims = request_claims()
    valid = sign_request(claims, SH_KEY)
    good_sig = valid.decode().rsplit(".", 1)[1]

    add(
        case(
            "request-valid",
            "A well-formed request signed by a trusted key.",
            "request",
            valid,
            "ok",
        )
    )
    es = request_claims(issuer=ZHEJIANG, jti="vector-request-es256")
    add(
        case(
            "request-es256-valid",
            "An ES256 (P-256, raw r||s signature) request.",
            "request",
            sign_request(es, ZJ_KEY),
            "ok",
        )
    )
    add(
        case(
            "request-clock-skew-tolerated",
            "Issued 60 s in the future: within the allowed clock skew of 60 s.",
            "request",
            sign_request(request_claims(now=NOW + 60, jti="vector-request-skew0"), SH_KEY),
            "ok",
        )
    )
    tampered = forge(hdr(SH_KEY), request_dict(tgt="ANOTHER-TARGET"), None)
    add(
        case(
            "request-tampered-payload",
            "The payload was changed after signing; the signature is the original one.",
            "request",
            tampered + good_sig,
            "bad_signature",
        )
    )
    head, payload, sig = valid.decode().split(".")
    flipped = bytearray(base64.urlsafe_b64decode(sig + "=="))
    flipped[0] ^= 0x01
    add(
        case(
            "request-tampered-signature",
            "One bit of the signature was flipped.",
            "request",
            f"{head}.{payload}.{b64(bytes(flipped))}",
            "bad_signature",
        )
    )
    add(
        case(
            "request-wrong-key",
            "Names Shanghai's key id but was signed with Jiangsu's key.",
            "request",
            forge(hdr(SH_KEY), request_dict(), JS_KEY.sign),
            "bad_signature",
        )
    )
    add(
        case(
            "request-unknown-kid",
            "Signed with a key that Shanghai never registered.",
            "request",
            forge(hdr(UNTRUSTED_KEY), request_dict(), UNTRUSTED_KEY.sign),
            "unknown_key",
        )
    )
    add(
        case(
            "request-unknown-member",
            "Claims to come from a member the verifier does not know.",
            "request",
            forge(hdr(SH_KEY), request_dict(iss=ANHUI), SH_KEY.sign),
            "unknown_member",
        )
    )
    add(
        case(
            "request-expired",
            "exp + 60 s skew is at or before now.",
            "request",
            valid,
            "expired",
            now=NOW + 60 + 60,
        )
    )
    add(
        case(
            "request-future-dated",
            "Issued 61 s in the future, beyond the 60 s skew.",
            "request",
            valid,
            "not_yet_valid",
            now=NOW - 61,
        )
    )
    add(
        case(
            "request-lifetime-too-long",
            "exp - iat is 301 s; the limit is 300 s.",
            "request",
            forge(hdr(SH_KEY), request_dict(exp=NOW + 301), SH_KEY.sign),
            "lifetime_too_long",
        )
    )
    add(
        case(
            "request-wrong-audience",
            "Addressed to Zhejiang, verified by Jiangsu.",
            "request",
            sign_request(request_claims(audience=ZHEJIANG), SH_KEY),
            "wrong_audience",
        )
    )
    add(
        case(
            "request-replay-different-bytes",
            "Reuses the message id of a request already seen, with other content.",
            "request",
            sign_request(request_claims(target="OTHER-TARGET"), SH_KEY),
            "replay",
            seen=[{"input": valid.decode(), "response": None}],
        )
    )
    first_response = sign_response(response_for(valid, claims), JS_KEY)
    add(
        case(
            "request-identical-retransmission",
            "The same bytes again after they were answered: the original response is "
            "returned (duplicate_of) instead of acting twice.",
            "request",
            valid,
            "ok",
            seen=[{"input": valid.decode(), "response": first_response.decode()}],
            duplicate_of=first_response.decode(),
        )
    )
    add(
        case(
            "request-retransmission-in-flight",
            "The same bytes again before the first copy was answered.",
            "request",
            valid,
            "replay",
            seen=[{"input": valid.decode(), "response": None}],
        )
    )
    add(
        case(
            "request-alg-none",
            "alg none: an unsigned message.",
            "request",
            forge({"alg": "none", "kid": SH_KEY.kid, "typ": REQUEST_TYP}, request_dict(), None),
            "algorithm_not_allowed",
        )
    )
    secret = SH_KEY.public_key.to_pem()
    add(
        case(
            "request-alg-hs256-public-key",
            "HS256 with the sender's public key (PEM) as the HMAC secret: key confusion.",
            "request",
            forge(
                {"alg": "HS256", "kid": SH_KEY.kid, "typ": REQUEST_TYP},
                request_dict(),
                lambda data: hmac.new(secret, data, hashlib.sha256).digest(),
            ),
            "algorithm_not_allowed",
        )
    )
    add(
        case(
            "request-alg-does-not-fit-key",
            "Header says ES256, the key behind the kid is Ed25519.",
            "request",
            forge(
                {"alg": "ES256", "kid": SH_KEY.kid, "typ": REQUEST_TYP}, request_dict(), SH_KEY.sign
            ),
            "algorithm_not_allowed",
        )
    )
    add(
        case(
            "request-wrong-typ",
            "A request payload under the response typ.",
            "request",
            forge(hdr(SH_KEY, RESPONSE_TYP), request_dict(), SH_KEY.sign),
            "wrong_type",
        )
    )
    add(
        case(
            "request-crit-header",
            "A crit header member: outside the header profile.",
            "request",
            forge(hdr(SH_KEY, crit=["exp"]), request_dict(), SH_KEY.sign),
            "malformed_message",
        )
    )
    add(
        case(
            "request-embedded-jwk-header",
            "Carries its own key in a jwk header member: keys come from the registry only.",
            "request",
            forge(hdr(SH_KEY, jwk=UNTRUSTED_KEY.public_jwk()), request_dict(), UNTRUSTED_KEY.sign),
            "malformed_message",
        )
    )
    add(
        case(
            "request-b64-false-header",
            "b64=false (RFC 7797) is not part of the profile.",
            "request",
            forge(hdr(SH_KEY, b64=False), request_dict(), SH_KEY.sign),
            "malformed_message",
        )
    )
    add(
        case(
            "request-non-canonical-payload",
            "Valid JSON with whitespace: not RFC 8785 canonical form.",
            "request",
            forge(hdr(SH_KEY), json.dumps(request_dict(), indent=1).encode(), SH_KEY.sign),
            "malformed_message",
        )
    )
    with_float = canonical(request_dict()).replace(b'"body":{', b'"body":{"fee":1.5,', 1)
    add(
        case(
            "request-float-in-payload",
            "A float in the body: the wire has none.",
            "request",
            forge(hdr(SH_KEY), with_float, SH_KEY.sign),
            "malformed_message",
        )
    )
    duplicated = canonical(request_dict()).replace(
        b'{"aud"', b'{"aud":"' + ZHEJIANG.encode() + b'","aud"', 1
    )
    add(
        case(
            "request-duplicate-member",
            "Two 'aud' members: parsers disagree on which wins, so it is refused.",
            "request",
            forge(hdr(SH_KEY), duplicated, SH_KEY.sign),
            "malformed_message",
        )
    )
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = good_sig[:-1] + alphabet[alphabet.index(good_sig[-1]) ^ 1]
    add(
        case(
            "request-non-canonical-base64",
            "The signature spelled with non-zero padding bits: same bytes, other string.",
            "request",
            f"{head}.{payload}.{twin}",
            "malformed_message",
        )
    )
    add(
        case(
            "request-trailing-newline",
            "A valid request followed by one newline: nothing may follow a message (the "
            "replay store keys on exact bytes, so accepting it would let a relay burn the id).",
            "request",
            valid.decode() + "\n",
            "malformed_message",
        )
    )
    add(
        case(
            "request-leading-space",
            "A valid request preceded by one space: nothing may precede a message.",
            "request",
            " " + valid.decode(),
            "malformed_message",
        )
    )
    add(
        case(
            "request-kid-trailing-newline",
            "The header kid is the signing key's thumbprint followed by a newline: not a "
            "well-formed kid (step 4), not an unknown key.",
            "request",
            forge(hdr(SH_KEY, kid=SH_KEY.kid + "\n"), request_dict(), SH_KEY.sign),
            "malformed_message",
        )
    )
    add(
        case(
            "request-iss-trailing-newline",
            "iss is a member id followed by a newline: not a well-formed member id (step 5).",
            "request",
            forge(hdr(SH_KEY), request_dict(iss=SHANGHAI + "\n"), SH_KEY.sign),
            "malformed_message",
        )
    )
    add(
        case(
            "request-bad-issuer-id",
            "iss is not a member id.",
            "request",
            forge(hdr(SH_KEY), request_dict(iss="Shanghai"), SH_KEY.sign),
            "malformed_message",
        )
    )
    big = request_claims(body={"pad": "x" * 1024}, jti="vector-request-large")
    add(
        case(
            "request-oversized",
            "Over the verifier's size limit (1024 bytes here, 262144 by default): refused "
            "before any parsing.",
            "request",
            sign_request(big, SH_KEY),
            "too_large",
            max_bytes=1024,
        )
    )

    # --- the exact rules of §1 to §4 (issue 12) ---
    es_raw = sign_request(es, ZJ_KEY).decode()
    es_head, es_payload, es_sig = es_raw.split(".")
    es_bytes = base64.urlsafe_b64decode(es_sig + "==")
    high_s = P256_ORDER - int.from_bytes(es_bytes[32:], "big")
    add(
        case(
            "request-es256-high-s",
            "request-es256-valid with s replaced by n - s: a valid ECDSA signature, but only the "
            "low-S form is accepted, so that a request has one byte string.",
            "request",
            f"{es_head}.{es_payload}.{b64(es_bytes[:32] + high_s.to_bytes(32, 'big'))}",
            "bad_signature",
        )
    )
    twice = (
        b'{"alg":"EdDSA","kid":"' + SH_KEY.kid.encode() + b'","typ":"deltafed-request+jws",'
        b'"typ":"deltafed-request+jws"}'
    )
    signing_input = f"{b64(twice)}.{b64(canonical(request_dict()))}"
    add(
        case(
            "request-duplicate-header-member",
            "The protected header repeats 'typ' (same value): refused at step 2.",
            "request",
            f"{signing_input}.{b64(SH_KEY.sign(signing_input.encode()))}",
            "malformed_message",
        )
    )
    without_tgt = request_dict()
    del without_tgt["tgt"]
    add(
        case(
            "request-missing-claim",
            "No 'tgt' claim: every claim of §3 but cns is required (step 10).",
            "request",
            forge(hdr(SH_KEY), without_tgt, SH_KEY.sign),
            "malformed_message",
        )
    )
    add(
        case(
            "request-extra-claim",
            "An extra 'nbf' claim: no claim beyond §3 is allowed (step 10).",
            "request",
            forge(hdr(SH_KEY), request_dict(nbf=NOW), SH_KEY.sign),
            "malformed_message",
        )
    )
    add(
        case(
            "request-null-claim",
            "'cns' is null: an absent optional claim is omitted, never null (step 10).",
            "request",
            forge(hdr(SH_KEY), request_dict(cns=None), SH_KEY.sign),
            "malformed_message",
        )
    )
    add(
        case(
            "request-negative-iat",
            "iat is -1: iat is an integer from 0 to 253402300799, read at step 5 because the "
            "key must be valid at it.",
            "request",
            forge(hdr(SH_KEY), request_dict(iat=-1, exp=59), SH_KEY.sign),
            "malformed_message",
        )
    )
    add(
        case(
            "request-iat-as-string",
            "iat is a string of digits, not an integer (step 5).",
            "request",
            forge(hdr(SH_KEY), request_dict(iat=str(NOW)), SH_KEY.sign),
            "malformed_message",
        )
    )
    big_int = canonical(request_dict()).replace(
        b'"body":{', b'"body":{"n":' + str(2**53).encode() + b",", 1
    )
    add(
        case(
            "request-integer-out-of-range",
            "An integer of 2^53 in the body: outside the I-JSON range (§2.2).",
            "request",
            forge(hdr(SH_KEY), big_int, SH_KEY.sign),
            "malformed_message",
        )
    )
    deep_ok = dict(request_dict(jti="vector-request-deep32"))
    deep_ok["body"] = {**deep_ok["body"], "deep": nested(31)}
    add(
        case(
            "request-body-depth-32",
            "body is level 1 and the innermost object inside it is at level 32: the limit, "
            "accepted.",
            "request",
            forge(hdr(SH_KEY), deep_ok, SH_KEY.sign),
            "ok",
        )
    )
    deep_bad = dict(request_dict(jti="vector-request-deep33"))
    deep_bad["body"] = {**deep_bad["body"], "deep": nested(32)}
    add(
        case(
            "request-body-depth-33",
            "One level more than request-body-depth-32: an object at level 33 (step 10).",
            "request",
            forge(hdr(SH_KEY), deep_bad, SH_KEY.sign),
            "malformed_message",
        )
    )
    add(
        case(
            "request-kid-with-dot",
            "A kid with a '.': a kid is 1 to 64 base64url characters (§2.1, step 4).",
            "request",
            forge(
                hdr(SH_KEY, kid=SH_KEY.kid[:20] + "." + SH_KEY.kid[21:]),
                request_dict(),
                SH_KEY.sign,
            ),
            "malformed_message",
        )
    )
    add(
        case(
            "request-kid-too-long",
            "A kid of 65 base64url characters (§2.1, step 4).",
            "request",
            forge(hdr(SH_KEY, kid="A" * 65), request_dict(), SH_KEY.sign),
            "malformed_message",
        )
    )
    add(
        case(
            "request-iss-region-not-a-province",
            "iss in region 390000, which is not a province-level code of §1 (step 5).",
            "request",
            forge(hdr(SH_KEY), request_dict(iss="390000/shzwfw"), SH_KEY.sign),
            "malformed_message",
        )
    )
    add(
        case(
            "request-iss-city-region",
            "iss in region 320100 (Nanjing): a division code, but not province-level (step 5).",
            "request",
            forge(hdr(SH_KEY), request_dict(iss="320100/gongan"), SH_KEY.sign),
            "malformed_message",
        )
    )
    add(
        case(
            "request-iss-slug-ends-with-hyphen",
            "A department slug ending with '-' (§1, step 5).",
            "request",
            forge(hdr(SH_KEY), request_dict(iss="310000/shzwfw-"), SH_KEY.sign),
            "malformed_message",
        )
    )

    # responses: the requester (Shanghai) verifies the answer to `valid`
    add(
        case(
            "response-valid",
            "The signed answer bound to the exact request bytes.",
            "response",
            first_response,
            "ok",
            request=valid.decode(),
        )
    )
    add(
        case(
            "response-trailing-newline",
            "The valid response followed by one newline.",
            "response",
            first_response.decode() + "\n",
            "malformed_message",
            request=valid.decode(),
        )
    )
    problem_body = {
        "code": "not_authorized",
        "title": "Scenario does not allow this",
        "status": 403,
    }
    problem = new_response(
        _as_verified(valid, claims),
        status="problem",
        body=problem_body,
        now=NOW,
        jti="vector-response-0002",
    )
    add(
        case(
            "response-problem-valid",
            "A signed problem answering the request.",
            "response",
            sign_response(problem, JS_KEY),
            "ok",
            request=valid.decode(),
        )
    )
    other_request = sign_request(request_claims(jti="vector-request-0002"), SH_KEY)
    add(
        case(
            "response-bound-to-another-request",
            "A valid response, but to another request than the one sent.",
            "response",
            first_response,
            "binding_mismatch",
            request=other_request.decode(),
        )
    )
    wrong_rid = response_for(valid, claims).to_wire() | {"rid": "vector-request-9999"}
    add(
        case(
            "response-wrong-request-id",
            "req matches the request bytes, rid does not.",
            "response",
            forge(hdr(JS_KEY, RESPONSE_TYP), wrong_rid, JS_KEY.sign),
            "binding_mismatch",
            request=valid.decode(),
        )
    )
    from_zj = response_for(valid, claims).to_wire() | {"iss": ZHEJIANG}
    add(
        case(
            "response-wrong-issuer",
            "Signed by Zhejiang (a trusted member), but the request went to Jiangsu.",
            "response",
            forge(hdr(ZJ_KEY, RESPONSE_TYP), from_zj, ZJ_KEY.sign),
            "wrong_issuer",
            request=valid.decode(),
        )
    )
    add(
        case(
            "response-expired",
            "The response's exp + skew is past.",
            "response",
            first_response,
            "expired",
            now=NOW + 120,
            request=valid.decode(),
        )
    )
    add(
        case(
            "response-request-typ",
            "The request itself sent back as if it were the response.",
            "response",
            valid,
            "wrong_type",
            request=valid.decode(),
            audience=JIANGSU,
        )
    )
    garbage_problem = new_problem_response(
        b"not a jws",
        issuer=JIANGSU,
        now=NOW,
        jti="vector-response-0003",
        body={"code": "malformed_message", "title": "Not a compact JWS", "status": 400},
    )
    add(
        case(
            "response-problem-to-garbage",
            "A problem answering bytes that were not a request is addressed to its own "
            "issuer and verifies only as a document of that issuer, not as a response to a "
            "request of ours.",
            "response",
            sign_response(garbage_problem, JS_KEY),
            "wrong_audience",
            request=valid.decode(),
        )
    )

    base = response_for(valid, claims).to_wire()

    def problem_case(name: str, why: str, body: dict[str, Any], **changes: Any) -> None:
        wire = {**base, "sts": "problem", "body": body, **changes}
        add(
            case(
                name,
                why,
                "response",
                forge(hdr(JS_KEY, RESPONSE_TYP), wire, JS_KEY.sign),
                "malformed_message",
                request=valid.decode(),
            )
        )

    problem_case(
        "response-problem-unknown-code",
        "A problem whose code is not in the closed list of §6.",
        {"code": "quota_exhausted", "title": "Quota exhausted", "status": 503},
    )
    problem_case(
        "response-problem-status-not-its-code",
        "not_found answered with status 400: status must be the one §6 gives its code.",
        {"code": "not_found", "title": "Not found", "status": 400},
    )
    problem_case(
        "response-problem-null-member",
        "detail is null: an optional problem member is absent, never null (§4.1).",
        {"code": "not_found", "title": "Not found", "status": 404, "detail": None},
    )
    problem_case(
        "response-problem-title-too-long",
        "A title of 201 characters: 1 to 200 (§4.1).",
        {"code": "not_found", "title": "x" * 201, "status": 404},
    )
    problem_case(
        "response-problem-extra-member",
        "A problem member not in §4.1 ('instance').",
        {"code": "not_found", "title": "Not found", "status": 404, "instance": "/x"},
    )
    no_rid = {k: v for k, v in base.items() if k != "rid"}
    add(
        case(
            "response-ok-without-rid",
            "An ok response without rid: rid may be absent only in a problem (§4).",
            "response",
            forge(hdr(JS_KEY, RESPONSE_TYP), no_rid, JS_KEY.sign),
            "malformed_message",
            request=valid.decode(),
        )
    )
    problem_no_rid = {
        **no_rid,
        "sts": "problem",
        "body": {"code": "not_found", "title": "Not found", "status": 404},
    }
    add(
        case(
            "response-problem-without-rid",
            "A well-formed problem without rid (as §4.2 allows) does not bind to the request "
            "sent: step 13.",
            "response",
            forge(hdr(JS_KEY, RESPONSE_TYP), problem_no_rid, JS_KEY.sign),
            "binding_mismatch",
            request=valid.decode(),
        )
    )
    unread = new_problem_response(
        b"",
        issuer=JIANGSU,
        now=NOW,
        jti="vector-response-0004",
        body={"code": "not_found", "title": "Not found", "status": 404},
    )
    add(
        case(
            "response-problem-unread-body",
            "The answer to a POST on a path that is no endpoint: the body was not read, so req "
            "is the digest of the empty string and the problem is addressed to the node itself "
            "(§4.2); the requester cannot take it as the answer to its request (step 11).",
            "response",
            sign_response(unread, JS_KEY),
            "wrong_audience",
            request=valid.decode(),
        )
    )

    # documents: a consent exactly as protocol §5.5 defines it (payload: consent and iss)
    signed_consent = issue_consent(
        SH_KEY,
        issuer=SHANGHAI,
        holder_type="111",
        holder_code="11010519491231002X",
        scenario="kuasheng-hukou-qianyi",
        requester=SHANGHAI,
        scope=["ZZMC"],
        operations=["certificate.release"],
        now=datetime.fromtimestamp(NOW, UTC),
        lifetime=timedelta(days=1),
        consent_id="vector-consent-0001",
    )
    consent_payload = json.loads(base64.urlsafe_b64decode(signed_consent.split(b".")[1] + b"=="))
    add(
        case(
            "consent-valid",
            "A consent as §5.5 defines it: a payload of exactly 'consent' and 'iss', the "
            "consent's issuer its signer.",
            "consent",
            signed_consent,
            "ok",
            typ="deltafed-consent+jws",
        )
    )
    add(
        case(
            "consent-extra-member",
            "The payload adds 'iat' to 'consent' and 'iss': §5.5 allows exactly two members.",
            "consent",
            forge(
                hdr(SH_KEY, "deltafed-consent+jws"), {**consent_payload, "iat": NOW}, SH_KEY.sign
            ),
            "consent_invalid",
            typ="deltafed-consent+jws",
        )
    )
    add(
        case(
            "consent-issuer-not-signer",
            "The consent names Zhejiang as its issuer but Shanghai signed it.",
            "consent",
            forge(
                hdr(SH_KEY, "deltafed-consent+jws"),
                {**consent_payload, "consent": {**consent_payload["consent"], "issuer": ZHEJIANG}},
                SH_KEY.sign,
            ),
            "consent_invalid",
            typ="deltafed-consent+jws",
        )
    )
    add(
        case(
            "document-consent-valid",
            "The consent of consent-valid, verified as a signed document (§5.4, steps 1 to 9).",
            "document",
            signed_consent,
            "ok",
            typ="deltafed-consent+jws",
        )
    )
    add(
        case(
            "document-wrong-typ",
            "A consent verified as node metadata.",
            "document",
            signed_consent,
            "wrong_type",
            typ="deltafed-metadata+jws",
        )
    )
    metadata = sign_document(
        {"iss": JIANGSU, "iat": NOW, "exp": NOW + 300, "protocol_versions": ["1"]},
        typ="deltafed-metadata+jws",
        signer=JS_KEY,
    )
    add(
        case(
            "document-expired",
            "Node metadata past its exp + skew (a document with iat and exp, §5.4).",
            "document",
            metadata,
            "expired",
            typ="deltafed-metadata+jws",
            now=NOW + 300 + 60,
        )
    )
    cases.extend(matching_cases())
    cases.extend(event_cases())
    return cases


def matching_cases() -> list[dict[str, Any]]:
    """``match.ask`` (protocol section 12): a question and its minimal answers."""
    company = "91331000YY0330019Y"
    claims = request_claims(
        audience=ZHEJIANG,
        operation="match.ask",
        target="company-insures-50-employees",
        scenario="yrd-social-insurance-match",
        body={
            "predicate": "company-insures-50-employees",
            "subject_type": "001",
            "subject_code": company,
            "use_cause": "企业社保补贴资格核验 (test vector)",
        },
        jti="vector-match-0001",
    )
    question = sign_request(claims, SH_KEY)
    answer = response_for(
        question, claims, body={"predicate": "company-insures-50-employees", "result": False}
    )
    count_claims = request_claims(
        audience=ZHEJIANG,
        operation="match.ask",
        target="residents-registered-in-division",
        scenario="yrd-registered-residents-count",
        body={
            "aggregate": "residents-registered-in-division",
            "place": "330106",
            "use_cause": "群租排查 (test vector)",
        },
        jti="vector-match-0002",
    )
    count = sign_request(count_claims, SH_KEY)
    fewer = response_for(
        count,
        count_claims,
        body={"aggregate": "residents-registered-in-division", "place": "330106", "fewer_than": 5},
    )
    return [
        case(
            "request-match-predicate",
            "A match.ask question citing a predicate by id about one company (section 12.2).",
            "request",
            question,
            "ok",
            audience=ZHEJIANG,
        ),
        case(
            "response-match-predicate",
            "The answer carries only the predicate and its boolean (section 12.3).",
            "response",
            sign_response(answer, ZJ_KEY),
            "ok",
            request=question.decode(),
        ),
        case(
            "request-match-count",
            "A match.ask question citing an aggregate by id about a place (section 12.2).",
            "request",
            count,
            "ok",
            audience=ZHEJIANG,
        ),
        case(
            "response-match-fewer-than-k",
            "A count below the minimum group size is answered only as fewer_than K (12.3).",
            "response",
            sign_response(fewer, ZJ_KEY),
            "ok",
            request=count.decode(),
        ),
    ]


def write(directory: Path = HERE) -> None:
    cases_dir = directory / "cases"
    cases_dir.mkdir(exist_ok=True)
    (directory / "keys.json").write_text(dump(keys_document()), encoding="utf-8")
    names = set()
    for item in build_cases():
        names.add(f"{item['name']}.json")
        (cases_dir / f"{item['name']}.json").write_text(dump(item), encoding="utf-8")
    for stale in cases_dir.glob("*.json"):
        if stale.name not in names:
            stale.unlink()


def dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def event_cases() -> list[dict[str, Any]]:
    """Subscriptions and change events (protocol section 13)."""
    resident = "11010519491231002X"
    type_code = "11100000000013338W032"
    subscribe = request_claims(
        operation="subscription.create",
        target=type_code,
        scenario="yrd-identity-card-changes",
        body={
            "subject_type": "111",
            "subject_code": resident,
            "kinds": ["certificate.renewed", "certificate.revoked"],
            "expires_at": "2026-07-14T08:00:00Z",
            "use_cause": "居住证主动续办 (test vector)",
        },
        jti="vector-subscribe-0001",
    )
    event_id = "evt-vector-000000000001"
    deliver = request_claims(
        issuer=JIANGSU,
        audience=SHANGHAI,
        operation="event.deliver",
        target=event_id,
        scenario="yrd-identity-card-changes",
        body={
            "event_id": event_id,
            "subscription": "sub-vector-000000000001",
            "kind": "certificate.renewed",
            "subject_type": "111",
            "subject_code": resident,
            "target": type_code,
            "certificate_id": CERT,
            "occurred_at": "2026-01-15T07:59:00Z",
            "seq": 1,
        },
        jti="vector-event-00000001",
    )
    delivered = sign_request(deliver, JS_KEY)
    ack = response_for(delivered, deliver, body={"event_id": event_id, "duplicate": True})
    return [
        case(
            "request-subscription-create",
            "A subscription to a resident's identity card changes (section 13.1).",
            "request",
            sign_request(subscribe, SH_KEY),
            "ok",
        ),
        case(
            "request-event-deliver",
            "A change event, signed by the provider and addressed to the subscriber (13.2).",
            "request",
            delivered,
            "ok",
            audience=SHANGHAI,
        ),
        case(
            "response-event-duplicate",
            "The subscriber's answer to a redelivered event: ok, duplicate (section 13.2).",
            "response",
            sign_response(ack, SH_KEY),
            "ok",
            audience=JIANGSU,
            request=delivered.decode(),
        ),
    ]


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
