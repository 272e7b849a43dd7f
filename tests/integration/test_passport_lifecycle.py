"""Passports built from real ledgers at every lifecycle stage, exported in every model for every
audience, validated against the reference JSON Schemas (``shared/reference``; skipped if absent).

Also the shared helpers of the passport integration tests: the lifecycle ledgers (``stage_events``)
and the schema check (``schema_problems``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft4Validator, FormatChecker

from battrace.domain.lifecycle import builders as b
from battrace.domain.passport import MODELS, Audience, Passport, render
from battrace.persistence.base import Store
from battrace.persistence.sqlite import SqliteStore
from battrace.services import enterprises as registry
from battrace.services import passport as service
from battrace.services.capture import Ledger
from tests import scenario as sc

# Static data a battery maker declares at commissioning (docs/passport.md lists the ilmd keys).
PACK_ILMD: dict[str, Any] = {
    "chemistry": "LFP",
    "massKg": 400,
    "ratedCapacityAh": 150,
    "ratedEnergyKWh": 57.6,
    "nominalVoltageV": 384,
    "minimumVoltageV": 300,
    "maximumVoltageV": 438,
    "warrantyYears": 8,
    "batteryModel": "ABC-LFP-150",
    "carbonFootprintKgCO2ePerKWh": 61.2,
    "carbonFootprintClass": "B",
    "carbonFootprintStudy": "https://example.com/pcf-study.pdf",
    "declarationOfConformity": "https://example.com/doc.pdf",
    "resultOfTestReport": "https://example.com/test-report.pdf",
    "extinguishingAgent": ["water", "foam"],
    "safetyInstructions": "https://example.com/safety.pdf",
    "dismantlingInformation": [
        {
            "documentType": "DismantlingManual",
            "url": "https://example.com/dismantling.pdf",
            "mimeType": "application/pdf",
        }
    ],
    "materials": [
        {
            "name": "lithium",
            "cas": "7439-93-2",
            "critical": True,
            "component": "cathode",
            "massKg": 5.5,
        },
        {"name": "graphite", "cas": "7782-42-5", "critical": True, "component": "anode"},
        {"name": "copper", "cas": "7440-50-8", "component": "casing"},
    ],
    "hazardousSubstances": [
        {
            "name": "lithium hexafluorophosphate",
            "cas": "21324-40-3",
            "hazardClass": "AcuteToxicity",
            "concentrationPct": 1.2,
            "impacts": ["toxic if swallowed"],
            "component": "electrolyte",
        }
    ],
    "recycledContent": [
        {"material": "lithium", "preConsumerPct": 2, "postConsumerPct": 4},
        {"material": "nickel", "preConsumerPct": 1},
    ],
    "renewableContentPct": 12.5,
    "expectedLifetimeCycles": 3000,
    "expectedLifetimeYears": 10,
    "idleTemperatureLowerC": -20,
    "idleTemperatureUpperC": 55,
}
CASCADE_ILMD: dict[str, Any] = {
    "chemistry": "LFP",
    "ratedCapacityAh": 114,
    "ratedEnergyKWh": 43.78,
    "batteryCategory": "stationary",
}

STAGES = ("produced", "in_service", "retired", "cascade_use", "recycled")


def _production() -> list[dict[str, Any]]:
    events = sc.production()
    events[2] = b.commission([sc.PACK], site=sc.site(sc.MAKER), time=sc.at(2), attributes=PACK_ILMD)
    return events


def stage_events(stage: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """(reporter, events) captures that bring the pack to ``stage``, in order."""
    steps: list[tuple[str, list[dict[str, Any]]]] = [(sc.MAKER, _production())]
    if stage == "produced":
        return steps
    steps += [
        (sc.AUTOMAKER, [b.install(sc.PACK, sc.VIN, site=sc.site(sc.AUTOMAKER), time=sc.at(10))]),
        (sc.DEALER, [b.sell(sc.VIN, sc.PACK, site=sc.site(sc.DEALER), time=sc.at(720))]),
    ]
    if stage == "in_service":
        return steps
    dis = sc.site(sc.DISMANTLER)
    steps.append(
        (
            sc.DISMANTLER,
            [
                b.remove(sc.PACK, sc.VIN, site=dis, time=sc.at(2000), disposition=None),
                b.retire(sc.PACK, site=dis, time=sc.at(2001)),
            ],
        )
    )
    if stage == "retired":
        return steps
    if stage == "cascade_use":
        cas = sc.site(sc.CASCADE)
        inspection = b.inspect(
            sc.PACK,
            capacity_ah=114.321,
            rated_ah=150,
            resistance_mohm=96.5,
            voltage_v=379.2,
            site=cas,
            time=sc.at(2100),
        )
        recode = b.recode(
            [sc.PACK], sc.CASCADE_CODE, site=cas, time=sc.at(2101), attributes=CASCADE_ILMD
        )
        return [*steps, (sc.CASCADE, [inspection, recode])]
    assert stage == "recycled"
    return [
        *steps,
        (sc.OUTLET, [b.collect(sc.PACK, site=sc.site(sc.OUTLET), time=sc.at(2200))]),
        (
            sc.RECYCLER,
            [
                b.recycle(
                    [sc.PACK],
                    {"black_mass": 170.2, "copper": 32.6, "aluminium": 58.1},
                    site=sc.site(sc.RECYCLER),
                    time=sc.at(2300),
                )
            ],
        ),
    ]


# Qualifications the role rules ask of cascade users and recyclers (MIIT white lists).
QUALIFIED = {sc.CASCADE: "cascade_use", sc.RECYCLER: "recycling"}


def register(store: Store) -> None:
    registry.register(
        store,
        [
            {
                **e,
                "qualifications": [
                    {"kind": QUALIFIED[e["uscc"]], "batch": 1, "date": "2020-01-01"}
                ],
            }
            if e["uscc"] in QUALIFIED
            else e
            for e in sc.ENTERPRISES
        ],
    )


def build_stage(store: Store, stage: str) -> None:
    register(store)
    ledger = Ledger(store)
    for reporter, events in stage_events(stage):
        result = ledger.capture_document(sc.doc(*events), reporter)
        assert result.ok, result.rejected


@pytest.fixture(scope="module")
def passports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Passport]:
    """The pack's live passport at each stage, plus the cascade-use product (SQLite)."""
    out: dict[str, Passport] = {}
    for stage in STAGES:
        path = tmp_path_factory.mktemp(stage) / "ledger.sqlite"
        store = SqliteStore(f"sqlite:///{path}")
        store.migrate()
        build_stage(store, stage)
        out[stage] = service.build(store, sc.PACK)
        if stage == "cascade_use":
            out["cascade_product"] = service.build(store, sc.CASCADE_CODE)
        store.close()
    return out


# --- schema checks -----------------------------------------------------------------------------


def load_json(path: Path) -> Any:
    data = path.read_bytes()
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return orjson.loads(data.decode("utf-16"))  # most Battery Pass gen files are UTF-16 LE
    return orjson.loads(data.decode("utf-8-sig"))


@functools.cache
def schema_for(reference: Path, semantic_id: str) -> Any:
    """The JSON Schema of an aspect, found from its SAMM URN (namespace/version folders)."""
    namespace, version = semantic_id.removeprefix("urn:samm:").split("#")[0].rsplit(":", 1)
    if namespace.startswith("io.BatteryPass."):
        folder = reference / "batterypass" / "BatteryPass" / namespace / version / "gen"
    elif namespace.startswith("io.catenax."):
        folder = reference / "catenax" / namespace / version / "gen"
    else:
        folder = reference / "idta-batterypass" / namespace / version / "gen"
    files = [*folder.glob("*-schema.json"), *folder.glob("*.schema")]
    assert len(files) == 1, f"no single schema in {folder}"
    return load_json(files[0])


_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+").fullmatch
FORMATS = FormatChecker(formats=())


@FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(_URI(value))


@FORMATS.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if isinstance(value, str):
        datetime.fromisoformat(value.replace("Z", "+00:00"))
        if "T" not in value:
            raise ValueError(value)
    return True


@FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if isinstance(value, str):
        date.fromisoformat(value)
    return True


def _pointer(path: Any) -> str:
    return "".join(f"/{p}" for p in path)


def schema_problems(export: dict[str, Any], reference: Path) -> list[str]:
    """Everything wrong with an export against its schemas.

    Allowed: a ``required`` property that is absent *and* listed (itself or a descendant) in the
    export's missing or restricted list. Anything else (a wrong type, pattern, enum or format, or
    an absent required property nobody accounted for) is a problem.
    """
    listed = [n["path"] for n in (*export["missing"], *export["restricted"])]
    problems = []
    for name, aspect in export["aspects"].items():
        validator = Draft4Validator(
            schema_for(reference, aspect["semanticId"]), format_checker=FORMATS
        )
        for err in validator.iter_errors(aspect["payload"]):
            where = f"{name}#{_pointer(err.absolute_path)}"
            if err.validator == "required":
                prop = re.match(r"'(.+)' is a required property", err.message)
                assert prop is not None, err.message
                path = f"{where}/{prop[1]}"
                if any(p == path or p.startswith(path + "/") for p in listed):
                    continue
                problems.append(f"{path}: required but neither present nor listed")
            else:
                problems.append(f"{where}: {err.message}")
    return problems


def resolve_pointer(doc: Any, pointer: str) -> Iterator[Any]:
    """The value at a JSON pointer, if it exists (yields nothing otherwise)."""
    node = doc
    for part in pointer.split("/")[1:]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return
    yield node


# --- tests -------------------------------------------------------------------------------------

EXPORT_MODELS = [m for m in MODELS if m != "battrace"]


@pytest.mark.parametrize("audience", list(Audience))
@pytest.mark.parametrize("model", EXPORT_MODELS)
@pytest.mark.parametrize("stage", [*STAGES, "cascade_product"])
def test_every_export_validates_against_its_schema(
    passports: dict[str, Passport], reference_dir: Path, stage: str, model: str, audience: Audience
) -> None:
    export = render(passports[stage], model, audience)
    assert schema_problems(export, reference_dir) == []
    # What is listed as missing or restricted is really absent (a container may be partly filled,
    # e.g. public critical raw materials in a list whose other entries are restricted).
    for note in (*export["missing"], *export["restricted"]):
        aspect, _, pointer = note["path"].partition("#")
        for value in resolve_pointer(export["aspects"][aspect]["payload"], pointer):
            assert isinstance(value, dict | list), f"{note['path']} is listed but present"
    assert all(m["reason"] for m in export["missing"])


def test_each_model_exports_all_its_aspects(passports: dict[str, Passport]) -> None:
    counts = {"batterypass": 7, "catenax": 1, "idta": 8}
    for model, count in counts.items():
        export = render(passports["in_service"], model, Audience.PUBLIC)
        assert len(export["aspects"]) == count


def test_reference_examples_still_pass_the_checker(reference_dir: Path) -> None:
    """The checker itself: the upstream Catena-X example validates, a broken copy does not."""
    folder = reference_dir / "catenax" / "io.catenax.battery.battery_pass" / "6.1.0" / "gen"
    example = load_json(folder / "BatteryPass.json")
    export = {
        "aspects": {
            "BatteryPass": {
                "semanticId": "urn:samm:io.catenax.battery.battery_pass:6.1.0#BatteryPass",
                "payload": example,
            }
        },
        "missing": [],
        "restricted": [],
    }
    assert schema_problems(export, reference_dir) == []
    example["sustainability"]["status"] = "Repurposed"  # the Battery Pass spelling: wrong here
    del example["metadata"]["passportIdentifier"]
    problems = schema_problems(export, reference_dir)
    assert any("sustainability/status" in p for p in problems)
    assert any("metadata/passportIdentifier" in p for p in problems)


def test_status_follows_the_lifecycle(passports: dict[str, Passport]) -> None:
    expected = {
        "produced": ("original", "Original", "original"),
        "in_service": ("original", "Original", "original"),
        "retired": ("original", "Original", "original"),
        "cascade_use": ("repurposed", "Repurposed", "repurposed"),
        "recycled": ("waste", "Waste", "waste"),
        "cascade_product": ("repurposed", "Repurposed", "repurposed"),
    }
    for stage, (internal, bp, regulation) in expected.items():
        p = passports[stage]
        assert p.get("batteryStatus") == internal, stage
        legit = Audience.LEGITIMATE
        gpi = render(p, "batterypass", legit)["aspects"]["GeneralProductInformation"]["payload"]
        assert gpi["batteryStatus"] == bp
        cx = render(p, "catenax", legit)["aspects"]["BatteryPass"]["payload"]
        assert cx["sustainability"]["status"] == regulation
        np_ = render(p, "idta", legit)["aspects"]["BatteryNameplate"]["payload"]
        assert np_["LifeCycleStage"] == regulation


def test_recycling_ceases_the_passport(passports: dict[str, Passport]) -> None:
    assert passports["retired"].get("passportStatus") == "active"
    recycled = passports["recycled"]
    assert recycled.get("passportStatus") == "ceased"
    (entry,) = recycled.get("recycling")
    assert entry["recycler"] == f"urn:uscc:{sc.RECYCLER}"
    assert {o["material"] for o in entry["outputsOfEvent"]} == {"black_mass", "copper", "aluminium"}
    cx = render(recycled, "catenax", Audience.PUBLIC)["aspects"]["BatteryPass"]["payload"]
    assert cx["metadata"]["status"] == "expired"
    meta = render(recycled, "idta", Audience.PUBLIC)["aspects"]["DppMetadata"]["payload"]
    assert meta["dppStatus"] == "Inactive"


def test_cascade_use_links_both_passports(passports: dict[str, Passport]) -> None:
    original, product = passports["cascade_use"], passports["cascade_product"]
    (succ,) = original.get("successorPassports")
    (pred,) = product.get("predecessorPassports")
    assert succ == {
        "battery": f"urn:gbt34014:{sc.CASCADE_CODE}",
        "passportIdentifier": product.passport_id,
    }
    assert pred == {
        "battery": f"urn:gbt34014:{sc.PACK}",
        "passportIdentifier": original.passport_id,
    }
    cx = render(product, "catenax", Audience.PUBLIC)["aspects"]["BatteryPass"]["payload"]
    assert cx["metadata"]["predecessor"] == original.passport_id
    # Art. 77(7): the repurposer is the new product's operator and its manufacturer.
    assert product.get("operatorInformation")["uscc"] == sc.CASCADE
    assert product.get("manufacturerInformation")["uscc"] == sc.CASCADE
    assert product.get("batteryCategory") == "stationary"
    assert product.get("ratedCapacity") == 114


def test_state_of_health_comes_from_the_latest_inspection(passports: dict[str, Passport]) -> None:
    p = passports["cascade_use"]
    assert p.get("remainingCapacity") == 114.321
    assert p.get("stateOfHealth") == 76.21  # the Dimensionless P1 report of the inspection
    assert p.get("capacityFade") == round((1 - 114.321 / 150) * 100, 2)
    assert p.get("measuredInternalResistance") == {"value": 0.0965, "component": "pack"}
    legit = render(p, "batterypass", Audience.LEGITIMATE)
    cond = legit["aspects"]["PerformanceAndDurability"]["payload"]["batteryCondition"]
    assert cond["remainingCapacity"]["remainingCapacityValue"] == 114.321
    assert cond["remainingCapacity"]["lastUpdate"] == p.values["remainingCapacity"].last_update
    # A capacity-based SoH is not the energy-based SOCE of EV batteries: never written as one.
    assert "stateOfCertifiedEnergy" not in cond
    assert any(m["path"].endswith("/stateOfCertifiedEnergy") for m in legit["missing"])


def test_nothing_is_invented_for_a_battery_without_declared_data(tmp_path: Path) -> None:
    store = SqliteStore(f"sqlite:///{tmp_path / 'bare.sqlite'}")
    store.migrate()
    register(store)
    assert Ledger(store).capture_document(sc.doc(*sc.production()), sc.MAKER).ok
    bare = service.build(store, sc.MODULE)  # commissioned without any ilmd
    declared = {k for k, v in bare.values.items() if v.note and v.note.startswith("ilmd")}
    assert declared == set()
    export = render(bare, "batterypass", Audience.AUTHORITY)
    perf = export["aspects"]["PerformanceAndDurability"]["payload"]
    assert "ratedCapacity" not in perf.get("batteryTechicalProperties", {})
    gpi = export["aspects"]["GeneralProductInformation"]["payload"]
    assert "batteryMass" not in gpi
    missing = {m["path"] for m in export["missing"]}
    assert "GeneralProductInformation#/batteryMass" in missing
    assert "PerformanceAndDurability#/batteryTechicalProperties/ratedCapacity" in missing
    assert {m["attribute"] for m in bare.for_audience(Audience.PUBLIC).missing()} >= {
        "batteryMass",
        "ratedCapacity",
        "batteryChemistry",
    }
    store.close()


def test_exports_are_deterministic(passports: dict[str, Passport]) -> None:
    for model in MODELS:
        a = orjson.dumps(render(passports["cascade_use"], model, Audience.LEGITIMATE))
        assert a == orjson.dumps(render(passports["cascade_use"], model, Audience.LEGITIMATE))


@pytest.mark.parametrize("audience", [Audience.PUBLIC, Audience.AUTHORITY])
@pytest.mark.parametrize("stage", [*STAGES, "cascade_product"])
def test_no_restricted_value_leaks_at_any_stage(
    passports: dict[str, Passport], stage: str, audience: Audience
) -> None:
    from tests.unit.test_passport_access import sentinels

    p = passports[stage]
    hidden = sentinels(p, audience)
    # Every stage of the pack holds point-4 data (at least the events after commissioning); the
    # new cascade product's only event is its re-coding, which is public as its manufacture.
    assert hidden or stage == "cascade_product"
    for model in MODELS:
        text = orjson.dumps(render(p, model, audience)).decode()
        assert sorted(s for s in hidden if s in text) == [], model
