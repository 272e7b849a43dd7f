"""Regulation rules as versioned data, and the Chinese working-day calendar their deadlines use.

The foundation of the supervision (alert) engine: the engine asks a :class:`RuleSet` which rule
governs an actor's business step on a date, and :mod:`.calendar` when its deadline falls. Both are
pure domain code (no web or database imports). See docs/rules.md.
"""

from __future__ import annotations

from battrace.domain.rules.calendar import (
    CHINA_TZ,
    DayStatus,
    OnTime,
    WorkdayCount,
    WorkdayResult,
    add_working_days,
    china_date,
    china_today,
    covered_years,
    is_working_day,
    reported_on_time,
    working_days_between,
)
from battrace.domain.rules.rulebook import (
    UNCONFIRMED,
    Actor,
    AlertKind,
    Comparator,
    Confidence,
    DayBasis,
    Document,
    Period,
    Rule,
    RulebookError,
    RuleKind,
    RuleSet,
    Source,
    Threshold,
    Trigger,
    Unit,
    UnknownRule,
    load_rulebook_file,
    load_rulebooks,
    packaged_rulebooks,
    parse_rulebook,
)

__all__ = [
    "CHINA_TZ",
    "UNCONFIRMED",
    "Actor",
    "AlertKind",
    "Comparator",
    "Confidence",
    "DayBasis",
    "DayStatus",
    "Document",
    "OnTime",
    "Period",
    "Rule",
    "RuleKind",
    "RuleSet",
    "RulebookError",
    "Source",
    "Threshold",
    "Trigger",
    "Unit",
    "UnknownRule",
    "WorkdayCount",
    "WorkdayResult",
    "add_working_days",
    "china_date",
    "china_today",
    "covered_years",
    "is_working_day",
    "load_rulebook_file",
    "load_rulebooks",
    "packaged_rulebooks",
    "parse_rulebook",
    "reported_on_time",
    "working_days_between",
]
