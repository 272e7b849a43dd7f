"""The cohort model: Weibull timing conventions, battery–vehicle coupling with one replacement,
materials, the seeded uncertainty band, and the capacity match."""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable

import pytest

from battrace.domain.errors import InvalidInput
from battrace.domain.forecast import (
    CHEMISTRIES,
    CONFIDENCES,
    ELEMENTS,
    METRICS,
    SEGMENTS,
    UNCERTAIN_PARAMETERS,
    Cohort,
    CohortKind,
    Parameters,
    SaleTiming,
    capacity_match,
    default_parameters,
    default_ranges,
    forecast,
    normalise_chemistry,
    normalise_segment,
    retirement_curve,
    uncertainty,
    weibull_cdf,
)
from battrace.domain.forecast.model import _failures_before_scrapping

P = default_parameters()
BATTERY_ONLY = P.replace(vehicle_coupling=False)


def cohort(**kw: object) -> Cohort:
    base: dict[str, object] = {
        "year": 2015,
        "province": "44",
        "segment": "passenger_bev",
        "chemistry": "LFP",
        "units": 1000.0,
        "kwh_per_pack": 50.0,
    }
    base.update(kw)
    return Cohort(**base)  # type: ignore[arg-type]


def test_weibull_cdf() -> None:
    assert weibull_cdf(0.0, 3.5, 9.5) == 0.0
    assert weibull_cdf(-1.0, 3.5, 9.5) == 0.0
    assert weibull_cdf(9.5, 3.5, 9.5) == pytest.approx(1 - math.exp(-1))
    ages = [0.5 * i for i in range(60)]
    values = [weibull_cdf(a, 3.5, 9.5) for a in ages]
    assert values == sorted(values)
    assert values[-1] == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(
    ("timing", "lower", "upper"),
    [
        # Brief's formula N·(F(t−y+1) − F(t−y)): service from 1 January.
        (SaleTiming.START, lambda i: i, lambda i: i + 1),
        # Mid-year: aged ½ at the end of the sale year.
        (SaleTiming.MID, lambda i: max(0.0, i - 0.5), lambda i: i + 0.5),
        # Reference code: P(a) = F(a) − F(a−1), a = t − y; nothing in the sale year.
        (SaleTiming.END, lambda i: max(0.0, i - 1.0), lambda i: float(i)),
    ],
)
def test_timing_conventions_battery_only(
    timing: SaleTiming, lower: Callable[[int], float], upper: Callable[[int], float]
) -> None:
    params = BATTERY_ONLY.replace(sale_timing=timing)
    c = cohort(year=2016)
    result = forecast([c], params, start=2016, end=2040)
    lam = P.battery_scale[("passenger_bev", "LFP")]
    for i, totals in enumerate(result.totals()):
        expected = 1000 * (weibull_cdf(upper(i), 3.5, lam) - weibull_cdf(lower(i), 3.5, lam))
        assert totals.packs == pytest.approx(expected, abs=1e-9)
        assert totals.gwh == pytest.approx(expected * 50 / 1e6, abs=1e-12)
    if timing is SaleTiming.END:
        assert result.totals()[0].packs == 0.0


def test_later_timing_retires_later() -> None:
    cs = [cohort(year=y, units=1000.0 * 1.4 ** (y - 2014)) for y in range(2014, 2026)]
    gwh = {
        t: forecast(cs, P.replace(sale_timing=t), start=2025, end=2025).total(2025).gwh
        for t in SaleTiming
    }
    assert gwh[SaleTiming.START] > gwh[SaleTiming.MID] > gwh[SaleTiming.END]


def test_coupled_numeric_integral_matches_closed_form() -> None:
    ages = [0.0, 0.5, *[i + 0.5 for i in range(1, 40)]]
    closed = _failures_before_scrapping(3.5, 9.5, 3.5, 10.0, ages)
    numeric = _failures_before_scrapping(3.5 + 1e-9, 9.5, 3.5, 10.0, ages)
    assert numeric == pytest.approx(closed, abs=2e-6)


def test_one_replacement_matches_simulation() -> None:
    """Simulate vehicles and packs: first pack fails before scrapping → replaced; the vehicle
    retires one pack when scrapped; the replacement never fails on its own."""
    params = P.replace(battery_shape=2.8, sale_timing=SaleTiming.START)  # numeric path
    lb = params.battery_scale_for("passenger_bev", "NCM811", 2016)
    lv = params.vehicle_scale_for("passenger_bev", 2016)
    rng = random.Random(7)
    n, years = 100_000, 25
    counts = [0] * years
    for _ in range(n):
        b = rng.weibullvariate(lb, params.battery_shape)
        v = rng.weibullvariate(lv, params.vehicle_shape)
        if b < v and b < years:
            counts[int(b)] += 1
        if v < years:
            counts[int(v)] += 1
    curve = retirement_curve(params, "passenger_bev", "NCM811", 2016, years, CohortKind.VEHICLES)
    for simulated, expected in zip(counts, curve, strict=True):
        assert simulated / n == pytest.approx(expected, abs=0.004)


def test_lifetime_totals_per_unit() -> None:
    lb = P.battery_scale_for("passenger_bev", "LFP", 2015)
    lv = P.vehicle_scale_for("passenger_bev", 2015)
    share = lb**-3.5 / (lb**-3.5 + lv**-3.5)  # P(B < V) for equal shapes
    vehicles = retirement_curve(P, "passenger_bev", "LFP", 2015, 80, CohortKind.VEHICLES)
    assert sum(vehicles) == pytest.approx(1.0 + share, abs=1e-9)
    packs = retirement_curve(P, "passenger_bev", "LFP", 2015, 80, CohortKind.PACKS)
    assert sum(packs) == pytest.approx(1.0, abs=1e-9)
    no_replacement = P.replace(replacement=False)
    assert sum(
        retirement_curve(no_replacement, "passenger_bev", "LFP", 2015, 80, CohortKind.VEHICLES)
    ) == pytest.approx(1.0, abs=1e-9)


def test_commercial_retires_sooner_than_passenger() -> None:
    bus = retirement_curve(P, "commercial_bev", "LFP", 2016, 8, CohortKind.VEHICLES)
    car = retirement_curve(P, "passenger_bev", "LFP", 2016, 8, CohortKind.VEHICLES)
    assert sum(bus) > sum(car)


def test_life_extension_applies_from_its_year() -> None:
    le = P.replace(life_extension=(2025, 1.07))
    assert le.battery_scale_for("passenger_bev", "LFP", 2024) == pytest.approx(9.5)
    assert le.battery_scale_for("passenger_bev", "LFP", 2025) == pytest.approx(9.5 * 1.07)


def test_vehicle_scale_from_mean_life() -> None:
    # μ = 8 yr for passenger cars sold 2015–17; λ = μ / Γ(1 + 1/k).
    assert P.vehicle_scale_for("passenger_bev", 2016) == pytest.approx(8 / math.gamma(1 + 1 / 3.5))
    assert P.vehicle_scale_for("commercial_bev", 2031) == pytest.approx(
        12 / math.gamma(1 + 1 / 3.5)
    )
    assert P.vehicle_scale_for("passenger_phev", 2010) == P.vehicle_scale_for("passenger_bev", 2015)


def test_forecast_is_linear_and_breakdowns_add_up() -> None:
    cs = [
        cohort(),
        cohort(province="32", chemistry="NCM811", kwh_per_pack=78.0),
        cohort(segment="commercial_bev", chemistry="NCM523", kwh_per_pack=180.0, units=50.0),
        cohort(year=2018, province="", kind=CohortKind.PACKS, kg_per_pack=400.0),
    ]
    one = forecast(cs, P, start=2016, end=2035)
    two = forecast([dataclasses.replace(c, units=2 * c.units) for c in cs], P, start=2016, end=2035)
    for a, b in zip(one.totals(), two.totals(), strict=True):
        assert b.packs == pytest.approx(2 * a.packs)
        assert b.tonnes == pytest.approx(2 * a.tonnes)
    year = 2025
    total = one.total(year)
    for parts in (one.by_province(year), one.by_chemistry(year), one.by_segment(year)):
        assert math.fsum(t.packs for t in parts.values()) == pytest.approx(total.packs)
        assert math.fsum(t.gwh for t in parts.values()) == pytest.approx(total.gwh)
        for e in ELEMENTS:
            assert math.fsum(t.recoverable_t[e] for t in parts.values()) == pytest.approx(
                total.recoverable_t[e]
            )
    assert one.select(province="44").total(year).packs < total.packs


def test_materials_and_mass() -> None:
    lfp = forecast([cohort()], P, start=2015, end=2060)
    kwh = sum(t.gwh for t in lfp.totals()) * 1e6
    metals = {e: sum(t.recoverable_t[e] for t in lfp.totals()) for e in ELEMENTS}
    assert metals["Li"] == pytest.approx(kwh * 0.089 * 0.90 / 1000)
    assert metals["Ni"] == metals["Co"] == metals["Mn"] == 0.0
    tonnes = sum(t.tonnes for t in lfp.totals())
    assert tonnes == pytest.approx(kwh * 6.66 / 1000)
    residual = sum(t.gwh_residual for t in lfp.totals())
    assert residual == pytest.approx(0.75 * kwh / 1e6)
    ncm = forecast([cohort(chemistry="NCM811", kg_per_pack=500.0)], P, start=2015, end=2060)
    packs = sum(t.packs for t in ncm.totals())
    assert sum(t.tonnes for t in ncm.totals()) == pytest.approx(packs * 0.5)
    half = P.replace(collection=0.5)
    ncm_half = forecast([cohort(chemistry="NCM811")], half, start=2015, end=2060)
    ncm_full = forecast([cohort(chemistry="NCM811")], P, start=2015, end=2060)
    assert ncm_half.total(2025).recoverable_t["Co"] == pytest.approx(
        ncm_full.total(2025).recoverable_t["Co"] / 2
    )


def test_province_codes_are_normalised() -> None:
    six = forecast([cohort(province="440000")], P, start=2020, end=2021)
    two = forecast([cohort(province="44")], P, start=2020, end=2021)
    assert cohort(province="440000").province == "44"
    assert six.by_province(2020).keys() == {"44"}
    assert six.total(2020) == two.total(2020)
    with pytest.raises(InvalidInput):
        six.total(2022)


def test_cohorts_after_end_are_ignored_and_before_start_count() -> None:
    result = forecast([cohort(year=2030), cohort(year=2010)], P, start=2020, end=2025)
    assert [t.year for t in result.totals()] == list(range(2020, 2026))
    assert all(t.packs > 0 for t in result.totals())
    only_late = forecast([cohort(year=2030)], P, start=2020, end=2025)
    assert all(t.packs == 0 for t in only_late.totals())


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"year": 1800}, "year"),
        ({"province": "99"}, "province"),
        ({"segment": "bus"}, "segment"),
        ({"chemistry": "NMC811"}, "chemistry"),
        ({"units": -1.0}, "units"),
        ({"kwh_per_pack": math.nan}, "kwh_per_pack"),
        ({"kg_per_pack": math.inf}, "kg_per_pack"),
    ],
)
def test_cohort_rejects(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        cohort(**changes)
    assert err.value.field == field


def test_aliases() -> None:
    assert normalise_chemistry("nmc532") == "NCM523"
    assert normalise_chemistry(" ncm-811 ") == "NCM811"
    assert normalise_chemistry("LiFePO4") == "LFP"
    assert normalise_segment("Bus") == "commercial_bev"
    assert normalise_segment("truck") == "commercial_bev"
    assert normalise_segment("phev") == "passenger_phev"
    for bad in ("NCM", "ternary", "LMO", ""):
        with pytest.raises(InvalidInput, match="split"):
            normalise_chemistry(bad)
    with pytest.raises(InvalidInput):
        normalise_segment("tractor")


@pytest.mark.parametrize(
    "changes",
    [
        {"battery_shape": 0.5},
        {"battery_scale_factor": 0.0},
        {"residual_fraction": 1.5},
        {"collection": -0.1},
        {"recovery": {"Li": 2.0, "Ni": 1.0, "Co": 1.0, "Mn": 1.0}},
    ],
)
def test_parameters_validate(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        P.replace(**changes)


def test_every_parameter_has_provenance() -> None:
    prov = P.provenance
    expected = {f"battery.scale.{s}.{c}" for s in SEGMENTS for c in CHEMISTRIES}
    expected |= {f"pack_kwh.{s}.{c}" for s in SEGMENTS for c in CHEMISTRIES}
    expected |= {f"metal_kg_per_kwh.{c}.{e}" for c in CHEMISTRIES for e in ELEMENTS}
    expected |= {"battery.shape", "vehicle.shape", "residual_fraction", "collection"}
    assert expected <= set(prov)
    for key, value in prov.items():
        assert value.confidence in CONFIDENCES, key
        assert value.source.strip(), key
    # The figures named in the brief / domain reference §1.1.
    assert P.battery_shape == 3.5
    assert P.battery_scale[("passenger_bev", "LFP")] == 9.5
    assert P.battery_scale[("passenger_bev", "NCM811")] == 7.0
    assert prov["metal_kg_per_kwh.NCM811.Mn"].confidence == "DERIVED"
    ranges = default_ranges()
    assert set(ranges) == set(UNCERTAIN_PARAMETERS)
    for r in ranges.values():
        assert r.low <= r.central <= r.high
        assert r.central == getattr(P, r.name)
        assert r.confidence in CONFIDENCES


def test_materials_agree_with_recycling_module() -> None:
    """The forecast keeps its own small kg/kWh table; it must not drift from the recycling
    module's (both come from BatPaC 5.2 via forecast-data.md §2.1)."""
    materials = pytest.importorskip("battrace.domain.recycling.materials")
    for chemistry in CHEMISTRIES:
        data = materials.chemistry_data(chemistry)
        for element in ELEMENTS:
            theirs = data.per_kwh.get(element)
            if theirs is not None:
                assert P.metal_kg_per_kwh[chemistry][element] == pytest.approx(theirs.value)
        if data.pack_kg_per_kwh is not None:
            assert P.pack_kg_per_kwh[chemistry] == pytest.approx(data.pack_kg_per_kwh.value)


# --------------------------------------------------------------------------------------------
# Uncertainty.

COHORTS = [cohort(year=y, units=1000.0 * 1.3 ** (y - 2014)) for y in range(2014, 2026)] + [
    cohort(year=y, segment="commercial_bev", chemistry="NCM523", units=200.0, kwh_per_pack=180.0)
    for y in range(2014, 2026)
]


def test_monte_carlo_is_deterministic_for_a_seed() -> None:
    a = uncertainty(COHORTS, P, start=2020, end=2030, draws=40, seed=3)
    b = uncertainty(COHORTS, P, start=2020, end=2030, draws=40, seed=3)
    c = uncertainty(COHORTS, P, start=2020, end=2030, draws=40, seed=4)
    assert a.bands == b.bands
    assert a.bands != c.bands
    assert a.method == "monte-carlo" and a.draws == 40 and a.seed == 3
    for year in range(2020, 2031):
        for m in METRICS:
            band = a.band(year, m)
            assert band.low <= band.mid <= band.high


def test_band_contains_central_and_corners_are_wider() -> None:
    central = forecast(COHORTS, P, start=2020, end=2030)
    mc = uncertainty(COHORTS, P, start=2020, end=2030, draws=60, seed=0)
    corners = uncertainty(COHORTS, P, start=2020, end=2030, draws=0)
    assert corners.method == "corners" and corners.draws == 2 ** len(UNCERTAIN_PARAMETERS)
    for totals in central.totals():
        wide = corners.band(totals.year)
        assert wide.mid == pytest.approx(totals.gwh)
        assert wide.low <= totals.gwh <= wide.high
        narrow = mc.band(totals.year)
        assert wide.low <= narrow.low and narrow.high <= wide.high


def test_band_without_ranges_collapses() -> None:
    result = uncertainty(COHORTS, P, start=2024, end=2026, draws=0, ranges={})
    central = forecast(COHORTS, P, start=2024, end=2026)
    for totals in central.totals():
        band = result.band(totals.year, "packs")
        assert band.low == band.mid == band.high == pytest.approx(totals.packs)


@pytest.mark.parametrize("draws", [1, -5, 100_001])
def test_band_rejects_draws(draws: int) -> None:
    with pytest.raises(InvalidInput):
        uncertainty(COHORTS, P, start=2020, end=2021, draws=draws)


def test_bad_span() -> None:
    with pytest.raises(InvalidInput):
        forecast(COHORTS, P, start=2030, end=2020)


# --------------------------------------------------------------------------------------------
# Capacity match.


def test_capacity_match() -> None:
    report = capacity_match(
        {"44": 120_000.0, "32": 30_000.0, "54": 500.0},
        {"440000": 100_000.0, "32": 60_000.0, "36": 40_000.0},
    )
    rows = {m.province: m for m in report.provinces}
    assert set(rows) == {"32", "36", "44", "54"}
    assert rows["44"].utilisation == pytest.approx(1.2)
    assert rows["44"].shortfall_t == pytest.approx(20_000.0)
    assert rows["32"].utilisation == pytest.approx(0.5)
    assert rows["36"].utilisation == 0.0
    assert rows["54"].utilisation is None  # no capacity: not a ratio
    assert report.national.province == "CN"
    assert report.national.utilisation == pytest.approx(150_500 / 200_000)
    assert report.to_dict()["national"]["capacity_t"] == 200_000.0


@pytest.mark.parametrize(
    ("retired", "capacity"),
    [({"99": 1.0}, {}), ({"44": -1.0}, {}), ({}, {"44": math.nan}), ({"Guangdong": 1.0}, {})],
)
def test_capacity_match_rejects(retired: dict[str, float], capacity: dict[str, float]) -> None:
    with pytest.raises(InvalidInput):
        capacity_match(retired, capacity)


def test_parameters_is_a_dataclass_with_replace() -> None:
    assert isinstance(P.replace(sale_timing=SaleTiming.END), Parameters)
    assert P.replace(sale_timing=SaleTiming.END).battery_scale is P.battery_scale
