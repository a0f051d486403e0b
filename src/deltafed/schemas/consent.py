"""A holder's consent to release some fields, to one requester, for one scenario.

The requesting region records the consent (its member is the ``issuer``) and the protocol
carries it signed; this module only says what a consent is and what it covers. A consent covers
a request when the holder, the scenario, the requester, the operation and every requested field
match and the time falls in ``[issued_at, expires_at)``. ``explicit_request`` records that the
person asked for the exchange themselves (as in the EU once-only system).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Annotated, Final, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from deltafed._errors import ConsentExpiredError, ConsentInvalidError, InvalidInputError
from deltafed.schemas._base import Code, Timestamp, WireBool, WireModel
from deltafed.schemas._checks import fail, fail_at, holder_code_after_type, no_duplicates
from deltafed.schemas.catalogue import MAX_FIELDS
from deltafed.schemas.common import HolderType, Operation
from deltafed.schemas.identifiers import MemberId, parse_member_id

__all__ = ["MAX_CONSENT_LIFETIME", "Consent"]

#: Longest lifetime of any consent; a scenario may allow less.
MAX_CONSENT_LIFETIME: Final = timedelta(days=3650)


def _aware(at: datetime) -> datetime:
    if not isinstance(at, datetime) or at.utcoffset() is None:
        raise InvalidInputError("the time must be a timezone-aware datetime", field="at")
    return at


class Consent(WireModel):
    """A holder's consent (see the module docstring for what it covers)."""

    id: Code
    holder_type: HolderType
    #: Resident identity number (type ``111``) or credit code (type ``001``) of the holder.
    holder_code: Annotated[str, Field(min_length=1, max_length=18)]
    scenario: Code
    #: The member (or organisation) the holder allows to receive the data.
    requester: MemberId
    #: The fields the holder agreed to release.
    scope: Annotated[tuple[Code, ...], Field(min_length=1, max_length=MAX_FIELDS)]
    operations: Annotated[tuple[Operation, ...], Field(min_length=1, max_length=3)]
    issued_at: Timestamp
    expires_at: Timestamp
    #: The person explicitly asked for the exchange.
    explicit_request: WireBool
    #: The requesting region's member that recorded the consent.
    issuer: MemberId

    @field_validator("holder_code")
    @classmethod
    def _check_holder_code(cls, value: str, info: ValidationInfo) -> str:
        return holder_code_after_type(value, info, "holder_type")

    @field_validator("scope")
    @classmethod
    def _unique_scope(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        no_duplicates(value, "field")
        return value

    @field_validator("operations")
    @classmethod
    def _unique_operations(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        no_duplicates(value, "operation")
        return value

    @field_validator("expires_at")
    @classmethod
    def _after_issue(cls, value: datetime, info: ValidationInfo) -> datetime:
        issued = info.data.get("issued_at")
        if issued is not None:
            if value <= issued:
                raise fail("window", "expires_at must be after issued_at")
            if value - issued > MAX_CONSENT_LIFETIME:
                raise fail("lifetime", f"a consent lives at most {MAX_CONSENT_LIFETIME.days} days")
        return value

    @model_validator(mode="after")
    def _issuer_in_requesting_region(self) -> Self:
        if self.issuer.region != self.requester.region:
            raise fail_at(
                ("issuer",),
                fail("region_mismatch", "the issuer must be a member of the requester's region"),
                str(self.issuer),
            )
        return self

    @property
    def lifetime(self) -> timedelta:
        return self.expires_at - self.issued_at

    def _refusal(
        self,
        holder_code: str,
        scenario: str,
        fields: Iterable[str],
        at: datetime,
        operation: str | None,
        requester: str | None,
    ) -> ConsentInvalidError | ConsentExpiredError | None:
        _aware(at)
        if isinstance(fields, str):
            raise InvalidInputError("fields must be a sequence of field names", field="fields")
        if not isinstance(holder_code, str) or holder_code.upper() != self.holder_code:
            return ConsentInvalidError("the consent is for another holder", field="holder_code")
        if scenario != self.scenario:
            return ConsentInvalidError("the consent is for another scenario", field="scenario")
        if requester is not None:
            try:
                member = parse_member_id(requester)
            except InvalidInputError:
                member = None
            if member is None or self.requester not in (member, member.organisation):
                return ConsentInvalidError(
                    "the consent is for another requester", field="requester"
                )
        if operation is not None and operation not in self.operations:
            return ConsentInvalidError(
                "the consent does not cover this operation", field="operation"
            )
        outside = sorted(set(fields) - set(self.scope))
        if outside:
            return ConsentInvalidError(
                f"the consent does not cover the fields {', '.join(outside)}", field="fields"
            )
        if at < self.issued_at:
            return ConsentInvalidError("the consent is not yet in force", field="issued_at")
        if at >= self.expires_at:
            return ConsentExpiredError("the consent has expired", field="expires_at")
        return None

    def covers(
        self,
        holder_code: str,
        scenario: str,
        fields: Iterable[str],
        at: datetime,
        *,
        operation: str | None = None,
        requester: MemberId | str | None = None,
    ) -> bool:
        """Whether this consent covers releasing ``fields`` of ``holder_code`` at ``at``.

        ``operation`` and ``requester``, when given, must also be covered; the requester
        matches when it is the consent's requester or one of that organisation's systems.
        ``at`` comes from the caller's injected clock and must be timezone-aware.
        """
        return self._refusal(holder_code, scenario, fields, at, operation, requester) is None

    def require_covers(
        self,
        holder_code: str,
        scenario: str,
        fields: Iterable[str],
        at: datetime,
        *,
        operation: str | None = None,
        requester: MemberId | str | None = None,
    ) -> None:
        """Like :meth:`covers`, but raise why not: :class:`~deltafed.ConsentExpiredError`
        after expiry, :class:`~deltafed.ConsentInvalidError` for any other mismatch."""
        refusal = self._refusal(holder_code, scenario, fields, at, operation, requester)
        if refusal is not None:
            raise refusal
