"""The web application in a real browser: Debian's Chromium driven by Playwright.

Playwright never downloads a browser here: it launches the system Chromium (``apt-get install
chromium``; ``BATTRACE_CHROMIUM`` overrides the path). Without it the tests skip — except under CI,
where a missing browser is a failure, so a green build always means the pages ran in a browser.

``BATTRACE_SCREENSHOTS=DIR`` (``make screenshots``) also saves pictures of the main pages there.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from battrace.domain.identities.gbt34014 import format_battery_code
from tests.http.pages_fixtures import PASSWORD, Site, build_site

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.xdist_group("browser")

SHOTS = os.environ.get("BATTRACE_SCREENSHOTS")


def _chromium() -> str | None:
    explicit = os.environ.get("BATTRACE_CHROMIUM")
    if explicit:
        return explicit
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    s = build_site(tmp_path_factory.mktemp("browser"), packs=60)
    yield s
    s.store.close()


@pytest.fixture(scope="module")
def base_url(site: Site) -> Iterator[str]:
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(site.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = _chromium()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("no system Chromium: .ci/run installs Debian's chromium package")
        pytest.skip("no system Chromium (apt-get install chromium)")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


class Tab:
    """A page that records console errors and failed requests."""

    def __init__(self, browser: Any, base_url: str, locale: str = "en-GB") -> None:
        self.context = browser.new_context(
            locale=locale, viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        self.page = self.context.new_page()
        self.base = base_url
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def go(self, path: str) -> Any:
        return self.page.goto(self.base + path, wait_until="networkidle")

    def login(self, username: str) -> None:
        self.go("/login")
        self.page.fill("#username", username)
        self.page.fill("#password", PASSWORD)
        self.page.click("main form button[type=submit]")
        self.page.wait_for_load_state("networkidle")

    def shot(self, name: str, full_page: bool = False) -> None:
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=full_page)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser: Any, base_url: str) -> Iterator[Tab]:
    t = Tab(browser, base_url)
    yield t
    t.close()


def test_public_pages_load_without_console_errors(tab: Tab, site: Site) -> None:
    code = site.pack_codes()[0]
    for path, name in (
        ("/lookup", None),
        (f"/lookup?code={code}", "lookup"),
        ("/rules", "rules"),
        (f"/labels?codes={code[:17]}0000001&count=10", "labels"),
        ("/login", None),
    ):
        response = tab.go(path)
        assert response.status == 200, path
        assert tab.page.locator("h1").count() == 1, path
        if name:
            tab.shot(name)
    assert tab.errors == []


def test_language_switch(tab: Tab) -> None:
    tab.go("/rules")
    assert tab.page.get_attribute("html", "lang") == "en"
    tab.page.click('nav.lang a[data-lang="zh_CN"]')
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.get_attribute("html", "lang") == "zh-CN"
    assert tab.page.locator("h1").inner_text() == "法规与标准"
    tab.go("/lookup")  # remembered
    assert tab.page.get_attribute("html", "lang") == "zh-CN"
    tab.page.click('nav.lang a[data-lang="en"]')
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.locator("h1").inner_text() == "Battery lookup"
    assert tab.errors == []


def test_lookup_by_keyboard(tab: Tab, site: Site) -> None:
    code = site.pack_codes()[2]
    tab.go("/lookup")
    tab.page.focus("#code")
    tab.page.keyboard.type(code)
    tab.page.keyboard.press("Enter")
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.locator("#rec-title").inner_text().startswith(code)
    assert tab.page.locator("ol.timeline li").count() >= 1


def test_qr_label_is_generated(tab: Tab, site: Site) -> None:
    code = site.pack_codes()[0]
    tab.go("/labels")
    tab.page.fill("#codes", code)
    tab.page.click("form.panel button[type=submit]:not([name])")
    tab.page.wait_for_load_state("networkidle")
    img = tab.page.locator(f'img[data-qr="{code}"]')
    assert img.count() == 1
    width = img.evaluate("i => i.complete ? i.naturalWidth : 0")
    assert width > 50
    with tab.page.expect_download() as info:
        tab.page.click(f'a[href="/labels/qr/{code}.png"]')
    assert info.value.suggested_filename.endswith(".png")
    assert tab.errors == []


def test_login_logout(tab: Tab) -> None:
    tab.go("/login")
    tab.page.fill("#username", "maker")
    tab.page.fill("#password", "wrong password here")
    tab.page.click("main form button[type=submit]")
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.locator("#login-error").is_visible()
    tab.login("maker")
    assert tab.page.url.endswith("/my/batteries")
    assert tab.page.locator("header .who").inner_text().startswith("Maker")
    tab.shot("my-batteries")
    tab.page.click("header form button[type=submit]")
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.url.endswith("/login")
    assert tab.page.locator('header a[href="/login"]').is_visible()
    tab.go("/my/batteries")
    assert "/login" in tab.page.url
    # The 401 of the wrong password is the only error the console may show.
    assert all("401" in e for e in tab.errors)


def test_national_overview_renders_charts_and_map_with_data(tab: Tab) -> None:
    tab.login("miit")
    tab.go("/regulator")
    page = tab.page
    for chart in ("chart-sankey", "chart-trends", "chart-map"):
        page.wait_for_selector(f"#{chart}[data-rendered='true'] canvas", timeout=10_000)
    series = page.evaluate(
        """() => ['chart-map', 'chart-sankey', 'chart-trends'].map(id => {
            const opt = echarts.getInstanceByDom(document.getElementById(id)).getOption();
            const s = opt.series[0];
            return s.type === 'sankey' ? s.links.length : s.data.filter(d => d && (d.value ?? d) > 0).length;
        })"""
    )
    assert all(n > 0 for n in series), series
    page.select_option("#measure", "collection_rate")
    assert "measure=collection_rate" in page.url
    page.click("details.table-view >> nth=1")
    assert page.locator('table[data-table="provinces"]').is_visible()
    tab.shot("overview", full_page=True)
    assert tab.errors == []


def test_provincial_regulator_is_denied_another_province(tab: Tab, site: Site) -> None:
    tab.login("jiangsu")
    assert tab.page.url.endswith("/regulator/province/32")
    tab.page.wait_for_selector("#chart-map[data-rendered='true'] canvas", timeout=10_000)
    response = tab.go("/regulator/province/44")
    assert response.status == 403
    # Signed in, the user's own language (zh_CN, set with `battrace user add`) applies.
    assert tab.page.locator("h1").inner_text() == "无权访问"
    mine = set(site.pack_codes("32"))
    foreign = next(c for c in site.pack_codes() if c not in mine)
    assert tab.go(f"/trace/{foreign}").status == 403
    assert all("403" in e for e in tab.errors)


def _upload(tab: Tab, body: bytes, name: str) -> str:
    page = tab.page
    page.select_option("#step", "commissioning")
    page.set_input_files("#file", files=[{"name": name, "mimeType": "text/csv", "buffer": body}])
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#upload-report section.report", timeout=15_000)
    return str(page.get_attribute("#upload-report section.report", "data-upload-result"))


def test_upload_of_a_valid_and_an_invalid_template(tab: Tab, site: Site) -> None:
    maker = site.store.get_enterprise(site.orgs["maker"])
    assert maker is not None
    mc = maker.manufacturer_codes[0]
    tab.login("maker")
    tab.go("/my/upload")
    with tab.page.expect_download() as info:
        tab.page.click('a[href="/my/upload/template/commissioning.xlsx"]')
    assert info.value.suggested_filename == "battrace-commissioning.xlsx"
    codes = [
        format_battery_code(mc, "P", "LFP", "12", "L100000", date(2025, 1, 6), 7_000_001 + i)
        for i in range(5)
    ]
    good = "code,time,chemistry\n" + "".join(f"{c},2025-02-01 08:00,LFP\n" for c in codes)
    before = site.store.head().event_count
    assert _upload(tab, good.encode(), "good.csv") == "ok"
    assert site.store.head().event_count == before + 5
    tab.shot("upload")
    bad = "code,time\nNOT-A-CODE,2025-02-01 08:00\n" + f"{codes[0][:17]}7000099,yesterday\n"
    head = site.store.head()
    assert _upload(tab, bad.encode(), "bad.csv") == "rejected"
    rows = tab.page.locator("#upload-report tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td").nth(0).inner_text() == "2"
    assert rows.nth(1).locator("td").nth(0).inner_text() == "3"
    assert site.store.head() == head
    tab.shot("upload-rejected")
    assert all("422" in e for e in tab.errors)
