"""File, acknowledge, answer, correct: the whole exchange through a node, with a frozen clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest

from deltafed import InvalidInputError, NotFoundError, PeerProblemError
from deltafed.concerns import ConcernFiler
from deltafed.concerns._example import SCENARIO_CONCERNS, SCENARIO_SUPERVISION, add_concerns
from deltafed.testing import JIANGSU, SHANGHAI, ZHEJIANG, synthetic_catalogue, synthetic_population

SUPERVISOR = "320000/zwfw"
CERT = synthetic_population().region("320000").certificates[1]
World = Any

pytestmark = pytest.mark.anyio


async def test_file_acknowledge_answer_within_the_deadline(
    world: World, shanghai: ConcernFiler, make_concern: Any
) -> None:
    filed = await shanghai.afile(make_concern(), scenario=SCENARIO_CONCERNS)
    assert filed.responsible == JIANGSU
    assert filed.status == "filed"
    first = filed.events[0].event
    # Friday 13 Feb 2026: acknowledge by the end of the make-up Saturday, answer by the end of
    # the second working day after the Spring Festival.
    assert first.ack_due is not None
    assert first.answer_due is not None
    assert first.ack_due.isoformat() == "2026-02-14T16:00:00+00:00"
    assert first.answer_due.isoformat() == "2026-02-25T16:00:00+00:00"
    assert first.prev == filed.filing_digest

    world.clock.advance(3600)
    world.service.acknowledge(filed.id)
    world.clock.advance(3600)
    world.service.update(filed.id, "accepted")
    answer = await world.service.uphold_objection(
        filed.id, "地址已更正 (test)", corrections={"address": "扬州市测试路521号"}
    )
    assert answer.answer is not None
    assert answer.answer.correction is not None
    new_id = answer.answer.correction.new_certificate_id
    assert new_id is not None
    assert new_id != CERT.certificate_id

    seen = await shanghai.ahistory(filed.id)
    # Both regions index the concern under the resident, who sees it in their view: the filing
    # on the filer's side (a poll carries no identity number), every exchange and event on the
    # responder's.
    filer_view = world.logs[SHANGHAI].subject_view(CERT.holder_code)
    assert [(r.operation, r.recorded_by) for r in filer_view] == [("concern.file", "requester")]
    responder_view = world.logs[JIANGSU].subject_view(CERT.holder_code)
    assert [r.operation for r in responder_view] == [
        "concern.file",
        "concern.acknowledge",
        "concern.update",
        "concern.answer",
        "concern.history",
    ]
    assert [e.event.kind for e in seen.events] == ["filed", "acknowledged", "status", "answered"]
    assert seen.status == "answered"
    assert seen.events[-1].event.iat < int(first.answer_due.timestamp())

    # The corrected certificate is valid on the platform, the old one is not.
    meta = await world.adapter.find_certificate(certificate_id=new_id)
    assert meta.status.value == "01"
    assert (await world.adapter.certificate_data(new_id, ["address"])) == {
        "address": "扬州市测试路521号"
    }
    old = await world.adapter.find_certificate(certificate_id=CERT.certificate_id)
    assert old.status.value != "01"

    # Idempotent: the same answer again is the same event; closing then works once.
    again = await world.service.uphold_objection(
        filed.id, "地址已更正 (test)", corrections={"address": "扬州市测试路521号"}
    )
    assert again == answer
    closed = world.service.close(filed.id)
    assert world.service.close(filed.id) == closed
    with pytest.raises(InvalidInputError):
        world.service.update(filed.id, "in_progress")


async def test_filing_twice_is_idempotent_and_an_id_cannot_be_reused(
    world: World, shanghai: ConcernFiler, make_concern: Any
) -> None:
    one = await shanghai.afile(make_concern(), scenario=SCENARIO_CONCERNS)
    two = await shanghai.afile(make_concern(), scenario=SCENARIO_CONCERNS)
    assert [e.raw for e in one.events] == [e.raw for e in two.events]
    with pytest.raises(PeerProblemError) as caught:
        await shanghai.afile(make_concern(text="another text"), scenario=SCENARIO_CONCERNS)
    assert caught.value.problem_code == "invalid_input"
    assert len(world.service.list_concerns()) == 1


async def test_a_member_the_scenario_does_not_allow_cannot_file(
    world: World, make_concern: Any
) -> None:
    async with httpx.AsyncClient(transport=world.transport(), timeout=10) as http:
        zhejiang = ConcernFiler(world.client(ZHEJIANG, http), world.node.registry)
        with pytest.raises(PeerProblemError) as caught:
            await zhejiang.afile(make_concern(), scenario=SCENARIO_CONCERNS)
    assert caught.value.problem_code == "not_authorized"
    assert world.service.list_concerns() == []


async def test_a_category_outside_the_scenario_is_refused(world: World, make_concern: Any) -> None:
    builder = world.fed.builder()
    add_concerns(
        builder,
        synthetic_catalogue("320000"),
        desk=JIANGSU,
        supervisor=SUPERVISOR,
        filers=[SHANGHAI],
        categories=["question"],
    )
    world.node.registry.update(world.fed.sign_registry(builder))
    async with httpx.AsyncClient(transport=world.transport(), timeout=10) as http:
        filer = ConcernFiler(world.client(SHANGHAI, http), world.node.registry)
        with pytest.raises(PeerProblemError) as caught:
            await filer.afile(make_concern(), scenario=SCENARIO_CONCERNS)
        assert caught.value.problem_code == "not_authorized"
        asked = await filer.afile(
            make_concern(2, category="question", text="办理流程? (test)"),
            scenario=SCENARIO_CONCERNS,
        )
        assert asked.status == "filed"


async def test_no_consent_no_concern(
    world: World, shanghai: ConcernFiler, make_concern: Any
) -> None:
    refused = make_concern(consent={"given": False, "given_at": "2026-02-13T01:55:00Z"})
    with pytest.raises(PeerProblemError) as caught:
        await shanghai.afile(refused, scenario=SCENARIO_CONCERNS)
    assert caught.value.problem_code == "consent_required"


async def test_history_is_only_for_the_filer(
    world: World, shanghai: ConcernFiler, make_concern: Any
) -> None:
    filed = await shanghai.afile(make_concern(), scenario=SCENARIO_CONCERNS)
    async with httpx.AsyncClient(transport=world.transport(), timeout=10) as http:
        supervisor = world.client(SUPERVISOR, http)
        result = await supervisor.exchange(
            JIANGSU,
            operation="concern.history",
            target=filed.id,
            scenario=SCENARIO_SUPERVISION,
            body={"concern_id": filed.id},
        )
    assert not result.response.ok
    assert result.body["code"] == "not_found"


async def test_operator_errors_are_typed(
    world: World, shanghai: ConcernFiler, make_concern: Any
) -> None:
    with pytest.raises(NotFoundError):
        world.service.acknowledge("no-such-concern-000")
    filed = await shanghai.afile(make_concern(), scenario=SCENARIO_CONCERNS)
    with pytest.raises(InvalidInputError):
        world.service.close(filed.id)  # not answered yet
    with pytest.raises(InvalidInputError):
        world.service.update(filed.id, "answered")
    rejected = world.service.reject(filed.id, reason="不属于本部门职责 (test)")
    assert rejected.status == "rejected"
    assert rejected.reason
    assert world.service.tick(world.clock() + timedelta(days=30)) == []


class _SyncToNode(httpx.BaseTransport):
    """A synchronous transport that hands each request to the node in process."""

    def __init__(self, node: Any) -> None:
        self.node = node

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()

        async def answer() -> Any:
            return await self.node.handle(
                request.url.path, body, content_type=request.headers.get("content-type")
            )

        reply = anyio.run(answer)
        return httpx.Response(
            reply.status, content=reply.body, headers={"content-type": reply.content_type}
        )


def test_the_sync_filer_files_and_reads_the_history(world: World, make_concern: Any) -> None:
    from deltafed.client import FederationClient

    with (
        httpx.Client(transport=_SyncToNode(world.node)) as http,
        FederationClient(
            SHANGHAI, world.fed.keys[SHANGHAI], world.node.registry, clock=world.clock, http=http
        ) as client,
    ):
        filer = ConcernFiler(client, world.node.registry, clock=world.clock)
        filed = filer.file(make_concern(), scenario=SCENARIO_CONCERNS)
        world.service.acknowledge(filed.id)
        seen = filer.history(filed.id)
        assert [e.event.kind for e in seen.events] == ["filed", "acknowledged"]
        assert filer.filed(filed.id) == seen
        with pytest.raises(InvalidInputError):
            anyio.run(filer.ahistory, filed.id)  # a sync client has no async methods


async def test_a_deadline_in_an_unknown_year_is_refused_not_guessed(
    world: World, shanghai: ConcernFiler, make_concern: Any, caplog: pytest.LogCaptureFixture
) -> None:
    world.clock.set(datetime(2026, 12, 30, 2, 0, tzinfo=UTC))  # three working days run into 2027
    with pytest.raises(PeerProblemError) as caught:
        await shanghai.afile(make_concern(), scenario=SCENARIO_CONCERNS)
    # calendar_unknown_year is a local code: the peer sees a bare internal_error, nothing stored.
    assert caught.value.problem_code == "internal_error"
    assert world.service.list_concerns() == []
    assert "no schedule for 2027" in caplog.text  # the operator is told why
    assert "Update deltafed's working-day calendar data" in caplog.text  # and what to do


def test_metadata_offers_the_concern_operations_only_with_a_service(world: World) -> None:
    from deltafed.protocol import peek_unverified_claims

    served = peek_unverified_claims(world.node.metadata()) or {}
    plain = world.fed.node(JIANGSU)
    bare = peek_unverified_claims(plain.metadata()) or {}
    concern_ops = {"concern.file", "concern.history", "concern.escalations"}
    assert concern_ops <= set(served["offers"]["operations"])
    assert not concern_ops & set(bare["offers"]["operations"])
    assert "/deltafed/v1/concerns" not in bare["endpoints"]["paths"].values()


async def test_a_node_without_concerns_answers_a_signed_not_found(
    world: World, make_concern: Any
) -> None:
    plain = world.fed.node(JIANGSU, registry=world.node.registry)
    async with httpx.AsyncClient(
        transport=world.fed.asgi_transport({JIANGSU: plain}), timeout=10
    ) as http:
        filer = ConcernFiler(world.client(SHANGHAI, http), world.node.registry)
        with pytest.raises(PeerProblemError) as caught:
            await filer.afile(make_concern(), scenario=SCENARIO_CONCERNS)
    assert caught.value.problem_code == "not_found"
