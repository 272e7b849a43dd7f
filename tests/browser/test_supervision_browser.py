"""The supervision pages in a real browser (Debian's Chromium, as tests/browser/test_pages_browser.py):
the alert inbox, an alert's workflow forms, my alerts and obligations, producer responsibility."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from battrace.services import alerts as engine
from tests import scenario as sc
from tests.browser.test_pages_browser import Tab, base_url, browser, tab
from tests.http.pages_alerts_world import add_alerts
from tests.http.pages_fixtures import Site, build_site

pytestmark = pytest.mark.xdist_group("browser")

__all__ = ["base_url", "browser", "tab"]  # fixtures shared with the other browser tests


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    s = build_site(tmp_path_factory.mktemp("browser-supervision"), packs=30)
    add_alerts(s)
    yield s
    s.store.close()


def _alert(site: Site, rule: str) -> str:
    (found,) = [
        a.id
        for a in engine.list_alerts(site.store, engine.Scope(enterprise=sc.DISMANTLER))
        if a.rule == rule
    ]
    return found


def test_the_inbox_and_an_alert_load_without_console_errors(tab: Tab, site: Site) -> None:
    tab.login("miit")
    response = tab.go("/regulator/alerts")
    assert response.status == 200
    page = tab.page
    assert page.locator("h1").count() == 1
    rows = page.locator("table[data-table=alerts] tbody tr[data-alert]")
    assert rows.count() == len(engine.list_alerts(site.store, engine.Scope.everything())) > 0
    tab.shot("alerts")
    # filter by kind with the form, then open the first alert by keyboard
    page.select_option("#kind", "late-report")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "kind=late-report" in page.url and rows.count() >= 1
    rows.nth(0).locator("a").first.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    assert "/regulator/alerts/" in page.url and page.locator("h1").count() == 1
    assert page.locator("table[data-table=evidence] tbody tr").count() >= 1
    tab.shot("alert")
    assert tab.go("/regulator/responsibility").status == 200
    assert page.locator("table[data-table=automakers] tbody tr").count() >= 1
    assert tab.errors == []


def test_the_acknowledge_button_and_the_notice_form_work(tab: Tab, site: Site) -> None:
    key = _alert(site, "cn-2018-trace-dismantler-receipt")
    tab.login("jiangsu")
    assert tab.go(f"/regulator/alerts/{key}").status == 200
    page = tab.page
    assert page.locator("[data-history] li[data-action]").count() == 0
    page.fill("#ack-note", "seen")
    page.click("#acknowledge")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("?done=acknowledge")
    assert page.locator("#done").is_visible()
    assert (
        page.locator('[data-history] li[data-action="acknowledge"]').inner_text().endswith("seen")
    )
    assert page.locator("h1 [data-status=acknowledged]").count() == 1
    assert page.locator("#acknowledge").count() == 0
    # the rectification notice: the browser refuses an empty form, the server a past date
    page.click("#notice-form button[type=submit]")
    assert page.url.endswith("?done=acknowledge")  # required fields kept it from being sent
    page.fill("#requirement", "Report receipts within 15 working days")
    page.eval_on_selector("#due", "e => { e.removeAttribute('min'); e.value = '2020-01-01'; }")
    page.click("#notice-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator("#form-error").is_visible()
    page.fill("#due", "2099-12-31")
    page.click("#notice-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("?done=notice")
    assert page.locator('[data-history] li[data-action="notice"]').count() == 1
    assert page.locator("[data-notice]").count() == 1
    tab.shot("alert-workflow", full_page=True)
    assert len(tab.errors) == 1 and "422" in tab.errors[0]  # the refused date, nothing else


def test_my_alerts_and_obligations_load(tab: Tab) -> None:
    tab.login("recycler")
    for path in ("/my/alerts", "/my/obligations"):
        assert tab.go(path).status == 200, path
        assert tab.page.locator("h1").count() == 1
    assert tab.page.locator("[data-countdown]").count() == 1
    tab.shot("obligations")
    assert tab.errors == []
