"""What every page needs: the store, the visitor's language, who is signed in, CSRF, rendering.

Security decisions, in one place:

* **Session cookie** ``battrace_session``: random 256-bit token, ``HttpOnly``, ``SameSite=Lax``,
  ``Secure`` whenever the request came over HTTPS (uvicorn sets the scheme from
  ``X-Forwarded-Proto`` of a trusted proxy), ``Path=/``. Only its SHA-256 is stored.
* **CSRF**: every state-changing request is a POST carrying a token (form field ``csrf_token`` or
  header ``X-CSRF-Token``). Signed in, the token is the session's own; before sign-in (the login
  form) it is the double-submit cookie ``battrace_csrf``. A present ``Origin`` header must be this
  host. Lax cookies already stop cross-site POSTs in current browsers; the token covers older ones.
* **Content-Security-Policy**: scripts and styles only from this server (charts draw with inline
  style attributes, hence ``style-src 'unsafe-inline'``); no framing; nothing from the internet.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape

from battrace import __version__
from battrace.config import Settings
from battrace.persistence import open_store
from battrace.persistence.base import StorageError, Store
from battrace.services import users
from battrace.services.users import Principal
from battrace.web import i18n
from battrace.web.i18n import Translator

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

SESSION_COOKIE = "battrace_session"
CSRF_COOKIE = "battrace_csrf"
LANG_COOKIE = "battrace_lang"
MAX_FORM_BYTES = 256 * 1024

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


class PageError(Exception):
    """Stop and show an error page (403 access denied, 404 not found, 400 bad request …)."""

    def __init__(self, status: int, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail


def _gettext(message: str) -> str:
    return i18n.current.get().gettext(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return i18n.current.get().ngettext(singular, plural, n)


@cache
def static_version(path: str) -> str:
    """A short content hash for cache busting (``/static/css/app.css?v=…``)."""
    try:
        return hashlib.sha256((STATIC / path).read_bytes()).hexdigest()[:10]
    except OSError:
        return __version__


def static_url(path: str) -> str:
    return f"/static/{path}?v={static_version(path)}"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["static_url"] = static_url
    env.globals["version"] = __version__
    env.policies["ext.i18n.trimmed"] = True
    return env


ENV = _environment()


def _store_of(request: Request) -> tuple[Store, Settings]:
    """The app's store and settings: those of ``app.state.runtime`` (set by ``create_app``), else
    ``app.state.store``/``settings``, else one store per application opened from the environment."""
    state = request.app.state
    runtime = getattr(state, "runtime", None)
    if runtime is not None:
        return runtime.store, runtime.settings
    store = getattr(state, "store", None)
    settings = getattr(state, "settings", None)
    if settings is None:
        settings = Settings.from_env()
        state.settings = settings
    if store is None:
        store = getattr(state, "pages_store", None)
        if store is None:
            store = open_store(settings.database_url)
            state.pages_store = store
    return store, settings


@dataclass(slots=True)
class Page:
    """The request as the pages see it."""

    request: Request
    store: Store
    settings: Settings
    t: Translator
    user: Principal | None
    csrf: str
    cookies: list[tuple[str, str, int | None]] = field(default_factory=list)

    @property
    def secure(self) -> bool:
        return self.request.url.scheme == "https"

    def url_with(self, **params: str | None) -> str:
        """The current URL with some query parameters replaced (None removes one)."""
        query = dict(self.request.query_params)
        for k, v in params.items():
            if v is None:
                query.pop(k, None)
            else:
                query[k] = v
        path = self.request.url.path
        return path + ("?" + urlencode(query) if query else "")

    def require_user(self) -> Principal:
        if self.user is None:
            raise LoginRequired(
                self.request.url.path
                + ("?" + self.request.url.query if self.request.url.query else "")
            )
        return self.user

    def require_regulator(self) -> Principal:
        user = self.require_user()
        if not user.is_regulator:
            raise PageError(
                403, self.t._("Access denied"), self.t._("This page is for regulators.")
            )
        return user

    def require_enterprise(self) -> Principal:
        user = self.require_user()
        if user.is_regulator:
            raise PageError(
                403, self.t._("Access denied"), self.t._("This page is for enterprise users.")
            )
        return user


class LoginRequired(Exception):
    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def get_page(request: Request) -> Page:
    """FastAPI dependency: build the :class:`Page` of a request."""
    store, settings = _store_of(request)
    cookies: list[tuple[str, str, int | None]] = []
    user: Principal | None = None
    csrf = ""
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        found = users.session_principal(store, token)
        if found is not None:
            user, csrf = found
        else:
            cookies.append((SESSION_COOKIE, "", 0))  # stale cookie: clear it
    if not csrf:
        csrf = request.cookies.get(CSRF_COOKIE, "")
        if len(csrf) < 32:
            csrf = secrets.token_urlsafe(32)
            cookies.append((CSRF_COOKIE, csrf, None))
    chosen = i18n.parse_locale(request.query_params.get("lang"))
    if chosen is not None:
        cookies.append((LANG_COOKIE, chosen, 365 * 24 * 3600))
        if user is not None and user.language != chosen:
            users.set_language(store, user.user_id, chosen)
    locale = (
        chosen
        or i18n.parse_locale(request.cookies.get(LANG_COOKIE))
        or (user.language if user is not None else None)
        or i18n.negotiate(request.headers.get("accept-language"))
    )
    return Page(request, store, settings, Translator(locale), user, csrf, cookies)


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the only kind of form the pages post)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise PageError(413, "form too large")
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        raise PageError(400, "malformed form") from None
    return {k: v[0] for k, v in parsed.items()}


def check_csrf(page: Page, supplied: str | None) -> None:
    """Refuse a state-changing request without the right token or from another origin."""
    origin = page.request.headers.get("origin")
    if origin and origin != "null":
        expected = f"{page.request.url.scheme}://{page.request.url.netloc}"
        if origin != expected:
            raise PageError(403, page.t._("Request refused"), page.t._("Cross-site request."))
    if not supplied or not page.csrf or not hmac.compare_digest(supplied, page.csrf):
        raise PageError(
            403,
            page.t._("Request refused"),
            page.t._("The form has expired. Reload the page and try again."),
        )


def apply_cookies(page: Page, response: Response) -> Response:
    for name, value, max_age in page.cookies:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            httponly=name != LANG_COOKIE,
            samesite="strict" if name == CSRF_COOKIE else "lax",
            secure=page.secure,
            path="/",
        )
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if page.user is not None:
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def render(page: Page, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    token = i18n.current.set(page.t)
    try:
        html = ENV.get_template(template).render(
            page=page,
            t=page.t,
            user=page.user,
            csrf=page.csrf,
            lang=page.t.locale,
            lang_tag=page.t.tag,
            switch={loc: page.url_with(lang=loc) for loc in i18n.LOCALES},
            path=page.request.url.path,
            **values,
        )
    finally:
        i18n.current.reset(token)
    response = HTMLResponse(html, status_code=status)
    return apply_cookies(page, response)  # type: ignore[return-value]


def error_page(page: Page, status: int, message: str, detail: str = "") -> HTMLResponse:
    return render(
        page, "error.html", status=status, status_code=status, message=message, detail=detail
    )


class PageRoute(APIRoute):
    """Turns :class:`PageError` into a translated error page and :class:`LoginRequired` into a
    redirect to the login form, for every page route (no app-wide exception handler needed)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as exc:
                return RedirectResponse(f"/login?next={quote(exc.next_url, safe='')}", 303)
            except PageError as exc:
                return error_page(get_page(request), exc.status, exc.message, exc.detail)
            except StorageError as exc:
                page = get_page(request)
                return error_page(page, 503, page.t._("The database is not available"), str(exc))

        return run
