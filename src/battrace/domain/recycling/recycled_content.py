"""Recycled content of a battery maker's production (EU 2023/1542 Art. 8), by mass balance.

For cobalt, lithium and nickel: the share of the element in the material a battery maker put into
its production during a period that traces back to recycling outputs recorded in the ledger.

The ledger links the two sides like this (docs/epcis-mapping.md §1 and §12):

* a recycler's **recycling** TransformationEvent lists its output lots by material class and kg
  (``outputQuantityList``: ``urn:battrace:material:nickel_sulfate`` …);
* a battery maker's **commissioning** event may list the material it consumed
  (``battrace:inputQuantityList``, builder ``commission(inputs_kg=…)``), each item naming the
  supplier it bought the material from (``battrace:supplier``, a party URI).

Material classes carry no lot number, so the link is **mass-balance chain of custody** (ISO 22095):
an input of material X bought from supplier S counts as recycled up to the kilograms of X that S's
own recycling events produced, less what earlier inputs (of any maker, in event-time order) have
already claimed; the rest counts as primary material. An input with no supplier, or from a supplier
that recorded no recycling output of that material, counts as primary. So no kilogram of recycled
output is ever counted twice, and a claim never exceeds what a recycler reported.

Element content of an input = kg × purity × the element's mass fraction in the material's
compound (:data:`MATERIAL_COMPOUNDS`, computed by :func:`~.materials.element_fractions`). Material
classes without a compound (black mass has no fixed composition; copper, aluminium …) contain no
counted Co/Li/Ni and are reported as ``unassessed_kg`` where they are not plain metals.

Pure: no I/O. The EU minimums are passed in (:class:`Minimum`, read from the rulebook
``eu-2023-1542`` by the service).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from battrace.domain.errors import InvalidInput
from battrace.domain.recycling.materials import element_fractions

__all__ = [
    "ELEMENTS",
    "MATERIAL_COMPOUNDS",
    "ElementShare",
    "MaterialInput",
    "Minimum",
    "RecycledContentReport",
    "RecyclingOutput",
    "element_kg",
    "recycled_content",
]

#: The elements of Art. 8 that a traction battery's active materials contain (lead is for
#: lead-acid batteries), in the order of reports.
ELEMENTS: tuple[str, ...] = ("Co", "Li", "Ni")

#: The compound each battrace material class stands for. ASSUMPTION (documented in
#: docs/recycled-content.md): the battery-grade commercial forms — nickel sulphate hexahydrate, cobalt
#: sulphate heptahydrate, manganese sulphate monohydrate, lithium hydroxide monohydrate.
MATERIAL_COMPOUNDS: Mapping[str, str] = MappingProxyType(
    {
        "lithium_carbonate": "Li2CO3",
        "lithium_hydroxide": "LiOH·H2O",
        "nickel_sulfate": "NiSO4·6H2O",
        "cobalt_sulfate": "CoSO4·7H2O",
        "manganese_sulfate": "MnSO4·H2O",
    }
)
#: Classes that hold no Co, Li or Ni (plain metals, structural and other parts).
_NONE = frozenset({"copper", "aluminium", "steel", "plastics", "graphite"})


@dataclass(frozen=True, slots=True)
class RecyclingOutput:
    """kg of one material class out of one recycling event of ``recycler``."""

    event_id: str
    time: datetime
    recycler: str
    material: str
    kg: float
    #: True when the recycling event's inputs were serialised batteries (post-consumer waste),
    #: False for loose material only (manufacturing scrap: pre-consumer). ASSUMPTION.
    post_consumer: bool = True


@dataclass(frozen=True, slots=True)
class MaterialInput:
    """kg of one material class a battery maker consumed in one production event."""

    event_id: str
    time: datetime
    maker: str
    material: str
    kg: float
    supplier: str | None = None
    purity: float = 1.0


@dataclass(frozen=True, slots=True)
class Minimum:
    """An Art. 8 minimum share of one element, in force from ``valid_from``."""

    element: str
    pct: float
    valid_from: date
    valid_to: date | None
    rule: str
    version: int
    citation: str
    confidence: str = "secondary"

    def to_dict(self) -> dict[str, Any]:
        return {
            "element": self.element,
            "minimum_pct": self.pct,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            "rule": self.rule,
            "version": self.version,
            "citation": self.citation,
            "confidence": self.confidence,
        }


@dataclass(frozen=True, slots=True)
class ElementShare:
    element: str
    total_kg: float
    recycled_kg: float
    pre_consumer_kg: float
    post_consumer_kg: float
    #: recycled / total in percent; None when the production used none of the element.
    share_pct: float | None
    #: one entry per minimum (2031, 2036): the minimum and whether the share meets it.
    targets: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "element": self.element,
            "total_kg": self.total_kg,
            "recycled_kg": self.recycled_kg,
            "pre_consumer_kg": self.pre_consumer_kg,
            "post_consumer_kg": self.post_consumer_kg,
            "share_pct": self.share_pct,
            "targets": [dict(t) for t in self.targets],
        }


@dataclass(frozen=True)
class RecycledContentReport:
    maker: str
    start: date
    end: date  # inclusive
    elements: tuple[ElementShare, ...]
    inputs: int  # production inputs of the maker in the period
    #: kg per material class of the period's inputs, and of them the kg counted recycled.
    materials: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    unassessed_kg: float = 0.0
    method: str = "mass balance (ISO 22095) over the ledger's recycling outputs"

    def share(self, element: str) -> ElementShare:
        return next(e for e in self.elements if e.element == element)

    def to_dict(self) -> dict[str, Any]:
        return {
            "enterprise": self.maker,
            "period": {"from": self.start.isoformat(), "to": self.end.isoformat()},
            "method": self.method,
            "inputs": self.inputs,
            "unassessed_kg": self.unassessed_kg,
            "materials": {k: dict(v) for k, v in self.materials.items()},
            "elements": [e.to_dict() for e in self.elements],
        }


def element_kg(material: str, kg: float, purity: float = 1.0) -> dict[str, float]:
    """kg of Co, Li and Ni in ``kg`` of a material class (zeros for classes without them)."""
    compound = MATERIAL_COMPOUNDS.get(material)
    if compound is None:
        return dict.fromkeys(ELEMENTS, 0.0)
    fractions = element_fractions(compound)
    return {e: kg * purity * fractions.get(e, 0.0) for e in ELEMENTS}


def _check(items: Sequence[RecyclingOutput | MaterialInput], name: str) -> None:
    for i, item in enumerate(items):
        if not (isinstance(item.kg, int | float) and math.isfinite(item.kg) and item.kg >= 0):
            raise InvalidInput(f"{name}[{i}].kg", "must be a finite number >= 0")
        purity = getattr(item, "purity", 1.0)
        if not (isinstance(purity, int | float) and 0.0 < purity <= 1.0):
            raise InvalidInput(f"{name}[{i}].purity", "must be in (0, 1]")


def _allocate(
    inputs: Sequence[MaterialInput], outputs: Sequence[RecyclingOutput], until: datetime | None
) -> dict[int, tuple[float, float]]:
    """Recycled kg (pre-consumer, post-consumer) credited to each input (by index), consuming
    each (recycler, material) pool in event-time order; a pool holds what its recycling events
    produced up to the input's time."""
    events: list[tuple[datetime, int, str, int]] = []
    for i, out in enumerate(outputs):
        events.append((out.time, 0, out.event_id, i))  # outputs first at equal times
    for i, inp in enumerate(inputs):
        if until is None or inp.time <= until:
            events.append((inp.time, 1, inp.event_id, i))
    events.sort()
    # (recycler, material) -> [pre-consumer kg, post-consumer kg] available
    pools: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    credited: dict[int, tuple[float, float]] = {}
    for _, kind, _, i in events:
        if kind == 0:
            out = outputs[i]
            pools[(out.recycler, out.material)][1 if out.post_consumer else 0] += out.kg
            continue
        inp = inputs[i]
        if inp.supplier is None or (inp.supplier, inp.material) not in pools:
            continue
        pool = pools[(inp.supplier, inp.material)]
        want = inp.kg
        # Post-consumer credit first: it is what the 2031/2036 shares are mostly met with.
        post = min(want, pool[1])
        pool[1] -= post
        pre = min(want - post, pool[0])
        pool[0] -= pre
        if pre or post:
            credited[i] = (pre, post)
    return credited


def recycled_content(
    maker: str,
    start: date,
    end: date,
    inputs: Iterable[MaterialInput],
    outputs: Iterable[RecyclingOutput],
    minimums: Iterable[Minimum] = (),
    *,
    day_of: Any = None,
) -> RecycledContentReport:
    """Share of Co, Li and Ni in ``maker``'s production inputs from ``start`` to ``end``
    (inclusive) that traces back to recycling outputs, against ``minimums``.

    ``inputs`` are every maker's inputs (earlier claims use up recycled output too); ``outputs``
    every recycling output. ``day_of(datetime) -> date`` gives an input's day in the period's
    calendar (default: the date of the timestamp as given).
    """
    if start > end:
        raise InvalidInput("period", f"starts {start} after it ends {end}")
    ins = list(inputs)
    outs = list(outputs)
    _check(ins, "inputs")
    _check(outs, "outputs")
    day = day_of or (lambda t: t.date())
    mine = [i for i, x in enumerate(ins) if x.maker == maker and start <= day(x.time) <= end]
    last = max((ins[i].time for i in mine), default=None)
    credited = _allocate(ins, outs, last)
    total = dict.fromkeys(ELEMENTS, 0.0)
    pre_kg = dict.fromkeys(ELEMENTS, 0.0)
    post_kg = dict.fromkeys(ELEMENTS, 0.0)
    materials: dict[str, dict[str, float]] = {}
    unassessed = 0.0
    for i in mine:
        x = ins[i]
        row = materials.setdefault(x.material, {"kg": 0.0, "recycled_kg": 0.0})
        row["kg"] += x.kg
        if x.material not in MATERIAL_COMPOUNDS:
            if x.material not in _NONE:
                unassessed += x.kg
            continue
        pre, post = credited.get(i, (0.0, 0.0))
        row["recycled_kg"] += pre + post
        for e, kg in element_kg(x.material, x.kg, x.purity).items():
            total[e] += kg
        for e, kg in element_kg(x.material, pre, x.purity).items():
            pre_kg[e] += kg
        for e, kg in element_kg(x.material, post, x.purity).items():
            post_kg[e] += kg
    by_element: dict[str, list[Minimum]] = defaultdict(list)
    for m in minimums:
        by_element[m.element].append(m)
    shares: list[ElementShare] = []
    for e in ELEMENTS:
        recycled = pre_kg[e] + post_kg[e]
        share = recycled * 100.0 / total[e] if total[e] > 0 else None
        targets = tuple(
            {
                **m.to_dict(),
                "meets": None if share is None else share + 1e-9 >= m.pct,
                "in_force_at_period_end": m.valid_from <= end
                and (m.valid_to is None or end <= m.valid_to),
            }
            for m in sorted(by_element.get(e, ()), key=lambda m: m.valid_from)
        )
        shares.append(ElementShare(e, total[e], recycled, pre_kg[e], post_kg[e], share, targets))
    return RecycledContentReport(
        maker=maker,
        start=start,
        end=end,
        elements=tuple(shares),
        inputs=len(mine),
        materials=materials,
        unassessed_kg=unassessed,
    )
