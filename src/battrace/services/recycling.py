"""Cascade use and recycling over the ledger: grading, recovery reports, mass-balance alerts,
model-enterprise ranking.

* :func:`grade_battery` grades a battery from its latest residual-capacity inspection in the
  ledger; :func:`read_batch` / :func:`grade_rows` grade a batch of test results (CSV or JSON),
  every row validated first (errors name the row and the field).
* :func:`recovery` — per recycler and period: the mass balance of its recycling
  TransformationEvents (:mod:`battrace.domain.recycling.lots` → :func:`~battrace.domain.recycling.
  massbalance.mass_balance`), recovery rates, and checks against the CN 2024 standard conditions and
  the EU 2023/1542 targets.
* :func:`balance_findings` — the ``mass-balance`` alerts of recycling events for the regulation
  engine (:mod:`battrace.services.alerts` calls it at capture, on full evaluation and rebuild).
* :func:`rank` — the model-enterprise score (:mod:`battrace.domain.recycling.ranking`) from measured
  components: recovery checks met, reporting timeliness, open alerts, volumes.

Reading conventions for the ledger (which sensor reports and extension fields) are in
``docs/recycling.md`` §6.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

import orjson
from sqlalchemy import Connection, select

from battrace.domain.epcis import vocab
from battrace.domain.errors import InvalidInput, NotAuthorised
from battrace.domain.periods import Period, parse_period
from battrace.domain.recycling import grading as G
from battrace.domain.recycling import ranking as R
from battrace.domain.recycling.lots import EventLots, event_lots, ext, input_epcs, stages_of
from battrace.domain.recycling.massbalance import (
    DEFAULT_TOLERANCE,
    Check,
    InputLot,
    MassBalanceReport,
    OutputLot,
    mass_balance,
)
from battrace.domain.rules import RuleSet
from battrace.domain.supervision import massbalance as alert_rule
from battrace.domain.supervision.clock import china_day, text_of, us_of_text
from battrace.domain.supervision.evaluate import Context
from battrace.domain.supervision.findings import Finding
from battrace.persistence import schema as t
from battrace.persistence.base import Store
from battrace.services.alerts import Scope, default_rules, load_registry, sql_store
from battrace.services.authorisation import ReadScope

__all__ = [
    "BatchInvalid",
    "Period",
    "balance_findings",
    "grade_battery",
    "grade_rows",
    "parse_period",
    "rank",
    "read_batch",
    "recovery",
    "recovery_sheets",
]

MAX_BATCH_ROWS: Final = 10_000
MAX_BATCH_BYTES: Final = 5_000_000
_INSPECTION_STEPS = ("inspecting", "sensor_reporting")
_CHUNK = 900


# =============================================================================================
# Grading
# =============================================================================================

#: Batch columns: name -> required. ``safety_checks`` is a JSON object in JSON input; in CSV every
#: column ``safety.<item>`` is one checklist item (yes/no, true/false, 1/0).
GRADE_FIELDS: Final[Mapping[str, bool]] = {
    "code": False,
    "measured_capacity_ah": True,
    "rated_capacity_ah": True,
    "internal_resistance_mohm": True,
    "temperature_c": True,
    "initial_resistance_mohm": False,
    "open_circuit_voltage_v": False,
    "nominal_voltage_v": False,
    "self_discharge_pct_per_month": False,
    "safety_checks": True,
}
_NUMERIC = tuple(k for k in GRADE_FIELDS if k not in ("code", "safety_checks"))
_YES = {"yes", "y", "true", "1", "是", "fail", "failed"}
_NO = {"no", "n", "false", "0", "否", "pass", "passed"}


class BatchInvalid(InvalidInput):
    """Rows of a batch that cannot be graded: ``errors`` = (row index, field, reason), all of them.
    The first one is the exception's field and reason (one readable line)."""

    def __init__(self, errors: Sequence[tuple[int, str, str]]) -> None:
        index, field, reason = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"rows[{index}].{field}", reason + more)
        self.errors = list(errors)


def _result(test: G.ResidualCapacityTest, policy: G.GradingPolicy | None) -> dict[str, Any]:
    r = G.grade(test, policy)
    return {"soh_pct": round(r.soh_pct, 4), "grade": r.grade, "reasons": list(r.reasons)}


def _row_number(row: Mapping[str, Any], name: str) -> float | None:
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if GRADE_FIELDS[name]:
            raise InvalidInput(name, "is required")
        return None
    if isinstance(value, bool):
        raise InvalidInput(name, f"must be a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise InvalidInput(name, f"{value!r} is not a number") from None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(name, f"must be a finite number, got {value!r}")
    return float(value)


def _answer(item: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _YES:
        return True
    if isinstance(value, str) and value.strip().lower() in _NO:
        return False
    raise InvalidInput(f"safety_checks.{item}", f"must be yes or no (true = failed), got {value!r}")


def test_from_row(row: Mapping[str, Any]) -> tuple[str | None, G.ResidualCapacityTest]:
    """One batch row as a test; raises InvalidInput naming the field."""
    if not isinstance(row, Mapping):
        raise InvalidInput("row", "must be an object")
    checks: dict[str, bool] = {}
    raw_checks = row.get("safety_checks")
    for key, value in row.items():
        if not isinstance(key, str):
            raise InvalidInput("row", f"field names must be strings: {key!r}")
        if key.startswith("safety."):
            item = key[len("safety.") :].strip()
            if not item:
                raise InvalidInput(key, "names no checklist item")
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            checks[item] = _answer(item, value)
        elif key not in GRADE_FIELDS:
            raise InvalidInput(key, f"unknown field; known: {', '.join(GRADE_FIELDS)}, safety.*")
    if raw_checks is not None:
        if not isinstance(raw_checks, Mapping):
            raise InvalidInput("safety_checks", "must be an object of item -> true (failed)/false")
        for item, value in raw_checks.items():
            if not isinstance(item, str) or not item.strip():
                raise InvalidInput("safety_checks", f"item names must be non-empty: {item!r}")
            checks[item] = _answer(item, value)
    code = row.get("code")
    if code is not None and not isinstance(code, str):
        raise InvalidInput("code", "must be a string")
    values = {name: _row_number(row, name) for name in _NUMERIC}
    test = G.ResidualCapacityTest(
        measured_capacity_ah=values["measured_capacity_ah"],  # type: ignore[arg-type]
        rated_capacity_ah=values["rated_capacity_ah"],  # type: ignore[arg-type]
        internal_resistance_mohm=values["internal_resistance_mohm"],  # type: ignore[arg-type]
        temperature_c=values["temperature_c"],  # type: ignore[arg-type]
        safety_checks=checks,
        initial_resistance_mohm=values["initial_resistance_mohm"],
        open_circuit_voltage_v=values["open_circuit_voltage_v"],
        nominal_voltage_v=values["nominal_voltage_v"],
        self_discharge_pct_per_month=values["self_discharge_pct_per_month"],
    )
    return (code.strip() or None) if isinstance(code, str) else None, test


def grade_rows(
    rows: Sequence[Mapping[str, Any]], policy: G.GradingPolicy | None = None
) -> list[dict[str, Any]]:
    """Grade every row, or raise :class:`BatchInvalid` listing every row that cannot be graded."""
    if not rows:
        raise InvalidInput("rows", "no test results")
    if len(rows) > MAX_BATCH_ROWS:
        raise InvalidInput("rows", f"{len(rows)} rows; at most {MAX_BATCH_ROWS} per batch")
    out: list[dict[str, Any]] = []
    errors: list[tuple[int, str, str]] = []
    for n, row in enumerate(rows):
        try:
            code, test = test_from_row(row)
            out.append({"row": n, "code": code, **_result(test, policy)})
        except InvalidInput as exc:
            errors.append((n, exc.field, exc.reason))
    if errors:
        raise BatchInvalid(errors)
    return out


def read_batch(data: bytes, fmt: str) -> list[dict[str, Any]]:
    """Rows of a batch file: ``fmt`` is ``csv`` or ``json`` (one object or a list of them)."""
    if len(data) > MAX_BATCH_BYTES:
        raise InvalidInput("file", f"{len(data)} bytes; at most {MAX_BATCH_BYTES}")
    if fmt == "json":
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput("file", f"not valid JSON: {exc}") from None
        rows = [doc] if isinstance(doc, dict) else doc
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise InvalidInput("file", "must be a test-result object or a list of them")
        return rows
    if fmt != "csv":
        raise InvalidInput("format", f"{fmt!r} is not one of: csv, json")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("file", "CSV must be UTF-8") from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise InvalidInput("file", "CSV has no header row")
    out: list[dict[str, Any]] = []
    for n, row in enumerate(reader):
        if None in row:
            raise InvalidInput(f"rows[{n}]", "more cells than header columns")
        out.append({k.strip(): v for k, v in row.items() if k is not None})
        if len(out) > MAX_BATCH_ROWS:
            raise InvalidInput("rows", f"more than {MAX_BATCH_ROWS} rows per batch")
    return out


def _reports(body: Mapping[str, Any]) -> Iterator[tuple[str, str | None, Mapping[str, Any]]]:
    for element in body.get("sensorElementList") or ():
        if not isinstance(element, dict):
            continue
        for report in element.get("sensorReport") or ():
            if isinstance(report, dict) and isinstance(report.get("type"), str):
                kind = report["type"].removeprefix("gs1:").rsplit("/", 1)[-1]
                uom = report.get("uom")
                yield kind, uom if isinstance(uom, str) else None, report


def _value(report: Mapping[str, Any], key: str = "value") -> float | None:
    value = report.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _attr(attrs: Mapping[str, Any], key: str) -> float | None:
    return _value(attrs, key)


def test_from_event(body: Mapping[str, Any], attrs: Mapping[str, Any]) -> G.ResidualCapacityTest:
    """The residual-capacity test an inspection event reports (docs/recycling.md §6).

    ``attrs`` are the battery's view attributes (rated capacity, nominal voltage from its
    commissioning data). Raises InvalidInput naming what the event lacks."""
    capacity = rated = resistance = temperature = voltage = None
    for kind, uom, report in _reports(body):
        if (kind, uom) == ("ElectricCharge", "AMH"):
            capacity = _value(report)
            rated = _value(report, "battrace:ratedCapacityAh") or rated
        elif (kind, uom) == ("Resistance", "OHM"):
            ohm = _value(report)
            resistance = None if ohm is None else ohm * 1000.0
        elif (kind, uom) == ("Resistance", "MOHM") or (kind, uom) == ("Resistance", "mΩ"):
            resistance = _value(report)
        elif kind == "Temperature" and uom == "CEL":
            temperature = _value(report)
        elif (kind, uom) == ("Voltage", "VLT"):
            voltage = _value(report)
    rated = rated or _attr(attrs, "ratedCapacityAh")
    missing = [
        name
        for name, value in (
            ("measured capacity (sensorReport ElectricCharge, uom AMH)", capacity),
            ("rated capacity (battrace:ratedCapacityAh or commissioning ratedCapacityAh)", rated),
            ("internal resistance (sensorReport Resistance, uom OHM)", resistance),
            ("test temperature (sensorReport Temperature, uom CEL)", temperature),
        )
        if value is None
    ]
    if missing:
        raise InvalidInput("inspection", "does not report the " + "; the ".join(missing))
    raw_checks = ext(body, "safetyChecks")
    checks: dict[str, bool] = {}
    if raw_checks is not None:
        if not isinstance(raw_checks, dict):
            raise InvalidInput("battrace:safetyChecks", "must be an object of item -> bool")
        for item, answer in raw_checks.items():
            if not isinstance(answer, bool):
                raise InvalidInput(f"battrace:safetyChecks.{item}", "must be true or false")
            checks[str(item)] = answer
    self_discharge = ext(body, "selfDischargePctPerMonth")
    initial = ext(body, "initialResistanceMohm")
    return G.ResidualCapacityTest(
        measured_capacity_ah=capacity,  # type: ignore[arg-type]
        rated_capacity_ah=rated,  # type: ignore[arg-type]
        internal_resistance_mohm=resistance,  # type: ignore[arg-type]
        temperature_c=temperature,  # type: ignore[arg-type]
        safety_checks=checks,
        initial_resistance_mohm=_value({"v": initial}, "v")
        if initial is not None
        else _attr(attrs, "initialResistanceMohm"),
        open_circuit_voltage_v=voltage,
        nominal_voltage_v=_attr(attrs, "nominalVoltageV"),
        self_discharge_pct_per_month=_value({"v": self_discharge}, "v"),
    )


class NoInspection(InvalidInput):
    """The battery is in the ledger but has no residual-capacity inspection to grade."""


def grade_battery(
    store: Store,
    code: str,
    *,
    scope: ReadScope | None = None,
    policy: G.GradingPolicy | None = None,
) -> dict[str, Any]:
    """Grade a battery from its latest residual-capacity inspection.

    InvalidInput if the code is not in the ledger, :class:`NoInspection` if it has no inspection
    with a measured capacity, InvalidInput (field ``inspection`` …) if the inspection lacks what
    grading needs; NotAuthorised if ``scope`` may not read that inspection."""
    from battrace.services.passport import resolve

    uri = resolve(store, code)
    rows = store.events_for(uri)
    declared = store.declared_ids({r.event_id for _, r in rows if not r.is_declaration})
    latest = None
    for role, row in rows:
        if row.is_declaration or row.event_id in declared or role != "epc":
            continue
        step = (row.biz_step or "").rsplit("BizStep-", 1)[-1]
        if step not in _INSPECTION_STEPS:
            continue
        body = orjson.loads(row.body)
        if isinstance(body, dict) and any(
            (k, u) == ("ElectricCharge", "AMH") for k, u, _ in _reports(body)
        ):
            latest = (row, body)
    bare = uri.removeprefix("urn:gbt34014:")
    if latest is None:
        raise NoInspection("code", f"{bare} has no residual-capacity inspection in the ledger")
    row, body = latest
    if scope is not None and scope.kind != "national":
        from battrace.services import query as qs
        from battrace.services.trace import trace

        shown = qs.scope_trace(store, scope, trace(store, uri))
        visible = {e["eventID"] for e in (shown or {}).get("events", [])}
        if row.event_id not in visible:
            raise NotAuthorised("code", f"the inspection of {bare} is not visible to {scope.uscc}")
    view_text = store.get_view(uri)
    attrs = (orjson.loads(view_text) if view_text else {}).get("attributes") or {}
    test = test_from_event(body, attrs)
    return {
        "code": bare,
        "uri": uri,
        "inspection": {
            "eventID": row.event_id,
            "eventTime": row.event_time,
            "reporter": row.reporter,
        },
        "test": {
            "measured_capacity_ah": test.measured_capacity_ah,
            "rated_capacity_ah": test.rated_capacity_ah,
            "internal_resistance_mohm": test.internal_resistance_mohm,
            "temperature_c": test.temperature_c,
            "initial_resistance_mohm": test.initial_resistance_mohm,
            "open_circuit_voltage_v": test.open_circuit_voltage_v,
            "nominal_voltage_v": test.nominal_voltage_v,
            "self_discharge_pct_per_month": test.self_discharge_pct_per_month,
            "safety_checks": dict(test.safety_checks),
        },
        **_result(test, policy),
    }


# =============================================================================================
# Recovery: mass balance per recycler and period
# =============================================================================================


@dataclass(frozen=True, slots=True)
class _Recycling:
    seq: int
    event_id: str
    reporter: str
    event_time: str
    record_time: str
    body: dict[str, Any]


def _views(conn: Connection, epcs: Iterable[str]) -> dict[str, dict[str, Any]]:
    o = t.objects.c
    out: dict[str, dict[str, Any]] = {}
    items = sorted(set(epcs))
    for i in range(0, len(items), _CHUNK):
        for epc, view in conn.execute(
            select(o.epc, o.view).where(o.epc.in_(items[i : i + _CHUNK]))
        ):
            out[epc] = orjson.loads(view)
    return out


def _recycling_events(
    conn: Connection, *, reporter: str | None, period: Period | None, seqs: Iterable[int] = ()
) -> list[_Recycling]:
    e = t.events.c
    q = select(e.seq, e.event_id, e.reporter, e.event_time, e.record_time, e.body).where(
        e.biz_step == vocab.BIZSTEP_RECYCLING,
        e.event_type == "TransformationEvent",
        e.is_declaration == 0,
    )
    if reporter is not None:
        q = q.where(e.reporter == reporter)
    if period is not None:
        lo, hi = period.bounds()
        q = q.where(e.event_time >= lo, e.event_time < hi)
    wanted = list(seqs)
    if wanted:
        q = q.where(e.seq.in_(wanted))
    out = []
    for r in conn.execute(q.order_by(e.seq)):
        body = orjson.loads(r.body)
        if isinstance(body, dict):
            out.append(_Recycling(r.seq, r.event_id, r.reporter, r.event_time, r.record_time, body))
    return out


def _declared(conn: Connection, ids: Sequence[str], as_of: str | None = None) -> set[str]:
    e = t.events.c
    out: set[str] = set()
    for i in range(0, len(ids), _CHUNK):
        q = select(e.event_id).where(e.event_id.in_(ids[i : i + _CHUNK]), e.is_declaration == 1)
        if as_of is not None:
            q = q.where(e.record_time <= as_of)
        out.update(conn.execute(q).scalars())
    return out


def _assess(
    events: Sequence[_Recycling], views: Mapping[str, Mapping[str, Any]]
) -> tuple[list[tuple[_Recycling, EventLots]], list[dict[str, Any]]]:
    ok: list[tuple[_Recycling, EventLots]] = []
    excluded: list[dict[str, Any]] = []
    for ev in events:
        try:
            lots = event_lots(ev.event_id, ev.body, views)
            day = _period_of_event(ev)  # the balance validates every lot (purity <= 1 ...)
            mass_balance(ev.reporter, day, day, lots.inputs, lots.outputs, targets=())
        except InvalidInput as exc:
            excluded.append({"eventID": ev.event_id, "field": exc.field, "reason": exc.reason})
            continue
        ok.append((ev, lots))
    return ok, excluded


def _period_of_event(ev: _Recycling) -> date:
    return china_day(us_of_text(ev.event_time))


def _tolerance(ctx: Context, day: date) -> tuple[float, str | None]:
    rule = alert_rule.rule_for(ctx, day)
    if rule is None:
        return DEFAULT_TOLERANCE, None
    return alert_rule.tolerance(rule), rule.id


def _check_json(c: Check) -> dict[str, Any]:
    tg = c.target
    return {
        "id": tg.id,
        "scheme": tg.scheme,
        "metric": tg.metric,
        "element": tg.element,
        "comparison": tg.comparison,
        "threshold_pct": tg.value_pct,
        "stage": tg.stage,
        "in_force_from": tg.in_force.isoformat(),
        "in_force": c.in_force,
        "value_pct": None if c.value_pct is None else round(c.value_pct, 4),
        "status": c.status,
        "note": c.note,
        "confidence": tg.status,
        "source": tg.source,
    }


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _balance_json(report: MassBalanceReport, stages: Sequence[str]) -> dict[str, Any]:
    return {
        "tolerance_pct": round(report.tolerance * 100.0, 4),
        "stages": list(stages),
        "balanced": report.balanced,
        "ok": report.ok,
        "elements": [
            {
                "element": b.element,
                "input_kg": _r(b.input_kg, 6),
                "input_basis": list(b.input_basis),
                "output_kg": _r(b.output_kg, 6),
                "recovered_kg": _r(b.recovered_kg, 6),
                "recovery_pct": _r(b.recovery_pct),
                "balanced": b.balanced,
            }
            for b in report.elements
        ],
        "input_battery_kg": _r(report.input_battery_kg, 6),
        "electrode_powder_in_kg": _r(report.electrode_powder_in_kg, 6),
        "electrode_powder_out_kg": _r(report.electrode_powder_out_kg, 6),
        "electrode_powder_recovery_pct": _r(report.electrode_powder_recovery_pct),
        "recycled_kg": _r(report.recycled_kg, 6),
        "recycling_efficiency_pct": _r(report.recycling_efficiency_pct),
        "checks": [_check_json(c) for c in report.checks],
        "findings": [
            {"kind": f.kind, "subject": f.subject, "message": f.message} for f in report.findings
        ],
    }


def recovery(
    store: Store,
    uscc: str,
    period: Period | str,
    scope: Scope,
    *,
    rules: RuleSet | None = None,
    stages: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The recovery report of recycler ``uscc`` for ``period`` (see the module doc).

    InvalidInput if the enterprise is not registered; NotAuthorised if ``scope`` may not see it.
    ``balance`` is None when no recycling event of the period could be assessed."""
    if isinstance(period, str):
        period = parse_period(period)
    if not isinstance(uscc, str) or not uscc.strip():
        raise InvalidInput("enterprise", "a USCC is required")
    row = store.get_enterprise(uscc.strip())
    if row is None:
        raise InvalidInput("enterprise", f"{uscc} is not a registered enterprise")
    if not scope.allows(row.province, row.uscc):
        raise NotAuthorised("enterprise", f"{row.uscc} is not visible to this caller")
    rules = rules if rules is not None else default_rules()
    sql = sql_store(store)
    with sql.engine.connect() as conn:
        ctx = Context(rules, load_registry(conn))
        events = _recycling_events(conn, reporter=row.uscc, period=period)
        declared = _declared(conn, [e.event_id for e in events])
        events = [e for e in events if e.event_id not in declared]
        views = _views(conn, (epc for e in events for epc in input_epcs(e.body)))
    assessed, excluded = _assess(events, views)
    tolerance, rule_id = _tolerance(ctx, period.end)
    out: dict[str, Any] = {
        "enterprise": row.uscc,
        "name_zh": row.name_zh,
        "name_en": row.name_en,
        "province": row.province,
        "roles": list(row.roles),
        "period": period.to_json(),
        "events": {
            "recycling": len(events),
            "assessed": len(assessed),
            "retracted": len(declared),
            "excluded": excluded,
        },
        "tolerance_rule": rule_id,
        "balance": None,
    }
    if not assessed:
        return out
    inputs: list[InputLot] = [lot for _, lots in assessed for lot in lots.inputs]
    outputs: list[OutputLot] = [lot for _, lots in assessed for lot in lots.outputs]
    used = tuple(stages) if stages else stages_of(outputs)
    report = mass_balance(
        row.uscc,
        period.start,
        period.end,
        inputs,
        outputs,
        stages=used,
        tolerance=tolerance,
    )
    out["balance"] = _balance_json(report, used)
    return out


def recovery_sheets(report: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The report as tables (for XLSX): summary, elements, checks, findings, excluded events."""
    bal = report.get("balance") or {}
    summary = {
        "enterprise": report["enterprise"],
        "name_zh": report["name_zh"],
        "province": report["province"],
        "period": report["period"]["label"],
        "start": report["period"]["start"],
        "end": report["period"]["end"],
        "recycling_events": report["events"]["recycling"],
        "assessed_events": report["events"]["assessed"],
        "tolerance_pct": bal.get("tolerance_pct"),
        "stages": bal.get("stages"),
        "balanced": bal.get("balanced"),
        "input_battery_kg": bal.get("input_battery_kg"),
        "electrode_powder_recovery_pct": bal.get("electrode_powder_recovery_pct"),
        "recycling_efficiency_pct": bal.get("recycling_efficiency_pct"),
    }
    return {
        "summary": [summary],
        "elements": [{**e, "input_basis": e["input_basis"]} for e in bal.get("elements", [])],
        "checks": list(bal.get("checks", [])),
        "findings": list(bal.get("findings", [])),
        "excluded events": list(report["events"]["excluded"]),
    }


# =============================================================================================
# mass-balance alerts (called by services.alerts)
# =============================================================================================


def _findings_of(
    ctx: Context, events: Sequence[_Recycling], views: Mapping[str, Mapping[str, Any]]
) -> list[Finding]:
    out: list[Finding] = []
    assessed, _ = _assess(events, views)
    for ev, lots in assessed:
        day = _period_of_event(ev)
        rule = alert_rule.rule_for(ctx, day)
        if rule is None:
            continue
        try:
            report = mass_balance(
                ev.reporter,
                day,
                day,
                lots.inputs,
                lots.outputs,
                tolerance=alert_rule.tolerance(rule),
                targets=(),
            )
        except InvalidInput:
            continue  # a lot the balance rejects: not assessable, no alert
        impossible = [(f.subject, f.message) for f in report.findings if f.kind == "mass-balance"]
        if impossible:
            out.append(
                alert_rule.finding(
                    rule,
                    ctx,
                    event_seq=ev.seq,
                    event_id=ev.event_id,
                    reporter=ev.reporter,
                    detected_at=us_of_text(ev.record_time),
                    messages=impossible,
                )
            )
    return out


def balance_findings(
    conn: Connection,
    ctx: Context,
    *,
    seqs: Iterable[int] | None = None,
    as_of: int | None = None,
) -> tuple[list[Finding], set[str]]:
    """``mass-balance`` findings of recycling events (``seqs``: only those; None: all), as the
    ledger knew them at ``as_of``. Returns the findings and the units of every event looked at
    (retracted ones included), so a caller can reconcile exactly those units."""
    wanted = None if seqs is None else sorted(set(seqs))
    if wanted == []:
        return [], set()
    if wanted is None:
        events = _recycling_events(conn, reporter=None, period=None)
    else:
        events = [
            ev
            for i in range(0, len(wanted), _CHUNK)
            for ev in _recycling_events(
                conn, reporter=None, period=None, seqs=wanted[i : i + _CHUNK]
            )
        ]
    moment = None if as_of is None else text_of(as_of)
    if moment is not None:
        events = [e for e in events if e.record_time <= moment]
    units = {alert_rule.unit_of(e.seq) for e in events}
    declared = _declared(conn, [e.event_id for e in events], moment)
    live = [e for e in events if e.event_id not in declared]
    views = _views(conn, (epc for e in live for epc in input_epcs(e.body)))
    return _findings_of(ctx, live, views), units


def recycling_seqs_of_capture(conn: Connection, first_seq: int, last_seq: int) -> set[int]:
    """Recycling events a capture appended, or retracted (its declarations): their seqs."""
    e = t.events.c
    rows = conn.execute(
        select(e.seq, e.event_id, e.is_declaration).where(
            e.seq >= first_seq,
            e.seq <= last_seq,
            e.biz_step == vocab.BIZSTEP_RECYCLING,
        )
    ).all()
    out = {r.seq for r in rows if not r.is_declaration}
    declared = [r.event_id for r in rows if r.is_declaration]
    for i in range(0, len(declared), _CHUNK):
        q = select(e.seq).where(e.event_id.in_(declared[i : i + _CHUNK]), e.is_declaration == 0)
        out.update(conn.execute(q).scalars())
    return out


# =============================================================================================
# Model-enterprise ranking
# =============================================================================================


def _recovery_component(report: Mapping[str, Any]) -> tuple[float | None, dict[str, Any]]:
    bal = report.get("balance")
    if not bal:
        return None, {"note": "no assessable recycling events"}
    checks = [
        c
        for c in bal["checks"]
        if c["scheme"] == "CN-2024" and c["in_force"] and c["status"] in ("met", "not-met")
    ]
    if not bal["balanced"]:
        return 0.0, {"note": "impossible mass balance", "met": 0, "evaluated": len(checks)}
    if not checks:
        return None, {"note": "no CN 2024 check could be evaluated"}
    met = sum(1 for c in checks if c["status"] == "met")
    return met / len(checks), {"met": met, "evaluated": len(checks)}


def rank(
    store: Store,
    period: Period | str,
    scope: Scope,
    *,
    province: str | None = None,
    weights: R.Weights | None = None,
    rules: RuleSet | None = None,
) -> dict[str, Any]:
    """Model-enterprise ranking of the enterprises ``weights.roles`` names, in ``scope``."""
    from battrace.services import stats

    if isinstance(period, str):
        period = parse_period(period)
    weights = weights or R.default_weights()
    if province is not None:
        from battrace.domain.identities.divisions import province_by_code

        if province_by_code(province) is None:
            raise InvalidInput("province", f"{province!r} is not a GB/T 2260 province code")
        if not scope.national and scope.province not in (None, province):
            raise NotAuthorised("province", f"only province {scope.province} is visible")
    rules = rules if rules is not None else default_rules()
    query = stats.StatsQuery(
        "enterprise", "all", period.start, period.end + timedelta(days=1), None, None
    )
    rows = stats.statistics(store, query, Scope.everything(), rules=rules)
    by_enterprise = {r["group"]: r for r in rows}
    candidates = [
        e
        for e in store.list_enterprises()
        if set(e.roles) & set(weights.roles)
        and scope.allows(e.province, e.uscc)
        and (province is None or e.province == province)
    ]
    measured: list[R.Measured] = []
    details: dict[str, dict[str, Any]] = {}
    for e in candidates:
        row = by_enterprise.get(e.uscc, {})
        recovery_value: float | None = None
        recovery_detail: dict[str, Any] = {"note": "not a recycler"}
        recycler = "recycler" in e.roles
        if recycler:
            report = recovery(store, e.uscc, period, Scope.everything(), rules=rules)
            recovery_value, recovery_detail = _recovery_component(report)
        packs = int(row.get("recycled_count", 0)) + int(row.get("cascade_used_count", 0))
        measured.append(
            R.Measured(
                enterprise=e.uscc,
                recovery=recovery_value,
                recovery_applicable=recycler,
                timeliness=row.get("timeliness_rate"),
                open_alerts=int(row.get("open_alerts", 0)),
                packs=packs,
                kg=float(row.get("recycled_kg", 0.0)) + float(row.get("cascade_used_kg", 0.0)),
            )
        )
        details[e.uscc] = {
            "name_zh": e.name_zh,
            "name_en": e.name_en,
            "province": e.province,
            "roles": list(e.roles),
            "recovery_detail": recovery_detail,
            "reports_checked": row.get("reports_checked", 0),
            "reports_on_time": row.get("reports_on_time", 0),
        }
    ranked = R.rank(measured, weights)
    return {
        "period": period.to_json(),
        "province": province,
        "weights": weights.to_json(),
        "ranking": [{**r.to_json(), **details[r.enterprise]} for r in ranked],
    }


def ranking_rows(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One flat row per enterprise (for tables and XLSX)."""
    out = []
    for r in data["ranking"]:
        row: dict[str, Any] = {
            "rank": r["rank"],
            "enterprise": r["enterprise"],
            "name_zh": r["name_zh"],
            "province": r["province"],
            "score": r["score"],
        }
        for c in r["components"]:
            row[f"{c['name']}_value"] = c["value"]
            row[f"{c['name']}_score"] = c["score"]
            row[f"{c['name']}_weight"] = c["weight"]
        out.append(row)
    return out
