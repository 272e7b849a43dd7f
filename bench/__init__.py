"""Benchmarks. Run all with ``make bench`` or one with ``python -m bench NAME``.

Each ``bench/bench_<name>.py`` defines ``main(quick: bool) -> None`` and prints its figures together
with a baseline measured in the same run, so ratios are comparable across machines.
"""
