"""Who may read and write what over HTTP: every role of the cast × every endpoint × its own and
other enterprises' data, allowed and denied (docs/api.md, "Who may do what")."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import orjson
import pytest

from battrace.domain.lifecycle import builders as b
from battrace.persistence.base import Store
from tests import scenario as sc
from tests.http import cast
from tests.http.conftest import Api, make_api

PRINCIPALS = list(cast.PACK_VISIBLE)
REPORTERS = [u for u in PRINCIPALS if u not in (cast.NATIONAL, cast.JIANGSU, cast.GUANGDONG)]
PACK_URI = f"urn:gbt34014:{sc.PACK}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One ledger with the whole lifecycle, shared by the read tests of this module (they only
    read; SQLite only — the scoping SQL is backend-neutral and test_query runs on both)."""
    from battrace.persistence.sqlite import SqliteStore

    store = SqliteStore(f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'ledger.sqlite'}")
    store.migrate()
    for api in make_api(store):
        api.load_lifecycle()
        yield api
    store.close()


def _ids(doc: dict[str, object]) -> set[str]:
    events = doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]  # type: ignore[index]
    return {e["eventID"] for e in events}  # type: ignore[index, union-attr]


def _labels(world: Api, ids: set[str]) -> set[str]:
    by_id = {v: k for k, v in world.ids.items()}
    return {by_id[i] for i in ids}


@pytest.mark.parametrize("who", PRINCIPALS)
def test_events_of_the_pack(world: Api, who: str) -> None:
    expected = cast.PACK_VISIBLE[who]
    r = world.get("/events", who, params={"MATCH_anyEPC": PACK_URI, "perPage": 100})
    assert r.status_code == 200
    assert _labels(world, _ids(r.json())) == expected
    r = world.get(f"/epcs/{quote(PACK_URI, safe='')}/events", who)
    assert r.status_code == 200 and _labels(world, _ids(r.json())) == expected


@pytest.mark.parametrize("who", PRINCIPALS)
def test_single_events(world: Api, who: str) -> None:
    for label in cast.PACK_EVENTS:
        r = world.get(f"/events/{quote(world.ids[label], safe='')}", who)
        if label in cast.PACK_VISIBLE[who]:
            assert r.status_code == 200, label
            assert _ids(r.json()) == {world.ids[label]}
        else:
            assert r.status_code == 404, label
            assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("who", PRINCIPALS)
def test_battery_trace(world: Api, who: str) -> None:
    expected = cast.PACK_VISIBLE[who]
    r = world.get(f"/api/batteries/{sc.PACK}", who)
    if not expected:
        assert r.status_code == 403
        assert who in r.json()["detail"]
        return
    assert r.status_code == 200
    data = r.json()
    assert _labels(world, {e["eventID"] for e in data["events"]}) == expected
    if expected == set(cast.PACK_EVENTS):
        assert data["scope"] == "full" and data["state"] == "dismantled"
    else:  # the current state is not for former holders to see
        assert data["scope"] == "partial"
        assert data["state"] is None and data["holder"] is None and data["children"] == []


@pytest.mark.parametrize("who", PRINCIPALS)
def test_vehicle_trace(world: Api, who: str) -> None:
    r = world.get(f"/api/vehicles/{sc.VIN}", who)
    # The vehicle is named by ship2, recv2, sell (Guangdong: automaker, dealer) and scrap
    # (Jiangsu: dismantler); the windows of the vehicle follow the same rule as the pack's.
    vehicle_events = {"install", "ship2", "recv2", "sell", "scrap", "remove"}
    sees = {
        sc.AUTOMAKER: {"install", "ship2", "recv2"},
        sc.DEALER: {"ship2", "recv2", "sell"},
        sc.DISMANTLER: {"scrap", "remove"},
        cast.GUANGDONG: {"install", "ship2", "recv2", "sell"},
        cast.JIANGSU: {"scrap", "remove"},
        cast.NATIONAL: vehicle_events,
    }.get(who, set())
    if not sees:
        assert r.status_code == 403
        return
    assert r.status_code == 200
    assert _labels(world, {e["eventID"] for e in r.json()["events"]}) == sees


@pytest.mark.parametrize("who", PRINCIPALS)
def test_registry_is_readable_by_every_key(world: Api, who: str) -> None:
    r = world.get("/api/enterprises", who)
    assert r.status_code == 200 and len(r.json()) == len(cast.enterprises())
    other = sc.MAKER if who != sc.MAKER else sc.RECYCLER
    r = world.get(f"/api/enterprises/{other}", who)
    assert r.status_code == 200 and r.json()["uscc"] == other


@pytest.mark.parametrize("who", PRINCIPALS)
def test_collections_list_only_what_the_key_took_part_in(world: Api, who: str) -> None:
    r = world.get("/bizSteps", who)
    assert r.status_code == 200
    steps = set(r.json()["member"])
    if who == cast.NATIONAL:
        assert {"commissioning", "installing", "disassembling"} <= steps
    elif who == sc.MAKER:
        assert steps == {"commissioning", "assembling", "shipping", "receiving"}
    elif who in (sc.OUTLET, sc.CASCADE, sc.OTHER_MAKER):
        assert steps == set()
    else:
        assert "commissioning" not in steps and steps


@pytest.mark.parametrize(
    "path",
    [
        "/events",
        f"/events/{quote('ni:///sha-256;00?ver=CBV2.0', safe='')}",
        f"/epcs/{quote(PACK_URI, safe='')}/events",
        "/bizSteps",
        "/capture",
        "/capture/0c8c6a8e-0000-4000-8000-000000000000",
        f"/api/batteries/{sc.PACK}",
        f"/api/vehicles/{sc.VIN}",
        "/api/enterprises",
        f"/api/enterprises/{sc.MAKER}",
        "/queries",
        "/queries/pack",
        "/queries/pack/events",
        "/queries/pack/subscriptions",
        "/queries/pack/subscriptions/0c8c6a8e-0000-4000-8000-000000000000",
    ],
)
def test_nothing_without_a_key(world: Api, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer btk_0123456789abcdef_" + "x" * 43}):
        r = world.client.get(path, headers=headers)
        assert r.status_code == 401, path
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert world.client.get("/health").status_code == 200


@pytest.mark.parametrize("who", PRINCIPALS)
def test_named_queries_run_in_the_callers_scope_and_namespace(world: Api, who: str) -> None:
    """Every key may keep named queries; each runs in its own read scope, and one enterprise's
    queries and subscriptions do not exist for another (404, never 403: names are private)."""
    own = world.headers(who)
    name = f"pack-{who}"
    r = world.client.post(
        "/queries", json={"name": name, "query": {"MATCH_anyEPC": [PACK_URI]}}, headers=own
    )
    assert r.status_code == 201, r.text
    try:
        r = world.get(f"/queries/{name}/events", who, params={"perPage": 100})
        assert r.status_code == 200
        assert _labels(world, _ids(r.json())) == cast.PACK_VISIBLE[who]
        sub = {"dest": "https://example.com/hook", "stream": True}
        r = world.client.post(f"/queries/{name}/subscriptions", json=sub, headers=own)
        assert r.status_code == 201, r.text
        location = r.headers["location"]
        for other in (
            sc.MAKER if who != sc.MAKER else sc.DEALER,
            cast.NATIONAL if who != cast.NATIONAL else cast.JIANGSU,
        ):
            theirs = world.headers(other)
            assert name not in {q["name"] for q in world.get("/queries", other).json()}
            for method, path in (
                ("GET", f"/queries/{name}"),
                ("GET", f"/queries/{name}/events"),
                ("GET", f"/queries/{name}/subscriptions"),
                ("POST", f"/queries/{name}/subscriptions"),
                ("GET", location),
                ("DELETE", location),
                ("DELETE", f"/queries/{name}"),
            ):
                body = sub if method == "POST" else None
                r = world.client.request(method, path, json=body, headers=theirs)
                assert r.status_code == 404, (other, method, path)
        assert world.get(location, who).status_code == 200
    finally:
        assert world.client.delete(f"/queries/{name}", headers=own).status_code == 204


# -- writing: fresh ledgers (both backends) -----------------------------------------------------


def _inspection_event(site_of: str, hours: int = 200) -> dict[str, object]:
    return b.inspect(
        sc.PACK,
        capacity_ah=100.0,
        rated_ah=150.0,
        resistance_mohm=90.0,
        voltage_v=380.0,
        site=sc.site(site_of),
        time=sc.at(hours),
    )


def _inspection(reporter: str, site_of: str) -> bytes:
    return orjson.dumps(b.document([_inspection_event(site_of)]))


@pytest.fixture
def written(store: Store) -> Iterator[Api]:
    for api in make_api(store):
        api.load_lifecycle()
        yield api


def test_capture_own_allowed_other_denied_regulators_refused(written: Api) -> None:
    jobs: dict[str, str] = {}
    for who in REPORTERS:
        own = written.capture(who, _inspection(who, who))
        assert own.status_code == 202, who
        assert own.json()["success"] is True, (who, own.json())
        jobs[who] = own.headers["location"]
        other_site = sc.MAKER if who != sc.MAKER else sc.DEALER
        other = written.capture(who, _inspection(who, other_site))
        assert other.status_code == 202
        job = other.json()
        assert job["success"] is False and job["captured"] == 0
        assert job["errors"][0]["field"].endswith("readPoint.id")
    for regulator in (cast.NATIONAL, cast.JIANGSU, cast.GUANGDONG):
        r = written.capture(regulator, _inspection(regulator, sc.MAKER))
        assert r.status_code == 403
        assert "reports no events" in r.json()["detail"]

    # Capture jobs: one's own; the national regulator all; a provincial regulator its province's.
    for who, location in jobs.items():
        assert written.get(location, who).status_code == 200
        assert written.get(location, cast.NATIONAL).status_code == 200
        stranger = sc.OTHER_MAKER if who != sc.OTHER_MAKER else sc.MAKER
        assert written.get(location, stranger).status_code == 404
        in_jiangsu = who in (sc.DISMANTLER, sc.OUTLET)
        assert written.get(location, cast.JIANGSU).status_code == (200 if in_jiangsu else 404)
    listed = written.get("/capture", sc.DEALER, params={"perPage": 100}).json()
    assert len(listed) == 2  # its own success and its refused report from another's site
    assert {j["captureID"] for j in listed if j["success"]} == {jobs[sc.DEALER].rsplit("/")[-1]}
    everyone = written.get("/capture", cast.NATIONAL, params={"perPage": 100}).json()
    assert len(everyone) == 2 * len(REPORTERS)


def test_post_events_follows_the_same_matrix(written: Api) -> None:
    """POST /events (one event, synchronous): own reports allowed, reports from another's site
    refused with the field named, regulators refused outright."""

    def post(who: str, site_of: str, hours: int) -> httpx.Response:
        body = orjson.dumps({"@context": b.CONTEXT, **_inspection_event(site_of, hours)})
        headers = written.headers(who, **{"Content-Type": "application/ld+json"})
        return written.client.post("/events", content=body, headers=headers)

    for i, who in enumerate(REPORTERS):
        assert post(who, who, 300 + i).status_code == 201, who
        other = post(who, sc.MAKER if who != sc.MAKER else sc.DEALER, 400 + i)
        assert other.status_code == 400, who
        assert other.json()["errors"][0]["field"].endswith("readPoint.id")
    for regulator in (cast.NATIONAL, cast.JIANGSU, cast.GUANGDONG):
        assert post(regulator, sc.MAKER, 500).status_code == 403


def test_roles_decide_the_steps_over_http(written: Api) -> None:
    """A dealer may not commission, nor a recycler install; the error names the bizStep."""
    commission = b.commission([sc.code("P", 9)], site=sc.site(sc.DEALER), time=sc.at(300))
    r = written.capture(sc.DEALER, orjson.dumps(b.document([commission])))
    job = r.json()
    assert job["success"] is False
    assert job["errors"][0]["field"] == "epcisBody.eventList[0].bizStep"
    assert "dealer" in job["errors"][0]["reason"]
    install = b.install(sc.PACK2, sc.VIN2, site=sc.site(sc.RECYCLER), time=sc.at(300))
    job = written.capture(sc.RECYCLER, orjson.dumps(b.document([install]))).json()
    assert job["success"] is False and "installing" in job["errors"][0]["reason"]
