"""PolicyEngine: default deny, checked in order, each refusal with its own code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from deltafed import (
    ConfigurationError,
    ConsentExpiredError,
    ConsentInvalidError,
    ConsentRequiredError,
    DeltafedError,
    FieldNotAllowedError,
    FixedClock,
    NotAuthorizedError,
    ScenarioUnknownError,
)
from deltafed.adapters._synthetic import DRIVING_LICENCE, IDENTITY_CARD
from deltafed.client import issue_consent
from deltafed.policy import CONSENT_TYP, PolicyEngine, PolicyRequest, verify_consent
from deltafed.protocol import ProtocolVerifier, sign_document
from deltafed.schemas.catalogue import UseScenario
from deltafed.testing import (
    JIANGSU,
    SCENARIO_HUKOU,
    SCENARIO_RELEASE,
    SCENARIO_SOCIAL,
    SCENARIO_VERIFY,
    SHANGHAI,
    ZHEJIANG,
    LocalFederation,
    default_scenarios,
    synthetic_population,
)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
JS_DATA = synthetic_population().region("320000")
HOLDER = JS_DATA.residents[0].resident_id
OTHER = JS_DATA.residents[1].resident_id


def _scenarios() -> tuple[UseScenario, ...]:
    base = default_scenarios(SHANGHAI, ["320000", "330000"])
    later = base[3].model_copy(
        update={"id": "not-yet", "valid_from": T0 + timedelta(days=1), "valid_until": None}
    )
    return (*base, later)


@pytest.fixture(scope="module")
def world() -> tuple[LocalFederation, FixedClock]:
    clock = FixedClock(T0)
    fed = LocalFederation(
        clock=clock,
        members={SHANGHAI: None, JIANGSU: None, ZHEJIANG: None},
        scenarios=_scenarios(),
        key_seed=7,
    )
    return fed, clock


@pytest.fixture
def engine(world: tuple[LocalFederation, FixedClock]) -> PolicyEngine:
    fed, clock = world
    clock.set(T0)
    return PolicyEngine(fed.trusted_registry(), provider_region="320000", clock=clock)


def consent(
    fed: LocalFederation,
    *,
    signer: str = SHANGHAI,
    issuer: str = SHANGHAI,
    holder: str = HOLDER,
    scenario: str = SCENARIO_HUKOU,
    scope: tuple[str, ...] = ("registered_division", "is_household_head"),
    operations: tuple[str, ...] = ("record.request",),
    now: datetime = T0 - timedelta(hours=1),
    lifetime: timedelta = timedelta(days=10),
) -> bytes:
    return issue_consent(
        fed.keys[signer],
        issuer=issuer,
        holder_type="111",
        holder_code=holder,
        scenario=scenario,
        requester=SHANGHAI,
        scope=scope,
        operations=operations,
        now=now,
        lifetime=lifetime,
    )


def hukou(**changes: Any) -> PolicyRequest:
    base = PolicyRequest(
        requester=SHANGHAI,  # type: ignore[arg-type]
        operation="record.request",
        target="household_registration",
        scenario=SCENARIO_HUKOU,
        fields=("registered_division",),
        holder_code=HOLDER,
        holder_type=None,
        consent=None,
    )
    return replace(base, **changes)


@dataclass(frozen=True)
class Case:
    name: str
    why: str
    request: Callable[[LocalFederation], PolicyRequest]
    error: type[DeltafedError]
    field: str | None = None


def _with_consent(**kw: Any) -> Callable[[LocalFederation], PolicyRequest]:
    def build(fed: LocalFederation) -> PolicyRequest:
        fields = kw.pop("fields", ("registered_division",))
        return hukou(consent=consent(fed, **kw).decode(), fields=fields)

    return build


def _tampered(fed: LocalFederation) -> PolicyRequest:
    text = consent(fed).decode()
    head, payload, sig = text.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    return hukou(consent=f"{head}.{payload}.{flipped}")


def _foreign_issuer(fed: LocalFederation) -> PolicyRequest:
    # Well signed by Zhejiang, but a consent is recorded in the requester's own region.
    payload = {
        "iss": ZHEJIANG,
        "consent": {
            "id": "c-foreign",
            "holder_type": "111",
            "holder_code": HOLDER,
            "scenario": SCENARIO_HUKOU,
            "requester": ZHEJIANG,
            "scope": ["registered_division"],
            "operations": ["record.request"],
            "issued_at": (T0 - timedelta(hours=1)).isoformat(),
            "expires_at": (T0 + timedelta(days=1)).isoformat(),
            "explicit_request": True,
            "issuer": ZHEJIANG,
        },
    }
    jws = sign_document(payload, typ=CONSENT_TYP, signer=fed.keys[ZHEJIANG])
    return hukou(consent=jws.decode())


CASES = [
    Case(
        "unknown-scenario",
        "a scenario that is not in the registry permits nothing",
        lambda fed: hukou(scenario="no-such-scenario"),
        ScenarioUnknownError,
    ),
    Case(
        "scenario-not-in-force",
        "a scenario whose validity starts tomorrow permits nothing today",
        lambda fed: PolicyRequest(
            requester=SHANGHAI,  # type: ignore[arg-type]
            operation="record.request",
            target="social_insurance",
            scenario="not-yet",
            fields=("insured",),
        ),
        NotAuthorizedError,
        "scn",
    ),
    Case(
        "other-requester",
        "Zhejiang is not the requester the scenario names",
        lambda fed: hukou(requester=ZHEJIANG),
        NotAuthorizedError,
        "scn",
    ),
    Case(
        "other-operation",
        "the hukou scenario allows record.request only",
        lambda fed: hukou(operation="certificate.release"),
        NotAuthorizedError,
        "scn",
    ),
    Case(
        "other-record-type",
        "social_insurance is not a record type of the hukou scenario",
        lambda fed: hukou(target="social_insurance"),
        NotAuthorizedError,
        "scn",
    ),
    Case(
        "other-certificate-type",
        "a driving licence is not listed in the verification scenario",
        lambda fed: PolicyRequest(
            requester=SHANGHAI,  # type: ignore[arg-type]
            operation="certificate.verify",
            target=DRIVING_LICENCE.type_code,
            scenario=SCENARIO_VERIFY,
        ),
        NotAuthorizedError,
        "scn",
    ),
    Case(
        "field-outside-scenario",
        "household_size is not an allowed field: refused, not trimmed",
        lambda fed: hukou(fields=("registered_division", "household_size")),
        FieldNotAllowedError,
        "body.fields",
    ),
    Case(
        "consent-missing",
        "the hukou scenario requires consent",
        lambda fed: hukou(),
        ConsentRequiredError,
        "cns",
    ),
    Case(
        "consent-expired",
        "a consent that ended yesterday",
        _with_consent(now=T0 - timedelta(days=3), lifetime=timedelta(days=2)),
        ConsentExpiredError,
    ),
    Case(
        "consent-not-yet",
        "a consent that starts tomorrow",
        _with_consent(now=T0 + timedelta(days=1)),
        ConsentInvalidError,
    ),
    Case(
        "consent-other-holder",
        "the consent is another resident's",
        _with_consent(holder=OTHER),
        ConsentInvalidError,
        "holder_code",
    ),
    Case(
        "consent-other-scenario",
        "the consent was given for another scenario",
        _with_consent(scenario=SCENARIO_SOCIAL),
        ConsentInvalidError,
    ),
    Case(
        "consent-scope-too-small",
        "the holder agreed to registered_division only",
        _with_consent(scope=("registered_division",), fields=("is_household_head",)),
        ConsentInvalidError,
        "fields",
    ),
    Case(
        "consent-other-operation",
        "the consent covers releasing certificates, not records",
        _with_consent(operations=("certificate.release",)),
        ConsentInvalidError,
    ),
    Case(
        "consent-too-long",
        "the scenario accepts consents of at most 30 days",
        _with_consent(lifetime=timedelta(days=31)),
        ConsentInvalidError,
        "cns.expires_at",
    ),
    Case(
        "consent-wrong-key",
        "issued in Shanghai's name but signed with Jiangsu's key",
        _with_consent(signer=JIANGSU),
        ConsentInvalidError,
        "cns",
    ),
    Case(
        "consent-tampered",
        "the consent's signature was altered",
        _tampered,
        ConsentInvalidError,
        "cns",
    ),
    Case(
        "consent-foreign-issuer",
        "a consent recorded by another region, for another requester",
        _foreign_issuer,
        ConsentInvalidError,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_refusals(
    case: Case, engine: PolicyEngine, world: tuple[LocalFederation, FixedClock]
) -> None:
    fed, _ = world
    with pytest.raises(case.error) as info:
        engine.decide(case.request(fed))
    assert type(info.value) is case.error, case.why
    if case.field is not None:
        assert info.value.field == case.field, case.why


def test_field_refusal_names_every_disallowed_field(engine: PolicyEngine) -> None:
    with pytest.raises(FieldNotAllowedError) as info:
        engine.decide(hukou(fields=("household_size", "registered_division", "registered_since")))
    assert "household_size" in info.value.message
    assert "registered_since" in info.value.message
    assert "registered_division" not in info.value.message.split("field(s)")[1]


def test_permitted_with_consent(
    engine: PolicyEngine, world: tuple[LocalFederation, FixedClock]
) -> None:
    fed, _ = world
    decision = engine.decide(
        hukou(
            consent=consent(fed).decode(),
            fields=("is_household_head", "registered_division"),
        )
    )
    assert decision.fields == ("is_household_head", "registered_division")
    assert decision.consent is not None
    assert decision.consent.holder_code == HOLDER
    assert decision.scenario.id == SCENARIO_HUKOU
    assert decision.decided_at == T0


def test_no_consent_needed(engine: PolicyEngine) -> None:
    decision = engine.decide(
        PolicyRequest(
            requester=SHANGHAI,  # type: ignore[arg-type]
            operation="certificate.verify",
            target=IDENTITY_CARD.type_code,
            scenario=SCENARIO_VERIFY,
        )
    )
    assert decision.consent is None
    assert decision.fields == ()


@pytest.mark.parametrize("junk", ["a.b.c", "not a jws", "x" * 64])
def test_a_junk_consent_is_refused_even_where_none_is_required(
    engine: PolicyEngine, junk: str
) -> None:
    # Decided in protocol §5.5: a cns that is carried is checked, required or not.
    request = PolicyRequest(
        requester=SHANGHAI,  # type: ignore[arg-type]
        operation="certificate.verify",
        target=IDENTITY_CARD.type_code,
        scenario=SCENARIO_VERIFY,
        consent=junk,
    )
    with pytest.raises(ConsentInvalidError):
        engine.decide(request)


def test_a_valid_consent_for_another_scenario_is_refused_where_none_is_required(
    engine: PolicyEngine, world: tuple[LocalFederation, FixedClock]
) -> None:
    fed, _ = world
    request = PolicyRequest(
        requester=SHANGHAI,  # type: ignore[arg-type]
        operation="certificate.verify",
        target=IDENTITY_CARD.type_code,
        scenario=SCENARIO_VERIFY,
        consent=consent(fed).decode(),  # the holder's consent to the hukou scenario
    )
    with pytest.raises(ConsentInvalidError):
        engine.decide(request)


def test_system_of_the_requesting_organisation_is_permitted(engine: PolicyEngine) -> None:
    decision = engine.decide(
        PolicyRequest(
            requester="310000/dsj/portal",  # type: ignore[arg-type]
            operation="record.request",
            target="social_insurance",
            scenario=SCENARIO_SOCIAL,
            fields=("insured",),
        )
    )
    assert decision.requester == "310000/dsj/portal"


def test_other_provider_region_is_refused(world: tuple[LocalFederation, FixedClock]) -> None:
    fed, clock = world
    anhui = PolicyEngine(fed.trusted_registry(), provider_region="340000", clock=clock)
    with pytest.raises(NotAuthorizedError):
        anhui.decide(hukou(consent=consent(fed).decode()))


def test_certificate_named_by_id_checks_the_holder_afterwards(
    engine: PolicyEngine, world: tuple[LocalFederation, FixedClock]
) -> None:
    fed, _ = world
    cert = JS_DATA.find(HOLDER, IDENTITY_CARD.type_code)
    assert cert is not None
    signed = consent(
        fed,
        scenario=SCENARIO_RELEASE,
        scope=("name",),
        operations=("certificate.release",),
    )
    decision = engine.decide(
        PolicyRequest(
            requester=SHANGHAI,  # type: ignore[arg-type]
            operation="certificate.release",
            target=cert.certificate_id,
            scenario=SCENARIO_RELEASE,
            fields=("name",),
            consent=signed.decode(),
        )
    )
    decision.confirm_holder(HOLDER, "111")
    with pytest.raises(ConsentInvalidError):
        decision.confirm_holder(OTHER, "111")


def test_decision_uses_the_injected_clock(
    engine: PolicyEngine, world: tuple[LocalFederation, FixedClock]
) -> None:
    fed, clock = world
    signed = consent(fed, lifetime=timedelta(days=2)).decode()
    engine.decide(hukou(consent=signed))
    clock.set(T0 + timedelta(days=2))
    with pytest.raises(ConsentExpiredError):
        engine.decide(hukou(consent=signed))


def test_verify_consent_round_trip(world: tuple[LocalFederation, FixedClock]) -> None:
    fed, clock = world
    clock.set(T0)
    verifier = ProtocolVerifier(fed.trusted_registry(), JIANGSU, clock=clock, replay=None)
    parsed = verify_consent(verifier, consent(fed))
    assert parsed.requester == SHANGHAI
    assert parsed.scope == ("registered_division", "is_household_head")


def test_engine_refuses_a_bad_region(world: tuple[LocalFederation, FixedClock]) -> None:
    fed, clock = world
    with pytest.raises(ConfigurationError):
        PolicyEngine(fed.trusted_registry(), provider_region="999999", clock=clock)
