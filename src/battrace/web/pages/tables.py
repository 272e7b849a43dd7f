"""Tables behind the charts, as HTML tables, CSV and XLSX (the numbers one click away)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from starlette.responses import Response


@dataclass(frozen=True, slots=True)
class DataTable:
    key: str
    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    numeric: Sequence[bool] = ()

    def is_numeric(self, i: int) -> bool:
        return bool(self.numeric) and i < len(self.numeric) and self.numeric[i]


def _cell(value: Any) -> Any:
    # Formula injection: a text cell starting with = + - @ would run as a formula in Excel.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def to_csv(table: DataTable) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_cell(c) for c in table.columns])
    for row in table.rows:
        writer.writerow(["" if v is None else _cell(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(table: DataTable) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = table.key[:31]
    ws.append([_cell(c) for c in table.columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in table.rows:
        ws.append([_cell(v) for v in row])
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download(table: DataTable, stem: str, fmt: str) -> Response:
    """``table`` as an attachment ``{stem}.csv`` (UTF-8 with BOM, for Excel) or ``.xlsx``."""
    if fmt == "csv":
        body, media = to_csv(table), "text/csv; charset=utf-8"
    else:
        body, media = to_xlsx(table), XLSX
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{stem}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )
