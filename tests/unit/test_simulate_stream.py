"""The simulator's event stream: deterministic, valid, in report-time order, every role placed."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from functools import cache
from typing import Any

import pytest

from battrace.domain.epcis.event import parse_event, parse_timestamp
from battrace.domain.errors import InvalidInput
from battrace.domain.forecast import MAINLAND_PROVINCES
from battrace.domain.identities.gbt34014 import parse_battery_code
from battrace.domain.identities.uris import check_uri
from battrace.domain.lifecycle import states as S
from battrace.domain.lifecycle.projection import ObjectView, apply_event
from battrace.services.enterprises import ROLES, build_enterprise
from battrace.simulate import SCALES, SimConfig, Violations, simulate
from battrace.simulate.engine import CST
from battrace.simulate.output import reporter_of

Record = tuple[datetime, str, dict[str, Any]]


@cache
def run(
    seed: int = 3, packs: int = 600, rate: float = 0.0, spill: bool = True
) -> tuple[list[dict[str, Any]], list[Record], list[dict[str, Any]], dict[str, Any]]:
    sim = simulate(
        SimConfig(seed=seed, packs=packs, violations=Violations.uniform(rate), spill=spill)
    )
    truth: list[dict[str, Any]] = []
    records = list(sim.stream(truth.append))
    return sim.enterprises, records, truth, sim.summary_dict()


def test_deterministic_for_a_seed_and_different_for_another() -> None:
    a = run(seed=5, packs=120, rate=0.1)
    sim = simulate(SimConfig(seed=5, packs=120, violations=Violations.uniform(0.1)))
    truth: list[dict[str, Any]] = []
    again = list(sim.stream(truth.append))
    assert again == a[1]
    assert truth == a[2]
    other = run(seed=6, packs=120, rate=0.1)
    assert other[1] != a[1]


def test_spilling_to_disk_changes_nothing() -> None:
    # The calendar on disk only moves deferred work out of memory: same events, same order.
    assert run(seed=4, packs=200, spill=True)[1] == run(seed=4, packs=200, spill=False)[1]


def test_every_event_is_valid_reported_by_its_site_owner_in_report_time_order() -> None:
    enterprises, records, _, _ = run()
    by_uscc = {e["uscc"]: e for e in enterprises}
    last = None
    for reported, who, raw in records:
        event = parse_event(raw, check_uri=check_uri)
        assert who == reporter_of(raw) and who in by_uscc
        site = event.read_point
        assert site is not None and site.split(":site:")[1] in by_uscc[who]["sites"]
        record_time = parse_timestamp(raw["recordTime"], "recordTime")
        assert record_time == reported
        assert event.event_time <= record_time  # reported after it happened
        assert last is None or record_time >= last  # the file is in report order
        last = record_time
        assert record_time < datetime(2026, 1, 1, tzinfo=CST)
    assert len(records) > 600 * 10


def test_enterprises_are_valid_and_every_role_is_placed_by_province() -> None:
    enterprises, records, _, _ = run()
    for i, e in enumerate(enterprises):
        build_enterprise(e, f"row {i}")
    roles = Counter(r for e in enterprises for r in e["roles"])
    assert set(roles) == set(ROLES)
    assert roles["regulator_provincial"] == 31
    for role in ("dealer", "repairer", "dismantler", "recycling_outlet"):
        provinces = {e["province"] for e in enterprises if role in e["roles"]}
        assert provinces == set(MAINLAND_PROVINCES), role
    codes = [c for e in enterprises for c in e["manufacturer_codes"]]
    assert len(codes) == len(set(codes))
    # The whitelisted recyclers carry a registered capacity, scaled to the sample.
    caps = [
        q["capacity_t"]
        for e in enterprises
        for q in e["qualifications"]
        if q["kind"] == "recycling" and "capacity_t" in q
    ]
    assert caps and all(c > 0 for c in caps)
    reporting = {
        r for _, who, _ in records for e in enterprises if e["uscc"] == who for r in e["roles"]
    }
    assert reporting == set(ROLES) - {"regulator_national", "regulator_provincial"}


def test_the_lifecycle_reaches_every_stage_and_replays_without_surprise() -> None:
    _, records, _, summary = run()
    views: dict[str, ObjectView] = {}
    found: list[tuple[str, str]] = []
    # Replay in event-time order, as the ledger's projection does for late reports.
    for _, _, raw in sorted(records, key=lambda r: r[2]["eventTime"]):
        found.extend(apply_event(parse_event(raw), views))
    assert found == []  # no violation injected: a clean history
    steps = set(summary["events_by_step"])
    assert steps >= {
        "commissioning",
        "assembling",
        "shipping",
        "receiving",
        "installing",
        "retail_selling",
        "repairing",
        "removing",
        "replacing",
        "decommissioning",
        "collecting",
        "inspecting",
        "cascade_recoding",
        "disassembling",
        "recycling",
    }
    states = {v.state for v in views.values() if v.kind == S.BATTERY}
    assert states >= {S.ASSEMBLED, S.IN_SERVICE, S.RECYCLED, S.CASCADE_USE}


def test_packs_follow_the_forecast_mix_with_segment_and_chemistry_in_their_data() -> None:
    _, records, _, summary = run()
    packs = [
        raw["ilmd"]
        for _, _, raw in records
        if raw["bizStep"] == "commissioning" and raw["epcList"][0][16] == "P"
    ]
    assert len(packs) == summary["lifecycle"]["packs_produced"] - summary["lifecycle"].get(
        "packs_unregistered_maker", 0
    )
    chems = Counter(p["battrace:chemistry"] for p in packs)
    assert set(chems) <= {"LFP", "NCM111", "NCM523", "NCM622", "NCM811", "NCA"}
    assert chems["LFP"] > 0.3 * len(packs)  # LFP dominates recent, heavily weighted years
    segments = Counter(p["battrace:vehicleSegment"] for p in packs)
    assert segments["passenger_bev"] > segments["commercial_bev"] > 0
    for p in packs:
        kwh = p["battrace:ratedEnergyKWh"]
        assert 5 < kwh < 400
        assert p["battrace:massKg"] == pytest.approx(
            kwh * (6.66 if p["battrace:chemistry"] == "LFP" else 5.3), rel=0.1
        )


def test_codes_are_unique_and_vins_sold_once() -> None:
    _, records, _, _ = run()
    commissioned: Counter[str] = Counter()
    sold: Counter[str] = Counter()
    for _, _, raw in records:
        if raw["bizStep"] == "commissioning":
            for epc in raw["epcList"]:
                commissioned[epc] += 1
                parse_battery_code(epc[13:])
        if raw["bizStep"] == "retail_selling":
            sold[raw["epcList"][0]] += 1
    assert max(commissioned.values()) == 1
    assert max(sold.values()) == 1


def test_vehicles_per_sales_year_follow_caam_domestic_sales() -> None:
    _, records, _, _ = run()
    years = Counter(
        int(raw["eventTime"][:4]) for _, _, raw in records if raw["bizStep"] == "installing"
    )
    # CAAM domestic sales grow ~40x from 2015 to 2025: the sample must show it.
    assert years[2025] + years[2024] > 0.4 * sum(years.values())
    assert years[2015] < years[2020] < years[2023]


def test_formal_share_is_reported_near_its_target() -> None:
    summary = run(seed=8, packs=2000)[3]
    life = summary["lifecycle"]
    assert life["packs_retired"] > 100
    assert summary["formal_share_realised"] == pytest.approx(0.2, abs=0.07)
    assert life["packs_leaked"] + life["packs_collected_formally"] == life["packs_retired"]


def test_scales_and_bad_configuration() -> None:
    assert SCALES == {"demo": 1_000, "province": 100_000, "national-sample": 1_000_000}
    assert SimConfig(scale="national-sample").n_packs == 1_000_000
    for bad in (
        {"scale": "city"},
        {"packs": -1},
        {"formal_share": 1.5},
        {"province": "99"},
        {"until": date(2099, 1, 1)},
        {"first_year": 2010},
    ):
        with pytest.raises(InvalidInput):
            SimConfig(**bad)  # type: ignore[arg-type]


def test_a_province_run_sells_only_there() -> None:
    sim = simulate(SimConfig(packs=80, seed=2, province="44", violations=Violations.none()))
    by_uscc = {e["uscc"]: e for e in sim.enterprises}
    sellers = {who for _, who, raw in sim.stream() if raw["bizStep"] == "retail_selling"}
    assert sellers and {by_uscc[s]["province"] for s in sellers} == {"44"}
