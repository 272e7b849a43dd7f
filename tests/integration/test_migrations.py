"""The Alembic migrations produce exactly the schema the code declares (both backends)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from battrace.persistence.base import Store
from battrace.persistence.schema import metadata


def test_migrated_database_matches_schema(store: Store) -> None:
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_migrate_is_idempotent(store: Store) -> None:
    store.migrate()
    store.migrate()
    assert store.head().event_count == 0
