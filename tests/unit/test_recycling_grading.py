"""Residual-capacity grading: every default boundary at, just above and just below; bad input."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from battrace.domain.errors import InvalidInput
from battrace.domain.recycling.grading import (
    PRETREAT,
    RECYCLE,
    VEHICLE,
    CascadeBand,
    GradingPolicy,
    ResidualCapacityTest,
    default_grading_policy,
    grade,
)

UP, DOWN = math.inf, -math.inf
SAFE = {"leakage": False, "casing_damage": False, "swelling": False, "smoke_or_fire": False}


def above(x: float) -> float:
    return math.nextafter(x, UP)


def below(x: float) -> float:
    return math.nextafter(x, DOWN)


def make(**overrides: Any) -> ResidualCapacityTest:
    """A healthy module: 90 of 100 Ah, resistance 1.2 x initial, OCV 1.0 x nominal, 25 °C."""
    values: dict[str, Any] = {
        "measured_capacity_ah": 90.0,
        "rated_capacity_ah": 100.0,
        "internal_resistance_mohm": 1.2,
        "initial_resistance_mohm": 1.0,
        "open_circuit_voltage_v": 3.3,
        "nominal_voltage_v": 3.3,
        "self_discharge_pct_per_month": 2.0,
        "temperature_c": 25.0,
        "safety_checks": SAFE,
    }
    values.update(overrides)
    return ResidualCapacityTest(**values)


def test_default_policy_values_and_their_status() -> None:
    policy = default_grading_policy()
    assert policy.vehicle_min_soh_pct == 80.0
    assert [(b.grade, b.min_soh_pct) for b in policy.cascade_bands] == [
        ("cascade_a", 70.0),
        ("cascade_b", 60.0),
    ]
    # The 80 % point is informative text of GB/T 34015.3 / 33598.3; the 60 % cut-off and every
    # resistance limit have no normative source and must say so.
    assert policy.status("vehicle.min_soh_pct") == "informative"
    assert policy.status("cascade_b.min_soh_pct") == "assumption"
    assert policy.status("cascade_a.min_soh_pct") == "assumption"
    assert policy.status("vehicle.max_resistance_ratio") == "assumption"
    assert policy.status("checks.require_safety_checklist") == "normative"
    assert all(p.source for p in policy.provenance.values())


def test_soh_is_measured_over_rated() -> None:
    result = grade(make(measured_capacity_ah=36.0, rated_capacity_ah=48.0))
    assert result.soh_pct == 75.0
    assert result.grade == "cascade_a"


# SoH boundaries: (boundary %, grade at and just above, grade just below)
SOH_BOUNDARIES = [
    (80.0, VEHICLE, "cascade_a"),
    (70.0, "cascade_a", "cascade_b"),
    (60.0, "cascade_b", RECYCLE),
]


@pytest.mark.parametrize(("boundary", "at_or_above", "under"), SOH_BOUNDARIES)
def test_soh_boundaries(boundary: float, at_or_above: str, under: str) -> None:
    at = grade(make(measured_capacity_ah=boundary))
    assert at.soh_pct == boundary
    assert at.grade == at_or_above
    over = grade(make(measured_capacity_ah=above(boundary)))
    assert over.soh_pct > boundary
    assert over.grade == at_or_above
    short = grade(make(measured_capacity_ah=below(boundary)))
    assert short.soh_pct < boundary
    assert short.grade == under


def test_recycle_reason_names_the_cut_off_as_an_assumption() -> None:
    result = grade(make(measured_capacity_ah=59.0))
    assert result.grade == RECYCLE
    assert "59.00 % < 60 %" in result.reasons[0]
    assert "assumption" in result.reasons[0]


# Resistance ratio limits at SoH 85 %: (limit, grade at the limit, grade just above it)
RESISTANCE_BOUNDARIES = [
    (2.0, VEHICLE, "cascade_a"),
    (2.5, "cascade_a", "cascade_b"),
    (3.0, "cascade_b", RECYCLE),
]


@pytest.mark.parametrize(("limit", "at_grade", "over_grade"), RESISTANCE_BOUNDARIES)
def test_resistance_growth_boundaries(limit: float, at_grade: str, over_grade: str) -> None:
    # Initial resistance 1.0 makes the ratio equal to the measured value, exactly.
    base = {"measured_capacity_ah": 85.0, "initial_resistance_mohm": 1.0}
    assert grade(make(internal_resistance_mohm=limit, **base)).grade == at_grade
    assert grade(make(internal_resistance_mohm=below(limit), **base)).grade == at_grade
    over = grade(make(internal_resistance_mohm=above(limit), **base))
    assert over.grade == over_grade
    assert any(f"> {limit:g}" in r for r in over.reasons)


def test_resistance_cannot_raise_a_grade() -> None:
    # SoH 65 % is cascade_b; a resistance well within the vehicle limit keeps it there.
    result = grade(make(measured_capacity_ah=65.0, internal_resistance_mohm=1.0))
    assert result.grade == "cascade_b"


def test_unknown_initial_resistance_is_reported_not_assessed() -> None:
    result = grade(make(initial_resistance_mohm=None, internal_resistance_mohm=50.0))
    assert result.grade == VEHICLE
    assert any("resistance growth not assessed" in r for r in result.reasons)


def test_self_discharge_boundary() -> None:
    assert grade(make(self_discharge_pct_per_month=5.0)).grade == VEHICLE
    assert grade(make(self_discharge_pct_per_month=below(5.0))).grade == VEHICLE
    over = grade(make(self_discharge_pct_per_month=above(5.0)))
    assert over.grade == RECYCLE
    assert any("self-discharge" in r for r in over.reasons)


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [
        (0.60, VEHICLE),
        (above(0.60), VEHICLE),
        (below(0.60), RECYCLE),
        (1.25, VEHICLE),
        (below(1.25), VEHICLE),
        (above(1.25), RECYCLE),
    ],
)
def test_open_circuit_voltage_window(ratio: float, expected: str) -> None:
    assert grade(make(open_circuit_voltage_v=ratio, nominal_voltage_v=1.0)).grade == expected


def test_ocv_without_nominal_voltage_is_not_assessed() -> None:
    result = grade(make(open_circuit_voltage_v=0.1, nominal_voltage_v=None))
    assert result.grade == VEHICLE
    assert any("OCV not assessed" in r for r in result.reasons)


@pytest.mark.parametrize("temperature", [20.0, above(20.0), 30.0, below(30.0)])
def test_temperature_window_accepts(temperature: float) -> None:
    assert grade(make(temperature_c=temperature)).grade == VEHICLE


@pytest.mark.parametrize("temperature", [below(20.0), above(30.0), -5.0])
def test_temperature_window_rejects(temperature: float) -> None:
    with pytest.raises(InvalidInput) as err:
        grade(make(temperature_c=temperature))
    assert err.value.field == "temperature_c"


def test_capacity_limit_150_percent_of_rated() -> None:
    assert grade(make(measured_capacity_ah=150.0)).grade == VEHICLE
    assert grade(make(measured_capacity_ah=below(150.0))).soh_pct < 150.0
    with pytest.raises(InvalidInput) as err:
        grade(make(measured_capacity_ah=above(150.0)))
    assert err.value.field == "measured_capacity_ah"
    assert "150%" in err.value.reason


def test_any_failed_safety_item_means_pretreat_whatever_the_capacity() -> None:
    result = grade(
        make(measured_capacity_ah=99.0, safety_checks={**SAFE, "leakage": True, "swelling": True})
    )
    assert result.grade == PRETREAT
    assert result.soh_pct == 99.0
    assert "leakage, swelling" in result.reasons[0]


def test_pretreat_wins_over_recycle() -> None:
    assert grade(make(measured_capacity_ah=10.0, safety_checks={"smoke": True})).grade == PRETREAT


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("measured_capacity_ah", -1.0),
        ("measured_capacity_ah", math.nan),
        ("measured_capacity_ah", math.inf),
        ("rated_capacity_ah", 0.0),
        ("rated_capacity_ah", -100.0),
        ("rated_capacity_ah", math.nan),
        ("internal_resistance_mohm", -0.5),
        ("internal_resistance_mohm", 0.0),
        ("internal_resistance_mohm", math.nan),
        ("initial_resistance_mohm", 0.0),
        ("initial_resistance_mohm", -1.0),
        ("open_circuit_voltage_v", -3.0),
        ("open_circuit_voltage_v", math.nan),
        ("nominal_voltage_v", 0.0),
        ("self_discharge_pct_per_month", -0.1),
        ("self_discharge_pct_per_month", math.nan),
        ("temperature_c", math.nan),
    ],
)
def test_invalid_values_raise_with_the_field(field: str, value: float) -> None:
    with pytest.raises(InvalidInput) as err:
        grade(make(**{field: value}))
    assert err.value.field == field


def test_zero_capacity_is_valid_and_recycled() -> None:
    result = grade(make(measured_capacity_ah=0.0))
    assert (result.soh_pct, result.grade) == (0.0, RECYCLE)


def test_safety_checklist_required_and_boolean() -> None:
    with pytest.raises(InvalidInput) as err:
        grade(make(safety_checks={}))
    assert err.value.field == "safety_checks"
    with pytest.raises(InvalidInput) as err:
        grade(make(safety_checks={"leakage": "no"}))
    assert err.value.field == "safety_checks.leakage"
    lenient = dataclasses.replace(default_grading_policy(), require_safety_checklist=False)
    assert grade(make(safety_checks={}), lenient).grade == VEHICLE


def test_custom_policy_moves_the_boundaries() -> None:
    policy = dataclasses.replace(
        default_grading_policy(),
        vehicle_min_soh_pct=75.0,
        cascade_bands=(CascadeBand("storage", 50.0, None),),
    )
    assert grade(make(measured_capacity_ah=76.0), policy).grade == VEHICLE
    assert grade(make(measured_capacity_ah=55.0), policy).grade == "storage"
    assert grade(make(measured_capacity_ah=49.0), policy).grade == RECYCLE
    # No resistance limit on the band: a high ratio is accepted there.
    weak = make(measured_capacity_ah=55.0, internal_resistance_mohm=9.0)
    assert grade(weak, policy).grade == "storage"


@pytest.mark.parametrize(
    "bands",
    [
        (CascadeBand("a", 70.0), CascadeBand("b", 70.0)),  # not strictly descending
        (CascadeBand("a", 85.0),),  # not below the vehicle threshold
        (CascadeBand("recycle", 70.0),),  # reserved grade name
        (CascadeBand("a", 70.0), CascadeBand("a", 60.0)),  # repeated
        (CascadeBand("a", -1.0),),
    ],
)
def test_policy_rejects_inconsistent_bands(bands: tuple[CascadeBand, ...]) -> None:
    with pytest.raises(InvalidInput):
        dataclasses.replace(default_grading_policy(), cascade_bands=bands)


def test_policy_from_toml_and_errors() -> None:
    text = """
[vehicle]
min_soh_pct = 85.0
[[cascade]]
grade = "storage"
min_soh_pct = 65.0
[checks]
min_ocv_per_nominal = 0.5
max_ocv_per_nominal = 1.3
test_temperature_min_c = 15.0
test_temperature_max_c = 35.0
max_capacity_ratio = 1.2
"""
    policy = GradingPolicy.from_toml(text)
    assert policy.vehicle_max_resistance_ratio is None  # omitted limit = check off
    assert policy.max_self_discharge_pct_per_month is None
    assert policy.status("vehicle.min_soh_pct") == "custom"
    assert (
        grade(make(measured_capacity_ah=84.0, self_discharge_pct_per_month=50.0), policy).grade
        == "storage"
    )
    with pytest.raises(InvalidInput) as err:
        GradingPolicy.from_toml("[vehicle]\nmin_soh_pct = 80.0\n")
    assert err.value.field == "checks"
    with pytest.raises(InvalidInput) as err:
        GradingPolicy.from_toml(text.replace("min_soh_pct = 85.0", 'min_soh_pct = "x"'))
    assert err.value.field == "vehicle.min_soh_pct"
    with pytest.raises(InvalidInput):
        GradingPolicy.from_toml("not toml [")
    with pytest.raises(InvalidInput) as err:
        GradingPolicy.from_toml(text + '[provenance]\n"vehicle.min_soh_pct" = { status = "x" }\n')
    assert err.value.field == "provenance.vehicle.min_soh_pct"
    with pytest.raises(InvalidInput) as err:
        GradingPolicy.from_toml(
            text.replace("[checks]", '[checks]\nrequire_safety_checklist = "no"')
        )
    assert err.value.field == "checks.require_safety_checklist"
