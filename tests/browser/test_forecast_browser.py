"""The forecast page in a real browser: the SVG chart draws from the embedded data, the measure
selector redraws it without a reload, a point shows its year's figures, and a provincial
regulator is kept to its province. Same browser and server fixtures as test_pages_browser."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")

from tests.browser import test_pages_browser as shared

# The shared fixtures (a module-scoped demo site, its server, the system Chromium, a tab).
Tab = shared.Tab
site, base_url, browser, tab = shared.site, shared.base_url, shared.browser, shared.tab

pytestmark = pytest.mark.xdist_group("browser")


def _points(page: Any) -> int:
    return int(page.locator("#chart-forecast svg circle.point").count())


def test_forecast_chart_is_interactive(tab: Tab) -> None:
    tab.login("miit")
    response = tab.go("/regulator/forecast?lang=en")
    assert response.status == 200
    page = tab.page
    page.wait_for_selector("#chart-forecast[data-rendered='true'] svg polyline.central")
    assert _points(page) == 21  # 2020..2040
    assert page.locator("#chart-forecast svg polygon.band").count() == 1
    assert "2030" in page.inner_text("#forecast-readout")
    page.select_option("#metric", "Li")
    page.wait_for_selector("#chart-forecast[data-metric='Li']")
    assert "metric=Li" in page.url and _points(page) == 21
    page.hover("#chart-forecast svg circle.point[data-year='2035']")
    assert page.inner_text("#forecast-readout").startswith("2035")
    page.click("details.table-view summary")
    assert page.locator('table[data-table="forecast"] tbody tr').count() == 21
    tab.shot("forecast", full_page=True)
    assert tab.errors == []


def test_provincial_regulator_forecast_is_its_province(tab: Tab) -> None:
    tab.login("jiangsu")
    tab.go("/regulator/forecast")
    tab.page.wait_for_selector("#chart-forecast[data-rendered='true'] svg")
    assert tab.page.locator("#province").count() == 0
    assert tab.go("/regulator/forecast?province=44").status == 403
    assert all("403" in e for e in tab.errors)
