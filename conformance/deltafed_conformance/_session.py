"""What a check works with: the node under test, the tester's identity, and wire helpers.

The suite is a requester: it signs requests with the tester's key, posts them, and reads the
answers with the registry. Reading an answer checks only that it is a response *signed by
the node* (signature, header profile, canonical payload, claims schema); the other response
requirements (binding, addressing, time window) have checks of their own, so that a node
breaking one of them fails that check and no other.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import httpx

from deltafed._canonical import canonicalize
from deltafed._clock import Clock
from deltafed._errors import DeltafedError
from deltafed.adapters import ProvinceAdapter
from deltafed.client import issue_consent
from deltafed.keys import Signer, b64url_decode, b64url_encode
from deltafed.protocol import (
    OPERATION_PATHS,
    REQUEST_MEDIA_TYPE,
    REQUEST_TYP,
    RESPONSE_TYP,
    ResponseClaims,
    new_jti,
)
from deltafed.registry import TrustedRegistry
from deltafed_conformance._model import CheckFailed, CheckSkipped
from deltafed_conformance._platform import Platform
from deltafed_conformance._profile import Profile, Subject

__all__ = [
    "SIGNED_ERRORS_CHECK",
    "Reply",
    "Session",
    "SignedButInvalidError",
    "authenticate",
    "craft",
    "read_reply",
]

_COMPACT: Final = re.compile(rb"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)")
#: The check whose failure explains an unsigned error (see :meth:`Reply.expect_problem`).
SIGNED_ERRORS_CHECK: Final = "DF-ERR-001"


def craft(
    payload: Mapping[str, Any],
    signer: Signer | None,
    *,
    typ: str = REQUEST_TYP,
    alg: str | None = None,
    kid: str | None = None,
    extra_header: Mapping[str, Any] | None = None,
    payload_bytes: bytes | None = None,
    signature: bytes | None = None,
) -> bytes:
    """A compact JWS built by hand, so that any part of it can be wrong on purpose.

    The header is ``alg``/``kid``/``typ`` (from ``signer`` unless given) plus
    ``extra_header``; the payload is the canonical JSON of ``payload`` unless
    ``payload_bytes`` is given; the signature is ``signer``'s over the signing input unless
    ``signature`` is given (``b""`` for none).
    """
    header: dict[str, Any] = {
        "alg": alg if alg is not None else (signer.alg if signer is not None else "none"),
        "kid": kid if kid is not None else (signer.kid if signer is not None else "none"),
        "typ": typ,
    }
    header.update(extra_header or {})
    body = payload_bytes if payload_bytes is not None else canonicalize(dict(payload))
    signing_input = (
        b64url_encode(canonicalize(header)).encode() + b"." + b64url_encode(body).encode()
    )
    if signature is None:
        if signer is None:
            raise ValueError("craft needs a signer or an explicit signature")
        signature = signer.sign(signing_input)
    return signing_input + b"." + b64url_encode(signature).encode()


def _segment(data: bytes) -> bytes:
    return b64url_decode(data.decode("ascii"))


@dataclass(frozen=True)
class Reply:
    """An HTTP answer of the node, and what reading it as a signed response gave."""

    status: int
    headers: httpx.Headers
    raw: bytes
    #: The request bytes this answers (``b""`` for a GET).
    request: bytes
    #: The claims, when ``raw`` is a response signed by the node with valid claims.
    claims: ResponseClaims | None = None
    #: Why ``raw`` is not such a response (``None`` when it is).
    unsigned_because: str | None = None

    @property
    def content_type(self) -> str:
        value: str = self.headers.get("content-type", "")
        return value.split(";", 1)[0].strip().lower()

    def describe(self) -> str:
        if self.claims is None:
            return f"HTTP {self.status}, not a signed response ({self.unsigned_because})"
        if self.claims.sts == "ok":
            return f"HTTP {self.status}, signed ok"
        return f"HTTP {self.status}, signed problem {self.claims.body.get('code')}"

    def expect_ok(self) -> dict[str, Any]:
        """The result body of a signed ``ok`` answered with 200; :class:`CheckFailed` if not."""
        if self.claims is None:
            raise CheckFailed(
                f"expected a signed ok response, got {self.describe()}: {self.raw[:120]!r}"
            )
        if self.claims.sts != "ok":
            body = self.claims.body
            raise CheckFailed(
                f"expected ok, the node refused with {body.get('code')} ({body.get('status')}): "
                f"{str(body.get('detail', ''))[:200]}"
            )
        if self.status != 200:
            raise CheckFailed(f"a signed ok response must come with HTTP 200, got {self.status}")
        return self.claims.body

    def expect_problem(self, code: str, status: int) -> dict[str, Any]:
        """The body of a signed problem with ``code``, answered with HTTP ``status``.

        A 2xx answer that is not a signed problem means the node accepted what it had to
        refuse: :class:`CheckFailed`. A refusal that is not a signed response cannot be
        read: :class:`CheckSkipped`, pointing at the check that requires signed errors.
        """
        if self.claims is None:
            if 200 <= self.status < 300:
                raise CheckFailed(
                    f"expected {code} ({status}), the node accepted it: {self.describe()}"
                )
            raise CheckSkipped(
                f"the refusal is not a signed response ({self.unsigned_because}); "
                f"see {SIGNED_ERRORS_CHECK}"
            )
        if self.claims.sts == "ok":
            raise CheckFailed(f"expected {code} ({status}), the node answered ok")
        body = self.claims.body
        if body.get("code") != code:
            raise CheckFailed(
                f"expected problem {code}, got {body.get('code')}: "
                f"{str(body.get('detail', ''))[:200]}"
            )
        if self.status != status:
            raise CheckFailed(
                f"problem {code} must be answered with HTTP {status}, not {self.status}"
            )
        return body


class SignedButInvalidError(ValueError):
    """An answer that the node signed, but whose header, payload or claims do not validate."""


def authenticate(raw: bytes, registry: TrustedRegistry, node: str, at: datetime) -> ResponseClaims:
    """Read ``raw`` as a response signed by ``node``.

    ``ValueError`` naming what is wrong when ``raw`` is not signed by the node; its subclass
    :class:`SignedButInvalidError` when the node's signature verifies but the message does not
    validate (a wrong header, a payload not in canonical form, claims that break §4 - a
    problem code outside §6, for instance).
    """
    match = _COMPACT.fullmatch(raw)
    if match is None:
        raise ValueError("not a compact JWS")
    header_seg, payload_seg, signature_seg = match.groups()
    try:
        header = json.loads(_segment(header_seg))
        payload_bytes = _segment(payload_seg)
        signature = _segment(signature_seg)
    except (DeltafedError, ValueError, binascii.Error) as exc:
        raise ValueError(f"undecodable segment: {exc}") from exc
    if not isinstance(header, dict) or not isinstance(header.get("kid"), str):
        raise ValueError("the protected header names no key")
    try:
        verifier = registry.resolve(node, header["kid"], at)
    except DeltafedError as exc:
        raise ValueError(f"the signing key is not trusted: {exc.code}: {exc.message}") from exc
    try:
        verifier.verify(signature, header_seg + b"." + payload_seg)
    except DeltafedError as exc:
        raise ValueError(f"the signature does not verify: {exc.code}") from exc
    # Signed by the node: from here on, any defect is the node's answer breaking the protocol.
    if set(header) != {"alg", "kid", "typ"}:
        raise SignedButInvalidError("the protected header must hold exactly alg, kid and typ")
    if header["alg"] != verifier.alg:
        raise SignedButInvalidError(f"alg {header['alg']!r} is not the key's {verifier.alg}")
    if header["typ"] != RESPONSE_TYP:
        raise SignedButInvalidError(f"typ is {header['typ']!r}, not {RESPONSE_TYP}")
    try:
        payload = json.loads(payload_bytes)
    except ValueError as exc:
        raise SignedButInvalidError(f"the payload is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise SignedButInvalidError("the payload is not a JSON object")
    try:
        canonical = canonicalize(payload)
    except DeltafedError as exc:
        raise SignedButInvalidError(f"the payload cannot be canonical: {exc.message}") from exc
    if canonical != payload_bytes:
        raise SignedButInvalidError("the payload is not in RFC 8785 canonical form")
    if payload.get("iss") != node:
        raise SignedButInvalidError(f"issued by {payload.get('iss')!r}, not by the node {node}")
    try:
        return ResponseClaims.parse(payload)
    except DeltafedError as exc:
        body = payload.get("body")
        code = body.get("code") if isinstance(body, dict) else None
        said = f" (a problem with code {code!r})" if payload.get("sts") == "problem" else ""
        raise SignedButInvalidError(
            f"the claims are invalid{said}: {exc.message} (field {exc.field})"
        ) from exc


def read_reply(
    response: httpx.Response, request: bytes, registry: TrustedRegistry, node: str, at: datetime
) -> Reply:
    """The node's answer as a :class:`Reply`.

    :class:`CheckFailed` when the node signed an answer that does not validate: the check
    that received it fails, rather than skipping and pointing elsewhere.
    """
    raw = response.content
    try:
        claims: ResponseClaims | None = authenticate(raw, registry, node, at)
        why = None
    except SignedButInvalidError as exc:
        raise CheckFailed(
            f"HTTP {response.status_code}: the node signed an answer that does not validate: {exc}"
        ) from exc
    except ValueError as exc:
        claims, why = None, str(exc)
    return Reply(response.status_code, response.headers, raw, request, claims, why)


@dataclass
class Session:
    """The node under test as the checks see it, for the duration of one target's run."""

    target: str
    http: httpx.AsyncClient
    node: str
    tester: str
    tester_key: Signer
    registry: TrustedRegistry
    clock: Clock
    profile: Profile
    compromised_key: Signer | None = None
    outsider: tuple[str, Signer] | None = None
    #: Builds a fresh adapter with its sandbox (adapter targets only; mapping checks).
    adapter_factory: Callable[[], ProvinceAdapter] | None = None
    adapter_name: str | None = None
    max_bytes: int = 262_144
    #: The platform behind the node (adapter targets only): revocations and faults.
    platform: Platform | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    # --- building requests ---------------------------------------------------------------

    def now(self) -> int:
        return int(self.clock().timestamp())

    def claims(
        self,
        *,
        op: str,
        tgt: str,
        scn: str,
        body: Mapping[str, Any],
        cns: bytes | None = None,
        iss: str | None = None,
        aud: str | None = None,
        iat: int | None = None,
        lifetime: int = 60,
        jti: str | None = None,
    ) -> dict[str, Any]:
        """Request claims (as a plain dict, so a check can spoil any of them)."""
        issued = self.now() if iat is None else iat
        claims: dict[str, Any] = {
            "iss": iss or self.tester,
            "aud": aud or self.node,
            "iat": issued,
            "exp": issued + lifetime,
            "jti": jti or new_jti(),
            "op": op,
            "tgt": tgt,
            "scn": scn,
            "body": dict(body),
        }
        if cns is not None:
            claims["cns"] = cns.decode("ascii")
        return claims

    def probe(self, **overrides: Any) -> dict[str, Any]:
        """A certificate.verify request: the profile's if it has one, else a stand-in
        (which the node may refuse by policy, but only after verifying it)."""
        subject = self.profile.verify
        base: dict[str, Any]
        if subject is not None and subject.type_code is not None:
            body = {
                "holder_code": subject.holder_code,
                "holder_type": subject.holder_type,
                "type_code": subject.type_code,
                "use_cause": "deltafed conformance probe",
            }
            base = {
                "op": "certificate.verify",
                "tgt": subject.type_code,
                "scn": subject.scenario,
            }
        else:
            body = {"use_cause": "deltafed conformance probe"}
            base = {"op": "certificate.verify", "tgt": "conformance-probe", "scn": "conformance"}
        base["body"] = body
        base.update(overrides)
        return self.claims(**base)

    def sign(self, claims: Mapping[str, Any], signer: Signer | None = None) -> bytes:
        return craft(claims, signer or self.tester_key)

    def consent(
        self,
        subject: Subject,
        *,
        operation: str,
        holder_code: str | None = None,
        issued: datetime | None = None,
        lifetime: timedelta = timedelta(days=10),
    ) -> bytes:
        """A consent recorded and signed by the tester, for the tester, covering ``subject``."""
        return issue_consent(
            self.tester_key,
            issuer=self.tester,
            holder_type=subject.holder_type,
            holder_code=holder_code or subject.holder_code,
            scenario=subject.scenario,
            requester=self.tester,
            scope=list(subject.fields) or ["name"],
            operations=[operation],
            now=issued or self.clock(),
            lifetime=lifetime,
        )

    # --- talking to the node ------------------------------------------------------------

    async def post(
        self,
        raw: bytes,
        *,
        op: str = "certificate.verify",
        path: str | None = None,
        content_type: str = REQUEST_MEDIA_TYPE,
    ) -> Reply:
        response = await self.http.post(
            path or OPERATION_PATHS[op], content=raw, headers={"content-type": content_type}
        )
        return read_reply(response, raw, self.registry, self.node, self.clock())

    async def send(self, claims: Mapping[str, Any], signer: Signer | None = None) -> Reply:
        """Sign ``claims`` and post them to the path of their operation."""
        return await self.post(self.sign(claims, signer), op=str(claims["op"]))

    async def request(self, method: str, path: str, *, response: bool = True) -> Reply:
        """``method`` on ``path``; ``response=False`` for a document that is not a signed
        response (the metadata), which the caller reads itself."""
        answer = await self.http.request(method, path)
        if not response:
            return Reply(answer.status_code, answer.headers, answer.content, b"")
        return read_reply(answer, b"", self.registry, self.node, self.clock())

    def need(self, value: Any, what: str) -> Any:
        """``value``, or skip the check because the profile lacks ``what``."""
        if value is None:
            raise CheckSkipped(f"the target profile gives no {what}")
        return value
