"""The policy decision: may this requester have these fields, under this scenario, now?

:class:`PolicyEngine` answers from the verified registry only, and denies by default. The
checks run in a fixed order, and the first that fails is the answer:

1. the scenario cited exists (:class:`~deltafed.ScenarioUnknownError`);
2. it is in force now and names this requester, this provider region, this operation and
   this certificate or record type (:class:`~deltafed.NotAuthorizedError`);
3. every requested field is one the scenario allows (:class:`~deltafed.FieldNotAllowedError`
   naming the fields - a request is refused, never silently trimmed);
4. when the scenario requires consent, or a consent is carried anyway: a consent is carried
   (:class:`~deltafed.ConsentRequiredError`), its signature is valid under a registry key of a
   member of the requester's region, and it covers the holder, scenario, requester, operation
   and fields at this time and within the scenario's longest consent
   (:class:`~deltafed.ConsentInvalidError`, :class:`~deltafed.ConsentExpiredError`).

The engine does no I/O and reads the time once per decision from its injected clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from deltafed._clock import Clock
from deltafed._errors import (
    ConfigurationError,
    ConsentInvalidError,
    ConsentRequiredError,
    FieldNotAllowedError,
    InvalidInputError,
    NotAuthorizedError,
)
from deltafed._profile import INTERNATIONAL
from deltafed.keys import KeyResolver
from deltafed.policy._consent import verify_consent
from deltafed.protocol import Limits, ProtocolVerifier, RequestClaims
from deltafed.schemas.catalogue import UseScenario
from deltafed.schemas.common import HolderType
from deltafed.schemas.consent import Consent
from deltafed.schemas.identifiers import PROVINCES, MemberId, parse_member_id

__all__ = ["Decision", "PolicyEngine", "PolicyRequest", "ScenarioSource"]

_FIELD_OPERATIONS = frozenset({"certificate.release", "record.request"})


@runtime_checkable
class ScenarioSource(KeyResolver, Protocol):
    """What the engine reads: scenarios and member keys (a :class:`TrustedRegistry`)."""

    def scenario(self, scenario_id: str) -> UseScenario: ...


@dataclass(frozen=True, slots=True)
class PolicyRequest:
    """What a decision is about, taken from a verified request and its parsed body.

    ``holder_code``/``holder_type`` name the holder (or record subject) when the request
    does; a certificate named by identifier leaves them ``None`` until it has been looked up
    (see :meth:`Decision.confirm_holder`). ``fields`` is empty for a verification.
    """

    requester: MemberId
    operation: str
    target: str
    scenario: str
    fields: tuple[str, ...] = ()
    holder_code: str | None = None
    holder_type: HolderType | None = None
    consent: str | None = None

    @classmethod
    def from_claims(
        cls,
        claims: RequestClaims,
        *,
        fields: tuple[str, ...] = (),
        holder_code: str | None = None,
        holder_type: HolderType | None = None,
    ) -> PolicyRequest:
        return cls(
            requester=claims.iss,
            operation=claims.op,
            target=claims.tgt,
            scenario=claims.scn,
            fields=tuple(fields),
            holder_code=holder_code,
            holder_type=holder_type,
            consent=claims.cns,
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """A permitted request: exactly what may be released, and on which grounds."""

    scenario: UseScenario
    requester: MemberId
    operation: str
    target: str
    #: The fields to release: exactly those requested, all allowed (empty for verification).
    fields: tuple[str, ...]
    #: The verified consent, when the scenario requires one.
    consent: Consent | None
    decided_at: datetime

    def confirm_holder(self, holder_code: str, holder_type: HolderType | str | None = None) -> None:
        """Check the consent is the holder's, once a certificate named by identifier is found.

        Does nothing when no consent was needed. Raises :class:`~deltafed.ConsentInvalidError`
        when the certificate belongs to someone else than the consent's holder.
        """
        if self.consent is None:
            return
        if holder_code.upper() != self.consent.holder_code:
            raise ConsentInvalidError("the consent is for another holder", field="holder_code")
        if holder_type is not None and HolderType(holder_type) is not self.consent.holder_type:
            raise ConsentInvalidError(
                "the consent is for another type of holder", field="holder_type"
            )


class PolicyEngine:
    """Decides requests addressed to a member of ``provider_region`` (default deny).

    ``registry`` is the verified registry (scenarios, and member keys for checking consent
    signatures); ``clock`` is read once per decision.
    """

    def __init__(
        self,
        registry: ScenarioSource,
        *,
        provider_region: str,
        clock: Clock,
        limits: Limits | None = None,
    ) -> None:
        if provider_region not in PROVINCES:
            raise ConfigurationError(f"{provider_region!r} is not a province-level region code")
        self.provider_region: str = provider_region
        self.registry = registry
        self.clock = clock
        # A TrustedRegistry says its crypto profile; a plain ScenarioSource is international.
        profile = getattr(registry, "profile", INTERNATIONAL)
        self._limits = limits if limits is not None else Limits(crypto=profile)
        # The audience is irrelevant for documents; any member id of the region will do.
        self._consents = ProtocolVerifier(
            registry, f"{provider_region}/policy", clock=clock, replay=None, limits=self._limits
        )

    def decide(self, request: PolicyRequest) -> Decision:
        """Permit ``request`` and say what to release, or raise the :class:`PolicyError`
        subclass of the first check that fails (see the module docstring)."""
        now = self.clock()
        scenario, requester, fields = self._screen(request, now)
        consent: Consent | None = None
        # A consent that is carried is checked, required or not (protocol §5.5): what a signed
        # request holds is evidence in both audit logs, and an unchecked one would look checked.
        if scenario.consent_required or request.consent is not None:
            consent = self._consent(scenario, request, requester, fields, now)
        return Decision(
            scenario=scenario,
            requester=requester,
            operation=request.operation,
            target=request.target,
            fields=fields,
            consent=consent,
            decided_at=now,
        )

    def screen(self, request: PolicyRequest) -> UseScenario:
        """Checks 1 to 3 only (scenario, parties, operation, target, fields): what the registry
        alone decides, before any consent or data. A requester runs them before sending."""
        scenario, _, _ = self._screen(request, self.clock())
        return scenario

    def _screen(
        self, request: PolicyRequest, now: datetime
    ) -> tuple[UseScenario, MemberId, tuple[str, ...]]:
        if now.tzinfo is None:
            raise ConfigurationError("the clock must return timezone-aware datetimes")
        scenario = self.registry.scenario(request.scenario)
        requester = parse_member_id(request.requester)
        if not scenario.in_force(now):
            raise NotAuthorizedError(
                f"scenario {scenario.id} is not in force at {now.isoformat()}", field="scn"
            )
        if not scenario.permits(
            requester, self.provider_region, request.operation, request.target, at=now
        ):
            raise NotAuthorizedError(
                f"scenario {scenario.id} does not let {requester} perform {request.operation} "
                f"on {request.target} in region {self.provider_region}",
                field="scn",
            )
        fields = tuple(request.fields)
        if request.operation in _FIELD_OPERATIONS and not fields:
            raise InvalidInputError("ask for at least one field", field="body.fields")
        outside = scenario.disallowed_fields(fields)
        if outside:
            raise FieldNotAllowedError(
                f"scenario {scenario.id} does not allow the field(s) {', '.join(outside)}",
                field="body.fields",
                remediation="Ask only for the fields the scenario lists in allowed_fields.",
            )
        return scenario, requester, fields

    def _consent(
        self,
        scenario: UseScenario,
        request: PolicyRequest,
        requester: MemberId,
        fields: tuple[str, ...],
        now: datetime,
    ) -> Consent:
        if request.consent is None:
            raise ConsentRequiredError(
                f"scenario {scenario.id} requires the holder's consent",
                field="cns",
                remediation="Carry the holder's signed consent in the request's cns claim.",
            )
        consent = verify_consent(self._consents, request.consent)
        if consent.issuer.region != requester.region:
            raise ConsentInvalidError(
                "the consent must be issued by a member of the requester's region",
                field="cns.issuer",
            )
        if scenario.max_consent_days is not None and consent.lifetime > timedelta(
            days=scenario.max_consent_days
        ):
            raise ConsentInvalidError(
                f"scenario {scenario.id} accepts consents of at most "
                f"{scenario.max_consent_days} days",
                field="cns.expires_at",
            )
        if request.holder_type is not None and request.holder_type != consent.holder_type:
            raise ConsentInvalidError(
                "the consent is for another type of holder", field="holder_type"
            )
        # A certificate named by identifier has no holder yet: every other part of the consent
        # is checked now, the holder by Decision.confirm_holder once the certificate is found.
        holder = request.holder_code if request.holder_code is not None else consent.holder_code
        consent.require_covers(
            holder,
            scenario.id,
            fields,
            now,
            operation=request.operation,
            requester=requester,
        )
        return consent
