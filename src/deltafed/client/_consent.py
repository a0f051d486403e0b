"""Issuing a holder's consent, on the requesting side."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from deltafed._errors import InvalidInputError
from deltafed.keys import Signer
from deltafed.policy import sign_consent
from deltafed.schemas._checks import parse_holder_type
from deltafed.schemas.common import HolderType
from deltafed.schemas.consent import Consent

__all__ = ["issue_consent"]


def issue_consent(
    signer: Signer,
    *,
    issuer: str,
    holder_type: HolderType | str,
    holder_code: str,
    scenario: str,
    requester: str,
    scope: Sequence[str],
    operations: Sequence[str],
    now: datetime,
    lifetime: timedelta,
    explicit_request: bool = True,
    consent_id: str | None = None,
) -> bytes:
    """Record and sign a holder's consent; the compact JWS to carry in requests.

    ``issuer`` is the member of the requesting region that recorded the consent and whose
    key ``signer`` is; ``requester`` the member (or organisation) allowed to receive the
    ``scope`` fields for ``operations`` under ``scenario``, from ``now`` for ``lifetime``.
    """
    if now.tzinfo is None:
        raise InvalidInputError("'now' must be timezone-aware", field="now")
    if isinstance(scope, str) or isinstance(operations, str):
        raise InvalidInputError("scope and operations are sequences of names", field="scope")
    consent = Consent.parse(
        {
            "id": consent_id if consent_id is not None else "c-" + secrets.token_hex(8),
            "holder_type": parse_holder_type(holder_type).value,
            "holder_code": holder_code,
            "scenario": scenario,
            "requester": requester,
            "scope": list(scope),
            "operations": list(operations),
            "issued_at": now.isoformat(),
            "expires_at": (now + lifetime).isoformat(),
            "explicit_request": explicit_request,
            "issuer": issuer,
        }
    )
    return sign_consent(consent, signer)
