"""The ledger end to end on real SQLite and PostgreSQL: capture, projections, duplicates, atomicity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from battrace.domain.lifecycle import builders as b
from battrace.persistence.base import Store
from battrace.services.capture import Ledger
from battrace.services.trace import trace
from battrace.services.verify import verify
from tests import scenario as sc


@pytest.fixture
def ledger(store: Store) -> Ledger:
    sc.register_all(store)
    return Ledger(store)


def test_production_assembly_and_sale_are_projected(ledger: Ledger, store: Store) -> None:
    res = ledger.capture_document(sc.doc(*sc.production()), sc.MAKER)
    assert res.ok and res.captured == 5
    assert ledger.capture_document(
        sc.doc(b.install(sc.PACK, sc.VIN, site=sc.site(sc.AUTOMAKER), time=sc.at(10))), sc.AUTOMAKER
    ).ok
    assert ledger.capture_document(
        sc.doc(b.sell(sc.VIN, sc.PACK, site=sc.site(sc.DEALER), time=sc.at(20))), sc.DEALER
    ).ok

    pack = trace(store, sc.PACK)
    assert pack["state"] == "in_service"
    assert pack["vehicle"] == sc.VIN
    assert [c["code"] for c in pack["children"]] == [sc.MODULE]
    assert sorted(c["code"] for c in pack["children"][0]["children"]) == sorted(sc.CELLS)
    assert [e["bizStep"] for e in pack["events"]] == [
        "commissioning",
        "assembling",
        "installing",
        "retail_selling",
    ]
    cell = trace(store, sc.CELLS[0])
    assert cell["state"] == "assembled"
    assert cell["parent"] == f"urn:gbt34014:{sc.MODULE}"
    assert cell["vehicle"] == sc.VIN  # found by walking up cell → module → pack → vehicle
    assert [a["code"] for a in cell["ancestors"]] == [sc.MODULE, sc.PACK, sc.VIN]
    assert verify(store).ok


def test_duplicates_are_reported_not_stored(ledger: Ledger, store: Store) -> None:
    data = sc.doc(*sc.production())
    first = ledger.capture_document(data, sc.MAKER)
    head = store.head()
    again = ledger.capture_document(data, sc.MAKER)
    assert again.ok and again.captured == 0 and len(again.duplicates) == 5
    assert [d[1] for d in again.duplicates] == first.event_ids
    assert store.head() == head  # the chain did not move


def test_duplicate_inside_one_document_is_stored_once(ledger: Ledger, store: Store) -> None:
    ev = sc.production()[0]
    res = ledger.capture_document(sc.doc(ev, dict(reversed(list(ev.items())))), sc.MAKER)
    assert res.captured == 1 and [i for i, _ in res.duplicates] == [1]


def test_one_bad_event_rejects_the_whole_capture(ledger: Ledger, store: Store) -> None:
    events = sc.production()
    events[3]["childEPCs"][1] = "urn:gbt34014:NOT-A-CODE"
    events[1]["eventTime"] = "2024-03-05T10:00:00"  # no offset
    res = ledger.capture_document(sc.doc(*events), sc.MAKER)
    assert not res.ok and res.captured == 0
    assert [(p.index, p.field.split(" ")[0]) for p in res.rejected] == [
        (1, "epcisBody.eventList[1].eventTime"),
        (3, "epcisBody.eventList[3].childEPCs[1]"),
    ]
    assert store.head().event_count == 0
    assert store.get_view(f"urn:gbt34014:{sc.PACK}") is None


def test_commissioning_another_makers_code_is_refused(ledger: Ledger, store: Store) -> None:
    res = ledger.capture_document(sc.doc(*sc.production(sc.OTHER_MAKER)), sc.OTHER_MAKER)
    assert not res.ok
    assert "registered to" in res.rejected[0].reason and sc.MAKER in res.rejected[0].reason
    assert store.head().event_count == 0


def test_reporting_from_another_enterprises_site_is_refused(ledger: Ledger) -> None:
    ev = b.install(sc.PACK, sc.VIN, site=sc.site(sc.AUTOMAKER), time=sc.at(10))
    res = ledger.capture_document(sc.doc(ev), sc.DEALER)
    assert not res.ok and res.rejected[0].field.endswith("readPoint.id")


def test_unregistered_enterprise_is_refused(ledger: Ledger) -> None:
    res = ledger.capture_document(sc.doc(*sc.production()), "91350100M000100Y43")
    assert not res.ok and res.rejected[0].field == "enterprise"


def test_late_arriving_earlier_event_rederives_state(ledger: Ledger, store: Store) -> None:
    ledger.capture_document(sc.doc(*sc.production()), sc.MAKER)
    # The sale is reported before the installation that happened earlier.
    ledger.capture_document(
        sc.doc(b.sell(sc.VIN, sc.PACK, site=sc.site(sc.DEALER), time=sc.at(20))), sc.DEALER
    )
    ledger.capture_document(
        sc.doc(b.install(sc.PACK, sc.VIN, site=sc.site(sc.AUTOMAKER), time=sc.at(10))), sc.AUTOMAKER
    )
    pack = trace(store, sc.PACK)
    assert pack["state"] == "in_service"
    assert pack["parent"] == f"urn:vin:{sc.VIN}"
    assert [e["bizStep"] for e in pack["events"]][-2:] == ["installing", "retail_selling"]


def test_contradictions_are_accepted_and_recorded(ledger: Ledger, store: Store) -> None:
    ledger.capture_document(sc.doc(*sc.production()), sc.MAKER)
    s = sc.site(sc.AUTOMAKER)
    res = ledger.capture_document(
        sc.doc(
            b.install(sc.PACK, sc.VIN, site=s, time=sc.at(10)),
            b.install(sc.PACK, sc.VIN2, site=s, time=sc.at(11)),
        ),
        sc.AUTOMAKER,
    )
    assert res.ok and res.captured == 2
    reasons = [i["reason"] for i in trace(store, sc.PACK)["inconsistencies"]]
    assert len(reasons) == 1 and sc.VIN in reasons[0]


def test_error_declaration_retracts_an_event(ledger: Ledger, store: Store) -> None:
    ledger.capture_document(sc.doc(*sc.production()), sc.MAKER)
    install = b.install(sc.PACK, sc.VIN, site=sc.site(sc.AUTOMAKER), time=sc.at(10))
    first = ledger.capture_document(sc.doc(install), sc.AUTOMAKER)
    assert trace(store, sc.PACK)["state"] == "installed"
    retract = b.declare_error(install, time=sc.at(30), reason="did_not_occur")
    res = ledger.capture_document(sc.doc(retract), sc.AUTOMAKER)
    assert (
        res.ok and res.event_ids == first.event_ids
    )  # same Event Hash ID, stored as a declaration
    pack = trace(store, sc.PACK)
    assert pack["state"] == "produced" or pack["state"] == "assembled"
    assert pack["parent"] == f"urn:gbt34014:{sc.MODULE}" or pack["parent"] is None
    flags = [(e["bizStep"], e["retracted"], e["errorDeclaration"]) for e in pack["events"]]
    assert ("installing", True, False) in flags and ("installing", False, True) in flags
    assert verify(store).ok


def test_json_lines_capture_in_batches(ledger: Ledger, store: Store) -> None:
    lines = [orjson.dumps(e) + b"\n" for e in sc.production()]
    lines.insert(2, b"\n")
    results = list(ledger.capture_json_lines(lines, sc.MAKER, batch_size=2))
    assert [r.captured for r in results] == [2, 2, 1]
    assert [r.label for r in results] == ["lines 1-2", "lines 4-5", "lines 6-6"]
    assert store.head().event_count == 5 and store.head().capture_seq == 3


def test_bad_json_line_rejects_its_batch_only(ledger: Ledger, store: Store) -> None:
    lines = [orjson.dumps(e) for e in sc.production()]
    lines[3] = b'{"type": "ObjectEvent",'
    results = list(ledger.capture_json_lines(lines, sc.MAKER, batch_size=2))
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].rejected[0].field == "line 4"
    assert store.head().event_count == 3


def test_future_event_time_is_refused(ledger: Ledger) -> None:
    ev = sc.production()[0]
    ev["eventTime"] = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    res = ledger.capture_document(sc.doc(ev), sc.MAKER)
    assert not res.ok and "future" in res.rejected[0].reason
