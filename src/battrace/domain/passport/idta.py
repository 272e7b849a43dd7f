"""Export to the IDTA / Catena-X battery passport submodels (AAS value-only JSON, 1.0.x).

The successor of the Catena-X battery pass: seven ``io.admin-shell.idta.batterypass`` submodels and
the generic ``io.admin-shell.idta.dpp.dpp_metadata``, PascalCase idShorts. Mapping decisions:

* Multi-language properties are written as the schemas define them, a list of one-language
  objects (``[{"zh": "…"}, {"en": "…"}]``); the upstream examples' bare object form does not
  validate (``shared/reference/idta-batterypass/README.md``).
* ``URIOfTheProduct`` is the GS1 Digital Link for a GS1-identified battery, else the battery's URI.
* ``UniqueFacilityIdentifier`` is the commissioning site's URI (``urn:uscc:…:site:…``).
* Warranty is an ISO 8601 duration (``P8Y``); the carbon footprint is declared per 1 kWh
  (``ReferenceImpactUnitForCalculation`` ``kwH``, quantity 1), which is what DIN 6.3.2 defines.
* ``DppMetadata.dppStatus`` is ``Active`` or, after recycling, ``Inactive``; ``granularity`` is
  ``Item`` (one passport per battery, Art. 77(1)).
* As for the other models, battrace's capacity-based state of health is not written as
  ``StateOfCertifiedEnergy``; measured capacity is ``RemainingCapacity``.
"""

from __future__ import annotations

from typing import Any, Final

from battrace.domain.passport.export import Export, Out, as_list, date_of, key, with_time
from battrace.domain.passport.model import RECYCLED_METALS, Passport, Value
from battrace.domain.passport.status import REGULATION_STATUS, BatteryStatus, PassportStatus

MODEL: Final = "idta"
VERSION: Final = "1.0.x"

NP = "BatteryNameplate"
TD = "TechnicalData"
PC = "ProductCondition"
MC = "MaterialComposition"
CIRC = "Circularity"
CF = "CarbonFootprint"
HD = "HandoverDocumentation"
META = "DppMetadata"

SEMANTIC_IDS: Final = {
    NP: "urn:samm:io.admin-shell.idta.batterypass.digital_nameplate:1.0.0#BatteryNameplate",
    TD: "urn:samm:io.admin-shell.idta.batterypass.technical_data:1.0.1#TechnicalData",
    PC: "urn:samm:io.admin-shell.idta.batterypass.product_condition:1.0.1#ProductCondition",
    MC: "urn:samm:io.admin-shell.idta.batterypass.material_composition:1.0.1#MaterialComposition",
    CIRC: "urn:samm:io.admin-shell.idta.batterypass.circularity:1.0.0#Circularity",
    CF: "urn:samm:io.admin-shell.idta.batterypass.carbon_footprint:1.0.0#CarbonFootprintBattery",
    HD: "urn:samm:io.admin-shell.idta.batterypass.handover_documentation:1.0.0#HandoverDocumentation",
    META: "urn:samm:io.admin-shell.idta.dpp.dpp_metadata:1.0.0#DppMetadata",
}


def _ml_name(v: Value) -> Any:
    """A party's names as an AAS multi-language value."""
    if not isinstance(v.value, dict):
        return None
    out = []
    if v.value.get("nameZh"):
        out.append({"zh": v.value["nameZh"]})
    if v.value.get("nameEn"):
        out.append({"en": v.value["nameEn"]})
    return out or None


def _plain_name(v: Value) -> Any:
    return v.value.get("nameEn") or v.value.get("nameZh") if isinstance(v.value, dict) else None


def _status(v: Value) -> str:
    return REGULATION_STATUS[BatteryStatus(v.value)]


def _product_uri(v: Value) -> Any:
    return v.value.get("digitalLink") or v.value.get("uri")


def _nameplate(out: Out) -> None:
    out.aspect(NP, SEMANTIC_IDS[NP])
    out.put(NP, "/URIOfTheProduct", "batteryIdentifier", _product_uri)
    out.put(NP, "/ManufacturerName", "manufacturerInformation", _ml_name)
    maker = "manufacturerInformation"
    out.put(
        NP,
        "/AddressInformation/NationalCode",
        maker,
        lambda v: [{"en": v.value["country"]}] if v.value.get("country") else None,
    )
    for field in ("CityTown", "Street", "ZipCode"):
        out.lack(NP, f"/AddressInformation/{field}", maker)
    out.put(NP, "/SerialNumber", "batteryIdentifier", key("code"))
    out.put(NP, "/DateOfManufacture", "manufacturingDate", date_of)
    out.put(NP, "/DateOfPuttingIntoService", "puttingIntoService", date_of, optional=True)
    out.put(NP, "/UniqueFacilityIdentifier", "manufacturingPlace", key("site"))
    out.put(NP, "/LifeCycleStage", "batteryStatus", _status)
    out.put(NP, "/OperatorIdentifier", "operatorInformation", key("identifier"), optional=True)
    out.put(NP, "/ManufacturerIdentifier", maker, key("identifier"))
    out.put(NP, "/Markings", "separateCollectionSymbol")
    out.put(NP, "/EUDeclarationOfConformity", "declarationOfConformity", as_list)
    out.put(NP, "/ResultsOfTestReportsProvingCompliance", "resultOfTestReport", as_list)


def _warranty(v: Value) -> Any:
    unit = {"year": "Y", "month": "M"}.get(v.value.get("unit"))
    return f"P{v.value['value']}{unit}" if unit else None


_TECHNICAL: Final = (
    ("/CapacityEnergyVoltage/NominalVoltage", "nominalVoltage", False),
    ("/CapacityEnergyVoltage/MinVoltage", "minimumVoltage", False),
    ("/CapacityEnergyVoltage/MaxVoltage", "maximumVoltage", False),
    ("/CapacityEnergyVoltage/RatedCapacity", "ratedCapacity", False),
    ("/CapacityEnergyVoltage/CapacityFade", "capacityFade", True),
    ("/CapacityEnergyVoltage/CertifiedUsableBatteryEnergy", "certifiedUsableEnergy", True),
    (
        "/RoundTripEnergyEfficiency/InitialRoundTripEnergyEfficiency",
        "initialRoundTripEfficiency",
        False,
    ),
    (
        "/RoundTripEnergyEfficiency/RoundTripEnergyEfficiencyAt50PercentOfCycleLife",
        "roundTripEfficiencyAt50PercentCycleLife",
        False,
    ),
    ("/RoundTripEnergyEfficiency/EnergyRoundTripEfficiencyFade", "roundTripEfficiencyFade", True),
    ("/RoundTripEnergyEfficiency/InitialSelfDischargingRate", "initialSelfDischargeRate", True),
    ("/Resistance/InitialInternalResistanceAtBatteryCellLevel", "initialInternalResistance", False),
    ("/Resistance/InitialInternalResistanceAtBatteryPackLevel", "initialInternalResistance", False),
    (
        "/Resistance/InternalResistanceIncreaseAtBatteryPackLevel",
        "internalResistanceIncrease",
        False,
    ),
    ("/PowerCapability/MaximumPermittedBatteryPower", "maximumPermittedPower", False),
    ("/PowerCapability/PowerFade", "powerFade", False),
    ("/PowerCapability/RatioNominalBatteryPowerAndBatteryEnergy", "powerEnergyRatio", False),
    ("/PowerCapability/OriginalPowerCapability", "originalPowerCapability", False),
    ("/Temperature/TemperatureRangeIdleState_LowerBoundary", "idleTemperatureLower", False),
    ("/Temperature/TemperatureRangeIdleState_UpperBoundary", "idleTemperatureUpper", False),
    ("/Lifetime/ExpectedLifetimeInCalendarYears", "expectedLifetimeYears", False),
    ("/Lifetime/ExpectedNumberOfCycles", "expectedLifetimeCycles", False),
    ("/Lifetime/CapacityThresholdExhaustion", "capacityThresholdForExhaustion", False),
    ("/Lifetime/CycleLifeReferenceTest", "cycleLifeReferenceTest", False),
    ("/Lifetime/CrateOfRelevantCycleLifeTest", "cycleLifeTestCRate", False),
)


def _technical(out: Out) -> None:
    out.aspect(TD, SEMANTIC_IDS[TD])
    g = "/GeneralInformation"
    out.put(TD, f"{g}/ManufacturerName", "manufacturerInformation", _plain_name)
    out.put(TD, f"{g}/ManufacturerIdentifier", "manufacturerInformation", key("identifier"))
    out.put(TD, f"{g}/WarrantyInformation/WarrantyPeriod", "warrantyPeriod", _warranty)
    out.put(TD, f"{g}/BatteryCategory", "batteryCategory")
    out.put(TD, f"{g}/BatteryMass", "batteryMass")
    for pointer, attr, optional in _TECHNICAL:
        convert = as_list if attr == "cycleLifeReferenceTest" else None
        out.put(TD, "/TechnicalPropertyAreas" + pointer, attr, convert, optional=optional)


_CONDITION: Final = (
    ("NumberOfFullCycles", "numberOfFullCycles", False),
    ("StateOfCharge", "stateOfCharge", False),
    ("EnergyThroughput", "energyThroughput", True),
    ("CapacityThroughput", "capacityThroughput", True),
    ("StateOfCertifiedEnergy", "stateOfCertifiedEnergy", True),
    ("RemainingEnergy", "remainingUsableEnergy", True),
    ("RemainingCapacity", "remainingCapacity", True),
    ("EvolutionOfSelfDischarge", "selfDischargeEvolution", True),
    ("CurrentSelfDischargingRate", "currentSelfDischargeRate", True),
    ("RemainingRoundTripEnergyEfficiency", "remainingRoundTripEfficiency", True),
)


def _condition(out: Out) -> None:
    out.aspect(PC, SEMANTIC_IDS[PC])
    for name, attr, optional in _CONDITION:
        convert = with_time(f"{name}Value", "LastUpdate")
        out.put(PC, f"/{name}", attr, convert, optional=optional)
    out.put(PC, "/InformationOnAccidents", "accidentInformation")
    out.put(PC, "/TemperatureInformation", "temperatureInformation")


def _materials(out: Out) -> None:
    out.aspect(MC, SEMANTIC_IDS[MC])
    out.put(MC, "/BatteryChemistry/ShortName", "batteryChemistry", key("shortName"))
    out.put(MC, "/BatteryChemistry/ClearName", "batteryChemistry", key("clearName"))
    entries = out.material_entries(MC, "/BatteryMaterials")
    for i, (attr, m) in enumerate(entries):
        base = f"/BatteryMaterials/{i}"
        out.const(MC, f"{base}/BatteryMaterialName", m["name"])
        critical_flag = True if attr == "criticalRawMaterials" else m.get("critical")
        _item(out, f"{base}/IsCriticalRawMaterial", attr, critical_flag)
        _item(out, f"{base}/BatteryMaterialIdentifier", attr, m.get("cas"))
        if attr == "activeMaterials":
            out.const(MC, f"{base}/BatteryMaterialLocation/ComponentName", m["component"])
            if "massKg" in m:
                out.const(MC, f"{base}/BatteryMaterialMass", m["massKg"])
        else:
            out.lack(MC, f"{base}/BatteryMaterialLocation", "activeMaterials")
    hazardous = out.value("hazardousSubstances")
    if hazardous is None:
        out.put(MC, "/HazardousSubstances", "hazardousSubstances")
        return
    for i, s in enumerate(hazardous.value):
        base = f"/HazardousSubstances/{i}"
        attr = "hazardousSubstances"
        out.const(MC, f"{base}/HazardousSubstanceName", s["name"])
        _item(out, f"{base}/HazardousSubstanceIdentifier", attr, s.get("cas"))
        for field, value in (
            ("HazardousSubstanceClass", s.get("hazardClass")),
            ("HazardousSubstanceConcentration", s.get("concentrationPct")),
            ("HazardousSubstanceImpact", s.get("impacts")),
        ):
            if value is not None:
                out.const(MC, f"{base}/{field}", value)
        if "component" in s:
            out.const(MC, f"{base}/HazardousSubstanceLocation/ComponentName", s["component"])


def _item(out: Out, pointer: str, attr: str, value: Any) -> None:
    if value is None or not out.can_read(attr):
        out.lack(MC, pointer, attr)
    else:
        out.const(MC, pointer, value)


def _circularity(out: Out) -> None:
    out.aspect(CIRC, SEMANTIC_IDS[CIRC])
    out.put(
        CIRC,
        "/DismantlingAndRemovalInformation",
        "dismantlingInformation",
        lambda v: [d["url"] for d in v.value],
    )
    out.put(CIRC, "/SparePartSources", "sparePartSources")
    n = 0
    for metal in RECYCLED_METALS:
        pre, post = (f"recycled{metal.capitalize()}{o}Consumer" for o in ("Pre", "Post"))
        if out.value(pre) is None and out.value(post) is None:
            continue
        base = f"/RecycledContentInformation/{n}"
        out.const(CIRC, f"{base}/RecycledMaterial", metal.capitalize())
        out.put(CIRC, f"{base}/PreConsumerShare", pre)
        out.put(CIRC, f"{base}/PostConsumerShare", post)
        n += 1
    if n == 0:
        out.lack(CIRC, "/RecycledContentInformation", "recycledCobaltPreConsumer")
    out.put(CIRC, "/SafetyMeasures/SafetyInstructions", "safetyMeasures", as_list)
    out.put(CIRC, "/SafetyMeasures/ExtinguishingAgents", "extinguishingAgent")
    eol = "/EndOfLifeInformation"
    out.put(CIRC, f"{eol}/WastePrevention", "wastePreventionInformation", as_list)
    out.put(CIRC, f"{eol}/SeparateCollection", "separateCollectionInformation", as_list)
    out.put(CIRC, f"{eol}/InformationOnCollection", "collectionAndTreatmentInformation", as_list)
    out.put(CIRC, "/RenewableContent", "renewableContent")


def _carbon(out: Out) -> None:
    out.aspect(CF, SEMANTIC_IDS[CF])
    base = "/ProductCarbonFootprints/0"
    if not out.put(CF, f"{base}/PcfCo2eq", "batteryCarbonFootprint"):
        return
    # DIN 6.3.2 defines the value per kWh of total energy: the reference unit follows from it.
    out.const(CF, f"{base}/ReferenceImpactUnitForCalculation", "kwH")
    out.const(CF, f"{base}/QuantityOfMeasureForCalculation", 1)
    out.lack(CF, f"{base}/PcfCalculationMethods", "batteryCarbonFootprint")
    out.lack(CF, f"{base}/LifeCyclePhases", "batteryCarbonFootprint")
    out.put(CF, f"{base}/PerformanceClass", "carbonFootprintPerformanceClass")
    out.put(CF, f"{base}/WebLinkToPublicCarbonFootprintStudy", "carbonFootprintStudy", as_list)


def _handover(out: Out) -> None:
    out.aspect(HD, SEMANTIC_IDS[HD])
    out.lack(HD, "/Documents", None, "battrace does not classify documents (VDI 2770)")


def _metadata(out: Out) -> None:
    out.aspect(META, SEMANTIC_IDS[META])
    p = out.passport
    out.put(META, "/digitalProductPassportId", "batteryPassportIdentifier")
    out.put(META, "/uniqueProductIdentifier", "batteryIdentifier", _product_uri)
    out.const(META, "/granularity", "Item")
    out.const(META, "/dppSchemaVersion", "io.admin-shell.idta.batterypass:1.0")
    ceased = p.get("passportStatus") == PassportStatus.CEASED.value
    out.const(META, "/dppStatus", "Inactive" if ceased else "Active")
    if p.last_update:
        out.const(META, "/lastUpdate", p.last_update)
    else:
        out.lack(META, "/lastUpdate", None, "the ledger holds no event for this battery")
    out.put(META, "/economicOperatorId", "operatorInformation", key("identifier"))
    out.put(META, "/facilityId", "manufacturingPlace", key("site"), optional=True)
    out.const(META, "/contentSpecificationIds", sorted(SEMANTIC_IDS.values()))


def export(passport: Passport) -> Export:
    """The IDTA submodels and DPP metadata of a passport filtered for an audience."""
    out = Out(passport, MODEL, VERSION)
    _nameplate(out)
    _technical(out)
    _condition(out)
    _materials(out)
    _circularity(out)
    _carbon(out)
    _handover(out)
    _metadata(out)
    return out.finish()


__all__ = ["MODEL", "SEMANTIC_IDS", "VERSION", "export"]
