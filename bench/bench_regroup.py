"""Regrouping retired modules into second-life packs: battrace's method against two baselines.

``python -m bench regroup`` (100,000 modules) or ``python -m bench --quick regroup`` (10,000).
The data are synthetic and deterministic (fixed seed), so figures are comparable between runs;
ratios are against sort-and-chunk measured in the same run, so they are comparable across machines.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence

from battrace.domain.recycling.regrouping import (
    PackSpec,
    RegroupResult,
    RetiredModule,
    regroup,
    regroup_kmeans,
    regroup_sort_chunk,
    summarise,
)

SEED = 20240501
#: Pack topology of the benchmark: 16 modules in series, one string.
SPEC = PackSpec(series=16, parallel=1)

# (chemistry, specification, rated Ah, fresh resistance mΩ, share of modules). Invented but
# plausible module families; what matters for the benchmark is several partitions of unequal size.
FAMILIES = (
    ("LFP", "M52", 52.0, 1.6, 0.40),
    ("LFP", "M100", 100.0, 0.9, 0.25),
    ("NCM", "M37", 37.0, 2.2, 0.20),
    ("NCM", "M50", 50.0, 1.8, 0.15),
)


def synthetic_modules(n: int, seed: int = SEED) -> list[RetiredModule]:
    """``n`` retired modules: SoH ~ N(78 %, 6 %) clipped to 55–98 % (retirement around 80 %,
    forecast-data §4); resistance grows as SoH falls, with 6 % log-normal scatter, and 3 % of the
    modules are resistance outliers (x1.25–2.5), as found in real retired stock."""
    rng = random.Random(seed)
    weights = [f[4] for f in FAMILIES]
    modules = []
    for n_ in range(n):
        chem, spec, rated, r0, _ = rng.choices(FAMILIES, weights)[0]
        soh = min(0.98, max(0.55, rng.gauss(0.78, 0.06)))
        resistance = r0 * (1.0 + 2.0 * (1.0 - soh)) * rng.lognormvariate(0.0, 0.06)
        if rng.random() < 0.03:
            resistance *= rng.uniform(1.25, 2.5)
        modules.append(RetiredModule(f"M{n_:07d}", chem, spec, rated * soh, resistance))
    return modules


def _run(
    name: str,
    fn: Callable[[Sequence[RetiredModule], PackSpec], RegroupResult],
    data: list[RetiredModule],
) -> tuple[str, float, RegroupResult]:
    start = time.perf_counter()
    result = fn(data, SPEC)
    return name, time.perf_counter() - start, result


def main(quick: bool) -> None:
    n = 10_000 if quick else 100_000
    data = synthetic_modules(n)
    print(
        f"{n:,} modules, {len(FAMILIES)} chemistry/specification partitions; packs of "
        f"{SPEC.series}S{SPEC.parallel}P; tolerance: capacity spread <= "
        f"{SPEC.max_capacity_spread:.0%}, resistance spread <= {SPEC.max_resistance_spread:.0%}"
    )
    runs = [
        _run("sort-chunk", regroup_sort_chunk, data),
        _run("k-means", regroup_kmeans, data),
        _run("sweep-match", regroup, data),
    ]
    base = summarise(runs[0][2], n)
    header = (
        f"{'method':<13}{'time s':>8}{'packs':>7}{'formed':>8}{'usable':>8}"
        f"{'cap mean':>10}{'cap worst':>10}{'res mean':>10}{'res worst':>10}{'norm':>7}"
    )
    print("spreads are (max-min)/mean inside a pack; 'formed' = share of modules in any pack,")
    print("'usable' = in packs within the tolerance; 'norm' = mean of max(cap/tol, res/tol), <= 1")
    print("within tolerance. Second line = ratio to sort-chunk (time and spreads: lower is better;")
    print("usable: higher is better)")
    print(header)
    print("-" * len(header))
    for name, seconds, result in runs:
        s = summarise(result, n)
        print(
            f"{name:<13}{seconds:>8.2f}{s.packs:>7}{s.share_in_packs:>8.1%}"
            f"{s.share_within_tolerance:>8.1%}{s.mean_capacity_spread:>10.2%}"
            f"{s.worst_capacity_spread:>10.2%}{s.mean_resistance_spread:>10.2%}"
            f"{s.worst_resistance_spread:>10.2%}{s.mean_normalised_spread:>7.2f}"
        )
        if name != "sort-chunk":
            print(
                f"{'  ratio':<13}{seconds / runs[0][1]:>8.2f}{'':>7}"
                f"{s.share_in_packs / base.share_in_packs:>8.2f}"
                f"{_ratio(s.share_within_tolerance, base.share_within_tolerance):>8}"
                f"{_ratio(s.mean_capacity_spread, base.mean_capacity_spread):>10}"
                f"{_ratio(s.worst_capacity_spread, base.worst_capacity_spread):>10}"
                f"{_ratio(s.mean_resistance_spread, base.mean_resistance_spread):>10}"
                f"{_ratio(s.worst_resistance_spread, base.worst_resistance_spread):>10}"
                f"{_ratio(s.mean_normalised_spread, base.mean_normalised_spread):>7}"
            )


def _ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}" if baseline else "n/a"
