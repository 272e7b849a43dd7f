"""Recycled content of a battery maker's production (EU 2023/1542 Art. 8) from the ledger.

Reads every recycling output (recycling TransformationEvents: ``outputQuantityList`` in kg) and
every production input (commissioning events carrying ``battrace:inputQuantityList``), leaves out
events declared in error, and hands them to the pure mass-balance computation
(:func:`battrace.domain.recycling.recycled_content.recycled_content`). The EU minimums (2031 and
2036) come from the rulebook ``eu-2023-1542`` (rules of kind ``recycled_content``), so an operator
rulebook can supersede them. Periods are calendar days in China time (UTC+08:00).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import orjson
from sqlalchemy import select

from battrace.domain import periods
from battrace.domain.epcis import vocab
from battrace.domain.errors import InvalidInput
from battrace.domain.identities.uris import MATERIAL_PREFIX, PARTY_PREFIX
from battrace.domain.identities.uscc import validate_uscc
from battrace.domain.lifecycle.builders import INPUT_QUANTITIES, SUPPLIER
from battrace.domain.recycling.recycled_content import (
    ELEMENTS,
    MaterialInput,
    Minimum,
    RecycledContentReport,
    RecyclingOutput,
    recycled_content,
)
from battrace.domain.rules.rulebook import RuleKind, RuleSet
from battrace.persistence import schema as t
from battrace.persistence.base import Store
from battrace.services.forecast_ledger import _engine, _not_retracted

__all__ = [
    "china_day",
    "element_rows",
    "minimums",
    "parse_period",
    "production_inputs",
    "recycled_content_report",
    "recycling_outputs",
]

CHINA = timezone(timedelta(hours=8))


def parse_period(text: str) -> tuple[date, date]:
    """(first day, last day) of the period ``text`` names (:mod:`battrace.domain.periods`)."""
    period = periods.parse_period(text)
    return period.start, period.end


def china_day(when: datetime) -> date:
    return when.astimezone(CHINA).date()


def _time(text: str) -> datetime:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _kg(item: Any) -> float | None:
    """kg of a QuantityElement (uom KGM, or no uom), None if it is not a usable mass."""
    if not isinstance(item, dict) or item.get("uom", "KGM") != "KGM":
        return None
    raw = item.get("quantity")
    try:
        kg = (
            float(raw) if isinstance(raw, int | float | str) and not isinstance(raw, bool) else None
        )
    except ValueError:
        return None
    return kg if kg is not None and math.isfinite(kg) and kg >= 0 else None


def _material(item: dict[str, Any]) -> str | None:
    cls = item.get("epcClass")
    if isinstance(cls, str) and cls.startswith(MATERIAL_PREFIX):
        return cls[len(MATERIAL_PREFIX) :]
    return None


def _events(store: Store, where: Any) -> Iterator[Any]:
    ev = t.events
    query = (
        select(ev.c.event_id, ev.c.event_time, ev.c.reporter, ev.c.body)
        .where(where, ev.c.is_declaration == 0, _not_retracted(ev))
        .order_by(ev.c.seq)
    )
    with _engine(store).connect() as conn:
        yield from conn.execution_options(stream_results=True, yield_per=2_000).execute(query)


def recycling_outputs(store: Store) -> list[RecyclingOutput]:
    """Every material lot (class, kg) out of a recycling event, by its recycler."""
    out: list[RecyclingOutput] = []
    for event_id, when, reporter, body_text in _events(
        store, t.events.c.biz_step == vocab.BIZSTEP_RECYCLING
    ):
        body = orjson.loads(body_text)
        post = bool(body.get("inputEPCList"))
        for item in body.get("outputQuantityList") or []:
            material, kg = (_material(item), _kg(item)) if isinstance(item, dict) else (None, None)
            if material and kg:
                out.append(RecyclingOutput(event_id, _time(when), reporter, material, kg, post))
    return out


def production_inputs(store: Store) -> list[MaterialInput]:
    """Every material input listed by a commissioning event (``battrace:inputQuantityList``)."""
    ev = t.events
    out: list[MaterialInput] = []
    where = (ev.c.biz_step == "commissioning") & ev.c.body.like(f"%{INPUT_QUANTITIES}%")
    for event_id, when, reporter, body_text in _events(store, where):
        items = orjson.loads(body_text).get(INPUT_QUANTITIES)
        for item in items if isinstance(items, list) else []:
            material, kg = (_material(item), _kg(item)) if isinstance(item, dict) else (None, None)
            if material is None or kg is None:
                continue
            supplier = item.get(SUPPLIER)
            party = (
                supplier[len(PARTY_PREFIX) :]
                if isinstance(supplier, str) and supplier.startswith(PARTY_PREFIX)
                else None
            )
            out.append(MaterialInput(event_id, _time(when), reporter, material, kg, party))
    return out


def minimums(rules: RuleSet | None = None) -> list[Minimum]:
    """Every version of the Art. 8 minimums for Co, Li and Ni in the rulebooks."""
    if rules is None:
        from battrace.services.alerts import default_rules

        rules = default_rules()
    out: list[Minimum] = []
    for rule in rules:
        th = rule.threshold
        if rule.kind is not RuleKind.RECYCLED_CONTENT or th is None or th.value is None:
            continue
        if th.material not in ELEMENTS:
            continue
        out.append(
            Minimum(
                element=th.material,
                pct=float(th.value),
                valid_from=rule.valid_from,
                valid_to=rule.valid_to,
                rule=rule.id,
                version=rule.version,
                citation=rule.source.label(),
                confidence=str(rule.confidence),
            )
        )
    return sorted(out, key=lambda m: (m.element, m.valid_from))


def recycled_content_report(
    store: Store, uscc: str, period: str, *, rules: RuleSet | None = None
) -> RecycledContentReport:
    """The recycled-content shares of battery maker ``uscc`` over ``period`` (see
    :func:`parse_period`). Raises :class:`InvalidInput` naming the field at fault."""
    maker = validate_uscc(uscc.strip()) if isinstance(uscc, str) else validate_uscc("")
    start, end = parse_period(period)
    ent = store.get_enterprise(maker)
    if ent is None:
        raise InvalidInput("enterprise", f"{maker} is not registered")
    if "battery_maker" not in ent.roles:
        raise InvalidInput("enterprise", f"{maker} is not a battery maker (roles: {ent.roles})")
    return recycled_content(
        maker,
        start,
        end,
        production_inputs(store),
        recycling_outputs(store),
        minimums(rules),
        day_of=china_day,
    )


def element_rows(report: RecycledContentReport) -> list[dict[str, Any]]:
    """One flat row per element and minimum (CSV and XLSX)."""
    rows: list[dict[str, Any]] = []
    for e in report.elements:
        base = {
            "enterprise": report.maker,
            "from": report.start.isoformat(),
            "to": report.end.isoformat(),
            "element": e.element,
            "total_kg": e.total_kg,
            "recycled_kg": e.recycled_kg,
            "pre_consumer_kg": e.pre_consumer_kg,
            "post_consumer_kg": e.post_consumer_kg,
            "share_pct": e.share_pct,
        }
        if not e.targets:
            rows.append(base)
        for target in e.targets:
            rows.append(
                base
                | {
                    "minimum_pct": target["minimum_pct"],
                    "minimum_from": target["valid_from"],
                    "meets": target["meets"],
                    "rule": f"{target['rule']} v{target['version']}",
                    "citation": target["citation"],
                }
            )
    return rows
