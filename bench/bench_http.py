"""The HTTP interface under load (uvicorn, real sockets on loopback).

Targets (issue "EPCIS 2.0 HTTP interface"):

1. Capture over HTTP of 1,000-event documents from 4 concurrent clients: ≥ 50 % of the rate of
   capturing the same documents in-process (``Ledger.capture_document``, measured in the same run),
   and ≥ 20,000 events/s.
2. ``GET /api/batteries/{code}`` on a ≥ 1,000,000-event database at 200 requests/s: p99 ≤ 20 ms,
   no errors. Baseline in the same run: ``trace()`` in-process on the same database.
3. ``GET /events?MATCH_epc=…`` on the same database: p99 ≤ 20 ms.

Latencies are measured open-loop (each request is due at its slot of the 200/s schedule and its
latency counts from that slot, so a slow server cannot hide its queueing). The load generator
runs in this process, the server in another (``--workers 2`` unless said otherwise); on a 2-core
machine they share the cores. ``--quick`` uses a ~50,000-event database and fewer documents.
Run: ``python -m bench http`` (``--quick``).
"""

from __future__ import annotations

import http.client
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
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


def open_loop(
    base: str, headers: dict[str, str], paths: list[str], rate: int, seconds: float
) -> tuple[list[float], int]:
    """Issue ``rate`` requests per second for ``seconds``; latency from each request's slot.

    The client is the standard library's ``http.client`` (one keep-alive connection per thread):
    it costs the shared cores far less than a full-featured client would."""
    host, port = base.removeprefix("http://").split(":")
    local = threading.local()

    def conn() -> http.client.HTTPConnection:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection(host, int(port), timeout=30)
        return local.conn  # type: ignore[no-any-return]

    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def one(path: str, due: float) -> None:
        nonlocal errors
        c = conn()
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        r.read()
        done = time.perf_counter()
        with lock:
            latencies.append(done - due)
            if r.status != 200:
                errors += 1

    n = int(rate * seconds)
    with ThreadPoolExecutor(max_workers=32) as pool:
        start = time.perf_counter() + 0.1
        for i in range(n):
            due = start + i / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            pool.submit(one, paths[i % len(paths)], due)
    return latencies, errors


def _report(name: str, lat: list[float], errors: int, base_ms: float) -> None:
    p50 = percentile(lat, 50) * 1000
    p99 = percentile(lat, 99) * 1000
    print(
        f"  {name}: {len(lat):,} requests at {RATE}/s: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
        f"max {max(lat) * 1000:.1f} ms, errors {errors} (target p99 ≤ 20 ms); "
        f"in-process baseline median {base_ms:.2f} ms"
    )


def bench_reads(tmp: Path, quick: bool) -> None:
    packs = 400 if quick else 8200  # 122 events per pack
    url = f"sqlite:///{tmp / 'large.sqlite'}"
    jsonl = tmp / "production.jsonl"
    events = write_jsonl(jsonl, packs)
    cli(url, "init")
    cli(url, "enterprise", "add", MAKER, "--name-zh", "基准电池", "--roles", "battery_maker",
        "--codes", "BTR", "--sites", "plant1")  # fmt: skip
    seconds, _ = cli(url, "capture", str(jsonl), "--as", MAKER)
    print(f"reads: database of {events:,} events (captured in {seconds:.0f} s by the CLI)")
    store = open_store(url)
    registry.register(
        store,
        [{"uscc": NATIONAL, "name_zh": "工业和信息化部", "roles": "regulator_national"}],
    )
    start = time.perf_counter()
    indexed = refresh_index(store)
    print(f"  read-scope index: {indexed:,} events in {time.perf_counter() - start:.0f} s")
    national = keys.create_key(store, NATIONAL)[1]
    maker = keys.create_key(store, MAKER)[1]

    rng = random.Random(5)
    day = lambda p: date(2024, 1, 1) + timedelta(days=p // 5000)  # noqa: E731
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
    base_ms = percentile(base, 50) * 1000
    store.close()

    duration = 10 if quick else 30
    server = Server(url, 2)
    try:
        for who, token in (("national regulator", national), ("battery maker", maker)):
            headers = {"Authorization": f"Bearer {token}"}
            open_loop(server.base, headers, [f"/api/batteries/{c}" for c in codes], RATE, 2)  # warm
            lat, errors = open_loop(
                server.base, headers, [f"/api/batteries/{c}" for c in codes], RATE, duration
            )
            _report(f"GET /api/batteries/{{code}} ({who})", lat, errors, base_ms)
            paths = [f"/events?MATCH_epc={quote('urn:gbt34014:' + c, safe='')}" for c in cells]
            lat, errors = open_loop(server.base, headers, paths, RATE, duration)
            _report(f"GET /events?MATCH_epc= ({who})", lat, errors, base_ms)
    finally:
        server.stop()


def main(quick: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="battrace-http-") as tmp:
        bench_capture(Path(tmp), quick)
        bench_reads(Path(tmp), quick)


if __name__ == "__main__":  # pragma: no cover
    main("--quick" in sys.argv)
