"""Routing and deadlines of concerns, read from the verified registry (no I/O).

* :func:`route` - which member answers a concern: the responsible region is the issuer's
  for a certificate (from the issuing agency's code in the identifier) and the one named for a
  record type or a procedure; in that region's catalogue, the desk that covers the subject and
  takes the category.
* :func:`check_filing` - whether a use scenario lets a member file that category to that desk
  (default deny).
* :func:`deadlines` - when acknowledging and answering are due, in working days of the
  official calendar, from the federation's concern policy.
"""

from __future__ import annotations

from datetime import datetime

from deltafed._errors import NotAuthorizedError, NotFoundError
from deltafed._workdays import WorkdayCalendar
from deltafed.registry import RegistryDocument
from deltafed.schemas.catalogue import UseScenario
from deltafed.schemas.concerns import ConcernDesk, ConcernSubject
from deltafed.schemas.identifiers import parse_member_id

__all__ = ["check_filing", "check_reader", "deadlines", "route"]


def route(doc: RegistryDocument, subject: ConcernSubject, category: str) -> ConcernDesk:
    """The desk that answers ``category`` concerns about ``subject``, or
    :class:`~deltafed.NotFoundError` when the registry names none."""
    region = subject.responsible_region
    catalogue = next((c for c in doc.catalogues if c.region == region), None)
    desks = catalogue.concern_desks if catalogue is not None else None
    for desk in desks or ():
        if desk.covers(subject) and category in desk.categories:
            return desk
    raise NotFoundError(
        f"no member of region {region} takes {category} concerns about {subject.kind} "
        f"{subject.ref}",
        field="body.subject",
    )


def _scenario_allows(
    scenario: UseScenario, requester: str, region: str, operation: str, at: datetime
) -> bool:
    return (
        scenario.in_force(at)
        and scenario.matches_requester(requester)
        and region in scenario.providers
        and operation in scenario.operations
    )


def check_filing(
    scenario: UseScenario, requester: str, desk: ConcernDesk, category: str, at: datetime
) -> None:
    """Raise :class:`~deltafed.NotAuthorizedError` unless ``scenario`` lets ``requester`` file a
    ``category`` concern to ``desk``'s region at ``at``."""
    region = parse_member_id(desk.member).region
    if not _scenario_allows(scenario, requester, region, "concern.file", at) or category not in (
        scenario.concern_categories or ()
    ):
        raise NotAuthorizedError(
            f"scenario {scenario.id} does not let {requester} file {category} concerns to "
            f"region {region}",
            field="scn",
        )


def check_reader(
    scenario: UseScenario, requester: str, region: str, operation: str, at: datetime
) -> None:
    """Raise :class:`~deltafed.NotAuthorizedError` unless ``scenario`` lets ``requester``
    perform ``operation`` (``concern.history`` or ``concern.escalations``) in ``region``."""
    if not _scenario_allows(scenario, requester, region, operation, at):
        raise NotAuthorizedError(
            f"scenario {scenario.id} does not let {requester} perform {operation} in region "
            f"{region}",
            field="scn",
        )


def deadlines(
    doc: RegistryDocument, category: str, filed_at: datetime, calendar: WorkdayCalendar
) -> tuple[datetime, datetime]:
    """(acknowledge by, answer by): the ends of the working days the policy allows."""
    policy = doc.concern_policy
    rule = policy.deadline(category) if policy is not None else None
    if rule is None:
        raise NotFoundError(
            f"the federation's concern policy sets no deadline for {category} concerns",
            field="body.category",
        )
    return (
        calendar.deadline(filed_at, rule.acknowledge_days),
        calendar.deadline(filed_at, rule.answer_days),
    )
