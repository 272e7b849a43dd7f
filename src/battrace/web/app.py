"""The web platform. In this release: health and a status page; the EPCIS REST interface,
the domain API and the web application build on the same composition root."""

from __future__ import annotations

from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from battrace import __version__
from battrace.config import Settings
from battrace.persistence import open_store
from battrace.persistence.base import StorageError


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    store = open_store(settings.database_url)
    app = FastAPI(title="battrace", version=__version__)

    @app.get("/health")
    def health() -> JSONResponse:
        try:
            head = store.head()
        except StorageError as exc:
            return JSONResponse({"status": "error", "detail": str(exc)}, status_code=503)
        return JSONResponse(
            {
                "status": "ok",
                "version": __version__,
                "events": head.event_count,
                "captures": head.capture_seq,
                "head": head.head,
            }
        )

    @app.get("/", response_class=HTMLResponse)
    def status_page() -> str:
        head = store.head()
        backend = "PostgreSQL" if settings.database_url.startswith("postgres") else "SQLite"
        return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>battrace 动力电池溯源</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family:sans-serif;max-width:40rem;margin:2rem auto">
<h1>battrace</h1>
<p>新能源汽车动力电池溯源与回收利用监管平台 / EV battery traceability and recycling supervision</p>
<table>
<tr><th scope="row">版本 Version</th><td>{escape(__version__)}</td></tr>
<tr><th scope="row">数据库 Database</th><td>{backend}</td></tr>
<tr><th scope="row">事件 Events</th><td>{head.event_count:,}</td></tr>
<tr><th scope="row">提交批次 Captures</th><td>{head.capture_seq:,}</td></tr>
<tr><th scope="row">账本头 Ledger head</th><td><code>{escape(head.head)}</code></td></tr>
</table></body></html>"""

    from battrace.web import pages, passport

    app.include_router(passport.router)
    app.include_router(pages.router)
    return app
