"""Statistics regulators and enterprises need, from the regulation engine's facts.

Counting unit: the battery **pack** (GB/T 34014 product type ``P``); a pack's rated energy (kWh)
and mass (kg) come from its commissioning data (its view's attributes). Every measure is an event
in a pack's life, attributed to the enterprise that reported it (and that enterprise's province)
and to the period of its event time (China date):

==================  ======================================================================
produced            commissioned by its battery maker
installed           installed in a vehicle (automaker or importer)
retired             decommissioned on its own, or taken out of a vehicle for good
collected           first reached a recycling channel after retirement (an outlet, cascade
                    user or recycler received, collected or processed it) — formal collection
cascade_used        re-coded into a cascade-use product
recycled            recycled, dismantled or destroyed by a recycler
==================  ======================================================================

``formal_collection_rate`` is a cohort rate: of the packs retired in a group and period, the share
that reached a formal channel (by the as-of moment). ``timeliness_rate`` is the share of events
with a reporting deadline that were reported in time. ``open_alerts`` counts open alerts by kind.

Also: producer responsibility (per automaker: packs retired from vehicles it made and the share
recovered through its own or shared outlets; the same per battery maker), outlet coverage
(prefecture-level cities where an automaker's vehicles were sold vs where outlets serve it — the
2026 rule; provinces for battery makers), and the battery flow for a Sankey diagram. CSV and XLSX
exports of any table.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Connection, select

from battrace.domain.errors import InvalidInput, NotAuthorised
from battrace.domain.identities.divisions import province_by_code
from battrace.domain.lifecycle import states as S
from battrace.domain.rules import RuleSet
from battrace.domain.supervision import facts as F
from battrace.domain.supervision.clock import china_day, text_of
from battrace.domain.supervision.evaluate import CHANNEL_ROLES, Context, reporting_deadline
from battrace.domain.supervision.facts import Fact, is_pack
from battrace.domain.supervision.registry import Registry
from battrace.persistence import schema as t
from battrace.persistence import schema_supervision as ts
from battrace.persistence.base import Store
from battrace.persistence.sql import mark
from battrace.services.alerts import (
    Scope,
    default_rules,
    fact_from_row,
    load_registry,
    load_retractions,
    now_us,
    sql_store,
    stream_options,
)

MEASURES = ("produced", "installed", "retired", "collected", "cascade_used", "recycled")
PERIODS = ("month", "quarter", "year", "all")
GROUPS = ("province", "enterprise")
_VEHICLE_MAKERS = frozenset({"automaker", "importer"})
_FACT_SQL = (
    "SELECT subject, event_seq, role, capture_seq, position, event_time, record_time, step, "
    "reporter, party, site, kg, is_primary FROM supervision_facts"
)


@dataclass(slots=True)
class Milestone:
    day: date
    enterprise: str


@dataclass(slots=True)
class PackLife:
    """The milestones of one pack, from its facts."""

    epc: str
    produced: Milestone | None = None
    installed: Milestone | None = None
    sold: Milestone | None = None
    retired: Milestone | None = None
    collected: Milestone | None = None
    cascade_used: Milestone | None = None
    recycled: Milestone | None = None
    installer: str | None = None
    via_outlet: str | None = None  # the outlet that first received it after retirement
    kwh: float = 0.0
    kg: float = 0.0

    def milestone(self, measure: str) -> Milestone | None:
        value = getattr(self, measure)
        return value if isinstance(value, Milestone) else None


def _pack_life(epc: str, facts: Sequence[Fact], registry: Registry) -> PackLife:
    life = PackLife(epc)
    retired_at: tuple[int, int, int] | None = None
    for f in sorted(facts, key=F.sort_key):
        here = Milestone(china_day(f.event_time), f.reporter)
        roles = registry.roles(f.reporter)
        if f.step == F.COMMISSION and life.produced is None:
            life.produced = here
        elif f.step in (F.INSTALL, F.REPLACE) and f.role == "child":
            if life.installed is None:
                life.installed = here
            if roles & _VEHICLE_MAKERS:
                life.installer = f.reporter
            if life.collected is None:
                life.retired, retired_at = None, None  # back in service: not retired after all
        elif f.step == F.SELL and life.sold is None:
            life.sold = here
        elif f.step in (F.RETIRE, F.REMOVE) and f.role in ("epc", "child") and life.retired is None:
            life.retired, retired_at = here, F.sort_key(f)
        if f.step == F.RECODE and f.role == "input" and life.cascade_used is None:
            life.cascade_used = here
        if (
            f.step in (F.RECYCLE, F.DISMANTLE, F.DESTROY)
            and f.role in ("epc", "input")
            and "recycler" in roles
            and life.recycled is None
        ):
            life.recycled = here
        if (
            life.collected is None
            and retired_at is not None
            and F.sort_key(f) > retired_at
            and f.step in F.CUSTODY_STEPS
            and roles & CHANNEL_ROLES
        ):
            life.collected = here
            if "recycling_outlet" in roles:
                life.via_outlet = f.reporter
    return life


def _stream_pack_facts(conn: Connection, as_of: int) -> Iterator[tuple[str, list[Fact]]]:
    sql = (
        f"{_FACT_SQL} WHERE subject >= {mark(conn)} AND subject < {mark(conn)} "
        f"AND record_time <= {mark(conn)} ORDER BY subject"
    )
    rows = conn.exec_driver_sql(
        sql,
        (S.BATTERY_URN, S.BATTERY_URN[:-1] + ";", as_of),
        execution_options=stream_options(conn),
    )
    current: str | None = None
    bucket: list[Fact] = []
    for row in rows:
        if row[0] != current:
            if current is not None and is_pack(current):
                yield current, bucket
            current, bucket = row[0], []
        bucket.append(fact_from_row(row))
    if current is not None and is_pack(current):
        yield current, bucket


def _ratings(conn: Connection, epcs: Sequence[str]) -> dict[str, tuple[float, float]]:
    o = t.objects.c
    out: dict[str, tuple[float, float]] = {}
    for i in range(0, len(epcs), 900):
        q = select(o.epc, o.view).where(o.epc.in_(epcs[i : i + 900]))
        for epc, view in conn.execute(q):
            attrs = orjson.loads(view).get("attributes", {})
            out[epc] = (_number(attrs.get("ratedEnergyKWh")), _number(attrs.get("massKg")))
    return out


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


@dataclass(slots=True)
class Snapshot:
    """Every pack's life as the ledger knew it at ``as_of``, with the registry of now."""

    as_of: int
    registry: Registry
    packs: list[PackLife]
    primary: list[Fact] = field(default_factory=list)


def snapshot(store: Store, *, as_of: int | None = None, with_reports: bool = True) -> Snapshot:
    """Read the facts once; every table below is computed from a snapshot."""
    moment = as_of if as_of is not None else now_us()
    sql = sql_store(store)
    with sql.engine.connect() as conn:
        registry = load_registry(conn)
        retracted = {seq for seq, r in load_retractions(conn).items() if r.record_time <= moment}
        packs: list[PackLife] = []
        for epc, facts in _stream_pack_facts(conn, moment):
            live = [f for f in facts if f.event_seq not in retracted]
            if live:
                packs.append(_pack_life(epc, live, registry))
        for i in range(0, len(packs), 5000):
            part = packs[i : i + 5000]
            ratings = _ratings(conn, [p.epc for p in part])
            for p in part:
                p.kwh, p.kg = ratings.get(p.epc, (0.0, 0.0))
        primary: list[Fact] = []
        if with_reports:
            q = f"{_FACT_SQL} WHERE is_primary = 1 AND record_time <= {mark(conn)}"
            for row in conn.exec_driver_sql(q, (moment,), execution_options=stream_options(conn)):
                f = fact_from_row(row)
                if f.event_seq not in retracted:
                    primary.append(f)
    return Snapshot(moment, registry, packs, primary)


# --------------------------------------------------------------------------------------------
# Periodic statistics
# --------------------------------------------------------------------------------------------


def period_label(day: date, period: str) -> str:
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    if period == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if period == "year":
        return str(day.year)
    return "all"


@dataclass(frozen=True, slots=True)
class StatsQuery:
    group: str = "province"
    period: str = "year"
    start: date | None = None
    end: date | None = None  # exclusive
    province: str | None = None
    enterprise: str | None = None

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise InvalidInput("group", f"{self.group!r} is not one of: {', '.join(GROUPS)}")
        if self.period not in PERIODS:
            raise InvalidInput("period", f"{self.period!r} is not one of: {', '.join(PERIODS)}")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise InvalidInput("end", f"{self.end} is not after start {self.start}")
        if self.province is not None and province_by_code(self.province) is None:
            raise InvalidInput("province", f"{self.province!r} is not a GB/T 2260 province code")

    def scoped(self, scope: Scope) -> StatsQuery:
        """The query restricted to what ``scope`` may see (NotAuthorised if it asks for more)."""
        if scope.national:
            return self
        if scope.province is not None:
            if self.province not in (None, scope.province):
                raise NotAuthorised("province", f"only province {scope.province} is visible")
            return StatsQuery(
                self.group, self.period, self.start, self.end, scope.province, self.enterprise
            )
        if scope.enterprise is not None:
            if self.enterprise not in (None, scope.enterprise):
                raise NotAuthorised("enterprise", f"only {scope.enterprise} is visible")
            return StatsQuery(
                "enterprise", self.period, self.start, self.end, None, scope.enterprise
            )
        raise NotAuthorised("scope", "no statistics are visible to this caller")

    def keep(self, day: date, enterprise: str, registry: Registry) -> bool:
        if self.start is not None and day < self.start:
            return False
        if self.end is not None and day >= self.end:
            return False
        if self.enterprise is not None and enterprise != self.enterprise:
            return False
        return self.province is None or registry.province(enterprise) == self.province


def _group_of(enterprise: str, group: str, registry: Registry) -> tuple[str, str]:
    info = registry.get(enterprise)
    if group == "enterprise":
        return enterprise, "" if info is None else info.name_zh
    code = registry.province(enterprise) or "??"
    prov = province_by_code(code)
    return code, "" if prov is None else prov.name_zh


def _empty_row(key: tuple[str, str, str]) -> dict[str, Any]:
    row: dict[str, Any] = {"group": key[0], "name": key[1], "period": key[2]}
    for m in MEASURES:
        row[f"{m}_count"] = 0
        row[f"{m}_kwh"] = 0.0
        row[f"{m}_kg"] = 0.0
    row.update(
        retired_collected=0,
        formal_collection_rate=None,
        reports_checked=0,
        reports_on_time=0,
        timeliness_rate=None,
        open_alerts=0,
    )
    return row


def statistics(
    store: Store,
    query: StatsQuery,
    scope: Scope,
    *,
    snap: Snapshot | None = None,
    rules: RuleSet | None = None,
) -> list[dict[str, Any]]:
    """One row per (group, period) with every measure; see the module doc."""
    q = query.scoped(scope)
    snap = snap or snapshot(store)
    reg = snap.registry
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}

    def row_for(enterprise: str, day: date) -> dict[str, Any]:
        g, name = _group_of(enterprise, q.group, reg)
        key = (g, name, period_label(day, q.period))
        if key not in rows:
            rows[key] = _empty_row(key)
        return rows[key]

    for p in snap.packs:
        for m in MEASURES:
            ms = p.milestone(m)
            if ms is None or not q.keep(ms.day, ms.enterprise, reg):
                continue
            row = row_for(ms.enterprise, ms.day)
            row[f"{m}_count"] += 1
            row[f"{m}_kwh"] += p.kwh
            row[f"{m}_kg"] += p.kg
        if (
            p.retired is not None
            and p.collected is not None
            and q.keep(p.retired.day, p.retired.enterprise, reg)
        ):
            row_for(p.retired.enterprise, p.retired.day)["retired_collected"] += 1
    ctx = Context(rules if rules is not None else default_rules(), reg)
    for f in snap.primary:
        day = china_day(f.event_time)
        if not q.keep(day, f.reporter, reg):
            continue
        deadline = reporting_deadline(f, ctx)
        if deadline is None:
            continue
        row = row_for(f.reporter, day)
        row["reports_checked"] += 1
        row["reports_on_time"] += 1 if f.record_time < deadline.end else 0
    for kind, enterprise, detected in _open_alerts(store, snap.as_of):
        if enterprise is None:
            continue
        day = china_day(detected)
        if not q.keep(day, enterprise, reg):
            continue
        row = row_for(enterprise, day)
        row["open_alerts"] += 1
        row[f"open_{kind}"] = row.get(f"open_{kind}", 0) + 1
    for row in rows.values():
        if row["retired_count"]:
            row["formal_collection_rate"] = round(
                row["retired_collected"] / row["retired_count"], 4
            )
        if row["reports_checked"]:
            row["timeliness_rate"] = round(row["reports_on_time"] / row["reports_checked"], 4)
        for m in MEASURES:
            row[f"{m}_kwh"] = round(row[f"{m}_kwh"], 3)
            row[f"{m}_kg"] = round(row[f"{m}_kg"], 3)
    return [rows[k] for k in sorted(rows)]


def _open_alerts(store: Store, as_of: int) -> list[tuple[str, str | None, int]]:
    from battrace.domain.supervision.clock import us_of_text

    a = ts.alerts.c
    moment = text_of(as_of)
    q = select(a.kind, a.enterprise, a.detected_at).where(
        a.engine_state == "active",
        a.stage != "closed",
        a.detected_at <= moment,
        (a.resolved_at.is_(None)) | (a.resolved_at > moment),
    )
    with sql_store(store).engine.connect() as conn:
        return [(k, e, us_of_text(d)) for k, e, d in conn.execute(q)]


# --------------------------------------------------------------------------------------------
# Producer responsibility and outlet coverage
# --------------------------------------------------------------------------------------------


def producer_responsibility(
    snap: Snapshot, scope: Scope, *, start: date | None = None, end: date | None = None
) -> list[dict[str, Any]]:
    """Per automaker (and per battery maker): packs retired from its vehicles (its batteries)
    and the share recovered through its own or shared outlets, and through any formal channel."""
    reg = snap.registry
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for p in snap.packs:
        if p.retired is None:
            continue
        if (start is not None and p.retired.day < start) or (
            end is not None and p.retired.day >= end
        ):
            continue
        owner = reg.code_owners.get(p.epc[len(S.BATTERY_URN) :][:3])
        for role, producer in (("automaker", p.installer), ("battery_maker", owner)):
            if producer is None:
                continue
            info = reg.get(producer)
            if not scope.allows(None if info is None else info.province, producer):
                continue
            key = (role, producer)
            row = table.get(key)
            if row is None:
                row = table[key] = {
                    "producer": producer,
                    "name": "" if info is None else info.name_zh,
                    "role": role,
                    "province": None if info is None else info.province,
                    "retired": 0,
                    "retired_kwh": 0.0,
                    "recovered_own_or_shared_outlets": 0,
                    "recovered_formal": 0,
                }
            row["retired"] += 1
            row["retired_kwh"] = round(row["retired_kwh"] + p.kwh, 3)
            if p.collected is not None:
                row["recovered_formal"] += 1
                outlet = reg.get(p.via_outlet)
                if outlet is not None and outlet.serves([producer]):
                    row["recovered_own_or_shared_outlets"] += 1
    out = []
    for key in sorted(table):
        row = table[key]
        n = row["retired"]
        row["outlet_share"] = round(row["recovered_own_or_shared_outlets"] / n, 4) if n else None
        row["formal_share"] = round(row["recovered_formal"] / n, 4) if n else None
        out.append(row)
    return out


def outlet_coverage(snap: Snapshot, scope: Scope) -> list[dict[str, Any]]:
    """Automakers: prefecture-level cities where their vehicles were sold vs cities with an outlet
    serving them (own or shared). Battery makers: the same by province (where their packs were
    installed)."""
    reg = snap.registry
    sold: dict[tuple[str, str], set[str]] = defaultdict(set)
    for p in snap.packs:
        if p.installer is not None and p.sold is not None:
            dealer = reg.get(p.sold.enterprise)
            sold[("automaker", p.installer)].add(
                dealer.city if dealer is not None else p.sold.enterprise[2:6] + "00"
            )
        owner = reg.code_owners.get(p.epc[len(S.BATTERY_URN) :][:3])
        if owner is not None and p.installed is not None:
            prov = reg.province(p.installed.enterprise)
            if prov is not None:
                sold[("battery_maker", owner)].add(prov)
    outlets = [(info, site) for info in reg.enterprises.values() for site in info.outlets.values()]
    out = []
    for (role, producer), places in sorted(sold.items()):
        info = reg.get(producer)
        if not scope.allows(None if info is None else info.province, producer):
            continue
        covered: set[str] = set()
        for _, site in outlets:
            if not site.serves or producer in site.serves:
                covered.add(site.city if role == "automaker" else site.city[:2])
        out.append(
            {
                "producer": producer,
                "name": "" if info is None else info.name_zh,
                "role": role,
                "level": "city" if role == "automaker" else "province",
                "sold_in": sorted(places),
                "outlets_in": sorted(covered),
                "uncovered": sorted(places - covered),
                "coverage": round(len(places & covered) / len(places), 4) if places else None,
            }
        )
    return out


# --------------------------------------------------------------------------------------------
# Flow (Sankey)
# --------------------------------------------------------------------------------------------

FLOW_NODES: tuple[tuple[str, str, str], ...] = (
    ("produced", "生产", "produced"),
    ("not_installed", "未装车", "not installed"),
    ("in_service", "装车使用", "in service"),
    ("still_in_service", "仍在使用", "still in service"),
    ("retired", "退役", "retired"),
    ("formal_collection", "规范回收", "formal collection"),
    ("unknown", "去向不明", "unknown"),
    ("cascade_use", "梯次利用", "cascade use"),
    ("recycling", "再生利用", "recycling"),
    ("in_channel", "回收渠道中", "in a channel, not yet processed"),
)


def flow(snap: Snapshot, scope: Scope) -> dict[str, Any]:
    """Battery flow (packs, kWh, kg) as nodes and links for a Sankey diagram.

    A provincial or enterprise scope counts the packs produced or installed by enterprises it may
    see.
    """
    reg = snap.registry
    links: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])

    def add(a: str, b: str, p: PackLife) -> None:
        v = links[(a, b)]
        v[0] += 1
        v[1] += p.kwh
        v[2] += p.kg

    for p in snap.packs:
        anchor = p.produced or p.installed
        if anchor is not None and not scope.national:
            if not scope.allows(reg.province(anchor.enterprise), anchor.enterprise):
                continue
        elif anchor is None and not scope.national:
            continue
        if p.installed is None:
            add("produced", "not_installed", p)
            continue
        add("produced", "in_service", p)
        if p.retired is None:
            add("in_service", "still_in_service", p)
            continue
        add("in_service", "retired", p)
        if p.collected is None:
            add("retired", "unknown", p)
            continue
        add("retired", "formal_collection", p)
        if p.cascade_used is not None:
            add("formal_collection", "cascade_use", p)
        elif p.recycled is not None:
            add("formal_collection", "recycling", p)
        else:
            add("formal_collection", "in_channel", p)
    used = {n for pair in links for n in pair}
    return {
        "as_of": text_of(snap.as_of),
        "unit": "packs",
        "nodes": [{"id": i, "name_zh": zh, "name_en": en} for i, zh, en in FLOW_NODES if i in used],
        "links": [
            {
                "source": a,
                "target": b,
                "count": int(v[0]),
                "kwh": round(v[1], 3),
                "kg": round(v[2], 3),
            }
            for (a, b), v in sorted(links.items())
        ],
    }


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------


def _flat(value: Any) -> Any:
    if isinstance(value, list | tuple | set):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    return value


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    cols: dict[str, None] = {}
    for row in rows:
        for k in row:
            cols.setdefault(k, None)
    return list(cols)


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """A table as CSV (UTF-8; lists joined with spaces; missing cells empty)."""
    buf = io.StringIO()
    cols = _columns(rows)
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _flat(row.get(c)) for c in cols])
    return buf.getvalue()


def to_xlsx(sheets: Mapping[str, Sequence[Mapping[str, Any]]]) -> bytes:
    """Tables as an XLSX workbook, one sheet each (names cut to Excel's 31 characters)."""
    from openpyxl import Workbook

    wb = Workbook()
    first = True
    for name, rows in sheets.items():
        ws = wb.active if first else wb.create_sheet()
        assert ws is not None
        ws.title = name[:31]
        first = False
        cols = _columns(rows)
        ws.append(cols)
        for row in rows:
            ws.append([_flat(row.get(c)) for c in cols])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def flow_rows(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(link) for link in data["links"]]


def iter_tables(
    store: Store, query: StatsQuery, scope: Scope, *, as_of: int | None = None
) -> Iterable[tuple[str, list[dict[str, Any]]]]:
    """Every report table (for ``battrace report all`` and the workbook export)."""
    snap = snapshot(store, as_of=as_of)
    yield "statistics", statistics(store, query, scope, snap=snap)
    yield "producers", producer_responsibility(snap, scope, start=query.start, end=query.end)
    yield "coverage", outlet_coverage(snap, scope)
    yield "flow", flow_rows(flow(snap, scope))
