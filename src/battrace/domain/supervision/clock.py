"""Instants and China dates for the supervision engine.

Instants are integers: microseconds since the Unix epoch (UTC). The engine compares millions of
them, and integers compare and store faster than datetimes or text while converting exactly to and
from the ledger's fixed-width UTC text (``2025-03-01T08:00:00.123000Z``).

A duty's day is its date in China (UTC+8), as in :mod:`battrace.domain.rules.calendar`; a deadline
ends at 24:00 China time on its due date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from battrace.domain.rules.calendar import CHINA_TZ, add_working_days

US = 1_000_000
DAY_US = _DAY_US = 86_400 * US
CHINA_OFFSET_US = _CHINA_OFFSET_US = 8 * 3600 * US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

_dates: dict[int, date] = {}


def us_of(moment: datetime) -> int:
    """An aware datetime as microseconds since the epoch."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: give a timezone")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def us_of_text(text: str) -> int:
    """The ledger's fixed-width UTC text (``…Z``) as microseconds since the epoch."""
    return us_of(datetime.fromisoformat(text.replace("Z", "+00:00")))


def datetime_of(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def text_of(us: int) -> str:
    """Microseconds since the epoch as the ledger's fixed-width UTC text."""
    return datetime_of(us).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def day_number(us: int) -> int:
    """The China date of an instant as a day number (days since 1970-01-01): a cheap cache key
    for everything that depends only on the day (hot loops inline the same arithmetic)."""
    return (us + _CHINA_OFFSET_US) // _DAY_US


def china_day(us: int) -> date:
    """The calendar date in China of an instant (cached: a ledger has few distinct days)."""
    days = (us + _CHINA_OFFSET_US) // _DAY_US
    d = _dates.get(days)
    if d is None:
        if len(_dates) > 200_000:
            _dates.clear()
        d = _dates[days] = date.fromordinal(_EPOCH_ORDINAL + days)
    return d


def end_of_day(day: date) -> int:
    """24:00 China time on ``day``: the instant a deadline due on ``day`` passes."""
    return (day.toordinal() + 1 - _EPOCH_ORDINAL) * _DAY_US - _CHINA_OFFSET_US


def start_of_day(day: date) -> int:
    """00:00 China time on ``day``."""
    return (day.toordinal() - _EPOCH_ORDINAL) * _DAY_US - _CHINA_OFFSET_US


_workdays: dict[tuple[date, int], tuple[date, bool]] = {}


def due_after(day: date, days: int, *, working: bool) -> tuple[date, bool]:
    """The due date ``days`` (working or calendar) days after ``day``, and whether it is provisional.

    Working days follow :func:`battrace.domain.rules.calendar.add_working_days` (the day itself
    not counted; a year the calendar does not cover is counted on plain weekdays and marked
    provisional). Cached, because a ledger repeats a few thousand (day, n) pairs millions of times.
    """
    if not working:
        return day + timedelta(days=days), False
    key = (day, days)
    hit = _workdays.get(key)
    if hit is None:
        if len(_workdays) > 200_000:
            _workdays.clear()
        result = add_working_days(day, days)
        hit = _workdays[key] = (result.due, result.provisional)
    return hit


def parse_as_of(value: str) -> int:
    """An "as of" moment typed by a person: a date means the end of that day in China.

    Accepts ``2025-06-30`` (→ 24:00 China time that day) or an ISO 8601 date-time with a UTC
    offset. Raises ValueError with a readable message otherwise.
    """
    text = value.strip()
    try:
        if len(text) == 10:
            return end_of_day(date.fromisoformat(text))
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{value!r} is not a date (2025-06-30) or a date-time with an offset "
            "(2025-06-30T18:00:00+08:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA_TZ)  # a bare clock time is read as China time
    return us_of(moment)
