"""Storage: choose the backend from the database URL, in this one place."""

from __future__ import annotations

from battrace.persistence.base import SchemaMissing, StorageError, Store

DEFAULT_URL = "sqlite:///var/battrace.sqlite"


def open_store(url: str) -> Store:
    """Open the ledger at ``url`` (``sqlite:///path`` or ``postgresql://…``)."""
    if url.startswith("sqlite:///"):
        from battrace.persistence.sqlite import SqliteStore

        return SqliteStore(url)
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        from battrace.persistence.postgres import PostgresStore

        return PostgresStore(url)
    raise StorageError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://…")


__all__ = ["DEFAULT_URL", "SchemaMissing", "StorageError", "Store", "open_store"]
