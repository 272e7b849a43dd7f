"""Element mass balance of one recycler over one period, and the recovery thresholds it meets.

Method (details and worked examples in ``docs/recycling.md``):

* **In**: for every input lot, each element's kg is taken from, in this order, the caller's measured
  ``element_kg``, ``energy_kwh`` × kg per kWh of its chemistry (sourced), or ``mass_kg`` × kg per kg
  of pack (derived). An element no lot can supply (aluminium unless measured) is *unknown*: its
  total is ``None`` and nothing that depends on it is evaluated.
* **Out**: a lot of ``mass_kg`` of a compound at ``purity`` holds ``mass_kg × purity × mass
  fraction`` (from the formula), plus ``mass_kg × fraction`` of each stated impurity; black mass
  holds ``mass_kg × assay``. Lots marked ``internal`` (black mass fed to the recycler's own
  refining) count for electrode-powder recovery and impurity only: their elements leave in the
  products they became, and counting both would count them twice.
* **Recovered** = the product content of lots that count as recovered material (compounds, metals
  and ``other`` fractions by default; black mass is an intermediate and does not, unless marked).
  Recovery rate = recovered ÷ in.
* **Impossible balance**: more of an element out than in beyond ``tolerance`` (relative, default
  2 % for weighing and assay error) plus ``absolute_tolerance_kg`` is a finding of kind
  ``mass-balance``; the checks that depend on that element are then ``unverifiable``, never met.
* **Recycling efficiency** (EU Annex XII Part B) ≈ recycled mass ÷ input battery mass, where the
  recycled mass of a compound counts only its battery-derived metal (Li in Li2CO3, not the
  carbonate, which comes from reagents) and ``other`` fractions and recovered black mass count in
  full. This is an approximation: the calculation rules of the delegated act (EU) 2025/606 are not
  in the domain reference.

The thresholds are data (``data/recovery_targets.toml``) with scheme, stage, date in force, status
and source; pass your own list to :func:`mass_balance` to check against other rules.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from battrace.domain.errors import InvalidInput
from battrace.domain.recycling.materials import (
    BLACK_MASS,
    ELEMENTS,
    OUTPUT_COMPOUNDS,
    chemistry_data,
    lot_element_kg,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "OTHER",
    "STAGES",
    "Check",
    "ElementBalance",
    "Finding",
    "InputLot",
    "MassBalanceReport",
    "OutputLot",
    "Target",
    "default_targets",
    "load_targets",
    "mass_balance",
]

#: Relative measurement tolerance of the balance: weighing and assay error. An ASSUMPTION (no
#: normative value in the domain reference); configurable per call.
DEFAULT_TOLERANCE = 0.02
#: Output "compound" for fractions without tracked elements (steel, plastics, graphite, FePO4 ...).
OTHER = "other"
STAGES = ("pretreatment", "smelting")

_METRICS = frozenset({"recovery", "powder-recovery", "impurity", "recycling-efficiency"})


@dataclass(frozen=True, slots=True)
class InputLot:
    """Batteries (or parts) received. Give ``chemistry`` with ``energy_kwh`` and/or ``mass_kg``,
    or measured ``element_kg``; ``electrode_powder_kg`` is the powder they contain, if known."""

    lot_id: str
    chemistry: str | None = None
    mass_kg: float | None = None
    energy_kwh: float | None = None
    element_kg: Mapping[str, float] = field(default_factory=dict)
    electrode_powder_kg: float | None = None


@dataclass(frozen=True, slots=True)
class OutputLot:
    """A material lot produced in the period.

    ``compound`` is a name of :data:`~battrace.domain.recycling.materials.OUTPUT_COMPOUNDS`,
    ``"black_mass"`` (needs ``assay``: element mass fractions) or ``"other"``. ``purity`` is the
    compound's mass fraction in the lot; ``impurities`` are element mass fractions of the lot.
    """

    lot_id: str
    compound: str
    mass_kg: float
    purity: float = 1.0
    assay: Mapping[str, float] = field(default_factory=dict)
    impurities: Mapping[str, float] = field(default_factory=dict)
    recovered: bool | None = None
    internal: bool = False

    @property
    def counts_as_recovered(self) -> bool:
        if self.recovered is not None:
            return self.recovered
        return self.compound != BLACK_MASS


@dataclass(frozen=True, slots=True)
class Target:
    id: str
    scheme: str
    metric: str
    element: str | None
    comparison: str  # ">=" or "<"
    value_pct: float
    stage: str  # "pretreatment" | "smelting" | "any"
    in_force: date
    status: str
    source: str

    def passes(self, value_pct: float) -> bool:
        if self.comparison == ">=":
            return value_pct >= self.value_pct
        return value_pct < self.value_pct


@dataclass(frozen=True, slots=True)
class ElementBalance:
    element: str
    input_kg: float | None
    input_basis: tuple[str, ...]  # measured | per-kWh intensity | per-kg intensity (derived)
    output_kg: float
    recovered_kg: float
    recovery_pct: float | None
    balanced: bool | None  # None when the input is unknown


@dataclass(frozen=True, slots=True)
class Check:
    target: Target
    value_pct: float | None
    in_force: bool
    status: str  # met | not-met | not-applicable | unverifiable
    note: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # mass-balance | threshold | incomplete
    subject: str
    message: str


@dataclass(frozen=True, slots=True)
class MassBalanceReport:
    recycler_id: str
    period_start: date
    period_end: date
    tolerance: float
    elements: tuple[ElementBalance, ...]
    input_battery_kg: float | None
    electrode_powder_in_kg: float | None
    electrode_powder_out_kg: float
    electrode_powder_recovery_pct: float | None
    recycled_kg: float
    recycling_efficiency_pct: float | None
    checks: tuple[Check, ...]
    findings: tuple[Finding, ...]

    def element(self, symbol: str) -> ElementBalance:
        return next(e for e in self.elements if e.element == symbol)

    def check(self, target_id: str) -> Check:
        return next(c for c in self.checks if c.target.id == target_id)

    @property
    def balanced(self) -> bool:
        """No impossible balance (a report with a ``mass-balance`` finding is never a success)."""
        return not any(f.kind == "mass-balance" for f in self.findings)

    @property
    def ok(self) -> bool:
        """Balanced, and every threshold in force is met and could be verified."""
        return not self.findings


# --------------------------------------------------------------------------------------------
# Targets.


def load_targets(text: str) -> tuple[Target, ...]:
    """Parse thresholds in the layout of the packaged ``data/recovery_targets.toml``."""
    try:
        doc: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput("targets", f"not valid TOML: {exc}") from exc
    schemes = doc.get("schemes", {})
    targets = []
    for n, entry in enumerate(doc.get("target", [])):
        where = f"target[{n}]"
        try:
            scheme = schemes[entry["scheme"]]
            target = Target(
                id=str(entry["id"]),
                scheme=str(entry["scheme"]),
                metric=str(entry["metric"]),
                element=entry.get("element"),
                comparison=str(entry["comparison"]),
                value_pct=float(entry["value_pct"]),
                stage=str(entry["stage"]),
                in_force=entry["in_force"],
                status=str(entry["status"]),
                source=f"{scheme['title']} — {scheme['reference']}",
            )
        except KeyError as exc:
            raise InvalidInput(f"{where}.{exc.args[0]}", "missing") from exc
        if target.metric not in _METRICS:
            raise InvalidInput(f"{where}.metric", f"unknown metric {target.metric!r}")
        if target.comparison not in (">=", "<"):
            raise InvalidInput(f"{where}.comparison", "must be '>=' or '<'")
        if target.stage not in (*STAGES, "any"):
            raise InvalidInput(f"{where}.stage", f"unknown stage {target.stage!r}")
        if not isinstance(target.in_force, date):
            raise InvalidInput(f"{where}.in_force", "must be a TOML date")
        if target.metric in ("recovery", "impurity") and target.element not in ELEMENTS:
            raise InvalidInput(f"{where}.element", f"must be one of {', '.join(ELEMENTS)}")
        targets.append(target)
    return tuple(targets)


@cache
def default_targets() -> tuple[Target, ...]:
    """CN 2024 whitelist conditions and EU 2023/1542 Annex XII targets (packaged data)."""
    path = resources.files(__package__).joinpath("data/recovery_targets.toml")
    return load_targets(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------
# The balance.


def mass_balance(
    recycler_id: str,
    period_start: date,
    period_end: date,
    inputs: Sequence[InputLot],
    outputs: Sequence[OutputLot],
    *,
    stages: Collection[str] = STAGES,
    tolerance: float = DEFAULT_TOLERANCE,
    absolute_tolerance_kg: float = 0.0,
    targets: Sequence[Target] | None = None,
) -> MassBalanceReport:
    """Balance ``inputs`` against ``outputs`` and check ``targets`` (default: packaged data).

    ``stages`` are the process steps the recycler runs; thresholds about another step are
    ``not-applicable`` (a pure black-mass producer is not held to smelting recovery rates).
    """
    if not recycler_id:
        raise InvalidInput("recycler_id", "must not be empty")
    if period_start > period_end:
        raise InvalidInput("period_start", "must not be after period_end")
    for stage in stages:
        if stage not in STAGES:
            raise InvalidInput("stages", f"unknown stage {stage!r}; known: {', '.join(STAGES)}")
    _fraction("tolerance", tolerance, upper=1.0)
    _amount("absolute_tolerance_kg", absolute_tolerance_kg)
    if not inputs:
        raise InvalidInput("inputs", "at least one input lot is needed")
    _unique_ids("inputs", [lot.lot_id for lot in inputs])
    _unique_ids("outputs", [lot.lot_id for lot in outputs])

    element_in, basis, battery_kg, powder_in = _inputs(inputs)
    out, recovered, recycled_kg, powder_out, black_mass = _outputs(outputs)

    def over(produced: float, received: float) -> bool:
        return produced > received * (1.0 + tolerance) + absolute_tolerance_kg

    findings: list[Finding] = []
    balances = []
    for e in ELEMENTS:
        received = element_in[e]
        balanced = None if received is None else not over(out[e], received)
        if balanced is False:
            assert received is not None
            findings.append(
                Finding(
                    "mass-balance",
                    e,
                    f"{out[e]:.6g} kg {e} out but {received:.6g} kg in "
                    f"(tolerance {tolerance:.1%} + {absolute_tolerance_kg:g} kg)",
                )
            )
        balances.append(
            ElementBalance(
                element=e,
                input_kg=received,
                input_basis=tuple(sorted(basis[e])),
                output_kg=out[e],
                recovered_kg=recovered[e],
                recovery_pct=_pct(recovered[e], received),
                balanced=balanced,
            )
        )
    powder_ok = powder_in is None or not over(powder_out, powder_in)
    if not powder_ok:
        findings.append(
            Finding(
                "mass-balance",
                "electrode-powder",
                f"{powder_out:.6g} kg black mass out but {powder_in:.6g} kg electrode powder in",
            )
        )
    mass_ok = battery_kg is None or not over(recycled_kg, battery_kg)
    if not mass_ok:
        findings.append(
            Finding(
                "mass-balance",
                "battery-mass",
                f"{recycled_kg:.6g} kg recycled but {battery_kg:.6g} kg of batteries in",
            )
        )

    report_elements = tuple(balances)
    checks = []
    context = _Context(
        {b.element: b for b in report_elements},
        powder_in,
        powder_out,
        powder_ok,
        black_mass,
        battery_kg,
        recycled_kg,
        mass_ok,
    )
    for target in default_targets() if targets is None else targets:
        in_force = period_end >= target.in_force
        if target.stage != "any" and target.stage not in stages:
            check = Check(target, None, in_force, "not-applicable", f"no {target.stage} stage")
        else:
            check = _evaluate(target, in_force, context)
        checks.append(check)
        if not in_force:
            continue
        if check.status == "not-met":
            findings.append(
                Finding(
                    "threshold",
                    target.id,
                    f"{check.value_pct:.4g} % is not {target.comparison} {target.value_pct:g} % "
                    f"({target.scheme}, {target.metric}"
                    + (f" {target.element}" if target.element else "")
                    + ")",
                )
            )
        elif check.status == "unverifiable":
            findings.append(Finding("incomplete", target.id, check.note))

    return MassBalanceReport(
        recycler_id=recycler_id,
        period_start=period_start,
        period_end=period_end,
        tolerance=tolerance,
        elements=report_elements,
        input_battery_kg=battery_kg,
        electrode_powder_in_kg=powder_in,
        electrode_powder_out_kg=powder_out,
        electrode_powder_recovery_pct=_pct(powder_out, powder_in),
        recycled_kg=recycled_kg,
        recycling_efficiency_pct=_pct(recycled_kg, battery_kg),
        checks=tuple(checks),
        findings=tuple(findings),
    )


@dataclass(frozen=True, slots=True)
class _Context:
    elements: Mapping[str, ElementBalance]
    powder_in: float | None
    powder_out: float
    powder_ok: bool
    black_mass: Sequence[OutputLot]
    battery_kg: float | None
    recycled_kg: float
    mass_ok: bool


def _evaluate(target: Target, in_force: bool, ctx: _Context) -> Check:
    def result(value: float | None, note: str = "") -> Check:
        if value is None:
            return Check(target, None, in_force, "unverifiable", note)
        return Check(target, value, in_force, "met" if target.passes(value) else "not-met", note)

    if target.metric == "recovery":
        assert target.element is not None
        balance = ctx.elements[target.element]
        if balance.input_kg is None:
            return result(None, f"{target.element} content of the input unknown")
        if balance.balanced is False:
            return result(None, f"{target.element} balance impossible")
        if balance.input_kg == 0:
            return Check(target, None, in_force, "not-applicable", f"no {target.element} in input")
        return result(balance.recovery_pct)
    if target.metric == "powder-recovery":
        if ctx.powder_in is None or ctx.powder_in == 0:
            return result(None, "electrode powder content of the input not given")
        if not ctx.powder_ok:
            return result(None, "electrode powder balance impossible")
        return result(ctx.powder_out * 100.0 / ctx.powder_in)
    if target.metric == "impurity":
        assert target.element is not None
        if not ctx.black_mass:
            return result(None, "no black mass lot")
        levels = [_composition(lot).get(target.element) for lot in ctx.black_mass]
        known = [level for level in levels if level is not None]
        if len(known) < len(levels):
            return result(None, f"{target.element} level missing in a black mass assay")
        # Each lot must meet it: the worst lot decides.
        return result(max(known) * 100.0, "worst black mass lot")
    # recycling-efficiency
    if ctx.battery_kg is None:
        return result(None, "input battery mass unknown")
    if not ctx.mass_ok:
        return result(None, "recycled mass exceeds input battery mass")
    return result(_pct(ctx.recycled_kg, ctx.battery_kg))


def _inputs(
    inputs: Sequence[InputLot],
) -> tuple[dict[str, float | None], dict[str, set[str]], float | None, float | None]:
    totals: dict[str, float | None] = dict.fromkeys(ELEMENTS, 0.0)
    basis: dict[str, set[str]] = {e: set() for e in ELEMENTS}
    battery_kg: float | None = 0.0
    powder_kg: float | None = 0.0
    for n, lot in enumerate(inputs):
        where = f"inputs[{n}]"
        if not lot.lot_id:
            raise InvalidInput(f"{where}.lot_id", "must not be empty")
        for name in ("mass_kg", "energy_kwh", "electrode_powder_kg"):
            value = getattr(lot, name)
            if value is not None:
                _amount(f"{where}.{name}", value)
        for e, measured in lot.element_kg.items():
            if e not in ELEMENTS:
                raise InvalidInput(f"{where}.element_kg", f"unknown element {e!r}")
            _amount(f"{where}.element_kg.{e}", measured)
        try:
            data = chemistry_data(lot.chemistry) if lot.chemistry is not None else None
        except InvalidInput as exc:
            raise InvalidInput(f"{where}.chemistry", exc.reason) from exc
        if data is None and not lot.element_kg:
            raise InvalidInput(where, "needs a chemistry or measured element_kg")
        if (
            data is not None
            and lot.mass_kg is None
            and lot.energy_kwh is None
            and not lot.element_kg
        ):
            raise InvalidInput(where, "needs mass_kg, energy_kwh or element_kg")

        per_kg = data.per_kg_pack() if data is not None else {}
        for e in ELEMENTS:
            kg: float | None = None
            how = ""
            if e in lot.element_kg:
                kg, how = lot.element_kg[e], "measured"
            elif data is not None and lot.energy_kwh is not None and data.per_kwh[e] is not None:
                intensity = data.per_kwh[e]
                assert intensity is not None
                kg, how = lot.energy_kwh * intensity.value, "per-kWh intensity"
            elif data is not None and lot.mass_kg is not None and per_kg.get(e) is not None:
                intensity = per_kg[e]
                assert intensity is not None
                kg, how = lot.mass_kg * intensity.value, "per-kg intensity (derived)"
            current = totals[e]
            if kg is None or current is None:
                totals[e] = None
            else:
                totals[e] = current + kg
                basis[e].add(how)

        # Battery mass: as weighed, else energy x pack kg per kWh (derived), else unknown.
        if battery_kg is not None:
            if lot.mass_kg is not None:
                battery_kg += lot.mass_kg
            elif data is not None and data.pack_kg_per_kwh and lot.energy_kwh is not None:
                battery_kg += lot.energy_kwh * data.pack_kg_per_kwh.value
            else:
                battery_kg = None
        if powder_kg is not None:
            powder_kg = (
                None if lot.electrode_powder_kg is None else powder_kg + lot.electrode_powder_kg
            )
    return totals, basis, battery_kg, powder_kg


def _composition(lot: OutputLot) -> dict[str, float]:
    """Black mass: assay and impurities together (validated not to overlap)."""
    return {**lot.assay, **lot.impurities}


def _outputs(
    outputs: Sequence[OutputLot],
) -> tuple[dict[str, float], dict[str, float], float, float, list[OutputLot]]:
    out = dict.fromkeys(ELEMENTS, 0.0)
    recovered = dict.fromkeys(ELEMENTS, 0.0)
    recycled_kg = 0.0
    powder_kg = 0.0
    black_mass: list[OutputLot] = []
    for n, lot in enumerate(outputs):
        where = f"outputs[{n}]"
        if not lot.lot_id:
            raise InvalidInput(f"{where}.lot_id", "must not be empty")
        _amount(f"{where}.mass_kg", lot.mass_kg)
        _fraction(f"{where}.purity", lot.purity, upper=1.0)
        if lot.purity == 0:
            raise InvalidInput(f"{where}.purity", "must be > 0")
        for name, table in (("assay", lot.assay), ("impurities", lot.impurities)):
            for e, fraction in table.items():
                if e not in ELEMENTS:
                    raise InvalidInput(f"{where}.{name}", f"unknown element {e!r}")
                _fraction(f"{where}.{name}.{e}", fraction, upper=1.0)
        overlap = set(lot.assay) & set(lot.impurities)
        if overlap:
            raise InvalidInput(f"{where}.impurities", f"also in the assay: {sorted(overlap)}")
        stated = math.fsum(lot.assay.values()) + math.fsum(lot.impurities.values())
        if lot.compound in OUTPUT_COMPOUNDS:
            stated += lot.purity
        if stated > 1.0 + 1e-9:
            raise InvalidInput(where, f"stated fractions add up to {stated:.4g} > 1")
        if lot.compound == BLACK_MASS:
            if lot.purity != 1.0:
                raise InvalidInput(f"{where}.purity", "does not apply to black mass (use assay)")
            black_mass.append(lot)
            powder_kg += lot.mass_kg
        if lot.compound == OTHER:
            if lot.assay:
                raise InvalidInput(f"{where}.assay", "applies to black mass only")
            product: dict[str, float] = {}
        else:
            try:
                product = lot_element_kg(
                    lot.mass_kg, lot.compound, purity=lot.purity, assay=lot.assay
                )
            except InvalidInput as exc:
                raise InvalidInput(f"{where}.{exc.field}", exc.reason) from exc
        if lot.internal:
            if lot.compound != BLACK_MASS:
                raise InvalidInput(f"{where}.internal", "only black mass can be an internal lot")
            continue
        for e, kg in product.items():
            out[e] += kg
        for e, fraction in lot.impurities.items():
            out[e] += lot.mass_kg * fraction
        if lot.counts_as_recovered:
            for e, kg in product.items():
                recovered[e] += kg
            if lot.compound in OUTPUT_COMPOUNDS:
                # Only the battery-derived metal of a compound; the anion and the water of
                # crystallisation come from reagents.
                recycled_kg += math.fsum(product.values())
            else:
                recycled_kg += lot.mass_kg * lot.purity
    return out, recovered, recycled_kg, powder_kg, black_mass


def _pct(part: float, whole: float | None) -> float | None:
    if whole is None or whole == 0:
        return None
    return part * 100.0 / whole


def _unique_ids(where: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for n, lot_id in enumerate(ids):
        if lot_id in seen:
            raise InvalidInput(f"{where}[{n}].lot_id", f"duplicate lot id {lot_id!r}")
        seen.add(lot_id)


def _amount(name: str, value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise InvalidInput(name, f"must be a finite number >= 0, got {value!r}")


def _fraction(name: str, value: object, *, upper: float) -> None:
    _amount(name, value)
    assert isinstance(value, int | float)
    if value > upper:
        raise InvalidInput(name, f"must be a fraction <= {upper:g}, got {value!r}")
