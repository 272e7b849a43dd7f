"""Properties of regrouping, for every method, on generated fleets.

Stated bound against sort-and-chunk (docs/recycling.md): on the same data, ``regroup`` forms per
chemistry/specification at least as many packs within the tolerance as sort-and-chunk does, and
every pack it forms has capacity and resistance spread within the tolerance, i.e. its worst
normalised spread is <= 1, so it is never worse than sort-and-chunk's worst whenever
sort-and-chunk has any pack outside the tolerance.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from battrace.domain.recycling.regrouping import (
    PackSpec,
    RegroupResult,
    RetiredModule,
    regroup,
    regroup_kmeans,
    regroup_sort_chunk,
)

METHODS: dict[str, Callable[[list[RetiredModule], PackSpec], RegroupResult]] = {
    "regroup": regroup,
    "sort-chunk": regroup_sort_chunk,
    "k-means": regroup_kmeans,
}


@st.composite
def fleets(draw: st.DrawFn) -> list[RetiredModule]:
    """Modules around a few capacity/resistance centres (so that packs can form) plus free ones,
    in two chemistries and two specifications; equal values are frequent, to exercise ties."""
    centres = draw(
        st.lists(st.tuples(st.floats(20.0, 120.0), st.floats(0.5, 5.0)), min_size=1, max_size=4)
    )
    jitter = st.floats(-0.08, 0.08)
    n = draw(st.integers(0, 90))
    modules = []
    for i in range(n):
        if draw(st.booleans()):
            cap0, res0 = draw(st.sampled_from(centres))
            cap = cap0 * (1 + draw(jitter))
            res = res0 * (1 + draw(jitter))
        else:
            cap, res = draw(st.floats(1.0, 200.0)), draw(st.floats(0.1, 10.0))
        chem = draw(st.sampled_from(["LFP", "NCM"]))
        spec = draw(st.sampled_from(["A", "B"]))
        modules.append(RetiredModule(f"m{i}", chem, spec, cap, res))
    return modules


specs = st.builds(
    PackSpec,
    series=st.integers(1, 6),
    parallel=st.integers(1, 3),
    max_capacity_spread=st.floats(0.005, 0.5),
    max_resistance_spread=st.floats(0.005, 0.5),
)


def spread(values: list[float]) -> float:
    return (max(values) - min(values)) / (math.fsum(values) / len(values))


def check_structure(modules: list[RetiredModule], spec: PackSpec, result: RegroupResult) -> None:
    by_id = {m.id: m for m in modules}
    used = [mid for pack in result.packs for mid in pack.module_ids]
    # No module twice, every module either used or unused, nothing invented.
    assert len(used) == len(set(used))
    assert set(used).isdisjoint(result.unused)
    assert set(used) | set(result.unused) == set(by_id)
    assert len(result.unused) == len(set(result.unused))
    for pack in result.packs:
        # Complete: exactly k x p, laid out as k series positions of p.
        assert len(pack.layout) == spec.series
        assert all(len(position) == spec.parallel for position in pack.layout)
        members = [by_id[mid] for mid in pack.module_ids]
        # Never mixed.
        assert {(m.chemistry, m.specification) for m in members} == {
            (pack.chemistry, pack.specification)
        }
        # Reported spreads are the real ones.
        assert pack.capacity_spread == spread([m.capacity_ah for m in members])
        assert pack.resistance_spread == spread([m.resistance_mohm for m in members])


@settings(max_examples=150, deadline=None)
@given(fleets(), specs)
def test_every_method_forms_complete_unmixed_packs(
    modules: list[RetiredModule], spec: PackSpec
) -> None:
    for method in METHODS.values():
        check_structure(modules, spec, method(modules, spec))


@settings(max_examples=200, deadline=None)
@given(fleets(), specs)
def test_regroup_within_tolerance_and_never_fewer_usable_packs(
    modules: list[RetiredModule], spec: PackSpec
) -> None:
    ours = regroup(modules, spec)
    base = regroup_sort_chunk(modules, spec)
    for pack in ours.packs:
        assert pack.capacity_spread <= spec.max_capacity_spread
        assert pack.resistance_spread <= spec.max_resistance_spread
    worst = max(
        (
            max(
                p.capacity_spread / spec.max_capacity_spread,
                p.resistance_spread / spec.max_resistance_spread,
            )
            for p in ours.packs
        ),
        default=0.0,
    )
    assert worst <= 1.0
    ours_usable = Counter((p.chemistry, p.specification) for p in ours.packs)
    base_usable = Counter(
        (p.chemistry, p.specification) for p in base.packs if base.within_tolerance(p)
    )
    for key, count in base_usable.items():
        assert ours_usable[key] >= count, key


@settings(max_examples=100, deadline=None)
@given(fleets(), specs, st.randoms(use_true_random=False))
def test_result_does_not_depend_on_input_order(
    modules: list[RetiredModule], spec: PackSpec, rnd: object
) -> None:
    shuffled = list(modules)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    for name, method in METHODS.items():
        assert method(modules, spec) == method(shuffled, spec), name


@settings(max_examples=100, deadline=None)
@given(fleets(), st.integers(1, 5), st.integers(1, 2))
def test_everything_fits_means_every_possible_pack(
    modules: list[RetiredModule], series: int, parallel: int
) -> None:
    # With a tolerance nothing can exceed (spreads of positive values are < k·p), regroup must
    # reach sort-and-chunk's count, which is the most complete packs a partition allows.
    spec = PackSpec(series, parallel, max_capacity_spread=1e9, max_resistance_spread=1e9)
    assert len(regroup(modules, spec).packs) == len(regroup_sort_chunk(modules, spec).packs)
