"""GET /api/forecast/… and /api/recycled-content/… against the real app (SQLite and
PostgreSQL): who may read what, formats, and bad input as problem details."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from battrace.domain.identities.uscc import make_uscc
from battrace.services.capture import Ledger
from tests import scenario as sc
from tests.http import cast
from tests.http.conftest import Api
from tests.integration.test_recycled_content_ledger import production, recycling

RET = "/api/forecast/retirements"


def test_national_regulator_gets_the_scenario_forecast(api: Api) -> None:
    r = api.get(RET, cast.NATIONAL, params={"from": 2024, "to": 2030, "by": "chemistry"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert [y["year"] for y in doc["years"]] == list(range(2024, 2031))
    y2025 = doc["years"][1]
    # The CLI's figure (tests/unit/test_forecast_cli.py): about 111 GWh nominal in 2025.
    assert 100 < y2025["gwh"] < 120
    assert y2025["band"]["gwh"]["low"] <= y2025["gwh"] <= y2025["band"]["gwh"]["high"]
    assert set(y2025["recoverable_t"]) == {"Li", "Ni", "Co", "Mn"}
    assert doc["scope"]["band"] == "corners" and doc["scope"]["province"] is None
    chems = {row["chemistry"] for row in doc["breakdown"] if row["year"] == 2025}
    assert {"LFP", "NCM523"} <= chems
    assert sum(r["gwh"] for r in doc["breakdown"] if r["year"] == 2025) == pytest.approx(
        y2025["gwh"]
    )


def test_filters_csv_and_xlsx(api: Api) -> None:
    params = {"to": 2030, "province": "44", "chemistry": "lfp", "format": "csv"}
    r = api.get(RET, cast.NATIONAL, params=params)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[0].startswith("year,packs,gwh,gwh_residual,tonnes,Li_t,Ni_t,Co_t,Mn_t")
    assert len(lines) == 1 + 11
    x = api.get(RET, cast.NATIONAL, params={**params, "format": "xlsx", "by": "segment"})
    assert x.status_code == 200
    book = load_workbook(io.BytesIO(x.content))
    assert book.sheetnames == ["by_segment", "retirements"]
    assert book["retirements"].cell(2, 1).value == 2020
    whole = api.get(RET, cast.NATIONAL, params={"to": 2030}).json()["years"][5]["gwh"]
    gd = api.get(RET, cast.NATIONAL, params={"to": 2030, "province": "440000"}).json()
    assert 0 < gd["years"][5]["gwh"] < whole and gd["scope"]["province"] == "44"


def test_provincial_regulator_sees_its_own_province_only(api: Api) -> None:
    own = api.get(RET, cast.JIANGSU, params={"to": 2025})
    assert own.status_code == 200 and own.json()["scope"]["province"] == "32"
    assert api.get(RET, cast.JIANGSU, params={"to": 2025, "province": "32"}).status_code == 200
    other = api.get(RET, cast.JIANGSU, params={"to": 2025, "province": "44"})
    assert other.status_code == 403
    assert other.headers["content-type"] == "application/problem+json"
    cap = api.get("/api/forecast/capacity", cast.JIANGSU, params={"source": "scenario"})
    assert cap.status_code == 200
    assert cap.json()["national"] is None
    assert [p["province"] for p in cap.json()["provinces"]] == ["32"]


def test_enterprises_and_anonymous_callers_are_refused(api: Api) -> None:
    assert api.get(RET, sc.MAKER).status_code == 403
    assert api.get("/api/forecast/capacity", sc.RECYCLER).status_code == 403
    assert api.get(RET, None).status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"chemistry": "unobtainium"}, "chemistry"),
        ({"from": 2030, "to": 2025}, "years"),
        ({"province": "99"}, "province"),
        ({"draws": 1}, "draws"),
        ({"draws": 5000}, "draws"),
        ({"format": "pdf"}, "format"),
        ({"source": "ledger"}, "ledger"),  # the cast's pack has no rated energy
    ],
)
def test_bad_input_is_a_problem_naming_the_field(api: Api, params: dict, field: str) -> None:
    r = api.get(RET, cast.NATIONAL, params={"to": 2025, **params})
    assert r.status_code == 400, r.text
    body = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert body["errors"][0]["field"] == field


def test_capacity_against_the_registry(api: Api) -> None:
    rows = [dict(e) for e in cast.enterprises() if e["uscc"] == sc.RECYCLER]
    rows[0]["qualifications"] = [
        {"kind": "recycling", "batch": 1, "date": "2018-09-20", "capacity_t": 5000}
    ]
    from battrace.services import enterprises as registry

    registry.register(api.store, rows)
    r = api.get(
        "/api/forecast/capacity", cast.NATIONAL, params={"year": 2030, "source": "scenario"}
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    hunan = next(p for p in doc["provinces"] if p["province"] == "43")
    assert hunan["capacity_t"] == 5000 and hunan["utilisation"] > 0
    assert doc["national"]["capacity_t"] == 5000
    csv = api.get(
        "/api/forecast/capacity", cast.NATIONAL, params={"source": "scenario", "format": "csv"}
    )
    assert csv.status_code == 200 and csv.text.startswith("year,province,retired_t")
    empty = api.get("/api/forecast/capacity", cast.NATIONAL)  # ledger source: nothing installed
    assert empty.status_code == 400 and empty.json()["errors"][0]["field"] == "ledger"


def _recycled_world(api: Api) -> None:
    ledger = Ledger(api.store)
    for reporter, event in (
        (sc.RECYCLER, recycling(3, {"nickel_sulfate": 200.0})),
        (sc.MAKER, production(4, 101, {"nickel_sulfate": (800.0, sc.RECYCLER)})),
    ):
        result = ledger.capture_document(sc.doc(event), reporter)
        assert result.ok, result.rejected


def test_recycled_content(api: Api) -> None:
    _recycled_world(api)
    path = f"/api/recycled-content/{sc.MAKER}"
    for who in (sc.MAKER, cast.NATIONAL):
        r = api.get(path, who, params={"period": "2025"})
        assert r.status_code == 200, r.text
        ni = next(e for e in r.json()["elements"] if e["element"] == "Ni")
        assert ni["share_pct"] == pytest.approx(25.0)
        assert [t["minimum_pct"] for t in ni["targets"]] == [6, 15]
    x = api.get(path, sc.MAKER, params={"period": "2025", "format": "xlsx"})
    assert x.status_code == 200 and load_workbook(io.BytesIO(x.content)).sheetnames == [
        "recycled_content"
    ]
    # Jiangsu's regulator (the maker is in Fujian, 35) and another enterprise may not read it.
    assert api.get(path, cast.JIANGSU, params={"period": "2025"}).status_code == 403
    assert api.get(path, sc.OTHER_MAKER, params={"period": "2025"}).status_code == 403
    missing = f"/api/recycled-content/{make_uscc('110000', '99999999')}"
    assert api.get(missing, cast.NATIONAL, params={"period": "2025"}).status_code == 404
    bad_code = api.get("/api/recycled-content/not-a-uscc", sc.MAKER, params={"period": "2025"})
    assert bad_code.status_code == 400
    bad = api.get(path, sc.MAKER, params={"period": "next year"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "period"
    assert api.get(path, sc.MAKER).status_code == 400  # period is required
    recycler = api.get(
        f"/api/recycled-content/{sc.RECYCLER}", sc.RECYCLER, params={"period": "2025"}
    )
    assert recycler.status_code == 400 and recycler.json()["errors"][0]["field"] == "enterprise"
