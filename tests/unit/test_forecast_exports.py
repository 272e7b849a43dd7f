"""``battrace forecast run --xlsx``: the same table as ``--csv``, as a workbook."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from tests.unit.test_forecast_cli import app

runner = CliRunner(env={"COLUMNS": "250", "NO_COLOR": "1"})


def test_xlsx_holds_the_csv_figures(tmp_path: Path) -> None:
    xlsx, csv_path = tmp_path / "f.xlsx", tmp_path / "f.csv"
    args = ["forecast", "run", "--from", "2024", "--to", "2027", "--draws", "0"]
    result = runner.invoke(app(), [*args, "--csv", str(csv_path), "--xlsx", str(xlsx)])
    assert result.exit_code == 0, result.output
    with csv_path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    sheet = load_workbook(xlsx)["retirements"]
    header = [c.value for c in sheet[1]]
    assert header == list(rows[0])
    assert [sheet.cell(r, 1).value for r in range(2, 6)] == [2024, 2025, 2026, 2027]
    col = header.index("gwh") + 1
    assert [float(r["gwh"]) for r in rows] == pytest.approx(
        [sheet.cell(i, col).value for i in range(2, 6)], rel=1e-12
    )


def test_unwritable_xlsx_is_one_line(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "f.xlsx"
    result = runner.invoke(
        app(), ["forecast", "run", "--to", "2025", "--draws", "0", "--xlsx", str(target)]
    )
    assert result.exit_code == 2 and "error:" in result.stderr and "Traceback" not in result.output
