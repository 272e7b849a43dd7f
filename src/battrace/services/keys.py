"""Interface keys: how an enterprise's system authenticates to the HTTP interface.

A key is ``btk_<key id>_<secret>``. Only the SHA-256 of the secret is stored, so a copy of the
database hands out no working key; the whole key is printed once, by ``battrace key create``, and
cannot be shown again (revoke it and create another). The secret has 256 bits of entropy, so a
plain SHA-256 (not a slow password hash) is enough, and checking a key costs one indexed read.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime

from battrace.domain.errors import InvalidInput
from battrace.domain.identities.uscc import validate_uscc
from battrace.persistence import queries as q
from battrace.persistence.base import EnterpriseRow, Store
from battrace.persistence.queries import KeyRow

PREFIX = "btk"
_KEY = re.compile(r"btk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def create_key(store: Store, enterprise: str, name: str = "") -> tuple[KeyRow, str]:
    """Create a key for a registered enterprise; returns the stored row and the key text (the
    only time it exists outside the client)."""
    uscc = validate_uscc(enterprise.strip())
    if store.get_enterprise(uscc) is None:
        raise InvalidInput("enterprise", f"{uscc} is not a registered enterprise")
    name = name.strip()
    if len(name) > 200:
        raise InvalidInput("name", "is longer than 200 characters")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    row = KeyRow(key_id, uscc, name, _digest(secret), _now())
    q.insert_key(store, row)
    return row, f"{PREFIX}_{key_id}_{secret}"


def list_keys(store: Store, enterprise: str | None = None) -> list[KeyRow]:
    return q.list_keys(store, enterprise)


def revoke_key(store: Store, key_id: str) -> KeyRow:
    """Revoke a key by its id (the part after ``btk_``); it stops working at once."""
    key_id = key_id.strip().removeprefix(f"{PREFIX}_")[:16]
    row = q.get_key(store, key_id)
    if row is None:
        raise InvalidInput("key", f"no key with id {key_id!r}")
    if row.revoked_at is not None:
        raise InvalidInput("key", f"{key_id} was already revoked at {row.revoked_at}")
    q.revoke_key(store, key_id, _now())
    revoked = q.get_key(store, key_id)
    assert revoked is not None
    return revoked


def parse_key(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    m = _KEY.fullmatch(token)
    return (m[1], m[2]) if m else None


def authenticate_with_enterprise(
    store: Store, token: str
) -> tuple[KeyRow, EnterpriseRow | None] | None:
    """The live key ``token`` is and its enterprise (None if no longer registered), or None."""
    parts = parse_key(token)
    if parts is None:
        return None
    key_id, secret = parts
    found = q.key_and_enterprise(store, key_id)
    if found is None:
        return None
    row, enterprise = found
    if row.revoked_at is not None or not hmac.compare_digest(row.secret_hash, _digest(secret)):
        return None
    return row, enterprise


def authenticate(store: Store, token: str) -> KeyRow | None:
    """The live key ``token`` is, or None (malformed, unknown, wrong secret or revoked)."""
    parts = parse_key(token)
    if parts is None:
        return None
    key_id, secret = parts
    row = q.get_key(store, key_id)
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_hash, _digest(secret)):
        return None
    return row
