"""HTTP endpoints of the battery passport.

=====================================  ========================================================
``GET /passport/{code}``               the passport: JSON in a model (``?model=`` or ``Accept``
                                       profile), or a small HTML page when a browser asks
                                       (``Accept: text/html``, e.g. after scanning the label)
``GET /passport/{code}/versions``      the published versions (numbers, times, ledger heads)
``GET /passport/{code}/versions/{n}``  one published version as compact JWS (application/jose)
``GET /passport/jwks.json``            the platform's signing key (JWK Set) for verifiers
``GET /01/{gtin}/21/{serial}``         GS1 Digital Link resolver: the passport of that item
=====================================  ========================================================

``?audience=public|legitimate|authority`` chooses the Annex XIII view (default public). Who may
ask for which audience is decided by :func:`granted_audiences`: the roles of the enterprise behind
an interface key or of a signed-in web user's organisation; anyone else is the public. Errors are
RFC 9457 problem details.

The router takes the ledger and the settings from ``app.state.runtime`` (set by ``create_app``),
or from ``app.state.store`` / ``app.state.settings`` on a bare app (:func:`_context`).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from battrace.config import Settings
from battrace.domain.errors import BattraceError, InvalidInput
from battrace.domain.identities.uris import digital_link_uri
from battrace.domain.passport import (
    ATTRIBUTES,
    BATTRACE,
    PROFILES,
    Audience,
    audiences_for_roles,
    model_for_profile,
    parse_audience,
    parse_model,
)
from battrace.persistence.base import StorageError, Store
from battrace.services import passport as service
from battrace.services import users
from battrace.web.pages.context import SESSION_COOKIE

router = APIRouter()

#: ``request.state`` attribute where authentication records the audiences a caller may use.
AUDIENCES_STATE: Final = "passport_audiences"
JOSE: Final = "application/jose"


class _Problem(Exception):
    def __init__(self, status: int, title: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.field = field


def problem(status: int, title: str, detail: str, field: str | None = None) -> JSONResponse:
    """An RFC 9457 problem details response."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    if field:
        body["errors"] = [{"field": field, "reason": detail}]
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _context(request: Request) -> tuple[Store, Settings]:
    """The ledger and settings of the app: ``app.state.runtime`` (the HTTP interface's shared
    objects) or, for a bare app, ``app.state.store`` and ``app.state.settings``."""
    state = request.app.state
    holder = getattr(state, "runtime", None) or state
    store = getattr(holder, "store", None)
    settings = getattr(holder, "settings", None)
    if not isinstance(store, Store) or not isinstance(settings, Settings):
        raise _Problem(
            503,
            "Service Unavailable",
            "the passport service is not wired: the app has no ledger (app.state.runtime)",
        )
    return store, settings


def granted_audiences(request: Request) -> frozenset[Audience]:
    """The audiences the caller may ask for (always including public).

    In order: audiences an outer layer recorded on ``request.state.passport_audiences`` (or a
    replacement of this dependency through ``app.dependency_overrides``); the roles of the
    enterprise behind an interface key (``Authorization: Bearer btk_…``, 401 if unknown); the
    roles of the organisation of a signed-in web user (session cookie). Roles map to audiences
    by ``battrace.domain.passport.audiences_for_roles``. Anyone else is the public.
    """
    granted = getattr(request.state, AUDIENCES_STATE, None)
    if granted:
        return frozenset({Audience.PUBLIC, *granted})
    roles = _caller_roles(request)
    return audiences_for_roles(roles) if roles else frozenset({Audience.PUBLIC})


def _caller_roles(request: Request) -> tuple[str, ...]:
    """Roles of whoever the request authenticates as: a bearer key, else a web session."""
    if getattr(request.app.state, "runtime", None) is None:
        return ()  # a bare app (tests, embedding) has no key or user registry
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        from battrace.web.auth import authenticate  # needs the runtime; 401/429 as problems

        return tuple(authenticate(request, token.strip()).enterprise.roles)
    session = request.cookies.get(SESSION_COOKIE, "")
    if session:
        store, _ = _context(request)
        found = users.session_principal(store, session)
        if found is not None:
            return found[0].roles
    return ()


@dataclass(frozen=True)
class AudienceChoice:
    """The audience a request asked for and whether the caller may have it. Resolved by the
    dependency, enforced in the endpoint (so a refusal is a problem-details response)."""

    wanted: Audience | None
    error: _Problem | None = None

    def get(self) -> Audience:
        if self.error is not None:
            raise self.error
        assert self.wanted is not None
        return self.wanted


def resolve_audience(
    granted: Annotated[frozenset[Audience], Depends(granted_audiences)],
    audience: Annotated[str | None, Query(description="public, legitimate or authority")] = None,
) -> AudienceChoice:
    """The audience of this request: ``?audience=`` (default public), if the caller is granted it
    (400 for an unknown audience, 403 for one the caller is not granted)."""
    try:
        wanted = parse_audience(audience)
    except InvalidInput as exc:
        return AudienceChoice(None, _Problem(400, "Bad Request", exc.reason, "audience"))
    if wanted not in granted:
        detail = f"the {wanted.value} view of a passport needs credentials for that audience"
        return AudienceChoice(None, _Problem(403, "Forbidden", detail, "audience"))
    return AudienceChoice(wanted)


def _positive(value: str | None, field: str) -> int | None:
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or int(value) < 1 or len(value) > 9:
        raise _Problem(400, "Bad Request", "must be a whole number of 1 or more", field)
    return int(value)


def _accept(header: str) -> list[tuple[str, dict[str, str]]]:
    """Media ranges of an ``Accept`` header with their parameters, best ``q`` first (stable)."""
    ranges: list[tuple[float, int, str, dict[str, str]]] = []
    for i, item in enumerate(header.split(",")[:50]):
        media, *raw = (p.strip() for p in item.split(";"))
        params = {}
        for p in raw:
            name, _, value = p.partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
        try:
            q = float(params.pop("q", "1"))
        except ValueError:
            q = 0.0
        if q > 0:
            ranges.append((-q, i, media.lower(), params))
    return [(media, params) for _, _, media, params in sorted(ranges)]


def _negotiate(request: Request, model: str | None) -> str:
    """``html``, or a model name: ``?model=`` first, then the ``Accept`` header (a ``profile``
    parameter names the model; a browser's ``text/html`` gets the page)."""
    if model is not None:
        try:
            return parse_model(model)
        except InvalidInput as exc:
            raise _Problem(400, "Bad Request", exc.reason, "model") from None
    for media, params in _accept(request.headers.get("accept", "")):
        if media in ("text/html", "application/xhtml+xml"):
            return "html"
        if media in ("application/json", "application/ld+json", "application/*", "*/*"):
            profile = params.get("profile")
            if profile is None:
                return BATTRACE
            found = model_for_profile(profile)
            if found is None:
                raise _Problem(
                    406, "Not Acceptable", f"unknown passport profile {profile[:80]!r}", "Accept"
                )
            return found
    return BATTRACE


def _run(fn: Any) -> Any:
    try:
        return fn()
    except _Problem as exc:
        return problem(exc.status, exc.title, exc.detail, exc.field)
    except InvalidInput as exc:
        status = 404 if "is not in the ledger" in exc.reason or exc.field == "version" else 400
        title = "Not Found" if status == 404 else "Bad Request"
        return problem(status, title, exc.reason, exc.field)
    except StorageError as exc:
        return problem(503, "Service Unavailable", str(exc))
    except BattraceError as exc:
        return problem(400, "Bad Request", str(exc))


def _json(doc: Any, model: str) -> Response:
    profile = PROFILES[model][1] if len(PROFILES[model]) > 1 else PROFILES[model][0]
    return Response(
        orjson.dumps(doc),
        media_type=f'application/json; profile="{profile}"',
        headers={"Vary": "Accept"},
    )


@router.get("/passport/jwks.json")
def passport_keys(request: Request) -> Response:
    """The key that signs published passport versions (pin it to verify them offline)."""

    def go() -> Response:
        _, settings = _context(request)
        return JSONResponse(service.jwks(settings.key_file))

    result: Response = _run(go)
    return result


@router.get("/passport/{code}")
def get_passport(
    request: Request,
    code: str,
    choice: Annotated[AudienceChoice, Depends(resolve_audience)],
    model: Annotated[
        str | None, Query(description="battrace, batterypass, catenax or idta")
    ] = None,
    version: Annotated[str | None, Query(description="a published version (1, 2 …)")] = None,
) -> Response:
    """The passport of one battery for the caller's audience."""

    def go() -> Response:
        audience = choice.get()
        number = _positive(version, "version")
        store, _ = _context(request)
        fmt = _negotiate(request, model)
        if fmt == "html":
            doc = service.export(store, code, BATTRACE, audience, number)
            return HTMLResponse(_page(doc), headers={"Vary": "Accept"})
        return _json(service.export(store, code, fmt, audience, number), fmt)

    result: Response = _run(go)
    return result


@router.get("/passport/{code}/versions")
def list_versions(request: Request, code: str) -> Response:
    def go() -> Response:
        store, _ = _context(request)
        return JSONResponse({"versions": service.versions(store, code)})

    result: Response = _run(go)
    return result


@router.get("/passport/{code}/versions/{number}")
def get_version(
    request: Request,
    code: str,
    number: str,
    choice: Annotated[AudienceChoice, Depends(resolve_audience)],
) -> Response:
    """One published version, signed (compact JWS). Immutable, so it may be cached forever."""

    def go() -> Response:
        audience = choice.get()
        version = _positive(number, "number")
        assert version is not None
        store, _ = _context(request)
        token = service.version_token(store, code, version, audience)
        return Response(
            token,
            media_type=JOSE,
            headers={"Cache-Control": "public, max-age=31536000, immutable"},
        )

    result: Response = _run(go)
    return result


@router.get("/01/{gtin}/21/{serial}")
def gs1_digital_link(request: Request, gtin: str, serial: str) -> Response:
    """GS1 Digital Link (ISO/IEC 18975) for a serialised item: redirect to its passport."""

    def go() -> Response:
        store, _ = _context(request)
        try:
            link = digital_link_uri(gtin, serial)
        except InvalidInput as exc:
            raise _Problem(400, "Bad Request", exc.reason, exc.field) from None
        uri = service.resolve(store, link)
        target = request.url_for("get_passport", code=uri).include_query_params(
            **dict(request.query_params)
        )
        return RedirectResponse(str(target), status_code=307)

    result: Response = _run(go)
    return result


def _fmt(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_fmt(v) for v in value[:20]) + (" …" if len(value) > 20 else "")
    return str(value)


def _page(doc: dict[str, Any]) -> str:
    """A minimal, self-contained page of what this audience may see (the web application's
    passport page can replace it); every value is escaped."""
    rows = []
    for key, entry in doc["attributes"].items():
        if key == "lifecycleEvents":
            continue
        name = ATTRIBUTES[key].name
        rows.append(
            f"<tr><th scope=row>{escape(name)}</th><td>{escape(_fmt(entry['value']))}</td></tr>"
        )
    missing = "".join(f"<li>{escape(m['name'])}</li>" for m in doc["missing"])
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>电池护照 Battery passport {escape(doc["battery"])}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family:sans-serif;max-width:48rem;margin:2rem auto">
<h1>电池护照 / Battery passport</h1>
<p><code>{escape(doc["battery"])}</code> · {escape(doc["passportIdentifier"])}</p>
<p>视图 View: {escape(str(doc["audience"]))} · 账本头 Ledger head
<code>{escape(doc["ledger"]["head"])}</code></p>
<table>{"".join(rows)}</table>
<h2>未掌握的数据 Not held</h2><ul>{missing}</ul>
</body></html>"""


__all__ = [
    "AUDIENCES_STATE",
    "AudienceChoice",
    "granted_audiences",
    "problem",
    "resolve_audience",
    "router",
]
