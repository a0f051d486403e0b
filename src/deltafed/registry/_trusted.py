"""The verified registry state: the only registry data the rest of deltafed reads.

:class:`TrustedRegistry` starts from a pinned anchor and admits a new registry file only if

1. its structure is sound and the *current* anchor's threshold signed it;
2. if it names a different anchor, the *new* anchor's threshold signed it too (anchor rotation
   is signed by the old and the new keys, as TUF rotates its root);
3. its version is higher than the trusted one (the same version only with the same payload);
4. it is not past its expiry plus the grace period, and not issued in the future.

Any failure leaves the previous state in force. The verified state is one immutable snapshot
that an update replaces by a single assignment, so a reader (a request being answered in
another thread or task) sees either the old version or the new one, never a mixture.

A node that missed versions walks them in order, as TUF walks root versions: every
intermediate version is verified against the anchor trusted at that point (so an anchor
rotation in between is followed), but only the last one must be unexpired. :meth:`staged`
and :meth:`adopt` do such a walk on a copy and switch to its result in one step.

Between ``expires_at`` and ``expires_at + grace`` the last good registry keeps working with a
loud warning; after that it is refused (:class:`~deltafed.RegistryExpiredError`).

Keys that a later version drops are kept as *historical* keys, valid only inside their window
(closed at the time the dropping version was issued, if they had no end), so that messages and
audit entries signed before the rotation still verify. A key once seen compromised stays
compromised from the earliest compromise time any trusted version gave it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from deltafed._clock import Clock
from deltafed._errors import (
    IdentifierError,
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
from deltafed._profile import INTERNATIONAL, CryptoProfile
from deltafed.keys import PublicKey, Verifier
from deltafed.registry._files import read_limited
from deltafed.registry._models import AnchorKeys, Member, MemberKey, RegistryDocument
from deltafed.registry._signing import MAX_REGISTRY_BYTES, parse_signed_registry
from deltafed.registry._state import RegistryStateStore, payload_digest
from deltafed.schemas.catalogue import Catalogue, UseScenario
from deltafed.schemas.identifiers import PROVINCES, parse_member_id

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


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """Everything verified, replaced as a whole by an update."""

    anchor: AnchorKeys
    keys: Mapping[tuple[str, str], _KeyRecord]
    history: Mapping[tuple[str, str], _KeyRecord]
    compromised: Mapping[str, datetime]
    doc: RegistryDocument | None = None
    payload: bytes | None = None


class TrustedRegistry:
    """Holds the last verified registry and answers trust questions from it alone.

    Implements :class:`deltafed.keys.KeyResolver`. ``clock`` is read for every time check;
    ``grace`` bounds how long an expired registry is still used; ``on_warning`` receives the
    human warning text while in grace (the warning is also logged on ``deltafed.registry``).
    ``state``, when given, is told every version admitted and refuses a rollback below what it
    holds, across restarts and replicas (:class:`~deltafed.registry.RegistryStateStore`).
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
        state: RegistryStateStore | None = None,
    ) -> None:
        if grace < timedelta(0) or max_skew < timedelta(0):
            raise ValueError("grace and max_skew must not be negative")
        self._clock = clock
        self._grace = grace
        self._on_warning = on_warning
        self._max_skew = max_skew
        self._warn_every = warn_every
        self._max_bytes = max_bytes
        self._snap = _Snapshot(anchor=anchor, keys={}, history={}, compromised={})
        self._origin: _Snapshot | None = None
        self._state = state
        self._last_warning: datetime | None = None

    # --- admitting new data --------------------------------------------------------------

    @property
    def anchor(self) -> AnchorKeys:
        """The anchor new registry versions must be signed by."""
        return self._snap.anchor

    def update(self, data: bytes, *, intermediate: bool = False) -> RegistryDocument:
        """Verify ``data`` and make it the trusted registry; return the trusted document.

        On any failure nothing changes and a :class:`~deltafed.TrustError` (or
        :class:`~deltafed.SizeLimitError`) is raised. ``intermediate=True`` admits a version
        that is only a step of a walk (see :meth:`staged`): its expiry is not checked, every
        other check is; use it only on a staged copy, whose walk ends with a version checked
        in full.
        """
        snap = self._snap
        signed = parse_signed_registry(data, max_bytes=self._max_bytes)
        signed.check_threshold(snap.anchor, role="current anchor")
        doc = signed.document()
        if not doc.anchor.same_as(snap.anchor):
            signed.check_threshold(doc.anchor, role="new anchor")
        now = self._clock()
        if snap.doc is not None:
            if doc.version < snap.doc.version:
                raise RollbackError(
                    f"registry version {doc.version} is older than the trusted version "
                    f"{snap.doc.version}"
                )
            if doc.version == snap.doc.version:
                if signed.payload != snap.payload:
                    raise RollbackError(
                        f"registry version {doc.version} differs from the trusted document "
                        "of the same version",
                        remediation="The anchor must publish changes under a higher version.",
                    )
                return snap.doc
        if snap.doc is not None and doc.federation != snap.doc.federation:
            raise RegistryInvalidError(
                f"registry is for federation {doc.federation!r}, not {snap.doc.federation!r}"
            )
        if snap.doc is not None and doc.profile is not snap.doc.profile:
            # Nodes fixed their algorithms and digests at start: a switch is a new federation,
            # and accepting one here would let a registry downgrade the cryptography.
            raise RegistryInvalidError(
                f"registry changes the crypto profile from {snap.doc.profile.name!r} to "
                f"{doc.profile.name!r}",
                remediation="A change of crypto profile needs every node restarted on the new "
                "registry.",
            )
        # Registry times are compared in whole seconds, as key windows are (protocol §15).
        now = _second(now)
        if _second(doc.issued_at) > now + self._max_skew:
            raise RegistryInvalidError(
                f"registry version {doc.version} is issued in the future ({doc.issued_at})"
            )
        if not intermediate and now >= _second(doc.expires_at) + self._grace:
            raise RegistryExpiredError(
                f"registry version {doc.version} expired at {doc.expires_at}, beyond the grace "
                "period"
            )
        if self._state is not None and not intermediate:
            # Last check: the version this node (any replica, any earlier run) trusted.
            self._state.admit(str(doc.federation), doc.version, payload_digest(signed.payload))
        self._admit(doc, signed.payload)
        return doc

    def staged(self) -> TrustedRegistry:
        """A copy of this trusted state to walk new versions on; see :meth:`adopt`.

        The copy shares the (immutable) verified state; updating it leaves this registry
        untouched until :meth:`adopt` switches to the copy's result.
        """
        copy = TrustedRegistry(
            self._snap.anchor,
            clock=self._clock,
            grace=self._grace,
            max_skew=self._max_skew,
            warn_every=self._warn_every,
            max_bytes=self._max_bytes,
        )
        copy._snap = self._snap
        copy._origin = self._snap
        return copy

    def adopt(self, staged: TrustedRegistry) -> RegistryDocument:
        """Switch, in one step, to the state a walk reached on ``staged``.

        ``staged`` must come from :meth:`staged` on this registry, with no other update of
        this registry in between (otherwise :class:`~deltafed.RollbackError`: walk again);
        its last version must be usable now (checked in full, not as an intermediate).
        """
        if staged._origin is None or staged._origin is not self._snap:
            raise RollbackError(
                "the trusted registry changed while new versions were being walked",
                remediation="Poll again: the walk starts from the version now trusted.",
            )
        doc = staged._snap.doc
        if doc is None:
            raise TrustError("the staged walk holds no registry")
        if _second(self._clock()) >= _second(doc.expires_at) + self._grace:
            raise RegistryExpiredError(
                f"registry version {doc.version} expired at {doc.expires_at}, beyond the grace "
                "period"
            )
        if self._state is not None and staged._snap.payload is not None:
            # The walk's result against the version this node (any replica, any run) trusted.
            self._state.admit(
                str(doc.federation), doc.version, payload_digest(staged._snap.payload)
            )
        if staged._snap is not self._snap:
            self._snap = staged._snap
            self._last_warning = None
            _log.info("trusted registry %s version %d", doc.federation, doc.version)
        return doc

    def update_from_file(self, path: str | os.PathLike[str]) -> RegistryDocument:
        """:meth:`update` with the bytes of a registry file."""
        return self.update(read_limited(path, self._max_bytes))

    def _admit(self, doc: RegistryDocument, payload: bytes) -> None:
        snap = self._snap
        keys: dict[tuple[str, str], _KeyRecord] = {}
        for member in doc.members:
            for entry in member.keys:
                keys[(str(member.id), entry.kid)] = _KeyRecord(
                    str(member.id), entry, entry.not_after
                )
        history = dict(snap.history)
        if snap.doc is not None:
            for ident, record in snap.keys.items():
                if ident not in keys:
                    # A dropped key signs nothing after the version that dropped it.
                    closed = record.not_after
                    if closed is None or closed > doc.issued_at:
                        closed = doc.issued_at
                    history[ident] = _KeyRecord(record.member, record.entry, closed)
        for ident in keys:
            history.pop(ident, None)
        compromised = dict(snap.compromised)
        for record in keys.values():
            when = record.entry.compromised_at
            if when is not None:
                earlier = compromised.get(record.entry.kid)
                compromised[record.entry.kid] = when if earlier is None else min(when, earlier)
        # Everything computed; switch atomically (one assignment).
        self._snap = _Snapshot(
            anchor=doc.anchor,
            doc=doc,
            payload=payload,
            keys=keys,
            history=history,
            compromised=compromised,
        )
        self._last_warning = None
        if self._origin is None:
            _log.info("trusted registry %s version %d", doc.federation, doc.version)

    # --- reading ------------------------------------------------------------------------

    @property
    def state(self) -> RegistryState:
        return self._state_of(self._snap.doc)

    def _state_of(self, doc: RegistryDocument | None) -> RegistryState:
        if doc is None:
            return RegistryState.EMPTY
        now, expires_at = _second(self._clock()), _second(doc.expires_at)
        if now < expires_at:
            return RegistryState.FRESH
        if now < expires_at + self._grace:
            return RegistryState.GRACE
        return RegistryState.EXPIRED

    @property
    def profile(self) -> CryptoProfile:
        """The federation's crypto profile (``international`` until a registry is trusted)."""
        doc = self._snap.doc
        return doc.profile if doc is not None else INTERNATIONAL

    @property
    def version(self) -> int | None:
        """The trusted version, even if expired (for rollback checks and diagnostics)."""
        doc = self._snap.doc
        return doc.version if doc is not None else None

    @property
    def federation(self) -> str | None:
        """The federation of the trusted registry, even if expired."""
        doc = self._snap.doc
        return doc.federation if doc is not None else None

    @property
    def expires_at(self) -> datetime | None:
        """When the trusted version expires (its grace period follows), even if expired."""
        doc = self._snap.doc
        return doc.expires_at if doc is not None else None

    @property
    def grace(self) -> timedelta:
        """How long an expired registry keeps working."""
        return self._grace

    @property
    def current(self) -> RegistryDocument:
        """The trusted document; raises if none is trusted or it is past its grace period."""
        return self._current(self._snap)

    def _current(self, snap: _Snapshot) -> RegistryDocument:
        doc = snap.doc
        if doc is None:
            raise TrustError(
                "no registry has been verified yet",
                remediation="Load the registry file or refresh it from the publication point.",
            )
        state = self._state_of(doc)
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
        six-digit code) by the single endpoint its members publish. Anything else (a name
        such as ``"Anhui"``) is an :class:`~deltafed.IdentifierError`.
        """
        check_member_or_region(member_or_region)
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
        snap = self._snap
        doc = self._current(snap)
        keys, history = snap.keys, snap.history
        ident = (str(member), kid)
        record = keys.get(ident) or history.get(ident)
        if record is None:
            historical = any(m == str(member) for m, _ in history)
            if doc.member(member) is None and not historical:
                raise UnknownMemberError(f"{member} is not a member of the federation")
            raise UnknownKeyError(f"member {member} has no key {kid}")
        # Times are compared in whole seconds (protocol §5.1): a signing time is an epoch second,
        # so a window that opens at 08:00:00.375 opens for the signatures of 08:00:00.
        compromised_at = snap.compromised.get(kid)
        if compromised_at is not None and at >= _second(compromised_at):
            raise KeyCompromisedError(
                f"key {kid} of {member} is compromised since {compromised_at.isoformat()}",
                remediation="Refuse the message; ask the member to sign with its new key.",
            )
        entry = record.entry
        if at < _second(entry.not_before) or (
            record.not_after is not None and at >= _second(record.not_after)
        ):
            end = record.not_after.isoformat() if record.not_after else "open"
            raise KeyNotValidError(
                f"key {kid} of {member} is valid from {entry.not_before.isoformat()} to {end}, "
                f"not at {at.isoformat()}"
            )
        return record.key

    def is_historical(self, member: str, kid: str) -> bool:
        """Whether the key is only known from an earlier registry version."""
        snap = self._snap
        ident = (str(member), kid)
        return ident in snap.history and ident not in snap.keys


def _second(moment: datetime) -> datetime:
    """``moment`` truncated to its whole second."""
    return moment.replace(microsecond=0)


def check_member_or_region(value: object, *, field: str | None = None) -> None:
    """Refuse what is neither a province-level region code nor a member id, saying so."""
    detail = ""
    if isinstance(value, str) and "/" in value:
        try:
            parse_member_id(value)
            return
        except IdentifierError as exc:
            detail = f": {exc.message}"
    elif isinstance(value, str) and value in PROVINCES:
        return
    raise IdentifierError(
        f"{value!r} is not a region code or member id{detail}",
        field=field,
        remediation="Name a province-level division code (340000 for Anhui) or a member id "
        "REGION/DEPARTMENT[/SYSTEM] as the registry lists it.",
    )
