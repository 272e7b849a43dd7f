"""Element content of recycling inputs (batteries, by chemistry) and outputs (compounds, metals,
black mass).

Inputs: kg of Li, Ni, Co, Mn, Cu per kWh from the packaged ``data/materials.toml`` (BatPaC 5.2 via
the domain reference, forecast-data.md §2.1), each value carrying its status and source; per kg of
pack is derived here as per-kWh ÷ pack kg per kWh. Aluminium per kWh is not in the source: it is
*unknown* (``None``), never silently zero, so that a recovery rate is not computed from a guess.

Outputs: the element mass fraction of a compound is computed from its formula and the atomic
weights below, so every figure can be checked by hand; a lot of ``mass_kg`` at ``purity`` holds
``mass_kg × purity × fraction`` of the element. Black mass has no formula: its assay (element mass
fractions measured by the recycler) is stated per lot.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from battrace.domain.errors import InvalidInput

__all__ = [
    "ATOMIC_WEIGHTS",
    "BLACK_MASS",
    "ELEMENTS",
    "OUTPUT_COMPOUNDS",
    "ChemistryData",
    "Value",
    "chemistries",
    "chemistry_data",
    "element_fractions",
    "lot_element_kg",
    "molar_mass",
    "normalise_chemistry",
    "parse_formula",
]

#: Elements battrace balances. Order is the order of reports.
ELEMENTS: tuple[str, ...] = ("Li", "Ni", "Co", "Mn", "Cu", "Al")

#: Standard atomic weights, g/mol: the abridged values (five significant figures; Li, S at the
#: precision IUPAC gives for their conventional values) of the IUPAC Commission on Isotopic
#: Abundances and Atomic Weights (CIAAW), "Standard atomic weights of the elements 2021", Pure Appl.
#: Chem. 2022. These are the figures textbooks print; the domain reference uses the same rounded to
#: 4 digits (Li 6.94, Ni 58.69, Co 58.93, Mn 54.94).
ATOMIC_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "H": 1.0080,
        "Li": 6.94,
        "C": 12.011,
        "O": 15.999,
        "F": 18.998,
        "Al": 26.982,
        "P": 30.974,
        "S": 32.06,
        "Mn": 54.938,
        "Fe": 55.845,
        "Co": 58.933,
        "Ni": 58.693,
        "Cu": 63.546,
    }
)

#: Name of the output "compound" whose composition is given by an assay per lot.
BLACK_MASS = "black_mass"

#: Output products battrace knows, by the name used in lots, with the formula their composition is
#: computed from. Metals are their own formula.
OUTPUT_COMPOUNDS: Mapping[str, str] = MappingProxyType(
    {
        "Li2CO3": "Li2CO3",
        "LiOH·H2O": "LiOH·H2O",
        "NiSO4·6H2O": "NiSO4·6H2O",
        "CoSO4·7H2O": "CoSO4·7H2O",
        "MnSO4·H2O": "MnSO4·H2O",
        "Cu": "Cu",
        "Al": "Al",
    }
)
# Spellings seen in documents for the same products (ASCII dots and asterisks for the middle dot).
_COMPOUND_ALIASES = {
    name.replace("·", sep): name for name in OUTPUT_COMPOUNDS if "·" in name for sep in (".", "*")
}


# --------------------------------------------------------------------------------------------
# Formulae.

_SYMBOL = re.compile(r"([A-Z][a-z]?)(\d+(?:\.\d+)?)?")
_CLOSE = re.compile(r"\)(\d+(?:\.\d+)?)?")
_COEFFICIENT = re.compile(r"\s*(\d+(?:\.\d+)?)")


def parse_formula(formula: str) -> dict[str, float]:
    """Atoms per formula unit: ``"NiSO4·6H2O"`` -> ``{"Ni": 1, "S": 1, "O": 10, "H": 12}``.

    Handles element symbols with integer or decimal counts (``LiNi0.8Mn0.1Co0.1O2``), parentheses
    with a multiplier, and hydrates or adducts after ``·`` (or ``*``) with a leading coefficient.
    """
    if not isinstance(formula, str) or not formula.strip():
        raise InvalidInput("formula", "must be a non-empty string")
    total: dict[str, float] = {}
    for part in formula.replace("*", "·").split("·"):
        coefficient = 1.0
        match = _COEFFICIENT.match(part)
        if match:
            coefficient = float(match.group(1))
            part = part[match.end() :]
        for element, count in _parse_part(part.strip(), formula).items():
            total[element] = total.get(element, 0.0) + coefficient * count
    return total


def _parse_part(text: str, formula: str) -> dict[str, float]:
    if not text:
        raise InvalidInput("formula", f"{formula!r}: empty part")
    stack: list[dict[str, float]] = [{}]
    pos = 0
    while pos < len(text):
        if text[pos] == "(":
            stack.append({})
            pos += 1
            continue
        close = _CLOSE.match(text, pos)
        if close:
            if len(stack) == 1:
                raise InvalidInput("formula", f"{formula!r}: unbalanced ')'")
            group = stack.pop()
            n = float(close.group(1) or 1)
            for element, count in group.items():
                stack[-1][element] = stack[-1].get(element, 0.0) + count * n
            pos = close.end()
            continue
        symbol = _SYMBOL.match(text, pos)
        if symbol is None:
            raise InvalidInput("formula", f"{formula!r}: unexpected {text[pos]!r}")
        element = symbol.group(1)
        if element not in ATOMIC_WEIGHTS:
            raise InvalidInput("formula", f"{formula!r}: unknown element {element!r}")
        stack[-1][element] = stack[-1].get(element, 0.0) + float(symbol.group(2) or 1)
        pos = symbol.end()
    if len(stack) != 1:
        raise InvalidInput("formula", f"{formula!r}: unbalanced '('")
    return stack[0]


def molar_mass(formula: str) -> float:
    """g/mol from :data:`ATOMIC_WEIGHTS`."""
    return math.fsum(ATOMIC_WEIGHTS[e] * n for e, n in parse_formula(formula).items())


def element_fractions(compound: str) -> dict[str, float]:
    """Mass fraction of each element in a known output compound (or any formula)."""
    formula = OUTPUT_COMPOUNDS.get(_canonical_compound(compound), compound)
    atoms = parse_formula(formula)
    mass = molar_mass(formula)
    return {e: ATOMIC_WEIGHTS[e] * n / mass for e, n in atoms.items()}


def _canonical_compound(name: str) -> str:
    return _COMPOUND_ALIASES.get(name, name)


def lot_element_kg(
    mass_kg: float,
    compound: str,
    *,
    purity: float = 1.0,
    assay: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """kg of each tracked element (:data:`ELEMENTS`) in an output lot's product.

    For a known compound: ``mass_kg × purity × mass fraction``. For black mass: ``mass_kg × assay``
    (purity does not apply: the assay already describes the whole lot). Impurities are separate
    (see :mod:`massbalance`).
    """
    name = _canonical_compound(compound)
    if name == BLACK_MASS:
        if not assay:
            raise InvalidInput("assay", "black mass needs its assay (element mass fractions)")
        return {e: mass_kg * assay.get(e, 0.0) for e in ELEMENTS if e in assay}
    if name not in OUTPUT_COMPOUNDS:
        known = ", ".join([*OUTPUT_COMPOUNDS, BLACK_MASS])
        raise InvalidInput("compound", f"unknown output {compound!r}; known: {known}")
    if assay:
        raise InvalidInput("assay", f"an assay applies to black mass, not to {name}")
    fractions = element_fractions(name)
    return {e: mass_kg * purity * fractions[e] for e in ELEMENTS if e in fractions}


# --------------------------------------------------------------------------------------------
# Inputs by chemistry.


@dataclass(frozen=True, slots=True)
class Value:
    """A figure with its provenance: ``status`` is ``code`` (from a public code repository's
    data), ``derived`` (calculated from cited inputs) or ``measured`` (given by the caller)."""

    value: float
    status: str
    source: str


@dataclass(frozen=True, slots=True)
class ChemistryData:
    chemistry: str
    cathode: str
    pack_kg_per_kwh: Value | None
    per_kwh: Mapping[str, Value | None]

    def per_kg_pack(self) -> dict[str, Value | None]:
        """kg of element per kg of pack = per-kWh ÷ pack kg per kWh (always ``derived``)."""
        pack = self.pack_kg_per_kwh
        out: dict[str, Value | None] = {}
        for element, value in self.per_kwh.items():
            if value is None or pack is None:
                out[element] = None
            else:
                out[element] = Value(
                    value.value / pack.value,
                    "derived",
                    f"{element} per kWh ({value.status}: {value.source}) ÷ pack kg per kWh "
                    f"({pack.status}: {pack.source})",
                )
        return out


@cache
def _load() -> tuple[dict[str, ChemistryData], dict[str, str]]:
    text = resources.files(__package__).joinpath("data/materials.toml").read_text(encoding="utf-8")
    doc: dict[str, Any] = tomllib.loads(text)
    sources = {key: f"{v['title']} — {v['via']}" for key, v in doc["sources"].items()}

    def value(entry: Mapping[str, Any]) -> Value:
        return Value(float(entry["value"]), str(entry["status"]), sources[entry["source"]])

    table: dict[str, ChemistryData] = {}
    for name, entry in doc["chemistry"].items():
        per_kwh = entry.get("per_kwh", {})
        pack = entry.get("pack_kg_per_kwh")
        table[name] = ChemistryData(
            chemistry=name,
            cathode=str(entry["cathode"]),
            pack_kg_per_kwh=value(pack) if pack else None,
            per_kwh=MappingProxyType(
                {e: value(per_kwh[e]) if e in per_kwh else None for e in ELEMENTS}
            ),
        )
    aliases = {str(k).upper(): str(v) for k, v in doc.get("aliases", {}).items()}
    aliases.update({name.upper(): name for name in table})
    return table, aliases


def chemistries() -> tuple[str, ...]:
    """Chemistries with element data."""
    return tuple(_load()[0])


def normalise_chemistry(name: str) -> str:
    """Canonical chemistry name (``"ncm811"`` -> ``"NMC811"``); raises for unknown names."""
    table, aliases = _load()
    key = name.strip().upper().replace("-", "").replace(" ", "") if isinstance(name, str) else ""
    if key in aliases:
        return aliases[key]
    raise InvalidInput(
        "chemistry",
        f"unknown chemistry {name!r}; known: {', '.join(table)} (a bare 'NCM' or 'ternary' "
        "must be narrowed to a Ni:Mn:Co ratio)",
    )


def chemistry_data(name: str) -> ChemistryData:
    return _load()[0][normalise_chemistry(name)]
