"""The web platform: health, the status page, the EPCIS 2.0 REST interface (``/capture``,
``/events`` and the resource-oriented endpoints), the domain API (``/api/``), and the routers of
the web application and the battery passport. ``create_app`` is the composition root."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from battrace import __version__
from battrace.config import Settings
from battrace.persistence import open_store
from battrace.persistence.base import StorageError, Store
from battrace.services.audit import AuditLog
from battrace.services.ledgers import ledger_for
from battrace.services.query import ScopeIndexer, refresh_index
from battrace.web import problems
from battrace.web.auditing import AuditMiddleware
from battrace.web.ratelimit import Limiter, RateLimiter
from battrace.web.runtime import ApiSettings, Runtime

log = logging.getLogger("battrace.web")

DESCRIPTION = """\
EV power-battery traceability on GS1 EPCIS 2.0.

* **Capture** (`POST /capture`, JSON-LD or XML) and **query** (`GET /events`, EPCIS 2.0 query
  parameters, `nextPageToken` paging) follow the EPCIS 2.0 REST binding.
* **Domain API** under `/api/`: batteries, vehicles, the enterprise registry.
* Every endpoint but `/health` needs `Authorization: Bearer <key>` (`battrace key create`).
  What a key may capture and read follows its enterprise's roles and province (docs/api.md).
* Errors are RFC 9457 problem details naming each field and reason.
"""


def create_app(
    settings: Settings | None = None,
    api: ApiSettings | None = None,
    *,
    store: Store | None = None,
    limiter: Limiter | None = None,
) -> FastAPI:
    """The app. ``api`` defaults to the ``BATTRACE_*`` API settings of the environment;
    ``store`` (tests, benchmarks) replaces the store opened from ``settings.database_url``;
    ``limiter`` the per-process rate limiter (the workers of one server share one)."""
    settings = settings or Settings.from_env(store.url if store is not None else None)
    api = api or ApiSettings.from_env()
    store = store or open_store(settings.database_url)
    from battrace.web.capture import JobRecorder

    audit = AuditLog(store)
    rt = Runtime(
        store=store,
        settings=settings,
        api=api,
        ledger=ledger_for(store, settings, extra_observers=[ScopeIndexer(), JobRecorder()]),
        audit=audit,
        limiter=limiter or RateLimiter(api.rate_limit, api.rate_burst),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Index what the CLI or the demo loader captured while the server was down, before the
        # first scoped read has to (a large backlog takes a while; it is done in chunks).
        try:
            indexed = await run_in_threadpool(refresh_index, store)
            if indexed:
                log.info("read-scope index: %d events indexed", indexed)
        except StorageError as exc:
            log.error("read-scope index not refreshed: %s", exc)
        from battrace.web.queries import start_deliverer

        deliverer = start_deliverer(rt)  # webhook subscriptions (services/subscriptions.py)
        try:
            yield
        finally:
            deliverer.stop()
            audit.close()

    app = FastAPI(
        title="battrace",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.runtime = rt
    problems.install(app)
    app.add_middleware(AuditMiddleware, audit=audit)

    @app.get(
        "/health",
        tags=["Platform"],
        summary="Liveness and the ledger head (no key needed)",
        responses={
            200: {"description": "The ledger head: events, captures, head hash, version."},
            503: {
                "description": "The database is unreachable or not initialised.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["status", "detail"],
                            "properties": {
                                "status": {"type": "string"},
                                "detail": {"type": "string"},
                            },
                        }
                    }
                },
            },
        },
    )
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

    from battrace.web import api as domain_api
    from battrace.web import capture, events, pages, passport

    app.include_router(capture.router)
    app.include_router(events.router)
    app.include_router(domain_api.router)
    app.include_router(passport.router)
    app.include_router(pages.router)
    from battrace.web import forecast
    from battrace.web.pages import forecast as forecast_page

    app.include_router(forecast.router)
    app.include_router(forecast_page.router, include_in_schema=False)
    from battrace.web import supervision

    app.include_router(supervision.router)
    from battrace.web import whitelist

    app.include_router(whitelist.router)
    from battrace.web import recycling

    app.include_router(recycling.router)
    from battrace.web import queries

    app.include_router(queries.router)
    _truthful_openapi(app)
    return app


def _truthful_openapi(app: FastAPI) -> None:
    """FastAPI documents request-validation errors as 422 with its own body; this app answers
    them with 400 problem details (web.problems), so say that instead."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses") if isinstance(operation, dict) else None
                if isinstance(responses, dict) and "422" in responses:
                    del responses["422"]
                    responses.setdefault("400", problems.responses(400)[400])
        schema.get("components", {}).get("schemas", {}).pop("HTTPValidationError", None)
        schema.get("components", {}).get("schemas", {}).pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
