"""Export to Catena-X ``io.catenax.battery.battery_pass`` 6.1.0 (one aspect, nested by theme).

Catena-X is being deprecated in favour of the IDTA models (sldt-semantic-models #963, #964) but
6.1.0 is still certified ("Saturn"), so battrace keeps it. Mapping decisions:

* Business partner numbers (``BPNL…``/``BPNA…``) identify companies and sites inside Catena-X.
  battrace knows enterprises by USCC and sites by their URIs, never by BPN, so every BPN field
  (``metadata.economicOperatorId``, ``operation.manufacturer``, facilities, producers) is missing.
* ``metadata.status``: a live export is a ``draft``; a published version is ``approved``; a passport
  that has ceased after recycling is ``expired``. ``metadata.version`` and ``issueDate`` exist only
  for a published version.
* ``metadata.predecessor`` holds one passport: it is written when the product has exactly one
  original (the usual cascade case); with several it stays missing, and the battrace model lists them
  all (``predecessorPassports``).
* ``identification.category``: the regulation's stationary storage batteries are industrial
  batteries, and Catena-X has no separate value for them.
* Recycled content: Catena-X has one ``recycled`` share per metal; it is the pre-consumer plus the
  post-consumer share, written only when both are held.
* Dynamic values are ``{value, time}``; measured resistance goes to ``remaining.<pack|module|cell>``
  by the kind of the battery's code.
"""

from __future__ import annotations

from typing import Any, Final

from battrace.domain.passport.export import Export, Out, date_of, key, url_document, with_time
from battrace.domain.passport.model import Passport, Value
from battrace.domain.passport.status import REGULATION_STATUS, BatteryStatus, PassportStatus

MODEL: Final = "catenax"
VERSION: Final = "6.1.0"
BP = "BatteryPass"
SEMANTIC_ID: Final = "urn:samm:io.catenax.battery.battery_pass:6.1.0#BatteryPass"
SEMANTIC_IDS: Final = {BP: SEMANTIC_ID}
NO_BPN = "battrace identifies enterprises by USCC and holds no Catena-X business partner number"

_CATEGORY: Final = {
    "ev": "EV",
    "lmt": "LMT",
    "industrial": "industrial",
    "stationary": "industrial",
}


def _status(v: Value) -> str:
    return REGULATION_STATUS[BatteryStatus(v.value)]


def _metadata(out: Out) -> None:
    p = out.passport
    m = "/metadata"
    out.put(BP, f"{m}/passportIdentifier", "batteryPassportIdentifier")
    ceased = p.get("passportStatus") == PassportStatus.CEASED.value
    out.const(BP, f"{m}/status", "expired" if ceased else "approved" if p.publication else "draft")
    if p.publication is not None:
        out.const(BP, f"{m}/version", str(p.publication.version))
        out.const(BP, f"{m}/issueDate", p.publication.issued_at[:10])
    else:
        why = "a live export is not a published version (battrace passport publish)"
        out.lack(BP, f"{m}/version", None, why)
        out.lack(BP, f"{m}/issueDate", None, why)
    out.lack(BP, f"{m}/expirationDate", None, "battrace sets no expiration date")
    out.lack(BP, f"{m}/economicOperatorId", "operatorInformation", NO_BPN)
    out.lack(BP, f"{m}/backupReference", None)
    preds = out.value("predecessorPassports")
    if preds is not None and len(preds.value) == 1:
        out.const(BP, f"{m}/predecessor", preds.value[0]["passportIdentifier"])
    elif preds is not None:
        out.lack(BP, f"{m}/predecessor", None, "several original batteries; the model holds one")
    else:
        out.put(
            BP,
            f"{m}/predecessor",
            "predecessorPassports",
            reason="not applicable: the battery is not made from earlier batteries",
        )
    if p.last_update:
        out.const(BP, f"{m}/lastModification", p.last_update[:10])


def _identification(out: Out) -> None:
    i = "/identification"
    out.put(BP, f"{i}/category", "batteryCategory", lambda v: _CATEGORY.get(str(v.value)))
    out.put(BP, f"{i}/idDmc", "batteryIdentifier", key("code"))
    out.put(BP, f"{i}/chemistry", "batteryChemistry", key("shortName"))
    out.put(
        BP,
        f"{i}/identification/serial",
        "batteryIdentifier",
        lambda v: [{"key": "partInstanceId", "value": v.value["code"]}],
    )
    out.put(BP, f"{i}/identification/type/manufacturerPartId", "manufacturerPartId")
    out.put(BP, f"{i}/identification/type/nameAtManufacturer", "batteryModel")
    out.lack(BP, f"{i}/identification/codes", None, "no customs (TARIC) code is held")
    out.lack(BP, f"{i}/identification/dataCarrier", None)
    out.lack(BP, f"{i}/identification/classification", None)


def _operation(out: Out) -> None:
    out.put(BP, "/operation/intoServiceDate", "puttingIntoService", date_of, optional=True)
    out.lack(BP, "/operation/manufacturer/manufacturer", "manufacturerInformation", NO_BPN)
    out.lack(BP, "/operation/manufacturer/facility", "manufacturingPlace", NO_BPN)
    out.put(BP, "/operation/manufacturer/manufacturingDate", "manufacturingDate", date_of)


def _warranty(v: Value) -> Any:
    unit = {"year": "unit:year", "month": "unit:month"}.get(v.value.get("unit"))
    return {"lifeValue": v.value["value"], "lifeUnit": unit} if unit else None


def _characteristics(out: Out) -> None:
    out.put(BP, "/characteristics/warranty", "warrantyPeriod", _warranty)
    out.put(
        BP,
        "/characteristics/physicalDimension/weight",
        "batteryMass",
        lambda v: {"value": v.value, "unit": "unit:kilogram"},
    )
    out.lack(BP, "/commercial/purpose", None)


def _sustainability(out: Out) -> None:
    s = "/sustainability"
    out.put(
        BP,
        f"{s}/documents/separateCollection",
        "separateCollectionInformation",
        url_document("Separate collection of waste batteries"),
    )
    out.put(
        BP,
        f"{s}/documents/wastePrevention",
        "wastePreventionInformation",
        url_document("Waste prevention"),
    )
    cf = f"{s}/carbonFootprint/0"
    if out.put(BP, f"{cf}/value", "batteryCarbonFootprint"):
        # The unit and impact category follow from what the attribute is (DIN 6.3.2: climate
        # change per functional unit, kg CO2e per kWh of total energy).
        out.const(BP, f"{cf}/unit", "kg CO2 / kWh")
        out.const(BP, f"{cf}/type", "Climate Change Total")
        out.put(BP, f"{cf}/performanceClass", "carbonFootprintPerformanceClass", optional=True)
        out.lack(BP, f"{cf}/lifecycle", "batteryCarbonFootprint")
        out.lack(BP, f"{cf}/rulebook", "batteryCarbonFootprint")
        out.lack(BP, f"{cf}/manufacturingPlant", "manufacturingPlace", NO_BPN)
        out.lack(BP, f"{cf}/declaration", "batteryCarbonFootprint")
    out.put(BP, f"{s}/status", "batteryStatus", _status)


_ACTIVE: Final = ("nickel", "lithium", "cobalt", "lead")
_HAZARDOUS: Final = ("cadmium", "mercury", "lead")


def _named(entries: Any, name: str) -> dict[str, Any] | None:
    if not isinstance(entries, list):
        return None
    for e in entries:
        if isinstance(e, dict) and str(e.get("name", "")).strip().lower() == name:
            return e
    return None


def _materials(out: Out) -> None:
    for metal in _ACTIVE:
        base = f"/materials/active/{metal}"
        pre = out.value(f"recycled{metal.capitalize()}PreConsumer")
        post = out.value(f"recycled{metal.capitalize()}PostConsumer")
        attr = f"recycled{metal.capitalize()}PreConsumer"
        if pre is not None and post is not None:
            out.const(BP, f"{base}/recycled", round(pre.value + post.value, 6))
        else:
            out.lack(
                BP, f"{base}/recycled", attr, "pre- and post-consumer shares are not both held"
            )
        active = out.value("activeMaterials")
        entry = _named(active.value if active else None, metal)
        if entry is not None and "component" in entry:
            out.const(BP, f"{base}/location", entry["component"])
        else:
            out.lack(BP, f"{base}/location", "activeMaterials")
        critical = out.value("criticalRawMaterials")
        if _named(critical.value if critical else None, metal) is not None:
            out.const(BP, f"{base}/critical", True)
        else:
            out.lack(BP, f"{base}/critical", "criticalRawMaterials")
        out.lack(BP, f"{base}/documentation", "activeMaterials")
        if metal == "lead":  # lead is also a hazardous substance: the model asks its concentration
            for field in ("concentration", "materialUnit", "impactOfSubstances"):
                out.lack(BP, f"{base}/{field}", "hazardousSubstances")
    hazardous = out.value("hazardousSubstances")
    for name in _HAZARDOUS:
        base = f"/materials/hazardous/{name}"
        if hazardous is None:
            out.put(BP, base, "hazardousSubstances")
            continue
        entry = _named(hazardous.value, name)
        if entry is None:
            out.lack(BP, base, "hazardousSubstances", "not among the declared hazardous substances")
            continue
        if "concentrationPct" in entry:
            out.const(BP, f"{base}/concentration", entry["concentrationPct"])
            out.const(BP, f"{base}/materialUnit", "unit:percent")
        else:
            out.lack(BP, f"{base}/concentration", "hazardousSubstances")
            out.lack(BP, f"{base}/materialUnit", "hazardousSubstances")
        if "component" in entry:
            out.const(BP, f"{base}/location", entry["component"])
        else:
            out.lack(BP, f"{base}/location", "hazardousSubstances")
        for field in ("critical", "documentation", "impactOfSubstances"):
            out.lack(BP, f"{base}/{field}", "hazardousSubstances")
    active = out.value("activeMaterials")
    if active is None:
        out.put(BP, "/materials/composition", "activeMaterials")
        return
    for i, m in enumerate(active.value):
        base = f"/materials/composition/{i}"
        if "cas" in m:
            out.const(BP, f"{base}/id", [{"id": m["cas"], "type": "CAS", "name": m["name"]}])
        else:
            out.lack(BP, f"{base}/id", "activeMaterials")
        if "concentrationPct" in m:
            out.const(BP, f"{base}/concentration", m["concentrationPct"])
            out.const(BP, f"{base}/unit", "unit:percent")
        else:
            out.lack(BP, f"{base}/concentration", "activeMaterials")
            out.lack(BP, f"{base}/unit", "activeMaterials")
        if "critical" in m:
            out.const(BP, f"{base}/critical", m["critical"])
        else:
            out.lack(BP, f"{base}/critical", "activeMaterials")
        out.const(BP, f"{base}/location", m.get("component"))
        for field in ("documentation", "recycled", "renewable"):
            out.lack(BP, f"{base}/{field}", "activeMaterials")


_RATED: Final = (
    ("/voltage/min", "minimumVoltage"),
    ("/voltage/max", "maximumVoltage"),
    ("/voltage/nominal", "nominalVoltage"),
    ("/roundTripEfficiency/initial", "initialRoundTripEfficiency"),
    ("/roundTripEfficiency/50PercentLife", "roundTripEfficiencyAt50PercentCycleLife"),
    ("/roundTripEfficiency/depthOfDischarge", "cycleLifeReferenceTest"),
    ("/resistance/cell", "initialInternalResistance"),
    ("/resistance/pack", "initialInternalResistance"),
    ("/power/value", "maximumPermittedPower"),
    ("/power/at20SoC", "originalPowerCapability"),
    ("/power/at80SoC", "originalPowerCapability"),
    ("/capacity/value", "ratedCapacity"),
    ("/capacity/thresholdExhaustion", "capacityThresholdForExhaustion"),
    ("/temperature/lower", "idleTemperatureLower"),
    ("/temperature/upper", "idleTemperatureUpper"),
    ("/selfDischargingRate", "initialSelfDischargeRate"),
    ("/lifetime/expectedYears", "expectedLifetimeYears"),
    ("/lifetime/report", "cycleLifeReferenceTest"),
    ("/lifetime/cycleLifeTesting/cycles", "expectedLifetimeCycles"),
    ("/lifetime/cycleLifeTesting/temperature", "cycleLifeReferenceTest"),
    ("/lifetime/cycleLifeTesting/depthOfDischarge", "cycleLifeReferenceTest"),
    ("/lifetime/cycleLifeTesting/appliedChargeRate", "cycleLifeTestCRate"),
    ("/lifetime/cycleLifeTesting/appliedDischargeRate", "cycleLifeTestCRate"),
)

_DYNAMIC: Final = (
    ("/stateOfCharge", "stateOfCharge"),
    ("/fullCycles", "numberOfFullCycles"),
    ("/power/fade", "powerFade"),
    ("/power/remaining", "remainingPowerCapability"),
    ("/capacity/fade", "capacityFade"),
    ("/capacity/throughput", "capacityThroughput"),
    ("/capacity/capacity", "remainingCapacity"),
    ("/roundTripEfficiency/fade", "roundTripEfficiencyFade"),
    ("/roundTripEfficiency/remaining", "remainingRoundTripEfficiency"),
    ("/resistance/increase/pack", "internalResistanceIncrease"),
    ("/resistance/increase/cell", "internalResistanceIncrease"),
    ("/energy/soce", "stateOfCertifiedEnergy"),
    ("/energy/remaining", "remainingUsableEnergy"),
    ("/energy/throughput", "energyThroughput"),
)


def _performance(out: Out) -> None:
    for pointer, attr in _RATED:
        if attr == "cycleLifeReferenceTest" and pointer != "/lifetime/report":
            out.lack(BP, "/performance/rated" + pointer, attr)
        else:
            out.put(BP, "/performance/rated" + pointer, attr)
    out.put(
        BP,
        "/performance/rated/energy",
        "ratedEnergy",
        lambda v: {"value": v.value},
        optional=True,
    )
    dyn = "/performance/dynamic"
    for pointer, attr in _DYNAMIC:
        out.put(BP, dyn + pointer, attr, with_time("value", "time"))
    out.put(BP, f"{dyn}/selfDischargingRate", "currentSelfDischargeRate")
    resistance = out.value("measuredInternalResistance")
    if resistance is not None:
        component = resistance.value.get("component", "pack")
        time = resistance.last_update
        pointer = f"{dyn}/resistance/remaining/{component}"
        out.const(BP, pointer, {"value": resistance.value["value"], "time": time})
        for other in ("pack", "cell"):
            if other != component:
                out.lack(BP, f"{dyn}/resistance/remaining/{other}", "measuredInternalResistance")
    else:
        for part in ("pack", "cell"):
            out.put(BP, f"{dyn}/resistance/remaining/{part}", "measuredInternalResistance")


def _conformity(out: Out) -> None:
    c = "/conformity"
    out.put(
        BP,
        f"{c}/declarationOfConformity",
        "declarationOfConformity",
        url_document("EU declaration of conformity"),
    )
    out.put(
        BP,
        f"{c}/resultOfTestReport",
        "resultOfTestReport",
        url_document("Results of test reports proving compliance"),
    )
    out.put(BP, f"{c}/thirdPartyAssurance", "thirdPartyAssurances")
    out.put(
        BP,
        f"{c}/dueDiligencePolicy",
        "dueDiligenceReport",
        url_document("Supply chain due diligence report"),
    )


def _safety(out: Out) -> None:
    agents = out.value("extinguishingAgent")
    if agents is None:
        out.put(BP, "/safety/usableExtinguishAgent", "extinguishingAgent")
    else:
        for i, media in enumerate(agents.value):
            out.const(BP, f"/safety/usableExtinguishAgent/{i}/media", media)
            out.lack(BP, f"/safety/usableExtinguishAgent/{i}/fireClass", "extinguishingAgent")
    out.put(BP, "/safety/safetyMeasures", "safetyMeasures", url_document("Safety instructions"))
    out.put(BP, "/safety/meaningOfLabels", "meaningOfLabels")
    docs = out.value("dismantlingInformation")
    if docs is None:
        out.put(BP, "/safety/dismantling", "dismantlingInformation")
    else:
        out.const(
            BP,
            "/safety/dismantling",
            [
                {"header": d["documentType"], "contentType": "URL", "content": d["url"]}
                for d in docs.value
            ],
        )


def _handling(out: Out) -> None:
    out.lack(BP, "/handling/applicable", "sparePartSources")
    out.lack(BP, "/handling/content/producer", "sparePartSources", NO_BPN)
    out.lack(BP, "/handling/content/sparePart", "sparePartSources")


def export(passport: Passport) -> Export:
    """The Catena-X BatteryPass document of a passport filtered for an audience."""
    out = Out(passport, MODEL, VERSION)
    out.aspect(BP, SEMANTIC_ID)
    out.const(BP, "/specVersion", "urn:samm:io.catenax.battery.battery_pass:6.1.0")
    _metadata(out)
    _identification(out)
    _operation(out)
    _characteristics(out)
    _sustainability(out)
    _materials(out)
    _performance(out)
    _conformity(out)
    _safety(out)
    _handling(out)
    return out.finish()


__all__ = ["MODEL", "SEMANTIC_ID", "SEMANTIC_IDS", "VERSION", "export"]
