"""``mass-balance`` alerts: a reported recycling whose outputs are impossible (pure; no I/O).

One finding per recycling TransformationEvent whose element balance (or black mass against
electrode powder, or recycled mass against battery mass) has more out than in beyond the tolerance
of the usable ``mass_balance`` rule in force on the event's day (rulebook
``cn-2024-mass-balance.toml``). Checking each event is enough for every period: when every event
balances, so does any sum of them (the absolute tolerance is zero), so a period with an impossible
balance always has an event with one. The balance itself is
:func:`battrace.domain.recycling.massbalance.mass_balance`; the service gives this module its
``mass-balance`` findings (:class:`~battrace.domain.recycling.massbalance.Finding`).

The unit of such an alert is ``mass-balance:{event seq}``: it belongs to no battery, so the
re-evaluation of a battery never touches it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from battrace.domain.rules import AlertKind, Rule, RuleKind
from battrace.domain.supervision.evaluate import Context
from battrace.domain.supervision.findings import Finding, citation, finding_key

UNIT_PREFIX = "mass-balance:"


def unit_of(event_seq: int) -> str:
    return f"{UNIT_PREFIX}{event_seq}"


def rule_for(ctx: Context, day: date) -> Rule | None:
    """The usable mass-balance rule in force on ``day`` (the latest in force first)."""
    for rule in ctx.in_force(RuleKind.MASS_BALANCE, day):
        if (
            rule.alert_kind is AlertKind.MASS_BALANCE
            and rule.threshold is not None
            and rule.threshold.value is not None
        ):
            return rule
    return None


def tolerance(rule: Rule) -> float:
    """The rule's relative tolerance (``value`` is in percent)."""
    assert rule.threshold is not None and rule.threshold.value is not None
    return float(rule.threshold.value) / 100.0


def finding(
    rule: Rule,
    ctx: Context,
    *,
    event_seq: int,
    event_id: str,
    reporter: str,
    detected_at: int,
    messages: Sequence[tuple[str, str]],
) -> Finding:
    """The alert for one event; ``messages`` are (subject, message) of the balance's findings of
    kind ``mass-balance`` (``Li``, ``electrode-powder``, ``battery-mass`` …)."""
    unit = unit_of(event_seq)
    return Finding(
        key=finding_key(AlertKind.MASS_BALANCE, rule.id, unit, event_seq),
        kind=AlertKind.MASS_BALANCE,
        rule_id=rule.id,
        rule_version=rule.version,
        citation=citation(rule),
        unit=unit,
        subject=reporter,
        enterprise=reporter,
        province=ctx.registry.province(reporter),
        evidence=(event_seq,),
        detected_at=detected_at,
        detail={
            "event_id": event_id,
            "tolerance_pct": tolerance(rule) * 100.0,
            "impossible": [{"subject": s, "message": m} for s, m in messages],
        },
    )
