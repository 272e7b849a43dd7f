"""Grading, recovery reports, mass-balance alerts and the model-enterprise ranking over a real
ledger (SQLite, and PostgreSQL when configured), on the scenario's cast (tests/scenario.py).

The recovery figures are the LFP worked example of docs/recycling.md §4, computed by hand there:
one 50 kWh, 333 kg LFP pack, 100 kg electrode powder, recycled into 99 kg black mass (refined in
house), 21.0 kg Li2CO3 at 99.5 %, 27.5 kg copper at 99 % and 150 kg of other fractions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from battrace.domain.epcis.document import DEFAULT_CONTEXT
from battrace.domain.errors import InvalidInput, NotAuthorised
from battrace.domain.lifecycle import builders as b
from battrace.domain.supervision.clock import us_of
from battrace.persistence.base import Store
from battrace.services import alerts as engine
from battrace.services import pilots
from battrace.services import recycling as rs
from battrace.services.authorisation import ReadScope
from battrace.services.capture import Submission
from battrace.services.ledgers import ledger_for
from tests import scenario as sc
from tests.http import cast

PACK_A = sc.code("P", 21)  # the worked example's pack
PACK_B = sc.code("P", 22)  # recycled into more lithium than it held
T_A = datetime(2025, 2, 10, 2, 0, tzinfo=UTC)
T_B = datetime(2025, 8, 5, 2, 0, tzinfo=UTC)


@dataclass
class World:
    store: Store
    ids: dict[str, str]

    def capture(self, at: datetime, who: str, *events: dict[str, Any]) -> None:
        ledger = ledger_for(self.store)
        sub = Submission(
            who, DEFAULT_CONTEXT, list(events), [orjson.dumps(e).decode() for e in events]
        )
        (result,) = ledger.capture_many([sub], imported=True, record_time=at)
        assert result.ok, result.rejected
        for ev, eid in zip(events, result.event_ids, strict=True):
            self.ids[str(ev.get("_label", eid))] = eid


def recycling_a() -> dict[str, Any]:
    ev = b.recycle(
        PACK_A,
        {"black_mass": 99.0, "lithium_carbonate": 21.0, "copper": 27.5, "steel": 150.0},
        site=sc.site(sc.RECYCLER),
        time=T_A,
    )
    ev["battrace:lots"] = {
        "black_mass": {"internal": True, "assay": {"Al": 0.008, "Cu": 0.012}},
        "lithium_carbonate": {"purity": 0.995},
        "copper": {"purity": 0.99},
    }
    ev["battrace:electrodePowderKg"] = 100.0
    return ev


def recycling_b() -> dict[str, Any]:
    # 10 kWh LFP holds 0.89 kg Li; 10 kg of pure Li2CO3 holds 1.8785 kg: impossible.
    return b.recycle(PACK_B, {"lithium_carbonate": 10.0}, site=sc.site(sc.RECYCLER), time=T_B)


def inspection(code: str, capacity: float, *, safety: dict[str, bool] | None) -> dict[str, Any]:
    ev = b.inspect(
        code,
        capacity_ah=capacity,
        rated_ah=100.0,
        resistance_mohm=2.0,
        voltage_v=3.25,
        site=sc.site(sc.RECYCLER),
        time=T_A - timedelta(days=1),
    )
    ev["sensorElementList"][0]["sensorReport"].append(
        {"type": "Temperature", "value": 25.0, "uom": "CEL"}
    )
    if safety is not None:
        ev["battrace:safetyChecks"] = safety
    return ev


@pytest.fixture
def world(store: Store) -> World:
    cast.register(store)
    w = World(store, {})
    maker = sc.site(sc.MAKER)
    made = T_A - timedelta(days=400)
    w.capture(
        made + timedelta(hours=1),
        sc.MAKER,
        b.commission(
            PACK_A,
            site=maker,
            time=made,
            attributes={"chemistry": "LFP", "ratedEnergyKWh": 50.0, "massKg": 333.0},
        ),
        b.commission(
            PACK_B,
            site=maker,
            time=made,
            attributes={"chemistry": "LFP", "ratedEnergyKWh": 10.0, "massKg": 66.6},
        ),
    )
    w.capture(
        T_A - timedelta(hours=20),
        sc.RECYCLER,
        inspection(PACK_A, 72.0, safety={"leakage": False, "swelling": False}),
    )
    w.capture(T_A + timedelta(hours=2), sc.RECYCLER, recycling_a())
    w.capture(T_B + timedelta(hours=2), sc.RECYCLER, recycling_b())
    return w


def test_grade_from_the_latest_inspection(world: World) -> None:
    out = rs.grade_battery(world.store, PACK_A)
    assert out["grade"] == "cascade_a" and out["soh_pct"] == 72.0
    assert out["test"]["internal_resistance_mohm"] == pytest.approx(2.0)
    assert out["test"]["temperature_c"] == 25.0
    assert out["inspection"]["reporter"] == sc.RECYCLER
    # A later inspection that failed the safety check: pre-treat, never graded for reuse.
    world.capture(
        T_A - timedelta(hours=10),
        sc.RECYCLER,
        {
            **inspection(PACK_A, 90.0, safety={"leakage": True}),
            "eventTime": "2025-02-09T18:00:00.000+08:00",
        },
    )
    again = rs.grade_battery(world.store, PACK_A)
    assert again["grade"] == "pretreat" and again["soh_pct"] == 90.0


def test_grading_refuses_what_the_ledger_does_not_say(world: World) -> None:
    with pytest.raises(rs.NoInspection):
        rs.grade_battery(world.store, PACK_B)
    with pytest.raises(InvalidInput, match="not in the ledger"):
        rs.grade_battery(world.store, sc.code("P", 99))
    # An inspection without a test temperature or safety checklist cannot be graded.
    bare = b.inspect(
        PACK_B,
        capacity_ah=80.0,
        rated_ah=100.0,
        resistance_mohm=2.0,
        voltage_v=3.2,
        site=sc.site(sc.RECYCLER),
        time=T_A,
    )
    world.capture(T_A + timedelta(hours=1), sc.RECYCLER, bare)
    with pytest.raises(InvalidInput) as exc:
        rs.grade_battery(world.store, PACK_B)
    assert exc.value.field == "inspection" and "Temperature" in exc.value.reason


def test_grading_is_scoped(world: World) -> None:
    other = ReadScope("enterprise", sc.DEALER, "44")
    with pytest.raises(NotAuthorised):
        rs.grade_battery(world.store, PACK_A, scope=other)
    mine = ReadScope("enterprise", sc.RECYCLER, "43")
    assert rs.grade_battery(world.store, PACK_A, scope=mine)["grade"] == "cascade_a"


def test_recovery_of_the_lfp_worked_example(world: World) -> None:
    rep = rs.recovery(world.store, sc.RECYCLER, "2025-Q1", engine.Scope.everything())
    assert rep["events"] == {"recycling": 1, "assessed": 1, "retracted": 0, "excluded": []}
    bal = rep["balance"]
    assert bal["balanced"] is True and bal["stages"] == ["pretreatment", "smelting"]
    el = {e["element"]: e for e in bal["elements"]}
    # Li in 0.089 kg/kWh x 50 kWh = 4.45 kg; out 21.0 x 0.995 x (2 x 6.94 / 73.888) = 3.925165 kg.
    assert el["Li"]["input_kg"] == pytest.approx(4.45)
    assert el["Li"]["recovered_kg"] == pytest.approx(3.925165, abs=1e-6)
    assert el["Li"]["recovery_pct"] == pytest.approx(88.2060, abs=1e-4)
    # Cu in 0.566 x 50 = 28.3 kg; out 27.5 x 0.99 = 27.225 kg.
    assert el["Cu"]["recovery_pct"] == pytest.approx(96.2014, abs=1e-4)
    assert el["Al"]["input_kg"] is None  # unknown per kWh: never a guessed zero
    assert bal["electrode_powder_recovery_pct"] == pytest.approx(99.0)
    # (3.925165 + 27.225 + 150) / 333 kg of batteries.
    assert bal["recycling_efficiency_pct"] == pytest.approx(54.3994, abs=1e-4)
    checks = {c["id"]: c for c in bal["checks"]}
    assert checks["CN-2024-recovery-Li"]["status"] == "not-met"
    assert checks["CN-2024-powder"]["status"] == "met"
    assert checks["CN-2024-impurity-Al"]["status"] == "met"
    assert checks["CN-2024-recovery-Ni"]["status"] == "not-applicable"
    assert checks["EU-XII-B-Li-based-2025"]["in_force"] is False  # period ends 2025-03-31
    assert rep["tolerance_rule"] == "cn-2024-recycling-mass-balance"
    sheets = rs.recovery_sheets(rep)
    assert sheets["summary"][0]["recycling_efficiency_pct"] == pytest.approx(54.3994, abs=1e-4)


def test_an_impossible_balance_is_an_alert_not_a_success(world: World) -> None:
    rep = rs.recovery(world.store, sc.RECYCLER, "2025", engine.Scope.everything())
    bal = rep["balance"]
    assert bal["balanced"] is False and bal["ok"] is False
    assert any(f["kind"] == "mass-balance" and f["subject"] == "Li" for f in bal["findings"])
    assert {c["status"] for c in bal["checks"] if c["id"] == "CN-2024-recovery-Li"} == {
        "unverifiable"
    }
    now = datetime(2026, 1, 1, tzinfo=UTC)
    found = engine.list_alerts(
        world.store,
        engine.Scope.everything(),
        engine.AlertFilter(kind="mass-balance"),
        now=us_of(now),
    )
    assert len(found) == 1
    alert = found[0]
    assert alert.enterprise == sc.RECYCLER and alert.province == "43"
    assert alert.rule == "cn-2024-recycling-mass-balance"
    assert alert.detail["impossible"][0]["subject"] == "Li"
    # The full re-evaluation finds the same alert, and a rebuild keeps it.
    fresh = [f for f in engine.evaluate(world.store) if str(f.kind) == "mass-balance"]
    assert [f.key for f in fresh] == [alert.id]
    engine.rebuild(world.store)
    kept = engine.list_alerts(
        world.store,
        engine.Scope.everything(),
        engine.AlertFilter(kind="mass-balance"),
        now=us_of(now),
    )
    assert [a.id for a in kept] == [alert.id] and kept[0].status == "open"
    # Retracting the event withdraws the alert.
    world.capture(
        T_B + timedelta(days=1),
        sc.RECYCLER,
        b.declare_error(recycling_b(), time=T_B + timedelta(days=1)),
    )
    gone = engine.list_alerts(
        world.store,
        engine.Scope.everything(),
        engine.AlertFilter(kind="mass-balance"),
        now=us_of(now),
    )
    assert gone == [] or all(a.status == "withdrawn" for a in gone)
    rep = rs.recovery(world.store, sc.RECYCLER, "2025", engine.Scope.everything())
    assert rep["events"]["retracted"] == 1 and rep["balance"]["balanced"] is True


def test_recovery_scope_and_bad_input(world: World) -> None:
    with pytest.raises(NotAuthorised):
        rs.recovery(world.store, sc.RECYCLER, "2025", engine.Scope(enterprise=sc.DEALER))
    assert rs.recovery(world.store, sc.RECYCLER, "2025", engine.Scope(province="43"))["balance"]
    with pytest.raises(InvalidInput, match="period"):
        rs.recovery(world.store, sc.RECYCLER, "2025-13", engine.Scope.everything())
    with pytest.raises(InvalidInput, match="not a registered"):
        rs.recovery(world.store, "91110000000000000X", "2025", engine.Scope.everything())
    empty = rs.recovery(world.store, sc.RECYCLER, "2024", engine.Scope.everything())
    assert empty["balance"] is None and empty["events"]["recycling"] == 0


def test_unassessable_events_are_excluded_with_the_reason(world: World) -> None:
    loose = b.recycle(
        (), {"copper": 5.0}, inputs_kg={"black_mass": 10.0}, site=sc.site(sc.RECYCLER), time=T_A
    )
    world.capture(T_A + timedelta(hours=3), sc.RECYCLER, loose)
    rep = rs.recovery(world.store, sc.RECYCLER, "2025-02", engine.Scope.everything())
    assert rep["events"]["assessed"] == 1
    (excluded,) = rep["events"]["excluded"]
    assert "assay" in excluded["reason"]


def test_model_enterprise_ranking(world: World) -> None:
    data = rs.rank(world.store, "2025-Q1", engine.Scope.everything())
    ranked = {r["enterprise"]: r for r in data["ranking"]}
    assert set(ranked) == {sc.RECYCLER, sc.CASCADE}
    rec = {c["name"]: c for c in ranked[sc.RECYCLER]["components"]}
    # CN 2024 checks in force and evaluable: powder, Al, Cu impurity met; Li not met -> 3 of 4.
    assert rec["recovery"]["value"] == 0.75 and rec["recovery"]["weight"] == 0.35
    assert rec["volume"]["value"] == 1 and rec["volume"]["score"] == 1.0
    cas = {c["name"]: c for c in ranked[sc.CASCADE]["components"]}
    assert cas["recovery"]["score"] is None  # not a recycler: not applicable
    assert ranked[sc.RECYCLER]["rank"] == 1
    for r in data["ranking"]:
        parts = [c for c in r["components"] if c["score"] is not None]
        expected = (
            100 * sum(c["weight"] * c["score"] for c in parts) / sum(c["weight"] for c in parts)
        )
        assert r["score"] == pytest.approx(expected, abs=0.01)
    prov = rs.rank(world.store, "2025-Q1", engine.Scope(province="43"), province="43")
    assert {r["enterprise"] for r in prov["ranking"]} == {sc.RECYCLER, sc.CASCADE}
    with pytest.raises(NotAuthorised):
        rs.rank(world.store, "2025", engine.Scope(province="43"), province="44")


def test_pilot_comparison_takes_measured_recovery_rates(world: World) -> None:
    """A recycler pilot is compared on the rates its own recycling events show, not on what it
    declared, whenever the period's events can be assessed."""
    pilots.add_enterprise(world.store, {"uscc": sc.RECYCLER, "model": "third-party"})
    (row,) = pilots.compare(world.store, period="2025-Q1")
    assert row["recovery_source"] == "measured from recycling events, 2025-Q1"
    assert row["recovery_rates"]["Li"] == pytest.approx(88.2060, abs=1e-4)  # as by hand above
    (quiet,) = pilots.compare(world.store, period="2024")  # nothing recycled, nothing declared
    assert quiet["recovery_rates"] is None and quiet["recovery_source"] is None
    with pytest.raises(InvalidInput, match="period"):
        pilots.compare(world.store, period="last year")
