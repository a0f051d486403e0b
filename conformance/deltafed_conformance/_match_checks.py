"""Checks of purpose-bound matching (``docs/protocol.md`` section 12, MATCH-NNN)."""

from __future__ import annotations

from typing import Any, Final

from deltafed._errors import DeltafedError
from deltafed.schemas.matching import MatchAnswer
from deltafed_conformance._model import Check, CheckFailed, CheckSkipped
from deltafed_conformance._profile import Subject
from deltafed_conformance._session import Session

__all__ = ["MATCH_CHECKS"]


def _fail(condition: bool, reason: str) -> None:
    if condition:
        raise CheckFailed(reason)


def _question(session: Session, subject: Subject, *, asked: str | None = None) -> dict[str, Any]:
    if subject.predicate is not None:
        predicate = asked or subject.predicate
        body: dict[str, Any] = {
            "predicate": predicate,
            "subject_type": subject.holder_type,
            "subject_code": subject.holder_code,
            "use_cause": "deltafed conformance",
        }
        return session.claims(op="match.ask", tgt=predicate, scn=subject.scenario, body=body)
    aggregate = asked or session.need(subject.aggregate, "count.aggregate")
    body = {
        "aggregate": aggregate,
        "place": session.need(subject.place, "count.place"),
        "use_cause": "deltafed conformance",
    }
    return session.claims(op="match.ask", tgt=aggregate, scn=subject.scenario, body=body)


def _answer(body: dict[str, Any]) -> MatchAnswer:
    try:
        return MatchAnswer.parse(body)
    except DeltafedError as exc:
        raise CheckFailed(f"the answer is not a MatchAnswer: {exc.message}") from exc


async def match_predicate(session: Session) -> None:
    subject: Subject = session.need(session.profile.match, "[match] subject")
    session.need(subject.predicate, "match.predicate")
    body = (await session.send(_question(session, subject))).expect_ok()
    _fail(set(body) != {"predicate", "result"}, f"the answer holds {sorted(body)}, not only a bool")
    answer = _answer(body)
    _fail(answer.predicate != subject.predicate, f"answered predicate {answer.predicate}")


async def match_small_count(session: Session) -> None:
    subject: Subject = session.need(session.profile.count, "[count] subject")
    body = (await session.send(_question(session, subject))).expect_ok()
    answer = _answer(body)
    k = session.registry.scenario(subject.scenario).min_group_size
    if k is None:
        raise CheckFailed(f"scenario {subject.scenario} has no min_group_size")
    if answer.count is not None:
        _fail(answer.count < k, f"answered a count of {answer.count}, below K = {k}")
    else:
        _fail(answer.fewer_than != k, f"answered fewer_than {answer.fewer_than}, K is {k}")


async def match_unnamed(session: Session) -> None:
    subject: Subject = session.need(session.profile.match, "[match] subject")
    claims = _question(session, subject, asked="deltafed-conformance-unnamed")
    (await session.send(claims)).expect_problem("not_authorized", 403)


async def match_rate_limit(session: Session) -> None:
    subject: Subject = session.need(session.profile.count, "[count] subject")
    scenario = session.registry.scenario(subject.scenario)
    limit = scenario.rate_limit
    if limit is None:
        raise CheckFailed(f"scenario {subject.scenario} sets no rate_limit to test against")
    for _ in range(limit.burst + 1):
        reply = await session.send(_question(session, subject))
        if reply.claims is None:
            raise CheckSkipped("an answer is not a signed response; see DF-ERR-001")
        if reply.claims.sts == "problem":
            reply.expect_problem("rate_limited", 429)
            return
    raise CheckFailed(
        f"{limit.burst + 1} questions in a row were all answered (burst {limit.burst})"
    )


_TABLE: Final = (
    ("DF-MATCH-001", "Predicate answered yes/no only", "§12.3 [MATCH-004]",
     "a match.ask predicate is answered with the predicate and a boolean, nothing else",
     match_predicate),
    ("DF-MATCH-002", "Small counts hidden", "§12.3 [MATCH-005]",
     "a count below the scenario's min_group_size is answered only as fewer_than K",
     match_small_count),
    ("DF-MATCH-003", "Only named predicates", "§12.1 [MATCH-003]",
     "a predicate id the scenario does not name is refused with not_authorized (403)",
     match_unnamed),
    ("DF-MATCH-004", "Rate limit", "§12.4 [MATCH-008]",
     "more questions than the scenario's burst are refused with rate_limited (429)",
     match_rate_limit),
)  # fmt: skip

#: The matching checks, in run order (the rate limit last: it empties a bucket).
MATCH_CHECKS: Final[tuple[Check, ...]] = tuple(
    Check(check_id, title, f"docs/protocol.md {section}: {text}", run)
    for check_id, title, section, text, run in _TABLE
)
