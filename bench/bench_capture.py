"""Bulk capture of a lifecycle data set vs a raw executemany of the same events' JSON.

Target (issue "Traceability core"): battrace's validated, hashed, chained and projected capture
reaches ≥ 25 % of the rate of a raw ``executemany`` of the same events' JSON text into an indexed
table, on the same machine, in the same run. Run: ``python -m bench capture`` (``--quick`` for less).
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import orjson

from battrace.config import Settings
from battrace.demo import generate
from battrace.domain.epcis.document import DEFAULT_CONTEXT
from battrace.services import enterprises as registry
from battrace.services.capture import Ledger, Submission
from bench.common import PG_URL, backends, timed

WINDOW = 10_000


def dataset(
    target_events: int,
) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any], str]]]:
    packs = 10
    while True:
        data = generate(packs=packs, seed=7)
        events = [(u, e, orjson.dumps(e).decode()) for u, e in data.events]
        if len(events) >= target_events:
            return data.enterprises, events[:target_events]
        packs = int(packs * target_events / max(len(events), 1) * 1.1) + 1


def raw_sqlite(events: list[tuple[str, dict[str, Any], str]]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "raw.sqlite", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE raw (seq INTEGER PRIMARY KEY, event_id TEXT UNIQUE, body TEXT)")
        rows = [(i, f"id-{i}", body) for i, (_, _, body) in enumerate(events)]

        def load() -> None:
            for i in range(0, len(rows), WINDOW):
                conn.execute("BEGIN")
                conn.executemany("INSERT INTO raw VALUES (?, ?, ?)", rows[i : i + WINDOW])
                conn.execute("COMMIT")

        seconds, _ = timed(load)
        conn.close()
    return len(events) / seconds


def raw_postgres(events: list[tuple[str, dict[str, Any], str]]) -> float:
    import psycopg

    from battrace.persistence.postgres import normalise_url

    assert PG_URL
    url = normalise_url(PG_URL).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw")
        conn.execute(
            "CREATE TABLE bench_raw (seq BIGINT PRIMARY KEY, event_id TEXT UNIQUE, body TEXT)"
        )
        conn.commit()
        rows = [(i, f"id-{i}", body) for i, (_, _, body) in enumerate(events)]

        def load() -> None:
            with conn.cursor() as cur:
                for i in range(0, len(rows), WINDOW):
                    cur.executemany(
                        "INSERT INTO bench_raw VALUES (%s, %s, %s)", rows[i : i + WINDOW]
                    )
                    conn.commit()

        seconds, _ = timed(load)
        conn.execute("DROP TABLE bench_raw")
        conn.commit()
    return len(events) / seconds


def battrace_capture(
    store_factory: Any,
    enterprises: list[dict[str, Any]],
    events: list[tuple[str, dict[str, Any], str]],
) -> float:
    with store_factory() as store:
        registry.register(store, enterprises)
        ledger = Ledger(store, Settings.from_env(store.url))

        def load() -> None:
            for i in range(0, len(events), WINDOW):
                groups: dict[str, tuple[list[Any], list[str]]] = {}
                for uscc, ev, body in events[i : i + WINDOW]:
                    evs, bodies = groups.setdefault(uscc, ([], []))
                    evs.append(ev)
                    bodies.append(body)
                subs = [Submission(u, DEFAULT_CONTEXT, e, b) for u, (e, b) in groups.items()]
                for result in ledger.capture_many(subs):
                    assert result.ok, result.rejected[:3]

        seconds, _ = timed(load)
        assert store.head().event_count == len(events)
    return len(events) / seconds


def main(quick: bool) -> None:
    n = 20_000 if quick else 100_000
    enterprises, events = dataset(n)
    print(f"data set: {len(events):,} lifecycle events, {len(enterprises)} enterprises")
    print(
        f"{'backend':<12}{'raw executemany ev/s':>22}{'battrace ev/s':>16}{'ratio':>8}  target ≥ 0.25"
    )
    for name, factory in backends():
        raw = raw_sqlite(events) if name == "sqlite" else raw_postgres(events)
        ours = battrace_capture(factory, enterprises, events)
        print(f"{name:<12}{raw:>22,.0f}{ours:>16,.0f}{ours / raw:>8.3f}")
