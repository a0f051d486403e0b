"""Deliberately faulty nodes and adapters: each breaks exactly one requirement.

They are built from the real node by subclassing its overridable steps (verify, decide),
swapping one of its parts (the replay store, the adapter), or wrapping its ASGI app in a
middleware that rewrites answers and re-signs them with the node's own key. No node code is
edited.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from deltafed import (
    ConsentExpiredError,
    ConsentInvalidError,
    ConsentRequiredError,
    DeltafedError,
    ExpiredError,
    MalformedMessageError,
    UnknownKeyError,
    UnknownMemberError,
)
from deltafed._canonical import sha256_digest
from deltafed.adapters import RecordData
from deltafed.adapters.shanghai import ShanghaiAdapter
from deltafed.keys import Verifier, b64url_decode, b64url_encode
from deltafed.node import Exchange, Node
from deltafed.policy import Decision, PolicyRequest
from deltafed.protocol import (
    RESPONSE_TYP,
    MemoryReplayStore,
    ProtocolVerifier,
    ReplayRecord,
    RequestClaims,
    ResponseClaims,
    VerifiedRequest,
    sign_response,
)
from deltafed.registry import TrustedRegistry
from deltafed.schemas.certificates import CertificateMetadata
from deltafed.schemas.common import CertificateStatus, HolderType
from deltafed.schemas.identifiers import parse_member_id
from deltafed.testing import InMemoryAdapter
from deltafed_conformance import AdapterTarget, NodeParts, craft

# --- accepts a bad signature ------------------------------------------------------------------


class _Unchecked:
    """A verifier that says yes to every signature (keeps the key's alg and kid)."""

    def __init__(self, inner: Verifier) -> None:
        self.alg = inner.alg
        self.kid = inner.kid

    def verify(self, signature: bytes, data: bytes) -> None:
        return None


class _LaxResolver:
    def __init__(self, registry: TrustedRegistry) -> None:
        self.registry = registry

    def resolve(self, member: str, kid: str, at: datetime) -> Verifier:
        return _Unchecked(self.registry.resolve(member, kid, at))  # type: ignore[return-value]


class AcceptsBadSignature(Node):
    def verify(self, raw: bytes) -> VerifiedRequest:
        lax = ProtocolVerifier(
            _LaxResolver(self.registry),
            self.member,
            clock=self.clock,
            replay=self.replay,
            limits=self.limits,
        )
        return lax.verify_request(raw)


# --- accepts a replay -------------------------------------------------------------------------


class DigestKeyedStore(MemoryReplayStore):
    """Remembers (jti, bytes) instead of jti: the same jti with other bytes is new to it."""

    def register(self, key: str, digest: str, *, expires_at: int, now: int) -> ReplayRecord | None:
        return super().register(f"{key} {digest}", digest, expires_at=expires_at, now=now)

    def set_response(self, key: str, digest: str, response: bytes) -> None:
        super().set_response(f"{key} {digest}", digest, response)

    def forget(self, key: str, digest: str) -> bool:
        return super().forget(f"{key} {digest}", digest)


# --- ignores the audience ---------------------------------------------------------------------


def _claimed(raw: bytes) -> dict[str, Any]:
    """The unverified payload of a compact JWS, or ``{}``."""
    try:
        payload = json.loads(b64url_decode(raw.split(b".")[1].decode("ascii")))
    except (IndexError, ValueError, UnicodeDecodeError, DeltafedError):
        return {}
    return payload if isinstance(payload, dict) else {}


class IgnoresAudience(Node):
    def verify(self, raw: bytes) -> VerifiedRequest:
        try:
            audience = str(parse_member_id(_claimed(raw)["aud"]))
        except (KeyError, DeltafedError):
            audience = str(self.member)
        loose = ProtocolVerifier(
            self.registry, audience, clock=self.clock, replay=self.replay, limits=self.limits
        )
        return loose.verify_request(raw)


# --- accepts an expired request ---------------------------------------------------------------


class AcceptsExpired(Node):
    def verify(self, raw: bytes) -> VerifiedRequest:
        try:
            return super().verify(raw)
        except ExpiredError:
            payload = _claimed(raw)
            issued = datetime.fromtimestamp(int(payload["iat"]), UTC)
            back_then = ProtocolVerifier(
                self.registry,
                self.member,
                clock=lambda: issued,
                replay=self.replay,
                limits=self.limits,
            )
            return back_then.verify_request(raw)


# --- policy faults ----------------------------------------------------------------------------


class LeaksFields(Node):
    """Decides on the allowed fields only, then releases every field asked."""

    def decide(self, request: PolicyRequest) -> Decision:
        scenario = self.registry.scenario(request.scenario)
        allowed = tuple(f for f in request.fields if f not in scenario.disallowed_fields([f]))
        decision = super().decide(dataclasses.replace(request, fields=allowed))
        return dataclasses.replace(decision, fields=tuple(request.fields))


class SkipsConsent(Node):
    def decide(self, request: PolicyRequest) -> Decision:
        try:
            return super().decide(request)
        except (ConsentRequiredError, ConsentInvalidError, ConsentExpiredError):
            return Decision(
                scenario=self.registry.scenario(request.scenario),
                requester=parse_member_id(request.requester),
                operation=request.operation,
                target=request.target,
                fields=tuple(request.fields),
                consent=None,
                decided_at=self.clock(),
            )


# --- lenient parsing: verifies the signature over the bytes, but reads them loosely ----------


def _loose(segment: bytes) -> bytes:
    # The standard library ignores padding bits: any spelling decodes.
    return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))


def _header_pairs(raw: bytes) -> list[tuple[str, Any]]:
    try:
        pairs: list[tuple[str, Any]] = json.loads(
            _loose(raw.split(b".")[0]), object_pairs_hook=list
        )
    except (ValueError, IndexError, binascii.Error):
        return []
    return pairs


def _lenient(node: Node, raw: bytes) -> VerifiedRequest:
    """What a node with a lax parser accepts: a duplicate header member (the last wins), any
    base64url spelling, any integer, any algorithm name, as long as the key verifies."""
    head, body, signature = raw.split(b".")
    header = dict(_header_pairs(raw))
    payload = json.loads(_loose(body))
    key = node.registry.resolve(parse_member_id(payload["iss"]), header["kid"], node.clock())
    key.verify(_loose(signature), head + b"." + body)
    try:
        claims = RequestClaims.model_validate(payload)
    except ValueError:  # an integer out of range: taken as it is
        claims = RequestClaims.model_construct(**payload)
    return VerifiedRequest(
        claims=claims,
        raw=raw,
        digest=sha256_digest(raw),
        kid=header["kid"],
        alg=header["alg"],
        duplicate_of=None,
    )


class Lenient(Node):
    """Falls back to :func:`_lenient` when verification fails and ``lax(raw, error)`` says so."""

    @staticmethod
    def lax(raw: bytes, error: DeltafedError) -> bool:
        raise NotImplementedError

    def verify(self, raw: bytes) -> VerifiedRequest:
        try:
            return super().verify(raw)
        except DeltafedError as exc:
            try:
                lax = self.lax(raw, exc)
            except (ValueError, IndexError, binascii.Error):
                lax = False  # not even three segments: refused as before
            if lax:
                return _lenient(self, raw)
            raise


class AllowsES384(Lenient):
    """Its allow-list also has ES384, which it checks with the member's key."""

    @staticmethod
    def lax(raw: bytes, error: DeltafedError) -> bool:
        return dict(_header_pairs(raw)).get("alg") == "ES384"


class KeepsLastHeaderMember(Lenient):
    @staticmethod
    def lax(raw: bytes, error: DeltafedError) -> bool:
        names = [name for name, _ in _header_pairs(raw)]
        return len(names) != len(set(names))


class AnyBase64Spelling(Lenient):
    @staticmethod
    def lax(raw: bytes, error: DeltafedError) -> bool:
        segments = raw.split(b".")
        if len(segments) != 3:
            return False
        alphabet = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        if any(set(s) - alphabet for s in segments):
            return False  # other bytes than base64url: not a matter of spelling
        return any(b64url_encode(_loose(s)).encode() != s for s in segments)


class AnyInteger(Lenient):
    @staticmethod
    def lax(raw: bytes, error: DeltafedError) -> bool:
        return b":" + str(2**53).encode() in _loose(raw.split(b".")[1])


class LooksUpAnyIssuer(Node):
    """Does not check that iss is a member id: the registry then knows no such member."""

    def verify(self, raw: bytes) -> VerifiedRequest:
        try:
            return super().verify(raw)
        except MalformedMessageError as exc:
            if exc.field == "iss":
                raise UnknownMemberError("no such member in the registry") from exc
            raise


class IgnoresTarget(Node):
    """Answers what the body asks about, whatever tgt says."""

    def verify(self, raw: bytes) -> VerifiedRequest:
        request = super().verify(raw)
        body = request.claims.body
        named = body.get("certificate_id") or body.get("type_code") or body.get("record_type")
        if not isinstance(named, str):
            return request
        claims = request.claims.model_copy(update={"tgt": named})
        return dataclasses.replace(request, claims=claims)


class AcceptsConsentOfAnotherIssuer(Node):
    """Does not compare a consent's issuer with the member that signed it."""

    def decide(self, request: PolicyRequest) -> Decision:
        try:
            return super().decide(request)
        except ConsentInvalidError as exc:
            if exc.field != "cns.issuer":
                raise
            return Decision(
                scenario=self.registry.scenario(request.scenario),
                requester=parse_member_id(request.requester),
                operation=request.operation,
                target=request.target,
                fields=tuple(request.fields),
                consent=None,
                decided_at=self.clock(),
            )


class SummaryNamesTheHolder(Node):
    async def _verify_certificate(self, exchange: Exchange) -> dict[str, Any]:
        result = await super()._verify_certificate(exchange)
        meta = await self.adapter.find_certificate(certificate_id=result["certificate_id"])
        result["summary"] = {**result["summary"], "holder": meta.holder_name}
        return result


class ForgetlessStore(MemoryReplayStore):
    """Says it released a request, but keeps it as if still in progress."""

    def forget(self, key: str, digest: str) -> bool:
        return True


# --- faulty platforms -------------------------------------------------------------------------


class CachingMemory(InMemoryAdapter):
    """Keeps the first answer about a certificate: a revocation is never seen."""

    _seen: dict[Any, CertificateMetadata]

    async def _find_certificate(self, **asked: Any) -> CertificateMetadata:
        seen = self.__dict__.setdefault("_seen", {})
        key = tuple(sorted(asked.items()))
        if key not in seen:
            seen[key] = await super()._find_certificate(**asked)
        found: CertificateMetadata = seen[key]
        return found


class NeverRevokes(InMemoryAdapter):
    """Its status call always says valid: a revocation is never seen there."""

    async def _certificate_status(self, certificate_id: str) -> CertificateStatus:
        return CertificateStatus.VALID


class DropsUseCause(InMemoryAdapter):
    async def fetch_record(self, *args: Any, **asked: Any) -> RecordData:
        asked["use_cause"] = None
        return await super().fetch_record(*args, **asked)


def _memory(cls: type[InMemoryAdapter]) -> Callable[[Any], InMemoryAdapter]:
    return lambda clock: cls.from_config({"region": "320000"})


# --- answers rewritten by a middleware --------------------------------------------------------

Transform = Callable[[int, list[tuple[bytes, bytes]], bytes], tuple[int, bytes, bytes]]


class Rewrite:
    """ASGI middleware: collect the node's answer, transform it, send the result."""

    def __init__(self, app: Any, transform: Transform) -> None:
        self.app = app
        self.transform = transform

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            headers = list(start.get("headers", []))
            status, kind, body = self.transform(start["status"], headers, b"".join(chunks))
            kept = [(k, v) for k, v in headers if k not in (b"content-length", b"content-type")]
            kept += [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": status, "headers": kept})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


def _content_type(headers: list[tuple[bytes, bytes]]) -> bytes:
    return next((v for k, v in headers if k == b"content-type"), b"")


def unsigned_errors(node: Node) -> Any:
    """Every error becomes a plain JSON body: no signature."""

    def transform(
        status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, bytes, bytes]:
        if status < 400:
            return status, _content_type(headers), body
        return status, b"application/json", json.dumps({"error": status}).encode()

    return Rewrite(node, transform)


def _resigned(node: Node, body: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    payload = json.loads(b64url_decode(body.split(b".")[1].decode()))
    change(payload)
    return sign_response(ResponseClaims.parse(payload), node.signer)


def unbound_responses(node: Node) -> Any:
    """Successful answers name other request bytes in ``req``."""

    def change(payload: dict[str, Any]) -> None:
        if payload["sts"] == "ok":
            payload["req"] = sha256_digest(b"some other request")

    def transform(
        status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, bytes, bytes]:
        kind = _content_type(headers)
        if kind != b"application/deltafed-response+jws":
            return status, kind, body
        return status, kind, _resigned(node, body, change)

    return Rewrite(node, transform)


def misaddressed_responses(node: Node) -> Any:
    """Successful answers are addressed to the node itself instead of the requester."""

    def change(payload: dict[str, Any]) -> None:
        if payload["sts"] == "ok":
            payload["aud"] = str(node.member)

    def transform(
        status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, bytes, bytes]:
        kind = _content_type(headers)
        if kind != b"application/deltafed-response+jws":
            return status, kind, body
        return status, kind, _resigned(node, body, change)

    return Rewrite(node, transform)


def unlisted_problem_code(node: Node) -> Any:
    """Its replay refusals carry a code outside the closed list of §6 (signed all the same)."""

    def transform(
        status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, bytes, bytes]:
        kind = _content_type(headers)
        payload = _claimed(body)
        if payload.get("sts") != "problem" or payload["body"].get("code") != "replay":
            return status, kind, body
        payload["body"]["code"] = "replayed"
        return status, kind, craft(payload, node.signer, typ=RESPONSE_TYP)

    return Rewrite(node, transform)


def claims_any_status_valid(node: Node) -> Any:
    """Every certificate is answered valid, whatever its status on the platform."""

    def change(payload: dict[str, Any]) -> None:
        if payload["sts"] == "ok" and "valid" in payload["body"]:
            payload["body"].update(valid=True, status="01")

    def transform(
        status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, bytes, bytes]:
        kind = _content_type(headers)
        if kind != b"application/deltafed-response+jws":
            return status, kind, body
        return status, kind, _resigned(node, body, change)

    return Rewrite(node, transform)


def unsigned_5xx(node: Node) -> Any:
    """A gateway in front of the node turns every 5xx into its own HTML error page."""

    def transform(
        status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, bytes, bytes]:
        if status < 500:
            return status, _content_type(headers), body
        return status, b"text/html", b"<html><body>502 Bad Gateway</body></html>"

    return Rewrite(node, transform)


# --- an adapter that maps a native field wrongly ----------------------------------------------


class MisMappingShanghai(ShanghaiAdapter):
    """Drops the issuer's name for its credit code: the shape stays valid, the value is wrong."""

    async def _find_certificate(
        self,
        *,
        certificate_id: str | None,
        holder_code: str | None,
        holder_type: HolderType | None,
        type_code: str | None,
    ) -> CertificateMetadata:
        meta = await super()._find_certificate(
            certificate_id=certificate_id,
            holder_code=holder_code,
            holder_type=holder_type,
            type_code=type_code,
        )
        return meta.model_copy(update={"issuer_name": meta.issuer_code})


# --- reads less than the whole input ---------------------------------------------------------


class StripsWhitespace(Node):
    """Verifies the request with the whitespace around it removed (a ``$``-anchored parser)."""

    def verify(self, raw: bytes) -> VerifiedRequest:
        return super().verify(raw.strip())


class LooksUpIllFormedKid(Node):
    """Reports an ill-formed kid as an unknown key, as if it had looked it up as it is."""

    def verify(self, raw: bytes) -> VerifiedRequest:
        try:
            return super().verify(raw)
        except MalformedMessageError as exc:
            if exc.field == "kid":
                raise UnknownKeyError("no such key") from exc
            raise


# --- lax claim readers and a node that reads an unknown path's body ------------------------


def _claims_of(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(_loose(raw.split(b".")[1]))
    except (ValueError, IndexError, binascii.Error):
        return {}
    return payload if isinstance(payload, dict) else {}


def _depth(value: Any) -> int:
    """Levels of objects and arrays in ``value``, itself included."""
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


class AnyDepth(Lenient):
    """Sets no nesting limit on body (§2.2)."""

    @staticmethod
    def lax(raw: bytes, error: DeltafedError) -> bool:
        return _depth(_claims_of(raw).get("body")) > 32


class NullIsAbsent(Lenient):
    """Reads a claim that is null as if it were absent (§3)."""

    @staticmethod
    def lax(raw: bytes, error: DeltafedError) -> bool:
        return any(value is None for value in _claims_of(raw).values())


class AnyIat(Lenient):
    """Takes any integer as iat, a negative one included (§5.1 step 5)."""

    @staticmethod
    def lax(raw: bytes, error: DeltafedError) -> bool:
        iat = _claims_of(raw).get("iat")
        return isinstance(iat, int) and iat < 0


_CITY_ISSUER = re.compile(r"[0-9]{4}00/[a-z0-9-]{1,48}(?:/[a-z0-9-]{1,48})?")


class AnyDivisionAsRegion(Node):
    """Takes any division code ending in 00 (a city) as a region: such an iss is then looked up
    in the registry, which knows no such member (§1)."""

    def verify(self, raw: bytes) -> VerifiedRequest:
        try:
            return super().verify(raw)
        except MalformedMessageError as exc:
            if exc.field == "iss" and _CITY_ISSUER.fullmatch(str(_claims_of(raw).get("iss"))):
                raise UnknownMemberError("no such member in the registry") from exc
            raise


def binds_unread_bodies(node: Node) -> Any:
    """Reads the body posted to a path it does not serve, and binds its problem to it (req the
    digest of those bytes) instead of answering it unread (§4.2)."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await node(scope, receive, send)
            return
        posted: list[bytes] = []
        more = True
        while more:  # read the whole body first, whatever the path
            message = await receive()
            posted.append(message.get("body", b""))
            more = message.get("more_body", False)
        replay = [{"type": "http.request", "body": b"".join(posted), "more_body": False}]

        async def reading() -> Any:
            return replay.pop() if replay else await receive()

        def transform(
            status: int, headers: list[tuple[bytes, bytes]], body: bytes
        ) -> tuple[int, bytes, bytes]:
            if status != 404:
                return status, _content_type(headers), body
            digest = sha256_digest(b"".join(posted))
            return (
                status,
                _content_type(headers),
                _resigned(node, body, lambda payload: payload.update(req=digest)),
            )

        await Rewrite(node, transform)(scope, reading, send)

    return app


# --- the table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Faulty:
    name: str
    violates: str
    target: Callable[[], AdapterTarget]
    failing: frozenset[str]


def _node(cls: type[Node]) -> Callable[[NodeParts], Node]:
    return lambda parts: parts.build(cls)


FAULTY: tuple[Faulty, ...] = (
    Faulty(
        "accepts-bad-signature",
        "§5.1 step 8",
        lambda: AdapterTarget("memory", name="bad-sig", node_factory=_node(AcceptsBadSignature)),
        frozenset({"DF-NEG-001", "DF-NEG-002"}),
    ),
    Faulty(
        "accepts-replay",
        "§5.3",
        lambda: AdapterTarget(
            "memory", node_factory=lambda parts: parts.build(replay=DigestKeyedStore())
        ),
        frozenset({"DF-NEG-004"}),
    ),
    Faulty(
        "ignores-audience",
        "§5.2 step 11",
        lambda: AdapterTarget("memory", node_factory=_node(IgnoresAudience)),
        frozenset({"DF-NEG-008"}),
    ),
    Faulty(
        "accepts-expired",
        "§5.2 step 12",
        lambda: AdapterTarget("memory", node_factory=_node(AcceptsExpired)),
        frozenset({"DF-NEG-005"}),
    ),
    Faulty(
        "leaks-field-outside-scenario",
        "§6 field_not_allowed",
        lambda: AdapterTarget("memory", node_factory=_node(LeaksFields)),
        frozenset({"DF-POL-004"}),
    ),
    Faulty(
        "skips-consent",
        "§6 consent_*",
        lambda: AdapterTarget("memory", node_factory=_node(SkipsConsent)),
        frozenset({"DF-POL-005", "DF-POL-006", "DF-POL-007", "DF-POL-008", "DF-POL-050"}),
    ),
    Faulty(
        "unsigned-errors",
        "§7.1 signed errors",
        lambda: AdapterTarget("memory", wrap=unsigned_errors),
        frozenset({"DF-ERR-001", "DF-ERR-006"}),
    ),
    Faulty(
        "unbound-response",
        "§4 req binding",
        lambda: AdapterTarget("memory", wrap=unbound_responses),
        frozenset({"DF-SIG-002"}),
    ),
    Faulty(
        "misaddressed-response",
        "§4 aud",
        lambda: AdapterTarget("memory", wrap=misaddressed_responses),
        frozenset({"DF-SIG-003"}),
    ),
    Faulty(
        "accepts-bytes-around-a-message",
        "§2 whole input",
        lambda: AdapterTarget("memory", node_factory=_node(StripsWhitespace)),
        frozenset({"DF-NEG-050"}),
    ),
    Faulty(
        "looks-up-an-ill-formed-kid",
        "§2 and §5.1 step 4",
        lambda: AdapterTarget("memory", node_factory=_node(LooksUpIllFormedKid)),
        frozenset({"DF-NEG-051", "DF-NEG-053"}),
    ),
    Faulty(
        "unlisted-problem-code",
        "§6 closed list of codes",
        lambda: AdapterTarget("memory", wrap=unlisted_problem_code),
        frozenset({"DF-NEG-004"}),
    ),
    Faulty(
        "allows-es384",
        "§1 allow-list",
        lambda: AdapterTarget("memory", node_factory=_node(AllowsES384)),
        frozenset({"DF-NEG-024"}),
    ),
    Faulty(
        "keeps-last-header-member",
        "§2.1 no repeated member",
        lambda: AdapterTarget("memory", node_factory=_node(KeepsLastHeaderMember)),
        frozenset({"DF-NEG-025"}),
    ),
    Faulty(
        "any-base64-spelling",
        "§2 one spelling",
        lambda: AdapterTarget("memory", node_factory=_node(AnyBase64Spelling)),
        frozenset({"DF-NEG-026"}),
    ),
    Faulty(
        "any-integer",
        "§2.2 I-JSON range",
        lambda: AdapterTarget("memory", node_factory=_node(AnyInteger)),
        frozenset({"DF-NEG-027"}),
    ),
    Faulty(
        "looks-up-any-issuer",
        "§5.1 step 5 iss well-formed",
        lambda: AdapterTarget("memory", node_factory=_node(LooksUpAnyIssuer)),
        # Both checks send an ill-formed iss (PROTO-111, PROTO-504).
        frozenset({"DF-NEG-028", "DF-NEG-052"}),
    ),
    Faulty(
        "ignores-target",
        "node.md tgt",
        lambda: AdapterTarget("memory", node_factory=_node(IgnoresTarget)),
        frozenset({"DF-NEG-029"}),
    ),
    Faulty(
        "accepts-consent-of-another-issuer",
        "§5.5 issuer",
        lambda: AdapterTarget("memory", node_factory=_node(AcceptsConsentOfAnotherIssuer)),
        frozenset({"DF-POL-008"}),
    ),
    Faulty(
        "any-status-is-valid",
        "node.md valid",
        lambda: AdapterTarget("memory", wrap=claims_any_status_valid),
        frozenset({"DF-EXC-007", "DF-EXC-008"}),
    ),
    Faulty(
        "stale-status",
        "node.md no stale answer",
        lambda: AdapterTarget("memory", adapter_factory=_memory(CachingMemory)),
        frozenset({"DF-EXC-008"}),
    ),
    Faulty(
        "summary-names-the-holder",
        "node.md summary",
        lambda: AdapterTarget("memory", node_factory=_node(SummaryNamesTheHolder)),
        frozenset({"DF-EXC-009"}),
    ),
    Faulty(
        "drops-use-cause",
        "node.md use cause",
        lambda: AdapterTarget("memory", adapter_factory=_memory(DropsUseCause)),
        frozenset({"DF-EXC-010"}),
    ),
    Faulty(
        "unsigned-5xx",
        "§7.1 signed 5xx",
        lambda: AdapterTarget("memory", wrap=unsigned_5xx),
        frozenset({"DF-ERR-006"}),
    ),
    Faulty(
        "remembers-transient-problems",
        "§5.3 transient",
        lambda: AdapterTarget(
            "memory", node_factory=lambda parts: parts.build(replay=ForgetlessStore())
        ),
        frozenset({"DF-IDEM-003"}),
    ),
    Faulty(
        "adapter-never-revokes",
        "adapters.md revocation seen",
        lambda: AdapterTarget("memory", adapter_factory=_memory(NeverRevokes)),
        frozenset({"DF-ADP-012"}),
    ),
    Faulty(
        "adapter-maps-wrongly",
        "§4 result bodies",
        lambda: AdapterTarget(
            "shanghai",
            adapter_factory=lambda clock: MisMappingShanghai.with_sandbox(clock=clock)[0],
        ),
        frozenset({"DF-MAP-001"}),
    ),
    Faulty(
        "any-division-as-region",
        "§1 region codes",
        lambda: AdapterTarget("memory", node_factory=_node(AnyDivisionAsRegion)),
        frozenset({"DF-NEG-052"}),
    ),
    Faulty(
        "any-depth",
        "§2.2 nesting limit",
        lambda: AdapterTarget("memory", node_factory=_node(AnyDepth)),
        frozenset({"DF-NEG-054"}),
    ),
    Faulty(
        "null-is-absent",
        "§3 no null claim",
        lambda: AdapterTarget("memory", node_factory=_node(NullIsAbsent)),
        frozenset({"DF-NEG-055"}),
    ),
    Faulty(
        "any-iat",
        "§5.1 step 5 iat range",
        lambda: AdapterTarget("memory", node_factory=_node(AnyIat)),
        frozenset({"DF-NEG-056"}),
    ),
    Faulty(
        "binds-unread-bodies",
        "§4.2 unread body",
        lambda: AdapterTarget("memory", wrap=binds_unread_bodies),
        frozenset({"DF-ERR-050"}),
    ),
)
