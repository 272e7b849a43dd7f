"""Sales scenarios that feed the cohort model, and published forecasts to check it against.

The packaged scenario (``data/sales.toml``) turns CAAM NEV sales into cohorts: domestic sales
(sales − exports) × segment share × chemistry share × provincial share, each vehicle with the
reference pack energy of its segment and chemistry scaled so that the year's fleet matches the
capacity CABIA reports as installed. After the last data year sales continue flat or at a growth
rate (:class:`FutureSales`), with the last year's mix.

Caller-supplied cohorts (the ledger's installed packs) need none of this; :func:`split_ternary`
turns a bare "ternary" (GB/T 34014 battery-type letter ``E``) into NCM/NCA sub-chemistries with the
packaged shares of its year.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from battrace.domain.errors import InvalidInput
from battrace.domain.forecast.model import (
    CHEMISTRIES,
    SEGMENTS,
    Cohort,
    CohortKind,
    Parameters,
    Sourced,
    _load_toml,
    _parse_sourced,
    _sourced,
    _sources,
    default_parameters,
    normalise_segment,
    segment_group,
)
from battrace.domain.identities.divisions import PROVINCES

__all__ = [
    "MAINLAND_PROVINCES",
    "FutureSales",
    "PublishedForecast",
    "SalesYear",
    "acceptance_band",
    "chemistry_shares",
    "closest_published",
    "data_years",
    "input_provenance",
    "pack_energy_factor",
    "packaged_cohorts",
    "packaged_sales",
    "province_shares",
    "published_forecasts",
    "sales_by_year",
    "segment_shares",
    "split_ternary",
]

#: The 31 mainland province-level units (GB/T 2260 two-digit codes): the regime covers these.
MAINLAND_PROVINCES: tuple[str, ...] = tuple(p.code for p in PROVINCES if p.code < "70")


@cache
def _doc() -> dict[str, Any]:
    return _load_toml("sales.toml")


@cache
def _src() -> dict[str, str]:
    return _sources(_doc())


def _year_table(table: Mapping[str, Any], where: str) -> dict[int, Sourced]:
    return {
        int(year): _parse_sourced(entry, f"{where}.{year}", _src())
        for year, entry in table.items()
        if year.isdigit()
    }


def _interpolate(points: Mapping[int, float], year: int) -> float:
    """Linear between listed years, held before the first and after the last."""
    years = sorted(points)
    if year <= years[0]:
        return points[years[0]]
    if year >= years[-1]:
        return points[years[-1]]
    hi = next(y for y in years if y >= year)
    lo = max(y for y in years if y <= year)
    if hi == lo:
        return points[lo]
    return points[lo] + (points[hi] - points[lo]) * (year - lo) / (hi - lo)


# --------------------------------------------------------------------------------------------
# Sales.


@dataclass(frozen=True, slots=True)
class SalesYear:
    """One year of NEV sales (vehicles). ``projected`` years come from :class:`FutureSales`."""

    year: int
    total: float
    exports: float
    projected: bool = False

    @property
    def domestic(self) -> float:
        return self.total - self.exports


@dataclass(frozen=True, slots=True)
class FutureSales:
    """Sales after the last data year: ``growth`` a year (0 = flat), the last year's mix and
    export share. An assumption, not a forecast of the market (UNCONFIRMED)."""

    growth: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.growth) and -0.5 <= self.growth <= 1.0):
            raise InvalidInput("growth", "annual growth must be between -0.5 and 1.0")

    @property
    def name(self) -> str:
        return "flat" if self.growth == 0 else f"growth {self.growth:+.1%}/yr"


@cache
def packaged_sales() -> tuple[SalesYear, ...]:
    """CAAM sales and exports of the data years (``data/sales.toml``)."""
    doc = _doc()
    sales = _year_table(doc["sales"], "sales")
    exports = _year_table(doc["exports"], "exports")
    return tuple(
        SalesYear(y, sales[y].value, exports[y].value if y in exports else 0.0)
        for y in sorted(sales)
    )


def data_years() -> range:
    years = [s.year for s in packaged_sales()]
    return range(years[0], years[-1] + 1)


def sales_by_year(to_year: int, future: FutureSales | None = None) -> tuple[SalesYear, ...]:
    """Data years, then projected years up to ``to_year``."""
    future = future or FutureSales()
    data = packaged_sales()
    out = [s for s in data if s.year <= to_year]
    last = data[-1]
    export_share = last.exports / last.total
    for year in range(last.year + 1, to_year + 1):
        total = last.total * (1.0 + future.growth) ** (year - last.year)
        out.append(SalesYear(year, total, total * export_share, projected=True))
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Mix.


@cache
def _segment_points() -> dict[str, dict[int, float]]:
    seg = _doc()["segments"]
    out = {
        name: {y: s.value for y, s in _year_table(seg[name], f"segments.{name}").items()}
        for name in ("commercial", "phev")
    }
    hybrid = seg["commercial_phev"]
    _sourced(0.0, hybrid, "segments.commercial_phev", _src())  # checks its provenance
    out["commercial_phev"] = {int(y): float(v) for y, v in hybrid.items() if y.isdigit()}
    return out


def segment_shares(year: int) -> dict[str, float]:
    """Share of each segment in the domestic sales of ``year`` (sums to 1)."""
    points = _segment_points()
    commercial = _interpolate(points["commercial"], year)
    phev = _interpolate(points["phev"], year)
    hybrid = _interpolate(points["commercial_phev"], year)
    return {
        "passenger_bev": 1.0 - commercial - phev,
        "passenger_phev": phev,
        "commercial_bev": commercial * (1.0 - hybrid),
        "commercial_phev": commercial * hybrid,
    }


@cache
def _chemistry_rows() -> dict[str, dict[int, tuple[float, ...]]]:
    table = _doc()["chemistry"]
    columns = tuple(table["columns"])
    if set(columns) != set(CHEMISTRIES):
        raise ValueError(f"chemistry.columns must be {CHEMISTRIES}")
    out: dict[str, dict[int, tuple[float, ...]]] = {}
    for segment in SEGMENTS:
        seg = table[segment]
        _sourced(0.0, seg, f"chemistry.{segment}", _src())
        rows: dict[int, tuple[float, ...]] = {}
        for year, row in seg.items():
            if not year.isdigit():
                continue
            if isinstance(row, Mapping):
                _sourced(0.0, row, f"chemistry.{segment}.{year}", _src())
                row = row["values"]
            if len(row) != len(columns) or any(v < 0 for v in row) or sum(row) <= 0:
                raise ValueError(f"chemistry.{segment}.{year}: bad row")
            total = sum(row)
            by_name = dict(zip(columns, row, strict=True))
            rows[int(year)] = tuple(by_name[c] / total for c in CHEMISTRIES)
        out[segment] = rows
    return out


def chemistry_shares(segment: str, year: int) -> dict[str, float]:
    """Share of each chemistry among the vehicles of ``segment`` sold in ``year`` (sums to 1).
    The nearest listed year is used outside the data (UNCONFIRMED: held, not extrapolated)."""
    rows = _chemistry_rows()[segment]
    nearest = min(rows, key=lambda y: (abs(y - year), -y))
    return dict(zip(CHEMISTRIES, rows[nearest], strict=True))


@cache
def _province_tables() -> dict[str, dict[int, dict[str, float]]]:
    out: dict[str, dict[int, dict[str, float]]] = {}
    for group, tables in _doc()["provinces"].items():
        out[group] = {}
        for year, table in tables.items():
            _sourced(0.0, table, f"provinces.{group}.{year}", _src())
            listed = {str(code): float(v) for code, v in table["shares"].items()}
            if not set(listed) <= set(MAINLAND_PROVINCES) or sum(listed.values()) > 1.0:
                raise ValueError(f"provinces.{group}.{year}: bad shares")
            rest = [p for p in MAINLAND_PROVINCES if p not in listed]
            spread = (1.0 - sum(listed.values())) / len(rest)
            out[group][int(year)] = {p: listed.get(p, spread) for p in MAINLAND_PROVINCES}
    return out


def province_shares(segment: str, year: int) -> dict[str, float]:
    """Share of each mainland province in the sales of ``segment`` in ``year`` (sums to 1): the
    table of the nearest reference year (ties to the later)."""
    tables = _province_tables()[segment_group(segment)]
    nearest = min(sorted(tables), key=lambda y: (abs(y - year), -y))
    return tables[nearest]


# --------------------------------------------------------------------------------------------
# Pack energy calibration.


def _mix_kwh(year: int, params: Parameters) -> float:
    """Mix-weighted reference pack kWh per vehicle sold in ``year``."""
    total = 0.0
    for segment, share in segment_shares(year).items():
        for chemistry, cshare in chemistry_shares(segment, year).items():
            total += share * cshare * params.pack_kwh[(segment, chemistry)]
    return total


def pack_energy_factor(year: int, params: Parameters | None = None) -> float:
    """Installed GWh ÷ (sales × mix-weighted reference kWh) — DERIVED; interpolated between the
    years CABIA figures exist for, held outside them."""
    params = params or default_parameters()
    installed = _year_table(_doc()["installed_gwh"], "installed_gwh")
    sales = {s.year: s.total for s in packaged_sales()}
    points = {y: g.value * 1e6 / (sales[y] * _mix_kwh(y, params)) for y, g in installed.items()}
    return _interpolate(points, year)


# --------------------------------------------------------------------------------------------
# Cohorts.


def packaged_cohorts(
    *,
    to_year: int,
    future: FutureSales | None = None,
    params: Parameters | None = None,
    calibrate: bool = True,
    by_province: bool = True,
) -> list[Cohort]:
    """Cohorts of vehicles sold in China from the first data year to ``to_year``.

    ``calibrate``: scale pack energy to CABIA installed capacity (:func:`pack_energy_factor`).
    ``by_province``: split each cohort over the 31 mainland provinces (else province ``""``).
    """
    params = params or default_parameters()
    out: list[Cohort] = []
    for sales in sales_by_year(to_year, future):
        factor = pack_energy_factor(sales.year, params) if calibrate else 1.0
        for segment, share in segment_shares(sales.year).items():
            provinces = province_shares(segment, sales.year) if by_province else {"": 1.0}
            for chemistry, cshare in chemistry_shares(segment, sales.year).items():
                units = sales.domestic * share * cshare
                if units <= 0:
                    continue
                kwh = params.pack_kwh[(segment, chemistry)] * factor
                out.extend(
                    Cohort(sales.year, code, segment, chemistry, units * p, kwh)
                    for code, p in provinces.items()
                )
    return out


def split_ternary(
    *,
    year: int,
    province: str,
    segment: str,
    units: float,
    kwh_per_pack: float,
    kg_per_pack: float | None = None,
    kind: CohortKind = CohortKind.PACKS,
) -> list[Cohort]:
    """Cohorts for ternary packs of unknown Ni:Mn:Co ratio (GB/T 34014 type letter ``E``): split
    by the packaged within-ternary shares of ``segment`` in ``year`` (code, provenance
    UNCONFIRMED)."""
    segment = normalise_segment(segment)
    shares = {c: s for c, s in chemistry_shares(segment, year).items() if c != "LFP"}
    total = sum(shares.values())
    if total <= 0:
        raise InvalidInput("chemistry", f"no ternary shares for {segment} in {year}")
    return [
        Cohort(year, province, segment, chem, units * s / total, kwh_per_pack, kg_per_pack, kind)
        for chem, s in shares.items()
        if s > 0
    ]


# --------------------------------------------------------------------------------------------
# Published figures.


@dataclass(frozen=True, slots=True)
class PublishedForecast:
    name: str
    year: int
    kind: str  # "annual" or "cumulative"
    basis: str  # "nominal", "residual" or "unknown"
    gwh: float | None
    kt: float | None
    confidence: str
    source: str


@cache
def _published_doc() -> dict[str, Any]:
    return _load_toml("published.toml")


@cache
def published_forecasts() -> tuple[PublishedForecast, ...]:
    out = []
    for i, entry in enumerate(_published_doc()["forecast"]):
        if entry["basis"] not in ("nominal", "residual", "unknown"):
            raise ValueError(f"forecast[{i}]: bad basis")
        if entry["kind"] not in ("annual", "cumulative"):
            raise ValueError(f"forecast[{i}]: bad kind")
        if entry["confidence"] not in ("official", "secondary", "code", "UNCONFIRMED", "DERIVED"):
            raise ValueError(f"forecast[{i}]: bad confidence")
        out.append(
            PublishedForecast(
                name=str(entry["name"]),
                year=int(entry["year"]),
                kind=str(entry["kind"]),
                basis=str(entry["basis"]),
                gwh=float(entry["gwh"]) if "gwh" in entry else None,
                kt=float(entry["kt"]) if "kt" in entry else None,
                confidence=str(entry["confidence"]),
                source=str(entry["source"]),
            )
        )
    return tuple(out)


def acceptance_band(year: int = 2025) -> tuple[float, float]:
    """The published range (GWh) a forecast of ``year`` should fall in."""
    entry = _published_doc()["acceptance"][str(year)]
    return float(entry["low_gwh"]), float(entry["high_gwh"])


def closest_published(year: int, nominal_gwh: float, residual_gwh: float) -> PublishedForecast:
    """The published annual GWh forecast for ``year`` nearest (relative difference) to the model,
    comparing like with like: residual-basis figures with the residual GWh, the rest with the
    nominal GWh (a figure of unknown basis is read as nominal)."""
    candidates = [
        f for f in published_forecasts() if f.year == year and f.kind == "annual" and f.gwh
    ]
    if not candidates:
        raise InvalidInput("year", f"no published annual GWh forecast for {year}")

    def distance(f: PublishedForecast) -> float:
        ours = residual_gwh if f.basis == "residual" else nominal_gwh
        assert f.gwh is not None
        return abs(ours - f.gwh) / f.gwh

    return min(candidates, key=distance)


def input_provenance() -> Iterator[tuple[str, Sourced]]:
    """Every sourced scalar of the packaged scenario, keyed like ``sales.2015``."""
    doc = _doc()
    for table in ("sales", "exports", "installed_gwh"):
        for year, value in sorted(_year_table(doc[table], table).items()):
            yield f"{table}.{year}", value
    for name in ("commercial", "phev"):
        for year, value in sorted(_year_table(doc["segments"][name], name).items()):
            yield f"segments.{name}.{year}", value
