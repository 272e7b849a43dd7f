"""Per-key rate limits hold across the worker processes of one server: the buckets live in shared
memory (web/ratelimit.py SharedRateLimiter), so N workers do not multiply a key's limit by N."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from battrace.persistence.sqlite import SqliteStore
from battrace.services import keys
from battrace.web.ratelimit import SharedRateLimiter
from tests.http import cast
from tests.http.test_concurrency import _free_port


def _take_many(limiter: SharedRateLimiter, key: str, n: int, out: multiprocessing.Queue) -> None:
    out.put(sum(1 for _ in range(n) if limiter.take(key) == 0.0))


def test_processes_share_one_bucket_per_key() -> None:
    ctx = multiprocessing.get_context("spawn")
    limiter = SharedRateLimiter(0.001, 10, ctx, slots=64)
    results: multiprocessing.Queue = ctx.Queue()
    procs = [ctx.Process(target=_take_many, args=(limiter, "k1", 40, results)) for _ in range(3)]
    for p in procs:
        p.start()
    allowed = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert sum(allowed) == 10  # one burst for the key, however many processes take from it
    # Another key has its own bucket, and waiting refills it at the configured rate.
    assert limiter.take("k2") == 0.0
    assert limiter.take("k1") > 0


def test_a_full_neighbourhood_reuses_the_stalest_bucket() -> None:
    limiter = SharedRateLimiter(1000.0, 2, multiprocessing.get_context("spawn"), slots=4)
    for i in range(50):  # far more keys than slots: never an error, each key starts full
        assert limiter.take(f"key-{i}") == 0.0


def test_a_key_limit_is_not_multiplied_by_the_workers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    store = SqliteStore(url)
    store.migrate()
    cast.register(store)
    token = keys.create_key(store, cast.NATIONAL, "tests")[1]
    store.close()
    port = _free_port()
    env = {**os.environ, "BATTRACE_RATE_LIMIT": "1", "BATTRACE_RATE_BURST": "5"}
    command = [sys.executable, "-m", "battrace.web.server", "--db", url, "--workers", "2"]
    command.extend(["--port", str(port), "--log-level", "warning"])
    server = subprocess.Popen(command, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None
            time.sleep(0.1)
        headers = {"Authorization": f"Bearer {token}"}
        start = time.monotonic()
        # A new connection per request, so the kernel spreads them over both workers.
        codes = [
            httpx.get(f"{base}/api/enterprises", headers=headers).status_code for _ in range(20)
        ]
        elapsed = time.monotonic() - start
        allowed = codes.count(200)
        assert set(codes) <= {200, 429}
        assert 5 <= allowed <= 5 + int(elapsed) + 1, (allowed, elapsed)  # burst + refill
    finally:
        server.terminate()
        server.wait(timeout=30)
