"""HTTP endpoints of the regulation engine: alerts, the supervision workflow and statistics.

A thin shell over :mod:`battrace.services.alerts`, :mod:`~battrace.services.supervision` and
:mod:`~battrace.services.stats`. Who calls is the bearer key's enterprise (:func:`caller`, from
:func:`battrace.web.auth.principal`); its roles and province decide what it sees: the national
regulator everything, a provincial regulator the alerts of enterprises registered in its province,
an enterprise its own. An alert or notice the caller may not see is answered ``404``, as one that
does not exist. Errors are problem details (web.problems): bad input ``400`` naming the field, a
step the caller may not take ``403``, a step that does not fit the alert's stage ``409``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response

from battrace.domain.errors import InvalidInput
from battrace.domain.rules import AlertKind
from battrace.domain.supervision.findings import STATUSES
from battrace.persistence.base import Store
from battrace.services import alerts as engine
from battrace.services import stats
from battrace.services import supervision as workflow
from battrace.services.supervision import Actor, Conflict, NotFound
from battrace.web.auth import Principal, principal
from battrace.web.problems import AUTHENTICATED, PROBLEM_JSON, PROBLEM_SCHEMA, ApiError, responses
from battrace.web.runtime import runtime

router = APIRouter(prefix="/api", tags=["Supervision: alerts, workflow, statistics"])

CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_TEXT_OR_NULL = {"type": ["string", "null"]}
ALERT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An alert of the regulation engine (docs/supervision.md).",
    "required": [
        "id",
        "kind",
        "rule",
        "rule_version",
        "citation",
        "subject",
        "enterprise",
        "province",
        "status",
        "evidence",
        "first_detected",
    ],
    "properties": {
        "id": {"type": "string"},
        "kind": {"type": "string", "enum": [k.value for k in AlertKind]},
        "rule": {"type": "string"},
        "rule_version": {"type": "integer"},
        "citation": {"type": "string"},
        "subject": {"type": "string", "description": "battery code, VIN or USCC (as a URI)"},
        "enterprise": {**_TEXT_OR_NULL, "description": "the responsible enterprise (USCC)"},
        "province": {**_TEXT_OR_NULL, "description": "its province (GB/T 2260)"},
        "status": {"type": "string", "enum": [*STATUSES, "pending"]},
        "evidence": {"type": "array", "items": {"type": "string"}},
        "first_detected": {"type": "string"},
        "due": {**_TEXT_OR_NULL, "description": "due date (China time) of the obligation"},
        "provisional": {
            "type": "boolean",
            "description": "the due date lies in a year the working-day calendar does not cover",
        },
        "resolved_at": _TEXT_OR_NULL,
        "resolved_by": {**_TEXT_OR_NULL, "description": "Event Hash ID that met the obligation"},
        "detail": {"type": "object"},
    },
}
ACTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["alert", "action", "actor", "actor_role", "at", "note"],
    "properties": {
        "alert": {"type": "string"},
        "action": {"type": "string", "enum": ["acknowledge", "notice", "answer", "close"]},
        "actor": {"type": "string"},
        "actor_role": {"type": "string"},
        "at": {"type": "string"},
        "note": {"type": "string"},
        "notice_id": {"type": ["integer", "null"]},
    },
}
ALERT_DETAIL_SCHEMA: dict[str, Any] = {
    **ALERT_SCHEMA,
    "required": [*ALERT_SCHEMA["required"], "stage", "history"],
    "properties": {
        **ALERT_SCHEMA["properties"],
        "stage": {"type": "string"},
        "history": {"type": "array", "items": ACTION_SCHEMA},
    },
}
NOTICE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "alert", "issued_by", "issued_at", "due_date", "requirement", "status"],
    "properties": {
        "id": {"type": "integer"},
        "alert": {"type": "string"},
        "issued_by": {"type": "string"},
        "issued_at": {"type": "string"},
        "due_date": {"type": "string"},
        "requirement": {"type": "string"},
        "status": {"type": "string", "enum": ["issued", "answered", "closed"]},
        "answer": _TEXT_OR_NULL,
        "answered_by": _TEXT_OR_NULL,
        "answered_at": _TEXT_OR_NULL,
        "overdue": {"type": "boolean"},
    },
}
STAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["alert", "stage"],
    "properties": {"alert": {"type": "string"}, "stage": {"type": "string"}},
}
_ROWS: dict[str, Any] = {"type": "array", "items": {"type": "object"}}

_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "The step does not fit the stage (already acknowledged, closed, answered…).",
        "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
    }
}
READ = responses(*AUTHENTICATED)
ONE = responses(*AUTHENTICATED, 404)
STEP: dict[int | str, dict[str, Any]] = {**responses(*AUTHENTICATED, 404), **_CONFLICT}


def _ok(schema: dict[str, Any], what: str) -> dict[str, Any]:
    return {"description": what, "content": {"application/json": {"schema": schema}}}


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def caller(who: Principal = Depends(principal)) -> Actor:
    """The key's enterprise as an actor of the workflow (its roles and province)."""
    return Actor.of(who.enterprise)


Who = Annotated[Actor, Depends(caller)]
AsOf = Annotated[
    str | None,
    Query(
        description="Judge as the ledger stood then: a date (end of that day, China time) or an "
        "ISO 8601 date-time with offset. Default: now."
    ),
]
Note = Annotated[str, Body(embed=True, max_length=4000, description="A note for the record.")]


def _store(request: Request) -> Store:
    return runtime(request).store


def _day(value: str | None, field: str) -> date | None:
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(field, f"{value!r} is not a date like 2025-01-01") from None


def _visible_alert(store: Store, alert_id: str, who: Actor) -> engine.Alert:
    alert = engine.get_alert(store, alert_id)
    if alert is None or not who.scope().allows(alert.province, alert.enterprise):
        raise ApiError(404, f"no alert {alert_id} is visible to {who.uscc}")
    return alert


def _step(action: Any, *args: Any) -> None:
    """Run a workflow step; NotFound → 404, Conflict → 409 (NotAuthorised → 403, InvalidInput
    → 400 by the application's handlers)."""
    try:
        action(*args)
    except NotFound as exc:
        raise ApiError(404, str(exc), errors=[{"field": exc.field, "reason": exc.reason}]) from None
    except Conflict as exc:
        raise ApiError(409, str(exc), errors=[{"field": exc.field, "reason": exc.reason}]) from None


# -- alerts -------------------------------------------------------------------------------------


@router.get(
    "/alerts",
    summary="Alerts visible to the key's enterprise, newest first",
    description="Scoped by the caller's role: the national regulator sees every alert, a "
    "provincial regulator those of enterprises registered in its province, an enterprise its "
    "own. The filters narrow within that scope, never widen it. With `as_of` in the past the "
    "rules are re-run on what the ledger knew then (statuses are then the engine's: "
    "`open` / `resolved`).",
    response_class=Response,
    responses={200: _ok({"type": "array", "items": ALERT_SCHEMA}, "The alerts."), **READ},
)
def get_alerts(
    request: Request,
    who: Who,
    kind: Annotated[
        str | None, Query(description="One of: " + ", ".join(k.value for k in AlertKind))
    ] = None,
    province: Annotated[str | None, Query(description="GB/T 2260, e.g. 44")] = None,
    enterprise: Annotated[str | None, Query(description="responsible enterprise USCC")] = None,
    status: Annotated[str | None, Query(description="One of: " + ", ".join(STATUSES))] = None,
    as_of: AsOf = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Response:
    flt = engine.AlertFilter(kind, province, enterprise, status, limit)
    found = engine.list_alerts(
        _store(request), who.scope(), flt, as_of=engine.as_of_argument(as_of)
    )
    request.state.audit_detail = f"{len(found)} alerts"
    return _json([a.to_dict() for a in found])


@router.get(
    "/alerts/{alert_id}",
    summary="One alert with its workflow history",
    response_class=Response,
    responses={200: _ok(ALERT_DETAIL_SCHEMA, "The alert and every workflow step."), **ONE},
)
def get_alert(request: Request, alert_id: str, who: Who) -> Response:
    store = _store(request)
    alert = _visible_alert(store, alert_id, who)
    steps = workflow.history(store, alert_id, who)
    return _json({**alert.to_dict(), "stage": alert.stage, "history": [s.to_dict() for s in steps]})


@router.get(
    "/obligations",
    summary="Pending obligations: deadlines not passed yet (working-day countdowns)",
    response_class=Response,
    responses={
        200: _ok({"type": "array", "items": ALERT_SCHEMA}, "Status `pending`, soonest first."),
        **READ,
    },
)
def get_obligations(
    request: Request, who: Who, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000
) -> Response:
    found = engine.obligations(_store(request), who.scope(), limit=limit)
    return _json([a.to_dict() for a in found])


@router.post(
    "/alerts/{alert_id}/acknowledge",
    summary="A regulator of the alert's jurisdiction acknowledges it",
    response_class=Response,
    responses={200: _ok(STAGE_SCHEMA, "Acknowledged."), **STEP},
)
def post_acknowledge(request: Request, alert_id: str, who: Who, note: Note = "") -> Response:
    store = _store(request)
    _visible_alert(store, alert_id, who)
    _step(workflow.acknowledge, store, alert_id, who, note)
    return _json({"alert": alert_id, "stage": "acknowledged"})


@router.post(
    "/alerts/{alert_id}/notices",
    status_code=201,
    summary="A regulator issues a rectification notice (整改通知) with a due date",
    response_class=Response,
    responses={
        201: _ok(
            {
                "type": "object",
                "required": ["id", "alert", "due_date"],
                "properties": {
                    "id": {"type": "integer"},
                    "alert": {"type": "string"},
                    "due_date": {"type": "string"},
                },
            },
            "The notice was issued; the alert is `rectifying`.",
        ),
        **STEP,
    },
)
def post_notice(
    request: Request,
    alert_id: str,
    who: Who,
    due: Annotated[date, Body(embed=True, description="Due date, not in the past.")],
    requirement: Annotated[
        str, Body(embed=True, max_length=4000, description="What must be put right.")
    ],
) -> Response:
    store = _store(request)
    _visible_alert(store, alert_id, who)
    made: list[int] = []
    _step(lambda: made.append(workflow.issue_notice(store, alert_id, who, due, requirement)))
    return _json({"id": made[0], "alert": alert_id, "due_date": due.isoformat()}, 201)


@router.post(
    "/notices/{notice_id}/answer",
    summary="The responsible enterprise answers a rectification notice",
    response_class=Response,
    responses={
        200: _ok(
            {
                "type": "object",
                "required": ["id", "status"],
                "properties": {"id": {"type": "integer"}, "status": {"type": "string"}},
            },
            "Answered; the alert is `answered`.",
        ),
        **STEP,
    },
)
def post_answer(
    request: Request,
    notice_id: int,
    who: Who,
    answer: Annotated[str, Body(embed=True, max_length=4000, description="The answer.")],
) -> Response:
    store = _store(request)
    key: list[str] = []
    _step(lambda: key.append(workflow.notice_alert(store, notice_id)))
    alert = engine.get_alert(store, key[0])
    if alert is None or not who.scope().allows(alert.province, alert.enterprise):
        raise ApiError(404, f"no rectification notice {notice_id} is visible to {who.uscc}")
    _step(workflow.answer_notice, store, notice_id, who, answer)
    return _json({"id": notice_id, "status": "answered"})


@router.post(
    "/alerts/{alert_id}/close",
    summary="A regulator of the alert's jurisdiction closes it (and any open notice)",
    response_class=Response,
    responses={200: _ok(STAGE_SCHEMA, "Closed."), **STEP},
)
def post_close(request: Request, alert_id: str, who: Who, note: Note = "") -> Response:
    store = _store(request)
    _visible_alert(store, alert_id, who)
    _step(workflow.close, store, alert_id, who, note)
    return _json({"alert": alert_id, "stage": "closed"})


@router.get(
    "/notices",
    summary="Rectification notices on alerts visible to the caller, newest first",
    response_class=Response,
    responses={200: _ok({"type": "array", "items": NOTICE_SCHEMA}, "The notices."), **READ},
)
def get_notices(
    request: Request,
    who: Who,
    status: Annotated[
        Literal["issued", "answered", "closed"] | None, Query(description="Only this status.")
    ] = None,
) -> Response:
    return _json([n.to_dict() for n in workflow.notices(_store(request), who, status=status)])


# -- statistics ---------------------------------------------------------------------------------

Fmt = Annotated[
    Literal["json", "csv", "xlsx"],
    Query(description="json (default), csv (UTF-8) or xlsx (one sheet)"),
]
From = Annotated[str | None, Query(alias="from", description="first day, YYYY-MM-DD")]
To = Annotated[str | None, Query(alias="to", description="day after the last, YYYY-MM-DD")]


def _table(schema: dict[str, Any], what: str) -> dict[str, Any]:
    return {
        "description": f"{what} As JSON, CSV or XLSX after `format`.",
        "content": {
            "application/json": {"schema": schema},
            CSV: {"schema": {"type": "string"}},
            XLSX: {"schema": {"type": "string", "format": "binary"}},
        },
    }


def _export(name: str, rows: list[dict[str, Any]], fmt: str, raw: Any = None) -> Response:
    if fmt == "csv":
        return Response(
            stats.to_csv(rows).encode("utf-8"),
            media_type=CSV,
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if fmt == "xlsx":
        return Response(
            stats.to_xlsx({name: rows}),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return _json(raw if raw is not None else rows)


@router.get(
    "/stats/summary",
    summary="Statistics per province or enterprise and period",
    description="Batteries (count, kWh, kg) produced, installed, retired, formally collected, "
    "cascade-used, recycled; formal collection rate; reporting timeliness; open alerts by kind. "
    "Cut to the caller's scope: asking for more is `403`.",
    response_class=Response,
    responses={200: _table(_ROWS, "One row per group and period."), **READ},
)
def get_summary(
    request: Request,
    who: Who,
    group: Annotated[str, Query(description="province or enterprise")] = "province",
    period: Annotated[str, Query(description="month, quarter, year or all")] = "year",
    start: From = None,
    end: To = None,
    province: Annotated[str | None, Query(description="GB/T 2260, e.g. 44")] = None,
    enterprise: Annotated[str | None, Query(description="USCC")] = None,
    as_of: AsOf = None,
    format: Fmt = "json",
) -> Response:
    store = _store(request)
    query = stats.StatsQuery(
        group, period, _day(start, "from"), _day(end, "to"), province, enterprise
    )
    snap = stats.snapshot(store, as_of=engine.as_of_argument(as_of))
    return _export("statistics", stats.statistics(store, query, who.scope(), snap=snap), format)


@router.get(
    "/stats/producers",
    summary="Producer responsibility: retired packs recovered per automaker and battery maker",
    response_class=Response,
    responses={200: _table(_ROWS, "One row per producer."), **READ},
)
def get_producers(
    request: Request,
    who: Who,
    start: From = None,
    end: To = None,
    as_of: AsOf = None,
    format: Fmt = "json",
) -> Response:
    snap = stats.snapshot(_store(request), as_of=engine.as_of_argument(as_of), with_reports=False)
    rows = stats.producer_responsibility(
        snap, who.scope(), start=_day(start, "from"), end=_day(end, "to")
    )
    return _export("producers", rows, format)


@router.get(
    "/stats/coverage",
    summary="Outlet coverage (2026 rule): where producers sell vs where they have outlets",
    response_class=Response,
    responses={200: _table(_ROWS, "One row per producer."), **READ},
)
def get_coverage(request: Request, who: Who, as_of: AsOf = None, format: Fmt = "json") -> Response:
    snap = stats.snapshot(_store(request), as_of=engine.as_of_argument(as_of), with_reports=False)
    return _export("coverage", stats.outlet_coverage(snap, who.scope()), format)


@router.get(
    "/stats/flow",
    summary="Battery flow (produced → in service → retired → collected → cascade/recycled)",
    description="JSON: Sankey nodes (zh, en) and links (packs, kWh, kg); CSV/XLSX: the links.",
    response_class=Response,
    responses={
        200: _table(
            {
                "type": "object",
                "required": ["nodes", "links"],
                "properties": {
                    "nodes": {"type": "array", "items": {"type": "object"}},
                    "links": {"type": "array", "items": {"type": "object"}},
                },
            },
            "The flow.",
        ),
        **READ,
    },
)
def get_flow(request: Request, who: Who, as_of: AsOf = None, format: Fmt = "json") -> Response:
    snap = stats.snapshot(_store(request), as_of=engine.as_of_argument(as_of), with_reports=False)
    data = stats.flow(snap, who.scope())
    return _export("flow", stats.flow_rows(data), format, raw=data)
