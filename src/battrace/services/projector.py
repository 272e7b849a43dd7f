"""Keeps the per-object projections (state, holder, parent …) in step with the ledger.

Projections are ordered by ``eventTime``, not by arrival. New events that are not earlier than
what an object has already seen are applied incrementally (the common case, cheap); an object that
receives an event earlier than its last one — a late report — or that is named by an error
declaration is re-derived from all its stored events. This runs inside the capture's transaction,
so the projection is never out of step with the committed ledger.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from operator import attrgetter

import orjson

from battrace.domain.epcis.event import Event, parse_event
from battrace.domain.lifecycle.builders import MASS_KG, RATED_ENERGY_KWH
from battrace.domain.lifecycle.projection import ObjectView, apply, new_view, replay
from battrace.persistence.base import EventRow, InconsistencyRow, WriteTxn

# Stored events were checked against the clock when captured; a replay must not re-judge them.
_FOREVER = timedelta(days=365_000)


_TIME_TEXT: dict[datetime, str] = {}


def time_text(moment: datetime) -> str:
    """The fixed-width UTC text of an aware datetime (``2025-03-01T08:00:00.000000Z``).

    Memoised: a bulk capture formats the same event times over and over (an event that names
    100 cells gives each of their views that time).
    """
    text = _TIME_TEXT.get(moment)
    if text is None:
        if len(_TIME_TEXT) >= 100_000:
            _TIME_TEXT.clear()
        utc = moment.astimezone(UTC)
        if utc.year >= 1000:  # isoformat is several times cheaper than strftime
            text = utc.isoformat(timespec="microseconds")[:-6] + "Z"
        else:  # strftime does not zero-pad such years: keep its text
            text = utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        _TIME_TEXT[moment] = text
    return text


def _number(value: object) -> float | None:
    """A JSON number as a float; anything else (text, bool, absent) as no value."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def view_row(view: ObjectView) -> tuple[object, ...]:
    """The ``objects`` row of a view (column order of ``persistence.sql.OBJECT_COLUMNS``)."""
    last = view.last_event_time
    attrs = view.attributes
    return (
        view.epc,
        view.kind,
        view.state,
        view.holder,
        view.location,
        view.parent,
        None if last is None else time_text(last),
        _number(attrs.get(RATED_ENERGY_KWH)),
        _number(attrs.get(MASS_KG)),
        # orjson serialises the slotted dataclass field by field, exactly like to_row().
        orjson.dumps(view).decode(),
    )


def event_from_row(row: EventRow) -> Event:
    """Re-read a stored event for replay; it was validated when captured."""
    ev = parse_event(orjson.loads(row.body), f"event {row.event_id}", future_tolerance=_FOREVER)
    ev.event_id = row.event_id
    return ev


class Projector:
    def __init__(self, txn: WriteTxn, detected_at: str) -> None:
        self.txn = txn
        self.detected_at = detected_at

    def apply(self, events: Sequence[Event]) -> None:
        ordered = sorted(events, key=attrgetter("event_time"))  # stable: arrival order on ties
        affected = {epc for ev in ordered for epc, _ in ev.epcs_with_roles()}
        if not affected:
            return
        views = {
            epc: ObjectView.from_row(orjson.loads(text))
            for epc, text in self.txn.load_views(affected).items()
        }
        to_replay: set[str] = set()
        found: list[InconsistencyRow] = []
        get_view = views.get
        for ev in ordered:
            pairs = ev.epcs_with_roles()
            if ev.error_declaration is not None:
                to_replay.update(epc for epc, _ in pairs)
                continue
            event_time = ev.event_time
            for epc, role in pairs:
                view = get_view(epc)
                if view is None:
                    if to_replay and epc in to_replay:
                        continue
                    view = views[epc] = new_view(epc)
                else:
                    if to_replay and epc in to_replay:
                        continue
                    last = view.last_event_time
                    if last is not None and event_time < last:
                        to_replay.add(epc)
                        continue
                reasons = apply(view, ev, role)
                if reasons:
                    found.extend(
                        InconsistencyRow(epc, ev.event_id, reason, self.detected_at)
                        for reason in reasons
                    )
        if to_replay:
            replayed = self._replay(to_replay)
            views.update(replayed[0])
            found = [f for f in found if f.epc not in to_replay]
            self.txn.replace_inconsistencies(to_replay, replayed[1])
        self.txn.upsert_views([view_row(v) for v in views.values() if v.epc in affected])
        self.txn.add_inconsistencies(found)

    def _replay(self, epcs: set[str]) -> tuple[dict[str, ObjectView], list[InconsistencyRow]]:
        stored = self.txn.events_of(epcs)
        retracted = self.txn.declared_ids({row.event_id for _, _, row in stored})
        by_epc: dict[str, list[tuple[Event, str]]] = defaultdict(list)
        cache: dict[int, Event] = {}
        for epc, role, row in stored:
            if row.event_id in retracted:
                continue
            ev = cache.get(row.seq)
            if ev is None:
                ev = cache[row.seq] = event_from_row(row)
            by_epc[epc].append((ev, role))
        views: dict[str, ObjectView] = {}
        rows: list[InconsistencyRow] = []
        for epc in epcs:
            view, reasons = replay(epc, by_epc.get(epc, []))
            views[epc] = view
            rows.extend(InconsistencyRow(epc, eid, r, self.detected_at) for eid, r in reasons)
        return views, rows
