"""SQL of the HTTP interface: keys, capture jobs, the audit log, the read-scope index and EPCIS
event queries. One implementation for SQLite and PostgreSQL: SQLAlchemy Core, except on the
hot paths — the two upserts of the index, written per dialect, and the statements every read
request runs (key check, index check, EPCIS filters, a battery's trace), written as driver-level
SQL valid on both, because building and compiling them with Core cost more than running them.
A request runs its reads on one connection (:func:`reading`).

The services above call these functions with a :class:`~battrace.persistence.base.Store` (or a
:class:`~battrace.persistence.base.WriteTxn` inside a capture); nothing here knows HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from sqlalchemy import (
    Connection,
    exists,
    false,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy import exc as sa_exc

from battrace.persistence import schema as t
from battrace.persistence import schema_api as a
from battrace.persistence.base import (
    EnterpriseRow,
    EventRow,
    Store,
    WriteTxn,
)
from battrace.persistence.sql import SqlStore, SqlWriteTxn, _translate, mark, marks, object_events

T = TypeVar("T")
CHUNK = 900


def _sql(store: Store) -> SqlStore:
    if not isinstance(store, SqlStore):  # pragma: no cover - every store is an SqlStore today
        raise TypeError(f"{type(store).__name__} is not an SQL store")
    return store


def _conn_of(txn: WriteTxn) -> Connection:
    if not isinstance(txn, SqlWriteTxn):  # pragma: no cover
        raise TypeError(f"{type(txn).__name__} is not an SQL transaction")
    return txn.conn


def _read(store: Store, fn: Any) -> Any:
    """``fn(connection)``: on the connection :func:`reading` bound, else on one of its own."""
    return _sql(store)._run(fn)


def reading(store: Store) -> AbstractContextManager[Connection]:
    """Every read of ``store`` in the block (this module's and the ledger's) on one connection
    and in one transaction: the reads of one HTTP request."""
    return _sql(store).reading()


def new_snapshot(store: Store) -> None:
    """End the read transaction of the connection :func:`reading` bound (if any), so the next
    read sees what was committed since — e.g. the index rows just written by another
    connection (SQLite keeps a reader on its snapshot until the transaction ends)."""
    bound = SqlStore._bound.get()
    if bound is not None and bound[0] is store and bound[1].in_transaction():
        bound[1].rollback()


def _write(store: Store, fn: Any) -> Any:
    """A short transaction of its own (not the ledger's writer lock: these tables are not part of
    the hash chain)."""
    sql = _sql(store)
    try:
        with sql.engine.begin() as conn:
            return fn(conn)
    except sa_exc.DBAPIError as exc:
        raise _translate(exc) from exc


def _chunks(items: Collection[T]) -> Iterator[list[T]]:
    seq = list(items)
    for i in range(0, len(seq), CHUNK):
        yield seq[i : i + CHUNK]


def _is_sqlite(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite"


# -- keys ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyRow:
    key_id: str
    enterprise: str
    name: str
    secret_hash: str
    created_at: str
    revoked_at: str | None = None


def _key(r: Any) -> KeyRow:
    return KeyRow(r.key_id, r.enterprise, r.name, r.secret_hash, r.created_at, r.revoked_at)


def insert_key(store: Store, row: KeyRow) -> None:
    _write(
        store,
        lambda conn: conn.execute(
            insert(a.api_keys).values(
                key_id=row.key_id,
                enterprise=row.enterprise,
                name=row.name,
                secret_hash=row.secret_hash,
                created_at=row.created_at,
                revoked_at=row.revoked_at,
            )
        ),
    )


def get_key(store: Store, key_id: str) -> KeyRow | None:
    q = select(a.api_keys).where(a.api_keys.c.key_id == key_id)
    r = _read(store, lambda conn: conn.execute(q).first())
    return None if r is None else _key(r)


_KEY_AND_ENTERPRISE = (
    "SELECT k.key_id, k.enterprise, k.name, k.secret_hash, k.created_at, k.revoked_at, "
    "en.uscc, en.name_zh, en.name_en, en.province, en.roles, en.sites, en.qualifications, "
    "en.created_at FROM api_keys k LEFT JOIN enterprises en ON en.uscc = k.enterprise "
    "WHERE k.key_id = {m}"
)


def key_and_enterprise(store: Store, key_id: str) -> tuple[KeyRow, EnterpriseRow | None] | None:
    """The key and its enterprise (without manufacturer codes) in one query: the per-request
    authentication of the HTTP interface (driver-level SQL: it runs on every request)."""
    r = _read(
        store,
        lambda conn: conn.exec_driver_sql(
            _KEY_AND_ENTERPRISE.format(m=mark(conn)), (key_id,)
        ).first(),
    )
    if r is None:
        return None
    enterprise = None
    if r[6] is not None:
        enterprise = EnterpriseRow(
            uscc=r[6],
            name_zh=r[7],
            name_en=r[8],
            province=r[9],
            roles=orjson.loads(r[10]),
            sites=orjson.loads(r[11]),
            qualifications=orjson.loads(r[12]),
            created_at=r[13],
        )
    return KeyRow(*r[:6]), enterprise


def list_keys(store: Store, enterprise: str | None = None) -> list[KeyRow]:
    q = select(a.api_keys).order_by(a.api_keys.c.created_at, a.api_keys.c.key_id)
    if enterprise is not None:
        q = q.where(a.api_keys.c.enterprise == enterprise)
    return _read(store, lambda conn: [_key(r) for r in conn.execute(q)])  # type: ignore[no-any-return]


def revoke_key(store: Store, key_id: str, at: str) -> bool:
    """Revoke a key that is not revoked yet; False if there is no such live key."""
    q = (
        update(a.api_keys)
        .where(a.api_keys.c.key_id == key_id, a.api_keys.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return bool(_write(store, lambda conn: conn.execute(q).rowcount))


# -- capture jobs ------------------------------------------------------------------------------


@dataclass(slots=True)
class JobRow:
    capture_id: str
    enterprise: str
    key_id: str | None
    behaviour: str
    created_at: str
    finished_at: str | None
    success: bool
    event_count: int
    captured: int = 0
    duplicates: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    running: bool = False
    seq: int = 0


def _job_values(row: JobRow) -> dict[str, Any]:
    return {
        "capture_id": row.capture_id,
        "enterprise": row.enterprise,
        "key_id": row.key_id,
        "behaviour": row.behaviour,
        "created_at": row.created_at,
        "finished_at": row.finished_at,
        "running": 1 if row.running else 0,
        "success": 1 if row.success else 0,
        "event_count": row.event_count,
        "captured": row.captured,
        "duplicates": row.duplicates,
        "errors": orjson.dumps(row.errors).decode(),
    }


def _job(r: Any) -> JobRow:
    return JobRow(
        capture_id=r.capture_id,
        enterprise=r.enterprise,
        key_id=r.key_id,
        behaviour=r.behaviour,
        created_at=r.created_at,
        finished_at=r.finished_at,
        success=bool(r.success),
        event_count=r.event_count,
        captured=r.captured,
        duplicates=r.duplicates,
        errors=orjson.loads(r.errors),
        running=bool(r.running),
        seq=r.seq,
    )


def insert_job(store: Store, row: JobRow) -> None:
    _write(store, lambda conn: conn.execute(insert(a.capture_jobs).values(**_job_values(row))))


def insert_job_in(txn: WriteTxn, row: JobRow) -> None:
    """Inside a capture's transaction: the job row commits with the events, or not at all."""
    _conn_of(txn).execute(insert(a.capture_jobs).values(**_job_values(row)))


def get_job(store: Store, capture_id: str) -> JobRow | None:
    q = select(a.capture_jobs).where(a.capture_jobs.c.capture_id == capture_id)
    r = _read(store, lambda conn: conn.execute(q).first())
    return None if r is None else _job(r)


def list_jobs(
    store: Store, enterprises: Collection[str] | None, before_seq: int | None, limit: int
) -> list[JobRow]:
    """Newest first; ``enterprises`` None = every enterprise."""
    j = a.capture_jobs.c
    q = select(a.capture_jobs).order_by(j.seq.desc()).limit(limit)
    if enterprises is not None:
        q = q.where(j.enterprise.in_(list(enterprises)) if enterprises else false())
    if before_seq is not None:
        q = q.where(j.seq < before_seq)
    return _read(store, lambda conn: [_job(r) for r in conn.execute(q)])  # type: ignore[no-any-return]


# -- audit log -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditRow:
    at: str
    key_id: str | None
    enterprise: str | None
    method: str
    path: str
    query: str
    status: int
    outcome: str
    detail: str = ""
    client: str = ""
    seq: int = 0


def insert_audit(store: Store, rows: Sequence[AuditRow]) -> None:
    if not rows:
        return

    def text_(value: str) -> str:  # PostgreSQL text cannot hold NUL: one bad row must not
        return value.replace("\x00", "\\x00")  # block the log

    values = [
        {
            "at": r.at,
            "key_id": r.key_id,
            "enterprise": r.enterprise,
            "method": text_(r.method),
            "path": text_(r.path),
            "query": text_(r.query),
            "status": r.status,
            "outcome": r.outcome,
            "detail": text_(r.detail),
            "client": text_(r.client),
        }
        for r in rows
    ]
    _write(store, lambda conn: conn.execute(insert(a.audit_log), values))


def read_audit(
    store: Store, *, enterprise: str | None = None, since: str | None = None, limit: int = 1000
) -> list[AuditRow]:
    """Oldest first from ``since`` (UTC text), at most ``limit`` rows."""
    c = a.audit_log.c
    q = select(a.audit_log).order_by(c.at, c.seq).limit(limit)
    if enterprise is not None:
        q = q.where(c.enterprise == enterprise)
    if since is not None:
        q = q.where(c.at >= since)
    return _read(  # type: ignore[no-any-return]
        store,
        lambda conn: [
            AuditRow(
                r.at,
                r.key_id,
                r.enterprise,
                r.method,
                r.path,
                r.query,
                r.status,
                r.outcome,
                r.detail,
                r.client,
                r.seq,
            )
            for r in conn.execute(q)
        ],
    )


# -- the read-scope index ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndexSource:
    """What the index needs of one stored event."""

    seq: int
    reporter: str
    read_point: str | None
    biz_location: str | None
    event_time: str
    body: str


def index_watermark(txn: WriteTxn) -> int:
    conn = _conn_of(txn)
    value = conn.execute(
        select(a.api_index_state.c.last_event_seq).where(a.api_index_state.c.id == 1)
    ).scalar()
    return int(value or 0)


_INDEX_LAG = (
    "SELECT (SELECT last_event_seq FROM api_index_state WHERE id = 1), "
    "(SELECT event_count FROM ledger_head WHERE id = 1)"
)


def index_lag(store: Store) -> tuple[int, int]:
    """(events indexed for read scope, events in the ledger), in one round trip."""
    r = _read(store, lambda conn: conn.exec_driver_sql(_INDEX_LAG).one())
    return int(r[0] or 0), int(r[1] or 0)


def events_after(txn: WriteTxn, after_seq: int, limit: int) -> list[IndexSource]:
    e = t.events.c
    q = (
        select(e.seq, e.reporter, e.read_point, e.biz_location, e.event_time, e.body)
        .where(e.seq > after_seq)
        .order_by(e.seq)
        .limit(limit)
    )
    return [IndexSource(*r) for r in _conn_of(txn).execute(q)]


def provinces(txn: WriteTxn) -> dict[str, str]:
    q = select(t.enterprises.c.uscc, t.enterprises.c.province)
    return {r.uscc: r.province for r in _conn_of(txn).execute(q)}


def write_index(
    txn: WriteTxn,
    access: Iterable[tuple[str, int]],
    custody: Iterable[tuple[str, str, str, str]],
    watermark: int,
) -> None:
    """Add access rows (principal, event seq) and widen custody windows (party, epc, since,
    until); then move the watermark. Inside the caller's write transaction."""
    conn = _conn_of(txn)
    m = mark(conn)
    access_rows = list(access)
    custody_rows = list(custody)
    if _is_sqlite(conn):
        ins_access = (
            f"INSERT OR IGNORE INTO api_event_access (principal, event_seq) VALUES ({m}, {m})"
        )
        ins_custody = (
            "INSERT INTO api_custody (party, epc, since_time, until_time) "
            f"VALUES ({m}, {m}, {m}, {m}) ON CONFLICT (party, epc) DO UPDATE SET "
            "since_time = min(since_time, excluded.since_time), "
            "until_time = max(until_time, excluded.until_time)"
        )
    else:
        ins_access = (
            f"INSERT INTO api_event_access (principal, event_seq) VALUES ({m}, {m}) "
            "ON CONFLICT DO NOTHING"
        )
        ins_custody = (
            "INSERT INTO api_custody (party, epc, since_time, until_time) "
            f"VALUES ({m}, {m}, {m}, {m}) ON CONFLICT (party, epc) DO UPDATE SET "
            "since_time = LEAST(api_custody.since_time, excluded.since_time), "
            "until_time = GREATEST(api_custody.until_time, excluded.until_time)"
        )
    if access_rows:
        conn.exec_driver_sql(ins_access, access_rows)
    if custody_rows:
        conn.exec_driver_sql(ins_custody, custody_rows)
    s = a.api_index_state
    res = conn.execute(update(s).where(s.c.id == 1).values(last_event_seq=watermark))
    if res.rowcount == 0:
        conn.execute(insert(s).values(id=1, last_event_seq=watermark))


def participated(store: Store, principal: str, seqs: Collection[int]) -> set[int]:
    """Which of these events ``principal`` (a USCC or province:NN) took part in."""

    def fn(conn: Connection) -> set[int]:
        out: set[int] = set()
        for part in _chunks(seqs):
            sql = (
                f"SELECT event_seq FROM api_event_access WHERE principal = {mark(conn)} "
                f"AND event_seq IN ({marks(conn, len(part))})"
            )
            out.update(r[0] for r in conn.exec_driver_sql(sql, (principal, *part)).all())
        return out

    return _read(store, fn)  # type: ignore[no-any-return]


def events_with_access(
    store: Store, event_ids: Collection[str], principal: str
) -> tuple[list[EventRecord], set[int]]:
    """The events with these IDs (and their declarations), and which of them ``principal`` took
    part in — on one connection (the per-request scoping of a battery's trace)."""
    e = t.events.c
    acc = a.api_event_access.c

    def fn(conn: Connection) -> tuple[list[EventRecord], set[int]]:
        records: list[EventRecord] = []
        for id_part in _chunks(event_ids):
            q = select(
                e.seq,
                e.event_id,
                e.record_time,
                e.event_time,
                e.is_declaration,
                e.body,
                literal("").label("context"),
                e.reporter,
            ).where(e.event_id.in_(id_part))
            records += [
                EventRecord(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], r[7])
                for r in conn.execute(q)
            ]
        took: set[int] = set()
        for part in _chunks([r.seq for r in records]):
            q = select(acc.event_seq).where(acc.principal == principal, acc.event_seq.in_(part))
            took.update(conn.execute(q).scalars())
        return records, took

    return _read(store, fn)  # type: ignore[no-any-return]


def custody(store: Store, party: str, epcs: Collection[str]) -> dict[str, tuple[str, str]]:
    """(since, until) eventTime window per object ``party`` took part in."""
    cu = a.api_custody.c

    def fn(conn: Connection) -> dict[str, tuple[str, str]]:
        out: dict[str, tuple[str, str]] = {}
        for part in _chunks(epcs):
            q = select(cu.epc, cu.since_time, cu.until_time).where(
                cu.party == party, cu.epc.in_(part)
            )
            out.update((r.epc, (r.since_time, r.until_time)) for r in conn.execute(q))
        return out

    return _read(store, fn)  # type: ignore[no-any-return]


def holders(store: Store, epcs: Collection[str]) -> dict[str, str | None]:
    o = t.objects.c

    def fn(conn: Connection) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for part in _chunks(epcs):
            q = select(o.epc, o.holder).where(o.epc.in_(part))
            out.update((r.epc, r.holder) for r in conn.execute(q))
        return out

    return _read(store, fn)  # type: ignore[no-any-return]


# -- a battery's trace, scoped -------------------------------------------------------------------


class TraceReads(SqlStore):
    """The reads of ``services.trace.trace`` for ``GET /api/batteries/{code}``: :class:`SqlStore`'s
    own (driver-level SQL, on the request's connection when inside :func:`reading`), except that
    with a ``principal`` the events query also says which events it took part in
    (``api_event_access``): the read-scope check rides on the trace's own query. ``rows`` and
    ``took`` keep what it found."""

    def __init__(self, store: Store, principal: str | None = None) -> None:
        base = _sql(store)
        super().__init__(base.url, base.engine)
        self.base = base
        self.principal = principal
        self.rows: list[EventRow] = []
        self.took: set[int] = set()

    def _run(self, fn: Callable[[Connection], T]) -> T:
        return self.base._run(fn)

    def events_for(self, epc: str) -> list[tuple[str, EventRow]]:
        found = self._run(lambda conn: object_events(conn, epc, self.principal))
        self.rows += [row for _, row, _ in found]
        self.took.update(row.seq for _, row, took in found if took)
        return [(role, row) for role, row, _ in found]

    def records(self) -> list[EventRecord]:
        """The events :meth:`events_for` read, as query records (for the scope check)."""
        return [
            EventRecord(
                r.seq,
                r.event_id,
                r.record_time,
                r.event_time,
                r.is_declaration,
                r.body,
                "",
                r.reporter,
            )
            for r in self.rows
        ]


# -- EPCIS event queries -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Validated filters (services.query builds it from EPCIS query parameters). Empty tuples
    mean "no condition"; every condition must hold (AND), values within one are OR."""

    event_types: tuple[str, ...] = ()
    ge_event_time: str | None = None
    lt_event_time: str | None = None
    ge_record_time: str | None = None
    lt_record_time: str | None = None
    actions: tuple[str, ...] = ()
    biz_steps: tuple[str, ...] = ()
    dispositions: tuple[str, ...] = ()
    read_points: tuple[str, ...] = ()
    biz_locations: tuple[str, ...] = ()
    event_ids: tuple[str, ...] = ()
    # (roles, identifiers): the event names one of the identifiers in one of the roles
    epcs: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()
    declarations_only: bool = False
    order: str = "seq"  # seq | eventTime | recordTime
    descending: bool = False
    principal: str | None = None  # only events this api_event_access principal took part in


@dataclass(frozen=True, slots=True)
class EventRecord:
    seq: int
    event_id: str
    record_time: str
    event_time: str
    is_declaration: bool
    body: str
    context: str
    reporter: str

    def sort_key(self, order: str) -> str | int:
        if order == "eventTime":
            return self.event_time
        if order == "recordTime":
            return self.record_time
        return self.seq


#: Sort columns of ``EventFilter.order``.
ORDER_COLUMNS = {"seq": "e.seq", "eventTime": "e.event_time", "recordTime": "e.record_time"}


def _conditions(flt: EventFilter, mark: str) -> tuple[list[str], list[Any]]:
    """The filter as SQL conditions on ``events e`` and their parameters. Driver-level SQL:
    every EPCIS query builds one, and with SQLAlchemy Core building and compiling it cost more
    than running it. Every value is a parameter; column names come from this code only."""
    conds: list[str] = []
    params: list[Any] = []

    def among(column: str, values: Sequence[Any]) -> str:
        params.extend(values)
        return f"{column} IN ({', '.join([mark] * len(values))})"

    for column, values in (
        ("e.event_type", flt.event_types),
        ("e.action", flt.actions),
        ("e.biz_step", flt.biz_steps),
        ("e.disposition", flt.dispositions),
        ("e.read_point", flt.read_points),
        ("e.biz_location", flt.biz_locations),
        ("e.event_id", flt.event_ids),
    ):
        if values:
            conds.append(among(column, values))
    for column, op, value in (
        ("e.event_time", ">=", flt.ge_event_time),
        ("e.event_time", "<", flt.lt_event_time),
        ("e.record_time", ">=", flt.ge_record_time),
        ("e.record_time", "<", flt.lt_record_time),
    ):
        if value:
            conds.append(f"{column} {op} {mark}")
            params.append(value)
    if flt.declarations_only:
        conds.append("e.is_declaration = 1")
    for roles, ids in flt.epcs:
        sub = f"SELECT ee.event_seq FROM event_epcs ee WHERE {among('ee.epc', ids)}"
        if roles:
            sub += f" AND {among('ee.role', roles)}"
        conds.append(f"e.seq IN ({sub})")
    if flt.principal is not None:
        conds.append(
            "EXISTS (SELECT 1 FROM api_event_access acc "
            f"WHERE acc.principal = {mark} AND acc.event_seq = e.seq)"
        )
        params.append(flt.principal)
    return conds, params


def _where(conds: list[str]) -> str:
    return f" WHERE {' AND '.join(conds)}" if conds else ""


def select_events(
    store: Store, flt: EventFilter, cursor: tuple[str | int, int] | None, limit: int
) -> list[EventRecord]:
    """Events matching ``flt`` in its order, after ``cursor`` = (sort key, seq) of the last event
    of the previous page (keyset paging: stable while new events arrive)."""
    column = ORDER_COLUMNS[flt.order]
    direction = " DESC" if flt.descending else ""

    def fn(conn: Connection) -> list[EventRecord]:
        m = mark(conn)
        conds, params = _conditions(flt, m)
        if cursor is not None:
            key, seq = cursor
            op = "<" if flt.descending else ">"
            if flt.order == "seq":
                conds.append(f"e.seq {op} {m}")
                params.append(seq)
            else:
                conds.append(f"({column} {op} {m} OR ({column} = {m} AND e.seq {op} {m}))")
                params += [key, key, seq]
        order = f"e.seq{direction}"
        if flt.order != "seq":
            order = f"{column}{direction}, {order}"
        sql = (
            "SELECT e.seq, e.event_id, e.record_time, e.event_time, e.is_declaration, e.body, "
            "c.context, e.reporter FROM events e JOIN captures c ON c.seq = e.capture_seq"
            f"{_where(conds)} ORDER BY {order} LIMIT {int(limit)}"
        )
        return [
            EventRecord(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], r[7])
            for r in conn.exec_driver_sql(sql, tuple(params)).all()
        ]

    return _read(store, fn)  # type: ignore[no-any-return]


def count_events(store: Store, flt: EventFilter, at_least: int) -> int:
    """How many events match, counting no further than ``at_least`` (maxEventCount checks)."""

    def fn(conn: Connection) -> int:
        conds, params = _conditions(flt, mark(conn))
        sql = (
            f"SELECT count(*) FROM (SELECT e.seq FROM events e{_where(conds)} "
            f"LIMIT {int(at_least)}) AS matching"
        )
        return int(conn.exec_driver_sql(sql, tuple(params)).scalar_one())

    return _read(store, fn)  # type: ignore[no-any-return]


DISTINCT_COLUMNS = {
    "eventTypes": t.events.c.event_type,
    "bizSteps": t.events.c.biz_step,
    "dispositions": t.events.c.disposition,
    "readPoints": t.events.c.read_point,
    "bizLocations": t.events.c.biz_location,
}


def distinct_values(
    store: Store, what: str, principal: str | None, after: str | None, limit: int
) -> list[str]:
    """Sorted distinct values of one column (bizSteps, readPoints …) among events
    ``principal`` took part in (None = all events)."""
    column = DISTINCT_COLUMNS[what]
    q = select(column).where(column.is_not(None)).distinct().order_by(column).limit(limit)
    if after is not None:
        q = q.where(column > after)
    if principal is not None:
        acc = a.api_event_access.c
        q = q.where(
            exists(
                select(literal(1)).where(
                    acc.principal == principal, acc.event_seq == t.events.c.seq
                )
            )
        )
    return _read(store, lambda conn: [r[0] for r in conn.execute(q)])  # type: ignore[no-any-return]


def enterprise_provinces(store: Store, usccs: Collection[str]) -> dict[str, str]:
    en = t.enterprises.c

    def fn(conn: Connection) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in _chunks(usccs):
            q = select(en.uscc, en.province).where(en.uscc.in_(part))
            out.update((r.uscc, r.province) for r in conn.execute(q))
        return out

    return _read(store, fn)  # type: ignore[no-any-return]
