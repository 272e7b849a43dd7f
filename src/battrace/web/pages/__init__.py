"""Server-rendered pages of the web application (Jinja2, zh-CN and English).

``router`` is included by :func:`battrace.web.app.create_app`. It serves the pages, and their
static assets under ``/static/`` (CSS, JavaScript, the vendored Apache ECharts and China map data),
so the application works with no internet access and no change to the app factory.

Modules: ``context`` (language, session, CSRF, rendering), ``public`` (home, battery lookup, rules
and standards, QR labels), ``account`` (login/logout), ``enterprise`` (my batteries, trace, upload
centre, API keys), ``regulator`` (national and provincial overview, data downloads), ``figures``
(the numbers behind the charts), ``upload`` (reporting templates), ``tables`` (CSV/XLSX).
"""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from battrace.web.pages.context import STATIC, PageRoute

router = APIRouter(route_class=PageRoute, include_in_schema=False)

mimetypes.add_type("application/javascript", ".js")
mimetypes.add_type("application/geo+json", ".geojson")


@router.get("/static/{path:path}")
def static(path: str) -> Response:
    """Vendored and own assets. Paths are resolved inside the static folder only."""
    target = (STATIC / path).resolve()
    if not target.is_relative_to(STATIC) or not target.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(
        target,
        headers={
            "Cache-Control": "public, max-age=86400",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/favicon.ico")
def favicon() -> Response:
    return FileResponse(STATIC / "img" / "icon.svg", media_type="image/svg+xml")


def _include() -> None:
    from battrace.web.pages import (
        account,
        alerts,
        enterprise,
        obligations,
        public,
        regulator,
        responsibility,
    )

    for module in (public, account, enterprise, regulator, alerts, obligations, responsibility):
        router.include_router(module.router)


_include()

__all__ = ["router"]
