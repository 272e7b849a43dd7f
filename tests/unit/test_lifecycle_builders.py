"""The event builders produce exactly the agreed EPCIS 2.0 JSON-LD shapes (docs/epcis-mapping.md)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from battrace.domain.epcis import vocab
from battrace.domain.epcis.event import parse_event
from battrace.domain.errors import InvalidInput
from battrace.domain.identities.gbt34014 import format_battery_code, format_cascade_code
from battrace.domain.identities.uris import check_uri
from battrace.domain.identities.uscc import make_uscc
from battrace.domain.identities.vin import make_vin
from battrace.domain.lifecycle import builders as b
from battrace.domain.recycling.grading import (
    PRETREAT,
    default_grading_policy,
    grade,
    safety_checklist,
)
from battrace.services import recycling
from tests.reference_data import EPCIS

MAKER = make_uscc("350900", "58752778")
OUTLET = make_uscc("320500", "41234567")
SITE = b.site_uri(MAKER, "plant1")
OUTLET_SITE = b.site_uri(OUTLET, "depot1")
DAY = date(2024, 3, 5)
T = datetime(2024, 3, 5, 1, 30, tzinfo=UTC)  # 09:30 in China
PACK = format_battery_code("ABC", "P", "B", "01", "A1B2C3D", DAY, 1)
MODULES = [format_battery_code("ABC", "M", "B", "01", "A1B2C3D", DAY, i) for i in (1, 2)]
VIN = make_vin("LSV", "AB123", "R", "A", 1)
CASCADE = format_cascade_code("CAS", "P", "B", "01", date(2025, 5, 1), 1)
SCHEMA = EPCIS / "EPCIS-JSON-Schema.json"


def every_step() -> dict[str, dict[str, Any]]:
    kw: dict[str, Any] = {"site": SITE, "time": T}
    return {
        "commission": b.commission(PACK, attributes={"chemistry": "LFP", "massKg": 400}, **kw),
        "assemble": b.assemble(PACK, MODULES, **kw),
        "install": b.install(PACK, VIN, **kw),
        "sell": b.sell(VIN, PACK, invoice="INV-1", **kw),
        "repair": b.repair(PACK, vin=VIN, **kw),
        "remove": b.remove(PACK, VIN, **kw),
        "replace": b.replace(PACK, VIN, **kw),
        "scrap_vehicle": b.scrap_vehicle(VIN, certificate="2024-000001", pack=PACK, **kw),
        "retire": b.retire(PACK, **kw),
        "ship": b.ship(PACK, sender=MAKER, receiver=OUTLET, desadv="D-1", **kw),
        "receive": b.receive(PACK, sender=MAKER, receiver=OUTLET, **kw),
        "collect": b.collect(PACK, sender=MAKER, receiver=OUTLET, **kw),
        "inspect": b.inspect(
            PACK, capacity_ah=120, rated_ah=150, resistance_mohm=85, voltage_v=352, **kw
        ),
        "recode": b.recode(PACK, CASCADE, attributes={"ratedCapacityAh": 120}, **kw),
        "dismantle": b.dismantle(PACK, MODULES, parts_kg={"steel": 30.5}, **kw),
        "recycle": b.recycle(MODULES, {"black_mass": 150.0, "copper": 20.25}, **kw),
        "dispose": b.dispose(PACK, **kw),
    }


@pytest.mark.parametrize("step", sorted(every_step()))
def test_every_builder_yields_a_valid_event(step: str) -> None:
    raw = every_step()[step]
    ev = parse_event(raw, check_uri=check_uri)
    assert ev.read_point == ev.biz_location == SITE
    assert raw["eventTime"] == "2024-03-05T09:30:00.000+08:00"
    assert raw["eventTimeZoneOffset"] == "+08:00"
    assert ev.biz_step is not None


@pytest.mark.parametrize(
    ("step", "shape"),
    [
        ("commission", ("ObjectEvent", "ADD", "commissioning", "active")),
        ("assemble", ("AssociationEvent", "ADD", "assembling", None)),
        ("install", ("AssociationEvent", "ADD", "installing", None)),
        ("sell", ("ObjectEvent", "OBSERVE", "retail_selling", "retail_sold")),
        ("repair", ("ObjectEvent", "OBSERVE", "repairing", None)),
        ("remove", ("AssociationEvent", "DELETE", "removing", "needs_replacement")),
        ("replace", ("AssociationEvent", "ADD", "replacing", None)),
        ("scrap_vehicle", ("ObjectEvent", "OBSERVE", "decommissioning", "inactive")),
        ("retire", ("ObjectEvent", "OBSERVE", "decommissioning", "inactive")),
        ("ship", ("ObjectEvent", "OBSERVE", "shipping", "in_transit")),
        ("receive", ("ObjectEvent", "OBSERVE", "receiving", None)),
        ("collect", ("ObjectEvent", "OBSERVE", "collecting", "disposed")),
        ("inspect", ("ObjectEvent", "OBSERVE", "inspecting", None)),
        ("recode", ("TransformationEvent", None, vocab.BIZSTEP_RECODING, None)),
        ("dismantle", ("TransformationEvent", None, "disassembling", None)),
        ("recycle", ("TransformationEvent", None, vocab.BIZSTEP_RECYCLING, None)),
        ("dispose", ("ObjectEvent", "OBSERVE", "destroying", "destroyed")),
    ],
)
def test_mapping_table(step: str, shape: tuple[str, str | None, str, str | None]) -> None:
    raw = every_step()[step]
    assert (raw["type"], raw.get("action"), raw["bizStep"], raw.get("disposition")) == shape


def test_identifiers_are_wrapped_as_uris() -> None:
    steps = every_step()
    assert steps["commission"]["epcList"] == [f"urn:gbt34014:{PACK}"]
    assert steps["install"]["parentID"] == f"urn:vin:{VIN}"
    assert steps["sell"]["epcList"] == [f"urn:vin:{VIN}", f"urn:gbt34014:{PACK}"]
    assert steps["assemble"]["childEPCs"] == [f"urn:gbt34014:{m}" for m in MODULES]
    # Already-wrapped identifiers pass unchanged.
    again = b.ship(
        f"urn:gbt34014:{PACK}", sender=f"urn:uscc:{MAKER}", receiver=OUTLET, site=SITE, time=T
    )
    assert again["epcList"] == [f"urn:gbt34014:{PACK}"]
    assert again["sourceList"][0]["source"] == f"urn:uscc:{MAKER}"


def test_commissioning_attributes_go_to_ilmd_under_the_battrace_prefix() -> None:
    raw = every_step()["commission"]
    assert raw["ilmd"] == {"battrace:chemistry": "LFP", "battrace:massKg": 400}
    assert "ilmd" not in b.commission(PACK, site=SITE, time=T)


def test_ship_names_sender_and_receiver_as_owner_and_possessor() -> None:
    raw = every_step()["ship"]
    assert raw["sourceList"] == [
        {"type": "owning_party", "source": f"urn:uscc:{MAKER}"},
        {"type": "possessing_party", "source": f"urn:uscc:{MAKER}"},
    ]
    assert raw["destinationList"] == [
        {"type": "owning_party", "destination": f"urn:uscc:{OUTLET}"},
        {"type": "possessing_party", "destination": f"urn:uscc:{OUTLET}"},
    ]
    assert raw["bizTransactionList"] == [
        {"type": "desadv", "bizTransaction": "urn:battrace:desadv:D-1"}
    ]
    ev = parse_event(raw)
    assert ev.destination_possessor == f"urn:uscc:{OUTLET}"


def test_scrapping_carries_the_certificate_as_private_transaction() -> None:
    raw = every_step()["scrap_vehicle"]
    assert raw["bizTransactionList"] == [
        {
            "type": vocab.BTT_SCRAPPING_CERTIFICATE,
            "bizTransaction": "urn:battrace:scrapcert:2024-000001",
        }
    ]


def test_inspection_sensor_reports() -> None:
    raw = every_step()["inspect"]
    reports = raw["sensorElementList"][0]["sensorReport"]
    assert {r["type"]: (r["value"], r["uom"]) for r in reports} == {
        "Voltage": (352, "VLT"),
        "Resistance": (0.085, "OHM"),
        "ElectricCharge": (120, "AMH"),
        "Dimensionless": (80.0, "P1"),
    }
    assert reports[2]["battrace:ratedCapacityAh"] == 150
    explicit = b.inspect(
        PACK,
        capacity_ah=1,
        rated_ah=2,
        resistance_mohm=1,
        voltage_v=1,
        soh_pct=77.7,
        site=SITE,
        time=T,
    )
    assert explicit["sensorElementList"][0]["sensorReport"][3]["value"] == 77.7
    with pytest.raises(InvalidInput):
        b.inspect(
            PACK, capacity_ah=1, rated_ah=0, resistance_mohm=1, voltage_v=1, site=SITE, time=T
        )


def test_inspection_with_temperature_and_safety_checklist_is_gradable() -> None:
    checks = safety_checklist("swelling")
    raw = b.inspect(
        PACK,
        capacity_ah=120,
        rated_ah=150,
        resistance_mohm=85,
        voltage_v=352,
        temperature_c=25,
        safety_checks=checks,
        site=SITE,
        time=T,
    )
    reports = raw["sensorElementList"][0]["sensorReport"]
    assert reports[-1] == {"type": "Temperature", "value": 25, "uom": "CEL"}
    assert raw["battrace:safetyChecks"] == {
        "leakage": False,
        "swelling": True,
        "smoke_or_fire": False,
        "shell_damage": False,
    }
    test = recycling.test_from_event(raw, {})
    assert test.temperature_c == 25 and test.safety_checks == checks
    assert grade(test, default_grading_policy()).grade == PRETREAT  # swollen: pre-treat first
    with pytest.raises(InvalidInput, match="safety_failed"):
        safety_checklist("leakage, wobbling")
    with pytest.raises(InvalidInput, match="safety_checks"):
        b.inspect(
            PACK,
            capacity_ah=1,
            rated_ah=2,
            resistance_mohm=1,
            voltage_v=1,
            safety_checks={"leakage": "no"},  # type: ignore[dict-item]
            site=SITE,
            time=T,
        )


def test_transformations() -> None:
    steps = every_step()
    recode = steps["recode"]
    assert recode["inputEPCList"] == [f"urn:gbt34014:{PACK}"]
    assert recode["outputEPCList"] == [f"urn:gbt34014:{CASCADE}"]
    assert recode["ilmd"] == {"battrace:ratedCapacityAh": 120}
    assert steps["dismantle"]["outputQuantityList"] == [
        {"epcClass": "urn:battrace:material:steel", "quantity": 30.5, "uom": "KGM"}
    ]
    assert steps["recycle"]["outputQuantityList"][1] == {
        "epcClass": "urn:battrace:material:copper",
        "quantity": 20.25,
        "uom": "KGM",
    }
    loose = b.recycle([], {"black_mass": 1}, inputs_kg={"black_mass": 2}, site=SITE, time=T)
    assert "inputEPCList" not in loose
    assert loose["inputQuantityList"][0]["quantity"] == 2
    parse_event(loose, check_uri=check_uri)
    with pytest.raises(InvalidInput):
        b.recycle(MODULES, {}, site=SITE, time=T)
    with pytest.raises(InvalidInput):
        b.recycle([], {"copper": 1}, site=SITE, time=T)
    with pytest.raises(InvalidInput):
        b.dismantle(PACK, site=SITE, time=T)


def test_times_are_rendered_in_the_offset_with_milliseconds() -> None:
    assert b.timestamp(datetime(2024, 1, 1, 16, 0, 0, 123456, tzinfo=UTC)) == (
        "2024-01-02T00:00:00.123+08:00"
    )
    tokyo = timezone(timedelta(hours=9))
    assert b.timestamp(datetime(2024, 1, 1, 9, tzinfo=tokyo), "-05:30") == (
        "2023-12-31T18:30:00.000-05:30"
    )
    raw = b.retire(PACK, site=SITE, time=T, offset="+00:00")
    assert (raw["eventTime"], raw["eventTimeZoneOffset"]) == (
        "2024-03-05T01:30:00.000+00:00",
        "+00:00",
    )
    with pytest.raises(InvalidInput, match="timezone-aware"):
        b.retire(PACK, site=SITE, time=datetime(2024, 1, 1))
    with pytest.raises(InvalidInput, match="offset"):
        b.retire(PACK, site=SITE, time=T, offset="0800")


def test_bad_arguments() -> None:
    with pytest.raises(InvalidInput, match="site"):
        b.retire(PACK, site="plant1", time=T)
    with pytest.raises(InvalidInput, match="at least one"):
        b.retire([], site=SITE, time=T)


def test_error_declaration_copies_the_event() -> None:
    original = every_step()["install"]
    retract = b.declare_error(
        original,
        time=T + timedelta(days=1),
        reason="incorrect_data",
        corrective_event_ids=["ni:///sha-256;abc?ver=CBV2.0"],
    )
    assert "errorDeclaration" not in original
    assert retract["errorDeclaration"] == {
        "declarationTime": "2024-03-06T09:30:00.000+08:00",
        "reason": "incorrect_data",
        "correctiveEventIDs": ["ni:///sha-256;abc?ver=CBV2.0"],
    }
    assert {k: v for k, v in retract.items() if k != "errorDeclaration"} == original
    assert parse_event(retract).error_declaration is not None


def test_document_and_standalone_event() -> None:
    events = list(every_step().values())
    doc = b.document(events, creation_date=T, sender=MAKER)
    assert doc["@context"] == [
        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        {"battrace": "https://battrace.org/voc/"},
    ]
    assert doc["type"] == "EPCISDocument"
    assert doc["schemaVersion"] == "2.0"
    assert doc["creationDate"] == "2024-03-05T09:30:00.000+08:00"
    assert doc["sender"] == f"urn:uscc:{MAKER}"
    assert doc["epcisBody"]["eventList"] == events
    one = b.standalone(events[0])
    assert one["@context"] == doc["@context"]
    assert {k: v for k, v in one.items() if k != "@context"} == events[0]


@pytest.mark.skipif(not SCHEMA.exists(), reason="GS1 reference schema not available")
def test_document_validates_against_the_gs1_json_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    doc = b.document(list(every_step().values()), creation_date=T)
    errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]
    assert errors == []
