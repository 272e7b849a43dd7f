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
import multiprocessing
import queue
import shutil
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

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


def write_files(
    sim: Simulation, out: Path, truth_path: Path, tick: Callable[[int], None] = lambda n: None
) -> JsonLinesSink:
    """Events to ``out`` (JSON Lines, report-time order), ground truth to ``truth_path``.

    Shards run in this process (``workers == 1``) or one process each; either way the files
    are the same: events merged by (recordTime, shard), truth shard after shard.
    """
    sink = JsonLinesSink(out)
    try:
        parts = sim.parts
        if len(parts) == 1:
            truth = JsonLinesSink(truth_path)
            try:
                with _fewer_collections():
                    _write_batches(sim, _batches(parts[0], truth.write), sink, tick)
            finally:
                truth.close()
        elif sim.config.workers == 1:
            pieces = [truth_path.with_name(f"{truth_path.name}.{i}") for i in range(len(parts))]
            sinks = [JsonLinesSink(p) for p in pieces]
            try:
                shards = [_batches(part, sinks[i].write) for i, part in enumerate(parts)]
                nexts = [partial(next, shard, None) for shard in shards]
                with _fewer_collections():
                    _write_batches(sim, merge_batches(nexts), sink, tick)
            finally:
                for piece in sinks:
                    piece.close()
            _concatenate(pieces, truth_path)
        else:
            _write_parallel(sim, sink, truth_path, tick)
    finally:
        sink.close()
    return sink


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect young objects every 20,000 net allocations instead of 700 while generating: the
    events are short-lived and make no cycles, and each pass also walks the objects in flight
    (a few % of the generator's time)."""
    before = gc.get_threshold()
    gc.set_threshold(20_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*before)


#: A shard's lines in report-time order: (recordTime, JSON line with its newline).
Batch = list[tuple[str, bytes]]
_BATCH = 2_000  # lines a batch (and a message from a worker)
_TIME = itemgetter(0)
_LINE = itemgetter(1)


def _batches(part: Part, on_truth: Callable[[dict[str, Any]], None]) -> Iterator[Batch]:
    """One shard's events as JSON lines, ``_BATCH`` at a time."""
    dumps = orjson.dumps
    stream = part.stream(on_truth)
    while True:
        batch = [(e["recordTime"], dumps(e, option=_NL)) for _, _, e in islice(stream, _BATCH)]
        if not batch:
            return
        yield batch


def merge_batches(shards: Sequence[Callable[[], Batch | None]]) -> Iterator[Batch]:
    """Several shards' batches merged by (recordTime, shard) — what :func:`heapq.merge` of their
    lines gives — a run of lines at a time, in C: a stable sort of the lines every shard is known
    to have written up to (recordTime is fixed-width ISO 8601 in one offset, so the text sorts
    in time order; the sort keeps a shard's own order and puts the lower shard first on ties).

    ``shards[i]()`` returns shard i's next batch (in order), None once it has no more.
    """
    bufs: list[Batch] = [[] for _ in shards]
    live = list(range(len(shards)))  # shards that may still send lines

    def read(i: int) -> None:
        batch = shards[i]()
        if batch is None:
            live.remove(i)
        else:
            bufs[i] += batch

    while live:
        for i in list(live):
            while i in live and not bufs[i]:
                read(i)
        if not live:
            break
        # Every live shard's later lines come at or after its last one: lines before the
        # earliest of those are final (a tie may still get a line from a lower shard: it waits).
        bound = min(bufs[i][-1][0] for i in live)
        run: Batch = []
        for buf in bufs:
            k = bisect_left(buf, bound, key=_TIME)
            if k:
                run += buf[:k]
                del buf[:k]
        if run:
            run.sort(key=_TIME)
            yield run
        read(min(live, key=lambda i: bufs[i][-1][0]))  # the shard that holds the others back
    rest = [line for buf in bufs for line in buf]
    if rest:
        rest.sort(key=_TIME)
        yield rest


def _write_batches(
    sim: Simulation, batches: Iterable[Batch], sink: JsonLinesSink, tick: Callable[[int], None]
) -> None:
    write = sink._fh.write
    count = size = 0
    for batch in batches:
        data = b"".join(map(_LINE, batch))
        write(data)
        count += len(batch)
        size += len(data)
        sim.now = datetime.fromisoformat(batch[-1][0])
        tick(count)
    tick(count)
    sink.lines += count
    sink.bytes += size


def _concatenate(pieces: list[Path], target: Path) -> None:
    with target.open("wb") as out:
        for piece in pieces:
            with piece.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            piece.unlink()


_QUEUED = 32  # messages read ahead per worker (~64 MB at most)


def _worker(config: SimConfig, shard: int, conn: Any, truth_file: str) -> None:
    """Runs in a child process: one shard, its lines sent in batches, its truth to a file."""
    try:
        part = Part(config, shard)
        # What exists now (modules, rulebooks, the cast) lives as long as the process: kept out
        # of the collector's full passes, which would otherwise walk it again and again.
        gc.freeze()
        truth = JsonLinesSink(Path(truth_file))
        try:
            with _fewer_collections():
                for batch in _batches(part, truth.write):  # lists of (recordTime, line)
                    conn.send(batch)
        finally:
            truth.close()
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

    # A thread per pipe keeps reading ahead: the merge reads one shard at a time (the one
    # holding the others back), and a generator whose pipe nobody reads would stop and wait.
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

    done: dict[int, Summary] = {}

    def next_batch(i: int) -> Batch | None:
        msg = queues[i].get()
        if isinstance(msg, tuple):
            if msg[0] == "error":
                raise InvalidInput("workers", f"shard {i} failed: {msg[1]}")
            done[i] = Summary.from_dict(msg[1])
            return None
        return msg  # type: ignore[no-any-return]

    try:
        _write_batches(sim, merge_batches([partial(next_batch, i) for i in range(n)]), sink, tick)
    finally:
        for proc in procs:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.kill()
    total = Summary()
    for i in sorted(done):  # shard order: the same summary however the workers finished
        total.add(done[i])
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
