"""The checks, as tables: one stable id, one requirement, one way to test it.

Every check tests one requirement and leaves the others to their own checks: answers are read
only as "signed by the node" (see :mod:`deltafed_conformance._session`), so a node that
breaks, say, response binding fails the binding check and nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from deltafed._canonical import canonicalize, encode_checked
from deltafed._errors import DeltafedError
from deltafed._profile import GM, INTERNATIONAL
from deltafed.keys import PrivateKey, b64url_decode, b64url_encode
from deltafed.node import METADATA_TYP
from deltafed.policy import CONSENT_TYP
from deltafed.protocol import (
    METADATA_MEDIA_TYPE,
    METADATA_PATH,
    OPERATION_PATHS,
    RESPONSE_TYP,
    ProtocolVerifier,
    new_jti,
)
from deltafed.schemas import PROBLEM_CODES
from deltafed.schemas.common import CertificateStatus
from deltafed.schemas.messages import RecordResponse, ReleaseResult, VerificationResult
from deltafed.schemas.problem import Problem
from deltafed_conformance._adapter_checks import ADAPTER_CHECKS
from deltafed_conformance._concern_checks import CONCERN_CHECKS
from deltafed_conformance._event_checks import EVENT_CHECKS
from deltafed_conformance._golden import golden_check
from deltafed_conformance._match_checks import MATCH_CHECKS
from deltafed_conformance._model import Check, CheckFailed, CheckSkipped
from deltafed_conformance._platform import FAULTS, Platform
from deltafed_conformance._profile import Subject
from deltafed_conformance._session import Reply, Session, craft

__all__ = ["ALL_CHECKS", "select_checks"]

_HEALTH: Final = "/deltafed/v1/health"
_OPENAPI: Final = "/deltafed/v1/openapi.json"
_SKEW: Final = 60
_MAX_LIFETIME: Final = 300

Run = Callable[[Session], Awaitable[None]]


def _fail(condition: bool, reason: str) -> None:
    if condition:
        raise CheckFailed(reason)


# --- request bodies from the profile ---------------------------------------------------------


def _verify_claims(session: Session, *, by_id: bool = False, **over: Any) -> dict[str, Any]:
    subject: Subject = session.need(session.profile.verify, "[verify] subject")
    type_code = session.need(subject.type_code, "verify.type_code")
    if by_id:
        cid = session.need(subject.certificate_id, "verify.certificate_id")
        body: dict[str, Any] = {"certificate_id": cid, "use_cause": "deltafed conformance"}
        target = cid
    else:
        body = {
            "holder_code": subject.holder_code,
            "holder_type": subject.holder_type,
            "type_code": type_code,
            "use_cause": "deltafed conformance",
        }
        target = type_code
    args: dict[str, Any] = {
        "op": "certificate.verify",
        "tgt": target,
        "scn": subject.scenario,
        "body": body,
    }
    args.update(over)
    return session.claims(**args)


def _release_claims(
    session: Session, *, consent: bytes | None, fields: tuple[str, ...] | None = None
) -> dict[str, Any]:
    subject: Subject = session.need(session.profile.release, "[release] subject")
    type_code = session.need(subject.type_code, "release.type_code")
    return session.claims(
        op="certificate.release",
        tgt=type_code,
        scn=subject.scenario,
        body={
            "holder_code": subject.holder_code,
            "holder_type": subject.holder_type,
            "type_code": type_code,
            "fields": list(fields or subject.fields),
            "use_cause": "deltafed conformance",
        },
        cns=consent,
    )


def _record_claims(
    session: Session,
    subject: Subject,
    *,
    consent: bytes | None = None,
    fields: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    record_type = session.need(subject.record_type, "record_type of a record subject")
    return session.claims(
        op="record.request",
        tgt=record_type,
        scn=subject.scenario,
        body={
            "record_type": record_type,
            "subject_type": subject.holder_type,
            "subject_code": subject.holder_code,
            "fields": list(fields or subject.fields),
            "use_cause": "deltafed conformance",
        },
        cns=consent,
    )


def _record(session: Session) -> Subject:
    subject: Subject = session.need(session.profile.record, "[record] subject")
    return subject


def _consent_record(session: Session) -> Subject:
    subject: Subject = session.need(session.profile.consent_record, "[consent_record] subject")
    return subject


# --- discovery -------------------------------------------------------------------------------


async def _metadata_document(session: Session) -> tuple[Reply, dict[str, Any]]:
    reply = await session.request("GET", METADATA_PATH, response=False)
    _fail(reply.status != 200, f"GET metadata answered HTTP {reply.status}")
    verifier = ProtocolVerifier(session.registry, session.tester, clock=session.clock, replay=None)
    try:
        document = verifier.verify_document(reply.raw, typ=METADATA_TYP)
    except DeltafedError as exc:
        raise CheckFailed(f"the metadata does not verify: {exc.code}: {exc.message}") from exc
    return reply, document.payload


async def disc_metadata_signed(session: Session) -> None:
    reply, payload = await _metadata_document(session)
    _fail(
        reply.content_type != METADATA_MEDIA_TYPE,
        f"metadata Content-Type is {reply.content_type!r}, not {METADATA_MEDIA_TYPE}",
    )
    _fail(payload.get("iss") != session.node, f"metadata iss is {payload.get('iss')!r}")


async def disc_metadata_content(session: Session) -> None:
    try:
        _, payload = await _metadata_document(session)
    except CheckFailed as exc:
        raise CheckSkipped(f"no verified metadata to read ({exc.reason}); see DF-DISC-001") from exc
    for name in ("iat", "exp"):
        _fail(type(payload.get(name)) is not int, f"metadata {name} is not an integer")
    keys = payload.get("keys")
    _fail(not isinstance(keys, list) or not keys, "metadata keys is not a non-empty list")
    if not isinstance(keys, list):
        raise CheckFailed("metadata keys is not a list")
    for jwk in keys:
        _fail(not isinstance(jwk, dict), "a metadata key is not a JWK object")
        _fail(
            not all(isinstance(jwk.get(m), str) for m in ("kid", "alg")) or jwk.get("use") != "sig",
            f"metadata key {jwk.get('kid')!r} lacks kid, alg or use 'sig'",
        )
        try:
            session.registry.resolve(session.node, str(jwk["kid"]), session.clock())
        except DeltafedError as exc:
            raise CheckFailed(
                f"metadata lists key {jwk['kid']} the registry does not trust: {exc.code}"
            ) from exc
    endpoints = payload.get("endpoints")
    _fail(not isinstance(endpoints, dict), "metadata endpoints is not an object")
    offers = payload.get("offers")
    _fail(not isinstance(offers, dict), "metadata offers is not an object")
    if not isinstance(offers, dict):
        raise CheckFailed("metadata offers is not a dict")
    operations = offers.get("operations")
    _fail(
        not isinstance(operations, list) or not set(operations) <= set(OPERATION_PATHS),
        f"metadata offers.operations is not a list of operations: {operations!r}",
    )
    versions = payload.get("protocol_versions")
    _fail(
        not isinstance(versions, list) or "1" not in versions,
        f"protocol_versions must list '1': {versions!r}",
    )


async def disc_health(session: Session) -> None:
    response = await session.http.get(_HEALTH)
    _fail(response.status_code != 200, f"health answered HTTP {response.status_code}")
    kind = response.headers.get("content-type", "").split(";")[0].strip()
    _fail(kind != "application/json", f"health Content-Type is {kind!r}")
    try:
        body = response.json()
    except ValueError as exc:
        raise CheckFailed("health is not JSON") from exc
    # "degraded": the node runs on a registry in its grace period, as §7.3 allows.
    _fail(
        not isinstance(body, dict) or body.get("status") not in ("ok", "degraded"),
        f"health says {body!r:.200}",
    )


async def disc_openapi(session: Session) -> None:
    response = await session.http.get(_OPENAPI)
    _fail(response.status_code != 200, f"openapi.json answered HTTP {response.status_code}")
    try:
        document = response.json()
    except ValueError as exc:
        raise CheckFailed("openapi.json is not JSON") from exc
    _fail(
        not isinstance(document, dict) or not isinstance(document.get("openapi"), str),
        "openapi.json has no 'openapi' version",
    )
    paths = document.get("paths")
    missing = [p for p in OPERATION_PATHS.values() if not isinstance(paths, dict) or p not in paths]
    _fail(bool(missing), f"openapi.json does not describe {missing}")


# --- exchanges and schema validity -----------------------------------------------------------


def _schema(model: Any, body: dict[str, Any]) -> Any:
    try:
        return model.parse(body)
    except DeltafedError as exc:
        raise CheckFailed(
            f"the result does not match {model.__name__}: {exc.message} (field {exc.field})"
        ) from exc


async def exc_verify_by_holder(session: Session) -> None:
    claims = _verify_claims(session)
    body = (await session.send(claims)).expect_ok()
    result = _schema(VerificationResult, body)
    asked = claims["body"]["type_code"]
    _fail(result.type_code != asked, f"asked about type {asked}, answered {result.type_code}")


async def exc_verify_by_id(session: Session) -> None:
    claims = _verify_claims(session, by_id=True)
    body = (await session.send(claims)).expect_ok()
    result = _schema(VerificationResult, body)
    asked = claims["body"]["certificate_id"]
    _fail(result.certificate_id != asked, f"asked about {asked}, answered {result.certificate_id}")


async def exc_release(session: Session) -> None:
    subject: Subject = session.need(session.profile.release, "[release] subject")
    consent = session.consent(subject, operation="certificate.release")
    claims = _release_claims(session, consent=consent)
    body = (await session.send(claims)).expect_ok()
    result = _schema(ReleaseResult, body)
    asked = set(claims["body"]["fields"])
    _fail(set(result.fields) != asked, f"asked for {sorted(asked)}, got {sorted(result.fields)}")


async def _record_exchange(session: Session, subject: Subject, consent: bytes | None) -> None:
    claims = _record_claims(session, subject, consent=consent)
    body = (await session.send(claims)).expect_ok()
    result = _schema(RecordResponse, body)
    _fail(result.record_type != subject.record_type, f"answered record {result.record_type}")
    asked = set(claims["body"]["fields"])
    _fail(set(result.fields) != asked, f"asked for {sorted(asked)}, got {sorted(result.fields)}")


async def exc_record_open(session: Session) -> None:
    await _record_exchange(session, _record(session), None)


async def exc_record_consent(session: Session) -> None:
    subject = _consent_record(session)
    await _record_exchange(session, subject, session.consent(subject, operation="record.request"))


async def exc_not_found(session: Session) -> None:
    absent = session.need(session.profile.absent_holder_code, "[absent] holder_code")
    claims = _verify_claims(session)
    claims["body"]["holder_code"] = absent
    (await session.send(claims)).expect_problem("not_found", 404)


# --- what a verification says ---------------------------------------------------------------


def _platform(session: Session) -> Platform:
    if session.platform is None:
        raise CheckSkipped("runs only in process, against an adapter and its platform")
    return session.platform


async def _verify_by_id(session: Session, subject: Subject) -> VerificationResult:
    cid = session.need(subject.certificate_id, "certificate_id of the subject")
    claims = session.claims(
        op="certificate.verify",
        tgt=cid,
        scn=subject.scenario,
        body={"certificate_id": cid, "use_cause": "deltafed conformance"},
    )
    result: VerificationResult = _schema(
        VerificationResult, (await session.send(claims)).expect_ok()
    )
    _fail(result.certificate_id != cid, f"asked about {cid}, answered {result.certificate_id}")
    return result


async def exc_revoked(session: Session) -> None:
    subject: Subject = session.need(session.profile.revoked, "[revoked] subject")
    result = await _verify_by_id(session, subject)
    _fail(result.valid, "a revoked certificate is answered valid")
    _fail(
        result.status is not CertificateStatus.REVOKED,
        f"a revoked certificate is answered with status {result.status.value}, not 03",
    )


async def exc_revoked_in_session(session: Session) -> None:
    platform = _platform(session)
    spare = platform.spare
    if spare is None:
        raise CheckSkipped("the adapter offers no way to revoke a certificate (sandbox.revoke)")
    before = await _verify_by_id(session, spare)
    _fail(not before.valid, f"a valid certificate is answered not valid ({before.status.value})")
    platform.revoke(str(spare.certificate_id))
    after = await _verify_by_id(session, spare)
    _fail(
        after.valid or after.status is not CertificateStatus.REVOKED,
        f"revoked during the session, the certificate is still answered valid={after.valid}, "
        f"status {after.status.value}: a stale answer",
    )


async def exc_summary(session: Session) -> None:
    subject: Subject = session.need(session.profile.verify, "[verify] subject")
    claims = _verify_claims(session)
    result = _schema(VerificationResult, (await session.send(claims)).expect_ok())
    try:
        scenario = session.registry.scenario(subject.scenario)
    except DeltafedError as exc:
        raise CheckSkipped(f"the registry does not list {subject.scenario}: {exc.code}") from exc
    allowed = {"name", *scenario.allowed_fields}
    beyond = sorted(set(result.summary) - allowed)
    _fail(
        bool(beyond),
        f"the summary carries {beyond}: only the certificate's name and the scenario's fields "
        f"{sorted(scenario.allowed_fields)} may be there",
    )
    holder = {subject.holder_code}
    if session.platform is not None:
        # In process the suite can ask the platform who the holder is.
        meta = await session.platform.adapter.find_certificate(certificate_id=result.certificate_id)
        holder |= {meta.holder_code, meta.holder_name, meta.number}
    named = sorted(k for k, v in result.summary.items() if any(h and h in v for h in holder))
    _fail(bool(named), f"the summary names the holder (their name or number) in {named}")


async def exc_use_cause(session: Session) -> None:
    platform = _platform(session)
    before = platform.use_causes()
    if before is None:
        raise CheckSkipped("the platform does not record use causes (sandbox.use_causes)")
    cause = f"deltafed conformance {new_jti()[:12]}"
    claims = _record_claims(session, _record(session))
    claims["body"]["use_cause"] = cause
    (await session.send(claims)).expect_ok()
    arrived = (platform.use_causes() or [])[len(before) :]
    _fail(not arrived, "the platform was not asked")
    _fail(
        any(c != cause for c in arrived),
        f"the request's use cause {cause!r} reached the platform as {arrived}",
    )


# --- signatures, binding, addressing ---------------------------------------------------------


async def _signed_answer(session: Session) -> tuple[dict[str, Any], Reply]:
    claims = session.probe()
    reply = await session.send(claims)
    if reply.claims is None:
        raise CheckFailed(
            f"the answer to a valid request is not signed by the node: {reply.describe()}"
        )
    return claims, reply


async def sig_signed(session: Session) -> None:
    _, reply = await _signed_answer(session)
    _fail(
        reply.content_type != "application/deltafed-response+jws",
        f"answer Content-Type is {reply.content_type!r}",
    )


async def _answer_or_skip(session: Session) -> tuple[dict[str, Any], Reply]:
    try:
        return await _signed_answer(session)
    except CheckFailed as exc:
        raise CheckSkipped(f"{exc.reason}; see DF-SIG-001") from exc


async def sig_binding(session: Session) -> None:
    claims, reply = await _answer_or_skip(session)
    if reply.claims is None:
        raise CheckFailed(f"not a signed response: {reply.describe()}")
    expected = session.registry.profile.digest_text(reply.request)
    _fail(reply.claims.req != expected, f"req is {reply.claims.req}, the request's is {expected}")
    _fail(reply.claims.rid != claims["jti"], f"rid is {reply.claims.rid}, not {claims['jti']}")


async def gm_profile(session: Session) -> None:
    profile = session.registry.profile
    _, reply = await _answer_or_skip(session)
    if reply.claims is None:
        raise CheckFailed(f"not a signed response: {reply.describe()}")
    header = json.loads(b64url_decode(reply.raw.split(b".", 1)[0].decode("ascii")))
    _fail(
        header.get("alg") not in profile.algorithms,
        f"the answer is signed with {header.get('alg')!r}; the federation's {profile.name} "
        f"profile signs with {', '.join(profile.algorithms)}",
    )
    _fail(
        not reply.claims.req.startswith(f"{profile.digest_name}:"),
        f"req {reply.claims.req[:12]}... is not a {profile.digest_name} digest",
    )


async def sig_addressing(session: Session) -> None:
    _, reply = await _answer_or_skip(session)
    if reply.claims is None:
        raise CheckFailed(f"not a signed response: {reply.describe()}")
    _fail(str(reply.claims.aud) != session.tester, f"the answer is addressed to {reply.claims.aud}")


async def sig_window(session: Session) -> None:
    _, reply = await _answer_or_skip(session)
    if reply.claims is None:
        raise CheckFailed(f"not a signed response: {reply.describe()}")
    now, iat, exp = session.now(), reply.claims.iat, reply.claims.exp
    _fail(exp - iat > _MAX_LIFETIME, f"the answer lives {exp - iat}s, more than 300s")
    _fail(iat > now + _SKEW, f"the answer is issued {iat - now}s in the future")
    _fail(now >= exp + _SKEW, f"the answer expired {now - exp}s ago")


async def sig_unverified_problem(session: Session) -> None:
    # Bytes that fail verification at the key step: decodable, with a claimed iss and jti.
    claims = session.probe()
    bad = session.sign(claims, PrivateKey.generate(session.registry.profile.algorithms[0]))
    reply = await session.post(bad)
    if reply.claims is None:
        raise CheckSkipped("the refusal is not a signed response; see DF-ERR-001")
    if reply.claims.sts == "ok":
        raise CheckSkipped("the node accepted a message under an unknown key; see DF-NEG-009")
    digest = session.registry.profile.digest_text
    _fail(reply.claims.req != digest(bad), "req is not the digest of the bytes received")
    _fail(str(reply.claims.aud) != session.tester, "aud is not the claimed issuer")
    _fail(reply.claims.rid != claims["jti"], "rid is not the claimed jti")
    garbage = b"not-a-message"
    reply = await session.post(garbage)
    if reply.claims is None:
        raise CheckSkipped("garbage is not answered with a signed problem; see DF-ERR-001")
    _fail(str(reply.claims.aud) != session.node, "a problem to garbage must be self-addressed")
    _fail(reply.claims.rid is not None, "a problem to garbage has no rid")
    _fail(reply.claims.req != digest(garbage), "req is not the digest of the garbage")


# --- negative cases: one table ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Negative:
    """A request that must be refused with ``code`` and HTTP ``status``."""

    id: str
    title: str
    section: str
    code: str
    status: int
    build: Callable[[Session], Awaitable[tuple[bytes, dict[str, str]]]]


async def _tampered_payload(s: Session) -> tuple[bytes, dict[str, str]]:
    claims = s.probe()
    head, _, signature = s.sign(claims).split(b".")
    claims["body"] = {**claims["body"], "use_cause": "changed after signing"}
    return head + b"." + b64url_encode(canonicalize(claims)).encode() + b"." + signature, {}


async def _tampered_signature(s: Session) -> tuple[bytes, dict[str, str]]:
    head, payload, signature = s.sign(s.probe()).split(b".")
    spoiled = bytearray(b64url_decode(signature.decode()))
    spoiled[-1] ^= 0x80
    return head + b"." + payload + b"." + b64url_encode(bytes(spoiled)).encode(), {}


async def _empty_signature(s: Session) -> tuple[bytes, dict[str, str]]:
    return craft(s.probe(), s.tester_key, signature=b""), {}


async def _replay(s: Session) -> tuple[bytes, dict[str, str]]:
    first = s.probe()
    await s.send(first)
    second = dict(first)
    second["body"] = {**first["body"], "use_cause": "the same jti, other bytes"}
    return s.sign(second), {}


async def _expired(s: Session) -> tuple[bytes, dict[str, str]]:
    return s.sign(s.probe(iat=s.now() - 600, lifetime=60)), {}


async def _future(s: Session) -> tuple[bytes, dict[str, str]]:
    return s.sign(s.probe(iat=s.now() + 600, lifetime=60)), {}


async def _lifetime(s: Session) -> tuple[bytes, dict[str, str]]:
    return s.sign(s.probe(lifetime=3600)), {}


async def _wrong_audience(s: Session) -> tuple[bytes, dict[str, str]]:
    return s.sign(s.probe(aud=s.tester)), {}


async def _unknown_key(s: Session) -> tuple[bytes, dict[str, str]]:
    return s.sign(s.probe(), PrivateKey.generate(s.registry.profile.algorithms[0])), {}


async def _unknown_member(s: Session) -> tuple[bytes, dict[str, str]]:
    stranger = PrivateKey.generate(s.registry.profile.algorithms[0])
    region = s.tester.split("/", 1)[0]
    return s.sign(s.probe(iss=f"{region}/conformance-stranger"), stranger), {}


async def _compromised(s: Session) -> tuple[bytes, dict[str, str]]:
    key = s.need(s.compromised_key, "compromised tester key ([keys] compromised_key)")
    return s.sign(s.probe(), key), {}


async def _alg_none(s: Session) -> tuple[bytes, dict[str, str]]:
    return craft(s.probe(), s.tester_key, alg="none", signature=b""), {}


async def _alg_hs256(s: Session) -> tuple[bytes, dict[str, str]]:
    # The classic confusion: HMAC keyed with the public key the verifier holds.
    secret = json.dumps(s.tester_key.public_jwk(), sort_keys=True).encode()
    claims = s.probe()
    header = {"alg": "HS256", "kid": s.tester_key.kid, "typ": "deltafed-request+jws"}
    signing_input = (
        b64url_encode(canonicalize(header)).encode()
        + b"."
        + b64url_encode(canonicalize(claims)).encode()
    )
    mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return signing_input + b"." + b64url_encode(mac).encode(), {}


async def _alg_not_key(s: Session) -> tuple[bytes, dict[str, str]]:
    others = [a for a in s.registry.profile.algorithms if a != s.tester_key.alg]
    if not others:
        raise CheckSkipped(
            f"the {s.registry.profile.name} crypto profile has one algorithm; an algorithm of "
            "another profile is DF-GM-001"
        )
    return craft(s.probe(), s.tester_key, alg=others[0]), {}


async def _alg_sm2_alias(s: Session) -> tuple[bytes, dict[str, str]]:
    # "SM2" is what some SM2 JOSE implementations write; the protocol's name is SM2SM3 only.
    return craft(s.probe(), s.tester_key, alg="SM2"), {}


async def _alg_other_profile(s: Session) -> tuple[bytes, dict[str, str]]:
    # Signed by the tester's registered key, under a header naming an algorithm of the other
    # crypto profile: refused on the algorithm, before any key is looked up.
    other = INTERNATIONAL if s.registry.profile is GM else GM
    return craft(s.probe(), s.tester_key, alg=other.algorithms[0]), {}


async def _wrong_typ(s: Session) -> tuple[bytes, dict[str, str]]:
    return craft(s.probe(), s.tester_key, typ=RESPONSE_TYP), {}


async def _extra_header(s: Session) -> tuple[bytes, dict[str, str]]:
    return craft(s.probe(), s.tester_key, extra_header={"jwk": s.tester_key.public_jwk()}), {}


async def _not_canonical(s: Session) -> tuple[bytes, dict[str, str]]:
    claims = s.probe()
    pretty = json.dumps(claims, indent=1, sort_keys=True, ensure_ascii=False).encode()
    return craft(claims, s.tester_key, payload_bytes=pretty), {}


async def _float(s: Session) -> tuple[bytes, dict[str, str]]:
    claims = s.probe()
    claims["body"] = {**claims["body"], "n": 15}
    canonical = canonicalize(claims).replace(b'"n":15', b'"n":1.5')
    return craft(claims, s.tester_key, payload_bytes=canonical), {}


async def _missing_claim(s: Session) -> tuple[bytes, dict[str, str]]:
    claims = s.probe()
    del claims["scn"]
    return s.sign(claims), {}


async def _extra_claim(s: Session) -> tuple[bytes, dict[str, str]]:
    return s.sign({**s.probe(), "nbf": s.now()}), {}


async def _oversized(s: Session) -> tuple[bytes, dict[str, str]]:
    claims = s.probe()
    claims["body"] = {**claims["body"], "padding": "x" * s.max_bytes}
    return s.sign(claims), {}


async def _op_not_path(s: Session) -> tuple[bytes, dict[str, str]]:
    return s.sign(s.probe()), {"path": OPERATION_PATHS["record.request"]}


async def _media_type(s: Session) -> tuple[bytes, dict[str, str]]:
    return s.sign(s.probe()), {"content_type": "application/json"}


async def _alg_outside(s: Session) -> tuple[bytes, dict[str, str]]:
    # A real JOSE algorithm, but not in the protocol's allow-list.
    return craft(s.probe(), s.tester_key, alg="ES384"), {}


async def _duplicate_header(s: Session) -> tuple[bytes, dict[str, str]]:
    key = s.tester_key
    header = (
        f'{{"alg":"{key.alg}","kid":"{key.kid}","typ":"deltafed-request+jws",'
        f'"typ":"deltafed-request+jws"}}'
    ).encode()
    signing_input = (
        b64url_encode(header).encode() + b"." + b64url_encode(canonicalize(s.probe())).encode()
    )
    return signing_input + b"." + b64url_encode(key.sign(signing_input)).encode(), {}


_B64URL: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


async def _twin_spelling(s: Session) -> tuple[bytes, dict[str, str]]:
    # The last character of a 64-byte signature carries 4 padding bits: setting one gives a
    # second spelling of the same bytes.
    head, payload, signature = s.sign(s.probe()).split(b".")
    text = signature.decode()
    if len(text) % 4 == 0:
        raise CheckSkipped("the tester's signature segment has no padding bits to set")
    last = _B64URL[_B64URL.index(text[-1]) ^ 1]
    return head + b"." + payload + b"." + (text[:-1] + last).encode(), {}


async def _integer_range(s: Session) -> tuple[bytes, dict[str, str]]:
    claims = s.probe()
    claims["body"] = {**claims["body"], "n": 15}
    canonical = canonicalize(claims).replace(b'"n":15', b'"n":' + str(2**53).encode())
    return craft(claims, s.tester_key, payload_bytes=canonical), {}


async def _malformed_issuer(s: Session) -> tuple[bytes, dict[str, str]]:
    return s.sign(s.probe(iss="Not A Member Id")), {}


async def _target_not_body(s: Session) -> tuple[bytes, dict[str, str]]:
    # A request the node would answer, but for its tgt naming something else than the body.
    return s.sign(_verify_claims(s, tgt="deltafed-conformance-other-target")), {}


async def _kid_with_newline(s: Session) -> tuple[bytes, dict[str, str]]:
    # Signed correctly over a header whose kid is the tester's key id plus a newline: the
    # kid is ill-formed (step 4), not a key to look up (unknown_key).
    return craft(s.probe(), s.tester_key, kid=s.tester_key.kid + "\n"), {}


async def _city_region(s: Session) -> tuple[bytes, dict[str, str]]:
    # 320100 is a division code (Nanjing) but not a province-level region (§1).
    return s.sign(s.probe(iss="320100/deltafed-conformance")), {}


async def _kid_with_dot(s: Session) -> tuple[bytes, dict[str, str]]:
    kid = s.tester_key.kid
    return craft(s.probe(), s.tester_key, kid=kid[:10] + "." + kid[11:]), {}


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


async def _too_deep(s: Session) -> tuple[bytes, dict[str, str]]:
    # body is level 1; an object at level 33 inside it is one too many (§2.2).
    claims = s.probe()
    claims["body"] = {**claims["body"], "deep": _nested(32)}
    # Encoded without the canonicaliser's own depth check, which would refuse to write it.
    return craft(claims, s.tester_key, payload_bytes=encode_checked(claims)), {}


async def _null_claim(s: Session) -> tuple[bytes, dict[str, str]]:
    return s.sign({**s.probe(), "cns": None}), {}


async def _negative_iat(s: Session) -> tuple[bytes, dict[str, str]]:
    return s.sign({**s.probe(), "iat": -1, "exp": 59}), {}


async def _junk_consent(s: Session) -> tuple[bytes, dict[str, str]]:
    # The profile's verify scenario, which the node knows (a stand-in scenario would be refused
    # as unknown first); if it needs no consent, a junk one must still be refused.
    s.need(s.profile.verify, "[verify] subject")
    return s.sign({**s.probe(), "cns": "a.b.c"}), {}


NEGATIVES: Final[tuple[Negative, ...]] = (
    Negative(
        "DF-NEG-001", "Tampered payload", "§5.1 step 8", "bad_signature", 401, _tampered_payload
    ),
    Negative(
        "DF-NEG-002", "Tampered signature", "§5.1 step 8", "bad_signature", 401, _tampered_signature
    ),
    Negative(
        "DF-NEG-003", "Empty signature", "§5.1 step 8", "bad_signature", 401, _empty_signature
    ),
    Negative("DF-NEG-004", "Replay: same jti, other bytes", "§5.3", "replay", 409, _replay),
    Negative("DF-NEG-005", "Expired request", "§5.2 step 12", "expired", 401, _expired),
    Negative("DF-NEG-006", "Future-dated request", "§5.2 step 12", "not_yet_valid", 401, _future),
    Negative(
        "DF-NEG-007", "Lifetime over 300 s", "§5.2 step 12", "lifetime_too_long", 400, _lifetime
    ),
    Negative(
        "DF-NEG-008", "Wrong audience", "§5.2 step 11", "wrong_audience", 401, _wrong_audience
    ),
    Negative("DF-NEG-009", "Unknown key", "§5.1 step 6", "unknown_key", 401, _unknown_key),
    Negative("DF-NEG-010", "Unknown member", "§5.1 step 6", "unknown_member", 403, _unknown_member),
    Negative("DF-NEG-011", "Compromised key", "§5.1 step 6", "key_compromised", 401, _compromised),
    Negative(
        "DF-NEG-012", "alg none", "§1 and §5.1 step 3", "algorithm_not_allowed", 400, _alg_none
    ),
    Negative(
        "DF-NEG-013",
        "alg HS256 keyed with the public key",
        "§1 and §5.1 step 3",
        "algorithm_not_allowed",
        400,
        _alg_hs256,
    ),
    Negative(
        "DF-NEG-014",
        "alg is not the key's algorithm",
        "§5.1 step 7",
        "algorithm_not_allowed",
        400,
        _alg_not_key,
    ),
    Negative("DF-NEG-015", "Wrong typ", "§5.1 step 9", "wrong_type", 400, _wrong_typ),
    Negative(
        "DF-NEG-016",
        "Extra protected header member",
        "§2.1 and §5.1 step 4",
        "malformed_message",
        400,
        _extra_header,
    ),
    Negative(
        "DF-NEG-017",
        "Payload not in JCS form",
        "§2.2 and §5.1 step 5",
        "malformed_message",
        400,
        _not_canonical,
    ),
    Negative(
        "DF-NEG-018",
        "Float in the payload",
        "§2.2 and §5.1 step 5",
        "malformed_message",
        400,
        _float,
    ),
    Negative(
        "DF-NEG-019",
        "Missing claim",
        "§3 and §5.1 step 10",
        "malformed_message",
        400,
        _missing_claim,
    ),
    Negative(
        "DF-NEG-020", "Extra claim", "§3 and §5.1 step 10", "malformed_message", 400, _extra_claim
    ),
    Negative(
        "DF-NEG-021", "Oversized message", "§5.1 step 1 and §7.1", "too_large", 413, _oversized
    ),
    Negative(
        "DF-NEG-022",
        "Operation does not fit the path",
        "§7.1",
        "malformed_message",
        400,
        _op_not_path,
    ),
    Negative(
        "DF-NEG-023", "Wrong request media type", "§7.1", "malformed_message", 400, _media_type
    ),
    Negative(
        "DF-NEG-024",
        "alg outside the allow-list",
        "§1 and §5.1 step 3",
        "algorithm_not_allowed",
        400,
        _alg_outside,
    ),
    Negative(
        "DF-NEG-025",
        "Repeated protected header member",
        "§2.1 and §5.1 step 2",
        "malformed_message",
        400,
        _duplicate_header,
    ),
    Negative(
        "DF-NEG-026",
        "Second base64url spelling",
        "§2 and §5.1 step 2",
        "malformed_message",
        400,
        _twin_spelling,
    ),
    Negative(
        "DF-NEG-027",
        "Integer out of the I-JSON range",
        "§2.2 and §5.1 step 5",
        "malformed_message",
        400,
        _integer_range,
    ),
    Negative(
        "DF-NEG-028",
        "Malformed issuer",
        "§1 and §5.1 step 5",
        "malformed_message",
        400,
        _malformed_issuer,
    ),
    Negative(
        "DF-NEG-051",
        "kid with a trailing newline",
        "§2 and §5.1 step 4",
        "malformed_message",
        400,
        _kid_with_newline,
    ),
    Negative(
        "DF-NEG-052",
        "Member id with a city as region",
        "§1 and §5.1 step 5",
        "malformed_message",
        400,
        _city_region,
    ),
    Negative(
        "DF-NEG-053",
        "kid with a dot",
        "§1 and §5.1 step 4",
        "malformed_message",
        400,
        _kid_with_dot,
    ),
    Negative(
        "DF-NEG-054",
        "body nested 33 levels",
        "§2.2 and §5.1 step 10",
        "malformed_message",
        400,
        _too_deep,
    ),
    Negative(
        "DF-NEG-055", "null claim", "§3 and §5.1 step 10", "malformed_message", 400, _null_claim
    ),
    Negative(
        "DF-NEG-056", "Negative iat", "§3 and §5.1 step 5", "malformed_message", 400, _negative_iat
    ),
    Negative(
        "DF-GM-001",
        "alg of another crypto profile",
        "§11 and §5.1 step 3",
        "crypto_profile_mismatch",
        400,
        _alg_other_profile,
    ),
    Negative(
        "DF-GM-003",
        "alg SM2 (an alias of SM2SM3)",
        "§11.1 and §5.1 step 3",
        "algorithm_not_allowed",
        400,
        _alg_sm2_alias,
    ),
    Negative(
        "DF-POL-050",
        "Junk consent where none is required",
        "§3 (cns) and §5.5",
        "consent_invalid",
        403,
        _junk_consent,
    ),
    Negative(
        "DF-NEG-029",
        "tgt does not name what the body asks about",
        "§3 (tgt; docs/node.md)",
        "invalid_input",
        400,
        _target_not_body,
    ),
)


def _negative_run(case: Negative) -> Run:
    async def run(session: Session) -> None:
        raw, options = await case.build(session)
        reply = await session.post(
            raw,
            path=options.get("path"),
            content_type=options.get("content_type", "application/deltafed-request+jws"),
        )
        reply.expect_problem(case.code, case.status)

    return run


# --- error format ----------------------------------------------------------------------------


async def _error_answers(session: Session) -> list[tuple[str, Reply]]:
    return [
        ("garbage body", await session.post(b"\x00 not a message")),
        ("unknown endpoint", await session.post(b"x.y.z", path="/deltafed/v1/no-such-endpoint")),
        ("GET on an operation", await session.request("GET", OPERATION_PATHS["record.request"])),
    ]


async def err_signed(session: Session) -> None:
    for what, reply in await _error_answers(session):
        _fail(reply.claims is None, f"{what}: not a signed response ({reply.unsigned_because})")
        if reply.claims is None:
            raise CheckFailed(f"not a signed response: {reply.describe()}")
        _fail(reply.claims.sts != "problem", f"{what}: answered ok")
        _fail(reply.status < 400, f"{what}: HTTP {reply.status} for a problem")


async def err_format(session: Session) -> None:
    for what, reply in await _error_answers(session):
        if reply.claims is None:
            raise CheckSkipped(f"{what}: the refusal is not signed; see DF-ERR-001")
        _fail(
            reply.content_type != "application/deltafed-response+jws",
            f"{what}: Content-Type {reply.content_type!r}",
        )
        _fail(
            "no-store" not in reply.headers.get("cache-control", ""),
            f"{what}: no Cache-Control: no-store",
        )
        body = reply.claims.body
        _fail(body.get("code") not in PROBLEM_CODES, f"{what}: code {body.get('code')!r}")
        try:
            problem = Problem.parse(body)
        except DeltafedError as exc:
            raise CheckFailed(f"{what}: not a problem object: {exc.message}") from exc
        _fail(
            problem.status != reply.status,
            f"{what}: problem status {problem.status}, HTTP {reply.status}",
        )


async def err_method(session: Session) -> None:
    reply = await session.request("GET", OPERATION_PATHS["certificate.verify"])
    reply.expect_problem("method_not_allowed", 405)
    allow = reply.headers.get("allow", "")
    _fail("POST" not in allow.upper(), f"Allow header is {allow!r}, must name POST")


#: The codes of §6 that say the platform behind the node failed (or the node itself did).
_PLATFORM_FAILURES: Final = frozenset(
    {
        "adapter_error",
        "adapter_unavailable",
        "adapter_timeout",
        "adapter_auth_failed",
        "adapter_quota_exceeded",
        "adapter_bad_data",
        "internal_error",
    }
)


async def err_platform_failures(session: Session) -> None:
    platform = _platform(session)
    for fault in FAULTS:
        with platform.failing(fault):
            reply = await session.send(_verify_claims(session))
        what = f"platform fault {fault}"
        if reply.claims is None:
            raise CheckFailed(
                f"{what}: HTTP {reply.status}, not a signed response ({reply.unsigned_because})"
            )
        body = reply.claims.body
        _fail(reply.claims.sts != "problem", f"{what}: answered ok")
        _fail(
            body.get("code") not in _PLATFORM_FAILURES,
            f"{what}: problem {body.get('code')}, not a platform failure",
        )
        _fail(
            reply.status < 500 or reply.status != body.get("status"),
            f"{what}: HTTP {reply.status} for problem {body.get('code')} ({body.get('status')})",
        )


async def err_not_found(session: Session) -> None:
    reply = await session.post(b"x.y.z", path="/deltafed/v1/no-such-endpoint")
    reply.expect_problem("not_found", 404)


async def err_unread_body(session: Session) -> None:
    reply = await session.post(b"x.y.z", path="/deltafed/v1/no-such-endpoint")
    if reply.claims is None:
        raise CheckSkipped("the refusal is not signed; see DF-ERR-001")
    empty = session.registry.profile.digest_text(b"")
    _fail(reply.claims.req != empty, "req is not the digest of the empty string")
    _fail(str(reply.claims.aud) != session.node, "the problem is not self-addressed")
    _fail(reply.claims.rid is not None, "the problem names a request id it never read")


async def err_no_internals(session: Session) -> None:
    leaks = ("Traceback (most recent call last)", 'File "', " object at 0x")
    for what, reply in await _error_answers(session):
        text = reply.raw.decode("ascii", "replace")
        if reply.claims is not None:
            text = json.dumps(reply.claims.body, ensure_ascii=False)
        found = [m for m in leaks if m in text]
        if found:
            raise CheckFailed(f"{what}: the answer shows internal detail ({found[0]!r})")


# --- policy ----------------------------------------------------------------------------------


async def pol_unauthorized(session: Session) -> None:
    outsider = session.need(session.outsider, "outsider member ([keys] outsider_id/outsider_key)")
    member, key = outsider
    claims = _verify_claims(session, iss=member)
    (await session.send(claims, key)).expect_problem("not_authorized", 403)


async def pol_unknown_scenario(session: Session) -> None:
    claims = _verify_claims(session, scn="deltafed-conformance-no-such-scenario")
    (await session.send(claims)).expect_problem("scenario_unknown", 403)


async def pol_operation(session: Session) -> None:
    subject: Subject = session.need(session.profile.verify, "[verify] subject")
    claims = _verify_claims(session, op="certificate.release")
    claims["body"]["fields"] = ["name"]
    claims["scn"] = subject.scenario
    (await session.send(claims)).expect_problem("not_authorized", 403)


async def pol_field(session: Session) -> None:
    subject = _record(session)
    outside = session.need(subject.outside_field, "record.outside_field")
    claims = _record_claims(session, subject, fields=(*subject.fields, outside))
    (await session.send(claims)).expect_problem("field_not_allowed", 403)


async def pol_consent_missing(session: Session) -> None:
    claims = _record_claims(session, _consent_record(session))
    (await session.send(claims)).expect_problem("consent_required", 403)


async def pol_consent_expired(session: Session) -> None:
    subject = _consent_record(session)
    consent = session.consent(
        subject,
        operation="record.request",
        issued=session.clock() - timedelta(days=20),
        lifetime=timedelta(days=10),
    )
    claims = _record_claims(session, subject, consent=consent)
    (await session.send(claims)).expect_problem("consent_expired", 403)


async def pol_consent_other_holder(session: Session) -> None:
    subject = _consent_record(session)
    other = session.need(session.profile.absent_holder_code, "[absent] holder_code")
    consent = session.consent(subject, operation="record.request", holder_code=other)
    claims = _record_claims(session, subject, consent=consent)
    (await session.send(claims)).expect_problem("consent_invalid", 403)


async def pol_consent_issuer(session: Session) -> None:
    subject = _consent_record(session)
    genuine = session.consent(subject, operation="record.request")
    payload = json.loads(b64url_decode(genuine.split(b".")[1].decode("ascii")))
    region = session.tester.split("/", 1)[0]
    payload["consent"]["issuer"] = f"{region}/conformance-recorder"
    spoiled = craft(payload, session.tester_key, typ=CONSENT_TYP)
    claims = _record_claims(session, subject, consent=spoiled)
    (await session.send(claims)).expect_problem("consent_invalid", 403)


# --- idempotent retry ------------------------------------------------------------------------


async def _retransmit(session: Session, claims: dict[str, Any]) -> None:
    raw = session.sign(claims)
    first = await session.post(raw, op=claims["op"])
    second = await session.post(raw, op=claims["op"])
    _fail(second.raw != first.raw, "the retransmission got another answer than the first copy")
    _fail(second.status != first.status, f"HTTP {first.status} then {second.status}")


async def neg_trailing_bytes(session: Session) -> None:
    # A relay that gets X + "\n" answered spends X's id: the padded copy must be refused
    # before anything is remembered, and the genuine X then answered as if nothing happened.
    raw = session.sign(session.probe())
    for junk in (b"\n", b" "):
        (await session.post(raw + junk)).expect_problem("malformed_message", 400)
    (await session.post(b" " + raw)).expect_problem("malformed_message", 400)
    genuine = await session.post(raw)
    if genuine.claims is not None and genuine.claims.sts == "problem":
        code = genuine.claims.body.get("code")
        _fail(code == "replay", "the genuine request was refused as a replay of the padded copy")
        _fail(code == "malformed_message", "the genuine request was refused as malformed")


async def idem_retry_ok(session: Session) -> None:
    await _retransmit(session, session.probe())


async def idem_retry_refused(session: Session) -> None:
    await _retransmit(session, session.probe(scn="deltafed-conformance-no-such-scenario"))


async def idem_transient_released(session: Session) -> None:
    platform = _platform(session)
    raw = session.sign(_verify_claims(session))
    with platform.failing("server_error"):
        first = await session.post(raw)
    if first.claims is None or first.claims.sts == "ok":
        raise CheckSkipped(f"the platform fault gave {first.describe()}; see DF-ERR-006")
    second = await session.post(raw)
    if second.claims is not None and second.claims.sts == "problem":
        raise CheckFailed(
            f"after a transient {first.claims.body.get('code')}, the same bytes again got "
            f"{second.claims.body.get('code')} ({second.status}) once the platform was back: "
            "the transient problem was remembered"
        )
    second.expect_ok()


# --- the tables ------------------------------------------------------------------------------


# (id, title, section of docs/protocol.md, requirement, run)
_TABLE: Final[tuple[tuple[str, str, str, str, Run], ...]] = (
    ("DF-DISC-001", "Signed node metadata", "§7.4",
     "GET metadata answers a deltafed-metadata+jws document signed by the node",
     disc_metadata_signed),
    ("DF-DISC-002", "Metadata content", "§7.4",
     "metadata holds iss, iat, exp, trusted keys (kid, alg, use sig), endpoints, offers, "
     "protocol_versions with '1'",
     disc_metadata_content),
    ("DF-DISC-003", "Health endpoint", "§7.3",
     'GET health answers 200 application/json, "status" "ok" (or "degraded" in the grace period)',
     disc_health),
    ("DF-DISC-004", "OpenAPI description", "§7.3",
     "GET openapi.json answers the OpenAPI description of the operation paths", disc_openapi),
    ("DF-EXC-001", "Verify a certificate by holder", "§4 and §7.1",
     "a permitted certificate.verify is answered 200 with a signed VerificationResult",
     exc_verify_by_holder),
    ("DF-EXC-002", "Verify a certificate by identifier", "§4 and §7.1",
     "a certificate.verify by certificate_id answers a VerificationResult for it",
     exc_verify_by_id),
    ("DF-EXC-003", "Release certificate data with consent", "§4 and §7.1",
     "a permitted certificate.release answers a ReleaseResult with exactly the fields asked",
     exc_release),
    ("DF-EXC-004", "Request a record (no consent needed)", "§4 and §7.1",
     "a permitted record.request answers a RecordResponse with exactly the fields asked",
     exc_record_open),
    ("DF-EXC-005", "Request a record with consent", "§4 and §7.1",
     "a record.request carrying a valid consent answers a RecordResponse",
     exc_record_consent),
    ("DF-EXC-006", "Nothing matches", "§6",
     "a request about a holder the node has nothing for is refused with not_found (404)",
     exc_not_found),
    ("DF-EXC-007", "A revoked certificate is not valid", "docs/node.md Endpoints",
     "a certificate the platform holds as revoked is answered valid false with status 03",
     exc_revoked),
    ("DF-EXC-008", "Revocation during the session", "docs/node.md Endpoints",
     "a certificate revoked on the platform during the session is answered revoked at once, "
     "never from a stale copy",
     exc_revoked_in_session),
    ("DF-EXC-009", "Verification summary is minimal", "docs/node.md Endpoints",
     "a verification's summary holds only the certificate's name and the scenario's fields, "
     "never the holder's name or number",
     exc_summary),
    ("DF-EXC-010", "The use cause reaches the platform", "docs/node.md Idempotent retry",
     "the request's use_cause is passed to every platform call", exc_use_cause),
    ("DF-SIG-001", "Answers are signed by the node", "§2, §4 and §7.1",
     "every answer is a deltafed-response+jws signed with a registry key of the node",
     sig_signed),
    ("DF-SIG-002", "Response bound to the request", "§4 and §5.2 step 13",
     "req is the digest of the exact request bytes and rid is the request's jti", sig_binding),
    ("DF-GM-002", "Answers in the federation's crypto profile", "§11",
     "an answer is signed with an algorithm of the registry's crypto profile and binds the "
     "request with its hash (SM2SM3 and sm3: in a gm federation)", gm_profile),
    ("DF-SIG-003", "Response addressed to the requester", "§4 and §5.2 step 11",
     "a response's aud is the request's iss", sig_addressing),
    ("DF-SIG-004", "Response time window", "§4 and §5.2 step 12",
     "a response is current and lives at most 300 s", sig_window),
    ("DF-SIG-005", "Problems to bytes that did not verify", "§4.2",
     "req is the digest of the bytes received, aud the claimed iss (else the node), "
     "rid the claimed jti",
     sig_unverified_problem),
    *(
        (n.id, n.title, n.section, f"refused with a signed {n.code} problem (HTTP {n.status})",
         _negative_run(n))
        for n in NEGATIVES
    ),
    ("DF-ERR-001", "Every error answer is signed", "§7.1",
     "every answer, errors included, is a signed response, never an unsigned error page",
     err_signed),
    ("DF-ERR-002", "Problem format", "§4.1, §6 and §7.1",
     "a problem has a listed code, a title, the HTTP status of its code, and no-store",
     err_format),
    ("DF-ERR-003", "Wrong HTTP method", "§6 and §7.1",
     "another method on an operation path is method_not_allowed (405) with Allow: POST",
     err_method),
    ("DF-ERR-004", "Unknown endpoint", "§6",
     "a path the node does not serve is a signed not_found (404)", err_not_found),
    ("DF-ERR-050", "Problem to an unread body", "§4.2 and §7.1",
     "a POST to a path that is not an operation is answered without reading the body: "
     "self-addressed, req the empty digest, no rid", err_unread_body),
    ("DF-ERR-005", "No internal detail in problems", "§4.1",
     "a problem carries no stack trace or internal detail", err_no_internals),
    ("DF-ERR-006", "Platform failures are signed problems", "§7.1 and docs/node.md steps",
     "a platform that fails (5xx, timeout, unreadable answer) gives a signed problem with a 5xx "
     "status and its code",
     err_platform_failures),
    ("DF-POL-001", "Unauthorized requester", "§6",
     "a member the scenario does not name is refused with not_authorized (403)",
     pol_unauthorized),
    ("DF-POL-002", "Unknown scenario", "§6",
     "a scenario the registry does not list is refused with scenario_unknown (403)",
     pol_unknown_scenario),
    ("DF-POL-003", "Operation outside the scenario", "§6",
     "an operation the scenario does not allow is refused with not_authorized (403)",
     pol_operation),
    ("DF-POL-004", "Field outside the scenario", "§6",
     "a field the scenario does not allow is refused with field_not_allowed (403), "
     "never trimmed",
     pol_field),
    ("DF-POL-005", "Missing consent", "§6",
     "where the scenario requires consent, a request without one is consent_required (403)",
     pol_consent_missing),
    ("DF-POL-006", "Expired consent", "§6",
     "an expired consent is refused with consent_expired (403)", pol_consent_expired),
    ("DF-POL-007", "Consent of another holder", "§6",
     "a consent that does not cover the request is refused with consent_invalid (403)",
     pol_consent_other_holder),
    ("DF-POL-008", "Consent issuer is not its signer", "§5.5",
     "a consent whose issuer is not the payload's iss is refused with consent_invalid (403)",
     pol_consent_issuer),
    ("DF-NEG-050", "Bytes around a message", "§2 and §5.1 step 2",
     "a request with a byte before or after it is malformed_message, and the genuine request "
     "is then answered, not refused as a replay",
     neg_trailing_bytes),
    ("DF-IDEM-001", "Idempotent retry", "§5.3 and §7.1",
     "the same request bytes again get the stored answer, byte for byte, with its status",
     idem_retry_ok),
    ("DF-IDEM-002", "Idempotent retry of a refusal", "§5.3",
     "the same bytes of a refused (verified) request get the same signed problem again",
     idem_retry_refused),
    ("DF-IDEM-003", "A transient problem is not remembered", "§5.3",
     "after adapter_unavailable, the same bytes again are processed anew once the platform is "
     "back",
     idem_transient_released),
    ("DF-MAP-001", "Certificate mapping (golden)", "§4 (bodies: docs/schemas/)",
     "golden native certificates map to the shared CertificateMetadata",
     golden_check("find_certificate")),
    ("DF-MAP-002", "Certificate data mapping (golden)", "§4 (bodies: docs/schemas/)",
     "golden native certificate data maps to exactly the fields asked",
     golden_check("certificate_data")),
    ("DF-MAP-003", "Record mapping (golden)", "§4 (bodies: docs/schemas/)",
     "golden native records map to the shared record fields and time",
     golden_check("fetch_record")),
)  # fmt: skip

#: The checks that need the platform behind the node: they run only against an adapter.
IN_PROCESS: Final = frozenset(
    {"DF-EXC-008", "DF-EXC-010", "DF-ERR-006", "DF-IDEM-003", "DF-MAP-001", "DF-MAP-002",
     "DF-MAP-003"}
)  # fmt: skip

_FIXED: Final[tuple[Check, ...]] = tuple(
    Check(
        check_id,
        title,
        f"docs/protocol.md {section}: {text}" if section.startswith("§") else f"{section}: {text}",
        run,
        in_process=check_id in IN_PROCESS,
    )
    for check_id, title, section, text, run in _TABLE
)

#: Every check of the suite, in run order.
ALL_CHECKS: Final[tuple[Check, ...]] = (
    _FIXED + ADAPTER_CHECKS + CONCERN_CHECKS + MATCH_CHECKS + EVENT_CHECKS
)


def select_checks(only: list[str] | tuple[str, ...] | None = None) -> tuple[Check, ...]:
    """The checks whose id starts with one of ``only`` (all of them by default)."""
    if not only:
        return ALL_CHECKS
    return tuple(c for c in ALL_CHECKS if any(c.id.startswith(p) for p in only))
