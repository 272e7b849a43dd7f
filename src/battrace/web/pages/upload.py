"""Reporting templates of the upload centre: one Excel/CSV layout per business step.

Enterprises report to the national platform today by filling in spreadsheets, one per business
step. Each :class:`Step` here is such a layout: its columns, which roles may use it, and how one
row becomes one EPCIS event through the lifecycle builders (``domain/lifecycle/builders``) — the
same events an enterprise's own system would send to ``POST /capture``.

Validation is in two passes, and nothing is written unless both pass for every row:

1. each cell is checked here (required, battery code, VIN, USCC, date/time, number, site), and every
   problem is reported as (row, column, reason) in the user's language;
2. the rows become one EPCIS document captured through :meth:`Ledger.capture_document`, which
   validates and authorises every event again and is all-or-nothing; its problems are mapped back
   to the spreadsheet row (event *i* is data row *i*).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Final

import orjson
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils.exceptions import InvalidFileException

from battrace.domain.errors import InvalidInput
from battrace.domain.identities.gbt34014 import parse_battery_code
from battrace.domain.identities.uris import site_uri
from battrace.domain.identities.uscc import validate_uscc
from battrace.domain.identities.vin import validate_vin
from battrace.domain.lifecycle import builders as b
from battrace.domain.recycling.grading import safety_checklist
from battrace.persistence.base import EnterpriseRow
from battrace.services.capture import CaptureResult, Ledger
from battrace.web.i18n import N_, Translator

CST: Final = timezone(timedelta(hours=8))
MAX_ROWS: Final = 50_000
MAX_BYTES: Final = 20 * 1024 * 1024
MAX_ERRORS: Final = 500  # listed in the report; the count says how many there were in all

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    zh: str
    en: str
    kind: str  # code | codes | vin | uscc | time | number | text | site
    required: bool = False
    example: str = ""

    def header(self) -> str:
        return f"{self.zh} ({self.key})"

    def label(self, t: Translator) -> str:
        return t.pick(self.zh, self.en)


@dataclass(frozen=True, slots=True)
class Step:
    key: str
    title: str  # N_ marked, translated when shown
    roles: tuple[str, ...]
    columns: tuple[Column, ...]
    build: Callable[[Row, str], dict[str, Any]]

    def headers(self) -> list[str]:
        return [c.header() for c in self.columns]


def _c(key: str, zh: str, en: str, kind: str, required: bool = False, example: str = "") -> Column:
    return Column(key, zh, en, kind, required, example)


SITE = _c("site", "站点", "Site", "site", example="s1")
TIME = _c("time", "发生时间", "Time", "time", True, "2025-03-01 09:30")
CODES = _c(
    "codes",
    "电池编码（多个用空格分隔）",
    "Battery codes (space-separated)",
    "codes",
    True,
    "M1JPB12L100000E350000001",
)
ALL_ROLES: Final = (
    "battery_maker",
    "automaker",
    "importer",
    "dealer",
    "repairer",
    "swap_operator",
    "dismantler",
    "recycling_outlet",
    "cascade_user",
    "recycler",
)


def _attrs(row: Row, keys: Mapping[str, str]) -> dict[str, Any]:
    return {attr: row[col] for col, attr in keys.items() if row.get(col) not in (None, "")}


_RATING = {
    "chemistry": b.CHEMISTRY,
    "rated_capacity_ah": b.RATED_CAPACITY_AH,
    "rated_energy_kwh": b.RATED_ENERGY_KWH,
    "mass_kg": b.MASS_KG,
    "nominal_voltage_v": b.NOMINAL_VOLTAGE_V,
}


def _kg(row: Row, names: Sequence[str]) -> dict[str, float]:
    return {n: float(row[f"{n}_kg"]) for n in names if row.get(f"{n}_kg") not in (None, "")}


STEPS: Final[tuple[Step, ...]] = (
    Step(
        "commissioning",
        N_("Production and coding"),
        ("battery_maker",),
        (
            _c("code", "电池编码", "Battery code", "code", True, "M1JPB12L100000E350000001"),
            TIME,
            _c("chemistry", "材料体系", "Chemistry", "text", example="LFP"),
            _c("rated_capacity_ah", "额定容量(Ah)", "Rated capacity (Ah)", "number", example="150"),
            _c("rated_energy_kwh", "额定能量(kWh)", "Rated energy (kWh)", "number", example="57.6"),
            _c("mass_kg", "质量(kg)", "Mass (kg)", "number", example="383.6"),
            _c("nominal_voltage_v", "标称电压(V)", "Nominal voltage (V)", "number", example="384"),
            SITE,
        ),
        lambda r, site: b.commission(
            r["code"], site=site, time=r["time"], attributes=_attrs(r, _RATING)
        ),
    ),
    Step(
        "assembling",
        N_("Assembly (cells into modules, modules into packs)"),
        ("battery_maker",),
        (
            _c(
                "parent_code",
                "上级编码（模组/电池包）",
                "Parent code (module or pack)",
                "code",
                True,
            ),
            _c(
                "child_codes",
                "下级编码（多个用空格分隔）",
                "Child codes (space-separated)",
                "codes",
                True,
            ),
            TIME,
            SITE,
        ),
        lambda r, site: b.assemble(r["parent_code"], r["child_codes"], site=site, time=r["time"]),
    ),
    Step(
        "installing",
        N_("Installation in a vehicle"),
        ("automaker", "importer"),
        (
            _c("pack_code", "电池包编码", "Pack code", "code", True),
            _c("vin", "车辆识别代号(VIN)", "VIN", "vin", True, "LNYEVBA18RA000001"),
            TIME,
            SITE,
        ),
        lambda r, site: b.install(r["pack_code"], r["vin"], site=site, time=r["time"]),
    ),
    Step(
        "selling",
        N_("Vehicle sale"),
        ("dealer",),
        (
            _c("vin", "车辆识别代号(VIN)", "VIN", "vin", True),
            _c("pack_code", "电池包编码", "Pack code", "code"),
            TIME,
            _c("invoice", "发票号", "Invoice number", "text"),
            SITE,
        ),
        lambda r, site: b.sell(
            r["vin"],
            r.get("pack_code") or None,
            site=site,
            time=r["time"],
            invoice=r.get("invoice") or None,
        ),
    ),
    Step(
        "repairing",
        N_("Repair"),
        ("repairer", "swap_operator"),
        (
            _c("pack_code", "电池包编码", "Pack code", "code", True),
            _c("vin", "车辆识别代号(VIN)", "VIN", "vin"),
            TIME,
            SITE,
        ),
        lambda r, site: b.repair(
            r["pack_code"], site=site, time=r["time"], vin=r.get("vin") or None
        ),
    ),
    Step(
        "removing",
        N_("Removal from a vehicle"),
        ("repairer", "swap_operator", "dismantler"),
        (
            _c("pack_code", "电池包编码", "Pack code", "code", True),
            _c("vin", "车辆识别代号(VIN)", "VIN", "vin", True),
            TIME,
            SITE,
        ),
        lambda r, site: b.remove(r["pack_code"], r["vin"], site=site, time=r["time"]),
    ),
    Step(
        "replacing",
        N_("Replacement pack installed"),
        ("repairer", "swap_operator"),
        (
            _c("pack_code", "新电池包编码", "New pack code", "code", True),
            _c("vin", "车辆识别代号(VIN)", "VIN", "vin", True),
            TIME,
            SITE,
        ),
        lambda r, site: b.replace(r["pack_code"], r["vin"], site=site, time=r["time"]),
    ),
    Step(
        "scrapping",
        N_("Vehicle scrapping"),
        ("dismantler",),
        (
            _c("vin", "车辆识别代号(VIN)", "VIN", "vin", True),
            _c("certificate", "报废汽车回收证明编号", "Scrapping certificate number", "text", True),
            _c("pack_code", "车内电池包编码", "Pack code (if still inside)", "code"),
            TIME,
            SITE,
        ),
        lambda r, site: b.scrap_vehicle(
            r["vin"],
            site=site,
            time=r["time"],
            certificate=r["certificate"],
            pack=r.get("pack_code") or None,
        ),
    ),
    Step(
        "retiring",
        N_("Retirement"),
        ("dismantler", "repairer", "swap_operator", "cascade_user"),
        (CODES, TIME, SITE),
        lambda r, site: b.retire(r["codes"], site=site, time=r["time"]),
    ),
    Step(
        "shipping",
        N_("Shipping"),
        ALL_ROLES,
        (
            CODES,
            _c("receiver", "收货企业统一社会信用代码", "Receiver USCC", "uscc", True),
            TIME,
            _c("desadv", "发货单号", "Despatch advice number", "text"),
            SITE,
        ),
        lambda r, site: b.ship(
            r["codes"],
            sender=_party(site),
            receiver=r["receiver"],
            site=site,
            time=r["time"],
            desadv=r.get("desadv") or None,
        ),
    ),
    Step(
        "receiving",
        N_("Receiving"),
        ALL_ROLES,
        (
            CODES,
            _c("sender", "发货企业统一社会信用代码", "Sender USCC", "uscc"),
            TIME,
            _c("desadv", "发货单号", "Despatch advice number", "text"),
            SITE,
        ),
        lambda r, site: b.receive(
            r["codes"],
            site=site,
            time=r["time"],
            sender=r.get("sender") or None,
            receiver=_party(site),
            desadv=r.get("desadv") or None,
        ),
    ),
    Step(
        "collecting",
        N_("Collection at a recycling service outlet"),
        ("recycling_outlet",),
        (
            CODES,
            _c("sender", "移交企业统一社会信用代码", "Handed over by (USCC)", "uscc"),
            TIME,
            SITE,
        ),
        lambda r, site: b.collect(
            r["codes"], site=site, time=r["time"], sender=r.get("sender") or None
        ),
    ),
    Step(
        "inspecting",
        N_("Residual-capacity test"),
        ("cascade_user", "recycler", "recycling_outlet"),
        (
            _c("code", "电池编码", "Battery code", "code", True),
            _c("capacity_ah", "实测容量(Ah)", "Measured capacity (Ah)", "number", True, "114"),
            _c("rated_ah", "额定容量(Ah)", "Rated capacity (Ah)", "number", True, "150"),
            _c("resistance_mohm", "内阻(mΩ)", "Resistance (mΩ)", "number", True, "96"),
            _c("voltage_v", "电压(V)", "Voltage (V)", "number", True, "379.2"),
            _c("soh_pct", "健康度SOH(%)", "State of health (%)", "number"),
            _c("temperature_c", "测试温度(°C)", "Test temperature (°C)", "number", False, "25"),
            _c(
                "safety_failed",
                "安全检查不合格项(逗号分隔，空=全部合格)",
                "Failed safety items (comma-separated, empty = all passed)",
                "text",
            ),
            TIME,
            SITE,
        ),
        lambda r, site: b.inspect(
            r["code"],
            capacity_ah=float(r["capacity_ah"]),
            rated_ah=float(r["rated_ah"]),
            resistance_mohm=float(r["resistance_mohm"]),
            voltage_v=float(r["voltage_v"]),
            soh_pct=None if r.get("soh_pct") in (None, "") else float(r["soh_pct"]),
            temperature_c=None
            if r.get("temperature_c") in (None, "")
            else float(r["temperature_c"]),
            safety_checks=None
            if r.get("temperature_c") in (None, "") and not r.get("safety_failed")
            else safety_checklist(r.get("safety_failed")),
            site=site,
            time=r["time"],
        ),
    ),
    Step(
        "recoding",
        N_("Cascade-use re-coding"),
        ("cascade_user",),
        (
            _c(
                "original_codes",
                "原电池编码（多个用空格分隔）",
                "Original codes (space-separated)",
                "codes",
                True,
            ),
            _c("new_code", "梯次利用产品编码", "New cascade-use code", "code", True),
            TIME,
            _c("chemistry", "材料体系", "Chemistry", "text"),
            _c("rated_capacity_ah", "额定容量(Ah)", "Rated capacity (Ah)", "number"),
            _c("rated_energy_kwh", "额定能量(kWh)", "Rated energy (kWh)", "number"),
            SITE,
        ),
        lambda r, site: b.recode(
            r["original_codes"],
            r["new_code"],
            site=site,
            time=r["time"],
            attributes=_attrs(r, _RATING),
        ),
    ),
    Step(
        "dismantling",
        N_("Dismantling"),
        ("recycler", "cascade_user"),
        (
            _c("pack_code", "电池包编码", "Pack code", "code", True),
            _c("module_codes", "拆出模组编码（多个用空格分隔）", "Module codes taken out", "codes"),
            _c("steel_kg", "钢(kg)", "Steel (kg)", "number"),
            _c("aluminium_kg", "铝(kg)", "Aluminium (kg)", "number"),
            _c("copper_kg", "铜(kg)", "Copper (kg)", "number"),
            _c("plastics_kg", "塑料(kg)", "Plastics (kg)", "number"),
            TIME,
            SITE,
        ),
        lambda r, site: b.dismantle(
            r["pack_code"],
            r.get("module_codes") or (),
            site=site,
            time=r["time"],
            parts_kg=_kg(r, ("steel", "aluminium", "copper", "plastics")) or None,
        ),
    ),
    Step(
        "recycling",
        N_("Recycling into materials"),
        ("recycler",),
        (
            _c(
                "input_codes",
                "投料电池编码（多个用空格分隔）",
                "Input codes (space-separated)",
                "codes",
                True,
            ),
            _c("black_mass_kg", "黑粉(kg)", "Black mass (kg)", "number"),
            _c("copper_kg", "铜(kg)", "Copper (kg)", "number"),
            _c("aluminium_kg", "铝(kg)", "Aluminium (kg)", "number"),
            _c("steel_kg", "钢(kg)", "Steel (kg)", "number"),
            TIME,
            SITE,
        ),
        lambda r, site: b.recycle(
            r["input_codes"],
            _kg(r, ("black_mass", "copper", "aluminium", "steel")),
            site=site,
            time=r["time"],
        ),
    ),
    Step(
        "disposal",
        N_("Final disposal"),
        ("recycler",),
        (CODES, TIME, SITE),
        lambda r, site: b.dispose(r["codes"], site=site, time=r["time"]),
    ),
)
STEP_BY_KEY: Final = {s.key: s for s in STEPS}


def _party(site: str) -> str:
    return site.split(":site:", 1)[0]


def steps_for(roles: Sequence[str]) -> list[Step]:
    return [s for s in STEPS if any(r in s.roles for r in roles)]


# -- templates ---------------------------------------------------------------------------------


def template_csv(step: Step) -> bytes:
    """UTF-8 with a byte-order mark, so Excel on a Chinese Windows opens it correctly."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(step.headers())
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def template_xlsx(step: Step, t: Translator) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = step.key
    ws.append(step.headers())
    bold = Font(bold=True)
    required = PatternFill("solid", fgColor="FFF2CC")
    for cell, col in zip(ws[1], step.columns, strict=True):
        cell.font = bold
        if col.required:
            cell.fill = required
        ws.column_dimensions[cell.column_letter].width = max(14, len(col.header()) * 2)
    ws.freeze_panes = "A2"
    help_ws = wb.create_sheet("说明 Instructions")
    help_ws.append([t._("Column"), t._("Required"), t._("Content"), t._("Example")])
    for cell in help_ws[1]:
        cell.font = bold
    for col in step.columns:
        help_ws.append(
            [
                col.header(),
                t._("yes") if col.required else t._("no"),
                _kind_help(t, col),
                col.example,
            ]
        )
    help_ws.append([])
    help_ws.append(
        [
            t._(
                "Fill in the first sheet from row 2, one row per event. Times without a zone are China Standard Time (UTC+8). Site: a site id of your enterprise; empty = your first site."
            )
        ]
    )
    help_ws.column_dimensions["A"].width = 36
    help_ws.column_dimensions["C"].width = 60
    help_ws.column_dimensions["D"].width = 28
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _kind_help(t: Translator, col: Column) -> str:
    texts = {
        "code": t._("a GB/T 34014 battery code"),
        "codes": t._("one or more battery codes separated by spaces"),
        "vin": t._("a 17-character VIN"),
        "uscc": t._("an 18-character unified social credit code"),
        "time": t._("date and time, e.g. 2025-03-01 09:30"),
        "number": t._("a number"),
        "text": t._("text"),
        "site": t._("a site id of your enterprise"),
    }
    return f"{col.label(t)}: {texts[col.kind]}"


# -- reading and checking ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # as numbered in the spreadsheet (header = 1)
    column: str
    reason: str


@dataclass(slots=True)
class Report:
    step: Step
    rows: int = 0
    errors: list[RowError] | None = None
    error_count: int = 0
    captured: int = 0
    duplicates: int = 0
    capture_id: str | None = None

    @property
    def ok(self) -> bool:
        return not self.error_count


class FileRejected(Exception):
    """The file as a whole cannot be read (format, size, header); says why in the user's language."""


def _rows_xlsx(data: bytes, t: Translator) -> Iterator[list[Any]]:
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (
        InvalidFileException,
        zipfile.BadZipFile,
        KeyError,
        ValueError,
        OSError,
        EOFError,
    ) as exc:
        raise FileRejected(
            t._("The Excel file cannot be read: %(reason)s") % {"reason": exc}
        ) from None
    ws = wb.worksheets[0]
    for values in ws.iter_rows(values_only=True):
        yield list(values)


def _rows_csv(data: bytes, t: Translator) -> Iterator[list[Any]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise FileRejected(t._("The CSV file is neither UTF-8 nor GB 18030 text."))
    yield from csv.reader(io.StringIO(text))


_HEADER_KEY = re.compile(r"\(([a-z_]+)\)\s*$")


def _header_map(step: Step, header: Sequence[Any], t: Translator) -> dict[int, Column]:
    by_name: dict[str, Column] = {}
    for col in step.columns:
        for name in (col.key, col.zh, col.en, col.header()):
            by_name[name.strip().lower()] = col
    mapping: dict[int, Column] = {}
    unknown: list[str] = []
    for i, cell in enumerate(header):
        name = "" if cell is None else str(cell).strip()
        if not name:
            continue
        m = _HEADER_KEY.search(name)
        found = by_name.get(name.lower()) or (by_name.get(m.group(1)) if m else None)
        if found is None:
            unknown.append(name)
        elif found in mapping.values():
            raise FileRejected(t._("Column %(name)s appears twice.") % {"name": name})
        else:
            mapping[i] = found
    if unknown:
        raise FileRejected(
            t._("Unknown column(s) for this template: %(names)s") % {"names": ", ".join(unknown)}
        )
    missing = [c.header() for c in step.columns if c.required and c not in mapping.values()]
    if missing:
        raise FileRejected(t._("Missing column(s): %(names)s") % {"names": ", ".join(missing)})
    return mapping


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=CST)
    if isinstance(value, date):
        return datetime.combine(value, time(0), CST)
    text = str(value).strip().replace("/", "-")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=CST)
        except ValueError:
            continue
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(text) from None
    return when if when.tzinfo else when.replace(tzinfo=CST)


def _cell(t: Translator, col: Column, raw: Any, sites: Sequence[str]) -> Any:
    """The checked value of one cell; raises ValueError with a translated reason."""
    text = "" if raw is None else str(raw).strip()
    if isinstance(raw, float) and raw.is_integer() and col.kind in ("text", "code", "uscc"):
        text = str(int(raw))  # Excel turns long digit strings into numbers
    if text == "":
        if col.required:
            raise ValueError(t._("is required"))
        return None
    try:
        if col.kind == "code":
            return parse_battery_code(text.upper()).code
        if col.kind == "codes":
            parts = [p for p in re.split(r"[\s,;，；]+", text) if p]
            return [parse_battery_code(p.upper()).code for p in parts]
        if col.kind == "vin":
            return validate_vin(text.upper())
        if col.kind == "uscc":
            return validate_uscc(text.upper())
    except InvalidInput as exc:
        raise ValueError(_identity_reason(t, col.kind, str(exc))) from None
    if col.kind == "time":
        try:
            return _time(raw)
        except ValueError:
            raise ValueError(t._("is not a date and time (use 2025-03-01 09:30)")) from None
    if col.kind == "number":
        try:
            number = float(text.replace(",", ""))
        except ValueError:
            raise ValueError(t._("is not a number")) from None
        if not number > 0 or number != number or number == float("inf"):
            raise ValueError(t._("must be a positive number"))
        return number
    if col.kind == "site":
        if text not in sites:
            raise ValueError(
                t._("is not a site of your enterprise (registered: %(sites)s)")
                % {"sites": ", ".join(sites) or "—"}
            )
        return text
    if len(text) > 200:
        raise ValueError(t._("is longer than 200 characters"))
    return text


def _identity_reason(t: Translator, kind: str, detail: str) -> str:
    what = {
        "code": t._("is not a valid battery code"),
        "codes": t._("contains an invalid battery code"),
        "vin": t._("is not a valid VIN"),
        "uscc": t._("is not a valid unified social credit code"),
    }[kind]
    return f"{what} ({detail})"


def check_file(
    data: bytes, step: Step, enterprise: EnterpriseRow, t: Translator
) -> tuple[Report, list[tuple[int, dict[str, Any]]]]:
    """Read and check every row; returns the report and the events (with their row numbers)."""
    if len(data) > MAX_BYTES:
        raise FileRejected(t._("The file is larger than %(mb)s MB.") % {"mb": MAX_BYTES // 2**20})
    if not data.strip():
        raise FileRejected(t._("The file is empty."))
    rows = _rows_xlsx(data, t) if data[:4] == b"PK\x03\x04" else _rows_csv(data, t)
    try:
        header = next(rows)
    except StopIteration:
        raise FileRejected(t._("The file is empty.")) from None
    mapping = _header_map(step, header, t)
    sites = [str(s.get("id")) for s in enterprise.sites if s.get("id")]
    report = Report(step, errors=[])
    events: list[tuple[int, dict[str, Any]]] = []
    for number, values in enumerate(rows, start=2):
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        report.rows += 1
        if report.rows > MAX_ROWS:
            raise FileRejected(
                t._("More than %(n)s rows; split the file.") % {"n": t.number(MAX_ROWS)}
            )
        row: Row = {}
        bad = False
        for i, col in mapping.items():
            raw = values[i] if i < len(values) else None
            try:
                row[col.key] = _cell(t, col, raw, sites)
            except ValueError as exc:
                bad = True
                _add(report, RowError(number, col.label(t), str(exc)))
        if bad:
            continue
        if not sites:
            _add(
                report,
                RowError(number, SITE.label(t), t._("your enterprise has no registered site")),
            )
            continue
        site = site_uri(enterprise.uscc, row.get("site") or sites[0])
        try:
            events.append((number, step.build(row, site)))
        except InvalidInput as exc:
            _add(report, RowError(number, exc.field, exc.reason))
    if report.rows == 0:
        raise FileRejected(t._("The file has a header but no data rows."))
    return report, events


def _add(report: Report, error: RowError) -> None:
    report.error_count += 1
    assert report.errors is not None
    if len(report.errors) < MAX_ERRORS:
        report.errors.append(error)


_EVENT_INDEX = re.compile(r"^epcisBody\.eventList\[(\d+)\]\.?")


def capture_file(
    ledger: Ledger, data: bytes, step: Step, enterprise: EnterpriseRow, t: Translator
) -> Report:
    """Check the file and, only if every row is valid, capture it as one atomic document."""
    report, events = check_file(data, step, enterprise, t)
    if not report.ok:
        return report
    document = b.document([e for _, e in events], sender=enterprise.uscc)
    result: CaptureResult = ledger.capture_document(orjson.dumps(document), enterprise.uscc)
    if result.rejected:
        for problem in result.rejected:
            match = _EVENT_INDEX.match(problem.field)
            if match and int(match.group(1)) < len(events):
                row = events[int(match.group(1))][0]
                field = problem.field[match.end() :] or "—"
            else:
                row, field = 0, problem.field
            _add(
                report,
                RowError(
                    row,
                    field,
                    t._("refused by the ledger: %(reason)s") % {"reason": problem.reason},
                ),
            )
        return report
    report.captured = result.captured
    report.duplicates = len(result.duplicates)
    report.capture_id = result.capture_id
    return report
