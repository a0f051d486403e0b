"""The answering side of ``match.ask``: a boolean or a count, never the data behind it."""

from __future__ import annotations

from deltafed._errors import NotAuthorizedError
from deltafed.adapters import ProvinceAdapter
from deltafed.matching._ratelimit import RateLimiter
from deltafed.schemas.catalogue import UseScenario
from deltafed.schemas.matching import MatchAnswer, MatchQuestion

__all__ = ["Matcher"]


class Matcher:
    """Answers permitted questions through ``adapter``, one rate-limit token each.

    The policy decision comes first (the scenario allows this requester to ask this predicate
    or aggregate); the token is taken before the platform is asked anything.
    """

    def __init__(self, adapter: ProvinceAdapter, limiter: RateLimiter) -> None:
        self.adapter = adapter
        self.limiter = limiter

    async def answer(
        self, scenario: UseScenario, requester: str, question: MatchQuestion
    ) -> MatchAnswer:
        if question.predicate is not None:
            predicate = scenario.predicate(question.predicate)
            if predicate is None or question.subject_code is None or question.subject_type is None:
                raise NotAuthorizedError(
                    f"scenario {scenario.id} names no predicate {question.predicate}", field="tgt"
                )
            self.limiter.take(requester, scenario.id, scenario.rate_limit)
            result = await self.adapter.evaluate_predicate(
                predicate,
                question.subject_code,
                question.subject_type,
                use_cause=question.use_cause,
            )
            return MatchAnswer(predicate=predicate.id, result=result)
        aggregate = scenario.aggregate(str(question.aggregate))
        if aggregate is None or question.place is None or scenario.min_group_size is None:
            raise NotAuthorizedError(
                f"scenario {scenario.id} names no aggregate {question.aggregate}", field="tgt"
            )
        self.limiter.take(requester, scenario.id, scenario.rate_limit)
        count = await self.adapter.count_subjects(
            aggregate, question.place, use_cause=question.use_cause
        )
        if count < scenario.min_group_size:
            return MatchAnswer(
                aggregate=aggregate.id, place=question.place, fewer_than=scenario.min_group_size
            )
        return MatchAnswer(aggregate=aggregate.id, place=question.place, count=count)
