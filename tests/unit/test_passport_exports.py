"""Mapping decisions of the three exporters, on passports built from builder events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from battrace.domain.lifecycle import builders as b
from battrace.domain.passport import Audience, Passport, build_passport, render
from battrace.domain.passport.export import set_pointer
from tests import scenario as sc
from tests.integration.test_passport_lifecycle import schema_problems
from tests.unit.test_passport_model import facts_for, in_service, production

LEGIT = Audience.LEGITIMATE


def _payload(p: Passport, model: str, aspect: str, audience: Audience = LEGIT) -> dict[str, Any]:
    doc: dict[str, Any] = render(p, model, audience)["aspects"][aspect]["payload"]
    return doc


def _missing(p: Passport, model: str, audience: Audience = LEGIT) -> dict[str, str]:
    return {m["path"]: m["reason"] for m in render(p, model, audience)["missing"]}


def test_battery_pass_identifier_and_warranty() -> None:
    p = build_passport(facts_for(sc.PACK, production(warrantyYears=8)))
    gpi = _payload(p, "batterypass", "GeneralProductInformation")
    hexid = p.passport_id.removeprefix("urn:uuid:").replace("-", "")
    assert gpi["batteryPassportIdentifier"] == f"urn:battrace:{hexid}"
    assert "warrentyPeriod" not in gpi
    assert "xsd:gMonth" in _missing(p, "batterypass")["GeneralProductInformation#/warrentyPeriod"]
    # The same warranty is expressible elsewhere.
    cx = _payload(p, "catenax", "BatteryPass")
    assert cx["characteristics"]["warranty"] == {"lifeValue": 8, "lifeUnit": "unit:year"}
    td = _payload(p, "idta", "TechnicalData")
    assert td["GeneralInformation"]["WarrantyInformation"]["WarrantyPeriod"] == "P8Y"


def test_categories_per_model() -> None:
    p = build_passport(facts_for(sc.PACK, production(batteryCategory="stationary")))
    assert _payload(p, "catenax", "BatteryPass")["identification"]["category"] == "industrial"
    gpi = _payload(p, "batterypass", "GeneralProductInformation")
    assert gpi["batteryCategory"] == "stationary"
    td = _payload(p, "idta", "TechnicalData")
    assert td["GeneralInformation"]["BatteryCategory"] == "stationary"


def test_recycled_content_per_model() -> None:
    shares = [
        {"material": "cobalt", "preConsumerPct": 4, "postConsumerPct": 12},
        {"material": "nickel", "postConsumerPct": 3},
    ]
    p = build_passport(facts_for(sc.PACK, production(recycledContent=shares)))
    circ = _payload(p, "batterypass", "Circularity", Audience.PUBLIC)
    assert circ["recycledContent"] == [
        {"recycledMaterial": "Cobalt", "preConsumerShare": 4, "postConsumerShare": 12},
        {"recycledMaterial": "Nickel", "postConsumerShare": 3},
    ]
    assert "Circularity#/recycledContent/1/preConsumerShare" in _missing(p, "batterypass")
    active = _payload(p, "catenax", "BatteryPass", Audience.PUBLIC)["materials"]["active"]
    assert active["cobalt"]["recycled"] == 16  # pre + post
    assert "nickel" not in active  # one share only: not summed into a total


def test_names_and_addresses_in_idta() -> None:
    p = build_passport(facts_for(sc.PACK, production()))
    nameplate = _payload(p, "idta", "BatteryNameplate", Audience.PUBLIC)
    assert nameplate["ManufacturerName"] == [{"zh": "示例电池"}]
    assert nameplate["AddressInformation"] == {"NationalCode": [{"en": "CN"}]}
    assert nameplate["SerialNumber"] == sc.PACK
    assert nameplate["UniqueFacilityIdentifier"] == sc.site(sc.MAKER)
    assert nameplate["DateOfManufacture"] == "2024-03-05"
    meta = _payload(p, "idta", "DppMetadata", Audience.PUBLIC)
    assert meta["granularity"] == "Item" and meta["dppStatus"] == "Active"
    assert meta["digitalProductPassportId"] == p.passport_id


def test_catenax_predecessor_needs_exactly_one_original() -> None:
    cas = sc.site(sc.CASCADE)
    events = [
        *production(),
        b.commission([sc.PACK2], site=sc.site(sc.MAKER), time=sc.at(3)),
        b.recode([sc.PACK, sc.PACK2], sc.CASCADE_CODE, site=cas, time=sc.at(50)),
    ]
    p = build_passport(facts_for(sc.CASCADE_CODE, events))
    assert len(p.get("predecessorPassports")) == 2
    meta = _payload(p, "catenax", "BatteryPass", Audience.PUBLIC)["metadata"]
    assert "predecessor" not in meta
    assert "several" in _missing(p, "catenax", Audience.PUBLIC)["BatteryPass#/metadata/predecessor"]


def test_hazardous_and_lead_entries_validate(reference_dir: Path) -> None:
    p = build_passport(
        facts_for(
            sc.PACK,
            in_service(
                recycledContent=[{"material": "lead", "preConsumerPct": 1, "postConsumerPct": 2}],
                hazardousSubstances=[
                    {"name": "cadmium", "cas": "7440-43-9", "concentrationPct": 0.001},
                    {"name": "electrolyte salt", "cas": "21324-40-3", "component": "electrolyte"},
                ],
                materials=[
                    {"name": "lead", "cas": "7439-92-1", "component": "cathode", "critical": False},
                    {"name": "lithium", "cas": "7439-93-2", "critical": True},
                ],
            ),
        )
    )
    for model in ("batterypass", "catenax", "idta"):
        for audience in Audience:
            assert schema_problems(render(p, model, audience), reference_dir) == []
    hazardous = _payload(p, "catenax", "BatteryPass")["materials"]["hazardous"]
    assert hazardous["cadmium"]["concentration"] == 0.001
    assert hazardous["cadmium"]["materialUnit"] == "unit:percent"
    assert "mercury" not in hazardous


def test_set_pointer_builds_objects_and_lists() -> None:
    doc: dict[str, Any] = {}
    set_pointer(doc, "/a/0/b", 1)
    set_pointer(doc, "/a/2/b", 3)
    set_pointer(doc, "/c/50PercentLife", 5)
    assert doc == {"a": [{"b": 1}, None, {"b": 3}], "c": {"50PercentLife": 5}}
