"""``battrace simulate``: synthetic lifecycles at demo, province or national-sample scale.

``run`` writes EPCIS JSON Lines (``--out``) or captures into the ledger (``--db``, else the
database of ``battrace --db``), the ground truth of injected violations beside them; ``load``
captures a JSON Lines file written earlier. See docs/simulator.md.
"""

from __future__ import annotations

import dataclasses
import os
import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from battrace.cli.common import console, fail, handle_errors, print_json, state
from battrace.config import Settings
from battrace.persistence import open_store
from battrace.simulate import SCALES, SimConfig, Simulation, Violations, simulate
from battrace.simulate.output import (
    JsonLinesSink,
    load_into_ledger,
    read_enterprises,
    read_events,
    sidecar_paths,
    write_enterprises,
    write_files,
)
from battrace.simulate.simulation import DEFAULT_FORMAL_SHARE
from battrace.simulate.violations import DEFAULT_RATE

simulate_app = typer.Typer(
    name="simulate",
    help="Simulate battery lifecycles at demo, province or national-sample scale.",
    no_args_is_help=True,
)


def _progress(label: str) -> Progress:
    return Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.fields[now]}"),
        TextColumn("{task.fields[events]:>12,} events"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def _summary_table(summary: dict[str, Any], seconds: float, where: str) -> Table:
    table = Table(
        title=f"simulation: {summary['scale']}, seed {summary['seed']}", show_header=False
    )
    table.add_column("what")
    table.add_column("value", justify="right")
    life = summary["lifecycle"]
    events = summary["events"]
    rows = [
        ("packs (vehicles)", f"{summary['packs']:,}"),
        ("scale factor (packs per domestic NEV sold)", f"{summary['scale_factor']:.3g}"),
        ("sales years / data until", f"{summary['sales_years'][0]}–{summary['sales_years'][1]}"
         f" / {summary['until']}"),
        ("enterprises", f"{summary['enterprises']:,}"),
        ("events", f"{events:,}"),
        ("events per second", f"{events / seconds:,.0f}" if seconds > 0 else "–"),
        ("cells / modules / packs made", f"{life.get('cells_produced', 0):,} / "
         f"{life.get('modules_produced', 0):,} / {life.get('packs_produced', 0):,}"),
        ("vehicles sold / at end of life", f"{life.get('vehicles_sold', 0):,} / "
         f"{life.get('vehicles_end_of_life', 0):,}"),
        ("repairs / replacements", f"{life.get('repairs', 0):,} / "
         f"{life.get('replacements', 0):,}"),
        ("packs retired / formally collected / leaked", f"{life.get('packs_retired', 0):,} / "
         f"{life.get('packs_collected_formally', 0):,} / {life.get('packs_leaked', 0):,}"),
        ("formal share (target / realised)",
         f"{summary['formal_share_target']:.0%} / "
         + ("–" if summary["formal_share_realised"] is None
            else f"{summary['formal_share_realised']:.0%}")),
        ("cascade products / recycled / disposed", f"{life.get('cascade_products', 0):,} / "
         f"{life.get('packs_recycled', 0):,} / {life.get('packs_disposed', 0):,}"),
        ("written to", where),
    ]  # fmt: skip
    for k, v in rows:
        table.add_row(k, v)
    return table


def _truth_table(summary: dict[str, Any]) -> Table:
    v = summary["violations"]
    table = Table(title="injected violations and ground truth")
    for name in ("alert", "rate", "opportunities", "injected", "truth records"):
        table.add_column(name, justify="left" if name == "alert" else "right")
    truth = summary["truth_records"]
    for kind, rate in v["rates"].items():
        table.add_row(
            kind,
            f"{rate:g}",
            f"{v['opportunities'][kind]:,}",
            f"{v['injected'][kind]:,}",
            f"{truth.get(kind, 0):,}",
        )
    table.add_row("(informal leakage, no alert)", "", "", "", f"{truth.get('leakage', 0):,}")
    return table


def _progress_of(sim: Simulation, progress: Progress) -> Any:
    """A tick callback for the bar: simulated month reached, events so far."""
    start = datetime(sim.config.first_year, 1, 1, tzinfo=sim.cutoff.tzinfo)
    span = max(1, (sim.cutoff - start).days)
    task = progress.add_task("sim", total=span, now="", events=0)
    count = 0

    def tick(n: int) -> None:
        nonlocal count
        count = n
        now = sim.now
        progress.update(
            task,
            completed=min(span, (now - start).days),
            now=now.strftime("%Y-%m"),
            events=count,
        )

    return tick


@simulate_app.command("run")
@handle_errors
def run(
    scale: Annotated[
        str,
        typer.Option(
            "--scale",
            help=f"Size preset: {', '.join(f'{k} ({v:,} packs)' for k, v in SCALES.items())}.",
        ),
    ] = "demo",
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same data).")] = 1,
    packs: Annotated[
        int | None, typer.Option("--packs", min=0, help="Override the scale's number of packs.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write EPCIS JSON Lines here (and .enterprises.json, .truth.jsonl)."
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Capture into this database instead (migrated first)."),
    ] = None,
    truth_file: Annotated[
        Path | None,
        typer.Option("--truth", help="Ground-truth JSON Lines (default: beside --out)."),
    ] = None,
    violations: Annotated[
        float,
        typer.Option(
            "--violations", min=0.0, max=1.0, help="Injection rate of every violation kind."
        ),
    ] = DEFAULT_RATE,
    violation: Annotated[
        list[str] | None,
        typer.Option(
            "--violation", help="Rate of one kind, KIND=RATE (repeatable), e.g. late-report=0.1."
        ),
    ] = None,
    formal_share: Annotated[
        float,
        typer.Option(
            "--formal-share", min=0.0, max=1.0, help="Share of retired packs collected formally."
        ),
    ] = DEFAULT_FORMAL_SHARE,
    province: Annotated[
        str | None,
        typer.Option("--province", help="Only vehicles sold in this province (e.g. 44)."),
    ] = None,
    until: Annotated[
        str, typer.Option("--until", help="The data's last day + 1 (YYYY-MM-DD): nothing after it.")
    ] = "2026-01-01",
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=0,
            max=64,
            help="Processes generating the shards of --out; 0 = one per shard, up to the CPUs. "
            "The output is the same.",
        ),
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Generate lifecycles of every role, with reporting delays and injected violations."""
    if out is not None and db is not None:
        fail("give --out FILE.jsonl or --db URL, not both", 2)
    try:
        end = date.fromisoformat(until)
    except ValueError:
        fail(f"--until: {until!r} is not a date (YYYY-MM-DD)", 2)
        raise AssertionError("unreachable") from None
    overrides = Violations.parse_overrides(violation or [])
    config = SimConfig(
        scale=scale,
        seed=seed,
        packs=packs,
        until=end,
        violations=Violations.uniform(violations, overrides),
        formal_share=formal_share,
        province=province,
    )
    if out is not None:
        auto = min(config.n_shards, os.cpu_count() or 1)
        config = dataclasses.replace(config, workers=workers or auto)
    sim = simulate(config)
    began = time.perf_counter()
    if out is not None:
        ent_path, default_truth = sidecar_paths(out)
        truth_path = truth_file or default_truth
        write_enterprises(ent_path, sim.enterprises)
        with _progress(f"simulating {scale}") as progress:
            sink = write_files(sim, out, truth_path, _progress_of(sim, progress))
        where = f"{out} ({sink.bytes / 1e6:,.1f} MB), {ent_path.name}, {truth_path.name}"
    else:
        url = db or state.settings.database_url
        store = open_store(url) if db else state.store
        truth_path = truth_file or Path(f"battrace-truth-{scale}-{seed}.jsonl")
        truth = JsonLinesSink(truth_path)
        try:
            if db:
                store.migrate()
            with _progress(f"simulating {scale}") as progress:
                tick = _progress_of(sim, progress)
                done = 0

                def loaded(n: int) -> None:
                    nonlocal done
                    done += n
                    tick(done)

                load_into_ledger(
                    store, Settings.from_env(url), sim.enterprises, sim.stream(truth.write), loaded
                )
        finally:
            truth.close()
            if db:
                store.close()
        where = f"ledger {url}; truth {truth_path}"
    seconds = time.perf_counter() - began
    summary = sim.summary_dict()
    summary["seconds"] = round(seconds, 2)
    if as_json:
        print_json(summary)
        return
    console.print(_summary_table(summary, seconds, where))
    console.print(_truth_table(summary))


@simulate_app.command("load")
@handle_errors
def load(
    file: Annotated[Path, typer.Argument(help="Simulation JSON Lines (from simulate run --out).")],
    enterprises: Annotated[
        Path | None, typer.Option("--enterprises", help="Registry records (default: beside FILE).")
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="Capture into this database (migrated first).")
    ] = None,
) -> None:
    """Capture a simulation file into the ledger with its original report times."""
    ent_path = enterprises or sidecar_paths(file)[0]
    records = read_enterprises(ent_path)
    url = db or state.settings.database_url
    store = open_store(url) if db else state.store
    began = time.perf_counter()
    try:
        if db:
            store.migrate()
        with _progress(f"loading {file.name}") as progress:
            task = progress.add_task("load", total=None, now="", events=0)
            done = 0

            def tick(n: int) -> None:
                nonlocal done
                done += n
                progress.update(task, events=done)

            total = load_into_ledger(
                store, Settings.from_env(url), records, read_events(file), tick
            )
    finally:
        if db:
            store.close()
    seconds = time.perf_counter() - began
    console.print(
        f"loaded {total:,} events from {file.name} ({len(records)} enterprises) into {url} "
        f"in {seconds:.1f} s ({total / max(seconds, 1e-9):,.0f} events/s)",
        highlight=False,
    )
