"""Fixtures of the HTTP tests: the real app on a real ledger (SQLite, and PostgreSQL when
``BATTRACE_TEST_DATABASE_URL`` is set), with one interface key per enterprise of the cast."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx in its TestClient
    from fastapi.testclient import TestClient

import httpx
import orjson

from battrace.domain.epcis.hashid import event_hash_id
from battrace.domain.lifecycle import builders as b
from battrace.persistence.base import Store
from battrace.services import keys
from battrace.services.capture import Ledger, Submission
from battrace.web.app import create_app
from battrace.web.runtime import ApiSettings
from tests.http import cast


@dataclass
class Api:
    store: Store
    client: TestClient
    keys: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)  # lifecycle label -> Event Hash ID

    def headers(self, uscc: str | None, **extra: str) -> dict[str, str]:
        out = dict(extra)
        if uscc is not None:
            out["Authorization"] = f"Bearer {self.keys[uscc]}"
        return out

    def get(self, path: str, uscc: str | None, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers(uscc), **kwargs.pop("headers", {})}
        return self.client.get(path, headers=headers, **kwargs)

    def capture(
        self,
        uscc: str,
        body: bytes,
        content_type: str = "application/ld+json",
        **headers: str,
    ) -> httpx.Response:
        return self.client.post(
            "/capture",
            content=body,
            headers=self.headers(uscc, **{"Content-Type": content_type}, **headers),
        )

    def flush_audit(self) -> None:
        self.client.app.state.runtime.audit.flush()  # type: ignore[attr-defined]

    def load_lifecycle(self) -> None:
        """Capture the cast's pack lifecycle in-process (each step by its own reporter)."""
        ledger = Ledger(self.store)
        subs = []
        for step in cast.lifecycle():
            body = orjson.dumps(step.event).decode()
            subs.append(Submission(step.reporter, b.CONTEXT, [step.event], [body]))
            self.ids[step.label] = event_hash_id(step.event, b.CONTEXT)
        results = ledger.capture_many(subs)
        assert all(r.ok for r in results), [r.rejected for r in results]


def make_api(store: Store, api_settings: ApiSettings | None = None) -> Iterator[Api]:
    cast.register(store)
    tokens = {e["uscc"]: keys.create_key(store, e["uscc"], "tests")[1] for e in cast.enterprises()}
    app = create_app(
        api=api_settings or ApiSettings(rate_limit=10_000, rate_burst=10_000), store=store
    )
    with TestClient(app) as client:
        yield Api(store, client, tokens)


@pytest.fixture
def api(store: Store) -> Iterator[Api]:
    """On both backends."""
    yield from make_api(store)


@pytest.fixture
def sqlite_api(sqlite_store: Store) -> Iterator[Api]:
    yield from make_api(sqlite_store)
