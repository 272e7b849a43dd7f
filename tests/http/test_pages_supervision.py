"""Supervision pages: the alert inbox and workflow (regulators), my alerts and notices, my
obligations (enterprises), producer-responsibility tables — through the real app on the demo
site with the cast's alerts (tests/http/pages_alerts_world.py)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from battrace.domain.rules import china_today, covered_years
from battrace.domain.supervision.countdown import countdown
from battrace.services import alerts as engine
from battrace.services import stats
from battrace.services import supervision as workflow
from tests import scenario as sc
from tests.http.pages_alerts_world import GD_DISMANTLER, add_alerts
from tests.http.pages_fixtures import Site, build_site, csrf_of


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    s = build_site(tmp_path_factory.mktemp("supervision"), packs=30)
    add_alerts(s)
    yield s
    s.store.close()


def _alert(site: Site, rule: str, enterprise: str) -> str:
    (found,) = [
        a
        for a in engine.list_alerts(site.store, engine.Scope.everything())
        if a.rule == rule and a.enterprise == enterprise
    ]
    return found.id


def _shipment(site: Site) -> str:
    return _alert(site, "cn-2018-trace-dismantler-shipment", sc.DISMANTLER)


def _receipt(site: Site) -> str:
    return _alert(site, "cn-2018-trace-dismantler-receipt", sc.DISMANTLER)


def _guangdong(site: Site) -> str:
    return _alert(site, "cn-2018-trace-dismantler-receipt", GD_DISMANTLER)


def _rows(html: str) -> list[str]:
    return re.findall(r'data-alert="([0-9a-f]+)"', html)


def _history(site: Site, key: str) -> list[tuple[str, str]]:
    national = workflow.actor_of(site.store, site.orgs["miit"])
    return [(s.action, s.actor) for s in workflow.history(site.store, key, national)]


def _post(client: TestClient, path: str, page: str, **data: str) -> httpx.Response:
    response: httpx.Response = client.post(
        path, data={"csrf_token": csrf_of(client, page), **data}, follow_redirects=False
    )
    return response


# -- the inbox --------------------------------------------------------------------------------


def test_the_inbox_shows_the_alerts_of_the_regulators_jurisdiction(site: Site) -> None:
    everything = {a.id: a for a in engine.list_alerts(site.store, engine.Scope.everything())}
    national = site.login("miit").get("/regulator/alerts")
    assert national.status_code == 200
    assert sorted(_rows(national.text)) == sorted(everything)
    for who, province in (("jiangsu", "32"), ("guangdong", "44")):
        page = site.login(who).get("/regulator/alerts")
        assert page.status_code == 200
        shown = _rows(page.text)
        assert shown and sorted(shown) == sorted(
            k for k, a in everything.items() if a.province == province
        )
    assert _receipt(site) in _rows(site.login("jiangsu").get("/regulator/alerts").text)
    assert _guangdong(site) not in _rows(site.login("jiangsu").get("/regulator/alerts").text)


def test_the_inbox_filters_narrow_within_the_scope(site: Site) -> None:
    miit = site.login("miit")
    late = _rows(miit.get("/regulator/alerts?kind=late-report").text)
    assert late and all(
        a.kind == "late-report"
        for a in engine.list_alerts(site.store, engine.Scope.everything())
        if a.id in late
    )
    assert sorted(_rows(miit.get("/regulator/alerts?province=43").text)) == sorted(
        a.id
        for a in engine.list_alerts(site.store, engine.Scope.everything())
        if a.province == "43"
    )
    own = _rows(miit.get(f"/regulator/alerts?enterprise={sc.DISMANTLER}").text)
    assert sorted(own) == sorted([_receipt(site), _shipment(site)])
    resolved = _rows(miit.get("/regulator/alerts?status=resolved").text)
    assert resolved and all(
        a.status == "resolved"
        for a in engine.list_alerts(site.store, engine.Scope.everything())
        if a.id in resolved
    )
    # A provincial regulator asking for another province gets nothing, not more.
    assert _rows(site.login("jiangsu").get("/regulator/alerts?province=44").text) == []
    # The national regulator gets a province list; a provincial one does not.
    assert 'id="province"' in miit.get("/regulator/alerts").text
    assert 'id="province"' not in site.login("jiangsu").get("/regulator/alerts").text
    for bad in ("kind=late", "status=maybe", "province=gd"):
        refused = miit.get(f"/regulator/alerts?{bad}")
        assert refused.status_code == 400, bad


def test_the_inbox_pages(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    from battrace.web.pages import alerts as pages

    monkeypatch.setattr(pages, "PER_PAGE", 2)
    miit = site.login("miit")
    total = len(engine.list_alerts(site.store, engine.Scope.everything()))
    seen: list[str] = []
    p = 1
    while True:
        page = miit.get(f"/regulator/alerts?p={p}")
        rows = _rows(page.text)
        assert 0 < len(rows) <= 2
        seen += rows
        if 'rel="next"' not in page.text:
            break
        p += 1
    assert len(seen) == len(set(seen)) == total and p == (total + 1) // 2


def test_supervision_pages_are_for_regulators_only(site: Site) -> None:
    dealer = site.login("dealer")
    for path in (
        "/regulator/alerts",
        f"/regulator/alerts/{_receipt(site)}",
        "/regulator/responsibility",
        "/regulator/responsibility/automakers.csv",
    ):
        assert dealer.get(path).status_code == 403, path
        anonymous = site.client().get(path, follow_redirects=False)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith(
            "/login?next="
        )
    for path in ("/my/alerts", "/my/obligations"):
        assert site.login("jiangsu").get(path).status_code == 403, path


def test_navigation_links_by_role(site: Site) -> None:
    regulator = site.login("jiangsu").get("/regulator/alerts").text
    assert 'href="/regulator/alerts" aria-current="page"' in regulator
    assert 'href="/regulator/responsibility"' in regulator and 'href="/my/alerts"' not in regulator
    enterprise = site.login("dismantler").get("/my/obligations").text
    assert 'href="/my/obligations" aria-current="page"' in enterprise
    assert 'href="/my/alerts"' in enterprise and 'href="/regulator/alerts"' not in enterprise
    public = site.client().get("/rules").text
    assert 'href="/my/alerts"' not in public and 'href="/regulator/alerts"' not in public


# -- one alert --------------------------------------------------------------------------------


def test_an_alert_shows_its_rule_source_evidence_and_history(site: Site) -> None:
    key = _receipt(site)
    alert = engine.get_alert(site.store, key)
    assert alert is not None
    page = site.login("jiangsu").get(f"/regulator/alerts/{key}")
    assert page.status_code == 200
    html = page.text
    assert "Dismantler" in html and "cn-2018-trace-dismantler-receipt v1" in html
    assert f'href="/rules#{alert.rule}-v{alert.rule_version}"' in html
    assert alert.citation.split(" / ")[-1] in html
    assert f'href="/trace/{sc.PACK}"' in html  # the subject and the evidence event's pack
    for event_id in alert.evidence:
        assert event_id in html
    assert 'data-table="evidence"' in html and "Outside what you may read" not in html
    assert "Detected by the regulation engine" in html
    assert 'id="acknowledge-form"' in html and 'id="notice-form"' in html
    # in Chinese
    zh = site.login("jiangsu", lang="zh_CN").get(f"/regulator/alerts/{key}").text
    assert "迟报" in zh and "证据" in zh


def test_another_provinces_alert_is_access_denied(site: Site) -> None:
    jiangsu = site.login("jiangsu")
    denied = jiangsu.get(f"/regulator/alerts/{_guangdong(site)}")
    assert denied.status_code == 403 and "outside your jurisdiction" in denied.text
    assert jiangsu.get("/regulator/alerts/0123456789abcdef01234567").status_code == 404
    assert site.login("guangdong").get(f"/regulator/alerts/{_guangdong(site)}").status_code == 200
    assert site.login("miit").get(f"/regulator/alerts/{_guangdong(site)}").status_code == 200
    # nor may it act on it
    key = _guangdong(site)
    refused = _post(jiangsu, f"/regulator/alerts/{key}/acknowledge", "/regulator/alerts")
    assert refused.status_code == 403
    assert _history(site, key) == []


def test_a_step_without_the_csrf_token_or_from_another_site_is_refused(site: Site) -> None:
    key = _receipt(site)
    before = _history(site, key)
    jiangsu = site.login("jiangsu")
    missing = jiangsu.post(f"/regulator/alerts/{key}/acknowledge", data={"note": "x"})
    assert missing.status_code == 403 and "expired" in missing.text
    wrong = jiangsu.post(
        f"/regulator/alerts/{key}/acknowledge", data={"csrf_token": "x" * 43, "note": "x"}
    )
    assert wrong.status_code == 403
    forged = jiangsu.post(
        f"/regulator/alerts/{key}/close",
        data={"csrf_token": csrf_of(jiangsu, "/regulator/alerts")},
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403
    dismantler = site.login("dismantler")
    refused = dismantler.post("/my/notices/1/answer", data={"answer": "x"})
    assert refused.status_code == 403
    assert _history(site, key) == before


def test_each_workflow_step_is_recorded_and_shown(site: Site) -> None:
    key = _shipment(site)
    url = f"/regulator/alerts/{key}"
    jiangsu = site.login("jiangsu")
    jiangsu_org = site.orgs["jiangsu"]

    done = _post(jiangsu, f"{url}/acknowledge", url, note="seen by the department")
    assert done.status_code == 303 and done.headers["location"] == f"{url}?done=acknowledge"
    page = jiangsu.get(f"{url}?done=acknowledge").text
    assert 'data-action="acknowledge"' in page and "seen by the department" in page
    assert 'data-status="acknowledged"' in page and 'id="acknowledge-form"' not in page
    assert _history(site, key) == [("acknowledge", jiangsu_org)]

    again = _post(jiangsu, f"{url}/acknowledge", url)
    assert again.status_code == 409 and "already acknowledged" in again.text

    past = _post(jiangsu, f"{url}/notice", url, due="2020-01-01", requirement="x")
    assert past.status_code == 422 and "Due date" in past.text
    garbled = _post(jiangsu, f"{url}/notice", url, due="soon", requirement="x")
    assert garbled.status_code == 422 and 'role="alert"' in garbled.text
    due = (china_today() + timedelta(days=30)).isoformat()
    empty = _post(jiangsu, f"{url}/notice", url, due=due, requirement=" ")
    assert empty.status_code == 422 and "What must be put right" in empty.text
    assert len(_history(site, key)) == 1  # nothing written by the refused steps

    issued = _post(jiangsu, f"{url}/notice", url, due=due, requirement="Report shipments in time")
    assert issued.status_code == 303
    page = jiangsu.get(url).text
    assert 'data-action="notice"' in page and "Report shipments in time" in page
    assert 'data-status="rectifying"' in page and 'id="notice-form"' not in page
    (notice,) = [
        n
        for n in workflow.notices(site.store, workflow.actor_of(site.store, sc.DISMANTLER))
        if n.alert == key
    ]
    assert notice.due_date == due and notice.status == "issued"

    # The dismantler sees the notice among its alerts and answers it; nobody else may.
    dismantler = site.login("dismantler")
    mine = dismantler.get("/my/alerts").text
    assert f'data-notice="{notice.id}"' in mine and "Report shipments in time" in mine
    assert f'action="/my/notices/{notice.id}/answer"' in mine
    recycler = site.login("recycler")
    other = _post(recycler, f"/my/notices/{notice.id}/answer", "/my/alerts", answer="x")
    assert other.status_code == 403
    blank = _post(dismantler, f"/my/notices/{notice.id}/answer", "/my/alerts", answer="")
    assert blank.status_code == 422
    answered = _post(
        dismantler,
        f"/my/notices/{notice.id}/answer",
        "/my/alerts",
        answer="Shipments are now reported daily",
        back="list",
    )
    assert answered.status_code == 303
    assert answered.headers["location"] == "/my/alerts?done=answer"
    mine = dismantler.get("/my/alerts?done=answer").text
    assert "Notice answered" in mine and "Shipments are now reported daily" in mine
    assert f'action="/my/notices/{notice.id}/answer"' not in mine
    assert site.client().get("/my/alerts", follow_redirects=False).status_code == 303

    closed = _post(jiangsu, f"{url}/close", url, note="put right")
    assert closed.status_code == 303
    page = jiangsu.get(url).text
    assert 'data-status="closed"' in page and 'id="close-form"' not in page
    assert page.index('data-action="acknowledge"') < page.index('data-action="notice"')
    assert page.index('data-action="answer"') < page.index('data-action="close"')
    assert "Shipments are now reported daily" in page
    assert _history(site, key) == [
        ("acknowledge", jiangsu_org),
        ("notice", jiangsu_org),
        ("answer", sc.DISMANTLER),
        ("close", jiangsu_org),
    ]
    # The enterprise sees the same history on its own alert page.
    own = dismantler.get(f"/my/alerts/{key}").text
    assert own.count("data-action=") == 4 and 'id="close-form"' not in own
    assert _rows(site.login("miit").get("/regulator/alerts?status=closed").text) == [key]


# -- enterprises ------------------------------------------------------------------------------


def test_an_enterprise_sees_only_its_own_alerts(site: Site) -> None:
    dismantler = site.login("dismantler")
    page = dismantler.get("/my/alerts")
    assert page.status_code == 200
    assert sorted(_rows(page.text)) == sorted([_receipt(site), _shipment(site)])
    assert dismantler.get(f"/my/alerts/{_receipt(site)}").status_code == 200
    denied = dismantler.get(f"/my/alerts/{_guangdong(site)}")
    assert denied.status_code == 403
    recycler = site.login("recycler").get("/my/alerts").text
    assert set(_rows(recycler)) == {
        a.id for a in engine.list_alerts(site.store, engine.Scope(enterprise=sc.RECYCLER))
    }
    assert "No rectification notices." in site.login("dealer").get("/my/alerts").text


def test_obligations_show_a_working_day_countdown(site: Site) -> None:
    (pending,) = engine.obligations(site.store, engine.Scope(enterprise=sc.RECYCLER))
    assert pending.due is not None
    expected = countdown(
        date.fromisoformat(pending.due), china_today(), provisional=pending.provisional
    )
    page = site.login("recycler").get("/my/obligations")
    assert page.status_code == 200
    html = page.text
    assert f'data-obligation="{pending.id}"' in html
    assert f'data-countdown="{expected.working_days_left}"' in html
    assert f"{expected.working_days_left} working days" in html
    assert f'href="/trace/{sc.PACK2}"' in html and "Recycled into materials" in html
    years = sorted(covered_years())
    assert f"{years[0]}–{years[-1]}" in html
    assert ("provisional" in html) == expected.provisional
    if expected.provisional:
        assert "counted Monday to Friday" in html
    zh = site.login("recycler", lang="zh_CN").get("/my/obligations").text
    assert f"{expected.working_days_left} 个工作日" in zh
    # Nothing pending for the dismantler; its obligations are met or already alerts.
    assert "No open obligations." in site.login("dismantler").get("/my/obligations").text
    # A pending obligation is not an alert (yet): not in the inbox, no alert page.
    assert pending.id not in _rows(site.login("miit").get("/regulator/alerts").text)
    assert site.login("miit").get(f"/regulator/alerts/{pending.id}").status_code == 404


# -- producer responsibility ------------------------------------------------------------------


def test_producer_responsibility_tables_and_downloads(site: Site) -> None:
    snap = stats.snapshot(site.store, with_reports=False)
    rows = stats.producer_responsibility(snap, engine.Scope.everything())
    automaker = next(r for r in rows if r["producer"] == sc.AUTOMAKER and r["role"] == "automaker")
    assert automaker["retired"] == 2
    miit = site.login("miit")
    page = miit.get("/regulator/responsibility")
    assert page.status_code == 200
    for key in ("automakers", "battery-makers", "coverage-automakers", "coverage-battery-makers"):
        assert f'data-table="{key}"' in page.text
        assert f'href="/regulator/responsibility/{key}.csv"' in page.text
    table = miit.get("/regulator/responsibility/automakers.csv")
    assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
    assert table.content.startswith("\ufeff".encode())
    parsed = list(csv.reader(io.StringIO(table.content.decode("utf-8-sig"))))
    assert parsed[0][:4] == ["Producer", "USCC", "Province", "Retired (packs)"]
    body = {r[1]: r for r in parsed[1:]}
    assert len(body) == sum(1 for r in rows if r["role"] == "automaker")
    assert int(body[sc.AUTOMAKER][3]) == automaker["retired"]
    assert int(body[sc.AUTOMAKER][7]) == automaker["recovered_formal"]
    book = load_workbook(
        io.BytesIO(miit.get("/regulator/responsibility/coverage-automakers.xlsx").content)
    )
    sheet = book.active
    assert sheet is not None and sheet.title == "coverage-automakers"
    assert [c.value for c in sheet[1]][:2] == ["Producer", "USCC"]
    assert sheet.max_row - 1 == len(
        [
            r
            for r in stats.outlet_coverage(snap, engine.Scope.everything())
            if r["role"] == "automaker"
        ]
    )
    # A retirement period narrows the responsibility tables.
    later = miit.get("/regulator/responsibility/automakers.csv?from=2099-01-01").content
    assert len(list(csv.reader(io.StringIO(later.decode("utf-8-sig"))))) == 1
    assert miit.get("/regulator/responsibility?from=yesterday").status_code == 400
    assert miit.get("/regulator/responsibility/nothing.csv").status_code == 404
    assert miit.get("/regulator/responsibility/automakers.pdf").status_code == 404


def test_a_provincial_regulator_sees_the_producers_of_its_province(site: Site) -> None:
    guangdong = site.login("guangdong")
    parsed = list(
        csv.reader(
            io.StringIO(
                guangdong.get("/regulator/responsibility/automakers.csv").content.decode(
                    "utf-8-sig"
                )
            )
        )
    )
    provinces = {r[2] for r in parsed[1:]}
    assert sc.AUTOMAKER in {r[1] for r in parsed[1:]} and provinces == {"Guangdong"}
    zh = site.login("jiangsu", lang="zh_CN").get("/regulator/responsibility").text
    assert "生产者责任" in zh and sc.AUTOMAKER not in zh
