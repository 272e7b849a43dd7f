"""EPCIS 2.0 named queries (``/queries``): stored query definitions in each enterprise's own
namespace.

A definition is the JSON object of the REST binding (``{"name": …, "query": {…}}``, the query
per ``query-schema.json``): lists are JSON arrays, the rest strings (numbers for
``eventCountLimit`` / ``maxEventCount`` / ``perPage``). It is validated by turning it into the
``(parameter, value)`` pairs of a ``GET /events`` query string and running the very parser of
``GET /events`` (:func:`battrace.services.query.parse_event_query`), so a named query accepts
exactly what ``/events`` accepts; errors name ``query.<parameter>``.

Names are unique per enterprise (the namespace of the key's enterprise), not globally: the
binding assumes one repository per organisation, and a global namespace would tell one enterprise
which names another uses (its ``409``). Another enterprise's query is simply not found.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import orjson
from sqlalchemy import Connection, Engine, delete, func, insert, select
from sqlalchemy import exc as sa_exc

from battrace.domain.errors import BattraceError, InvalidInput
from battrace.persistence.base import StorageError, Store
from battrace.persistence.schema_queries import named_queries as nq
from battrace.persistence.schema_queries import query_subscriptions as qsub
from battrace.persistence.sql import SqlStore
from battrace.services import query as qs
from battrace.services.audit import now_text

#: Names are one URL path segment: unreserved ASCII characters only, so ``/queries/{name}`` needs
#: no escaping.
NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,99}$"
_NAME = re.compile(NAME_PATTERN).fullmatch
MAX_QUERIES: Final = 200  # per enterprise
#: Parameters that belong to one request, not to a stored definition.
REQUEST_ONLY: Final = ("nextPageToken",)


class QueryNotFound(BattraceError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no named query {name!r} in this enterprise's namespace")
        self.name = name


class QueryExists(BattraceError):
    def __init__(self, name: str) -> None:
        super().__init__(f"a named query {name!r} exists already in this enterprise's namespace")
        self.name = name


@dataclass(frozen=True, slots=True)
class NamedQuery:
    id: int
    owner: str
    name: str
    query: dict[str, Any]
    created_at: str

    def to_json(self) -> dict[str, Any]:
        """The binding's representation (``QueryDefinition``), plus ``createdAt``."""
        return {"name": self.name, "query": self.query, "createdAt": _iso(self.created_at)}


def _iso(text: str) -> str:
    """Stored UTC text (microseconds) → the milliseconds form the API shows."""
    return text[:23] + "Z" if len(text) == 27 else text


def engine_of(store: Store) -> Engine:
    if not isinstance(store, SqlStore):
        raise StorageError("named queries need an SQL store")
    return store.engine


def _db_error(exc: sa_exc.DBAPIError) -> StorageError:
    return StorageError(f"database error: {str(exc).splitlines()[0]}")


@contextmanager
def transaction(store: Store) -> Iterator[Connection]:
    """A short write transaction of its own (these tables are not part of the hash chain). On
    SQLite it takes the write lock up front (``BEGIN IMMEDIATE``), so a read followed by a write
    cannot fail on a snapshot another writer moved."""
    try:
        with engine_of(store).connect() as conn:
            conn.execution_options(battrace_write=True)
            with conn.begin():
                yield conn
    except sa_exc.IntegrityError:
        raise
    except sa_exc.DBAPIError as exc:
        raise _db_error(exc) from exc


@contextmanager
def reading(store: Store) -> Iterator[Connection]:
    try:
        with engine_of(store).connect() as conn:
            yield conn
    except sa_exc.DBAPIError as exc:
        raise _db_error(exc) from exc


# -- validation -------------------------------------------------------------------------------


def check_name(name: object, field: str = "name") -> str:
    if not isinstance(name, str):
        raise InvalidInput(field, "must be a string")
    if not _NAME(name):
        raise InvalidInput(
            field,
            "must be 1 to 100 characters: letters, digits, '.', '_', '~' or '-', "
            "starting with a letter or digit",
        )
    return name


def _scalar(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    raise InvalidInput(f"query.{name}", "must be a string (or a number, or true/false)")


def parameters(query: object) -> list[tuple[str, str]]:
    """The ``GET /events`` query-string pairs of a query definition (JSON object)."""
    if not isinstance(query, Mapping):
        raise InvalidInput("query", "must be a JSON object of EPCIS query parameters")
    pairs: list[tuple[str, str]] = []
    for name, value in query.items():
        if name == "@context":  # JSON-LD context of the query: nothing to match on
            continue
        if name in REQUEST_ONLY:
            raise InvalidInput(f"query.{name}", "belongs to a request, not to a named query")
        if value is None:
            raise InvalidInput(f"query.{name}", "must not be null")
        if name in qs.LIST_PARAMS:
            if not isinstance(value, list):
                raise InvalidInput(f"query.{name}", "must be an array of strings")
            if not value:
                raise InvalidInput(f"query.{name}", "must hold at least one value")
            for i, item in enumerate(value):
                if not isinstance(item, str):
                    raise InvalidInput(f"query.{name}[{i}]", "must be a string")
                if "|" in item:
                    raise InvalidInput(f"query.{name}[{i}]", "must not contain '|'")
                pairs.append((name, item))
        elif isinstance(value, list):
            raise InvalidInput(f"query.{name}", "takes one value, not an array")
        else:
            pairs.append((name, _scalar(name, value)))
    return pairs


def parse(query: object, request: Iterable[tuple[str, str]] = ()) -> qs.EventQuery:
    """The validated :class:`~battrace.services.query.EventQuery` of a definition, with the
    request's own parameters (``perPage``, ``nextPageToken``) on top. Errors about the definition
    name ``query.<parameter>``."""
    stored = parameters(query)
    extra = list(request)
    given = {n for n, _ in extra}
    pairs = [(n, v) for n, v in stored if n not in given] + extra
    try:
        return qs.parse_event_query(pairs)
    except InvalidInput as exc:
        if exc.field in given or exc.field.startswith("query."):
            raise
        raise type(exc)(f"query.{exc.field}", exc.reason) from None


# -- storage ----------------------------------------------------------------------------------


def _row(r: Any) -> NamedQuery:
    return NamedQuery(int(r.id), r.owner, r.name, orjson.loads(r.query), r.created_at)


def create(store: Store, owner: str, key_id: str, name: object, query: object) -> NamedQuery:
    """Store a new named query in ``owner``'s namespace (validated first; nothing is written on
    bad input). :class:`QueryExists` if the name is taken."""
    valid = check_name(name)
    parse(query)
    assert isinstance(query, Mapping)
    text = orjson.dumps(dict(query)).decode()
    now = now_text()
    try:
        with transaction(store) as conn:
            count = conn.execute(
                select(func.count()).select_from(nq).where(nq.c.owner == owner)
            ).scalar_one()
            if count >= MAX_QUERIES:
                raise InvalidInput(
                    "name", f"the enterprise has {MAX_QUERIES} named queries already; delete one"
                )
            if conn.execute(select(nq.c.id).where(nq.c.owner == owner, nq.c.name == valid)).first():
                raise QueryExists(valid)
            result = conn.execute(
                insert(nq).values(
                    owner=owner, name=valid, query=text, created_by=key_id, created_at=now
                )
            )
            new_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    except sa_exc.IntegrityError:  # created by a concurrent request
        raise QueryExists(valid) from None
    return NamedQuery(new_id, owner, valid, orjson.loads(text), now)


def find(conn: Connection, owner: str, name: str) -> NamedQuery:
    row = conn.execute(select(nq).where(nq.c.owner == owner, nq.c.name == name)).first()
    if row is None:
        raise QueryNotFound(name)
    return _row(row)


def get(store: Store, owner: str, name: str) -> NamedQuery:
    if not _NAME(name):
        raise QueryNotFound(name)
    with reading(store) as conn:
        return find(conn, owner, name)


def list_page(store: Store, owner: str, after: str | None, limit: int) -> list[NamedQuery]:
    """``owner``'s named queries by name, after ``after``."""
    q = select(nq).where(nq.c.owner == owner)
    if after is not None:
        q = q.where(nq.c.name > after)
    q = q.order_by(nq.c.name).limit(limit)
    with reading(store) as conn:
        return [_row(r) for r in conn.execute(q)]


def remove(store: Store, owner: str, name: str) -> int:
    """Delete a named query and end its subscriptions (in one transaction); returns how many
    subscriptions ended."""
    if not _NAME(name):
        raise QueryNotFound(name)
    with transaction(store) as conn:
        found = find(conn, owner, name)
        ended = conn.execute(delete(qsub).where(qsub.c.query_id == found.id)).rowcount
        conn.execute(delete(nq).where(nq.c.id == found.id))
    return int(ended or 0)
