"""Working days on the official calendar of the People's Republic of China.

A working day is Monday to Friday, except the public holidays the State Council announces each
year, plus the weekend days it declares working days to make up for a bridge (调休 上班). The
schedule of each year is published in a notice of the General Office of the State Council
(国务院办公厅关于 YYYY 年部分节假日安排的通知), usually in November of the year before; it
cannot be computed, so this module ships the published schedules as data and refuses, with
:class:`~deltafed.CalendarError`, any date of a year it does not hold.

Days are dates in China Standard Time (UTC+8): a deadline "within N working days" of a moment
ends at midnight CST after the N-th working day that follows the moment's own date.

To add a year, copy its notice's dates into :data:`SCHEDULES` and add a test with the notice's
numbers (see ``tests/concerns/test_workdays.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Final

from deltafed._errors import CalendarError, InvalidInputError

__all__ = [
    "CHINA_STANDARD_TIME",
    "SCHEDULES",
    "WorkdayCalendar",
    "YearSchedule",
    "official_calendar",
]

#: China Standard Time, in which working days are counted.
CHINA_STANDARD_TIME: Final = timezone(timedelta(hours=8), "CST")
#: Most working days a deadline may count (about a year and a half).
_MAX_WORKING_DAYS: Final = 366


def _span(first: date, last: date) -> frozenset[date]:
    return frozenset(first + timedelta(days=i) for i in range((last - first).days + 1))


@dataclass(frozen=True, slots=True)
class YearSchedule:
    """One year's published schedule: the days off and the make-up working days."""

    year: int
    #: Where the dates come from (the notice's title and number).
    source: str
    #: Public holidays and the bridge days off (放假调休), weekends included as published.
    days_off: frozenset[date]
    #: Weekend days declared working days (调休上班).
    make_up_days: frozenset[date]

    def __post_init__(self) -> None:
        for day in self.days_off | self.make_up_days:
            if day.year != self.year:
                raise InvalidInputError(f"{day} is not in {self.year}", field="schedule")
        if self.days_off & self.make_up_days:
            raise InvalidInputError("a day cannot be both off and a working day", field="schedule")
        for day in self.make_up_days:
            if day.weekday() < 5:
                raise InvalidInputError(f"make-up day {day} is not a weekend day", field="schedule")


#: The schedules this release knows, by year.
SCHEDULES: Final[dict[int, YearSchedule]] = {
    2025: YearSchedule(
        year=2025,
        source="国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号, 2024-11-12)",
        days_off=frozenset().union(
            _span(date(2025, 1, 1), date(2025, 1, 1)),  # 元旦
            _span(date(2025, 1, 28), date(2025, 2, 4)),  # 春节
            _span(date(2025, 4, 4), date(2025, 4, 6)),  # 清明节
            _span(date(2025, 5, 1), date(2025, 5, 5)),  # 劳动节
            _span(date(2025, 5, 31), date(2025, 6, 2)),  # 端午节
            _span(date(2025, 10, 1), date(2025, 10, 8)),  # 国庆节、中秋节
        ),
        make_up_days=frozenset(
            {
                date(2025, 1, 26),
                date(2025, 2, 8),
                date(2025, 4, 27),
                date(2025, 9, 28),
                date(2025, 10, 11),
            }
        ),
    ),
    2026: YearSchedule(
        year=2026,
        source="国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04)",
        days_off=frozenset().union(
            _span(date(2026, 1, 1), date(2026, 1, 3)),  # 元旦
            _span(date(2026, 2, 15), date(2026, 2, 23)),  # 春节
            _span(date(2026, 4, 4), date(2026, 4, 6)),  # 清明节
            _span(date(2026, 5, 1), date(2026, 5, 5)),  # 劳动节
            _span(date(2026, 6, 19), date(2026, 6, 21)),  # 端午节
            _span(date(2026, 9, 25), date(2026, 9, 27)),  # 中秋节
            _span(date(2026, 10, 1), date(2026, 10, 7)),  # 国庆节
        ),
        make_up_days=frozenset(
            {
                date(2026, 1, 4),
                date(2026, 2, 14),
                date(2026, 2, 28),
                date(2026, 5, 9),
                date(2026, 9, 20),
                date(2026, 10, 10),
            }
        ),
    ),
}


class WorkdayCalendar:
    """Working-day arithmetic over the schedules it holds; other years raise
    :class:`~deltafed.CalendarError`, never a guess."""

    def __init__(self, schedules: dict[int, YearSchedule] | None = None) -> None:
        self._schedules = dict(SCHEDULES if schedules is None else schedules)

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(sorted(self._schedules))

    def _schedule(self, day: date) -> YearSchedule:
        found = self._schedules.get(day.year)
        if found is None:
            raise CalendarError(
                f"the working-day calendar has no schedule for {day.year} "
                f"(it knows {', '.join(map(str, self.years)) or 'no year'})",
                field="date",
                remediation=(
                    f"Update deltafed's working-day calendar data: upgrade to a release that "
                    f"ships the {day.year} schedule, or add that year's State Council holiday "
                    "notice to deltafed._workdays.SCHEDULES, before counting deadlines in it."
                ),
            )
        return found

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day (a weekday not off, or a make-up day)."""
        if isinstance(day, datetime) or not isinstance(day, date):
            raise InvalidInputError("a working day is a date", field="date")
        schedule = self._schedule(day)
        if day in schedule.make_up_days:
            return True
        return day.weekday() < 5 and day not in schedule.days_off

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (``start`` itself never counts)."""
        if (
            isinstance(days, bool)
            or not isinstance(days, int)
            or not 1 <= days <= _MAX_WORKING_DAYS
        ):
            raise InvalidInputError(
                f"working days must be 1 to {_MAX_WORKING_DAYS}", field="working_days"
            )
        day, left = start, days
        while left:
            day += timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
        return day

    def deadline(self, start: datetime, working_days: int) -> datetime:
        """The end (midnight CST, as UTC) of the ``working_days``-th working day after the
        CST date of ``start``."""
        if start.tzinfo is None or start.utcoffset() is None:
            raise InvalidInputError("the start must be timezone-aware", field="start")
        last = self.add_working_days(start.astimezone(CHINA_STANDARD_TIME).date(), working_days)
        end = datetime.combine(last + timedelta(days=1), time(), CHINA_STANDARD_TIME)
        return end.astimezone(UTC)


_OFFICIAL: Final = WorkdayCalendar()


def official_calendar() -> WorkdayCalendar:
    """The calendar of the published schedules this release ships."""
    return _OFFICIAL
