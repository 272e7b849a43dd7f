"""Tables for: web application users and sessions (on the shared metadata; migration 0005).

A user belongs to one organisation: an enterprise USCC from the registry. What the user may see
follows from that organisation's roles exactly as for an API key of the same enterprise
(``regulator_national`` sees everything, ``regulator_provincial`` its province, any other role its
own data). Passwords are stored as argon2id hashes only. Sessions are stored by the SHA-256 of the
cookie value, so a copy of the database does not hand out live sessions.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
)

from battrace.persistence.schema import BigId, metadata

web_users = Table(
    "web_users",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("display_name", Text, nullable=False, server_default=""),
    Column("organisation", String(18), nullable=False),  # USCC of the enterprise or authority
    Column("language", String(8), nullable=False, server_default="zh_CN"),
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", String(27)),  # UTC text; NULL = not locked
    Column("disabled", SmallInteger, nullable=False, server_default="0"),
    Column("created_at", String(27), nullable=False),
    Column("last_login", String(27)),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", BigInteger, ForeignKey("web_users.id"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", String(27), nullable=False),
    Column("expires_at", String(27), nullable=False),
    Index("ix_web_sessions_user", "user_id"),
)

__all__ = ["metadata", "web_sessions", "web_users"]
