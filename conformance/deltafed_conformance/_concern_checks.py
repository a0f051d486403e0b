"""The checks of cross-region concerns (``docs/protocol.md`` section 10).

They read what they need from the registry the session trusts: the concern desk of the node
under test, a use scenario letting the tester file to it, and a certificate of the node's region
from the profile (``[verify] certificate_id`` and its holder). A registry that names no desk for
the node, or no such scenario, skips them: concerns are optional for a node.
"""

from __future__ import annotations

from typing import Any, Final

from deltafed._errors import DeltafedError, NotSupportedError
from deltafed.concerns import verify_history
from deltafed.protocol import ProtocolVerifier, new_jti
from deltafed.schemas.catalogue import UseScenario
from deltafed.schemas.concerns import ConcernDesk, ConcernHistory
from deltafed.schemas.identifiers import parse_member_id
from deltafed_conformance._model import Check, CheckFailed, CheckSkipped
from deltafed_conformance._session import Reply, Session

__all__ = ["CONCERN_CHECKS"]

_FILE: Final = "concern.file"
_HISTORY: Final = "concern.history"


def _desk(session: Session) -> ConcernDesk:
    doc = session.registry.current
    for catalogue in doc.catalogues:
        for desk in catalogue.concern_desks or ():
            if desk.member == session.node and "objection" in desk.categories:
                return desk
    raise CheckSkipped(f"the registry names no concern desk taking objections for {session.node}")


def _scenario(session: Session, member: str | None = None) -> UseScenario:
    who = member or session.tester
    region = parse_member_id(session.node).region
    at = session.clock()
    for scenario in session.registry.current.scenarios.scenarios:
        if (
            _FILE in scenario.operations
            and _HISTORY in scenario.operations
            and "objection" in (scenario.concern_categories or ())
            and region in scenario.providers
            and scenario.matches_requester(who)
            and scenario.in_force(at)
        ):
            return scenario
    raise CheckSkipped(f"no use scenario lets {who} file objections with {session.node}")


def _concern(session: Session, **change: Any) -> dict[str, Any]:
    subject = session.need(session.profile.verify, "[verify] subject")
    certificate = session.need(subject.certificate_id, "verify.certificate_id")
    desk = _desk(session)
    if certificate.split(".")[5] not in desk.certificate_types:
        raise CheckSkipped(f"the node's desk does not answer for {certificate}")
    stamp = session.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    concern: dict[str, Any] = {
        "id": "conf-" + new_jti(),
        "filer": {"type": subject.holder_type, "code": subject.holder_code},
        "subject": {"kind": "certificate", "ref": certificate},
        "category": "objection",
        "text": "deltafed conformance: synthetic objection",
        "consent": {"given": True, "given_at": stamp},
        "filed_at": stamp,
    }
    concern.update(change)
    return concern


def _file_claims(session: Session, concern: dict[str, Any], **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "op": _FILE,
        "tgt": concern["id"],
        "scn": _scenario(session).id,
        "body": concern,
    }
    base.update(over)
    return session.claims(**base)


def _history(reply: Reply) -> ConcernHistory:
    body = reply.expect_ok()
    try:
        return ConcernHistory.parse(body)
    except DeltafedError as exc:
        raise CheckFailed(f"the answer is not a ConcernHistory: {exc.message}") from exc


def _verify(session: Session, history: ConcernHistory, filing: bytes, concern_id: str) -> int:
    if history.filing.encode("ascii") != filing:
        raise CheckFailed("the history does not carry the exact filing request")
    verifier = ProtocolVerifier(session.registry, session.tester, clock=session.clock, replay=None)
    try:
        events = verify_history(
            verifier,
            history.events,
            concern_id=concern_id,
            filing_digest=session.registry.profile.digest_text(filing),
            responsible=session.node,
            filer=session.tester,
        )
    except DeltafedError as exc:
        raise CheckFailed(f"the history does not verify: {exc.code}: {exc.message}") from exc
    first = events[0].event
    if first.kind != "filed" or first.ack_due is None or first.answer_due is None:
        raise CheckFailed("event 0 is not a filed event with its deadlines")
    return len(events)


async def conc_file(session: Session) -> None:
    concern = _concern(session)
    raw = session.sign(_file_claims(session, concern))
    history = _history(await session.post(raw, op=_FILE))
    _verify(session, history, raw, concern["id"])


async def conc_idempotent(session: Session) -> None:
    concern = _concern(session)
    first = session.sign(_file_claims(session, concern))
    one = _history(await session.post(first, op=_FILE))
    again = _history(await session.send(_file_claims(session, concern)))
    if again.events != one.events or again.filing != one.filing:
        raise CheckFailed("filing the same concern again gave another history")
    other = dict(concern, text="deltafed conformance: another text under the same id")
    body = (await session.send(_file_claims(session, other))).expect_problem("invalid_input", 400)
    if body.get("field") != "body.id":
        raise CheckFailed(f"the refusal names field {body.get('field')!r}, not 'body.id'")


async def conc_not_allowed(session: Session) -> None:
    outsider = session.need(session.outsider, "outsider member ([keys] outsider_id/outsider_key)")
    member, key = outsider
    concern = _concern(session)
    claims = _file_claims(session, concern, iss=member)
    (await session.send(claims, key)).expect_problem("not_authorized", 403)


async def conc_no_consent(session: Session) -> None:
    stamp = session.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    concern = _concern(session, consent={"given": False, "given_at": stamp})
    (await session.send(_file_claims(session, concern))).expect_problem("consent_required", 403)


async def conc_target(session: Session) -> None:
    concern = _concern(session)
    claims = _file_claims(session, concern, tgt="conf-" + new_jti())
    body = (await session.send(claims)).expect_problem("invalid_input", 400)
    if body.get("field") != "tgt":
        raise CheckFailed(f"the refusal names field {body.get('field')!r}, not 'tgt'")


async def conc_history(session: Session) -> None:
    concern = _concern(session)
    raw = session.sign(_file_claims(session, concern))
    filed = _history(await session.post(raw, op=_FILE))
    scenario = _scenario(session).id
    claims = session.claims(
        op=_HISTORY, tgt=concern["id"], scn=scenario, body={"concern_id": concern["id"]}
    )
    read = _history(await session.send(claims))
    if _verify(session, read, raw, concern["id"]) < len(filed.events):
        raise CheckFailed("the history lost events")
    unknown = "conf-" + new_jti()
    claims = session.claims(op=_HISTORY, tgt=unknown, scn=scenario, body={"concern_id": unknown})
    (await session.send(claims)).expect_problem("not_found", 404)


async def conc_other_region(session: Session) -> None:
    region = parse_member_id(session.node).region
    elsewhere = parse_member_id(session.tester).region
    if elsewhere == region:
        raise CheckSkipped("the tester is in the node's region")
    concern = _concern(
        session,
        subject={"kind": "procedure", "ref": "kuasheng-tongban", "region": elsewhere},
    )
    (await session.send(_file_claims(session, concern))).expect_problem("not_authorized", 403)


async def conc_correction_hook(session: Session) -> None:
    factory = session.adapter_factory
    if factory is None:
        raise CheckSkipped("the correction hook runs in process, against an adapter (--adapter)")
    subject = session.need(session.profile.verify, "[verify] subject")
    certificate = session.need(subject.certificate_id, "verify.certificate_id")
    adapter = factory()
    try:
        try:
            meta = await adapter.correct_certificate(
                certificate, {"address": "测试路1号 (conformance)"}, reason="deltafed conformance"
            )
        except NotSupportedError as exc:
            raise CheckSkipped(f"the adapter omits the optional hook: {exc.message}") from exc
        except DeltafedError as exc:
            raise CheckFailed(f"correct_certificate failed: {exc.code}: {exc.message}") from exc
        data = await adapter.certificate_data(meta.identifier, ["address"])
        if data != {"address": "测试路1号 (conformance)"}:
            raise CheckFailed(f"the corrected certificate holds {data}")
        old = await adapter.find_certificate(certificate_id=certificate)
        if old.status.value == "01":
            raise CheckFailed("the certificate corrected is still valid")
        found = await adapter.find_certificate(
            holder_code=subject.holder_code,
            holder_type=subject.holder_type,
            type_code=meta.type_code,
        )
        if found.identifier != meta.identifier:
            raise CheckFailed("looking up the holder's certificate does not find the correction")
    finally:
        await adapter.aclose()


# (id, title, requirement, run)
_TABLE: Final = (
    ("DF-CONC-001", "File a concern",
     "a permitted concern.file answers the concern's history: the exact filing and a signed "
     "filed event chained to it, with its deadlines", conc_file),
    ("DF-CONC-002", "Filing is idempotent",
     "the same concern filed again gets the same history; another concern under a used id "
     "is invalid_input (400, field body.id)", conc_idempotent),
    ("DF-CONC-003", "Filing outside the scenario",
     "a member no scenario lets file is refused with not_authorized (403)", conc_not_allowed),
    ("DF-CONC-004", "Concern without consent",
     "a concern whose consent.given is false is refused with consent_required (403)",
     conc_no_consent),
    ("DF-CONC-005", "Concern bound to its id",
     "a concern request whose tgt is not the concern id is invalid_input (400, field tgt)",
     conc_target),
    ("DF-CONC-006", "Concern history",
     "the filer reads the verified history; an unknown concern is not_found (404)",
     conc_history),
    ("DF-CONC-007", "Concern for another region",
     "a concern another region must answer is refused with not_authorized (403)",
     conc_other_region),
    ("DF-CONC-008", "Certificate correction hook",
     "an adapter that offers correct_certificate issues a valid new version with the fields "
     "changed and withdraws the old one", conc_correction_hook),
)  # fmt: skip

#: The concern checks, in run order.
CONCERN_CHECKS: Final[tuple[Check, ...]] = tuple(
    Check(
        check_id,
        title,
        f"docs/protocol.md §10: {text}",
        run,
        in_process=check_id == "DF-CONC-008",
    )
    for check_id, title, text, run in _TABLE
)
