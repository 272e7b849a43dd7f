"""Grading a retired battery (module or pack) from its residual-capacity test.

The test itself is GB/T 34015-2017's residual-capacity (余能) test; the standard gives the method
but no pass/fail thresholds, and no normative SoH value separates cascade use from recycling
(china-regulation.md §4, forecast-data.md §4). So every boundary lives in a :class:`GradingPolicy`,
the packaged default (``data/grading.toml``) records for each value whether it is normative,
informative or a battrace assumption, and the reasons of a :class:`GradeResult` say which applied.

Decision order, first match wins:

1. any GB/T 38698.1 Annex A safety item answered "yes" -> ``pretreat`` (never graded for reuse);
2. SoH = measured / rated capacity picks the highest tier whose ``min_soh_pct`` it reaches:
   ``vehicle``, then the cascade bands (``cascade_a``, ``cascade_b``, ...), else ``recycle``;
3. resistance growth (measured / initial resistance, when the initial value is known) moves the
   grade down to the first tier whose ``max_resistance_ratio`` it meets, or to ``recycle``;
4. self-discharge above the limit, or an open-circuit voltage outside the window relative to the
   nominal voltage, -> ``recycle`` (a micro-short or over-discharged cell is not reused).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from battrace.domain.errors import InvalidInput

__all__ = [
    "PRETREAT",
    "RECYCLE",
    "SAFETY_ITEMS",
    "VEHICLE",
    "CascadeBand",
    "GradeResult",
    "GradingPolicy",
    "Provenance",
    "ResidualCapacityTest",
    "default_grading_policy",
    "grade",
    "safety_checklist",
]

VEHICLE = "vehicle"
RECYCLE = "recycle"
PRETREAT = "pretreat"
_RESERVED = frozenset({VEHICLE, RECYCLE, PRETREAT})


#: The GB/T 38698.1-2020 Annex A appearance items battrace's own forms and simulator ask (battrace's
#: names; the standard's full checklist may hold more — any item name is accepted in a test).
SAFETY_ITEMS: tuple[str, ...] = ("leakage", "swelling", "smoke_or_fire", "shell_damage")


def safety_checklist(failed: str | None) -> dict[str, bool]:
    """The checklist from a comma-separated list of failed items (empty: all passed)."""
    names = [n.strip() for n in (failed or "").replace("，", ",").split(",") if n.strip()]
    unknown = [n for n in names if n not in SAFETY_ITEMS]
    if unknown:
        raise InvalidInput(
            "safety_failed", f"unknown item {unknown[0]!r}; items: {', '.join(SAFETY_ITEMS)}"
        )
    return {item: item in names for item in SAFETY_ITEMS}


@dataclass(frozen=True, slots=True)
class ResidualCapacityTest:
    """One residual-capacity test result.

    ``safety_checks`` maps each GB/T 38698.1-2020 Annex A item to its answer; ``True`` ("yes",
    e.g. leakage, swelling, smoke) means the battery failed that item. Optional measurements that
    were not taken are ``None`` and the corresponding check is reported as not assessed.
    """

    measured_capacity_ah: float
    rated_capacity_ah: float
    internal_resistance_mohm: float
    temperature_c: float
    safety_checks: Mapping[str, bool]
    initial_resistance_mohm: float | None = None
    open_circuit_voltage_v: float | None = None
    nominal_voltage_v: float | None = None
    self_discharge_pct_per_month: float | None = None


@dataclass(frozen=True, slots=True)
class GradeResult:
    soh_pct: float
    grade: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Provenance:
    status: str  # normative | informative | assumption
    source: str


@dataclass(frozen=True, slots=True)
class CascadeBand:
    grade: str
    min_soh_pct: float
    max_resistance_ratio: float | None = None


@dataclass(frozen=True, slots=True)
class GradingPolicy:
    """Grade boundaries. Build variants with :func:`dataclasses.replace` on
    :func:`default_grading_policy`; ``None`` for an optional limit switches that check off."""

    vehicle_min_soh_pct: float
    vehicle_max_resistance_ratio: float | None
    cascade_bands: tuple[CascadeBand, ...]
    max_self_discharge_pct_per_month: float | None
    min_ocv_per_nominal: float
    max_ocv_per_nominal: float
    test_temperature_min_c: float
    test_temperature_max_c: float
    max_capacity_ratio: float
    require_safety_checklist: bool
    provenance: Mapping[str, Provenance] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _positive("vehicle_min_soh_pct", self.vehicle_min_soh_pct)
        _optional_positive("vehicle_max_resistance_ratio", self.vehicle_max_resistance_ratio)
        previous = self.vehicle_min_soh_pct
        seen: set[str] = set()
        for n, band in enumerate(self.cascade_bands):
            where = f"cascade_bands[{n}]"
            if not band.grade or band.grade in _RESERVED or band.grade in seen:
                raise InvalidInput(
                    f"{where}.grade", f"{band.grade!r} is empty, reserved or repeated"
                )
            seen.add(band.grade)
            _positive(f"{where}.min_soh_pct", band.min_soh_pct)
            # Strictly descending, so every SoH maps to exactly one tier.
            if band.min_soh_pct >= previous:
                raise InvalidInput(f"{where}.min_soh_pct", f"must be below {previous}")
            previous = band.min_soh_pct
            _optional_positive(f"{where}.max_resistance_ratio", band.max_resistance_ratio)
        _optional_positive(
            "max_self_discharge_pct_per_month", self.max_self_discharge_pct_per_month
        )
        _positive("min_ocv_per_nominal", self.min_ocv_per_nominal)
        _positive("max_ocv_per_nominal", self.max_ocv_per_nominal)
        if self.min_ocv_per_nominal > self.max_ocv_per_nominal:
            raise InvalidInput("min_ocv_per_nominal", "must not exceed max_ocv_per_nominal")
        _finite("test_temperature_min_c", self.test_temperature_min_c)
        _finite("test_temperature_max_c", self.test_temperature_max_c)
        if self.test_temperature_min_c > self.test_temperature_max_c:
            raise InvalidInput("test_temperature_min_c", "must not exceed test_temperature_max_c")
        _positive("max_capacity_ratio", self.max_capacity_ratio)

    @classmethod
    def from_toml(cls, text: str) -> GradingPolicy:
        """Parse a policy in the layout of the packaged ``data/grading.toml``."""
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput("grading policy", f"not valid TOML: {exc}") from exc
        vehicle = _table(doc, "vehicle")
        checks = _table(doc, "checks")
        bands = doc.get("cascade", [])
        if not isinstance(bands, list) or not all(isinstance(b, dict) for b in bands):
            raise InvalidInput("cascade", "must be an array of tables")
        provenance: dict[str, Provenance] = {}
        for key, value in _table(doc, "provenance", required=False).items():
            if not isinstance(value, dict) or not {"status", "source"} <= value.keys():
                raise InvalidInput(f"provenance.{key}", "needs a status and a source")
            provenance[str(key)] = Provenance(str(value["status"]), str(value["source"]))
        require = checks.get("require_safety_checklist", True)
        if not isinstance(require, bool):
            raise InvalidInput("checks.require_safety_checklist", "must be true or false")
        return cls(
            vehicle_min_soh_pct=_number(vehicle, "vehicle", "min_soh_pct"),
            vehicle_max_resistance_ratio=_number(vehicle, "vehicle", "max_resistance_ratio", None),
            cascade_bands=tuple(
                CascadeBand(
                    grade=str(band.get("grade", "")),
                    min_soh_pct=_number(band, f"cascade[{n}]", "min_soh_pct"),
                    max_resistance_ratio=_number(
                        band, f"cascade[{n}]", "max_resistance_ratio", None
                    ),
                )
                for n, band in enumerate(bands)
            ),
            max_self_discharge_pct_per_month=_number(
                checks, "checks", "max_self_discharge_pct_per_month", None
            ),
            min_ocv_per_nominal=_number(checks, "checks", "min_ocv_per_nominal"),
            max_ocv_per_nominal=_number(checks, "checks", "max_ocv_per_nominal"),
            test_temperature_min_c=_number(checks, "checks", "test_temperature_min_c"),
            test_temperature_max_c=_number(checks, "checks", "test_temperature_max_c"),
            max_capacity_ratio=_number(checks, "checks", "max_capacity_ratio"),
            require_safety_checklist=require,
            provenance=provenance,
        )

    def status(self, key: str) -> str:
        """Status of one threshold (``"vehicle.min_soh_pct"``), ``"custom"`` if not recorded."""
        entry = self.provenance.get(key)
        return entry.status if entry else "custom"


@cache
def default_grading_policy() -> GradingPolicy:
    """The packaged default policy (``battrace/domain/recycling/data/grading.toml``)."""
    text = resources.files(__package__).joinpath("data/grading.toml").read_text(encoding="utf-8")
    return GradingPolicy.from_toml(text)


def grade(test: ResidualCapacityTest, policy: GradingPolicy | None = None) -> GradeResult:
    """Grade one test result; raises :class:`InvalidInput` for values that cannot be graded."""
    if policy is None:
        policy = default_grading_policy()
    _validate(test, policy)
    # measured * 100 / rated rather than (measured / rated) * 100: exact whenever the percentage
    # is representable (80 Ah of 100 Ah gives exactly 80.0), so boundaries behave as written.
    soh = test.measured_capacity_ah * 100.0 / test.rated_capacity_ah

    failed = sorted(item for item, answer in test.safety_checks.items() if answer)
    if failed:
        return GradeResult(
            soh,
            PRETREAT,
            (
                "GB/T 38698.1 Annex A safety check failed ("
                + ", ".join(failed)
                + "): pre-treat before transport; not graded for reuse",
            ),
        )

    # Tiers from best to worst: (grade, key prefix in the provenance, min SoH, max R ratio).
    tiers = [(VEHICLE, "vehicle", policy.vehicle_min_soh_pct, policy.vehicle_max_resistance_ratio)]
    tiers += [
        (b.grade, b.grade, b.min_soh_pct, b.max_resistance_ratio) for b in policy.cascade_bands
    ]
    reasons: list[str] = []
    tier = next((n for n, t in enumerate(tiers) if soh >= t[2]), None)
    if tier is None:
        lowest = tiers[-1]
        reasons.append(
            f"SoH {soh:.2f} % < {lowest[2]:g} % ({lowest[0]} minimum, "
            f"{policy.status(lowest[1] + '.min_soh_pct')})"
        )
        return GradeResult(soh, RECYCLE, tuple(reasons))
    name, key, min_soh, _ = tiers[tier]
    reasons.append(
        f"SoH {soh:.2f} % >= {min_soh:g} % ({name} minimum, {policy.status(key + '.min_soh_pct')})"
    )

    result: str | None = None
    if test.initial_resistance_mohm is None:
        reasons.append("initial resistance unknown: resistance growth not assessed")
    else:
        ratio = test.internal_resistance_mohm / test.initial_resistance_mohm
        while tier < len(tiers):
            name, key, _, max_ratio = tiers[tier]
            if max_ratio is None or ratio <= max_ratio:
                break
            reasons.append(
                f"resistance {ratio:.3g} x initial > {max_ratio:g} ({name} maximum, "
                f"{policy.status(key + '.max_resistance_ratio')})"
            )
            tier += 1
        if tier == len(tiers):
            result = RECYCLE

    limit = policy.max_self_discharge_pct_per_month
    if test.self_discharge_pct_per_month is None:
        reasons.append("self-discharge not measured: not assessed")
    elif limit is not None and test.self_discharge_pct_per_month > limit:
        reasons.append(
            f"self-discharge {test.self_discharge_pct_per_month:g} %/month > {limit:g} "
            f"({policy.status('checks.max_self_discharge_pct_per_month')})"
        )
        result = RECYCLE

    if test.open_circuit_voltage_v is None or test.nominal_voltage_v is None:
        reasons.append("open-circuit or nominal voltage missing: OCV not assessed")
    else:
        ocv = test.open_circuit_voltage_v / test.nominal_voltage_v
        if not policy.min_ocv_per_nominal <= ocv <= policy.max_ocv_per_nominal:
            reasons.append(
                f"open-circuit voltage {ocv:.3g} x nominal outside "
                f"{policy.min_ocv_per_nominal:g}-{policy.max_ocv_per_nominal:g} "
                f"({policy.status('checks.min_ocv_per_nominal')})"
            )
            result = RECYCLE

    return GradeResult(soh, result or tiers[tier][0], tuple(reasons))


def _validate(test: ResidualCapacityTest, policy: GradingPolicy) -> None:
    _positive("rated_capacity_ah", test.rated_capacity_ah)
    _non_negative("measured_capacity_ah", test.measured_capacity_ah)
    if test.measured_capacity_ah > policy.max_capacity_ratio * test.rated_capacity_ah:
        raise InvalidInput(
            "measured_capacity_ah",
            f"{test.measured_capacity_ah:g} Ah exceeds {policy.max_capacity_ratio:.0%} of the "
            f"rated {test.rated_capacity_ah:g} Ah: not a plausible measurement",
        )
    _positive("internal_resistance_mohm", test.internal_resistance_mohm)
    _optional_positive("initial_resistance_mohm", test.initial_resistance_mohm)
    if test.open_circuit_voltage_v is not None:
        _non_negative("open_circuit_voltage_v", test.open_circuit_voltage_v)
    _optional_positive("nominal_voltage_v", test.nominal_voltage_v)
    if test.self_discharge_pct_per_month is not None:
        _non_negative("self_discharge_pct_per_month", test.self_discharge_pct_per_month)
    _finite("temperature_c", test.temperature_c)
    if not policy.test_temperature_min_c <= test.temperature_c <= policy.test_temperature_max_c:
        raise InvalidInput(
            "temperature_c",
            f"{test.temperature_c:g} °C is outside the test window "
            f"{policy.test_temperature_min_c:g}-{policy.test_temperature_max_c:g} °C: the "
            "capacity is not comparable with the rated value; retest",
        )
    if not isinstance(test.safety_checks, Mapping):
        raise InvalidInput("safety_checks", "must be a mapping of item to bool")
    if policy.require_safety_checklist and not test.safety_checks:
        raise InvalidInput(
            "safety_checks", "empty: the GB/T 38698.1 Annex A safety check comes before grading"
        )
    for item, answer in test.safety_checks.items():
        if not isinstance(item, str) or not item:
            raise InvalidInput("safety_checks", f"item names must be non-empty strings: {item!r}")
        if not isinstance(answer, bool):
            raise InvalidInput(f"safety_checks.{item}", f"must be true or false, got {answer!r}")


def _finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(name, f"must be a finite number, got {value!r}")
    return float(value)


def _non_negative(name: str, value: object) -> None:
    if _finite(name, value) < 0:
        raise InvalidInput(name, f"must be >= 0, got {value!r}")


def _positive(name: str, value: object) -> None:
    if _finite(name, value) <= 0:
        raise InvalidInput(name, f"must be > 0, got {value!r}")


def _optional_positive(name: str, value: object) -> None:
    if value is not None:
        _positive(name, value)


def _table(doc: Mapping[str, Any], key: str, *, required: bool = True) -> Mapping[str, Any]:
    value = doc.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(key, "missing table")
    return value


_MISSING = object()


def _number(table: Mapping[str, Any], where: str, key: str, default: Any = _MISSING) -> Any:
    if key not in table:
        if default is _MISSING:
            raise InvalidInput(f"{where}.{key}", "missing")
        return default
    return _finite(f"{where}.{key}", table[key])
