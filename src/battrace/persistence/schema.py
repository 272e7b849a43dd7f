"""Tables of the ledger (SQLAlchemy Core). The same schema serves SQLite and PostgreSQL.

Timestamps are stored as fixed-width UTC text (``2025-03-01T08:00:00.123000Z``) so that text order
is time order on both backends and values round-trip byte for byte into the hash chain.
Event bodies are stored as the exact JSON text captured (not JSONB, which reorders keys), because
verification recomputes hashes from them.

Migrations in ``migrations/versions`` create these tables with explicit operations; a test checks that
a migrated database matches this metadata.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

metadata = MetaData()

# SQLite only gives INTEGER PRIMARY KEY rowid semantics to "INTEGER"; PostgreSQL needs BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")

enterprises = Table(
    "enterprises",
    metadata,
    Column("uscc", String(18), primary_key=True),
    Column("name_zh", Text, nullable=False),
    Column("name_en", Text, nullable=False, server_default=""),
    Column("province", String(2), nullable=False),
    Column("roles", Text, nullable=False),  # JSON list of role names
    Column("sites", Text, nullable=False, server_default="[]"),  # JSON list of site objects
    Column("qualifications", Text, nullable=False, server_default="[]"),  # JSON list
    Column("created_at", String(27), nullable=False),
)

manufacturer_codes = Table(
    "manufacturer_codes",
    metadata,
    Column("code", String(3), primary_key=True),
    Column("uscc", String(18), ForeignKey("enterprises.uscc"), nullable=False),
)

# One row, locked by every capture: it serialises writers on PostgreSQL so the chain stays linear.
ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", SmallInteger, primary_key=True),
    Column("capture_seq", BigInteger, nullable=False),
    Column("head", String(64), nullable=False),
    Column("event_count", BigInteger, nullable=False),
)

captures = Table(
    "captures",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("capture_id", String(36), nullable=False, unique=True),
    Column("enterprise", String(18), nullable=False),
    Column("record_time", String(27), nullable=False),
    Column("context", Text, nullable=False),  # the document's @context, JSON
    Column("event_count", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("prev_head", String(64), nullable=False),
    Column("head", String(64), nullable=False),
    Column("imported", SmallInteger, nullable=False, server_default="0"),
)

events = Table(
    "events",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(100), nullable=False),
    Column("capture_seq", BigInteger, nullable=False),
    Column("position", Integer, nullable=False),
    Column("record_time", String(27), nullable=False),
    Column("event_time", String(27), nullable=False),
    Column("event_type", String(24), nullable=False),
    Column("action", String(8)),
    Column("biz_step", Text),
    Column("disposition", Text),
    Column("read_point", Text),
    Column("biz_location", Text),
    Column("reporter", String(18), nullable=False),
    Column("is_declaration", SmallInteger, nullable=False, server_default="0"),
    Column("body", Text, nullable=False),
    Index("ux_events_event_id", "event_id", "is_declaration", unique=True),
    Index("ix_events_capture", "capture_seq", "position"),
    Index("ix_events_event_time", "event_time"),
)

# Every instance-level identifier an event names, with its role (epc, parent, child, input, output).
event_epcs = Table(
    "event_epcs",
    metadata,
    Column("epc", Text, primary_key=True),
    Column("event_seq", BigInteger, primary_key=True),
    Column("role", String(6), primary_key=True),
    sqlite_with_rowid=False,
)

# Projection: the current view of each battery / vehicle, derived from the events (rebuildable).
objects = Table(
    "objects",
    metadata,
    Column("epc", Text, primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("state", String(16), nullable=False),
    Column("holder", Text),
    Column("location", Text),
    Column("parent", Text),
    Column("last_event_time", String(27)),
    # Rated energy and mass from the view's attributes (JSON numbers only), as columns so the
    # overview tallies (migration 0008) need no JSON parsing on each write.
    Column("rated_kwh", Float),
    Column("mass_kg", Float),
    Column("view", Text, nullable=False),  # the whole view, JSON
    Index("ix_objects_parent", "parent"),
    Index("ix_objects_state", "state"),
)

inconsistencies = Table(
    "inconsistencies",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("epc", Text, nullable=False),
    Column("event_id", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("detected_at", String(27), nullable=False),
    Index("ix_inconsistencies_epc", "epc"),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("capture_seq", BigInteger, nullable=False),
    Column("head", String(64), nullable=False),
    Column("event_count", BigInteger, nullable=False),
    Column("created_at", String(27), nullable=False),
    Column("public_key", Text, nullable=False),
    Column("signature", Text, nullable=False),
)


# Tables of later features live in their own modules on the same metadata; importing them here
# keeps `metadata` complete for Alembic and the migration test. (They import `metadata` from this
# module, which is fully defined by this point.)
from battrace.persistence import (  # noqa: E402
    schema_api,
    schema_passport,
    schema_queries,
    schema_supervision,
    schema_tallies,
    schema_web,
    schema_whitelist,
)

__all__ = [
    "metadata",
    "schema_api",
    "schema_passport",
    "schema_queries",
    "schema_supervision",
    "schema_tallies",
    "schema_web",
    "schema_whitelist",
]
