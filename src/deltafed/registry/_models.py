"""The registry document: who the members are, their keys, endpoints, catalogues, scenarios.

Pure data with validation, no I/O and no clock. A :class:`RegistryDocument` is only ever
trusted after :func:`~deltafed.registry.verify_registry` checked the anchor's signatures over
it; building one in memory proves nothing.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, Self

from pydantic import Field, StringConstraints, field_validator, model_validator

from deltafed._errors import CryptoUnavailableError, DeltafedError, InvalidInputError
from deltafed._profile import CryptoProfile, crypto_profile
from deltafed.keys import PublicKey
from deltafed.schemas._base import Code, Name, Timestamp, WireModel
from deltafed.schemas.catalogue import Catalogue, ScenarioList
from deltafed.schemas.concerns import ConcernPolicy
from deltafed.schemas.identifiers import MemberId

__all__ = [
    "MAX_ANCHOR_KEYS",
    "MAX_KEYS_PER_MEMBER",
    "MAX_MEMBERS",
    "AnchorKeys",
    "Endpoint",
    "KeyState",
    "Member",
    "MemberKey",
    "PublicJwk",
    "RegistryDocument",
]

#: Most anchor keys a registry may name.
MAX_ANCHOR_KEYS = 16
#: Most members a registry may list.
MAX_MEMBERS = 2000
#: Most keys (current and retired) a member may list.
MAX_KEYS_PER_MEMBER = 16

_B64 = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]

#: An ``http``/``https`` URL with a host, at most 512 characters, no spaces or fragments.
Endpoint = Annotated[
    str,
    StringConstraints(
        min_length=8, max_length=512, pattern=r"^https?://[A-Za-z0-9.\-\[\]:]+(/[^\s#]*)?$"
    ),
]

KeyState = Literal["active", "retired", "compromised"]

_ALG_OF_CURVE: Final = {"Ed25519": "EdDSA", "P-256": "ES256", "SM2": "SM2SM3"}


class PublicJwk(WireModel):
    """A public signing key as a JWK (Ed25519, P-256 or SM2); ``kid`` is its RFC 7638
    thumbprint (with SM3 for SM2)."""

    kty: Literal["OKP", "EC"]
    crv: Literal["Ed25519", "P-256", "SM2"]
    x: _B64
    y: _B64 | None = None
    kid: _B64
    alg: Literal["EdDSA", "ES256", "SM2SM3"] | None = None
    use: Literal["sig"] | None = None

    @model_validator(mode="after")
    def _is_a_key(self) -> Self:
        # One key, one JWK: an Ed25519 key has no y (it would be ignored, so two spellings
        # of one key would verify), a curve point has both coordinates.
        if (self.kty == "OKP") != (self.crv == "Ed25519"):
            raise ValueError(f"kty {self.kty!r} does not fit crv {self.crv!r}")
        if (self.y is None) != (self.kty == "OKP"):
            raise ValueError("an OKP key has no y; an EC key needs y")
        # PublicKey.from_jwk checks the curve point and that kid is the thumbprint.
        try:
            PublicKey.from_jwk(self.to_wire())
        except CryptoUnavailableError:
            raise  # SM2 without the gm extra: say so, not "invalid key"
        except DeltafedError as exc:
            raise ValueError(f"not a usable public key: {exc.message}") from None
        return self

    @property
    def algorithm(self) -> str:
        """The JWS ``alg`` this key signs with (from its curve)."""
        return _ALG_OF_CURVE[self.crv]

    def public_key(self) -> PublicKey:
        """The key as a :class:`~deltafed.keys.PublicKey` (a :class:`Verifier`)."""
        return PublicKey.from_jwk(self.to_wire())

    @classmethod
    def from_key(cls, key: PublicKey) -> PublicJwk:
        return cls.parse(key.to_jwk())


class MemberKey(WireModel):
    """One of a member's signing keys and the window in which it may sign.

    ``not_before <= t < not_after`` (no ``not_after``: open-ended). A ``retired`` key keeps its
    window so messages it signed inside the window still verify. A ``compromised`` key is
    refused for every signature at or after ``compromised_at``.
    """

    jwk: PublicJwk
    not_before: Timestamp
    not_after: Timestamp | None = None
    state: KeyState = "active"
    compromised_at: Timestamp | None = None

    @property
    def kid(self) -> str:
        return self.jwk.kid

    @property
    def alg(self) -> str:
        return self.jwk.algorithm

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.not_after is not None and self.not_after <= self.not_before:
            raise ValueError("not_after must be later than not_before")
        if self.state == "compromised" and self.compromised_at is None:
            raise ValueError("a compromised key needs compromised_at")
        if self.state != "compromised" and self.compromised_at is not None:
            raise ValueError("compromised_at is only allowed on a compromised key")
        if self.state == "retired" and self.not_after is None:
            raise ValueError("a retired key needs not_after (the end of its window)")
        return self


class Member(WireModel):
    """A federation member: a region's department or one of its systems."""

    id: MemberId
    name: Name
    endpoint: Endpoint | None = None
    keys: tuple[MemberKey, ...] = Field(default=(), max_length=MAX_KEYS_PER_MEMBER)

    def key(self, kid: str) -> MemberKey | None:
        for item in self.keys:
            if item.kid == kid:
                return item
        return None


class AnchorKeys(WireModel):
    """The trust anchor: its public keys and how many of them must sign (k of n)."""

    keys: tuple[PublicJwk, ...] = Field(min_length=1, max_length=MAX_ANCHOR_KEYS)
    threshold: int = Field(ge=1, le=MAX_ANCHOR_KEYS, strict=True)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        kids = [k.kid for k in self.keys]
        if len(set(kids)) != len(kids):
            raise ValueError("anchor keys must be distinct")
        if self.threshold > len(self.keys):
            raise ValueError(f"threshold {self.threshold} exceeds the {len(kids)} anchor keys")
        return self

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(k.kid for k in self.keys)

    def same_as(self, other: AnchorKeys) -> bool:
        """Same key set and threshold, whatever the order of the keys."""
        return self.kids == other.kids and self.threshold == other.threshold

    @classmethod
    def of(cls, keys: Any, threshold: int) -> AnchorKeys:
        """Build from :class:`PublicKey` objects (or anything with ``public_key``)."""
        jwks = []
        for item in keys:
            key = getattr(item, "public_key", item)
            if not isinstance(key, PublicKey):
                raise InvalidInputError(
                    f"anchor keys must be public keys, not {type(key).__name__}", field="keys"
                )
            jwks.append(PublicJwk.from_key(key))
        return cls.parse({"keys": tuple(jwks), "threshold": threshold})


class RegistryDocument(WireModel):
    """The signed federation registry (its payload; the signatures wrap it).

    ``crypto`` is the federation's crypto profile: absent for ``international`` (so registries
    written before profiles existed keep their bytes), ``"gm"`` for SM2/SM3. Every anchor and
    member key must be of the profile (protocol section 11, GM-003).
    """

    federation: Code
    crypto: Literal["gm"] | None = None
    version: int = Field(ge=1, le=2**53 - 1, strict=True)
    issued_at: Timestamp
    expires_at: Timestamp
    anchor: AnchorKeys
    members: tuple[Member, ...] = Field(default=(), max_length=MAX_MEMBERS)
    catalogues: tuple[Catalogue, ...] = Field(default=(), max_length=64)
    scenarios: ScenarioList = ScenarioList()
    #: Deadlines of cross-region concerns per category (absent: the federation takes none).
    concern_policy: ConcernPolicy | None = None

    @field_validator("members")
    @classmethod
    def _unique_members(cls, members: tuple[Member, ...]) -> tuple[Member, ...]:
        seen: set[str] = set()
        for member in members:
            if member.id in seen:
                raise ValueError(f"member {member.id} is listed twice")
            seen.add(member.id)
        return members

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.expires_at <= self.issued_at:
            raise ValueError("expires_at must be later than issued_at")
        allowed = self.profile.algorithms
        for jwk in self.anchor.keys:
            if jwk.algorithm not in allowed:
                raise ValueError(
                    f"anchor key {jwk.kid} is not of the registry's crypto profile "
                    f"{self.profile.name!r}"
                )
        for member in self.members:
            for item in member.keys:
                if item.alg not in allowed:
                    raise ValueError(
                        f"key {item.kid} of {member.id} is not of the registry's crypto "
                        f"profile {self.profile.name!r}"
                    )
        kids: set[str] = set(self.anchor.kids)
        for member in self.members:
            for key in member.keys:
                if key.kid in kids:
                    raise ValueError(f"key {key.kid} appears more than once in the registry")
                kids.add(key.kid)
        regions = [c.region for c in self.catalogues]
        if len(set(regions)) != len(regions):
            raise ValueError("each region may publish only one catalogue")
        known = {m.id for m in self.members} | {m.id.organisation for m in self.members}
        for scenario in self.scenarios.scenarios:
            if scenario.requester not in known:
                raise ValueError(
                    f"scenario {scenario.id}: requester {scenario.requester} is not a member"
                )
        self._check_concern_desks(known)
        return self

    def _check_concern_desks(self, known: set[MemberId]) -> None:
        for catalogue in self.catalogues:
            for desk in catalogue.concern_desks or ():
                for who in (desk.member, desk.supervisor):
                    if who not in known:
                        raise ValueError(f"concern desk {desk.member}: {who} is not a member")
                for category in desk.categories:
                    if self.concern_policy is None or not self.concern_policy.deadline(category):
                        raise ValueError(
                            f"concern desk {desk.member} takes {category} concerns but the "
                            "concern policy sets no deadline for them"
                        )

    @property
    def profile(self) -> CryptoProfile:
        """The :class:`~deltafed.keys.CryptoProfile` every member signs and hashes with."""
        return crypto_profile(self.crypto or "international")

    def member(self, member_id: str) -> Member | None:
        for member in self.members:
            if member.id == member_id:
                return member
        return None
