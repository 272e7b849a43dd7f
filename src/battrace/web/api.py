"""Domain endpoints under ``/api/``: batteries, vehicles and the enterprise registry.

``GET /api/batteries/{code}`` answers what ``battrace trace --json`` prints, cut to the key's read
scope (``scope: full | partial``; services.query.scope_trace); 403 when the key may see
nothing of the battery, 404 when the ledger does not know it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from battrace.domain.errors import InvalidInput
from battrace.domain.identities.gbt34014 import validate_battery_code
from battrace.domain.identities.uscc import validate_uscc
from battrace.domain.identities.vin import validate_vin
from battrace.persistence.base import EnterpriseRow, Store
from battrace.services import query as qs
from battrace.services.authorisation import ReadScope
from battrace.services.enterprises import ROLES
from battrace.web.auth import Caller, Principal, caller, principal
from battrace.web.problems import AUTHENTICATED, ApiError, bad_input, responses
from battrace.web.runtime import runtime

router = APIRouter(prefix="/api", tags=["Batteries, vehicles, enterprises"])

_NODE = {"type": "object", "properties": {"uri": {"type": "string"}, "code": {"type": "string"}}}
TRACE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "As `battrace trace --json`, cut to the key's read scope. With "
    "`scope: partial` the current state, genealogy and successors are withheld (null/empty) "
    "and only the visible events are listed.",
    "required": ["code", "uri", "kind", "events", "scope"],
    "properties": {
        "code": {"type": "string"},
        "uri": {"type": "string"},
        "kind": {"type": ["string", "null"]},
        "state": {"type": ["string", "null"]},
        "holder": {"type": ["string", "null"]},
        "location": {"type": ["string", "null"]},
        "parent": {"type": ["string", "null"]},
        "vehicle": {"type": ["string", "null"]},
        "attributes": {"type": "object"},
        "ancestors": {"type": "array", "items": _NODE},
        "children": {"type": "array", "items": _NODE},
        "origins": {"type": "array", "items": {"type": "string"}},
        "successors": {"type": "array", "items": {"type": "string"}},
        "materials": {"type": "array", "items": {"type": "object"}},
        "events": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["eventID", "eventTime", "type"],
                "properties": {
                    "eventID": {"type": "string"},
                    "eventTime": {"type": "string"},
                    "recordTime": {"type": "string"},
                    "type": {"type": "string"},
                    "bizStep": {"type": ["string", "null"]},
                    "reporter": {"type": "string"},
                    "role": {"type": "string"},
                    "errorDeclaration": {"type": "boolean"},
                    "retracted": {"type": "boolean"},
                },
            },
        },
        "inconsistencies": {"type": "array", "items": {"type": "object"}},
        "scope": {"type": "string", "enum": ["full", "partial"]},
    },
}
ENTERPRISE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["uscc", "name_zh", "province", "roles"],
    "properties": {
        "uscc": {"type": "string"},
        "name_zh": {"type": "string"},
        "name_en": {"type": "string"},
        "province": {"type": "string"},
        "roles": {"type": "array", "items": {"type": "string"}},
        "manufacturer_codes": {"type": "array", "items": {"type": "string"}},
        "sites": {"type": "array", "items": {"type": "object"}},
        "qualifications": {"type": "array", "items": {"type": "object"}},
        "created_at": {"type": "string"},
    },
}


def _ok(schema: dict[str, Any], what: str) -> dict[str, Any]:
    return {"description": what, "content": {"application/json": {"schema": schema}}}


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def _scoped_trace(store: Store, scope: ReadScope, uri: str, label: str) -> dict[str, Any]:
    try:
        scoped = qs.scoped_trace(store, scope, uri)
    except InvalidInput:  # the identifier was validated already: it is just not in the ledger
        raise ApiError(404, f"{label} is not in the ledger") from None
    if scoped is None:
        raise ApiError(403, f"{label}: no event of it is visible to enterprise {scope.uscc}")
    return scoped


@router.get(
    "/batteries/{code}",
    summary="A battery's state, timeline and genealogy (battrace trace --json)",
    response_class=Response,
    responses={200: _ok(TRACE_SCHEMA, "The trace."), **responses(*AUTHENTICATED, 404)},
)
async def battery(request: Request, code: str, who: Caller = Depends(caller)) -> Response:
    return await _trace_response(
        request, who, code, validate_battery_code, "urn:gbt34014:", "battery"
    )


@router.get(
    "/vehicles/{vin}",
    summary="A vehicle's state, timeline and installed packs",
    response_class=Response,
    responses={200: _ok(TRACE_SCHEMA, "The trace."), **responses(*AUTHENTICATED, 404)},
)
async def vehicle(request: Request, vin: str, who: Caller = Depends(caller)) -> Response:
    return await _trace_response(request, who, vin, validate_vin, "urn:vin:", "vehicle")


async def _trace_response(
    request: Request, who: Caller, raw: str, validate: Callable[[str], str], prefix: str, what: str
) -> Response:
    rt = runtime(request)

    def work() -> dict[str, Any]:
        with qs.reading(rt.store):  # one connection for the key check, the trace and the scope
            scope = who.principal().scope  # authenticate first, then look at the input
            try:
                valid = validate(raw.strip())
            except InvalidInput as exc:
                raise bad_input(exc) from None
            return _scoped_trace(rt.store, scope, f"{prefix}{valid}", f"{what} {valid}")

    data = await run_in_threadpool(work)
    request.state.audit_detail = f"{len(data['events'])} events ({data['scope']})"
    return _json(data)


def _enterprise(row: EnterpriseRow) -> dict[str, Any]:
    return dataclasses.asdict(row)


@router.get(
    "/enterprises",
    summary="The enterprise registry",
    description="Every key may read the registry (names, roles, provinces, sites, codes).",
    response_class=Response,
    responses={
        200: _ok({"type": "array", "items": ENTERPRISE_SCHEMA}, "Registered enterprises."),
        **responses(*AUTHENTICATED),
    },
    openapi_extra={
        "parameters": [
            {
                "in": "query",
                "name": "role",
                "required": False,
                "schema": {"type": "string", "enum": list(ROLES)},
            }
        ]
    },
)
def enterprises(request: Request, who: Principal = Depends(principal)) -> Response:
    rt = runtime(request)
    params = request.query_params
    unknown = [k for k in params if k != "role"]
    if unknown:
        raise ApiError(
            400,
            f"{unknown[0]}: is not a supported query parameter",
            errors=[{"field": unknown[0], "reason": "is not a supported query parameter"}],
        )
    role = params.get("role")
    if role is not None and role not in ROLES:
        raise ApiError(
            400,
            f"role: {role!r} is not a role",
            errors=[{"field": "role", "reason": f"must be one of {', '.join(ROLES)}"}],
        )
    return _json([_enterprise(e) for e in rt.store.list_enterprises(role)])


@router.get(
    "/enterprises/{uscc}",
    summary="One registered enterprise",
    response_class=Response,
    responses={200: _ok(ENTERPRISE_SCHEMA, "The enterprise."), **responses(*AUTHENTICATED, 404)},
)
def enterprise(request: Request, uscc: str, who: Principal = Depends(principal)) -> Response:
    rt = runtime(request)
    try:
        valid = validate_uscc(uscc.strip())
    except InvalidInput as exc:
        raise bad_input(exc) from None
    row = rt.store.get_enterprise(valid)
    if row is None:
        raise ApiError(404, f"enterprise {valid} is not registered")
    return _json(_enterprise(row))
