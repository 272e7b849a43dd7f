"""Offline knowledge of the EPCIS 2.0 JSON-LD context, enough for the Event Hash ID.

The GS1 context files are not shipped (licence terms unclear, epcis.md §2); what the hash needs
from them is written down here as plain data taken from the CBV 2.0 vocabulary:

* the prefixes (``epcis``, ``cbv``, ``cbvmda``, ``gs1`` …),
* which properties are ``@vocab``-typed and which bare words they expand, e.g. ``bizStep``
  ``"shipping"`` -> ``https://ref.gs1.org/cbv/BizStep-shipping``,
* which properties are ``@id``-typed (compact IRIs in their values are expanded),
* the property-scoped contexts (``sourceList``, ``sensorElementList`` …) that redefine ``type``.

Both published versions of the context (``ref.gs1.org/standards/epcis/2.0.0/…`` and
``gs1.github.io/EPCIS/…``) differ only in the datatype of ``quantity``, which never matters for the
hash, so one table serves both. Nothing is ever fetched from the network: an unknown remote context
URL contributes no definitions.

:func:`resolve_context` turns a document's ``@context`` (URI string, object, or list of both) into a
:class:`Context`, cached by value because every event of a document shares it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from battrace.domain.epcis import vocab

EPCIS_CONTEXT_URLS: Final = frozenset(
    {
        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
        "https://gs1.github.io/EPCIS/epcis-context.jsonld",
    }
)

EPCIS: Final = "https://ref.gs1.org/epcis/"
CBV: Final = "https://ref.gs1.org/cbv/"
GS1: Final = "https://gs1.org/voc/"
GS1_PREFIXES: Final[Mapping[str, str]] = {
    "epcis": EPCIS,
    "cbv": CBV,
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "gs1": GS1,
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
}

# CBV 2.0 measurement types, sensor alert types and sensor components (gs1:/cbv:Comp- terms).
MEASUREMENT_TYPES: Final = frozenset(
    "AbsoluteHumidity AbsorbedDose AbsorbedDoseRate Acceleration Radioactivity Altitude "
    "AmountOfSubstance AmountOfSubstancePerUnitVolume Angle AngularAcceleration AngularMomentum "
    "AngularVelocity Area Capacitance Conductance Conductivity Count Density Dimensionless "
    "DoseEquivalent DoseEquivalentRate DynamicViscosity ElectricCharge ElectricCurrent "
    "ElectricCurrentDensity ElectricFieldStrength Energy Exposure Force Frequency Illuminance "
    "Inductance Irradiance KinematicViscosity Length LinearMomentum Luminance LuminousFlux "
    "LuminousIntensity MagneticFlux MagneticFluxDensity MagneticVectorPotential Mass "
    "MassConcentration MassFlowRate MassPerAreaTime MemoryCapacity MolalityOfSolute MolarEnergy "
    "MolarMass MolarVolume Power Pressure RadiantFlux RadiantIntensity RelativeHumidity Resistance "
    "Resistivity SolidAngle SpecificVolume Speed SurfaceDensity SurfaceTension Temperature Time "
    "Torque Voltage Volume VolumeFlowRate VolumeFraction VolumetricFlux Wavenumber".split()
)
SENSOR_ALERTS: Final = frozenset({"ALARM_CONDITION", "ERROR_CONDITION"})
COMPONENTS: Final = frozenset(
    "x y z axial_distance azimuth height spherical_radius polar_angle elevation_angle easting "
    "northing latitude longitude altitude".split()
)


def _table(words: frozenset[str], namespace: str) -> dict[str, str]:
    return {w: namespace + w for w in words}


# Scoped term tables of the @vocab-typed properties: bare word -> expanded IRI.
BIZ_STEP: Final = _table(vocab.BIZ_STEPS, CBV + "BizStep-")
DISPOSITION: Final = _table(vocab.DISPOSITIONS, CBV + "Disp-")
BIZ_TRANSACTION_TYPE: Final = _table(vocab.BIZ_TRANSACTION_TYPES, CBV + "BTT-")
SOURCE_DEST_TYPE: Final = _table(vocab.SOURCE_DEST_TYPES, CBV + "SDT-")
ERROR_REASON: Final = _table(vocab.ERROR_REASONS, CBV + "ER-")
MEASUREMENT_TYPE: Final = _table(MEASUREMENT_TYPES, GS1)
SENSOR_ALERT: Final = _table(SENSOR_ALERTS, GS1)
COMPONENT: Final = _table(COMPONENTS, CBV + "Comp-")

# How a property's string value expands.
PLAIN: Final = "plain"  # a literal: kept as written
ID: Final = "id"  # @type @id (or the @id keyword): compact IRIs expand
TYPE: Final = "type"  # the @type keyword: terms and compact IRIs expand


@dataclass(frozen=True, slots=True)
class Term:
    """How a property's value expands: ``kind`` is PLAIN, ID, TYPE, or a bare-word table (@vocab)."""

    kind: str | Mapping[str, str]
    scope: Mapping[str, Term] | None = None  # property-scoped context for the value


def _terms(kind: str | Mapping[str, str], names: str) -> dict[str, Term]:
    return dict.fromkeys(names.split(), Term(kind))


_SENSOR_METADATA = _terms(PLAIN, "startTime endTime") | _terms(ID, "bizRules")
_SENSOR_REPORT = (
    {
        "type": Term(MEASUREMENT_TYPE),
        "exception": Term(SENSOR_ALERT),
        "component": Term(COMPONENT),
    }
    | _terms(ID, "coordinateReferenceSystem microorganism chemicalSubstance uriValue")
    | _terms(
        PLAIN,
        "time value stringValue booleanValue hexBinaryValue minValue maxValue meanValue sDev "
        "percRank percValue",
    )
)
_SENSOR_ELEMENT = (
    _terms(ID, "deviceID deviceMetadata rawData dataProcessingMethod")
    | _terms(PLAIN, "time")
    | {
        "type": Term(TYPE),
        "sensorMetadata": Term(PLAIN, _SENSOR_METADATA),
        "sensorReport": Term(PLAIN, _SENSOR_REPORT),
    }
)

#: The top-level terms of the EPCIS 2.0 context, with property-scoped contexts where it has them.
EPCIS_TERMS: Final[Mapping[str, Term]] = (
    _terms(PLAIN, " ".join(GS1_PREFIXES))
    | _terms(
        PLAIN,
        "ObjectEvent AggregationEvent TransformationEvent AssociationEvent TransactionEvent "
        "Collection eventTime recordTime eventTimeZoneOffset action quantity uom quantityList "
        "childQuantityList inputQuantityList outputQuantityList creationDate sender receiver "
        "instanceIdentifier schemaVersion ilmd EPCISDocument EPCISQueryDocument epcisHeader "
        "masterData vocabularyList epcisBody queryResults subscriptionID queryName resultsBody "
        "eventList",
    )
    | _terms(
        ID,
        "id eventID member certificationInfo bizLocation readPoint transformationID epcList "
        "epcClass parentID childEPCs inputEPCList outputEPCList children",
    )
    | {
        "type": Term(TYPE),
        "bizStep": Term(BIZ_STEP),
        "disposition": Term(DISPOSITION),
        "persistentDisposition": Term(
            PLAIN, {"set": Term(DISPOSITION), "unset": Term(DISPOSITION)}
        ),
        "sourceList": Term(PLAIN, {"source": Term(ID), "type": Term(SOURCE_DEST_TYPE)}),
        "destinationList": Term(PLAIN, {"destination": Term(ID), "type": Term(SOURCE_DEST_TYPE)}),
        "bizTransactionList": Term(
            PLAIN, {"bizTransaction": Term(ID), "type": Term(BIZ_TRANSACTION_TYPE)}
        ),
        "sensorElementList": Term(PLAIN, _SENSOR_ELEMENT),
        "errorDeclaration": Term(
            PLAIN,
            {
                "reason": Term(ERROR_REASON),
                "correctiveEventIDs": Term(ID),
                "declarationTime": Term(PLAIN),
            },
        ),
    }
)

# IRIs of the top-level terms, for @vocab/@type values that happen to be a term name.
_TERM_IRIS: Final[Mapping[str, str]] = dict(GS1_PREFIXES) | {
    name: EPCIS + name
    for name in EPCIS_TERMS
    if name not in GS1_PREFIXES and name not in ("id", "eventID", "type")
}

_GEN_DELIMS = frozenset(":/?#[]@")
_KEYWORDS = frozenset(
    "@base @container @context @direction @graph @id @import @included @index @json @language "
    "@list @nest @none @prefix @propagate @protected @reverse @set @type @value @version @vocab".split()
)


@dataclass(slots=True)
class Context:
    """A resolved ``@context``.

    ``namespaces`` is what keys and values are rewritten with (``prefix:local`` ->
    ``{namespace}local`` for keys, ``namespacelocal`` for values). Like the reference
    implementation it holds only the prefixes the document declares itself, never the standard
    ones: the official examples hash ``cbvmda:lotNumber`` and ``gs1:Temperature`` verbatim.
    ``prefixes``/``terms`` are the JSON-LD view (standard and declared) used to find which values
    expand into the CBV and GS1 vocabularies.
    """

    namespaces: dict[str, str] = field(default_factory=dict)
    prefixes: dict[str, str] = field(default_factory=lambda: dict(GS1_PREFIXES))
    terms: dict[str, str] = field(default_factory=lambda: dict(_TERM_IRIS))
    term_kinds: dict[str, Term] = field(default_factory=dict)
    vocab: str | None = None
    #: Per-context memo of canonical values; owned and filled by the hash module.
    memo: dict[Any, Any] = field(default_factory=dict)

    def merged(self, extra: object) -> Context:
        """This context with ``extra`` (e.g. an event's own ``@context``) processed after it."""
        out = Context(
            dict(self.namespaces),
            dict(self.prefixes),
            dict(self.terms),
            dict(self.term_kinds),
            self.vocab,
        )
        out._add(extra)
        return out

    def _add(self, ctx: object) -> None:
        if ctx is None:
            return
        if isinstance(ctx, str):
            return  # the EPCIS context is built in; any other remote context is not fetched
        if isinstance(ctx, list | tuple):
            for item in ctx:
                self._add(item)
            return
        if not isinstance(ctx, Mapping):
            raise ValueError(f"@context entry must be a URI or an object, not {type(ctx).__name__}")
        for name, definition in ctx.items():
            if not isinstance(name, str):
                continue
            if name == "@vocab":
                self.vocab = definition if isinstance(definition, str) else None
                continue
            if name.startswith("@"):
                continue
            self._define(name, definition)
        # JSON-LD resolves definitions that use a prefix defined later in the same object.
        for name, iri in list(self.prefixes.items()):
            self.prefixes[name] = self.expand_iri(iri)
        for name, iri in list(self.terms.items()):
            if not iri.startswith("@"):
                self.terms[name] = self.expand_iri(iri)

    def _define(self, name: str, definition: object) -> None:
        if definition is None:  # JSON-LD: a null definition removes the term
            self.namespaces.pop(name, None)
            self.prefixes.pop(name, None)
            self.terms.pop(name, None)
            self.term_kinds.pop(name, None)
            return
        iri: str | None
        if isinstance(definition, str):
            iri = definition
            self.namespaces[name] = iri
            prefix_flag = ":" not in name and iri[-1:] in _GEN_DELIMS
        elif isinstance(definition, Mapping):
            raw_id = definition.get("@id")
            iri = raw_id if isinstance(raw_id, str) else None
            if iri is None and ":" in name:
                iri = self.expand_iri(name)
            prefix_flag = definition.get("@prefix") is True and iri is not None
            if prefix_flag and iri is not None:
                self.namespaces[name] = iri
            typ = definition.get("@type")
            if typ == "@id":
                self.term_kinds[name] = Term(ID)
            elif typ == "@vocab":
                self.term_kinds[name] = Term(TYPE)
        else:
            return
        if iri is None:
            return
        if not iri.startswith("@"):
            iri = self.expand_iri(iri)
        self.terms[name] = iri
        if prefix_flag:
            self.prefixes[name] = iri
        else:
            self.prefixes.pop(name, None)

    # -- JSON-LD value expansion (only as far as the hash needs it) ---------------------------

    def expand_iri(self, value: str) -> str:
        """Expand a compact IRI (``gs1:Temperature``); other values are returned unchanged."""
        colon = value.find(":")
        if colon > 0:
            prefix = value[:colon]
            rest = value[colon + 1 :]
            if prefix != "_" and not rest.startswith("//"):
                iri = self.prefixes.get(prefix)
                if iri is not None:
                    return iri + rest
        return value

    def expand_vocab(self, value: str, table: Mapping[str, str] | None) -> str:
        """Expand a value of an @vocab-typed property (or of ``@type``)."""
        if table is not None:
            hit = table.get(value)
            if hit is not None:
                return hit
        term = self.terms.get(value)
        if term is not None:
            return term
        if ":" not in value and self.vocab is not None:
            return self.vocab + value
        return self.expand_iri(value)

    def key_kind(self, key: str, scopes: tuple[Mapping[str, Term], ...]) -> Term | None:
        """How the value of ``key`` expands; ``None`` if JSON-LD drops the key.

        ``scopes`` are the property-scoped contexts in force, innermost first; they propagate to
        nested objects, so the lookup falls through to the outer ones (the last is
        :data:`EPCIS_TERMS`).
        """
        for scope in scopes:
            term = scope.get(key)
            if term is not None:
                return term
        term = self.term_kinds.get(key)
        if term is not None:
            return term
        if key == "@id":
            return _ID_TERM
        if key == "@type":
            return _TYPE_TERM
        if key in ("@value", "@list", "@set"):
            return _PLAIN_TERM
        if key in self.terms or self.vocab is not None:
            return _PLAIN_TERM
        if key.startswith("@"):
            return None
        expanded = self.expand_iri(key)
        # JSON-LD keeps a property only if it expands to an absolute IRI.
        colon = expanded.find(":")
        if colon > 0 and expanded[0].isascii() and expanded[0].isalpha():
            scheme = expanded[:colon]
            rest = expanded[colon + 1 :]
            if all(c.isascii() and (c.isalnum() or c in "+-.") for c in scheme) and not any(
                c.isspace() for c in rest
            ):
                return _PLAIN_TERM
        return None


_ID_TERM: Final = Term(ID)
_TYPE_TERM: Final = Term(TYPE)
_PLAIN_TERM: Final = Term(PLAIN)

_CACHE: dict[object, Context] = {}
_CACHE_MAX = 256


def _cache_key(ctx: object) -> object:
    """A hashable stand-in for a ``@context`` value (computed for every call: kept cheap)."""
    if isinstance(ctx, str):
        return ("uri", ctx)
    if isinstance(ctx, list):
        # The usual shape: URIs and flat prefix tables. Another key order only costs a miss.
        parts: list[object] = []
        for item in ctx:
            if isinstance(item, str):
                parts.append(item)
            elif isinstance(item, dict) and all(isinstance(v, str) for v in item.values()):
                parts.append(tuple(item.items()))
            else:
                break
        else:
            return ("list", tuple(parts))
    return ("json", json.dumps(ctx, sort_keys=True, separators=(",", ":"), default=repr))


def resolve_context(ctx: object) -> Context:
    """The :class:`Context` for a document's ``@context`` value (cached by value).

    ``None`` means a document that names no context; the EPCIS context is always in force
    because an EPCIS 2.0 JSON-LD document must reference it.
    """
    key: object = ""
    if not ((isinstance(ctx, str) and ctx in EPCIS_CONTEXT_URLS) or ctx is None):
        key = _cache_key(ctx)
    found = _CACHE.get(key)
    if found is not None:
        return found
    resolved = Context()
    resolved._add(ctx)
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[key] = resolved
    return resolved
