"""Signing and verifying the events of a concern's history (protocol layer, no I/O).

A history is a chain: event 0 (``filed``) points at the digest of the filing request, every
later event at the digest of the compact JWS before it, each is signed by the responsible
member and names the concern. :func:`verify_history` checks all of it and the status
transitions, and returns the verified payloads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from deltafed._errors import InvalidInputError, MalformedMessageError, WrongIssuerError
from deltafed.keys import Signer
from deltafed.protocol import ProtocolVerifier, sign_document
from deltafed.schemas.concerns import CONCERN_EVENT_TYP, ConcernEvent

__all__ = ["TRANSITIONS", "VerifiedEvent", "check_transition", "sign_event", "verify_history"]

#: Status -> the statuses an update, acknowledgement or answer may lead to.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "filed": frozenset({"acknowledged", "rejected"}),
    "acknowledged": frozenset({"accepted", "in_progress", "answered", "rejected"}),
    "accepted": frozenset({"in_progress", "answered", "rejected"}),
    "in_progress": frozenset({"answered", "rejected"}),
    "answered": frozenset({"closed"}),
    "closed": frozenset(),
    "rejected": frozenset(),
}
#: Events that record a deadline and leave the status as it was.
_NOTICES: Final = frozenset({"reminder", "escalated"})


def check_transition(current: str, event: ConcernEvent) -> None:
    """Raise :class:`~deltafed.InvalidInputError` unless ``event`` may follow ``current``."""
    if event.kind in _NOTICES:
        if event.status != current:
            raise InvalidInputError(
                f"a {event.kind} event keeps the status ({current}), not {event.status}",
                field="status",
            )
        return
    if event.status not in TRANSITIONS.get(current, frozenset()):
        raise InvalidInputError(
            f"a concern that is {current} cannot become {event.status}", field="status"
        )


def sign_event(event: ConcernEvent, signer: Signer) -> bytes:
    """The compact JWS of one event, signed by the responsible member."""
    return sign_document(event.to_wire(), typ=CONCERN_EVENT_TYP, signer=signer)


@dataclass(frozen=True, slots=True)
class VerifiedEvent:
    """One event whose signature, binding and place in the chain were checked."""

    event: ConcernEvent
    raw: bytes
    digest: str


def verify_history(
    verifier: ProtocolVerifier,
    events: Sequence[str | bytes],
    *,
    concern_id: str,
    filing_digest: str,
    responsible: str,
    filer: str,
) -> list[VerifiedEvent]:
    """Verify a whole history as received (oldest first) and return its events.

    Each event must verify as a ``deltafed-concern-event+jws`` document under a registry key of
    ``responsible``, be addressed to ``filer``, name ``concern_id``, carry the next ``seq``,
    point at the digest before it (``filing_digest`` for event 0), not go back in time, and
    follow the status transitions. The first failure raises.
    """
    out: list[VerifiedEvent] = []
    prev, status, last_iat = filing_digest, "", 0
    for index, item in enumerate(events):
        raw = item.encode("ascii") if isinstance(item, str) else item
        document = verifier.verify_document(raw, typ=CONCERN_EVENT_TYP)
        try:
            event = ConcernEvent.parse(document.payload)
        except InvalidInputError as exc:
            raise MalformedMessageError(
                f"concern event {index}: {exc.message}", field=f"events[{index}]"
            ) from exc
        if event.iss != responsible:
            raise WrongIssuerError(
                f"concern event {index} is signed by {event.iss}, not {responsible}",
                field=f"events[{index}].iss",
            )
        where = f"events[{index}]"
        if event.aud != filer or event.cid != concern_id:
            raise MalformedMessageError(
                f"concern event {index} is not about concern {concern_id} of {filer}", field=where
            )
        if event.seq != index or event.prev != prev:
            raise MalformedMessageError(
                f"concern event {index} is out of its chain (seq {event.seq})", field=where
            )
        if event.iat < last_iat:
            raise MalformedMessageError(f"concern event {index} goes back in time", field=where)
        if index:
            try:
                check_transition(status, event)
            except InvalidInputError as exc:
                raise MalformedMessageError(
                    f"concern event {index}: {exc.message}", field=where
                ) from exc
        # The chain's hash is the federation's (SM3 in a gm federation, protocol section 11).
        digest = verifier.limits.crypto.digest_text(raw)
        out.append(VerifiedEvent(event=event, raw=raw, digest=digest))
        prev, status, last_iat = digest, event.status, event.iat
    if not out:
        raise MalformedMessageError("a concern history has at least its filed event")
    return out
