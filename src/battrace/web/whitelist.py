"""HTTP endpoints of the whitelist workflow and the pilots (a thin shell over
:mod:`battrace.services.whitelist` and :mod:`battrace.services.pilots`).

======================================================  ===========================================
``GET /whitelist``                                      the whitelist by batch — public, no key
``GET /api/whitelist``                                  the same, for key holders
``GET /api/whitelist/applications``                     applications the key may see
``POST /api/whitelist/applications``                    an enterprise applies (for itself)
``GET /api/whitelist/applications/{id}``                one application, evaluation and history
``POST /api/whitelist/applications/{id}/submit``        the applicant submits
``POST /api/whitelist/applications/{id}/withdraw``      the applicant withdraws
``POST /api/whitelist/applications/{id}/review``        provincial review: approve / reject
``POST /api/whitelist/batches``                         the national regulator announces a batch
``GET /api/pilots``                                     pilot regions and enterprises
``GET /api/pilots/compare``                             pilots side by side (scoped)
======================================================  ===========================================

Every ``/api/`` route needs a key (as the rest of ``/api/``); the public whitelist lives outside
``/api/``, like ``/health`` and the passport. Who may do what follows the key's enterprise: the
applicant applies, submits and withdraws; the regulator of the applicant's province (or the
national one) reviews; only the national regulator announces. An application the key may not see
is 404; a step the application's state does not allow is 409 naming the state.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from battrace.domain.errors import InvalidInput, NotAuthorised
from battrace.domain.whitelist import STATES
from battrace.domain.whitelist.evaluation import ITEM_STATUSES, RESULTS
from battrace.domain.whitelist.workflow import ACTIONS, IllegalTransition
from battrace.services import pilots
from battrace.services import whitelist as service
from battrace.services.supervision import Actor
from battrace.web.auth import Caller, caller
from battrace.web.pages.whitelist import wants_html, whitelist_page
from battrace.web.problems import (
    AUTHENTICATED,
    PROBLEM_JSON,
    PROBLEM_SCHEMA,
    SECURITY,
    ApiError,
    bad_input,
    responses,
)
from battrace.web.runtime import runtime

router = APIRouter(tags=["Whitelist and pilots"])

MAX_BODY = 256 * 1024
MAX_ID = 2**53

# -- schemas -----------------------------------------------------------------------------------

_NULL_STR = {"type": ["string", "null"]}
_NULL_NUM = {"type": ["number", "null"]}
_NULL_INT = {"type": ["integer", "null"]}
ITEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["indicator", "status", "rule", "version", "citation"],
    "properties": {
        "indicator": {"type": "string"},
        "status": {"type": "string", "enum": list(ITEM_STATUSES)},
        "measured": {"type": ["number", "boolean", "null"]},
        "unit": _NULL_STR,
        "comparator": _NULL_STR,
        "threshold": {"type": ["number", "string", "null"]},
        "requirement": {"type": "string"},
        "met": {"type": ["boolean", "null"]},
        "rule": {"type": "string"},
        "version": {"type": "integer"},
        "title_zh": {"type": "string"},
        "title_en": {"type": "string"},
        "confidence": {"type": "string"},
        "draft": {"type": "boolean"},
        "citation": {"type": "string"},
        "document_zh": {"type": "string"},
        "evidence": {"type": "array", "items": {"type": "string"}},
    },
}
EVALUATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Each criterion of the edition: pass, fail, not-provided, or unconfirmed "
    "(UNCONFIRMED threshold or draft item: shown, never decisive).",
    "required": ["edition", "kind", "as_of", "result", "items"],
    "properties": {
        "edition": {"type": "string"},
        "kind": {"type": "string"},
        "as_of": {"type": "string", "format": "date"},
        "result": {"type": "string", "enum": list(RESULTS)},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "items": {"type": "array", "items": ITEM_SCHEMA},
    },
}
APPLICATION_BODY: dict[str, Any] = {
    "type": "object",
    "description": "uscc defaults to the key's enterprise; edition to the one in force. "
    "Indicator names and units per edition: docs/whitelist.md.",
    "required": ["kind"],
    "properties": {
        "uscc": {"type": "string"},
        "kind": {"type": "string", "enum": ["cascade_use", "recycling"]},
        "edition": {"type": "string", "pattern": "^[0-9]{4}$"},
        "capacity_t": {"type": "number", "exclusiveMinimum": 0},
        "indicators": {
            "type": "object",
            "additionalProperties": {
                "oneOf": [
                    {"type": "boolean"},
                    {
                        "type": "object",
                        "required": ["value"],
                        "properties": {
                            "value": {"type": ["number", "boolean"]},
                            "unit": {"type": "string"},
                        },
                    },
                ]
            },
        },
        "note": {"type": "string", "maxLength": 4000},
    },
}
_STEP = {
    "type": "object",
    "required": ["action", "to_state", "actor", "at"],
    "properties": {
        "action": {"type": "string", "enum": list(ACTIONS)},
        "from_state": _NULL_STR,
        "to_state": {"type": "string"},
        "actor": {"type": "string"},
        "actor_role": {"type": "string"},
        "at": {"type": "string"},
        "comment": {"type": "string"},
    },
}
APPLICATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "uscc", "province", "kind", "edition", "state", "application", "steps"],
    "properties": {
        "id": {"type": "integer"},
        "uscc": {"type": "string"},
        "province": {"type": "string"},
        "kind": {"type": "string"},
        "edition": {"type": "string"},
        "state": {"type": "string", "enum": list(STATES)},
        "allowed_actions": {"type": "array", "items": {"type": "string"}},
        "application": {"type": "object"},
        "evaluation": {"oneOf": [EVALUATION_SCHEMA, {"type": "null"}]},
        "result": _NULL_STR,
        "batch": _NULL_INT,
        "announced_on": _NULL_STR,
        "valid_to": _NULL_STR,
        "created_at": {"type": "string"},
        "updated_at": {"type": "string"},
        "steps": {"type": "array", "items": _STEP},
    },
}
WHITELIST_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["batch", "announced_on", "entries"],
        "properties": {
            "batch": {"type": "integer"},
            "announced_on": _NULL_STR,
            "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
            "entries": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["uscc", "name_zh", "province", "kind", "in_force"],
                    "properties": {
                        "uscc": {"type": "string"},
                        "name_zh": {"type": "string"},
                        "name_en": {"type": "string"},
                        "province": {"type": "string"},
                        "kind": {"type": "string"},
                        "date": _NULL_STR,
                        "valid_to": _NULL_STR,
                        "capacity_t": _NULL_NUM,
                        "application": _NULL_INT,
                        "in_force": {"type": "boolean"},
                    },
                },
            },
        },
    },
}
_PILOT_COMMON = {
    "id": {"type": "integer"},
    "province": {"type": "string"},
    "model": _NULL_STR,
    "scenarios": {"type": "array", "items": {"type": "string"}},
    "started_on": _NULL_STR,
    "notes": {"type": "string"},
}
PILOTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["regions", "enterprises"],
    "properties": {
        "regions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "name_zh", "province"],
                "properties": {
                    **_PILOT_COMMON,
                    "name_zh": {"type": "string"},
                    "name_en": {"type": "string"},
                    "city": _NULL_STR,
                },
            },
        },
        "enterprises": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "uscc", "model"],
                "properties": {
                    **_PILOT_COMMON,
                    "uscc": {"type": "string"},
                    "name_zh": {"type": "string"},
                    "region": _NULL_INT,
                },
            },
        },
    },
}
COMPARE_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["pilot", "id", "name", "province", "collection_rate", "timeliness_rate"],
        "properties": {
            "pilot": {"type": "string", "enum": ["region", "enterprise"]},
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "uscc": _NULL_STR,
            "province": {"type": "string"},
            "model": _NULL_STR,
            "scenarios": {"type": "array", "items": {"type": "string"}},
            "retired": {"type": "integer"},
            "collected": {"type": "integer"},
            "collection_rate": _NULL_NUM,
            "collection_basis": {"type": "string"},
            "reports_checked": {"type": "integer"},
            "timeliness_rate": _NULL_NUM,
            "cascade_used": {"type": "integer"},
            "recycled": {"type": "integer"},
            "cascade_share": _NULL_NUM,
            "recovery_rates": {
                "oneOf": [
                    {"type": "object", "additionalProperties": {"type": "number"}},
                    {"type": "null"},
                ]
            },
            "recovery_source": _NULL_STR,
        },
    },
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "The application's state does not allow this step (the problem names "
        "the state).",
        "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
    }
}


def _ok(schema: dict[str, Any], what: str) -> dict[str, Any]:
    return {"description": what, "content": {"application/json": {"schema": schema}}}


def _body_doc(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": schema}},
        }
    }


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


async def _body(request: Request, *, required: bool) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ApiError(413, f"the body is larger than {MAX_BODY} bytes")
    if not raw.strip():
        if required:
            raise ApiError(400, "body: a JSON object is required",
                           errors=[{"field": "body", "reason": "is required"}])  # fmt: skip
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"body: not JSON: {exc}",
                       errors=[{"field": "body", "reason": "is not JSON"}]) from None  # fmt: skip
    if not isinstance(data, dict):
        raise ApiError(400, "body: must be a JSON object",
                       errors=[{"field": "body", "reason": "must be a JSON object"}])  # fmt: skip
    return data


def _run(fn: Any) -> Any:
    """Service errors → problem details: 404 not visible, 409 wrong state, 403, 400."""
    try:
        return fn()
    except service.ApplicationNotFound as exc:
        raise ApiError(404, str(exc), errors=[{"field": exc.field, "reason": exc.reason}]) from None
    except IllegalTransition as exc:
        raise ApiError(
            409, str(exc), type="about:blank", errors=[{"field": exc.field, "reason": exc.reason}]
        ) from None
    except NotAuthorised as exc:
        raise ApiError(
            403, str(exc), type=SECURITY, errors=[{"field": exc.field, "reason": exc.reason}]
        ) from None
    except InvalidInput as exc:
        raise bad_input(exc) from None


def _text_field(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(name, "must be text")
    return value


def _only(data: dict[str, Any], allowed: tuple[str, ...]) -> None:
    extra = sorted(k for k in data if k not in allowed)
    if extra:
        raise InvalidInput(extra[0], f"is not a field here ({', '.join(allowed)})")


AppId = Annotated[int, Path(ge=1, le=MAX_ID, description="Application id.")]
Batch = Annotated[int | None, Query(ge=1, le=100_000, description="Only this batch.")]


# -- the whitelist -----------------------------------------------------------------------------


@router.get(
    "/whitelist",
    summary="The whitelist by batch (public, no key)",
    response_class=Response,
    description="JSON; a browser (`Accept: text/html` first) gets the bilingual page.",
    responses={
        200: {
            "description": "Announced qualifications by batch.",
            "content": {
                "application/json": {"schema": WHITELIST_SCHEMA},
                "text/html": {"schema": {"type": "string"}},
            },
        },
        **responses(400, 500, 503),
    },
)
def public_whitelist(request: Request, batch: Batch = None) -> Response:
    rt = runtime(request)
    if wants_html(request):
        return whitelist_page(request, batch)
    response = _json(_run(lambda: service.public_whitelist(rt.store, batch)))
    response.headers["Vary"] = "Accept"
    return response


@router.get(
    "/api/whitelist",
    summary="The whitelist by batch",
    description="As the public `GET /whitelist`, for callers with a key.",
    response_class=Response,
    responses={
        200: _ok(WHITELIST_SCHEMA, "Announced qualifications by batch."),
        **responses(*AUTHENTICATED),
    },
)
def keyed_whitelist(
    request: Request, who: Caller = Depends(caller), batch: Batch = None
) -> Response:
    rt = runtime(request)

    def work() -> Any:
        who.principal()
        return service.public_whitelist(rt.store, batch)

    return _json(_run(work))


@router.get(
    "/api/whitelist/applications",
    summary="Whitelist applications visible to the key, newest first",
    response_class=Response,
    responses={
        200: _ok({"type": "array", "items": APPLICATION_SCHEMA}, "Applications."),
        **responses(*AUTHENTICATED),
    },
)
def list_applications(
    request: Request,
    who: Caller = Depends(caller),
    state: Annotated[str | None, Query(description=", ".join(STATES))] = None,
    kind: Annotated[str | None, Query(description="cascade_use or recycling")] = None,
) -> Response:
    rt = runtime(request)

    def work() -> Any:
        actor = Actor.of(who.principal().enterprise)
        views = service.list_applications(rt.store, actor, state=state, kind=kind)
        return [v.to_dict() for v in views]

    return _json(_run(work))


@router.post(
    "/api/whitelist/applications",
    summary="An enterprise applies for whitelist status (for itself)",
    status_code=201,
    response_class=Response,
    responses={
        201: _ok(APPLICATION_SCHEMA, "The application, stored as a draft, with its evaluation."),
        **responses(*AUTHENTICATED, 413),
    },
    openapi_extra=_body_doc(APPLICATION_BODY),
)
async def post_application(request: Request, who: Caller = Depends(caller)) -> Response:
    rt = runtime(request)
    data = await _body(request, required=True)

    def work() -> Any:
        enterprise = who.principal().enterprise
        body = {"uscc": enterprise.uscc, **data}
        return service.apply(rt.store, body, Actor.of(enterprise)).to_dict()

    view = await run_in_threadpool(_run, work)
    request.state.audit_detail = f"whitelist application {view['id']}"
    return _json(view, 201)


@router.get(
    "/api/whitelist/applications/{app_id}",
    summary="One application with its evaluation and history",
    response_class=Response,
    responses={
        200: _ok(APPLICATION_SCHEMA, "The application."),
        **responses(*AUTHENTICATED, 404),
    },
)
def get_application(request: Request, app_id: AppId, who: Caller = Depends(caller)) -> Response:
    rt = runtime(request)

    def work() -> Any:
        actor = Actor.of(who.principal().enterprise)
        return service.get_application(rt.store, app_id, actor).to_dict()

    return _json(_run(work))


_COMMENT_BODY = {
    "type": "object",
    "properties": {"comment": {"type": "string", "maxLength": 4000}},
}
_REASON_BODY = {
    "type": "object",
    "properties": {"reason": {"type": "string", "maxLength": 4000}},
}
_REVIEW_BODY = {
    "type": "object",
    "required": ["decision"],
    "properties": {
        "decision": {"type": "string", "enum": ["approve", "reject"]},
        "reason": {"type": "string", "maxLength": 4000, "description": "Required to reject."},
    },
}
_STEP_RESPONSES = {
    200: _ok(APPLICATION_SCHEMA, "The application after the step."),
    **responses(*AUTHENTICATED, 404, 413),
    **CONFLICT,
}


@router.post(
    "/api/whitelist/applications/{app_id}/submit",
    summary="The applicant submits its draft for provincial review",
    response_class=Response,
    responses=_STEP_RESPONSES,
    openapi_extra=_body_doc(_COMMENT_BODY, required=False),
)
async def post_submit(request: Request, app_id: AppId, who: Caller = Depends(caller)) -> Response:
    rt = runtime(request)
    data = await _body(request, required=False)

    def work() -> Any:
        actor = Actor.of(who.principal().enterprise)
        _only(data, ("comment",))
        comment = _text_field(data, "comment")
        return service.submit(rt.store, app_id, actor, comment).to_dict()

    return _json(await run_in_threadpool(_run, work))


@router.post(
    "/api/whitelist/applications/{app_id}/withdraw",
    summary="The applicant withdraws its application",
    response_class=Response,
    responses=_STEP_RESPONSES,
    openapi_extra=_body_doc(_REASON_BODY, required=False),
)
async def post_withdraw(request: Request, app_id: AppId, who: Caller = Depends(caller)) -> Response:
    rt = runtime(request)
    data = await _body(request, required=False)

    def work() -> Any:
        actor = Actor.of(who.principal().enterprise)
        _only(data, ("reason",))
        return service.withdraw(rt.store, app_id, actor, _text_field(data, "reason")).to_dict()

    return _json(await run_in_threadpool(_run, work))


@router.post(
    "/api/whitelist/applications/{app_id}/review",
    summary="Provincial review: approve, or reject with reasons",
    description="By the regulator of the applicant's province or the national regulator.",
    response_class=Response,
    responses=_STEP_RESPONSES,
    openapi_extra=_body_doc(_REVIEW_BODY),
)
async def post_review(request: Request, app_id: AppId, who: Caller = Depends(caller)) -> Response:
    rt = runtime(request)
    data = await _body(request, required=True)

    def work() -> Any:
        actor = Actor.of(who.principal().enterprise)
        _only(data, ("decision", "reason"))
        decision = data.get("decision")
        if decision not in ("approve", "reject"):
            raise InvalidInput("decision", "must be approve or reject")
        reason = _text_field(data, "reason")
        view = service.review(rt.store, app_id, actor, approve=decision == "approve", reason=reason)
        return view.to_dict()

    return _json(await run_in_threadpool(_run, work))


_BATCH_BODY = {
    "type": "object",
    "required": ["batch", "date", "applications"],
    "properties": {
        "batch": {"type": "integer", "minimum": 1, "maximum": 100000},
        "date": {"type": "string", "format": "date"},
        "applications": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "integer", "minimum": 1},
        },
        "valid_to": {"type": "string", "format": "date"},
        "note": {"type": "string", "maxLength": 4000},
    },
}
_BATCH_RESULT = {
    "type": "object",
    "required": ["batch", "announced_on", "applications"],
    "properties": {
        "batch": {"type": "integer"},
        "announced_on": {"type": "string"},
        "applications": {"type": "array", "items": APPLICATION_SCHEMA},
    },
}


def _date_field(data: dict[str, Any], name: str, *, required: bool) -> date | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidInput(name, "must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(name, f"{value[:40]!r} is not a date YYYY-MM-DD") from None


@router.post(
    "/api/whitelist/batches",
    summary="The national regulator announces a batch of approved applications",
    description="All listed applications are announced and enter the registry as "
    "qualifications, or none is.",
    status_code=201,
    response_class=Response,
    responses={
        201: _ok(_BATCH_RESULT, "The batch and its announced applications."),
        **responses(*AUTHENTICATED, 404, 413),
        **CONFLICT,
    },
    openapi_extra=_body_doc(_BATCH_BODY),
)
async def post_batch(request: Request, who: Caller = Depends(caller)) -> Response:
    rt = runtime(request)
    data = await _body(request, required=True)

    def work() -> Any:
        actor = Actor.of(who.principal().enterprise)
        _only(data, ("batch", "date", "applications", "valid_to", "note"))
        batch = data.get("batch")
        if isinstance(batch, bool) or not isinstance(batch, int):
            raise InvalidInput("batch", "must be a whole number from 1")
        ids = data.get("applications")
        if not isinstance(ids, list):
            raise InvalidInput("applications", "must be a list of application ids")
        if any(isinstance(i, int) and not isinstance(i, bool) and i > MAX_ID for i in ids):
            raise InvalidInput("applications", "an id is out of range")
        day = _date_field(data, "date", required=True)
        assert day is not None
        views = service.announce(
            rt.store,
            batch,
            day,
            ids,
            actor,
            valid_to=_date_field(data, "valid_to", required=False),
            note=_text_field(data, "note"),
        )
        return {
            "batch": batch,
            "announced_on": day.isoformat(),
            "applications": [v.to_dict() for v in views],
        }

    return _json(await run_in_threadpool(_run, work), 201)


# -- pilots ------------------------------------------------------------------------------------


@router.get(
    "/api/pilots",
    summary="Pilot regions and pilot enterprises",
    response_class=Response,
    responses={200: _ok(PILOTS_SCHEMA, "The pilots."), **responses(*AUTHENTICATED)},
)
def get_pilots(request: Request, who: Caller = Depends(caller)) -> Response:
    rt = runtime(request)

    def work() -> Any:
        who.principal()
        regions, ents = pilots.list_pilots(rt.store)
        return {
            "regions": [r.to_dict() for r in regions],
            "enterprises": [e.to_dict() for e in ents],
        }

    return _json(_run(work))


@router.get(
    "/api/pilots/compare",
    summary="Pilots side by side: collection rate, timeliness, cascade share, recovery rates",
    description="The national regulator sees every pilot, a provincial one those of its "
    "province, an enterprise itself if it is a pilot.",
    response_class=Response,
    responses={200: _ok(COMPARE_SCHEMA, "One row per pilot."), **responses(*AUTHENTICATED)},
)
def get_compare(
    request: Request,
    who: Caller = Depends(caller),
    period: Annotated[
        str | None,
        Query(
            max_length=16,
            description="Recovery rates measured in 2025, 2025-03 or 2025-Q1 (default: last "
            "calendar year); otherwise the rates declared in the whitelist application",
        ),
    ] = None,
) -> Response:
    rt = runtime(request)

    def work() -> Any:
        actor = Actor.of(who.principal().enterprise)
        return pilots.compare(rt.store, actor, period=period)

    return _json(_run(work))
