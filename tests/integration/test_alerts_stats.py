"""Statistics, producer responsibility, outlet coverage and the battery flow on a small ledger
whose every number is known, and their CSV/XLSX exports."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from battrace.domain.errors import NotAuthorised
from battrace.domain.identities.gbt34014 import format_cascade_code
from battrace.domain.lifecycle import builders as b
from battrace.domain.supervision.clock import us_of
from battrace.persistence.base import Store
from battrace.services import stats
from battrace.services.alerts import Scope
from tests.integration.test_alerts_world import (
    AUTOMAKER,
    BIG_OUTLET,
    CASCADE,
    DEALER,
    DISMANTLER,
    MAKER,
    RECYCLER,
    REPAIRER,
    World,
    cst,
    local_rules,
    pack_code,
    site,
    vin,
)

NOW = us_of(cst(2026, 11, 20))
EVERYTHING = Scope.everything()


def _day(world: World, t: datetime, who: str, *events: dict[str, object]) -> None:
    world.capture(datetime(t.year, t.month, t.day, 20, tzinfo=t.tzinfo), (who, list(events)))


@pytest.fixture
def world(sqlite_store: Store, tmp_path: Path) -> World:
    """Three packs: P1 scrapped → outlet → cascade use; P2 repaired out → recycler (its receipt
    reported late) → recycled; P3 still in service."""
    w = World(sqlite_store, local_rules(tmp_path))
    packs = [pack_code(n) for n in (1, 2, 3)]
    cars = [vin(n) for n in (1, 2, 3)]
    t = cst(2026, 4, 1, 9)
    attrs = {"massKg": 300.0, "ratedEnergyKWh": 50.0}
    _day(w, t, MAKER, *[b.commission(p, site=site(MAKER), time=t, attributes=attrs) for p in packs])
    t = cst(2026, 4, 8, 9)
    _day(
        w,
        t,
        AUTOMAKER,
        *[b.install(p, v, site=site(AUTOMAKER), time=t) for p, v in zip(packs, cars, strict=True)],
    )
    t = cst(2026, 4, 15, 9)
    _day(
        w,
        t,
        DEALER,
        *[b.sell(v, p, site=site(DEALER), time=t) for p, v in zip(packs, cars, strict=True)],
    )
    p1, p2 = packs[0], packs[1]
    t = cst(2026, 5, 11, 9)
    _day(
        w,
        t,
        DISMANTLER,
        b.scrap_vehicle(cars[0], site=site(DISMANTLER), time=t, certificate="C1", pack=p1),
        b.remove(p1, cars[0], site=site(DISMANTLER), time=t + timedelta(hours=1), disposition=None),
        b.retire(p1, site=site(DISMANTLER), time=t + timedelta(hours=2)),
        b.ship(
            p1,
            sender=DISMANTLER,
            receiver=BIG_OUTLET,
            site=site(DISMANTLER),
            time=t + timedelta(hours=3),
        ),
    )
    t = cst(2026, 5, 12, 9)
    _day(w, t, BIG_OUTLET, b.collect(p1, site=site(BIG_OUTLET), time=t, sender=DISMANTLER))
    t = cst(2026, 5, 18, 9)
    _day(
        w,
        t,
        BIG_OUTLET,
        b.ship(p1, sender=BIG_OUTLET, receiver=CASCADE, site=site(BIG_OUTLET), time=t),
    )
    t = cst(2026, 5, 20, 9)
    new = format_cascade_code("CAS", "P", "B", "01", date(2026, 5, 20), 1)
    _day(
        w,
        t,
        CASCADE,
        b.receive(p1, site=site(CASCADE), time=t, sender=BIG_OUTLET),
        b.recode(p1, new, site=site(CASCADE), time=t + timedelta(hours=3)),
    )
    t = cst(2026, 6, 1, 9)
    _day(
        w,
        t,
        REPAIRER,
        b.remove(p2, cars[1], site=site(REPAIRER), time=t),
        b.retire(p2, site=site(REPAIRER), time=t + timedelta(hours=1)),
        b.ship(
            p2, sender=REPAIRER, receiver=RECYCLER, site=site(REPAIRER), time=t + timedelta(hours=2)
        ),
    )
    receipt = b.receive(p2, site=site(RECYCLER), time=cst(2026, 6, 5, 9), sender=REPAIRER)
    w.capture(cst(2026, 7, 28, 20), (RECYCLER, [receipt]))  # > 30 working days late
    t = cst(2026, 6, 20, 9)
    _day(w, t, RECYCLER, b.recycle([p2], {"black_mass": 120.0}, site=site(RECYCLER), time=t))
    return w


def _rows(world: World, **query: object) -> dict[str, dict[str, object]]:
    q = stats.StatsQuery(**query)  # type: ignore[arg-type]
    snap = stats.snapshot(world.store, as_of=NOW)
    return {
        r["group"]: r
        for r in stats.statistics(world.store, q, EVERYTHING, snap=snap, rules=world.rules)
    }


def test_statistics_by_province(world: World) -> None:
    rows = _rows(world, group="province", period="year")
    assert rows["35"]["produced_count"] == 3 and rows["35"]["produced_kwh"] == 150.0
    assert rows["44"]["installed_count"] == 3 and rows["44"]["installed_kg"] == 900.0
    assert rows["32"]["retired_count"] == 1 and rows["44"]["retired_count"] == 1
    assert rows["32"]["collected_count"] == 1  # P1 at the Jiangsu outlet
    assert rows["43"]["collected_count"] == 1  # P2 straight to the Hunan recycler
    assert rows["43"]["cascade_used_count"] == 1 and rows["43"]["recycled_count"] == 1
    assert (
        rows["32"]["formal_collection_rate"] == 1.0 and rows["44"]["formal_collection_rate"] == 1.0
    )
    assert rows["43"]["reports_checked"] == 3 and rows["43"]["reports_on_time"] == 2
    assert rows["43"]["open_alerts"] == 1 and rows["43"]["open_late-report"] == 1
    assert rows["32"]["timeliness_rate"] == 1.0
    assert {r["period"] for r in rows.values()} == {"2026"}


def test_statistics_by_enterprise_month_and_window(world: World) -> None:
    rows = _rows(world, group="enterprise", period="month")
    assert rows[MAKER]["period"] == "2026-04" and rows[MAKER]["produced_count"] == 3
    window = _rows(world, group="province", period="all", start=date(2026, 6, 1))
    assert "35" not in window and window["44"]["retired_count"] == 1


def test_statistics_as_of_a_past_moment(world: World) -> None:
    snap = stats.snapshot(world.store, as_of=us_of(cst(2026, 5, 31)))
    rows = {
        r["group"]: r
        for r in stats.statistics(
            world.store, stats.StatsQuery(), EVERYTHING, snap=snap, rules=world.rules
        )
    }
    assert "recycled_count" in rows["43"] and rows["43"]["recycled_count"] == 0
    assert rows["43"]["cascade_used_count"] == 1


def test_statistics_are_scoped(world: World) -> None:
    snap = stats.snapshot(world.store, as_of=NOW)
    js = stats.statistics(
        world.store, stats.StatsQuery(), Scope(province="32"), snap=snap, rules=world.rules
    )
    assert {r["group"] for r in js} == {"32"}
    own = stats.statistics(
        world.store,
        stats.StatsQuery(group="province"),
        Scope(enterprise=CASCADE),
        snap=snap,
        rules=world.rules,
    )
    assert {r["group"] for r in own} == {CASCADE}
    with pytest.raises(NotAuthorised):
        stats.StatsQuery(province="44").scoped(Scope(province="32"))
    with pytest.raises(NotAuthorised):
        stats.StatsQuery().scoped(Scope())


def test_producer_responsibility_and_coverage(world: World) -> None:
    snap = stats.snapshot(world.store, as_of=NOW, with_reports=False)
    rows = {(r["role"], r["producer"]): r for r in stats.producer_responsibility(snap, EVERYTHING)}
    auto = rows[("automaker", AUTOMAKER)]
    assert auto["retired"] == 2 and auto["recovered_formal"] == 2
    assert auto["recovered_own_or_shared_outlets"] == 1 and auto["outlet_share"] == 0.5
    assert rows[("battery_maker", MAKER)]["retired"] == 2
    coverage = {(r["role"], r["producer"]): r for r in stats.outlet_coverage(snap, EVERYTHING)}
    auto_cov = coverage[("automaker", AUTOMAKER)]
    assert auto_cov["sold_in"] == ["440300"] and auto_cov["uncovered"] == ["440300"]
    assert "320500" in auto_cov["outlets_in"] and "330100" not in auto_cov["outlets_in"]
    assert coverage[("battery_maker", MAKER)]["sold_in"] == ["44"]
    assert stats.outlet_coverage(snap, Scope(enterprise=CASCADE)) == []


def test_flow_for_a_sankey_diagram(world: World) -> None:
    snap = stats.snapshot(world.store, as_of=NOW, with_reports=False)
    data = stats.flow(snap, EVERYTHING)
    links = {(l["source"], l["target"]): l for l in data["links"]}  # noqa: E741
    assert links[("produced", "in_service")]["count"] == 3
    assert links[("in_service", "retired")]["count"] == 2
    assert links[("in_service", "still_in_service")]["kwh"] == 50.0
    assert links[("retired", "formal_collection")]["count"] == 2
    assert links[("formal_collection", "cascade_use")]["count"] == 1
    assert links[("formal_collection", "recycling")]["kg"] == 300.0
    assert ("retired", "unknown") not in links
    # Every node that a link names is declared, with both languages.
    names = {n["id"]: n for n in data["nodes"]}
    assert {x for pair in links for x in pair} <= set(names)
    assert names["formal_collection"]["name_zh"] == "规范回收"


def test_csv_and_xlsx_exports(world: World) -> None:
    tables = dict(stats.iter_tables(world.store, stats.StatsQuery(), EVERYTHING, as_of=NOW))
    text = stats.to_csv(tables["coverage"])
    header, *lines = text.splitlines()
    assert header.split(",")[:4] == ["producer", "name", "role", "level"]
    assert any("440300" in line for line in lines)
    book = load_workbook(io.BytesIO(stats.to_xlsx(tables)))
    assert book.sheetnames == ["statistics", "producers", "coverage", "flow"]
    sheet = book["producers"]
    assert [c.value for c in sheet[1]][:3] == ["producer", "name", "role"]
    assert sheet.max_row == 1 + len(tables["producers"])
    assert stats.to_csv([]) == "\n"


def test_bad_queries_name_the_field() -> None:
    with pytest.raises(Exception, match="group"):
        stats.StatsQuery(group="city")
    with pytest.raises(Exception, match="end"):
        stats.StatsQuery(start=date(2026, 1, 1), end=date(2025, 1, 1))
    with pytest.raises(Exception, match="province"):
        stats.StatsQuery(province="99")
