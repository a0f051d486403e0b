"""The verified registry state: the only registry data the rest of deltafed reads.

:class:`TrustedRegistry` starts from a pinned anchor and admits a new registry file only if

1. its structure is sound and the *current* anchor's threshold signed it;
2. if it names a different anchor, the *new* anchor's threshold signed it too (anchor rotation
   is signed by the old and the new keys, as TUF rotates its root);
3. its version is higher than the trusted one (the same version only with the same payload);
4. it is not past its expiry plus the grace period, and not issued in the future.

Any failure leaves the previous state in force. Between ``expires_at`` and
``expires_at + grace`` the last good registry keeps working with a loud warning; after that
it is refused (:class:`~deltafed.RegistryExpiredError`).

Keys that a later version drops are kept as *historical* keys, valid only inside their window
(closed at the time the dropping version was issued, if they had no end), so that messages and
audit entries signed before the rotation still verify. A key once seen compromised stays
compromised from the earliest compromise time any trusted version gave it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum

from deltafed._clock import Clock
from deltafed._errors import (
    KeyCompromisedError,
    KeyNotValidError,
    RegistryExpiredError,
    RegistryInvalidError,
    RollbackError,
    ScenarioUnknownError,
    TrustError,
    UnknownKeyError,
    UnknownMemberError,
)
from deltafed.keys import PublicKey, Verifier
from deltafed.registry._files import read_limited
from deltafed.registry._models import AnchorKeys, Member, MemberKey, RegistryDocument
from deltafed.registry._signing import MAX_REGISTRY_BYTES, parse_signed_registry
from deltafed.schemas.catalogue import Catalogue, UseScenario

__all__ = ["DEFAULT_GRACE", "RegistryState", "TrustedRegistry"]

_log = logging.getLogger("deltafed.registry")

#: How long an expired registry keeps working, by default.
DEFAULT_GRACE = timedelta(hours=24)
#: How far in the future ``issued_at`` may lie (clock skew between anchor and node).
DEFAULT_MAX_SKEW = timedelta(minutes=5)
#: How often the grace-period warning is repeated while the registry stays in grace.
DEFAULT_WARN_EVERY = timedelta(minutes=15)


class RegistryState(StrEnum):
    """Where the trusted registry stands with respect to time."""

    EMPTY = "empty"  #: nothing verified yet
    FRESH = "fresh"  #: before ``expires_at``
    GRACE = "grace"  #: expired, inside the grace period: usable, with warnings
    EXPIRED = "expired"  #: past the grace period: refused


class _KeyRecord:
    """A member key as the trusted state knows it, with its verifier built once."""

    __slots__ = ("entry", "key", "member", "not_after")

    def __init__(self, member: str, entry: MemberKey, not_after: datetime | None) -> None:
        self.member = member
        self.entry = entry
        self.not_after = not_after
        self.key: PublicKey = entry.jwk.public_key()


class TrustedRegistry:
    """Holds the last verified registry and answers trust questions from it alone.

    Implements :class:`deltafed.keys.KeyResolver`. ``clock`` is read for every time check;
    ``grace`` bounds how long an expired registry is still used; ``on_warning`` receives the
    human warning text while in grace (the warning is also logged on ``deltafed.registry``).
    """

    def __init__(
        self,
        anchor: AnchorKeys,
        *,
        clock: Clock,
        grace: timedelta = DEFAULT_GRACE,
        on_warning: Callable[[str], None] | None = None,
        max_skew: timedelta = DEFAULT_MAX_SKEW,
        warn_every: timedelta = DEFAULT_WARN_EVERY,
        max_bytes: int = MAX_REGISTRY_BYTES,
    ) -> None:
        if grace < timedelta(0) or max_skew < timedelta(0):
            raise ValueError("grace and max_skew must not be negative")
        self._anchor = anchor
        self._clock = clock
        self._grace = grace
        self._on_warning = on_warning
        self._max_skew = max_skew
        self._warn_every = warn_every
        self._max_bytes = max_bytes
        self._doc: RegistryDocument | None = None
        self._payload: bytes | None = None
        self._keys: dict[tuple[str, str], _KeyRecord] = {}
        self._history: dict[tuple[str, str], _KeyRecord] = {}
        self._compromised: dict[str, datetime] = {}
        self._last_warning: datetime | None = None

    # --- admitting new data --------------------------------------------------------------

    @property
    def anchor(self) -> AnchorKeys:
        """The anchor new registry versions must be signed by."""
        return self._anchor

    def update(self, data: bytes) -> RegistryDocument:
        """Verify ``data`` and make it the trusted registry; return the trusted document.

        On any failure nothing changes and a :class:`~deltafed.TrustError` (or
        :class:`~deltafed.SizeLimitError`) is raised.
        """
        signed = parse_signed_registry(data, max_bytes=self._max_bytes)
        signed.check_threshold(self._anchor, role="current anchor")
        doc = signed.document()
        if not doc.anchor.same_as(self._anchor):
            signed.check_threshold(doc.anchor, role="new anchor")
        now = self._clock()
        if self._doc is not None:
            if doc.version < self._doc.version:
                raise RollbackError(
                    f"registry version {doc.version} is older than the trusted version "
                    f"{self._doc.version}"
                )
            if doc.version == self._doc.version:
                if signed.payload != self._payload:
                    raise RollbackError(
                        f"registry version {doc.version} differs from the trusted document "
                        "of the same version",
                        remediation="The anchor must publish changes under a higher version.",
                    )
                return self._doc
        if self._doc is not None and doc.federation != self._doc.federation:
            raise RegistryInvalidError(
                f"registry is for federation {doc.federation!r}, not {self._doc.federation!r}"
            )
        if doc.issued_at > now + self._max_skew:
            raise RegistryInvalidError(
                f"registry version {doc.version} is issued in the future ({doc.issued_at})"
            )
        if now >= doc.expires_at + self._grace:
            raise RegistryExpiredError(
                f"registry version {doc.version} expired at {doc.expires_at}, beyond the grace "
                "period"
            )
        self._admit(doc, signed.payload)
        return doc

    def update_from_file(self, path: str | os.PathLike[str]) -> RegistryDocument:
        """:meth:`update` with the bytes of a registry file."""
        return self.update(read_limited(path, self._max_bytes))

    def _admit(self, doc: RegistryDocument, payload: bytes) -> None:
        keys: dict[tuple[str, str], _KeyRecord] = {}
        for member in doc.members:
            for entry in member.keys:
                keys[(str(member.id), entry.kid)] = _KeyRecord(
                    str(member.id), entry, entry.not_after
                )
        history = dict(self._history)
        if self._doc is not None:
            for ident, record in self._keys.items():
                if ident not in keys:
                    # A dropped key signs nothing after the version that dropped it.
                    closed = record.not_after
                    if closed is None or closed > doc.issued_at:
                        closed = doc.issued_at
                    history[ident] = _KeyRecord(record.member, record.entry, closed)
        for ident in keys:
            history.pop(ident, None)
        compromised = dict(self._compromised)
        for record in keys.values():
            when = record.entry.compromised_at
            if when is not None:
                earlier = compromised.get(record.entry.kid)
                compromised[record.entry.kid] = when if earlier is None else min(when, earlier)
        # Everything computed; switch atomically.
        self._doc, self._payload = doc, payload
        self._keys, self._history, self._compromised = keys, history, compromised
        self._anchor = doc.anchor
        self._last_warning = None
        _log.info("trusted registry %s version %d", doc.federation, doc.version)

    # --- reading ------------------------------------------------------------------------

    @property
    def state(self) -> RegistryState:
        if self._doc is None:
            return RegistryState.EMPTY
        now = self._clock()
        if now < self._doc.expires_at:
            return RegistryState.FRESH
        if now < self._doc.expires_at + self._grace:
            return RegistryState.GRACE
        return RegistryState.EXPIRED

    @property
    def version(self) -> int | None:
        """The trusted version, even if expired (for rollback checks and diagnostics)."""
        return self._doc.version if self._doc is not None else None

    @property
    def current(self) -> RegistryDocument:
        """The trusted document; raises if none is trusted or it is past its grace period."""
        doc = self._doc
        if doc is None:
            raise TrustError(
                "no registry has been verified yet",
                remediation="Load the registry file or refresh it from the publication point.",
            )
        state = self.state
        if state is RegistryState.EXPIRED:
            raise RegistryExpiredError(
                f"registry version {doc.version} expired at {doc.expires_at.isoformat()} and "
                f"the grace period of {self._grace} is over"
            )
        if state is RegistryState.GRACE:
            self._warn(doc)
        return doc

    def _warn(self, doc: RegistryDocument) -> None:
        now = self._clock()
        if self._last_warning is not None and now - self._last_warning < self._warn_every:
            return
        self._last_warning = now
        left = doc.expires_at + self._grace - now
        message = (
            f"deltafed registry {doc.federation} version {doc.version} EXPIRED at "
            f"{doc.expires_at.isoformat()}; still used for {left} (grace period), then every "
            "check will be refused. Refresh the registry."
        )
        _log.warning(message)
        if self._on_warning is not None:
            self._on_warning(message)

    def member(self, member_id: str) -> Member:
        found = self.current.member(member_id)
        if found is None:
            raise UnknownMemberError(f"{member_id} is not a member of the federation")
        return found

    def members(self) -> tuple[Member, ...]:
        return self.current.members

    def endpoint_for(self, member_or_region: str) -> str:
        """The endpoint serving a member or a region.

        A member without its own endpoint is served by its organisation's; a region (a
        six-digit code) by the single endpoint its members publish.
        """
        doc = self.current
        if "/" not in member_or_region:
            endpoints = {
                m.endpoint
                for m in doc.members
                if m.id.region == member_or_region and m.endpoint is not None
            }
            if len(endpoints) == 1:
                return endpoints.pop()
            if not endpoints:
                raise UnknownMemberError(f"no member of region {member_or_region} has an endpoint")
            raise UnknownMemberError(
                f"region {member_or_region} has {len(endpoints)} endpoints; name the member"
            )
        member = self.member(member_or_region)
        if member.endpoint is not None:
            return member.endpoint
        organisation = doc.member(member.id.organisation)
        if organisation is not None and organisation.endpoint is not None:
            return organisation.endpoint
        raise UnknownMemberError(f"member {member_or_region} has no endpoint")

    def scenario(self, scenario_id: str) -> UseScenario:
        for scenario in self.current.scenarios.scenarios:
            if scenario.id == scenario_id:
                return scenario
        raise ScenarioUnknownError(f"no use scenario {scenario_id!r} in the registry")

    def catalogue(self, region: str) -> Catalogue:
        for catalogue in self.current.catalogues:
            if catalogue.region == region:
                return catalogue
        raise UnknownMemberError(f"region {region} publishes no catalogue")

    # --- KeyResolver ----------------------------------------------------------------------

    def resolve(self, member: str, kid: str, at: datetime) -> Verifier:
        """The verifier for ``kid`` of ``member`` if the key was trusted to sign at ``at``."""
        doc = self.current
        ident = (str(member), kid)
        record = self._keys.get(ident) or self._history.get(ident)
        if record is None:
            historical = any(m == str(member) for m, _ in self._history)
            if doc.member(member) is None and not historical:
                raise UnknownMemberError(f"{member} is not a member of the federation")
            raise UnknownKeyError(f"member {member} has no key {kid}")
        compromised_at = self._compromised.get(kid)
        if compromised_at is not None and at >= compromised_at:
            raise KeyCompromisedError(
                f"key {kid} of {member} is compromised since {compromised_at.isoformat()}",
                remediation="Refuse the message; ask the member to sign with its new key.",
            )
        entry = record.entry
        if at < entry.not_before or (record.not_after is not None and at >= record.not_after):
            end = record.not_after.isoformat() if record.not_after else "open"
            raise KeyNotValidError(
                f"key {kid} of {member} is valid from {entry.not_before.isoformat()} to {end}, "
                f"not at {at.isoformat()}"
            )
        return record.key

    def is_historical(self, member: str, kid: str) -> bool:
        """Whether the key is only known from an earlier registry version."""
        return (str(member), kid) in self._history and (str(member), kid) not in self._keys
