"""Cross-region concerns: a resident's or company's objection, question or complaint, routed
to the region that can answer it, with deadlines in working days of the official calendar.

* :class:`ConcernService` - the responsible member's side: plugs into a node
  (``Node(..., concerns=service)``), stores concerns, lets operators act, signs every event,
  and sweeps deadlines with :meth:`ConcernService.tick` (reminders, escalations).
* :class:`ConcernFiler` - the filer's region's side: files through a federation client and
  reads the signed history back, verifying every event; :class:`ConcernSupervisor` - the
  supervising member's side: reads what was escalated to it, verified the same way.
* :class:`WorkdayCalendar` / :func:`official_calendar` - working days including the make-up
  days (调休) of the published schedules; an unknown year raises :class:`~deltafed.CalendarError`.
* :class:`SqliteConcernStore` (the default) and :class:`PostgresConcernStore` (a node whose
  ``[store]`` is PostgreSQL) keep the concerns behind the :class:`ConcernStore` protocol.
* :func:`route`, :func:`deadlines` - what the registry says about who answers and by when.

The protocol is ``docs/protocol.md`` section 10; the operator's guide ``docs/concerns.md``.
"""

from deltafed._workdays import CHINA_STANDARD_TIME, WorkdayCalendar, YearSchedule, official_calendar
from deltafed.concerns._events import TRANSITIONS, VerifiedEvent, sign_event, verify_history
from deltafed.concerns._filer import (
    ConcernFiler,
    ConcernSupervisor,
    EscalatedConcern,
    FiledConcern,
)
from deltafed.concerns._pgstore import PostgresConcernStore
from deltafed.concerns._routing import check_filing, deadlines, route
from deltafed.concerns._service import ConcernService, ConcernView
from deltafed.concerns._store import ConcernRecord, ConcernStore, SqliteConcernStore

__all__ = [
    "CHINA_STANDARD_TIME",
    "TRANSITIONS",
    "ConcernFiler",
    "ConcernRecord",
    "ConcernService",
    "ConcernStore",
    "ConcernSupervisor",
    "ConcernView",
    "EscalatedConcern",
    "FiledConcern",
    "PostgresConcernStore",
    "SqliteConcernStore",
    "VerifiedEvent",
    "WorkdayCalendar",
    "YearSchedule",
    "check_filing",
    "deadlines",
    "official_calendar",
    "route",
    "sign_event",
    "verify_history",
]
