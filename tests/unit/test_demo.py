"""The synthetic demo data: deterministic, valid, chronological and covering every stage."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from functools import cache
from typing import Any

import pytest

from battrace.demo import CST, DemoConfig, DemoData, generate
from battrace.domain.epcis import vocab
from battrace.domain.epcis.event import Event, parse_event
from battrace.domain.identities.divisions import province_by_code
from battrace.domain.identities.gbt34014 import parse_battery_code
from battrace.domain.identities.uris import check_uri
from battrace.domain.identities.uscc import validate_uscc
from battrace.domain.identities.vin import validate_vin
from battrace.domain.lifecycle import states as S
from battrace.domain.lifecycle.projection import ObjectView, apply_event

ROLES = {
    "battery_maker",
    "automaker",
    "importer",
    "dealer",
    "repairer",
    "swap_operator",
    "dismantler",
    "recycling_outlet",
    "cascade_user",
    "recycler",
    "regulator_national",
    "regulator_provincial",
}


@cache
def sample() -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    # Disposal is rare (3 %): raised here so that 400 packs show every step whatever the draws.
    data = generate(400, seed=11, config=DemoConfig(disposal_share=0.15))
    return data.enterprises, list(data.events)


@cache
def parsed() -> list[tuple[str, Event]]:
    return [(who, parse_event(raw, check_uri=check_uri)) for who, raw in sample()[1]]


def test_deterministic_for_a_seed() -> None:
    a, b = generate(60, seed=5), generate(60, seed=5)
    assert a.enterprises == b.enterprises
    first = list(a.events)
    assert first == list(b.events)
    assert first == list(a.fresh_events())
    c = generate(60, seed=6)
    assert c.enterprises != a.enterprises
    assert list(c.events) != first


def test_enterprises_cover_every_role_in_several_provinces() -> None:
    enterprises, _ = sample()
    roles = {r for e in enterprises for r in e["roles"]}
    assert roles == ROLES
    assert len({e["province"] for e in enterprises}) >= 4
    usccs = [e["uscc"] for e in enterprises]
    assert len(set(usccs)) == len(usccs)
    codes = [c for e in enterprises for c in e["manufacturer_codes"]]
    assert len(set(codes)) == len(codes)
    for e in enterprises:
        assert validate_uscc(e["uscc"]) == e["uscc"]
        assert province_by_code(e["province"]) is not None
        assert e["name_zh"] and e["name_en"]
        assert set(e) >= {"sites", "qualifications", "manufacturer_codes"}
        makes_codes = {"battery_maker", "cascade_user"} & set(e["roles"])
        assert bool(e["manufacturer_codes"]) == bool(makes_codes)
        assert all(len(c) == 3 and c.isalnum() for c in e["manufacturer_codes"])
        for q in e["qualifications"]:
            assert q["kind"] in ("cascade_use", "recycling")
            assert isinstance(q["batch"], int)
            date.fromisoformat(q["date"])
        if "cascade_user" in e["roles"]:
            assert any(q["kind"] == "cascade_use" for q in e["qualifications"])
        if "recycler" in e["roles"]:
            assert any(q["kind"] == "recycling" for q in e["qualifications"])


def test_every_event_is_valid_and_chronological() -> None:
    enterprises, events = sample()
    by_uscc = {e["uscc"]: e for e in enterprises}
    last = None
    for who, ev in parsed():
        assert who in by_uscc
        # The reporter is the party of the site it reports from, and the site is its own.
        assert ev.biz_location == ev.read_point
        assert ev.biz_location is not None
        party, _, local = ev.biz_location.removeprefix("urn:uscc:").partition(":site:")
        assert party == who
        assert local in by_uscc[who]["sites"]
        assert last is None or ev.event_time >= last
        last = ev.event_time
    assert len(events) > 400 * 10


def test_events_lie_within_the_window() -> None:
    data = generate(80, seed=3, start=date(2021, 6, 1), end=date(2023, 6, 1))
    times = [parse_event(e).event_time for _, e in data.events]
    assert min(times) >= datetime(2021, 6, 1, tzinfo=CST)
    assert max(times) < datetime(2023, 6, 1, tzinfo=CST)
    raw_times = [e["eventTime"] for _, e in generate(10, seed=3).events]
    assert all(t.endswith("+08:00") for t in raw_times)


def test_codes_and_vins_follow_their_layouts() -> None:
    enterprises, _ = sample()
    cascade_makers = {
        c for e in enterprises if "cascade_user" in e["roles"] for c in e["manufacturer_codes"]
    }
    battery_makers = {
        c for e in enterprises if "battery_maker" in e["roles"] for c in e["manufacturer_codes"]
    }
    seen_cascade = 0
    for _, ev in parsed():
        for epc, _ in ev.epcs_with_roles():
            if epc.startswith("urn:vin:"):
                validate_vin(epc[8:])
                continue
            assert epc.startswith("urn:gbt34014:")
            code = parse_battery_code(epc[13:])
            if len(code.code) == 19:
                seen_cascade += 1
                assert code.code[:3] in cascade_makers
            else:
                assert len(code.code) == 24
                assert code.code[:3] in battery_makers
    assert seen_cascade > 0


def test_codes_are_unique_and_dated_on_their_commissioning_day() -> None:
    commissioned: Counter[str] = Counter()
    for _, ev in parsed():
        if ev.biz_step == "commissioning":
            day = ev.event_time.astimezone(CST).date()
            for epc in ev.epc_list:
                commissioned[epc] += 1
                assert parse_battery_code(epc[13:]).production_date == day
    assert commissioned and max(commissioned.values()) == 1


def test_replaying_the_demo_finds_no_inconsistency_and_reaches_every_state() -> None:
    views: dict[str, ObjectView] = {}
    found = []
    steps: Counter[str] = Counter()
    reached: set[str] = set()  # every state a battery passes through, not only the last one
    for _, ev in parsed():
        steps[(ev.biz_step or "").rsplit("BizStep-", 1)[-1]] += 1
        found.extend(apply_event(ev, views))
        for epc, _ in ev.epcs_with_roles():
            if views[epc].kind == S.BATTERY:
                reached.add(views[epc].state)
    assert found == []
    assert set(steps) == {
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
        "destroying",
    }
    assert reached >= {
        S.PRODUCED,
        S.ASSEMBLED,
        S.IN_SERVICE,
        S.CASCADE_USE,
        S.DISMANTLED,
        S.RECYCLED,
        S.DISPOSED,
        S.REMOVED,
        S.RETIRED,
        S.COLLECTED,
        S.IN_TRANSIT,
    }
    assert {v.state for v in views.values() if v.kind == S.VEHICLE} >= {
        S.IN_SERVICE,
        S.SCRAPPED,
    }


def test_every_role_reports_except_the_regulators() -> None:
    enterprises, events = sample()
    roles_of = {e["uscc"]: set(e["roles"]) for e in enterprises}
    reporting = {r for who, _ in events for r in roles_of[who]}
    assert reporting == ROLES - {"regulator_national", "regulator_provincial"}


def test_cascade_products_and_material_balance() -> None:
    masses: dict[str, float] = {}
    for _, ev in parsed():
        if ev.biz_step == "commissioning" and ev.ilmd:
            for epc in ev.epc_list:
                masses[epc] = ev.ilmd["battrace:massKg"]
        if ev.biz_step == vocab.BIZSTEP_RECODING:
            assert len(ev.output_epcs) == 1
            assert ev.ilmd is not None
            assert ev.ilmd["battrace:ratedCapacityAh"] > 0
        if ev.biz_step == vocab.BIZSTEP_RECYCLING:
            outputs = {
                q.epc_class.rsplit(":", 1)[1]: q.quantity or 0.0 for q in ev.output_quantities
            }
            assert outputs["black_mass"] > 0 and outputs["copper"] > 0
            assert all(q.uom == "KGM" for q in ev.output_quantities)
            module_kg = sum(masses[m] for m in ev.input_epcs)
            assert sum(outputs.values()) <= module_kg * 1.001
        if ev.biz_step == "disassembling" and ev.input_epcs[0] in masses:
            assert ev.output_epcs  # modules come out of the pack
            parts = sum(q.quantity or 0.0 for q in ev.output_quantities)
            module_kg = sum(masses[m] for m in ev.output_epcs)
            assert parts + module_kg == pytest.approx(masses[ev.input_epcs[0]], rel=0.01)


def test_cells_per_module_is_configurable() -> None:
    cfg = DemoConfig(modules_per_pack=(10, 10), cells_per_module=(10, 10))
    events = list(itertools.islice(generate(3, seed=1, config=cfg).events, 40))
    first = events[0][1]
    assert first["bizStep"] == "commissioning"
    assert len(first["epcList"]) == 100
    assembling = [e for _, e in events if e["bizStep"] == "assembling"]
    assert len(assembling[0]["childEPCs"]) == 10
    with pytest.raises(ValueError):
        DemoConfig(cells_per_module=(0, 3))


def test_the_stream_is_lazy() -> None:
    data = generate(100_000, seed=2)
    assert isinstance(data, DemoData)
    head = list(itertools.islice(data.events, 200))
    assert len(head) == 200


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        generate(-1, seed=1)
    with pytest.raises(ValueError):
        generate(1, seed=1, start=date(2020, 1, 1), end=date(2020, 1, 1))
    assert list(generate(0, seed=1).events) == []


def test_cst_is_china_standard_time() -> None:
    assert timezone(timedelta(hours=8)) == CST


@pytest.mark.slow
def test_memory_stays_small_per_pack() -> None:
    # Streaming: only packs with events still ahead are held, each as a few hundred bytes of
    # generator state plus one pending event (measured ~2 kB; 100,000 packs peak < 200 MB RSS).
    import tracemalloc

    data = generate(5_000, seed=4)
    tracemalloc.start()
    try:
        count = sum(1 for _ in data.events)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count > 50_000
    assert peak / 5_000 < 5_000, f"{peak / 5_000:.0f} bytes per pack"
