"""``battrace grade``, ``battrace recovery`` and ``battrace rank``: thin shells over
:mod:`battrace.services.recycling`. The operator at the server sees everything; ``--as USCC`` shows
what that registered enterprise or authority would see."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from battrace.cli.common import console, handle_errors, print_json, state
from battrace.domain.errors import InvalidInput
from battrace.services import alerts as engine
from battrace.services import recycling as rs
from battrace.services import stats

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
AsWho = Annotated[
    str | None,
    typer.Option("--as", metavar="USCC", help="See as this registered enterprise or authority."),
]
Xlsx = Annotated[
    Path | None, typer.Option("--xlsx", metavar="FILE", help="Also write an XLSX workbook.")
]
PeriodOpt = Annotated[
    str,
    typer.Option(
        "--period", metavar="PERIOD", help="A year (2025), month (2025-03) or quarter (2025-Q1)."
    ),
]


def _scope(who: str | None) -> engine.Scope:
    if who is None:
        return engine.Scope.everything()
    from battrace.services import supervision as workflow

    return workflow.scope_of(state.store, who)


def _grade_table(rows: list[dict[str, Any]]) -> None:
    table = Table("row", "code", "SoH %", "grade", "reasons")
    for r in rows:
        table.add_row(
            str(r.get("row", "")),
            r.get("code") or "",
            f"{r['soh_pct']:.2f}",
            r["grade"],
            "\n".join(r["reasons"]),
        )
    console.print(table)


@handle_errors
def grade(
    code: Annotated[
        str | None, typer.Argument(help="Battery code: grade its latest inspection.")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="A batch of test results: .csv or .json (see docs/recycling.md)."
        ),
    ] = None,
    as_json: Json = False,
    who: AsWho = None,
) -> None:
    """Grade a battery from its residual-capacity test, or a batch file of test results."""
    if (code is None) == (file is None):
        raise InvalidInput("code", "give a battery code or --file, not both")
    if file is not None:
        fmt = file.suffix.lower().lstrip(".")
        if fmt not in ("csv", "json"):
            raise InvalidInput("file", f"{file.name}: the file must end in .csv or .json")
        rows = rs.grade_rows(rs.read_batch(file.read_bytes(), fmt))
        if as_json:
            print_json(rows)
        else:
            _grade_table(rows)
        return
    assert code is not None
    scope = None
    if who is not None:
        from battrace.services.authorisation import scope_for

        row = state.store.get_enterprise(who.strip())
        if row is None:
            raise InvalidInput("as", f"{who} is not a registered enterprise or authority")
        scope = scope_for(row)
    out = rs.grade_battery(state.store, code, scope=scope)
    if as_json:
        print_json(out)
        return
    console.print(
        f"{out['code']}: [bold]{out['grade']}[/] (SoH {out['soh_pct']:.2f} %), inspection "
        f"{out['inspection']['eventTime']} by {out['inspection']['reporter']}",
        highlight=False,
    )
    for reason in out["reasons"]:
        console.print(f"  - {reason}", highlight=False)


def _pct(value: Any) -> str:
    return "—" if value is None else f"{value:.2f}"


@handle_errors
def recovery(
    enterprise: Annotated[str, typer.Option("--enterprise", metavar="USCC", help="The recycler.")],
    period: PeriodOpt,
    as_json: Json = False,
    xlsx: Xlsx = None,
    who: AsWho = None,
) -> None:
    """Mass balance and recovery rates of a recycler in a period, against the CN 2024 standard
    conditions and the EU 2023/1542 targets."""
    report = rs.recovery(state.store, enterprise, period, _scope(who))
    if xlsx is not None:
        xlsx.write_bytes(stats.to_xlsx(rs.recovery_sheets(report)))
    if as_json:
        print_json(report)
        return
    ev = report["events"]
    console.print(
        f"{report['enterprise']} {report['name_zh']} — {report['period']['label']} "
        f"({report['period']['start']} … {report['period']['end']}): {ev['recycling']} recycling "
        f"events, {ev['assessed']} assessed",
        highlight=False,
    )
    for x in ev["excluded"]:
        console.print(f"  excluded {x['eventID']}: {x['field']}: {x['reason']}", highlight=False)
    bal = report["balance"]
    if bal is None:
        console.print("no assessable recycling event in the period")
    else:
        table = Table(
            "element", "in kg", "basis", "out kg", "recovered kg", "recovery %", "balanced"
        )
        for e in bal["elements"]:
            table.add_row(
                e["element"],
                "unknown" if e["input_kg"] is None else f"{e['input_kg']:.3f}",
                ", ".join(e["input_basis"]),
                f"{e['output_kg']:.3f}",
                f"{e['recovered_kg']:.3f}",
                _pct(e["recovery_pct"]),
                "—" if e["balanced"] is None else ("yes" if e["balanced"] else "NO"),
            )
        console.print(table)
        console.print(
            f"electrode powder recovery {_pct(bal['electrode_powder_recovery_pct'])} %, "
            f"recycling efficiency {_pct(bal['recycling_efficiency_pct'])} %, tolerance "
            f"{bal['tolerance_pct']:g} %, stages {', '.join(bal['stages'])}",
            highlight=False,
        )
        checks = Table("check", "threshold", "value %", "in force", "status")
        for c in bal["checks"]:
            checks.add_row(
                c["id"],
                f"{c['comparison']} {c['threshold_pct']:g} %",
                _pct(c["value_pct"]),
                "yes" if c["in_force"] else f"from {c['in_force_from']}",
                c["status"],
            )
        console.print(checks)
        for f in bal["findings"]:
            console.print(f"[bold]{f['kind']}[/] {f['subject']}: {f['message']}", highlight=False)
    if xlsx is not None:
        console.print(f"wrote {xlsx}")


def _cell(c: dict[str, Any]) -> str:
    if c["score"] is None:
        return "n/a"
    value = "—" if c["value"] is None else f"{c['value']:g}"
    return f"{value} → {c['score']:.2f} × {c['weight']:g}"


@handle_errors
def rank(
    period: PeriodOpt,
    province: Annotated[
        str | None, typer.Option("--province", help="GB/T 2260 province code, e.g. 43.")
    ] = None,
    as_json: Json = False,
    xlsx: Xlsx = None,
    who: AsWho = None,
) -> None:
    """Model-enterprise ranking: each component with its measured value, score and weight."""
    data = rs.rank(state.store, period, _scope(who), province=province)
    rows = rs.ranking_rows(data)
    if xlsx is not None:
        xlsx.write_bytes(stats.to_xlsx({"ranking": rows}))
    if as_json:
        print_json(data)
        return
    table = Table()
    for col in ("#", "enterprise", "name", "score", "recovery", "timeliness", "alerts", "volume"):
        table.add_column(col, overflow="fold")
    for r in data["ranking"]:
        parts = {c["name"]: c for c in r["components"]}
        table.add_row(
            str(r["rank"]),
            r["enterprise"],
            r["name_zh"],
            f"{r['score']:.2f}",
            *(_cell(parts[n]) for n in ("recovery", "timeliness", "alerts", "volume")),
        )
    console.print(table)
    console.print("weights are battrace assumptions: see domain/recycling/data/ranking.toml")
    if xlsx is not None:
        console.print(f"wrote {xlsx}")


def register(app: typer.Typer) -> None:
    """Add the commands to the top-level ``battrace`` app."""
    app.command("grade")(grade)
    app.command("recovery")(recovery)
    app.command("rank")(rank)
