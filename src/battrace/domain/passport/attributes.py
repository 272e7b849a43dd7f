"""The passport's attributes: one registry keyed like DIN DKE SPEC 99100, with Annex XIII access.

Every value battrace puts in a passport belongs to exactly one :class:`Attribute`, and every field of
every exported data model is declared against one attribute (``exporters``): the access group of a
field is therefore the group of its attribute, the same in every format, and a caller only ever sees
the attributes :func:`visible` allows for its :class:`Audience`.

The 93 rows of :data:`LONG_LIST` restate the factual classification of the Battery Pass attribute
long list v1.2 (January 2025, (c) Systemiq for the Battery Pass Consortium, CC BY-NC 4.0; aligned
to DIN DKE SPEC 99100:2025-02) as summarised in ``shared/domain/eu-passport.md`` section 1.3.1:
chapter, access group, static/dynamic, model/item level, unit and per-category obligation.
The keys (camelCase) are battrace's own. :data:`EXTRAS` are the few facts the ledger holds that the
long list has no row for; each says which Annex XIII point governs it and why.

Access groups (Annex XIII; Art. 77(2) as summarised in the domain notes):

=====================  =====  ==========================================================
group                  point  who may see it
=====================  =====  ==========================================================
``public``             1      everyone
``pli_commission``     2      persons with a legitimate interest, and the Commission
``nb_msa_commission``  3      notified bodies, market surveillance authorities, Commission
``pli``                4      persons with a legitimate interest (individual battery data)
=====================  =====  ==========================================================

battrace serves three audiences. ``legitimate`` sees points 1, 2 and 4. ``authority`` stands for
notified bodies, market surveillance authorities *and the Commission*: it sees points 1 and 3, and
point 2 because the Commission is entitled to it. It does not see point 4, which Annex XIII reserves
to persons with a legitimate interest; an authority that also has such an interest is granted the
``legitimate`` audience as well and asks for it explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from battrace.domain.errors import InvalidInput


class Group(StrEnum):
    """Annex XIII access group of an attribute."""

    PUBLIC = "public"
    PLI_COMMISSION = "pli_commission"
    NB_MSA_COMMISSION = "nb_msa_commission"
    PLI = "pli"


class Audience(StrEnum):
    """Who is asking: the three caller classes of Art. 77(2)."""

    PUBLIC = "public"
    LEGITIMATE = "legitimate"
    AUTHORITY = "authority"


PUBLIC: Final = Group.PUBLIC
PLI: Final = Group.PLI
PLI_COMMISSION: Final = Group.PLI_COMMISSION
NB_MSA_COMMISSION: Final = Group.NB_MSA_COMMISSION

ANNEX_POINT: Final = MappingProxyType(
    {Group.PUBLIC: 1, Group.PLI_COMMISSION: 2, Group.NB_MSA_COMMISSION: 3, Group.PLI: 4}
)

#: Which groups each audience may read (see the module docstring for the reasoning).
AUDIENCE_GROUPS: Final = MappingProxyType(
    {
        Audience.PUBLIC: frozenset({Group.PUBLIC}),
        Audience.LEGITIMATE: frozenset({Group.PUBLIC, Group.PLI_COMMISSION, Group.PLI}),
        Audience.AUTHORITY: frozenset(
            {Group.PUBLIC, Group.PLI_COMMISSION, Group.NB_MSA_COMMISSION}
        ),
    }
)

#: Battery categories of the regulation, in the order of the long list's obligation columns.
CATEGORIES: Final = ("ev", "lmt", "industrial", "stationary")


@dataclass(frozen=True, slots=True)
class Attribute:
    """One passport attribute.

    ``obligation`` has one character per :data:`CATEGORIES` entry: ``x`` mandatory under the
    regulation, ``o`` voluntary, ``-`` not applicable. ``number`` is the long-list row (0 for
    battrace's extras); ``din`` the DIN DKE SPEC 99100 chapter ("" when there is none).
    """

    number: int
    key: str
    din: str
    name: str
    group: Group
    obligation: str
    dynamic: bool
    item_level: bool
    unit: str = ""

    @property
    def annex_point(self) -> int:
        return ANNEX_POINT[self.group]

    def mandatory_for(self, category: str | None) -> bool:
        """Mandatory for this battery category; for an unknown category, mandatory for any."""
        if category in CATEGORIES:
            return self.obligation[CATEGORIES.index(category)] == "x"
        return "x" in self.obligation


def _a(
    number: int,
    key: str,
    din: str,
    name: str,
    group: Group,
    obligation: str,
    dynamic: bool,
    item_level: bool,
    unit: str,
) -> Attribute:
    return Attribute(number, key, din, name, group, obligation, dynamic, item_level, unit)


# One row per long-list attribute: number, key, DIN chapter, name, group, obligation (EV, LMT,
# industrial, stationary), dynamic, item level, unit.
# fmt: off
LONG_LIST: Final[tuple[Attribute, ...]] = (
    _a(1, "batteryPassportIdentifier", "6.1.2.1", "Battery passport identifier", PUBLIC, "xxxx", False, True, ""),
    _a(2, "batteryIdentifier", "6.1.2.2", "Battery identifier", PUBLIC, "xxxx", False, True, ""),
    _a(3, "operatorInformation", "6.1.2.3", "Operator identifier and information", PUBLIC, "oooo", False, True, ""),
    _a(4, "manufacturerInformation", "6.1.2.4", "Manufacturer identifier and information", PUBLIC, "xxxx", False, False, ""),
    _a(5, "manufacturingPlace", "6.1.3.1", "Manufacturing place", PUBLIC, "xxxx", False, False, ""),
    _a(6, "manufacturingDate", "6.1.3.2", "Manufacturing date", PUBLIC, "xxxx", False, True, ""),
    _a(7, "puttingIntoService", "6.1.3.3", "Date of putting the battery into service", PLI, "-x-x", False, True, ""),
    _a(8, "warrantyPeriod", "6.1.3.4", "Warranty period of the battery", PUBLIC, "xxxx", False, False, ""),
    _a(9, "batteryCategory", "6.1.3.5", "Battery category", PUBLIC, "xxxx", False, False, ""),
    _a(10, "batteryMass", "6.1.3.6", "Battery mass", PUBLIC, "xxxx", False, False, "kg"),
    _a(11, "batteryStatus", "6.1.3.7", "Battery status", PLI, "xxxx", True, True, ""),
    _a(12, "separateCollectionSymbol", "6.2.2", "Separate collection symbol", PUBLIC, "xxxx", False, False, ""),
    _a(13, "cadmiumLeadSymbols", "6.2.3", "Symbols for cadmium and lead", PUBLIC, "xxxx", False, False, ""),
    _a(14, "carbonFootprintLabel", "6.2.4", "Carbon footprint label", PUBLIC, "oooo", False, False, ""),
    _a(15, "extinguishingAgent", "6.2.5", "Extinguishing agent", PUBLIC, "xxxx", False, True, ""),
    _a(16, "meaningOfLabels", "6.2.6", "Meaning of labels and symbols", PUBLIC, "xxxx", False, False, ""),
    _a(17, "declarationOfConformity", "6.2.7", "EU declaration of conformity", PUBLIC, "xxxx", False, False, ""),
    _a(18, "resultOfTestReport", "6.2.8", "Results of test reports proving compliance", NB_MSA_COMMISSION, "xxxx", False, False, ""),
    _a(19, "batteryCarbonFootprint", "6.3.2", "Battery carbon footprint per Functional Unit", PUBLIC, "xxxx", False, False, "kgCO2e/kWh"),
    _a(20, "carbonFootprintRawMaterial", "6.3.3", "Contribution of raw material acquisition and pre-processing lifecycle stage", PUBLIC, "xxxx", False, False, "%"),
    _a(21, "carbonFootprintMainProduction", "6.3.4", "Contribution of main product production/manufacturing lifecycle stage", PUBLIC, "xxxx", False, False, "%"),
    _a(22, "carbonFootprintDistribution", "6.3.5", "Contribution of distribution lifecycle stage", PUBLIC, "xxxx", False, False, "%"),
    _a(23, "carbonFootprintEndOfLife", "6.3.6", "Contribution of end of life and recycling lifecycle stage", PUBLIC, "xxxx", False, False, "%"),
    _a(24, "carbonFootprintPerformanceClass", "6.3.7", "Carbon footprint performance class", PUBLIC, "xxxx", False, False, ""),
    _a(25, "carbonFootprintStudy", "6.3.8", "Web link to public carbon footprint study", PUBLIC, "xxxx", False, False, ""),
    _a(26, "carbonFootprintGeneralInformation", "6.3.9", "General battery and manufacturer information", PUBLIC, "xxxx", False, False, ""),
    _a(27, "absoluteCarbonFootprint", "6.3.10", "Absolute battery carbon footprint", PUBLIC, "oooo", False, False, "[tCO2e]"),
    _a(28, "dueDiligenceReport", "6.4.2", "Information of due diligence report", PUBLIC, "xxxx", False, False, ""),
    _a(29, "thirdPartyAssurances", "6.4.3", "Third party assurances of recognised schemes", PUBLIC, "oooo", False, False, ""),
    _a(30, "supplyChainIndices", "6.4.4", "Supply chain indices", PUBLIC, "oooo", False, False, ""),
    _a(31, "batteryChemistry", "6.5.2", "Battery chemistry", PUBLIC, "xxxx", False, False, ""),
    _a(32, "criticalRawMaterials", "6.5.3", "Critical raw materials", PUBLIC, "xxxx", False, False, ""),
    _a(33, "activeMaterials", "6.5.4", "Materials used in cathode, anode and electrolyte", PLI_COMMISSION, "xxxx", False, False, ""),
    _a(34, "hazardousSubstances", "6.5.5", "Hazardous substances", PUBLIC, "xxxx", False, False, ""),
    _a(35, "substanceImpacts", "6.5.6", "Impact of substances on environment, human health, safety, persons", PUBLIC, "xxxx", False, False, ""),
    _a(36, "dismantlingInformation", "6.6.1.2", "Dismantling information: Manuals for the removal and the disassembly of the battery pack", PLI_COMMISSION, "xxxx", False, False, ""),
    _a(37, "partNumbers", "6.6.1.3", "Part numbers for components", PLI_COMMISSION, "xxxx", False, False, ""),
    _a(38, "sparePartSources", "6.6.1.4", "Information on sources of spare parts", PLI_COMMISSION, "xxxx", False, False, ""),
    _a(39, "safetyMeasures", "6.6.1.5", "Safety measures", PLI_COMMISSION, "xxxx", False, False, ""),
    _a(40, "recycledNickelPreConsumer", "6.6.2.3", "Pre-consumer recycled nickel share", PUBLIC, "xxxx", False, False, "%"),
    _a(41, "recycledCobaltPreConsumer", "6.6.2.4", "Pre-consumer recycled cobalt share", PUBLIC, "xxxx", False, False, "%"),
    _a(42, "recycledLithiumPreConsumer", "6.6.2.5", "Pre-consumer recycled lithium share", PUBLIC, "xxxx", False, False, "%"),
    _a(43, "recycledLeadPreConsumer", "6.6.2.6", "Pre-consumer recycled lead share", PUBLIC, "xxxx", False, False, "%"),
    _a(44, "recycledNickelPostConsumer", "6.6.2.7", "Post-consumer recycled nickel share", PUBLIC, "xxxx", False, False, "%"),
    _a(45, "recycledCobaltPostConsumer", "6.6.2.8", "Post-consumer recycled cobalt share", PUBLIC, "xxxx", False, False, "%"),
    _a(46, "recycledLithiumPostConsumer", "6.6.2.9", "Post-consumer recycled lithium share", PUBLIC, "xxxx", False, False, "%"),
    _a(47, "recycledLeadPostConsumer", "6.6.2.10", "Post-consumer recycled lead share", PUBLIC, "xxxx", False, False, "%"),
    _a(48, "renewableContent", "6.6.2.11", "Renewable content share", PUBLIC, "xxxx", False, False, "%"),
    _a(49, "wastePreventionInformation", "6.6.3.2", "Information on the role of end-users in contributing to waste prevention", PUBLIC, "xxxx", False, False, ""),
    _a(50, "separateCollectionInformation", "6.6.3.3", "Information on the role of end-users in contributing to the separate collection of waste batteries", PUBLIC, "xxxx", False, False, ""),
    _a(51, "collectionAndTreatmentInformation", "6.6.3.4", "Information on battery collection, preparation for second life and on treatment at end of life", PUBLIC, "xxxx", False, False, ""),
    _a(52, "ratedCapacity", "6.7.2.2", "Rated capacity", PUBLIC, "xxxx", False, False, "Ah"),
    _a(53, "remainingCapacity", "6.7.2.3", "Remaining capacity", PLI, "oxox", True, True, "Ah"),
    _a(54, "capacityFade", "6.7.2.4", "Capacity fade", PLI, "xxxx", False, False, "%"),
    _a(55, "certifiedUsableEnergy", "6.7.2.5", "Certified usable battery energy", PUBLIC, "o---", False, False, "kWh"),
    _a(56, "remainingUsableEnergy", "6.7.2.6", "Remaining usable battery energy", PLI, "o---", True, True, "kWh"),
    _a(57, "stateOfCertifiedEnergy", "6.7.2.7", "State of certified energy (SOCE)", PLI, "x---", True, True, "%"),
    _a(58, "stateOfCharge", "6.7.2.8", "State of Charge (SoC)", PLI, "xxxx", True, True, "%"),
    _a(59, "minimumVoltage", "6.7.2.9", "Minimum voltage", PUBLIC, "xxxx", False, False, "V"),
    _a(60, "maximumVoltage", "6.7.2.10", "Maximum voltage", PUBLIC, "xxxx", False, False, "V"),
    _a(61, "nominalVoltage", "6.7.2.11", "Nominal voltage", PUBLIC, "xxxx", False, False, "V"),
    _a(62, "originalPowerCapability", "6.7.3.2", "Original power capability", PUBLIC, "xxxx", False, False, "W"),
    _a(63, "remainingPowerCapability", "6.7.3.3", "Remaining power capability", PLI, "oxox", True, True, "W"),
    _a(64, "powerFade", "6.7.3.4", "Power fade", PLI, "xxxx", False, False, "%"),
    _a(65, "maximumPermittedPower", "6.7.3.5", "Maximum permitted battery power", PUBLIC, "xxxx", False, False, "W"),
    _a(66, "powerEnergyRatio", "6.7.3.6", "Ratio between nominal battery power and battery energy", PUBLIC, "oooo", False, False, "W/Wh"),
    _a(67, "initialRoundTripEfficiency", "6.7.4.2", "Initial round trip energy efficiency", PUBLIC, "xxxx", False, False, "%"),
    _a(68, "roundTripEfficiencyAt50PercentCycleLife", "6.7.4.3", "Round trip energy efficiency at 50% of cycle life", PUBLIC, "xxxx", False, False, "%"),
    _a(69, "remainingRoundTripEfficiency", "6.7.4.4", "Remaining round trip energy efficiency", PLI, "-x-x", True, True, "%"),
    _a(70, "roundTripEfficiencyFade", "6.7.4.5", "Energy round trip efficiency fade", PLI, "xxxx", False, False, "%"),
    _a(71, "initialSelfDischargeRate", "6.7.4.6", "Initial self-discharge rate", PLI, "-o-o", False, False, "%/month"),
    _a(72, "currentSelfDischargeRate", "6.7.4.7", "Current self-discharge rate", PLI, "-o-o", True, True, "%/month"),
    _a(73, "selfDischargeEvolution", "6.7.4.8", "Evolution of self-discharge rates", PLI, "---x", True, True, "%"),
    _a(74, "initialInternalResistance", "6.7.5.2", "Initial internal resistance of battery cell and pack (module recommended)", PUBLIC, "xxxx", False, False, "Ohm"),
    _a(75, "internalResistanceIncrease", "6.7.5.3", "Internal resistance increase of pack (cell and module recommended)", PLI, "xxxx", False, False, "%"),
    _a(76, "expectedLifetimeYears", "6.7.6.2", "Expected lifetime in calendar years", PLI, "xxxx", False, False, "years"),
    _a(77, "expectedLifetimeCycles", "6.7.6.3", "Expected lifetime: Number of charge-discharge cycles", PUBLIC, "xxxx", False, False, ""),
    _a(78, "numberOfFullCycles", "6.7.6.4", "Number of full charging and discharging cycles", PLI, "xxxx", True, True, ""),
    _a(79, "cycleLifeReferenceTest", "6.7.6.5", "Cycle-life reference test", PUBLIC, "xxxx", False, False, ""),
    _a(80, "cycleLifeTestCRate", "6.7.6.6", "C-rate of relevant cycle-life test", PUBLIC, "xxxx", False, False, "A/Ah"),
    _a(81, "energyThroughput", "6.7.6.7", "Energy throughput", PLI, "-x-x", True, True, "kWh"),
    _a(82, "capacityThroughput", "6.7.6.8", "Capacity throughput", PLI, "-x-x", True, True, "Ah"),
    _a(83, "capacityThresholdForExhaustion", "6.7.6.9", "Capacity threshold for exhaustion", PUBLIC, "x---", False, False, "%"),
    _a(84, "temperatureInformation", "6.7.7.2", "Temperature information", PLI, "xxxx", True, True, "°C"),
    _a(85, "idleTemperatureLower", "6.7.7.3", "Temperature range idle state, lower boundary", PUBLIC, "xxxx", False, False, "°C"),
    _a(86, "idleTemperatureUpper", "6.7.7.4", "Temperature range idle state, upper boundary", PUBLIC, "xxxx", False, False, "°C"),
    _a(87, "timeAboveTemperatureBoundary", "6.7.7.5", "Time spent in extreme temperatures above boundary", PLI, "-xxx", True, True, "Minutes"),
    _a(88, "timeBelowTemperatureBoundary", "6.7.7.6", "Time spent in extreme temperatures below boundary", PLI, "-xxx", True, True, "Minutes"),
    _a(89, "timeChargingAboveTemperatureBoundary", "6.7.7.7", "Time spent charging during extreme temperatures above boundary", PLI, "-xxx", True, True, "Minutes"),
    _a(90, "timeChargingBelowTemperatureBoundary", "6.7.7.8", "Time spent charging during extreme temperatures below boundary", PLI, "-xxx", True, True, "Minutes"),
    _a(91, "deepDischargeEvents", "6.7.8.2", "Number of deep discharge events", PLI, "oxox", True, True, ""),
    _a(92, "overchargeEvents", "6.7.8.3", "Number of overcharge events", PLI, "oooo", True, True, ""),
    _a(93, "accidentInformation", "6.7.8.4", "Information on accidents", PLI, "xxxx", True, True, ""),
)
# fmt: on

# Facts from the ledger with no long-list row. None is mandatory ("----"): they are never "missing".
# fmt: off
EXTRAS: Final[tuple[Attribute, ...]] = (
    # The passport's own status (Art. 77(8): it ceases after recycling) is about the passport, not
    # the battery; every reader needs it to know whether the passport is current.
    _a(0, "passportStatus", "", "Passport status (active or ceased)", PUBLIC, "----", True, True, ""),
    # Art. 77(7): a repurposed battery's passport is linked to the original's. The links are
    # passport identifiers (public, 6.1.2.1), so they are public too.
    _a(0, "predecessorPassports", "6.1.2.1", "Passports of the original batteries", PUBLIC, "----", False, True, ""),
    _a(0, "successorPassports", "6.1.2.1", "Passports of the repurposed products", PUBLIC, "----", True, True, ""),
    # Rated energy and model names from commissioning: public like the other rated values and the
    # battery identification (Annex XIII 1(a), (g)-(i)).
    _a(0, "ratedEnergy", "", "Rated energy", PUBLIC, "----", False, False, "kWh"),
    _a(0, "batteryModel", "", "Battery model name", PUBLIC, "----", False, False, ""),
    _a(0, "manufacturerPartId", "", "Manufacturer part number", PUBLIC, "----", False, False, ""),
    # Annex XIII 4(b): state of health of the individual battery (Art. 14).
    _a(0, "stateOfHealth", "6.7.1", "State of health (latest residual-capacity test)", PLI, "----", True, True, "%"),
    # Annex XIII 4(a): a measured performance parameter of the individual battery.
    _a(0, "measuredInternalResistance", "", "Internal resistance (latest test)", PLI, "----", True, True, "Ohm"),
    # Annex XIII 4(c)/(d) and DIN 6.1.3.7 ("the battery's repair history shall be included"):
    # what happened to this battery is information from its use, individual and dynamic.
    _a(0, "lifecycleState", "6.1.3.7", "Lifecycle state in the ledger", PLI, "----", True, True, ""),
    _a(0, "lifecycleEvents", "6.1.3.7", "Lifecycle events in the ledger", PLI, "----", True, True, ""),
    # End-of-life treatment of this battery: individual, dynamic and commercially sensitive
    # (quantities recovered), so point 4 rather than public.
    _a(0, "recycling", "", "Recycling of this battery", PLI, "----", True, True, ""),
)
# fmt: on

ATTRIBUTES: Final = MappingProxyType({a.key: a for a in (*LONG_LIST, *EXTRAS)})


def attribute(key: str) -> Attribute:
    try:
        return ATTRIBUTES[key]
    except KeyError:
        raise KeyError(f"unknown passport attribute {key!r}") from None


def visible(key: str, audience: Audience) -> bool:
    """May ``audience`` read attribute ``key``?"""
    return ATTRIBUTES[key].group in AUDIENCE_GROUPS[audience]


def parse_audience(value: str | None) -> Audience:
    """``public`` (default), ``legitimate`` or ``authority``; :class:`InvalidInput` otherwise."""
    if value is None or value == "":
        return Audience.PUBLIC
    try:
        return Audience(value.strip().lower())
    except ValueError:
        choices = ", ".join(a.value for a in Audience)
        raise InvalidInput("audience", f"{value[:40]!r} is not one of {choices}") from None
