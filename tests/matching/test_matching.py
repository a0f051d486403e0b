"""Purpose-bound matching: signed booleans and counts, never the record behind them."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from deltafed import (
    FixedClock,
    NotAuthorizedError,
    PeerProblemError,
    RateLimitedError,
    SchemaValidationError,
)
from deltafed.adapters import ProvinceAdapter
from deltafed.adapters._synthetic import company_credit_code
from deltafed.adapters.jiangsu import JiangsuAdapter
from deltafed.adapters.shanghai import ShanghaiAdapter
from deltafed.adapters.zhejiang import ZhejiangAdapter
from deltafed.client import AsyncFederationClient
from deltafed.matching import RateLimiter, SqliteBucketStore
from deltafed.schemas.catalogue import UseScenario
from deltafed.schemas.common import HolderType
from deltafed.schemas.matching import MatchAnswer, Predicate, RateLimit, compare
from deltafed.testing import (
    SCENARIO_COUNT,
    SCENARIO_MATCH,
    SHANGHAI,
    ZHEJIANG,
    InMemoryAdapter,
    LocalFederation,
    MemoryRecord,
    synthetic_population,
)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
COMPANY_PREDICATE = "company-insures-50-employees"
RESIDENT_PREDICATE = "resident-insured-12-months"
AGGREGATE = "residents-registered-in-division"
ZJ = synthetic_population().region("330000")


def _employees(code: str) -> int:
    rec = ZJ.record("enterprise_standing", code)
    assert rec is not None
    value = rec.fields["employees"]
    assert isinstance(value, int)
    return value


class World:
    def __init__(self, adapter: ProvinceAdapter | None = None) -> None:
        self.clock = FixedClock(T0)
        self.fed = LocalFederation(clock=self.clock, members={SHANGHAI: None, ZHEJIANG: None})
        self.node = self.fed.node(ZHEJIANG, adapter=adapter)
        self.audit = self.fed.audit_log(SHANGHAI)
        self.http = httpx.AsyncClient(transport=self.fed.asgi_transport({ZHEJIANG: self.node}))
        self.client = AsyncFederationClient(
            SHANGHAI,
            self.fed.keys[SHANGHAI],
            self.fed.trusted_registry(),
            clock=self.clock,
            http=self.http,
            audit=self.audit,
        )

    async def ask(
        self, code: str, predicate: str = COMPANY_PREDICATE, subject_type: str = "001"
    ) -> bool:
        return await self.client.ask_predicate(
            ZHEJIANG,
            scenario=SCENARIO_MATCH,
            predicate=predicate,
            subject_code=code,
            subject_type=subject_type,
            use_cause="企业社保补贴资格核验",
        )

    async def count(self, place: str) -> MatchAnswer:
        return await self.client.count_subjects(
            ZHEJIANG,
            scenario=SCENARIO_COUNT,
            aggregate=AGGREGATE,
            place=place,
            use_cause="群租排查",
        )


@pytest.fixture
async def world() -> AsyncIterator[World]:
    w = World()
    yield w
    await w.http.aclose()


@pytest.mark.anyio
async def test_a_company_condition_is_answered_yes_or_no_and_nothing_else(world: World) -> None:
    for company in ZJ.companies:
        answer = await world.ask(company.credit_code)
        assert answer is (_employees(company.credit_code) >= 50)
    # Both answers occur in the synthetic data, so the test sees a yes and a no.
    assert {_employees(c.credit_code) >= 50 for c in ZJ.companies} == {True, False}
    entries = world.node.audit.by_counterpart(SHANGHAI)  # type: ignore[attr-defined]
    assert [e.fields for e in entries] == [()] * len(ZJ.companies)
    assert all(
        e.detail and e.detail.startswith(f"predicate {COMPANY_PREDICATE} = ") for e in entries
    )
    mine = world.audit.by_counterpart(ZHEJIANG)
    assert [e.detail for e in mine] == [e.detail for e in entries]


@pytest.mark.anyio
async def test_the_signed_answer_carries_only_the_boolean(world: World) -> None:
    company = ZJ.companies[0].credit_code
    result = await world.client.exchange(
        ZHEJIANG,
        operation="match.ask",
        target=COMPANY_PREDICATE,
        scenario=SCENARIO_MATCH,
        body={
            "predicate": COMPANY_PREDICATE,
            "subject_type": "001",
            "subject_code": company,
            "use_cause": "核验",
        },
    )
    assert result.response.ok
    assert set(result.body) == {"predicate", "result"}
    # Every value of the signed payload, not its base64 text (where "12" can occur by chance).
    payload = json.loads(base64.urlsafe_b64decode(_padded(result.response.raw.split(b".")[1])))
    count = _employees(company)
    assert count not in list(_scalars(payload))
    assert str(count) not in [v for v in _scalars(payload) if isinstance(v, str)]


def _padded(part: bytes) -> bytes:
    return part + b"=" * (-len(part) % 4)


def _scalars(value: object) -> Iterator[object]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _scalars(item)
    elif isinstance(value, list):
        for item in value:
            yield from _scalars(item)
    elif not isinstance(value, bool):
        yield value


@pytest.mark.anyio
async def test_a_subject_without_a_record_satisfies_no_predicate(world: World) -> None:
    absent = company_credit_code("330100", 999)
    assert ZJ.record("enterprise_standing", absent) is None
    assert await world.ask(absent) is False


@pytest.mark.anyio
async def test_a_predicate_the_scenario_does_not_name_is_refused(world: World) -> None:
    # Refused by the client before sending, with the code the node sends when it gets one.
    with pytest.raises(NotAuthorizedError):
        await world.ask(ZJ.companies[0].credit_code, predicate="company-anything")
    result = await world.client.exchange(
        ZHEJIANG,
        operation="match.ask",
        target="company-anything",
        scenario=SCENARIO_MATCH,
        body={
            "predicate": "company-anything",
            "subject_type": "001",
            "subject_code": ZJ.companies[0].credit_code,
            "use_cause": "核验",
        },
        screen=False,
    )
    assert result.body["code"] == "not_authorized"


@pytest.mark.anyio
async def test_a_small_count_is_answered_as_fewer_than_k(world: World) -> None:
    place = ZJ.residents[0].division
    answer = await world.count(place)
    assert answer.count is None
    assert answer.fewer_than == 5
    entries = world.node.audit.by_scenario(SCENARIO_COUNT)  # type: ignore[attr-defined]
    assert entries[-1].detail == f"aggregate {AGGREGATE} at {place} = fewer than 5"


@pytest.mark.anyio
async def test_a_count_at_or_above_k_is_answered() -> None:
    adapter = InMemoryAdapter.synthetic("330000")
    place = "330106"
    for person in synthetic_population(7, residents_per_region=12).region("330000").residents[:7]:
        adapter.add_record(
            MemoryRecord(
                "household_registration",
                person.resident_id,
                HolderType.RESIDENT,
                T0,
                {"registered_division": place},
            )
        )
    w = World(adapter)
    try:
        answer = await w.count(place)
    finally:
        await w.http.aclose()
    assert (answer.count, answer.fewer_than) == (7, None)
    assert adapter.calls[-1] == "count_subjects"


@pytest.mark.anyio
async def test_questions_are_rate_limited_per_requester_and_scenario(world: World) -> None:
    code = ZJ.companies[0].credit_code
    for _ in range(10):  # the scenario's burst
        await world.ask(code)
    with pytest.raises(PeerProblemError) as caught:
        await world.ask(code)
    assert (caught.value.problem_code, caught.value.peer_status) == ("rate_limited", 429)
    # Another scenario has its own bucket.
    await world.count(ZJ.residents[0].division)
    world.clock.advance(60)  # 60 an hour: one token a minute
    await world.ask(code)
    with pytest.raises(PeerProblemError):
        await world.ask(code)
    entries = world.node.audit.by_scenario(SCENARIO_MATCH)  # type: ignore[attr-defined]
    assert [e.outcome for e in entries].count("rate_limited") == 2


def test_a_sqlite_bucket_is_shared_between_processes_of_a_node(tmp_path: Path) -> None:
    clock = FixedClock(T0)
    limit = RateLimit(burst=2, per_hour=3600)
    with (
        SqliteBucketStore(tmp_path / "state.db") as one,
        SqliteBucketStore(tmp_path / "state.db") as two,
    ):
        first, second = RateLimiter(one, clock=clock), RateLimiter(two, clock=clock)
        first.take(SHANGHAI, "s", limit)
        second.take(SHANGHAI, "s", limit)
        with pytest.raises(RateLimitedError) as caught:
            first.take(SHANGHAI, "s", limit)
        assert caught.value.status == 429
        first.take(ZHEJIANG, "s", limit)  # another requester, another bucket
        clock.advance(1)
        second.take(SHANGHAI, "s", limit)


@pytest.mark.anyio
@pytest.mark.parametrize("kind", [JiangsuAdapter, ZhejiangAdapter, ShanghaiAdapter])
async def test_sandboxes_evaluate_predicates_and_count_without_releasing(
    kind: type[JiangsuAdapter] | type[ZhejiangAdapter] | type[ShanghaiAdapter],
) -> None:
    adapter, sandbox = kind.with_sandbox(clock=FixedClock(T0))
    data = synthetic_population().region(adapter.region)
    predicate = Predicate.parse(
        {
            "id": "p",
            "record_type": "social_insurance",
            "field": "months_paid",
            "comparison": "ge",
            "threshold": 12,
        }
    )
    async with adapter:
        for person in data.residents:
            rec = data.record("social_insurance", person.resident_id)
            assert rec is not None
            expected = compare(rec.fields["months_paid"], "ge", 12)
            got = await adapter.evaluate_predicate(
                predicate, person.resident_id, HolderType.RESIDENT, use_cause="核验"
            )
            assert got is expected
        division = data.residents[0].division
        expected_count = sum(
            1
            for r in data.records
            if r.record_type == "household_registration"
            and r.fields["registered_division"] == division
        )
        from deltafed.schemas.matching import Aggregate

        aggregate = Aggregate.parse(
            {"id": "a", "record_type": "household_registration", "field": "registered_division"}
        )
        assert await adapter.count_subjects(aggregate, division, use_cause="群租排查") == (
            expected_count
        )
    assert sandbox.use_causes[-1] == "群租排查"


def test_compare_never_matches_a_missing_or_mistyped_value() -> None:
    assert compare(12, "ge", 12)
    assert not compare(11, "ge", 12)
    assert not compare(None, "ne", 12)
    assert not compare("12", "eq", 12)
    assert not compare(True, "eq", 1)
    assert compare("330106", "eq", "330106")
    assert compare(False, "ne", True)


def _scenario(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "s",
        "name": "n",
        "service_matter": "m",
        "legal_basis": "b",
        "requester": SHANGHAI,
        "providers": ["330000"],
        "operations": ["match.ask"],
        "consent_required": False,
    }
    base.update(over)
    return base


AGG = {"id": "a", "record_type": "household_registration", "field": "registered_division"}


@pytest.mark.parametrize(
    "over",
    [
        {},  # match.ask without a predicate or aggregate
        {"aggregates": [AGG]},  # no minimum group size
        {"aggregates": [AGG], "min_group_size": 1},
        {"aggregates": [AGG], "min_group_size": 5, "consent_required": True},
        {
            "predicates": [
                {"id": "p", "record_type": "r", "field": "f", "comparison": "ge", "threshold": "12"}
            ]
        },  # ordering needs a whole number
        {
            "predicates": [
                {"id": "p", "record_type": "r", "field": "f", "comparison": "eq", "threshold": 1.5}
            ]
        },  # never a float
        {
            "operations": ["record.request"],
            "record_types": ["r"],
            "allowed_fields": ["f"],
            "aggregates": [AGG],
            "min_group_size": 5,
        },  # aggregates without match.ask
    ],
)
def test_scenarios_that_could_leak_are_refused(over: dict[str, object]) -> None:
    with pytest.raises(SchemaValidationError):
        UseScenario.parse(_scenario(**over))


def test_a_scenario_permits_only_the_predicates_it_names() -> None:
    scenario = UseScenario.parse(_scenario(aggregates=[AGG], min_group_size=5))
    assert scenario.permits(SHANGHAI, "330000", "match.ask", "a", at=T0)
    assert not scenario.permits(SHANGHAI, "330000", "match.ask", "registered_division", at=T0)
