"""Forecasts from the ledger: cohorts of the batteries it has seen installed, and the recycling
capacity its registry holds.

Cohorts (``CohortKind.PACKS``: every installed pack, replacements included, retires once):

* year — the vehicle's sale year for a pack installed at the factory (service starts at the
  sale; the install year if the vehicle is not sold yet), the replacement year for a pack fitted
  as a replacement;
* province — the province of the dealer that sold the vehicle (else the installer's);
* chemistry — the pack's ``chemistry`` attribute from its commissioning (``LFP``, ``NCM523``…);
  a bare ``NCM``/ternary, or only the code's battery-type letter ``E``, is split by the forecast's
  within-ternary shares of its year (``split_ternary``);
* segment — the pack's ``vehicleSegment`` attribute where the maker gave it; otherwise packs of
  100 kWh and more count as commercial BEV, the rest as passenger BEV (ASSUMPTION, documented in
  docs/simulator.md);
* kWh and kg per pack — the pack's rated energy and mass attributes (means over the cohort).

Years after the ledger's last full year come from a sales scenario: that year's cohorts, grown
by ``growth`` a year (0 = flat), the same assumption as the packaged scenario (``FutureSales``).
Capacity is the registered, whitelisted recycling capacity: ``capacity_t`` (t/yr) of each
recycler's ``recycling`` qualification, summed per province.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import Engine, and_, exists, func, select

from battrace.domain.errors import InvalidInput
from battrace.domain.forecast import (
    CHEMISTRIES,
    ELEMENTS,
    METRICS,
    CapacityReport,
    Cohort,
    CohortKind,
    Forecast,
    FutureSales,
    Parameters,
    SaleTiming,
    Uncertainty,
    capacity_match,
    default_parameters,
    forecast,
    life_extension_default,
    normalise_chemistry,
    normalise_segment,
    packaged_cohorts,
    split_ternary,
    uncertainty,
)
from battrace.domain.identities.divisions import province_by_code
from battrace.persistence import schema as t
from battrace.persistence.base import Store
from battrace.services.enterprises import in_force

#: Packs without a segment attribute: this rated energy and above counts as a commercial pack.
COMMERCIAL_KWH = 100.0
_PACK_URN = "urn:gbt34014:"


@dataclass(frozen=True)
class LedgerCohorts:
    cohorts: tuple[Cohort, ...]
    packs: int  # packs counted
    skipped: int  # installed packs without a usable chemistry or energy
    first_year: int | None
    last_year: int | None
    last_event: datetime | None
    #: Packs the ledger has seen retired (decommissioned out of a vehicle), per year.
    observed_retired: Mapping[int, int] = field(default_factory=dict)


def _engine(store: Store) -> Engine:
    engine = getattr(store, "engine", None)
    if not isinstance(engine, Engine):
        raise InvalidInput("store", "the ledger forecast needs an SQL store")
    return engine


def _not_retracted(ev: Any) -> Any:
    decl = t.events.alias("decl")
    return ~exists().where(decl.c.event_id == ev.c.event_id, decl.c.is_declaration == 1)


def _installs() -> Any:
    """Every pack fitted into a vehicle (installing, replacing), with the pack's view.

    Driven from the packs' views through the identifier index (its key starts with the epc);
    the vehicle is read from the event body, as the index has no key on the event.
    """
    ev, child = t.events, t.event_epcs.alias("child")
    return (
        select(
            t.objects.c.epc,
            t.objects.c.view,
            ev.c.biz_step,
            ev.c.event_time,
            ev.c.reporter,
            ev.c.body,
        )
        .select_from(t.objects)
        .join(child, and_(child.c.epc == t.objects.c.epc, child.c.role == "child"))
        .join(ev, ev.c.seq == child.c.event_seq)
        .where(
            t.objects.c.kind == "battery",
            t.objects.c.epc.like(_PACK_URN + "___P%"),
            ev.c.biz_step.in_(("installing", "replacing")),
            ev.c.is_declaration == 0,
            _not_retracted(ev),
        )
    )


def _sales(vehicles: list[str]) -> Any:
    """(vehicle, first sale time, its dealer) for a chunk of vehicles."""
    ev, epc = t.events, t.event_epcs
    return (
        select(epc.c.epc, func.min(ev.c.event_time).label("sold"), func.min(ev.c.reporter))
        .join(ev, ev.c.seq == epc.c.event_seq)
        .where(
            epc.c.epc.in_(vehicles),
            ev.c.biz_step == "retail_selling",
            ev.c.is_declaration == 0,
        )
        .group_by(epc.c.epc)
    )


def _decommissionings() -> Any:
    ev = t.events
    return select(ev.c.event_time, ev.c.body).where(
        ev.c.biz_step == "decommissioning", ev.c.is_declaration == 0, _not_retracted(ev)
    )


def _year(text: str | None) -> int | None:
    return int(text[:4]) if text else None


def _chemistry(attrs: Mapping[str, Any], code: str) -> str | None:
    """Canonical chemistry, "ternary" for a ternary of unknown ratio, None if unknown."""
    raw = attrs.get("chemistry")
    if isinstance(raw, str) and raw.strip():
        key = raw.strip().upper()
        if key in ("NCM", "NMC", "TERNARY", "NCM/NCA"):
            return "ternary"
        try:
            return normalise_chemistry(raw)
        except InvalidInput:
            return None
    letter = code[4:5]
    return "LFP" if letter == "B" else "ternary" if letter == "E" else None


def _segment(attrs: Mapping[str, Any], kwh: float) -> str:
    raw = attrs.get("vehicleSegment")
    if isinstance(raw, str):
        try:
            return normalise_segment(raw)
        except InvalidInput:
            pass
    return "commercial_bev" if kwh >= COMMERCIAL_KWH else "passenger_bev"


def ledger_cohorts(store: Store) -> LedgerCohorts:
    """Cohorts of installed packs (see the module doc), streaming over the ledger."""
    engine = _engine(store)
    provinces = {e.uscc: e.province for e in store.list_enterprises()}
    # (year, province, segment, chemistry) -> [packs, kWh, kg]
    acc: dict[tuple[int, str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    packs = skipped = 0
    last_event: str | None = None
    chunk: list[Any] = []

    def flush(conn: Any) -> None:
        nonlocal packs, skipped
        vehicles = sorted({v for _, v in chunk if v})
        sold: dict[str, tuple[str, str]] = {}
        if vehicles:
            for vin, when, dealer in conn.execute(_sales(vehicles)):
                sold[vin] = (when, dealer)
        for row, vehicle in chunk:
            code = row.epc[len(_PACK_URN) :]
            attrs = (orjson.loads(row.view) if row.view else {}).get("attributes") or {}
            kwh = attrs.get("ratedEnergyKWh")
            chem = _chemistry(attrs, code)
            if not isinstance(kwh, int | float) or kwh <= 0 or chem is None:
                skipped += 1
                continue
            kg = attrs.get("massKg")
            kg = float(kg) if isinstance(kg, int | float) and kg > 0 else 0.0
            sale = sold.get(vehicle) if row.biz_step == "installing" else None
            when = sale[0] if sale else row.event_time
            province = provinces.get(sale[1] if sale else row.reporter, "")
            year = _year(when)
            if year is None or not province:
                skipped += 1
                continue
            cell = acc[(year, province, _segment(attrs, float(kwh)), chem)]
            cell[0] += 1
            cell[1] += float(kwh)
            cell[2] += kg
            packs += 1
        chunk.clear()

    with engine.connect() as conn, engine.connect() as lookups:
        rows = conn.execution_options(stream_results=True, yield_per=2_000).execute(_installs())
        for row in rows:
            body = orjson.loads(row.body)
            parent = body.get("parentID") if isinstance(body, dict) else None
            chunk.append((row, parent if isinstance(parent, str) else None))
            if last_event is None or row.event_time > last_event:
                last_event = row.event_time
            if len(chunk) >= 900:  # under SQLite's limit of parameters per statement
                flush(lookups)
        if chunk:
            flush(lookups)
        observed: dict[int, int] = defaultdict(int)
        retired = conn.execution_options(stream_results=True, yield_per=5_000).execute(
            _decommissionings()
        )
        for when, body_text in retired:
            epcs = orjson.loads(body_text).get("epcList") or []
            if any(e.startswith("urn:vin:") for e in epcs):
                continue  # a vehicle's scrapping: its pack retires by its own event
            year = _year(when)
            for e in epcs:
                # Original packs (24-character codes); a cascade product's end is not counted.
                if e.startswith(_PACK_URN) and len(e) == len(_PACK_URN) + 24 and e[16:17] == "P":
                    observed[year or 0] += 1
    cohorts: list[Cohort] = []
    for (year, province, segment, chem), (n, kwh_total, kg_total) in sorted(acc.items()):
        kwh_mean = kwh_total / n
        kg_mean = kg_total / n if kg_total > 0 else None
        if chem == "ternary":
            cohorts.extend(
                split_ternary(
                    year=year,
                    province=province,
                    segment=segment,
                    units=n,
                    kwh_per_pack=kwh_mean,
                    kg_per_pack=kg_mean,
                )
            )
        else:
            cohorts.append(
                Cohort(year, province, segment, chem, n, kwh_mean, kg_mean, CohortKind.PACKS)
            )
    years = [c.year for c in cohorts]
    return LedgerCohorts(
        cohorts=tuple(cohorts),
        packs=packs,
        skipped=skipped,
        first_year=min(years) if years else None,
        last_year=max(years) if years else None,
        last_event=datetime.fromisoformat(last_event.replace("Z", "+00:00"))
        if last_event
        else None,
        observed_retired=dict(sorted(observed.items())),
    )


def with_future(
    data: LedgerCohorts, to_year: int, future: FutureSales | None = None
) -> list[Cohort]:
    """The ledger's cohorts, plus cohorts for the years after its last full year up to
    ``to_year``: that year's cohorts grown by ``future.growth`` a year."""
    future = future or FutureSales()
    cohorts = list(data.cohorts)
    if data.last_year is None:
        return cohorts
    base = data.last_year
    # A last year seen only in part (ledger ends before mid-December) is not a full year's sales.
    if data.last_event is not None and (data.last_event.month, data.last_event.day) < (12, 15):
        base -= 1
    base_cohorts = [c for c in cohorts if c.year == base]
    for year in range(data.last_year + 1, to_year + 1):
        factor = (1.0 + future.growth) ** (year - base)
        cohorts.extend(
            Cohort(
                year,
                c.province,
                c.segment,
                c.chemistry,
                c.units * factor,
                c.kwh_per_pack,
                c.kg_per_pack,
                c.kind,
            )
            for c in base_cohorts
        )
    return cohorts


def ledger_forecast(
    store: Store,
    params: Parameters | None = None,
    *,
    start: int,
    end: int,
    future: FutureSales | None = None,
) -> tuple[Forecast, LedgerCohorts, list[Cohort]]:
    """Expected retirements ``start``..``end`` of the ledger's packs (and future cohorts)."""
    data = ledger_cohorts(store)
    if not data.cohorts:
        raise InvalidInput("ledger", "holds no installed pack with chemistry and energy")
    cohorts = with_future(data, end, future)
    return forecast(cohorts, params or default_parameters(), start=start, end=end), data, cohorts


def registered_capacity(store: Store, on: date | None = None) -> dict[str, float]:
    """Whitelisted recycling capacity per province (t/yr) from the enterprise registry: the
    qualifications in force ``on`` that day (default today; an expired or not yet announced
    qualification has no capacity)."""
    day = on or date.today()
    out: dict[str, float] = defaultdict(float)
    for ent in store.list_enterprises("recycler"):
        for q in ent.qualifications:
            if not isinstance(q, dict) or q.get("kind") != "recycling" or not in_force(q, day):
                continue
            cap = q.get("capacity_t")
            if isinstance(cap, int | float) and cap > 0:
                out[ent.province] += float(cap)
    return dict(sorted(out.items()))


def ledger_capacity_match(
    store: Store,
    year: int,
    *,
    capacity_t: Mapping[str, float] | None = None,
    future: FutureSales | None = None,
) -> tuple[CapacityReport, LedgerCohorts]:
    """Forecast retirements (t of packs) per province in ``year`` vs recycling capacity
    (registered in the ledger's registry unless ``capacity_t`` is given)."""
    result, data, _ = ledger_forecast(store, start=year, end=year, future=future)
    retired = {p: y.tonnes for p, y in result.by_province(year).items() if p}
    caps = dict(capacity_t) if capacity_t is not None else registered_capacity(store)
    return capacity_match(retired, caps), data


# --------------------------------------------------------------------------------------------
# Retirement tables: one computation for the CLI (`battrace forecast run`) and the HTTP API.

SOURCES: tuple[str, ...] = ("scenario", "ledger")
BREAKDOWNS: tuple[str, ...] = ("province", "chemistry", "segment")
_TOTALS = ("year", "packs", "gwh", "gwh_residual", "tonnes")


@dataclass(frozen=True)
class RetirementQuery:
    """What to forecast. ``province`` is a GB/T 2260 code (two or six digits); ``chemistry`` and
    ``segment`` take the model's spellings (``normalise_chemistry``/``normalise_segment``);
    ``draws`` 0 = min–max over the corners of the parameter ranges, else Monte Carlo p10–p90."""

    start: int = 2020
    end: int = 2040
    source: str = "scenario"
    province: str | None = None
    chemistry: str | None = None
    segment: str | None = None
    draws: int = 0
    seed: int = 0
    growth: float = 0.0
    timing: SaleTiming = SaleTiming.MID
    life_extension: bool = False
    by: str | None = None


@dataclass(frozen=True)
class RetirementReport:
    """Per-year totals with their band (``rows``), optional per-key rows (``breakdown``) and what
    was computed (``scope``)."""

    rows: list[dict[str, Any]]
    breakdown: list[dict[str, Any]]
    scope: dict[str, Any]
    params: Parameters
    band: Uncertainty
    future: FutureSales
    ledger: LedgerCohorts | None
    observed: dict[int, int]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scope": self.scope, "years": self.rows}
        if self.scope.get("by"):
            out["breakdown"] = self.breakdown
        return out


def _check_query(q: RetirementQuery) -> tuple[str | None, str | None, str | None]:
    if q.source not in SOURCES:
        raise InvalidInput("source", f"{q.source!r} is not one of {', '.join(SOURCES)}")
    if q.by is not None and q.by not in BREAKDOWNS:
        raise InvalidInput("by", f"{q.by!r} is not one of {', '.join(BREAKDOWNS)}")
    province = None
    if q.province is not None:
        found = province_by_code(q.province.strip())
        if found is None:
            raise InvalidInput("province", f"{q.province!r} is not a GB/T 2260 province code")
        province = found.code
    chemistry = normalise_chemistry(q.chemistry) if q.chemistry else None
    segment = normalise_segment(q.segment) if q.segment else None
    return province, chemistry, segment


def _year_rows(result: Forecast, band: Uncertainty) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for totals in result.totals():
        row = totals.to_dict()
        row["band"] = {m: band.band(totals.year, m).to_dict() for m in METRICS}
        rows.append(row)
    return rows


def _breakdown(result: Forecast, by: str) -> list[dict[str, Any]]:
    group = {
        "province": result.by_province,
        "chemistry": result.by_chemistry,
        "segment": result.by_segment,
    }[by]
    out: list[dict[str, Any]] = []
    for year in result.years:
        for key, totals in group(year).items():
            row = totals.to_dict()
            out.append(
                {"year": year, by: key, **{k: row[k] for k in _TOTALS[1:]}}
                | {f"{e}_t": row["recoverable_t"][e] for e in ELEMENTS}
            )
    return out


def retirements(store: Store | None, q: RetirementQuery) -> RetirementReport:
    """Expected retirements per year ``q.start``..``q.end`` with a band: from the packaged CAAM
    scenario, or (``source="ledger"``) from the ledger's installed packs plus a sales scenario
    for the years after it. Raises :class:`InvalidInput` naming the field at fault."""
    province, chemistry, segment = _check_query(q)
    params = default_parameters().replace(
        sale_timing=SaleTiming(q.timing),
        life_extension=life_extension_default() if q.life_extension else None,
    )
    future = FutureSales(q.growth)
    ledger: LedgerCohorts | None = None
    if q.source == "ledger":
        if store is None:
            raise InvalidInput("source", "the ledger forecast needs a ledger")
        ledger = ledger_cohorts(store)
        if not ledger.cohorts:
            raise InvalidInput("ledger", "holds no installed pack with chemistry and energy")
        cohorts = with_future(ledger, q.end, future)
    else:
        if not 2000 <= q.end <= 2100:
            raise InvalidInput("to", f"{q.end} is outside 2000..2100")
        cohorts = packaged_cohorts(to_year=q.end, future=future, params=params)
    cohorts = [
        c
        for c in cohorts
        if (province is None or c.province == province)
        and (chemistry is None or c.chemistry == chemistry)
        and (segment is None or c.segment == segment)
    ]
    result = forecast(cohorts, params, start=q.start, end=q.end)
    band = uncertainty(cohorts, params, start=q.start, end=q.end, draws=q.draws, seed=q.seed)
    rows = _year_rows(result, band)
    observed: dict[int, int] = {}
    if ledger is not None:
        if not (province or chemistry or segment):
            observed = dict(ledger.observed_retired)
        for row in rows:
            row["observed_retired_packs"] = observed.get(row["year"])
    scope: dict[str, Any] = {
        "source": "ledger" if ledger else "packaged CAAM scenario",
        "from": q.start,
        "to": q.end,
        "province": province,
        "chemistry": chemistry,
        "segment": segment,
        "by": q.by,
        "sales_after_data": future.name,
        "sale_timing": str(params.sale_timing),
        "life_extension": q.life_extension,
        "band": band.method,
        "draws": band.draws,
        "seed": band.seed,
        "gwh": "nominal (gwh_residual = nominal x residual fraction)",
        "recoverable_t": "content x collection x recovery (2024 whitelist minimums)",
    }
    if ledger is not None:
        scope["ledger"] = {
            "packs": ledger.packs,
            "skipped": ledger.skipped,
            "years": [ledger.first_year, ledger.last_year],
            "last_event": ledger.last_event.isoformat() if ledger.last_event else None,
        }
    return RetirementReport(
        rows=rows,
        breakdown=_breakdown(result, q.by) if q.by else [],
        scope=scope,
        params=params,
        band=band,
        future=future,
        ledger=ledger,
        observed=observed,
    )


def flat_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The per-year rows as flat columns (CSV and XLSX): totals, ``{element}_t``, and
    ``{metric}_{low,mid,high}`` of the band (plus ``observed_retired_packs`` from a ledger)."""
    out: list[dict[str, Any]] = []
    for row in rows:
        flat = {k: row[k] for k in _TOTALS}
        flat.update({f"{e}_t": row["recoverable_t"][e] for e in ELEMENTS})
        for m in METRICS:
            for side in ("low", "mid", "high"):
                flat[f"{m}_{side}"] = row["band"][m][side]
        if "observed_retired_packs" in row:
            flat["observed_retired_packs"] = row["observed_retired_packs"]
        out.append(flat)
    return out


def flat_columns(rows: list[dict[str, Any]]) -> list[str]:
    """Column order of :func:`flat_rows` (also for an empty table)."""
    cols = [*_TOTALS, *(f"{e}_t" for e in ELEMENTS)]
    cols += [f"{m}_{side}" for m in METRICS for side in ("low", "mid", "high")]
    if rows and "observed_retired_packs" in rows[0]:
        cols.append("observed_retired_packs")
    return cols


__all__ = [
    "BREAKDOWNS",
    "CHEMISTRIES",
    "COMMERCIAL_KWH",
    "SOURCES",
    "LedgerCohorts",
    "RetirementQuery",
    "RetirementReport",
    "flat_columns",
    "flat_rows",
    "ledger_capacity_match",
    "ledger_cohorts",
    "ledger_forecast",
    "registered_capacity",
    "retirements",
    "with_future",
]
