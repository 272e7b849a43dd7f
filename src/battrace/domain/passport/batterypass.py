"""Export to the Battery Pass consortium data model (SAMM 1.2.0; PerformanceAndDurability 1.2.1).

Seven aspects, camelCase, with the model's own spellings kept (``warrentyPeriod``,
``batteryTechicalProperties``, ``thirdPartyAussurances``, ``supplyChainIndicies``): payloads must use
them to validate. Mapping decisions:

* ``batteryPassportIdentifier`` must match ``^urn:[a-z0-9]+:[a-z0-9]+$`` (no hyphens), so the
  passport UUID is written as ``urn:battrace:<32 hex digits>``, the same UUID as ``urn:uuid:…``.
* ``warrentyPeriod`` is typed ``xsd:gMonth`` (``--MM``, a month of the year), which cannot hold a
  period: it stays missing with that reason rather than being forced into the pattern.
* Addresses: the registry knows the manufacturer's country from its USCC; street and postal code
  are not held. A plant's address is used only if its site record in the registry carries one.
* ``batteryMaterials`` mixes public critical raw materials (6.5.3) with the cathode, anode and
  electrolyte materials that only persons with a legitimate interest and the Commission may read
  (6.5.4): the public sees the critical materials alone.
* Performance: measured capacity (latest inspection) is ``remainingCapacity`` and the capacity fade
  derived from it; battrace's state of health is capacity based, so it is *not* written as the
  energy-based ``stateOfCertifiedEnergy`` of EV batteries (UN GTR No 22), which stays missing.
"""

from __future__ import annotations

from typing import Any, Final

from battrace.domain.passport.export import (
    Export,
    Out,
    iso_time,
    key,
    with_time,
)
from battrace.domain.passport.model import RECYCLED_METALS, Passport, Value
from battrace.domain.passport.status import BATTERYPASS_STATUS, BatteryStatus

MODEL: Final = "batterypass"
VERSION: Final = "1.2.0 (PerformanceAndDurability 1.2.1)"

GPI = "GeneralProductInformation"
CF = "CarbonFootprint"
DD = "SupplyChainDueDiligence"
MC = "MaterialComposition"
CIRC = "Circularity"
LAB = "Labeling"
PERF = "PerformanceAndDurability"

SEMANTIC_IDS: Final = {
    GPI: "urn:samm:io.BatteryPass.GeneralProductInformation:1.2.0#GeneralProductInformation",
    CF: "urn:samm:io.BatteryPass.CarbonFootprint:1.2.0#CarbonFootprintForBatteries",
    DD: "urn:samm:io.BatteryPass.SupplyChainDueDiligence:1.2.0#SupplyChainDueDiligence",
    MC: "urn:samm:io.BatteryPass.MaterialComposition:1.2.0#MaterialComposition",
    CIRC: "urn:samm:io.BatteryPass.Circularity:1.2.0#Circularity",
    LAB: "urn:samm:io.BatteryPass.Labels:1.2.0#Labeling",
    PERF: "urn:samm:io.BatteryPass.Performance:1.2.1#PerformanceAndDurability",
}

_LIFECYCLE_STAGES: Final = (
    ("carbonFootprintRawMaterial", "RawMaterialExtraction"),
    ("carbonFootprintMainProduction", "MainProduction"),
    ("carbonFootprintDistribution", "Distribution"),
    ("carbonFootprintEndOfLife", "Recycling"),
)


def _passport_urn(v: Value) -> str:
    return "urn:battrace:" + str(v.value).removeprefix("urn:uuid:").replace("-", "")


def _status(v: Value) -> str:
    return BATTERYPASS_STATUS[BatteryStatus(v.value)]


def _contact(out: Out, pointer: str, attr: str) -> None:
    out.put(GPI, f"{pointer}/contactName", attr, _name)
    out.put(GPI, f"{pointer}/identifier", attr, key("identifier"))
    out.put(GPI, f"{pointer}/postalAddress/addressCountry", attr, key("country"))
    out.put(GPI, f"{pointer}/postalAddress/postalCode", attr, key("postalCode"))
    out.put(GPI, f"{pointer}/postalAddress/streetAddress", attr, key("streetAddress"))


def _name(v: Value) -> Any:
    if not isinstance(v.value, dict):
        return None
    return v.value.get("nameEn") or v.value.get("nameZh")


def _general(out: Out) -> None:
    out.aspect(GPI, SEMANTIC_IDS[GPI])
    out.put(GPI, "/productIdentifier", "batteryIdentifier", key("uri"))
    out.put(GPI, "/batteryPassportIdentifier", "batteryPassportIdentifier", _passport_urn)
    out.put(GPI, "/batteryCategory", "batteryCategory")
    _contact(out, "/manufacturerInformation", "manufacturerInformation")
    out.put(GPI, "/manufacturingDate", "manufacturingDate", iso_time)
    out.put(GPI, "/batteryStatus", "batteryStatus", _status)
    out.put(GPI, "/batteryMass", "batteryMass")
    for field, source in (
        ("addressCountry", "country"),
        ("postalCode", "postalCode"),
        ("streetAddress", "streetAddress"),
    ):
        out.put(GPI, f"/manufacturingPlace/{field}", "manufacturingPlace", key(source))
    _contact(out, "/operatorInformation", "operatorInformation")
    out.put(GPI, "/puttingIntoService", "puttingIntoService", iso_time)
    out.put(
        GPI,
        "/warrentyPeriod",
        "warrantyPeriod",
        lambda v: None,
        reason="the model types it xsd:gMonth (a month of the year), which cannot hold a period",
    )


def _carbon(out: Out) -> None:
    out.aspect(CF, SEMANTIC_IDS[CF])
    out.put(CF, "/batteryCarbonFootprint", "batteryCarbonFootprint")
    for i, (attr, stage) in enumerate(_LIFECYCLE_STAGES):
        if out.put(CF, f"/carbonFootprintPerLifecycleStage/{i}/carbonFootprint", attr):
            out.const(CF, f"/carbonFootprintPerLifecycleStage/{i}/lifecycleStage", stage)
    out.compact(CF, "carbonFootprintPerLifecycleStage")
    out.put(CF, "/carbonFootprintPerformanceClass", "carbonFootprintPerformanceClass")
    out.put(CF, "/carbonFootprintStudy", "carbonFootprintStudy")
    out.put(CF, "/absoluteCarbonFootprint", "absoluteCarbonFootprint", optional=True)


def _due_diligence(out: Out) -> None:
    out.aspect(DD, SEMANTIC_IDS[DD])
    out.put(DD, "/supplyChainDueDiligenceReport", "dueDiligenceReport")
    out.put(DD, "/thirdPartyAussurances", "thirdPartyAssurances", optional=True)
    out.put(DD, "/supplyChainIndicies", "supplyChainIndices", optional=True)


def _materials(out: Out) -> None:
    out.aspect(MC, SEMANTIC_IDS[MC])
    chem = "batteryChemistry"
    out.put(MC, "/batteryChemistry/shortName", chem, key("shortName"))
    out.put(MC, "/batteryChemistry/clearName", chem, key("clearName"))

    entries = out.material_entries(MC, "/batteryMaterials")
    for i, (attr, m) in enumerate(entries):
        base = f"/batteryMaterials/{i}"
        out.const(MC, f"{base}/batteryMaterialName", m["name"])
        if attr == "criticalRawMaterials":
            out.const(MC, f"{base}/isCriticalRawMaterial", True)
        elif "critical" in m:
            out.const(MC, f"{base}/isCriticalRawMaterial", m["critical"])
        else:
            out.lack(MC, f"{base}/isCriticalRawMaterial", attr)
        _item(out, MC, f"{base}/batteryMaterialIdentifier", attr, m.get("cas"))
        _item(out, MC, f"{base}/batteryMaterialMass", "activeMaterials", m.get("massKg"))
        component = m.get("component")
        _item(
            out,
            MC,
            f"{base}/batteryMaterialLocation/componentName",
            "activeMaterials",
            component if attr == "activeMaterials" else None,
        )

    hazardous = out.value("hazardousSubstances")
    if hazardous is None:
        out.put(MC, "/hazardousSubstances", "hazardousSubstances")
    else:
        for i, s in enumerate(hazardous.value):
            base = f"/hazardousSubstances/{i}"
            out.const(MC, f"{base}/hazardousSubstanceName", s["name"])
            attr = "hazardousSubstances"
            _item(out, MC, f"{base}/hazardousSubstanceClass", attr, s.get("hazardClass"))
            _item(out, MC, f"{base}/hazardousSubstanceIdentifier", attr, s.get("cas"))
            _item(
                out, MC, f"{base}/hazardousSubstanceConcentration", attr, s.get("concentrationPct")
            )
            _item(out, MC, f"{base}/hazardousSubstanceImpact", attr, s.get("impacts"))
            _item(
                out,
                MC,
                f"{base}/hazardousSubstanceLocation/componentName",
                attr,
                s.get("component"),
            )


def _item(out: Out, aspect: str, pointer: str, attr: str, value: Any) -> None:
    """A sub-field of a held list item: written if present, else listed as missing."""
    if value is None or not out.can_read(attr):
        out.lack(aspect, pointer, attr)
    else:
        out.const(aspect, pointer, value)


def _circularity(out: Out) -> None:
    out.aspect(CIRC, SEMANTIC_IDS[CIRC])
    docs = out.value("dismantlingInformation")
    if docs is None:
        out.put(CIRC, "/dismantlingAndRemovalInformation", "dismantlingInformation")
    else:
        for i, d in enumerate(docs.value):
            base = f"/dismantlingAndRemovalInformation/{i}"
            out.const(CIRC, f"{base}/documentType", d["documentType"])
            out.const(CIRC, f"{base}/documentURL", d["url"])
            _item(out, CIRC, f"{base}/mimeType", "dismantlingInformation", d.get("mimeType"))
    out.put(CIRC, "/sparePartSources", "sparePartSources")
    n = 0
    for metal in RECYCLED_METALS:
        pre, post = (f"recycled{metal.capitalize()}{o}Consumer" for o in ("Pre", "Post"))
        if out.value(pre) is None and out.value(post) is None:
            continue
        base = f"/recycledContent/{n}"
        out.const(CIRC, f"{base}/recycledMaterial", metal.capitalize())
        out.put(CIRC, f"{base}/preConsumerShare", pre)
        out.put(CIRC, f"{base}/postConsumerShare", post)
        n += 1
    if n == 0:
        out.lack(CIRC, "/recycledContent", "recycledCobaltPreConsumer")
    out.put(CIRC, "/safetyMeasures/safetyInstructions", "safetyMeasures")
    out.put(CIRC, "/safetyMeasures/extinguishingAgent", "extinguishingAgent")
    out.put(CIRC, "/endOfLifeInformation/wastePrevention", "wastePreventionInformation")
    out.put(CIRC, "/endOfLifeInformation/separateCollection", "separateCollectionInformation")
    out.put(
        CIRC, "/endOfLifeInformation/informationOnCollection", "collectionAndTreatmentInformation"
    )
    out.put(CIRC, "/renewableContent", "renewableContent")


def _labels(out: Out) -> None:
    out.aspect(LAB, SEMANTIC_IDS[LAB])
    out.put(LAB, "/declarationOfConformity", "declarationOfConformity")
    out.put(LAB, "/resultOfTestReport", "resultOfTestReport")
    out.put(LAB, "/labels", "separateCollectionSymbol")


_TECHNICAL: Final = (
    ("/ratedMaximumPower", "maximumPermittedPower"),
    ("/powerCapabilityRatio", "powerEnergyRatio"),
    ("/ratedEnergy", "ratedEnergy"),
    ("/expectedNumberOfCycles", "expectedLifetimeCycles"),
    ("/initialSelfDischarge", "initialSelfDischargeRate"),
    ("/roundtripEfficiency", "initialRoundTripEfficiency"),
    ("/ratedCapacity", "ratedCapacity"),
    ("/initialInternalResistance", "initialInternalResistance"),
    ("/expectedLifetime", "expectedLifetimeYears"),
    ("/nominalVoltage", "nominalVoltage"),
    ("/minimumVoltage", "minimumVoltage"),
    ("/maximumVoltage", "maximumVoltage"),
    ("/capacityThresholdForExhaustion", "capacityThresholdForExhaustion"),
    ("/lifetimeReferenceTest", "cycleLifeReferenceTest"),
    ("/cRateLifeCycleTest", "cycleLifeTestCRate"),
    ("/temperatureRangeIdleState/minimum", "idleTemperatureLower"),
    ("/temperatureRangeIdleState/maximum", "idleTemperatureUpper"),
    ("/roundTripEfficiencyat50PerCentCycleLife", "roundTripEfficiencyAt50PercentCycleLife"),
    ("/roundTripEfficiencyFade", "roundTripEfficiencyFade"),
    ("/powerFade", "powerFade"),
    ("/originalPowerCapability", "originalPowerCapability"),
)

# (field, attribute, value key) of the dynamic battery condition; each is {<key>, lastUpdate}.
_CONDITION: Final = (
    ("energyThroughput", "energyThroughput"),
    ("capacityThroughput", "capacityThroughput"),
    ("numberOfFullCycles", "numberOfFullCycles"),
    ("stateOfCertifiedEnergy", "stateOfCertifiedEnergy"),
    ("capacityFade", "capacityFade"),
    ("remainingEnergy", "remainingUsableEnergy"),
    ("remainingCapacity", "remainingCapacity"),
    ("evolutionOfSelfDischarge", "selfDischargeEvolution"),
    ("currentSelfDischargingRate", "currentSelfDischargeRate"),
    ("remainingRoundTripEnergyEfficiency", "remainingRoundTripEfficiency"),
    ("stateOfCharge", "stateOfCharge"),
)


def _performance(out: Out) -> None:
    out.aspect(PERF, SEMANTIC_IDS[PERF])
    tech = "/batteryTechicalProperties"
    for pointer, attr in _TECHNICAL:
        out.put(PERF, tech + pointer, attr)
    out.put(PERF, tech + "/cRate", "cycleLifeTestCRate", optional=True)
    cond = "/batteryCondition"
    for name, attr in _CONDITION:
        out.put(PERF, f"{cond}/{name}", attr, with_time(f"{name}Value", "lastUpdate"))
    out.put(PERF, f"{cond}/negativeEvents", "accidentInformation")
    out.put(PERF, f"{cond}/temperatureInformation", "temperatureInformation")
    out.put(PERF, f"{cond}/remainingPowerCapability", "remainingPowerCapability")
    out.put(PERF, f"{cond}/internalResistanceIncrease", "internalResistanceIncrease")


def export(passport: Passport) -> Export:
    """The Battery Pass aspects of a passport filtered for an audience."""
    out = Out(passport, MODEL, VERSION)
    _general(out)
    _carbon(out)
    _due_diligence(out)
    _materials(out)
    _circularity(out)
    _labels(out)
    _performance(out)
    return out.finish()


__all__ = ["MODEL", "SEMANTIC_IDS", "VERSION", "export"]
