"""The numbers behind the regulator pages: headline figures, provinces, flows, monthly trends.

This module is the one place the pages get statistics from. The figures are read from running
tallies the database keeps as the ledger is written (``persistence/schema_tallies.py``: packs per
state and holder with their energy and mass; events per month, business step and reporter), so
computing them costs the same on a demo and on a national ledger.

Counting unit: **packs** (24-character codes whose product-type character is ``P``). Cells and
modules travel inside them and would count the same battery many times; 19-character cascade-use
codes are new products made from counted packs, so they are left out too.

Results are also cached per scope with the ledger head they were computed at: the ledger only
grows, so an unchanged head means unchanged figures, and a page view costs one ``head()`` read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import text

from battrace.domain.identities.divisions import PROVINCES
from battrace.persistence.base import Store
from battrace.web.i18n import N_

#: Headline measures: key, label, the battery states that count.
MEASURES: Final = (
    ("in_service", N_("In service"), ("installed", "in_service")),
    ("retired", N_("Retired, awaiting collection"), ("removed", "retired")),
    ("collected", N_("Formally collected"), ("collected",)),
    ("cascade", N_("Cascade use"), ("cascade_use",)),
    ("recycled", N_("Recycled"), ("dismantled", "recycled", "disposed")),
)
#: States after the end of first life; those after formal collection are the formal channel.
END_OF_LIFE: Final = frozenset(
    {"removed", "retired", "collected", "cascade_use", "dismantled", "recycled", "disposed"}
)
FORMAL: Final = frozenset({"collected", "cascade_use", "dismantled", "recycled", "disposed"})

#: Business steps in the monthly trend chart.
TREND_STEPS: Final = (
    ("commissioning", N_("Produced")),
    ("installing", N_("Installed")),
    ("decommissioning", N_("Retired or scrapped")),
    ("collecting", N_("Collected")),
    ("recycling", N_("Recycled")),
)
TREND_MONTHS: Final = 24


@dataclass(slots=True)
class Figures:
    scope: str  # "national" or a province code
    head: str
    packs: int = 0
    headline: dict[str, dict[str, float]] = field(default_factory=dict)  # measure → packs/kwh/t
    provinces: list[dict[str, Any]] = field(default_factory=list)
    flows: list[tuple[str, str, int]] = field(default_factory=list)  # source, target, packs
    months: list[str] = field(default_factory=list)
    trends: dict[str, list[int]] = field(default_factory=dict)  # step → count per month
    alerts_by_province: dict[str, int] | None = None


# Keyed by (database URL, scope): one process may serve several stores (tests, tools).
_Key = tuple[str, str]
_cache: OrderedDict[_Key, Figures] = OrderedDict()
_lock = threading.Lock()
_CACHE_SIZE = 64


def figures(store: Store, province: str | None = None) -> Figures:
    """Figures for the whole country (``province=None``) or one province (GB/T 2260 prefix),
    computed at the current ledger head and kept until the head moves."""
    key = (store.url, province or "national")
    head = store.head().head
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit.head == head:
            _cache.move_to_end(key)
            return hit
    result = compute(store, province, head)
    with _lock:
        _cache[key] = result
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def compute(store: Store, province: str | None, head: str = "") -> Figures:
    """Every figure of one scope, from the running tallies (``schema_tallies``): a few hundred
    rows whatever the size of the ledger."""
    engine: Any = store.engine  # type: ignore[attr-defined]
    ents = {e.uscc: e.province for e in store.list_enterprises()}
    out = Figures(scope=province or "national", head=head)
    by_state_province: dict[tuple[str, str], list[float]] = {}
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT state, holder, packs, kwh, kg FROM pack_tallies WHERE packs > 0")
        ).all()
        for r in rows:
            uscc = (r.holder or "").removeprefix("urn:uscc:").split(":", 1)[0]
            prov = ents.get(uscc) or (uscc[2:4] if len(uscc) == 18 else "")
            if province is not None and prov != province:
                continue
            acc = by_state_province.setdefault((r.state, prov), [0, 0.0, 0.0])
            acc[0] += r.packs
            acc[1] += float(r.kwh or 0)
            acc[2] += float(r.kg or 0)
        reporters = None
        if province is not None:
            reporters = [u for u, p in ents.items() if p == province]
        out.months, out.trends = _trends(conn, reporters)
    states: dict[str, list[float]] = {}
    for (state, _prov), acc in by_state_province.items():
        s = states.setdefault(state, [0, 0.0, 0.0])
        for i in range(3):
            s[i] += acc[i]
    out.packs = int(sum(v[0] for v in states.values()))
    for key, _label, members in MEASURES:
        n = sum(states.get(s, [0, 0, 0])[0] for s in members)
        # Tallies add and subtract floats as packs move: round away the last-bit residue.
        kwh = round(sum(states.get(s, [0, 0, 0])[1] for s in members), 6)
        kg = round(sum(states.get(s, [0, 0, 0])[2] for s in members), 6)
        out.headline[key] = {"packs": n, "kwh": kwh, "tonnes": kg / 1000.0}
    out.provinces = _provinces(by_state_province, province)
    out.flows = _flows(states)
    return out


def _provinces(data: dict[tuple[str, str], list[float]], only: str | None) -> list[dict[str, Any]]:
    rows = []
    for p in PROVINCES:
        if only is not None and p.code != only:
            continue
        n_service = sum(
            v[0] for (s, pr), v in data.items() if pr == p.code and s in ("installed", "in_service")
        )
        eol = sum(v[0] for (s, pr), v in data.items() if pr == p.code and s in END_OF_LIFE)
        formal = sum(v[0] for (s, pr), v in data.items() if pr == p.code and s in FORMAL)
        eol_kwh = sum(v[1] for (s, pr), v in data.items() if pr == p.code and s in END_OF_LIFE)
        rows.append(
            {
                "code": p.code,
                "name_zh": p.name_zh,
                "name_en": p.name_en,
                "in_service": int(n_service),
                "retired": int(eol),
                "retired_kwh": eol_kwh,
                "formal": int(formal),
                "collection_rate": (formal / eol) if eol else None,
            }
        )
    return rows


def _flows(states: dict[str, list[float]]) -> list[tuple[str, str, int]]:
    def n(*names: str) -> int:
        return int(sum(states.get(s, [0])[0] for s in names))

    not_installed = n("produced", "assembled", "in_transit")
    in_use = n("installed", "in_service")
    awaiting = n("removed", "retired")
    collected = n("collected")
    cascade = n("cascade_use")
    recycled = n("dismantled", "recycled", "disposed")
    formal = collected + cascade + recycled
    retired = awaiting + formal
    links = [
        ("produced", "not_installed", not_installed),
        ("produced", "vehicles", in_use + retired),
        ("vehicles", "in_service", in_use),
        ("vehicles", "retired", retired),
        ("retired", "not_collected", awaiting),
        ("retired", "formal", formal),
        ("formal", "awaiting_use", collected),
        ("formal", "cascade", cascade),
        ("formal", "recycling", recycled),
    ]
    return [link for link in links if link[2] > 0]


FLOW_NODES: Final = {
    "produced": N_("Produced"),
    "not_installed": N_("Not yet in a vehicle"),
    "vehicles": N_("Installed in vehicles"),
    "in_service": N_("In service"),
    "retired": N_("Retired"),
    "not_collected": N_("Not (yet) collected"),
    "formal": N_("Formal collection"),
    "awaiting_use": N_("At outlets"),
    "cascade": N_("Cascade use"),
    "recycling": N_("Recycling"),
}


def _trends(conn: Any, reporters: list[str] | None) -> tuple[list[str], dict[str, list[int]]]:
    last = conn.execute(text("SELECT MAX(event_time) FROM events")).scalar()
    if not last:
        return [], {k: [] for k, _ in TREND_STEPS}
    year, month = int(last[:4]), int(last[5:7])
    months = []
    for _ in range(TREND_MONTHS):
        months.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    months.reverse()
    where = "month >= :since"
    params: dict[str, Any] = {"since": months[0]}
    if reporters is not None:
        if not reporters:
            return months, {k: [0] * len(months) for k, _ in TREND_STEPS}
        marks = ", ".join(f":r{i}" for i in range(len(reporters)))
        where += f" AND reporter IN ({marks})"
        params.update({f"r{i}": r for i, r in enumerate(reporters)})
    rows = conn.execute(
        text(
            f"SELECT month AS m, biz_step, SUM(events) AS n FROM event_tallies "
            f"WHERE {where} GROUP BY month, biz_step"
        ),
        params,
    ).all()
    index = {m: i for i, m in enumerate(months)}
    trends = {k: [0] * len(months) for k, _ in TREND_STEPS}
    for r in rows:
        step = (r.biz_step or "").rsplit("/", 1)[-1].removeprefix("BizStep-")
        if step in trends and r.m in index:
            trends[step][index[r.m]] += int(r.n)
    return months, trends
