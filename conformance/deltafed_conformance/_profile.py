"""A target profile: which scenarios and test subjects a node under test offers.

The suite cannot guess which certificates and records a live node holds. The integrator says
so in a profile (TOML or JSON); every section is optional, and a check that needs a missing
one is skipped with the reason. Example::

    node = "320000/dsj"                    # optional: else the registry member at --url

    [verify]                               # certificate.verify, a scenario without consent
    scenario = "yrd-identity-verify"
    type_code = "11100000YG0000014M001"
    holder_type = "111"
    holder_code = "321000185008209589"
    certificate_id = "1.2.156...."         # a certificate of that holder and type

    [release]                              # certificate.release, a scenario with consent
    scenario = "yrd-identity-release"
    type_code = "11100000YG0000014M001"
    holder_type = "111"
    holder_code = "321000185008209589"
    fields = ["name"]

    [record]                               # record.request, a scenario without consent
    scenario = "yrd-social-insurance-check"
    record_type = "social_insurance"
    holder_type = "111"
    holder_code = "321000185008209589"
    fields = ["insured"]
    outside_field = "employer_credit_code" # a field of the record the scenario does not allow

    [consent_record]                       # record.request, a scenario that requires consent
    scenario = "yrd-hukou-school-enrolment"
    record_type = "household_registration"
    holder_type = "111"
    holder_code = "321000185008209589"
    fields = ["is_household_head"]

    [revoked]                              # certificate.verify of a revoked certificate
    scenario = "yrd-identity-verify"
    type_code = "11100000YG0000014M001"
    holder_type = "111"
    holder_code = "320600185805019536"
    certificate_id = "1.2.156...."         # revoked on the platform: valid false, status 03

    [match]                                # match.ask: a predicate about one holder
    scenario = "yrd-social-insurance-match"
    predicate = "resident-insured-12-months"
    holder_type = "111"
    holder_code = "321000185008209589"

    [count]                                # match.ask: an aggregate over a place
    scenario = "yrd-registered-residents-count"
    aggregate = "residents-registered-in-division"
    place = "321000"

    [subscribe]                            # subscription.create: changes of one certificate
    scenario = "yrd-identity-card-changes"
    type_code = "11100000YG0000014M001"
    holder_type = "111"
    holder_code = "321000185008209589"

    [absent]
    holder_code = "320600186001011238"     # a valid identity number the node has nothing for

    [keys]                                 # optional extra identities (relative paths)
    compromised_key = "compromised.pem"    # a tester key the registry marks compromised
    outsider_id = "340000/outsider"        # a registered member no scenario allows
    outsider_key = "outsider.pem"
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from deltafed._errors import ConfigurationError
from deltafed.adapters._synthetic import (
    HOUSEHOLD_REGISTRATION,
    IDENTITY_CARD,
    SOCIAL_INSURANCE,
)
from deltafed.schemas.common import CertificateStatus
from deltafed.schemas.identifiers import compute_resident_check
from deltafed.testing import (
    SCENARIO_COUNT,
    SCENARIO_HUKOU,
    SCENARIO_MATCH,
    SCENARIO_RELEASE,
    SCENARIO_SOCIAL,
    SCENARIO_SUBSCRIBE,
    SCENARIO_VERIFY,
    synthetic_population,
)

__all__ = ["Profile", "Subject", "load_profile", "synthetic_profile"]

_MAX_PROFILE_BYTES: Final = 64 * 1024
_SUBJECT_KEYS: Final = frozenset(
    {
        "scenario",
        "holder_type",
        "holder_code",
        "type_code",
        "certificate_id",
        "record_type",
        "fields",
        "outside_field",
        "predicate",
        "aggregate",
        "place",
    }
)
_SECTIONS: Final = frozenset(
    {"verify", "release", "record", "consent_record", "revoked", "match", "count", "subscribe"}
)


@dataclass(frozen=True, slots=True)
class Subject:
    """One thing to ask the node about, under one scenario."""

    scenario: str
    holder_type: str
    holder_code: str
    type_code: str | None = None
    certificate_id: str | None = None
    record_type: str | None = None
    fields: tuple[str, ...] = ()
    outside_field: str | None = None
    #: match.ask: the predicate (with the holder) or the aggregate and place asked about.
    predicate: str | None = None
    aggregate: str | None = None
    place: str | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """What the suite may ask a node under test (see the module docstring)."""

    node: str | None = None
    verify: Subject | None = None
    release: Subject | None = None
    record: Subject | None = None
    consent_record: Subject | None = None
    #: A certificate the platform holds as revoked (status ``03``).
    revoked: Subject | None = None
    match: Subject | None = None
    count: Subject | None = None
    subscribe: Subject | None = None
    absent_holder_code: str | None = None
    compromised_key: Path | None = None
    outsider_id: str | None = None
    outsider_key: Path | None = None


def _text(section: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> Any:
    value = section.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"profile: {where}.{key} must be a non-empty string")
    return value


def _subject(data: object, where: str) -> Subject:
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"profile: [{where}] must be a table")
    unknown = set(data) - _SUBJECT_KEYS
    if unknown:
        raise ConfigurationError(f"profile: [{where}] has unknown keys {sorted(unknown)}")
    fields = data.get("fields", [])
    if not isinstance(fields, list) or not all(isinstance(f, str) and f for f in fields):
        raise ConfigurationError(f"profile: {where}.fields must be a list of field names")
    holder = where != "count"  # a count is about a place, not a holder
    return Subject(
        scenario=_text(data, "scenario", where),
        holder_type=_text(data, "holder_type", where, required=holder) or "",
        holder_code=_text(data, "holder_code", where, required=holder) or "",
        type_code=_text(data, "type_code", where, required=False),
        certificate_id=_text(data, "certificate_id", where, required=False),
        record_type=_text(data, "record_type", where, required=False),
        fields=tuple(fields),
        outside_field=_text(data, "outside_field", where, required=False),
        predicate=_text(data, "predicate", where, required=False),
        aggregate=_text(data, "aggregate", where, required=False),
        place=_text(data, "place", where, required=False),
    )


def profile_from_mapping(data: Mapping[str, Any], base: Path | None = None) -> Profile:
    """A profile from its parsed TOML/JSON form; relative key paths are relative to ``base``."""
    unknown = set(data) - _SECTIONS - {"node", "absent", "keys"}
    if unknown:
        raise ConfigurationError(f"profile: unknown keys {sorted(unknown)}")
    subjects = {name: _subject(data[name], name) for name in _SECTIONS if name in data}
    absent = data.get("absent", {})
    keys = data.get("keys", {})
    if not isinstance(absent, Mapping) or set(absent) - {"holder_code"}:
        raise ConfigurationError("profile: [absent] holds only holder_code")
    if not isinstance(keys, Mapping) or set(keys) - {
        "compromised_key",
        "outsider_id",
        "outsider_key",
    }:
        raise ConfigurationError(
            "profile: [keys] holds only compromised_key, outsider_id, outsider_key"
        )

    def path(key: str) -> Path | None:
        value = _text(keys, key, "keys", required=False)
        if value is None:
            return None
        found = Path(value)
        return found if found.is_absolute() or base is None else base / found

    outsider_id = _text(keys, "outsider_id", "keys", required=False)
    outsider_key = path("outsider_key")
    if (outsider_id is None) != (outsider_key is None):
        raise ConfigurationError("profile: keys.outsider_id and keys.outsider_key go together")
    return Profile(
        node=_text(data, "node", "profile", required=False),
        verify=subjects.get("verify"),
        release=subjects.get("release"),
        record=subjects.get("record"),
        consent_record=subjects.get("consent_record"),
        revoked=subjects.get("revoked"),
        match=subjects.get("match"),
        count=subjects.get("count"),
        subscribe=subjects.get("subscribe"),
        absent_holder_code=_text(absent, "holder_code", "absent", required=False),
        compromised_key=path("compromised_key"),
        outsider_id=outsider_id,
        outsider_key=outsider_key,
    )


def load_profile(path: str | Path) -> Profile:
    """Read a profile file: ``.json`` is JSON, anything else TOML."""
    target = Path(path)
    try:
        raw = target.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read profile {target}: {exc}") from exc
    if len(raw) > _MAX_PROFILE_BYTES:
        raise ConfigurationError(f"profile {target} is larger than {_MAX_PROFILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
        data = json.loads(text) if target.suffix == ".json" else tomllib.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"profile {target} does not parse: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"profile {target} must be a table/object")
    return profile_from_mapping(data, base=target.parent)


def identity_cards(region: str, seed: int | None = None) -> list[Subject]:
    """The valid resident identity cards of the synthetic population of ``region``, as
    ``certificate.verify`` subjects: the first is the profile's, the others are spares."""
    population = synthetic_population() if seed is None else synthetic_population(seed)
    return [
        Subject(
            scenario=SCENARIO_VERIFY,
            holder_type="111",
            holder_code=c.holder_code,
            type_code=c.type_code,
            certificate_id=c.certificate_id,
        )
        for c in population.region(region).certificates
        if c.type_code == IDENTITY_CARD.type_code and c.status is CertificateStatus.VALID
    ]


def synthetic_profile(region: str, *, seed: int | None = None, node: str | None = None) -> Profile:
    """The profile of a node serving the synthetic population of ``region`` under the
    scenarios of :func:`deltafed.testing.default_scenarios` (what :class:`AdapterTarget` builds).
    """
    card = identity_cards(region, seed)[0]
    holder = card.holder_code
    division = holder[:6]
    first17 = f"{division}18600101123"
    absent = first17 + compute_resident_check(first17)
    return Profile(
        node=node,
        verify=Subject(
            scenario=SCENARIO_VERIFY,
            holder_type="111",
            holder_code=holder,
            type_code=card.type_code,
            certificate_id=card.certificate_id,
        ),
        release=Subject(
            scenario=SCENARIO_RELEASE,
            holder_type="111",
            holder_code=holder,
            type_code=card.type_code,
            fields=("name", "birth_date"),
            outside_field="address",
        ),
        record=Subject(
            scenario=SCENARIO_SOCIAL,
            holder_type="111",
            holder_code=holder,
            record_type=SOCIAL_INSURANCE.code,
            fields=("insured", "months_paid"),
            outside_field="employer_credit_code",
        ),
        consent_record=Subject(
            scenario=SCENARIO_HUKOU,
            holder_type="111",
            holder_code=holder,
            record_type=HOUSEHOLD_REGISTRATION.code,
            fields=("is_household_head",),
            outside_field="household_size",
        ),
        match=Subject(
            scenario=SCENARIO_MATCH,
            holder_type="111",
            holder_code=holder,
            predicate="resident-insured-12-months",
        ),
        count=Subject(
            scenario=SCENARIO_COUNT,
            holder_type="",
            holder_code="",
            aggregate="residents-registered-in-division",
            place=division,
        ),
        subscribe=Subject(
            scenario=SCENARIO_SUBSCRIBE,
            holder_type="111",
            holder_code=holder,
            type_code=card.type_code,
        ),
        absent_holder_code=absent,
    )
