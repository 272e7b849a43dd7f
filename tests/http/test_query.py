"""GET /events with the EPCIS 2.0 query parameters, paging, JSON-LD and XML results, the
resource-oriented endpoints, and problem details for bad parameters (both backends)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from battrace.domain.epcis.hashid import event_hash_id
from battrace.domain.epcis.xml import parse_xml_document
from battrace.persistence.base import Store
from battrace.services import query as qs
from tests import scenario as sc
from tests.http import cast
from tests.http.conftest import Api, make_api

N = cast.NATIONAL
PACK = f"urn:gbt34014:{sc.PACK}"
MODULE = f"urn:gbt34014:{sc.MODULE}"


@pytest.fixture
def world(store: Store) -> Iterator[Api]:
    for api in make_api(store):
        api.load_lifecycle()
        yield api


def _events(r: Any) -> list[dict[str, Any]]:
    assert r.status_code == 200, r.text
    return r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]  # type: ignore[no-any-return]


def _labels(world: Api, r: Any) -> list[str]:
    by_id = {v: k for k, v in world.ids.items()}
    return [by_id[e["eventID"]] for e in _events(r)]


def q(world: Api, **params: Any) -> list[str]:
    return _labels(world, world.get("/events", N, params={"perPage": 1000, **params}))


def test_filters(world: Api) -> None:
    everything = q(world)
    assert len(everything) == len(cast.lifecycle())
    assert q(world, eventType="TransformationEvent") == ["dismantle", "recycle"]
    assert q(world, eventType="TransformationEvent|AssociationEvent") == [
        "a_module",
        "a_pack",
        "install",
        "remove",
        "dismantle",
        "recycle",
    ]
    assert q(world, EQ_bizStep="shipping") == ["ship1", "ship2", "ship3"]
    # every spelling of a CBV value means the same
    assert q(world, EQ_bizStep="urn:epcglobal:cbv:bizstep:shipping|receiving") == [
        "ship1",
        "recv1",
        "ship2",
        "recv2",
        "ship3",
        "recv3",
    ]
    assert q(world, EQ_disposition="https://ref.gs1.org/cbv/Disp-in_transit") == [
        "ship1",
        "ship2",
        "ship3",
    ]
    assert q(world, EQ_action="DELETE") == ["remove"]
    assert q(world, EQ_bizLocation=sc.site(sc.DEALER)) == ["recv2", "sell"]
    assert q(world, EQ_readPoint=sc.site(sc.RECYCLER), EQ_bizStep="receiving") == ["recv3"]
    assert q(world, MATCH_epc=MODULE) == ["c_module", "a_pack"]  # epcList / childEPCs only
    assert q(world, MATCH_parentID=MODULE) == ["a_module"]
    assert q(world, MATCH_inputEPC=MODULE) == ["recycle"]
    assert q(world, MATCH_outputEPC=MODULE) == ["dismantle"]
    assert q(world, MATCH_anyEPC=MODULE) == [
        "c_module",
        "a_module",
        "a_pack",
        "dismantle",
        "recycle",
    ]
    assert q(world, EQ_eventID=world.ids["sell"]) == ["sell"]
    assert q(world, GE_eventTime=sc.at(100).isoformat(), LT_eventTime=sc.at(102).isoformat()) == [
        "scrap",
        "remove",
    ]
    # the same instant with another offset
    assert q(
        world, GE_eventTime="2024-03-09T21:00:00+08:00", LT_eventTime="2024-03-09T15:00:00Z"
    ) == [
        "scrap",
        "remove",
    ]
    assert q(world, GE_recordTime="2000-01-01T00:00:00Z") == everything
    assert q(world, LT_recordTime="2000-01-01T00:00:00Z") == []
    assert q(world, EXISTS_errorDeclaration="true") == []
    assert q(world, EXISTS_errorDeclaration="false") == everything


def test_ordering_and_count_limits(world: Api) -> None:
    pack = {"MATCH_anyEPC": PACK}
    asc = q(world, orderBy="eventTime", orderDirection="ASC", **pack)
    assert asc == cast.PACK_EVENTS
    assert q(world, orderBy="eventTime", **pack) == cast.PACK_EVENTS[::-1]  # DESC by default
    assert q(world, orderBy="eventTime", eventCountLimit=2, **pack) == ["dismantle", "recv3"]
    assert q(world, orderBy="recordTime", orderDirection="ASC", **pack) == cast.PACK_EVENTS
    r = world.get("/events", N, params={"maxEventCount": 3, **pack})
    assert r.status_code == 413
    assert r.json()["type"] == "epcisException:QueryTooLargeException"
    assert q(world, maxEventCount=100, **pack) == cast.PACK_EVENTS


def _walk(world: Api, who: str, url: str) -> tuple[list[str], int]:
    labels: list[str] = []
    pages = 0
    next_url: str | None = url
    while next_url:
        r = world.get(next_url, who)
        labels += _labels(world, r)
        pages += 1
        link = r.headers.get("link")
        if link:
            assert link.endswith('>; rel="next"')
        next_url = link[1 : link.index(">")] if link else None
    return labels, pages


def test_paging_follows_link_headers(world: Api) -> None:
    labels, pages = _walk(world, N, "/events?perPage=4")
    assert labels == q(world) and pages == 5  # 18 events: 4 + 4 + 4 + 4 + 2
    labels, _ = _walk(
        world, N, "/events?perPage=3&orderBy=eventTime&orderDirection=DESC&MATCH_anyEPC=" + PACK
    )
    assert labels == cast.PACK_EVENTS[::-1]
    labels, _ = _walk(world, N, "/events?perPage=2&orderBy=eventTime&eventCountLimit=5")
    assert len(labels) == 5
    # a token is bound to its query
    r = world.get("/events?perPage=2", N)
    token = r.headers["link"].split("nextPageToken=")[1].split(">")[0]
    bad = world.get(f"/events?perPage=2&EQ_action=ADD&nextPageToken={token}", N)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "nextPageToken"
    assert world.get("/events?nextPageToken=garbage", N).status_code == 400


def test_enterprise_paging_is_complete_with_a_small_scan_budget(
    world: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Custody is checked per candidate page; with a tiny budget pages may come back short, but
    walking the links yields exactly the visible events."""
    monkeypatch.setattr(qs, "SCAN_BUDGET", 3)
    labels, pages = _walk(world, sc.DEALER, "/events?perPage=2")
    assert sorted(labels) == sorted(cast.PACK_VISIBLE[sc.DEALER])
    assert pages > 2


def test_xml_results_round_trip(world: Api) -> None:
    r = world.get(
        "/events", N, params={"MATCH_anyEPC": PACK}, headers={"Accept": "application/xml"}
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/xml"
    doc = parse_xml_document(r.content)
    assert doc.kind == "EPCISQueryDocument"
    ids = [event_hash_id(e, doc.context) for e in doc.events]
    assert ids == [world.ids[label] for label in cast.PACK_EVENTS]
    web = world.get(
        "/events",
        N,
        params={"EQ_bizStep": "shipping"},
        headers={"Accept": "application/xml", "GS1-CBV-XML-Format": "Always_Web_URI"},
    )
    assert b"https://ref.gs1.org/cbv/BizStep-shipping" in web.content
    assert b"urn:epcglobal:cbv:bizstep:shipping" in r.content


def test_json_results_keep_the_event_hash_ids(world: Api) -> None:
    r = world.get("/events", N, headers={"Accept": "application/ld+json"})
    assert r.headers["content-type"] == "application/ld+json"
    doc = r.json()
    assert doc["type"] == "EPCISQueryDocument" and doc["schemaVersion"] == "2.0"
    for event in _events(r):
        assert event["recordTime"].endswith("Z")
        assert event_hash_id(event, doc["@context"]) == event["eventID"]


def test_accept_and_versions(world: Api) -> None:
    assert world.get("/events", N, headers={"Accept": "text/html"}).status_code == 406
    assert world.get("/events", N, headers={"Accept": "text/html, */*;q=0.1"}).status_code == 200
    assert world.get("/events", N, headers={"GS1-EPCIS-Min": "3.0"}).status_code == 406
    assert world.get("/events", N, headers={"GS1-EPCIS-Max": "1.2"}).status_code == 406
    ok = world.get("/events", N, headers={"GS1-EPCIS-Max": "2.0", "GS1-CBV-Min": "1.2"})
    assert ok.status_code == 200 and ok.headers["gs1-epcis-version"] == "2.0.0"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"foo": "1"}, "foo"),
        ({"eventType": "QuantityEvent"}, "eventType"),
        ({"EQ_action": "ADDED"}, "EQ_action"),
        ({"GE_eventTime": "2024-03-05T08:00:00"}, "GE_eventTime"),
        ({"GE_eventTime": "yesterday"}, "GE_eventTime"),
        ({"perPage": "0"}, "perPage"),
        ({"perPage": "abc"}, "perPage"),
        ({"perPage": "1001"}, "perPage"),
        ({"orderBy": "bizStep"}, "orderBy"),
        ({"orderDirection": "UP", "orderBy": "eventTime"}, "orderDirection"),
        ({"orderDirection": "ASC"}, "orderDirection"),
        ({"eventCountLimit": "3"}, "eventCountLimit"),
        ({"eventCountLimit": "3", "maxEventCount": "3", "orderBy": "eventTime"}, "maxEventCount"),
        ({"EXISTS_errorDeclaration": "maybe"}, "EXISTS_errorDeclaration"),
        ({"MATCH_epc": "a||b"}, "MATCH_epc"),
        ({"MATCH_epc": "|".join(str(i) for i in range(101))}, "MATCH_epc"),
    ],
)
def test_bad_parameters_are_named(world: Api, params: dict[str, str], field: str) -> None:
    r = world.get("/events", N, params=params)
    assert r.status_code == 400
    problem = r.json()
    assert problem["type"] == "epcisException:QueryParameterException"
    assert problem["errors"][0]["field"] == field
    assert r.headers["content-type"] == "application/problem+json"


def test_single_event_and_resources(world: Api) -> None:
    sell = world.ids["sell"]
    r = world.get(f"/events/{quote(sell, safe='')}", N)
    assert [e["eventID"] for e in _events(r)] == [sell]
    assert world.get("/events/ni%3A%2F%2F%2Fsha-256%3Bnope", N).status_code == 404

    types = world.get("/eventTypes", N).json()
    assert types["type"] == "Collection"
    assert types["member"] == sorted(["AssociationEvent", "ObjectEvent", "TransformationEvent"])
    steps = world.get("/bizSteps", N, params={"perPage": 3})
    first = steps.json()["member"]
    assert len(first) == 3 and first == sorted(first)
    rest = world.get(steps.headers["link"][1 : steps.headers["link"].index(">")], N).json()
    assert rest["member"][0] > first[-1]

    assert _labels(world, world.get("/bizSteps/retail_selling/events", N)) == ["sell"]
    assert _labels(world, world.get("/eventTypes/TransformationEvent/events", N)) == [
        "dismantle",
        "recycle",
    ]
    loc = quote(sc.site(sc.DEALER), safe="")
    assert _labels(world, world.get(f"/bizLocations/{loc}/events", N)) == ["recv2", "sell"]
    assert _labels(world, world.get(f"/readPoints/{loc}/events", N)) == ["recv2", "sell"]
    assert _labels(world, world.get("/dispositions/retail_sold/events", N)) == ["sell"]
    assert _labels(
        world,
        world.get(
            f"/epcs/{quote(MODULE, safe='')}/events", N, params={"eventType": "TransformationEvent"}
        ),
    ) == ["dismantle", "recycle"]
    clash = world.get("/bizSteps/shipping/events", N, params={"EQ_bizStep": "receiving"})
    assert clash.status_code == 400
    assert world.get("/bizSteps", N, params={"x": "1"}).status_code == 400


def test_battery_and_vehicle_endpoints(world: Api) -> None:
    r = world.get(f"/api/batteries/{sc.PACK}", N)
    data = r.json()
    assert data["code"] == sc.PACK and data["state"] == "dismantled" and data["scope"] == "full"
    assert [e["eventID"] for e in data["events"]] == [world.ids[x] for x in cast.PACK_EVENTS]
    bad = world.get("/api/batteries/ABCPB01A1B2C3DE35000000", N)  # 23 characters
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"]
    unknown = world.get(f"/api/batteries/{sc.code('P', 99)}", N)
    assert unknown.status_code == 404
    v = world.get(f"/api/vehicles/{sc.VIN}", N).json()
    assert v["kind"] == "vehicle" and v["state"] == "scrapped"
    assert world.get("/api/vehicles/LSVAB123XRA00000", N).status_code == 400
    assert world.get(f"/api/vehicles/{sc.VIN2}", N).status_code == 404
    ents = world.get("/api/enterprises", N, params={"role": "dealer"}).json()
    assert [e["uscc"] for e in ents] == [sc.DEALER]
    assert world.get("/api/enterprises", N, params={"role": "king"}).status_code == 400
    assert world.get("/api/enterprises/91350900587527783X", N).status_code == 400
    assert world.get("/api/enterprises/91110000710935732K", N).status_code in (400, 404)


def test_unknown_paths_and_methods_are_problems(world: Api) -> None:
    r = world.get("/nowhere", N)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    r = world.client.delete("/events", headers=world.headers(N))
    assert r.status_code == 405 and r.headers["content-type"] == "application/problem+json"
    assert "GET" in r.headers["allow"]
    assert {"GET", "POST", "OPTIONS"} <= set(r.headers["allow"].split(", "))  # two routers


def test_control_characters_and_forged_tokens_are_bad_input(world: Api) -> None:
    for params in ({"MATCH_epc": "urn:x:\x00"}, {"EQ_bizStep": "ship\x01ping"}):
        r = world.get("/events", N, params=params)
        assert r.status_code == 400, r.text
    assert world.get("/events/ni%3A%00x", N).status_code == 400
    assert world.get("/bizSteps/ship%00ping/events", N).status_code == 400
    assert world.get("/capture/a%00b", N).status_code == 404
    query = qs.parse_event_query([("perPage", "2")])
    fp = query.fingerprint.encode()
    for forged in (
        b'[1,"' + fp + b'","x",1,0]',  # a time where the order is by capture
        b'[1,"' + fp + b'",1,-5,0]',
        b'[1,"' + fp + b'",1,99999999999999999999999,0]',  # beyond BIGINT
    ):
        token = base64.urlsafe_b64encode(forged).decode().rstrip("=")
        r = world.get("/events", N, params={"perPage": 2, "nextPageToken": token})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "nextPageToken"
    huge = "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk"  # base64 of a number beyond BIGINT
    assert world.get("/capture", N, params={"nextPageToken": huge}).status_code == 400
