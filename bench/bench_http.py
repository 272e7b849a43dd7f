"""The HTTP interface under load (uvicorn, real sockets on loopback).

Targets (issue "EPCIS 2.0 HTTP interface"):

1. Capture over HTTP of 1,000-event documents from 4 concurrent clients: ≥ 50 % of the rate of
   capturing the same documents in-process (``Ledger.capture_document``, measured in the same run),
   and ≥ 20,000 events/s.
2. ``GET /api/batteries/{code}`` on a ≥ 1,000,000-event database at 200 requests/s: p99 ≤ 20 ms,
   no errors. Baseline in the same run: ``GET /health`` at the same rate.
3. ``GET /events?MATCH_epc=…`` on the same database: p99 ≤ 20 ms.

Reads are measured open-loop by bench/loadgen.py in a process of its own (asyncio, raw keep-alive
HTTP/1.1): each request is due at its slot of the 200/s schedule and its latency counts from that
slot, so a slow server cannot hide its queueing. The server (what ``battrace serve`` runs) is
measured with ``--workers 1`` and ``2``; ``GET /health`` at the same rate is the baseline. The
1,000,400-event database is built once and cached under ``/tmp/battrace-bench-cache``
(``BATTRACE_BENCH_CACHE``). On a 2-core machine generator and server share the cores: the report
gives the generator's CPU and lag, the server's CPU per request and the load average.
``--quick`` uses a 48,800-event database and fewer documents.
Run: ``python -m bench http`` (``--quick``), or ``python -m bench.bench_http [--quick] reads``.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from battrace.config import Settings
from battrace.domain.identities.gbt34014 import format_battery_code
from battrace.domain.identities.uscc import make_uscc
from battrace.domain.lifecycle import builders as b
from battrace.persistence import open_store
from battrace.persistence.base import Store
from battrace.services import enterprises as registry
from battrace.services import keys
from battrace.services.capture import Ledger
from battrace.services.query import refresh_index
from battrace.services.trace import trace
from bench.bench_ledger_scale import MAKER, cli, write_jsonl
from bench.common import percentile

CLIENTS = 4
DOC_EVENTS = 1000
RATE = 200  # requests per second, target 2 and 3
NATIONAL = make_uscc("110000", "00000019", "1", "1")


# -- servers -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``python -m battrace.web.server`` (what ``battrace serve`` runs) in a child process."""

    def __init__(self, url: str, workers: int) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "BATTRACE_DATABASE_URL": url,
            "BATTRACE_RATE_LIMIT": "1000000",
            "BATTRACE_RATE_BURST": "1000000",
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "battrace.web.server",
                "--db",
                url,
                "--workers",
                str(workers),
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            env=env,
        )
        deadline = time.monotonic() + 600
        while True:
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


# -- 1. capture ----------------------------------------------------------------------------------


def _maker(k: int) -> tuple[str, str]:
    return make_uscc("350900", f"{58752000 + k:08d}"), f"B{k}K"


def _documents(k: int, n_docs: int) -> list[bytes]:
    """``n_docs`` documents of 1,000 events of maker ``k``'s production: cells commissioned ten
    to a module, modules and packs commissioned and assembled."""
    uscc, mcode = _maker(k)
    site = b.site_uri(uscc, "plant1")
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    day = date(2024, 1, 1)
    events: list[dict[str, Any]] = []
    serial = 0
    p = 0
    while len(events) < n_docs * DOC_EVENTS:
        t = t0 + timedelta(minutes=p)
        modules = []
        for _m in range(10):
            cells = [
                format_battery_code(mcode, "C", "B", "01", "A1B2C3D", day, serial + c)
                for c in range(10)
            ]
            module = format_battery_code(mcode, "M", "B", "01", "A1B2C3D", day, serial)
            serial += 10
            events += [b.commission([c], site=site, time=t) for c in cells]
            events.append(b.commission([module], site=site, time=t + timedelta(seconds=1)))
            events.append(b.assemble(module, cells, site=site, time=t + timedelta(seconds=2)))
            modules.append(module)
        pack = format_battery_code(mcode, "P", "B", "01", "A1B2C3D", day, p)
        events.append(b.commission([pack], site=site, time=t + timedelta(seconds=3)))
        events.append(b.assemble(pack, modules, site=site, time=t + timedelta(seconds=4)))
        p += 1
    return [
        orjson.dumps(b.document(events[i * DOC_EVENTS : (i + 1) * DOC_EVENTS]))
        for i in range(n_docs)
    ]


def _register_makers(store: Store) -> None:
    rows = []
    for k in range(CLIENTS):
        uscc, mcode = _maker(k)
        rows.append(
            {
                "uscc": uscc,
                "name_zh": f"基准电池{k}",
                "roles": "battery_maker",
                "manufacturer_codes": mcode,
                "sites": "plant1",
            }
        )
    registry.register(store, rows)


def capture_in_process(url: str, docs: list[list[bytes]], observers: bool) -> float:
    store = open_store(url)
    store.migrate()
    _register_makers(store)
    extra: list[Any] = []
    if observers:
        from battrace.services.query import ScopeIndexer

        extra = [ScopeIndexer()]
    ledger = Ledger(store, Settings.from_env(url), observers=extra)
    start = time.perf_counter()
    total = 0
    for k, mine in enumerate(docs):
        for doc in mine:
            result = ledger.capture_document(doc, _maker(k)[0])
            assert result.ok and result.captured == DOC_EVENTS, result.rejected[:1]
            total += result.captured
    seconds = time.perf_counter() - start
    store.close()
    return total / seconds


def capture_over_http(url: str, docs: list[list[bytes]], workers: int) -> tuple[float, int]:
    store = open_store(url)
    store.migrate()
    _register_makers(store)
    tokens = [keys.create_key(store, _maker(k)[0])[1] for k in range(CLIENTS)]
    store.close()
    server = Server(url, workers)
    errors = 0
    captured = [0] * CLIENTS
    try:

        def client(k: int) -> None:
            nonlocal errors
            headers = {
                "Authorization": f"Bearer {tokens[k]}",
                "Content-Type": "application/ld+json",
            }
            with httpx.Client(base_url=server.base, headers=headers, timeout=120) as http:
                for doc in docs[k]:
                    r = http.post("/capture", content=doc)
                    if r.status_code != 202 or not r.json()["success"]:
                        errors += 1
                    else:
                        captured[k] += r.json()["captured"]

        threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
        start = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        seconds = time.perf_counter() - start
    finally:
        server.stop()
    return sum(captured) / seconds, errors


def bench_capture(tmp: Path, quick: bool) -> None:
    n_docs = 3 if quick else 10
    docs = [_documents(k, n_docs) for k in range(CLIENTS)]
    total = CLIENTS * n_docs * DOC_EVENTS
    print(f"capture: {CLIENTS} clients × {n_docs} documents × {DOC_EVENTS:,} events = {total:,}")
    base = capture_in_process(f"sqlite:///{tmp / 'inproc.sqlite'}", docs, observers=False)
    print(f"  in-process Ledger.capture_document (baseline): {base:,.0f} ev/s")
    with_index = capture_in_process(f"sqlite:///{tmp / 'inproc2.sqlite'}", docs, observers=True)
    print(f"  in-process with the read-scope indexer:        {with_index:,.0f} ev/s")
    for workers in (1, 2):
        rate, errors = capture_over_http(
            f"sqlite:///{tmp / f'http{workers}.sqlite'}", docs, workers
        )
        print(
            f"  HTTP, {CLIENTS} concurrent clients, {workers} worker(s): {rate:,.0f} ev/s = "
            f"{rate / base:.0%} of in-process (target ≥ 50 % and ≥ 20,000 ev/s); errors {errors}"
        )


# -- 2./3. reads on a large database --------------------------------------------------------------

#: Built databases are kept here between runs (building 1,000,000 events takes minutes).
CACHE = Path(os.environ.get("BATTRACE_BENCH_CACHE", "/tmp/battrace-bench-cache"))
BUILD_VERSION = 1  # bump when what large_database() builds changes
READ_CONNECTIONS = 8  # keep-alive connections the load generator opens up front


def large_database(packs: int) -> Path:
    """A SQLite database of ``packs`` packs of one maker's production (122 events each),
    captured by the CLI, with the national regulator registered and the read-scope index
    built — cached under :data:`CACHE` by its parameters (a cached one is migrated to the
    current schema first)."""
    path = CACHE / f"http-reads-{packs}packs-v{BUILD_VERSION}.sqlite"
    if path.exists():
        store = open_store(f"sqlite:///{path}")
        store.migrate()
        refresh_index(store)
        store.close()
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="building-", dir=CACHE) as tmp:
        db = Path(tmp) / "large.sqlite"
        url = f"sqlite:///{db}"
        jsonl = Path(tmp) / "production.jsonl"
        events = write_jsonl(jsonl, packs)
        cli(url, "init")
        cli(url, "enterprise", "add", MAKER, "--name-zh", "基准电池", "--roles", "battery_maker",
            "--codes", "BTR", "--sites", "plant1")  # fmt: skip
        seconds, _ = cli(url, "capture", str(jsonl), "--as", MAKER)
        print(f"  built a database of {events:,} events (captured in {seconds:.0f} s by the CLI)")
        store = open_store(url)
        registry.register(
            store,
            [{"uscc": NATIONAL, "name_zh": "工业和信息化部", "roles": "regulator_national"}],
        )
        start = time.perf_counter()
        indexed = refresh_index(store)
        print(f"  read-scope index: {indexed:,} events in {time.perf_counter() - start:.0f} s")
        store.close()
        os.replace(db, path)
    return path


def open_loop(
    base: str, headers: dict[str, str], paths: list[str], rate: int, seconds: float
) -> dict[str, Any]:
    """Run the open-loop load generator (bench/loadgen.py) in its own process."""
    host, port = base.removeprefix("http://").split(":")
    spec = {
        "host": host,
        "port": int(port),
        "rate": rate,
        "seconds": seconds,
        "paths": paths,
        "headers": headers,
        "connections": READ_CONNECTIONS,
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench.loadgen"],
        input=orjson.dumps(spec),
        capture_output=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    result: dict[str, Any] = orjson.loads(done.stdout)
    return result


def _statuses(result: dict[str, Any]) -> str:
    """The statuses of the failed requests (0: no HTTP answer), if any."""
    bad = {k: v for k, v in result["statuses"].items() if k != "200"}
    return f" {bad}" if bad else ""


def _measure(
    server: Server, headers: dict[str, str], paths: list[str], seconds: float
) -> dict[str, Any]:
    """One open-loop run, with the server's CPU seconds per request during it."""
    cpu = _server_cpu(server)
    result = open_loop(server.base, headers, paths, RATE, seconds)
    result["server_cpu_ms"] = (_server_cpu(server) - cpu) / len(result["latencies"]) * 1000
    return result


def _report(name: str, result: dict[str, Any], reference: float | None) -> float:
    """Print one line of figures; returns the p99 in ms."""
    lat = result["latencies"]
    p50, p95, p99 = (percentile(lat, p) * 1000 for p in (50, 95, 99))
    ratio = f" = {p99 / reference:.1f}× the baseline's p99" if reference else ""
    print(
        f"  {name}: {len(lat):,} requests at {RATE}/s: p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
        f"p99 {p99:.1f} ms{ratio}, max {max(lat) * 1000:.1f} ms, "
        f"errors {result['errors']}{_statuses(result)} "
        f"(server CPU {result['server_cpu_ms']:.2f} ms per request; "
        f"client lag ≤ {result['send_lag_max'] * 1000:.1f} ms, "
        f"client CPU {result['cpu_seconds']:.1f} s)"
    )
    return p99


def _server_cpu(server: Server) -> float:
    """CPU seconds the server and its worker processes used so far (Linux /proc)."""
    pids = [server.proc.pid]
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def bench_reads(quick: bool) -> None:
    packs = 400 if quick else 8200  # 122 events per pack: 48,800 or 1,000,400 events
    path = large_database(packs)
    url = f"sqlite:///{path}"
    store = open_store(url)
    events = store.head().event_count
    national = keys.create_key(store, NATIONAL, "bench")[1]
    maker = keys.create_key(store, MAKER, "bench")[1]
    rng = random.Random(5)

    def day(p: int) -> date:
        return date(2024, 1, 1) + timedelta(days=p // 5000)

    picks = [rng.randrange(packs) for _ in range(500)]
    codes = [format_battery_code("BTR", "P", "B", "01", "A1B2C3D", day(p), p) for p in picks]
    cells = [
        format_battery_code("BTR", "C", "B", "01", "A1B2C3D", day(p), p * 100 + rng.randrange(100))
        for p in picks
    ]
    base: list[float] = []
    for c in codes[:200]:
        t0 = time.perf_counter()
        trace(store, c)
        base.append(time.perf_counter() - t0)
    store.close()
    print(
        f"reads: {events:,} events ({path}); in-process trace() of a pack: "
        f"median {percentile(base, 50) * 1000:.2f} ms"
    )
    battery_paths = [f"/api/batteries/{c}" for c in codes]
    event_paths = [f"/events?MATCH_epc={quote('urn:gbt34014:' + c, safe='')}" for c in cells]
    duration = 10 if quick else 30
    print(f"  load average at the start (1, 5, 15 min): {_load()}")
    for workers in (1, 2):
        server = Server(url, workers)
        print(f"  -- battrace serve --workers {workers}")
        try:
            open_loop(server.base, {}, ["/health"], RATE, 2)  # warm up every worker
            health = _report(
                "GET /health (baseline)", _measure(server, {}, ["/health"], duration), None
            )
            for who, token in (("national regulator", national), ("battery maker", maker)):
                headers = {"Authorization": f"Bearer {token}"}
                for name, paths in (
                    ("GET /api/batteries/{code}", battery_paths),
                    ("GET /events?MATCH_epc=", event_paths),
                ):
                    open_loop(server.base, headers, paths, RATE, 2)  # warm
                    result = _measure(server, headers, paths, duration)
                    _report(f"{name} ({who})", result, health)
        finally:
            server.stop()
    print(f"  load average at the end (1, 5, 15 min): {_load()}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(quick: bool, parts: tuple[str, ...] = ("capture", "reads")) -> None:
    if "capture" in parts:
        with tempfile.TemporaryDirectory(prefix="battrace-http-") as tmp:
            bench_capture(Path(tmp), quick)
    if "reads" in parts:
        bench_reads(quick)


if __name__ == "__main__":  # pragma: no cover
    # python -m bench.bench_http [--quick] [capture] [reads]
    main(
        "--quick" in sys.argv,
        tuple(a for a in sys.argv[1:] if not a.startswith("--")) or ("capture", "reads"),
    )
