"""``battrace forecast``: retired EV power batteries and recoverable metals, by year.

Read-only. By default offline: the model and its data are packaged (battrace.domain.forecast).
``--from-ledger`` takes the cohorts from the ledger's installed packs instead (and capacity from
its registry: services/forecast_ledger.py). ``--json`` and ``--csv`` give the same figures for
scripts; ``--chart FILE.svg|png`` draws them (SVG written here, PNG through Pillow).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from battrace.domain.errors import BattraceError, InvalidInput
from battrace.domain.forecast import (
    ELEMENTS,
    METRICS,
    Cohort,
    FutureSales,
    Parameters,
    SaleTiming,
    acceptance_band,
    capacity_match,
    closest_published,
    data_years,
    default_parameters,
    forecast,
    life_extension_default,
    packaged_cohorts,
    published_forecasts,
    uncertainty,
)
from battrace.domain.identities.divisions import PROVINCES, Province, province_by_code
from battrace.services.forecast_ledger import (
    LedgerCohorts,
    RetirementQuery,
    flat_columns,
    flat_rows,
    ledger_capacity_match,
    ledger_cohorts,
    registered_capacity,
    retirements,
)
from battrace.services.stats import to_xlsx

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
XlsxOption = Annotated[
    Path | None, typer.Option("--xlsx", help="Also write the figures to this XLSX workbook.")
]
FromLedgerOption = Annotated[
    bool,
    typer.Option(
        "--from-ledger",
        help="Cohorts from the ledger's installed packs (battrace --db …), not the CAAM scenario.",
    ),
]
ChartOption = Annotated[
    Path | None, typer.Option("--chart", help="Also draw a chart: FILE.svg or FILE.png.")
]
ChartMetricOption = Annotated[
    str, typer.Option("--chart-metric", help=f"Metric charted: {', '.join(METRICS)}.")
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


def _write_tables(rows: list[dict[str, Any]], csv_path: Path | None, xlsx: Path | None) -> None:
    """The per-year figures as CSV and/or XLSX (same flat columns)."""
    flat = flat_rows(rows)
    cols = flat_columns(rows)
    try:
        if csv_path is not None:
            with csv_path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=cols)
                writer.writeheader()
                writer.writerows(flat)
        if xlsx is not None:
            xlsx.write_bytes(to_xlsx({"retirements": flat}))
    except OSError as exc:
        raise _error(f"{exc.filename or csv_path or xlsx}: {exc.strerror or exc}") from None


def _ledger() -> LedgerCohorts:
    from battrace.cli.common import state

    try:
        data = ledger_cohorts(state.store)
    except BattraceError as exc:  # bad input, or no ledger at that URL
        raise _error(str(exc)) from None
    if not data.cohorts:
        raise _error("--from-ledger: the ledger holds no installed pack with chemistry and energy")
    return data


_UNITS = {
    "packs": "packs",
    "gwh": "GWh (nominal)",
    "gwh_residual": "GWh (residual)",
    "tonnes": "tonnes of packs",
}


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
    xlsx_path: XlsxOption = None,
    from_ledger: FromLedgerOption = False,
    chart: ChartOption = None,
    chart_metric: ChartMetricOption = "gwh",
) -> None:
    """Expected retirements per year from the packaged CAAM sales scenario (or the ledger's
    installed packs), with a band."""
    prov = _province(province)
    if chart_metric not in METRICS:
        raise _error(f"--chart-metric: one of {', '.join(METRICS)}")
    if from_ledger:
        _ledger()  # a clear message when there is no ledger or it is empty
    from battrace.cli.common import state

    query = RetirementQuery(
        start=start,
        end=to,
        source="ledger" if from_ledger else "scenario",
        province=prov.code if prov else None,
        chemistry=chemistry,
        segment=segment,
        draws=draws,
        seed=seed,
        growth=growth,
        timing=timing,
        life_extension=life_extension,
    )
    try:
        report = retirements(state.store if from_ledger else None, query)
    except BattraceError as exc:
        raise _error(str(exc)) from None
    rows, band, params, future = report.rows, report.band, report.params, report.future
    ledger, observed = report.ledger, report.observed
    chem, seg = report.scope["chemistry"], report.scope["segment"]
    _write_tables(rows, csv_path, xlsx_path)
    where = prov.name_en if prov else "China (31 mainland provinces)"
    if chart is not None:
        years = [r["year"] for r in rows]
        mid = [r["band"][chart_metric]["mid"] for r in rows]
        central = [_metric(r, chart_metric) for r in rows]
        low = [r["band"][chart_metric]["low"] for r in rows]
        high = [r["band"][chart_metric]["high"] for r in rows]
        unit = _UNITS.get(chart_metric, f"t of {chart_metric} recoverable")
        source = "ledger cohorts" if ledger else "CAAM sales scenario"
        points = None
        if ledger is not None and chart_metric == "packs" and observed:
            points = ("observed in the ledger", {y: float(v) for y, v in observed.items()})
        scene = years_chart(
            f"Retired power batteries, {where} ({source})",
            unit,
            years,
            [("central", central), ("band middle", mid)]
            if band.method == "monte-carlo"
            else [("central", central)],
            (low, high),
            points,
        )
        try:
            write_chart(scene, chart)
        except OSError as exc:
            raise _error(f"{chart}: {exc.strerror or exc}") from None
    scope = {k: v for k, v in report.scope.items() if k not in ("from", "to", "by")}
    if as_json:
        typer.echo(json.dumps({"scope": scope, "years": rows}, ensure_ascii=False, indent=2))
        return
    what = " · ".join(x for x in (chem, seg) if x)
    side = "p10–p90" if band.method == "monte-carlo" else "min–max"
    source = "ledger's installed packs" if ledger else "CAAM sales"
    table = Table(
        title=f"Retired power batteries, {where}{' · ' + what if what else ''} ({source})",
        caption=(
            f"GWh nominal (residual ×{params.residual_fraction:g} in JSON/CSV); recoverable metals "
            f"= content × collection {params.collection:g} × whitelist recovery; sales after "
            f"the data: {future.name}; timing: {timing}; band: {side} of GWh "
            f"({band.draws} {'draws, seed ' + str(seed) if band.method == 'monte-carlo' else 'corners'})"
        ),
    )
    table.add_column("year", justify="right")
    table.add_column("packs (k)" if not ledger else "packs", justify="right")
    if ledger is not None:
        table.add_column("observed", justify="right")
    table.add_column("GWh" if not ledger else "MWh", justify="right")
    table.add_column("kt" if not ledger else "t", justify="right")
    for element in ELEMENTS:
        table.add_column(f"{element} t" if not ledger else f"{element} kg", justify="right")
    table.add_column(f"{'GWh' if not ledger else 'MWh'} {side}", justify="right")
    k = 1000.0 if ledger else 1.0  # a ledger sample is small: MWh, t and kg
    for row in rows:
        b = row["band"]["gwh"]
        cells = [str(row["year"])]
        cells.append(f"{row['packs'] / 1000:,.0f}" if not ledger else f"{row['packs']:,.1f}")
        if ledger is not None:
            obs = row.get("observed_retired_packs")
            cells.append("" if obs is None else f"{obs:,}")
        cells += [
            _num(row["gwh"] * k),
            _num(row["tonnes"] / 1000 * k),
            *(f"{row['recoverable_t'][e] * k:,.0f}" for e in ELEMENTS),
            f"{_num(b['low'] * k)}–{_num(b['high'] * k)}",
        ]
        table.add_row(*cells)
    Console().print(table)


def _metric(row: dict[str, Any], metric: str) -> float:
    value = row["recoverable_t"][metric] if metric in ELEMENTS else row[metric]
    return float(value)


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
        Path | None,
        typer.Argument(help="CSV: province,capacity_t (t/yr); with --from-ledger: the registry's."),
    ] = None,
    year: Annotated[int, typer.Option("--year", help="Forecast year to compare.")] = 2030,
    growth: GrowthOption = 0.0,
    as_json: JsonOption = False,
    from_ledger: FromLedgerOption = False,
    chart: ChartOption = None,
) -> None:
    """Utilisation of recycling capacity by the forecast retirements (tonnes of packs)."""
    if capacity_csv is None and not from_ledger:
        raise _error("give a capacity CSV (province,capacity_t), or --from-ledger")
    caps = _read_capacity(capacity_csv) if capacity_csv is not None else None
    try:
        if from_ledger:
            from battrace.cli.common import state

            _ledger()  # a clear message when the ledger is empty
            if caps is None:
                caps = registered_capacity(state.store)
                if not caps:
                    raise _error(
                        "--from-ledger: no recycler in the registry has a registered capacity "
                        "(qualifications[].capacity_t); give a capacity CSV"
                    )
            report, _ = ledger_capacity_match(
                state.store, year, capacity_t=caps, future=FutureSales(growth)
            )
        else:
            assert caps is not None
            cohorts, params, _ = _scenario(year, growth, SaleTiming.MID, False)
            result = forecast(cohorts, params, start=year, end=year)
            retired = {p: t.tonnes for p, t in result.by_province(year).items()}
            report = capacity_match(retired, caps)
    except InvalidInput as exc:
        raise _error(str(exc)) from None
    if chart is not None:
        rows = [m for m in report.provinces if m.retired_t > 0 or m.capacity_t > 0]
        scene = bars_chart(
            f"Utilisation of recycling capacity by retirements, {year}"
            + (" (ledger)" if from_ledger else ""),
            "retired / capacity",
            [m.province for m in rows],
            [m.utilisation for m in rows],
            1.0,
        )
        try:
            write_chart(scene, chart)
        except OSError as exc:
            raise _error(f"{chart}: {exc.strerror or exc}") from None
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
            f"{m.retired_t:,.1f}" if from_ledger else f"{m.retired_t:,.0f}",
            f"{m.capacity_t:,.1f}" if from_ledger else f"{m.capacity_t:,.0f}",
            "no capacity" if m.utilisation is None else f"{m.utilisation:.0%}",
            f"{m.shortfall_t:,.1f}" if from_ledger else f"{m.shortfall_t:,.0f}",
        )
    Console().print(table)


# --------------------------------------------------------------------------------------------
# Charts: one small scene of primitives, drawn as SVG (no dependency) or PNG (Pillow).

_W, _H = 860, 480
_LEFT, _RIGHT, _TOP, _BOTTOM = 80, 24, 56, 64
_COLOURS = ("#1f6fb2", "#d9822b", "#2a9d57", "#b83280", "#6b7280", "#8a6d1d")

Prim = tuple[Any, ...]


def _nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1.0
    exp = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * exp >= value:
            return step * exp
    return 10 * exp


def _axis_label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:g}" if abs(value) >= 1 else f"{value:.2g}"


def _frame(title: str, y_label: str, top: float) -> list[Prim]:
    plot_h = _H - _TOP - _BOTTOM
    out: list[Prim] = [
        ("rect", 0, 0, _W, _H, "#ffffff"),
        ("text", _W / 2, 28, title, 16, "middle", "#111111"),
        ("text", 18, _TOP + plot_h / 2, y_label, 12, "vertical", "#333333"),
    ]
    for k in range(6):
        value = top * k / 5
        y = _H - _BOTTOM - plot_h * k / 5
        out.append(("line", _LEFT, y, _W - _RIGHT, y, "#e5e7eb", 1))
        out.append(("text", _LEFT - 8, y + 4, _axis_label(value), 11, "end", "#333333"))
    out.append(("line", _LEFT, _H - _BOTTOM, _W - _RIGHT, _H - _BOTTOM, "#111111", 1))
    out.append(("line", _LEFT, _TOP, _LEFT, _H - _BOTTOM, "#111111", 1))
    return out


def years_chart(
    title: str,
    y_label: str,
    years: list[int],
    series: list[tuple[str, list[float]]],
    band: tuple[list[float], list[float]] | None = None,
    points: tuple[str, dict[int, float]] | None = None,
) -> list[Prim]:
    """Lines per year (first series with its low–high band), optional observed points."""
    values = [v for _, vs in series for v in vs]
    if band:
        values += band[1]
    if points:
        values += list(points[1].values())
    top = _nice_ceiling(max(values, default=0.0))
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    span = max(1, len(years) - 1)

    def x(i: int) -> float:
        return _LEFT + plot_w * i / span

    def y(v: float) -> float:
        return _H - _BOTTOM - plot_h * v / top

    out = _frame(title, y_label, top)
    step = max(1, len(years) // 10)
    for i, year in enumerate(years):
        if i % step == 0 or i == len(years) - 1:
            out.append(("line", x(i), _H - _BOTTOM, x(i), _H - _BOTTOM + 5, "#111111", 1))
            out.append(("text", x(i), _H - _BOTTOM + 20, str(year), 11, "middle", "#333333"))
    if band:
        low, high = band
        poly = [(x(i), y(v)) for i, v in enumerate(high)]
        poly += [(x(i), y(v)) for i, v in reversed(list(enumerate(low)))]
        out.append(("polygon", poly, _COLOURS[0], 0.18))
    legend: list[tuple[str, str]] = []
    for k, (label, vs) in enumerate(series):
        colour = _COLOURS[k % len(_COLOURS)]
        out.append(("polyline", [(x(i), y(v)) for i, v in enumerate(vs)], colour, 2.5))
        legend.append((label, colour))
    if band:
        legend.append(("band (low-high)", _COLOURS[0]))
    if points:
        label, obs = points
        colour = "#111111"
        for year, v in obs.items():
            if year in years:
                i = years.index(year)
                out.append(("circle", x(i), y(v), 4, colour))
        legend.append((label, colour))
    for k, (label, colour) in enumerate(legend):
        lx = _LEFT + 12 + 200 * (k % 4)
        ly = _H - 18 - 0 * (k // 4)
        out.append(("rect", lx, ly - 9, 14, 10, colour))
        out.append(("text", lx + 20, ly, label, 11, "start", "#333333"))
    return out


def bars_chart(
    title: str, y_label: str, labels: list[str], values: list[float | None], ref: float | None
) -> list[Prim]:
    """Vertical bars (None: drawn as an empty slot marked n/a), optional reference line."""
    top = _nice_ceiling(max([v for v in values if v is not None] + [ref or 0.0], default=1.0))
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    slot = plot_w / max(1, len(labels))
    out = _frame(title, y_label, top)
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        cx = _LEFT + slot * (i + 0.5)
        if v is None:
            out.append(("text", cx, _H - _BOTTOM - 6, "n/a", 9, "middle", "#9ca3af"))
        else:
            h = plot_h * v / top
            colour = _COLOURS[1] if ref is not None and v > ref else _COLOURS[0]
            out.append(("rect", cx - slot * 0.35, _H - _BOTTOM - h, slot * 0.7, h, colour))
        out.append(("text", cx, _H - _BOTTOM + 16, label, 10, "middle", "#333333"))
    if ref is not None:
        yr = _H - _BOTTOM - plot_h * ref / top
        out.append(("line", _LEFT, yr, _W - _RIGHT, yr, "#b91c1c", 1.5))
        out.append(("text", _W - _RIGHT, yr - 4, _axis_label(ref), 10, "end", "#b91c1c"))
    return out


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_svg(scene: list[Prim]) -> str:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" font-family="sans-serif">'
    ]
    for p in scene:
        kind = p[0]
        if kind == "rect":
            _, x, y, w, h, fill = p
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{fill}"/>'
            )
        elif kind == "line":
            _, x1, y1, x2, y2, colour, width = p
            parts.append(
                f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                f'stroke="{colour}" stroke-width="{width}"/>'
            )
        elif kind in ("polyline", "polygon"):
            pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in p[1])
            if kind == "polyline":
                parts.append(
                    f'<polyline points="{pts}" fill="none" stroke="{p[2]}" stroke-width="{p[3]}"/>'
                )
            else:
                parts.append(f'<polygon points="{pts}" fill="{p[2]}" fill-opacity="{p[3]}"/>')
        elif kind == "circle":
            _, x, y, r, colour = p
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{colour}"/>')
        elif kind == "text":
            _, x, y, text, size, anchor, colour = p
            if anchor == "vertical":
                parts.append(
                    f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{colour}" '
                    f'text-anchor="middle" transform="rotate(-90 {x:.1f} {y:.1f})">{_esc(text)}</text>'
                )
            else:
                parts.append(
                    f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{colour}" '
                    f'text-anchor="{anchor}">{_esc(text)}</text>'
                )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def to_png(scene: list[Prim], path: Path) -> None:
    """PNG through Pillow (its bundled scalable font; labels are ASCII)."""
    from PIL import Image, ImageColor, ImageDraw, ImageFont

    scale = 2  # drawn at twice the size: smoother lines and text
    image = Image.new("RGB", (_W * scale, _H * scale), "white")
    draw = ImageDraw.Draw(image, "RGBA")
    fonts: dict[int, Any] = {}

    def font(size: int) -> Any:
        if size not in fonts:
            fonts[size] = ImageFont.load_default(size=size * scale)
        return fonts[size]

    def s(v: float) -> float:
        return v * scale

    for p in scene:
        kind = p[0]
        if kind == "rect":
            _, x, y, w, h, fill = p
            draw.rectangle([s(x), s(y), s(x + w), s(y + h)], fill=fill)
        elif kind == "line":
            _, x1, y1, x2, y2, colour, width = p
            draw.line([s(x1), s(y1), s(x2), s(y2)], fill=colour, width=max(1, round(width * scale)))
        elif kind == "polyline":
            pts = [(s(x), s(y)) for x, y in p[1]]
            if len(pts) > 1:
                draw.line(pts, fill=p[2], width=max(1, round(p[3] * scale)), joint="curve")
        elif kind == "polygon":
            r, g, b_ = ImageColor.getrgb(p[2])[:3]
            draw.polygon([(s(x), s(y)) for x, y in p[1]], fill=(r, g, b_, round(255 * p[3])))
        elif kind == "circle":
            _, x, y, radius, colour = p
            draw.ellipse([s(x - radius), s(y - radius), s(x + radius), s(y + radius)], fill=colour)
        elif kind == "text":
            _, x, y, text, size, anchor, colour = p
            f = font(size)
            if anchor == "vertical":
                box = draw.textbbox((0, 0), text, font=f)
                tile = Image.new("RGBA", (int(box[2]) + 4, int(box[3]) + 4), (255, 255, 255, 0))
                ImageDraw.Draw(tile).text((2, 2), text, font=f, fill=colour)
                tile = tile.rotate(90, expand=True)
                image.paste(
                    tile, (round(s(x) - tile.width / 2), round(s(y) - tile.height / 2)), tile
                )
            else:
                pil_anchor = {"start": "ls", "middle": "ms", "end": "rs"}[anchor]
                draw.text((s(x), s(y)), text, font=f, fill=colour, anchor=pil_anchor)
    image.save(path, format="PNG", optimize=True)


def write_chart(scene: list[Prim], path: Path) -> None:
    """SVG or PNG by the file's suffix."""
    suffix = path.suffix.lower()
    if suffix == ".svg":
        path.write_text(to_svg(scene), encoding="utf-8")
    elif suffix == ".png":
        try:
            to_png(scene, path)
        except ImportError:
            raise _error(
                "--chart: PNG needs Pillow (pip install pillow); .svg needs nothing"
            ) from None
    else:
        raise _error(f"--chart: {path.name}: use a .svg or .png file name")
