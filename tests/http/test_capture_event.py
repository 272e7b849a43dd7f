"""POST /events: the EPCIS 2.0 binding's synchronous capture of one event — 201 and Location,
409 for an event already in the ledger, 400/415 for what is not one acceptable event, and
nothing written for what is refused."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import orjson

from battrace.domain.epcis.hashid import event_hash_id
from battrace.domain.epcis.xml import events_to_xml
from battrace.domain.lifecycle import builders as b
from battrace.web.problems import ALREADY_EXISTS, VALIDATION
from tests import scenario as sc
from tests.http.conftest import Api


def _post(
    api: Api, uscc: str | None, body: bytes, media: str = "application/ld+json"
) -> httpx.Response:
    return api.client.post(
        "/events", content=body, headers=api.headers(uscc, **{"Content-Type": media})
    )


def _with_context(event: dict[str, object]) -> bytes:
    return orjson.dumps({"@context": b.CONTEXT, **event})


def test_one_event_is_captured_and_found_at_its_location(api: Api) -> None:
    event = sc.production()[0]
    r = _post(api, sc.MAKER, _with_context(event))
    assert r.status_code == 201, r.text
    event_id = event_hash_id(event, b.CONTEXT)
    assert r.json()["eventID"] == event_id
    assert r.headers["location"] == f"/events/{quote(event_id, safe='')}"
    assert r.headers["gs1-epcis-version"] == "2.0.0"
    got = api.get(r.headers["location"], sc.MAKER)
    assert got.status_code == 200 and event_id in got.text
    job = api.get(f"/capture/{r.json()['captureID']}", sc.MAKER).json()
    assert job["captured"] == 1 and job["success"] is True
    assert api.store.head().event_count == 1


def test_the_same_event_again_is_409_and_writes_nothing(api: Api) -> None:
    event = sc.production()[0]
    assert _post(api, sc.MAKER, _with_context(event)).status_code == 201
    again = _post(api, sc.MAKER, orjson.dumps(event), "application/json")  # no @context
    assert again.status_code == 409
    assert again.json()["type"] == ALREADY_EXISTS
    assert again.headers["location"].startswith("/events/ni%3A")
    assert api.store.head().event_count == 1


def test_what_is_not_one_acceptable_event_is_refused(api: Api) -> None:
    production = sc.production()
    document = _post(api, sc.MAKER, orjson.dumps(b.document(production[:1])))
    assert document.status_code == 400
    assert document.json()["errors"][0]["field"] == "type"
    xml = _post(api, sc.MAKER, events_to_xml(production[:1], b.CONTEXT), "application/xml")
    assert xml.status_code == 415
    # A code under another maker's manufacturer code: refused by authorisation, named.
    foreign = b.commission([sc.code("P", 7, maker="XYZ")], site=sc.site(sc.MAKER), time=sc.at(5))
    refused = _post(api, sc.MAKER, _with_context(foreign))
    assert refused.status_code == 400 and refused.json()["type"] == VALIDATION
    assert refused.json()["errors"][0]["field"] == "event.epcList[0]"
    assert _post(api, sc.MAKER, b"{not json").status_code == 400
    assert _post(api, None, _with_context(production[0])).status_code == 401
    assert api.store.head().event_count == 0
