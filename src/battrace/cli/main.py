"""The ``battrace`` command: a thin shell over the services."""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from battrace import __version__
from battrace.cli.common import console, fail, handle_errors, print_json, state
from battrace.domain.errors import InvalidInput
from battrace.persistence.base import EnterpriseRow
from battrace.services import checkpoint as checkpoints
from battrace.services import enterprises as registry
from battrace.services.capture import CaptureResult
from battrace.services.ledgers import ledger_for
from battrace.services.trace import trace as trace_battery
from battrace.services.verify import verify as verify_ledger

app = typer.Typer(
    name="battrace",
    help="Trace EV power batteries through their life and supervise their recycling.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
enterprise_app = typer.Typer(help="The enterprise registry.", no_args_is_help=True)
app.add_typer(enterprise_app, name="enterprise")


@app.callback()
def main(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="BATTRACE_DATABASE_URL",
            help="Database URL (sqlite:///PATH or postgresql://…); default sqlite:///var/battrace.sqlite",
        ),
    ] = None,
) -> None:
    state.reset(db)


@app.command()
def version() -> None:
    """Print the battrace version."""
    console.print(__version__)


@app.command()
@handle_errors
def init() -> None:
    """Create or migrate the database (Alembic)."""
    state.store.migrate()
    console.print(f"database ready: {state.settings.database_url}")


# -- enterprises ------------------------------------------------------------------------------
def _enterprise_table(rows: list[EnterpriseRow]) -> Table:
    table = Table("USCC", "名称 / name", "province", "roles", "codes", "qualifications")
    for e in rows:
        quals = ", ".join(f"{q['kind']} #{q.get('batch', '?')}" for q in e.qualifications)
        table.add_row(
            e.uscc,
            f"{e.name_zh}\n{e.name_en}",
            e.province,
            ", ".join(e.roles),
            ", ".join(e.manufacturer_codes),
            quals,
        )
    return table


@enterprise_app.command("add")
@handle_errors
def enterprise_add(
    uscc: Annotated[str, typer.Argument(help="Unified social credit code (18 characters)")],
    name_zh: Annotated[str, typer.Option("--name-zh", help="Registered Chinese name")],
    roles: Annotated[str, typer.Option(help="Comma-separated roles, e.g. battery_maker,recycler")],
    name_en: Annotated[str, typer.Option("--name-en")] = "",
    province: Annotated[str | None, typer.Option(help="GB/T 2260 province code, e.g. 44")] = None,
    codes: Annotated[str, typer.Option("--codes", help="Manufacturer codes, comma-separated")] = "",
    sites: Annotated[str, typer.Option(help="Site ids, comma-separated")] = "",
    qualification: Annotated[
        list[str] | None,
        typer.Option(
            "--qualification",
            help="Whitelist entry kind:batch:date, e.g. recycling:3:2021-12-24 (repeatable)",
        ),
    ] = None,
) -> None:
    """Register (or update) an enterprise."""
    row = registry.build_enterprise(
        {
            "uscc": uscc,
            "name_zh": name_zh,
            "name_en": name_en,
            "province": province,
            "roles": roles,
            "manufacturer_codes": codes,
            "sites": sites,
            "qualifications": ";".join(qualification or []),
        }
    )
    state.store.put_enterprises([row])
    console.print(f"registered {row.uscc} {row.name_zh}")


@enterprise_app.command("list")
@handle_errors
def enterprise_list(
    role: Annotated[str | None, typer.Option(help="Only enterprises with this role")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List registered enterprises."""
    rows = state.store.list_enterprises(role)
    if as_json:
        print_json([dataclasses.asdict(r) for r in rows])
    else:
        console.print(_enterprise_table(rows))


@enterprise_app.command("import")
@handle_errors
def enterprise_import(file: Annotated[Path, typer.Argument(help="CSV file")]) -> None:
    """Import enterprises from CSV (columns: uscc, name_zh, name_en, province, roles,
    manufacturer_codes, sites, qualifications). Nothing is written unless every row is valid."""
    rows = registry.read_csv(file.read_text(encoding="utf-8-sig"))
    count = registry.register(state.store, rows)
    console.print(f"imported {count} enterprises")


# -- capture ----------------------------------------------------------------------------------
BULK_LOAD = 10_000  # events; after a load this large, refresh planner statistics


def _result_line(name: str, result: CaptureResult) -> str:
    label = f"{name} {result.label}".strip()
    if result.rejected:
        lines = [f"[red]{label}: rejected, nothing written[/]"]
        for p in result.rejected:
            where = f"event {p.index}: " if p.index >= 0 else ""
            lines.append(f"  {where}{p.field}: {p.reason}")
        return "\n".join(lines)
    return (
        f"{label}: captured {result.captured}, duplicates {len(result.duplicates)}, rejected 0"
        + (f" (capture {result.capture_id})" if result.capture_id else "")
    )


def _print_result(name: str, result: CaptureResult) -> None:
    console.print(_result_line(name, result), highlight=False)


def _lines(path: Path, advance: Callable[[int], object]) -> Iterator[bytes]:
    with path.open("rb") as fh:
        for line in fh:
            advance(len(line))
            yield line


@app.command()
@handle_errors
def capture(
    files: Annotated[
        list[Path],
        typer.Argument(help="EPCIS 2.0 JSON-LD or XML (.xml) documents, or .jsonl files"),
    ],
    as_enterprise: Annotated[str, typer.Option("--as", help="USCC of the reporting enterprise")],
) -> None:
    """Capture events; exit 1 when anything was rejected."""
    ledger = ledger_for(state.store, state.settings)  # with the regulation engine
    rejected = False
    captured_total = 0
    for path in files:
        if path.suffix in (".jsonl", ".ndjson"):
            with Progress(
                TextColumn(f"capturing {path.name}"),
                BarColumn(),
                DownloadColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
                disable=not console.is_terminal,
            ) as progress:
                task = progress.add_task("capture", total=path.stat().st_size)
                lines = _lines(path, functools.partial(progress.advance, task))
                for result in ledger.capture_json_lines(lines, as_enterprise):
                    progress.console.print(_result_line(path.name, result), highlight=False)
                    rejected |= not result.ok
                    captured_total += result.captured
        elif path.suffix.lower() == ".xml":
            result = ledger.capture_xml(path.read_bytes(), as_enterprise)
            _print_result(path.name, result)
            rejected |= not result.ok
            captured_total += result.captured
        else:
            result = ledger.capture_document(path.read_bytes(), as_enterprise)
            _print_result(path.name, result)
            rejected |= not result.ok
            captured_total += result.captured
    if captured_total >= BULK_LOAD:
        ledger.store.optimize()
    if rejected:
        raise typer.Exit(1)


@app.command("hash")
@handle_errors
def hash_cmd(
    file: Annotated[Path, typer.Argument(help="EPCIS document (JSON-LD, or XML if named .xml)")],
) -> None:
    """Print the Event Hash ID of every event, one per line, in document order."""
    from battrace.domain.epcis.document import loads
    from battrace.domain.epcis.hashid import hash_document, hash_events

    data = file.read_bytes()
    if file.suffix.lower() == ".xml":
        from battrace.domain.epcis.xml import parse_xml_document

        parsed = parse_xml_document(data)
        hashes = hash_events(parsed.events, parsed.context)
    else:
        hashes = hash_document(loads(data, str(file)))
    for hid in hashes:
        sys.stdout.write(hid + "\n")


# -- reading ----------------------------------------------------------------------------------
@app.command()
@handle_errors
def trace(
    code: Annotated[str, typer.Argument(help="Battery code, VIN or identifier URI")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A battery's state, timeline and genealogy."""
    data = trace_battery(state.store, code)
    if as_json:
        print_json(data)
        return
    from battrace.cli.render import render_trace

    render_trace(data)


@app.command()
@handle_errors
def code(
    value: Annotated[str, typer.Argument(help="A GB/T 34014 battery code (24 or 19 characters)")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Explain a battery code field by field, or say exactly what is wrong."""
    from battrace.domain.identities.gbt34014 import parse_battery_code

    parsed = parse_battery_code(value)
    rows = parsed.explain()
    if as_json:
        print_json(
            {
                "code": parsed.code,
                "valid": True,
                "cascade": parsed.is_cascade,
                "fields": [
                    {"positions": p, "field": f, "value": v, "meaning": m} for p, f, v, m in rows
                ],
            }
        )
        return
    table = Table("positions", "field", "value", "meaning", title=parsed.code)
    for row in rows:
        table.add_row(*row)
    console.print(table)


@app.command()
@handle_errors
def verify() -> None:
    """Recompute every Event Hash ID and the capture chain; exit 1 naming the first bad record."""
    store = state.store
    total = store.head().event_count
    with Progress(
        TextColumn("verifying"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} events"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("verify", total=total)
        report = verify_ledger(store, lambda n: progress.advance(task, n))
    if not report.ok:
        fail(f"ledger verification FAILED: {report.problem}")
    console.print(
        f"ledger OK: {report.captures:,} captures, {report.events:,} events, head {report.head}"
    )


@app.command()
@handle_errors
def checkpoint(
    check: Annotated[
        Path | None, typer.Option("--check", help="Verify a published checkpoint file instead")
    ] = None,
    public_key: Annotated[
        str | None, typer.Option(help="Trusted public key (base64url) to check against")
    ] = None,
) -> None:
    """Sign the current ledger head with the platform's Ed25519 key and print the statement."""
    if check is not None:
        from battrace.domain.epcis.document import loads

        doc = loads(check.read_bytes(), str(check))
        checkpoints.check_checkpoint(doc, public_key)
        console.print(f"checkpoint signature OK: head {doc['head']} ({doc['eventCount']} events)")
        return
    statement = checkpoints.create_checkpoint(state.store, state.settings.key_file)
    print_json(statement)


# -- demo and server --------------------------------------------------------------------------
@app.command()
@handle_errors
def demo(
    packs: Annotated[
        int, typer.Option(min=1, max=10_000_000, help="Number of battery packs")
    ] = 200,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data)")] = 1,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing if the ledger has events")
    ] = False,
) -> None:
    """Load a consistent synthetic data set (enterprises of every role, full lifecycles)."""
    from battrace.services.demo_loader import load_demo

    store = state.store
    if if_empty and store.head().event_count:
        console.print("ledger already holds events; demo not loaded")
        return
    summary = load_demo(store, state.settings, packs=packs, seed=seed, console=console)
    console.print(summary)


@app.command()
@handle_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes")] = 1,
) -> None:
    """Start the web platform (API and pages)."""
    from battrace.web.server import serve as run_server

    store = state.store
    store.head()  # fail now, with a clear message, if the database is not initialised
    store.close()  # workers open their own connections
    run_server(state.settings, host=host, port=port, workers=workers)


def _register_subcommands() -> None:
    from battrace.cli.forecast import forecast_app
    from battrace.cli.rules import rules_app

    app.add_typer(rules_app, name="rules", help="Regulations as versioned, cited data.")
    app.add_typer(
        forecast_app, name="forecast", help="Retirement and recoverable-material forecasts."
    )
    from battrace.cli.alerts import alerts_app, report_app
    from battrace.cli.simulate import simulate_app

    app.add_typer(alerts_app, name="alerts")
    app.add_typer(report_app, name="report")
    app.add_typer(simulate_app, name="simulate")
    from battrace.cli.recycled_content import recycled_content

    app.command("recycled-content")(recycled_content)
    from battrace.cli.whitelist import pilot_app, whitelist_app

    app.add_typer(whitelist_app, name="whitelist")
    app.add_typer(pilot_app, name="pilot")
    from battrace.cli.recycling import register as register_recycling

    register_recycling(app)  # grade, recovery, rank
    from battrace.cli.audit import audit_app
    from battrace.cli.keys import key_app
    from battrace.cli.passport import passport_app
    from battrace.cli.users import user_app

    app.add_typer(key_app, name="key")
    app.add_typer(audit_app, name="audit")
    app.add_typer(user_app, name="user")
    app.add_typer(passport_app, name="passport")


_register_subcommands()


def run() -> None:  # pragma: no cover
    try:
        app()
    except InvalidInput as exc:
        fail(str(exc), 2)
    except orjson.JSONDecodeError as exc:
        fail(str(exc), 2)
