"""An enterprise's open reporting obligations with working-day countdowns.

An obligation is a report the engine expects and has not seen, whose deadline is still ahead: a
finding detected in the future (:func:`battrace.services.alerts.obligations`). If the report
arrives in time the obligation disappears; if not, it becomes an alert when its deadline passes.
The countdown counts Chinese working days (:mod:`battrace.domain.supervision.countdown`); a due
date in a year the holiday calendar does not cover is counted Monday to Friday and marked
provisional, and the page says which years the calendar covers.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from battrace.domain.rules import AlertKind, china_today, covered_years
from battrace.domain.supervision.countdown import Countdown, countdown
from battrace.services import alerts as engine
from battrace.web.i18n import Translator
from battrace.web.pages import vocab
from battrace.web.pages.alerts import (
    PER_PAGE,
    Names,
    actor_of,
    kind_label,
    rule_title,
    traceable,
)
from battrace.web.pages.context import Page, PageRoute, get_page, render

router = APIRouter(route_class=PageRoute)
PageDep = Annotated[Page, Depends(get_page)]


def _expected(t: Translator, alert: engine.Alert) -> str:
    """What the enterprise has to report: the follow-up step, or the kind of duty."""
    step = alert.detail.get("expected")
    if isinstance(step, str) and step:
        return vocab.step(t, step)
    if alert.kind == AlertKind.RETIRED_NOT_COLLECTED:
        return t._("Hand-over to a recycling channel")
    return kind_label(t, alert.kind)


@router.get("/my/obligations")
def my_obligations(page: PageDep, p: Annotated[int, Query(ge=1, le=1000)] = 1) -> Response:
    user = page.require_enterprise()
    actor = actor_of(page, user)
    t = page.t
    today = china_today()
    found = engine.obligations(page.store, actor.scope(), limit=p * PER_PAGE + 1)
    rows: list[dict[str, Any]] = []
    counts: list[Countdown] = []
    for a in found[(p - 1) * PER_PAGE : p * PER_PAGE]:
        due = (
            None
            if a.due is None
            else countdown(date.fromisoformat(a.due[:10]), today, provisional=a.provisional)
        )
        if due is not None:
            counts.append(due)
        rows.append(
            {
                "alert": a,
                "expected": _expected(t, a),
                "rule": rule_title(t, a.rule, a.rule_version),
                "countdown": due,
                "traceable": traceable(a.subject),
            }
        )
    years = sorted(covered_years())
    return render(
        page,
        "obligations.html",
        rows=rows,
        more=len(found) > p * PER_PAGE,
        p=p,
        names=Names(page),
        today=today,
        first_year=years[0] if years else None,
        last_year=years[-1] if years else None,
        any_provisional=any(c.provisional for c in counts),
    )
