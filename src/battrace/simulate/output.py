"""Where a simulation goes: EPCIS JSON Lines files, or the ledger through its own capture path.

JSON Lines: one EPCIS 2.0 event per line, in report-time order, each with the ``recordTime`` at
which its enterprise reported it (the reporter is the party of its ``readPoint``, as for every
event battrace accepts). Beside it: ``*.enterprises.json`` (the registry records) and the ground
truth, ``*.truth.jsonl``.

Ledger: events are grouped in report-time order and each group is one
:meth:`Ledger.capture_many` call (one capture per reporter), *imported* with the group's report
time as its record time — so the ledger's ``recordTime`` is when the simulated enterprise
reported, and reporting deadlines can be judged on it. A group spans at most
``GROUP_SPAN`` of report time (and ``WINDOW`` events): an event's record time is then at most
that much after its simulated report — far less than the shortest deadline (15 working days),
so no on-time report is recorded late and no late one on time.
"""

from __future__ import annotations

import gc
import heapq
import multiprocessing
import queue
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, TypeVar

import orjson

from battrace.config import Settings
from battrace.domain.epcis.document import DEFAULT_CONTEXT
from battrace.domain.epcis.event import parse_timestamp
from battrace.domain.errors import InvalidInput
from battrace.persistence.base import Store
from battrace.services import enterprises as registry
from battrace.services.capture import Submission
from battrace.services.ledgers import ledger_for
from battrace.simulate.simulation import Part, SimConfig, Simulation, Summary

T = TypeVar("T")
_NL = orjson.OPT_APPEND_NEWLINE  # one buffer per line, no concatenation copy
WINDOW = 5_000  # events per capture group (one transaction)
GROUP_SPAN = timedelta(days=10)

Record = tuple[datetime, str, dict[str, Any]]


def sidecar_paths(out: Path) -> tuple[Path, Path]:
    """(enterprises JSON, truth JSON Lines) next to an events file ``X.jsonl``."""
    stem = out.name[: -len(".jsonl")] if out.name.endswith(".jsonl") else out.name
    return out.with_name(stem + ".enterprises.json"), out.with_name(stem + ".truth.jsonl")


class JsonLinesSink:
    """Buffered writer of JSON objects, one per line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[bytes] = path.open("wb", buffering=1 << 20)
        self.lines = 0
        self.bytes = 0

    def write(self, obj: Any) -> None:
        data = orjson.dumps(obj, option=_NL)
        self._fh.write(data)
        self.lines += 1
        self.bytes += len(data)

    def close(self) -> None:
        self._fh.close()


def _write_lines(lines: Iterable[bytes], sink: JsonLinesSink, tick: Callable[[int], None]) -> None:
    write = sink._fh.write
    n = 0
    size = 0
    for data in lines:
        write(data)
        n += 1
        size += len(data)
        if n & 4095 == 0:
            tick(n)
    tick(n)
    sink.lines += n
    sink.bytes += size


def write_files(
    sim: Simulation, out: Path, truth_path: Path, tick: Callable[[int], None] = lambda n: None
) -> JsonLinesSink:
    """Events to ``out`` (JSON Lines, report-time order), ground truth to ``truth_path``.

    Shards run in this process (``workers == 1``) or one process each; either way the files
    are the same: events merged by (recordTime, shard), truth shard after shard.
    """
    sink = JsonLinesSink(out)
    dumps = orjson.dumps
    try:
        parts = sim.parts
        if len(parts) == 1:
            truth = JsonLinesSink(truth_path)
            try:
                lines = (dumps(event, option=_NL) for _, _, event in sim.stream(truth.write))
                _write_lines(lines, sink, tick)
            finally:
                truth.close()
        elif sim.config.workers == 1:
            pieces = [truth_path.with_name(f"{truth_path.name}.{i}") for i in range(len(parts))]
            sinks = [JsonLinesSink(p) for p in pieces]
            try:
                streams = [
                    ((event["recordTime"], i, event) for _, _, event in part.stream(sinks[i].write))
                    for i, part in enumerate(parts)
                ]
                merged = heapq.merge(*streams, key=lambda item: (item[0], item[1]))
                _write_lines(
                    (dumps(e, option=_NL) for _, _, e in _advancing(sim, merged)), sink, tick
                )
            finally:
                for piece in sinks:
                    piece.close()
            _concatenate(pieces, truth_path)
        else:
            _write_parallel(sim, sink, truth_path, tick)
    finally:
        sink.close()
    return sink


def _advancing(sim: Simulation, items: Iterator[T]) -> Iterator[T]:
    """Pass items through, moving ``sim.now`` (the progress bar's month) now and then."""
    for k, item in enumerate(items):
        if k & 4095 == 0:
            sim.now = datetime.fromisoformat(item[0])  # type: ignore[index]
        yield item


def _concatenate(pieces: list[Path], target: Path) -> None:
    with target.open("wb") as out:
        for piece in pieces:
            with piece.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            piece.unlink()


_BATCH = 2_000  # lines per message from a worker
_QUEUED = 32  # messages read ahead per worker (~64 MB at most)


def _worker(config: SimConfig, shard: int, conn: Any, truth_file: str) -> None:
    """Runs in a child process: one shard, its lines sent in batches, its truth to a file."""
    try:
        part = Part(config, shard)
        # What exists now (modules, rulebooks, the cast) lives as long as the process: kept out
        # of the collector's full passes, which would otherwise walk it again and again.
        gc.freeze()
        truth = JsonLinesSink(Path(truth_file))
        dumps = orjson.dumps
        batch: list[tuple[str, int, bytes]] = []
        try:
            for _, _, event in part.stream(truth.write):
                # (recordTime, shard, line): the parent merges these tuples as they are.
                batch.append((event["recordTime"], shard, dumps(event, option=_NL)))
                if len(batch) >= _BATCH:
                    conn.send(batch)
                    batch = []
        finally:
            truth.close()
        if batch:
            conn.send(batch)
        conn.send(("done", part.snapshot().to_dict()))
    except BaseException as exc:  # report, do not hang the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        conn.close()


def _write_parallel(
    sim: Simulation, sink: JsonLinesSink, truth_path: Path, tick: Callable[[int], None]
) -> None:
    # forkserver: children start clean (no threads or locks of ours, unlike fork) and, unlike
    # spawn, do not re-run the main script (``python -c`` or a script without a main guard).
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        # The server imports the generator's modules once and forks ready workers from it: each
        # importing them itself (SQLAlchemy and the services, ~1.5 s) delayed the first lines by
        # seconds. (No effect when this process's server already runs: it has them then.)
        multiprocessing.get_context("forkserver").set_forkserver_preload([__name__])
    n = len(sim.parts)
    pieces = [truth_path.with_name(f"{truth_path.name}.{i}") for i in range(n)]
    summaries: list[Summary] = []
    pipes = []
    procs = []
    for i in range(n):
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(  # type: ignore[attr-defined]  # (typeshed: BaseContext)
            target=_worker, args=(sim.config, i, child, str(pieces[i])), daemon=True
        )
        proc.start()
        child.close()
        pipes.append(parent)
        procs.append(proc)

    # A thread per pipe keeps reading ahead: the merge takes lines from one shard at a time,
    # and a generator whose pipe nobody reads would stop and wait for the other.
    queues: list[queue.Queue[Any]] = [queue.Queue(maxsize=_QUEUED) for _ in range(n)]

    def reader(i: int) -> None:
        while True:
            try:
                msg = pipes[i].recv()
            except (EOFError, OSError):
                queues[i].put(("error", "ended without finishing"))
                return
            queues[i].put(msg)
            if isinstance(msg, tuple):
                return

    for i in range(n):
        threading.Thread(target=reader, args=(i,), daemon=True).start()

    def lines(i: int) -> Iterator[tuple[str, int, bytes]]:  # one shard's lines, in order
        while True:
            msg = queues[i].get()
            if isinstance(msg, tuple):
                if msg[0] == "error":
                    raise InvalidInput("workers", f"shard {i} failed: {msg[1]}")
                summaries.append(Summary.from_dict(msg[1]))
                return
            yield from msg

    try:
        # Plain tuple order — (recordTime, shard) never ties across shards — and no key function:
        # the parent shares the two cores with the generators, so its loop is kept bare.
        write = sink._fh.write
        count = size = 0
        for rt, _, data in heapq.merge(*(lines(i) for i in range(n))):
            write(data)
            count += 1
            size += len(data)
            if count & 4095 == 0:
                sim.now = datetime.fromisoformat(rt)
                tick(count)
        tick(count)
        sink.lines += count
        sink.bytes += size
    finally:
        for proc in procs:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.kill()
    total = Summary()
    for s in summaries:
        total.add(s)
    sim.merged = total
    _concatenate(pieces, truth_path)


def write_enterprises(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_bytes(orjson.dumps(records, option=orjson.OPT_INDENT_2) + b"\n")


def reporter_of(event: dict[str, Any]) -> str:
    """The USCC of the party whose site reported ``event`` (``urn:uscc:X:site:Y``)."""
    where = (event.get("readPoint") or {}).get("id") or (event.get("bizLocation") or {}).get("id")
    if not isinstance(where, str) or not where.startswith("urn:uscc:") or ":site:" not in where:
        raise InvalidInput("readPoint.id", "needs the reporting enterprise's site URI")
    return where[len("urn:uscc:") :].split(":site:", 1)[0]


def read_events(path: Path) -> Iterator[Record]:
    """Events of a simulation JSON Lines file, with their report times (``recordTime``)."""
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise InvalidInput(f"{path.name}:{number}", f"not JSON: {exc}") from None
            if not isinstance(event, dict):
                raise InvalidInput(f"{path.name}:{number}", "must be a JSON object (an event)")
            raw = event.pop("recordTime", None)
            try:
                reported = parse_timestamp(raw, f"{path.name}:{number}.recordTime")
                who = reporter_of(event)
            except InvalidInput as exc:
                raise InvalidInput(f"{path.name}:{number}.{exc.field}", exc.reason) from None
            yield reported, who, event


def read_enterprises(path: Path) -> list[dict[str, Any]]:
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(path.name, f"not JSON: {exc}") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InvalidInput(path.name, "must be a JSON list of enterprise records")
    return data


def register(store: Store, records: list[dict[str, Any]]) -> int:
    """Register enterprises as the registry validates them, keeping each recycling
    qualification's ``capacity_t`` (t/yr, the capacity match needs it; the registry's own
    validation keeps kind, batch and date only)."""
    rows = [registry.build_enterprise(r, f"enterprise {i + 1}") for i, r in enumerate(records)]
    for i, (row, record) in enumerate(zip(rows, records, strict=True)):
        caps: dict[str, float] = {}
        for q in record.get("qualifications") or []:
            cap = q.get("capacity_t") if isinstance(q, dict) else None
            if cap is None:
                continue
            if isinstance(cap, bool) or not isinstance(cap, int | float) or not 0 <= cap < 1e9:
                raise InvalidInput(
                    f"enterprise {i + 1}.qualifications.capacity_t", "must be a number >= 0 (t/yr)"
                )
            caps[str(q.get("kind"))] = float(cap)
        for q in row.qualifications:
            if q.get("kind") in caps:
                q["capacity_t"] = caps[q["kind"]]
    store.put_enterprises(rows)
    return len(rows)


def load_into_ledger(
    store: Store,
    settings: Settings,
    enterprises: list[dict[str, Any]],
    records: Iterable[Record],
    tick: Callable[[int], None] | None = None,
) -> int:
    """Register ``enterprises``, then capture ``records`` (report-time order) through
    :meth:`Ledger.capture_many`. Returns the events captured. Raises :class:`InvalidInput` on
    the first rejected event (naming it): the groups before it stay written, as in any capture.
    """
    register(store, enterprises)
    ledger = ledger_for(store, settings)  # with the regulation engine
    group: list[Record] = []
    total = 0

    def flush() -> None:
        nonlocal total
        by_reporter: dict[str, list[dict[str, Any]]] = {}
        for _, who, event in group:
            event.pop("recordTime", None)  # the ledger records its own (the group's) time
            by_reporter.setdefault(who, []).append(event)
        subs = [
            Submission(who, DEFAULT_CONTEXT, evs, [orjson.dumps(e).decode() for e in evs], "sim")
            for who, evs in by_reporter.items()
        ]
        results = ledger.capture_many(subs, imported=True, record_time=group[-1][0])
        problems = [
            (sub.enterprise, p)
            for sub, r in zip(subs, results, strict=True)
            for p in r.rejected
            if p.field != "capture"
        ]
        if problems:
            who, p = problems[0]
            raise InvalidInput("simulation", f"reported by {who} was rejected: {p}")
        captured = sum(r.captured for r in results)
        total += captured
        if tick is not None:
            tick(len(group))
        group.clear()

    for record in records:
        if group and (len(group) >= WINDOW or record[0] - group[0][0] > GROUP_SPAN):
            flush()
        group.append(record)
    if group:
        flush()
    return total


__all__ = [
    "GROUP_SPAN",
    "WINDOW",
    "JsonLinesSink",
    "load_into_ledger",
    "read_enterprises",
    "read_events",
    "register",
    "reporter_of",
    "sidecar_paths",
    "write_enterprises",
    "write_files",
]
