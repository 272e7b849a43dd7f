"""``battrace recycled-content``: a battery maker's recycled Co/Li/Ni shares (EU 2023/1542 Art. 8).

A thin shell over :mod:`battrace.services.recycled_content`: the shares of the period, each
against the 2031 and 2036 minimums of the rulebook; ``--json``, ``--csv`` and ``--xlsx`` give the
same figures for scripts and spreadsheets.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from battrace.cli.common import console, handle_errors, print_json, state
from battrace.services import recycled_content as rc
from battrace.services.stats import to_xlsx


@handle_errors
def recycled_content(
    enterprise: Annotated[
        str, typer.Option("--enterprise", metavar="USCC", help="The battery maker's USCC.")
    ],
    period: Annotated[
        str,
        typer.Option(
            "--period", help="A year (2025), a month (2025-03) or 2025-01-01..2025-06-30."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    csv_path: Annotated[
        Path | None, typer.Option("--csv", help="Also write the table to this CSV file.")
    ] = None,
    xlsx_path: Annotated[
        Path | None, typer.Option("--xlsx", help="Also write the table to this XLSX workbook.")
    ] = None,
) -> None:
    """Share of Co, Li and Ni in a battery maker's production that traces back to recycling
    outputs (mass balance), against the EU minimums for 2031 and 2036."""
    report = rc.recycled_content_report(state.store, enterprise, period)
    rows = rc.element_rows(report)
    if csv_path is not None:
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            fields: list[str] = []
            for row in rows:
                fields += [k for k in row if k not in fields]
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    if xlsx_path is not None:
        xlsx_path.write_bytes(to_xlsx({"recycled_content": rows}))
    if as_json:
        print_json(report.to_dict())
        return
    table = Table(
        title=f"Recycled content of {report.maker}, {report.start}..{report.end}",
        caption=f"{report.method}; {report.inputs} production inputs"
        + (
            f"; {report.unassessed_kg:,.1f} kg of material without known composition"
            if report.unassessed_kg
            else ""
        ),
    )
    for name in ("element", "in production kg", "recycled kg", "share", "2031 min", "2036 min"):
        table.add_column(name, justify="left" if name == "element" else "right")
    for e in report.elements:
        cells = [e.element, f"{e.total_kg:,.3f}", f"{e.recycled_kg:,.3f}"]
        cells.append("—" if e.share_pct is None else f"{e.share_pct:.2f} %")
        for target in list(e.targets)[:2]:
            verdict = {True: "met", False: "NOT met", None: "n/a"}[target["meets"]]
            cells.append(f"{target['minimum_pct']:g} % ({verdict})")
        table.add_row(*cells)
    console.print(table)
