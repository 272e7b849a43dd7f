"""The regulators' forecast page: scope, both languages, chart data and downloads."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import pytest
from openpyxl import load_workbook

from tests.http.pages_fixtures import Site, build_site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    s = build_site(tmp_path_factory.mktemp("forecast-pages"))
    yield s
    s.store.close()


def _chart(html: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="forecast-data">(.*?)</script>', html, re.S
    )
    assert match, html[:2000]
    return dict(json.loads(match.group(1)))


def test_national_regulator_sees_china_and_chooses_provinces(site: Site) -> None:
    client = site.login("miit")
    r = client.get("/regulator/forecast")
    assert r.status_code == 200
    assert "Retirement forecast: China" in r.text and 'id="province"' in r.text
    # The table view (the shared data_table macro): years as labels, this page's downloads.
    assert ">2025</td>" in r.text and "2,025" not in r.text
    assert 'href="/regulator/forecast/data.csv' in r.text and "/regulator/data/" not in r.text
    assert 'href="/regulator/forecast" aria-current="page"' in r.text
    data = _chart(r.text)
    assert data["years"] == list(range(2020, 2041))
    gwh = data["series"]["gwh"]
    assert all(
        lo <= c <= hi for lo, c, hi in zip(gwh["low"], gwh["central"], gwh["high"], strict=True)
    )
    gd = _chart(client.get("/regulator/forecast?province=44&chemistry=LFP&metric=Li").text)
    assert gd["metric"] == "Li" and 0 < gd["series"]["gwh"]["central"][5] < gwh["central"][5]
    zh = site.login("miit", lang="zh_CN").get("/regulator/forecast")
    assert "退役电池预测" in zh.text and "退役预测" in zh.text


def test_ledger_source_on_the_demo_ledger(site: Site) -> None:
    r = site.login("miit").get("/regulator/forecast?source=ledger")
    assert r.status_code == 200 and 'id="forecast-error"' not in r.text
    data = _chart(r.text)
    assert sum(data["series"]["packs"]["central"]) > 0  # the demo's installed packs retire


def test_provincial_regulator_gets_its_own_province(site: Site) -> None:
    client = site.login("jiangsu")
    r = client.get("/regulator/forecast")
    assert r.status_code == 200 and "Jiangsu" in r.text and 'id="province"' not in r.text
    assert client.get("/regulator/forecast?province=44").status_code == 403
    assert client.get("/regulator/forecast/data.csv?province=44").status_code == 403
    csv = client.get("/regulator/forecast/data.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.lstrip("\ufeff").startswith("Year,")
    assert len(csv.text.strip().splitlines()) == 1 + 21


def test_downloads_and_refusals(site: Site) -> None:
    client = site.login("miit")
    x = client.get("/regulator/forecast/data.xlsx?chemistry=NCM811")
    assert x.status_code == 200
    sheet = load_workbook(io.BytesIO(x.content)).active
    assert sheet is not None and sheet.cell(2, 1).value == 2020
    assert client.get("/regulator/forecast/data.pdf").status_code == 404
    assert client.get("/regulator/forecast?chemistry=unobtainium").status_code == 400
    assert client.get("/regulator/forecast?province=99").status_code == 404
    assert site.login("maker").get("/regulator/forecast").status_code == 403
    anonymous = site.client().get("/regulator/forecast", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
