"""/api/grade, /api/batteries/{code}/grade, /api/recovery/{uscc} and /api/model-enterprises on
the real app (both backends): results, scope, problem details, XLSX."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from openpyxl import load_workbook

from battrace.domain.identities.uscc import make_uscc
from battrace.domain.lifecycle import builders as b
from tests import scenario as sc
from tests.http import cast
from tests.http.conftest import Api

PACK_A = sc.code("P", 21)
T_A = datetime(2025, 2, 10, 2, 0, tzinfo=UTC)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

GOOD = {
    "code": "M1",
    "measured_capacity_ah": 75.0,
    "rated_capacity_ah": 100.0,
    "internal_resistance_mohm": 2.0,
    "temperature_c": 25.0,
    "safety_checks": {"leakage": False},
}


def _world(api: Api) -> None:
    api.load_lifecycle()
    made = T_A - timedelta(days=300)
    commission = b.commission(
        PACK_A,
        site=sc.site(sc.MAKER),
        time=made,
        attributes={"chemistry": "LFP", "ratedEnergyKWh": 50.0, "massKg": 333.0},
    )
    assert api.capture(sc.MAKER, sc.doc(commission)).status_code == 202
    inspection = b.inspect(
        PACK_A,
        capacity_ah=72.0,
        rated_ah=100.0,
        resistance_mohm=2.0,
        voltage_v=3.25,
        site=sc.site(sc.RECYCLER),
        time=T_A - timedelta(days=1),
    )
    inspection["sensorElementList"][0]["sensorReport"].append(
        {"type": "Temperature", "value": 25.0, "uom": "CEL"}
    )
    inspection["battrace:safetyChecks"] = {"leakage": False, "swelling": False}
    recycling = b.recycle(
        PACK_A,
        {"black_mass": 99.0, "lithium_carbonate": 21.0, "copper": 27.5, "steel": 150.0},
        site=sc.site(sc.RECYCLER),
        time=T_A,
    )
    recycling["battrace:lots"] = {
        "black_mass": {"internal": True, "assay": {"Al": 0.008, "Cu": 0.012}},
        "lithium_carbonate": {"purity": 0.995},
        "copper": {"purity": 0.99},
    }
    recycling["battrace:electrodePowderKg"] = 100.0
    r = api.capture(sc.RECYCLER, sc.doc(inspection, recycling))
    assert r.status_code == 202, r.text


def _post(api: Api, uscc: str | None, body: Any, content_type: str = "application/json") -> Any:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return api.client.post(
        "/api/grade", content=data, headers=api.headers(uscc, **{"Content-Type": content_type})
    )


def test_post_grade_one_list_and_csv(api: Api) -> None:
    r = _post(api, sc.RECYCLER, GOOD)
    assert r.status_code == 200
    assert r.json()["grade"] == "cascade_a" and r.json()["soh_pct"] == 75.0
    r = _post(api, sc.DEALER, [GOOD, {**GOOD, "safety_checks": {"leakage": True}}])
    assert [x["grade"] for x in r.json()] == ["cascade_a", "pretreat"]
    csv = (
        b"code,measured_capacity_ah,rated_capacity_ah,internal_resistance_mohm,temperature_c,"
        b"safety.leakage\nA,85,100,2,25,no\nB,50,100,2,25,no\n"
    )
    r = _post(api, cast.NATIONAL, csv, "text/csv")
    assert r.status_code == 200
    assert [(x["code"], x["grade"]) for x in r.json()] == [("A", "vehicle"), ("B", "recycle")]


def test_post_grade_names_every_bad_row_and_field(api: Api) -> None:
    bad = [GOOD, {**GOOD, "temperature_c": 40}, {**GOOD, "rated_capacity_ah": "x"}]
    r = _post(api, sc.RECYCLER, bad)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    errors = r.json()["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [
        (1, "temperature_c"),
        (2, "rated_capacity_ah"),
    ]
    assert _post(api, sc.RECYCLER, b"{", "application/json").status_code == 400
    assert _post(api, sc.RECYCLER, b"x", "text/plain").status_code == 415
    assert _post(api, None, GOOD).status_code == 401


def test_battery_grade_from_the_ledger(api: Api) -> None:
    _world(api)
    r = api.get(f"/api/batteries/{PACK_A}/grade", sc.RECYCLER)
    assert r.status_code == 200, r.text
    assert r.json()["grade"] == "cascade_a" and r.json()["test"]["temperature_c"] == 25.0
    assert api.get(f"/api/batteries/{PACK_A}/grade", sc.DEALER).status_code == 403
    assert api.get(f"/api/batteries/{sc.PACK}/grade", cast.NATIONAL).status_code == 404
    assert api.get(f"/api/batteries/{sc.code('P', 77)}/grade", cast.NATIONAL).status_code == 404
    r = api.get("/api/batteries/NOT-A-CODE/grade", cast.NATIONAL)
    assert r.status_code == 400 and r.json()["errors"][0]["field"]


def test_recovery_report_json_xlsx_and_scope(api: Api) -> None:
    _world(api)
    path = f"/api/recovery/{sc.RECYCLER}"
    r = api.get(path, sc.RECYCLER, params={"period": "2025-Q1"})
    assert r.status_code == 200, r.text
    li = next(e for e in r.json()["balance"]["elements"] if e["element"] == "Li")
    assert li["recovery_pct"] == pytest.approx(88.2060, abs=1e-4)
    assert api.get(path, cast.NATIONAL, params={"period": "2025-Q1"}).status_code == 200
    assert api.get(path, sc.DEALER, params={"period": "2025"}).status_code == 403
    assert api.get(path, cast.JIANGSU, params={"period": "2025"}).status_code == 403
    x = api.get(path, sc.RECYCLER, params={"period": "2025-Q1", "format": "xlsx"})
    assert x.status_code == 200 and x.headers["content-type"] == XLSX
    wb = load_workbook(io.BytesIO(x.content))
    assert {"summary", "elements", "checks", "findings"} <= set(wb.sheetnames)
    y = api.get(path, sc.RECYCLER, params={"period": "2025-Q1"}, headers={"Accept": XLSX})
    assert y.headers["content-type"] == XLSX
    bad = api.get(path, sc.RECYCLER, params={"period": "2025-Q5"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "period"
    assert api.get(path, sc.RECYCLER).status_code == 400  # period is required
    unknown = make_uscc("110000", "99999999")
    r = api.get(f"/api/recovery/{unknown}", cast.NATIONAL, params={"period": "2025"})
    assert r.status_code == 404
    r = api.get("/api/recovery/NOT-A-USCC", cast.NATIONAL, params={"period": "2025"})
    assert r.status_code == 400


def test_model_enterprises(api: Api) -> None:
    _world(api)
    r = api.get("/api/model-enterprises", cast.NATIONAL, params={"period": "2025-Q1"})
    assert r.status_code == 200, r.text
    ranked = {x["enterprise"]: x for x in r.json()["ranking"]}
    assert set(ranked) == {sc.RECYCLER, sc.CASCADE}
    names = [c["name"] for c in ranked[sc.RECYCLER]["components"]]
    assert names == ["recovery", "timeliness", "alerts", "volume"]
    assert all("weight" in c and "value" in c for c in ranked[sc.RECYCLER]["components"])
    mine = api.get("/api/model-enterprises", sc.RECYCLER, params={"period": "2025-Q1"})
    assert [x["enterprise"] for x in mine.json()["ranking"]] == [sc.RECYCLER]
    guangdong = api.get("/api/model-enterprises", cast.GUANGDONG, params={"period": "2025"})
    assert guangdong.json()["ranking"] == []
    r = api.get("/api/model-enterprises", cast.JIANGSU, params={"period": "2025", "province": "43"})
    assert r.status_code == 403
    x = api.get(
        "/api/model-enterprises", cast.NATIONAL, params={"period": "2025", "format": "xlsx"}
    )
    assert x.headers["content-type"] == XLSX
