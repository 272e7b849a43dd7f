"""EPCIS 2.0 event queries with read scoping, paging, and the read-scope index.

- :func:`parse_event_query` turns the query string of ``GET /events`` (the standard parameters,
  pipe-delimited lists) into a validated :class:`EventQuery`; every problem is an
  :class:`~battrace.domain.errors.InvalidInput` naming the parameter.
- :func:`query_events` runs it for a :class:`~battrace.services.authorisation.ReadScope` and returns
  one page plus the ``nextPageToken`` of the next (keyset paging: stable while events arrive).
- :func:`query_document` / :func:`query_document_xml` render a page as an EPCISQueryDocument whose
  events carry their ``eventID`` (the Event Hash ID unless the reporter gave one) and
  ``recordTime``; each event keeps the ``@context`` of its capture, so its Event Hash ID computed
  from the result equals the one computed at capture.
- :func:`refresh_index` / :class:`ScopeIndexer` keep the read-scope index (``api_event_access``,
  ``api_custody``) up to date: inside each HTTP capture's transaction, and on demand for events
  captured by other channels (CLI, demo), before a scoped read.

Scoping (services.authorisation): national = no condition; provincial = an ``api_event_access``
row for ``province:NN`` (in SQL); enterprise = took part (``api_event_access``) or the event names
an object in its custody window — checked per candidate page in Python, because the window is per
object and time (a bounded number of candidates is examined per request; a page may then hold
fewer events than ``perPage`` and still carry a next link).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson

from battrace.domain.epcis import vocab
from battrace.domain.epcis.document import STANDARD_CONTEXT
from battrace.domain.epcis.event import parse_timestamp
from battrace.domain.epcis.xml import events_to_xml
from battrace.domain.errors import InvalidInput
from battrace.persistence import queries as q
from battrace.persistence.base import Store, WriteTxn
from battrace.persistence.queries import EventFilter, EventRecord
from battrace.persistence.queries import reading as reading  # one connection per request
from battrace.services.authorisation import (
    ReadScope,
    object_ids,
    participants,
    province_principal,
)
from battrace.services.trace import trace

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000
#: Candidates an enterprise-scoped request examines at most (then it answers with what it found
#: and a next link), so one request's work stays bounded whatever the query.
SCAN_BUDGET = 5000
#: For maxEventCount with an enterprise key: candidates examined at most to count what it may see.
MAX_COUNT_BUDGET = 100_000
QUERY_NAME = "SimpleEventQuery"
_TIME_KEY = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z").fullmatch

EVENT_TYPES: tuple[str, ...] = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)
ACTIONS = ("ADD", "OBSERVE", "DELETE")

# MATCH_ parameter -> roles in event_epcs (docs: EPCIS 2.0 §8.2.7.1)
MATCH_ROLES: dict[str, tuple[str, ...]] = {
    "MATCH_epc": ("epc", "child"),
    "MATCH_parentID": ("parent",),
    "MATCH_inputEPC": ("input",),
    "MATCH_outputEPC": ("output",),
    "MATCH_anyEPC": (),
}
LIST_PARAMS = (
    "eventType",
    "EQ_action",
    "EQ_bizStep",
    "EQ_disposition",
    "EQ_readPoint",
    "EQ_bizLocation",
    "EQ_eventID",
    *MATCH_ROLES,
)
TIME_PARAMS = ("GE_eventTime", "LT_eventTime", "GE_recordTime", "LT_recordTime")
SCALAR_PARAMS = (
    *TIME_PARAMS,
    "EXISTS_errorDeclaration",
    "orderBy",
    "orderDirection",
    "eventCountLimit",
    "maxEventCount",
    "perPage",
    "nextPageToken",
)
QUERY_PARAMS = (*LIST_PARAMS, *SCALAR_PARAMS)
MAX_VALUES = 100  # values per list parameter
MAX_VALUE_LENGTH = 2048
MAX_TOKEN = 4096  # a collection's token carries the last value (a URI of up to 2,048 characters)


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class EventQuery:
    filter: EventFilter = field(default_factory=EventFilter)
    per_page: int = DEFAULT_PER_PAGE
    event_count_limit: int | None = None
    max_event_count: int | None = None
    token: str | None = None
    fingerprint: str = ""  # identifies the filters, so a page token is not reused elsewhere


@dataclass(frozen=True, slots=True)
class Page:
    records: list[EventRecord]
    next_token: str | None


class QueryTooLarge(InvalidInput):
    """More events match than ``maxEventCount`` allows (EPCIS QueryTooLargeException)."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f]").search


def check_text(value: str, field: str) -> None:
    """Identifiers and values never contain control characters (and PostgreSQL text cannot
    hold NUL): refuse them as bad input rather than let the database fail on them."""
    if _CONTROL(value):
        raise InvalidInput(field, "contains a control character")


def positive_int(name: str, raw: str, *, maximum: int | None = None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(name, f"must be a positive integer, got {raw!r}") from None
    if value < 1 or (maximum is not None and value > maximum):
        limit = f" and at most {maximum:,}" if maximum is not None else ""
        raise InvalidInput(name, f"must be at least 1{limit}, got {value}")
    return value


def _split(name: str, raws: Sequence[str]) -> tuple[str, ...]:
    values: list[str] = []
    for raw in raws:
        for value in raw.split("|"):
            value = value.strip()
            if not value:
                raise InvalidInput(name, "has an empty value")
            if len(value) > MAX_VALUE_LENGTH:
                raise InvalidInput(name, f"a value is longer than {MAX_VALUE_LENGTH} characters")
            values.append(value)
    if len(values) > MAX_VALUES:
        raise InvalidInput(name, f"has {len(values)} values; at most {MAX_VALUES}")
    return tuple(dict.fromkeys(values))


def parse_event_query(
    params: Iterable[tuple[str, str]], *, fixed: Mapping[str, str] | None = None
) -> EventQuery:
    """Validate the query parameters of ``GET /events``. ``fixed`` adds conditions of a
    resource-oriented path (``/bizSteps/{bizStep}/events`` → ``EQ_bizStep``)."""
    multi: dict[str, list[str]] = {}
    for name, value in params:
        if name not in QUERY_PARAMS:
            raise InvalidInput(name, "is not a supported query parameter")
        check_text(value, name)
        multi.setdefault(name, []).append(value)
    for name, value in (fixed or {}).items():
        check_text(value, name)
        if name in multi:
            raise InvalidInput(name, "is given by the path already")
        multi[name] = [value]
    single: dict[str, str] = {}
    for name in SCALAR_PARAMS:
        if name in multi:
            if len(multi[name]) > 1:
                raise InvalidInput(name, "may be given once")
            single[name] = multi[name][0]
    lists = {name: _split(name, multi[name]) for name in LIST_PARAMS if name in multi}

    for t in lists.get("eventType", ()):
        if t not in EVENT_TYPES:
            raise InvalidInput("eventType", f"{t!r} is not one of {', '.join(EVENT_TYPES)}")
    for action in lists.get("EQ_action", ()):
        if action not in ACTIONS:
            raise InvalidInput("EQ_action", f"{action!r} is not one of ADD, OBSERVE, DELETE")
    times: dict[str, str] = {}
    for name in TIME_PARAMS:
        if name in single:
            times[name] = utc_text(parse_timestamp(single[name], name))
    declarations = False
    if "EXISTS_errorDeclaration" in single:
        flag = single["EXISTS_errorDeclaration"].lower()
        if flag not in ("true", "false"):
            raise InvalidInput("EXISTS_errorDeclaration", "must be true or false")
        declarations = flag == "true"
    order = "seq"
    descending = False
    if "orderBy" in single:
        order = single["orderBy"]
        if order not in ("eventTime", "recordTime"):
            raise InvalidInput("orderBy", f"{order!r} is not eventTime or recordTime")
        descending = True  # the standard's default direction
    if "orderDirection" in single:
        direction = single["orderDirection"]
        if direction not in ("ASC", "DESC"):
            raise InvalidInput("orderDirection", f"{direction!r} is not ASC or DESC")
        if order == "seq":
            raise InvalidInput("orderDirection", "needs orderBy")
        descending = direction == "DESC"
    limit = max_count = None
    if "eventCountLimit" in single:
        limit = positive_int("eventCountLimit", single["eventCountLimit"])
        if order == "seq":
            raise InvalidInput("eventCountLimit", "needs orderBy (it limits the first N events)")
    if "maxEventCount" in single:
        max_count = positive_int("maxEventCount", single["maxEventCount"], maximum=1_000_000)
        if limit is not None:
            raise InvalidInput("maxEventCount", "and eventCountLimit exclude each other")
    per_page = DEFAULT_PER_PAGE
    if "perPage" in single:
        per_page = positive_int("perPage", single["perPage"], maximum=MAX_PER_PAGE)

    flt = EventFilter(
        event_types=lists.get("eventType", ()),
        ge_event_time=times.get("GE_eventTime"),
        lt_event_time=times.get("LT_eventTime"),
        ge_record_time=times.get("GE_recordTime"),
        lt_record_time=times.get("LT_recordTime"),
        actions=lists.get("EQ_action", ()),
        biz_steps=tuple(vocab.short_cbv("bizstep", v) for v in lists.get("EQ_bizStep", ())),
        dispositions=tuple(vocab.short_cbv("disp", v) for v in lists.get("EQ_disposition", ())),
        read_points=lists.get("EQ_readPoint", ()),
        biz_locations=lists.get("EQ_bizLocation", ()),
        event_ids=lists.get("EQ_eventID", ()),
        epcs=tuple((MATCH_ROLES[name], lists[name]) for name in MATCH_ROLES if name in lists),
        declarations_only=declarations,
        order=order,
        descending=descending,
    )
    fingerprint = hashlib.sha256(
        orjson.dumps([repr(flt), limit, max_count], option=orjson.OPT_SORT_KEYS)
    ).hexdigest()[:16]
    return EventQuery(
        filter=flt,
        per_page=per_page,
        event_count_limit=limit,
        max_event_count=max_count,
        token=single.get("nextPageToken"),
        fingerprint=fingerprint,
    )


# -- page tokens --------------------------------------------------------------------------------


def _encode_token(fingerprint: str, key: str | int, seq: int, returned: int) -> str:
    raw = orjson.dumps([1, fingerprint, key, seq, returned])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str, fingerprint: str) -> tuple[str | int, int, int]:
    bad = InvalidInput("nextPageToken", "is not a token this server issued for this query")
    if len(token) > MAX_TOKEN:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError):
        raise bad from None
    if (
        not isinstance(data, list)
        or len(data) != 5
        or data[0] != 1
        or data[1] != fingerprint
        or not isinstance(data[2], str | int)
        or not isinstance(data[3], int)
        or not isinstance(data[4], int)
    ):
        raise bad
    return data[2], data[3], data[4]


# -- running a query --------------------------------------------------------------------------


def scoped_filter(flt: EventFilter, scope: ReadScope) -> EventFilter:
    """The part of the scope SQL can apply (provincial regulators)."""
    if scope.kind == "provincial":
        return replace(flt, principal=scope.principal)
    return flt


def query_events(store: Store, scope: ReadScope, query: EventQuery) -> Page:
    if scope.kind != "national":  # the national regulator's reads need no index
        ensure_index(store)
    flt = scoped_filter(query.filter, scope)
    cursor: tuple[str | int, int] | None = None
    returned = 0
    if query.token is not None:
        key, seq, returned = _decode_token(query.token, query.fingerprint)
        # A token is the client's to send back; make sure a forged one is still a valid position.
        key_ok = isinstance(key, int) if flt.order == "seq" else _TIME_KEY(str(key))
        if not key_ok or not 0 <= seq < 2**62 or not 0 <= returned < 2**62:
            raise InvalidInput("nextPageToken", "is not a token this server issued for this query")
        cursor = (key, seq)
    want = query.per_page
    if query.event_count_limit is not None:
        want = min(want, query.event_count_limit - returned)
        if want <= 0:
            return Page([], None)
    if query.max_event_count is not None and query.token is None:
        found, _, _ = _fetch(
            store, scope, flt, None, query.max_event_count + 1, budget=MAX_COUNT_BUDGET
        )
        if len(found) > query.max_event_count:
            raise QueryTooLarge(
                "maxEventCount",
                f"more than {query.max_event_count:,} events match; narrow the query",
            )
    records, last, exhausted = _fetch(store, scope, flt, cursor, want + 1, budget=SCAN_BUDGET)
    more = len(records) > want
    records = records[:want]
    next_token = None
    if more:
        r = records[-1]
        next_token = _encode_token(
            query.fingerprint, r.sort_key(flt.order), r.seq, returned + len(records)
        )
    elif not exhausted and last is not None:
        # Budget spent before the page filled: continue after the last candidate examined.
        next_token = _encode_token(query.fingerprint, last[0], last[1], returned + len(records))
    if (
        next_token is not None
        and query.event_count_limit is not None
        and returned + len(records) >= query.event_count_limit
    ):
        next_token = None
    return Page(records, next_token)


def _fetch(
    store: Store,
    scope: ReadScope,
    flt: EventFilter,
    cursor: tuple[str | int, int] | None,
    want: int,
    *,
    budget: int | None,
) -> tuple[list[EventRecord], tuple[str | int, int] | None, bool]:
    """Up to ``want`` visible events after ``cursor``; also the position of the last candidate
    examined and whether the candidates ran out."""
    if scope.kind != "enterprise":
        rows = q.select_events(store, flt, cursor, want)
        last = (rows[-1].sort_key(flt.order), rows[-1].seq) if rows else cursor
        return rows, last, len(rows) < want
    out: list[EventRecord] = []
    scanned = 0
    batch_size = max(2 * want, 100)
    if budget is not None:
        batch_size = min(batch_size, budget)
    while True:
        rows = q.select_events(store, flt, cursor, batch_size)
        keep = visible_records(store, scope, rows)
        for r in rows:
            cursor = (r.sort_key(flt.order), r.seq)
            scanned += 1
            if r.seq in keep:
                out.append(r)
                if len(out) >= want:
                    return out, cursor, False
        if len(rows) < batch_size:
            return out, cursor, True
        if budget is not None and scanned >= budget:
            return out, cursor, False


def visible_records(
    store: Store,
    scope: ReadScope,
    rows: Sequence[EventRecord],
    took: set[int] | None = None,
) -> set[int]:
    """Seqs of the events in ``rows`` that ``scope`` may read (``took``: those it took part in,
    if already known)."""
    if not rows:
        return set()
    if scope.kind == "national":
        return {r.seq for r in rows}
    principal = scope.principal
    assert principal is not None
    if took is None:
        took = q.participated(store, principal, [r.seq for r in rows])
    if scope.kind == "provincial":
        return took
    rest = [r for r in rows if r.seq not in took]
    if not rest:
        return took
    named = {r.seq: object_ids(orjson.loads(r.body)) for r in rest}
    all_ids = set().union(*named.values())
    windows = q.custody(store, scope.uscc, all_ids) if all_ids else {}
    if not windows:
        return took
    held = q.holders(store, list(windows))
    me = f"urn:uscc:{scope.uscc}"
    out = set(took)
    for r in rest:
        for epc in named[r.seq]:
            window = windows.get(epc)
            if window is None:
                continue
            since, until = window
            if since <= r.event_time and (r.event_time <= until or held.get(epc) == me):
                out.add(r.seq)
                break
    return out


def event_records(store: Store, scope: ReadScope, event_id: str) -> list[EventRecord]:
    """The event with this ID and its error declarations, if ``scope`` may read them."""
    check_text(event_id, "eventID")
    if scope.kind != "national":
        ensure_index(store)
    flt = scoped_filter(EventFilter(event_ids=(event_id,)), scope)
    rows = q.select_events(store, flt, None, 10)
    keep = visible_records(store, scope, rows)
    return [r for r in rows if r.seq in keep]


def distinct(
    store: Store, scope: ReadScope, what: str, per_page: int, token: str | None
) -> tuple[list[str], str | None]:
    """One page of the distinct values of ``what`` (bizSteps, readPoints …) among the events the
    scope took part in (all events for the national regulator)."""
    ensure_index(store)
    after = None
    fingerprint = f"distinct:{what}"
    if token is not None:
        key, _, _ = _decode_token(token, fingerprint)
        if not isinstance(key, str) or len(key) > MAX_VALUE_LENGTH:
            raise InvalidInput("nextPageToken", "is not a token for this collection")
        after = key
    values = q.distinct_values(store, what, scope.principal, after, per_page + 1)
    more = len(values) > per_page
    values = values[:per_page]
    return values, _encode_token(fingerprint, values[-1], 0, 0) if more else None


# -- rendering ----------------------------------------------------------------------------------


def _context(text: str) -> Any:
    return orjson.loads(text)


def result_events(records: Sequence[EventRecord]) -> tuple[Any, list[dict[str, Any]]]:
    """(document @context, events) for a page: each event with eventID and recordTime, and its
    capture's @context where the page mixes captures with different contexts."""
    contexts = {r.context for r in records}
    shared = len(contexts) <= 1
    doc_context: Any = _context(next(iter(contexts))) if contexts and shared else STANDARD_CONTEXT
    events: list[dict[str, Any]] = []
    for r in records:
        body = orjson.loads(r.body)
        event: dict[str, Any] = dict(body) if isinstance(body, dict) else {}
        if not isinstance(event.get("eventID"), str):
            event["eventID"] = r.event_id
        event["recordTime"] = r.record_time
        if not shared:
            ctx = _context(r.context)
            own = event.get("@context")
            if ctx != STANDARD_CONTEXT:
                ctx_list = ctx if isinstance(ctx, list) else [ctx]
                if own is not None:
                    ctx_list = [*ctx_list, *(own if isinstance(own, list) else [own])]
                event["@context"] = ctx_list
        events.append(event)
    return doc_context, events


def creation_date() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def query_document(records: Sequence[EventRecord]) -> dict[str, Any]:
    context, events = result_events(records)
    return {
        "@context": context,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": creation_date(),
        "epcisBody": {
            "queryResults": {"queryName": QUERY_NAME, "resultsBody": {"eventList": events}}
        },
    }


def query_document_xml(records: Sequence[EventRecord], cbv_format: str = "urn") -> bytes:
    context, events = result_events(records)
    fmt: Any = "web" if cbv_format == "web" else "urn"
    return events_to_xml(events, context, query_name=QUERY_NAME, cbv_format=fmt)


# -- the read-scope index ---------------------------------------------------------------------

INDEX_CHUNK = 5000


def index_step(txn: WriteTxn, chunk: int = INDEX_CHUNK) -> int:
    """Index up to ``chunk`` events after the watermark (inside a write transaction, so the
    watermark cannot move underneath); returns how many were indexed."""
    watermark = q.index_watermark(txn)
    rows = q.events_after(txn, watermark, chunk)
    if not rows:
        return 0
    province = q.provinces(txn)
    access: set[tuple[str, int]] = set()
    custody: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        body = orjson.loads(r.body)
        if not isinstance(body, dict):
            body = {}
        parties = participants(r.reporter, r.read_point, r.biz_location, body)
        for party in parties:
            access.add((party, r.seq))
            access.add((province_principal(province.get(party) or party[2:4]), r.seq))
        for epc in object_ids(body):
            for party in parties:
                window = custody.get((party, epc))
                if window is None:
                    custody[(party, epc)] = [r.event_time, r.event_time]
                elif r.event_time < window[0]:
                    window[0] = r.event_time
                elif r.event_time > window[1]:
                    window[1] = r.event_time
    q.write_index(
        txn,
        sorted(access),
        [(p, e, w[0], w[1]) for (p, e), w in custody.items()],
        rows[-1].seq,
    )
    return len(rows)


def refresh_index(store: Store) -> int:
    """Bring the read-scope index up to the ledger head; returns the events indexed. Each chunk is
    its own write transaction, so a large backlog (a demo load) is indexed step by step."""
    total = 0
    while True:
        with store.write() as txn:
            n = index_step(txn)
        total += n
        if n < INDEX_CHUNK:
            return total


def ensure_index(store: Store) -> None:
    """Before a scoped read: index what other channels captured since the last HTTP capture."""
    indexed, total = q.index_lag(store)
    if indexed < total:
        refresh_index(store)
        q.new_snapshot(store)


class ScopeIndexer:
    """Capture observer: indexes the capture's events in the capture's own transaction, so a read
    right after an acknowledged capture sees them in scope."""

    def on_capture(
        self, txn: WriteTxn, events: Sequence[tuple[str, Any]], record_time: str
    ) -> None:
        while index_step(txn) == INDEX_CHUNK:
            pass


# -- scoping a battery's trace ----------------------------------------------------------------

#: Fields of a trace that describe the object now: shown only when the scope sees every event.
CURRENT_FIELDS = ("state", "holder", "location", "parent", "vehicle")


def scope_trace(store: Store, scope: ReadScope, data: dict[str, Any]) -> dict[str, Any] | None:
    """``services.trace.trace`` output cut to what ``scope`` may read: only visible events; the
    current state, genealogy and successors only if every event is visible (the reader holds the
    object now, or is a regulator of it). None if no event is visible."""
    if scope.kind == "national":
        return {**data, "scope": "full"}
    ensure_index(store)
    events: list[dict[str, Any]] = data.get("events") or []
    ids = list(dict.fromkeys(e["eventID"] for e in events))
    principal = scope.principal
    assert principal is not None
    records, took = q.events_with_access(store, ids, principal)
    return _cut_trace(data, records, visible_records(store, scope, records, took))


def scoped_trace(store: Store, scope: ReadScope, uri: str) -> dict[str, Any] | None:
    """``scope_trace(store, scope, trace(store, uri))`` for one request, cheaper: the trace's
    reads run as driver-level SQL (persistence.queries.TraceReads) and its events query also
    says which events the scope's principal took part in, so the scope check needs no query
    of its own. Raises InvalidInput, as ``trace`` does, for an object the ledger does not know."""
    if scope.kind == "national":
        return {**trace(q.TraceReads(store), uri), "scope": "full"}
    ensure_index(store)  # first: the events query reads the index
    reads = q.TraceReads(store, scope.principal)
    data = trace(reads, uri)
    records = reads.records()
    return _cut_trace(data, records, visible_records(store, scope, records, reads.took))


def _cut_trace(
    data: dict[str, Any], records: Sequence[EventRecord], keep: set[int]
) -> dict[str, Any] | None:
    events: list[dict[str, Any]] = data.get("events") or []
    seen = {(r.event_id, r.is_declaration) for r in records if r.seq in keep}
    shown = [e for e in events if (e["eventID"], bool(e["errorDeclaration"])) in seen]
    if not shown:
        return None
    if len(shown) == len(events):
        return {**data, "scope": "full"}
    shown_ids = {e["eventID"] for e in shown}
    out = dict(data)
    for name in CURRENT_FIELDS:
        out[name] = None
    out["ancestors"] = []
    out["children"] = []
    out["successors"] = []
    out["events"] = shown
    out["materials"] = [m for m in data.get("materials") or [] if m.get("eventID") in shown_ids]
    out["inconsistencies"] = [
        i for i in data.get("inconsistencies") or [] if i.get("eventID") in shown_ids
    ]
    out["scope"] = "partial"
    return out
