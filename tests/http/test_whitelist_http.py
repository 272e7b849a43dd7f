"""The whitelist and pilot endpoints on the real app (both backends): the workflow by key,
jurisdiction (another province's regulator gets 404, an enterprise reviewing gets 403), illegal
steps (409 naming the state), bad bodies (400), the public list without a key."""

from __future__ import annotations

from typing import Any

import httpx

from battrace.domain.identities.uscc import make_uscc
from battrace.services import enterprises as registry
from battrace.services import keys, pilots
from tests import scenario as sc
from tests.http import cast
from tests.http.conftest import Api

HUNAN = make_uscc("430000", "00000043", "1", "1")  # CASCADE and RECYCLER are in Hunan (43)
PROBLEM = "application/problem+json"


def _post(
    api: Api, path: str, uscc: str, body: Any = None, raw: bytes | None = None
) -> httpx.Response:
    content = (
        raw
        if raw is not None
        else (b"" if body is None else httpx.Request("POST", "/", json=body).content)
    )
    return api.client.post(
        path, content=content, headers=api.headers(uscc, **{"Content-Type": "application/json"})
    )  # fmt: skip


def _hunan(api: Api) -> None:
    registry.register(
        api.store, [{"uscc": HUNAN, "name_zh": "湖南省工信厅", "roles": "regulator_provincial"}]
    )
    api.keys[HUNAN] = keys.create_key(api.store, HUNAN, "tests")[1]


def test_whitelist_workflow_over_http(api: Api) -> None:
    _hunan(api)
    r = _post(api, "/api/whitelist/applications", sc.CASCADE,
              {"kind": "cascade_use", "indicators": {"source_verification": True}})  # fmt: skip
    assert r.status_code == 201, r.text
    view = r.json()
    app_id = view["id"]
    assert (view["uscc"], view["state"], view["result"]) == (sc.CASCADE, "draft", "pass")
    path = f"/api/whitelist/applications/{app_id}"
    # who sees it
    assert api.get(path, sc.CASCADE).status_code == 200
    assert api.get(path, cast.NATIONAL).status_code == 200
    assert api.get(path, HUNAN).status_code == 200
    for other in (sc.RECYCLER, cast.JIANGSU, cast.GUANGDONG):
        r = api.get(path, other)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM, other
    assert api.get(path, None).status_code == 401
    # submit: only the applicant; twice is a conflict naming the state
    assert _post(api, f"{path}/submit", sc.RECYCLER).status_code == 404
    r = _post(api, f"{path}/submit", sc.CASCADE, {"comment": "请审核"})
    assert r.status_code == 200 and r.json()["state"] == "submitted"
    r = _post(api, f"{path}/submit", sc.CASCADE)
    assert r.status_code == 409 and "submitted" in r.json()["detail"]
    assert r.json()["errors"][0]["field"] == "state"
    # review: another province 404, the applicant 403, its province's regulator decides
    approve = {"decision": "approve", "reason": "符合条件"}
    assert _post(api, f"{path}/review", cast.JIANGSU, approve).status_code == 404
    r = _post(api, f"{path}/review", sc.CASCADE, approve)
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
    r = _post(api, f"{path}/review", HUNAN, approve)
    assert r.status_code == 200 and r.json()["state"] == "provincially_approved"
    # announcement: national only, all or none
    batch = {"batch": 6, "date": "2026-05-01", "applications": [app_id]}
    assert _post(api, "/api/whitelist/batches", HUNAN, batch).status_code == 403
    r = _post(api, "/api/whitelist/batches", cast.NATIONAL, {**batch, "applications": [app_id, 99]})
    assert r.status_code == 404
    r = _post(api, "/api/whitelist/batches", cast.NATIONAL, batch)
    assert r.status_code == 201, r.text
    assert r.json()["applications"][0]["state"] == "announced"
    r = _post(api, "/api/whitelist/batches", cast.NATIONAL, batch)
    assert r.status_code == 409 and "announced" in r.json()["detail"]
    # the whitelist is public outside /api/, and the same for key holders under /api/
    public = api.client.get("/whitelist", params={"batch": 6})
    assert public.status_code == 200
    (entry,) = public.json()[0]["entries"]
    assert (entry["uscc"], entry["kind"], entry["application"]) == (
        sc.CASCADE,
        "cascade_use",
        app_id,
    )
    assert api.get("/api/whitelist", None).status_code == 401
    assert api.get("/api/whitelist?batch=6", sc.MAKER).json() == public.json()
    assert {b["batch"] for b in api.client.get("/whitelist").json()} == {1, 6}
    # The same address is the public page for a browser, in the visitor's language.
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    api.client.cookies.set("battrace_lang", "zh")
    page = api.client.get("/whitelist?batch=6", headers=browser)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "白名单" in page.text and "第 6 批" in page.text and sc.CASCADE in page.text
    assert public.headers["vary"] == "Accept"
    api.client.cookies.set("battrace_lang", "en")
    english = api.client.get("/whitelist", headers=browser)
    assert "Batch 1" in english.text and "Batch 6" in english.text
    listed = api.get("/api/whitelist/applications", cast.GUANGDONG).json()
    assert listed == []
    assert [a["id"] for a in api.get("/api/whitelist/applications", HUNAN).json()] == [app_id]


def test_bad_requests_are_problem_details(api: Api) -> None:
    path = "/api/whitelist/applications"
    cases: list[tuple[str, str, Any, bytes | None, int, str]] = [
        (path, sc.CASCADE, None, b"{not json", 400, "body"),
        (path, sc.CASCADE, [1, 2], None, 400, "body"),
        (path, sc.CASCADE, None, b"", 400, "body"),
        (path, sc.CASCADE, {"kind": "smelting"}, None, 400, "kind"),
        (path, sc.CASCADE, {"kind": "cascade_use", "colour": 1}, None, 400, "colour"),
        (path, sc.CASCADE, {"kind": "recycling"}, None, 400, "kind"),  # not a recycler
        (path, cast.NATIONAL, {"kind": "cascade_use", "uscc": sc.CASCADE}, None, 403, "uscc"),
        (path, sc.CASCADE, {"kind": "cascade_use",
                            "indicators": {"metal_recovery_li": {"value": 95, "unit": "%"}}},
         None, 400, "indicators.metal_recovery_li"),
        ("/api/whitelist/batches", cast.NATIONAL, {"batch": 1, "date": "2026-13-01",
                                                   "applications": [1]}, None, 400, "date"),
        ("/api/whitelist/batches", cast.NATIONAL, {"batch": 1, "date": "2026-01-01",
                                                   "applications": []}, None, 400, "applications"),
        ("/api/whitelist/applications/1/review", cast.NATIONAL, {"reason": "x"}, None, 400,
         "decision"),
        ("/api/whitelist/applications/0/submit", sc.CASCADE, None, None, 400, "app_id"),
    ]  # fmt: skip
    for url, who, body, raw, status, field in cases:
        r = _post(api, url, who, body, raw)
        assert r.status_code == status, (url, body, r.text)
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["errors"][0]["field"] == field, (url, body, r.json())
    assert api.get("/api/whitelist/applications", cast.NATIONAL).json() == []


def test_pilots_over_http(api: Api) -> None:
    pilots.add_region(
        api.store, {"name_zh": "江苏试点", "province": "32", "model": "shared-outlets"}
    )
    pilots.add_enterprise(
        api.store, {"uscc": sc.AUTOMAKER, "model": "automaker-led", "scenarios": ["grid-storage"]}
    )
    r = api.get("/api/pilots", sc.MAKER)
    assert r.status_code == 200
    assert [e["uscc"] for e in r.json()["enterprises"]] == [sc.AUTOMAKER]
    assert api.get("/api/pilots", None).status_code == 401
    everything = api.get("/api/pilots/compare", cast.NATIONAL).json()
    assert [row["pilot"] for row in everything] == ["region", "enterprise"]
    jiangsu = api.get("/api/pilots/compare", cast.JIANGSU).json()
    assert [row["name"] for row in jiangsu] == ["江苏试点"]
    assert api.get("/api/pilots/compare", sc.MAKER).json() == []
