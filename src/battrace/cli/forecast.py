"""``battrace forecast``: retired EV power batteries and recoverable metals, by year.

Read-only and offline: the model and its data are packaged (battrace.domain.forecast); nothing
here touches the database. ``--json`` and ``--csv`` give the same figures for scripts.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from battrace.domain.errors import InvalidInput
from battrace.domain.forecast import (
    ELEMENTS,
    METRICS,
    Cohort,
    Forecast,
    FutureSales,
    Parameters,
    SaleTiming,
    Uncertainty,
    acceptance_band,
    capacity_match,
    closest_published,
    data_years,
    default_parameters,
    forecast,
    life_extension_default,
    normalise_chemistry,
    normalise_segment,
    packaged_cohorts,
    published_forecasts,
    uncertainty,
)
from battrace.domain.identities.divisions import PROVINCES, Province, province_by_code

forecast_app = typer.Typer(
    name="forecast",
    help="Forecast retired power batteries (packs, GWh, tonnes) and recoverable Li/Ni/Co/Mn.",
    no_args_is_help=True,
)

FromOption = Annotated[int, typer.Option("--from", help="First year reported.")]
ToOption = Annotated[int, typer.Option("--to", help="Last year reported (sales projected to it).")]
ProvinceOption = Annotated[
    str | None,
    typer.Option("--province", help="Only one province: GB/T 2260 code (44, 440000) or name."),
]
ChemistryOption = Annotated[
    str | None, typer.Option("--chemistry", help="Only one chemistry: LFP, NCM523, NCM811, NCA…")
]
SegmentOption = Annotated[
    str | None,
    typer.Option("--segment", help="Only one segment: passenger_bev, passenger_phev, bus, truck…"),
]
DrawsOption = Annotated[
    int,
    typer.Option(
        "--draws", help="Monte Carlo draws for the p10–p90 band; 0 = min–max over range corners."
    ),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed (same seed, same band).")]
GrowthOption = Annotated[
    float,
    typer.Option("--growth", help="Annual sales growth after the last data year (0 = flat)."),
]
TimingOption = Annotated[
    SaleTiming, typer.Option("--timing", help="When in its sale year a cohort enters service.")
]
LifeExtensionOption = Annotated[
    bool,
    typer.Option("--life-extension", help="Scenario LE: longer battery life from 2025 on."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
CsvOption = Annotated[
    Path | None, typer.Option("--csv", help="Also write the figures to this CSV file.")
]


def _num(value: float) -> str:
    """One decimal below 100, none above: keeps the table narrow without losing small values."""
    return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"


def _error(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _province(value: str | None) -> Province | None:
    if value is None:
        return None
    found = province_by_code(value.strip())
    if found is None:
        key = value.strip().lower()
        found = next(
            (
                p
                for p in PROVINCES
                if key in (p.name_en.lower(), p.name_zh)
                or (len(key) >= 2 and p.name_zh.startswith(key))
            ),
            None,
        )
    if found is None:
        raise _error(f"--province: not a province code or name: {value!r}")
    return found


def _scenario(
    to: int, growth: float, timing: SaleTiming, life_extension: bool
) -> tuple[list[Cohort], Parameters, FutureSales]:
    params = default_parameters().replace(
        sale_timing=timing, life_extension=life_extension_default() if life_extension else None
    )
    future = FutureSales(growth)
    return packaged_cohorts(to_year=to, future=future, params=params), params, future


def _select(
    cohorts: list[Cohort], province: str | None, chemistry: str | None, segment: str | None
) -> list[Cohort]:
    return [
        c
        for c in cohorts
        if (province is None or c.province == province)
        and (chemistry is None or c.chemistry == chemistry)
        and (segment is None or c.segment == segment)
    ]


def _rows(result: Forecast, band: Uncertainty) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for totals in result.totals():
        row = totals.to_dict()
        row["band"] = {m: band.band(totals.year, m).to_dict() for m in METRICS}
        rows.append(row)
    return rows


def _csv(path: Path, rows: list[dict[str, Any]]) -> None:
    fields = ["year", "packs", "gwh", "gwh_residual", "tonnes"]
    fields += [f"{e}_t" for e in ELEMENTS]
    fields += [f"{m}_{side}" for m in METRICS for side in ("low", "mid", "high")]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            flat = {k: row[k] for k in ("year", "packs", "gwh", "gwh_residual", "tonnes")}
            flat.update({f"{e}_t": row["recoverable_t"][e] for e in ELEMENTS})
            for m in METRICS:
                for side in ("low", "mid", "high"):
                    flat[f"{m}_{side}"] = row["band"][m][side]
            writer.writerow(flat)


@forecast_app.command("run")
def run(
    start: FromOption = 2020,
    to: ToOption = 2040,
    province: ProvinceOption = None,
    chemistry: ChemistryOption = None,
    segment: SegmentOption = None,
    draws: DrawsOption = 200,
    seed: SeedOption = 0,
    growth: GrowthOption = 0.0,
    timing: TimingOption = SaleTiming.MID,
    life_extension: LifeExtensionOption = False,
    as_json: JsonOption = False,
    csv_path: CsvOption = None,
) -> None:
    """Expected retirements per year from the packaged CAAM sales scenario, with a band."""
    prov = _province(province)
    try:
        chem = normalise_chemistry(chemistry) if chemistry else None
        seg = normalise_segment(segment) if segment else None
        cohorts, params, future = _scenario(to, growth, timing, life_extension)
        cohorts = _select(cohorts, prov.code if prov else None, chem, seg)
        result = forecast(cohorts, params, start=start, end=to)
        band = uncertainty(cohorts, params, start=start, end=to, draws=draws, seed=seed)
    except InvalidInput as exc:
        raise _error(str(exc)) from None
    rows = _rows(result, band)
    if csv_path is not None:
        try:
            _csv(csv_path, rows)
        except OSError as exc:
            raise _error(f"{csv_path}: {exc.strerror or exc}") from None
    scope = {
        "province": prov.code if prov else None,
        "chemistry": chem,
        "segment": seg,
        "sales_after_data": future.name,
        "sale_timing": str(timing),
        "life_extension": life_extension,
        "band": band.method,
        "draws": band.draws,
        "seed": band.seed,
        "gwh": "nominal (gwh_residual = nominal x residual fraction)",
        "recoverable_t": "content x collection x recovery (2024 whitelist minimums)",
    }
    if as_json:
        typer.echo(json.dumps({"scope": scope, "years": rows}, ensure_ascii=False, indent=2))
        return
    where = prov.name_en if prov else "China (31 mainland provinces)"
    what = " · ".join(x for x in (chem, seg) if x)
    side = "p10–p90" if band.method == "monte-carlo" else "min–max"
    table = Table(
        title=f"Retired power batteries, {where}{' · ' + what if what else ''}",
        caption=(
            f"GWh nominal (residual ×{params.residual_fraction:g} in JSON/CSV); recoverable metals "
            f"= content × collection {params.collection:g} × whitelist recovery; sales after "
            f"2025: {future.name}; timing: {timing}; band: {side} of GWh "
            f"({band.draws} {'draws, seed ' + str(seed) if band.method == 'monte-carlo' else 'corners'})"
        ),
    )
    table.add_column("year", justify="right")
    table.add_column("packs (k)", justify="right")
    table.add_column("GWh", justify="right")
    table.add_column("kt", justify="right")
    for element in ELEMENTS:
        table.add_column(f"{element} t", justify="right")
    table.add_column(f"GWh {side}", justify="right")
    for row in rows:
        b = row["band"]["gwh"]
        table.add_row(
            str(row["year"]),
            f"{row['packs'] / 1000:,.0f}",
            _num(row["gwh"]),
            _num(row["tonnes"] / 1000),
            *(f"{row['recoverable_t'][e]:,.0f}" for e in ELEMENTS),
            f"{_num(b['low'])}–{_num(b['high'])}",
        )
    Console().print(table)


@forecast_app.command("compare")
def compare(
    draws: DrawsOption = 200,
    seed: SeedOption = 0,
    timing: TimingOption = SaleTiming.MID,
    as_json: JsonOption = False,
) -> None:
    """The model next to published forecasts of China's retired volume (same year, same basis)."""
    published = published_forecasts()
    last = max(f.year for f in published)
    cohorts, params, _ = _scenario(last, 0.0, timing, False)
    # From the first sales year, so that cumulative figures count every retirement modelled.
    first = data_years().start
    result = forecast(cohorts, params, start=first, end=last)
    band = uncertainty(cohorts, params, start=first, end=last, draws=draws, seed=seed)
    cumulative: dict[int, float] = {}
    running = 0.0
    for totals in result.totals():
        running += totals.gwh
        cumulative[totals.year] = running
    low, high = acceptance_band(2025)
    total_2025 = result.total(2025)
    closest = closest_published(2025, total_2025.gwh, total_2025.gwh_residual)
    rows: list[dict[str, Any]] = []
    for f in published:
        totals = result.total(f.year)
        if f.kind == "annual":
            ours_gwh = totals.gwh_residual if f.basis == "residual" else totals.gwh
            ours_kt: float | None = totals.tonnes / 1000
        else:
            # Cumulative over the model's span (from its first year), nominal GWh.
            ours_gwh, ours_kt = cumulative[f.year], None
        rows.append(
            {
                "name": f.name,
                "year": f.year,
                "kind": f.kind,
                "basis": f.basis,
                "published_gwh": f.gwh,
                "published_kt": f.kt,
                "model_gwh": ours_gwh,
                "model_kt": ours_kt,
                "source": f.source,
            }
        )
    summary = {
        "year": 2025,
        "model_gwh": total_2025.gwh,
        "model_gwh_residual": total_2025.gwh_residual,
        "band_gwh": band.band(2025).to_dict(),
        "published_range_gwh": [low, high],
        "within_range": low <= total_2025.gwh <= high,
        "closest": closest.name,
    }
    if as_json:
        typer.echo(json.dumps({"summary": summary, "rows": rows}, ensure_ascii=False, indent=2))
        return
    table = Table(title="Model vs published figures (China, retired power batteries)")
    for name in ("source", "year", "kind", "basis", "published", "model"):
        table.add_column(name, justify="left" if name == "source" else "right")
    for row in rows:
        unit = "GWh" if row["published_gwh"] is not None else "kt"
        pub = row["published_gwh"] if unit == "GWh" else row["published_kt"]
        ours = row["model_gwh"] if unit == "GWh" else row["model_kt"]
        table.add_row(
            row["name"],
            str(row["year"]),
            row["kind"],
            row["basis"],
            f"{_num(pub)} {unit}",
            "–" if ours is None else f"{_num(ours)} {unit}",
        )
    console = Console()
    console.print(table)
    b = band.band(2025)
    console.print(
        f"2025: {total_2025.gwh:.1f} GWh nominal ({total_2025.gwh_residual:.1f} residual), band "
        f"{b.low:.1f}–{b.high:.1f}; published range {low:g}–{high:g} GWh: "
        f"{'inside' if summary['within_range'] else 'OUTSIDE'}; closest: {closest.name}"
    )


def _read_capacity(path: Path) -> dict[str, float]:
    """CSV with columns ``province`` and ``capacity_t`` (t/yr)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or not {"province", "capacity_t"} <= set(
                reader.fieldnames
            ):
                raise _error(f"{path}: need columns 'province' and 'capacity_t'")
            out: dict[str, float] = {}
            for n, row in enumerate(reader, start=2):
                prov = _province(row["province"])
                assert prov is not None
                try:
                    value = float(row["capacity_t"])
                except ValueError:
                    raise _error(f"{path}:{n}: capacity_t is not a number") from None
                out[prov.code] = out.get(prov.code, 0.0) + value
            return out
    except OSError as exc:
        raise _error(f"{path}: {exc.strerror or exc}") from None


@forecast_app.command("capacity")
def capacity(
    capacity_csv: Annotated[
        Path, typer.Argument(help="CSV: province,capacity_t (whitelisted recycling, t/yr).")
    ],
    year: Annotated[int, typer.Option("--year", help="Forecast year to compare.")] = 2030,
    growth: GrowthOption = 0.0,
    as_json: JsonOption = False,
) -> None:
    """Utilisation of recycling capacity by the forecast retirements (tonnes of packs)."""
    caps = _read_capacity(capacity_csv)
    try:
        cohorts, params, _ = _scenario(year, growth, SaleTiming.MID, False)
        result = forecast(cohorts, params, start=year, end=year)
        retired = {p: t.tonnes for p, t in result.by_province(year).items()}
        report = capacity_match(retired, caps)
    except InvalidInput as exc:
        raise _error(str(exc)) from None
    if as_json:
        typer.echo(json.dumps({"year": year, **report.to_dict()}, ensure_ascii=False, indent=2))
        return
    names = {p.code: p.name_en for p in PROVINCES}
    table = Table(title=f"Retirements vs whitelisted recycling capacity, {year} (t of packs)")
    for name in ("province", "retired t", "capacity t", "utilisation", "shortfall t"):
        table.add_column(name, justify="left" if name == "province" else "right")
    for m in (*report.provinces, report.national):
        table.add_row(
            f"{m.province} {names.get(m.province, 'China')}",
            f"{m.retired_t:,.0f}",
            f"{m.capacity_t:,.0f}",
            "no capacity" if m.utilisation is None else f"{m.utilisation:.0%}",
            f"{m.shortfall_t:,.0f}",
        )
    Console().print(table)
