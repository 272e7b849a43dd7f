"""The passport derived from ledger facts, without a database: builder events are parsed and
projected with the domain's own functions, then turned into :class:`Facts`.

``facts_for`` is shared with the other passport unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

import pytest

from battrace.domain.epcis.event import parse_event
from battrace.domain.errors import IdentityError, InvalidInput
from battrace.domain.lifecycle import builders as b
from battrace.domain.lifecycle.projection import replay
from battrace.domain.passport import (
    Audience,
    BatteryStatus,
    EventFact,
    Facts,
    LedgerAnchor,
    Party,
    Related,
    build_passport,
    from_json,
    passport_id,
    published,
    status_for,
    subject_for,
)
from tests import scenario as sc

LEDGER = LedgerAnchor(7, 42, "ab" * 32)
PARTIES = {
    e["uscc"]: Party(e["uscc"], e["name_zh"], "", e["province"], ({"id": e["sites"]},))
    for e in sc.ENTERPRISES
}


def _step(step: str | None) -> str | None:
    return None if step is None else step.rsplit("BizStep-", 1)[-1]


def event_facts(uri: str, events: Sequence[dict[str, Any]]) -> tuple[list[EventFact], str | None]:
    """EventFacts of ``uri`` in the events (as the service would load them) and its state."""
    parsed = []
    for i, raw in enumerate(events):
        ev = parse_event(raw)
        ev.event_id = f"ev-{i}"
        parsed.append(ev)
    mine = [(ev, role) for ev in parsed for epc, role in ev.epcs_with_roles() if epc == uri]
    view, _ = replay(uri, mine)
    facts = []
    for ev, role in sorted(mine, key=lambda p: p[0].event_time):
        site = ev.biz_location or ""
        facts.append(
            EventFact(
                event_id=ev.event_id,
                time=ev.event_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                event_type=ev.event_type,
                action=ev.action,
                step=_step(ev.biz_step),
                disposition=ev.disposition,
                reporter=site.split(":")[2],
                role=role,
                body=ev.raw,
            )
        )
    return facts, view.state if mine else None


def facts_for(code: str, events: Sequence[dict[str, Any]], related: Sequence[str] = ()) -> Facts:
    uri = code if ":" in code else f"urn:gbt34014:{code}"
    facts, state = event_facts(uri, events)
    rel = []
    for r in related:
        r_uri = f"urn:gbt34014:{r}"
        r_facts, r_state = event_facts(r_uri, events)
        rel.append(Related(r_uri, r_state, tuple(r_facts)))
    return Facts(uri, state, None, tuple(facts), PARTIES, LEDGER, tuple(rel))


def production(**ilmd: Any) -> list[dict[str, Any]]:
    events = sc.production()
    events[2] = b.commission([sc.PACK], site=sc.site(sc.MAKER), time=sc.at(2), attributes=ilmd)
    return events


def in_service(**ilmd: Any) -> list[dict[str, Any]]:
    return [
        *production(**ilmd),
        b.install(sc.PACK, sc.VIN, site=sc.site(sc.AUTOMAKER), time=sc.at(10)),
        b.sell(sc.VIN, sc.PACK, site=sc.site(sc.DEALER), time=sc.at(20)),
    ]


# --- identity and static data ------------------------------------------------------------------


def test_passport_identifier_is_stable_and_per_battery() -> None:
    a = passport_id(f"urn:gbt34014:{sc.PACK}")
    assert a == passport_id(f"urn:gbt34014:{sc.PACK}")
    assert a != passport_id(f"urn:gbt34014:{sc.PACK2}")
    assert a.startswith("urn:uuid:") and len(a) == 45


def test_commissioning_ilmd_and_registry_become_static_values() -> None:
    p = build_passport(facts_for(sc.PACK, production(chemistry="NCM811", massKg=400.5)))
    assert p.get("batteryChemistry") == {
        "shortName": "NCM811",
        "clearName": "lithium nickel cobalt manganese oxide (8:1:1)",
    }
    assert p.get("batteryMass") == 400.5
    maker = p.get("manufacturerInformation")
    assert maker["uscc"] == sc.MAKER and maker["nameZh"] == "示例电池" and maker["country"] == "CN"
    assert p.get("manufacturingPlace") == {"site": sc.site(sc.MAKER)}
    assert p.get("manufacturingDate") == "2024-03-05T11:00:00.000000Z"
    assert p.values["batteryMass"].sources == ("ev-2",)  # provenance: the commissioning event
    assert p.get("batteryCategory") == "ev"  # a 24-character GB/T 34014 code
    assert p.get("batteryStatus") == "original"
    assert "puttingIntoService" not in p.values


def test_invalid_ilmd_values_are_not_used_and_say_why() -> None:
    p = build_passport(
        facts_for(
            sc.PACK,
            production(
                massKg="heavy",
                ratedCapacityAh=-5,
                batteryCategory="car",
                carbonFootprintStudy="not a uri",
                materials=[{"name": "lithium", "cas": "7439-93"}],
                recycledContent=[{"material": "gold", "preConsumerPct": 5}],
            ),
        )
    )
    for key in ("batteryMass", "ratedCapacity", "carbonFootprintStudy", "criticalRawMaterials"):
        assert key not in p.values
    assert p.problems["batteryMass"] == "ilmd battrace:massKg must be a number"
    assert p.problems["ratedCapacity"] == "ilmd battrace:ratedCapacityAh must be positive"
    assert "CAS" in p.problems["activeMaterials"]
    assert "material must be one of" in p.problems["recycledCobaltPreConsumer"]
    # An invalid declared category is not replaced by the derived one: absent, with the reason.
    assert "batteryCategory" not in p.values and "must be one of" in p.problems["batteryCategory"]
    reasons = {m["attribute"]: m["reason"] for m in p.for_audience(Audience.PUBLIC).missing()}
    assert reasons["batteryMass"] == "ilmd battrace:massKg must be a number"


def test_site_record_address_is_used_but_never_assumed() -> None:
    parties = dict(PARTIES)
    maker = parties[sc.MAKER]
    parties[sc.MAKER] = Party(
        maker.uscc,
        maker.name_zh,
        "Example Battery",
        maker.province,
        ({"id": "plant1", "country": "DE", "postal_code": "99334", "street_address": "Str. 1"},),
    )
    f = facts_for(sc.PACK, production())
    p = build_passport(Facts(f.uri, f.state, None, f.events, parties, LEDGER))
    assert p.get("manufacturingPlace") == {
        "site": sc.site(sc.MAKER),
        "country": "DE",
        "postalCode": "99334",
        "streetAddress": "Str. 1",
    }
    assert p.get("manufacturerInformation")["nameEn"] == "Example Battery"


def test_subject_kinds() -> None:
    pack = subject_for(f"urn:gbt34014:{sc.PACK}")
    assert (pack.scheme, pack.product_kind, pack.cascade) == ("gbt34014", "pack", False)
    assert subject_for(f"urn:gbt34014:{sc.CASCADE_CODE}").cascade
    gs1 = subject_for("urn:epc:id:sgtin:0614141.112345.400")
    assert gs1.scheme == "gs1" and gs1.digital_link == "https://id.gs1.org/01/10614141123459/21/400"
    with pytest.raises(IdentityError, match="vehicle, not a battery"):
        subject_for(f"urn:vin:{sc.VIN}")


# --- dynamic data ------------------------------------------------------------------------------


def test_putting_into_service_is_the_sale() -> None:
    p = build_passport(facts_for(sc.PACK, in_service()))
    assert p.get("puttingIntoService") == "2024-03-06T05:00:00.000000Z"
    assert p.get("lifecycleState") == "in_service"
    steps = [e["step"] for e in p.get("lifecycleEvents")]
    assert steps == ["commissioning", "assembling", "installing", "retail_selling"]


def test_a_pack_installed_again_after_removal_is_reused() -> None:
    events = [
        *in_service(),
        b.remove(sc.PACK, sc.VIN, site=sc.site(sc.DISMANTLER), time=sc.at(30)),
        b.replace(sc.PACK, sc.VIN2, site=sc.site(sc.DISMANTLER), time=sc.at(40)),
    ]
    p = build_passport(facts_for(sc.PACK, events))
    assert p.get("batteryStatus") == "reused"


@pytest.mark.parametrize(
    ("state", "resting", "reinstalled", "expected"),
    [
        ("produced", None, False, BatteryStatus.ORIGINAL),
        ("retired", None, False, BatteryStatus.ORIGINAL),
        ("in_service", None, True, BatteryStatus.REUSED),
        ("cascade_use", None, False, BatteryStatus.REPURPOSED),
        ("collected", None, False, BatteryStatus.WASTE),
        ("dismantled", None, False, BatteryStatus.WASTE),
        ("in_transit", "collected", False, BatteryStatus.WASTE),
        ("in_transit", "in_service", False, BatteryStatus.ORIGINAL),
        ("unknown", None, False, None),
        (None, None, False, None),
    ],
)
def test_status_mapping(
    state: str | None, resting: str | None, reinstalled: bool, expected: BatteryStatus | None
) -> None:
    assert status_for(state, resting, reinstalled) == expected


def test_inspection_gives_capacity_fade_and_soh_without_a_reported_soh() -> None:
    inspect = b.inspect(
        sc.PACK,
        capacity_ah=120,
        rated_ah=150,
        resistance_mohm=80,
        voltage_v=380,
        site=sc.site(sc.CASCADE),
        time=sc.at(100),
    )
    # Drop the Dimensionless (SoH) report: SoH is then measured / rated capacity.
    reports = inspect["sensorElementList"][0]["sensorReport"]
    inspect["sensorElementList"][0]["sensorReport"] = [
        r for r in reports if r["type"] != "Dimensionless"
    ]
    p = build_passport(facts_for(sc.PACK, [*production(), inspect]))
    assert p.get("stateOfHealth") == 80.0
    assert p.values["stateOfHealth"].note == "measured / rated capacity"
    assert p.get("capacityFade") == 20.0
    assert p.get("remainingCapacity") == 120


def test_the_latest_inspection_wins() -> None:
    def inspect(ah: float, hours: float) -> dict[str, Any]:
        return b.inspect(
            sc.PACK,
            capacity_ah=ah,
            rated_ah=150,
            resistance_mohm=80,
            voltage_v=380,
            site=sc.site(sc.CASCADE),
            time=sc.at(hours),
        )

    # Reported out of order: the later event time counts, not the later report.
    p = build_passport(facts_for(sc.PACK, [*production(), inspect(110, 200), inspect(130, 100)]))
    assert p.get("remainingCapacity") == 110
    assert p.values["remainingCapacity"].last_update == "2024-03-13T17:00:00.000000Z"


def test_dismantled_pack_ceases_only_when_its_modules_are_recycled() -> None:
    rec = sc.site(sc.RECYCLER)
    dismantled = [
        *production(),
        b.collect(sc.PACK, site=sc.site(sc.OUTLET), time=sc.at(50)),
        b.dismantle(sc.PACK, [sc.MODULE], site=rec, time=sc.at(60), parts_kg={"steel": 20}),
    ]
    p = build_passport(facts_for(sc.PACK, dismantled, related=[sc.MODULE]))
    assert p.get("lifecycleState") == "dismantled"
    assert (p.get("batteryStatus"), p.get("passportStatus")) == ("waste", "active")
    recycled = [*dismantled, b.recycle([sc.MODULE], {"black_mass": 100}, site=rec, time=sc.at(70))]
    p = build_passport(facts_for(sc.PACK, recycled, related=[sc.MODULE]))
    assert p.get("passportStatus") == "ceased"
    (entry,) = p.get("recycling")
    assert entry["inputs"] == [f"urn:gbt34014:{sc.MODULE}"]
    assert entry["outputsOfEvent"] == [{"material": "black_mass", "quantity": 100.0, "uom": "KGM"}]


# --- filtering and round trip ------------------------------------------------------------------


def test_for_audience_drops_what_the_audience_may_not_read() -> None:
    p = build_passport(facts_for(sc.PACK, in_service(resultOfTestReport="https://x.example/r")))
    public = p.for_audience(Audience.PUBLIC)
    assert "batteryStatus" not in public.values and "puttingIntoService" not in public.values
    assert "resultOfTestReport" not in public.values
    assert "batteryStatus" in public.restricted()
    authority = p.for_audience(Audience.AUTHORITY)
    assert authority.get("resultOfTestReport") == "https://x.example/r"
    assert "batteryStatus" not in authority.values
    legitimate = p.for_audience(Audience.LEGITIMATE)
    assert "resultOfTestReport" not in legitimate.values
    assert legitimate.get("batteryStatus") == "original"
    with pytest.raises(ValueError):
        public.for_audience(Audience.LEGITIMATE)
    # lastUpdate of a view counts only what the view shows (no hint of newer restricted data).
    assert public.last_update == "2024-03-05T11:00:00.000000Z"
    assert legitimate.last_update == "2024-03-06T05:00:00.000000Z"


def test_canonical_json_round_trips() -> None:
    p = build_passport(facts_for(sc.PACK, in_service(massKg="x", chemistry="LFP")))
    view = published(p.for_audience(Audience.LEGITIMATE), 3, "2025-01-01T00:00:00.000000Z")
    again = from_json(view.to_json())
    assert again.to_json() == view.to_json()
    assert again.problems == {"batteryMass": "ilmd battrace:massKg must be a number"}


def test_canonical_json_is_checked_on_the_way_in() -> None:
    p = build_passport(facts_for(sc.PACK, in_service()))
    doc = p.for_audience(Audience.PUBLIC).to_json()
    doc["attributes"]["batteryStatus"] = {"value": "original"}  # restricted for the public
    with pytest.raises(InvalidInput, match="not visible to public"):
        from_json(doc)
    with pytest.raises(InvalidInput, match="format"):
        from_json({"format": "other"})
    doc = p.for_audience(Audience.PUBLIC).to_json()
    del doc["ledger"]
    with pytest.raises(InvalidInput, match="ledger"):
        from_json(doc)
