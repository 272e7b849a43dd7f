"""Countdowns to a duty's due date, in Chinese working days (for "my obligations").

A due date is the last day on which the duty is met in time (the deadline passes at 24:00 China
time that day, :mod:`.clock`). The countdown from ``today`` counts the working days after today up
to and including the due date (:func:`battrace.domain.rules.calendar.working_days_between`): 0 on
the due date itself, 1 on the working day before it, and so on. Days in a year the holiday
calendar does not cover are counted Monday to Friday and the countdown is *provisional*, as is a
due date the engine already marked provisional.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from battrace.domain.rules.calendar import working_days_between


@dataclass(frozen=True, slots=True)
class Countdown:
    due: date
    working_days_left: int  # working days after today up to the due date; negative: overdue
    calendar_days_left: int
    provisional: bool

    @property
    def due_today(self) -> bool:
        return self.calendar_days_left == 0

    @property
    def overdue(self) -> bool:
        return self.calendar_days_left < 0


def countdown(due: date, today: date, *, provisional: bool = False) -> Countdown:
    """How long is left until ``due``, as seen on ``today`` (both China dates)."""
    left = working_days_between(today, due)
    return Countdown(due, left.days, (due - today).days, provisional or left.provisional)
