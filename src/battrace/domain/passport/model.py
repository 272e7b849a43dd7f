"""The passport as battrace holds it: attribute values derived from ledger facts, nothing else.

:func:`build_passport` turns :class:`Facts` (what the ledger and the enterprise registry say about
one battery; the service gathers them) into a :class:`Passport`: a mapping from attribute key
(:mod:`.attributes`) to :class:`Value`, each with the time it was last updated and the events it
comes from (DIN DKE SPEC 99100 §6.7.1 recommends date and originator for every value).

Rules that keep the passport honest:

* A value comes from an event, from the enterprise registry, or from an exact computation on those
  (capacity fade = 1 - measured / rated capacity). Nothing is estimated, defaulted or copied from a
  typical value: what battrace does not hold is absent and listed as missing.
* Static data come from the ``ilmd`` of the battery's commissioning event (or of the re-coding event
  that created a cascade-use product). :data:`ILMD_KEYS` lists the keys understood; a value of the
  wrong type is not used, and the reason is kept (``problems``) so the missing list can say why.
* Retracted events (error declarations) are not facts: the service leaves them out.
* :meth:`Passport.for_audience` drops every attribute the audience may not read. The exporters only
  ever see such a filtered passport, so nothing restricted can reach an export.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from battrace.domain.epcis import vocab
from battrace.domain.errors import IdentityError, InvalidInput
from battrace.domain.identities.uris import digital_link_uri, parse_uri
from battrace.domain.passport.attributes import (
    ATTRIBUTES,
    CATEGORIES,
    LONG_LIST,
    Audience,
    visible,
)
from battrace.domain.passport.status import END_STATES, PassportStatus, status_for

FORMAT: Final = "battrace-passport-v1"
#: Namespace of the deterministic passport identifiers (UUID v5 of the battery URI).
PASSPORT_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://battrace.org/passport/")
NOT_HELD: Final = "not held by battrace"

_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]{1,2000}").fullmatch
_CAS = re.compile(r"\d{2,7}-\d{2}-\d").fullmatch
_ILMD_PREFIXES = (vocab.BATTRACE_PREFIX + ":", vocab.BATTRACE_VOCAB)


# --- facts (input) -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventFact:
    """One non-retracted event naming the battery. ``time`` is UTC text ``…Z`` as stored;
    ``step`` the bare business step (``commissioning``, ``cascade_recoding``, ``recycling`` …);
    ``role`` the battery's role in it (epc, parent, child, input, output)."""

    event_id: str
    time: str
    event_type: str
    action: str | None
    step: str | None
    disposition: str | None
    reporter: str
    role: str
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Party:
    """An enterprise from the registry."""

    uscc: str
    name_zh: str
    name_en: str = ""
    province: str = ""
    sites: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class LedgerAnchor:
    """The ledger head a passport was built from."""

    capture_seq: int
    event_count: int
    head: str

    def to_json(self) -> dict[str, Any]:
        return {"captureSeq": self.capture_seq, "eventCount": self.event_count, "head": self.head}


@dataclass(frozen=True, slots=True)
class Related:
    """Another object whose fate decides this passport's: a module dismantled out of the pack."""

    uri: str
    state: str | None
    events: tuple[EventFact, ...] = ()


@dataclass(frozen=True)
class Facts:
    uri: str
    state: str | None
    resting_state: str | None
    events: tuple[EventFact, ...]
    parties: Mapping[str, Party]
    ledger: LedgerAnchor
    related: tuple[Related, ...] = ()


# --- the passport (output) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Value:
    value: Any
    last_update: str | None = None
    sources: tuple[str, ...] = ()
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value}
        if self.last_update:
            out["lastUpdate"] = self.last_update
        if self.sources:
            out["sources"] = list(self.sources)
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True, slots=True)
class Subject:
    """The battery a passport is for."""

    uri: str
    code: str
    scheme: str  # 'gbt34014' | 'gs1' | 'other'
    product_kind: str | None = None  # 'pack' | 'module' | 'cell' (GB/T 34014)
    cascade: bool = False
    gtin: str | None = None
    gs1_serial: str | None = None

    @property
    def digital_link(self) -> str | None:
        if self.gtin is None or self.gs1_serial is None:
            return None
        return digital_link_uri(self.gtin, self.gs1_serial)


@dataclass(frozen=True, slots=True)
class Publication:
    version: int
    issued_at: str


@dataclass(frozen=True)
class Passport:
    passport_id: str
    subject: Subject
    values: Mapping[str, Value]
    ledger: LedgerAnchor
    problems: Mapping[str, str] = field(default_factory=dict)
    audience: Audience | None = None  # None: not filtered (never leaves the service)
    publication: Publication | None = None

    def get(self, key: str) -> Any:
        v = self.values.get(key)
        return None if v is None else v.value

    @property
    def category(self) -> str | None:
        c = self.get("batteryCategory")
        return c if isinstance(c, str) else None

    @property
    def last_update(self) -> str | None:
        times = [v.last_update for v in self.values.values() if v.last_update]
        return max(times) if times else None

    def for_audience(self, audience: Audience) -> Passport:
        """The passport as ``audience`` may see it: every other attribute is dropped."""
        if self.audience is not None and self.audience != audience:
            raise ValueError("a passport filtered for one audience cannot be refiltered")
        return replace(
            self,
            values={k: v for k, v in self.values.items() if visible(k, audience)},
            problems={k: r for k, r in self.problems.items() if visible(k, audience)},
            audience=audience,
        )

    def missing(self) -> list[dict[str, str]]:
        """Long-list attributes mandatory for the category that this audience could read but
        battrace does not hold (or holds in an unusable form), with the reason."""
        out = []
        for a in LONG_LIST:
            if a.key in self.values or not a.mandatory_for(self.category):
                continue
            if self.audience is not None and not visible(a.key, self.audience):
                continue
            reason = self.problems.get(a.key, NOT_HELD)
            out.append({"attribute": a.key, "din": a.din, "name": a.name, "reason": reason})
        return out

    def restricted(self) -> list[str]:
        """Attributes this audience may not read (whether or not battrace holds them)."""
        if self.audience is None:
            return []
        return [k for k in ATTRIBUTES if not visible(k, self.audience)]

    def to_json(self) -> dict[str, Any]:
        """battrace's own model (``?model=battrace``): the attributes with provenance."""
        attrs: dict[str, Any] = {}
        for key, a in ATTRIBUTES.items():
            v = self.values.get(key)
            if v is None:
                continue
            entry = {"din": a.din, "group": a.group.value, "annexXIII": a.annex_point}
            entry.update(v.to_json())
            attrs[key] = entry
        doc: dict[str, Any] = {
            "format": FORMAT,
            "passportIdentifier": self.passport_id,
            "battery": self.subject.uri,
            "audience": self.audience.value if self.audience else None,
            "lastUpdate": self.last_update,
            "ledger": self.ledger.to_json(),
        }
        if self.publication is not None:
            doc["publication"] = {
                "version": self.publication.version,
                "issuedAt": self.publication.issued_at,
            }
        doc["attributes"] = attrs
        doc["missing"] = self.missing()
        doc["restricted"] = self.restricted()
        return doc


def passport_id(uri: str) -> str:
    """The battery's passport identifier: stable across versions, derived from its identifier."""
    return f"urn:uuid:{uuid.uuid5(PASSPORT_NAMESPACE, uri)}"


def subject_for(uri: str) -> Subject:
    """Classify the identifier a passport is for (raises :class:`IdentityError` if invalid)."""
    ident = parse_uri(uri)
    if ident.kind == "battery" and ident.battery is not None:
        b = ident.battery
        return Subject(uri, b.code, "gbt34014", b.product_kind, b.is_cascade)
    if ident.kind == "gs1":
        return Subject(uri, ident.value, "gs1", gtin=ident.gtin, gs1_serial=ident.gs1_serial)
    if ident.kind in ("vehicle", "party", "site", "material"):
        raise IdentityError("code", f"{uri} is a {ident.kind}, not a battery")
    return Subject(uri, uri, "other")


# --- ilmd (static data declared at commissioning) ----------------------------------------------


class _Bad(Exception):
    """An ilmd value that cannot be used; the message says why."""


def _number(v: Any, *, low: float | None = None, high: float | None = None) -> float | int:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise _Bad("must be a number")
    if low is not None and v < low:
        raise _Bad(f"must be at least {low:g}")
    if high is not None and v > high:
        raise _Bad(f"must be at most {high:g}")
    return v


def _positive(v: Any) -> float | int:
    n = _number(v)
    if n <= 0:
        raise _Bad("must be positive")
    return n


def _percent(v: Any) -> float | int:
    return _number(v, low=0, high=100)


def _text(v: Any, limit: int = 500) -> str:
    if not isinstance(v, str) or not v.strip():
        raise _Bad("must be a non-empty string")
    if len(v) > limit:
        raise _Bad(f"must be at most {limit} characters")
    return v.strip()


def _uri(v: Any) -> str:
    if not isinstance(v, str) or not _URI(v.strip()):
        raise _Bad("must be a URI")
    return v.strip()


def _count(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise _Bad("must be a whole number")
    return v


def _texts(v: Any) -> list[str]:
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list) or not items or len(items) > 50:
        raise _Bad("must be a string or a list of 1-50 strings")
    return [_text(i, 200) for i in items]


def _category(v: Any) -> str:
    if not isinstance(v, str) or v.strip().lower() not in CATEGORIES:
        raise _Bad(f"must be one of {', '.join(CATEGORIES)}")
    return v.strip().lower()


#: Clear names of the usual chemistries (Battery Pass ``batteryChemistry.clearName``).
CLEAR_NAMES: Final = {
    "LFP": "lithium iron phosphate",
    "LMFP": "lithium manganese iron phosphate",
    "NCM": "lithium nickel cobalt manganese oxide",
    "NMC": "lithium nickel cobalt manganese oxide",
    "NCA": "lithium nickel cobalt aluminium oxide",
    "LMO": "lithium manganese oxide",
    "LCO": "lithium cobalt oxide",
    "LTO": "lithium titanate",
    "NA-ION": "sodium-ion",
    "SIB": "sodium-ion",
}
_NCM_RATIO = re.compile(r"(NCM|NMC)(\d)(\d)(\d)").fullmatch


def _chemistry(v: Any) -> dict[str, str]:
    short = _text(v, 40)
    out = {"shortName": short}
    key = short.upper()
    m = _NCM_RATIO(key)
    if m:
        out["clearName"] = f"{CLEAR_NAMES['NCM']} ({m[2]}:{m[3]}:{m[4]})"
    elif key in CLEAR_NAMES:
        out["clearName"] = CLEAR_NAMES[key]
    return out


MATERIAL_COMPONENTS: Final = ("cathode", "anode", "electrolyte", "separator", "casing", "other")
ACTIVE_COMPONENTS: Final = frozenset({"cathode", "anode", "electrolyte"})


def _entries(v: Any, limit: int = 200) -> list[Mapping[str, Any]]:
    if not isinstance(v, list) or not v or len(v) > limit:
        raise _Bad(f"must be a list of 1-{limit} objects")
    for i, item in enumerate(v):
        if not isinstance(item, dict):
            raise _Bad(f"item {i} must be an object")
    return v


def _optional(item: Mapping[str, Any], key: str, parse: Callable[[Any], Any], i: int) -> Any:
    if key not in item or item[key] is None:
        return None
    try:
        return parse(item[key])
    except _Bad as exc:
        raise _Bad(f"item {i} {key} {exc}") from None


def _cas(v: Any) -> str:
    if not isinstance(v, str) or not _CAS(v.strip()):
        raise _Bad("must be a CAS number like 7439-93-2")
    return v.strip()


def _component(v: Any) -> str:
    if not isinstance(v, str) or v.strip().lower() not in MATERIAL_COMPONENTS:
        raise _Bad(f"must be one of {', '.join(MATERIAL_COMPONENTS)}")
    return v.strip().lower()


def _named_entries(
    v: Any, fields: tuple[tuple[str, Callable[[Any], Any]], ...]
) -> list[dict[str, Any]]:
    """A list of entries that each need a ``name`` and may carry the given optional fields."""
    out = []
    for i, item in enumerate(_entries(v)):
        name = _optional(item, "name", _text, i)
        if name is None:
            raise _Bad(f"item {i} needs a name")
        entry: dict[str, Any] = {"name": name}
        for key, parse in fields:
            val = _optional(item, key, parse, i)
            if val is not None:
                entry[key] = val
        out.append(entry)
    return out


def _materials(v: Any) -> list[dict[str, Any]]:
    return _named_entries(
        v,
        (
            ("cas", _cas),
            ("massKg", _positive),
            ("component", _component),
            ("critical", _bool),
            ("concentrationPct", _percent),
        ),
    )


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise _Bad("must be true or false")
    return v


HAZARD_CLASSES: Final = ("AcuteToxicity", "SkinCorrosionOrIrritation", "EyeDamageOrIrritation")


def _hazard_class(v: Any) -> str:
    if v not in HAZARD_CLASSES:
        raise _Bad(f"must be one of {', '.join(HAZARD_CLASSES)}")
    return str(v)


def _substances(v: Any) -> list[dict[str, Any]]:
    return _named_entries(
        v,
        (
            ("cas", _cas),
            ("hazardClass", _hazard_class),
            ("concentrationPct", _percent),
            ("impacts", _texts),
            ("component", _component),
        ),
    )


RECYCLED_METALS: Final = ("cobalt", "lithium", "nickel", "lead")


def _recycled(v: Any) -> dict[str, dict[str, float | int]]:
    out: dict[str, dict[str, float | int]] = {}
    for i, item in enumerate(_entries(v, 4)):
        metal = item.get("material")
        if not isinstance(metal, str) or metal.lower() not in RECYCLED_METALS:
            raise _Bad(f"item {i} material must be one of {', '.join(RECYCLED_METALS)}")
        shares = {}
        for key in ("preConsumerPct", "postConsumerPct"):
            val = _optional(item, key, _percent, i)
            if val is not None:
                shares[key] = val
        out[metal.lower()] = shares
    return out


DOCUMENT_TYPES: Final = (
    "BillOfMaterial",
    "Model3D",
    "DismantlingManual",
    "RemovalManual",
    "OtherManual",
    "Drawing",
)


def _documents(v: Any) -> list[dict[str, str]]:
    out = []
    for i, item in enumerate(_entries(v, 50)):
        doc_type = item.get("documentType")
        if doc_type not in DOCUMENT_TYPES:
            raise _Bad(f"item {i} documentType must be one of {', '.join(DOCUMENT_TYPES)}")
        url = _optional(item, "url", _uri, i)
        if url is None:
            raise _Bad(f"item {i} needs a url")
        entry = {"documentType": str(doc_type), "url": url}
        mime = _optional(item, "mimeType", lambda x: _text(x, 100), i)
        if mime is not None:
            entry["mimeType"] = mime
        out.append(entry)
    return out


def _warranty(unit: str) -> Callable[[Any], dict[str, Any]]:
    def parse(v: Any) -> dict[str, Any]:
        n = _number(v, low=0, high=1200)
        if n != int(n):
            raise _Bad("must be a whole number")
        return {"value": int(n), "unit": unit}

    return parse


# ilmd key (after the battrace: prefix) -> (attribute key, parser). docs/passport.md lists them.
ILMD_KEYS: Final[Mapping[str, tuple[str, Callable[[Any], Any]]]] = {
    "chemistry": ("batteryChemistry", _chemistry),
    "batteryCategory": ("batteryCategory", _category),
    "batteryModel": ("batteryModel", lambda v: _text(v, 200)),
    "manufacturerPartId": ("manufacturerPartId", lambda v: _text(v, 200)),
    "massKg": ("batteryMass", _positive),
    "ratedCapacityAh": ("ratedCapacity", _positive),
    "ratedEnergyKWh": ("ratedEnergy", _positive),
    "certifiedUsableEnergyKWh": ("certifiedUsableEnergy", _positive),
    "nominalVoltageV": ("nominalVoltage", _positive),
    "minimumVoltageV": ("minimumVoltage", _positive),
    "maximumVoltageV": ("maximumVoltage", _positive),
    "warrantyYears": ("warrantyPeriod", _warranty("year")),
    "warrantyMonths": ("warrantyPeriod", _warranty("month")),
    "expectedLifetimeCycles": ("expectedLifetimeCycles", _count),
    "expectedLifetimeYears": ("expectedLifetimeYears", _positive),
    "capacityThresholdForExhaustionPct": ("capacityThresholdForExhaustion", _percent),
    "idleTemperatureLowerC": ("idleTemperatureLower", lambda v: _number(v, low=-100, high=200)),
    "idleTemperatureUpperC": ("idleTemperatureUpper", lambda v: _number(v, low=-100, high=200)),
    "carbonFootprintKgCO2ePerKWh": ("batteryCarbonFootprint", lambda v: _number(v, low=0)),
    "absoluteCarbonFootprintKgCO2e": ("absoluteCarbonFootprint", lambda v: _number(v, low=0)),
    "carbonFootprintClass": ("carbonFootprintPerformanceClass", lambda v: _text(v, 40)),
    "carbonFootprintStudy": ("carbonFootprintStudy", _uri),
    "declarationOfConformity": ("declarationOfConformity", _uri),
    "resultOfTestReport": ("resultOfTestReport", _uri),
    "dueDiligenceReport": ("dueDiligenceReport", _uri),
    "extinguishingAgent": ("extinguishingAgent", _texts),
    "safetyInstructions": ("safetyMeasures", _uri),
    "dismantlingInformation": ("dismantlingInformation", _documents),
    "materials": ("materials", _materials),  # split below into critical and active materials
    "hazardousSubstances": ("hazardousSubstances", _substances),
    "recycledContent": ("recycledContent", _recycled),  # split below per metal and origin
    "renewableContentPct": ("renewableContent", _percent),
    "wastePreventionInfo": ("wastePreventionInformation", _uri),
    "separateCollectionInfo": ("separateCollectionInformation", _uri),
    "collectionInfo": ("collectionAndTreatmentInformation", _uri),
}

_RECYCLED_KEYS: Final = {
    (metal, origin): f"recycled{metal.capitalize()}{origin}Consumer"
    for metal in RECYCLED_METALS
    for origin in ("Pre", "Post")
}


def _bare_key(key: str) -> str | None:
    for prefix in _ILMD_PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix) :]
    return None


def _static_values(
    ilmd: Mapping[str, Any], ev: EventFact, values: dict[str, Value], problems: dict[str, str]
) -> None:
    src = (ev.event_id,)
    for raw_key, raw in ilmd.items():
        key = _bare_key(raw_key) if isinstance(raw_key, str) else None
        if key is None or key not in ILMD_KEYS:
            continue
        target, parse = ILMD_KEYS[key]
        note = f"ilmd battrace:{key}"
        try:
            parsed = parse(raw)
        except _Bad as exc:
            for attr in _targets(target):
                problems.setdefault(attr, f"ilmd battrace:{key} {exc}")
            continue
        if target == "materials":
            critical = [
                {k: m[k] for k in ("name", "cas") if k in m} for m in parsed if m.get("critical")
            ]
            active = [m for m in parsed if m.get("component") in ACTIVE_COMPONENTS]
            if critical:
                values["criticalRawMaterials"] = Value(critical, ev.time, src, note)
            if active:
                values["activeMaterials"] = Value(active, ev.time, src, note)
        elif target == "recycledContent":
            for metal, shares in parsed.items():
                for origin in ("Pre", "Post"):
                    share = shares.get(f"{origin.lower()}ConsumerPct")
                    if share is not None:
                        attr = _RECYCLED_KEYS[(metal, origin)]
                        values[attr] = Value(share, ev.time, src, note)
        else:
            values[target] = Value(parsed, ev.time, src, note)
            if target == "hazardousSubstances":
                impacts = [
                    {"substance": s["name"], "impacts": s["impacts"]}
                    for s in parsed
                    if "impacts" in s
                ]
                if impacts:
                    values["substanceImpacts"] = Value(impacts, ev.time, src, note)


def _targets(target: str) -> tuple[str, ...]:
    if target == "materials":
        return ("criticalRawMaterials", "activeMaterials")
    if target == "recycledContent":
        return tuple(_RECYCLED_KEYS.values())
    return (target,)


# --- facts from events -------------------------------------------------------------------------

_SALE_STEPS: Final = frozenset({"retail_selling", "vehicle_selling"})


def _site_of(body: Mapping[str, Any]) -> str | None:
    for key in ("bizLocation", "readPoint"):
        where = body.get(key)
        if isinstance(where, dict) and isinstance(where.get("id"), str):
            return str(where["id"])
    return None


def _party_value(party: Party | None, uscc: str) -> dict[str, Any]:
    # A USCC is issued by a Chinese registration authority, so the registered address is in China.
    out: dict[str, Any] = {"identifier": f"urn:uscc:{uscc}", "uscc": uscc, "country": "CN"}
    if party is not None:
        out["nameZh"] = party.name_zh
        if party.name_en:
            out["nameEn"] = party.name_en
    return out


_SITE_FIELDS: Final = {
    "name": "name",
    "country": "country",
    "city": "city",
    "postal_code": "postalCode",
    "postalCode": "postalCode",
    "street_address": "streetAddress",
    "streetAddress": "streetAddress",
}


def _place_value(site: str, parties: Mapping[str, Party]) -> dict[str, Any]:
    """The site, with what the registry's site record says about where it is (if anything).

    The manufacturer's country is not assumed for the plant: Chinese battery makers build abroad.
    """
    out: dict[str, Any] = {"site": site}
    prefix, sep, local = site.partition(":site:")
    if not sep or not prefix.startswith("urn:uscc:"):
        return out
    party = parties.get(prefix[len("urn:uscc:") :])
    for record in party.sites if party else ():
        if record.get("id") != local:
            continue
        for key, target in _SITE_FIELDS.items():
            val = record.get(key)
            if isinstance(val, str) and val.strip():
                out[target] = val.strip()
    return out


def _measures(body: Mapping[str, Any]) -> dict[str, float]:
    """Numeric sensor reports of an inspection: capacity (Ah), rated capacity, SoH, resistance."""
    out: dict[str, float] = {}
    for element in body.get("sensorElementList") or ():
        if not isinstance(element, dict):
            continue
        for report in element.get("sensorReport") or ():
            if not isinstance(report, dict):
                continue
            kind, uom, value = report.get("type"), report.get("uom"), report.get("value")
            if not isinstance(kind, str) or isinstance(value, bool):
                continue
            if not isinstance(value, int | float) or not math.isfinite(value):
                continue
            kind = kind.removeprefix("gs1:").rsplit("/", 1)[-1]
            if (kind, uom) == ("ElectricCharge", "AMH"):
                out["capacityAh"] = float(value)
                for key in ("battrace:ratedCapacityAh", vocab.BATTRACE_VOCAB + "ratedCapacityAh"):
                    rated = report.get(key)
                    if isinstance(rated, int | float) and not isinstance(rated, bool) and rated > 0:
                        out["ratedAh"] = float(rated)
            elif (kind, uom) == ("Dimensionless", "P1"):
                out["soh"] = float(value)
            elif (kind, uom) == ("Resistance", "OHM"):
                out["resistanceOhm"] = float(value)
    return out


def _epcs(body: Mapping[str, Any], key: str) -> list[str]:
    return [e for e in body.get(key) or () if isinstance(e, str)]


def _recycling_entry(ev: EventFact, parties: Mapping[str, Party]) -> dict[str, Any]:
    outputs = []
    for q in ev.body.get("outputQuantityList") or ():
        if isinstance(q, dict) and isinstance(q.get("epcClass"), str):
            entry: dict[str, Any] = {
                "material": q["epcClass"].removeprefix("urn:battrace:material:")
            }
            if isinstance(q.get("quantity"), int | float) and not isinstance(q["quantity"], bool):
                entry["quantity"] = q["quantity"]
                entry["uom"] = q.get("uom")
            outputs.append(entry)
    party = parties.get(ev.reporter)
    out: dict[str, Any] = {
        "time": ev.time,
        "event": ev.event_id,
        "recycler": f"urn:uscc:{ev.reporter}",
        "inputs": _epcs(ev.body, "inputEPCList"),
        "outputsOfEvent": outputs,
    }
    if party is not None:
        out["recyclerName"] = party.name_en or party.name_zh
    return out


def build_passport(facts: Facts) -> Passport:
    """Derive every attribute battrace can state about ``facts.uri`` from its ledger facts."""
    subject = subject_for(facts.uri)
    values: dict[str, Value] = {}
    problems: dict[str, str] = {}
    events = facts.events
    pid = passport_id(subject.uri)
    last_time = events[-1].time if events else None

    values["batteryPassportIdentifier"] = Value(pid)
    ident: dict[str, Any] = {"uri": subject.uri, "code": subject.code, "scheme": subject.scheme}
    if subject.product_kind:
        ident["productKind"] = subject.product_kind
    if subject.digital_link:
        ident["digitalLink"] = subject.digital_link
    values["batteryIdentifier"] = Value(ident)

    # Commissioning: the ObjectEvent ADD commissioning naming the battery, or the re-coding that
    # created a cascade-use product (the re-coding *is* its commissioning, docs/epcis-mapping.md).
    origin = next(
        (
            e
            for e in events
            if (e.step == "commissioning" and e.action == "ADD" and e.role == "epc")
            or (e.step == "cascade_recoding" and e.role == "output")
        ),
        None,
    )
    if origin is not None:
        src = (origin.event_id,)
        party = facts.parties.get(origin.reporter)
        maker = _party_value(party, origin.reporter)
        note = "enterprise registry (reporter of the commissioning)"
        values["manufacturerInformation"] = Value(maker, origin.time, src, note)
        values["manufacturingDate"] = Value(origin.time, origin.time, src, "event time")
        site = _site_of(origin.body)
        if site is not None:
            values["manufacturingPlace"] = Value(
                _place_value(site, facts.parties), origin.time, src, "commissioning site"
            )
        if origin.step == "cascade_recoding":
            # Art. 77(7): responsibility for a repurposed battery's passport moves to the operator
            # who repurposed it, which is the enterprise that reported the re-coding.
            values["operatorInformation"] = Value(
                maker, origin.time, src, "reporter of the cascade re-coding (Art. 77(7))"
            )
        ilmd = origin.body.get("ilmd")
        if isinstance(ilmd, dict):
            _static_values(ilmd, origin, values, problems)

    # A GB/T 34014 original code is an automotive traction battery's; a declared but invalid
    # category is reported as such rather than papered over.
    if (
        "batteryCategory" not in values
        and "batteryCategory" not in problems
        and subject.scheme == "gbt34014"
        and not subject.cascade
    ):
        values["batteryCategory"] = Value(
            "ev", note="GB/T 34014-2017 codes identify automotive traction batteries"
        )

    # Putting into service: the sale of the vehicle it is in, or its fitting as a replacement.
    service = next(
        (
            e
            for e in events
            if (e.step in _SALE_STEPS and e.role == "epc")
            or (e.step == "replacing" and e.action == "ADD" and e.role == "child")
        ),
        None,
    )
    if service is not None:
        values["puttingIntoService"] = Value(
            service.time, service.time, (service.event_id,), "event time"
        )

    removed = False
    reinstalled = False
    for e in events:
        if e.role != "child" or e.event_type not in ("AssociationEvent", "AggregationEvent"):
            continue
        if e.action == "DELETE" and e.step == "removing":
            removed = True
        elif e.action == "ADD" and e.step in ("installing", "replacing") and removed:
            reinstalled = True

    status = status_for(facts.state, facts.resting_state, reinstalled)
    if status is not None:
        values["batteryStatus"] = Value(status.value, last_time, note="from the lifecycle state")
    if facts.state is not None:
        values["lifecycleState"] = Value(facts.state, last_time)

    # Latest residual-capacity inspection (sensor data in the event body).
    inspection = None
    for e in events:
        if e.step in ("inspecting", "sensor_reporting") and _measures(e.body):
            inspection = e
    if inspection is not None:
        m = _measures(inspection.body)
        src = (inspection.event_id,)
        t = inspection.time
        rated = m.get("ratedAh")
        if rated is None:
            rated_value = values.get("ratedCapacity")
            rated = float(rated_value.value) if rated_value else None
        if "capacityAh" in m:
            values["remainingCapacity"] = Value(m["capacityAh"], t, src, "measured capacity")
            if rated:
                fade = round((1.0 - m["capacityAh"] / rated) * 100.0, 2)
                values["capacityFade"] = Value(fade, t, src, "1 - measured / rated capacity")
        if "soh" in m:
            values["stateOfHealth"] = Value(m["soh"], t, src, "reported by the inspection")
        elif "capacityAh" in m and rated:
            soh = round(m["capacityAh"] / rated * 100.0, 2)
            values["stateOfHealth"] = Value(soh, t, src, "measured / rated capacity")
        if "resistanceOhm" in m:
            res = {"value": m["resistanceOhm"], "component": subject.product_kind or "pack"}
            if subject.product_kind is None:
                res.pop("component")
            values["measuredInternalResistance"] = Value(res, t, src, "measured")

    # Cascade links (Art. 77(7)): re-coding outputs are successors, its inputs predecessors.
    successors: list[str] = []
    predecessors: list[str] = []
    recodings: list[EventFact] = []
    for e in events:
        if e.step != "cascade_recoding":
            continue
        if e.role == "input":
            successors += _epcs(e.body, "outputEPCList")
            recodings.append(e)
        elif e.role == "output":
            predecessors += _epcs(e.body, "inputEPCList")
    if predecessors and origin is not None:
        values["predecessorPassports"] = Value(
            _links(predecessors), origin.time, (origin.event_id,)
        )
    if successors:
        values["successorPassports"] = Value(
            _links(successors), recodings[-1].time, tuple(e.event_id for e in recodings)
        )

    # Recycling of the battery itself or of what was dismantled out of it.
    recycled = [_recycling_entry(e, facts.parties) for e in _recycling_events(facts)]
    if recycled:
        values["recycling"] = Value(
            recycled, recycled[-1]["time"], tuple(r["event"] for r in recycled)
        )

    # The passport status changes at most once, at the end of the battery's life; its time must
    # not reveal when restricted data last changed.
    ceased = _passport_status(facts) is PassportStatus.CEASED
    values["passportStatus"] = Value(
        (PassportStatus.CEASED if ceased else PassportStatus.ACTIVE).value,
        last_time if ceased else (origin.time if origin else None),
    )
    if events:
        values["lifecycleEvents"] = Value(
            [_event_summary(e) for e in events], last_time, note="non-retracted events"
        )
    return Passport(pid, subject, values, facts.ledger, problems)


def _links(uris: Iterable[str]) -> list[dict[str, str]]:
    return [{"battery": u, "passportIdentifier": passport_id(u)} for u in dict.fromkeys(uris)]


def _event_summary(e: EventFact) -> dict[str, Any]:
    out: dict[str, Any] = {"time": e.time, "step": e.step or e.event_type, "event": e.event_id}
    if e.disposition:
        out["disposition"] = e.disposition
    out["reporter"] = f"urn:uscc:{e.reporter}"
    out["role"] = e.role
    return out


def _recycling_events(facts: Facts) -> list[EventFact]:
    seen: dict[str, EventFact] = {}
    for e in (*facts.events, *(x for r in facts.related for x in r.events)):
        if e.step == "recycling" and e.role == "input":
            seen.setdefault(e.event_id, e)
    return sorted(seen.values(), key=lambda e: (e.time, e.event_id))


def _passport_status(facts: Facts) -> PassportStatus:
    """Ceased once the battery no longer exists as a battery (Art. 77(8))."""
    if facts.state in END_STATES:
        return PassportStatus.CEASED
    if facts.state == "dismantled" and all(r.state in END_STATES for r in facts.related):
        return PassportStatus.CEASED
    return PassportStatus.ACTIVE


# --- reading a canonical passport back (published versions) ------------------------------------


def from_json(doc: Any) -> Passport:
    """Rebuild a :class:`Passport` from :meth:`Passport.to_json` output (a published version).

    Raises :class:`InvalidInput` naming the field when ``doc`` is not such a document.
    """
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InvalidInput("format", f"is not a {FORMAT} document")
    try:
        subject = subject_for(str(doc["battery"]))
        ledger_doc = doc["ledger"]
        ledger = LedgerAnchor(
            int(ledger_doc["captureSeq"]), int(ledger_doc["eventCount"]), str(ledger_doc["head"])
        )
        attrs = doc["attributes"]
        if not isinstance(attrs, dict):
            raise InvalidInput("attributes", "must be an object")
        values: dict[str, Value] = {}
        for key, entry in attrs.items():
            if key not in ATTRIBUTES:
                raise InvalidInput(f"attributes.{key}", "is not a passport attribute")
            if not isinstance(entry, dict) or "value" not in entry:
                raise InvalidInput(f"attributes.{key}", "must be an object with a value")
            sources = entry.get("sources") or []
            values[key] = Value(
                entry["value"],
                entry.get("lastUpdate"),
                tuple(str(s) for s in sources),
                entry.get("note"),
            )
        problems = {
            str(m["attribute"]): str(m["reason"])
            for m in doc.get("missing") or []
            if isinstance(m, dict) and m.get("reason") not in (None, NOT_HELD)
        }
        audience = Audience(doc["audience"]) if doc.get("audience") else None
        pub = doc.get("publication")
        publication = (
            Publication(int(pub["version"]), str(pub["issuedAt"]))
            if isinstance(pub, dict)
            else None
        )
    except KeyError as exc:
        raise InvalidInput(str(exc.args[0]), "is missing") from None
    except (TypeError, ValueError) as exc:
        raise InvalidInput("passport", f"is malformed ({exc})") from None
    if audience is not None:
        for key in values:
            if not visible(key, audience):
                raise InvalidInput(f"attributes.{key}", f"is not visible to {audience.value}")
    return Passport(
        str(doc["passportIdentifier"]), subject, values, ledger, problems, audience, publication
    )


def published(passport: Passport, version: int, issued_at: str) -> Passport:
    return replace(passport, publication=Publication(version, issued_at))


__all__ = [
    "FORMAT",
    "ILMD_KEYS",
    "EventFact",
    "Facts",
    "LedgerAnchor",
    "Party",
    "Passport",
    "Publication",
    "Related",
    "Subject",
    "Value",
    "build_passport",
    "from_json",
    "passport_id",
    "published",
    "subject_for",
]
