"""The overview tallies (migration 0008) equal a count from scratch, on both backends, whatever
path wrote the rows: capture, a projection update, a delete, a bulk insert."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import text

from battrace.config import Settings
from battrace.persistence import tallies
from battrace.persistence.base import Store
from battrace.persistence.sql import OBJECT_COLUMNS
from battrace.services.demo_loader import load_demo

PACK = "kind = 'battery' AND length(epc) = 37 AND substr(epc, 17, 1) = 'P'"


def _tallies(conn: Any) -> tuple[dict[Any, tuple[int, float, float]], dict[Any, int]]:
    packs = {
        (r[0], r[1]): (int(r[2]), round(float(r[3]), 6), round(float(r[4]), 6))
        for r in conn.execute(
            text("SELECT state, holder, packs, kwh, kg FROM pack_tallies WHERE packs <> 0")
        )
    }
    events = {
        (r[0], r[1], r[2]): int(r[3])
        for r in conn.execute(
            text("SELECT month, biz_step, reporter, events FROM event_tallies WHERE events <> 0")
        )
    }
    return packs, events


def _from_scratch(conn: Any) -> tuple[dict[Any, tuple[int, float, float]], dict[Any, int]]:
    packs = {
        (r[0], r[1]): (int(r[2]), round(float(r[3]), 6), round(float(r[4]), 6))
        for r in conn.execute(
            text(
                "SELECT state, coalesce(holder, ''), count(*), "
                "sum(coalesce(rated_kwh, 0)), sum(coalesce(mass_kg, 0)) "
                f"FROM objects WHERE {PACK} GROUP BY 1, 2"
            )
        )
    }
    events = {
        (r[0], r[1], r[2]): int(r[3])
        for r in conn.execute(
            text(
                "SELECT substr(event_time, 1, 7), coalesce(biz_step, ''), reporter, count(*) "
                "FROM events WHERE is_declaration = 0 GROUP BY 1, 2, 3"
            )
        )
    }
    return packs, events


def _assert_exact(store: Store) -> None:
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        assert _tallies(conn) == _from_scratch(conn)


@pytest.fixture
def loaded(store: Store) -> Store:
    store.migrate()
    load_demo(store, Settings.from_env(store.url), packs=6, seed=2)
    return store


def test_tallies_match_a_count_from_scratch_after_capture(loaded: Store) -> None:
    with loaded.engine.connect() as conn:  # type: ignore[attr-defined]
        packs, events = _tallies(conn)
    assert sum(n for n, _kwh, _kg in packs.values()) >= 6  # demo packs (and replacements)
    assert sum(kwh for _n, kwh, _kg in packs.values()) > 0
    assert sum(events.values()) > 6
    _assert_exact(loaded)
    # The projection writes the ratings columns from the view's JSON numbers.
    with loaded.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(text("SELECT view, rated_kwh, mass_kg FROM objects")).all()
    for view, kwh, kg in rows:
        attrs = orjson.loads(view)["attributes"]
        assert kwh == attrs.get("ratedEnergyKWh") and kg == attrs.get("massKg")
    assert any(kwh for _view, kwh, _kg in rows)


def test_tallies_follow_projection_updates_in_the_write_transaction(loaded: Store) -> None:
    engine: Any = loaded.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT {', '.join(OBJECT_COLUMNS)} FROM objects WHERE {PACK} ORDER BY epc")
        ).all()
    first, second = tuple(rows[0]), tuple(rows[1])
    moved = (*first[:2], "recycled", "urn:uscc:X", *first[4:7], 10.5, None, first[9])
    with loaded.write() as txn:
        txn.load_views([first[0]])  # read before replacing, as the projector does
        txn.upsert_views([moved])
        txn.upsert_views([(*moved[:2], "dismantled", *moved[3:])])  # twice in one transaction
        # Not read first: the transaction asks what it counted as.
        txn.upsert_views([(*second[:2], "cascade_use", *second[3:])])
        new_pack = (first[0][:-1] + ("0" if first[0][-1] != "0" else "1"), *first[1:])
        txn.upsert_views([new_pack])
    _assert_exact(loaded)


def test_rebuild_recounts_after_direct_writes(loaded: Store) -> None:
    engine: Any = loaded.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE objects SET state = 'recycled' WHERE {PACK}"))
        conn.execute(text("DELETE FROM event_tallies WHERE month < '2025'"))
    with engine.connect() as conn:
        assert _tallies(conn) != _from_scratch(conn)
    with engine.begin() as conn:
        tallies.rebuild(conn)
    _assert_exact(loaded)
