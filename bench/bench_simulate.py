"""Simulator throughput into JSON Lines, against plain serialisation of pre-built events, and its
memory over a run.

Target (issue "National-scale simulator"): ≥ 50,000 events/s generated into JSON Lines;
``national-sample`` (≥ 1,000,000 packs at cell level) streams in constant memory.

Baseline, same run: ``orjson.dumps`` + write of the same kind of events, already built (the cost
of the output alone). Rates are wall-clock; CPU seconds are printed too, because the build
machine's two cores are shared: events per CPU second of one generator (one shard) is the steady
figure, and two processes make twice that when they have a core each. Run: ``python -m bench simulate`` (``--quick``: fewer packs;
``BATTRACE_BENCH_SIM_PACKS=1000000`` for the national sample).
"""

from __future__ import annotations

import os
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
import psutil

from battrace.config import Settings
from battrace.simulate import SimConfig, simulate
from battrace.simulate.output import load_into_ledger, write_files
from battrace.simulate.simulation import Part
from bench.common import sqlite_store


def baseline(events: list[dict[str, Any]], path: Path) -> float:
    start = time.perf_counter()
    with path.open("wb", buffering=1 << 20) as fh:
        for event in events:
            fh.write(orjson.dumps(event) + b"\n")
    return len(events) / (time.perf_counter() - start)


def generator(packs: int) -> tuple[int, float]:
    """(events, CPU s) of one generator: shard 0 of the file's run, generation + orjson.dumps."""
    part = Part(SimConfig(scale="province", packs=packs, seed=1), 0)
    dumps, nl = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    n = 0
    cpu = time.process_time()
    for _, _, event in part.stream(lambda record: None):
        dumps(event, option=nl)
        n += 1
    return n, time.process_time() - cpu


def to_file(packs: int, workers: int, path: Path) -> tuple[int, float, float, int]:
    """(events, wall s, CPU s of this process, bytes)."""
    sim = simulate(SimConfig(scale="province", packs=packs, seed=1, workers=workers))
    cpu, wall = time.process_time(), time.perf_counter()
    sink = write_files(sim, path, path.with_suffix(".truth.jsonl"))
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    return sink.lines, wall, cpu, sink.bytes


def memory(packs: int) -> tuple[list[tuple[str, float, int]], float]:
    """RSS (MB) and merge-heap size each simulated half year, in-process, national mix."""
    proc = psutil.Process()
    sim = simulate(SimConfig(scale="national-sample", packs=packs, seed=2, shards=1))
    samples: list[tuple[str, float, int]] = []
    seen: set[tuple[int, int]] = set()
    for reported, _, _ in sim.stream():
        key = (reported.year, reported.month // 7)
        if key not in seen:
            seen.add(key)
            samples.append(
                (
                    f"{reported.year}-{'H2' if key[1] else 'H1'}",
                    proc.memory_info().rss / 1e6,
                    len(sim.engine.heap),
                )
            )
    return samples, proc.memory_info().rss / 1e6


def main(quick: bool) -> None:
    # Memory first, while this process is fresh (freed memory is not always given back).
    mem_packs = 4_000 if quick else 40_000
    for n in (mem_packs, mem_packs * 4):
        samples, end = memory(n)
        rss = [s[1] for s in samples[2:]]  # after start-up imports and caches
        heaps = [s[2] for s in samples]
        print(
            f"memory, {n:,} packs in one process: RSS {min(rss):,.0f}–{max(rss):,.0f} MB from "
            f"{samples[2][0]} on (end {end:,.0f} MB); merge heap {min(heaps):,}–{max(heaps):,} items"
        )
        print("  " + ", ".join(f"{label} {r:,.0f} MB/{h:,}" for label, r, h in samples[::4]))
    packs = int(os.environ.get("BATTRACE_BENCH_SIM_PACKS", 5_000 if quick else 50_000))
    with tempfile.TemporaryDirectory(prefix="battrace-bench-sim-") as tmp:
        folder = Path(tmp)
        sim = simulate(SimConfig(scale="province", packs=min(packs, 20_000), seed=1))
        prebuilt = [e for _, _, e in islice(sim.stream(), 200_000)]
        base = baseline(prebuilt, folder / "baseline.jsonl")
        size = sum(len(orjson.dumps(e)) for e in prebuilt[:20_000]) / min(len(prebuilt), 20_000)
        del prebuilt
        print(f"packs {packs:,} (province scale, 2 shards; violations at the default rates)")
        print(f"baseline: orjson.dumps + write of pre-built events: {base:,.0f} events/s "
              f"(mean {size:,.0f} bytes/event)")  # fmt: skip
        n, cpu = generator(packs)
        print(
            f"generator, one shard: {n:,} events in {cpu:.1f} CPU s = {n / cpu:,.0f} events per "
            f"CPU second (generation + orjson.dumps)"
        )
        for workers in (1, 2):
            n, wall, cpu, size_b = to_file(packs, workers, folder / f"w{workers}.jsonl")
            rate = n / wall
            print(
                f"simulator -> JSON Lines, {workers} process{'es' if workers > 1 else ''}: "
                f"{n:,} events in {wall:.1f} s = {rate:,.0f} events/s "
                f"({rate / base:.3f} of baseline; parent CPU {cpu:.1f} s; {size_b / 1e6:,.0f} MB) "
                f"{'MET' if rate >= 50_000 else 'below'} target 50,000/s"
            )
            (folder / f"w{workers}.jsonl").unlink()
    # Loading through the ledger's capture path (the core's bulk-capture figures apply).
    load_packs = 300 if quick else 3_000
    sim = simulate(SimConfig(packs=load_packs, seed=3))
    with sqlite_store() as store:
        wall = time.perf_counter()
        n = load_into_ledger(store, Settings.from_env(store.url), sim.enterprises, sim.stream())
        wall = time.perf_counter() - wall
    print(
        f"capture into SQLite via Ledger.capture_many (imported, report-time groups): "
        f"{load_packs:,} packs, {n:,} events in {wall:.1f} s = {n / wall:,.0f} events/s"
    )
