"""Regulator pages: the national overview, a province's overview, and their data downloads.

Scope: the national regulator sees every province; a provincial regulator sees its own and gets
"access denied" for any other (the page, the chart data and the downloads alike).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from battrace.domain.identities.divisions import province_by_code
from battrace.services.users import NATIONAL, Principal
from battrace.web.i18n import Translator
from battrace.web.pages import figures as fig
from battrace.web.pages.context import Page, PageError, PageRoute, get_page, render
from battrace.web.pages.tables import DataTable
from battrace.web.pages.tables import download as attachment

router = APIRouter(route_class=PageRoute)
PageDep = Annotated[Page, Depends(get_page)]

MAP_MEASURES = ("retired", "collection_rate", "in_service")


def _check_scope(page: Page, province: str | None) -> Principal:
    user = page.require_regulator()
    t = page.t
    if province is None:
        if user.scope != NATIONAL:
            raise PageError(
                403,
                t._("Access denied"),
                t._("The national overview is for the national regulator."),
            )
        return user
    if province_by_code(province) is None or len(province) != 2:
        raise PageError(404, t._("Not found"), t._("Unknown province code."))
    if not user.may_see_province(province):
        raise PageError(
            403, t._("Access denied"), t._("This province is outside your jurisdiction.")
        )
    return user


def tables(t: Translator, f: fig.Figures) -> dict[str, DataTable]:
    headline = DataTable(
        "headline",
        t._("Headline figures"),
        [t._("Measure"), t._("Packs"), "kWh", t._("Tonnes")],
        [
            [
                t._(label),
                int(f.headline[key]["packs"]),
                round(f.headline[key]["kwh"], 1),
                round(f.headline[key]["tonnes"], 3),
            ]
            for key, label, _states in fig.MEASURES
        ],
        (False, True, True, True),
    )
    provinces = DataTable(
        "provinces",
        t._("By province"),
        [
            t._("Province"),
            t._("Code"),
            t._("In service (packs)"),
            t._("Retired (packs)"),
            t._("Retired (kWh)"),
            t._("Formally collected (packs)"),
            t._("Formal collection rate"),
        ],
        [
            [
                t.pick(p["name_zh"], p["name_en"]),
                p["code"],
                p["in_service"],
                p["retired"],
                round(p["retired_kwh"], 1),
                p["formal"],
                None if p["collection_rate"] is None else round(p["collection_rate"], 4),
            ]
            for p in f.provinces
        ],
        (False, False, True, True, True, True, True),
    )
    flows = DataTable(
        "flows",
        t._("Battery flows"),
        [t._("From"), t._("To"), t._("Packs")],
        [[t._(fig.FLOW_NODES[a]), t._(fig.FLOW_NODES[b]), n] for a, b, n in f.flows],
        (False, False, True),
    )
    trend_rows = [
        [m, *(f.trends[k][i] for k, _ in fig.TREND_STEPS)] for i, m in enumerate(f.months)
    ]
    trends = DataTable(
        "trends",
        t._("Events per month"),
        [t._("Month"), *(t._(label) for _, label in fig.TREND_STEPS)],
        trend_rows,
        (False, *([True] * len(fig.TREND_STEPS))),
    )
    return {d.key: d for d in (headline, provinces, flows, trends)}


def chart_data(t: Translator, f: fig.Figures, measure: str) -> dict[str, Any]:
    labels = {
        "retired": t._("Retired (packs)"),
        "collection_rate": t._("Formal collection rate"),
        "in_service": t._("In service (packs)"),
    }
    return {
        "locale": t.locale,
        "map": {
            "measure": measure,
            "measures": [{"key": k, "label": labels[k]} for k in MAP_MEASURES],
            "percent": {"collection_rate": True},
            "values": {
                k: [
                    {
                        "name": p["code"] + "0000",
                        "value": None
                        if p[k] is None
                        else (round(p[k] * 100, 1) if k == "collection_rate" else p[k]),
                    }
                    for p in f.provinces
                ]
                for k in MAP_MEASURES
            },
            "names": {p["code"] + "0000": t.pick(p["name_zh"], p["name_en"]) for p in f.provinces},
            "noData": t._("no data"),
        },
        "sankey": {
            "nodes": [
                {"name": t._(label)}
                for key, label in fig.FLOW_NODES.items()
                if any(key in (a, b) for a, b, _ in f.flows)
            ],
            "links": [
                {"source": t._(fig.FLOW_NODES[a]), "target": t._(fig.FLOW_NODES[b]), "value": n}
                for a, b, n in f.flows
            ],
        },
        "trends": {
            "months": f.months,
            "series": [
                {"name": t._(label), "data": f.trends.get(k, [])} for k, label in fig.TREND_STEPS
            ],
        },
    }


def _overview(page: Page, province: str | None, measure: str) -> Response:
    if measure not in MAP_MEASURES:
        measure = "retired"
    t = page.t
    f = fig.figures(page.store, province)
    data = chart_data(t, f, measure)
    prov = province_by_code(province) if province else None
    return render(
        page,
        "overview.html",
        f=f,
        province=province,
        province_name=t.pick(prov.name_zh, prov.name_en) if prov else None,
        measures=fig.MEASURES,
        tables=tables(t, f),
        measure=measure,
        map_measures=data["map"]["measures"],
        # JSON for the chart script, in a non-executable <script type="application/json">;
        # "</" is escaped so a value can never close the element.
        chart_json=Markup(orjson.dumps(data).decode().replace("</", "<\\/")),
        data_query=f"?province={province}" if province else "",
    )


@router.get("/regulator")
def overview(page: PageDep, measure: Annotated[str, Query(max_length=20)] = "retired") -> Response:
    user = page.require_regulator()
    if user.scope != NATIONAL:
        return RedirectResponse(f"/regulator/province/{user.province}", 303)
    return _overview(page, None, measure)


@router.get("/regulator/province/{code}")
def province_overview(
    page: PageDep, code: str, measure: Annotated[str, Query(max_length=20)] = "retired"
) -> Response:
    _check_scope(page, code)
    return _overview(page, code, measure)


@router.get("/regulator/data/{name}.{fmt}")
def download(
    page: PageDep,
    name: str,
    fmt: str,
    province: Annotated[str | None, Query(max_length=2)] = None,
) -> Response:
    _check_scope(page, province)
    if fmt not in ("csv", "xlsx"):
        raise PageError(404, page.t._("Not found"))
    data = tables(page.t, fig.figures(page.store, province))
    table = data.get(name)
    if table is None:
        raise PageError(404, page.t._("Not found"))
    stem = f"battrace-{name}-{province or 'national'}"
    return attachment(table, stem, fmt)
