"""``GET /passport/{code}`` and friends over HTTP: models by ``?model=`` or ``Accept`` profile,
audiences through the documented dependency, signed versions, the GS1 Digital Link resolver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from battrace.config import Settings
from battrace.domain.lifecycle import builders as b
from battrace.domain.passport import Audience
from battrace.persistence.sqlite import SqliteStore
from battrace.services import checkpoint as checkpoints
from battrace.services import passport as service
from battrace.services.capture import Ledger
from battrace.web import passport as web
from tests import scenario as sc
from tests.integration.test_passport_lifecycle import build_stage

SGTIN = "urn:epc:id:sgtin:0614141.112345.400"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[tuple[SqliteStore, Settings]]:
    url = f"sqlite:///{tmp_path / 'web.sqlite'}"
    store = SqliteStore(url)
    store.migrate()
    build_stage(store, "in_service")
    event = b.commission(SGTIN, site=sc.site(sc.MAKER), time=sc.at(0), attributes={"massKg": 9})
    assert Ledger(store).capture_document(sc.doc(event), sc.MAKER).ok
    yield store, Settings.from_env(url)
    store.close()


def _app(
    store: SqliteStore, settings: Settings, granted: frozenset[Audience] | None = None
) -> FastAPI:
    app = FastAPI()
    app.state.store = store
    app.state.settings = settings
    if granted is not None:
        # What the authentication layer does: record the caller's audiences on the request.
        @app.middleware("http")
        async def grant(request: Request, call_next):  # type: ignore[no-untyped-def]
            request.state.passport_audiences = granted
            return await call_next(request)

    app.include_router(web.router)
    return app


def test_models_by_query_and_by_accept_profile(ledger: tuple[SqliteStore, Settings]) -> None:
    client = TestClient(_app(*ledger))
    plain = client.get(f"/passport/{sc.PACK}")
    assert plain.status_code == 200 and plain.json()["format"] == "battrace-passport-v1"
    assert plain.headers["content-type"].startswith("application/json")
    cx = client.get(f"/passport/{sc.PACK}?model=catenax").json()
    assert list(cx["aspects"]) == ["BatteryPass"]
    accept = 'application/json; profile="urn:samm:io.admin-shell.idta.batterypass"'
    idta = client.get(f"/passport/{sc.PACK}", headers={"Accept": accept})
    assert idta.status_code == 200 and idta.json()["model"] == "idta"
    assert "urn:samm:io.admin-shell.idta" in idta.headers["content-type"]
    assert idta.headers["vary"] == "Accept"
    bp = client.get(
        f"/passport/{sc.PACK}", headers={"Accept": 'application/json;profile="batterypass"'}
    )
    assert bp.json()["model"] == "batterypass"
    preferred = client.get(
        f"/passport/{sc.PACK}", headers={"Accept": "text/html;q=0.1, application/json"}
    )
    assert preferred.json()["format"] == "battrace-passport-v1"  # q-values count
    bad = client.get(f"/passport/{sc.PACK}", headers={"Accept": 'application/json; profile="x"'})
    assert bad.status_code == 406 and bad.headers["content-type"] == "application/problem+json"


def test_a_browser_gets_the_public_page(ledger: tuple[SqliteStore, Settings]) -> None:
    client = TestClient(_app(*ledger))
    page = client.get(f"/passport/{sc.PACK}", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert sc.PACK in page.text and "Battery passport" in page.text
    assert "Battery status" not in page.text  # point 4 data: not public


def test_audiences_are_granted_not_chosen(ledger: tuple[SqliteStore, Settings]) -> None:
    anonymous = TestClient(_app(*ledger))
    refused = anonymous.get(f"/passport/{sc.PACK}?audience=legitimate")
    assert refused.status_code == 403
    body = refused.json()
    assert body["status"] == 403 and body["errors"][0]["field"] == "audience"
    assert anonymous.get(f"/passport/{sc.PACK}?audience=all").status_code == 400
    public = anonymous.get(f"/passport/{sc.PACK}?model=batterypass").json()
    gpi = public["aspects"]["GeneralProductInformation"]["payload"]
    assert "batteryStatus" not in gpi

    recycler = TestClient(_app(*ledger, granted=frozenset({Audience.LEGITIMATE})))
    legit = recycler.get(f"/passport/{sc.PACK}?model=batterypass&audience=legitimate").json()
    assert legit["aspects"]["GeneralProductInformation"]["payload"]["batteryStatus"] == "Original"
    assert recycler.get(f"/passport/{sc.PACK}?audience=authority").status_code == 403

    # Or the dependency is replaced wholesale (app.dependency_overrides).
    app = _app(*ledger)
    app.dependency_overrides[web.granted_audiences] = lambda: frozenset(Audience)
    assert TestClient(app).get(f"/passport/{sc.PACK}?audience=authority").status_code == 200


def test_errors_are_problem_details(ledger: tuple[SqliteStore, Settings]) -> None:
    client = TestClient(_app(*ledger))
    for path, status, field in (
        (f"/passport/{sc.PACK2}", 404, "code"),
        ("/passport/NOT-A-CODE", 400, None),
        (f"/passport/{sc.PACK}?model=xml", 400, "model"),
        (f"/passport/{sc.PACK}?version=0", 400, "version"),
        (f"/passport/{sc.PACK}?version=abc", 400, "version"),
        (f"/passport/{sc.PACK}?version=4", 404, "version"),
        (f"/passport/urn:vin:{sc.VIN}", 400, None),
        (f"/passport/{sc.PACK}/versions/0", 400, "number"),
    ):
        r = client.get(path)
        assert r.status_code == status, (path, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        if field:
            assert r.json()["errors"][0]["field"] == field
    unwired = TestClient(FastAPI())
    unwired.app.include_router(web.router)  # type: ignore[attr-defined]
    assert unwired.get(f"/passport/{sc.PACK}").status_code == 503


def test_signed_versions_and_keys(ledger: tuple[SqliteStore, Settings]) -> None:
    store, settings = ledger
    client = TestClient(_app(store, settings))
    assert client.get("/passport/jwks.json").json() == {"keys": []}  # nothing signed yet
    published = service.publish(store, settings.key_file, sc.PACK)
    keys = client.get("/passport/jwks.json").json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "OKP"
    versions = client.get(f"/passport/{sc.PACK}/versions").json()["versions"]
    assert [v["version"] for v in versions] == [1]
    r = client.get(f"/passport/{sc.PACK}/versions/1")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/jose")
    assert "immutable" in r.headers["cache-control"]
    assert r.text == published.tokens["public"]
    key = service.read_public_key(client.get("/passport/jwks.json").content)
    assert (
        key.public_bytes_raw()
        == checkpoints.load_or_create_key(settings.key_file).public_key().public_bytes_raw()
    )
    assert service.verify_token(r.text, key, store).version == 1
    assert client.get(f"/passport/{sc.PACK}/versions/1?audience=legitimate").status_code == 403
    old = client.get(f"/passport/{sc.PACK}?version=1&model=catenax").json()
    assert old["aspects"]["BatteryPass"]["payload"]["metadata"]["status"] == "approved"


def test_gs1_digital_link_resolves_to_the_passport(ledger: tuple[SqliteStore, Settings]) -> None:
    client = TestClient(_app(*ledger))
    r = client.get("/01/10614141123459/21/400?model=idta", follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"].endswith(f"/passport/{SGTIN}?model=idta")
    doc = client.get("/01/10614141123459/21/400?model=idta").json()
    nameplate = doc["aspects"]["BatteryNameplate"]["payload"]
    assert nameplate["URIOfTheProduct"] == "https://id.gs1.org/01/10614141123459/21/400"
    assert client.get("/01/10614141123458/21/400").status_code == 400  # wrong check digit
    assert client.get("/01/10614141123459/21/401").status_code == 404


def test_the_router_serves_inside_the_platform_app(ledger: tuple[SqliteStore, Settings]) -> None:
    from battrace.web.app import create_app

    _, settings = ledger
    client = TestClient(create_app(settings))
    r = client.get(f"/passport/{sc.PACK}?model=catenax")
    assert r.status_code == 200, r.text
    assert r.json()["aspects"]["BatteryPass"]["payload"]["identification"]["category"] == "EV"
