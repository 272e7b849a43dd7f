"""Chinese working days: 调休 Sundays, Spring Festival, National Day, China time, provisional years.

Every expected date below was checked by hand against the State Council arrangements as shipped in
chinese_calendar (2024: Spring Festival 02-10..17 off, Sundays 02-04 and 02-18 worked; National Day
10-01..07 off, Sunday 09-29 and Saturday 10-12 worked; 2026: New Year 01-01..03 off, Sunday 01-04
worked).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from battrace.domain.rules.calendar import (
    CHINA_TZ,
    add_working_days,
    china_date,
    covered_years,
    is_working_day,
    reported_on_time,
    working_days_between,
)


def cst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CHINA_TZ)


# -- the calendar itself ------------------------------------------------------------------


def test_covered_years_come_from_the_library() -> None:
    years = covered_years()
    assert {2018, 2024, 2025, 2026} <= years
    assert 2031 not in years


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2024, 2, 4), True),  # Sunday, adjusted working day (调休)
        (date(2024, 2, 18), True),  # Sunday, adjusted working day
        (date(2024, 2, 9), True),  # Friday before the Spring Festival break
        (date(2024, 2, 12), False),  # Monday inside the Spring Festival break
        (date(2024, 9, 29), True),  # Sunday worked before National Day
        (date(2024, 10, 7), False),  # Monday, National Day holiday
        (date(2024, 10, 12), True),  # Saturday worked after National Day
        (date(2024, 10, 13), False),  # an ordinary Sunday
        (date(2026, 1, 2), False),  # Friday, New Year holiday
        (date(2026, 1, 4), True),  # Sunday worked after New Year
    ],
)
def test_official_arrangement(day: date, working: bool) -> None:
    assert is_working_day(day) == (working, False)


def test_agrees_with_the_library_on_every_covered_day() -> None:
    day, end = date(min(covered_years()), 1, 1), date(max(covered_years()), 12, 31)
    while day <= end:
        assert is_working_day(day) == (chinese_calendar.is_workday(day), False), day
        day += timedelta(days=1)


def test_uncovered_year_is_plain_weekdays_and_provisional() -> None:
    assert is_working_day(date(2031, 1, 1)) == (True, True)  # a Wednesday; no holiday data
    assert is_working_day(date(2031, 1, 4)) == (False, True)  # a Saturday
    assert is_working_day(date(2003, 6, 2)) == (True, True)  # before the library's first year


# -- add_working_days ------------------------------------------------------------------------


def test_spring_festival_and_working_sunday() -> None:
    # Thursday 2024-02-08: day 1 is Friday 02-09, then eight days off, day 2 is Sunday 02-18.
    assert add_working_days(date(2024, 2, 8), 1) == (date(2024, 2, 9), False)
    assert add_working_days(date(2024, 2, 8), 2) == (date(2024, 2, 18), False)
    assert add_working_days(date(2024, 2, 8), 3) == (date(2024, 2, 19), False)


def test_fifteen_working_days_across_spring_festival() -> None:
    # Plain Mon-Fri would give 2024-02-22; the holiday and the two working Sundays give 02-27.
    assert add_working_days(date(2024, 2, 1), 15) == (date(2024, 2, 27), False)


def test_fifteen_working_days_across_national_day() -> None:
    # 09-26, 09-27, Sun 09-29, 09-30, [10-01..07 off], 10-08..11, Sat 10-12, 10-14..18, 10-21.
    result = add_working_days(date(2024, 9, 25), 15)
    assert result == (date(2024, 10, 21), False)
    assert add_working_days(date(2024, 9, 27), 1).due == date(2024, 9, 29)  # a Sunday
    assert add_working_days(date(2024, 9, 27), 3).due == date(2024, 10, 8)


def test_year_boundary_into_new_year_holiday() -> None:
    # Wednesday 2025-12-31: 01-01..03 are off, Sunday 01-04 is worked.
    assert add_working_days(date(2025, 12, 31), 1) == (date(2026, 1, 4), False)
    assert add_working_days(date(2025, 12, 30), 2) == (date(2026, 1, 4), False)


def test_counting_into_an_uncovered_year_is_provisional() -> None:
    result = add_working_days(date(2026, 12, 20), 15)
    assert result.provisional is True
    assert result.due == date(2027, 1, 8)  # Mon-Fri from 2027-01-01 on
    # A deadline entirely inside a covered year stays final even late in the year.
    assert add_working_days(date(2026, 12, 1), 15).provisional is False


def test_provisional_year_2031() -> None:
    # Thursday 2031-03-06 + 5: Fri 07, Mon 10 .. Thu 13.
    assert add_working_days(date(2031, 3, 6), 5) == (date(2031, 3, 13), True)


def test_day_t_is_not_counted_even_when_a_working_day_or_a_holiday() -> None:
    assert add_working_days(date(2024, 3, 4), 1).due == date(2024, 3, 5)  # Monday -> Tuesday
    assert add_working_days(date(2024, 10, 3), 1).due == date(2024, 10, 8)  # holiday -> next wd


def test_zero_days_is_the_day_itself() -> None:
    assert add_working_days(date(2024, 2, 10), 0) == (date(2024, 2, 10), False)


@pytest.mark.parametrize("bad", [-1, True, 1.5])
def test_bad_n_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="non-negative integer"):
        add_working_days(date(2024, 1, 1), bad)  # type: ignore[arg-type]


# -- China time ---------------------------------------------------------------------------------


def test_friday_late_evening_china_time() -> None:
    # 23:00 on Friday in Beijing is a Friday event: day 1 is Monday.
    result = add_working_days(cst(2024, 3, 1, 23, 0), 1)
    assert result.due == date(2024, 3, 4)
    assert result.deadline_end == cst(2024, 3, 5, 0, 0)


def test_utc_timestamp_is_converted_to_china_date() -> None:
    # 16:30 UTC Thursday 02-29 is 00:30 Friday 03-01 in China: day 1 is Monday 03-04, not Friday.
    event = datetime(2024, 2, 29, 16, 30, tzinfo=UTC)
    assert china_date(event) == date(2024, 3, 1)
    assert add_working_days(event, 1).due == date(2024, 3, 4)
    # The same instant written with another offset gives the same answer.
    other = event.astimezone(timezone(timedelta(hours=-5)))
    assert add_working_days(other, 1).due == date(2024, 3, 4)


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        add_working_days(datetime(2024, 3, 1, 23, 0), 1)


def test_reported_on_time_uses_end_of_due_day_china_time() -> None:
    event = cst(2024, 3, 1, 23, 0)
    assert reported_on_time(event, cst(2024, 3, 4, 23, 59), 1).on_time is True
    # 16:00 UTC on 03-04 is midnight 03-05 in China: late.
    late = reported_on_time(event, datetime(2024, 3, 4, 16, 0, tzinfo=UTC), 1)
    assert late == (False, date(2024, 3, 4), False)


# -- working_days_between ---------------------------------------------------------------------------


def test_between_counts_after_a_up_to_and_including_b() -> None:
    assert working_days_between(date(2024, 2, 8), date(2024, 2, 18)) == (2, False)
    assert working_days_between(date(2024, 2, 18), date(2024, 2, 8)) == (-2, False)
    assert working_days_between(date(2024, 2, 8), date(2024, 2, 8)) == (0, False)


def test_between_over_a_holiday_month() -> None:
    # February 2024 after 02-01: 02-02, Sun 02-04, 02-05..09, Sun 02-18, 02-19..23, 02-26..29.
    assert working_days_between(date(2024, 2, 1), date(2024, 2, 29)) == (17, False)


def test_between_provisional_when_range_reaches_uncovered_year() -> None:
    assert working_days_between(date(2026, 12, 31), date(2027, 1, 5)).provisional is True
    assert working_days_between(date(2030, 12, 31), date(2031, 1, 7)) == (5, True)


@given(
    start=st.dates(min_value=date(2018, 1, 1), max_value=date(2032, 12, 31)),
    n=st.integers(min_value=0, max_value=45),
)
def test_between_is_the_inverse_of_add(start: date, n: int) -> None:
    result = add_working_days(start, n)
    count = working_days_between(start, result.due)
    assert count.days == n
    assert count.provisional == result.provisional
    if n:
        assert is_working_day(result.due).working
