"""The ledger on SQLAlchemy Core: one implementation for SQLite and PostgreSQL.

Backend differences (engine options, how a writer takes the lock, how the capture's bulk rows are
written and looked up) live in :mod:`battrace.persistence.sqlite` and
:mod:`battrace.persistence.postgres`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from importlib import resources
from typing import Any, ClassVar, TypeVar

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy import exc as sa_exc

from battrace.domain.errors import InvalidInput
from battrace.persistence import schema as t
from battrace.persistence import tallies
from battrace.persistence.base import (
    GENESIS,
    CaptureRow,
    CheckpointRow,
    EnterpriseRow,
    EventRow,
    Head,
    InconsistencyRow,
    ObjectSummary,
    SchemaMissing,
    StorageError,
    Store,
    WriteTxn,
)

T = TypeVar("T")
CHUNK = 900  # stays under SQLite's default limit of host parameters per statement

_EVENT_COLS = (
    t.events.c.seq,
    t.events.c.event_id,
    t.events.c.capture_seq,
    t.events.c.position,
    t.events.c.record_time,
    t.events.c.event_time,
    t.events.c.event_type,
    t.events.c.action,
    t.events.c.biz_step,
    t.events.c.disposition,
    t.events.c.read_point,
    t.events.c.biz_location,
    t.events.c.reporter,
    t.events.c.is_declaration,
    t.events.c.body,
)


_EVENT_INSERT_COLUMNS = tuple(c.name for c in _EVENT_COLS)
_CAPTURE_COLUMNS = (
    "capture_id",
    "enterprise",
    "record_time",
    "context",
    "event_count",
    "digest",
    "prev_head",
    "head",
    "imported",
)
OBJECT_COLUMNS = (
    "epc",
    "kind",
    "state",
    "holder",
    "location",
    "parent",
    "last_event_time",
    "rated_kwh",
    "mass_kg",
    "view",
)


def _event_row(r: Sequence[Any], at: int = 0) -> EventRow:
    """The event of a row holding the :data:`_EVENT_COLS` from position ``at`` on (by
    position: a trace reads a hundred or so rows, and name look-ups cost a tenth of it)."""
    return EventRow(
        seq=r[at],
        event_id=r[at + 1],
        capture_seq=r[at + 2],
        position=r[at + 3],
        record_time=r[at + 4],
        event_time=r[at + 5],
        event_type=r[at + 6],
        action=r[at + 7],
        biz_step=r[at + 8],
        disposition=r[at + 9],
        read_point=r[at + 10],
        biz_location=r[at + 11],
        reporter=r[at + 12],
        is_declaration=bool(r[at + 13]),
        body=r[at + 14],
    )


def mark(conn: Connection | Engine) -> str:
    """The driver's parameter marker (sqlite3: ``?``, psycopg: ``%s``)."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def marks(conn: Connection | Engine, n: int) -> str:
    return ", ".join([mark(conn)] * n)


def insert_sql(conn: Connection | Engine, table: str, columns: Sequence[str]) -> str:
    """Driver-level ``INSERT`` of one row of ``columns`` (for ``executemany`` with tuples)."""
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks(conn, len(columns))})"


_EVENT_SQL_COLUMNS = ", ".join(f"e.{name}" for name in _EVENT_INSERT_COLUMNS)


def object_events(
    conn: Connection, epc: str, principal: str | None
) -> list[tuple[str, EventRow, bool]]:
    """(role, event, took part) of every event naming ``epc``, by eventTime. With a
    ``principal`` the same query says whether it took part in each (``api_event_access``), so a
    scoped read needs no query of its own for the check; without one, "took part" is False."""
    m = mark(conn)
    took = "0"
    params: tuple[str, ...] = (epc,)
    if principal is not None:
        took = (
            "CASE WHEN EXISTS (SELECT 1 FROM api_event_access acc WHERE "
            f"acc.principal = {m} AND acc.event_seq = e.seq) THEN 1 ELSE 0 END"
        )
        params = (principal, epc)
    sql = (
        f"SELECT ee.role, {took}, {_EVENT_SQL_COLUMNS} FROM event_epcs ee "
        f"JOIN events e ON e.seq = ee.event_seq WHERE ee.epc = {m} "
        "ORDER BY e.event_time, e.seq"
    )
    rows = conn.exec_driver_sql(sql, params).all()
    return [(r[0], _event_row(r, 2), bool(r[1])) for r in rows]


def _chunks(items: Collection[T]) -> Iterator[list[T]]:
    seq = list(items)
    for i in range(0, len(seq), CHUNK):
        yield seq[i : i + CHUNK]


def _enterprise(r: Any, codes: list[str]) -> EnterpriseRow:
    return EnterpriseRow(
        uscc=r.uscc,
        name_zh=r.name_zh,
        name_en=r.name_en,
        province=r.province,
        roles=orjson.loads(r.roles),
        manufacturer_codes=codes,
        sites=orjson.loads(r.sites),
        qualifications=orjson.loads(r.qualifications),
        created_at=r.created_at,
    )


def _translate(exc: Exception) -> StorageError:
    text_ = str(exc).lower()
    if "no such table" in text_ or ("does not exist" in text_ and "relation" in text_):
        return SchemaMissing("the database has no battrace schema; run `battrace init` first")
    return StorageError(f"database error: {str(exc).splitlines()[0]}")


class SqlWriteTxn(WriteTxn):
    def __init__(self, store: SqlStore, conn: Connection) -> None:
        self.store = store
        self.conn = conn
        self._head: Head | None = None
        # What each pack counted as in the overview tallies before this transaction touched it
        # (None: not in the projection), from the views read before they are replaced.
        self._packs: dict[str, tallies.PackEntry | None] = {}

    def head(self) -> Head:
        if self._head is None:
            self._head = self.store.read_head(self.conn, lock=True)
        return self._head

    def existing_event_ids(self, ids: Collection[str], *, declarations: bool) -> set[str]:
        found: set[str] = set()
        flag = 1 if declarations else 0
        for cond, params in self.store.in_sql(self.conn, "event_id", ids):
            sql = f"SELECT event_id FROM events WHERE {cond} AND is_declaration = {flag}"
            found.update(r[0] for r in self.conn.exec_driver_sql(sql, params))
        return found

    def append(self, capture: CaptureRow, events: Sequence[EventRow]) -> int:
        head = self.head()
        conn = self.conn
        # Driver-level SQL on this path: a capture of a few events (one HTTP event, a simulated
        # report) is dominated by per-statement costs, and SQLAlchemy Core's building and
        # compiling cost several times running these statements.
        capture_seq = int(
            conn.exec_driver_sql(
                insert_sql(conn, "captures", _CAPTURE_COLUMNS) + " RETURNING seq",
                (
                    capture.capture_id,
                    capture.enterprise,
                    capture.record_time,
                    capture.context,
                    capture.event_count,
                    capture.digest,
                    capture.prev_head,
                    capture.head,
                    1 if capture.imported else 0,
                ),
            ).scalar_one()
        )
        if events:
            # Writers are serialised, so numbering events here is race-free and lets the EPC index
            # rows be written in the same round trip instead of reading generated keys back.
            first = conn.exec_driver_sql("SELECT coalesce(max(seq), 0) FROM events").scalar_one()
            first = int(first) + 1
            rows: list[tuple[Any, ...]] = []
            epc_rows: list[tuple[str, int, str]] = []
            for i, ev in enumerate(events):
                seq = first + i
                ev.seq = seq
                ev.capture_seq = capture_seq
                rows.append(
                    (
                        seq,
                        ev.event_id,
                        capture_seq,
                        ev.position,
                        ev.record_time,
                        ev.event_time,
                        ev.event_type,
                        ev.action,
                        ev.biz_step,
                        ev.disposition,
                        ev.read_point,
                        ev.biz_location,
                        ev.reporter,
                        1 if ev.is_declaration else 0,
                        ev.body,
                    )
                )
                pairs = ev.epcs
                if len(pairs) > 1 and len(set(pairs)) != len(pairs):
                    pairs = list(dict.fromkeys(pairs))  # an identifier named twice in one role
                epc_rows += [(epc, seq, role) for epc, role in pairs]

            # The hot path of bulk capture: plain DB-API executemany with tuples, skipping
            # SQLAlchemy's per-row parameter processing (measured: about a third of insert time).
            self.store.insert_rows(conn, "events", _EVENT_INSERT_COLUMNS, rows)
            if epc_rows:
                self.store.insert_rows(conn, "event_epcs", ("epc", "event_seq", "role"), epc_rows)
            tallies.add_events(
                conn,
                tallies.event_deltas(
                    (ev.event_time, ev.biz_step, ev.reporter, ev.is_declaration) for ev in events
                ),
            )
        new_head = Head(capture_seq, capture.head, head.event_count + len(events))
        self.store.write_head(conn, new_head)
        self._head = new_head
        return capture_seq

    def load_views(self, epcs: Collection[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        packs = self._packs
        for cond, params in self.store.in_sql(self.conn, "epc", epcs):
            sql = (
                'SELECT epc, "view", kind, state, holder, rated_kwh, mass_kg FROM objects '
                f"WHERE {cond}"
            )
            for epc, view, kind, state, holder, kwh, kg in self.conn.exec_driver_sql(sql, params):
                out[epc] = view
                if tallies.is_pack(kind, epc):
                    packs[epc] = tallies.pack_entry(state, holder, kwh, kg)
        for epc in epcs:
            if epc not in out and tallies.is_pack_code(epc):
                packs[epc] = None
        return out

    def events_of(self, epcs: Collection[str]) -> list[tuple[str, str, EventRow]]:
        out: list[tuple[str, str, EventRow]] = []
        for part in _chunks(epcs):
            q = (
                select(t.event_epcs.c.epc, t.event_epcs.c.role, *_EVENT_COLS)
                .join(t.events, t.events.c.seq == t.event_epcs.c.event_seq)
                .where(t.event_epcs.c.epc.in_(part), t.events.c.is_declaration == 0)
                .order_by(t.events.c.event_time, t.events.c.seq)
            )
            out.extend((r[0], r[1], _event_row(r, 2)) for r in self.conn.execute(q))
        return out

    def declared_ids(self, ids: Collection[str]) -> set[str]:
        return self.store.declared_ids_on(self.conn, ids)

    def upsert_views(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        # Rows in OBJECT_COLUMNS order: epc, kind, state, holder, …, rated_kwh, mass_kg, view.
        pack_rows = [r for r in rows if tallies.is_pack(r[1], r[0])]
        packs = self._packs
        unknown = [r[0] for r in pack_rows if r[0] not in packs]
        if unknown:  # not read through load_views: ask for what they counted as before
            for cond, params in self.store.in_sql(self.conn, "epc", unknown):
                sql = (
                    f"SELECT epc, kind, state, holder, rated_kwh, mass_kg FROM objects WHERE {cond}"
                )
                packs.update(tallies.old_entries(self.conn.exec_driver_sql(sql, params).all()))
        self.store.upsert_objects(self.conn, list(rows))
        if not pack_rows:
            return
        changes = []
        for r in pack_rows:
            after = tallies.pack_entry(r[2], r[3], r[7], r[8])
            changes.append((packs.get(r[0]), after))
            packs[r[0]] = after
        tallies.add_packs(self.conn, tallies.pack_deltas(changes))

    def replace_inconsistencies(
        self, epcs: Collection[str], rows: Sequence[InconsistencyRow]
    ) -> None:
        for part in _chunks(epcs):
            self.conn.execute(delete(t.inconsistencies).where(t.inconsistencies.c.epc.in_(part)))
        self.add_inconsistencies(rows)

    def add_inconsistencies(self, rows: Sequence[InconsistencyRow]) -> None:
        if rows:
            self.conn.execute(
                insert(t.inconsistencies),
                [
                    {
                        "epc": r.epc,
                        "event_id": r.event_id,
                        "reason": r.reason,
                        "detected_at": r.detected_at,
                    }
                    for r in rows
                ],
            )

    def manufacturer_owners(self, codes: Collection[str]) -> dict[str, str]:
        return self.store.owners_on(self.conn, codes)

    def enterprise(self, uscc: str) -> EnterpriseRow | None:
        return self.store.enterprise_on(self.conn, uscc)


class SqlStore(Store):
    """Shared SQL implementation; subclasses set up the engine and the writer lock."""

    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine

    # -- backend hooks ----------------------------------------------------------------------
    def begin_write(self, conn: Connection) -> None:
        """Start a serialised write transaction on ``conn``."""
        conn.begin()

    def read_head(self, conn: Connection, *, lock: bool) -> Head:
        sql = "SELECT capture_seq, head, event_count FROM ledger_head WHERE id = 1"
        if lock and conn.dialect.name != "sqlite":  # SQLite's writer lock is the whole database
            sql += " FOR UPDATE"
        row = conn.exec_driver_sql(sql).first()
        if row is None:
            return Head(0, GENESIS, 0)
        return Head(row[0], row[1], row[2])

    def write_head(self, conn: Connection, head: Head) -> None:
        values = (head.capture_seq, head.head, head.event_count)
        m = mark(conn)
        res = conn.exec_driver_sql(
            f"UPDATE ledger_head SET capture_seq = {m}, head = {m}, event_count = {m} WHERE id = 1",
            values,
        )
        if res.rowcount == 0:
            conn.exec_driver_sql(
                f"INSERT INTO ledger_head (id, capture_seq, head, event_count) "
                f"VALUES (1, {m}, {m}, {m})",
                values,
            )

    def upsert_objects_sql(self) -> str:
        # Same SQL on SQLite (>= 3.24) and PostgreSQL; driver-level executemany with tuples is
        # several times cheaper than SQLAlchemy's per-row processing on this hot path.
        updates = ", ".join(f"{c} = excluded.{c}" for c in OBJECT_COLUMNS[1:])
        return (
            f"{insert_sql(self.engine, 'objects', OBJECT_COLUMNS)} "
            f"ON CONFLICT (epc) DO UPDATE SET {updates}"
        )

    def insert_rows(
        self, conn: Connection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None:
        """Bulk insert of the capture's hot path (driver-level ``executemany`` with tuples)."""
        conn.exec_driver_sql(insert_sql(conn, table, columns), rows)

    def upsert_objects(self, conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        """Insert or replace ``objects`` rows (columns :data:`OBJECT_COLUMNS`), epcs distinct."""
        conn.exec_driver_sql(self.upsert_objects_sql(), rows)

    def in_sql(
        self, conn: Connection, column: str, values: Collection[Any]
    ) -> Iterator[tuple[str, tuple[Any, ...]]]:
        """Driver-level ``column IN values`` conditions with their parameters, one per
        statement to run (SQLite: chunks of :data:`CHUNK`)."""
        for part in _chunks(values):
            yield f"{column} IN ({marks(conn, len(part))})", tuple(part)

    # -- plumbing ---------------------------------------------------------------------------
    #: The connection :meth:`reading` bound in this context (a request's worker-thread call).
    _bound: ClassVar[ContextVar[tuple[SqlStore, Connection] | None]] = ContextVar(
        "battrace_bound_connection", default=None
    )

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """Run every read of this store in the block on one connection and one transaction:
        a short HTTP read makes ten or so queries, and a pool checkout plus BEGIN/ROLLBACK for
        each cost more than the queries (writes still take their own connection)."""
        bound = self._bound.get()
        if bound is not None and bound[0] is self:
            yield bound[1]
            return
        try:
            with self.engine.connect() as conn:
                token = self._bound.set((self, conn))
                try:
                    yield conn
                finally:
                    self._bound.reset(token)
        except sa_exc.DBAPIError as exc:
            raise _translate(exc) from exc

    def _run(self, fn: Callable[[Connection], T]) -> T:
        try:
            bound = self._bound.get()
            if bound is not None and bound[0] is self:
                return fn(bound[1])
            with self.engine.connect() as conn:
                return fn(conn)
        except sa_exc.DBAPIError as exc:
            raise _translate(exc) from exc

    def migrate(self) -> None:
        cfg = Config()
        cfg.set_main_option(
            "script_location", str(resources.files("battrace.persistence") / "migrations")
        )
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except sa_exc.DBAPIError as exc:
            raise _translate(exc) from exc

    @contextmanager
    def write(self) -> Iterator[WriteTxn]:
        try:
            with self.engine.connect() as conn:
                self.begin_write(conn)
                try:
                    yield SqlWriteTxn(self, conn)
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
        except sa_exc.DBAPIError as exc:
            raise _translate(exc) from exc

    def close(self) -> None:
        self.engine.dispose()

    def optimize(self) -> None:
        statement = (
            "PRAGMA optimize"
            if self.engine.dialect.name == "sqlite"
            else "ANALYZE events, event_epcs, objects, captures"
        )
        self._run(lambda conn: conn.exec_driver_sql(statement))

    # -- enterprises ------------------------------------------------------------------------
    def put_enterprises(self, rows: Sequence[EnterpriseRow]) -> None:
        def fn(conn: Connection) -> None:
            with conn.begin():
                for row in rows:
                    self._put_enterprise(conn, row)

        self._run(fn)

    def _put_enterprise(self, conn: Connection, row: EnterpriseRow) -> None:
        values = {
            "uscc": row.uscc,
            "name_zh": row.name_zh,
            "name_en": row.name_en,
            "province": row.province,
            "roles": orjson.dumps(sorted(row.roles)).decode(),
            "sites": orjson.dumps(row.sites).decode(),
            "qualifications": orjson.dumps(row.qualifications).decode(),
            "created_at": row.created_at,
        }
        conn.execute(delete(t.manufacturer_codes).where(t.manufacturer_codes.c.uscc == row.uscc))
        exists = conn.execute(
            select(t.enterprises.c.uscc).where(t.enterprises.c.uscc == row.uscc)
        ).first()
        if exists:
            conn.execute(
                update(t.enterprises).where(t.enterprises.c.uscc == row.uscc).values(**values)
            )
        else:
            conn.execute(insert(t.enterprises).values(**values))
        for code in row.manufacturer_codes:
            owner = conn.execute(
                select(t.manufacturer_codes.c.uscc).where(t.manufacturer_codes.c.code == code)
            ).scalar()
            if owner is not None:
                raise InvalidInput(
                    "manufacturer_codes", f"{code} is already registered to enterprise {owner}"
                )
            conn.execute(insert(t.manufacturer_codes).values(code=code, uscc=row.uscc))

    def enterprise_on(self, conn: Connection, uscc: str) -> EnterpriseRow | None:
        # Driver-level: every capture looks its reporter up.
        m = mark(conn)
        r = conn.exec_driver_sql(
            "SELECT uscc, name_zh, name_en, province, roles, sites, qualifications, created_at "
            f"FROM enterprises WHERE uscc = {m}",
            (uscc,),
        ).first()
        if r is None:
            return None
        codes = conn.exec_driver_sql(
            f"SELECT code FROM manufacturer_codes WHERE uscc = {m} ORDER BY code", (uscc,)
        ).all()
        return _enterprise(r, [c[0] for c in codes])

    def get_enterprise(self, uscc: str) -> EnterpriseRow | None:
        return self._run(lambda conn: self.enterprise_on(conn, uscc))

    def list_enterprises(self, role: str | None = None) -> list[EnterpriseRow]:
        def fn(conn: Connection) -> list[EnterpriseRow]:
            codes: dict[str, list[str]] = {}
            for c in conn.execute(
                select(t.manufacturer_codes).order_by(t.manufacturer_codes.c.code)
            ):
                codes.setdefault(c.uscc, []).append(c.code)
            rows = conn.execute(select(t.enterprises).order_by(t.enterprises.c.uscc))
            out = [_enterprise(r, codes.get(r.uscc, [])) for r in rows]
            return [e for e in out if role is None or role in e.roles]

        return self._run(fn)

    def owners_on(self, conn: Connection, codes: Collection[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for cond, params in self.in_sql(conn, "code", codes):
            sql = f"SELECT code, uscc FROM manufacturer_codes WHERE {cond}"
            out.update((r[0], r[1]) for r in conn.exec_driver_sql(sql, params))
        return out

    def manufacturer_owners(self, codes: Collection[str]) -> dict[str, str]:
        return self._run(lambda conn: self.owners_on(conn, codes))

    # -- reading ----------------------------------------------------------------------------
    def head(self) -> Head:
        return self._run(lambda conn: self.read_head(conn, lock=False))

    # The reads of a trace (services.trace) are driver-level SQL: a trace makes seven or so
    # small queries, and building and compiling each with SQLAlchemy Core cost several times more
    # than running it (docs/api.md, "Performance").
    def get_view(self, epc: str) -> str | None:
        sql = 'SELECT "view" FROM objects WHERE epc = {m}'
        return self._run(
            lambda conn: conn.exec_driver_sql(sql.format(m=mark(conn)), (epc,)).scalar()
        )

    def descendants(self, root: str, max_depth: int) -> list[ObjectSummary]:
        # Level by level with IN lists: a pack of 10 modules × 10 cells costs 3 queries on one
        # connection, where a query per node would cost over a hundred.
        def fn(conn: Connection) -> list[ObjectSummary]:
            out: list[ObjectSummary] = []
            level = [root]
            for _ in range(max_depth):
                found: list[ObjectSummary] = []
                for part in _chunks(level):
                    sql = (
                        "SELECT epc, parent, state, holder FROM objects "
                        f"WHERE parent IN ({marks(conn, len(part))})"
                    )
                    rows = conn.exec_driver_sql(sql, tuple(part)).all()
                    found.extend(ObjectSummary(*r) for r in rows)
                if not found:
                    break
                found.sort(key=lambda r: r.epc)
                out.extend(found)
                level = [r.epc for r in found]
            return out

        return self._run(fn)

    def events_for(self, epc: str) -> list[tuple[str, EventRow]]:
        return [(role, row) for role, row, _ in self._run(lambda c: object_events(c, epc, None))]

    def epcs_of_events(self, seqs: Collection[int]) -> dict[int, list[tuple[str, str]]]:
        def fn(conn: Connection) -> dict[int, list[tuple[str, str]]]:
            out: dict[int, list[tuple[str, str]]] = {}
            for part in _chunks(seqs):
                sql = (
                    "SELECT event_seq, epc, role FROM event_epcs "
                    f"WHERE event_seq IN ({marks(conn, len(part))})"
                )
                for r in conn.exec_driver_sql(sql, tuple(part)).all():
                    out.setdefault(r[0], []).append((r[1], r[2]))
            return out

        return self._run(fn)

    def inconsistencies_for(self, epc: str) -> list[InconsistencyRow]:
        def fn(conn: Connection) -> list[InconsistencyRow]:
            sql = (
                "SELECT epc, event_id, reason, detected_at FROM inconsistencies "
                f"WHERE epc = {mark(conn)} ORDER BY id"
            )
            return [InconsistencyRow(*r) for r in conn.exec_driver_sql(sql, (epc,)).all()]

        return self._run(fn)

    def declared_ids_on(self, conn: Connection, ids: Collection[str]) -> set[str]:
        found: set[str] = set()
        for part in _chunks(ids):
            sql = (
                f"SELECT event_id FROM events WHERE event_id IN ({marks(conn, len(part))}) "
                "AND is_declaration = 1"
            )
            found.update(r[0] for r in conn.exec_driver_sql(sql, tuple(part)).all())
        return found

    def declared_ids(self, ids: Collection[str]) -> set[str]:
        return self._run(lambda conn: self.declared_ids_on(conn, ids))

    def count_events(self) -> int:
        q = select(func.count()).select_from(t.events)
        return int(self._run(lambda conn: conn.execute(q).scalar_one()))

    def iter_captures(self) -> Iterator[CaptureRow]:
        with self.engine.connect() as conn:
            q = select(t.captures).order_by(t.captures.c.seq)
            for r in conn.execution_options(yield_per=1000).execute(q):
                yield CaptureRow(
                    seq=r.seq,
                    capture_id=r.capture_id,
                    enterprise=r.enterprise,
                    record_time=r.record_time,
                    context=r.context,
                    event_count=r.event_count,
                    digest=r.digest,
                    prev_head=r.prev_head,
                    head=r.head,
                    imported=bool(r.imported),
                )

    def iter_events(self) -> Iterator[EventRow]:
        with self.engine.connect() as conn:
            q = select(*_EVENT_COLS).order_by(t.events.c.capture_seq, t.events.c.position)
            for r in conn.execution_options(yield_per=2000).execute(q):
                yield _event_row(r)

    # -- checkpoints ------------------------------------------------------------------------
    def add_checkpoint(self, row: CheckpointRow) -> None:
        def fn(conn: Connection) -> None:
            with conn.begin():
                conn.execute(
                    insert(t.checkpoints).values(
                        capture_seq=row.capture_seq,
                        head=row.head,
                        event_count=row.event_count,
                        created_at=row.created_at,
                        public_key=row.public_key,
                        signature=row.signature,
                    )
                )

        self._run(fn)

    def latest_checkpoint(self) -> CheckpointRow | None:
        q = select(t.checkpoints).order_by(t.checkpoints.c.seq.desc()).limit(1)

        def fn(conn: Connection) -> CheckpointRow | None:
            r = conn.execute(q).first()
            if r is None:
                return None
            return CheckpointRow(
                r.capture_seq, r.head, r.event_count, r.created_at, r.public_key, r.signature, r.seq
            )

        return self._run(fn)
