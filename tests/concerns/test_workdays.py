"""The working-day calendar against the published 2025 and 2026 schedules (State Council
notices 国办发明电〔2024〕12号 of 2024-11-12 and the notice of 2025-11-04)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from deltafed import CalendarError, InvalidInputError
from deltafed.concerns import CHINA_STANDARD_TIME, WorkdayCalendar, YearSchedule, official_calendar

CAL = official_calendar()

#: Days off as published (holiday spans), and the make-up working days.
PUBLISHED = {
    2025: (
        [
            ("2025-01-01", "2025-01-01"),
            ("2025-01-28", "2025-02-04"),
            ("2025-04-04", "2025-04-06"),
            ("2025-05-01", "2025-05-05"),
            ("2025-05-31", "2025-06-02"),
            ("2025-10-01", "2025-10-08"),
        ],
        ["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"],
    ),
    2026: (
        [
            ("2026-01-01", "2026-01-03"),
            ("2026-02-15", "2026-02-23"),
            ("2026-04-04", "2026-04-06"),
            ("2026-05-01", "2026-05-05"),
            ("2026-06-19", "2026-06-21"),
            ("2026-09-25", "2026-09-27"),
            ("2026-10-01", "2026-10-07"),
        ],
        ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"],
    ),
}


@pytest.mark.parametrize("year", [2025, 2026])
def test_every_day_of_the_year_matches_the_notice(year: int) -> None:
    spans, make_up = PUBLISHED[year]
    off = set()
    for first, last in spans:
        day = date.fromisoformat(first)
        while day <= date.fromisoformat(last):
            off.add(day)
            day += timedelta(days=1)
    extra = {date.fromisoformat(d) for d in make_up}
    day = date(year, 1, 1)
    while day.year == year:
        expected = day in extra or (day.weekday() < 5 and day not in off)
        assert CAL.is_working_day(day) is expected, day
        day += timedelta(days=1)


def test_make_up_saturday_counts_and_the_spring_festival_does_not() -> None:
    # Friday 13 February 2026: the next working day is the make-up Saturday 14th, then the
    # Spring Festival (15th to 23rd) is skipped.
    assert CAL.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert CAL.add_working_days(date(2026, 2, 13), 2) == date(2026, 2, 24)
    assert CAL.add_working_days(date(2026, 2, 13), 3) == date(2026, 2, 25)
    # Across the year end: 31 December 2025 -> 4 January 2026 (a make-up Sunday).
    assert CAL.add_working_days(date(2025, 12, 31), 1) == date(2026, 1, 4)


def test_deadline_is_midnight_cst_after_the_last_working_day() -> None:
    filed = datetime(2026, 2, 13, 2, 0, tzinfo=UTC)  # 10:00 CST, Friday
    assert CAL.deadline(filed, 1) == datetime(2026, 2, 15, 0, 0, tzinfo=CHINA_STANDARD_TIME)
    assert CAL.deadline(filed, 3) == datetime(2026, 2, 26, 0, 0, tzinfo=CHINA_STANDARD_TIME)
    # 23:30 UTC on the 12th is already the 13th in China.
    late = datetime(2026, 2, 12, 23, 30, tzinfo=UTC)
    assert CAL.deadline(late, 1) == CAL.deadline(filed, 1)
    assert CAL.deadline(filed, 1).tzinfo is UTC


def test_unknown_year_fails_loudly() -> None:
    with pytest.raises(CalendarError) as caught:
        CAL.is_working_day(date(2027, 3, 1))
    assert caught.value.code == "calendar_unknown_year"
    assert "2027" in caught.value.message
    # A deadline that would run into an unknown year fails too, rather than guess.
    with pytest.raises(CalendarError):
        CAL.add_working_days(date(2026, 12, 30), 5)
    with pytest.raises(CalendarError):
        CAL.is_working_day(date(2024, 12, 31))


def test_bad_arguments_are_typed_errors() -> None:
    with pytest.raises(InvalidInputError):
        CAL.add_working_days(date(2026, 3, 2), 0)
    with pytest.raises(InvalidInputError):
        CAL.add_working_days(date(2026, 3, 2), True)
    with pytest.raises(InvalidInputError):
        CAL.deadline(datetime(2026, 3, 2, 8, 0), 1)
    with pytest.raises(InvalidInputError):
        CAL.is_working_day(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))  # type: ignore[arg-type]


def test_a_schedule_is_checked_when_made() -> None:
    with pytest.raises(InvalidInputError):
        YearSchedule(2026, "x", frozenset({date(2025, 1, 1)}), frozenset())
    with pytest.raises(InvalidInputError):  # a make-up day on a Monday
        YearSchedule(2026, "x", frozenset(), frozenset({date(2026, 3, 2)}))
    with pytest.raises(InvalidInputError):
        YearSchedule(2026, "x", frozenset({date(2026, 3, 7)}), frozenset({date(2026, 3, 7)}))
    only_2026 = WorkdayCalendar({2026: CAL._schedules[2026]})
    assert only_2026.years == (2026,)
    with pytest.raises(CalendarError):
        only_2026.is_working_day(date(2025, 6, 3))
