"""Verification: received bytes in, a typed verified message or a typed error out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from deltafed._clock import Clock
from deltafed._errors import (
    AlgorithmNotAllowedError,
    BindingMismatchError,
    ConfigurationError,
    DeltafedError,
    ExpiredError,
    InternalError,
    InvalidInputError,
    LifetimeTooLongError,
    MalformedMessageError,
    NotYetValidError,
    ReplayError,
    SignatureInvalidError,
    WrongAudienceError,
    WrongIssuerError,
    WrongTypeError,
)
from deltafed._profile import INTERNATIONAL, CryptoProfile, crypto_profile, profile_of_algorithm
from deltafed.keys import KeyResolver
from deltafed.protocol._claims import (
    REQUEST_TYP,
    RESPONSE_TYP,
    RequestClaims,
    ResponseClaims,
    VerifiedDocument,
    VerifiedRequest,
    VerifiedResponse,
    member_id,
)
from deltafed.protocol._json import check_wire_value
from deltafed.protocol._jws import FORBIDDEN_ALGORITHMS, ParsedJws, parse_compact, peek_payload
from deltafed.protocol._replay import ReplayStore
from deltafed.schemas._base import WireModel
from deltafed.schemas.identifiers import MemberId, parse_member_id

__all__ = ["Limits", "ProtocolVerifier"]

_Claims = TypeVar("_Claims", bound=WireModel)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds every verification applies. The defaults are the protocol's.

    ``max_bytes`` bounds the whole compact JWS; ``max_lifetime`` bounds ``exp - iat`` in
    seconds; ``clock_skew`` is the tolerance, in seconds, on both ends of the time window;
    ``algorithms`` is the allow-list of JWS ``alg`` values (by default those of ``crypto``);
    ``crypto`` is the federation's crypto profile: its hash makes the request digest, and an
    algorithm of another profile is refused with ``crypto_profile_mismatch``.
    """

    max_bytes: int = 262_144
    max_lifetime: int = 300
    clock_skew: int = 60
    algorithms: tuple[str, ...] = field(default=INTERNATIONAL.algorithms)
    crypto: CryptoProfile = INTERNATIONAL

    def __post_init__(self) -> None:
        object.__setattr__(self, "crypto", crypto_profile(self.crypto))
        if self.algorithms is INTERNATIONAL.algorithms and self.crypto is not INTERNATIONAL:
            # Not given: the algorithms of the profile.
            object.__setattr__(self, "algorithms", self.crypto.algorithms)
        foreign = [
            a
            for a in self.algorithms
            if (owner := profile_of_algorithm(a)) is not None and owner is not self.crypto
        ]
        if foreign:
            raise ConfigurationError(
                f"algorithm {foreign[0]!r} is not of the {self.crypto.name!r} crypto profile"
            )
        if not 1024 <= self.max_bytes <= 16_777_216:
            raise ConfigurationError("max_bytes must be between 1 KiB and 16 MiB")
        if not 1 <= self.max_lifetime <= 86_400:
            raise ConfigurationError("max_lifetime must be between 1 second and 1 day")
        if not 0 <= self.clock_skew <= 600:
            raise ConfigurationError("clock_skew must be between 0 and 600 seconds")
        if not self.algorithms:
            raise ConfigurationError("at least one algorithm must be allowed")
        bad = [a for a in self.algorithms if a in FORBIDDEN_ALGORITHMS or a.startswith("HS")]
        if bad:
            raise ConfigurationError(f"algorithm {bad[0]!r} can never be allowed")


def _as_bytes(data: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    if isinstance(data, str):
        if not data.isascii():
            raise MalformedMessageError("a compact JWS is ASCII")
        return data.encode("ascii")
    raise MalformedMessageError("a message must be bytes")


class ProtocolVerifier:
    """Verifies the messages addressed to one member.

    ``resolver`` finds the key a member signed with (the trust registry in a node; without
    ``limits``, its crypto profile sets the algorithms and the digest);
    ``audience`` is the member this verifier accepts messages for; ``clock`` is read once per
    verification; ``replay`` remembers request ids (``None`` disables replay protection, for
    a client that only verifies responses).
    """

    def __init__(
        self,
        resolver: KeyResolver,
        audience: str,
        *,
        clock: Clock,
        replay: ReplayStore | None,
        limits: Limits | None = None,
    ) -> None:
        self.resolver = resolver
        try:
            self.audience: MemberId = parse_member_id(audience)
        except InvalidInputError as exc:
            raise ConfigurationError(f"audience is not a member id: {exc.message}") from exc
        self.clock = clock
        self.replay = replay
        # A trust registry says its federation's crypto profile; other resolvers are taken
        # to be international unless the limits say otherwise.
        profile = getattr(resolver, "profile", INTERNATIONAL)
        self.limits = (
            limits
            if limits is not None
            else Limits(crypto=profile if isinstance(profile, CryptoProfile) else INTERNATIONAL)
        )

    # --- the shared steps, in the order of the specification --------------------------------

    def _now(self) -> tuple[datetime, int]:
        now = self.clock()
        if now.tzinfo is None:
            raise ConfigurationError("the clock must return timezone-aware datetimes")
        return now, int(now.timestamp())

    def _authenticate(
        self, raw: bytes, now: datetime, *, iat_required: bool = True
    ) -> tuple[ParsedJws, MemberId]:
        parsed = parse_compact(
            raw,
            max_bytes=self.limits.max_bytes,
            algorithms=self.limits.algorithms,
            crypto=self.limits.crypto,
        )
        claimed = parsed.payload.get("iss")
        if not isinstance(claimed, str):
            raise MalformedMessageError("payload does not name its issuer", field="iss")
        try:
            issuer = member_id(claimed)
        except InvalidInputError as exc:
            raise MalformedMessageError(f"iss: {exc.message}", field="iss") from exc
        at = _signing_time(parsed.payload, now, required=iat_required)
        try:
            verifier = self.resolver.resolve(issuer, parsed.kid, at)
        except DeltafedError:
            raise
        except Exception as exc:  # a plug-in resolver must not leak its errors
            raise InternalError("key resolver failed") from exc
        if verifier.alg != parsed.alg:
            raise AlgorithmNotAllowedError(
                f"key {parsed.kid} is a {verifier.alg} key, the header says {parsed.alg}",
                field="alg",
            )
        if not parsed.signature:
            raise SignatureInvalidError("signature is empty")
        try:
            verifier.verify(parsed.signature, parsed.signing_input)
        except DeltafedError:
            raise
        except Exception as exc:  # a plug-in verifier must not leak its errors
            raise InternalError("signature verifier failed") from exc
        return parsed, issuer

    def _claims(self, parsed: ParsedJws, model: type[_Claims], typ: str) -> _Claims:
        # typ first: it says which schema applies.
        if parsed.typ != typ:
            raise WrongTypeError(f"typ is {parsed.typ!r}, expected {typ!r}", field="typ")
        for name, value in parsed.payload.items():
            if value is None:  # an absent claim is omitted, never null (§3, §4)
                raise MalformedMessageError(f"claims: {name} is null", field=str(name)[:64])
        try:
            return model.parse(parsed.payload)
        except InvalidInputError as exc:
            raise MalformedMessageError(
                f"claims: {exc.message}", field=exc.field or "payload"
            ) from exc

    def _window(self, iat: int, exp: int, now: int) -> None:
        skew = self.limits.clock_skew
        if exp - iat > self.limits.max_lifetime:
            raise LifetimeTooLongError(
                f"lifetime {exp - iat}s exceeds {self.limits.max_lifetime}s", field="exp"
            )
        if iat > now + skew:
            raise NotYetValidError(f"issued {iat - now}s in the future", field="iat")
        if now >= exp + skew:
            raise ExpiredError(f"expired {now - exp}s ago", field="exp")

    def _audience(self, aud: str) -> None:
        if aud != self.audience:
            raise WrongAudienceError(f"addressed to {aud}, not to {self.audience}", field="aud")

    # --- public ------------------------------------------------------------------------------

    def verify_request(self, data: bytes) -> VerifiedRequest:
        """Verify a request received as bytes; raise a :class:`ProtocolError` subclass (or the
        resolver's trust error) for the first check that fails."""
        raw = _as_bytes(data)
        at, now = self._now()
        parsed, _ = self._authenticate(raw, at)
        claims = self._claims(parsed, RequestClaims, REQUEST_TYP)
        self._audience(claims.aud)
        self._window(claims.iat, claims.exp, now)
        digest = self.limits.crypto.digest_text(raw)
        duplicate_of: bytes | None = None
        if self.replay is not None:
            known = self.replay.register(
                _replay_key(claims.iss, claims.jti),
                digest,
                expires_at=claims.exp + self.limits.clock_skew,
                now=now,
            )
            if known is not None:
                if known.digest != digest:
                    raise ReplayError(
                        f"message id {claims.jti} was already used for another request",
                        field="jti",
                    )
                if known.response is None:
                    raise ReplayError(
                        f"request {claims.jti} is already being answered",
                        field="jti",
                        remediation="Retry the identical request later to get its answer.",
                    )
                duplicate_of = known.response
        return VerifiedRequest(
            claims=claims,
            raw=raw,
            digest=digest,
            kid=parsed.kid,
            alg=parsed.alg,
            duplicate_of=duplicate_of,
        )

    def remember_response(self, request: VerifiedRequest, response: bytes) -> None:
        """Keep the signed response to ``request`` so that a retransmission gets it back."""
        if self.replay is not None:
            self.replay.set_response(
                _replay_key(request.claims.iss, request.claims.jti), request.digest, response
            )

    def forget_request(self, request: VerifiedRequest) -> None:
        """Release ``request`` so that its identical retransmission is processed again.

        For a request answered with a transient problem. The message id stays bound to the
        request's digest: a different request reusing it is still refused. A replay store
        without :meth:`ReplayStore.forget` gets an empty response instead, which
        :meth:`verify_request` hands back as ``duplicate_of=b""``: "process again".
        """
        if self.replay is None:
            return
        key = _replay_key(request.claims.iss, request.claims.jti)
        forget = getattr(self.replay, "forget", None)
        if forget is None:
            self.replay.set_response(key, request.digest, b"")
        else:
            forget(key, request.digest)

    def verify_response(self, data: bytes, *, request_raw: bytes) -> VerifiedResponse:
        """Verify the response to the request we sent as ``request_raw``.

        Beyond the signature and time checks, the response must come from the request's
        audience, be addressed to the request's issuer (this verifier's audience), and carry
        the digest and id of exactly ``request_raw``; :class:`BindingMismatchError` if not.
        """
        raw = _as_bytes(data)
        request_raw = _as_bytes(request_raw)
        request = peek_payload(request_raw)
        if request is None:
            raise InvalidInputError("request_raw is not a compact JWS", field="request_raw")
        at, now = self._now()
        parsed, _ = self._authenticate(raw, at)
        claims = self._claims(parsed, ResponseClaims, RESPONSE_TYP)
        self._audience(claims.aud)
        if claims.aud != request.get("iss"):
            raise WrongAudienceError("response is not addressed to the requester", field="aud")
        if claims.iss != request.get("aud"):
            raise WrongIssuerError(
                f"response comes from {claims.iss}, the request went to {request.get('aud')}",
                field="iss",
            )
        self._window(claims.iat, claims.exp, now)
        if claims.req != self.limits.crypto.digest_text(request_raw):
            raise BindingMismatchError("response answers other request bytes", field="req")
        if claims.rid != request.get("jti"):
            raise BindingMismatchError("response names another request id", field="rid")
        return VerifiedResponse(
            claims=claims,
            raw=raw,
            digest=self.limits.crypto.digest_text(raw),
            kid=parsed.kid,
            alg=parsed.alg,
        )

    def verify_document(self, data: bytes, *, typ: str) -> VerifiedDocument:
        """Verify a generic signed document (consent, node metadata) of type ``typ``.

        The key is the one of the member in the payload's ``iss``. If the payload has ``iat``
        or ``exp`` (epoch seconds), the time window is checked as for messages, without the
        lifetime bound; other time fields are the document's business.
        """
        if typ in (REQUEST_TYP, RESPONSE_TYP):
            raise InvalidInputError("use verify_request or verify_response", field="typ")
        raw = _as_bytes(data)
        at, now = self._now()
        parsed, issuer = self._authenticate(raw, at, iat_required=False)
        if parsed.typ != typ:
            raise WrongTypeError(f"typ is {parsed.typ!r}, expected {typ!r}", field="typ")
        try:
            check_wire_value(parsed.payload)
        except InvalidInputError as exc:
            raise MalformedMessageError(f"payload: {exc.message}", field="payload") from exc
        _document_window(parsed.payload, now, self.limits.clock_skew)
        return VerifiedDocument(
            payload=parsed.payload,
            issuer=issuer,
            kid=parsed.kid,
            alg=parsed.alg,
            typ=parsed.typ,
            raw=raw,
        )


#: The last second of the year 9999: the latest signing time a message can state.
MAX_SIGNING_TIME: Final = 253_402_300_799


def _signing_time(payload: dict[str, Any], now: datetime, *, required: bool) -> datetime:
    """The time the key must be valid at (§5.1 step 6): the ``iat`` the signer states, read
    here before the claims are checked; a document that states none is judged at ``now``."""
    iat = payload.get("iat")
    if iat is None and not required:
        return now
    if type(iat) is not int or not 0 <= iat <= MAX_SIGNING_TIME:
        raise MalformedMessageError("iat must be epoch seconds (0 to 253402300799)", field="iat")
    return datetime.fromtimestamp(iat, UTC)


def _replay_key(issuer: str, jti: str) -> str:
    return f"{issuer} {jti}"


def _epoch_claim(payload: dict[str, Any], name: str) -> int | None:
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedMessageError(f"{name} must be epoch seconds", field=name)
    return value


def _document_window(payload: dict[str, Any], now: int, skew: int) -> None:
    iat, exp = _epoch_claim(payload, "iat"), _epoch_claim(payload, "exp")
    if iat is not None and iat > now + skew:
        raise NotYetValidError(f"issued {iat - now}s in the future", field="iat")
    if exp is not None and now >= exp + skew:
        raise ExpiredError(f"expired {now - exp}s ago", field="exp")
