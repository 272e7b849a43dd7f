"""RFC 9457 problem details for every error the HTTP interface returns.

Every error is ``application/problem+json`` with ``type``, ``title``, ``status`` and ``detail``;
errors about input add ``errors: [{field, reason, index?}]`` naming each field and reason. Types
are the EPCIS 2.0 exception names where the standard has one (``epcisException:…``).
Bad input is always a 4xx; a stack trace is never sent (unexpected errors are logged and answered
with a bare 500).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from battrace.domain.errors import InvalidInput, NotAuthorised
from battrace.persistence.base import SchemaMissing, StorageError

log = logging.getLogger("battrace.web")

PROBLEM_JSON = "application/problem+json"

VALIDATION = "epcisException:ValidationException"
QUERY_PARAMETER = "epcisException:QueryParameterException"
SECURITY = "epcisException:SecurityException"
NO_SUCH_RESOURCE = "epcisException:NoSuchResourceException"
NOT_ACCEPTABLE = "epcisException:NotAcceptableException"
UNSUPPORTED_MEDIA = "epcisException:UnsupportedMediaTypeException"
CAPTURE_LIMIT = "epcisException:CaptureLimitExceededException"
QUERY_TOO_LARGE = "epcisException:QueryTooLargeException"
IMPLEMENTATION = "epcisException:ImplementationException"
ALREADY_EXISTS = "epcisException:ResourceAlreadyExistsException"
BLANK = "about:blank"

_DEFAULT_TYPES = {
    400: VALIDATION,
    401: SECURITY,
    403: SECURITY,
    404: NO_SUCH_RESOURCE,
    406: NOT_ACCEPTABLE,
    413: CAPTURE_LIMIT,
    415: UNSUPPORTED_MEDIA,
    500: IMPLEMENTATION,
    503: IMPLEMENTATION,
}


class ApiError(Exception):
    """Raised anywhere in a request; rendered as problem details."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type: str | None = None,
        title: str | None = None,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type or _DEFAULT_TYPES.get(status, BLANK)
        self.title = title or HTTPStatus(status).phrase
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})


def bad_input(exc: InvalidInput, *, type: str = VALIDATION, status: int = 400) -> ApiError:
    return ApiError(
        status,
        str(exc),
        type=type,
        errors=[{"field": exc.field, "reason": exc.reason}],
    )


def problem(
    status: int,
    detail: str,
    *,
    type: str | None = None,
    title: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    instance: str | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": type or _DEFAULT_TYPES.get(status, BLANK),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = list(errors)
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {})
    )


def render(exc: ApiError, request: Request | None = None) -> Response:
    return problem(
        exc.status,
        exc.detail,
        type=exc.type,
        title=exc.title,
        errors=exc.errors,
        headers=exc.headers,
        instance=request.url.path if request is not None else None,
    )


def _location(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "header", "body", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "request"


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem details."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return render(exc, request)

    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput) -> Response:
        return render(bad_input(exc), request)

    @app.exception_handler(NotAuthorised)
    async def _not_authorised(request: Request, exc: NotAuthorised) -> Response:
        return problem(
            403,
            str(exc),
            type=SECURITY,
            errors=[{"field": exc.field, "reason": exc.reason}],
            instance=request.url.path,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": _location(e.get("loc", ())), "reason": str(e.get("msg", "is invalid"))}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors) or "invalid request"
        return problem(400, detail, errors=errors, instance=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no resource at {request.url.path}"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
            headers["Allow"] = _allowed(request) or headers.get("Allow", "")
        return problem(exc.status_code, detail, headers=headers or None, instance=request.url.path)

    @app.exception_handler(SchemaMissing)
    async def _schema(request: Request, exc: SchemaMissing) -> Response:
        return problem(503, str(exc), instance=request.url.path)

    @app.exception_handler(StorageError)
    async def _storage(request: Request, exc: StorageError) -> Response:
        log.error("storage error on %s %s: %s", request.method, request.url.path, exc)
        return problem(
            503, "the ledger database is unavailable; try again later", instance=request.url.path
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(500, "internal error; it has been logged", instance=request.url.path)


def _allowed(request: Request) -> str:
    """Every method the API documents on this path: Starlette names only the first matching
    route's methods, and several routers may serve one path (GET and POST /events)."""
    table: list[tuple[re.Pattern[str], set[str]]] | None = getattr(
        request.app.state, "allowed_methods", None
    )
    if table is None:
        table = []
        for template, operations in request.app.openapi().get("paths", {}).items():
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            table.append((re.compile(pattern + "$"), {m.upper() for m in operations}))
        request.app.state.allowed_methods = table
    path = request.url.path
    methods = set().union(*(m for rx, m in table if rx.match(path)))
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


# -- OpenAPI ------------------------------------------------------------------------------------

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; `errors` names every field at fault and why.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {
                    "field": {"type": "string"},
                    "reason": {"type": "string"},
                    "index": {"type": "integer"},
                },
            },
        },
    },
}

_DESCRIPTIONS = {
    400: "Bad input: the problem names each field and reason; nothing was written.",
    401: "No valid `Authorization: Bearer <key>`.",
    403: "The key's enterprise may not do this, or may not see this resource.",
    404: "No such resource (or not visible to the key's enterprise).",
    405: "Method not allowed on this resource.",
    406: "None of the acceptable media types or EPCIS/CBV versions can be served.",
    409: "The resource already exists (an event with this Event Hash ID is in the ledger).",
    413: "Over a limit (capture events or bytes, or maxEventCount of a query).",
    415: "Unsupported Content-Type.",
    429: "Rate limit of the key exceeded; retry after `Retry-After` seconds.",
    500: "Internal error (logged; no details are sent).",
    503: "The ledger database is unavailable.",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses a route can return."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {
            "description": _DESCRIPTIONS[code],
            "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
        }
        if code == 429:
            entry["headers"] = {
                "Retry-After": {
                    "description": "Seconds until a request will be accepted again.",
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
        out[code] = entry
    return out


#: What every authenticated route can answer besides its success.
AUTHENTICATED = (400, 401, 403, 406, 429, 500, 503)
