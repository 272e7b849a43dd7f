"""``battrace alerts …`` (the regulation engine and the supervision workflow) and
``battrace report …`` (statistics, producer responsibility, coverage, flow; CSV and XLSX).

Thin shells over :mod:`battrace.services.alerts`, :mod:`~battrace.services.supervision` and
:mod:`~battrace.services.stats`. The operator at the server sees everything; ``--as USCC`` shows
what that registered enterprise or authority would see (and acts as it in the workflow).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from battrace.cli.common import console, err_console, handle_errors, print_json, state
from battrace.domain.errors import InvalidInput
from battrace.domain.rules import RuleSet, covered_years
from battrace.domain.supervision.clock import datetime_of
from battrace.domain.supervision.findings import STATUSES
from battrace.services import alerts as engine
from battrace.services import stats
from battrace.services import supervision as workflow

alerts_app = typer.Typer(
    name="alerts",
    help="Alerts of the regulation engine and the supervision workflow.",
    invoke_without_command=True,
    no_args_is_help=False,
)
report_app = typer.Typer(
    name="report",
    help="Statistics for regulators and enterprises (table, JSON, CSV or XLSX).",
    no_args_is_help=True,
)

AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="DATE",
        help="Judge as the ledger stood then: 2025-06-30 (end of that day, China time) or an "
        "ISO date-time with offset. Default: now.",
    ),
]
AsWho = Annotated[
    str | None,
    typer.Option(
        "--as",
        metavar="USCC",
        help="See (and act) as this registered enterprise or authority; default: everything.",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Rulebooks = Annotated[
    list[Path] | None,
    typer.Option("--rulebook", help="A local rulebook file or folder (repeatable)."),
]


def _rules(paths: list[Path] | None) -> RuleSet:
    return engine.default_rules(tuple(paths or ()))


def _scope(who: str | None) -> engine.Scope:
    if who is None:
        return engine.Scope.everything()
    return workflow.scope_of(state.store, who)


def _china(text: str | None) -> str:
    if not text:
        return ""
    from battrace.domain.rules import CHINA_TZ
    from battrace.domain.supervision.clock import us_of_text

    return datetime_of(us_of_text(text)).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def _coverage_note() -> str:
    years = sorted(covered_years())
    return (
        f"working-day calendar covers {years[0]}–{years[-1]}; deadlines in other years are "
        "counted on weekdays and marked provisional (*)"
    )


def _warn_if_incomplete() -> None:
    state.store.head()  # a database that is not initialised: one readable line, not a trace
    cov = engine.coverage(state.store)
    if not cov.complete:
        err_console.print(
            f"[yellow]warning:[/] the engine's facts cover events up to {cov.facts_through} of "
            f"{cov.ledger_last}; run `battrace alerts rebuild --from-events`",
            highlight=False,
        )


@alerts_app.callback()
@handle_errors
def alerts_list(
    ctx: typer.Context,
    kind: Annotated[
        str | None, typer.Option(help="Only this alert kind, e.g. late-report.")
    ] = None,
    province: Annotated[str | None, typer.Option(help="GB/T 2260 province code, e.g. 44.")] = None,
    enterprise: Annotated[str | None, typer.Option(help="Responsible enterprise (USCC).")] = None,
    status: Annotated[str | None, typer.Option(help=f"One of: {', '.join(STATUSES)}.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many.")] = None,
    as_of: AsOf = None,
    who: AsWho = None,
    as_json: Json = False,
    rulebook: Rulebooks = None,
) -> None:
    """List alerts (newest first). Subcommands act on them."""
    if ctx.invoked_subcommand is not None:
        return
    moment = engine.as_of_argument(as_of)
    flt = engine.AlertFilter(kind, province, enterprise, status, limit)
    _warn_if_incomplete()
    found = engine.list_alerts(
        state.store, _scope(who), flt, as_of=moment, rules=_rules(rulebook) if moment else None
    )
    if as_json:
        print_json([a.to_dict() for a in found])
        return
    table = Table(title=f"{len(found)} alert(s)")
    for col in ("id", "kind", "subject", "enterprise", "prov", "status", "detected", "due", "rule"):
        table.add_column(col, overflow="fold")
    for a in found:
        due = (a.due or "") + ("*" if a.provisional else "")
        table.add_row(
            a.id,
            a.kind,
            a.subject,
            a.enterprise or "",
            a.province or "",
            a.status,
            _china(a.first_detected),
            due,
            f"{a.rule} v{a.rule_version}",
        )
    console.print(table)
    console.print(f"[dim]{_coverage_note()}[/]", highlight=False)


@alerts_app.command("show")
@handle_errors
def alerts_show(
    alert_id: Annotated[str, typer.Argument(metavar="ID")],
    who: AsWho = None,
    as_json: Json = False,
) -> None:
    """One alert with its evidence, citation and workflow history."""
    alert = engine.get_alert(state.store, alert_id)
    viewer = (
        workflow.actor_of(state.store, who)
        if who
        else workflow.Actor("operator", frozenset({workflow.NATIONAL}), "")
    )
    if alert is None or not viewer.scope().allows(alert.province, alert.enterprise):
        raise InvalidInput("alert", f"no alert {alert_id!r}")
    steps = workflow.history(state.store, alert_id, viewer)
    if as_json:
        print_json(
            {**alert.to_dict(), "stage": alert.stage, "history": [s.to_dict() for s in steps]}
        )
        return
    table = Table(show_header=False, title=f"alert {alert.id}")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    rows: list[tuple[str, Any]] = [
        ("kind", alert.kind),
        ("status", alert.status),
        ("rule", f"{alert.rule} v{alert.rule_version}"),
        ("citation", alert.citation),
        ("subject", alert.subject),
        ("enterprise", f"{alert.enterprise or ''} ({alert.province or '?'})"),
        ("detected", _china(alert.first_detected)),
        ("due", (alert.due or "—") + (" (provisional)" if alert.provisional else "")),
        (
            "resolved",
            _china(alert.resolved_at) + f" by {alert.resolved_by}" if alert.resolved_by else "—",
        ),
        ("evidence", "\n".join(alert.evidence)),
        ("detail", ", ".join(f"{k}: {v}" for k, v in alert.detail.items())),
    ]
    for k, v in rows:
        table.add_row(k, str(v))
    for s in steps:
        table.add_row(f"{s.action}", f"{_china(s.at)} {s.actor} ({s.actor_role}) {s.note}")
    console.print(table)


@alerts_app.command("rebuild")
@handle_errors
def alerts_rebuild(
    from_events: Annotated[
        bool,
        typer.Option("--from-events", help="First rebuild the engine's facts from the events."),
    ] = False,
    rulebook: Rulebooks = None,
) -> None:
    """Full re-evaluation of every rule; stored alerts are reconciled, workflow kept."""
    report = engine.rebuild(state.store, _rules(rulebook), from_events=from_events)
    r = report.reconcile
    facts = f"{report.facts:,} facts rebuilt; " if report.facts is not None else ""
    console.print(
        f"{facts}{report.findings:,} findings: {r.inserted} new, {r.updated} changed, "
        f"{r.withdrawn} withdrawn, {r.deleted} dropped ({report.seconds:.1f} s)",
        highlight=False,
    )


@alerts_app.command("obligations")
@handle_errors
def alerts_obligations(
    who: AsWho = None,
    limit: Annotated[int | None, typer.Option(min=1)] = None,
    as_json: Json = False,
) -> None:
    """Pending obligations: deadlines not passed yet (what becomes an alert if nothing happens)."""
    found = engine.obligations(state.store, _scope(who), limit=limit)
    if as_json:
        print_json([a.to_dict() for a in found])
        return
    table = Table(title=f"{len(found)} pending obligation(s)")
    for col in ("id", "kind", "subject", "enterprise", "due", "becomes an alert at"):
        table.add_column(col, overflow="fold")
    for a in found:
        table.add_row(
            a.id, a.kind, a.subject, a.enterprise or "", a.due or "", _china(a.first_detected)
        )
    console.print(table)


def _actor(who: str) -> workflow.Actor:
    return workflow.actor_of(state.store, who)


AsActor = Annotated[str, typer.Option("--as", metavar="USCC", help="Who acts (registered).")]
Note = Annotated[str, typer.Option("--note", help="A note for the record.")]


@alerts_app.command("ack")
@handle_errors
def alerts_ack(
    alert_id: Annotated[str, typer.Argument(metavar="ID")], who: AsActor, note: Note = ""
) -> None:
    """A regulator acknowledges an alert."""
    workflow.acknowledge(state.store, alert_id, _actor(who), note)
    console.print(f"alert {alert_id} acknowledged")


@alerts_app.command("notice")
@handle_errors
def alerts_notice(
    alert_id: Annotated[str, typer.Argument(metavar="ID")],
    who: AsActor,
    due: Annotated[str, typer.Option(metavar="YYYY-MM-DD", help="Rectify by this date.")],
    requirement: Annotated[str, typer.Option(help="What must be rectified (整改要求).")],
) -> None:
    """A regulator issues a rectification notice (整改通知) with a due date."""
    try:
        due_date = date.fromisoformat(due)
    except ValueError:
        raise InvalidInput("due", f"{due!r} is not a date like 2026-12-31") from None
    notice = workflow.issue_notice(state.store, alert_id, _actor(who), due_date, requirement)
    console.print(f"rectification notice {notice} issued on alert {alert_id}, due {due_date}")


@alerts_app.command("answer")
@handle_errors
def alerts_answer(
    notice_id: Annotated[int, typer.Argument(metavar="NOTICE")],
    who: AsActor,
    text: Annotated[str, typer.Option("--text", help="The enterprise's answer.")],
) -> None:
    """The responsible enterprise answers a rectification notice."""
    workflow.answer_notice(state.store, notice_id, _actor(who), text)
    console.print(f"notice {notice_id} answered")


@alerts_app.command("close")
@handle_errors
def alerts_close(
    alert_id: Annotated[str, typer.Argument(metavar="ID")], who: AsActor, note: Note = ""
) -> None:
    """A regulator closes an alert."""
    workflow.close(state.store, alert_id, _actor(who), note)
    console.print(f"alert {alert_id} closed")


@alerts_app.command("notices")
@handle_errors
def alerts_notices(
    who: AsActor,
    status: Annotated[str | None, typer.Option(help="issued, answered or closed")] = None,
    as_json: Json = False,
) -> None:
    """Rectification notices visible to an enterprise or authority."""
    found = workflow.notices(state.store, _actor(who), status=status)
    if as_json:
        print_json([n.to_dict() for n in found])
        return
    table = Table(title=f"{len(found)} notice(s)")
    for col in ("id", "alert", "due", "status", "requirement", "answer"):
        table.add_column(col, overflow="fold")
    for n in found:
        table.add_row(
            str(n.id),
            n.alert,
            n.due_date + (" (overdue)" if n.overdue else ""),
            n.status,
            n.requirement,
            n.answer or "",
        )
    console.print(table)


@alerts_app.command("specs")
@handle_errors
def alerts_specs(
    manufacturer_code: Annotated[str, typer.Argument(metavar="CODE")],
    specs: Annotated[str, typer.Argument(metavar="SPECS", help="Comma-separated, e.g. 01,02")],
) -> None:
    """Register the specification codes (备案) of a manufacturer code."""
    added = workflow.register_specifications(
        state.store, manufacturer_code, [s for s in specs.split(",") if s.strip()]
    )
    console.print(f"{added} specification(s) registered under {manufacturer_code.upper()}")


# --------------------------------------------------------------------------------------------
# battrace report
# --------------------------------------------------------------------------------------------

Period = Annotated[str, typer.Option(help="month, quarter, year or all")]
Group = Annotated[str, typer.Option(help="province or enterprise")]
Since = Annotated[str | None, typer.Option("--from", metavar="YYYY-MM-DD")]
Until = Annotated[str | None, typer.Option("--to", metavar="YYYY-MM-DD", help="exclusive")]
Format = Annotated[str, typer.Option("--format", help="table, json, csv or xlsx")]
Out = Annotated[Path | None, typer.Option("--out", help="Write to this file (xlsx needs one).")]


def _day(value: str | None, field: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(field, f"{value!r} is not a date like 2025-01-01") from None


def _emit(
    name: str, rows: list[dict[str, Any]], fmt: str, out: Path | None, raw: Any = None
) -> None:
    if fmt not in ("table", "json", "csv", "xlsx"):
        raise InvalidInput("format", f"{fmt!r} is not one of: table, json, csv, xlsx")
    if fmt == "xlsx":
        if out is None:
            raise InvalidInput("out", "an XLSX export needs --out FILE.xlsx")
        out.write_bytes(stats.to_xlsx({name: rows}))
        console.print(f"wrote {out}")
        return
    if fmt == "csv":
        text = stats.to_csv(rows)
        if out is not None:
            out.write_text(text, encoding="utf-8")
            console.print(f"wrote {out}")
        else:
            typer.echo(text, nl=False)
        return
    if fmt == "json":
        if out is not None:
            import orjson

            out.write_bytes(
                orjson.dumps(raw if raw is not None else rows, option=orjson.OPT_INDENT_2)
            )
            console.print(f"wrote {out}")
        else:
            print_json(raw if raw is not None else rows)
        return
    if not rows:
        console.print("no data")
        return
    table = Table(title=name)
    cols = list(rows[0])
    if len(cols) > 12:  # the terminal gets counts and rates; kWh, kg and more in json/csv/xlsx
        cols = [
            c
            for c in cols
            if c in ("group", "name", "period", "open_alerts") or c.endswith(("_count", "_rate"))
        ]
    for c in cols:
        table.add_column(c, overflow="fold")
    for row in rows:
        table.add_row(*["" if row.get(c) is None else str(row.get(c)) for c in cols])
    console.print(table)


def _query(
    group: str,
    period: str,
    since: str | None,
    until: str | None,
    province: str | None,
    enterprise: str | None,
) -> stats.StatsQuery:
    return stats.StatsQuery(
        group, period, _day(since, "from"), _day(until, "to"), province, enterprise
    )


@report_app.command("summary")
@handle_errors
def report_summary(
    group: Group = "province",
    period: Period = "year",
    since: Since = None,
    until: Until = None,
    province: Annotated[str | None, typer.Option()] = None,
    enterprise: Annotated[str | None, typer.Option()] = None,
    as_of: AsOf = None,
    who: AsWho = None,
    fmt: Format = "table",
    out: Out = None,
    rulebook: Rulebooks = None,
) -> None:
    """Per province or enterprise and period: produced, installed, retired, collected, cascade-used,
    recycled (count, kWh, kg), formal collection rate, reporting timeliness, open alerts."""
    query = _query(group, period, since, until, province, enterprise)
    snap = stats.snapshot(state.store, as_of=engine.as_of_argument(as_of))
    rows = stats.statistics(state.store, query, _scope(who), snap=snap, rules=_rules(rulebook))
    _emit("statistics", rows, fmt, out)


@report_app.command("producers")
@handle_errors
def report_producers(
    since: Since = None,
    until: Until = None,
    as_of: AsOf = None,
    who: AsWho = None,
    fmt: Format = "table",
    out: Out = None,
) -> None:
    """Producer responsibility: retired packs per automaker / battery maker and the share
    recovered through its own or shared outlets."""
    snap = stats.snapshot(state.store, as_of=engine.as_of_argument(as_of), with_reports=False)
    rows = stats.producer_responsibility(
        snap, _scope(who), start=_day(since, "from"), end=_day(until, "to")
    )
    _emit("producers", rows, fmt, out)


@report_app.command("coverage")
@handle_errors
def report_coverage(
    as_of: AsOf = None, who: AsWho = None, fmt: Format = "table", out: Out = None
) -> None:
    """Outlet coverage: cities (automakers) / provinces (battery makers) sold in vs served."""
    snap = stats.snapshot(state.store, as_of=engine.as_of_argument(as_of), with_reports=False)
    _emit("coverage", stats.outlet_coverage(snap, _scope(who)), fmt, out)


@report_app.command("flow")
@handle_errors
def report_flow(
    as_of: AsOf = None, who: AsWho = None, fmt: Format = "table", out: Out = None
) -> None:
    """Battery flow produced → in service → retired → formal collection / unknown → cascade use /
    recycling (Sankey data; --format json gives nodes and links)."""
    snap = stats.snapshot(state.store, as_of=engine.as_of_argument(as_of), with_reports=False)
    data = stats.flow(snap, _scope(who))
    _emit("flow", stats.flow_rows(data), fmt, out, raw=data)


@report_app.command("export")
@handle_errors
def report_export(
    out: Annotated[Path, typer.Argument(help="The .xlsx workbook to write")],
    group: Group = "province",
    period: Period = "year",
    since: Since = None,
    until: Until = None,
    as_of: AsOf = None,
    who: AsWho = None,
) -> None:
    """Every report table in one XLSX workbook (one sheet each)."""
    query = _query(group, period, since, until, None, None)
    sheets = dict(
        stats.iter_tables(state.store, query, _scope(who), as_of=engine.as_of_argument(as_of))
    )
    out.write_bytes(stats.to_xlsx(sheets))
    console.print(f"wrote {out} ({', '.join(sheets)})")


__all__ = ["alerts_app", "report_app"]
