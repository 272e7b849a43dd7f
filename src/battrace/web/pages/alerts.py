"""Supervision pages: the regulators' alert inbox and workflow, the enterprises' alerts and
rectification notices.

A thin shell over :mod:`battrace.services.alerts` (which alerts, scoped) and
:mod:`battrace.services.supervision` (acknowledge, rectification notice, answer, close; every
step recorded there). Jurisdiction as in the API: the national regulator sees every alert, a
provincial regulator the alerts of enterprises registered in its province, an enterprise its own.
An alert outside the viewer's scope is "access denied" (403); the API answers 404 instead.

Every state-changing form is a POST carrying the session's CSRF token; after a step the browser
is sent back to the alert (303), which shows the step in its history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from functools import cache
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from battrace.domain.errors import InvalidInput, NotAuthorised
from battrace.domain.identities.divisions import PROVINCES, province_by_code
from battrace.domain.identities.gbt34014 import parse_battery_code
from battrace.domain.identities.vin import is_vin
from battrace.domain.lifecycle import states as S
from battrace.domain.rules import AlertKind, RuleSet, UnknownRule, china_today
from battrace.domain.supervision.clock import text_of
from battrace.domain.supervision.findings import STATUSES
from battrace.persistence.base import EnterpriseRow
from battrace.services import alerts as engine
from battrace.services import supervision as workflow
from battrace.services.authorisation import scope_for
from battrace.services.query import event_records
from battrace.services.supervision import Actor, Conflict, NotFound
from battrace.services.users import NATIONAL, Principal
from battrace.web.i18n import N_, Translator
from battrace.web.pages import vocab
from battrace.web.pages.context import (
    Page,
    PageError,
    PageRoute,
    check_csrf,
    get_page,
    read_form,
    render,
)

router = APIRouter(route_class=PageRoute)
PageDep = Annotated[Page, Depends(get_page)]
PER_PAGE = 50
MAX_EVIDENCE = 20

KINDS: dict[str, str] = {
    AlertKind.LATE_REPORT: N_("Late report"),
    AlertKind.MISSING_FOLLOW_UP: N_("Missing follow-up report"),
    AlertKind.UNQUALIFIED_TRANSFER: N_("Transfer to an unqualified party"),
    AlertKind.OUTLET_OVER_CAPACITY: N_("Outlet over capacity"),
    AlertKind.BATTERY_MISSING_AT_SCRAPPING: N_("Battery missing at scrapping"),
    AlertKind.RETIRED_NOT_COLLECTED: N_("Retired battery not collected"),
    AlertKind.UNREPORTED_SOURCE: N_("Battery of unreported source"),
    AlertKind.CODE_NOT_REGISTERED: N_("Battery code not registered"),
    AlertKind.MASS_BALANCE: N_("Mass balance gap"),
}
STATUS_LABELS: dict[str, str] = {
    "open": N_("open"),
    "acknowledged": N_("acknowledged"),
    "rectifying": N_("rectification notice issued"),
    "answered": N_("notice answered"),
    "resolved": N_("resolved"),
    "closed": N_("closed"),
    "withdrawn": N_("withdrawn"),
    "pending": N_("pending"),
}
ACTIONS: dict[str, str] = {
    "acknowledge": N_("Acknowledged"),
    "notice": N_("Rectification notice issued"),
    "answer": N_("Notice answered"),
    "close": N_("Closed"),
}
NOTICE_STATUSES: dict[str, str] = {
    "issued": N_("awaiting an answer"),
    "answered": N_("answered"),
    "closed": N_("closed"),
}
DETAIL_LABELS: dict[str, str] = {
    "step": N_("Step"),
    "event_time": N_("Event time"),
    "record_time": N_("Recorded"),
    "deadline_working_days": N_("Deadline (working days)"),
    "working_days_late": N_("Working days late"),
    "after": N_("After"),
    "expected": N_("Expected report"),
    "receiver": N_("Receiver"),
    "sender": N_("Sender"),
    "reason": N_("Reason"),
    "stock_t": N_("Stock (t)"),
    "limit_t": N_("Limit (t)"),
    "batteries": N_("Batteries"),
    "site": N_("Site"),
    "outlet_type": N_("Outlet type"),
    "manufacturer_code": N_("Manufacturer code"),
    "specification": N_("Specification"),
    "retired_by": N_("Retired by"),
    "last_recorded_pack": N_("Last recorded pack"),
}


# -- shared helpers (also used by the obligations page) ------------------------------------------


@cache
def ruleset() -> RuleSet:
    """The rules the engine judges by: packaged rulebooks plus ``BATTRACE_RULEBOOKS``."""
    return engine.default_rules()


def rule_title(t: Translator, rule_id: str, version: int) -> str:
    try:
        versions = ruleset().versions(rule_id)
    except UnknownRule:
        return rule_id
    for rule in versions:
        if rule.version == version:
            return t.pick(rule.title_zh, rule.title_en)
    return t.pick(versions[-1].title_zh, versions[-1].title_en) if versions else rule_id


def kind_label(t: Translator, kind: str) -> str:
    return t._(KINDS[kind]) if kind in KINDS else kind


def status_label(t: Translator, status: str) -> str:
    return t._(STATUS_LABELS[status]) if status in STATUS_LABELS else status


def actor_of(page: Page, user: Principal) -> Actor:
    """The signed-in user's organisation as an actor of the workflow."""
    try:
        return workflow.actor_of(page.store, user.organisation)
    except InvalidInput:
        raise PageError(403, page.t._("Access denied")) from None


def traceable(subject: str) -> bool:
    """Whether ``subject`` is a battery code or VIN (something the trace view shows)."""
    if is_vin(subject):
        return True
    try:
        parse_battery_code(subject)
    except InvalidInput:
        return False
    return True


class Names:
    """Enterprise and province names in the page's language."""

    def __init__(self, page: Page) -> None:
        self.t = page.t
        self.ents: dict[str, EnterpriseRow] = {e.uscc: e for e in page.store.list_enterprises()}

    def enterprise(self, uscc: str | None) -> str:
        if not uscc:
            return "—"
        bare = uscc.removeprefix(S.PARTY_URN).split(":", 1)[0]
        ent = self.ents.get(bare)
        return self.t.pick(ent.name_zh, ent.name_en) if ent else bare

    def province(self, code: str | None) -> str:
        prov = province_by_code(code or "")
        return self.t.pick(prov.name_zh, prov.name_en) if prov else (code or "—")


def _blank(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _filter(
    page: Page, kind: str, status: str, province: str = "", enterprise: str = ""
) -> engine.AlertFilter:
    try:
        return engine.AlertFilter(
            kind=_blank(kind),
            province=_blank(province),
            enterprise=_blank(enterprise),
            status=_blank(status),
        )
    except InvalidInput as exc:
        raise PageError(400, page.t._("Unknown filter value"), exc.reason) from None


def page_of_alerts(
    page: Page, scope: engine.Scope, flt: engine.AlertFilter, p: int
) -> tuple[list[engine.Alert], bool]:
    """Page ``p`` of the alerts (newest first) and whether there is a next page."""
    found = engine.list_alerts(page.store, scope, replace(flt, limit=p * PER_PAGE + 1))
    return found[(p - 1) * PER_PAGE : p * PER_PAGE], len(found) > p * PER_PAGE


def _visible(page: Page, actor: Actor, key: str) -> engine.Alert:
    """The alert ``key`` if it exists now and is within ``actor``'s jurisdiction."""
    t = page.t
    alert = engine.get_alert(page.store, key[:64])
    if alert is None or alert.first_detected > text_of(engine.now_us()):
        raise PageError(404, t._("Not found"), t._("There is no such alert."))
    if not actor.scope().allows(alert.province, alert.enterprise):
        raise PageError(
            403,
            t._("Access denied"),
            t._("This alert concerns an enterprise outside your jurisdiction."),
        )
    return alert


def _evidence(page: Page, ids: list[str], names: Names) -> list[dict[str, Any]]:
    """The evidence events as far as the viewer may read them (the API's read scope)."""
    organisation = page.store.get_enterprise(page.require_user().organisation)
    if organisation is None:
        return []
    scope = scope_for(organisation)
    out: list[dict[str, Any]] = []
    for event_id in ids[:MAX_EVIDENCE]:
        try:
            records = [
                r for r in event_records(page.store, scope, event_id) if not r.is_declaration
            ]
        except InvalidInput:
            records = []
        if not records:
            out.append({"id": event_id, "visible": False})
            continue
        rec = records[0]
        body = orjson.loads(rec.body)
        epcs = page.store.epcs_of_events([rec.seq]).get(rec.seq, [])
        codes = sorted(
            {
                epc.removeprefix(S.BATTERY_URN).removeprefix(S.VEHICLE_URN)
                for epc, _role in epcs
                if epc.startswith((S.BATTERY_URN, S.VEHICLE_URN))
            }
        )
        out.append(
            {
                "id": event_id,
                "visible": True,
                "time": rec.event_time,
                "recorded": rec.record_time,
                "step": vocab.step(page.t, body.get("bizStep")),
                "reporter": names.enterprise(rec.reporter),
                "codes": codes,
            }
        )
    return out


def _details(t: Translator, detail: dict[str, Any], names: Names) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in detail.items():
        if value is None or value == "":
            continue
        if key.endswith("_time"):
            text = t.datetime(str(value))
        elif key in ("receiver", "sender", "retired_by"):
            text = names.enterprise(str(value))
        elif isinstance(value, float):
            text = t.number(value, 3)
        elif isinstance(value, int) and not isinstance(value, bool):
            text = t.number(value)
        else:
            text = str(value)
        out.append((t._(DETAIL_LABELS[key]) if key in DETAIL_LABELS else key, text))
    return out


def _detail(
    page: Page,
    actor: Actor,
    key: str,
    audience: str,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    t = page.t
    alert = _visible(page, actor, key)
    names = Names(page)
    steps = workflow.history(page.store, alert.id, actor)
    notices = [n for n in workflow.notices(page.store, actor) if n.alert == alert.id]
    return render(
        page,
        "alert.html",
        status=status,
        audience=audience,
        alert=alert,
        names=names,
        title=rule_title(t, alert.rule, alert.rule_version),
        kind=kind_label(t, alert.kind),
        status_label=lambda s: status_label(t, s),
        details=_details(t, alert.detail, names),
        evidence=_evidence(page, alert.evidence, names),
        steps=steps,
        action_label=lambda a: t._(ACTIONS[a]) if a in ACTIONS else a,
        notices=notices,
        notice_status=lambda s: t._(NOTICE_STATUSES[s]) if s in NOTICE_STATUSES else s,
        traceable=traceable(alert.subject),
        today=china_today().isoformat(),
        error=error,
        form=form or {},
        done=page.request.query_params.get("done"),
    )


# -- regulators ----------------------------------------------------------------------------------


@router.get("/regulator/alerts")
def inbox(
    page: PageDep,
    kind: Annotated[str, Query(max_length=40)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    province: Annotated[str, Query(max_length=2)] = "",
    enterprise: Annotated[str, Query(max_length=18)] = "",
    p: Annotated[int, Query(ge=1, le=1000)] = 1,
) -> Response:
    user = page.require_regulator()
    actor = actor_of(page, user)
    t = page.t
    flt = _filter(page, kind=kind, status=status, province=province, enterprise=enterprise)
    items, more = page_of_alerts(page, actor.scope(), flt, p)
    provinces = (
        [(pr.code, t.pick(pr.name_zh, pr.name_en)) for pr in PROVINCES]
        if user.scope == NATIONAL
        else []
    )
    return render(
        page,
        "alerts.html",
        audience="regulator",
        items=items,
        more=more,
        p=p,
        names=Names(page),
        kinds=[(k, t._(v)) for k, v in KINDS.items()],
        statuses=[(s, status_label(t, s)) for s in STATUSES],
        provinces=provinces,
        own_province=None if provinces else Names(page).province(user.province),
        flt=flt,
        kind_label=lambda k: kind_label(t, k),
        status_label=lambda s: status_label(t, s),
        rule_title=lambda a: rule_title(t, a.rule, a.rule_version),
        notices=[],
    )


@router.get("/regulator/alerts/{key}")
def regulator_alert(page: PageDep, key: str) -> Response:
    user = page.require_regulator()
    return _detail(page, actor_of(page, user), key, "regulator")


def _due(page: Page, value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            "due", page.t._("Give the due date as a date, e.g. 2026-06-30.")
        ) from None


async def _step(
    request: Request,
    page: Page,
    key: str,
    audience: str,
    run: Callable[[Actor, dict[str, str]], Any],
    back: Callable[[Actor, dict[str, str]], str],
) -> Response:
    """Run one workflow step from a form: CSRF, scope, the service call, then back to the alert
    (or the alert again with the reason the step was refused)."""
    form = await read_form(request)
    check_csrf(page, form.get("csrf_token"))
    user = page.require_regulator() if audience == "regulator" else page.require_enterprise()
    actor = actor_of(page, user)
    t = page.t
    try:
        run(actor, form)
    except NotFound:
        raise PageError(404, t._("Not found"), t._("There is no such alert.")) from None
    except NotAuthorised as exc:
        raise PageError(403, t._("Access denied"), exc.reason) from None
    except Conflict as exc:
        return _detail(page, actor, key, audience, error=exc.reason, form=form, status=409)
    except InvalidInput as exc:
        message = f"{t._(FIELDS.get(exc.field, exc.field))}: {exc.reason}"
        return _detail(page, actor, key, audience, error=message, form=form, status=422)
    return RedirectResponse(back(actor, form), 303)


FIELDS: dict[str, str] = {
    "due": N_("Due date"),
    "requirement": N_("What must be put right"),
    "note": N_("Note"),
    "answer": N_("Answer"),
}


@router.post("/regulator/alerts/{key}/acknowledge")
async def acknowledge(request: Request, page: PageDep, key: str) -> Response:
    def run(actor: Actor, form: dict[str, str]) -> None:
        _visible(page, actor, key)
        workflow.acknowledge(page.store, key, actor, form.get("note", ""))

    return await _step(
        request, page, key, "regulator", run, lambda *_: f"/regulator/alerts/{key}?done=acknowledge"
    )


@router.post("/regulator/alerts/{key}/notice")
async def notice(request: Request, page: PageDep, key: str) -> Response:
    def run(actor: Actor, form: dict[str, str]) -> None:
        _visible(page, actor, key)
        due = _due(page, form.get("due", ""))
        workflow.issue_notice(page.store, key, actor, due, form.get("requirement", ""))

    return await _step(
        request, page, key, "regulator", run, lambda *_: f"/regulator/alerts/{key}?done=notice"
    )


@router.post("/regulator/alerts/{key}/close")
async def close(request: Request, page: PageDep, key: str) -> Response:
    def run(actor: Actor, form: dict[str, str]) -> None:
        _visible(page, actor, key)
        workflow.close(page.store, key, actor, form.get("note", ""))

    return await _step(
        request, page, key, "regulator", run, lambda *_: f"/regulator/alerts/{key}?done=close"
    )


# -- enterprises ---------------------------------------------------------------------------------


@router.get("/my/alerts")
def my_alerts(
    page: PageDep,
    kind: Annotated[str, Query(max_length=40)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    p: Annotated[int, Query(ge=1, le=1000)] = 1,
) -> Response:
    user = page.require_enterprise()
    actor = actor_of(page, user)
    t = page.t
    flt = _filter(page, kind=kind, status=status)
    items, more = page_of_alerts(page, actor.scope(), flt, p)
    notices = workflow.notices(page.store, actor)
    notices.sort(key=lambda n: (n.status != "issued", n.due_date if n.status == "issued" else ""))
    return render(
        page,
        "alerts.html",
        audience="enterprise",
        items=items,
        more=more,
        p=p,
        names=Names(page),
        kinds=[(k, t._(v)) for k, v in KINDS.items()],
        statuses=[(s, status_label(t, s)) for s in STATUSES],
        provinces=[],
        own_province=None,
        flt=flt,
        kind_label=lambda k: kind_label(t, k),
        status_label=lambda s: status_label(t, s),
        rule_title=lambda a: rule_title(t, a.rule, a.rule_version),
        notices=notices,
        notice_status=lambda s: t._(NOTICE_STATUSES[s]) if s in NOTICE_STATUSES else s,
        today=china_today().isoformat(),
        done=page.request.query_params.get("done"),
        action_label=lambda a: t._(ACTIONS[a]) if a in ACTIONS else a,
    )


@router.get("/my/alerts/{key}")
def my_alert(page: PageDep, key: str) -> Response:
    user = page.require_enterprise()
    return _detail(page, actor_of(page, user), key, "enterprise")


@router.post("/my/notices/{notice_id}/answer")
async def answer(request: Request, page: PageDep, notice_id: int) -> Response:
    check_csrf(page, (await read_form(request)).get("csrf_token"))  # before saying what exists
    page.require_enterprise()
    try:
        key = workflow.notice_alert(page.store, notice_id)
    except NotFound:
        raise PageError(
            404, page.t._("Not found"), page.t._("There is no such rectification notice.")
        ) from None

    def run(actor: Actor, form: dict[str, str]) -> None:
        _visible(page, actor, key)
        workflow.answer_notice(page.store, notice_id, actor, form.get("answer", ""))

    def back(_actor: Actor, form: dict[str, str]) -> str:
        return (
            "/my/alerts?done=answer"
            if form.get("back") == "list"
            else (f"/my/alerts/{key}?done=answer")
        )

    return await _step(request, page, key, "enterprise", run, back)
