"""The fast read path of ``GET /api/batteries/{code}`` and ``GET /events``: driver-level trace
reads with the scope check merged (persistence.queries.TraceReads, services.query.scoped_trace)
give the same answers as the general ones, on one connection per request."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event

from battrace.persistence import queries as q
from battrace.persistence.base import Store
from battrace.services import query as qs
from battrace.services.authorisation import scope_for
from battrace.services.trace import trace
from tests import scenario as sc
from tests.http import cast
from tests.http.conftest import Api


def _objects(store: Store) -> list[str]:
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        return [r[0] for r in conn.exec_driver_sql("SELECT epc FROM objects ORDER BY epc")]


def test_trace_reads_answer_as_the_store_does(api: Api) -> None:
    api.load_lifecycle()
    epcs = _objects(api.store)
    assert len(epcs) > 3
    for epc in epcs:
        assert trace(q.TraceReads(api.store), epc) == trace(api.store, epc)


def test_scoped_trace_equals_scope_trace_for_every_reader(api: Api) -> None:
    api.load_lifecycle()
    epcs = _objects(api.store)
    partial = full = hidden = 0
    for e in cast.enterprises():
        enterprise = api.store.get_enterprise(e["uscc"])
        assert enterprise is not None
        scope = scope_for(enterprise)
        for epc in epcs:
            expected = qs.scope_trace(api.store, scope, trace(api.store, epc))
            with qs.reading(api.store):
                assert qs.scoped_trace(api.store, scope, epc) == expected
            if expected is None:
                hidden += 1
            elif expected["scope"] == "full":
                full += 1
            else:
                partial += 1
    assert partial and full and hidden  # the cast exercises every outcome


def _checkouts_by_requests(store: Store) -> tuple[list[int], Any]:
    """Pool checkouts made by request threads (not the platform's own background threads:
    the audit log's writer, the webhook deliverer)."""
    seen: list[int] = []

    def on_checkout(*_: Any) -> None:
        if not threading.current_thread().name.startswith("battrace-"):
            seen.append(1)

    pool = store.engine.pool  # type: ignore[attr-defined]
    event.listen(pool, "checkout", on_checkout)
    return seen, lambda: event.remove(pool, "checkout", on_checkout)


def test_one_connection_per_read_request(api: Api) -> None:
    api.load_lifecycle()
    maker = sc.MAKER
    api.get(f"/api/batteries/{sc.PACK}", maker)  # the read-scope index is current from here
    seen, stop = _checkouts_by_requests(api.store)
    try:
        for uscc in (maker, cast.NATIONAL):
            seen.clear()
            assert api.get(f"/api/batteries/{sc.PACK}", uscc).status_code == 200
            assert len(seen) == 1
            seen.clear()
            r = api.get("/events", uscc, params={"MATCH_epc": f"urn:gbt34014:{sc.PACK}"})
            assert r.status_code == 200
            assert len(seen) == 1
    finally:
        stop()


def test_new_events_are_indexed_and_seen_on_the_same_request(api: Api) -> None:
    """A read after events captured outside the HTTP interface (not indexed yet) indexes them
    on another connection and still sees them: the request's snapshot is renewed."""
    api.get(f"/api/batteries/{sc.PACK}", sc.MAKER)  # nothing captured yet: 404
    api.load_lifecycle()  # in-process capture: no read-scope indexer
    indexed, total = q.index_lag(api.store)
    assert indexed < total
    r = api.get(f"/api/batteries/{sc.PACK}", sc.MAKER)
    assert r.status_code == 200
    assert r.json()["events"]
    assert q.index_lag(api.store)[0] == total


def test_event_filters_in_driver_sql_page_and_count_alike(api: Api) -> None:
    api.load_lifecycle()
    pack = f"urn:gbt34014:{sc.PACK}"
    flt = q.EventFilter(epcs=((("epc", "child"), (pack,)),), order="eventTime", descending=True)
    everything = q.select_events(api.store, flt, None, 1000)
    assert len(everything) > 3
    assert [r.event_time for r in everything] == sorted(
        (r.event_time for r in everything), reverse=True
    )
    assert q.count_events(api.store, flt, 1000) == len(everything)
    assert q.count_events(api.store, flt, 2) == 2
    # keyset paging: two events per page give the same events in the same order
    paged: list[q.EventRecord] = []
    cursor = None
    while True:
        page = q.select_events(api.store, flt, cursor, 2)
        paged += page
        if len(page) < 2:
            break
        cursor = (page[-1].sort_key(flt.order), page[-1].seq)
    assert [r.seq for r in paged] == [r.seq for r in everything]
