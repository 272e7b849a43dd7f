"""POST /capture and capture jobs: JSON-LD and XML, 202 + Location, rollback and proceed, limits,
GS1 headers, and nothing written for what is refused."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from battrace.domain.epcis.hashid import event_hash_id
from battrace.domain.epcis.xml import events_to_xml
from battrace.domain.lifecycle import builders as b
from battrace.persistence.base import Store
from battrace.web.runtime import ApiSettings
from tests import scenario as sc
from tests.http.conftest import Api, make_api


def _doc(*events: dict[str, object]) -> bytes:
    return orjson.dumps(b.document(list(events)))


def _bad_commission() -> dict[str, object]:
    # a code under another maker's manufacturer code: refused by authorisation
    return b.commission([sc.code("P", 7, maker="XYZ")], site=sc.site(sc.MAKER), time=sc.at(5))


def test_capture_json_ld_answers_202_with_a_finished_job(api: Api) -> None:
    r = api.capture(sc.MAKER, _doc(*sc.production()))
    assert r.status_code == 202
    assert r.headers["gs1-epcis-version"] == "2.0.0" and r.headers["gs1-cbv-version"] == "2.0.0"
    assert r.headers["gs1-epcis-capture-limit"] == "10000"
    job = r.json()
    location = r.headers["location"]
    assert location == f"/capture/{job['captureID']}"
    assert job["success"] is True and job["running"] is False and job["errors"] == []
    assert job["captured"] == 5 and job["duplicates"] == 0
    assert job["captureErrorBehaviour"] == "rollback" and job["finishedAt"] >= job["createdAt"]
    assert api.get(location, sc.MAKER).json() == job
    assert api.store.head().event_count == 5

    again = api.capture(sc.MAKER, _doc(*sc.production())).json()
    assert again["success"] is True and again["captured"] == 0 and again["duplicates"] == 5
    assert api.store.head().event_count == 5


def test_capture_xml_is_the_same_event_as_json_ld(api: Api) -> None:
    events = sc.production()
    xml = events_to_xml(events, b.CONTEXT)
    r = api.capture(sc.MAKER, xml, "application/xml")
    assert r.status_code == 202 and r.json()["captured"] == 5
    # the JSON-LD twin: same Event Hash IDs, so all duplicates
    twin = api.capture(sc.MAKER, _doc(*events)).json()
    assert twin["duplicates"] == 5 and twin["captured"] == 0
    for ev in events:
        hid = event_hash_id(ev, b.CONTEXT)
        got = api.get("/events", sc.MAKER, params={"EQ_eventID": hid}).json()
        assert [
            e["eventID"] for e in got["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        ] == [hid]


def test_rollback_writes_nothing_and_the_job_lists_every_error(api: Api) -> None:
    events = [*sc.production(), _bad_commission(), {"type": "ObjectEvent"}]
    r = api.capture(sc.MAKER, _doc(*events))
    assert r.status_code == 202
    job = api.get(r.headers["location"], sc.MAKER).json()
    assert job["success"] is False and job["captured"] == 0
    assert [e["eventIndex"] for e in job["errors"]] == [5, 6]
    assert job["errors"][0]["field"] == "epcisBody.eventList[5].epcList[0]"
    assert "registered to" in job["errors"][0]["reason"]
    assert job["errors"][1]["field"].startswith("epcisBody.eventList[6]")
    assert all(e["type"] and e["title"] and e["detail"] for e in job["errors"])
    assert api.store.head().event_count == 0


def test_proceed_keeps_the_valid_events(api: Api) -> None:
    events = [_bad_commission(), *sc.production()]
    r = api.capture(sc.MAKER, _doc(*events), **{"GS1-Capture-Error-Behaviour": "proceed"})
    job = r.json()
    assert r.status_code == 202
    assert job["success"] is False and job["captureErrorBehaviour"] == "proceed"
    assert job["captured"] == 5 and [e["eventIndex"] for e in job["errors"]] == [0]
    assert api.store.head().event_count == 5


def test_proceed_with_only_bad_events_captures_nothing(api: Api) -> None:
    r = api.capture(sc.MAKER, _doc(_bad_commission()), **{"GS1-Capture-Error-Behaviour": "proceed"})
    assert r.json()["captured"] == 0 and r.json()["success"] is False
    assert api.store.head().event_count == 0


@pytest.mark.parametrize(
    ("body", "ctype", "status", "field"),
    [
        (b"{not json", "application/json", 400, "document"),
        (b'{"type": "Nonsense"}', "application/ld+json", 400, "type"),
        (b"<a><b></a>", "application/xml", 400, "document"),
        (b"{}", "text/plain", 415, None),
        (b"{}", "", 415, None),
    ],
)
def test_unreadable_documents_are_refused_without_a_job(
    api: Api, body: bytes, ctype: str, status: int, field: str | None
) -> None:
    r = api.capture(sc.MAKER, body, ctype)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["gs1-epcis-version"] == "2.0.0"
    problem = r.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    if field is not None:
        assert problem["errors"][0]["field"] == field
    assert api.get("/capture", sc.MAKER).json() == []
    assert api.store.head().event_count == 0


def test_bad_headers(api: Api) -> None:
    doc = _doc(*sc.production())
    r = api.capture(sc.MAKER, doc, **{"GS1-Capture-Error-Behaviour": "all"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "GS1-Capture-Error-Behaviour"
    r = api.capture(sc.MAKER, doc, **{"GS1-EPCIS-Version": "1.2"})
    assert r.status_code == 406
    r = api.capture(sc.MAKER, doc, **{"GS1-EPCIS-Version": "two"})
    assert r.status_code == 400
    assert api.store.head().event_count == 0


@pytest.fixture
def limited(sqlite_store: Store) -> Iterator[Api]:
    yield from make_api(
        sqlite_store,
        ApiSettings(capture_limit=1, capture_max_bytes=1200, rate_limit=1000, rate_burst=1000),
    )


def test_limits_are_advertised_and_enforced(limited: Api) -> None:
    opts = limited.client.options("/capture", headers=limited.headers(sc.MAKER))
    assert opts.status_code == 204
    assert opts.headers["gs1-epcis-capture-limit"] == "1"
    assert opts.headers["gs1-epcis-capture-file-size-limit"] == "1200"
    assert opts.headers["gs1-capture-error-behaviour"] == "all"
    assert "POST" in opts.headers["allow"]

    r = limited.capture(sc.MAKER, _doc(*sc.production()[:2]))
    assert r.status_code == 413 and r.headers["gs1-epcis-capture-limit"] == "1"
    assert r.json()["type"] == "epcisException:CaptureLimitExceededException"

    big = _doc(*sc.production()[:3])
    assert len(big) > 1200
    r = limited.capture(sc.MAKER, big)
    assert r.status_code == 413 and "1,200 bytes" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while streaming
        for i in range(0, len(big), 500):
            yield big[i : i + 500]

    r = limited.client.post(
        "/capture",
        content=chunks(),
        headers=limited.headers(sc.MAKER, **{"Content-Type": "application/ld+json"}),
    )
    assert r.status_code == 413
    assert limited.store.head().event_count == 0
    assert limited.capture(sc.MAKER, _doc(*sc.production()[:1])).status_code == 202


def test_capture_job_listing_pages(api: Api) -> None:
    for ev in sc.production():
        assert api.capture(sc.MAKER, _doc(ev)).status_code == 202
    seen: list[str] = []
    url: str | None = "/capture?perPage=2"
    while url:
        r = api.get(url, sc.MAKER)
        assert r.status_code == 200
        seen += [j["captureID"] for j in r.json()]
        link = r.headers.get("link")
        url = link.split(">")[0].lstrip("<") if link else None
    assert len(seen) == 5 == len(set(seen))
    assert api.get("/capture?nextPageToken=%%%", sc.MAKER).status_code == 400
    assert api.get("/capture/not-a-job", sc.MAKER).status_code == 404


def test_an_unregistered_enterprise_key_is_refused(api: Api) -> None:
    from battrace.persistence.sql import SqlStore

    assert isinstance(api.store, SqlStore)
    with api.store.engine.begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM enterprises WHERE uscc = '{sc.OUTLET}'")
    r = api.get("/events", sc.OUTLET)
    assert r.status_code == 403 and "no longer registered" in r.json()["detail"]


def test_nul_characters_are_bad_input_not_a_database_error(api: Api) -> None:
    ev = sc.production()[2]
    ev["readPoint"] = {"id": "urn:x:a\x00b"}  # PostgreSQL text cannot hold NUL
    r = api.capture(sc.MAKER, _doc(ev))
    assert r.status_code == 400 and "NUL" in r.json()["errors"][0]["reason"]
    # an escaped backslash followed by the letters u0000 is just text
    ev["readPoint"] = {"id": sc.site(sc.MAKER)}
    ev["ilmd"] = {"battrace:note": "a\\u0000b"}
    ok = api.capture(sc.MAKER, _doc(ev))
    assert ok.status_code == 202 and ok.json()["captured"] == 1
