"""Files of a run: identical whatever the number of worker processes; read back as written; the
disk calendar returns what it was given; charts are well-formed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import orjson
import pytest

from battrace.cli.forecast import bars_chart, to_png, to_svg, years_chart
from battrace.domain.errors import InvalidInput
from battrace.simulate import SimConfig, simulate
from battrace.simulate.engine import CST, Calendar
from battrace.simulate.output import read_events, register, write_files


def _write(tmp: Path, workers: int) -> tuple[bytes, bytes, dict[str, object]]:
    sim = simulate(SimConfig(packs=240, seed=12, shards=2, workers=workers))
    out = tmp / f"w{workers}.jsonl"
    truth = tmp / f"w{workers}.truth.jsonl"
    sink = write_files(sim, out, truth)
    assert sink.lines == sim.summary_dict()["events"]
    return out.read_bytes(), truth.read_bytes(), sim.summary_dict()


def test_shards_give_the_same_files_in_one_process_or_two(tmp_path: Path) -> None:
    one = _write(tmp_path, 1)
    two = _write(tmp_path, 2)
    assert one[0] == two[0] and one[1] == two[1]
    assert one[2] == two[2]
    lines = one[0].splitlines()
    times = [orjson.loads(x)["recordTime"] for x in lines]
    assert times == sorted(times)
    # Two shards never issue the same code, VIN or document number.
    commissioned = [
        epc for x in lines if b'"commissioning"' in x for epc in orjson.loads(x)["epcList"]
    ]
    assert len(commissioned) == len(set(commissioned))
    sold = [orjson.loads(x)["epcList"][0] for x in lines if b'"retail_selling"' in x]
    assert len(sold) == len(set(sold))


def test_events_read_back_with_their_reporters_and_report_times(tmp_path: Path) -> None:
    sim = simulate(SimConfig(packs=30, seed=2))
    out = tmp_path / "s.jsonl"
    write_files(sim, out, tmp_path / "s.truth.jsonl")
    back = list(read_events(out))
    assert len(back) == sim.summary_dict()["events"]
    for reported, who, event in back:
        assert "recordTime" not in event
        assert event["readPoint"]["id"].startswith(f"urn:uscc:{who}:site:")
        assert reported.tzinfo is not None
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"type": "ObjectEvent", "recordTime": "2020-01-01T00:00:00Z"}\n')
    with pytest.raises(InvalidInput, match=r"bad\.jsonl:1\.readPoint\.id"):
        list(read_events(bad))


def test_registration_keeps_the_recycling_capacity(sqlite_store: object) -> None:
    sim = simulate(SimConfig(packs=10, seed=1))
    register(sqlite_store, sim.enterprises)  # type: ignore[arg-type]
    stored = {
        e.uscc: e
        for e in sqlite_store.list_enterprises("recycler")  # type: ignore[attr-defined]
    }
    caps = [q.get("capacity_t") for e in stored.values() for q in e.qualifications]
    assert any(c and c > 0 for c in caps)
    broken = [dict(sim.enterprises[0])]
    broken[0]["qualifications"] = [
        {"kind": "recycling", "batch": 1, "date": "2018-09-03", "capacity_t": "lots"}
    ]
    with pytest.raises(InvalidInput, match="capacity_t"):
        register(sqlite_store, broken)  # type: ignore[arg-type]


def test_the_calendar_returns_each_bucket_in_full_after_spilling(tmp_path: Path) -> None:
    origin = datetime(2020, 1, 1, tzinfo=CST)
    cal = Calendar(origin, timedelta(days=7), str(tmp_path))
    cal.BUFFER = 40  # records: force several writes to disk
    for i in range(300):
        t = origin + timedelta(days=(i * 37) % 90, minutes=i)
        cal.put(cal.bucket(t), (t, i, "repair", ("x" * 20, i)))
    assert any(tmp_path.glob("battrace-sim-*/*.pkl"))
    assert cal.due == cal.start_of(cal.bucket(origin))  # the first pending bucket's start
    seen: list[int] = []
    last = -1
    while (bucket := cal.next_bucket()) is not None:
        assert bucket > last
        last = bucket
        records = cal.take()
        assert all(cal.bucket(r[0]) == bucket for r in records)
        assert all(r[0].tzinfo is CST for r in records)  # China time comes back as CST itself
        seen.extend(r[1] for r in records)
    assert sorted(seen) == list(range(300))
    cal.close()


def test_charts_are_well_formed_svg_and_png(tmp_path: Path) -> None:
    years = list(range(2020, 2031))
    values = [float(y - 2019) ** 2 for y in years]
    scene = years_chart(
        "Retired <packs> & more",
        "GWh",
        years,
        [("central", values)],
        ([v * 0.8 for v in values], [v * 1.2 for v in values]),
        ("observed", {2021: 3.0}),
    )
    svg = to_svg(scene)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "Retired &lt;packs&gt; &amp; more" in svg
    assert svg.count("<polyline") == 1 and svg.count("<polygon") == 1 and "<circle" in svg
    bars = to_svg(bars_chart("Utilisation", "ratio", ["11", "44"], [None, 1.5], 1.0))
    ET.fromstring(bars)
    assert "n/a" in bars and "#d9822b" in bars  # above the line: the warning colour
    png = tmp_path / "c.png"
    to_png(scene, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_batches_merge_as_a_heap_merge_by_report_time_and_shard() -> None:
    import heapq
    import random

    from battrace.simulate.output import merge_batches

    rng = random.Random(8)
    shards: list[list[tuple[str, bytes]]] = []
    for shard in range(3):
        # Few distinct times: ties within a shard and across shards.
        times = sorted(f"2024-05-01T09:{rng.randrange(6):02d}:00.000+08:00" for _ in range(500))
        shards.append([(rt, f"{shard}/{i}\n".encode()) for i, rt in enumerate(times)])
    expected = [
        line
        for _, _, line in heapq.merge(
            *([(rt, s, line) for rt, line in lines] for s, lines in enumerate(shards))
        )
    ]

    def source(lines: list[tuple[str, bytes]]) -> Callable[[], list[tuple[str, bytes]] | None]:
        cuts = [0, *sorted(rng.sample(range(1, len(lines)), 12)), len(lines)]
        batches = iter([lines[a:b] for a, b in pairwise(cuts)])
        return lambda: next(batches, None)

    merged = [line for run in merge_batches([source(s) for s in shards]) for _, line in run]
    assert merged == expected
