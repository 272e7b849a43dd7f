"""Pilot regions and pilot enterprises (回收利用试点) and their measured results side by side.

A pilot region is a province (optionally one prefecture-level city in it); a pilot enterprise is
a registered enterprise, optionally inside a pilot region. Each carries its recycling model —
``automaker-led`` (汽车生产企业主导), ``battery-maker-led`` (电池生产企业主导), ``third-party``
(第三方综合利用企业) or ``shared-outlets`` (共建共享回收网点) — and its cascade-use scenarios
(e.g. ``telecom-base-stations``, ``grid-storage``).

The comparison takes every number from the statistics of :mod:`battrace.services.stats` (one
snapshot of the ledger), so a pilot's figures are the ones the regulator's reports show:

* ``collection_rate`` — of the packs retired, the share that reached a formal channel: for a
  region, the province's ``formal_collection_rate``; for an automaker or battery maker, its
  producer-responsibility ``formal_share`` (packs retired from its vehicles / of its batteries);
  for any other enterprise, the ``formal_collection_rate`` of the packs it retired;
* ``timeliness_rate`` — reports with a deadline made in time (province or enterprise);
* ``cascade_share`` — cascade-used / (cascade-used + recycled) packs;
* ``recovery_rates`` — the recovery rates (%) measured from a recycler's own recycling events in
  the period (services.recycling), or else those the enterprise declared in its latest
  whitelist application that was approved or announced (``recovery_source`` says which); none
  for regions or enterprises without either.

A region is compared at province level: the statistics have no city grouping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

import orjson
from sqlalchemy import Connection, insert, select

from battrace.domain.errors import InvalidInput
from battrace.domain.identities.divisions import province_by_code
from battrace.domain.identities.uscc import validate_uscc
from battrace.domain.rules import RuleSet
from battrace.domain.whitelist import workflow as wf
from battrace.persistence import schema_whitelist as tw
from battrace.persistence.base import Store
from battrace.services import recycling, stats
from battrace.services.alerts import Scope, default_rules
from battrace.services.sidetables import new_id as _new_id
from battrace.services.sidetables import read as _read
from battrace.services.sidetables import write as _write
from battrace.services.supervision import NATIONAL, PROVINCIAL, Actor

MODELS: Final = ("automaker-led", "battery-maker-led", "third-party", "shared-outlets")
SCENARIOS: Final = (
    "telecom-base-stations",
    "grid-storage",
    "commercial-storage",
    "backup-power",
    "low-speed-vehicles",
    "street-lighting",
    "other",
)
REGION_FIELDS: Final = (
    "name_zh",
    "name_en",
    "province",
    "city",
    "model",
    "scenarios",
    "started_on",
    "notes",
)
ENTERPRISE_FIELDS: Final = ("uscc", "model", "scenarios", "region", "started_on", "notes")
MAX_TEXT: Final = 4000
_CITY = re.compile(r"\d{4}00")


@dataclass(frozen=True, slots=True)
class PilotRegion:
    id: int
    name_zh: str
    name_en: str
    province: str
    city: str | None
    model: str | None
    scenarios: tuple[str, ...]
    started_on: str | None
    notes: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "province": self.province,
            "city": self.city,
            "model": self.model,
            "scenarios": list(self.scenarios),
            "started_on": self.started_on,
            "notes": self.notes,
        }


@dataclass(frozen=True, slots=True)
class PilotEnterprise:
    id: int
    uscc: str
    name_zh: str
    province: str
    model: str
    scenarios: tuple[str, ...]
    region: int | None
    started_on: str | None
    notes: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uscc": self.uscc,
            "name_zh": self.name_zh,
            "province": self.province,
            "model": self.model,
            "scenarios": list(self.scenarios),
            "region": self.region,
            "started_on": self.started_on,
            "notes": self.notes,
        }


# -- validation --------------------------------------------------------------------------------


def _fields(data: Any, allowed: tuple[str, ...], what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidInput(what, "must be an object")
    extra = sorted(str(k) for k in data if k not in allowed)
    if extra:
        raise InvalidInput(extra[0], f"is not a field of a {what} ({', '.join(allowed)})")
    return data


def _str(data: Mapping[str, Any], name: str, *, required: bool = False, limit: int = 200) -> str:
    value = data.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(name, "must be text")
    value = value.strip()
    if required and not value:
        raise InvalidInput(name, "is required")
    if len(value) > limit:
        raise InvalidInput(name, f"at most {limit} characters")
    return value


def _model(value: Any, *, required: bool) -> str | None:
    if value in (None, "") and not required:
        return None
    if value not in MODELS:
        raise InvalidInput("model", f"must be one of: {', '.join(MODELS)}")
    return str(value)


def _scenarios(value: Any) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(s, str) for s in items):
        raise InvalidInput("scenarios", "must be a list of scenario names")
    out: list[str] = []
    for s in (x.strip() for x in items):
        if s not in SCENARIOS:
            raise InvalidInput("scenarios", f"{s!r} is not one of: {', '.join(SCENARIOS)}")
        if s not in out:
            out.append(s)
    return tuple(out)


def _day(value: Any, name: str) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise InvalidInput(name, f"{str(value)[:40]!r} is not a date YYYY-MM-DD") from None


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- registration ------------------------------------------------------------------------------


def _region(r: Any) -> PilotRegion:
    return PilotRegion(
        int(r.id),
        r.name_zh,
        r.name_en,
        r.province,
        r.city,
        r.model,
        tuple(orjson.loads(r.scenarios)),
        r.started_on,
        r.notes,
    )


def add_region(store: Store, data: Any) -> PilotRegion:
    """Register a pilot region (nothing is written on error)."""
    d = _fields(data, REGION_FIELDS, "pilot region")
    name_zh = _str(d, "name_zh", required=True)
    province = _str(d, "province", required=True)
    if len(province) != 2 or province_by_code(province) is None:
        raise InvalidInput("province", f"{province!r} is not a GB/T 2260 province code")
    city = _str(d, "city") or None
    if city is not None and (not _CITY.fullmatch(city) or not city.startswith(province)):
        raise InvalidInput("city", f"{city!r} is not a city code (6 digits) in province {province}")
    values = {
        "name_zh": name_zh,
        "name_en": _str(d, "name_en"),
        "province": province,
        "city": city,
        "model": _model(d.get("model"), required=False),
        "scenarios": orjson.dumps(list(_scenarios(d.get("scenarios")))).decode(),
        "started_on": _day(d.get("started_on"), "started_on"),
        "notes": _str(d, "notes", limit=MAX_TEXT),
        "created_at": _now_text(),
    }

    def fn(conn: Connection) -> PilotRegion:
        p = tw.pilot_regions.c
        if conn.execute(select(p.id).where(p.name_zh == name_zh)).first() is not None:
            raise InvalidInput("name_zh", f"pilot region {name_zh} is already registered")
        done = conn.execute(insert(tw.pilot_regions).values(**values))
        row = conn.execute(select(tw.pilot_regions).where(p.id == _new_id(done))).one()
        return _region(row)

    return _write(store, fn)


def add_enterprise(store: Store, data: Any) -> PilotEnterprise:
    """Register a registered enterprise as a pilot (nothing is written on error)."""
    d = _fields(data, ENTERPRISE_FIELDS, "pilot enterprise")
    raw = d.get("uscc")
    if not isinstance(raw, str):
        raise InvalidInput("uscc", "is required")
    uscc = validate_uscc(raw.strip().upper())
    ent = store.get_enterprise(uscc)
    if ent is None:
        raise InvalidInput("uscc", f"{uscc} is not a registered enterprise")
    model = _model(d.get("model"), required=True)
    scenarios = _scenarios(d.get("scenarios"))
    started = _day(d.get("started_on"), "started_on")
    notes = _str(d, "notes", limit=MAX_TEXT)
    region_ref = d.get("region")

    def fn(conn: Connection) -> PilotEnterprise:
        p = tw.pilot_regions.c
        region_id: int | None = None
        if region_ref not in (None, ""):
            if isinstance(region_ref, int) and not isinstance(region_ref, bool):
                q = select(p.id).where(p.id == region_ref)
            elif isinstance(region_ref, str) and region_ref.strip().isdigit():
                q = select(p.id).where(p.id == int(region_ref.strip()))
            elif isinstance(region_ref, str):
                q = select(p.id).where(p.name_zh == region_ref.strip())
            else:
                raise InvalidInput("region", "must be a pilot region id or name")
            found = conn.execute(q).scalar()
            if found is None:
                raise InvalidInput("region", f"{region_ref!r} is not a registered pilot region")
            region_id = int(found)
        e = tw.pilot_enterprises.c
        if conn.execute(select(e.id).where(e.uscc == uscc)).first() is not None:
            raise InvalidInput("uscc", f"{uscc} is already a pilot enterprise")
        done = conn.execute(
            insert(tw.pilot_enterprises).values(
                uscc=uscc,
                model=model,
                scenarios=orjson.dumps(list(scenarios)).decode(),
                region_id=region_id,
                started_on=started,
                notes=notes,
                created_at=_now_text(),
            )
        )
        return PilotEnterprise(
            int(_new_id(done)),
            uscc,
            ent.name_zh,
            ent.province,
            str(model),
            scenarios,
            region_id,
            started,
            notes,
        )

    return _write(store, fn)


def list_pilots(store: Store) -> tuple[list[PilotRegion], list[PilotEnterprise]]:
    names = {e.uscc: (e.name_zh, e.province) for e in store.list_enterprises()}

    def fn(conn: Connection) -> tuple[list[PilotRegion], list[PilotEnterprise]]:
        regions = [
            _region(r)
            for r in conn.execute(select(tw.pilot_regions).order_by(tw.pilot_regions.c.id))
        ]
        ents = [
            PilotEnterprise(
                int(r.id),
                r.uscc,
                names.get(r.uscc, ("", ""))[0],
                names.get(r.uscc, ("", r.uscc[2:4]))[1],
                r.model,
                tuple(orjson.loads(r.scenarios)),
                r.region_id,
                r.started_on,
                r.notes,
            )
            for r in conn.execute(select(tw.pilot_enterprises).order_by(tw.pilot_enterprises.c.id))
        ]
        return regions, ents

    return _read(store, fn)


# -- comparison --------------------------------------------------------------------------------


def _visible(actor: Actor | None, province: str, uscc: str | None = None) -> bool:
    if actor is None or NATIONAL in actor.roles:
        return True
    if PROVINCIAL in actor.roles:
        return actor.province == province
    return uscc is not None and actor.uscc == uscc


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _measures(row: Mapping[str, Any] | None) -> dict[str, Any]:
    row = row or {}
    cascade = int(row.get("cascade_used_count", 0))
    recycled = int(row.get("recycled_count", 0))
    return {
        "retired": int(row.get("retired_count", 0)),
        "collected": int(row.get("retired_collected", 0)),
        "collection_rate": row.get("formal_collection_rate"),
        "reports_checked": int(row.get("reports_checked", 0)),
        "timeliness_rate": row.get("timeliness_rate"),
        "cascade_used": cascade,
        "recycled": recycled,
        "cascade_share": _share(cascade, cascade + recycled),
    }


def _declared_recovery(conn: Connection) -> dict[str, tuple[int, dict[str, float]]]:
    """Per USCC: the latest approved or announced recycling application's recovery rates."""
    a = tw.whitelist_applications.c
    q = (
        select(a.id, a.uscc, a.body)
        .where(a.kind == "recycling", a.state.in_((wf.APPROVED, wf.ANNOUNCED)))
        .order_by(a.id)
    )
    out: dict[str, tuple[int, dict[str, float]]] = {}
    for r in conn.execute(q):
        indicators = orjson.loads(r.body).get("indicators", {})
        rates = {
            k.removeprefix("metal_recovery_").capitalize(): float(v["value"])
            for k, v in indicators.items()
            if k.startswith("metal_recovery_") and isinstance(v, dict) and v.get("unit") == "%"
        }
        if rates:
            out[r.uscc] = (int(r.id), dict(sorted(rates.items())))
    return out


def _measured_recovery(
    store: Store, uscc: str, period: recycling.Period, rules: RuleSet
) -> dict[str, float] | None:
    """Recovery rates (%) per element from the recycler's own recycling events in ``period``
    (services.recycling mass balance); None when no event of the period could be assessed."""
    report = recycling.recovery(store, uscc, period, Scope.everything(), rules=rules)
    balance = report.get("balance")
    if not balance:
        return None
    rates = {
        e["element"]: float(e["recovery_pct"])
        for e in balance["elements"]
        if e.get("recovery_pct") is not None
    }
    return dict(sorted(rates.items())) or None


def compare(
    store: Store,
    actor: Actor | None = None,
    *,
    snap: stats.Snapshot | None = None,
    period: str | None = None,
) -> list[dict[str, Any]]:
    """One row per visible pilot (regions first), with its measured results (module doc).

    Recovery rates of a recycler are measured from its recycling events in ``period`` (a year,
    month or quarter; default: last calendar year) where they can be assessed, else the rates its
    latest approved whitelist application declared; ``recovery_source`` says which."""
    period = period or str(date.today().year - 1)
    span = recycling.parse_period(period)  # InvalidInput naming the period before any work
    regions, ents = list_pilots(store)
    regions = [r for r in regions if _visible(actor, r.province)]
    ents = [e for e in ents if _visible(actor, e.province, e.uscc)]
    if not regions and not ents:
        return []
    snap = snap or stats.snapshot(store)
    everything = Scope.everything()
    by_province = {
        r["group"]: r
        for r in stats.statistics(store, stats.StatsQuery("province", "all"), everything, snap=snap)
    }
    by_enterprise = {
        r["group"]: r
        for r in stats.statistics(
            store, stats.StatsQuery("enterprise", "all"), everything, snap=snap
        )
    }
    producers: dict[str, dict[str, Any]] = {}
    for row in stats.producer_responsibility(snap, everything):
        # automaker rows first: for a firm with both roles, its vehicles' packs decide
        if row["producer"] not in producers or row["role"] == "automaker":
            producers[row["producer"]] = row
    declared = _read(store, _declared_recovery)
    ent_roles = {e.uscc: e.roles for e in store.list_enterprises()}
    rules: RuleSet | None = None
    out: list[dict[str, Any]] = []
    for reg in regions:
        out.append(
            {
                "pilot": "region",
                "id": reg.id,
                "name": reg.name_zh,
                "uscc": None,
                "province": reg.province,
                "model": reg.model,
                "scenarios": list(reg.scenarios),
                **_measures(by_province.get(reg.province)),
                "collection_basis": "province",
                "recovery_rates": None,
                "recovery_source": None,
            }
        )
    for ent in ents:
        row = _measures(by_enterprise.get(ent.uscc))
        basis = "packs it retired"
        prod = producers.get(ent.uscc)
        if prod is not None:
            row["retired"] = prod["retired"]
            row["collected"] = prod["recovered_formal"]
            row["collection_rate"] = prod["formal_share"]
            basis = f"producer responsibility ({prod['role']})"
        found = declared.get(ent.uscc)
        measured = None
        if "recycler" in ent_roles.get(ent.uscc, ()):
            rules = rules or default_rules()  # parsed once, for the first recycler pilot
            measured = _measured_recovery(store, ent.uscc, span, rules)
        if measured is not None:
            rates, source = measured, f"measured from recycling events, {period}"
        elif found is not None:
            rates, source = found[1], f"whitelist application {found[0]} (declared)"
        else:
            rates, source = None, None
        out.append(
            {
                "pilot": "enterprise",
                "id": ent.id,
                "name": ent.name_zh,
                "uscc": ent.uscc,
                "province": ent.province,
                "model": ent.model,
                "scenarios": list(ent.scenarios),
                **row,
                "collection_basis": basis,
                "recovery_rates": rates,
                "recovery_source": source,
            }
        )
    return out
