"""Verification of the whole ledger: every Event Hash ID and the capture hash chain.

Reads captures and events in stored order and recomputes, from the stored text alone:
each event's Event Hash ID (a changed body shows), each capture's digest over its events' leaves
(a changed, deleted, inserted or reordered event shows), and each capture's head from the previous
one (a changed, deleted, inserted or reordered capture shows). The first bad record is named.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import groupby

import orjson

from battrace.domain import chain
from battrace.domain.epcis.hashid import event_hash_id
from battrace.persistence.base import GENESIS, CaptureRow, EventRow, Store


@dataclass(frozen=True, slots=True)
class VerifyReport:
    ok: bool
    captures: int
    events: int
    problem: str | None = None
    head: str = GENESIS


def _fail(captures: int, events: int, problem: str) -> VerifyReport:
    return VerifyReport(False, captures, events, problem)


def verify(store: Store, progress: Callable[[int], None] | None = None) -> VerifyReport:
    head = store.head()
    prev = GENESIS
    n_captures = 0
    n_events = 0
    event_groups: Iterator[tuple[int, Iterator[EventRow]]] = groupby(
        store.iter_events(), key=lambda r: r.capture_seq
    )
    pending = next(event_groups, None)
    last: CaptureRow | None = None
    for cap in store.iter_captures():
        n_captures += 1
        where = f"capture #{cap.seq} ({cap.capture_id})"
        if cap.prev_head != prev:
            return _fail(
                n_captures,
                n_events,
                f"{where}: does not follow the previous capture (a capture before it was changed, "
                "deleted, inserted or reordered)",
            )
        # Events whose capture is missing (deleted capture or inserted events) come first.
        while pending is not None and pending[0] < cap.seq:
            orphan = next(pending[1])
            return _fail(
                n_captures,
                n_events,
                f"event #{orphan.seq} ({orphan.event_id}) belongs to no capture in the chain "
                f"(capture #{pending[0]} is missing)",
            )
        rows: list[EventRow] = []
        if pending is not None and pending[0] == cap.seq:
            rows = list(pending[1])
            pending = next(event_groups, None)
        try:
            context = orjson.loads(cap.context)
        except orjson.JSONDecodeError:
            return _fail(n_captures, n_events, f"{where}: its stored @context is not JSON")
        leaves = []
        for position, row in enumerate(rows):
            ewhere = f"event #{row.seq} ({row.event_id}) of {where}"
            if row.position != position:
                return _fail(
                    n_captures,
                    n_events,
                    f"{ewhere}: out of place (position {row.position}, expected {position})",
                )
            if row.record_time != cap.record_time:
                return _fail(
                    n_captures, n_events, f"{ewhere}: recordTime differs from its capture's"
                )
            try:
                body = orjson.loads(row.body)
                recomputed = event_hash_id(body, context)
            except Exception as exc:
                return _fail(n_captures, n_events, f"{ewhere}: stored body cannot be read ({exc})")
            if recomputed != row.event_id:
                return _fail(
                    n_captures,
                    n_events,
                    f"{ewhere}: content changed (its Event Hash ID is now {recomputed})",
                )
            leaves.append(chain.event_leaf(row.event_id, row.record_time, row.body))
            n_events += 1
        if len(rows) != cap.event_count:
            return _fail(
                n_captures,
                n_events,
                f"{where}: holds {len(rows)} events, but {cap.event_count} were captured",
            )
        digest = chain.capture_digest(leaves)
        if digest != cap.digest:
            return _fail(
                n_captures,
                n_events,
                f"{where}: its events were changed, deleted, inserted or reordered",
            )
        expected = chain.capture_head(
            cap.prev_head,
            cap.capture_id,
            cap.enterprise,
            cap.record_time,
            cap.context,
            cap.event_count,
            cap.digest,
        )
        if expected != cap.head:
            return _fail(n_captures, n_events, f"{where}: the capture record itself was changed")
        prev = cap.head
        last = cap
        if progress:
            progress(len(rows))
    if pending is not None:
        orphan = next(pending[1])
        return _fail(
            n_captures,
            n_events,
            f"event #{orphan.seq} ({orphan.event_id}) belongs to no capture in the chain",
        )
    if last is not None and (head.head != last.head or head.capture_seq != last.seq):
        return _fail(
            n_captures,
            n_events,
            "the ledger head does not match the last capture (captures were deleted at the end)",
        )
    if last is None and head.head != GENESIS:
        return _fail(n_captures, n_events, "the ledger head names captures that are missing")
    if head.event_count != n_events:
        return _fail(
            n_captures,
            n_events,
            f"the ledger head counts {head.event_count} events, {n_events} are stored",
        )
    return VerifyReport(True, n_captures, n_events, None, prev)
