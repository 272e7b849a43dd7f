"""Initial ledger schema: enterprises, captures, events, projections, checkpoints.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.String(27)


def upgrade() -> None:
    op.create_table(
        "enterprises",
        sa.Column("uscc", sa.String(18), primary_key=True),
        sa.Column("name_zh", sa.Text, nullable=False),
        sa.Column("name_en", sa.Text, nullable=False, server_default=""),
        sa.Column("province", sa.String(2), nullable=False),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("sites", sa.Text, nullable=False, server_default="[]"),
        sa.Column("qualifications", sa.Text, nullable=False, server_default="[]"),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "manufacturer_codes",
        sa.Column("code", sa.String(3), primary_key=True),
        sa.Column("uscc", sa.String(18), sa.ForeignKey("enterprises.uscc"), nullable=False),
    )
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.SmallInteger, primary_key=True),
        sa.Column("capture_seq", sa.BigInteger, nullable=False),
        sa.Column("head", sa.String(64), nullable=False),
        sa.Column("event_count", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "captures",
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("capture_id", sa.String(36), nullable=False, unique=True),
        sa.Column("enterprise", sa.String(18), nullable=False),
        sa.Column("record_time", TS, nullable=False),
        sa.Column("context", sa.Text, nullable=False),
        sa.Column("event_count", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("prev_head", sa.String(64), nullable=False),
        sa.Column("head", sa.String(64), nullable=False),
        sa.Column("imported", sa.SmallInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "events",
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(100), nullable=False),
        sa.Column("capture_seq", sa.BigInteger, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("record_time", TS, nullable=False),
        sa.Column("event_time", TS, nullable=False),
        sa.Column("event_type", sa.String(24), nullable=False),
        sa.Column("action", sa.String(8)),
        sa.Column("biz_step", sa.Text),
        sa.Column("disposition", sa.Text),
        sa.Column("read_point", sa.Text),
        sa.Column("biz_location", sa.Text),
        sa.Column("reporter", sa.String(18), nullable=False),
        sa.Column("is_declaration", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ux_events_event_id", "events", ["event_id", "is_declaration"], unique=True)
    op.create_index("ix_events_capture", "events", ["capture_seq", "position"])
    op.create_index("ix_events_event_time", "events", ["event_time"])
    op.create_table(
        "event_epcs",
        sa.Column("epc", sa.Text, primary_key=True),
        sa.Column("event_seq", sa.BigInteger, primary_key=True),
        sa.Column("role", sa.String(6), primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "objects",
        sa.Column("epc", sa.Text, primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("holder", sa.Text),
        sa.Column("location", sa.Text),
        sa.Column("parent", sa.Text),
        sa.Column("last_event_time", TS),
        sa.Column("view", sa.Text, nullable=False),
    )
    op.create_index("ix_objects_parent", "objects", ["parent"])
    op.create_index("ix_objects_state", "objects", ["state"])
    op.create_table(
        "inconsistencies",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("epc", sa.Text, nullable=False),
        sa.Column("event_id", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("detected_at", TS, nullable=False),
    )
    op.create_index("ix_inconsistencies_epc", "inconsistencies", ["epc"])
    op.create_table(
        "checkpoints",
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("capture_seq", sa.BigInteger, nullable=False),
        sa.Column("head", sa.String(64), nullable=False),
        sa.Column("event_count", sa.BigInteger, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "checkpoints",
        "inconsistencies",
        "objects",
        "event_epcs",
        "events",
        "captures",
        "ledger_head",
        "manufacturer_codes",
        "enterprises",
    ):
        op.drop_table(table)
