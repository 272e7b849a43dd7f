"""EPCIS 2.0 named queries and webhook subscriptions (``/queries``, REST binding).

* ``POST /queries`` ``{name, query}`` → ``201`` + ``Location: /queries/{name}``; the query is
  validated by the parser of ``GET /events`` (services.named_queries). ``GET /queries`` lists the
  key's enterprise's queries (paged), ``GET`` / ``DELETE /queries/{name}`` (deleting ends its
  subscriptions), ``GET /queries/{name}/events`` runs it in the *caller's* read scope, paged like
  ``/events``, JSON-LD or XML.
* ``POST /queries/{name}/subscriptions`` ``{dest, signatureToken, reportIfEmpty,
  initialRecordTime, stream: true}`` → ``201``; list, get (with the delivery state) and delete.
  Delivery: services.subscriptions.Deliverer, started with the app (:func:`start_deliverer`).

Names live in the namespace of the key's enterprise: another enterprise's query is ``404``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from battrace.domain.errors import InvalidInput
from battrace.services import named_queries as named
from battrace.services import query as qs
from battrace.services import subscriptions as subs
from battrace.web import gs1
from battrace.web.auth import Caller, Principal, caller, principal
from battrace.web.events import PAGE_PARAMS, answer_query, query_responses
from battrace.web.problems import (
    ALREADY_EXISTS,
    AUTHENTICATED,
    PROBLEM_JSON,
    PROBLEM_SCHEMA,
    QUERY_PARAMETER,
    UNSUPPORTED_MEDIA,
    ApiError,
    bad_input,
    responses,
)
from battrace.web.runtime import Runtime, runtime

router = APIRouter(tags=["Named queries and subscriptions"])

MAX_BODY = 64 * 1024
T = TypeVar("T")

# -- OpenAPI ------------------------------------------------------------------------------------

QUERY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A named query: its name and the EPCIS query parameters (query-schema.json; "
    "the parameters GET /events supports).",
    "required": ["name", "query"],
    "properties": {
        "name": {"type": "string", "pattern": named.NAME_PATTERN},
        "query": {"type": "object"},
        "createdAt": {"type": "string", "format": "date-time"},
    },
}
_CREATE_QUERY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "query"],
    "properties": {
        "name": {"type": "string", "pattern": named.NAME_PATTERN},
        "query": {
            "type": "object",
            "description": "EPCIS query parameters: lists as arrays of strings (`EQ_bizStep`: "
            '`["shipping"]`), times as strings, `eventCountLimit` / `maxEventCount` / '
            "`perPage` as integers.",
        },
    },
}
SUBSCRIPTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A streaming webhook subscription and its delivery state (the "
    "signatureToken is never shown).",
    "required": [
        "subscriptionID",
        "queryName",
        "dest",
        "stream",
        "reportIfEmpty",
        "signed",
        "createdAt",
        "state",
        "eventsDelivered",
        "failures",
    ],
    "properties": {
        "subscriptionID": {"type": "string"},
        "queryName": {"type": "string"},
        "dest": {"type": "string"},
        "stream": {"type": "boolean"},
        "reportIfEmpty": {"type": "boolean"},
        "signed": {"type": "boolean", "description": "A signatureToken was given."},
        "initialRecordTime": {"type": "string", "format": "date-time"},
        "createdAt": {"type": "string", "format": "date-time"},
        "lastNotifiedAt": {"type": "string", "format": "date-time"},
        "state": {"type": "string", "enum": [subs.ACTIVE, subs.DISABLED]},
        "eventsDelivered": {"type": "integer", "minimum": 0},
        "failures": {"type": "integer", "minimum": 0},
        "nextAttemptAt": {"type": "string", "format": "date-time"},
        "disabledAt": {"type": "string", "format": "date-time"},
        "lastError": {"type": "string"},
    },
}
_CREATE_SUBSCRIPTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["dest", "stream"],
    "additionalProperties": False,
    "properties": {
        "dest": {
            "type": "string",
            "format": "uri",
            "maxLength": subs.MAX_DEST,
            "description": "http(s) URL the EPCISQueryDocuments are POSTed to; loopback, "
            "private and link-local addresses are refused unless the operator allows them.",
        },
        "signatureToken": {
            "type": "string",
            "minLength": 1,
            "maxLength": subs.MAX_SIGNATURE_TOKEN,
            "description": "Key of the `GS1-Signature: sha256=<hex HMAC-SHA256 of the body>` "
            "header of every delivery.",
        },
        "reportIfEmpty": {"type": "boolean"},
        "initialRecordTime": {
            "type": "string",
            "format": "date-time",
            "description": "Deliver events recorded at or after this (default: from now on).",
        },
        "stream": {
            "type": "boolean",
            "enum": [True],
            "description": "Must be true (scheduled subscriptions are not supported).",
        },
    },
}
_VERSION_HEADERS = gs1.version_request_headers("GS1-EPCIS-Version", "GS1-CBV-Version")
_LOCATION = {"Location": {"description": "The new resource.", "schema": {"type": "string"}}}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "A named query of this name exists already in the enterprise's namespace.",
        "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
    }
}


def _ok(schema: dict[str, Any], what: str, paged: bool = False) -> dict[str, Any]:
    headers = {**gs1.VERSION_RESPONSE_HEADERS, **(gs1.LINK_HEADER if paged else {})}
    return {"description": what, "headers": headers, "content": {gs1.JSON: {"schema": schema}}}


def _body_doc(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {gs1.JSON: {"schema": schema}}}


# -- plumbing -----------------------------------------------------------------------------------


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=gs1.JSON, headers=headers)


def _path(name: str) -> str:
    return f"/queries/{quote(name, safe='')}"


def _run(fn: Callable[[], T]) -> T:
    """Service errors → problem details."""
    try:
        return fn()
    except (named.QueryNotFound, subs.SubscriptionNotFound) as exc:
        raise ApiError(404, str(exc)) from None
    except named.QueryExists as exc:
        raise ApiError(
            409,
            str(exc),
            type=ALREADY_EXISTS,
            errors=[{"field": "name", "reason": "exists already"}],
            headers={"Location": _path(exc.name)},
        ) from None
    except InvalidInput as exc:
        raise bad_input(exc) from None


async def _body(request: Request) -> Any:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in (gs1.JSON, gs1.JSON_LD):
        raise ApiError(
            415,
            f"Content-Type {media or '(none)'!r} is not accepted; send application/json",
            type=UNSUPPORTED_MEDIA,
        )
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise ApiError(413, f"the body is larger than {MAX_BODY:,} bytes", type="about:blank")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, f"the body is larger than {MAX_BODY:,} bytes", type="about:blank")
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise ApiError(
            400, f"body: not JSON: {exc}", errors=[{"field": "body", "reason": "is not JSON"}]
        ) from None


def _paging(request: Request) -> tuple[int, str | None]:
    """perPage and the decoded nextPageToken of a list; any other parameter is 400."""
    params = request.query_params
    for name in params:
        if name not in ("perPage", "nextPageToken"):
            raise ApiError(
                400,
                f"{name}: is not a supported query parameter",
                type=QUERY_PARAMETER,
                errors=[{"field": name, "reason": "is not a supported query parameter"}],
            )
    try:
        per_page = qs.DEFAULT_PER_PAGE
        if "perPage" in params:
            per_page = qs.positive_int("perPage", params["perPage"], maximum=qs.MAX_PER_PAGE)
        after = None
        if "nextPageToken" in params:
            after = _decode(params["nextPageToken"])
    except InvalidInput as exc:
        raise bad_input(exc, type=QUERY_PARAMETER) from None
    return per_page, after


def _encode(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode().rstrip("=")


def _decode(token: str) -> str:
    bad = InvalidInput("nextPageToken", "is not a token this server issued")
    if len(token) > 200:
        raise bad
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, ValueError):
        raise bad from None
    if not text or not text.isprintable():
        raise bad
    return text


def _page_headers(request: Request, per_page: int, last: str | None) -> dict[str, str]:
    if last is None:
        return {}
    query = urlencode({"perPage": per_page, "nextPageToken": _encode(last)})
    return {"Link": f'<{quote(request.url.path)}?{query}>; rel="next"'}


def _allow_private(rt: Runtime) -> bool:
    value = rt.extra.get("webhook_allow_private")
    if not isinstance(value, bool):
        value = subs.allow_private_from_env()
        rt.extra["webhook_allow_private"] = value
    return value


def start_deliverer(rt: Runtime) -> subs.Deliverer:
    """Start webhook delivery for this server worker (the app's lifespan stops it)."""
    deliverer = subs.Deliverer.from_env(rt.store)
    rt.extra["webhook_allow_private"] = deliverer.allow_private
    rt.extra["deliverer"] = deliverer
    deliverer.start()
    return deliverer


# -- named queries ------------------------------------------------------------------------------


@router.get(
    "/queries",
    summary="The named queries of the key's enterprise",
    description="By name, paged (`perPage`, `nextPageToken`, `Link`).",
    response_class=Response,
    responses={
        200: _ok({"type": "array", "items": QUERY_SCHEMA}, "Named queries.", paged=True),
        **responses(*AUTHENTICATED),
    },
    openapi_extra={"parameters": PAGE_PARAMS},
)
def list_queries(request: Request, who: Principal = Depends(principal)) -> Response:
    gs1.check_versions(request)
    per_page, after = _paging(request)
    found = _run(lambda: named.list_page(runtime(request).store, who.uscc, after, per_page + 1))
    last = found[per_page - 1].name if len(found) > per_page else None
    request.state.audit_detail = f"{min(len(found), per_page)} named queries"
    return _json(
        [nq.to_json() for nq in found[:per_page]],
        headers=_page_headers(request, per_page, last),
    )


@router.post(
    "/queries",
    status_code=201,
    summary="Create a named query",
    description="The query is validated like the parameters of `GET /events` (errors name "
    "`query.<parameter>`). Names are unique within the key's enterprise.",
    response_class=Response,
    responses={
        201: {
            "description": "Created; `Location` is the query.",
            "headers": {**_LOCATION, **gs1.VERSION_RESPONSE_HEADERS},
            "content": {gs1.JSON: {"schema": QUERY_SCHEMA}},
        },
        **responses(*AUTHENTICATED, 413, 415),
        **_CONFLICT,
    },
    openapi_extra={
        "requestBody": _body_doc(_CREATE_QUERY_SCHEMA),
        "parameters": _VERSION_HEADERS,
    },
)
async def create_query(request: Request, who: Principal = Depends(principal)) -> Response:
    gs1.check_versions(request)
    data = await _body(request)
    if not isinstance(data, dict):
        raise ApiError(
            400,
            "body: must be a JSON object {name, query}",
            errors=[{"field": "body", "reason": "must be a JSON object"}],
        )
    for key in data:
        if key not in ("name", "query"):
            raise ApiError(
                400,
                f"{key}: is not a field of a named query (name, query)",
                errors=[{"field": key, "reason": "is not a field of a named query"}],
            )
    if "query" not in data:
        raise ApiError(
            400, "query: is required", errors=[{"field": "query", "reason": "is required"}]
        )
    rt = runtime(request)
    created = await run_in_threadpool(
        _run,
        lambda: named.create(rt.store, who.uscc, who.key.key_id, data.get("name"), data["query"]),
    )
    request.state.audit_detail = f"named query {created.name}"
    return _json(created.to_json(), 201, {"Location": _path(created.name)})


@router.get(
    "/queries/{queryName}",
    summary="One named query",
    response_class=Response,
    responses={200: _ok(QUERY_SCHEMA, "The named query."), **responses(*AUTHENTICATED, 404)},
)
def get_query(request: Request, queryName: str, who: Principal = Depends(principal)) -> Response:
    gs1.check_versions(request)
    found = _run(lambda: named.get(runtime(request).store, who.uscc, queryName))
    return _json(found.to_json())


@router.delete(
    "/queries/{queryName}",
    status_code=204,
    summary="Delete a named query and end its subscriptions",
    response_class=Response,
    responses={204: {"description": "Deleted."}, **responses(*AUTHENTICATED, 404)},
)
def delete_query(request: Request, queryName: str, who: Principal = Depends(principal)) -> Response:
    gs1.check_versions(request)
    ended = _run(lambda: named.remove(runtime(request).store, who.uscc, queryName))
    request.state.audit_detail = f"named query {queryName} deleted, {ended} subscriptions ended"
    return Response(status_code=204)


@router.get(
    "/queries/{queryName}/events",
    summary="Run a named query (in the key's read scope)",
    description="The events the key's enterprise may read that match the named query, paged "
    "like `GET /events` (`perPage`, `nextPageToken`, `Link`); JSON-LD or XML by `Accept`. "
    "The query's other parameters are fixed by its definition.",
    response_class=Response,
    responses=query_responses(404, 413),
    openapi_extra={
        "parameters": [
            *PAGE_PARAMS,
            *gs1.version_request_headers("GS1-EPCIS-Min", "GS1-EPCIS-Max"),
        ]
    },
)
async def query_events(request: Request, queryName: str, who: Caller = Depends(caller)) -> Response:
    gs1.check_versions(request)
    gs1.negotiate(request)  # 406 before doing any work
    rt = runtime(request)

    def work() -> Response:
        me = who.principal()
        params = request.query_params.multi_items()
        for name, _ in params:
            if name not in ("perPage", "nextPageToken"):
                raise ApiError(
                    400,
                    f"{name}: is fixed by the named query; only perPage and nextPageToken may "
                    "be given",
                    type=QUERY_PARAMETER,
                    errors=[{"field": name, "reason": "is fixed by the named query"}],
                )
        found = _run(lambda: named.get(rt.store, me.uscc, queryName))
        return answer_query(
            request,
            rt.store,
            me.scope,
            lambda: named.parse(found.query, params),
            f"named query {queryName}: ",
        )

    return await run_in_threadpool(work)


# -- subscriptions ------------------------------------------------------------------------------


@router.get(
    "/queries/{queryName}/subscriptions",
    summary="The subscriptions of a named query (with their delivery state)",
    response_class=Response,
    responses={
        200: _ok({"type": "array", "items": SUBSCRIPTION_SCHEMA}, "Subscriptions.", paged=True),
        **responses(*AUTHENTICATED, 404),
    },
    openapi_extra={"parameters": PAGE_PARAMS},
)
def list_subscriptions(
    request: Request, queryName: str, who: Principal = Depends(principal)
) -> Response:
    gs1.check_versions(request)
    per_page, after = _paging(request)
    found = _run(
        lambda: subs.list_page(runtime(request).store, who.uscc, queryName, after, per_page + 1)
    )
    last = found[per_page - 1].id if len(found) > per_page else None
    return _json(
        [s.to_json() for s in found[:per_page]], headers=_page_headers(request, per_page, last)
    )


@router.post(
    "/queries/{queryName}/subscriptions",
    status_code=201,
    summary="Subscribe a webhook to a named query (stream: true)",
    description="Every new event that matches the query and that the key's enterprise may "
    "read is POSTed to `dest` as an EPCISQueryDocument, signed with `GS1-Signature` "
    "(docs/api.md). Scheduled subscriptions (`schedule`) are not supported (400).",
    response_class=Response,
    responses={
        201: {
            "description": "Subscribed; `Location` is the subscription.",
            "headers": {**_LOCATION, **gs1.VERSION_RESPONSE_HEADERS},
            "content": {gs1.JSON: {"schema": SUBSCRIPTION_SCHEMA}},
        },
        **responses(*AUTHENTICATED, 404, 413, 415),
    },
    openapi_extra={"requestBody": _body_doc(_CREATE_SUBSCRIPTION_SCHEMA)},
)
async def create_subscription(
    request: Request, queryName: str, who: Principal = Depends(principal)
) -> Response:
    gs1.check_versions(request)
    data = await _body(request)
    rt = runtime(request)
    allow = _allow_private(rt)
    created = await run_in_threadpool(
        _run, lambda: subs.create(rt.store, who.uscc, queryName, data, allow_private=allow)
    )
    deliverer = rt.extra.get("deliverer")
    if isinstance(deliverer, subs.Deliverer):
        deliverer.wake()
    request.state.audit_detail = f"subscription {created.id} to {created.dest}"
    location = f"{_path(queryName)}/subscriptions/{created.id}"
    return _json(created.to_json(), 201, {"Location": location})


@router.get(
    "/queries/{queryName}/subscriptions/{subscriptionID}",
    summary="One subscription and its delivery state",
    response_class=Response,
    responses={
        200: _ok(SUBSCRIPTION_SCHEMA, "The subscription."),
        **responses(*AUTHENTICATED, 404),
    },
)
def get_subscription(
    request: Request, queryName: str, subscriptionID: str, who: Principal = Depends(principal)
) -> Response:
    gs1.check_versions(request)
    found = _run(lambda: subs.get(runtime(request).store, who.uscc, queryName, subscriptionID))
    return _json(found.to_json())


@router.delete(
    "/queries/{queryName}/subscriptions/{subscriptionID}",
    status_code=204,
    summary="Unsubscribe",
    response_class=Response,
    responses={204: {"description": "Unsubscribed."}, **responses(*AUTHENTICATED, 404)},
)
def delete_subscription(
    request: Request, queryName: str, subscriptionID: str, who: Principal = Depends(principal)
) -> Response:
    gs1.check_versions(request)
    _run(lambda: subs.remove(runtime(request).store, who.uscc, queryName, subscriptionID))
    request.state.audit_detail = f"subscription {subscriptionID} deleted"
    return Response(status_code=204)
