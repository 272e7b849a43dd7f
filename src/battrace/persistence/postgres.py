"""PostgreSQL backend (psycopg 3).

Writers serialise on the single ``ledger_head`` row (``SELECT … FOR UPDATE``), which keeps the hash
chain linear while readers run concurrently under MVCC. A capture's bulk rows go in with ``COPY``
(events, identifier index) and binary array parameters (projection upserts, ``= ANY`` lookups):
psycopg's executemany costs tens of µs a row in Python, these a few.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any

import psycopg
from sqlalchemy import Connection, create_engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from battrace.persistence import schema as t
from battrace.persistence.sql import OBJECT_COLUMNS, SqlStore, _translate

# Rows per upsert statement: each column travels as one binary array parameter, so a statement
# costs one round trip and no per-row work in the driver (its pipelined executemany spends tens of
# µs a row in Python; text-format arrays spend more escaping every element).
ARRAY_ROWS = 20_000


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url}")


class PostgresStore(SqlStore):
    def __init__(self, url: str, *, search_path: str | None = None) -> None:
        connect_args: dict[str, Any] = {}
        if search_path:
            connect_args["options"] = f"-csearch_path={search_path}"
        engine = create_engine(
            normalise_url(url), connect_args=connect_args, pool_size=10, pool_pre_ping=True
        )
        super().__init__(url, engine)
        self._unnest: dict[tuple[str, tuple[str, ...]], str] = {}

    def _unnest_sql(self, table: str, columns: Sequence[str]) -> str:
        """``INSERT INTO table (columns) SELECT * FROM unnest(%b::type[], …)``."""
        key = (table, tuple(columns))
        sql = self._unnest.get(key)
        if sql is None:
            cols = t.metadata.tables[table].c
            arrays = ", ".join(
                f"%b::{cols[c].type.compile(dialect=self.engine.dialect)}[]" for c in columns
            )
            sql = self._unnest[key] = (
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
            )
        return sql

    def insert_rows(
        self, conn: Connection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None:
        # COPY: the driver formats rows in C, several times cheaper than executemany.
        raw = conn.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        try:
            with (
                raw.cursor() as cur,
                cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
            ):
                write = copy.write_row
                for row in rows:
                    write(row)
        except psycopg.Error as exc:
            raise _translate(exc) from exc

    def upsert_objects(self, conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        updates = ", ".join(f"{c} = excluded.{c}" for c in OBJECT_COLUMNS[1:])
        sql = (
            self._unnest_sql("objects", OBJECT_COLUMNS)
            + f" ON CONFLICT (epc) DO UPDATE SET {updates}"
        )
        for i in range(0, len(rows), ARRAY_ROWS):
            part = rows[i : i + ARRAY_ROWS]
            conn.exec_driver_sql(sql, tuple(list(column) for column in zip(*part, strict=True)))

    def in_sql(
        self, conn: Connection, column: str, values: Collection[Any]
    ) -> Iterator[tuple[str, tuple[Any, ...]]]:
        # One array parameter instead of an IN list of bound values (one per value).
        items = list(values)
        if items:
            yield f"{column} = ANY(%s)", (items,)

    def begin_write(self, conn: Connection) -> None:
        conn.begin()
        # The head row may not exist yet in a brand-new ledger; create it first so there is always
        # a row to lock. ON CONFLICT keeps concurrent first writers from failing.
        stmt = pg_insert(t.ledger_head).values(id=1, capture_seq=0, head="0" * 64, event_count=0)
        conn.execute(stmt.on_conflict_do_nothing(index_elements=[t.ledger_head.c.id]))
        conn.execute(select(t.ledger_head.c.id).where(t.ledger_head.c.id == 1).with_for_update())
