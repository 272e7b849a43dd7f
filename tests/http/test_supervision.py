"""The supervision API on the real app with bearer keys (both backends): alerts scoped by the
caller's role, each workflow step with its refusals, statistics as JSON, CSV and XLSX, and the
regulation engine attached to HTTP capture.

The world: the cast's pack lifecycle (2024) captured today through a ledger with the engine, so
the dismantler (Jiangsu, 32) and the recycler (Hunan, 43) each have two late reports.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from battrace.domain.lifecycle import builders as b
from battrace.services.capture import Submission
from battrace.services.ledgers import ledger_for
from tests import scenario as sc
from tests.http import cast
from tests.http.conftest import Api

PROBLEM = "application/problem+json"


@pytest.fixture
def world(api: Api) -> Api:
    subs = [
        Submission(s.reporter, b.CONTEXT, [s.event], [orjson.dumps(s.event).decode()])
        for s in cast.lifecycle()
    ]
    results = ledger_for(api.store).capture_many(subs)
    assert all(r.ok for r in results), [r.rejected for r in results]
    return api


def _alerts(api: Api, who: str, **params: Any) -> list[dict[str, Any]]:
    r = api.get("/api/alerts", who, params=params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _dismantler_alert(api: Api) -> str:
    found = _alerts(api, cast.JIANGSU, kind="late-report")
    return next(a["id"] for a in found if a["rule"] == "cn-2018-trace-dismantler-shipment")


def test_alerts_are_scoped_by_the_callers_role(world: Api) -> None:
    everything = _alerts(world, cast.NATIONAL)
    assert sorted((a["enterprise"], a["rule"]) for a in everything) == [
        (sc.DISMANTLER, "cn-2018-trace-dismantler-receipt"),
        (sc.DISMANTLER, "cn-2018-trace-dismantler-shipment"),
        (sc.RECYCLER, "cn-2018-trace-recycler-disposal"),
        (sc.RECYCLER, "cn-2018-trace-recycler-receipt"),
    ]
    for a in everything:
        assert {"kind", "rule", "subject", "enterprise", "province", "status", "evidence"} <= set(a)
        assert a["status"] == "open" and a["evidence"][0].startswith("ni:///sha-256;")
    jiangsu = _alerts(world, cast.JIANGSU)
    assert len(jiangsu) == 2 and {a["province"] for a in jiangsu} == {"32"}
    assert _alerts(world, cast.GUANGDONG) == []
    assert {a["enterprise"] for a in _alerts(world, sc.DISMANTLER)} == {sc.DISMANTLER}
    assert len(_alerts(world, sc.RECYCLER)) == 2
    assert _alerts(world, sc.DEALER) == []
    # Filters narrow within the scope, never widen it.
    assert len(_alerts(world, cast.NATIONAL, province="43", kind="late-report")) == 2
    assert len(_alerts(world, cast.NATIONAL, enterprise=sc.DISMANTLER, status="open")) == 2
    assert _alerts(world, cast.JIANGSU, province="43") == []
    assert _alerts(world, sc.DISMANTLER, enterprise=sc.RECYCLER) == []
    assert len(_alerts(world, cast.NATIONAL, limit=1)) == 1


def test_bad_filters_and_missing_keys_are_problems(world: Api) -> None:
    for params, field in (
        ({"status": "maybe"}, "status"),
        ({"kind": "late"}, "kind"),
        ({"province": "guangdong"}, "province"),
        ({"as_of": "yesterday"}, "as_of"),
        ({"limit": "0"}, "limit"),
    ):
        r = world.get("/api/alerts", cast.NATIONAL, params=params)
        assert r.status_code == 400, (params, r.text)
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["errors"][0]["field"] == field
    r = world.get("/api/alerts", None)
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM


def test_one_alert_is_visible_only_within_the_scope(world: Api) -> None:
    alert = _dismantler_alert(world)
    own = world.get(f"/api/alerts/{alert}", sc.DISMANTLER)
    assert own.status_code == 200 and own.json()["stage"] == "new" and own.json()["history"] == []
    for who in (sc.RECYCLER, cast.GUANGDONG):
        r = world.get(f"/api/alerts/{alert}", who)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    assert world.get("/api/alerts/nope", cast.NATIONAL).status_code == 404


def _post(api: Api, path: str, who: str, body: dict[str, Any] | None = None) -> Any:
    return api.client.post(path, json=body, headers=api.headers(who))


def test_each_workflow_step_and_its_refusals(world: Api) -> None:
    alert = _dismantler_alert(world)
    base = f"/api/alerts/{alert}"
    # acknowledge: only a regulator whose jurisdiction covers it; only once
    assert _post(world, f"{base}/acknowledge", cast.GUANGDONG).status_code == 404  # not visible
    refused = _post(world, f"{base}/acknowledge", sc.DISMANTLER)
    assert refused.status_code == 403 and "not a regulator" in refused.json()["detail"]
    ok = _post(world, f"{base}/acknowledge", cast.JIANGSU, {"note": "seen"})
    assert ok.status_code == 200 and ok.json() == {"alert": alert, "stage": "acknowledged"}
    again = _post(world, f"{base}/acknowledge", cast.JIANGSU)
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM
    assert _alerts(world, cast.JIANGSU, status="acknowledged")[0]["id"] == alert
    # rectification notice with a due date
    past = _post(world, f"{base}/notices", cast.JIANGSU, {"due": "2020-01-01", "requirement": "x"})
    assert past.status_code == 400 and past.json()["errors"][0]["field"] == "due"
    bad = _post(world, f"{base}/notices", cast.JIANGSU, {"due": "someday", "requirement": "x"})
    assert bad.status_code == 400
    body = {"due": "2099-06-30", "requirement": "report shipments within 15 working days"}
    made = _post(world, f"{base}/notices", cast.JIANGSU, body)
    assert made.status_code == 201, made.text
    notice = made.json()["id"]
    assert made.json() == {"id": notice, "alert": alert, "due_date": "2099-06-30"}
    assert _post(world, f"{base}/notices", cast.JIANGSU, body).status_code == 409
    listed = world.get("/api/notices", sc.DISMANTLER, params={"status": "issued"}).json()
    assert [(n["id"], n["overdue"]) for n in listed] == [(notice, False)]
    assert world.get("/api/notices", sc.RECYCLER).json() == []
    # the responsible enterprise answers, nobody else
    answer = f"/api/notices/{notice}/answer"
    assert _post(world, answer, sc.RECYCLER, {"answer": "x"}).status_code == 404
    assert _post(world, answer, cast.JIANGSU, {"answer": "x"}).status_code == 403
    assert _post(world, answer, sc.DISMANTLER, {"answer": " "}).status_code == 400
    done = _post(world, answer, sc.DISMANTLER, {"answer": "staff retrained"})
    assert done.status_code == 200 and done.json() == {"id": notice, "status": "answered"}
    assert _post(world, answer, sc.DISMANTLER, {"answer": "again"}).status_code == 409
    assert (
        _post(world, "/api/notices/999999/answer", sc.DISMANTLER, {"answer": "x"}).status_code
        == 404
    )
    # close; closed stays closed
    assert _post(world, f"{base}/close", sc.DISMANTLER).status_code == 403
    closed = _post(world, f"{base}/close", cast.NATIONAL, {"note": "done"})
    assert closed.status_code == 200 and closed.json()["stage"] == "closed"
    assert _post(world, f"{base}/close", cast.JIANGSU).status_code == 409
    detail = world.get(base, sc.DISMANTLER).json()
    assert detail["status"] == "closed"
    assert [(h["action"], h["actor"]) for h in detail["history"]] == [
        ("acknowledge", cast.JIANGSU),
        ("notice", cast.JIANGSU),
        ("answer", sc.DISMANTLER),
        ("close", cast.NATIONAL),
    ]
    assert world.get("/api/notices", sc.DISMANTLER).json()[0]["status"] == "closed"


def test_statistics_as_json_csv_and_xlsx_within_the_scope(world: Api) -> None:
    summary = world.get("/api/stats/summary", cast.NATIONAL, params={"period": "all"})
    assert summary.status_code == 200 and summary.json()
    csv = world.get("/api/stats/summary", cast.NATIONAL, params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("group")
    xlsx = world.get("/api/stats/producers", cast.NATIONAL, params={"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    flow = world.get("/api/stats/flow", cast.NATIONAL).json()
    assert flow["nodes"] and flow["links"]
    assert (
        world.get("/api/stats/coverage", cast.NATIONAL, params={"format": "csv"}).status_code == 200
    )
    own = world.get("/api/stats/summary", sc.DISMANTLER, params={"group": "enterprise"}).json()
    assert {r["group"] for r in own} <= {sc.DISMANTLER}
    denied = world.get("/api/stats/summary", cast.JIANGSU, params={"province": "44"})
    assert denied.status_code == 403 and denied.headers["content-type"] == PROBLEM
    bad = world.get("/api/stats/flow", cast.NATIONAL, params={"format": "pdf"})
    assert bad.status_code == 400


def test_http_capture_raises_alerts_incrementally(api: Api) -> None:
    # The app's ledger carries the regulation engine: a report of 2024 captured today is late.
    r = api.capture(sc.MAKER, sc.doc(*sc.production()))
    assert r.status_code in (201, 202), r.text
    scrap = next(s for s in cast.lifecycle() if s.label == "scrap")
    r = api.capture(sc.DISMANTLER, sc.doc(scrap.event))
    assert r.status_code in (201, 202), r.text
    found = _alerts(api, sc.DISMANTLER)
    # ... and the battery of the vehicle scrapped in 2024 was never shipped on: the packaged
    # default follow-up period (60 working days, a battrace assumption) has long passed.
    assert sorted((a["kind"], a["rule"]) for a in found) == [
        ("late-report", "cn-2018-trace-dismantler-receipt"),
        ("missing-follow-up", "cn-assumption-dismantler-battery-follow-up"),
    ]
    assert api.get("/api/obligations", sc.DISMANTLER).status_code == 200
