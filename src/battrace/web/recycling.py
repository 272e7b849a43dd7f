"""Cascade use and recycling under ``/api/``: grading, recovery reports, model enterprises.

A thin shell over :mod:`battrace.services.recycling`. Every route needs a key. Grading a posted
test result is a computation any key may run; a battery's grade needs its latest inspection to be
visible to the key (as ``GET /api/batteries/{code}``); recovery reports and the ranking are cut to
the key's scope — an enterprise sees its own, a provincial regulator its province, the national
regulator everything (as ``/api/alerts`` and ``/api/stats``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from battrace.domain.errors import InvalidInput
from battrace.domain.identities.gbt34014 import validate_battery_code
from battrace.domain.identities.uscc import validate_uscc
from battrace.services import recycling as rs
from battrace.services import stats
from battrace.services.supervision import Actor
from battrace.web.auth import Principal, principal
from battrace.web.problems import (
    AUTHENTICATED,
    PROBLEM_JSON,
    PROBLEM_SCHEMA,
    ApiError,
    bad_input,
    responses,
)

router = APIRouter(prefix="/api", tags=["Cascade use and recycling"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_BODY = rs.MAX_BATCH_BYTES

_RESULT: dict[str, Any] = {
    "type": "object",
    "required": ["row", "soh_pct", "grade", "reasons"],
    "properties": {
        "row": {"type": "integer"},
        "code": {"type": ["string", "null"]},
        "soh_pct": {"type": "number"},
        "grade": {"type": "string", "description": "vehicle, a cascade band, recycle or pretreat"},
        "reasons": {"type": "array", "items": {"type": "string"}},
    },
}
_TEST: dict[str, Any] = {
    "type": "object",
    "description": "One residual-capacity test result (docs/recycling.md §6). `safety_checks` "
    "maps each GB/T 38698.1 Annex A item to true (failed) or false.",
    "required": [
        "measured_capacity_ah",
        "rated_capacity_ah",
        "internal_resistance_mohm",
        "temperature_c",
        "safety_checks",
    ],
    "properties": {
        "code": {"type": "string"},
        **{
            name: {"type": "number"}
            for name in (
                "measured_capacity_ah",
                "rated_capacity_ah",
                "internal_resistance_mohm",
                "temperature_c",
                "initial_resistance_mohm",
                "open_circuit_voltage_v",
                "nominal_voltage_v",
                "self_discharge_pct_per_month",
            )
        },
        "safety_checks": {"type": "object", "additionalProperties": {"type": "boolean"}},
    },
}
_BATTERY_GRADE: dict[str, Any] = {
    "type": "object",
    "required": ["code", "uri", "inspection", "test", "soh_pct", "grade", "reasons"],
    "properties": {
        "code": {"type": "string"},
        "uri": {"type": "string"},
        "inspection": {"type": "object"},
        "test": {"type": "object"},
        "soh_pct": {"type": "number"},
        "grade": {"type": "string"},
        "reasons": {"type": "array", "items": {"type": "string"}},
    },
}
_RECOVERY: dict[str, Any] = {
    "type": "object",
    "description": "As `battrace recovery --json`; `balance` is null when no recycling event of "
    "the period could be assessed.",
    "required": ["enterprise", "province", "period", "events", "balance"],
    "properties": {
        "enterprise": {"type": "string"},
        "name_zh": {"type": "string"},
        "name_en": {"type": "string"},
        "province": {"type": "string"},
        "roles": {"type": "array", "items": {"type": "string"}},
        "period": {"type": "object"},
        "events": {"type": "object"},
        "tolerance_rule": {"type": ["string", "null"]},
        "balance": {"type": ["object", "null"]},
    },
}
_RANKING: dict[str, Any] = {
    "type": "object",
    "description": "As `battrace rank --json`: each enterprise's score and every component with "
    "its measured value, score (0-1, null = not applicable) and weight.",
    "required": ["period", "weights", "ranking"],
    "properties": {
        "period": {"type": "object"},
        "province": {"type": ["string", "null"]},
        "weights": {"type": "object"},
        "ranking": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["rank", "enterprise", "score", "components"],
                "properties": {
                    "rank": {"type": "integer"},
                    "enterprise": {"type": "string"},
                    "score": {"type": "number"},
                    "components": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
    },
}


def _problem(code: int, description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}}


def _ok(schema: dict[str, Any], what: str, *, xlsx: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if xlsx:
        content[XLSX] = {"schema": {"type": "string", "format": "binary"}}
    return {"description": what, "content": content}


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def _xlsx(name: str, sheets: dict[str, list[dict[str, Any]]]) -> Response:
    return Response(
        stats.to_xlsx(sheets),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )


def _wants_xlsx(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "xlsx"
    accept = request.headers.get("accept", "")
    return XLSX in accept and "application/json" not in accept


async def _body(request: Request) -> bytes:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise ApiError(413, f"the body is larger than {MAX_BODY:,} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, f"the body is larger than {MAX_BODY:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _batch_error(exc: rs.BatchInvalid) -> ApiError:
    return ApiError(
        400,
        str(exc),
        errors=[{"field": f, "reason": r, "index": i} for i, f, r in exc.errors],
    )


@router.post(
    "/grade",
    summary="Grade residual-capacity test results (one object or a list; JSON or CSV)",
    response_class=Response,
    responses={
        200: _ok(
            {"oneOf": [_RESULT, {"type": "array", "items": _RESULT}]},
            "The grade of each result (a list for a list, or a CSV), in input order.",
        ),
        **responses(*AUTHENTICATED, 413, 415),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"oneOf": [_TEST, {"type": "array", "items": _TEST}]}
                },
                "text/csv": {
                    "schema": {
                        "type": "string",
                        "description": "Header row with the field names; `safety.<item>` "
                        "columns hold yes/no.",
                    }
                },
            },
        }
    },
)
async def post_grade(request: Request, who: Principal = Depends(principal)) -> Response:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ("application/json", "text/csv"):
        raise ApiError(415, "send application/json or text/csv")
    data = await _body(request)

    def work() -> Any:
        try:
            if media == "text/csv":
                return rs.grade_rows(rs.read_batch(data, "csv"))
            try:
                doc = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                raise InvalidInput("body", f"not valid JSON: {exc}") from None
            if isinstance(doc, dict):
                return rs.grade_rows([doc])[0]
            if not isinstance(doc, list):
                raise InvalidInput("body", "must be a test-result object or a list of them")
            return rs.grade_rows(doc)
        except rs.BatchInvalid as exc:
            raise _batch_error(exc) from None

    out = await run_in_threadpool(work)
    request.state.audit_detail = f"{len(out) if isinstance(out, list) else 1} graded"
    return _json(out)


@router.get(
    "/batteries/{code}/grade",
    summary="A battery's grade from its latest residual-capacity inspection",
    response_class=Response,
    responses={
        200: _ok(_BATTERY_GRADE, "The grade, the inspection it rests on and the test read."),
        **responses(*AUTHENTICATED),
        404: _problem(404, "The battery is not in the ledger, or has no inspection to grade."),
        409: _problem(
            409,
            "The latest inspection cannot be graded: the problem names what it lacks (a test "
            "temperature, the safety checklist …) or the value out of range.",
        ),
    },
)
def get_battery_grade(request: Request, code: str, who: Principal = Depends(principal)) -> Response:
    try:
        valid = validate_battery_code(code.strip())
    except InvalidInput as exc:
        raise bad_input(exc) from None
    try:
        return _json(rs.grade_battery(request.app.state.runtime.store, valid, scope=who.scope))
    except rs.NoInspection as exc:
        raise ApiError(404, exc.reason) from None
    except InvalidInput as exc:
        if exc.field == "code":
            raise ApiError(404, exc.reason) from None
        raise bad_input(exc, status=409, type="about:blank") from None


Format = Annotated[
    Literal["json", "xlsx"] | None,
    Query(description="json or xlsx; default: by the Accept header, else json"),
]


@router.get(
    "/recovery/{uscc}",
    summary="A recycler's mass balance and recovery rates in a period (JSON or XLSX)",
    response_class=Response,
    responses={
        200: _ok(_RECOVERY, "The recovery report.", xlsx=True),
        **responses(*AUTHENTICATED, 404),
    },
)
def get_recovery(
    request: Request,
    uscc: str,
    period: Annotated[str, Query(description="2025, 2025-03 or 2025-Q1 (China time)")],
    format: Format = None,
    who: Principal = Depends(principal),
) -> Response:
    try:
        valid = validate_uscc(uscc.strip())
        parsed = rs.parse_period(period)
    except InvalidInput as exc:
        raise bad_input(exc) from None
    store = request.app.state.runtime.store
    if store.get_enterprise(valid) is None:
        raise ApiError(404, f"enterprise {valid} is not registered")
    report = rs.recovery(store, valid, parsed, Actor.of(who.enterprise).scope())
    if _wants_xlsx(request, format):
        return _xlsx(f"recovery-{valid}-{parsed.label}", rs.recovery_sheets(report))
    return _json(report)


@router.get(
    "/model-enterprises",
    summary="Model-enterprise ranking: each component with its value and weight",
    response_class=Response,
    responses={
        200: _ok(_RANKING, "The ranking.", xlsx=True),
        **responses(*AUTHENTICATED),
    },
)
def get_model_enterprises(
    request: Request,
    period: Annotated[str, Query(description="2025, 2025-03 or 2025-Q1 (China time)")],
    province: Annotated[str | None, Query(description="GB/T 2260, e.g. 43")] = None,
    format: Format = None,
    who: Principal = Depends(principal),
) -> Response:
    store = request.app.state.runtime.store
    data = rs.rank(store, period, Actor.of(who.enterprise).scope(), province=province)
    if _wants_xlsx(request, format):
        return _xlsx(
            f"model-enterprises-{data['period']['label']}", {"ranking": rs.ranking_rows(data)}
        )
    return _json(data)
