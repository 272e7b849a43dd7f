"""The regulators' forecast page: expected retirements per year to 2040 and recoverable metals,
with the uncertainty band, as an interactive SVG chart (static/js/forecast.js, no library) and a
table with CSV/Excel downloads.

Scope as on the overview: the national regulator chooses any province (or all of China), a
provincial regulator sees its own province; asking for another is "access denied". The figures
are those of ``GET /api/forecast/retirements`` (services.forecast_ledger.retirements).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from markupsafe import Markup

from battrace.domain.errors import InvalidInput
from battrace.domain.forecast import CHEMISTRIES, ELEMENTS, METRICS
from battrace.domain.identities.divisions import PROVINCES, province_by_code
from battrace.services.forecast_ledger import RetirementQuery, RetirementReport, retirements
from battrace.services.users import NATIONAL
from battrace.web.i18n import N_, Translator
from battrace.web.pages.context import Page, PageError, PageRoute, get_page, render
from battrace.web.pages.tables import DataTable, download

router = APIRouter(route_class=PageRoute)
PageDep = Annotated[Page, Depends(get_page)]

START, END = 2020, 2040
SOURCES = ("scenario", "ledger")
#: metric -> (zh, en) label with its unit.
LABELS: dict[str, str] = {
    "packs": N_("Retired packs"),
    "gwh": N_("Retired energy (GWh, nominal)"),
    "gwh_residual": N_("Retired energy (GWh, residual)"),
    "tonnes": N_("Retired pack mass (t)"),
    "Li": N_("Recoverable Li (t)"),
    "Ni": N_("Recoverable Ni (t)"),
    "Co": N_("Recoverable Co (t)"),
    "Mn": N_("Recoverable Mn (t)"),
}


def _province(page: Page, wanted: str | None) -> str | None:
    user = page.require_regulator()
    if wanted in (None, ""):
        return None if user.scope == NATIONAL else user.province
    found = province_by_code(wanted) if wanted and len(wanted) == 2 else None
    if found is None:
        raise PageError(404, page.t._("Not found"), page.t._("Unknown province code."))
    if not user.may_see_province(found.code):
        raise PageError(
            403, page.t._("Access denied"), page.t._("This province is outside your jurisdiction.")
        )
    return found.code


def _compute(
    page: Page, province: str | None, chemistry: str | None, source: str
) -> RetirementReport:
    query = RetirementQuery(
        start=START, end=END, source=source, province=province, chemistry=chemistry, draws=0
    )
    return retirements(page.store if source == "ledger" else None, query)


def _table(t: Translator, report: RetirementReport) -> DataTable:
    cols = [t._("Year")]
    cols += [t._(LABELS[m]) for m in METRICS]
    cols += [t._("GWh low"), t._("GWh high")]
    rows = [
        [
            r["year"],
            *(round(r["recoverable_t"][m] if m in ELEMENTS else r[m], 3) for m in METRICS),
            round(r["band"]["gwh"]["low"], 3),
            round(r["band"]["gwh"]["high"], 3),
        ]
        for r in report.rows
    ]
    return DataTable(
        "forecast",
        t._("Forecast retirements per year"),
        cols,
        rows,
        (False, *([True] * (len(cols) - 1))),
    )


def _chart(t: Translator, report: RetirementReport, metric: str) -> dict[str, Any]:
    def value(row: dict[str, Any], m: str) -> float:
        return float(row["recoverable_t"][m] if m in ELEMENTS else row[m])

    return {
        "locale": t.locale,
        "metric": metric,
        "years": [r["year"] for r in report.rows],
        "metrics": [{"key": m, "label": t._(LABELS[m])} for m in METRICS],
        "series": {
            m: {
                "central": [value(r, m) for r in report.rows],
                "low": [r["band"][m]["low"] for r in report.rows],
                "high": [r["band"][m]["high"] for r in report.rows],
            }
            for m in METRICS
        },
        "labels": {
            "central": t._("Central"),
            "band": t._("Uncertainty band"),
            "year": t._("Year"),
        },
    }


def _options(page: Page, chemistry: str | None, source: str) -> tuple[str | None, str]:
    if source not in SOURCES:
        raise PageError(400, page.t._("Request refused"), f"source: one of {', '.join(SOURCES)}")
    if chemistry not in (None, "") and chemistry not in CHEMISTRIES:
        raise PageError(
            400, page.t._("Request refused"), f"chemistry: one of {', '.join(CHEMISTRIES)}"
        )
    return chemistry or None, source


@router.get("/regulator/forecast")
def forecast_page(
    page: PageDep,
    province: Annotated[str | None, Query(max_length=2)] = None,
    chemistry: Annotated[str | None, Query(max_length=10)] = None,
    source: Annotated[str, Query(max_length=10)] = "scenario",
    metric: Annotated[str, Query(max_length=20)] = "gwh",
) -> Response:
    prov = _province(page, province)
    chem, source = _options(page, chemistry, source)
    if metric not in METRICS:
        metric = "gwh"
    t = page.t
    error = None
    report = None
    try:
        report = _compute(page, prov, chem, source)
    except InvalidInput as exc:
        error = str(exc)
    user = page.require_regulator()
    provinces = (
        [{"code": p.code, "name": t.pick(p.name_zh, p.name_en)} for p in PROVINCES]
        if user.scope == NATIONAL
        else []
    )
    query = "&".join(
        f"{k}={v}" for k, v in (("province", prov), ("chemistry", chem), ("source", source)) if v
    )
    here = province_by_code(prov) if prov else None
    return render(
        page,
        "forecast.html",
        province=prov,
        province_name=t.pick(here.name_zh, here.name_en) if here else t._("China"),
        provinces=provinces,
        chemistry=chem,
        chemistries=CHEMISTRIES,
        source=source,
        metric=metric,
        metrics=[(m, t._(LABELS[m])) for m in METRICS],
        error=error,
        report=report,
        table=_table(t, report) if report else None,
        data_query="?" + query if query else "",
        chart_json=Markup(orjson.dumps(_chart(t, report, metric)).decode().replace("</", "<\\/"))
        if report
        else None,
    )


@router.get("/regulator/forecast/data.{fmt}")
def forecast_download(
    page: PageDep,
    fmt: str,
    province: Annotated[str | None, Query(max_length=2)] = None,
    chemistry: Annotated[str | None, Query(max_length=10)] = None,
    source: Annotated[str, Query(max_length=10)] = "scenario",
) -> Response:
    prov = _province(page, province)
    chem, source = _options(page, chemistry, source)
    if fmt not in ("csv", "xlsx"):
        raise PageError(404, page.t._("Not found"))
    try:
        report = _compute(page, prov, chem, source)
    except InvalidInput as exc:
        raise PageError(400, page.t._("Request refused"), str(exc)) from None
    table = _table(page.t, report)
    stem = f"battrace-forecast-{prov or 'national'}"
    return download(table, stem, fmt)
