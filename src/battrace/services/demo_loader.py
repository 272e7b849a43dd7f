"""Loading the synthetic demo data set through the real capture path.

The demo is judged as of its own time, as an operator import of a backlog would be: each group of
events is captured ``imported`` with the group's latest event time as its record time (groups span
at most ``GROUP_SPAN`` of event time, far less than the shortest reporting deadline, 15 working
days), so no report is late merely because the demo is loaded today. The regulation engine is
attached (services.ledgers), so the demo's alerts are those its data deserves.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from battrace.config import Settings
from battrace.demo import generate
from battrace.domain.epcis.document import DEFAULT_CONTEXT
from battrace.domain.epcis.event import parse_timestamp
from battrace.domain.errors import InvalidInput
from battrace.persistence.base import Store
from battrace.services import enterprises as registry
from battrace.services.capture import Submission
from battrace.services.ledgers import ledger_for

WINDOW = 5_000  # events per transaction; each reporter's share of a window is one capture
GROUP_SPAN = timedelta(days=7)  # of event time per transaction (record time = its latest)


def load_demo(
    store: Store, settings: Settings, *, packs: int, seed: int, console: Console | None = None
) -> str:
    data = generate(packs=packs, seed=seed)
    registry.register(store, data.enterprises)
    ledger = ledger_for(store, settings)
    buffers: dict[str, list[dict[str, Any]]] = {}
    pending = 0
    total = 0
    first: datetime | None = None  # event time of the group's first and latest events
    latest: datetime | None = None

    def flush() -> None:
        nonlocal pending, total, first, latest
        subs = [
            Submission(uscc, DEFAULT_CONTEXT, evs, [orjson.dumps(e).decode() for e in evs], "demo")
            for uscc, evs in buffers.items()
            if evs
        ]
        results = ledger.capture_many(subs, imported=True, record_time=latest)
        problems = [p for r in results for p in r.rejected if p.field != "capture"]
        if problems:
            raise InvalidInput("demo", f"generated data was rejected: {problems[0]}")
        total += sum(r.captured for r in results)
        buffers.clear()
        pending = 0
        first = latest = None

    with Progress(
        TextColumn("loading demo packs"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=console is None or not console.is_terminal,
    ) as progress:
        task = progress.add_task("demo", total=packs)
        done_packs = 0
        for uscc, event in data.events:
            when = parse_timestamp(event["eventTime"], "eventTime")
            if first is not None and (pending >= WINDOW or when - first > GROUP_SPAN):
                flush()
            buffers.setdefault(uscc, []).append(event)
            pending += 1
            first = first or when
            latest = when if latest is None else max(latest, when)
            if event.get("bizStep") == "installing" and done_packs < packs:
                done_packs += 1
                progress.update(task, completed=done_packs)
        if pending:
            flush()
    store.optimize()
    return (
        f"demo loaded: {len(data.enterprises)} enterprises, {packs} packs, {total:,} events "
        f"(seed {seed})"
    )
