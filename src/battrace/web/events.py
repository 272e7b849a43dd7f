"""EPCIS 2.0 event queries: ``GET /events`` and the resource-oriented endpoints of the binding
that make sense for batteries (``/events/{eventID}``, ``/epcs/{epc}/events``, ``/eventTypes``,
``/bizSteps``, ``/bizLocations``, ``/readPoints``, ``/dispositions`` and their ``…/events``).

Results are EPCISQueryDocuments in JSON-LD (default) or XML (``Accept: application/xml``), paged
with ``perPage`` / ``nextPageToken`` and an RFC 8288 ``Link: <…>; rel="next"`` header. Every
query runs inside the key's read scope (services.authorisation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from battrace.domain.epcis.document import STANDARD_CONTEXT
from battrace.domain.errors import InvalidInput
from battrace.persistence.base import Store
from battrace.persistence.queries import EventRecord
from battrace.services import query as qs
from battrace.services.authorisation import ReadScope
from battrace.web import gs1
from battrace.web.auth import Caller, Principal, caller, principal
from battrace.web.problems import (
    AUTHENTICATED,
    NOT_ACCEPTABLE,
    QUERY_PARAMETER,
    QUERY_TOO_LARGE,
    ApiError,
    bad_input,
    responses,
)
from battrace.web.runtime import runtime

router = APIRouter(tags=["Events"])

# -- OpenAPI ------------------------------------------------------------------------------------

_LIST = {"style": "pipeDelimited", "explode": False}


def _list_param(name: str, description: str, items: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "in": "query",
        "name": name,
        "required": False,
        "description": description + " Several values: separated by `|`.",
        "schema": {
            "type": "array",
            "minItems": 1,
            "maxItems": qs.MAX_VALUES,
            "items": items or {"type": "string", "minLength": 1, "pattern": r"^[^|\s]+$"},
        },
        **_LIST,
    }


def _param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "in": "query",
        "name": name,
        "required": False,
        "description": description,
        "schema": schema,
    }


_TIME = {"type": "string", "format": "date-time"}
PAGE_PARAMS = [
    _param(
        "perPage",
        f"Events (or values) per page, default {qs.DEFAULT_PER_PAGE}.",
        {"type": "integer", "minimum": 1, "maximum": qs.MAX_PER_PAGE},
    ),
    _param(
        "nextPageToken",
        "From the previous page's `Link` header; the other parameters must be the same.",
        {"type": "string", "maxLength": qs.MAX_TOKEN},
    ),
]
QUERY_PARAMS: list[dict[str, Any]] = [
    _list_param("eventType", "Event types.", {"type": "string", "enum": list(qs.EVENT_TYPES)}),
    _param("GE_eventTime", "eventTime ≥ this.", _TIME),
    _param("LT_eventTime", "eventTime < this.", _TIME),
    _param("GE_recordTime", "recordTime ≥ this.", _TIME),
    _param("LT_recordTime", "recordTime < this.", _TIME),
    _list_param("EQ_action", "Actions.", {"type": "string", "enum": list(qs.ACTIONS)}),
    _list_param("EQ_bizStep", "Business steps: CBV bare words (`shipping`) or URIs."),
    _list_param("EQ_disposition", "Dispositions: CBV bare words or URIs."),
    _list_param("EQ_readPoint", "Read point URIs."),
    _list_param("EQ_bizLocation", "Business location URIs."),
    _list_param("MATCH_epc", "Identifiers in epcList or childEPCs."),
    _list_param("MATCH_parentID", "parentID."),
    _list_param("MATCH_inputEPC", "Identifiers in inputEPCList."),
    _list_param("MATCH_outputEPC", "Identifiers in outputEPCList."),
    _list_param("MATCH_anyEPC", "Identifiers in any role."),
    _list_param("EQ_eventID", "Event IDs (Event Hash IDs)."),
    _param(
        "EXISTS_errorDeclaration",
        "true: only error declarations.",
        {"type": "string", "enum": ["true", "false"]},
    ),
    _param(
        "orderBy",
        "Sort by eventTime or recordTime (default: capture order).",
        {"type": "string", "enum": ["eventTime", "recordTime"]},
    ),
    _param(
        "orderDirection",
        "ASC or DESC (default DESC); needs orderBy.",
        {"type": "string", "enum": ["ASC", "DESC"]},
    ),
    _param(
        "eventCountLimit",
        "At most this many events in all (needs orderBy; excludes maxEventCount).",
        {"type": "integer", "minimum": 1},
    ),
    _param(
        "maxEventCount",
        "413 if more events than this match (excludes eventCountLimit).",
        {"type": "integer", "minimum": 1, "maximum": 1_000_000},
    ),
    *PAGE_PARAMS,
]
_REQUEST_HEADERS = [
    *gs1.version_request_headers("GS1-EPCIS-Min", "GS1-EPCIS-Max", "GS1-CBV-Min", "GS1-CBV-Max"),
    {
        "in": "header",
        "name": "GS1-CBV-XML-Format",
        "required": False,
        "description": "XML results only: CBV values as URNs (default) or Web URIs.",
        "schema": {
            "type": "string",
            "enum": ["No_Preference", "Always_Web_URI", "Always_URN", "Never_Translates"],
        },
    },
]
QUERY_DOCUMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "EPCISQueryDocument (EPCIS 2.0 JSON-LD); every event carries eventID and "
    "recordTime.",
    "required": ["@context", "type", "schemaVersion", "creationDate", "epcisBody"],
    "properties": {
        "@context": {},
        "type": {"type": "string", "enum": ["EPCISQueryDocument"]},
        "schemaVersion": {"type": "string"},
        "creationDate": {"type": "string", "format": "date-time"},
        "epcisBody": {
            "type": "object",
            "required": ["queryResults"],
            "properties": {
                "queryResults": {
                    "type": "object",
                    "required": ["queryName", "resultsBody"],
                    "properties": {
                        "queryName": {"type": "string"},
                        "resultsBody": {
                            "type": "object",
                            "required": ["eventList"],
                            "properties": {
                                "eventList": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["type", "eventID", "recordTime"],
                                    },
                                }
                            },
                        },
                    },
                }
            },
        },
    },
}
_XML_BODY = {"schema": {"type": "string", "description": "EPCIS 2.0 XML EPCISQueryDocument"}}


def query_responses(*extra: int, paged: bool = True) -> dict[int | str, dict[str, Any]]:
    headers = {**gs1.VERSION_RESPONSE_HEADERS, **(gs1.LINK_HEADER if paged else {})}
    return {
        200: {
            "description": "An EPCISQueryDocument.",
            "headers": headers,
            "content": {
                gs1.JSON: {"schema": QUERY_DOCUMENT_SCHEMA},
                gs1.JSON_LD: {"schema": QUERY_DOCUMENT_SCHEMA},
                gs1.XML: _XML_BODY,
            },
        },
        **responses(*AUTHENTICATED, *extra),
    }


COLLECTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "member"],
    "properties": {
        "@context": {},
        "type": {"type": "string", "enum": ["Collection"]},
        "member": {"type": "array", "items": {"type": "string"}},
    },
}


def collection_responses() -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": "The values found among the events the key may read.",
            "headers": {**gs1.VERSION_RESPONSE_HEADERS, **gs1.LINK_HEADER},
            "content": {gs1.JSON: {"schema": COLLECTION_SCHEMA}},
        },
        **responses(*AUTHENTICATED),
    }


# -- shared -------------------------------------------------------------------------------------


def _next_link(request: Request, token: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "nextPageToken"]
    params.append(("nextPageToken", token))
    return f'<{quote(request.url.path)}?{urlencode(params)}>; rel="next"'


def render_records(
    request: Request, records: list[EventRecord], headers: dict[str, str] | None = None
) -> Response:
    media = gs1.negotiate(request)
    if media == gs1.XML:
        fmt = "web" if request.headers.get("GS1-CBV-XML-Format") == "Always_Web_URI" else "urn"
        try:
            body = qs.query_document_xml(records, fmt)
        except InvalidInput as exc:
            raise ApiError(
                406,
                f"the result cannot be written as XML ({exc}); ask for JSON-LD",
                type=NOT_ACCEPTABLE,
            ) from None
        return Response(body, media_type=gs1.XML, headers=headers)
    return Response(orjson.dumps(qs.query_document(records)), media_type=media, headers=headers)


async def run_query(request: Request, who: Caller, fixed: dict[str, str] | None = None) -> Response:
    gs1.check_versions(request)
    gs1.negotiate(request)  # 406 before doing any work
    rt = runtime(request)

    def work() -> Response:
        with qs.reading(rt.store):  # one connection for the key check and the query
            scope = who.principal().scope
            params = request.query_params.multi_items()
            return answer_query(
                request, rt.store, scope, lambda: qs.parse_event_query(params, fixed=fixed)
            )

    return await run_in_threadpool(work)


def answer_query(
    request: Request,
    store: Store,
    scope: ReadScope,
    parse: Callable[[], qs.EventQuery],
    what: str = "",
) -> Response:
    """Parse and run a query in ``scope`` and answer one page of it (EPCISQueryDocument, with
    the ``Link`` to the next page); a bad query is 400, one over its maxEventCount 413."""
    try:
        page = qs.query_events(store, scope, parse())
    except qs.QueryTooLarge as exc:
        raise bad_input(exc, type=QUERY_TOO_LARGE, status=413) from None
    except InvalidInput as exc:
        raise bad_input(exc, type=QUERY_PARAMETER) from None
    headers = {}
    if page.next_token is not None:
        headers["Link"] = _next_link(request, page.next_token)
    request.state.audit_detail = f"{what}{len(page.records)} events"
    return render_records(request, page.records, headers)


# -- routes -------------------------------------------------------------------------------------


@router.get(
    "/events",
    summary="Query events (EPCIS 2.0 query parameters)",
    description=(
        "Events the key's enterprise may read that match every given parameter. Without "
        "`orderBy` the order is capture order. Unknown parameters are refused (400)."
    ),
    response_class=Response,
    responses=query_responses(413),
    openapi_extra={"parameters": [*QUERY_PARAMS, *_REQUEST_HEADERS]},
)
async def events(request: Request, who: Caller = Depends(caller)) -> Response:
    return await run_query(request, who)


@router.options(
    "/events",
    status_code=204,
    summary="Discover the events endpoint",
    responses={
        204: {
            "description": "Versions served and methods allowed.",
            "headers": {**gs1.VERSION_RESPONSE_HEADERS, "Allow": {"schema": {"type": "string"}}},
        },
        **responses(*AUTHENTICATED),
    },
)
def events_options(who: Principal = Depends(principal)) -> Response:
    return Response(status_code=204, headers={"Allow": "OPTIONS, GET"})


@router.get(
    "/events/{eventID:path}",
    summary="One event (and its error declarations)",
    description="`eventID` is the Event Hash ID, URL-encoded (`ni:%2F%2F%2Fsha-256;…%3Fver=CBV2.0`).",
    response_class=Response,
    responses=query_responses(404, paged=False),
    openapi_extra={"parameters": _REQUEST_HEADERS},
)
async def event(request: Request, eventID: str, who: Caller = Depends(caller)) -> Response:
    gs1.check_versions(request)
    gs1.negotiate(request)
    rt = runtime(request)

    def work() -> Response:
        records = qs.event_records(rt.store, who.principal().scope, eventID)
        if not records:
            raise ApiError(404, f"no event {eventID!r} visible to this key")
        return render_records(request, records)

    return await run_in_threadpool(work)


def _without(name: str) -> list[dict[str, Any]]:
    """The query parameters of a path that fixes ``name`` itself."""
    return [p for p in QUERY_PARAMS if p["name"] != name]


_PATH_PARAM_DOC = "URL-encoded where it contains `/`, `?` or `#`."


@router.get(
    "/epcs/{epc:path}/events",
    summary="Events naming an identifier in any role (MATCH_anyEPC)",
    description=f"`epc`: a battery, vehicle or other identifier URI; {_PATH_PARAM_DOC}",
    response_class=Response,
    responses=query_responses(413),
    openapi_extra={"parameters": [*_without("MATCH_anyEPC"), *_REQUEST_HEADERS]},
)
async def epc_events(request: Request, epc: str, who: Caller = Depends(caller)) -> Response:
    return await run_query(request, who, {"MATCH_anyEPC": epc})


_RESOURCES = {
    "eventTypes": ("eventType", "event types"),
    "bizSteps": ("EQ_bizStep", "business steps"),
    "bizLocations": ("EQ_bizLocation", "business locations"),
    "readPoints": ("EQ_readPoint", "read points"),
    "dispositions": ("EQ_disposition", "dispositions"),
}


def _collection_route(what: str, label: str) -> None:
    async def collection(request: Request, who: Caller = Depends(caller)) -> Response:
        gs1.check_versions(request)
        gs1.negotiate(request, (gs1.JSON, gs1.JSON_LD))
        rt = runtime(request)
        params = dict(request.query_params)
        unknown = [k for k in params if k not in ("perPage", "nextPageToken")]
        if unknown:
            raise ApiError(
                400,
                f"{unknown[0]}: is not a supported query parameter",
                type=QUERY_PARAMETER,
                errors=[{"field": unknown[0], "reason": "is not a supported query parameter"}],
            )
        per_page = qs.DEFAULT_PER_PAGE
        if "perPage" in params:
            try:
                per_page = qs.positive_int("perPage", params["perPage"], maximum=qs.MAX_PER_PAGE)
            except InvalidInput as exc:
                raise bad_input(exc, type=QUERY_PARAMETER) from None

        def work() -> tuple[list[str], str | None]:
            scope = who.principal().scope
            try:
                return qs.distinct(rt.store, scope, what, per_page, params.get("nextPageToken"))
            except InvalidInput as exc:
                raise bad_input(exc, type=QUERY_PARAMETER) from None

        values, token = await run_in_threadpool(work)
        headers = {"Link": _next_link(request, token)} if token else {}
        body = {"@context": STANDARD_CONTEXT, "type": "Collection", "member": values}
        return Response(orjson.dumps(body), media_type=gs1.JSON, headers=headers)

    router.add_api_route(
        f"/{what}",
        collection,
        methods=["GET"],
        summary=f"The {label} of the events the key may read",
        description="Values of events the key's enterprise took part in (all for the national "
        "regulator), sorted, paged.",
        response_class=Response,
        responses=collection_responses(),
        openapi_extra={"parameters": PAGE_PARAMS},
        name=f"list_{what}",
    )


def _events_route(what: str, param: str, label: str) -> None:
    async def events_of(request: Request, value: str, who: Caller = Depends(caller)) -> Response:
        return await run_query(request, who, {param: value})

    router.add_api_route(
        f"/{what}/{{value:path}}/events",
        events_of,
        methods=["GET"],
        summary=f"Events of one of the {label} ({param})",
        description=f"`value`: {_PATH_PARAM_DOC}",
        response_class=Response,
        responses=query_responses(413),
        openapi_extra={"parameters": [*_without(param), *_REQUEST_HEADERS]},
        name=f"{what}_events",
    )


for _what, (_param_name, _label) in _RESOURCES.items():
    _collection_route(_what, _label)
    _events_route(_what, _param_name, _label)
