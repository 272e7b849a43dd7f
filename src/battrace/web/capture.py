"""``/capture``: EPCIS 2.0 capture over HTTP (JSON-LD or XML), and capture jobs.

The capture runs while the request waits and is committed (or refused) before the answer, so
``202 Accepted`` comes with a finished job: ``Location: /capture/{captureID}`` describes it, with
every error (event index, field, reason) of a failed one. A document that cannot be read at all
(not JSON/XML, not an EPCIS document, unsafe XML) is a 400 and creates no job; over the limits it is
a 413. ``GS1-Capture-Error-Behaviour: rollback`` (default) writes nothing if any event is bad;
``proceed`` captures the good events and lists the bad ones.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from battrace.domain.epcis.document import Limits, ParsedDocument, parse_document
from battrace.domain.epcis.xml import parse_xml_document
from battrace.domain.errors import InvalidInput
from battrace.persistence import queries as q
from battrace.persistence.base import WriteTxn
from battrace.persistence.queries import JobRow
from battrace.services.capture import CaptureResult, Problem
from battrace.web import gs1
from battrace.web.auth import Principal, capturer, principal
from battrace.web.problems import (
    ALREADY_EXISTS,
    AUTHENTICATED,
    CAPTURE_LIMIT,
    UNSUPPORTED_MEDIA,
    VALIDATION,
    ApiError,
    responses,
)
from battrace.web.runtime import Runtime, runtime

router = APIRouter(tags=["Capture"])

JSON_TYPES = ("application/json", "application/ld+json")
XML_TYPES = ("application/xml", "text/xml")
BEHAVIOURS = ("rollback", "proceed")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _iso(text: str | None) -> str | None:
    """Stored UTC text → the RFC 3339 form the binding shows (millisecond precision)."""
    return None if text is None else text[:23] + "Z"


# -- the job row travels with the capture into its transaction --------------------------------


@dataclass(slots=True)
class _Pending:
    job: JobRow
    submitted: int


_pending: ContextVar[_Pending | None] = ContextVar("battrace_capture_job", default=None)


class JobRecorder:
    """Capture observer: writes the job row in the capture's own transaction, so an acknowledged
    capture always has its job, and a failed commit leaves neither."""

    def on_capture(
        self, txn: WriteTxn, events: Sequence[tuple[str, Any]], record_time: str
    ) -> None:
        pending = _pending.get()
        if pending is None:
            return
        job = pending.job
        job.captured = len(events)
        job.duplicates = pending.submitted - len(events)
        job.finished_at = _now()
        q.insert_job_in(txn, job)


# -- helpers ----------------------------------------------------------------------------------


def job_json(job: JobRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        "captureID": job.capture_id,
        "createdAt": _iso(job.created_at),
        "running": job.running,
        "success": job.success,
        "captureErrorBehaviour": job.behaviour,
        "errors": job.errors,
        "eventCount": job.event_count,
        "captured": job.captured,
        "duplicates": job.duplicates,
    }
    if job.finished_at is not None:
        out["finishedAt"] = _iso(job.finished_at)
    return out


def _error(p: Problem) -> dict[str, Any]:
    where = f"event {p.index}: " if p.index >= 0 else ""
    out: dict[str, Any] = {
        "type": VALIDATION,
        "title": "Event rejected" if p.index >= 0 else "Capture rejected",
        "status": 400,
        "detail": f"{where}{p.field}: {p.reason}",
        "field": p.field,
        "reason": p.reason,
    }
    if p.index >= 0:
        out["eventIndex"] = p.index
    return out


def _media(request: Request) -> str:
    raw = request.headers.get("content-type", "")
    media = raw.split(";")[0].strip().lower()
    if media in JSON_TYPES:
        return "json"
    if media in XML_TYPES:
        return "xml"
    raise ApiError(
        415,
        f"Content-Type {raw or '(none)'!r} is not accepted; send an EPCISDocument as "
        "application/ld+json, application/json or application/xml",
        type=UNSUPPORTED_MEDIA,
    )


async def _read_body(request: Request, limit: int) -> bytes:
    too_big = ApiError(
        413,
        f"the document is larger than {limit:,} bytes (GS1-EPCIS-Capture-File-Size-Limit)",
        type=CAPTURE_LIMIT,
        headers={"GS1-EPCIS-Capture-File-Size-Limit": str(limit)},
    )
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:  # stop reading: an oversized body never sits in memory whole
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


# A JSON string holding U+0000 (an odd number of backslashes before u0000): no EPCIS field
# carries one, and PostgreSQL text cannot store it. (XML 1.0 cannot contain NUL at all.)
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _parse(rt: Runtime, data: bytes, kind: str) -> tuple[ParsedDocument, str]:
    if kind == "json" and _JSON_NUL.search(data):
        raise ApiError(
            400,
            "the document was not accepted: it contains a NUL character (\\u0000)",
            type=VALIDATION,
            errors=[{"field": "document", "reason": "contains a NUL character (\\u0000)"}],
        )
    limits = Limits(
        max_document_bytes=rt.max_capture_bytes, max_event_bytes=rt.settings.max_event_bytes
    )
    try:
        if kind == "xml":
            doc = parse_xml_document(data, limits)
            path = (
                "EPCISBody.QueryResults.resultsBody.EventList"
                if doc.kind == "EPCISQueryDocument"
                else "EPCISBody.EventList"
            )
        else:
            doc = parse_document(data, limits)
            path = {
                "EPCISDocument": "epcisBody.eventList",
                "EPCISQueryDocument": "epcisBody.queryResults.resultsBody.eventList",
            }.get(doc.kind, "event")
    except InvalidInput as exc:
        raise ApiError(
            400,
            f"the document was not accepted: {exc}",
            type=VALIDATION,
            errors=[{"field": exc.field, "reason": exc.reason}],
        ) from None
    if len(doc.events) > rt.api.capture_limit:
        raise ApiError(
            413,
            f"the document has {len(doc.events):,} events; one capture may carry "
            f"{rt.api.capture_limit:,} (GS1-EPCIS-Capture-Limit)",
            type=CAPTURE_LIMIT,
            headers={"GS1-EPCIS-Capture-Limit": str(rt.api.capture_limit)},
        )
    return doc, path


def _run_capture(rt: Runtime, who: Principal, data: bytes, kind: str, behaviour: str) -> JobRow:
    doc, path = _parse(rt, data, kind)
    return _capture_parsed(rt, who, doc, path, behaviour)[0]


def _ids_in_order(result: CaptureResult) -> list[str]:
    """The Event Hash IDs of a successful capture in document order, events already in the
    ledger (duplicates) included."""
    ids = iter(result.event_ids)
    duplicates = dict(result.duplicates)
    return [
        duplicates[i] if i in duplicates else next(ids)
        for i in range(result.captured + len(duplicates))
    ]


def _capture_parsed(
    rt: Runtime, who: Principal, doc: ParsedDocument, path: str, behaviour: str
) -> tuple[JobRow, list[str]]:
    """Capture a parsed document as ``who``: the job, and on success the Event Hash IDs of its
    events in order (the ledger computed them; nobody needs to hash again)."""
    events = doc.events
    bodies = [orjson.dumps(e).decode() if isinstance(e, dict) else "" for e in events]
    job = JobRow(
        capture_id=str(uuid.uuid4()),
        enterprise=who.uscc,
        key_id=who.key.key_id,
        behaviour=behaviour,
        created_at=_now(),
        finished_at=None,
        success=True,
        event_count=len(events),
    )
    token = _pending.set(_Pending(job, len(events)))
    try:
        result = rt.ledger.capture_events(doc.context, events, bodies, who.uscc, path=path)
        if not result.rejected:
            return job, _ids_in_order(result)
        job.success = False
        job.errors = [_error(p) for p in result.rejected]
        bad = {p.index for p in result.rejected}
        if behaviour == "proceed" and min(bad) >= 0 and len(bad) < len(events):
            keep = [i for i in range(len(events)) if i not in bad]
            _pending.set(_Pending(job, len(keep)))
            again: CaptureResult = rt.ledger.capture_events(
                doc.context,
                [events[i] for i in keep],
                [bodies[i] for i in keep],
                who.uscc,
                path=path,
            )
            if not again.rejected:
                return job, _ids_in_order(again)
            # Something changed between the two passes (it cannot for a pure validation error):
            # report it against the original positions and write nothing more.
            job.errors += [
                _error(Problem(keep[p.index] if p.index >= 0 else -1, p.field, p.reason))
                for p in again.rejected
            ]
        job.finished_at = _now()
        job.captured = 0
        q.insert_job(rt.store, job)
        return job, []
    finally:
        _pending.reset(token)


def _limit_headers(rt: Runtime) -> dict[str, str]:
    return {
        "GS1-EPCIS-Capture-Limit": str(rt.api.capture_limit),
        "GS1-EPCIS-Capture-File-Size-Limit": str(rt.max_capture_bytes),
        "GS1-Capture-Error-Behaviour": "all",
    }


# -- OpenAPI ------------------------------------------------------------------------------------

CAPTURE_JOB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["captureID", "running", "success", "captureErrorBehaviour", "errors"],
    "properties": {
        "captureID": {"type": "string"},
        "createdAt": {"type": "string", "format": "date-time"},
        "finishedAt": {"type": "string", "format": "date-time"},
        "running": {"type": "boolean"},
        "success": {"type": "boolean"},
        "captureErrorBehaviour": {"type": "string", "enum": list(BEHAVIOURS)},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "title"],
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "eventIndex": {"type": "integer"},
                    "field": {"type": "string"},
                    "reason": {"type": "string"},
                },
            },
        },
        "eventCount": {"type": "integer", "description": "events in the document"},
        "captured": {"type": "integer", "description": "events written"},
        "duplicates": {"type": "integer", "description": "events already in the ledger"},
    },
}
_LIMIT_HEADERS: dict[str, Any] = {
    "GS1-EPCIS-Capture-Limit": {
        "description": "Most events one capture may carry.",
        "schema": {"type": "integer", "minimum": 1},
    },
    "GS1-EPCIS-Capture-File-Size-Limit": {
        "description": "Largest capture document in bytes.",
        "schema": {"type": "integer", "minimum": 1},
    },
}
_DOCUMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An EPCISDocument or EPCISQueryDocument (EPCIS 2.0 JSON-LD), or one event.",
    "required": ["type"],
    "properties": {"type": {"type": "string"}, "@context": {}, "epcisBody": {"type": "object"}},
}
_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "One EPCIS 2.0 event in JSON-LD (`@context` optional).",
    "required": ["type"],
    "properties": {"type": {"type": "string"}, "@context": {}},
}
_CAPTURE_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/ld+json": {"schema": _DOCUMENT_SCHEMA},
        "application/json": {"schema": _DOCUMENT_SCHEMA},
        "application/xml": {
            "schema": {"type": "string", "description": "An EPCIS 2.0 XML EPCISDocument."}
        },
    },
}
_BEHAVIOUR_HEADER = {
    "in": "header",
    "name": "GS1-Capture-Error-Behaviour",
    "required": False,
    "description": "`rollback` (default): all or nothing; `proceed`: keep the valid events.",
    "schema": {"type": "string", "enum": list(BEHAVIOURS), "default": "rollback"},
}
_PAGE_PARAMS: list[dict[str, Any]] = [
    {
        "in": "query",
        "name": "perPage",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 30},
    },
    {"in": "query", "name": "nextPageToken", "required": False, "schema": {"type": "string"}},
]


# -- routes -------------------------------------------------------------------------------------


@router.options(
    "/capture",
    status_code=204,
    summary="Discover the settings of the capture interface",
    responses={
        204: {
            "description": "Limits and behaviours of the capture interface.",
            "headers": {
                **_LIMIT_HEADERS,
                **gs1.VERSION_RESPONSE_HEADERS,
                "Allow": {"schema": {"type": "string"}},
                "GS1-Capture-Error-Behaviour": {"schema": {"type": "string"}},
            },
        },
        **responses(*AUTHENTICATED),
    },
)
def capture_options(request: Request, who: Principal = Depends(principal)) -> Response:
    rt = runtime(request)
    return Response(status_code=204, headers={"Allow": "OPTIONS, POST, GET", **_limit_headers(rt)})


@router.post(
    "/capture",
    status_code=202,
    summary="Capture an EPCISDocument (JSON-LD or XML)",
    description=(
        "Validates, authorises, hashes and commits the document's events as one capture. "
        "The answer is `202` with `Location: /capture/{captureID}` once the job has finished; "
        "a failed job lists every error (event index, field, reason). "
        "`GS1-Capture-Error-Behaviour: proceed` keeps the valid events of a document with bad "
        "ones. Documents over `GS1-EPCIS-Capture-Limit` events or "
        "`GS1-EPCIS-Capture-File-Size-Limit` bytes are refused with 413."
    ),
    response_class=Response,
    responses={
        202: {
            "description": "Captured (or refused event by event): the finished capture job.",
            "headers": {
                "Location": {
                    "description": "The capture job: /capture/{captureID}",
                    "schema": {"type": "string"},
                },
                **_LIMIT_HEADERS,
                **gs1.VERSION_RESPONSE_HEADERS,
                "GS1-Capture-Error-Behaviour": {
                    "description": "`all`: both rollback and proceed are supported.",
                    "schema": {"type": "string"},
                },
            },
            "content": {"application/json": {"schema": CAPTURE_JOB_SCHEMA}},
        },
        **responses(*AUTHENTICATED, 413, 415),
    },
    openapi_extra={
        "requestBody": _CAPTURE_BODY,
        "parameters": [
            _BEHAVIOUR_HEADER,
            *gs1.version_request_headers("GS1-EPCIS-Version", "GS1-CBV-Version"),
        ],
    },
)
async def capture(request: Request, who: Principal = Depends(capturer)) -> Response:
    rt = runtime(request)
    gs1.check_versions(request)
    behaviour = request.headers.get("GS1-Capture-Error-Behaviour", "rollback").strip().lower()
    if behaviour not in BEHAVIOURS:
        raise ApiError(
            400,
            "GS1-Capture-Error-Behaviour must be rollback or proceed",
            errors=[
                {"field": "GS1-Capture-Error-Behaviour", "reason": "must be rollback or proceed"}
            ],
        )
    kind = _media(request)
    data = await _read_body(request, rt.max_capture_bytes)
    job = await run_in_threadpool(_run_capture, rt, who, data, kind, behaviour)
    request.state.audit_outcome = (
        "ok" if job.success else ("partial" if job.captured else "rejected")
    )
    request.state.audit_detail = (
        f"capture {job.capture_id}: {job.event_count} events, captured {job.captured}, "
        f"duplicates {job.duplicates}, errors {len(job.errors)}"
    )
    return Response(
        orjson.dumps(job_json(job)),
        status_code=202,
        media_type="application/json",
        headers={"Location": f"/capture/{job.capture_id}", **_limit_headers(rt)},
    )


def _capture_one(rt: Runtime, who: Principal, data: bytes) -> tuple[JobRow, str]:
    """Capture a request body that must be exactly one event: (the job, its Event Hash ID)."""
    doc, path = _parse(rt, data, "json")
    if doc.kind != "event":
        raise ApiError(
            400,
            f"POST /events takes one EPCIS event, not an {doc.kind}; capture documents with "
            "POST /capture",
            type=VALIDATION,
            errors=[{"field": "type", "reason": "must be an event type, e.g. ObjectEvent"}],
        )
    job, ids = _capture_parsed(rt, who, doc, path, "rollback")
    return job, ids[0] if ids else ""


@router.post(
    "/events",
    status_code=201,
    tags=["Capture"],
    summary="Capture one event (synchronous)",
    description=(
        "The EPCIS 2.0 binding's synchronous capture of a single event (JSON-LD, with or "
        "without its own `@context`): validated, authorised, hashed and committed like a "
        "one-event `POST /capture`. `201` with `Location: /events/{eventID}` (the Event Hash "
        "ID); `409` if that event is already in the ledger; `400` names every field at fault."
    ),
    response_class=Response,
    responses={
        201: {
            "description": "Captured: the event ID and the capture job it was committed in.",
            "headers": {
                "Location": {
                    "description": "The new event: /events/{eventID} (URL-encoded)",
                    "schema": {"type": "string"},
                },
                **gs1.VERSION_RESPONSE_HEADERS,
            },
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["eventID", "captureID"],
                        "properties": {
                            "eventID": {"type": "string"},
                            "captureID": {"type": "string"},
                        },
                    }
                }
            },
        },
        **responses(*AUTHENTICATED, 409, 413, 415),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/ld+json": {"schema": _EVENT_SCHEMA},
                "application/json": {"schema": _EVENT_SCHEMA},
            },
        },
        "parameters": gs1.version_request_headers("GS1-EPCIS-Version", "GS1-CBV-Version"),
    },
)
async def capture_event(request: Request, who: Principal = Depends(capturer)) -> Response:
    rt = runtime(request)
    gs1.check_versions(request)
    if _media(request) != "json":
        raise ApiError(
            415,
            "POST /events takes application/ld+json or application/json; send XML documents "
            "to POST /capture",
            type=UNSUPPORTED_MEDIA,
        )
    data = await _read_body(request, min(rt.max_capture_bytes, rt.settings.max_event_bytes * 2))
    job, event_id = await run_in_threadpool(_capture_one, rt, who, data)
    if not job.success:
        request.state.audit_outcome = "rejected"
        request.state.audit_detail = f"capture {job.capture_id}: event rejected"
        raise ApiError(
            400,
            "the event was not accepted: " + "; ".join(e["detail"] for e in job.errors),
            type=VALIDATION,
            errors=[{"field": e["field"], "reason": e["reason"]} for e in job.errors],
        )
    if job.duplicates:
        request.state.audit_outcome = "duplicate"
        raise ApiError(
            409,
            f"event {event_id} is already in the ledger",
            type=ALREADY_EXISTS,
            headers={"Location": f"/events/{quote(event_id, safe='')}"},
        )
    request.state.audit_outcome = "ok"
    request.state.audit_detail = f"capture {job.capture_id}: event {event_id}"
    return Response(
        orjson.dumps({"eventID": event_id, "captureID": job.capture_id}),
        status_code=201,
        media_type="application/json",
        headers={"Location": f"/events/{quote(event_id, safe='')}"},
    )


def _may_see(rt: Runtime, who: Principal, job: JobRow) -> bool:
    if who.scope.kind == "national" or job.enterprise == who.uscc:
        return True
    if who.scope.kind == "provincial":
        return q.enterprise_provinces(rt.store, [job.enterprise]).get(job.enterprise) == (
            who.scope.province
        )
    return False


def _job_enterprises(rt: Runtime, who: Principal) -> list[str] | None:
    if who.scope.kind == "national":
        return None
    if who.scope.kind == "provincial":
        return [e.uscc for e in rt.store.list_enterprises() if e.province == who.scope.province]
    return [who.uscc]


@router.get(
    "/capture",
    summary="List capture jobs (newest first)",
    description="The key's enterprise sees its own jobs; regulators those in their scope.",
    response_class=Response,
    responses={
        200: {
            "description": "Capture jobs.",
            "headers": {**gs1.VERSION_RESPONSE_HEADERS, **gs1.LINK_HEADER},
            "content": {
                "application/json": {"schema": {"type": "array", "items": CAPTURE_JOB_SCHEMA}}
            },
        },
        **responses(*AUTHENTICATED),
    },
    openapi_extra={"parameters": _PAGE_PARAMS},
)
def list_capture_jobs(
    request: Request,
    who: Principal = Depends(principal),
    per_page: int = Query(30, alias="perPage", ge=1, le=1000, include_in_schema=False),
    next_page_token: str | None = Query(None, alias="nextPageToken", include_in_schema=False),
) -> Response:
    rt = runtime(request)
    before = None
    if next_page_token is not None:
        try:
            before = int(
                base64.urlsafe_b64decode(next_page_token + "=" * (-len(next_page_token) % 4))
            )
            if not 0 < before < 2**62:
                raise ValueError(before)
        except (binascii.Error, ValueError):
            raise ApiError(
                400,
                "nextPageToken: is not a token this server issued",
                errors=[{"field": "nextPageToken", "reason": "is not a token this server issued"}],
            ) from None
    jobs = q.list_jobs(rt.store, _job_enterprises(rt, who), before, per_page + 1)
    headers = {}
    if len(jobs) > per_page:
        jobs = jobs[:per_page]
        token = base64.urlsafe_b64encode(str(jobs[-1].seq).encode()).decode().rstrip("=")
        headers["Link"] = f'</capture?perPage={per_page}&nextPageToken={token}>; rel="next"'
    return Response(
        orjson.dumps([job_json(j) for j in jobs]), media_type="application/json", headers=headers
    )


@router.get(
    "/capture/{captureID}",
    summary="One capture job, with every error of a failed capture",
    response_class=Response,
    responses={
        200: {
            "description": "The capture job.",
            "headers": gs1.VERSION_RESPONSE_HEADERS,
            "content": {"application/json": {"schema": CAPTURE_JOB_SCHEMA}},
        },
        **responses(*AUTHENTICATED, 404),
    },
)
def get_capture_job(
    request: Request,
    captureID: str,  # the binding's name for it
    who: Principal = Depends(principal),
) -> Response:
    rt = runtime(request)
    capture_id = captureID
    ok = len(capture_id) <= 64 and capture_id.isprintable()
    job = q.get_job(rt.store, capture_id) if ok else None
    if job is None or not _may_see(rt, who, job):
        raise ApiError(404, f"no capture job {capture_id!r} visible to this key")
    return Response(orjson.dumps(job_json(job)), media_type="application/json")
