"""The packaged sales scenario: CAAM sales, mix, provinces, pack-energy calibration, future sales,
splitting ternary cohorts, and the published figures."""

from __future__ import annotations

import math
import tomllib
from collections import defaultdict
from importlib import resources
from typing import Any

import pytest

from battrace.domain.errors import InvalidInput
from battrace.domain.forecast import (
    CHEMISTRIES,
    CONFIDENCES,
    MAINLAND_PROVINCES,
    SEGMENTS,
    CohortKind,
    FutureSales,
    acceptance_band,
    chemistry_shares,
    data_years,
    default_parameters,
    input_provenance,
    pack_energy_factor,
    packaged_cohorts,
    packaged_sales,
    province_shares,
    published_forecasts,
    sales_by_year,
    segment_shares,
    split_ternary,
)

YEARS = range(2010, 2041)


def _data(name: str) -> dict[str, Any]:
    text = resources.files("battrace.domain.forecast").joinpath("data", name).read_text("utf-8")
    return tomllib.loads(text)


def test_caam_sales() -> None:
    sales = {s.year: s for s in packaged_sales()}
    assert list(data_years()) == list(range(2014, 2026))
    assert sales[2015].total == 331_092
    assert sales[2023].total == 9_495_000
    assert sales[2024].total == 12_866_000
    assert sales[2025].total == 16_490_000
    # Exports retire abroad: 2023 domestic is CAAM's 8.292 M.
    assert sales[2023].domestic == 8_292_000
    assert sales[2019].exports == 0.0


def test_future_sales() -> None:
    last = packaged_sales()[-1]
    flat = {s.year: s for s in sales_by_year(2030)}
    assert flat[2030].total == last.total and flat[2030].projected
    assert not flat[2025].projected
    assert flat[2030].exports / flat[2030].total == pytest.approx(last.exports / last.total)
    grow = {s.year: s for s in sales_by_year(2030, FutureSales(0.05))}
    assert grow[2030].total == pytest.approx(last.total * 1.05**5)
    assert max(s.year for s in sales_by_year(2020)) == 2020
    assert FutureSales().name == "flat"
    with pytest.raises(InvalidInput):
        FutureSales(math.nan)


@pytest.mark.parametrize("year", YEARS)
def test_shares_sum_to_one(year: int) -> None:
    segments = segment_shares(year)
    assert set(segments) == set(SEGMENTS)
    assert math.fsum(segments.values()) == pytest.approx(1.0)
    assert all(v >= 0 for v in segments.values())
    for segment in SEGMENTS:
        chem = chemistry_shares(segment, year)
        assert set(chem) == set(CHEMISTRIES)
        assert math.fsum(chem.values()) == pytest.approx(1.0)
        prov = province_shares(segment, year)
        assert set(prov) == set(MAINLAND_PROVINCES)
        assert math.fsum(prov.values()) == pytest.approx(1.0)
        assert all(v > 0 for v in prov.values())


def test_mainland_provinces() -> None:
    assert len(MAINLAND_PROVINCES) == 31
    assert "71" not in MAINLAND_PROVINCES and "81" not in MAINLAND_PROVINCES


def test_sourced_shares() -> None:
    assert segment_shares(2019)["passenger_phev"] == pytest.approx(0.192)
    assert segment_shares(2023)["passenger_phev"] == pytest.approx(0.295)
    assert province_shares("passenger_bev", 2019)["44"] == pytest.approx(0.203)
    assert province_shares("passenger_bev", 2023)["44"] == pytest.approx(0.121)
    assert province_shares("commercial_bev", 2016)["44"] == pytest.approx(0.214)
    # 2021 is as near to 2019 as to 2023: the later table.
    assert province_shares("passenger_phev", 2021)["32"] == pytest.approx(0.091)


def test_derived_rows_recompute() -> None:
    """The DERIVED rows of sales.toml follow from their cited inputs."""
    doc = _data("sales.toml")
    chemistry = doc["chemistry"]
    for segment in SEGMENTS:
        row_2024 = chemistry[segment]["2024"]
        derived = chemistry[segment]["2025"]
        assert derived["confidence"] == "DERIVED"
        ternary = sum(row_2024[1:])
        expected = [0.815] + [0.185 * v / ternary for v in row_2024[1:]]
        assert derived["values"] == pytest.approx(expected, abs=1e-6)
    hybrid = doc["segments"]["commercial_phev"]
    for year in range(2017, 2025):
        assert hybrid[str(year)] == pytest.approx(
            sum(chemistry["commercial_phev"][str(year)]), abs=1e-6
        )
    commercial_2025 = (16.49 - 2.615 - 12.859) / (16.49 - 2.615)
    assert doc["segments"]["commercial"]["2025"]["value"] == pytest.approx(
        commercial_2025, abs=5e-4
    )


def test_every_input_is_sourced() -> None:
    items = list(input_provenance())
    assert len(items) > 20
    for key, value in items:
        assert value.confidence in CONFIDENCES, key
        assert value.source, key
    published = published_forecasts()
    assert all(f.confidence in CONFIDENCES and f.source for f in published)


def test_calibration_reproduces_installed_capacity() -> None:
    """Σ cohort kWh = CABIA installed GWh × domestic / total sales, in the years CABIA covers."""
    params = default_parameters()
    kwh: dict[int, float] = defaultdict(float)
    lfp: dict[int, float] = defaultdict(float)
    for c in packaged_cohorts(to_year=2025, by_province=False):
        kwh[c.year] += c.units * c.kwh_per_pack
        if c.chemistry == "LFP":
            lfp[c.year] += c.units * c.kwh_per_pack
    sales = {s.year: s for s in packaged_sales()}
    installed = {2015: 16.0, 2018: 56.9, 2020: 63.6, 2021: 154.5, 2023: 387.0, 2024: 548.4}
    for year, gwh in installed.items():
        expected = gwh * 1e6 * sales[year].domestic / sales[year].total
        assert kwh[year] == pytest.approx(expected, rel=1e-9)
    # The factors stay near the 0.7–0.85 the reference pack sizes imply (they are not a fudge).
    for year in range(2014, 2041):
        assert 0.65 < pack_energy_factor(year, params) < 0.9
    # The code's chemistry shares reproduce CABIA's LFP share of installed GWh within a few
    # points (vehicle shares weight big NCM811 packs less than GWh shares do).
    for year, share in {2018: 0.390, 2020: 0.383, 2021: 0.517, 2024: 0.746}.items():
        assert lfp[year] / kwh[year] == pytest.approx(share, abs=0.09)


def test_packaged_cohorts() -> None:
    cohorts = packaged_cohorts(to_year=2030)
    assert {c.year for c in cohorts} == set(range(2014, 2031))
    assert {c.province for c in cohorts} == set(MAINLAND_PROVINCES)
    assert all(c.kind is CohortKind.VEHICLES for c in cohorts)
    units_2025 = math.fsum(c.units for c in cohorts if c.year == 2025)
    assert units_2025 == pytest.approx(16_490_000 - 2_615_000)
    national = packaged_cohorts(to_year=2030, by_province=False)
    assert {c.province for c in national} == {""}
    assert math.fsum(c.units for c in national) == pytest.approx(
        math.fsum(c.units for c in cohorts)
    )
    raw = packaged_cohorts(to_year=2020, calibrate=False, by_province=False)
    params = default_parameters()
    assert all(c.kwh_per_pack == params.pack_kwh[(c.segment, c.chemistry)] for c in raw)


def test_split_ternary() -> None:
    parts = split_ternary(year=2019, province="32", segment="bus", units=100.0, kwh_per_pack=180.0)
    assert {c.chemistry for c in parts} <= set(CHEMISTRIES) - {"LFP"}
    assert math.fsum(c.units for c in parts) == pytest.approx(100.0)
    assert all(c.segment == "commercial_bev" and c.kind is CohortKind.PACKS for c in parts)
    shares = chemistry_shares("commercial_bev", 2019)
    ncm523 = next(c for c in parts if c.chemistry == "NCM523")
    assert ncm523.units == pytest.approx(100 * shares["NCM523"] / (1 - shares["LFP"]))


def test_acceptance_band() -> None:
    assert acceptance_band(2025) == (90.0, 175.0)
    names = {f.name for f in published_forecasts() if f.year == 2025}
    assert names == {"TrendForce 2021", "CCID Consulting 2022", "Peng, Meng, Tian et al. code (BS)"}
