"""Short transactions on the tables beside the ledger (users, whitelist applications, pilots …):
they are not part of the hash chain, so they never take the ledger's head lock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection

from battrace.persistence.base import Store

T = TypeVar("T")


def engine_of(store: Store) -> Any:
    engine = getattr(store, "engine", None)
    if engine is None:  # pragma: no cover - every Store in battrace is an SqlStore
        raise TypeError(f"{type(store).__name__} is not an SQL store")
    return engine


def read(store: Store, fn: Callable[[Connection], T]) -> T:
    with engine_of(store).connect() as conn:
        return fn(conn)


def write(store: Store, fn: Callable[[Connection], T]) -> T:
    """``fn`` in a transaction of its own. ``battrace_write`` makes SQLite take its write lock at
    BEGIN (no lock upgrade half-way through, which could fail under a concurrent capture);
    PostgreSQL ignores the option."""
    with engine_of(store).connect() as conn:
        conn = conn.execution_options(battrace_write=True)
        with conn.begin():
            return fn(conn)


def new_id(result: Any) -> int:
    """The primary key an insert created."""
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - an insert into a table with a primary key
        raise TypeError("no primary key returned")
    return int(key[0])
