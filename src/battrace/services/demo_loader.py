"""Loading the synthetic demo data set through the real capture path."""

from __future__ import annotations

from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from battrace.config import Settings
from battrace.demo import generate
from battrace.domain.epcis.document import DEFAULT_CONTEXT
from battrace.domain.errors import InvalidInput
from battrace.persistence.base import Store
from battrace.services import enterprises as registry
from battrace.services.capture import Ledger, Submission

WINDOW = 5_000  # events per transaction; each reporter's share of a window is one capture


def load_demo(
    store: Store, settings: Settings, *, packs: int, seed: int, console: Console | None = None
) -> str:
    data = generate(packs=packs, seed=seed)
    registry.register(store, data.enterprises)
    ledger = Ledger(store, settings)
    buffers: dict[str, list[dict[str, Any]]] = {}
    pending = 0
    total = 0

    def flush() -> None:
        nonlocal pending, total
        subs = [
            Submission(uscc, DEFAULT_CONTEXT, evs, [orjson.dumps(e).decode() for e in evs], "demo")
            for uscc, evs in buffers.items()
            if evs
        ]
        results = ledger.capture_many(subs)
        problems = [p for r in results for p in r.rejected if p.field != "capture"]
        if problems:
            raise InvalidInput("demo", f"generated data was rejected: {problems[0]}")
        total += sum(r.captured for r in results)
        buffers.clear()
        pending = 0

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
            buffers.setdefault(uscc, []).append(event)
            pending += 1
            if pending >= WINDOW:
                flush()
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
