"""Interface keys (hashed, shown once, revocable), the append-only audit log and `battrace audit`,
and per-key rate limits (429 + Retry-After)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from typer.testing import CliRunner

from battrace.cli.audit import audit_app
from battrace.cli.common import state
from battrace.cli.keys import key_app
from battrace.domain.errors import InvalidInput
from battrace.domain.lifecycle import builders as b
from battrace.persistence.base import Store
from battrace.persistence.sql import SqlStore
from battrace.services import keys
from battrace.services.audit import read_audit
from battrace.web.ratelimit import RateLimiter
from battrace.web.runtime import ApiSettings
from tests import scenario as sc
from tests.http import cast
from tests.http.conftest import Api, make_api

runner = CliRunner()


def test_keys_are_stored_hashed_and_shown_once(sqlite_store: Store) -> None:
    cast.register(sqlite_store)
    row, token = keys.create_key(sqlite_store, sc.MAKER, "MES")
    assert token.startswith(f"btk_{row.key_id}_")
    secret = token.split("_", 2)[2]
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert isinstance(sqlite_store, SqlStore)
    with sqlite_store.engine.connect() as conn:
        dump = "\n".join(str(r) for r in conn.execute(text("SELECT * FROM api_keys")))
    assert secret not in dump and token not in dump
    assert keys.authenticate(sqlite_store, token) == row
    assert keys.authenticate(sqlite_store, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert keys.authenticate(sqlite_store, "btk_nope") is None
    with pytest.raises(InvalidInput, match="not a registered enterprise"):
        keys.create_key(sqlite_store, "91110000710935732K")
    with pytest.raises(InvalidInput):
        keys.create_key(sqlite_store, "not-a-uscc")


def test_revoked_keys_stop_at_once(api: Api) -> None:
    assert api.get("/events", sc.MAKER).status_code == 200
    key_id = api.keys[sc.MAKER].split("_")[1]
    keys.revoke_key(api.store, key_id)
    r = api.get("/events", sc.MAKER)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    with pytest.raises(InvalidInput, match="already revoked"):
        keys.revoke_key(api.store, key_id)
    with pytest.raises(InvalidInput, match="no key"):
        keys.revoke_key(api.store, "0123456789abcdef")
    assert api.get("/events", sc.DEALER).status_code == 200  # other keys unaffected


@pytest.fixture
def cli_db(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    state.reset(url)
    state.store.migrate()
    cast.register(state.store)
    yield url
    state.reset(None)


def test_key_cli(cli_db: str) -> None:
    created = runner.invoke(key_app, ["create", "--enterprise", sc.DEALER, "--name", "DMS"])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("btk_") and "shown only now" in created.stderr
    listed = runner.invoke(key_app, ["list", "--json"])
    rows = orjson.loads(listed.stdout)
    assert [(r["enterprise"], r["name"], r["revoked_at"]) for r in rows] == [
        (sc.DEALER, "DMS", None)
    ]
    assert token.split("_", 2)[2] not in listed.stdout
    revoked = runner.invoke(key_app, ["revoke", rows[0]["key_id"]])
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    again = runner.invoke(key_app, ["revoke", rows[0]["key_id"]])
    assert again.exit_code == 2 and "already revoked" in again.stderr
    bad = runner.invoke(key_app, ["create", "--enterprise", "91110000710935732K"])
    assert bad.exit_code == 2 and "not a registered enterprise" in bad.stderr


def test_every_ledger_request_is_audited(api: Api) -> None:
    doc = orjson.dumps(b.document(sc.production()))
    api.capture(sc.MAKER, doc)
    api.get("/events", sc.MAKER, params={"EQ_bizStep": "commissioning"})
    api.get(f"/api/batteries/{sc.PACK}", sc.DEALER)  # denied: the dealer never held it
    api.get("/events", None)  # no key
    api.get("/events", sc.MAKER, params={"perPage": "0"})  # bad input
    api.client.get("/health")  # not ledger data: not audited
    api.capture(sc.DEALER, doc)  # refused event by event
    api.flush_audit()
    rows = read_audit(api.store)
    got = [(r.enterprise, r.method, r.path, r.status, r.outcome) for r in rows]
    assert got == [
        (sc.MAKER, "POST", "/capture", 202, "ok"),
        (sc.MAKER, "GET", "/events", 200, "ok"),
        (sc.DEALER, "GET", f"/api/batteries/{sc.PACK}", 403, "denied"),
        (None, "GET", "/events", 401, "unauthenticated"),
        (sc.MAKER, "GET", "/events", 400, "invalid"),
        (sc.DEALER, "POST", "/capture", 202, "rejected"),
    ]
    assert rows[0].detail.endswith("captured 5, duplicates 0, errors 0")
    assert rows[1].query == "EQ_bizStep=commissioning" and rows[1].detail == "3 events"
    assert rows[0].key_id == api.keys[sc.MAKER].split("_")[1]
    assert all(r.at.endswith("Z") and r.client for r in rows)
    assert read_audit(api.store, enterprise=sc.DEALER)[0].status == 403
    assert read_audit(api.store, since="2999-01-01T00:00:00.000000Z") == []


def test_the_audit_log_is_append_only(api: Api) -> None:
    api.get("/events", sc.MAKER)
    api.flush_audit()
    assert isinstance(api.store, SqlStore)
    for sql in ("UPDATE audit_log SET status = 200", "DELETE FROM audit_log"):
        with (
            pytest.raises(sa_exc.DBAPIError, match="append-only"),
            api.store.engine.begin() as conn,
        ):
            conn.execute(text(sql))
    assert len(read_audit(api.store)) == 1


def test_audit_cli(sqlite_api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    sqlite_api.get("/events", sc.MAKER)
    sqlite_api.get("/events", sc.DEALER)
    sqlite_api.flush_audit()
    state.reset(sqlite_api.store.url)
    try:
        out = runner.invoke(audit_app, ["--enterprise", sc.DEALER, "--since", "1d", "--json"])
        assert out.exit_code == 0, out.output
        rows = orjson.loads(out.stdout)
        assert [(r["enterprise"], r["path"], r["status"]) for r in rows] == [
            (sc.DEALER, "/events", 200)
        ]
        from battrace.cli.common import console

        monkeypatch.setattr(console, "width", 200)  # the table folds narrow terminals' columns
        table = runner.invoke(audit_app, ["--since", "2020-01-01"])
        assert table.exit_code == 0 and sc.MAKER in table.stdout and sc.DEALER in table.stdout
        assert (
            runner.invoke(audit_app, ["--since", "2999-01-01T00:00:00Z", "--json"]).stdout.strip()
            == "[]"
        )
        bad = runner.invoke(audit_app, ["--since", "last tuesday"])
        assert bad.exit_code == 2 and "--since" in bad.stderr
    finally:
        state.reset(None)


def test_rate_limiter_buckets() -> None:
    now = [0.0]
    limiter = RateLimiter(2.0, 3, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(0.5)
    assert limiter.take("b") == 0.0  # per key
    now[0] = 0.5
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0
    with pytest.raises(ValueError):
        RateLimiter(0, 1)


@pytest.fixture
def strict(sqlite_store: Store) -> Iterator[Api]:
    yield from make_api(sqlite_store, ApiSettings(rate_limit=1, rate_burst=2))


def test_rate_limit_answers_429_with_retry_after(strict: Api) -> None:
    assert [strict.get("/events", sc.MAKER).status_code for _ in range(2)] == [200, 200]
    r = strict.get("/events", sc.MAKER)
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    assert r.headers["content-type"] == "application/problem+json"
    assert strict.get("/events", sc.DEALER).status_code == 200
    strict.flush_audit()
    assert read_audit(strict.store)[2].outcome == "rate_limited"
