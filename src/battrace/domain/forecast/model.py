"""Cohort (stock-flow) model of retired EV power batteries and their recoverable metals.

A *cohort* is a group of vehicles (or of installed packs) that entered service in one year, in one
province, of one segment and chemistry, each with a pack of ``kwh_per_pack`` nominal kWh. Its
expected retirements in calendar year t are ``units × (C(a₁) − C(a₀))``, where a₀ and a₁ are the
cohort's ages at the start and end of year t and C(a) is the expected number of packs retired per
unit by age a. Summed over cohorts this gives packs, GWh (nominal and residual), tonnes of packs and
recoverable Li, Ni, Co and Mn per year.

Lifetimes follow the one public China model with explicit parameters, Peng/Meng/Tian's code
(domain reference forecast-data.md §1.1): battery life Weibull(k = 3.5, λ by segment × chemistry),
vehicle life Weibull(3.5, mean μ by sale year), **at most one battery replacement per vehicle**. A
vehicle sold in year y therefore retires

* its first pack when the pack fails while the vehicle is still in use (the pack is replaced), with
  expected count G₁(a) = ∫₀ᵃ f_B(u) S_V(u) du, and
* one pack — the original or the replacement — when the vehicle is scrapped: F_V(a).

So C(a) = G₁(a) + F_V(a), and a vehicle retires 1 + P(B < V) packs over its life. The replacement
pack is not given a life of its own: with at most one replacement it leaves with the vehicle, as in
the reference code. When battery and vehicle shapes are equal (the default), min(B, V) is again
Weibull and G₁ has a closed form; otherwise it is integrated numerically (Simpson).

Timing convention (``SaleTiming``): sales are spread over the year, so by default a cohort is taken
to enter service at mid-year — aged 0.5 at the end of its sale year. ``START`` is the textbook
formula N × (F(t − y + 1) − F(t − y)); ``END`` is the reference code's P(a) = F(a) − F(a − 1) with
a = t − y, which retires nothing in the sale year. See docs/forecast.md for why MID is the default.

Everything here is pure: parameters come from the packaged ``data/parameters.toml``; the packaged
sales scenario is in :mod:`.scenarios`.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
import statistics
import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache, lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from battrace.domain.errors import InvalidInput
from battrace.domain.identities.divisions import province_by_code

__all__ = [
    "CHEMISTRIES",
    "CONFIDENCES",
    "ELEMENTS",
    "METRICS",
    "SEGMENTS",
    "UNCERTAIN_PARAMETERS",
    "Band",
    "CapacityMatch",
    "CapacityReport",
    "Cohort",
    "CohortKind",
    "Forecast",
    "Parameters",
    "Range",
    "Retirement",
    "SaleTiming",
    "Sourced",
    "Uncertainty",
    "YearTotals",
    "capacity_match",
    "default_parameters",
    "default_ranges",
    "forecast",
    "life_extension_default",
    "normalise_chemistry",
    "normalise_segment",
    "retirement_curve",
    "segment_group",
    "uncertainty",
    "weibull_cdf",
]

SEGMENTS: tuple[str, ...] = ("passenger_bev", "passenger_phev", "commercial_bev", "commercial_phev")
CHEMISTRIES: tuple[str, ...] = ("LFP", "NCM111", "NCM523", "NCM622", "NCM811", "NCA")
ELEMENTS: tuple[str, ...] = ("Li", "Ni", "Co", "Mn")
#: Per-year quantities a forecast reports, in the order of reports.
METRICS: tuple[str, ...] = ("packs", "gwh", "gwh_residual", "tonnes", *ELEMENTS)
#: The domain reference's confidence markers.
CONFIDENCES: frozenset[str] = frozenset({"official", "secondary", "code", "UNCONFIRMED", "DERIVED"})
#: Parameters the uncertainty band varies (fields of :class:`Parameters`).
UNCERTAIN_PARAMETERS: tuple[str, ...] = (
    "battery_shape",
    "battery_scale_factor",
    "vehicle_life_factor",
    "residual_fraction",
)

# Spellings accepted for chemistries and segments. Chinese usage writes NCM, BatPaC writes NMC (and
# 532 for 523). A bare "NCM"/"ternary" is not a chemistry here: its lifetime and metals depend on
# the Ni:Mn:Co ratio, so callers split it first (scenarios.split_ternary).
_CHEMISTRY_ALIASES = {
    "LFP": "LFP",
    "LIFEPO4": "LFP",
    "NCM111": "NCM111",
    "NMC111": "NCM111",
    "NCM523": "NCM523",
    "NCM532": "NCM523",
    "NMC523": "NCM523",
    "NMC532": "NCM523",
    "NCM622": "NCM622",
    "NMC622": "NCM622",
    "NCM811": "NCM811",
    "NMC811": "NCM811",
    "NCA": "NCA",
}
_SEGMENT_ALIASES = {
    **{s: s for s in SEGMENTS},
    "bev": "passenger_bev",
    "phev": "passenger_phev",
    "passenger": "passenger_bev",
    "bpev": "passenger_bev",
    "hpev": "passenger_phev",
    "bcev": "commercial_bev",
    "hcev": "commercial_phev",
    "commercial": "commercial_bev",
    # The reference's lifetimes and pack sizes treat buses and trucks alike.
    "bus": "commercial_bev",
    "truck": "commercial_bev",
}


def normalise_chemistry(name: str) -> str:
    """Canonical chemistry (``"nmc532"`` -> ``"NCM523"``); raises :class:`InvalidInput`."""
    key = name.strip().upper().replace("-", "").replace(" ", "") if isinstance(name, str) else ""
    if key in _CHEMISTRY_ALIASES:
        return _CHEMISTRY_ALIASES[key]
    raise InvalidInput(
        "chemistry",
        f"unknown chemistry {name!r}; known: {', '.join(CHEMISTRIES)} (a bare 'NCM' or "
        "'ternary' must be split by Ni:Mn:Co ratio first)",
    )


def normalise_segment(name: str) -> str:
    """Canonical segment (``"bus"`` -> ``"commercial_bev"``); raises :class:`InvalidInput`."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_") if isinstance(name, str) else ""
    if key in _SEGMENT_ALIASES:
        return _SEGMENT_ALIASES[key]
    raise InvalidInput("segment", f"unknown segment {name!r}; known: {', '.join(SEGMENTS)}")


def segment_group(segment: str) -> str:
    """``"passenger"`` or ``"commercial"``: the vehicle-life and provincial tables are per group."""
    return "commercial" if segment.startswith("commercial") else "passenger"


# --------------------------------------------------------------------------------------------
# Provenance.


@dataclass(frozen=True, slots=True)
class Sourced:
    """A figure with its provenance: a confidence marker and the source it comes from."""

    value: float
    confidence: str
    source: str
    note: str = ""


def _parse_sourced(entry: Any, where: str, sources: Mapping[str, str]) -> Sourced:
    """``{value, confidence, source[, note]}`` -> :class:`Sourced`, checked."""
    if not isinstance(entry, Mapping) or "value" not in entry:
        raise ValueError(f"{where}: expected {{value, confidence, source}}")
    return _sourced(entry["value"], entry, where, sources)


def _sourced(
    value: Any, meta: Mapping[str, Any], where: str, sources: Mapping[str, str]
) -> Sourced:
    confidence = meta.get("confidence")
    source = meta.get("source")
    if confidence not in CONFIDENCES:
        raise ValueError(f"{where}: confidence {confidence!r} not one of {sorted(CONFIDENCES)}")
    if not isinstance(source, str) or (sources and source not in sources):
        raise ValueError(f"{where}: unknown source {source!r}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: value must be a number")
    text = sources.get(source, source)
    return Sourced(float(value), str(confidence), text, str(meta.get("note", "")))


def _load_toml(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath("data", name).read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    if doc.get("schema") != 1:
        raise ValueError(f"{name}: unsupported schema {doc.get('schema')!r}")
    return doc


def _sources(doc: Mapping[str, Any]) -> dict[str, str]:
    return {key: f"{v['title']} — {v['via']}" for key, v in doc.get("sources", {}).items()}


# --------------------------------------------------------------------------------------------
# Weibull.


def weibull_cdf(age: float, shape: float, scale: float) -> float:
    """P(life ≤ age) for a Weibull(shape k, scale λ) life; 0 for age ≤ 0."""
    return 0.0 if age <= 0.0 else -math.expm1(-((age / scale) ** shape))


def _weibull_pdf(age: float, shape: float, scale: float) -> float:
    if age <= 0.0:
        return 0.0 if shape > 1.0 else 1.0 / scale
    z = age / scale
    return shape / scale * math.pow(z, shape - 1.0) * math.exp(-math.pow(z, shape))


class SaleTiming(StrEnum):
    """When in its sale year a cohort enters service (fixes the ages used for year t)."""

    START = "start"  # 1 Jan: N·(F(t−y+1) − F(t−y))
    MID = "mid"  # 1 Jul: N·(F(t−y+½) − F(t−y−½)), first year F(½)
    END = "end"  # 31 Dec: N·(F(t−y) − F(t−y−1)), as in the reference code

    @property
    def offset(self) -> float:
        return {"start": 0.0, "mid": 0.5, "end": 1.0}[self.value]


class CohortKind(StrEnum):
    """What a cohort counts.

    ``VEHICLES``: new vehicles with their original packs; the model adds the (at most one)
    replacement pack. ``PACKS``: installed packs as a ledger records them — replacements are
    already their own cohorts, so each pack retires once, at min(battery life, vehicle life).
    """

    VEHICLES = "vehicles"
    PACKS = "packs"


# --------------------------------------------------------------------------------------------
# Parameters.


@dataclass(frozen=True, slots=True)
class Range:
    """An uncertain parameter's low / central / high value, with its provenance."""

    name: str
    low: float
    central: float
    high: float
    confidence: str
    source: str
    note: str = ""


@dataclass(frozen=True)
class Parameters:
    """Everything the model needs apart from the cohorts. Derive variants with :meth:`replace`."""

    battery_shape: float
    battery_scale: Mapping[tuple[str, str], float]  # (segment, chemistry) -> years
    vehicle_shape: float
    vehicle_mean_life: Mapping[str, tuple[tuple[int, float], ...]]  # group -> ((from_year, μ), …)
    pack_kwh: Mapping[tuple[str, str], float]  # nominal kWh before calibration
    pack_kg_per_kwh: Mapping[str, float]
    metal_kg_per_kwh: Mapping[str, Mapping[str, float]]
    recovery: Mapping[str, float]
    collection: float
    residual_fraction: float
    battery_scale_factor: float = 1.0
    vehicle_life_factor: float = 1.0
    #: (from sale year, factor on battery scale), or None (the baseline).
    life_extension: tuple[int, float] | None = None
    sale_timing: SaleTiming = SaleTiming.MID
    #: False: batteries only (C = F_B), the vehicle's own life is ignored.
    vehicle_coupling: bool = True
    #: False: a failed pack is not replaced; the vehicle is scrapped with it.
    replacement: bool = True
    #: Where every packaged value comes from, keyed like ``battery.scale.passenger_bev.LFP``.
    provenance: Mapping[str, Sourced] = field(default_factory=dict, compare=False, repr=False)

    def replace(self, **changes: Any) -> Parameters:
        new = dataclasses.replace(self, **changes)
        new.validate()
        return new

    def validate(self) -> None:
        for name in ("battery_shape", "vehicle_shape"):
            value = getattr(self, name)
            if not 1.0 <= value <= 20.0:
                raise InvalidInput(name, f"Weibull shape must be in [1, 20], got {value}")
        for name in ("battery_scale_factor", "vehicle_life_factor"):
            if not 0.0 < getattr(self, name) <= 10.0:
                raise InvalidInput(name, "must be in (0, 10]")
        for name in ("residual_fraction", "collection"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InvalidInput(name, "must be in [0, 1]")
        if any(not 0.0 <= r <= 1.0 for r in self.recovery.values()):
            raise InvalidInput("recovery", "rates must be in [0, 1]")
        if self.life_extension is not None and self.life_extension[1] <= 0.0:
            raise InvalidInput("life_extension", "factor must be positive")

    def battery_scale_for(self, segment: str, chemistry: str, year: int) -> float:
        scale = self.battery_scale[(segment, chemistry)] * self.battery_scale_factor
        if self.life_extension is not None and year >= self.life_extension[0]:
            scale *= self.life_extension[1]
        return scale

    def vehicle_scale_for(self, segment: str, year: int) -> float:
        periods = self.vehicle_mean_life[segment_group(segment)]
        mean = periods[0][1]
        for start, mu in periods:
            if year >= start:
                mean = mu
        # Weibull mean = λ·Γ(1 + 1/k), so λ = μ / Γ(1 + 1/k) (as in the reference code).
        return mean * self.vehicle_life_factor / math.gamma(1.0 + 1.0 / self.vehicle_shape)

    def kg_per_pack(self, chemistry: str, kwh_per_pack: float) -> float:
        return kwh_per_pack * self.pack_kg_per_kwh[chemistry]

    def recoverable_kg_per_kwh(self, chemistry: str) -> dict[str, float]:
        """Content × collection × recovery, kg per nominal kWh retired."""
        content = self.metal_kg_per_kwh[chemistry]
        return {e: content[e] * self.collection * self.recovery[e] for e in ELEMENTS}


@cache
def _parameters_doc() -> dict[str, Any]:
    return _load_toml("parameters.toml")


@cache
def default_parameters() -> Parameters:
    """The packaged parameters (``data/parameters.toml``), every value with its provenance."""
    doc = _parameters_doc()
    sources = _sources(doc)
    prov: dict[str, Sourced] = {}

    def one(entry: Any, key: str) -> float:
        prov[key] = _parse_sourced(entry, key, sources)
        return prov[key].value

    def table(tab: Mapping[str, Any], key: str) -> dict[tuple[str, str], float]:
        out: dict[tuple[str, str], float] = {}
        for segment in SEGMENTS:
            for chemistry in CHEMISTRIES:
                where = f"{key}.{segment}.{chemistry}"
                value = tab[segment][chemistry]
                prov[where] = _sourced(value, tab, where, sources)
                out[(segment, chemistry)] = prov[where].value
        return out

    mean_life = doc["vehicle"]["mean_life"]
    starts = [int(y) for y in mean_life["from"]]
    life: dict[str, tuple[tuple[int, float], ...]] = {}
    for group in ("passenger", "commercial"):
        values = [float(v) for v in mean_life[group]]
        if len(values) != len(starts) or starts != sorted(starts):
            raise ValueError(f"vehicle.mean_life.{group}: one value per sorted 'from' year")
        life[group] = tuple(zip(starts, values, strict=True))
        for start, value in life[group]:
            prov[f"vehicle.mean_life.{group}.{start}"] = _sourced(
                value, mean_life, "vehicle.mean_life", sources
            )
    ext = doc["battery"]["life_extension"]
    one(ext["factor"], "battery.life_extension.factor")
    one(ext["from_year"], "battery.life_extension.from_year")

    params = Parameters(
        battery_shape=one(doc["battery"]["shape"], "battery.shape"),
        battery_scale=MappingProxyType(table(doc["battery"]["scale"], "battery.scale")),
        vehicle_shape=one(doc["vehicle"]["shape"], "vehicle.shape"),
        vehicle_mean_life=MappingProxyType(life),
        pack_kwh=MappingProxyType(table(doc["pack_kwh"], "pack_kwh")),
        pack_kg_per_kwh=MappingProxyType(
            {c: one(doc["pack_kg_per_kwh"][c], f"pack_kg_per_kwh.{c}") for c in CHEMISTRIES}
        ),
        metal_kg_per_kwh=MappingProxyType(
            {
                c: MappingProxyType(
                    {
                        e: one(doc["metal_kg_per_kwh"][c][e], f"metal_kg_per_kwh.{c}.{e}")
                        for e in ELEMENTS
                    }
                )
                for c in CHEMISTRIES
            }
        ),
        recovery=MappingProxyType({e: one(doc["recovery"][e], f"recovery.{e}") for e in ELEMENTS}),
        collection=one(doc["collection"]["value"], "collection"),
        residual_fraction=one(doc["residual_fraction"]["value"], "residual_fraction"),
        provenance=MappingProxyType(prov),
    )
    params.validate()
    return params


def life_extension_default() -> tuple[int, float]:
    """The packaged "LE" scenario: (from sale year, factor)."""
    ext = _parameters_doc()["battery"]["life_extension"]
    return int(ext["from_year"]["value"]), float(ext["factor"]["value"])


@cache
def default_ranges() -> Mapping[str, Range]:
    """Low / central / high of each parameter in :data:`UNCERTAIN_PARAMETERS`."""
    doc = _parameters_doc()
    sources = _sources(doc)
    out: dict[str, Range] = {}
    for name in UNCERTAIN_PARAMETERS:
        entry = doc["ranges"][name]
        low, central, high = (float(entry[k]) for k in ("low", "central", "high"))
        if not low <= central <= high:
            raise ValueError(f"ranges.{name}: need low <= central <= high")
        meta = _sourced(central, entry, f"ranges.{name}", sources)
        out[name] = Range(name, low, central, high, meta.confidence, meta.source, meta.note)
    return MappingProxyType(out)


# --------------------------------------------------------------------------------------------
# Cohorts and retirement curves.


@dataclass(frozen=True, slots=True)
class Cohort:
    """Units (vehicles or packs, see :class:`CohortKind`) that entered service in ``year``.

    ``province`` is a GB/T 2260 code (two digits, or six, stored as two), or ``""`` when not
    known. ``units`` may be
    fractional (expected values). ``kg_per_pack`` defaults to kWh × the chemistry's pack kg/kWh.
    """

    year: int
    province: str
    segment: str
    chemistry: str
    units: float
    kwh_per_pack: float
    kg_per_pack: float | None = None
    kind: CohortKind = CohortKind.VEHICLES

    def __post_init__(self) -> None:
        if not isinstance(self.year, int) or not 1990 <= self.year <= 2100:
            raise InvalidInput("year", f"expected a year 1990-2100, got {self.year!r}")
        if self.province:
            province = province_by_code(self.province)
            if province is None:
                raise InvalidInput("province", f"not a GB/T 2260 province code: {self.province!r}")
            # One spelling per province ("440000" -> "44"), so that grouping by province works.
            object.__setattr__(self, "province", province.code)
        if self.segment not in SEGMENTS:
            raise InvalidInput("segment", f"unknown segment {self.segment!r} (normalise first)")
        if self.chemistry not in CHEMISTRIES:
            raise InvalidInput("chemistry", f"unknown chemistry {self.chemistry!r}")
        for name in ("units", "kwh_per_pack"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise InvalidInput(name, f"must be a finite number >= 0, got {value!r}")
        if self.kg_per_pack is not None and not (
            math.isfinite(self.kg_per_pack) and self.kg_per_pack >= 0
        ):
            raise InvalidInput("kg_per_pack", "must be a finite number >= 0")


@lru_cache(maxsize=8192)
def _curve(
    kb: float,
    lb: float,
    kv: float,
    lv: float,
    coupling: bool,
    replacement: bool,
    kind: CohortKind,
    offset: float,
    years: int,
) -> tuple[float, ...]:
    """Expected packs retired per unit in each of ``years`` calendar years from the sale year."""
    # Age at the start of calendar year i after the sale year (0 while the cohort is not yet in
    # service), then at the end of the last one; C at consecutive bounds gives each year's count.
    bounds = [max(0.0, i - offset) for i in range(years)] + [years - offset]
    if not coupling:
        cumulative = [weibull_cdf(a, kb, lb) for a in bounds]
    elif kind is CohortKind.PACKS or not replacement:
        # One pack per unit, retired at min(B, V): 1 − S_B·S_V.
        cumulative = [
            1.0 - (1.0 - weibull_cdf(a, kb, lb)) * (1.0 - weibull_cdf(a, kv, lv)) for a in bounds
        ]
    else:
        first = _failures_before_scrapping(kb, lb, kv, lv, bounds)
        cumulative = [g + weibull_cdf(a, kv, lv) for g, a in zip(first, bounds, strict=True)]
    return tuple(max(0.0, hi - lo) for lo, hi in itertools.pairwise(cumulative))


def _failures_before_scrapping(
    kb: float, lb: float, kv: float, lv: float, ages: Sequence[float]
) -> list[float]:
    """G₁(a) = P(B ≤ a, B < V) = ∫₀ᵃ f_B(u)·S_V(u) du at each (non-decreasing) age."""
    if kb == kv:
        # Proportional hazards: min(B, V) ~ Weibull(k, λm) with λm^−k = λb^−k + λv^−k, and the
        # share of minima that are battery failures is constant, λb^−k / (λb^−k + λv^−k).
        hb, hv = lb**-kb, lv**-kb
        lm = (hb + hv) ** (-1.0 / kb)
        share = hb / (hb + hv)
        return [share * weibull_cdf(a, kb, lm) for a in ages]

    def integrand(u: float) -> float:
        return _weibull_pdf(u, kb, lb) * (1.0 - weibull_cdf(u, kv, lv))

    # Composite Simpson on each interval between consecutive ages. The integrand is smooth for
    # shapes ≥ 1 and scales of years, so 4 panels a year agree with the closed form to ~1e-6
    # (tested) — far below the other uncertainties, and cheap enough for Monte Carlo.
    out: list[float] = []
    total, previous = 0.0, 0.0
    for age in ages:
        if age > previous:
            panels = max(2, 2 * math.ceil(2 * (age - previous)))
            h = (age - previous) / panels
            s = integrand(previous) + integrand(age)
            s += sum((4 if i % 2 else 2) * integrand(previous + i * h) for i in range(1, panels))
            total += s * h / 3.0
            previous = age
        out.append(total)
    return out


def retirement_curve(
    params: Parameters, segment: str, chemistry: str, year: int, years: int, kind: CohortKind
) -> tuple[float, ...]:
    """Expected packs retired per unit of a (year, segment, chemistry) cohort in each calendar
    year ``year, year + 1, …`` (``years`` values)."""
    if years <= 0:
        return ()
    # Curves are computed for a horizon rounded up to whole decades and sliced: cohorts of
    # different years then share one cached curve (a longer curve has the same prefix).
    horizon = max(30, -(-years // 10) * 10)
    curve = _curve(
        params.battery_shape,
        params.battery_scale_for(segment, chemistry, year),
        params.vehicle_shape,
        params.vehicle_scale_for(segment, year),
        params.vehicle_coupling,
        params.replacement,
        kind,
        params.sale_timing.offset,
        horizon,
    )
    return curve[:years]


# --------------------------------------------------------------------------------------------
# Forecast.


@dataclass(frozen=True, slots=True)
class Retirement:
    """Expected retirements in ``year`` of one (province, segment, chemistry)."""

    year: int
    province: str
    segment: str
    chemistry: str
    packs: float
    kwh: float
    kg: float


@dataclass(frozen=True, slots=True)
class YearTotals:
    """One year's retirements. GWh are nominal unless named residual; tonnes are pack mass;
    ``recoverable_t`` is content × collection × recovery (see :class:`Parameters`)."""

    year: int
    packs: float
    gwh: float
    gwh_residual: float
    tonnes: float
    recoverable_t: Mapping[str, float]

    def metric(self, name: str) -> float:
        if name in ELEMENTS:
            return self.recoverable_t[name]
        value: float = getattr(self, name)
        return value

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "packs": self.packs,
            "gwh": self.gwh,
            "gwh_residual": self.gwh_residual,
            "tonnes": self.tonnes,
            "recoverable_t": dict(self.recoverable_t),
        }


def _totals(
    year: int, packs: float, kwh_by_chemistry: Mapping[str, float], kg: float, params: Parameters
) -> YearTotals:
    kwh = math.fsum(kwh_by_chemistry.values())
    metals = dict.fromkeys(ELEMENTS, 0.0)
    for chemistry, value in kwh_by_chemistry.items():
        for element, per_kwh in params.recoverable_kg_per_kwh(chemistry).items():
            metals[element] += value * per_kwh / 1000.0
    return YearTotals(
        year=year,
        packs=packs,
        gwh=kwh / 1e6,
        gwh_residual=kwh * params.residual_fraction / 1e6,
        tonnes=kg / 1000.0,
        recoverable_t=MappingProxyType(metals),
    )


@dataclass(frozen=True)
class Forecast:
    """Expected retirements per year, province, segment and chemistry, ``start`` to ``end``."""

    start: int
    end: int
    rows: tuple[Retirement, ...]
    parameters: Parameters

    @property
    def years(self) -> range:
        return range(self.start, self.end + 1)

    def select(
        self,
        *,
        province: str | None = None,
        segment: str | None = None,
        chemistry: str | None = None,
    ) -> Forecast:
        """The same forecast restricted to one province / segment / chemistry."""
        rows = tuple(
            r
            for r in self.rows
            if (province is None or r.province == province)
            and (segment is None or r.segment == segment)
            and (chemistry is None or r.chemistry == chemistry)
        )
        return dataclasses.replace(self, rows=rows)

    def totals(self) -> tuple[YearTotals, ...]:
        """One :class:`YearTotals` per year, ``start`` to ``end`` (zeros where nothing retires)."""
        by_year = self._group(lambda r: r.year)
        return tuple(by_year.get(y) or self._zero(y) for y in self.years)

    def total(self, year: int) -> YearTotals:
        if year not in self.years:
            raise InvalidInput("year", f"{year} is outside the forecast {self.start}..{self.end}")
        return self._group(lambda r: r.year, year).get(year) or self._zero(year)

    def by_province(self, year: int) -> dict[str, YearTotals]:
        return self._group(lambda r: r.province, year)

    def by_chemistry(self, year: int) -> dict[str, YearTotals]:
        return self._group(lambda r: r.chemistry, year)

    def by_segment(self, year: int) -> dict[str, YearTotals]:
        return self._group(lambda r: r.segment, year)

    def _zero(self, year: int) -> YearTotals:
        return _totals(year, 0.0, {}, 0.0, self.parameters)

    def _group(
        self, key: Callable[[Retirement], Any], year: int | None = None
    ) -> dict[Any, YearTotals]:
        """Totals per ``key`` (of the rows of ``year``, or of all rows when grouping by year)."""
        packs: dict[Any, float] = defaultdict(float)
        kg: dict[Any, float] = defaultdict(float)
        kwh: dict[Any, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for r in self.rows:
            if year is not None and r.year != year:
                continue
            k = key(r)
            packs[k] += r.packs
            kg[k] += r.kg
            kwh[k][r.chemistry] += r.kwh
        return {
            k: _totals(k if year is None else year, packs[k], kwh[k], kg[k], self.parameters)
            for k in sorted(packs)
        }


def _check_span(start: int, end: int) -> None:
    if not (isinstance(start, int) and isinstance(end, int) and 1990 <= start <= end <= 2100):
        raise InvalidInput("years", f"need 1990 <= start <= end <= 2100, got {start}..{end}")


def forecast(
    cohorts: Iterable[Cohort], params: Parameters | None = None, *, start: int, end: int
) -> Forecast:
    """Expected retirements of ``cohorts`` in each year ``start``..``end``.

    Cohorts entering service after ``end`` cannot retire in the span and are ignored; cohorts
    before ``start`` contribute their later retirements.
    """
    _check_span(start, end)
    params = params or default_parameters()
    acc: dict[tuple[int, str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for c in cohorts:
        if c.year > end or c.units == 0:
            continue
        curve = retirement_curve(params, c.segment, c.chemistry, c.year, end - c.year + 1, c.kind)
        kg_pack = (
            c.kg_per_pack
            if c.kg_per_pack is not None
            else params.kg_per_pack(c.chemistry, c.kwh_per_pack)
        )
        for t in range(max(start, c.year), end + 1):
            p = c.units * curve[t - c.year]
            if p:
                cell = acc[(t, c.province, c.segment, c.chemistry)]
                cell[0] += p
                cell[1] += p * c.kwh_per_pack
                cell[2] += p * kg_pack
    rows = tuple(
        Retirement(t, prov, seg, chem, v[0], v[1], v[2])
        for (t, prov, seg, chem), v in sorted(acc.items())
    )
    return Forecast(start, end, rows, params)


# --------------------------------------------------------------------------------------------
# Uncertainty.


@dataclass(frozen=True, slots=True)
class Band:
    """Low / middle / high of one metric in one year: p10 / p50 / p90 of the Monte Carlo draws,
    or min / central / max over the corners of the parameter ranges."""

    low: float
    mid: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"low": self.low, "mid": self.mid, "high": self.high}


@dataclass(frozen=True)
class Uncertainty:
    """Per-year, per-metric bands. Each band is taken year by year and metric by metric, so the
    lows of different years need not come from the same parameter draw."""

    method: str  # "monte-carlo" or "corners"
    draws: int
    seed: int | None
    ranges: Mapping[str, Range]
    bands: Mapping[int, Mapping[str, Band]]

    def band(self, year: int, metric: str = "gwh") -> Band:
        return self.bands[year][metric]


def _collapse(
    cohorts: Iterable[Cohort], params: Parameters
) -> list[tuple[int, str, str, CohortKind, float, float, float]]:
    """Province does not change a cohort's curve: sum units, kWh and kg over provinces."""
    acc: dict[tuple[int, str, str, CohortKind], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for c in cohorts:
        kg = (
            c.kg_per_pack
            if c.kg_per_pack is not None
            else params.kg_per_pack(c.chemistry, c.kwh_per_pack)
        )
        cell = acc[(c.year, c.segment, c.chemistry, c.kind)]
        cell[0] += c.units
        cell[1] += c.units * c.kwh_per_pack
        cell[2] += c.units * kg
    return [(*k, v[0], v[1], v[2]) for k, v in sorted(acc.items())]


def _metric_series(
    collapsed: Sequence[tuple[int, str, str, CohortKind, float, float, float]],
    params: Parameters,
    start: int,
    end: int,
) -> dict[str, list[float]]:
    n = end - start + 1
    packs, kg = [0.0] * n, [0.0] * n
    kwh: dict[str, list[float]] = {c: [0.0] * n for c in CHEMISTRIES}
    for year, segment, chemistry, kind, units, kwh_total, kg_total in collapsed:
        if year > end:
            continue
        curve = retirement_curve(params, segment, chemistry, year, end - year + 1, kind)
        series = kwh[chemistry]
        for t in range(max(start, year), end + 1):
            p = curve[t - year]
            packs[t - start] += units * p
            series[t - start] += kwh_total * p
            kg[t - start] += kg_total * p
    out: dict[str, list[float]] = {m: [0.0] * n for m in METRICS}
    for i in range(n):
        totals = _totals(start + i, packs[i], {c: kwh[c][i] for c in CHEMISTRIES}, kg[i], params)
        for m in METRICS:
            out[m][i] = totals.metric(m)
    return out


def uncertainty(
    cohorts: Iterable[Cohort],
    params: Parameters | None = None,
    *,
    start: int,
    end: int,
    draws: int = 0,
    seed: int = 0,
    ranges: Mapping[str, Range] | None = None,
) -> Uncertainty:
    """Bands for the summed retirements of ``cohorts``.

    ``draws ≥ 2``: Monte Carlo — each draw takes every parameter in ``ranges`` independently from a
    triangular distribution (low, mode = the value in ``params``, high); bands are p10/p50/p90.
    ``random.Random(seed)`` makes the result a pure function of the arguments. ``draws = 0``: the
    2ⁿ corners of the ranges; bands are min / central / max.
    """
    _check_span(start, end)
    params = params or default_parameters()
    ranges = ranges if ranges is not None else default_ranges()
    unknown = set(ranges) - set(UNCERTAIN_PARAMETERS)
    if unknown:
        raise InvalidInput("ranges", f"unknown parameters {sorted(unknown)}")
    if draws == 1 or not 0 <= draws <= 100_000:
        raise InvalidInput("draws", "must be 0 (corners) or 2..100000")
    collapsed = _collapse(cohorts, params)
    central = _metric_series(collapsed, params, start, end)
    names = sorted(ranges)
    runs: list[dict[str, list[float]]] = []
    if draws:
        rng = random.Random(seed)
        for _ in range(draws):
            values = {}
            for name in names:
                r = ranges[name]
                mode = min(max(getattr(params, name), r.low), r.high)
                values[name] = rng.triangular(r.low, r.high, mode)
            runs.append(_metric_series(collapsed, params.replace(**values), start, end))
    else:
        for corner in itertools.product((0, 1), repeat=len(names)):
            values = {
                name: (ranges[name].low, ranges[name].high)[side]
                for name, side in zip(names, corner, strict=True)
            }
            runs.append(_metric_series(collapsed, params.replace(**values), start, end))
    bands: dict[int, dict[str, Band]] = {}
    for i, year in enumerate(range(start, end + 1)):
        bands[year] = {}
        for m in METRICS:
            sample = [run[m][i] for run in runs]
            if draws:
                deciles = statistics.quantiles(sample, n=10, method="inclusive")
                band = Band(deciles[0], statistics.median(sample), deciles[-1])
            else:
                value = central[m][i]
                band = Band(min(*sample, value), value, max(*sample, value))
            bands[year][m] = band
    return Uncertainty(
        method="monte-carlo" if draws else "corners",
        draws=draws if draws else len(runs),
        seed=seed if draws else None,
        ranges=MappingProxyType(dict(ranges)),
        bands=MappingProxyType({y: MappingProxyType(b) for y, b in bands.items()}),
    )


# --------------------------------------------------------------------------------------------
# Capacity match.


@dataclass(frozen=True, slots=True)
class CapacityMatch:
    """Retirements against whitelisted recycling capacity in one province (or ``"CN"``)."""

    province: str
    retired_t: float
    capacity_t: float
    #: retired / capacity; None where there is no capacity (any retirement must leave the
    #: province), so a ratio is not mistaken for a measured one.
    utilisation: float | None
    #: retired − capacity: > 0 means retirements the province cannot treat itself.
    shortfall_t: float


@dataclass(frozen=True, slots=True)
class CapacityReport:
    provinces: tuple[CapacityMatch, ...]
    national: CapacityMatch

    def to_dict(self) -> dict[str, Any]:
        return {
            "national": dataclasses.asdict(self.national),
            "provinces": [dataclasses.asdict(p) for p in self.provinces],
        }


def _match(province: str, retired: float, capacity: float) -> CapacityMatch:
    return CapacityMatch(
        province=province,
        retired_t=retired,
        capacity_t=capacity,
        utilisation=retired / capacity if capacity > 0 else None,
        shortfall_t=retired - capacity,
    )


def capacity_match(
    retired_t: Mapping[str, float], capacity_t: Mapping[str, float]
) -> CapacityReport:
    """Utilisation of whitelisted recycling capacity (t/yr) by forecast retirements (t/yr), per
    province and nationally. Provinces are GB/T 2260 two-digit (or six-digit) codes; a province
    in only one of the mappings counts 0 in the other. The national row assumes batteries can be
    moved between provinces freely, the provincial rows that none move: the truth lies between.
    """
    retired: dict[str, float] = defaultdict(float)
    capacity: dict[str, float] = defaultdict(float)
    for source, target, name in (
        (retired_t, retired, "retired_t"),
        (capacity_t, capacity, "capacity_t"),
    ):
        for code, value in source.items():
            province = province_by_code(code)
            if province is None:
                raise InvalidInput(name, f"not a GB/T 2260 province code: {code!r}")
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise InvalidInput(f"{name}.{code}", "must be a finite number >= 0")
            target[province.code] += float(value)
    rows = tuple(_match(p, retired[p], capacity[p]) for p in sorted(set(retired) | set(capacity)))
    national = _match("CN", math.fsum(retired.values()), math.fsum(capacity.values()))
    return CapacityReport(rows, national)
