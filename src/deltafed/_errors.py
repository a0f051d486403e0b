"""The one exception tree of deltafed.

Every error raised from the public API is a :class:`DeltafedError`. Each class carries a
stable machine ``code`` (never renamed once released), the HTTP ``status`` a node answers it
with when it becomes a signed problem, and optionally the ``field`` it concerns and a human
``remediation``. Foreign exceptions (pydantic, httpx, cryptography) are translated at
the boundary and chained with ``from``.

Untrusted input failures sit apart from communication failures, so a caller can tell "the
peer sent us something bad" from "we could not reach the peer"::

    DeltafedError                          deltafed_error
    ├── InvalidInputError                  invalid_input
    │   ├── IdentifierError                invalid_identifier
    │   ├── SchemaValidationError          schema_violation
    │   ├── SizeLimitError                 too_large
    │   └── MethodNotAllowedError          method_not_allowed
    ├── ProtocolError                      protocol_error
    │   ├── MalformedMessageError          malformed_message
    │   ├── AlgorithmNotAllowedError       algorithm_not_allowed
    │   │   └── CryptoProfileMismatchError crypto_profile_mismatch
    │   ├── UnknownKeyError                unknown_key
    │   ├── SignatureInvalidError          bad_signature
    │   ├── WrongTypeError                 wrong_type
    │   ├── WrongAudienceError             wrong_audience
    │   ├── WrongIssuerError               wrong_issuer
    │   ├── ExpiredError                   expired
    │   ├── NotYetValidError               not_yet_valid
    │   ├── LifetimeTooLongError           lifetime_too_long
    │   ├── ReplayError                    replay
    │   │   └── ReplayCapacityError        replay_capacity
    │   └── BindingMismatchError           binding_mismatch
    ├── TrustError                         trust_error
    │   ├── RegistryInvalidError           registry_invalid
    │   ├── ThresholdNotMetError           threshold_not_met
    │   ├── RollbackError                  rollback
    │   ├── RegistryExpiredError           registry_expired
    │   ├── KeyCompromisedError            key_compromised
    │   ├── KeyNotValidError               key_not_valid
    │   └── UnknownMemberError             unknown_member
    ├── PolicyError                        policy_error
    │   ├── ScenarioUnknownError           scenario_unknown
    │   ├── NotAuthorizedError             not_authorized
    │   ├── FieldNotAllowedError           field_not_allowed
    │   ├── ConsentRequiredError           consent_required
    │   ├── ConsentInvalidError            consent_invalid
    │   ├── ConsentExpiredError            consent_expired
    │   └── RateLimitedError               rate_limited
    ├── NotFoundError                      not_found
    ├── AdapterError                       adapter_error
    │   ├── AdapterUnavailableError        adapter_unavailable
    │   ├── AdapterTimeoutError            adapter_timeout
    │   ├── AdapterAuthError               adapter_auth_failed
    │   ├── AdapterQuotaError              adapter_quota_exceeded
    │   └── AdapterDataError               adapter_bad_data
    ├── CommunicationError                 communication_error
    │   ├── TransportError                 transport_error
    │   ├── PeerTimeoutError                  timeout
    │   └── PeerProblemError               peer_problem
    ├── AuditError                         audit_error
    │   └── AuditIntegrityError            audit_integrity
    ├── ConfigurationError                 configuration_error
    │   ├── CalendarError                  calendar_unknown_year
    │   └── CryptoUnavailableError         crypto_unavailable
    ├── NotSupportedError                  not_supported
    └── InternalError                      internal_error

The codes of the classes a peer can send back are the closed list of problem codes of the
protocol (see ``docs/protocol.md``); :func:`error_for_code` maps a received code back to its
class.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AdapterAuthError",
    "AdapterDataError",
    "AdapterError",
    "AdapterQuotaError",
    "AdapterTimeoutError",
    "AdapterUnavailableError",
    "AlgorithmNotAllowedError",
    "AuditError",
    "AuditIntegrityError",
    "BindingMismatchError",
    "CalendarError",
    "CommunicationError",
    "ConfigurationError",
    "ConsentExpiredError",
    "ConsentInvalidError",
    "ConsentRequiredError",
    "CryptoProfileMismatchError",
    "CryptoUnavailableError",
    "DeltafedError",
    "ExpiredError",
    "FieldNotAllowedError",
    "IdentifierError",
    "InternalError",
    "InvalidInputError",
    "KeyCompromisedError",
    "KeyNotValidError",
    "LifetimeTooLongError",
    "MalformedMessageError",
    "MethodNotAllowedError",
    "NotAuthorizedError",
    "NotFoundError",
    "NotSupportedError",
    "NotYetValidError",
    "PeerProblemError",
    "PeerTimeoutError",
    "PolicyError",
    "ProtocolError",
    "RateLimitedError",
    "RegistryExpiredError",
    "RegistryInvalidError",
    "ReplayCapacityError",
    "ReplayError",
    "RollbackError",
    "ScenarioUnknownError",
    "SchemaValidationError",
    "SignatureInvalidError",
    "SizeLimitError",
    "ThresholdNotMetError",
    "TransportError",
    "TrustError",
    "UnknownKeyError",
    "UnknownMemberError",
    "WrongAudienceError",
    "WrongIssuerError",
    "WrongTypeError",
    "all_error_classes",
    "error_for_code",
]


class DeltafedError(Exception):
    """Root of every error deltafed raises.

    ``code`` is stable and machine-readable; ``status`` is the HTTP status a node uses when it
    answers this error as a problem; ``field`` names the offending input field, if any.
    """

    code: ClassVar[str] = "deltafed_error"
    status: ClassVar[int] = 500
    default_remediation: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        remediation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.remediation = remediation if remediation is not None else self.default_remediation

    def __str__(self) -> str:
        where = f" [{self.field}]" if self.field else ""
        return f"{self.code}{where}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, field={self.field!r}, {self.message!r})"


# --- untrusted input -------------------------------------------------------------------------


class InvalidInputError(DeltafedError):
    """Input failed validation; nothing was changed."""

    code = "invalid_input"
    status = 400

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        remediation: str | None = None,
        reason: str | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message, field=field, remediation=remediation)
        #: The reason for the first failing field, without the model name.
        self.reason = reason if reason is not None else message
        #: A finer machine code for the failure (``identifier_resident_check``, ``missing``...).
        self.error_type = error_type


class IdentifierError(InvalidInputError):
    """An identifier (identity number, credit code, certificate id, ...) is malformed."""

    code = "invalid_identifier"


class SchemaValidationError(InvalidInputError):
    """A document does not match its schema (missing, extra or ill-typed field)."""

    code = "schema_violation"


class SizeLimitError(InvalidInputError):
    """Input exceeds a configured size limit."""

    code = "too_large"
    status = 413


class MethodNotAllowedError(InvalidInputError):
    """The HTTP method is not the one the endpoint takes."""

    code = "method_not_allowed"
    status = 405


# --- signed protocol -------------------------------------------------------------------------


class ProtocolError(DeltafedError):
    """A signed message failed verification."""

    code = "protocol_error"
    status = 400


class MalformedMessageError(ProtocolError):
    """Not a well-formed message of the protocol (structure, encoding, claims)."""

    code = "malformed_message"


class AlgorithmNotAllowedError(ProtocolError):
    """The ``alg`` is not on the allow-list, or is not the key's algorithm."""

    code = "algorithm_not_allowed"


class CryptoProfileMismatchError(AlgorithmNotAllowedError):
    """The ``alg`` belongs to another crypto profile than the federation's (see ``gm``)."""

    code = "crypto_profile_mismatch"
    default_remediation = (
        "Sign with the algorithms of the federation's crypto profile (its registry says which)."
    )


class UnknownKeyError(ProtocolError):
    """The issuer has no key with this key id."""

    code = "unknown_key"
    status = 401


class SignatureInvalidError(ProtocolError):
    """The signature does not verify."""

    code = "bad_signature"
    status = 401


class WrongTypeError(ProtocolError):
    """The JWS ``typ`` is not the one this kind of message must carry."""

    code = "wrong_type"


class WrongAudienceError(ProtocolError):
    """The message is addressed to another member."""

    code = "wrong_audience"
    status = 401


class WrongIssuerError(ProtocolError):
    """The message comes from another member than the one expected."""

    code = "wrong_issuer"
    status = 401


class ExpiredError(ProtocolError):
    """The message is past its expiry plus the allowed clock skew."""

    code = "expired"
    status = 401


class NotYetValidError(ProtocolError):
    """The message was issued further in the future than the clock skew allows."""

    code = "not_yet_valid"
    status = 401


class LifetimeTooLongError(ProtocolError):
    """The message's lifetime (``exp - iat``) exceeds the maximum."""

    code = "lifetime_too_long"


class ReplayError(ProtocolError):
    """The message id was already used with other bytes, or is still being answered."""

    code = "replay"
    status = 409


class ReplayCapacityError(ReplayError):
    """The replay store is full of unexpired messages; the message was refused, not forgotten."""

    code = "replay_capacity"
    status = 503
    default_remediation = "Retry after some messages expired, or raise the store's max_entries."


class BindingMismatchError(ProtocolError):
    """A response is not bound to the request it claims to answer."""

    code = "binding_mismatch"


# --- federation trust ------------------------------------------------------------------------


class TrustError(DeltafedError):
    """The trust registry or a key in it cannot be trusted."""

    code = "trust_error"
    status = 401


class RegistryInvalidError(TrustError):
    """The registry document is malformed or its signatures cannot be read."""

    code = "registry_invalid"


class ThresholdNotMetError(TrustError):
    """Fewer valid trust anchor signatures than the threshold requires."""

    code = "threshold_not_met"


class RollbackError(TrustError):
    """A registry older than (or different at the same version as) one already trusted."""

    code = "rollback"


class RegistryExpiredError(TrustError):
    """The registry is past its expiry and its grace period."""

    code = "registry_expired"
    default_remediation = "Refresh the registry from the trust anchor's publication point."


class KeyCompromisedError(TrustError):
    """The key was used at or after the time it was declared compromised."""

    code = "key_compromised"


class KeyNotValidError(TrustError):
    """The key exists but was not valid at the time of use."""

    code = "key_not_valid"


class UnknownMemberError(TrustError):
    """The member is not in the trusted registry."""

    code = "unknown_member"
    status = 403


# --- policy ----------------------------------------------------------------------------------


class PolicyError(DeltafedError):
    """The request is well formed and authentic but not allowed (default deny)."""

    code = "policy_error"
    status = 403


class ScenarioUnknownError(PolicyError):
    """The use scenario cited is not in the scenario list."""

    code = "scenario_unknown"


class NotAuthorizedError(PolicyError):
    """The scenario does not allow this requester, region, operation or target."""

    code = "not_authorized"


class FieldNotAllowedError(PolicyError):
    """A field asked for is outside what the scenario allows; nothing is trimmed."""

    code = "field_not_allowed"


class ConsentRequiredError(PolicyError):
    """The scenario requires the holder's consent and none was carried."""

    code = "consent_required"


class ConsentInvalidError(PolicyError):
    """The consent does not verify, or does not cover this request."""

    code = "consent_invalid"


class ConsentExpiredError(PolicyError):
    """The consent has expired."""

    code = "consent_expired"


class RateLimitedError(PolicyError):
    """Too many questions from this requester under this scenario; ask again later."""

    code = "rate_limited"
    status = 429


# --- data ------------------------------------------------------------------------------------


class NotFoundError(DeltafedError):
    """No certificate or record matches the request."""

    code = "not_found"
    status = 404


class AdapterError(DeltafedError):
    """The province's native platform failed to give a usable answer."""

    code = "adapter_error"
    status = 502


class AdapterUnavailableError(AdapterError):
    """The province's platform is unavailable (5xx, connection refused, ...)."""

    code = "adapter_unavailable"
    status = 503


class AdapterTimeoutError(AdapterError):
    """The province's platform did not answer in time."""

    code = "adapter_timeout"
    status = 504


class AdapterAuthError(AdapterError):
    """The node could not authenticate to its province's platform."""

    code = "adapter_auth_failed"


class AdapterQuotaError(AdapterError):
    """The province's platform refused for quota; try later."""

    code = "adapter_quota_exceeded"
    status = 503


class AdapterDataError(AdapterError):
    """The province's platform answered data that does not fit the schemas."""

    code = "adapter_bad_data"


# --- communication ---------------------------------------------------------------------------


class CommunicationError(DeltafedError):
    """We could not exchange a message with a peer."""

    code = "communication_error"
    status = 502


class TransportError(CommunicationError):
    """The connection to the peer failed or it answered without a signed message."""

    code = "transport_error"


class PeerTimeoutError(CommunicationError):
    """The peer did not answer in time."""

    code = "timeout"
    status = 504


class PeerProblemError(CommunicationError):
    """The peer answered with a signed problem; ``problem_code`` is the code it sent."""

    code = "peer_problem"

    def __init__(
        self,
        message: str,
        *,
        problem_code: str,
        field: str | None = None,
        remediation: str | None = None,
        peer_status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, field=field, remediation=remediation)
        #: The code of the problem the peer sent (``not_authorized``, ``expired``, ...).
        self.problem_code = problem_code
        #: The HTTP status the peer gave its problem, if known.
        self.peer_status = peer_status
        #: The id of the request the problem answers, if the peer named it.
        self.request_id = request_id


# --- audit, configuration --------------------------------------------------------------------


class AuditError(DeltafedError):
    """The audit log could not be written or read."""

    code = "audit_error"


class AuditIntegrityError(AuditError):
    """The audit log was modified; ``position`` is the first entry that fails, if known."""

    code = "audit_integrity"

    def __init__(
        self, message: str, *, position: int | None = None, kind: str | None = None
    ) -> None:
        super().__init__(message)
        #: The first entry (sequence number) that fails, if known.
        self.position = position
        #: What was found there: ``modified``, ``deleted``, ``reordered``, ``truncated``, ...
        self.kind = kind


class ConfigurationError(DeltafedError):
    """The configuration, a key file or an argument is unusable."""

    code = "configuration_error"


class CalendarError(ConfigurationError):
    """The working-day calendar does not know the year asked about: no deadline is guessed."""

    code = "calendar_unknown_year"


class NotSupportedError(DeltafedError):
    """An optional capability (such as an adapter hook) this implementation does not offer."""

    code = "not_supported"
    status = 501


class CryptoUnavailableError(ConfigurationError):
    """The crypto profile needs an implementation that is not installed (SM2: ``deltafed[gm]``)."""

    code = "crypto_unavailable"
    default_remediation = "Install the extra: pip install 'deltafed[gm]'."


class InternalError(DeltafedError):
    """A bug or unexpected failure; what a peer sees of it is this code and nothing more."""

    code = "internal_error"


def all_error_classes() -> list[type[DeltafedError]]:
    """Every error class in the tree, root first, in definition order."""
    seen: list[type[DeltafedError]] = []
    todo: list[type[DeltafedError]] = [DeltafedError]
    while todo:
        cls = todo.pop(0)
        if cls not in seen:
            seen.append(cls)
            todo.extend(cls.__subclasses__())
    return seen


def error_for_code(code: str) -> type[DeltafedError]:
    """The error class whose stable code is ``code``; :class:`DeltafedError` if unknown."""
    for cls in all_error_classes():
        if cls.code == code:
            return cls
    return DeltafedError
