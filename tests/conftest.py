"""Shared fixtures. Storage tests run on SQLite always and on PostgreSQL when
``BATTRACE_TEST_DATABASE_URL`` is set (CI sets it); each PostgreSQL test gets its own schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine

from battrace.persistence.base import Store
from tests.reference_data import REFERENCE

# CI runs the same examples every time (a red build must be reproducible); locally, explore.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

PG_URL = os.environ.get("BATTRACE_TEST_DATABASE_URL")


def _pg_admin_url() -> str:
    from battrace.persistence.postgres import normalise_url

    assert PG_URL
    return normalise_url(PG_URL)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    from battrace.persistence.sqlite import SqliteStore

    store = SqliteStore(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def pg_store() -> Iterator[Store]:
    if not PG_URL:
        pytest.skip("PostgreSQL half skipped: BATTRACE_TEST_DATABASE_URL is not set")
    from battrace.persistence.postgres import PostgresStore

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_pg_admin_url())
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    store = PostgresStore(PG_URL, search_path=schema)
    store.migrate()
    yield store
    store.close()
    with admin.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> Store:
    """The contract fixture: every storage test runs once per backend."""
    name = "sqlite_store" if request.param == "sqlite" else "pg_store"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def reference_dir() -> Path:
    if not REFERENCE.exists():
        pytest.skip(f"reference data not found at {REFERENCE}")
    return REFERENCE
