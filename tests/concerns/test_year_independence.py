"""Nothing in the suite's self-contained runs depends on the year the suite runs in.

The working-day calendar ships 2025 and 2026 only. Here the real clock is moved into 2027
(``deltafed._clock`` is the one place that reads it): the in-process conformance target and the
demo's concern cases run on their simulated clocks and still pass, while a node on the real
clock refuses a deadline in 2027 with a typed error that tells the operator what to update.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from deltafed import CalendarError, system_clock
from deltafed._workdays import official_calendar
from deltafed.demo._concern_cases import concern_answered, concern_escalated
from deltafed_conformance import AdapterTarget, run, select_checks

#: Tuesday 5 January 2027, 10:00 in China: three working days on run past the calendar.
IN_2027 = datetime(2027, 1, 5, 2, 0, tzinfo=UTC)


class _ShiftedDatetime(datetime):
    """``datetime`` whose ``now`` is the real time moved to start at :data:`IN_2027`."""

    shift: timedelta = timedelta(0)

    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return datetime.now(tz) + cls.shift


@pytest.fixture
def real_clock_in_2027(monkeypatch: pytest.MonkeyPatch) -> None:
    _ShiftedDatetime.shift = IN_2027 - datetime.now(UTC)
    monkeypatch.setattr("deltafed._clock.datetime", _ShiftedDatetime)
    assert system_clock().year == 2027  # the move took: what follows runs "in 2027"


@pytest.mark.usefixtures("real_clock_in_2027")
def test_the_in_process_conformance_target_passes_in_2027() -> None:
    report = run([AdapterTarget("memory")], select_checks(["DF-CONC", "DF-DISC"]))
    outcome = report.targets[0]
    assert {o.check.id for o in outcome.outcomes if o.check.id.startswith("DF-CONC")}
    assert report.passed, [o for o in outcome.outcomes if o.bad]


@pytest.mark.usefixtures("real_clock_in_2027")
def test_the_demo_concern_cases_pass_in_2027() -> None:
    assert concern_answered()[0]
    assert concern_escalated()[0]


@pytest.mark.usefixtures("real_clock_in_2027")
def test_a_node_on_the_real_clock_is_told_to_update_the_calendar() -> None:
    with pytest.raises(CalendarError) as caught:
        official_calendar().deadline(system_clock(), 3)
    assert caught.value.code == "calendar_unknown_year"
    assert "no schedule for 2027" in caught.value.message
    assert caught.value.remediation is not None
    assert "Update deltafed's working-day calendar data" in caught.value.remediation
