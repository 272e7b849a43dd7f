"""Whitelist (industry standard conditions, 行业规范条件) applications: the application as data,
its evaluation against the edition in force (thresholds from the rulebooks) and the review and
announcement workflow. Pure core: no web or database imports. See docs/whitelist.md."""

from __future__ import annotations

from battrace.domain.whitelist.application import (
    CASCADE_USE,
    KINDS,
    RECYCLING,
    Application,
    Indicator,
    parse_application,
)
from battrace.domain.whitelist.evaluation import (
    Criterion,
    Evaluation,
    ItemResult,
    criteria,
    edition_in_force,
    editions,
    evaluate,
    indicator_key,
)
from battrace.domain.whitelist.workflow import (
    STATES,
    IllegalTransition,
    allowed_actions,
    next_state,
)

__all__ = [
    "CASCADE_USE",
    "KINDS",
    "RECYCLING",
    "STATES",
    "Application",
    "Criterion",
    "Evaluation",
    "IllegalTransition",
    "Indicator",
    "ItemResult",
    "allowed_actions",
    "criteria",
    "edition_in_force",
    "editions",
    "evaluate",
    "indicator_key",
    "next_state",
    "parse_application",
]
