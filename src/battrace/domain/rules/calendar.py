"""Chinese working days (工作日) for reporting deadlines.

The 2018 Traceability Provisions count deadlines in working days (china-regulation.md §2.2).
Chinese working days are not Monday to Friday: each year the State Council General Office
publishes a holiday arrangement that moves some weekdays off and makes some Saturdays or Sundays
working days (调休), e.g. Sunday 2024-02-04 and Sunday 2024-02-18 around the Spring Festival.
Those arrangements cannot be computed; they come from the ``chinese_calendar`` package, which
ships one table per published year.

What "within N working days after T" means here (see docs/rules.md):

* T is converted to China time (UTC+8, no daylight saving) and only its date counts: an event at
  23:00 on a Friday in Beijing is a Friday event; 23:00 UTC on a Friday is already Saturday.
* The day of T itself is not counted, whatever the hour, and whether or not it is a working day
  (民法典 Art. 201: a period in days starts on the next day).
* Day 1 is the first working day after T's date; the deadline is the end (24:00 China time) of the
  Nth working day (民法典 Art. 203: the last day ends at 24:00). A report whose China-time date is
  on or before that day is on time.
* A day in a year the calendar package does not cover is judged on plain Monday-to-Friday and the
  result is marked ``provisional=True``: never a crash, never a silent guess. A newer
  ``chinese_calendar`` release that adds the year makes the same computation final.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta, timezone
from typing import NamedTuple

import chinese_calendar

#: China Standard Time. A fixed offset is exact: China has not observed daylight saving since 1991.
CHINA_TZ = timezone(timedelta(hours=8), "UTC+08:00")

_ONE_DAY = timedelta(days=1)


class WorkdayResult(NamedTuple):
    """``due`` is the last day on which a report is in time; ``provisional`` as in the module doc."""

    due: date
    provisional: bool

    @property
    def deadline_end(self) -> datetime:
        """The instant the deadline passes: 24:00 China time on ``due`` (exclusive bound)."""
        return datetime.combine(self.due + _ONE_DAY, time(0), CHINA_TZ)


class WorkdayCount(NamedTuple):
    days: int
    provisional: bool


class DayStatus(NamedTuple):
    working: bool
    provisional: bool


class OnTime(NamedTuple):
    on_time: bool
    due: date
    provisional: bool


@functools.cache
def _tables() -> tuple[frozenset[date], frozenset[date]]:
    # The package's public tables, read once: its is_workday() re-scans the whole holiday table
    # for its year range on every call (about 30 us), which dominated a 30-day deadline.
    # tests/unit/test_workdays.py checks day by day that this agrees with is_workday().
    holidays = frozenset(date(d.year, d.month, d.day) for d in chinese_calendar.holidays)
    workdays = frozenset(date(d.year, d.month, d.day) for d in chinese_calendar.workdays)
    return holidays, workdays


@functools.cache
def covered_years() -> frozenset[int]:
    """Years for which the official holiday arrangement (incl. 调休) is known to the calendar.

    Taken from the package's own holiday table rather than hard-coded, so upgrading
    ``chinese_calendar`` when the State Council publishes a new year extends coverage.
    """
    return frozenset(d.year for d in _tables()[0])


def china_date(value: date | datetime) -> date:
    """The calendar date in China of a date or an aware datetime.

    A naive datetime is refused: guessing its zone could move an event across midnight and so
    change a deadline by a day.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()}: give a timezone (China time is UTC+08:00)"
            )
        return value.astimezone(CHINA_TZ).date()
    return value


def china_today() -> date:
    return datetime.now(CHINA_TZ).date()


def is_working_day(day: date | datetime) -> DayStatus:
    d = china_date(day)
    if d.year in covered_years():
        holidays, workdays = _tables()
        # The package's rule: an adjusted working day (调休) always works; otherwise Mon-Fri
        # unless a public holiday.
        return DayStatus(d in workdays or (d.weekday() < 5 and d not in holidays), False)
    return DayStatus(d.weekday() < 5, True)


def add_working_days(start: date | datetime, n: int) -> WorkdayResult:
    """The Nth working day after ``start`` (``start``'s own day not counted); n=0 gives that day."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, not {n!r}")
    day = china_date(start)
    provisional = False
    counted = 0
    while counted < n:
        day += _ONE_DAY
        status = is_working_day(day)
        provisional = provisional or status.provisional
        if status.working:
            counted += 1
    return WorkdayResult(day, provisional)


def working_days_between(a: date | datetime, b: date | datetime) -> WorkdayCount:
    """Working days in (a, b]: after ``a``'s day, up to and including ``b``'s day.

    The inverse of :func:`add_working_days` (``working_days_between(t, add_working_days(t, n).due)
    == n``). Negative when ``b`` is before ``a``.
    """
    da, db = china_date(a), china_date(b)
    sign = 1
    if db < da:
        da, db, sign = db, da, -1
    count = 0
    provisional = False
    day = da
    while day < db:
        day += _ONE_DAY
        status = is_working_day(day)
        provisional = provisional or status.provisional
        count += status.working
    return WorkdayCount(sign * count, provisional)


def reported_on_time(event_at: date | datetime, reported_at: date | datetime, n: int) -> OnTime:
    """Whether a report of an event was made within ``n`` working days after the event."""
    result = add_working_days(event_at, n)
    return OnTime(china_date(reported_at) <= result.due, result.due, result.provisional)
