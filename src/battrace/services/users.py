"""Web users, their passwords and sessions, and what each user may see.

* A user belongs to one organisation: a USCC in the enterprise registry. Its roles decide the
  user's scope, the same way they decide an API key's: ``regulator_national`` → the whole
  country, ``regulator_provincial`` → its province (the registry's ``province``), anything else →
  that enterprise's own data.
* Passwords are hashed with argon2id (``argon2-cffi`` defaults: RFC 9106 low-memory profile).
* Lockout: after :data:`MAX_FAILURES` wrong passwords in a row the account refuses every login,
  the right password included, for :data:`LOCK_MINUTES`. An unknown user name costs the same hash
  verification as a known one, so the response time does not tell which names exist.
* Sessions: the browser holds a random token; the database holds only its SHA-256, so a copy of
  the database cannot be replayed as a login. Each session has its own CSRF token.

Errors: :class:`UserError` (bad input, names the field) and :class:`LoginRefused` (wrong password
or locked; deliberately the same message for an unknown user and a wrong password).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, delete, func, insert, select, update

from battrace.domain.errors import BattraceError, InvalidInput
from battrace.persistence.base import EnterpriseRow, Store
from battrace.persistence.schema_web import web_sessions, web_users
from battrace.services.sidetables import read as _read
from battrace.services.sidetables import write as _write

MAX_FAILURES: Final = 5
LOCK_MINUTES: Final = 15
SESSION_HOURS: Final = 12
MIN_PASSWORD: Final = 10
LANGUAGES: Final = ("zh_CN", "en")

NATIONAL: Final = "national"
PROVINCIAL: Final = "provincial"
ENTERPRISE: Final = "enterprise"

_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{2,63}")
_hasher = PasswordHasher()
# Verified against when the user name is unknown, so both paths cost one argon2 verification.
_DUMMY_HASH: Final = _hasher.hash(secrets.token_hex(16))


class UserError(InvalidInput):
    """A user could not be created or changed (names the field)."""


class LoginRefused(BattraceError):
    """Wrong user name or password, or the account is locked or disabled."""

    def __init__(self, reason: str, locked_until: datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason  # "invalid" | "locked" | "disabled"
        self.locked_until = locked_until


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is signed in and what they may see."""

    user_id: int
    username: str
    display_name: str
    organisation: str  # USCC
    organisation_zh: str
    organisation_en: str
    roles: tuple[str, ...]
    scope: str  # NATIONAL | PROVINCIAL | ENTERPRISE
    province: str | None  # GB/T 2260 prefix for provincial regulators (and enterprises)
    language: str

    @property
    def is_regulator(self) -> bool:
        return self.scope in (NATIONAL, PROVINCIAL)

    @property
    def party(self) -> str:
        return "urn:uscc:" + self.organisation

    def may_see_province(self, province: str) -> bool:
        return self.scope == NATIONAL or (self.scope == PROVINCIAL and self.province == province)


def scope_of(enterprise: EnterpriseRow) -> tuple[str, str | None]:
    """(scope, province) of an organisation, from its registered roles."""
    if "regulator_national" in enterprise.roles:
        return NATIONAL, None
    if "regulator_provincial" in enterprise.roles:
        return PROVINCIAL, enterprise.province
    return ENTERPRISE, enterprise.province


def _now() -> datetime:
    return datetime.now(UTC)


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError("password", f"must have at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise UserError("password", "must have at most 1024 characters")
    if password.strip() != password or not password.isprintable():
        raise UserError("password", "must not start or end with spaces or hold control characters")


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    username: str
    display_name: str
    organisation: str
    language: str
    disabled: bool
    locked_until: str | None
    created_at: str
    last_login: str | None


def _user_row(r: Any) -> UserRow:
    return UserRow(
        id=r.id,
        username=r.username,
        display_name=r.display_name,
        organisation=r.organisation,
        language=r.language,
        disabled=bool(r.disabled),
        locked_until=r.locked_until,
        created_at=r.created_at,
        last_login=r.last_login,
    )


def add_user(
    store: Store,
    username: str,
    password: str,
    organisation: str,
    *,
    display_name: str = "",
    language: str = "zh_CN",
    now: datetime | None = None,
) -> UserRow:
    """Create a user of a registered organisation; nothing is written on any error."""
    username = username.strip()
    if not _USERNAME.fullmatch(username):
        raise UserError(
            "username",
            "3-64 characters: letters, digits and . _ @ - (starting with a letter or digit)",
        )
    check_password_policy(password)
    if language not in LANGUAGES:
        raise UserError("language", f"must be one of {', '.join(LANGUAGES)}")
    org = store.get_enterprise(organisation.strip().upper())
    if org is None:
        raise UserError(
            "organisation", f"{organisation} is not a registered enterprise or authority"
        )
    moment = _text(now or _now())
    pw_hash = _hasher.hash(password)

    def fn(conn: Connection) -> UserRow:
        taken = conn.execute(
            select(web_users.c.id).where(func.lower(web_users.c.username) == username.lower())
        ).first()
        if taken is not None:
            raise UserError("username", f"{username} is already taken")
        conn.execute(
            insert(web_users).values(
                username=username,
                password_hash=pw_hash,
                display_name=display_name.strip(),
                organisation=org.uscc,
                language=language,
                created_at=moment,
            )
        )
        row = conn.execute(select(web_users).where(web_users.c.username == username)).one()
        return _user_row(row)

    return _write(store, fn)


def list_users(store: Store) -> list[UserRow]:
    return _read(
        store,
        lambda conn: [
            _user_row(r) for r in conn.execute(select(web_users).order_by(web_users.c.username))
        ],
    )


def set_password(store: Store, username: str, password: str) -> None:
    """Replace a password; also lifts a lockout and ends the user's sessions."""
    check_password_policy(password)
    pw_hash = _hasher.hash(password)

    def fn(conn: Connection) -> None:
        row = conn.execute(select(web_users.c.id).where(web_users.c.username == username)).first()
        if row is None:
            raise UserError("username", f"{username} does not exist")
        conn.execute(
            update(web_users)
            .where(web_users.c.id == row.id)
            .values(password_hash=pw_hash, failed_logins=0, locked_until=None)
        )
        conn.execute(delete(web_sessions).where(web_sessions.c.user_id == row.id))

    _write(store, fn)


def set_disabled(store: Store, username: str, disabled: bool) -> None:
    def fn(conn: Connection) -> None:
        res = conn.execute(
            update(web_users)
            .where(web_users.c.username == username)
            .values(disabled=1 if disabled else 0)
        )
        if res.rowcount == 0:
            raise UserError("username", f"{username} does not exist")
        if disabled:
            ids = select(web_users.c.id).where(web_users.c.username == username)
            conn.execute(delete(web_sessions).where(web_sessions.c.user_id.in_(ids)))

    _write(store, fn)


def set_language(store: Store, user_id: int, language: str) -> None:
    if language not in LANGUAGES:
        raise UserError("language", f"must be one of {', '.join(LANGUAGES)}")
    _write(
        store,
        lambda conn: conn.execute(
            update(web_users).where(web_users.c.id == user_id).values(language=language)
        ),
    )


def _principal(store: Store, row: Any) -> Principal:
    org = store.get_enterprise(row.organisation)
    if org is None:  # the organisation was removed from the registry: no access at all
        raise LoginRefused("disabled")
    scope, province = scope_of(org)
    return Principal(
        user_id=row.id,
        username=row.username,
        display_name=row.display_name or row.username,
        organisation=org.uscc,
        organisation_zh=org.name_zh,
        organisation_en=org.name_en or org.name_zh,
        roles=tuple(org.roles),
        scope=scope,
        province=province,
        language=row.language,
    )


def authenticate(
    store: Store, username: str, password: str, *, now: datetime | None = None
) -> Principal:
    """Check a password; count failures and lock the account after :data:`MAX_FAILURES`."""
    moment = now or _now()
    row = _read(
        store,
        lambda conn: conn.execute(
            select(web_users).where(web_users.c.username == username.strip())
        ).first(),
    )
    if row is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        raise LoginRefused("invalid")
    if row.locked_until is not None and _parse(row.locked_until) > moment:
        raise LoginRefused("locked", _parse(row.locked_until))
    try:
        _hasher.verify(row.password_hash, password)
        ok = True
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok:
        # An expired lock starts a fresh count.
        failures = (0 if row.locked_until is not None else row.failed_logins) + 1
        locked = (
            _text(moment + timedelta(minutes=LOCK_MINUTES)) if failures >= MAX_FAILURES else None
        )
        _write(
            store,
            lambda conn: conn.execute(
                update(web_users)
                .where(web_users.c.id == row.id)
                .values(
                    failed_logins=0 if locked else failures,
                    locked_until=locked,
                )
            ),
        )
        if locked:
            raise LoginRefused("locked", _parse(locked))
        raise LoginRefused("invalid")
    if row.disabled:
        raise LoginRefused("disabled")
    principal = _principal(store, row)
    rehash = _hasher.hash(password) if _hasher.check_needs_rehash(row.password_hash) else None

    def success(conn: Connection) -> None:
        values: dict[str, Any] = {
            "failed_logins": 0,
            "locked_until": None,
            "last_login": _text(moment),
        }
        if rehash:
            values["password_hash"] = rehash
        conn.execute(update(web_users).where(web_users.c.id == row.id).values(**values))

    _write(store, success)
    return principal


@dataclass(frozen=True, slots=True)
class Session:
    token: str  # the cookie value; only its hash is stored
    csrf: str
    expires_at: datetime


def create_session(store: Store, user_id: int, *, now: datetime | None = None) -> Session:
    moment = now or _now()
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = moment + timedelta(hours=SESSION_HOURS)

    def fn(conn: Connection) -> None:
        # Expired sessions are swept here rather than by a background job.
        conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < _text(moment)))
        conn.execute(
            insert(web_sessions).values(
                token_hash=_hash_token(token),
                user_id=user_id,
                csrf=csrf,
                created_at=_text(moment),
                expires_at=_text(expires),
            )
        )

    _write(store, fn)
    return Session(token, csrf, expires)


def session_principal(
    store: Store, token: str, *, now: datetime | None = None
) -> tuple[Principal, str] | None:
    """(principal, CSRF token) of a live session, or None."""
    if not token or len(token) > 200:
        return None
    moment = _text(now or _now())

    def fn(conn: Connection) -> Any:
        return conn.execute(
            select(web_users, web_sessions.c.csrf)
            .join(web_sessions, web_sessions.c.user_id == web_users.c.id)
            .where(web_sessions.c.token_hash == _hash_token(token))
            .where(web_sessions.c.expires_at > moment)
        ).first()

    row = _read(store, fn)
    if row is None or row.disabled:
        return None
    try:
        return _principal(store, row), row.csrf
    except LoginRefused:
        return None


def end_session(store: Store, token: str) -> None:
    _write(
        store,
        lambda conn: conn.execute(
            delete(web_sessions).where(web_sessions.c.token_hash == _hash_token(token))
        ),
    )
