"""Pages of signed-in users: the trace view (every user, scoped), and the enterprise pages — my
batteries, the upload centre with its templates, API keys."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import and_, func, select

from battrace.domain.errors import InvalidInput
from battrace.persistence.schema import objects
from battrace.services.capture import Ledger
from battrace.services.ledgers import ledger_for
from battrace.web.pages import upload, vocab
from battrace.web.pages.access import Denied, lookup_code, scoped_trace
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


# -- trace -------------------------------------------------------------------------------------


@router.get("/trace")
def trace_search(
    page: PageDep, code: Annotated[str | None, Query(max_length=200)] = None
) -> Response:
    page.require_user()
    if code:
        try:
            return RedirectResponse(f"/trace/{lookup_code(code)}", 303)
        except InvalidInput:
            pass
    return render(page, "trace_search.html", code=code or "")


@router.get("/trace/{code}")
def trace_view(page: PageDep, code: str) -> Response:
    user = page.require_user()
    t = page.t
    try:
        data = scoped_trace(page.store, user, code[:60])
    except Denied:
        raise PageError(
            403,
            t._("Access denied"),
            t._("This battery's records are outside your jurisdiction or your enterprise's data."),
        ) from None
    except InvalidInput as exc:
        raise PageError(404, t._("Not found"), str(exc)) from None
    ents = {e.uscc: e for e in page.store.list_enterprises()}

    def party(uri: str | None) -> str:
        if not uri:
            return "—"
        uscc = uri.removeprefix("urn:uscc:").split(":", 1)[0]
        ent = ents.get(uscc)
        return t.pick(ent.name_zh, ent.name_en) if ent else uscc

    return render(
        page,
        "trace.html",
        data=data,
        party=party,
        step=lambda s: vocab.step(t, s),
        state=lambda s: vocab.state(t, s),
    )


# -- my batteries ------------------------------------------------------------------------------


@router.get("/my/batteries")
def my_batteries(
    page: PageDep,
    q: Annotated[str, Query(max_length=40)] = "",
    state: Annotated[str, Query(max_length=20)] = "",
    p: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    user = page.require_enterprise()
    conds = [objects.c.holder == user.party, objects.c.kind == "battery"]
    needle = q.strip().upper().removeprefix("URN:GBT34014:")
    if needle:
        if not needle.isalnum():
            raise PageError(400, page.t._("Search for letters and digits of a battery code."))
        conds.append(objects.c.epc.like(f"%{needle}%"))
    if state:
        if state not in vocab.STATES:
            raise PageError(400, page.t._("Unknown filter value"))
        conds.append(objects.c.state == state)
    where = and_(*conds)
    engine: Any = page.store.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(objects).where(where)).scalar_one()
        rows = conn.execute(
            select(objects.c.epc, objects.c.state, objects.c.last_event_time, objects.c.view)
            .where(where)
            .order_by(objects.c.last_event_time.desc(), objects.c.epc)
            .limit(PER_PAGE)
            .offset((p - 1) * PER_PAGE)
        ).all()
    items = []
    for r in rows:
        attrs = orjson.loads(r.view).get("attributes") or {}
        items.append(
            {
                "code": r.epc.removeprefix("urn:gbt34014:"),
                "state": r.state,
                "last": r.last_event_time,
                "chemistry": attrs.get("chemistry"),
                "energy": attrs.get("ratedEnergyKWh"),
            }
        )
    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    return render(
        page,
        "my_batteries.html",
        items=items,
        total=total,
        q=q,
        state=state,
        p=p,
        pages=pages,
        states=[
            (k, page.t._(v)) for k, v in vocab.STATES.items() if k not in ("scrapped", "unknown")
        ],
        state_label=lambda s: vocab.state(page.t, s),
    )


# -- upload centre -----------------------------------------------------------------------------


@router.get("/my/upload")
def upload_centre(page: PageDep) -> Response:
    user = page.require_enterprise()
    steps = upload.steps_for(user.roles)
    return render(
        page, "upload.html", steps=steps, max_mb=upload.MAX_BYTES // 2**20, max_rows=upload.MAX_ROWS
    )


def _step(page: Page, key: str) -> upload.Step:
    user = page.require_enterprise()
    step = upload.STEP_BY_KEY.get(key)
    if step is None or not any(r in step.roles for r in user.roles):
        raise PageError(404, page.t._("No such template for your enterprise's roles."))
    return step


@router.get("/my/upload/template/{key}.csv")
def template_csv(page: PageDep, key: str) -> Response:
    step = _step(page, key)
    return Response(
        upload.template_csv(step),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="battrace-{step.key}.csv"'},
    )


@router.get("/my/upload/template/{key}.xlsx")
def template_xlsx(page: PageDep, key: str) -> Response:
    step = _step(page, key)
    return Response(
        upload.template_xlsx(step, page.t),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="battrace-{step.key}.xlsx"'},
    )


@router.post("/my/upload/{key}")
async def upload_file(request: Request, page: PageDep, key: str) -> Response:
    """The file is the raw request body (sent by the page's script with upload progress); the
    CSRF token travels in the ``X-CSRF-Token`` header. Answers with the report as HTML."""
    check_csrf(page, request.headers.get("x-csrf-token"))
    step = _step(page, key)
    user = page.require_enterprise()
    length = int(request.headers.get("content-length") or 0)
    if length > upload.MAX_BYTES:
        raise PageError(
            413, page.t._("The file is larger than %(mb)s MB.") % {"mb": upload.MAX_BYTES // 2**20}
        )
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > upload.MAX_BYTES:
            raise PageError(
                413,
                page.t._("The file is larger than %(mb)s MB.") % {"mb": upload.MAX_BYTES // 2**20},
            )
    enterprise = page.store.get_enterprise(user.organisation)
    if enterprise is None:
        raise PageError(403, page.t._("Access denied"))
    filename = unquote(request.headers.get("x-filename", ""))[:200]
    try:
        report = upload.capture_file(_ledger(request, page), bytes(data), step, enterprise, page.t)
    except upload.FileRejected as exc:
        return render(
            page,
            "upload_report.html",
            status=422,
            report=None,
            message=str(exc),
            filename=filename,
            step=step,
        )
    return render(
        page,
        "upload_report.html",
        status=200 if report.ok else 422,
        report=report,
        message=None,
        filename=filename,
        step=step,
    )


# -- API keys ----------------------------------------------------------------------------------


def _keys(
    page: Page, new_key: str | None = None, error: str | None = None, status: int = 200
) -> Response:
    from battrace.services import keys

    user = page.require_enterprise()
    rows = sorted(
        keys.list_keys(page.store, user.organisation), key=lambda k: k.created_at, reverse=True
    )
    return render(page, "keys.html", status=status, keys=rows, new_key=new_key, error=error)


def _ledger(request: Request, page: Page) -> Ledger:
    """The app's ledger (the regulation engine and the read-scope index attached), so an upload
    is judged and visible like any other capture; a bare app gets one of its own."""
    rt = getattr(request.app.state, "runtime", None)
    return rt.ledger if rt is not None else ledger_for(page.store, page.settings)


@router.get("/my/keys")
def api_keys(page: PageDep) -> Response:
    return _keys(page)


@router.post("/my/keys")
async def api_keys_post(request: Request, page: PageDep) -> Response:
    """Create (``action=create``, ``name``) or revoke (``action=revoke``, ``key_id``) a key of
    the user's own enterprise. A new key is shown once, on this response only."""
    from battrace.services import keys

    user = page.require_enterprise()
    form = await read_form(request)
    check_csrf(page, form.get("csrf_token"))
    action = form.get("action")
    t = page.t
    if action == "create":
        name = form.get("name", "").strip()
        if len(name) > 200:
            return _keys(page, error=t._("The name is longer than 200 characters."), status=422)
        _row, secret = keys.create_key(page.store, user.organisation, name)
        return _keys(page, new_key=secret)
    if action == "revoke":
        key_id = form.get("key_id", "")
        own = {k.key_id for k in keys.list_keys(page.store, user.organisation)}
        if key_id not in own:
            raise PageError(
                403, t._("Access denied"), t._("This key belongs to another enterprise.")
            )
        try:
            keys.revoke_key(page.store, key_id)
        except InvalidInput as exc:
            return _keys(page, error=exc.reason, status=422)
        return RedirectResponse("/my/keys", 303)
    raise PageError(400, t._("Unknown action."))
