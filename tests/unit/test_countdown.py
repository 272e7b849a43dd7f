"""Working-day countdowns to a due date (my obligations)."""

from __future__ import annotations

from datetime import date, timedelta

from battrace.domain.rules import add_working_days, covered_years
from battrace.domain.supervision.countdown import countdown


def test_the_countdown_skips_the_spring_festival_and_counts_adjusted_working_days() -> None:
    # 15 working days after Thu 2024-02-01 is Tue 02-27: the holiday week is skipped and the
    # adjusted working Sundays 02-04 and 02-18 count.
    c = countdown(date(2024, 2, 27), date(2024, 2, 1))
    assert (c.working_days_left, c.calendar_days_left, c.provisional) == (15, 26, False)
    assert countdown(date(2024, 2, 5), date(2024, 2, 3)).working_days_left == 2  # Sun 02-04 works
    assert countdown(date(2024, 2, 19), date(2024, 2, 9)).working_days_left == 2  # 02-18, 02-19


def test_due_today_and_overdue() -> None:
    today = date(2025, 6, 30)
    assert countdown(today, today).due_today and countdown(today, today).working_days_left == 0
    late = countdown(date(2025, 6, 27), today)  # Friday before a Monday
    assert late.overdue and late.working_days_left == -1 and late.calendar_days_left == -3


def test_the_inverse_of_adding_working_days() -> None:
    start = date(2025, 9, 26)  # before the National Day holiday and its adjusted Saturday
    for n in (0, 1, 5, 20, 60):
        due = add_working_days(start, n).due
        assert countdown(due, start).working_days_left == n


def test_a_year_the_calendar_does_not_cover_is_provisional() -> None:
    beyond = max(covered_years()) + 1
    start = date(beyond, 2, 2)
    c = countdown(start + timedelta(days=28), start)
    assert c.provisional and c.working_days_left == 20  # four weeks, Monday to Friday
    assert countdown(date(2024, 3, 1), date(2024, 2, 1), provisional=True).provisional
