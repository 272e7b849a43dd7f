"""Helpers shared by the benchmarks: temporary stores, timing, table output."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from battrace.persistence.base import Store

PG_URL = os.environ.get("BATTRACE_BENCH_DATABASE_URL") or os.environ.get(
    "BATTRACE_TEST_DATABASE_URL"
)


@contextmanager
def sqlite_store() -> Iterator[Store]:
    from battrace.persistence.sqlite import SqliteStore

    with tempfile.TemporaryDirectory(prefix="battrace-bench-") as tmp:
        store = SqliteStore(f"sqlite:///{Path(tmp) / 'bench.sqlite'}")
        store.migrate()
        try:
            yield store
        finally:
            store.close()


@contextmanager
def pg_store() -> Iterator[Store]:
    """A fresh schema on the benchmark PostgreSQL server (dropped afterwards)."""
    from battrace.persistence.postgres import PostgresStore, normalise_url

    assert PG_URL
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalise_url(PG_URL))
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    store = PostgresStore(PG_URL, search_path=schema)
    store.migrate()
    try:
        yield store
    finally:
        store.close()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def backends() -> list[tuple[str, Callable[[], Any]]]:
    out: list[tuple[str, Callable[[], Any]]] = [("sqlite", sqlite_store)]
    if PG_URL:
        out.append(("postgresql", pg_store))
    else:
        print(
            "(PostgreSQL figures skipped: set BATTRACE_BENCH_DATABASE_URL or BATTRACE_TEST_DATABASE_URL)"
        )
    return out


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.2f} ms"


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
