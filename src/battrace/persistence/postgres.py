"""PostgreSQL backend (psycopg 3).

Writers serialise on the single ``ledger_head`` row (``SELECT … FOR UPDATE``), which keeps the hash
chain linear while readers run concurrently under MVCC.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, create_engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from battrace.persistence import schema as t
from battrace.persistence.sql import SqlStore


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

    def begin_write(self, conn: Connection) -> None:
        conn.begin()
        # The head row may not exist yet in a brand-new ledger; create it first so there is always
        # a row to lock. ON CONFLICT keeps concurrent first writers from failing.
        stmt = pg_insert(t.ledger_head).values(id=1, capture_seq=0, head="0" * 64, event_count=0)
        conn.execute(stmt.on_conflict_do_nothing(index_elements=[t.ledger_head.c.id]))
        conn.execute(select(t.ledger_head.c.id).where(t.ledger_head.c.id == 1).with_for_update())
