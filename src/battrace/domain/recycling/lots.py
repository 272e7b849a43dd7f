"""The mass-balance lots of one reported recycling TransformationEvent (pure; no I/O).

A recycler reports recycling as a TransformationEvent (docs/epcis-mapping.md §12): serialised
batteries in ``inputEPCList`` and/or loose material in ``inputQuantityList`` (kg), material lots in
``outputQuantityList`` (kg, class ``urn:battrace:material:{name}``). What the balance needs beyond
that travels in two optional battrace extension fields of the event (docs/recycling.md §6):

* ``battrace:lots`` — per output material name: ``purity`` (mass fraction of the compound),
  ``assay`` and ``impurities`` (element mass fractions), ``internal`` (black mass fed to the
  recycler's own refining), ``recovered`` (count black mass as recovered material);
* ``battrace:inputLots`` — per loose input material name: ``assay`` (element mass fractions) and
  ``electrodePowder`` (true when the material is electrode powder, e.g. bought black mass);
* ``battrace:electrodePowderKg`` — electrode powder contained in the event's inputs.

A serialised input's content comes from its commissioning data (the view's ``chemistry``,
``ratedEnergyKWh``, ``massKg``); GB/T 34014 battery-type letter ``B`` (LFP) stands in for a missing
chemistry. An input whose content cannot be derived makes the whole event *unassessable*
(:class:`InvalidInput` naming the input): balancing its outputs against part of its inputs would
raise false alarms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from battrace.domain.errors import InvalidInput
from battrace.domain.recycling.massbalance import OTHER, STAGES, InputLot, OutputLot
from battrace.domain.recycling.materials import BLACK_MASS, ELEMENTS

__all__ = [
    "MATERIAL_COMPOUNDS",
    "EventLots",
    "event_lots",
    "input_epcs",
    "stages_of",
]

MATERIAL_URN = "urn:battrace:material:"
BATTERY_URN = "urn:gbt34014:"
_P = "battrace:"
_VOCAB = "https://battrace.org/voc/"

#: Material lot names (docs/identifiers.md) -> the compound the balance computes content from.
#: Names not listed (steel, plastics, electrolyte, graphite, any other class) are ``other``.
MATERIAL_COMPOUNDS: Mapping[str, str] = {
    "black_mass": BLACK_MASS,
    "lithium_carbonate": "Li2CO3",
    "lithium_hydroxide": "LiOH·H2O",
    "nickel_sulfate": "NiSO4·6H2O",
    "cobalt_sulfate": "CoSO4·7H2O",
    "manganese_sulfate": "MnSO4·H2O",
    "copper": "Cu",
    "aluminium": "Al",
}
#: Refined products: a recycler reporting them runs a smelting (refining) stage.
_REFINED = frozenset({"Li2CO3", "LiOH·H2O", "NiSO4·6H2O", "CoSO4·7H2O", "MnSO4·H2O"})


@dataclass(frozen=True, slots=True)
class EventLots:
    inputs: tuple[InputLot, ...]
    outputs: tuple[OutputLot, ...]


def ext(body: Mapping[str, Any], name: str) -> Any:
    """A battrace extension field, written ``battrace:name`` or as the full vocabulary IRI."""
    if _P + name in body:
        return body[_P + name]
    return body.get(_VOCAB + name)


def input_epcs(body: Mapping[str, Any]) -> list[str]:
    return [e for e in body.get("inputEPCList") or () if isinstance(e, str)]


def _quantities(body: Mapping[str, Any], key: str) -> list[tuple[str, float]]:
    out = []
    for n, q in enumerate(body.get(key) or ()):
        where = f"{key}[{n}]"
        if not isinstance(q, dict) or not isinstance(q.get("epcClass"), str):
            raise InvalidInput(where, "needs an epcClass")
        kg = _kg(q, where)
        name = q["epcClass"]
        out.append((name.removeprefix(MATERIAL_URN), kg))
    return out


def _kg(q: Mapping[str, Any], where: str) -> float:
    value, uom = q.get("quantity"), q.get("uom")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{where}.quantity", "must be a number")
    if value < 0:
        raise InvalidInput(f"{where}.quantity", "must be >= 0")
    if uom == "KGM":
        return float(value)
    if uom == "TNE":
        return float(value) * 1000.0
    raise InvalidInput(
        f"{where}.uom", f"{uom!r}: the balance needs kilograms (KGM) or tonnes (TNE)"
    )


def _fractions(raw: Any, where: str) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInput(where, "must be an object of element -> mass fraction")
    out: dict[str, float] = {}
    for element, value in raw.items():
        if element not in ELEMENTS:
            raise InvalidInput(f"{where}.{element}", f"not one of {', '.join(ELEMENTS)}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"{where}.{element}", "must be a number")
        out[element] = float(value)
    return out


def _flag(raw: Mapping[str, Any], key: str, where: str) -> bool | None:
    value = raw.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise InvalidInput(f"{where}.{key}", "must be true or false")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value) if value > 0 else None


def _chemistry(epc: str, attrs: Mapping[str, Any]) -> str | None:
    chem = attrs.get("chemistry")
    if isinstance(chem, str) and chem.strip():
        return chem
    code = epc.removeprefix(BATTERY_URN)
    if epc.startswith(BATTERY_URN) and len(code) >= 5 and code[4] == "B":
        return "LFP"  # GB/T 34014 battery-type letter B = LFP (docs/identifiers.md)
    return None


def event_lots(
    event_id: str,
    body: Mapping[str, Any],
    views: Mapping[str, Mapping[str, Any]],
) -> EventLots:
    """The balance's input and output lots of one recycling event.

    ``views`` maps each input EPC to its view (``attributes`` from its commissioning data).
    Raises :class:`InvalidInput` when the event cannot be assessed (field names the input or
    extension value at fault).
    """
    lots_ext = ext(body, "lots") or {}
    inputs_ext = ext(body, "inputLots") or {}
    if not isinstance(lots_ext, dict):
        raise InvalidInput("battrace:lots", "must be an object keyed by material name")
    if not isinstance(inputs_ext, dict):
        raise InvalidInput("battrace:inputLots", "must be an object keyed by material name")
    powder_raw = ext(body, "electrodePowderKg")
    powder: float | None = None
    if powder_raw is not None:
        if isinstance(powder_raw, bool) or not isinstance(powder_raw, int | float):
            raise InvalidInput("battrace:electrodePowderKg", "must be a number of kilograms")
        powder = float(powder_raw)

    inputs: list[InputLot] = []
    for epc in input_epcs(body):
        view = views.get(epc) or {}
        attrs = view.get("attributes") or {}
        chem = _chemistry(epc, attrs)
        mass = _number(attrs.get("massKg"))
        energy = _number(attrs.get("ratedEnergyKWh"))
        if chem is None:
            raise InvalidInput(f"inputEPCList: {epc}", "chemistry unknown (no commissioning data)")
        if mass is None and energy is None:
            raise InvalidInput(
                f"inputEPCList: {epc}",
                "neither massKg nor ratedEnergyKWh in its commissioning data",
            )
        inputs.append(
            InputLot(f"{event_id}:{epc}", chemistry=chem, mass_kg=mass, energy_kwh=energy)
        )
    loose_powder = 0.0
    for n, (name, kg) in enumerate(_quantities(body, "inputQuantityList")):
        where = f"battrace:inputLots.{name}"
        spec = inputs_ext.get(name)
        if not isinstance(spec, dict) or "assay" not in spec:
            raise InvalidInput(
                f"inputQuantityList: {name}", "loose input without an assay (battrace:inputLots)"
            )
        assay = _fractions(spec.get("assay"), f"{where}.assay")
        if _flag(spec, "electrodePowder", where) or name == "black_mass":
            loose_powder += kg
        inputs.append(
            InputLot(
                f"{event_id}#in{n}",
                element_kg={e: kg * f for e, f in assay.items()},
                mass_kg=kg,
            )
        )
    if not inputs:
        raise InvalidInput("inputs", "the event names no input")
    if powder is not None or loose_powder:
        total = (powder or 0.0) + loose_powder
        first = inputs[0]
        inputs[0] = InputLot(
            first.lot_id,
            chemistry=first.chemistry,
            mass_kg=first.mass_kg,
            energy_kwh=first.energy_kwh,
            element_kg=first.element_kg,
            electrode_powder_kg=total,
        )
        for i in range(1, len(inputs)):
            lot = inputs[i]
            inputs[i] = InputLot(
                lot.lot_id,
                chemistry=lot.chemistry,
                mass_kg=lot.mass_kg,
                energy_kwh=lot.energy_kwh,
                element_kg=lot.element_kg,
                electrode_powder_kg=0.0,
            )

    outputs: list[OutputLot] = []
    for n, (name, kg) in enumerate(_quantities(body, "outputQuantityList")):
        compound = MATERIAL_COMPOUNDS.get(name, OTHER)
        where = f"battrace:lots.{name}"
        spec = lots_ext.get(name) or {}
        if not isinstance(spec, dict):
            raise InvalidInput(where, "must be an object")
        purity = spec.get("purity", 1.0)
        if isinstance(purity, bool) or not isinstance(purity, int | float):
            raise InvalidInput(f"{where}.purity", "must be a number")
        assay = _fractions(spec.get("assay"), f"{where}.assay")
        if compound == BLACK_MASS and not assay:
            # No assay stated: no element content is claimed (a lower bound, so the lot can hide
            # an impossible balance but never invent one); its impurity checks stay unverifiable.
            assay = {"Li": 0.0}
        outputs.append(
            OutputLot(
                f"{event_id}#out{n}",
                compound,
                kg,
                purity=float(purity) if compound not in (BLACK_MASS, OTHER) else 1.0,
                assay=assay,
                impurities=_fractions(spec.get("impurities"), f"{where}.impurities"),
                recovered=_flag(spec, "recovered", where),
                internal=bool(_flag(spec, "internal", where)),
            )
        )
    return EventLots(tuple(inputs), tuple(outputs))


def stages_of(outputs: Sequence[OutputLot]) -> tuple[str, ...]:
    """The process stages the outputs show: refined compounds -> smelting; black mass, metals and
    other fractions -> pretreatment. None at all -> both."""
    stages = set()
    for lot in outputs:
        stages.add("smelting" if lot.compound in _REFINED else "pretreatment")
    return tuple(s for s in STAGES if s in stages) or STAGES
