"""The simulated fleet agrees with the forecast model it is drawn from, and streams in bounded
memory."""

from __future__ import annotations

import random
import statistics
from collections import Counter
from datetime import date

import pytest

from battrace.domain.forecast import (
    CohortKind,
    default_parameters,
    pack_energy_factor,
    retirement_curve,
)
from battrace.simulate import SimConfig, Violations, simulate
from battrace.simulate.population import (
    WeibullPopulation,
    chemistries,
    domestic_sales,
    production_times,
)


@pytest.mark.parametrize(
    ("segment", "chem", "year"),
    [("passenger_bev", "LFP", 2018), ("commercial_bev", "NCM523", 2016)],
)
def test_sampled_lives_retire_packs_as_the_forecast_model_expects(
    segment: str, chem: str, year: int
) -> None:
    # A vehicle retires its pack when the pack fails first (then the spare leaves with the
    # vehicle) or with the vehicle: the model's C(a) = G1(a) + F_V(a) (VEHICLES cohorts).
    params = default_parameters()
    population = WeibullPopulation(params)
    rng = random.Random(1)
    n = 40_000
    by_year: Counter[int] = Counter()
    for _ in range(n):
        battery, vehicle = population.lives(rng, segment, chem, year)
        sold = year + 0.5  # mid-year service start, the model's default timing
        for life in (battery, vehicle) if battery < vehicle else (vehicle,):
            by_year[int(sold + life)] += 1
    curve = retirement_curve(params, segment, chem, year, 25, CohortKind.VEHICLES)
    for k, expected in enumerate(curve[:20]):
        observed = by_year[year + k] / n
        sigma = (max(expected, 1e-4) / n) ** 0.5
        assert abs(observed - expected) < 5 * sigma + 1e-3, (year + k, observed, expected)


def test_production_times_are_exact_ordered_and_follow_the_sales() -> None:
    weights = domestic_sales(2015, 2025)
    assert weights[2025] == pytest.approx(16.49e6 - 2.615e6)  # CAAM sales minus exports
    times = list(
        production_times(random.Random(3), 5_000, weights, date(2015, 1, 1), date(2026, 1, 1))
    )
    assert len(times) == 5_000
    assert times == sorted(times)
    per_year = Counter(t.year for t in times)
    total = sum(weights.values())
    for year, w in weights.items():
        assert per_year[year] == pytest.approx(5_000 * w / total, abs=2)
    assert (
        list(production_times(random.Random(3), 0, weights, date(2015, 1, 1), date(2016, 1, 1)))
        == []
    )


def test_pack_energy_is_the_forecasts_calibrated_kwh() -> None:
    params = default_parameters()
    sim = simulate(SimConfig(packs=0))
    population = sim.engine.population
    assert isinstance(population, WeibullPopulation)
    rng = random.Random(5)
    from datetime import datetime

    from battrace.simulate.engine import CST

    ratios = []
    for _ in range(400):
        design = population.design(sim.engine, rng, datetime(2023, 5, 1, 9, tzinfo=CST))
        chem = sim.engine.chemistries[design.chem]
        kwh = (
            design.n_modules * design.cells_per_module * chem.cell_voltage_v * design.cell_ah / 1000
        )
        target = params.pack_kwh[(design.segment, design.chem)] * pack_energy_factor(2023, params)
        ratios.append(kwh / target)
    assert sum(ratios) / len(ratios) == pytest.approx(1.0, abs=0.05)
    assert max(ratios) < 1.6 and min(ratios) > 0.6  # whole modules of whole cells


def test_chemistries_take_pack_mass_from_the_forecast_parameters() -> None:
    params = default_parameters()
    chems = chemistries(params)
    assert set(chems) == set(params.pack_kg_per_kwh)
    for name, chem in chems.items():
        assert chem.pack_kg_per_kwh == params.pack_kg_per_kwh[name]
        assert chem.letter == ("B" if name == "LFP" else "E")


def test_deferred_work_waits_on_disk_so_memory_stays_flat() -> None:
    # A flat market for 11 years: vehicles on the road (and their planned repairs, replacements
    # and scrapping) pile up year after year. Held in memory they grow with the fleet; waiting on
    # disk, what the run holds stays what a few weeks of activity need.
    flat = {y: 1.0 for y in range(2015, 2026)}
    held: dict[bool, dict[int, int]] = {}
    for spill in (True, False):
        sim = simulate(
            SimConfig(seed=1, packs=3_000, sales=flat, spill=spill, violations=Violations.none())
        )
        samples: dict[int, int] = {}
        for reported, _, _ in sim.stream():
            if reported.month == 7 and reported.year not in samples:
                samples[reported.year] = len(sim.engine.heap)
        held[spill] = samples
        if spill:
            assert sim.calendar is not None and sim.calendar.spilled > 1_000
    on_disk, in_memory = held[True], held[False]
    typical = statistics.median(on_disk.values())
    # A few weeks of activity, whatever the year: small numbers, so a loose bound on the spread.
    assert max(on_disk.values()) < 4 * typical
    assert max(in_memory.values()) > 10 * typical  # the test can tell the difference
    assert in_memory[2020] > 4 * in_memory[2015]
