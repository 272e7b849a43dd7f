"""HTTP endpoints of the regulation engine: alerts, the supervision workflow and statistics.

A thin shell over :mod:`battrace.services.alerts`, :mod:`~battrace.services.supervision` and
:mod:`~battrace.services.stats`. Two dependencies connect it to the application:

* :func:`caller` — who is calling, as a :class:`battrace.services.supervision.Actor` (its roles
  and province decide what it sees: the national regulator everything, a provincial regulator
  its province, an enterprise its own). It refuses every request until the application's
  authentication replaces it, e.g.::

      from battrace.services.supervision import Actor
      app.dependency_overrides[supervision.caller] = lambda who=Depends(principal): Actor.of(
          who.enterprise
      )

* :func:`store` — the ledger; by default ``request.app.state.runtime.store`` (or
  ``request.app.state.store``).

Errors are the services' ``InvalidInput`` (→ 4xx problem+json naming the field) and
``NotAuthorised`` (→ 403), rendered by the application's problem handlers.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from battrace.domain.errors import InvalidInput
from battrace.domain.supervision.findings import STATUSES
from battrace.persistence.base import Store
from battrace.services import alerts as engine
from battrace.services import stats
from battrace.services import supervision as workflow
from battrace.services.supervision import Actor

router = APIRouter(tags=["Supervision"])


def caller() -> Actor:
    """Replaced by the application's authentication (see the module doc)."""
    raise HTTPException(
        status_code=401,
        detail="authentication is not configured for the supervision endpoints",
        headers={"WWW-Authenticate": 'Bearer realm="battrace"'},
    )


def store(request: Request) -> Store:
    runtime = getattr(request.app.state, "runtime", None)
    found = getattr(runtime, "store", None) or getattr(request.app.state, "store", None)
    if not isinstance(found, Store):
        raise HTTPException(status_code=503, detail="no ledger configured")
    return found


Who = Annotated[Actor, Depends(caller)]
Db = Annotated[Store, Depends(store)]
AsOf = Annotated[
    str | None,
    Query(
        description="Judge as the ledger stood then: a date (end of that day, China time) or an "
        "ISO 8601 date-time with offset. Default: now."
    ),
]


def _day(value: str | None, field: str) -> date | None:
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(field, f"{value!r} is not a date like 2025-01-01") from None


# -- alerts -------------------------------------------------------------------------------------


@router.get("/api/alerts", summary="Alerts visible to the caller, newest first")
def get_alerts(
    who: Who,
    ledger: Db,
    kind: Annotated[str | None, Query(description="e.g. late-report")] = None,
    province: Annotated[str | None, Query(description="GB/T 2260, e.g. 44")] = None,
    enterprise: Annotated[str | None, Query(description="responsible enterprise USCC")] = None,
    status: Annotated[str | None, Query(description=", ".join(STATUSES))] = None,
    as_of: AsOf = None,
    limit: Annotated[int | None, Query(ge=1, le=10_000)] = 1000,
) -> list[dict[str, Any]]:
    """Each alert: kind, rule and version, citation, subject, responsible enterprise and its
    province, evidence (Event Hash IDs), first detected, status, due date (provisional when the
    working-day calendar does not cover the year), and the resolving event if any."""
    flt = engine.AlertFilter(kind, province, enterprise, status, limit)
    found = engine.list_alerts(ledger, who.scope(), flt, as_of=engine.as_of_argument(as_of))
    return [a.to_dict() for a in found]


@router.get("/api/alerts/{alert_id}", summary="One alert with its workflow history")
def get_alert(alert_id: str, who: Who, ledger: Db) -> dict[str, Any]:
    alert = engine.get_alert(ledger, alert_id)
    if alert is None or not who.scope().allows(alert.province, alert.enterprise):
        raise HTTPException(status_code=404, detail=f"no alert {alert_id}")
    steps = workflow.history(ledger, alert_id, who)
    return {**alert.to_dict(), "stage": alert.stage, "history": [s.to_dict() for s in steps]}


@router.get("/api/obligations", summary="Pending obligations (deadlines not yet passed)")
def get_obligations(
    who: Who, ledger: Db, limit: Annotated[int | None, Query(ge=1, le=10_000)] = 1000
) -> list[dict[str, Any]]:
    return [a.to_dict() for a in engine.obligations(ledger, who.scope(), limit=limit)]


@router.post("/api/alerts/{alert_id}/acknowledge", summary="A regulator acknowledges an alert")
def post_acknowledge(
    alert_id: str,
    who: Who,
    ledger: Db,
    note: Annotated[str, Body(embed=True, max_length=4000)] = "",
) -> dict[str, str]:
    workflow.acknowledge(ledger, alert_id, who, note)
    return {"alert": alert_id, "stage": "acknowledged"}


@router.post(
    "/api/alerts/{alert_id}/notices",
    status_code=201,
    summary="A regulator issues a rectification notice (整改通知) with a due date",
)
def post_notice(
    alert_id: str,
    who: Who,
    ledger: Db,
    due: Annotated[date, Body(embed=True)],
    requirement: Annotated[str, Body(embed=True, max_length=4000)],
) -> dict[str, Any]:
    notice = workflow.issue_notice(ledger, alert_id, who, due, requirement)
    return {"id": notice, "alert": alert_id, "due_date": due.isoformat()}


@router.post("/api/notices/{notice_id}/answer", summary="The enterprise answers a notice")
def post_answer(
    notice_id: int,
    who: Who,
    ledger: Db,
    answer: Annotated[str, Body(embed=True, max_length=4000)],
) -> dict[str, Any]:
    workflow.answer_notice(ledger, notice_id, who, answer)
    return {"id": notice_id, "status": "answered"}


@router.post("/api/alerts/{alert_id}/close", summary="A regulator closes an alert")
def post_close(
    alert_id: str,
    who: Who,
    ledger: Db,
    note: Annotated[str, Body(embed=True, max_length=4000)] = "",
) -> dict[str, str]:
    workflow.close(ledger, alert_id, who, note)
    return {"alert": alert_id, "stage": "closed"}


@router.get("/api/notices", summary="Rectification notices visible to the caller")
def get_notices(
    who: Who, ledger: Db, status: Annotated[str | None, Query()] = None
) -> list[dict[str, Any]]:
    return [n.to_dict() for n in workflow.notices(ledger, who, status=status)]


# -- statistics ---------------------------------------------------------------------------------

Fmt = Annotated[str, Query(description="json, csv or xlsx")]


def _export(name: str, rows: list[dict[str, Any]], fmt: str, raw: Any = None) -> Response:
    if fmt == "csv":
        return Response(
            stats.to_csv(rows).encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if fmt == "xlsx":
        return Response(
            stats.to_xlsx({name: rows}),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    if fmt != "json":
        raise InvalidInput("format", f"{fmt!r} is not one of: json, csv, xlsx")
    return JSONResponse(raw if raw is not None else rows)


@router.get("/api/stats/summary", summary="Statistics per province or enterprise and period")
def get_summary(
    who: Who,
    ledger: Db,
    group: str = "province",
    period: str = "year",
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to", description="exclusive")] = None,
    province: str | None = None,
    enterprise: str | None = None,
    as_of: AsOf = None,
    format: Fmt = "json",
) -> Response:
    query = stats.StatsQuery(
        group, period, _day(start, "from"), _day(end, "to"), province, enterprise
    )
    snap = stats.snapshot(ledger, as_of=engine.as_of_argument(as_of))
    return _export("statistics", stats.statistics(ledger, query, who.scope(), snap=snap), format)


@router.get("/api/stats/producers", summary="Producer responsibility")
def get_producers(
    who: Who,
    ledger: Db,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
    as_of: AsOf = None,
    format: Fmt = "json",
) -> Response:
    snap = stats.snapshot(ledger, as_of=engine.as_of_argument(as_of), with_reports=False)
    rows = stats.producer_responsibility(
        snap, who.scope(), start=_day(start, "from"), end=_day(end, "to")
    )
    return _export("producers", rows, format)


@router.get("/api/stats/coverage", summary="Outlet coverage (2026 rule)")
def get_coverage(who: Who, ledger: Db, as_of: AsOf = None, format: Fmt = "json") -> Response:
    snap = stats.snapshot(ledger, as_of=engine.as_of_argument(as_of), with_reports=False)
    return _export("coverage", stats.outlet_coverage(snap, who.scope()), format)


@router.get("/api/stats/flow", summary="Battery flow for a Sankey diagram")
def get_flow(who: Who, ledger: Db, as_of: AsOf = None, format: Fmt = "json") -> Response:
    snap = stats.snapshot(ledger, as_of=engine.as_of_argument(as_of), with_reports=False)
    data = stats.flow(snap, who.scope())
    return _export("flow", stats.flow_rows(data), format, raw=data)
