"""The problem a node answers with when it refuses or fails a request.

A :class:`Problem` carries one code of a closed list, :data:`ProblemCode`: the stable codes of
the errors a peer can send back (the whole error tree except the failures that only make sense
locally: communication, audit and configuration). Anything else, including a bug, becomes
``internal_error`` with a generic text: no traceback or internal detail ever leaves the node.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, Self, get_args

from pydantic import Field, StringConstraints, model_validator

from deltafed._errors import DeltafedError, InternalError, PeerProblemError, error_for_code
from deltafed.schemas._base import LongText, Text, WireModel
from deltafed.schemas.common import RequestId

__all__ = ["LOCAL_ONLY_CODES", "PROBLEM_CODES", "Problem", "ProblemCode"]

#: Every error code a peer can send back.
ProblemCode = Literal[
    "deltafed_error",
    "invalid_input",
    "invalid_identifier",
    "schema_violation",
    "too_large",
    "method_not_allowed",
    "protocol_error",
    "malformed_message",
    "algorithm_not_allowed",
    "crypto_profile_mismatch",
    "unknown_key",
    "bad_signature",
    "wrong_type",
    "wrong_audience",
    "wrong_issuer",
    "expired",
    "not_yet_valid",
    "lifetime_too_long",
    "replay",
    "replay_capacity",
    "binding_mismatch",
    "trust_error",
    "registry_invalid",
    "threshold_not_met",
    "rollback",
    "registry_expired",
    "key_compromised",
    "key_not_valid",
    "unknown_member",
    "policy_error",
    "scenario_unknown",
    "not_authorized",
    "field_not_allowed",
    "consent_required",
    "consent_invalid",
    "consent_expired",
    "rate_limited",
    "not_found",
    "adapter_error",
    "adapter_unavailable",
    "adapter_timeout",
    "adapter_auth_failed",
    "adapter_quota_exceeded",
    "adapter_bad_data",
    "internal_error",
]

#: :data:`ProblemCode` as a set.
PROBLEM_CODES: Final[frozenset[str]] = frozenset(get_args(ProblemCode))

#: Codes of errors that describe our own side of an exchange; a peer never sends them.
LOCAL_ONLY_CODES: Final[frozenset[str]] = frozenset(
    {
        "communication_error",
        "transport_error",
        "timeout",
        "peer_problem",
        "audit_error",
        "audit_integrity",
        "configuration_error",
        "calendar_unknown_year",
        "not_supported",
        "crypto_unavailable",
    }
)

_GENERIC_TITLE: Final = "Internal error"
_GENERIC_DETAIL: Final = "The node could not complete the request."
_FIELD_MAX: Final = 256


def _clip(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _title(code: str) -> str:
    return code.replace("_", " ").capitalize()


class Problem(WireModel):
    """A refusal or failure, as a node sends it back (after RFC 9457's problem details)."""

    code: ProblemCode
    #: A short human summary of the code.
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    #: The HTTP status the node answers with.
    status: Annotated[int, Field(strict=True, ge=400, le=599)]
    detail: LongText | None = None
    #: The path of the offending request field, if one is to blame.
    field: Annotated[str, StringConstraints(max_length=_FIELD_MAX)] | None = None
    #: What the requester can do about it.
    remediation: Text | None = None
    request_id: RequestId | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_null_members(cls, data: Any) -> Any:
        # On the wire an optional member is absent, never null (protocol §4.1).
        if isinstance(data, dict):
            for name, value in data.items():
                if value is None:
                    raise ValueError(f"problem member {name!r} is null; omit it instead")
        return data

    @model_validator(mode="after")
    def _status_of_its_code(self) -> Self:
        expected = error_for_code(self.code).status
        if self.status != expected:
            raise ValueError(f"a {self.code} problem has status {expected}, not {self.status}")
        return self

    @classmethod
    def from_error(cls, exc: BaseException, request_id: str | None = None) -> Self:
        """The problem to send for ``exc``.

        A :class:`~deltafed.DeltafedError` a peer may see keeps its code, message, field and
        remediation. An :class:`~deltafed.InternalError`, an error that only concerns this
        node, or any other exception becomes a bare ``internal_error``: nothing of its text,
        type or traceback is disclosed.
        """
        if (
            not isinstance(exc, DeltafedError)
            or isinstance(exc, InternalError)
            or exc.code not in PROBLEM_CODES
        ):
            members: dict[str, Any] = {
                "code": "internal_error",
                "title": _GENERIC_TITLE,
                "status": 500,
                "detail": _GENERIC_DETAIL,
                "request_id": request_id,
            }
        else:
            members = {
                "code": exc.code,
                "title": _title(exc.code),
                "status": exc.status,
                "detail": _clip(exc.message, 2000),
                "field": _clip(exc.field, _FIELD_MAX),
                "remediation": _clip(exc.remediation, 200),
                "request_id": request_id,
            }
        return cls.model_validate({k: v for k, v in members.items() if v is not None})

    @property
    def error_class(self) -> type[DeltafedError]:
        """The error class whose code this problem carries."""
        return error_for_code(self.code)

    def to_error(self) -> PeerProblemError:
        """The error a requester raises on receiving this problem (``problem_code`` = code)."""
        message = f"peer answered {self.code} ({self.status}): {self.title}"
        if self.detail:
            message += f": {self.detail}"
        return PeerProblemError(
            message,
            problem_code=self.code,
            field=self.field,
            remediation=self.remediation,
            peer_status=self.status,
            request_id=self.request_id,
        )
