"""The regulation engine over a ledger: incremental at capture, full re-evaluation on demand.

* :class:`CaptureObserver` runs inside every capture transaction (``Ledger(…, observers=[…])``):
  it turns the new events into facts (``supervision_facts``), re-evaluates every subject they touch
  and the outlet stock, and stores the findings (``alerts``). Only the touched subjects are read, so
  the cost follows the capture, not the ledger.
* :func:`evaluate` computes every finding from scratch, read-only, as of any moment — from the
  facts table (fast) or from the events themselves (independent of the facts; slower).
* :func:`rebuild` is the full re-evaluation persisted: it reconciles the stored alerts with a fresh
  evaluation, keeping each alert's workflow (an alert's key is stable), optionally after rebuilding
  the facts from the events.
* :func:`list_alerts` answers "which alerts, as of when, for whom" (:class:`Scope`).

Time is explicit everywhere: an alert is *detected* at an instant (see
:mod:`battrace.domain.supervision.findings`), so the alerts as of T are the findings detected by
T. Without ``as_of`` the stored findings are filtered at "now"; with an ``as_of`` in the past the
rules are re-run on what the ledger knew then (facts recorded by T).
"""

from __future__ import annotations

import gc
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from battrace.config import rulebook_paths
from battrace.domain.epcis import vocab
from battrace.domain.epcis.event import Event
from battrace.domain.errors import InvalidInput
from battrace.domain.lifecycle import states as S
from battrace.domain.rules import AlertKind, RuleSet, load_rulebooks
from battrace.domain.supervision import facts as F
from battrace.domain.supervision.clock import (
    parse_as_of,
    text_of,
    us_of,
    us_of_text,
)
from battrace.domain.supervision.evaluate import (
    Context,
    Delta,
    OutletSweep,
    Retraction,
    SiteTotal,
    StockEntry,
    evaluate_all,
    evaluate_subject,
    evaluate_subjects,
    sweep_outlets,
)
from battrace.domain.supervision.facts import Fact, bare_party, build_facts, parties_from_body
from battrace.domain.supervision.findings import (
    ACKNOWLEDGED,
    ANSWERED,
    CLOSED,
    OPEN,
    OUTLET_UNIT_PREFIX,
    RECTIFYING,
    RESOLVED,
    STATUSES,
    WITHDRAWN,
    Finding,
)
from battrace.domain.supervision.registry import Registry, enterprise_info
from battrace.persistence import schema as t
from battrace.persistence import schema_supervision as ts
from battrace.persistence.base import StorageError, Store, WriteTxn
from battrace.persistence.sql import SqlStore, insert_sql, mark, marks
from battrace.services.gcpause import gc_paused

#: Per-statement options for big reads on PostgreSQL: a server-side cursor, batches of rows
#: (psycopg's default cursor would load the whole result). SQLite's cursor already streams, and
#: faster without them. Per statement: Connection.execution_options() would change the connection
#: for everything that follows.
_STREAM: dict[str, Any] = {"stream_results": True, "yield_per": 5000}


def stream_options(conn: Connection) -> dict[str, Any]:
    return _STREAM if conn.dialect.name == "postgresql" else {}


CHUNK = 900  # host parameters per statement (SQLite's default limit is 999)
META_FACTS_THROUGH = "facts_through_seq"
STAGES = ("new", ACKNOWLEDGED, RECTIFYING, ANSWERED, CLOSED)

FACT_COLUMNS = (
    "subject",
    "event_seq",
    "role",
    "capture_seq",
    "position",
    "event_time",
    "record_time",
    "step",
    "reporter",
    "party",
    "site",
    "kg",
    "is_primary",
)
#: bizSteps whose body names the counter-party a rule needs (sender or receiver).
_PARTY_BIZSTEPS = ("shipping", "receiving", "accepting", "collecting")


def now_us() -> int:
    return us_of(datetime.now(UTC))


def _chunks(items: Iterable[Any]) -> Iterator[list[Any]]:
    seq = list(items)
    for i in range(0, len(seq), CHUNK):
        yield seq[i : i + CHUNK]


def sql_store(store: Store) -> SqlStore:
    if not isinstance(store, SqlStore):
        raise StorageError("the regulation engine needs an SQL store (SQLite or PostgreSQL)")
    return store


def txn_connection(txn: WriteTxn) -> Connection:
    conn = getattr(txn, "conn", None)
    if not isinstance(conn, Connection):
        raise StorageError("the regulation engine needs an SQL write transaction")
    return conn


def _rows(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """Rows of driver-level SQL, ``{m}`` standing for the driver's parameter marker. The
    incremental engine runs a dozen small statements per capture: building and compiling each
    with SQLAlchemy Core cost several times more than running it (docs/supervision.md)."""
    return list(conn.exec_driver_sql(sql.format(m=mark(conn)), tuple(params)).all())


def _in(conn: Connection, n: int) -> str:
    """An ``IN`` list of ``n`` parameter markers."""
    return f"({marks(conn, n)})"


#: The alerts table's columns, for driver-level reads that return whole alert rows.
_ALERT_COLUMNS = ", ".join(f'"{c.name}"' for c in ts.alerts.c)


def default_rules(paths: Sequence[Path] = ()) -> RuleSet:
    """The packaged rulebooks plus local ones (``BATTRACE_RULEBOOKS``, see battrace.config)."""
    return load_rulebooks([*rulebook_paths(), *paths])


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


def _registry_fingerprint(conn: Connection) -> tuple[Any, ...]:
    # One round trip per capture; registering or changing an enterprise moves max(created_at).
    return tuple(
        conn.exec_driver_sql(
            "SELECT (SELECT count(*) FROM enterprises), (SELECT max(created_at) FROM enterprises),"
            " (SELECT count(*) FROM manufacturer_codes), (SELECT count(*) FROM code_specifications)"
        ).one()
    )


def load_registry(conn: Connection) -> Registry:
    enterprises = {}
    for r in conn.execute(select(t.enterprises)):
        enterprises[r.uscc] = enterprise_info(
            r.uscc,
            r.name_zh,
            r.province,
            orjson.loads(r.roles),
            orjson.loads(r.sites),
            orjson.loads(r.qualifications),
        )
    owners = {r.code: r.uscc for r in conn.execute(select(t.manufacturer_codes))}
    specs: dict[str, set[str]] = {}
    for r in conn.execute(select(ts.code_specifications)):
        specs.setdefault(r.manufacturer_code, set()).add(r.specification)
    return Registry(enterprises, owners, {k: frozenset(v) for k, v in specs.items()})


class _ContextCache:
    """The registry changes rarely: keep the evaluation context (and its rule caches) between
    captures, and rebuild it only when the registry's fingerprint moves."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self._key: tuple[Any, ...] | None = None
        self._ctx: Context | None = None

    def get(self, conn: Connection) -> Context:
        key = _registry_fingerprint(conn)
        if self._ctx is None or key != self._key:
            self._ctx = Context(self.rules, load_registry(conn))
            self._key = key
        return self._ctx


# --------------------------------------------------------------------------------------------
# Facts storage
# --------------------------------------------------------------------------------------------


def _fact_row(f: Fact) -> tuple[Any, ...]:
    return (*f[:12], 1 if f.primary else 0)


def _insert_facts(conn: Connection, facts: Sequence[Fact]) -> None:
    if facts:
        conn.exec_driver_sql(
            insert_sql(conn, "supervision_facts", FACT_COLUMNS), [_fact_row(f) for f in facts]
        )


def fact_from_row(row: Sequence[Any]) -> Fact:
    # ``is_primary`` stays the stored 0/1: truthiness is all the engine asks of it, and a
    # conversion per row is measurable over millions of rows.
    return Fact._make(row)


def _live_facts_of(conn: Connection, subjects: Iterable[str]) -> dict[str, list[Fact]]:
    """The facts of these subjects that no error declaration has retracted."""
    out: dict[str, list[Fact]] = {}
    for part in _chunks(subjects):
        sql = (
            f"SELECT {_FACT_SELECT} FROM supervision_facts f LEFT OUTER JOIN "
            "supervision_retractions r ON r.event_seq = f.event_seq "
            f"WHERE f.subject IN {_in(conn, len(part))} AND r.event_seq IS NULL"
        )
        for row in _rows(conn, sql, part):
            out.setdefault(row[0], []).append(fact_from_row(tuple(row)))
    return out


_FACT_SELECT = ", ".join(f"f.{name}" for name in FACT_COLUMNS)


def load_retractions(conn: Connection, seqs: Iterable[int] | None = None) -> dict[int, Retraction]:
    r = ts.supervision_retractions.c
    out: dict[int, Retraction] = {}
    if seqs is None:
        for row in conn.execute(select(r.event_seq, r.capture_seq, r.record_time)):
            out[row[0]] = Retraction(row[0], row[1], row[2])
        return out
    for part in _chunks(set(seqs)):
        q = select(r.event_seq, r.capture_seq, r.record_time).where(r.event_seq.in_(part))
        for row in conn.execute(q):
            out[row[0]] = Retraction(row[0], row[1], row[2])
    return out


def _stream_facts(
    conn: Connection, as_of: int | None, lo: str | None = None, hi: str | None = None
) -> Iterator[tuple[str, list[Fact]]]:
    """Every subject's facts (in ``[lo, hi)``), subject by subject, in the clustered order."""
    m = mark(conn)
    where: list[str] = []
    params: list[Any] = []
    for cond, value in (
        (f"record_time <= {m}", as_of),
        (f"subject >= {m}", lo),
        (f"subject < {m}", hi),
    ):
        if value is not None:
            where.append(cond)
            params.append(value)
    sql = f"SELECT {', '.join(FACT_COLUMNS)} FROM supervision_facts"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY subject"
    # tuple.__new__ straight away, mapped in C: Fact._make (or a comprehension) adds Python
    # work per row.
    make = partial(tuple.__new__, Fact)
    rows: Iterable[Sequence[Any]]
    if conn.dialect.name == "sqlite":
        # The driver's own cursor: plain tuples, a quarter faster than SQLAlchemy rows over
        # millions of facts (the row read is most of a full re-evaluation's floor).
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.arraysize = 5000
        rows = cursor.execute(sql, params)
    else:
        rows = conn.exec_driver_sql(sql, tuple(params), execution_options=stream_options(conn))
    for subject, group in itertools.groupby(map(make, rows), key=_SUBJECT):
        yield subject, list(group)


_SUBJECT = itemgetter(0)


def _advance_coverage(conn: Connection, first: int, last: int) -> None:
    """Facts are complete up to ``last`` if they were complete up to ``first - 1``: one
    conditional UPDATE, so a ledger that captured events without the engine stays marked."""
    res = conn.exec_driver_sql(
        'UPDATE supervision_meta SET "value" = {m} WHERE "key" = {m} AND "value" = {m}'.format(
            m=mark(conn)
        ),
        (str(last), META_FACTS_THROUGH, str(first - 1)),
    )
    if res.rowcount == 0 and first == 1 and _meta(conn, META_FACTS_THROUGH) is None:
        conn.execute(insert(ts.supervision_meta).values(key=META_FACTS_THROUGH, value=str(last)))


def _meta(conn: Connection, key: str) -> str | None:
    m = ts.supervision_meta.c
    value = conn.execute(select(m.value).where(m.key == key)).scalar()
    return None if value is None else str(value)


def _set_meta(conn: Connection, key: str, value: str) -> None:
    m = ts.supervision_meta.c
    res = conn.execute(update(ts.supervision_meta).where(m.key == key).values(value=value))
    if res.rowcount == 0:
        conn.execute(insert(ts.supervision_meta).values(key=key, value=value))


@dataclass(frozen=True, slots=True)
class Coverage:
    """Up to which event the facts table is complete, and the ledger's last event."""

    facts_through: int
    ledger_last: int

    @property
    def complete(self) -> bool:
        return self.facts_through >= self.ledger_last


def coverage(store: Store) -> Coverage:
    with sql_store(store).engine.connect() as conn:
        return _coverage(conn)


def _coverage(conn: Connection) -> Coverage:
    last = conn.execute(select(func.coalesce(func.max(t.events.c.seq), 0))).scalar_one()
    through = int(_meta(conn, META_FACTS_THROUGH) or 0)
    return Coverage(through, int(last))


def _masses(conn: Connection, epcs: Iterable[str]) -> dict[str, float]:
    """massKg of each battery as its view knows it now (commissioning ilmd)."""
    out: dict[str, float] = {}
    for part in _chunks(set(epcs)):
        sql = f'SELECT epc, "view" FROM objects WHERE epc IN {_in(conn, len(part))}'
        for epc, view in _rows(conn, sql, part):
            mass = orjson.loads(view).get("attributes", {}).get("massKg")
            if isinstance(mass, int | float) and not isinstance(mass, bool) and mass > 0:
                out[epc] = float(mass)
    return out


# --------------------------------------------------------------------------------------------
# Facts from the events (the independent path)
# --------------------------------------------------------------------------------------------


def _event_retractions(conn: Connection) -> dict[int, Retraction]:
    d = t.events.alias("d")
    o = t.events.alias("o")
    q = select(d.c.seq, d.c.capture_seq, d.c.record_time, o.c.seq).join(
        o, and_(o.c.event_id == d.c.event_id, o.c.is_declaration == 0)
    )
    q = q.where(d.c.is_declaration == 1)
    out: dict[int, Retraction] = {}
    for _, capture_seq, record_time, original in conn.execute(q):
        rt = us_of_text(record_time)
        known = out.get(original)
        if known is None or known.capture_seq > capture_seq:
            out[original] = Retraction(original, capture_seq, rt)
    return out


def facts_from_events(
    events_conn: Connection, epcs_conn: Connection, masses_conn: Connection | None = None
) -> Iterator[list[Fact]]:
    """Rebuild the facts from the stored events, in chunks (event order).

    The event rows and their identifier index are read in one merge pass (both ordered by event
    seq); bodies are parsed only where a rule needs a counter-party (shipping and receipts). Masses
    come from the current views, so a receipt whose battery's commissioning was reported after it
    gets the mass the incremental path could not yet know.
    """
    e = t.events.c
    body_needed = e.biz_step.in_(_PARTY_BIZSTEPS)
    from sqlalchemy import case

    q = (
        select(
            e.seq,
            e.capture_seq,
            e.position,
            e.event_time,
            e.record_time,
            e.event_type,
            e.action,
            e.biz_step,
            e.reporter,
            e.biz_location,
            e.read_point,
            case((body_needed, e.body), else_=None),
        )
        .where(e.is_declaration == 0)
        .order_by(e.seq)
    )
    ee = t.event_epcs.c
    epc_rows = iter(
        epcs_conn.execute(
            select(ee.event_seq, ee.epc, ee.role).order_by(ee.event_seq),
            execution_options=stream_options(epcs_conn),
        )
    )
    pending = next(epc_rows, None)
    chunk: list[tuple[Any, ...]] = []
    masses = masses_conn or events_conn

    def flush(rows: list[tuple[Any, ...]]) -> list[Fact]:
        need = {
            epc
            for r in rows
            if r[7] in ("receiving", "accepting", "collecting")
            for epc, _ in r[-1]
            if S.kind_of(epc) == S.BATTERY
        }
        mass = _masses(masses, need) if need else {}
        out: list[Fact] = []
        for r in rows:
            sender, receiver = (None, None)
            if r[11] is not None:
                sender, receiver = parties_from_body(orjson.loads(r[11]))
            out.extend(
                build_facts(
                    event_seq=r[0],
                    capture_seq=r[1],
                    position=r[2],
                    event_time=us_of_text(r[3]),
                    record_time=us_of_text(r[4]),
                    event_type=r[5],
                    action=r[6],
                    biz_step=r[7],
                    reporter=r[8],
                    location=r[9] or r[10],
                    epcs=r[-1],
                    sender=sender,
                    receiver=receiver,
                    mass_of=mass.get,
                )
            )
        return out

    result = events_conn.execute(q, execution_options=stream_options(events_conn))
    for row in result:
        seq = row[0]
        epcs: list[tuple[str, str]] = []
        while pending is not None and pending[0] < seq:
            pending = next(epc_rows, None)
        while pending is not None and pending[0] == seq:
            epcs.append((pending[1], pending[2]))
            pending = next(epc_rows, None)
        chunk.append((*row, epcs))
        if len(chunk) >= 5000:
            yield flush(chunk)
            chunk = []
    if chunk:
        yield flush(chunk)


# --------------------------------------------------------------------------------------------
# Findings storage
# --------------------------------------------------------------------------------------------


def _event_ids(conn: Connection, seqs: Iterable[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for part in _chunks(set(seqs)):
        sql = f"SELECT seq, event_id FROM events WHERE seq IN {_in(conn, len(part))}"
        out.update((int(s), i) for s, i in _rows(conn, sql, part))
    return out


def _row_signature(r: Any) -> tuple[Any, ...]:
    return (
        r.key,
        r.kind,
        r.rule_id,
        r.rule_version,
        r.unit,
        r.subject,
        r.enterprise,
        r.province,
        tuple(orjson.loads(r.evidence_seqs)),
        us_of_text(r.detected_at),
        None if r.due is None else date.fromisoformat(r.due),
        bool(r.provisional),
        None if r.resolved_at is None else us_of_text(r.resolved_at),
        r.resolved_seq,
    )


def finding_from_row(r: Any) -> Finding:
    return Finding(
        key=r.key,
        kind=AlertKind(r.kind),
        rule_id=r.rule_id,
        rule_version=r.rule_version,
        citation=r.citation,
        unit=r.unit,
        subject=r.subject,
        enterprise=r.enterprise,
        province=r.province,
        evidence=tuple(orjson.loads(r.evidence_seqs)),
        detected_at=us_of_text(r.detected_at),
        due=None if r.due is None else date.fromisoformat(r.due),
        provisional=bool(r.provisional),
        resolved_at=None if r.resolved_at is None else us_of_text(r.resolved_at),
        resolved_by=r.resolved_seq,
        detail=orjson.loads(r.detail),
    )


def _engine_values(f: Finding, ids: Mapping[int, str], now: str) -> dict[str, Any]:
    return {
        "kind": str(f.kind),
        "rule_id": f.rule_id,
        "rule_version": f.rule_version,
        "citation": f.citation,
        "unit": f.unit,
        "subject": f.subject,
        "enterprise": f.enterprise,
        "province": f.province,
        "evidence": orjson.dumps([ids.get(s, str(s)) for s in f.evidence]).decode(),
        "evidence_seqs": orjson.dumps(list(f.evidence)).decode(),
        "detected_at": text_of(f.detected_at),
        "due": None if f.due is None else f.due.isoformat(),
        "provisional": 1 if f.provisional else 0,
        "resolved_at": None if f.resolved_at is None else text_of(f.resolved_at),
        "resolved_by": None if f.resolved_by is None else ids.get(f.resolved_by),
        "resolved_seq": f.resolved_by,
        "detail": orjson.dumps(f.detail).decode(),
        "engine_state": "active",
        "updated_at": now,
    }


@dataclass(slots=True)
class ReconcileReport:
    inserted: int = 0
    updated: int = 0
    withdrawn: int = 0
    deleted: int = 0


def _alerts_where(conn: Connection, column: str, values: Iterable[str]) -> dict[str, Any]:
    """The stored alerts whose ``column`` (key or unit) is one of ``values``, by key."""
    out: dict[str, Any] = {}
    for part in _chunks(values):
        sql = f'SELECT {_ALERT_COLUMNS} FROM alerts WHERE "{column}" IN {_in(conn, len(part))}'
        out.update((r.key, r) for r in _rows(conn, sql, part))
    return out


def _reconcile(
    conn: Connection,
    findings: Iterable[Finding],
    *,
    units: Iterable[str] | None,
    now: int,
    only_upsert: bool = False,
) -> ReconcileReport:
    """Make the stored alerts of ``units`` (None: all) equal to ``findings``, keeping workflow.

    A stored alert that is no longer found is deleted if nobody acted on it and it was never
    detected (a pending obligation that was met); otherwise it is marked withdrawn, so its
    history stays. ``only_upsert`` stores new and changed findings and withdraws nothing.
    """
    a = ts.alerts.c
    wanted = {f.key: f for f in findings}
    existing: dict[str, Any] = {}
    if units is None:
        for r in conn.execute(select(ts.alerts)):
            existing[r.key] = r
    elif only_upsert:
        existing = _alerts_where(conn, "key", wanted)
    else:
        existing = _alerts_where(conn, "unit", set(units))
        missing = [k for k in wanted if k not in existing]
        # the same key under another unit cannot happen; be safe
        existing.update(_alerts_where(conn, "key", missing))
    report = ReconcileReport()
    now_text = text_of(now)
    changed = [
        f
        for k, f in wanted.items()
        if k not in existing
        or existing[k].engine_state != "active"
        or _row_signature(existing[k]) != f.signature()
    ]
    ids = _event_ids(
        conn,
        [s for f in changed for s in f.evidence]
        + [f.resolved_by for f in changed if f.resolved_by is not None],
    )
    inserts = []
    for f in changed:
        values = _engine_values(f, ids, now_text)
        if f.key in existing:
            conn.execute(update(ts.alerts).where(a.key == f.key).values(**values))
            report.updated += 1
        else:
            inserts.append({"key": f.key, "stage": "new", **values})
    if inserts:
        conn.execute(insert(ts.alerts), inserts)
        report.inserted += len(inserts)
    if only_upsert:
        return report
    drop: list[str] = []
    withdraw: list[str] = []
    for key, r in existing.items():
        if key in wanted or r.engine_state == "withdrawn":
            continue
        if r.stage == "new" and us_of_text(r.detected_at) > now:
            drop.append(key)
        else:
            withdraw.append(key)
    for part in _chunks(drop):
        conn.execute(delete(ts.alerts).where(a.key.in_(part)))
    for part in _chunks(withdraw):
        conn.execute(
            update(ts.alerts)
            .where(a.key.in_(part))
            .values(engine_state="withdrawn", updated_at=now_text)
        )
    report.deleted, report.withdrawn = len(drop), len(withdraw)
    return report


# --------------------------------------------------------------------------------------------
# Outlet stock storage
# --------------------------------------------------------------------------------------------


def _load_sweep(
    conn: Connection, ctx: Context, epcs: set[str], receipt_sites: set[str]
) -> OutletSweep:
    members: dict[str, StockEntry] = {}
    for part in _chunks(epcs):
        sql = (
            "SELECT epc, site, kg, in_time, in_seq FROM supervision_stock "
            f"WHERE epc IN {_in(conn, len(part))}"
        )
        for epc, site, kg, in_time, in_seq in _rows(conn, sql, part):
            members[epc] = StockEntry(site, kg, in_time, in_seq)
    sites = receipt_sites | {m.site for m in members.values()}
    totals: dict[str, SiteTotal] = {site: SiteTotal() for site in sites}
    for part in _chunks(sites):
        sql = (
            "SELECT site, sum(kg), count(*) FROM supervision_stock "
            f"WHERE site IN {_in(conn, len(part))} GROUP BY site"
        )
        for site, kg, count in _rows(conn, sql, part):
            totals[site] = SiteTotal(float(kg or 0.0), int(count))
    open_: dict[str, Finding] = {}
    units = [OUTLET_UNIT_PREFIX + site for site in sites]
    for part in _chunks(units):
        sql = (
            f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE unit IN {_in(conn, len(part))} "
            "AND kind = {m} AND resolved_at IS NULL AND engine_state = 'active'"
        )
        for r in _rows(conn, sql, [*part, str(AlertKind.OUTLET_OVER_CAPACITY)]):
            open_[r.unit[len(OUTLET_UNIT_PREFIX) :]] = finding_from_row(r)
    return OutletSweep(ctx, members, totals, open_)


def _store_sweep(conn: Connection, sweep: OutletSweep, now: int) -> None:
    s = ts.supervision_stock.c
    gone = set(sweep.removed) | set(sweep.added)
    for part in _chunks(gone):
        conn.execute(delete(ts.supervision_stock).where(s.epc.in_(part)))
    if sweep.added:
        conn.execute(
            insert(ts.supervision_stock),
            [
                {"epc": epc, "site": e.site, "kg": e.kg, "in_time": e.in_time, "in_seq": e.in_seq}
                for epc, e in sweep.added.items()
            ],
        )
    if sweep.findings:
        _reconcile(conn, sweep.findings.values(), units=(), now=now, only_upsert=True)


# --------------------------------------------------------------------------------------------
# The incremental engine
# --------------------------------------------------------------------------------------------


class CaptureObserver:
    """The regulation engine's hook into capture: ``Ledger(store, observers=[CaptureObserver()])``.

    Runs inside the capture transaction after the projections, so alerts are never out of step
    with the committed ledger; raising aborts the capture (it does not, for any event the ledger
    accepts).
    """

    def __init__(self, rules: RuleSet | None = None) -> None:
        self.rules = rules if rules is not None else default_rules()
        self._contexts = _ContextCache(self.rules)

    def on_capture(
        self, txn: WriteTxn, events: Sequence[tuple[str, Event]], record_time: str
    ) -> None:
        if not events:
            return
        conn = txn_connection(txn)
        apply_capture(conn, self._contexts.get(conn), events, us_of_text(record_time))


def _new_rows(conn: Connection, events: Sequence[tuple[str, Event]]) -> list[Any]:
    """(seq, capture_seq, position, event_id, is_declaration) of the events just appended.

    The capture appended exactly these events, in this order, as the ledger's last rows (writers
    are serialised), so one indexed read of the tail finds them; anything else is a bug.
    """
    sql = (
        "SELECT seq, capture_seq, position, event_id, is_declaration FROM events "
        f"ORDER BY seq DESC LIMIT {len(events):d}"
    )
    rows = _rows(conn, sql)[::-1]
    if len(rows) != len(events) or any(
        r.event_id != ev.event_id or bool(r.is_declaration) != (ev.error_declaration is not None)
        for r, (_, ev) in zip(rows, events, strict=False)
    ):
        raise StorageError("regulation engine: the captured events are not the ledger's tail")
    return rows


def _event_facts(
    ev: Event,
    reporter: str,
    seq: int,
    capture_seq: int,
    position: int,
    record_time: int,
    mass: Mapping[str, float],
) -> list[Fact]:
    return build_facts(
        event_seq=seq,
        capture_seq=capture_seq,
        position=position,
        event_time=us_of(ev.event_time),
        record_time=record_time,
        event_type=ev.event_type,
        action=ev.action,
        biz_step=ev.biz_step,
        reporter=reporter,
        location=ev.biz_location or ev.read_point,
        epcs=ev.epcs_with_roles(),
        sender=bare_party(ev.source_possessor or ev.source_owner),
        receiver=bare_party(ev.destination_possessor or ev.destination_owner),
        mass_of=mass.get,
    )


def apply_capture(
    conn: Connection, ctx: Context, events: Sequence[tuple[str, Event]], record_time: int
) -> None:
    rows = _new_rows(conn, events)
    need_mass = {
        epc
        for _, ev in events
        if ev.biz_step in ("receiving", "accepting", "collecting")
        for epc, _ in ev.epcs_with_roles()
        if S.kind_of(epc) == S.BATTERY
    }
    mass = _masses(conn, need_mass) if need_mass else {}
    new_facts: list[Fact] = []
    retractions: list[Retraction] = []
    touched: set[str] = set()
    e = t.events.c
    for (reporter, ev), row in zip(events, rows, strict=True):
        if ev.error_declaration is None:
            new_facts.extend(
                _event_facts(
                    ev, reporter, row.seq, row.capture_seq, row.position, record_time, mass
                )
            )
            continue
        original = conn.execute(
            select(e.seq).where(e.event_id == ev.event_id, e.is_declaration == 0)
        ).scalar()
        if original is None:
            continue  # declares an event the ledger never had: nothing to retract
        retractions.append(Retraction(int(original), row.capture_seq, record_time))
        retracted_facts = _event_facts(ev, reporter, int(original), 0, 0, record_time, mass)
        touched.update(f.subject for f in retracted_facts)
    _insert_facts(conn, new_facts)
    if retractions:
        existing = load_retractions(conn, [r.event_seq for r in retractions])
        fresh = [r for r in retractions if r.event_seq not in existing]
        if fresh:
            conn.execute(
                insert(ts.supervision_retractions),
                [
                    {
                        "event_seq": r.event_seq,
                        "capture_seq": r.capture_seq,
                        "record_time": r.record_time,
                    }
                    for r in fresh
                ],
            )
        retractions = fresh
    _advance_coverage(conn, rows[0].seq, rows[-1].seq)

    subjects = {f.subject for f in new_facts} | touched
    findings: list[Finding] = []
    for subject, live in _live_facts_of(conn, subjects).items():
        findings.extend(evaluate_subject(subject, live, ctx))
    _reconcile(conn, findings, units=subjects, now=record_time)

    battery_subjects = {s for s in subjects if S.kind_of(s) == S.BATTERY}
    probe = OutletSweep(ctx)
    receipt_sites = {f.site for f in new_facts if f.site is not None and probe.is_receipt(f)}
    sweep = _load_sweep(conn, ctx, battery_subjects, receipt_sites)
    sweep.apply(sorted(new_facts, key=F.knowledge_key), record_time, retractions)
    _store_sweep(conn, sweep, record_time)
    # Only recycling events (or a declaration, which may retract one) move a mass balance; most
    # captures have neither, and asking the ledger cost ~0.5 ms a capture.
    if any(
        ev.biz_step == vocab.BIZSTEP_RECYCLING or ev.error_declaration is not None
        for _, ev in events
    ):
        _mass_balance_capture(conn, ctx, rows[0].seq, rows[-1].seq, record_time)


def _mass_balance_capture(conn: Connection, ctx: Context, first: int, last: int, now: int) -> None:
    """``mass-balance`` alerts of the recycling events a capture appended or retracted."""
    from battrace.services import recycling  # it imports this module

    seqs = recycling.recycling_seqs_of_capture(conn, first, last)
    if seqs:
        found, units = recycling.balance_findings(conn, ctx, seqs=seqs)
        _reconcile(conn, found, units=units, now=now)


def _mass_balance_all(
    sql: SqlStore, ctx: Context, as_of: int | None, conn: Connection | None = None
) -> list[Finding]:
    from battrace.services import recycling

    if conn is not None:
        return recycling.balance_findings(conn, ctx, as_of=as_of)[0]
    with sql.engine.connect() as own:
        return recycling.balance_findings(own, ctx, as_of=as_of)[0]


# --------------------------------------------------------------------------------------------
# Full re-evaluation
# --------------------------------------------------------------------------------------------


def evaluate(
    store: Store,
    rules: RuleSet | None = None,
    *,
    as_of: int | None = None,
    source: str = "facts",
    workers: int | None = None,
) -> list[Finding]:
    """Every finding, computed from scratch and read-only, as the ledger knew it at ``as_of``.

    ``source="facts"`` reads the facts table (fast; needs complete facts, see :func:`coverage`);
    on SQLite a large ledger is split by subject over ``workers`` processes (default: the CPU
    count, at most 4). ``source="events"`` rebuilds the facts from the events in memory first
    (independent of the incremental engine; for checks and small ledgers).
    """
    if source not in ("facts", "events"):
        raise InvalidInput("source", f"{source!r} is not one of: facts, events")
    sql = sql_store(store)
    rules = rules if rules is not None else default_rules()
    with gc_paused():
        with sql.engine.connect() as conn:
            ctx = Context(rules, load_registry(conn))
            if source == "events":
                with sql.engine.connect() as epcs_conn:
                    grouped: dict[str, list[Fact]] = {}
                    for chunk in facts_from_events(conn, epcs_conn):
                        for f in chunk:
                            grouped.setdefault(f.subject, []).append(f)
                findings, _ = evaluate_all(grouped.items(), ctx, _event_retractions(conn), as_of)
                return findings + _mass_balance_all(sql, ctx, as_of)
            cov = _coverage(conn)
            if not cov.complete:
                raise InvalidInput(
                    "facts",
                    f"the regulation engine's facts cover events up to {cov.facts_through}, the "
                    f"ledger has {cov.ledger_last}; run `battrace alerts rebuild --from-events`",
                )
            retracted = load_retractions(conn)
            plan = _parallel_plan(sql, conn, workers)
            if not plan:
                findings, _ = evaluate_all(_stream_facts(conn, as_of), ctx, retracted, as_of)
                return findings + _mass_balance_all(sql, ctx, as_of)
        findings, _ = _evaluate_facts(sql, ctx, retracted, as_of, plan)
        return findings + _mass_balance_all(sql, ctx, as_of)


#: A full evaluation of fewer events than this runs in-process (forking costs more than it saves).
PARALLEL_MIN_EVENTS = 300_000
#: The parent's serial work after the ranges (unpickling and merging the workers' results, the
#: outlet sweep) as a share of all ranges' CPU: about 1.6 s of 16 s on 2.6 M events (bench
#: alerts, 200,000 packs), with the garbage collector paused (services.gcpause).
PARENT_EXTRA = 0.10
_FORK_STATE: tuple[Context, Mapping[int, Retraction], int | None] | None = None


def _parallel_plan(
    sql: SqlStore, conn: Connection, workers: int | None
) -> list[tuple[str | None, str | None]]:
    """Subject ranges for worker processes; empty for an in-process evaluation.

    Only for a file-based SQLite ledger (each worker opens the file; PostgreSQL and in-memory
    stores evaluate in-process). Ranges are cut at the subjects found at evenly spaced offsets of
    the clustered facts table: offsets in *facts*, counted (a scan in SQLite's C code, a few
    percent of an evaluation), because the ratio of facts to events varies (1.23 in the
    benchmark) and cutting by events left one worker 60 % of the work.
    """
    import os

    n = workers if workers is not None else min(os.cpu_count() or 1, 4)
    if n <= 1 or conn.dialect.name != "sqlite" or ":memory:" in sql.url:
        return []
    cov = _coverage(conn)
    if max(cov.ledger_last, cov.facts_through) < PARALLEL_MIN_EVENTS:
        return []
    size = int(conn.exec_driver_sql("SELECT count(*) FROM supervision_facts").scalar_one())
    # The parent evaluates the first range and then, alone, merges the workers' results and
    # sweeps the outlets (PARENT_EXTRA of the ranges' CPU, measured): its range is smaller so
    # that everyone finishes together.
    first = max(0.05, (1.0 - PARENT_EXTRA * (n - 1)) / n)
    offsets = [first + (1.0 - first) * (i - 1) / (n - 1) for i in range(1, n)]
    cuts: list[str] = []
    for share in offsets:
        cut = conn.exec_driver_sql(
            "SELECT subject FROM supervision_facts ORDER BY subject LIMIT 1 OFFSET ?",
            (int(size * share),),
        ).scalar()
        if isinstance(cut, str) and (not cuts or cut > cuts[-1]):
            cuts.append(cut)
    if not cuts:
        return []
    bounds: list[str | None] = [None, *cuts, None]
    return list(itertools.pairwise(bounds))


def _worker_init() -> None:
    # A forked child must not touch the parent's pooled connections (SQLAlchemy's advice for
    # multiprocessing): forget them without closing.

    from sqlalchemy.engine import Engine

    for obj in gc.get_objects():
        if isinstance(obj, Engine):
            obj.dispose(close=False)


#: A range's findings, outlet-stock deltas (sorted; plain tuples from a worker) and stock entries.
_RangeResult = tuple[list[Finding], Sequence[tuple[Any, ...]], dict[str, StockEntry]]


def _evaluate_range(url: str, lo: str | None, hi: str | None) -> _RangeResult:
    """One subject range in a worker process. The deltas go back sorted (the parent's sort of
    all of them is then a merge of presorted runs) and as plain tuples (a NamedTuple pickles
    through a Python call per object; there are about two per battery)."""
    from battrace.persistence.sqlite import SqliteStore

    assert _FORK_STATE is not None
    ctx, retracted, as_of = _FORK_STATE
    store = SqliteStore(url)
    try:
        with store.engine.connect() as conn, gc_paused():
            findings, deltas, members = evaluate_subjects(
                _stream_facts(conn, as_of, lo, hi), ctx, retracted, as_of
            )
    finally:
        store.close()
    deltas.sort()
    return findings, [tuple(d) for d in deltas], members


def _evaluate_facts(
    sql: SqlStore,
    ctx: Context,
    retracted: Mapping[int, Retraction],
    as_of: int | None,
    plan: Sequence[tuple[str | None, str | None]],
    *,
    conn: Connection | None = None,
) -> tuple[list[Finding], OutletSweep]:
    """evaluate_all over the facts table: in-process, or the subject ranges of ``plan`` in worker
    processes (forked, so the rules and the registry are not re-read) and the outlet sweep here.
    """
    global _FORK_STATE
    live = {seq: r for seq, r in retracted.items() if as_of is None or r.record_time <= as_of}
    if not plan:
        if conn is not None:
            return evaluate_all(_stream_facts(conn, as_of), ctx, retracted, as_of)
        with sql.engine.connect() as own:
            return evaluate_all(_stream_facts(own, as_of), ctx, retracted, as_of)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    _FORK_STATE = (ctx, live, as_of)
    (lo, hi), rest = plan[0], plan[1:]
    try:
        with ProcessPoolExecutor(
            max_workers=len(rest),
            mp_context=multiprocessing.get_context("fork"),
            initializer=_worker_init,
        ) as pool:
            futures = [pool.submit(_evaluate_range, sql.url, a, b) for a, b in rest]
            # The parent takes the first range itself rather than wait idle for the workers.
            if conn is not None:
                first = evaluate_subjects(_stream_facts(conn, as_of, lo, hi), ctx, live, as_of)
            else:
                with sql.engine.connect() as own:
                    first = evaluate_subjects(_stream_facts(own, as_of, lo, hi), ctx, live, as_of)
            first[1].sort()
            parts: list[_RangeResult] = [first, *(f.result() for f in futures)]
    finally:
        _FORK_STATE = None
    findings = [f for part, _, _ in parts for f in part]
    members = {epc: e for _, _, m in parts for epc, e in m.items()}
    make = Delta._make
    sweep = sweep_outlets((make(d) for _, deltas, _ in parts for d in deltas), ctx, members)
    findings.extend(sweep.findings.values())
    return findings, sweep


@dataclass(slots=True)
class RebuildReport:
    facts: int | None
    findings: int
    reconcile: ReconcileReport
    outlet_batteries: int
    seconds: float = 0.0


def rebuild(
    store: Store,
    rules: RuleSet | None = None,
    *,
    from_events: bool = False,
    now: int | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> RebuildReport:
    """The full re-evaluation, persisted: stored alerts := a fresh evaluation (workflow kept).

    ``from_events`` first rebuilds the facts table from the events (after a restore, or for a
    ledger captured before the engine was attached), in a transaction of its own. The
    evaluation and reconciliation run in one write transaction, so captures wait for them and
    nothing half-done is ever visible.
    """
    import time

    start = time.perf_counter()
    sql = sql_store(store)
    rules = rules if rules is not None else default_rules()
    moment = now if now is not None else now_us()
    fact_count: int | None = None
    if from_events:
        # Its own transaction: the evaluation below may read through other connections (worker
        # processes), which only see committed facts.
        with sql.write() as txn:
            fact_count = _rebuild_facts(sql, txn_connection(txn), progress)
    with sql.write() as txn:
        conn = txn_connection(txn)
        cov = _coverage(conn)
        if not cov.complete:
            raise InvalidInput(
                "facts",
                f"the facts cover events up to {cov.facts_through} of {cov.ledger_last}; "
                "rebuild them with --from-events",
            )
        ctx = Context(rules, load_registry(conn))
        retracted = load_retractions(conn)
        plan = _parallel_plan(sql, conn, workers)
        with gc_paused():
            findings, sweep = _evaluate_facts(sql, ctx, retracted, None, plan, conn=conn)
        findings += _mass_balance_all(sql, ctx, None, conn)
        report = _reconcile(conn, findings, units=None, now=moment)
        conn.execute(delete(ts.supervision_stock))
        if sweep.members:
            for part in _chunks(list(sweep.members.items())):
                conn.execute(
                    insert(ts.supervision_stock),
                    [
                        {
                            "epc": epc,
                            "site": e.site,
                            "kg": e.kg,
                            "in_time": e.in_time,
                            "in_seq": e.in_seq,
                        }
                        for epc, e in part
                    ],
                )
    return RebuildReport(
        fact_count, len(findings), report, len(sweep.members), time.perf_counter() - start
    )


def _rebuild_facts(sql: SqlStore, conn: Connection, progress: Callable[[int], None] | None) -> int:
    conn.execute(delete(ts.supervision_facts))
    conn.execute(delete(ts.supervision_retractions))
    count = 0
    # Reads go through their own connections (the events are committed and not written here).
    with sql.engine.connect() as events_conn, sql.engine.connect() as epcs_conn:
        for chunk in facts_from_events(events_conn, epcs_conn):
            _insert_facts(conn, chunk)
            count += len(chunk)
            if progress is not None:
                progress(len(chunk))
        retracted = _event_retractions(events_conn)
    if retracted:
        conn.execute(
            insert(ts.supervision_retractions),
            [
                {
                    "event_seq": r.event_seq,
                    "capture_seq": r.capture_seq,
                    "record_time": r.record_time,
                }
                for r in retracted.values()
            ],
        )
    last = conn.execute(select(func.coalesce(func.max(t.events.c.seq), 0))).scalar_one()
    _set_meta(conn, META_FACTS_THROUGH, str(int(last)))
    return count


# --------------------------------------------------------------------------------------------
# Reading alerts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose alerts a caller may see: the national regulator all, a provincial one those of
    enterprises registered in its province, an enterprise its own. Nothing set: nothing."""

    national: bool = False
    province: str | None = None
    enterprise: str | None = None

    @classmethod
    def everything(cls) -> Scope:
        return cls(national=True)

    def condition(self) -> ColumnElement[bool] | None:
        """An SQL condition on ``alerts`` (None: no restriction)."""
        a = ts.alerts.c
        if self.national:
            return None
        parts: list[ColumnElement[bool]] = []
        if self.province is not None:
            parts.append(a.province == self.province)
        if self.enterprise is not None:
            parts.append(a.enterprise == self.enterprise)
        if not parts:
            return a.key.is_(None)  # matches nothing
        return or_(*parts)

    def allows(self, province: str | None, enterprise: str | None) -> bool:
        if self.national:
            return True
        return (self.province is not None and province == self.province) or (
            self.enterprise is not None and enterprise == self.enterprise
        )


@dataclass(frozen=True, slots=True)
class AlertFilter:
    kind: str | None = None
    province: str | None = None
    enterprise: str | None = None
    status: str | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in {k.value for k in AlertKind}:
            raise InvalidInput(
                "kind", f"{self.kind!r} is not one of: {', '.join(k.value for k in AlertKind)}"
            )
        if self.status is not None and self.status not in STATUSES:
            raise InvalidInput("status", f"{self.status!r} is not one of: {', '.join(STATUSES)}")
        if self.province is not None and not (
            len(self.province) == 2 and self.province.isascii() and self.province.isdigit()
        ):
            raise InvalidInput("province", f"{self.province!r} is not a 2-digit GB/T 2260 code")
        if self.limit is not None and self.limit < 1:
            raise InvalidInput("limit", "must be at least 1")


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert as callers see it (CLI ``--json``, HTTP)."""

    id: str
    kind: str
    rule: str
    rule_version: int
    citation: str
    subject: str
    enterprise: str | None
    province: str | None
    evidence: list[str]
    first_detected: str
    status: str
    due: str | None = None
    provisional: bool = False
    resolved_at: str | None = None
    resolved_by: str | None = None
    stage: str = "new"
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "rule": self.rule,
            "rule_version": self.rule_version,
            "citation": self.citation,
            "subject": self.subject,
            "enterprise": self.enterprise,
            "province": self.province,
            "status": self.status,
            "evidence": list(self.evidence),
            "first_detected": self.first_detected,
            "due": self.due,
            "provisional": self.provisional,
            "resolved_at": self.resolved_at,
            "resolved_by": self.resolved_by,
            "detail": self.detail,
        }


def status_of(row: Any, as_of_text: str) -> str:
    if row.engine_state == "withdrawn":
        return WITHDRAWN
    if row.stage == CLOSED:
        return CLOSED
    if row.resolved_at is not None and row.resolved_at <= as_of_text:
        return RESOLVED
    return OPEN if row.stage == "new" else str(row.stage)


def _status_condition(status: str, as_of_text: str) -> ColumnElement[bool]:
    a = ts.alerts.c
    active = a.engine_state == "active"
    not_resolved = or_(a.resolved_at.is_(None), a.resolved_at > as_of_text)
    if status == WITHDRAWN:
        return a.engine_state == "withdrawn"
    if status == CLOSED:
        return and_(active, a.stage == CLOSED)
    if status == RESOLVED:
        return and_(active, a.stage != CLOSED, a.resolved_at <= as_of_text)
    stage = "new" if status == OPEN else status
    return and_(active, a.stage == stage, not_resolved)


def _alert_from_row(r: Any, as_of_text: str) -> Alert:
    return Alert(
        id=r.key,
        kind=r.kind,
        rule=r.rule_id,
        rule_version=r.rule_version,
        citation=r.citation,
        subject=r.subject,
        enterprise=r.enterprise,
        province=r.province,
        evidence=orjson.loads(r.evidence),
        first_detected=r.detected_at,
        status=status_of(r, as_of_text),
        due=r.due,
        provisional=bool(r.provisional),
        resolved_at=r.resolved_at if r.resolved_at and r.resolved_at <= as_of_text else None,
        resolved_by=r.resolved_by if r.resolved_at and r.resolved_at <= as_of_text else None,
        stage=r.stage,
        detail=orjson.loads(r.detail),
    )


def list_alerts(
    store: Store,
    scope: Scope,
    filters: AlertFilter | None = None,
    *,
    as_of: int | None = None,
    rules: RuleSet | None = None,
    now: int | None = None,
) -> list[Alert]:
    """Alerts visible to ``scope``, newest first.

    Without ``as_of``: the stored alerts as of now (workflow status included; withdrawn ones only
    when asked for by status). With an ``as_of`` before now: the rules re-run on what the ledger
    knew then; statuses are the engine's (``open`` / ``resolved``) as of that moment, and the
    workflow of today is not projected into the past.
    """
    flt = filters or AlertFilter()
    current = now if now is not None else now_us()
    sql = sql_store(store)
    if as_of is not None and as_of < current:
        return _historical(store, scope, flt, as_of, rules)
    moment = text_of(current if as_of is None else as_of)
    a = ts.alerts.c
    q = select(ts.alerts).where(a.detected_at <= moment)
    cond = scope.condition()
    if cond is not None:
        q = q.where(cond)
    if flt.kind is not None:
        q = q.where(a.kind == flt.kind)
    if flt.province is not None:
        q = q.where(a.province == flt.province)
    if flt.enterprise is not None:
        q = q.where(a.enterprise == flt.enterprise)
    if flt.status is not None:
        q = q.where(_status_condition(flt.status, moment))
    else:
        q = q.where(a.engine_state == "active")
    q = q.order_by(a.detected_at.desc(), a.key)
    if flt.limit is not None:
        q = q.limit(flt.limit)
    with sql.engine.connect() as conn:
        return [_alert_from_row(r, moment) for r in conn.execute(q)]


def _historical(
    store: Store, scope: Scope, flt: AlertFilter, as_of: int, rules: RuleSet | None
) -> list[Alert]:
    findings = [
        f
        for f in evaluate(store, rules, as_of=as_of)
        if f.detected_at <= as_of
        and scope.allows(f.province, f.enterprise)
        and (flt.kind is None or f.kind == flt.kind)
        and (flt.province is None or f.province == flt.province)
        and (flt.enterprise is None or f.enterprise == flt.enterprise)
    ]
    with sql_store(store).engine.connect() as conn:
        ids = _event_ids(
            conn,
            [s for f in findings for s in f.evidence]
            + [f.resolved_by for f in findings if f.resolved_by is not None],
        )
    out: list[Alert] = []
    for f in sorted(findings, key=lambda f: (-f.detected_at, f.key)):
        status = f.status_at(as_of) or OPEN
        if flt.status is not None and status != flt.status:
            continue
        resolved = status == RESOLVED
        out.append(
            Alert(
                id=f.key,
                kind=str(f.kind),
                rule=f.rule_id,
                rule_version=f.rule_version,
                citation=f.citation,
                subject=f.subject,
                enterprise=f.enterprise,
                province=f.province,
                evidence=[ids.get(s, str(s)) for s in f.evidence],
                first_detected=text_of(f.detected_at),
                status=status,
                due=None if f.due is None else f.due.isoformat(),
                provisional=f.provisional,
                resolved_at=text_of(f.resolved_at)
                if resolved and f.resolved_at is not None
                else None,
                resolved_by=ids.get(f.resolved_by)
                if resolved and f.resolved_by is not None
                else None,
                detail=f.detail,
            )
        )
        if flt.limit is not None and len(out) >= flt.limit:
            break
    return out


def get_alert(store: Store, key: str, *, now: int | None = None) -> Alert | None:
    moment = text_of(now if now is not None else now_us())
    with sql_store(store).engine.connect() as conn:
        r = conn.execute(select(ts.alerts).where(ts.alerts.c.key == key)).first()
    return None if r is None else _alert_from_row(r, moment)


def obligations(
    store: Store, scope: Scope, *, now: int | None = None, limit: int | None = None
) -> list[Alert]:
    """Pending obligations: findings whose deadline has not passed yet (for countdowns)."""
    moment = text_of(now if now is not None else now_us())
    a = ts.alerts.c
    q = select(ts.alerts).where(
        a.detected_at > moment, a.engine_state == "active", a.resolved_at.is_(None)
    )
    cond = scope.condition()
    if cond is not None:
        q = q.where(cond)
    q = q.order_by(a.detected_at, a.key)
    if limit is not None:
        q = q.limit(limit)
    with sql_store(store).engine.connect() as conn:
        return [replace(_alert_from_row(r, moment), status="pending") for r in conn.execute(q)]


def as_of_argument(value: str | None) -> int | None:
    """Parse an ``--as-of`` / ``?as_of=`` value; InvalidInput naming the field otherwise."""
    if value is None or value == "":
        return None
    try:
        return parse_as_of(value)
    except ValueError as exc:
        raise InvalidInput("as_of", str(exc)) from None


def dumps(alerts: Iterable[Alert]) -> str:
    return json.dumps([a.to_dict() for a in alerts], ensure_ascii=False, indent=2)


__all__ = [
    "Alert",
    "AlertFilter",
    "CaptureObserver",
    "Coverage",
    "RebuildReport",
    "Scope",
    "as_of_argument",
    "coverage",
    "evaluate",
    "get_alert",
    "list_alerts",
    "load_registry",
    "obligations",
    "rebuild",
]
