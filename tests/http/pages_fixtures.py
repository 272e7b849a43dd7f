"""A demo ledger with web users of every scope, and a signed-in client, for the page tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from battrace.config import Settings
from battrace.persistence import open_store
from battrace.persistence.base import Store
from battrace.services import users
from battrace.services.demo_loader import load_demo
from battrace.web.app import create_app

PASSWORD = "correct horse battery"


@dataclass
class Site:
    store: Store
    settings: Settings
    app: FastAPI
    orgs: dict[str, str]  # username → organisation USCC

    def client(self, lang: str | None = "en") -> TestClient:
        client = TestClient(self.app)
        if lang:
            client.cookies.set("battrace_lang", lang)
        return client

    def login(self, username: str, lang: str | None = "en") -> TestClient:
        client = self.client(lang)
        response = client.post(
            "/login",
            data={"csrf_token": csrf_of(client), "username": username, "password": PASSWORD},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        return client

    def pack_codes(self, province: str | None = None) -> list[str]:
        """Pack codes; with ``province``, packs some enterprise of that province reported on."""
        sql = "SELECT DISTINCT o.epc FROM objects o WHERE length(o.epc) = 37 AND substr(o.epc, 17, 1) = 'P'"
        params: dict[str, str] = {}
        if province:
            sql = (
                "SELECT DISTINCT x.epc FROM event_epcs x JOIN events e ON e.seq = x.event_seq "
                "JOIN enterprises n ON n.uscc = e.reporter WHERE n.province = :p "
                "AND length(x.epc) = 37 AND substr(x.epc, 17, 1) = 'P'"
            )
            params["p"] = province
        with self.store.engine.connect() as conn:  # type: ignore[attr-defined]
            rows = conn.execute(text(sql + " ORDER BY 1"), params).scalars().all()
        return [r.removeprefix("urn:gbt34014:") for r in rows]


def csrf_of(client: TestClient, path: str = "/login") -> str:
    page = client.get(path)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def build_site(tmp: Path, packs: int = 40) -> Site:
    url = f"sqlite:///{tmp / 'pages.sqlite'}"
    settings = Settings.from_env(url)
    store = open_store(url)
    store.migrate()
    load_demo(store, settings, packs=packs, seed=3)
    ents = store.list_enterprises()

    def first(role: str, province: str | None = None) -> str:
        return next(
            e.uscc for e in ents if role in e.roles and (province is None or e.province == province)
        )

    orgs = {
        "miit": first("regulator_national"),
        "jiangsu": first("regulator_provincial", "32"),
        "guangdong": first("regulator_provincial", "44"),
        "maker": first("battery_maker", "35"),
        "dealer": first("dealer", "11"),
    }
    for name, org in orgs.items():
        users.add_user(store, name, PASSWORD, org, display_name=name.title())
    app = create_app(settings)
    app.state.store = store
    app.state.settings = settings
    return Site(store, settings, app, orgs)
