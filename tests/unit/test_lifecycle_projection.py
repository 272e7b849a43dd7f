"""State transitions, holder rules, inconsistencies and replay of the per-object projection."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest

from battrace.domain.epcis.event import Event, parse_event
from battrace.domain.identities.gbt34014 import format_battery_code, format_cascade_code
from battrace.domain.identities.uscc import make_uscc
from battrace.domain.identities.vin import make_vin
from battrace.domain.lifecycle import builders as b
from battrace.domain.lifecycle import states as S
from battrace.domain.lifecycle.projection import (
    ObjectView,
    apply,
    apply_event,
    is_late,
    new_view,
    replay,
)

MAKER = make_uscc("350900", "58752778")
AUTOMAKER = make_uscc("440300", "19234567")
DEALER = make_uscc("440300", "27654321")
REPAIRER = make_uscc("320500", "11234567")
DISMANTLER = make_uscc("320500", "31234567")
OUTLET = make_uscc("320500", "41234567")
CASCADE = make_uscc("430100", "51234567")
RECYCLER = make_uscc("430100", "61234567")
DAY = date(2024, 3, 5)
T0 = datetime(2024, 3, 5, 1, 0, tzinfo=UTC)


def code(kind: str, serial: int) -> str:
    return format_battery_code("ABC", kind, "B", "01", "A1B2C3D", DAY, serial)


CELLS = [code("C", i) for i in (1, 2)]
MODULES = [code("M", i) for i in (1, 2)]
PACK = code("P", 1)
PACK2 = code("P", 2)
VIN = make_vin("LSV", "AB123", "R", "A", 1)
VIN2 = make_vin("LSV", "AB123", "R", "A", 2)
CASCADE_CODE = format_cascade_code("CAS", "P", "B", "01", date(2025, 5, 1), 1)


def uri(c: str) -> str:
    return ("urn:vin:" if len(c) == 17 else "urn:gbt34014:") + c


def site(uscc: str) -> str:
    return b.site_uri(uscc, "s1")


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


class World:
    """Applies built events in order and keeps every view and inconsistency."""

    def __init__(self) -> None:
        self.views: dict[str, ObjectView] = {}
        self.found: list[tuple[str, str]] = []
        self.n = 0

    def __call__(self, raw: dict[str, Any]) -> Event:
        ev = parse_event(raw)
        self.n += 1
        ev.event_id = f"e{self.n}"
        self.found.extend(apply_event(ev, self.views))
        return ev

    def __getitem__(self, c: str) -> ObjectView:
        return self.views[uri(c)]


def produce(w: World) -> None:
    s = site(MAKER)
    w(b.commission(CELLS, site=s, time=at(0), attributes={"chemistry": "LFP"}))
    w(b.commission(MODULES, site=s, time=at(1)))
    w(b.commission(PACK, site=s, time=at(2), attributes={"massKg": 400.5}))
    w(b.assemble(MODULES[0], CELLS, site=s, time=at(3)))
    w(b.assemble(PACK, MODULES, site=s, time=at(4)))


def in_service(w: World) -> None:
    produce(w)
    w(b.install(PACK, VIN, site=site(AUTOMAKER), time=at(10)))
    w(b.sell(VIN, PACK, site=site(DEALER), time=at(20)))


# --- transitions ----------------------------------------------------------------------------------


def test_production_and_assembly() -> None:
    w = World()
    produce(w)
    assert w.found == []
    pack, module, cell = w[PACK], w[MODULES[0]], w[CELLS[0]]
    assert (pack.state, pack.commissioned, pack.parent) == (S.PRODUCED, True, None)
    assert pack.attributes == {"massKg": 400.5}
    assert cell.attributes == {"chemistry": "LFP"}
    assert (module.state, module.parent) == (S.ASSEMBLED, uri(PACK))
    assert (cell.state, cell.parent) == (S.ASSEMBLED, uri(MODULES[0]))
    assert pack.holder == f"urn:uscc:{MAKER}"
    assert pack.location == site(MAKER)
    assert pack.first_event_time == at(2)
    assert pack.last_event_time == at(4)
    assert pack.last_event_id == "e5"
    assert pack.kind == S.BATTERY


def test_installation_and_sale() -> None:
    w = World()
    produce(w)
    w(b.install(PACK, VIN, site=site(AUTOMAKER), time=at(10)))
    pack, car = w[PACK], w[VIN]
    assert (pack.state, pack.parent, pack.vehicle) == (S.INSTALLED, uri(VIN), uri(VIN))
    assert (car.kind, car.state, car.attributes) == (S.VEHICLE, S.PRODUCED, {"pack": uri(PACK)})
    assert not car.commissioned
    w(b.sell(VIN, PACK, site=site(DEALER), time=at(20)))
    assert (w[PACK].state, w[VIN].state) == (S.IN_SERVICE, S.IN_SERVICE)
    assert w[PACK].holder == w[VIN].holder == f"urn:uscc:{DEALER}"
    assert w.found == []  # a vehicle needs no commissioning event


def test_repair_and_replacement() -> None:
    w = World()
    in_service(w)
    w(b.commission(PACK2, site=site(MAKER), time=at(30)))
    w(b.repair(PACK, vin=VIN, site=site(REPAIRER), time=at(40)))
    assert w[PACK].state == S.IN_SERVICE
    assert w[PACK].holder == f"urn:uscc:{REPAIRER}"
    w(b.remove(PACK, VIN, site=site(REPAIRER), time=at(50)))
    old = w[PACK]
    assert (old.state, old.parent, old.vehicle) == (S.REMOVED, None, None)
    assert "pack" not in w[VIN].attributes
    w(b.replace(PACK2, VIN, site=site(REPAIRER), time=at(51)))
    new = w[PACK2]
    assert (new.state, new.parent, new.vehicle) == (S.IN_SERVICE, uri(VIN), uri(VIN))
    assert w[VIN].attributes["pack"] == uri(PACK2)
    w(b.retire(PACK, site=site(REPAIRER), time=at(52)))
    assert w[PACK].state == S.RETIRED
    assert w.found == []


def test_scrapping_keeps_the_pack_until_it_is_removed_and_retired() -> None:
    w = World()
    in_service(w)
    s = site(DISMANTLER)
    w(b.scrap_vehicle(VIN, site=s, time=at(100), certificate="C-1", pack=PACK))
    car = w[VIN]
    assert car.state == S.SCRAPPED
    assert car.attributes["scrapCertificate"] == "urn:battrace:scrapcert:C-1"
    assert (w[PACK].state, w[PACK].vehicle) == (S.IN_SERVICE, uri(VIN))
    assert w[PACK].holder == f"urn:uscc:{DISMANTLER}"
    w(b.remove(PACK, VIN, site=s, time=at(101), disposition=None))
    assert (w[PACK].state, w[PACK].vehicle) == (S.REMOVED, None)
    w(b.retire(PACK, site=s, time=at(102)))
    assert w[PACK].state == S.RETIRED
    assert w.found == []


def test_shipping_receiving_and_collection() -> None:
    w = World()
    in_service(w)
    w(b.retire(PACK, site=site(DISMANTLER), time=at(30)))
    w(b.ship(PACK, sender=DISMANTLER, receiver=OUTLET, site=site(DISMANTLER), time=at(31)))
    p = w[PACK]
    assert (p.state, p.resting_state) == (S.IN_TRANSIT, S.RETIRED)
    assert p.holder == f"urn:uscc:{DISMANTLER}"  # possession moves on receipt only
    w(b.collect(PACK, sender=DISMANTLER, site=site(OUTLET), time=at(32)))
    assert (w[PACK].state, w[PACK].holder) == (S.COLLECTED, f"urn:uscc:{OUTLET}")
    w(b.ship(PACK, sender=OUTLET, receiver=CASCADE, site=site(OUTLET), time=at(33)))
    w(b.receive(PACK, site=site(CASCADE), time=at(34)))
    p = w[PACK]
    assert (p.state, p.resting_state) == (S.COLLECTED, S.COLLECTED)  # back to its resting state
    assert p.holder == f"urn:uscc:{CASCADE}"
    assert p.location == site(CASCADE)
    assert w.found == []


def test_receiving_holder_is_the_destination_possessor() -> None:
    w = World()
    produce(w)
    # A logistics hub reports receipt on behalf of the automaker named as destination.
    hub = make_uscc("440300", "88888888")
    w(b.receive(PACK, receiver=AUTOMAKER, site=site(hub), time=at(10)))
    assert w[PACK].holder == f"urn:uscc:{AUTOMAKER}"
    assert w[PACK].location == site(hub)
    assert w[PACK].state == S.PRODUCED  # no prior shipping: no state change, no inconsistency
    assert w.found == []


def test_inspection_remembers_the_latest_measurement() -> None:
    w = World()
    produce(w)
    s = site(CASCADE)
    kw: dict[str, Any] = {"rated_ah": 150, "resistance_mohm": 90, "voltage_v": 350, "site": s}
    w(b.inspect(PACK, capacity_ah=120, time=at(10), **kw))
    w(b.inspect(PACK, capacity_ah=105, time=at(11), **kw))
    p = w[PACK]
    assert p.state == S.PRODUCED
    assert p.attributes["soh"] == 70.0
    assert p.attributes["measuredCapacityAh"] == 105
    assert p.attributes["resistanceOhm"] == 0.09
    assert p.attributes["voltageV"] == 350
    assert p.attributes["inspectedAt"] == at(11).isoformat()


def test_cascade_recoding_commissions_the_new_code() -> None:
    w = World()
    produce(w)
    attrs = {"ratedCapacityAh": 110.0, "chemistry": "LFP"}
    w(b.recode(PACK, CASCADE_CODE, site=site(CASCADE), time=at(10), attributes=attrs))
    old, new = w[PACK], w[CASCADE_CODE]
    assert old.state == S.CASCADE_USE
    assert old.attributes["recodedAs"] == uri(CASCADE_CODE)
    assert (new.state, new.commissioned) == (S.CASCADE_USE, True)
    assert new.attributes == {**attrs, "originals": [uri(PACK)]}
    assert new.holder == f"urn:uscc:{CASCADE}"
    assert w.found == []  # the transformation is the output's commissioning


def test_dismantling_recycling_and_disposal() -> None:
    w = World()
    produce(w)
    s = site(RECYCLER)
    w(b.dismantle(PACK, MODULES, site=s, time=at(10), parts_kg={"steel": 40}))
    assert w[PACK].state == S.DISMANTLED
    for m in MODULES:
        assert (w[m].state, w[m].parent) == (S.REMOVED, None)
    w(b.recycle(MODULES[0], {"black_mass": 50}, site=s, time=at(11)))
    assert w[MODULES[0]].state == S.RECYCLED
    w(b.dispose(MODULES[1], site=s, time=at(12)))
    assert w[MODULES[1]].state == S.DISPOSED
    assert w.found == []


def test_unknown_steps_only_move_the_object() -> None:
    w = World()
    produce(w)
    raw = b.repair(PACK, site=site(OUTLET), time=at(10))
    raw["bizStep"] = "storing"
    w(raw)
    assert w[PACK].state == S.PRODUCED
    assert (w[PACK].holder, w[PACK].location) == (f"urn:uscc:{OUTLET}", site(OUTLET))
    assert w[PACK].last_event_time == at(10)


def test_aggregation_events_assemble_like_associations() -> None:
    w = World()
    produce(w)
    raw = b.assemble(PACK2, [MODULES[0]], site=site(MAKER), time=at(10))
    raw["type"] = "AggregationEvent"
    w(raw)
    assert w[MODULES[0]].parent == uri(PACK2)


def test_locations_without_a_known_party_keep_the_holder() -> None:
    w = World()
    produce(w)
    raw = b.repair(PACK, site="urn:epc:id:sgln:0614141.07346.1234", time=at(10))
    w(raw)
    assert w[PACK].holder == f"urn:uscc:{MAKER}"
    assert w[PACK].location == "urn:epc:id:sgln:0614141.07346.1234"


# --- inconsistencies ------------------------------------------------------------------------------


def reasons(w: World, c: str) -> list[str]:
    return [r for epc, r in w.found if epc == uri(c)]


def test_pack_installed_in_a_second_vehicle() -> None:
    w = World()
    in_service(w)
    w(b.install(PACK, VIN, site=site(AUTOMAKER), time=at(25)))  # same vehicle again: fine
    assert w.found == []
    w(b.install(PACK, VIN2, site=site(AUTOMAKER), time=at(30)))
    assert reasons(w, PACK) == [f"installed in {uri(VIN2)} while still installed in {uri(VIN)}"]
    assert w[PACK].vehicle == uri(VIN2)  # accepted: the ledger is the truth


def test_replacing_into_a_second_vehicle_is_flagged_too() -> None:
    w = World()
    in_service(w)
    w(b.replace(PACK, VIN2, site=site(REPAIRER), time=at(30)))
    assert reasons(w, PACK) == [f"installed in {uri(VIN2)} while still installed in {uri(VIN)}"]


@pytest.mark.parametrize(
    ("finish", "state"),
    [
        (lambda s, t: b.recycle(MODULES[0], {"black_mass": 1}, site=s, time=t), S.RECYCLED),
        (lambda s, t: b.dispose(MODULES[0], site=s, time=t), S.DISPOSED),
        (lambda s, t: b.dismantle(MODULES[0], ["urn:x:y"], site=s, time=t), S.DISMANTLED),
    ],
)
def test_assembling_an_unusable_child(finish: Any, state: str) -> None:
    w = World()
    produce(w)
    w(finish(site(RECYCLER), at(10)))
    w(b.assemble(PACK2, [MODULES[0]], site=site(MAKER), time=at(11)))
    assert reasons(w, MODULES[0]) == [f"assembled into {uri(PACK2)} although it is {state}"]


@pytest.mark.parametrize(
    ("finish", "state"),
    [
        (lambda s, t: b.recycle(PACK, {"black_mass": 1}, site=s, time=t), S.RECYCLED),
        (lambda s, t: b.dispose(PACK, site=s, time=t), S.DISPOSED),
        (lambda s, t: b.dismantle(PACK, MODULES, site=s, time=t), S.DISMANTLED),
    ],
)
def test_installing_an_unusable_pack(finish: Any, state: str) -> None:
    w = World()
    produce(w)
    w(finish(site(RECYCLER), at(10)))
    w(b.install(PACK, VIN, site=site(AUTOMAKER), time=at(11)))
    # One reason per event: the specific one, not also "installing after … recycled".
    assert reasons(w, PACK) == [f"installed in {uri(VIN)} although it is {state}"]


def test_any_event_after_recycling_or_disposal() -> None:
    w = World()
    produce(w)
    w(b.recycle(PACK, {"black_mass": 100}, site=site(RECYCLER), time=at(10)))
    w(b.ship(PACK, sender=RECYCLER, receiver=OUTLET, site=site(RECYCLER), time=at(11)))
    assert reasons(w, PACK) == ["shipping after the object was recycled"]
    w2 = World()
    produce(w2)
    w2(b.dispose(PACK, site=site(RECYCLER), time=at(10)))
    w2(b.recycle(PACK, {"black_mass": 100}, site=site(RECYCLER), time=at(11)))
    assert reasons(w2, PACK) == ["recycling after the object was disposed"]


def test_commissioning_twice() -> None:
    w = World()
    produce(w)
    w(b.install(PACK, VIN, site=site(AUTOMAKER), time=at(10)))
    w(b.commission(PACK, site=site(MAKER), time=at(11), attributes={"massKg": 1}))
    assert reasons(w, PACK) == ["commissioned again; the code was already commissioned"]
    assert w[PACK].state == S.INSTALLED  # the first history is kept
    assert w[PACK].attributes == {"massKg": 400.5}
    w(b.recode(PACK2, PACK, site=site(CASCADE), time=at(12)))
    assert reasons(w, PACK)[-1] == "commissioned again; the code was already commissioned"


def test_first_event_must_be_the_commissioning_for_batteries_only() -> None:
    w = World()
    w(b.install(PACK, VIN, site=site(AUTOMAKER), time=at(10)))
    assert w.found == [(uri(PACK), "first event is installing, not its commissioning")]
    w2 = World()
    w2(b.recycle(PACK, {"black_mass": 1}, site=site(RECYCLER), time=at(10)))
    assert reasons(w2, PACK) == ["first event is recycling, not its commissioning"]


def test_error_declarations_are_skipped() -> None:
    w = World()
    in_service(w)
    before = w[PACK].to_row()
    wrong = b.install(PACK, VIN2, site=site(AUTOMAKER), time=at(30))
    ev = parse_event(b.declare_error(wrong, time=at(31)))
    assert apply(w.views[uri(PACK)], ev, "child") == []
    assert w[PACK].to_row() == before


# --- replay and storage ---------------------------------------------------------------------------


def lifecycle() -> list[dict[str, Any]]:
    s = site(MAKER)
    return [
        b.commission(PACK, site=s, time=at(0)),
        b.ship(PACK, sender=MAKER, receiver=AUTOMAKER, site=s, time=at(1)),
        b.receive(PACK, site=site(AUTOMAKER), time=at(2)),
        b.install(PACK, VIN, site=site(AUTOMAKER), time=at(3)),
        b.sell(VIN, PACK, site=site(DEALER), time=at(4)),
        b.scrap_vehicle(VIN, site=site(DISMANTLER), time=at(5), certificate="X", pack=PACK),
        b.remove(PACK, VIN, site=site(DISMANTLER), time=at(6), disposition=None),
        b.retire(PACK, site=site(DISMANTLER), time=at(7)),
        b.ship(PACK, sender=DISMANTLER, receiver=OUTLET, site=site(DISMANTLER), time=at(8)),
        b.collect(PACK, site=site(OUTLET), time=at(9)),
        b.ship(PACK, sender=OUTLET, receiver=RECYCLER, site=site(OUTLET), time=at(10)),
        b.receive(PACK, site=site(RECYCLER), time=at(11)),
        b.dismantle(PACK, MODULES, site=site(RECYCLER), time=at(12)),
    ]


def pairs(raws: list[dict[str, Any]], epc: str) -> list[tuple[Event, str]]:
    out = []
    for i, raw in enumerate(raws):
        ev = parse_event(raw)
        ev.event_id = f"e{i}"
        out.extend((ev, role) for e, role in ev.epcs_with_roles() if e == epc)
    return out


def test_replay_is_independent_of_arrival_order() -> None:
    items = pairs(lifecycle(), uri(PACK))
    expected, found = replay(uri(PACK), items)
    assert found == []
    assert expected.state == S.DISMANTLED
    assert expected.holder == f"urn:uscc:{RECYCLER}"
    rng = random.Random(4)
    for _ in range(20):
        shuffled = items[:]
        rng.shuffle(shuffled)
        view, found = replay(uri(PACK), shuffled)
        assert view == expected
        assert found == []


def test_a_late_earlier_event_rederives_the_state() -> None:
    items = pairs(lifecycle(), uri(PACK))
    commissioning, rest = items[0], items[1:]
    view = new_view(uri(PACK))
    found = [r for ev, role in rest for r in apply(view, ev, role)]
    assert found == ["first event is shipping, not its commissioning"]
    assert is_late(view, commissioning[0])
    assert not is_late(view, rest[-1][0])
    replayed, found = replay(uri(PACK), [*rest, commissioning])
    assert found == []
    assert replayed.commissioned
    assert replayed.first_event_time == at(0)


def test_events_at_the_same_time_keep_the_given_order() -> None:
    s = site(MAKER)
    raws = [
        b.commission(PACK, site=s, time=at(0)),
        b.ship(PACK, sender=MAKER, receiver=OUTLET, site=s, time=at(1)),
        b.collect(PACK, site=site(OUTLET), time=at(1)),
    ]
    view, _ = replay(uri(PACK), pairs(raws, uri(PACK)))
    assert view.state == S.COLLECTED
    view, _ = replay(uri(PACK), pairs([raws[0], raws[2], raws[1]], uri(PACK)))
    assert view.state == S.IN_TRANSIT
    assert view.last_event_id == "e2"


def test_replay_reports_event_ids() -> None:
    raws = [b.install(PACK, VIN, site=site(AUTOMAKER), time=at(1))]
    _, found = replay(uri(PACK), pairs(raws, uri(PACK)))
    assert found == [("e0", "first event is installing, not its commissioning")]


def test_views_round_trip_through_rows() -> None:
    w = World()
    in_service(w)
    w(
        b.inspect(
            PACK,
            capacity_ah=100,
            rated_ah=150,
            resistance_mohm=90,
            voltage_v=350,
            site=site(CASCADE),
            time=at(30),
        )
    )
    for view in w.views.values():
        row = view.to_row()
        assert set(row) == {
            "epc",
            "kind",
            "state",
            "holder",
            "location",
            "parent",
            "vehicle",
            "resting_state",
            "first_event_time",
            "last_event_time",
            "last_event_id",
            "commissioned",
            "attributes",
        }
        assert all(not isinstance(v, dict | list) for k, v in row.items() if k != "attributes")
        assert ObjectView.from_row(row) == view
        # Through JSON, as the projector stores it: datetimes come back as ISO strings.
        assert ObjectView.from_row(orjson.loads(orjson.dumps(row))) == view
        as_text = {**row, "attributes": orjson.dumps(row["attributes"]).decode()}
        assert ObjectView.from_row(as_text) == view
    # Naive UTC from a database is read as UTC.
    row = w[PACK].to_row()
    assert w[PACK].last_event_time is not None
    row["last_event_time"] = w[PACK].last_event_time.replace(tzinfo=None)
    assert ObjectView.from_row(row).last_event_time == w[PACK].last_event_time
    empty = ObjectView.from_row({"epc": uri(PACK)})
    assert (empty.kind, empty.state, empty.attributes) == (S.BATTERY, S.UNKNOWN, {})


def test_row_attributes_are_copies() -> None:
    view = new_view(uri(PACK))
    row = view.to_row()
    row["attributes"]["x"] = 1
    assert view.attributes == {}


# --- helpers --------------------------------------------------------------------------------------


def test_kind_and_party_of() -> None:
    assert S.kind_of(uri(PACK)) == S.BATTERY
    assert S.kind_of(uri(VIN)) == S.VEHICLE
    assert S.kind_of("https://example.org/obj/gbt34014/X") == S.BATTERY
    assert S.kind_of("urn:battrace:material:copper") == S.OTHER
    assert S.party_of(f"urn:uscc:{MAKER}:site:plant1") == f"urn:uscc:{MAKER}"
    assert S.party_of(f"urn:uscc:{MAKER}") == f"urn:uscc:{MAKER}"
    assert S.party_of("urn:epc:id:sgln:0614141.07346.1234") is None
    assert set(S.BATTERY_STATES) | set(S.VEHICLE_STATES) <= S.ALL_STATES
