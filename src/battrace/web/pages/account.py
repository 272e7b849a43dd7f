"""Sign in and sign out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from battrace.services import users
from battrace.web.pages.context import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Page,
    PageRoute,
    apply_cookies,
    check_csrf,
    get_page,
    read_form,
    render,
)

router = APIRouter(route_class=PageRoute)
PageDep = Annotated[Page, Depends(get_page)]


def _safe_next(value: str | None) -> str | None:
    """Only a path on this site (no scheme, no host, no ``//evil``): no open redirect."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    return value[:500]


def home_of(user: users.Principal) -> str:
    return "/regulator" if user.is_regulator else "/my/batteries"


@router.get("/login")
def login_form(
    page: PageDep, next: Annotated[str | None, Query(max_length=500)] = None
) -> Response:
    if page.user is not None:
        return RedirectResponse(_safe_next(next) or home_of(page.user), 303)
    return render(page, "login.html", next=_safe_next(next) or "", error=None, username="")


@router.post("/login")
async def login(request: Request, page: PageDep) -> Response:
    form = await read_form(request)
    check_csrf(page, form.get("csrf_token"))
    username = form.get("username", "").strip()[:64]
    password = form.get("password", "")
    nxt = _safe_next(form.get("next"))
    t = page.t
    try:
        user = users.authenticate(page.store, username, password)
    except users.LoginRefused as exc:
        if exc.reason == "locked":
            message = t._(
                "Too many failed attempts: this account is locked for %(minutes)s minutes."
            ) % {"minutes": users.LOCK_MINUTES}
        elif exc.reason == "disabled":
            message = t._("This account is disabled.")
        else:
            message = t._("Wrong user name or password.")
        return render(
            page, "login.html", status=401, next=nxt or "", error=message, username=username
        )
    session = users.create_session(page.store, user.user_id)
    response = RedirectResponse(nxt or home_of(user), 303)
    # A new session gets a fresh CSRF token (the session's own); the pre-login one is dropped.
    page.cookies.append((SESSION_COOKIE, session.token, users.SESSION_HOURS * 3600))
    page.cookies.append((CSRF_COOKIE, "", 0))
    return apply_cookies(page, response)


@router.post("/logout")
async def logout(request: Request, page: PageDep) -> Response:
    form = await read_form(request)
    if page.user is not None:
        check_csrf(page, form.get("csrf_token"))
        users.end_session(page.store, request.cookies.get(SESSION_COOKIE, ""))
    page.cookies.append((SESSION_COOKIE, "", 0))
    return apply_cookies(page, RedirectResponse("/login", 303))
