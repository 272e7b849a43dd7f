"""Regulator pages: overview figures, province scope, chart data, CSV/XLSX downloads."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime

import orjson
import pytest
from openpyxl import load_workbook

from battrace.domain.identities.gbt34014 import format_battery_code
from battrace.domain.lifecycle import builders as b
from battrace.services.capture import Ledger
from battrace.web.pages import figures
from battrace.web.pages.tables import DataTable, to_csv, to_xlsx
from tests.http.pages_fixtures import Site, build_site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    s = build_site(tmp_path_factory.mktemp("regulator"), packs=60)
    yield s
    s.store.close()


def _direct_counts(site: Site) -> dict[str, int]:
    with site.store.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.exec_driver_sql(
            "SELECT state, count(*) FROM objects WHERE length(epc) = 37 AND substr(epc, 17, 1) = 'P' GROUP BY state"
        ).all()
    return {state: n for state, n in rows}


def test_headline_figures_count_packs_by_state(site: Site) -> None:
    f = figures.compute(site.store, None)
    states = _direct_counts(site)
    assert f.packs == sum(states.values()) > 0
    for key, _label, members in figures.MEASURES:
        assert f.headline[key]["packs"] == sum(states.get(s, 0) for s in members)
    assert f.headline["in_service"]["kwh"] > 0 and f.headline["in_service"]["tonnes"] > 0
    # The flows conserve packs: what leaves a node is what entered it.
    into: dict[str, int] = {}
    out: dict[str, int] = {}
    for src, dst, n in f.flows:
        out[src] = out.get(src, 0) + n
        into[dst] = into.get(dst, 0) + n
    assert out["produced"] == f.packs
    for node in ("vehicles", "retired", "formal"):
        if node in out:
            assert out[node] == into[node]
    assert sum(sum(v) for v in f.trends.values()) > 0 and len(f.months) == figures.TREND_MONTHS


def test_province_figures_add_up_to_the_national_ones(site: Site) -> None:
    national = figures.compute(site.store, None)
    total = 0
    for row in national.provinces:
        if row["in_service"]:
            part = figures.compute(site.store, row["code"])
            assert part.headline["in_service"]["packs"] == row["in_service"]
            total += row["in_service"]
    assert total == national.headline["in_service"]["packs"]


def test_figures_are_cached_until_the_ledger_moves(site: Site) -> None:
    figures.clear_cache()
    first = figures.figures(site.store)
    assert figures.figures(site.store) is first and first.head == site.store.head().head
    maker = site.store.get_enterprise(site.orgs["maker"])
    assert maker is not None
    code = format_battery_code(
        maker.manufacturer_codes[0], "P", "LFP", "12", "L100000", date(2025, 1, 6), 6_000_001
    )
    event = b.commission(
        code,
        site=b.site_uri(maker.uscc, maker.sites[0]["id"]),
        time=datetime(2025, 2, 1, tzinfo=UTC),
    )
    assert (
        Ledger(site.store, site.settings)
        .capture_document(orjson.dumps(b.document([event])), maker.uscc)
        .ok
    )
    fresh = figures.figures(site.store)
    assert fresh.head == site.store.head().head and fresh.packs == first.packs + 1


def test_national_overview_page_has_figures_charts_and_tables(site: Site) -> None:
    client = site.login("miit")
    page = client.get("/regulator")
    assert page.status_code == 200
    for chart in ("chart-map", "chart-sankey", "chart-trends"):
        assert f'id="{chart}"' in page.text
    data = json.loads(
        re.search(
            r'<script type="application/json" id="chart-data">(.*?)</script>', page.text, re.S
        ).group(1)
    )  # type: ignore[union-attr]
    assert data["sankey"]["links"] and data["trends"]["months"]
    assert {v["name"] for v in data["map"]["values"]["retired"]} >= {"440000", "320000"}
    assert page.text.count('<details class="table-view">') == 4
    zh = site.login("miit", lang="zh_CN").get("/regulator")
    assert "全国概览" in zh.text and "表格视图" in zh.text


def test_provincial_regulator_sees_only_its_province(site: Site) -> None:
    client = site.login("jiangsu")
    home = client.get("/regulator", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/regulator/province/32"
    own = client.get("/regulator/province/32")
    assert own.status_code == 200 and "Jiangsu" in own.text
    other = client.get("/regulator/province/44")
    assert other.status_code == 403 and "Access denied" in other.text
    assert client.get("/regulator/data/provinces.csv?province=44").status_code == 403
    assert client.get("/regulator/data/provinces.csv").status_code == 403  # national data
    assert client.get("/regulator/data/provinces.csv?province=32").status_code == 200
    assert client.get("/regulator/province/99").status_code == 404


def test_provincial_regulator_trace_is_denied_for_another_provinces_battery(site: Site) -> None:
    client = site.login("jiangsu")
    mine = set(site.pack_codes("32"))
    foreign = next(c for c in site.pack_codes() if c not in mine)
    denied = client.get(f"/trace/{foreign}")
    assert denied.status_code == 403 and "outside your jurisdiction" in denied.text
    own = client.get(f"/trace/{next(iter(sorted(mine)))}")
    assert own.status_code == 200
    national = site.login("miit").get(f"/trace/{foreign}")
    assert national.status_code == 200 and "not shown" not in national.text


def test_enterprise_users_cannot_see_regulator_pages(site: Site) -> None:
    client = site.login("maker")
    assert client.get("/regulator").status_code == 403
    assert client.get("/regulator/data/headline.csv").status_code == 403


def test_downloads_match_the_table_view(site: Site) -> None:
    client = site.login("miit")
    f = figures.figures(site.store)
    response = client.get("/regulator/data/headline.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["Measure", "Packs", "kWh", "Tonnes"]
    assert [int(r[1]) for r in rows[1:]] == [
        int(f.headline[k]["packs"]) for k, _, _ in figures.MEASURES
    ]
    xlsx = client.get("/regulator/data/provinces.xlsx")
    ws = load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    assert ws.max_row == 1 + len(f.provinces)
    for name in ("flows", "trends"):
        assert client.get(f"/regulator/data/{name}.csv").status_code == 200
    assert client.get("/regulator/data/secrets.csv").status_code == 404
    assert client.get("/regulator/data/headline.pdf").status_code == 404


def test_exports_neutralise_spreadsheet_formulas() -> None:
    table = DataTable("t", "t", ["=cmd", "b"], [['=HYPERLINK("x")', 1], ["+1", -2]])
    text = to_csv(table).decode("utf-8-sig")
    assert "'=cmd" in text and "'=HYPERLINK" in text and "'+1" in text and ",-2" in text
    ws = load_workbook(io.BytesIO(to_xlsx(table))).worksheets[0]
    assert ws["A2"].value == '\'=HYPERLINK("x")' and ws["B3"].value == -2
