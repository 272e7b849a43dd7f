"""Concurrency over real HTTP: 8 clients capture for 30 s against the server with 2 worker processes
on one SQLite ledger — no lost or duplicated event, no 5xx, and `verify` passes afterwards.

Each client commissions its own codes in documents of 20 events and re-sends every fifth
document (all duplicates the second time). Duration: ``BATTRACE_CONCURRENCY_SECONDS`` (30).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import text

from battrace.domain.epcis.hashid import event_hash_id
from battrace.domain.identities.gbt34014 import format_battery_code
from battrace.domain.lifecycle import builders as b
from battrace.persistence.sqlite import SqliteStore
from battrace.services import keys
from battrace.services.verify import verify
from tests import scenario as sc
from tests.http import cast

CLIENTS = 8
SECONDS = float(os.environ.get("BATTRACE_CONCURRENCY_SECONDS", "30"))
PER_DOCUMENT = 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _document(client: int, n: int) -> tuple[bytes, list[str]]:
    site = sc.site(sc.MAKER)
    t0 = datetime(2024, 3, 5, tzinfo=UTC)
    events = []
    for i in range(PER_DOCUMENT):
        serial = client * 1_000_000 + n * PER_DOCUMENT + i
        code = format_battery_code("ABC", "C", "B", "01", "A1B2C3D", date(2024, 3, 5), serial)
        events.append(b.commission([code], site=site, time=t0 + timedelta(seconds=i)))
    return orjson.dumps(b.document(events)), [event_hash_id(e, b.CONTEXT) for e in events]


@pytest.mark.slow
def test_eight_clients_capturing_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    store = SqliteStore(url)
    store.migrate()
    cast.register(store)
    token = keys.create_key(store, sc.MAKER, "load")[1]
    port = _free_port()
    env = {
        **os.environ,
        "BATTRACE_DATABASE_URL": url,
        "BATTRACE_RATE_LIMIT": "100000",
        "BATTRACE_RATE_BURST": "100000",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "battrace.web.server",
            "--db",
            url,
            "--workers",
            "2",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            assert server.poll() is None, "server exited"
            time.sleep(0.2)

        sent: list[list[str]] = [[] for _ in range(CLIENTS)]
        failures: list[str] = []
        stop = time.monotonic() + SECONDS
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/ld+json"}

        def client(k: int) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                n = 0
                while time.monotonic() < stop and not failures:
                    body, ids = _document(k, n)
                    for attempt in range(2 if n % 5 == 0 else 1):
                        r = http.post("/capture", content=body)
                        job = r.json()
                        if r.status_code != 202 or not job["success"]:
                            failures.append(f"client {k} doc {n}: {r.status_code} {r.text[:300]}")
                            return
                        want = (PER_DOCUMENT, 0) if attempt == 0 else (0, PER_DOCUMENT)
                        if (job["captured"], job["duplicates"]) != want:
                            failures.append(f"client {k} doc {n} attempt {attempt}: {job}")
                            return
                    sent[k] += ids
                    n += 1

        threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not failures, failures[:3]
    finally:
        server.terminate()
        server.wait(timeout=30)

    all_sent = [i for ids in sent for i in ids]
    assert all(sent), "every client got events in"
    assert len(all_sent) == len(set(all_sent))
    with store.engine.connect() as conn:
        stored = [r[0] for r in conn.execute(text("SELECT event_id FROM events"))]
        jobs = conn.execute(text("SELECT count(*), sum(captured) FROM capture_jobs")).one()
    assert len(stored) == len(set(stored)), "an event was stored twice"
    assert set(stored) == set(all_sent), "an acknowledged event is missing"
    assert jobs[1] == len(all_sent)
    report = verify(store)
    assert report.ok, report.problem
    assert report.events == len(all_sent)
    store.close()


def test_workers_answer_without_the_delayed_ack_stall(tmp_path: Path) -> None:
    """With several workers the listening socket is a proper TCP socket, so responses (headers,
    then body) are not held back by Nagle's algorithm until the client's delayed ACK (~40 ms)."""
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    SqliteStore(url).migrate()
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "battrace.web.server",
            "--db",
            url,
            "--workers",
            "2",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if http.get("/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.1)
            times = []
            for _ in range(20):
                start = time.perf_counter()
                assert http.get("/health").status_code == 200
                times.append(time.perf_counter() - start)
        assert sorted(times)[10] < 0.02, f"median {sorted(times)[10] * 1000:.0f} ms"
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0
