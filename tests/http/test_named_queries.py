"""Named queries and webhook subscriptions over HTTP (``/queries``, both backends): create, list,
read, run in the caller's scope, delete; every bad input refused with the field named and nothing
written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from battrace.domain.epcis.xml import parse_xml_document
from battrace.persistence.base import Store
from battrace.services.audit import read_audit
from tests import scenario as sc
from tests.http import cast
from tests.http.conftest import Api, make_api

N = cast.NATIONAL
PACK = f"urn:gbt34014:{sc.PACK}"


@pytest.fixture
def world(store: Store) -> Iterator[Api]:
    for api in make_api(store):
        api.load_lifecycle()
        yield api


def post(api: Api, who: str, path: str, body: Any, **headers: str) -> httpx.Response:
    return api.client.post(path, json=body, headers=api.headers(who, **headers))


def labels(api: Api, r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    by_id = {v: k for k, v in api.ids.items()}
    events = r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return [by_id[e["eventID"]] for e in events]


def test_named_query_lifecycle(world: Api) -> None:
    definition = {"name": "ships", "query": {"EQ_bizStep": ["shipping", "receiving"]}}
    r = post(world, sc.DEALER, "/queries", definition)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/queries/ships"
    assert r.json()["name"] == "ships" and r.json()["query"] == definition["query"]
    assert r.headers["gs1-epcis-version"] == "2.0.0"

    # Same name again in the same namespace: 409; in another enterprise's namespace: fine.
    again = post(world, sc.DEALER, "/queries", definition)
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "name"
    assert post(world, N, "/queries", definition).status_code == 201

    listed = world.get("/queries", sc.DEALER).json()
    assert [q["name"] for q in listed] == ["ships"]
    assert world.get("/queries/ships", sc.DEALER).json()["query"] == definition["query"]

    # Run in the caller's read scope: the same as GET /events with the same parameters.
    mine = labels(world, world.get("/queries/ships/events", sc.DEALER))
    direct = labels(
        world, world.get("/events", sc.DEALER, params={"EQ_bizStep": "shipping|receiving"})
    )
    assert mine == direct == ["ship2", "recv2"]
    everyone = labels(world, world.get("/queries/ships/events", N))
    assert everyone == ["ship1", "recv1", "ship2", "recv2", "ship3", "recv3"]

    # Another enterprise's query does not exist for the caller.
    for method in ("GET", "DELETE"):
        r = world.client.request(method, "/queries/ships", headers=world.headers(sc.MAKER))
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert world.get("/queries/ships/events", sc.MAKER).status_code == 404
    assert world.get("/queries", sc.MAKER).json() == []

    r = world.client.delete("/queries/ships", headers=world.headers(sc.DEALER))
    assert r.status_code == 204
    assert world.get("/queries/ships", sc.DEALER).status_code == 404
    assert world.get("/queries/ships", N).status_code == 200  # the regulator's own is untouched


def test_named_query_events_paging_and_xml(world: Api) -> None:
    query = {"MATCH_anyEPC": [PACK], "orderBy": "eventTime", "orderDirection": "ASC"}
    assert post(world, N, "/queries", {"name": "pack", "query": query}).status_code == 201
    seen: list[str] = []
    path = "/queries/pack/events?perPage=5"
    while True:
        r = world.get(path, N)
        seen += labels(world, r)
        link = r.headers.get("link")
        if link is None:
            break
        assert link.endswith('>; rel="next"') and link.startswith("</queries/pack/events?")
        path = link[1 : link.index(">")]
    assert seen == list(cast.PACK_EVENTS)

    xml = world.get(
        "/queries/pack/events", N, params={"perPage": 3}, headers={"Accept": "application/xml"}
    )
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
    assert len(parse_xml_document(xml.content).events) == 3

    # The definition fixes the filters: only paging may be given.
    r = world.get("/queries/pack/events", N, params={"EQ_bizStep": "shipping"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "EQ_bizStep"
    r = world.get("/queries/pack/events", N, params={"perPage": 0})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "perPage"
    r = world.get("/queries/pack/events", N, params={"nextPageToken": "garbage"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "nextPageToken"

    # maxEventCount in the definition is enforced like on GET /events.
    small = {"name": "small", "query": {"MATCH_anyEPC": [PACK], "maxEventCount": 2}}
    assert post(world, N, "/queries", small).status_code == 201
    assert world.get("/queries/small/events", N).status_code == 413


BAD_DEFINITIONS: list[tuple[Any, str]] = [
    ({"name": "q", "query": {"EQ_quantity": [1]}}, "query.EQ_quantity"),
    ({"name": "q", "query": {"GE_eventTime": "yesterday"}}, "query.GE_eventTime"),
    ({"name": "q", "query": {"EQ_bizStep": "shipping"}}, "query.EQ_bizStep"),
    ({"name": "q", "query": {"EQ_bizStep": []}}, "query.EQ_bizStep"),
    ({"name": "q", "query": {"EQ_bizStep": ["a|b"]}}, "query.EQ_bizStep[0]"),
    ({"name": "q", "query": {"eventType": ["Shipment"]}}, "query.eventType"),
    ({"name": "q", "query": {"orderDirection": "ASC"}}, "query.orderDirection"),
    ({"name": "q", "query": {"nextPageToken": "x"}}, "query.nextPageToken"),
    ({"name": "q", "query": {"perPage": 5000}}, "query.perPage"),
    ({"name": "q", "query": {"GE_eventTime": None}}, "query.GE_eventTime"),
    ({"name": "q", "query": ["EQ_bizStep"]}, "query"),
    ({"name": "q"}, "query"),
    ({"name": "../etc", "query": {}}, "name"),
    ({"name": "", "query": {}}, "name"),
    ({"name": "x" * 101, "query": {}}, "name"),
    ({"name": 7, "query": {}}, "name"),
    ({"name": "q", "query": {}, "extra": 1}, "extra"),
    ([], "body"),
]


def test_bad_definitions_are_refused(world: Api) -> None:
    for body, field in BAD_DEFINITIONS:
        r = post(world, sc.MAKER, "/queries", body)
        assert r.status_code == 400, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"][0]["field"] == field, body
    assert world.get("/queries", sc.MAKER).json() == []


def test_bad_requests(world: Api) -> None:
    headers = world.headers(sc.MAKER, **{"Content-Type": "text/plain"})
    r = world.client.post("/queries", content=b"{}", headers=headers)
    assert r.status_code == 415
    headers = world.headers(sc.MAKER, **{"Content-Type": "application/json"})
    r = world.client.post("/queries", content=b"{not json", headers=headers)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "body"
    r = world.client.post("/queries", content=b" " * 70_000, headers=headers)
    assert r.status_code == 413
    assert world.client.get("/queries").status_code == 401
    r = world.get("/queries", sc.MAKER, params={"sort": "name"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "sort"


def test_list_is_paged(world: Api) -> None:
    for name in ("c", "a", "b", "d", "e"):
        assert post(world, sc.MAKER, "/queries", {"name": name, "query": {}}).status_code == 201
    names: list[str] = []
    path = "/queries?perPage=2"
    pages = 0
    while path:
        r = world.get(path, sc.MAKER)
        assert r.status_code == 200
        names += [q["name"] for q in r.json()]
        link = r.headers.get("link")
        path = link[1 : link.index(">")] if link else ""
        pages += 1
    assert names == ["a", "b", "c", "d", "e"] and pages == 3


def test_subscriptions_crud_and_validation(world: Api) -> None:
    assert post(world, sc.MAKER, "/queries", {"name": "mine", "query": {}}).status_code == 201
    base = "/queries/mine/subscriptions"
    bad: list[tuple[dict[str, Any], str]] = [
        ({"dest": "http://127.0.0.1:8080/hook", "stream": True}, "dest"),
        ({"dest": "http://localhost/hook", "stream": True}, "dest"),
        ({"dest": "http://[::1]/hook", "stream": True}, "dest"),
        ({"dest": "http://169.254.169.254/latest", "stream": True}, "dest"),
        ({"dest": "http://10.1.2.3/hook", "stream": True}, "dest"),
        ({"dest": "http://[::ffff:192.168.0.1]/hook", "stream": True}, "dest"),
        ({"dest": "ftp://example.com/hook", "stream": True}, "dest"),
        ({"dest": "https://example.com/a b", "stream": True}, "dest"),
        ({"dest": "https://example.com:99999/", "stream": True}, "dest"),
        ({"dest": "https:///nohost", "stream": True}, "dest"),
        ({"dest": 5, "stream": True}, "dest"),
        ({"stream": True}, "dest"),
        ({"dest": "https://example.com/hook"}, "stream"),
        ({"dest": "https://example.com/hook", "stream": False}, "stream"),
        ({"dest": "https://example.com/hook", "schedule": {"hour": "1"}}, "schedule"),
        (
            {"dest": "https://example.com/hook", "stream": True, "signatureToken": ""},
            "signatureToken",
        ),
        (
            {"dest": "https://example.com/hook", "stream": True, "initialRecordTime": "now"},
            "initialRecordTime",
        ),
        (
            {"dest": "https://example.com/hook", "stream": True, "reportIfEmpty": "yes"},
            "reportIfEmpty",
        ),
        ({"dest": "https://example.com/hook", "stream": True, "secret": "x"}, "secret"),
    ]
    for body, field in bad:
        r = post(world, sc.MAKER, base, body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["errors"][0]["field"] == field, body
    assert world.get(base, sc.MAKER).json() == []

    body = {
        "dest": "https://example.com/hook",
        "stream": True,
        "signatureToken": "s3cret-token",
        "initialRecordTime": "2099-01-01T00:00:00+08:00",
    }
    r = post(world, sc.MAKER, base, body)
    assert r.status_code == 201, r.text
    sub = r.json()
    assert r.headers["location"] == f"{base}/{sub['subscriptionID']}"
    assert sub["state"] == "active" and sub["signed"] is True and sub["stream"] is True
    assert sub["initialRecordTime"] == "2098-12-31T16:00:00.000Z"
    assert "s3cret-token" not in r.text
    got = world.get(r.headers["location"], sc.MAKER)
    assert got.status_code == 200 and got.json()["subscriptionID"] == sub["subscriptionID"]
    assert "s3cret-token" not in got.text
    assert [s["subscriptionID"] for s in world.get(base, sc.MAKER).json()] == [
        sub["subscriptionID"]
    ]

    # Another enterprise sees neither the query nor its subscriptions.
    assert world.get(r.headers["location"], sc.DEALER).status_code == 404
    assert world.get(base, sc.DEALER).status_code == 404
    assert post(world, sc.DEALER, base, body).status_code == 404
    assert (
        world.client.delete(r.headers["location"], headers=world.headers(sc.DEALER)).status_code
        == 404
    )

    assert (
        world.client.delete(r.headers["location"], headers=world.headers(sc.MAKER)).status_code
        == 204
    )
    assert world.get(r.headers["location"], sc.MAKER).status_code == 404
    assert (
        world.client.delete(r.headers["location"], headers=world.headers(sc.MAKER)).status_code
        == 404
    )

    # Deleting the query ends its subscriptions.
    second = post(world, sc.MAKER, base, body).json()
    assert world.client.delete("/queries/mine", headers=world.headers(sc.MAKER)).status_code == 204
    assert post(world, sc.MAKER, "/queries", {"name": "mine", "query": {}}).status_code == 201
    assert world.get(base, sc.MAKER).json() == []
    assert world.get(f"{base}/{second['subscriptionID']}", sc.MAKER).status_code == 404


def test_requests_are_audited(world: Api) -> None:
    assert post(world, sc.MAKER, "/queries", {"name": "audited", "query": {}}).status_code == 201
    assert world.get("/queries/audited/events", sc.MAKER).status_code == 200
    assert world.get("/queries/nope", sc.DEALER).status_code == 404
    world.flush_audit()
    rows = read_audit(world.store)
    seen = {(r.method, r.path, r.outcome, r.enterprise) for r in rows}
    assert ("POST", "/queries", "ok", sc.MAKER) in seen
    assert ("GET", "/queries/audited/events", "ok", sc.MAKER) in seen
    assert ("GET", "/queries/nope", "not_found", sc.DEALER) in seen
