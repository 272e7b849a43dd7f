"""Accounts: users service, `battrace user`, login/logout, sessions, CSRF, lockout."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from battrace.cli.common import state
from battrace.cli.users import user_app
from battrace.persistence.schema_web import web_sessions, web_users
from battrace.services import users
from tests.http.pages_fixtures import PASSWORD, Site, build_site, csrf_of


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    s = build_site(tmp_path_factory.mktemp("accounts"), packs=10)
    yield s
    s.store.close()


def test_passwords_are_stored_as_argon2id_hashes(site: Site) -> None:
    with site.store.engine.connect() as conn:  # type: ignore[attr-defined]
        hashes = conn.execute(select(web_users.c.password_hash)).scalars().all()
    assert hashes and all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)


def test_add_user_refuses_bad_input_and_writes_nothing(site: Site) -> None:
    org = site.orgs["maker"]
    before = len(users.list_users(site.store))
    cases = [
        (("x", PASSWORD, org), "username"),
        (("new.user", "short", org), "password"),
        (("new.user", PASSWORD, "91350900587527783P"), "organisation"),
        (("miit", PASSWORD, org), "username"),  # taken
        (("MIIT", PASSWORD, org), "username"),  # taken, whatever the case
    ]
    for args, field in cases:
        with pytest.raises(users.UserError) as err:
            users.add_user(site.store, *args)
        assert err.value.field == field
    with pytest.raises(users.UserError):
        users.add_user(site.store, "lang.user", PASSWORD, org, language="fr")
    assert len(users.list_users(site.store)) == before


def test_scope_follows_the_organisation_roles(site: Site) -> None:
    national = users.authenticate(site.store, "miit", PASSWORD)
    provincial = users.authenticate(site.store, "jiangsu", PASSWORD)
    maker = users.authenticate(site.store, "maker", PASSWORD)
    assert (national.scope, national.province) == ("national", None)
    assert (provincial.scope, provincial.province) == ("provincial", "32")
    assert maker.scope == "enterprise" and not maker.is_regulator
    assert national.may_see_province("44") and provincial.may_see_province("32")
    assert not provincial.may_see_province("44") and not maker.may_see_province("35")


def test_lockout_after_repeated_failures_even_for_the_right_password(site: Site) -> None:
    users.add_user(site.store, "locky", PASSWORD, site.orgs["dealer"])
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    for i in range(users.MAX_FAILURES):
        with pytest.raises(users.LoginRefused) as err:
            users.authenticate(
                site.store, "locky", "wrong password!", now=t0 + timedelta(seconds=i)
            )
        assert err.value.reason == ("locked" if i == users.MAX_FAILURES - 1 else "invalid")
    with pytest.raises(users.LoginRefused) as err:
        users.authenticate(site.store, "locky", PASSWORD, now=t0 + timedelta(minutes=1))
    assert err.value.reason == "locked"
    later = t0 + timedelta(minutes=users.LOCK_MINUTES, seconds=10)
    assert users.authenticate(site.store, "locky", PASSWORD, now=later).username == "locky"
    # The count starts afresh after a success.
    with pytest.raises(users.LoginRefused) as err:
        users.authenticate(site.store, "locky", "wrong password!", now=later)
    assert err.value.reason == "invalid"


def test_unknown_user_and_wrong_password_are_indistinguishable(site: Site) -> None:
    reasons = []
    for name in ("nobody-here", "dealer"):
        with pytest.raises(users.LoginRefused) as err:
            users.authenticate(site.store, name, "not the password")
        reasons.append(err.value.reason)
    assert reasons == ["invalid", "invalid"]
    users.set_password(site.store, "dealer", PASSWORD)  # clears the failure count again


def test_sessions_are_stored_hashed_and_expire(site: Site) -> None:
    user = users.authenticate(site.store, "maker", PASSWORD)
    now = datetime.now(UTC)
    session = users.create_session(site.store, user.user_id, now=now)
    with site.store.engine.connect() as conn:  # type: ignore[attr-defined]
        stored = conn.execute(select(web_sessions.c.token_hash)).scalars().all()
    assert session.token not in stored and len(stored[0]) == 64
    found = users.session_principal(site.store, session.token, now=now)
    assert found is not None and found[0].username == "maker" and found[1] == session.csrf
    expired = now + timedelta(hours=users.SESSION_HOURS, seconds=1)
    assert users.session_principal(site.store, session.token, now=expired) is None
    assert users.session_principal(site.store, "forged-token") is None


def test_login_logout_round_trip(site: Site) -> None:
    client = site.login("maker")
    assert client.cookies.get("battrace_session")
    page = client.get("/my/batteries")
    assert (
        page.status_code == 200
        and "Sign out" in page.text
        and page.headers["cache-control"] == "no-store"
    )
    csrf = csrf_of(client, "/my/batteries")
    out = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    after = client.get("/my/batteries", follow_redirects=False)
    assert after.status_code == 303 and after.headers["location"].startswith("/login?next=")


def test_old_session_cookie_is_useless_after_logout(site: Site) -> None:
    client = site.login("maker")
    token = client.cookies.get("battrace_session")
    csrf = csrf_of(client, "/my/batteries")
    client.post("/logout", data={"csrf_token": csrf})
    replay = site.client()
    replay.cookies.set("battrace_session", token or "")
    assert replay.get("/my/batteries", follow_redirects=False).status_code == 303


def test_login_form_reports_wrong_password_in_the_users_language(site: Site) -> None:
    client = site.client("zh_CN")
    response = client.post(
        "/login",
        data={"csrf_token": csrf_of(client), "username": "maker", "password": "nope nope nope"},
    )
    assert response.status_code == 401 and "用户名或密码错误" in response.text
    users.set_password(site.store, "maker", PASSWORD)


def test_login_without_csrf_token_or_from_another_site_is_refused(site: Site) -> None:
    client = site.client()
    csrf_of(client)
    missing = client.post("/login", data={"username": "maker", "password": PASSWORD})
    assert missing.status_code == 403 and client.cookies.get("battrace_session") is None
    forged = client.post(
        "/login",
        data={"csrf_token": csrf_of(client), "username": "maker", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403 and client.cookies.get("battrace_session") is None


def test_login_redirects_only_to_local_paths(site: Site) -> None:
    client = site.client()
    for nxt, expected in (
        ("/rules", "/rules"),
        ("//evil.example/x", "/my/batteries"),
        ("https://evil.example", "/my/batteries"),
    ):
        client.cookies.clear()
        client.cookies.set("battrace_lang", "en")
        response = client.post(
            "/login",
            data={
                "csrf_token": csrf_of(client),
                "username": "maker",
                "password": PASSWORD,
                "next": nxt,
            },
            follow_redirects=False,
        )
        assert response.headers["location"] == expected


def test_pages_need_a_login(site: Site) -> None:
    for path in ("/my/batteries", "/my/upload", "/regulator", "/trace"):
        response = site.client().get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_cli_user_add_reads_the_password_from_stdin(site: Site) -> None:
    runner = CliRunner()
    state.reset(site.store.url)  # what `battrace --db URL` does before a sub-command
    ok = runner.invoke(
        user_app,
        ["add", "cli.user", "--org", site.orgs["jiangsu"], "--password-stdin", "--name", "CLI"],
        input=PASSWORD + "\n",
    )
    assert ok.exit_code == 0, ok.output
    assert users.authenticate(site.store, "cli.user", PASSWORD).scope == "provincial"
    bad = runner.invoke(
        user_app,
        ["add", "cli.other", "--org", "91350900587527783P", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert bad.exit_code == 2 and "organisation" in bad.output
    listed = runner.invoke(user_app, ["list", "--json"])
    assert listed.exit_code == 0 and "cli.user" in listed.output and "argon2" not in listed.output
