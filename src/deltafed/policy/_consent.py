"""The signed consent document: a :class:`~deltafed.schemas.Consent` wrapped in a compact JWS.

The requesting region records a holder's consent and signs it with the key of one of its
members (the consent's ``issuer``); the requester carries the compact JWS in the request's
``cns`` claim. The payload is ``{"iss": <issuer>, "consent": <Consent>}`` in RFC 8785 canonical
form, under the protected header ``typ`` ``deltafed-consent+jws``. The payload carries no
``iat``/``exp`` claims: the consent's own ``issued_at``/``expires_at`` bound it, so that an
expired consent is refused as ``consent_expired``, not as an expired message.
"""

from __future__ import annotations

from typing import Final

from deltafed._errors import (
    ConsentInvalidError,
    DeltafedError,
    InvalidInputError,
)
from deltafed.keys import Signer
from deltafed.protocol import ProtocolVerifier, sign_document
from deltafed.schemas.consent import Consent

__all__ = ["CONSENT_TYP", "consent_payload", "sign_consent", "verify_consent"]

#: ``typ`` of a signed consent.
CONSENT_TYP: Final = "deltafed-consent+jws"


def consent_payload(consent: Consent) -> dict[str, object]:
    """The JWS payload of ``consent``."""
    return {"iss": str(consent.issuer), "consent": consent.to_wire()}


def sign_consent(consent: Consent, signer: Signer) -> bytes:
    """The compact JWS of ``consent``, signed by its issuer's key."""
    if not isinstance(consent, Consent):
        raise InvalidInputError("sign_consent takes a deltafed.schemas.Consent")
    return sign_document(consent_payload(consent), typ=CONSENT_TYP, signer=signer)


def verify_consent(verifier: ProtocolVerifier, data: bytes | str) -> Consent:
    """Check a signed consent and return it.

    The signature must be valid under a key the registry trusts for the member in ``iss`` at
    the verifier's current time, the payload must hold exactly ``iss`` and a valid
    ``consent``, and ``iss`` must be the consent's ``issuer``. Every failure is a
    :class:`~deltafed.ConsentInvalidError` chained to the underlying error: a consent that
    cannot be trusted is simply not a consent.
    """
    raw = data.encode("ascii", "replace") if isinstance(data, str) else data
    try:
        document = verifier.verify_document(raw, typ=CONSENT_TYP)
    except DeltafedError as exc:
        raise ConsentInvalidError(
            f"the consent's signature does not verify: {exc.code}: {exc.message}", field="cns"
        ) from exc
    payload = document.payload
    if set(payload) != {"iss", "consent"}:
        raise ConsentInvalidError("the consent payload must hold exactly iss and consent")
    try:
        consent = Consent.parse(payload["consent"])
    except InvalidInputError as exc:
        raise ConsentInvalidError(
            f"the consent is not valid: {exc.message}", field=f"cns.{exc.field or 'consent'}"
        ) from exc
    if consent.issuer != document.issuer:
        raise ConsentInvalidError(
            f"the consent names issuer {consent.issuer} but is signed by {document.issuer}",
            field="cns.issuer",
        )
    return consent
