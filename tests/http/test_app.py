"""HTTP tests against the real app on a real SQLite ledger."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from battrace.config import Settings
from battrace.persistence import open_store
from battrace.services.capture import Ledger
from battrace.web.app import create_app
from tests import scenario as sc


def test_health_and_status_page_show_the_ledger_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'web.sqlite'}"
    store = open_store(url)
    store.migrate()
    sc.register_all(store)
    result = Ledger(store).capture_document(sc.doc(*sc.production()), sc.MAKER)
    client = TestClient(create_app(Settings.from_env(url)))

    health = client.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok" and body["events"] == 5 and body["head"] == store.head().head

    page = client.get("/")
    assert page.status_code == 200 and "battrace" in page.text and store.head().head in page.text
    assert result.ok


def test_health_reports_an_uninitialised_database(tmp_path: Path) -> None:
    client = TestClient(create_app(Settings.from_env(f"sqlite:///{tmp_path / 'none.sqlite'}")))
    response = client.get("/health")
    assert response.status_code == 503 and "battrace init" in response.json()["detail"]
