"""Reporting periods as users type them: ``2025`` (a year), ``2025-03`` (a month), ``2025-Q1``
(a quarter) or ``2025-01-01..2025-06-30`` (inclusive dates) — calendar days in China time.

One grammar for every report that takes a period (recovery, ranking, pilots, recycled content)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from battrace.domain.errors import InvalidInput
from battrace.domain.rules import CHINA_TZ
from battrace.domain.supervision.clock import text_of, us_of

_CALENDAR = re.compile(r"(\d{4})(?:-(?:(\d{2})|Q([1-4])))?")
_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})")
HINT = "a year (2025), month (2025-03), quarter (2025-Q1) or 2025-01-01..2025-06-30"


@dataclass(frozen=True, slots=True)
class Period:
    """A calendar period in China time: ``start`` and ``end`` inclusive."""

    label: str
    start: date
    end: date

    def bounds(self) -> tuple[str, str]:
        """[start, end) as the ledger's UTC time text."""
        lo = datetime(self.start.year, self.start.month, self.start.day, tzinfo=CHINA_TZ)
        after = self.end + timedelta(days=1)
        hi = datetime(after.year, after.month, after.day, tzinfo=CHINA_TZ)
        return text_of(us_of(lo)), text_of(us_of(hi))

    def to_json(self) -> dict[str, str]:
        return {"label": self.label, "start": self.start.isoformat(), "end": self.end.isoformat()}


def _year(value: int) -> int:
    if not 2000 <= value <= 2100:
        raise InvalidInput("period", f"year {value} is outside 2000-2100")
    return value


def parse_period(text: str) -> Period:
    """The period ``text`` names; :class:`InvalidInput` (field ``period``) for anything else."""
    value = text.strip() if isinstance(text, str) else ""
    if m := _RANGE.fullmatch(value):
        try:
            start, end = date.fromisoformat(m[1]), date.fromisoformat(m[2])
        except ValueError:
            raise InvalidInput("period", f"{value!r} is not a real date") from None
        _year(start.year), _year(end.year)
        if start > end:
            raise InvalidInput("period", f"{value!r}: starts after it ends")
        return Period(value, start, end)
    m = _CALENDAR.fullmatch(value)
    if m is None:
        raise InvalidInput("period", f"{text!r} is not {HINT}")
    year = _year(int(m[1]))
    if m[2]:
        month = int(m[2])
        if not 1 <= month <= 12:
            raise InvalidInput("period", f"{value!r}: month must be 01-12")
        start, months = date(year, month, 1), 1
    elif m[3]:
        start, months = date(year, 3 * int(m[3]) - 2, 1), 3
    else:
        start, months = date(year, 1, 1), 12
    nxt = start.month - 1 + months
    after = date(start.year + nxt // 12, nxt % 12 + 1, 1)
    return Period(value, start, after - timedelta(days=1))


__all__ = ["HINT", "Period", "parse_period"]
