"""Tampering with any stored event or capture makes `verify` fail and name it (both backends)."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest
from sqlalchemy import Engine

from battrace.domain.lifecycle import builders as b
from battrace.persistence.base import Store
from battrace.services.capture import Ledger
from battrace.services.verify import verify
from tests import scenario as sc


def _engine(store: Store) -> Engine:
    return store.engine  # type: ignore[attr-defined, no-any-return]


@pytest.fixture
def filled(store: Store) -> Store:
    sc.register_all(store)
    ledger = Ledger(store)
    assert ledger.capture_document(sc.doc(*sc.production()), sc.MAKER).ok
    assert ledger.capture_document(
        sc.doc(b.install(sc.PACK, sc.VIN, site=sc.site(sc.AUTOMAKER), time=sc.at(10))), sc.AUTOMAKER
    ).ok
    assert ledger.capture_document(
        sc.doc(b.sell(sc.VIN, sc.PACK, site=sc.site(sc.DEALER), time=sc.at(20))), sc.DEALER
    ).ok
    assert verify(store).ok
    return store


def _sql(store: Store, *statements: str) -> None:
    with _engine(store).begin() as conn:
        for s in statements:
            conn.exec_driver_sql(s)


def _edit_body(store: Store, key: str, value: str) -> None:
    with _engine(store).begin() as conn:
        ev = orjson.loads(
            conn.exec_driver_sql("SELECT body FROM events WHERE seq = 2").scalar_one()
        )
        ev[key] = value
        text = orjson.dumps(ev).decode().replace("'", "''")
        conn.exec_driver_sql(f"UPDATE events SET body = '{text}' WHERE seq = 2")


CASES: dict[str, tuple[Callable[[Store], None], str]] = {
    "event content changed": (
        lambda s: _edit_body(s, "eventTime", "2024-03-05T11:00:00.000+08:00"),
        "event #2",
    ),
    # A field the Event Hash ID ignores: the chain's leaf still covers the stored text.
    "ignored field changed": (lambda s: _edit_body(s, "comment", "edited"), "capture #1"),
    "event deleted": (lambda s: _sql(s, "DELETE FROM events WHERE seq = 3"), "capture #1"),
    "event inserted": (
        lambda s: _sql(
            s,
            "INSERT INTO events (seq, event_id, capture_seq, position, record_time, event_time, "
            "event_type, reporter, is_declaration, body) SELECT 100, event_id || 'x', capture_seq, 5, "
            "record_time, event_time, event_type, reporter, 0, body FROM events WHERE seq = 1",
        ),
        "event #100",
    ),
    "events reordered": (
        lambda s: _sql(
            s,
            "UPDATE events SET position = 99 WHERE seq = 1",
            "UPDATE events SET position = 0 WHERE seq = 2",
            "UPDATE events SET position = 1 WHERE seq = 1",
        ),
        "capture #1",
    ),
    "capture deleted": (
        lambda s: _sql(
            s, "DELETE FROM events WHERE capture_seq = 2", "DELETE FROM captures WHERE seq = 2"
        ),
        "capture #3",
    ),
    "last capture deleted": (
        lambda s: _sql(
            s, "DELETE FROM events WHERE capture_seq = 3", "DELETE FROM captures WHERE seq = 3"
        ),
        "head",
    ),
    "capture record changed": (
        lambda s: _sql(s, "UPDATE captures SET enterprise = 'X' WHERE seq = 2"),
        "capture #2",
    ),
    "captures reordered": (
        lambda s: _sql(
            s,
            "UPDATE captures SET seq = 99 WHERE seq = 2",
            "UPDATE captures SET seq = 2 WHERE seq = 3",
            "UPDATE captures SET seq = 3 WHERE seq = 99",
            "UPDATE events SET capture_seq = 99 WHERE capture_seq = 2",
            "UPDATE events SET capture_seq = 2 WHERE capture_seq = 3",
            "UPDATE events SET capture_seq = 3 WHERE capture_seq = 99",
        ),
        "capture #2",
    ),
    "event moved to another capture": (
        lambda s: _sql(s, "UPDATE events SET capture_seq = 2, position = 1 WHERE seq = 5"),
        "capture #1",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_tampering_is_detected_and_named(filled: Store, case: str) -> None:
    tamper, named = CASES[case]
    tamper(filled)
    report = verify(filled)
    assert not report.ok
    assert report.problem is not None and named in report.problem, report.problem
