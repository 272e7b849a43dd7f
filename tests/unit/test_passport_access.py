"""Annex XIII access per field: what each audience may read, and nothing restricted leaking into
any format (battrace's own model, Battery Pass, Catena-X, IDTA)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from battrace.domain.errors import InvalidInput
from battrace.domain.lifecycle import builders as b
from battrace.domain.passport import (
    ATTRIBUTES,
    AUDIENCE_GROUPS,
    LONG_LIST,
    MODELS,
    Audience,
    Facts,
    Group,
    Passport,
    audiences_for_roles,
    build_passport,
    parse_audience,
    render,
    visible,
)
from tests import scenario as sc
from tests.unit.test_passport_model import facts_for, production

RICH_ILMD: dict[str, Any] = {
    "chemistry": "LFP",
    "massKg": 401.25,
    "ratedCapacityAh": 150,
    "resultOfTestReport": "https://nb.example/test-report-4711.pdf",  # NB/MSA/Commission
    "safetyInstructions": "https://oem.example/safety-pli-8842.pdf",  # PLI + Commission
    "dismantlingInformation": [
        {"documentType": "DismantlingManual", "url": "https://oem.example/dismantle-pli-9913.pdf"}
    ],
    "materials": [
        {"name": "lithium", "cas": "7439-93-2", "critical": True, "component": "cathode"},
        {
            "name": "graphite-secret-anode",
            "cas": "7782-42-5",
            "component": "anode",
            "massKg": 17.77,
        },
    ],
    "expectedLifetimeYears": 12.5,  # PLI
    "extinguishingAgent": ["water"],
    "declarationOfConformity": "https://oem.example/doc-public.pdf",
}


def rich_events() -> list[dict[str, Any]]:
    cas = sc.site(sc.CASCADE)
    return [
        *production(**RICH_ILMD),
        b.install(sc.PACK, sc.VIN, site=sc.site(sc.AUTOMAKER), time=sc.at(10)),
        b.sell(sc.VIN, sc.PACK, site=sc.site(sc.DEALER), time=sc.at(20.62)),
        b.remove(sc.PACK, sc.VIN, site=sc.site(sc.DISMANTLER), time=sc.at(900), disposition=None),
        b.retire(sc.PACK, site=sc.site(sc.DISMANTLER), time=sc.at(901)),
        b.inspect(
            sc.PACK,
            capacity_ah=113.777,
            rated_ah=150,
            resistance_mohm=97.31,
            voltage_v=379.123,
            site=cas,
            time=sc.at(1000.5),
        ),
        b.recode(
            [sc.PACK], sc.CASCADE_CODE, site=cas, time=sc.at(1001), attributes={"chemistry": "LFP"}
        ),
        b.inspect(
            sc.CASCADE_CODE,
            capacity_ah=101.919,
            rated_ah=113.777,
            resistance_mohm=99.91,
            voltage_v=380.5,
            site=cas,
            time=sc.at(1500.25),
        ),
    ]


def _long_ids(f: Facts) -> Facts:
    """Real-looking event IDs, long enough to be searched for as leak sentinels."""
    from dataclasses import replace

    def rid(e: Any) -> Any:
        n = int(e.event_id.split("-")[1])
        return replace(e, event_id=f"ni:///sha-256;{n:064x}?ver=CBV2.0")

    return replace(f, events=tuple(rid(e) for e in f.events))


@pytest.fixture(scope="module")
def subjects() -> dict[str, Passport]:
    events = rich_events()
    return {
        "original": build_passport(_long_ids(facts_for(sc.PACK, events))),
        "product": build_passport(_long_ids(facts_for(sc.CASCADE_CODE, events))),
    }


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def sentinels(p: Passport, audience: Audience) -> set[str]:
    """Distinctive text of every value (and its provenance) the audience may not read that does
    not also occur in what it may read."""

    def forms(leaf: Any) -> set[str]:
        # Identifiers, URLs, times, names with separators and fractional numbers: text that
        # cannot occur in an export by chance (plain words such as step names could).
        if isinstance(leaf, str) and len(leaf) >= 8 and any(c in leaf for c in "0123456789:/.-"):
            out = {leaf}
            if len(leaf) >= 19 and leaf[4] == "-" and leaf[10] == "T":
                out.add(leaf[:19])  # a timestamp, also as exported without fractions
            return out
        if isinstance(leaf, float) and not leaf.is_integer():
            text = orjson.dumps(leaf).decode()
            # Four digits or more: "5.5" would also match a DIN chapter such as 6.5.5.
            return {text} if sum(c.isdigit() for c in text) >= 4 else set()
        return set()

    hidden: set[str] = set()
    shown: set[str] = set()
    for key, value in p.values.items():
        target = shown if visible(key, audience) else hidden
        provenance = {"value": value.value, "at": value.last_update, "sources": value.sources}
        for leaf in _leaves(provenance):
            target |= forms(leaf)
    # Dates of restricted timestamps too, unless a visible value has the same day.
    shown_days = {s[:10] for s in shown if len(s) >= 19 and s[10] == "T"}
    hidden |= {s[:10] for s in hidden if len(s) >= 19 and s[10] == "T"} - shown_days
    return hidden - shown - {s[:10] for s in shown}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("audience", list(Audience))
@pytest.mark.parametrize("who", ["original", "product"])
def test_no_restricted_value_leaks_into_any_format(
    subjects: dict[str, Passport], who: str, audience: Audience, model: str
) -> None:
    p = subjects[who]
    text = orjson.dumps(render(p, model, audience)).decode()
    hidden = sentinels(p, audience)
    if audience is not Audience.LEGITIMATE:
        assert hidden, "the test data must hold restricted values to look for"
    leaked = sorted(s for s in hidden if s in text)
    assert leaked == []


def test_the_sentinels_do_appear_for_an_audience_that_may_read_them(
    subjects: dict[str, Passport],
) -> None:
    """The leak test is not vacuous: the same values are found when they may be shown."""
    p = subjects["original"]
    hidden_from_public = sentinels(p, Audience.PUBLIC)
    everything = "".join(
        orjson.dumps(render(p, m, a)).decode()
        for m in MODELS
        for a in (Audience.LEGITIMATE, Audience.AUTHORITY)
    )
    assert hidden_from_public and all(s in everything for s in hidden_from_public)


def _payload(p: Passport, model: str, audience: Audience, aspect: str) -> dict[str, Any]:
    payload: dict[str, Any] = render(p, model, audience)["aspects"][aspect]["payload"]
    return payload


def test_public_views_hold_no_individual_battery_data(subjects: dict[str, Passport]) -> None:
    p = subjects["original"]
    pub = Audience.PUBLIC
    gpi = _payload(p, "batterypass", pub, "GeneralProductInformation")
    assert "batteryStatus" not in gpi and "puttingIntoService" not in gpi
    perf = _payload(p, "batterypass", pub, "PerformanceAndDurability")
    assert "batteryCondition" not in perf
    assert "expectedLifetime" not in perf.get("batteryTechicalProperties", {})
    labels = _payload(p, "batterypass", pub, "Labeling")
    assert labels == {"declarationOfConformity": "https://oem.example/doc-public.pdf"}
    circ = _payload(p, "batterypass", pub, "Circularity")
    assert "dismantlingAndRemovalInformation" not in circ
    assert circ["safetyMeasures"] == {"extinguishingAgent": ["water"]}
    materials = _payload(p, "batterypass", pub, "MaterialComposition")["batteryMaterials"]
    assert [m["batteryMaterialName"] for m in materials] == ["lithium"]  # the critical one only
    assert "batteryMaterialLocation" not in materials[0]

    cx = _payload(p, "catenax", pub, "BatteryPass")
    assert "status" not in cx.get("sustainability", {})
    assert "dynamic" not in cx["performance"]
    assert "intoServiceDate" not in cx.get("operation", {})
    assert "resultOfTestReport" not in cx.get("conformity", {})

    nameplate = _payload(p, "idta", pub, "BatteryNameplate")
    assert "LifeCycleStage" not in nameplate and "DateOfPuttingIntoService" not in nameplate
    assert _payload(p, "idta", pub, "ProductCondition") == {}


def test_each_audience_sees_its_groups(subjects: dict[str, Passport]) -> None:
    p = subjects["original"]
    legit = _payload(p, "batterypass", Audience.LEGITIMATE, "Labeling")
    assert "resultOfTestReport" not in legit  # notified bodies, MSA, Commission only
    authority = _payload(p, "batterypass", Audience.AUTHORITY, "Labeling")
    assert authority["resultOfTestReport"] == "https://nb.example/test-report-4711.pdf"
    gpi = _payload(p, "batterypass", Audience.AUTHORITY, "GeneralProductInformation")
    assert "batteryStatus" not in gpi  # Annex XIII point 4: persons with a legitimate interest
    assert (
        _payload(p, "batterypass", Audience.LEGITIMATE, "GeneralProductInformation")[
            "batteryStatus"
        ]
        == "Repurposed"
    )
    # Point 2 (dismantling, detailed composition) is for PLI and the Commission.
    for audience in (Audience.LEGITIMATE, Audience.AUTHORITY):
        circ = _payload(p, "batterypass", audience, "Circularity")
        assert circ["dismantlingAndRemovalInformation"][0]["documentURL"].endswith("9913.pdf")


def test_restricted_lists_name_the_withheld_fields(subjects: dict[str, Passport]) -> None:
    export = render(subjects["original"], "batterypass", Audience.PUBLIC)
    restricted = {r["path"]: r["attribute"] for r in export["restricted"]}
    assert restricted["GeneralProductInformation#/batteryStatus"] == "batteryStatus"
    assert restricted["Labeling#/resultOfTestReport"] == "resultOfTestReport"
    for note in export["restricted"]:
        assert not visible(note["attribute"], Audience.PUBLIC)
    for note in export["missing"]:
        assert note["attribute"] is None or visible(note["attribute"], Audience.PUBLIC)


# --- the registry ------------------------------------------------------------------------------


def test_long_list_classification_matches_the_published_counts() -> None:
    """Battery Pass long list v1.2: 60 public, 27 PLI, 5 PLI+Commission, 1 NB/MSA/Commission;
    73 static, 20 dynamic; 67 model level, 26 item level (eu-passport.md 1.3.1)."""
    assert len(LONG_LIST) == 93
    assert [a.number for a in LONG_LIST] == list(range(1, 94))
    groups = Counter(a.group for a in LONG_LIST)
    assert groups == {
        Group.PUBLIC: 60,
        Group.PLI: 27,
        Group.PLI_COMMISSION: 5,
        Group.NB_MSA_COMMISSION: 1,
    }
    assert sum(a.dynamic for a in LONG_LIST) == 20
    assert sum(a.item_level for a in LONG_LIST) == 26
    assert len({a.din for a in LONG_LIST}) == 93
    assert len(ATTRIBUTES) == len({a.key for a in ATTRIBUTES.values()})


def test_access_matrix() -> None:
    assert AUDIENCE_GROUPS[Audience.PUBLIC] == {Group.PUBLIC}
    assert Group.NB_MSA_COMMISSION not in AUDIENCE_GROUPS[Audience.LEGITIMATE]
    assert Group.PLI not in AUDIENCE_GROUPS[Audience.AUTHORITY]
    for audience in Audience:
        assert Group.PUBLIC in AUDIENCE_GROUPS[audience]
    assert ATTRIBUTES["stateOfHealth"].annex_point == 4
    assert ATTRIBUTES["dismantlingInformation"].annex_point == 2


def test_audience_parsing_and_roles() -> None:
    assert parse_audience(None) is Audience.PUBLIC
    assert parse_audience(" Legitimate ") is Audience.LEGITIMATE
    with pytest.raises(InvalidInput, match="audience"):
        parse_audience("everyone")
    assert audiences_for_roles(["dealer"]) == {Audience.PUBLIC}
    assert audiences_for_roles(["recycler"]) == {Audience.PUBLIC, Audience.LEGITIMATE}
    assert Audience.AUTHORITY in audiences_for_roles(["regulator_provincial"])
