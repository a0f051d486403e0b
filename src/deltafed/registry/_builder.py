"""Building registry documents, for operators (through the CLI) and for tests.

A :class:`RegistryBuilder` is a mutable working copy; :meth:`RegistryBuilder.build` validates
it into a frozen :class:`RegistryDocument` that can then be signed. Nothing here is trusted
until an anchor signs it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from deltafed._errors import InvalidInputError, UnknownKeyError, UnknownMemberError
from deltafed._profile import crypto_profile
from deltafed.keys import PublicKey
from deltafed.registry._models import AnchorKeys, PublicJwk, RegistryDocument
from deltafed.schemas.catalogue import Catalogue, UseScenario
from deltafed.schemas.concerns import ConcernPolicy
from deltafed.schemas.identifiers import parse_member_id

__all__ = ["DEFAULT_VALIDITY", "RegistryBuilder"]

#: How long a registry is valid by default after it is issued.
DEFAULT_VALIDITY = timedelta(days=7)


class RegistryBuilder:
    """Assemble a registry document step by step (validated when built)."""

    def __init__(
        self,
        federation: str,
        anchor: AnchorKeys,
        *,
        version: int = 1,
        crypto: str = "international",
    ) -> None:
        self.federation = federation
        self.anchor = anchor
        self.version = version
        #: The crypto profile: ``international`` (default) or ``gm``.
        self.crypto = crypto_profile(crypto).name
        self._members: dict[str, dict[str, Any]] = {}
        self._catalogues: dict[str, Catalogue] = {}
        self._scenarios: dict[str, UseScenario] = {}
        self._concern_policy: ConcernPolicy | None = None

    @classmethod
    def from_document(cls, doc: RegistryDocument) -> RegistryBuilder:
        """A builder holding ``doc``'s content (same version: call :meth:`bump` to change)."""
        builder = cls(doc.federation, doc.anchor, version=doc.version, crypto=doc.profile.name)
        for member in doc.members:
            data = member.to_wire()
            data.setdefault("keys", [])
            builder._members[str(member.id)] = data
        for catalogue in doc.catalogues:
            builder._catalogues[catalogue.region] = catalogue
        for scenario in doc.scenarios.scenarios:
            builder._scenarios[scenario.id] = scenario
        builder._concern_policy = doc.concern_policy
        return builder

    def bump(self) -> RegistryBuilder:
        self.version += 1
        return self

    def set_anchor(self, anchor: AnchorKeys) -> RegistryBuilder:
        self.anchor = anchor
        return self

    def _member(self, member_id: str) -> dict[str, Any]:
        try:
            return self._members[str(parse_member_id(member_id))]
        except KeyError:
            raise UnknownMemberError(f"{member_id} is not in the working registry") from None

    def add_member(
        self, member_id: str, name: str, *, endpoint: str | None = None
    ) -> RegistryBuilder:
        ident = str(parse_member_id(member_id))
        if ident in self._members:
            raise InvalidInputError(f"member {ident} is already listed", field="member")
        entry: dict[str, Any] = {"id": ident, "name": name, "keys": []}
        if endpoint is not None:
            entry["endpoint"] = endpoint
        self._members[ident] = entry
        return self

    def remove_member(self, member_id: str) -> RegistryBuilder:
        self._member(member_id)
        del self._members[str(parse_member_id(member_id))]
        return self

    def add_key(
        self,
        member_id: str,
        key: PublicKey,
        *,
        not_before: datetime,
        not_after: datetime | None = None,
    ) -> RegistryBuilder:
        entry: dict[str, Any] = {
            "jwk": PublicJwk.from_key(key).to_wire(),
            "not_before": not_before.isoformat(),
            "state": "active",
        }
        if not_after is not None:
            entry["not_after"] = not_after.isoformat()
        self._member(member_id)["keys"].append(entry)
        return self

    def _key(self, member_id: str, kid: str) -> dict[str, Any]:
        for entry in self._member(member_id)["keys"]:
            if entry["jwk"]["kid"] == kid:
                result: dict[str, Any] = entry
                return result
        raise UnknownKeyError(f"member {member_id} has no key {kid}")

    def retire_key(self, member_id: str, kid: str, *, at: datetime) -> RegistryBuilder:
        """End the key's window at ``at``; it stays listed so old signatures still verify."""
        entry = self._key(member_id, kid)
        entry["state"] = "retired" if entry["state"] != "compromised" else "compromised"
        entry["not_after"] = at.isoformat()
        return self

    def compromise_key(self, member_id: str, kid: str, *, at: datetime) -> RegistryBuilder:
        """Mark the key compromised since ``at``: nothing it signed at or after ``at`` counts."""
        entry = self._key(member_id, kid)
        entry["state"] = "compromised"
        entry["compromised_at"] = at.isoformat()
        return self

    def remove_key(self, member_id: str, kid: str) -> RegistryBuilder:
        member = self._member(member_id)
        entry = self._key(member_id, kid)
        member["keys"].remove(entry)
        return self

    def set_catalogue(self, catalogue: Catalogue) -> RegistryBuilder:
        self._catalogues[catalogue.region] = catalogue
        return self

    def add_scenario(self, scenario: UseScenario, *, replace: bool = False) -> RegistryBuilder:
        if scenario.id in self._scenarios and not replace:
            raise InvalidInputError(f"scenario {scenario.id} is already listed", field="id")
        self._scenarios[scenario.id] = scenario
        return self

    def set_concern_policy(self, policy: ConcernPolicy | None) -> RegistryBuilder:
        """The deadlines of cross-region concerns (``None``: the federation takes none)."""
        self._concern_policy = policy
        return self

    def build(
        self,
        *,
        issued_at: datetime,
        expires_at: datetime | None = None,
        validity: timedelta = DEFAULT_VALIDITY,
    ) -> RegistryDocument:
        """Validate into a :class:`RegistryDocument` (expiring ``validity`` after issue)."""
        concerns = (
            {}
            if self._concern_policy is None
            else {"concern_policy": self._concern_policy.to_wire()}
        )
        crypto = {} if self.crypto == "international" else {"crypto": self.crypto}
        return RegistryDocument.parse(
            {
                **concerns,
                **crypto,
                "federation": self.federation,
                "version": self.version,
                "issued_at": issued_at.isoformat(),
                "expires_at": (expires_at or issued_at + validity).isoformat(),
                "anchor": self.anchor.to_wire(),
                "members": list(self._members.values()),
                "catalogues": [c.to_wire() for c in self._catalogues.values()],
                "scenarios": {"scenarios": [s.to_wire() for s in self._scenarios.values()]},
            }
        )
