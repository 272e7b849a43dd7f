"""Forecast and recycled-content endpoints under ``/api/``.

* ``GET /api/forecast/retirements`` — expected retirements per year (packs, GWh, tonnes,
  recoverable Li/Ni/Co/Mn) with an uncertainty band, from the packaged CAAM scenario or the
  ledger's installed packs (services.forecast_ledger.retirements, as ``battrace forecast run``);
* ``GET /api/forecast/capacity`` — retirements per province against the whitelisted recycling
  capacity registered in battrace (as ``battrace forecast capacity``);
* ``GET /api/recycled-content/{uscc}`` — a battery maker's recycled Co/Li/Ni shares against the
  EU 2023/1542 Art. 8 minimums (as ``battrace recycled-content``).

Forecasts are for regulators: the national regulator sees every province, a provincial regulator
its own (no ``province`` means its own; another is 403). Recycled content is readable by the
battery maker itself and by its regulators. ``?format=csv|xlsx`` gives the tables as files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from battrace.domain.errors import InvalidInput
from battrace.domain.forecast import (
    FutureSales,
    capacity_match,
    default_parameters,
    forecast,
    packaged_cohorts,
)
from battrace.domain.identities.divisions import province_by_code
from battrace.domain.identities.uscc import validate_uscc
from battrace.persistence.base import Store
from battrace.services import recycled_content as rc
from battrace.services import stats
from battrace.services.authorisation import ReadScope
from battrace.services.forecast_ledger import (
    RetirementQuery,
    flat_rows,
    ledger_capacity_match,
    registered_capacity,
    retirements,
)
from battrace.web.auth import Caller, caller
from battrace.web.problems import AUTHENTICATED, SECURITY, ApiError, bad_input, responses
from battrace.web.runtime import runtime

router = APIRouter(prefix="/api", tags=["Forecasts and recycled content"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Format = Literal["json", "csv", "xlsx"]

_BAND = {
    "type": "object",
    "properties": {k: {"type": "number"} for k in ("low", "mid", "high")},
}
_YEAR_ROW: dict[str, Any] = {
    "type": "object",
    "required": ["year", "packs", "gwh", "gwh_residual", "tonnes", "recoverable_t", "band"],
    "properties": {
        "year": {"type": "integer"},
        "packs": {"type": "number"},
        "gwh": {"type": "number"},
        "gwh_residual": {"type": "number"},
        "tonnes": {"type": "number"},
        "recoverable_t": {"type": "object", "additionalProperties": {"type": "number"}},
        "band": {"type": "object", "additionalProperties": _BAND},
        "observed_retired_packs": {"type": ["integer", "null"]},
    },
}
RETIREMENTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["scope", "years"],
    "properties": {
        "scope": {"type": "object"},
        "years": {"type": "array", "items": _YEAR_ROW},
        "breakdown": {"type": "array", "items": {"type": "object"}},
    },
}
_MATCH = {
    "type": "object",
    "required": ["province", "retired_t", "capacity_t", "utilisation", "shortfall_t"],
    "properties": {
        "province": {"type": "string"},
        "retired_t": {"type": "number"},
        "capacity_t": {"type": "number"},
        "utilisation": {"type": ["number", "null"]},
        "shortfall_t": {"type": "number"},
    },
}
CAPACITY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["year", "source", "national", "provinces"],
    "properties": {
        "year": {"type": "integer"},
        "source": {"type": "string"},
        "national": {"oneOf": [_MATCH, {"type": "null"}]},
        "provinces": {"type": "array", "items": _MATCH},
    },
}
RECYCLED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["enterprise", "period", "method", "elements"],
    "properties": {
        "enterprise": {"type": "string"},
        "period": {"type": "object"},
        "method": {"type": "string"},
        "inputs": {"type": "integer"},
        "unassessed_kg": {"type": "number"},
        "materials": {"type": "object"},
        "elements": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["element", "total_kg", "recycled_kg", "share_pct", "targets"],
                "properties": {
                    "element": {"type": "string"},
                    "total_kg": {"type": "number"},
                    "recycled_kg": {"type": "number"},
                    "pre_consumer_kg": {"type": "number"},
                    "post_consumer_kg": {"type": "number"},
                    "share_pct": {"type": ["number", "null"]},
                    "targets": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
    },
}


def _ok(schema: dict[str, Any], what: str) -> dict[str, Any]:
    return {
        "description": f"{what} JSON by default; `format=csv` or `format=xlsx` for the table.",
        "content": {
            "application/json": {"schema": schema},
            "text/csv": {"schema": {"type": "string"}},
            XLSX: {"schema": {"type": "string", "format": "binary"}},
        },
    }


def _export(name: str, data: Any, tables: dict[str, list[dict[str, Any]]], fmt: str) -> Response:
    if fmt == "csv":
        first = next(iter(tables.values()))
        return Response(
            stats.to_csv(first).encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if fmt == "xlsx":
        return Response(
            stats.to_xlsx(tables),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return Response(orjson.dumps(data), media_type="application/json")


def _regulator(scope: ReadScope) -> ReadScope:
    if not scope.is_regulator:
        raise ApiError(
            403, f"forecasts are for regulators, not enterprise {scope.uscc}", type=SECURITY
        )
    return scope


def _province_for(scope: ReadScope, province: str | None) -> str | None:
    """The province a regulator may ask for: any (national), its own (provincial)."""
    if province is not None:
        found = province_by_code(province.strip())
        if found is None:
            raise bad_input(InvalidInput("province", f"{province!r} is not a GB/T 2260 code"))
        province = found.code
    if scope.kind == "provincial":
        if province is not None and province != scope.province:
            raise ApiError(
                403,
                f"province {province} is outside the jurisdiction of {scope.uscc} "
                f"(province {scope.province})",
                type=SECURITY,
            )
        return scope.province
    return province


async def _run(request: Request, work: Callable[[], Response]) -> Response:
    try:
        return await run_in_threadpool(work)
    except InvalidInput as exc:
        raise bad_input(exc) from None


Year = Annotated[int, Query(ge=2000, le=2060)]


@router.get(
    "/forecast/retirements",
    summary="Expected retirements per year with an uncertainty band (battrace forecast run)",
    description="Packs, GWh (nominal and residual), tonnes and recoverable Li/Ni/Co/Mn (t) per "
    "year, with the low/mid/high band of every metric; `by` adds rows per province, chemistry or "
    "segment. `source=scenario` (default): the packaged CAAM sales scenario; `source=ledger`: the "
    "ledger's installed packs plus flat (or `growth`) sales after them. Regulators only; a "
    "provincial regulator gets its own province.",
    response_class=Response,
    responses={200: _ok(RETIREMENTS_SCHEMA, "The forecast."), **responses(*AUTHENTICATED)},
)
async def get_retirements(
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    start: Annotated[int, Query(alias="from", ge=2000, le=2060)] = 2020,
    end: Annotated[int, Query(alias="to", ge=2000, le=2060)] = 2040,
    source: Literal["scenario", "ledger"] = "scenario",
    province: Annotated[
        str | None, Query(max_length=6, description="GB/T 2260 code, e.g. 44")
    ] = None,
    chemistry: Annotated[
        str | None, Query(max_length=20, description="LFP, NCM523, NCM811, NCA …")
    ] = None,
    segment: Annotated[
        str | None, Query(max_length=30, description="passenger_bev, bus, truck …")
    ] = None,
    by: Literal["province", "chemistry", "segment"] | None = None,
    draws: Annotated[
        int, Query(ge=0, le=100, description="0 = min–max over range corners; else 2..100")
    ] = 0,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    growth: Annotated[float, Query(ge=-0.5, le=1.0)] = 0.0,
    life_extension: bool = False,
    format: Format = "json",
) -> Response:
    rt = runtime(request)

    def work() -> Response:
        scope = _regulator(who.principal().scope)
        prov = _province_for(scope, province)
        query = RetirementQuery(
            start=start,
            end=end,
            source=source,
            province=prov,
            chemistry=chemistry,
            segment=segment,
            draws=draws,
            seed=seed,
            growth=growth,
            life_extension=life_extension,
            by=by,
        )
        report = retirements(rt.store, query)
        tables = {"retirements": flat_rows(report.rows)}
        if by:
            tables = {f"by_{by}": report.breakdown, **tables}
        request.state.audit_detail = f"{len(report.rows)} years ({report.scope['source']})"
        return _export(f"battrace-retirements-{prov or 'CN'}", report.to_dict(), tables, format)

    return await _run(request, work)


def _capacity(store: Store, year: int, source: str, growth: float) -> Any:
    caps = registered_capacity(store)
    if source == "ledger":
        report, _ = ledger_capacity_match(store, year, capacity_t=caps, future=FutureSales(growth))
        return report
    params = default_parameters()
    cohorts = packaged_cohorts(to_year=year, future=FutureSales(growth), params=params)
    result = forecast(cohorts, params, start=year, end=year)
    return capacity_match({p: v.tonnes for p, v in result.by_province(year).items()}, caps)


@router.get(
    "/forecast/capacity",
    summary="Retirements per province vs registered recycling capacity (utilisation)",
    description="Tonnes of packs forecast to retire in `year` per province against the "
    "whitelisted recycling capacity registered in battrace (`capacity_t` of each recycler's "
    "`recycling` qualification). `source=ledger` (default): retirements of the ledger's "
    "installed packs; `source=scenario`: the packaged national scenario. A provincial "
    "regulator gets its own province and no national row.",
    response_class=Response,
    responses={200: _ok(CAPACITY_SCHEMA, "Utilisation per province."), **responses(*AUTHENTICATED)},
)
async def get_capacity(
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    year: Year = 2030,
    source: Literal["scenario", "ledger"] = "ledger",
    growth: Annotated[float, Query(ge=-0.5, le=1.0)] = 0.0,
    format: Format = "json",
) -> Response:
    rt = runtime(request)

    def work() -> Response:
        scope = _regulator(who.principal().scope)
        report = _capacity(rt.store, year, source, growth)
        data: dict[str, Any] = {"year": year, "source": source, **report.to_dict()}
        if scope.kind == "provincial":
            data["national"] = None
            data["provinces"] = [p for p in data["provinces"] if p["province"] == scope.province]
        rows = [{"year": year, **p} for p in data["provinces"]]
        if data["national"] is not None:
            rows.append({"year": year, **data["national"]})
        request.state.audit_detail = f"{len(data['provinces'])} provinces"
        return _export(f"battrace-capacity-{year}", data, {"capacity": rows}, format)

    return await _run(request, work)


@router.get(
    "/recycled-content/{uscc}",
    summary="A battery maker's recycled Co/Li/Ni shares vs the EU 2031 and 2036 minimums",
    description="Share of cobalt, lithium and nickel in the material the battery maker's "
    "production consumed in `period` that traces back to recycling outputs in the ledger (mass "
    "balance; docs/recycled-content.md), against EU 2023/1542 Art. 8. Readable by the maker itself, "
    "the national regulator and the regulator of the maker's province.",
    response_class=Response,
    responses={
        200: _ok(RECYCLED_SCHEMA, "The shares."),
        **responses(*AUTHENTICATED, 404),
    },
)
async def get_recycled_content(
    request: Request,
    uscc: str,
    who: Annotated[Caller, Depends(caller)],
    period: Annotated[
        str, Query(max_length=40, description="2025, 2025-03 or 2025-01-01..2025-06-30")
    ],
    format: Format = "json",
) -> Response:
    rt = runtime(request)

    def work() -> Response:
        scope = who.principal().scope
        try:
            maker = validate_uscc(uscc.strip())
        except InvalidInput as exc:
            raise bad_input(exc) from None
        ent = rt.store.get_enterprise(maker)
        if ent is None:
            raise ApiError(404, f"enterprise {maker} is not registered")
        allowed = (
            scope.kind == "national"
            or (scope.kind == "provincial" and scope.province == ent.province)
            or scope.uscc == maker
        )
        if not allowed:
            raise ApiError(
                403, f"enterprise {scope.uscc} may not read {maker}'s figures", type=SECURITY
            )
        report = rc.recycled_content_report(rt.store, maker, period)
        request.state.audit_detail = f"{report.inputs} production inputs"
        return _export(
            f"battrace-recycled-content-{maker}",
            report.to_dict(),
            {"recycled_content": rc.element_rows(report)},
            format,
        )

    return await _run(request, work)
