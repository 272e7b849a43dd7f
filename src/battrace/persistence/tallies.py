"""Running tallies behind the regulator overview (tables in ``schema_tallies``, migration 0008).

The write transaction (``sql.SqlWriteTxn``) keeps them: it knows each pack's previous state,
holder and ratings from reading the views it is about to replace, so it adds the differences of a
whole batch in one small upsert, inside the same transaction as the rows they count.

Why not database triggers: measured on SQLite, any row trigger on ``events`` — even an empty one —
added 20–30 µs to every inserted event (the insert itself is 7–15 µs), 10–20 % of capture; the
batch deltas here cost about a microsecond a row. Tools that write the tables directly (bulk
loaders, benchmarks, repairs) call :func:`rebuild`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Final

from sqlalchemy import Connection, text

#: The pack test of the overview: a 24-character GB/T 34014 code whose product type is ``P``.
PACK_SQL: Final = "kind = 'battery' AND length(epc) = 37 AND substr(epc, 17, 1) = 'P'"

#: (state, holder or '') → [packs, kWh, kg]
PackDeltas = dict[tuple[str, str], list[float]]
#: (month, bizStep or '', reporter) → events
EventDeltas = Counter[tuple[str, str, str]]
#: What a pack counts as: (state, holder or '', kWh or 0, kg or 0).
PackEntry = tuple[str, str, float, float]

_ADD_PACKS: Final = text(
    "INSERT INTO pack_tallies (state, holder, packs, kwh, kg) "
    "VALUES (:state, :holder, :packs, :kwh, :kg) "
    "ON CONFLICT (state, holder) DO UPDATE SET packs = pack_tallies.packs + excluded.packs, "
    "kwh = pack_tallies.kwh + excluded.kwh, kg = pack_tallies.kg + excluded.kg"
)
_ADD_EVENTS: Final = text(
    "INSERT INTO event_tallies (month, biz_step, reporter, events) "
    "VALUES (:month, :biz_step, :reporter, :events) "
    "ON CONFLICT (month, biz_step, reporter) DO UPDATE "
    "SET events = event_tallies.events + excluded.events"
)


def is_pack_code(epc: str) -> bool:
    """A 24-character GB/T 34014 code URI whose product type is ``P`` (``PACK_SQL``'s test)."""
    return len(epc) == 37 and epc[16] == "P"


def is_pack(kind: str, epc: str) -> bool:
    return kind == "battery" and is_pack_code(epc)


def pack_entry(state: str, holder: str | None, kwh: float | None, kg: float | None) -> PackEntry:
    return (state, holder or "", kwh or 0.0, kg or 0.0)


def pack_deltas(changes: Iterable[tuple[PackEntry | None, PackEntry | None]]) -> PackDeltas:
    """Net differences of (before, after) pairs; None = the pack was not there (or is gone)."""
    out: PackDeltas = {}
    for before, after in changes:
        if before == after:
            continue
        for entry, sign in ((before, -1), (after, 1)):
            if entry is not None:
                acc = out.setdefault((entry[0], entry[1]), [0, 0.0, 0.0])
                acc[0] += sign
                acc[1] += sign * entry[2]
                acc[2] += sign * entry[3]
    return {key: acc for key, acc in out.items() if acc != [0, 0.0, 0.0]}


def event_deltas(events: Iterable[tuple[str, str | None, str, bool]]) -> EventDeltas:
    """Counts of (event time text, bizStep, reporter, is declaration) by month, step, reporter."""
    return Counter(
        (event_time[:7], biz_step or "", reporter)
        for event_time, biz_step, reporter, declaration in events
        if not declaration
    )


def add_packs(conn: Connection, deltas: PackDeltas) -> None:
    if deltas:
        conn.execute(
            _ADD_PACKS,
            [
                {"state": s, "holder": h, "packs": int(n), "kwh": kwh, "kg": kg}
                for (s, h), (n, kwh, kg) in sorted(deltas.items())
            ],
        )


def add_events(conn: Connection, deltas: EventDeltas) -> None:
    if deltas:
        conn.execute(
            _ADD_EVENTS,
            [
                {"month": m, "biz_step": b, "reporter": r, "events": n}
                for (m, b, r), n in sorted(deltas.items())
            ],
        )


def rebuild(conn: Connection) -> None:
    """Recount both tallies from the tables (after writes that bypassed the write transaction)."""
    conn.execute(text("DELETE FROM pack_tallies"))
    conn.execute(text("DELETE FROM event_tallies"))
    conn.execute(
        text(
            "INSERT INTO pack_tallies (state, holder, packs, kwh, kg) "
            "SELECT state, coalesce(holder, ''), count(*), "
            "sum(coalesce(rated_kwh, 0)), sum(coalesce(mass_kg, 0)) "
            f"FROM objects WHERE {PACK_SQL} GROUP BY 1, 2"
        )
    )
    conn.execute(
        text(
            "INSERT INTO event_tallies (month, biz_step, reporter, events) "
            "SELECT substr(event_time, 1, 7), coalesce(biz_step, ''), reporter, count(*) "
            "FROM events WHERE is_declaration = 0 GROUP BY 1, 2, 3"
        )
    )


def old_entries(rows: Sequence[Any]) -> dict[str, PackEntry]:
    """Pack entries of ``objects`` rows (epc, kind, state, holder, rated_kwh, mass_kg)."""
    return {r[0]: pack_entry(r[2], r[3], r[4], r[5]) for r in rows if is_pack(r[1], r[0])}
