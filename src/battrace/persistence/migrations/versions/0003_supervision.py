"""Alerts, rectification notices and other tables of the regulation engine.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.String(27)


def upgrade() -> None:
    op.create_table(
        "supervision_facts",
        sa.Column("subject", sa.Text, primary_key=True),
        sa.Column("event_seq", sa.BigInteger, primary_key=True),
        sa.Column("role", sa.String(6), primary_key=True),
        sa.Column("capture_seq", sa.BigInteger, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("event_time", sa.BigInteger, nullable=False),
        sa.Column("record_time", sa.BigInteger, nullable=False),
        sa.Column("step", sa.String(10), nullable=False),
        sa.Column("reporter", sa.String(18), nullable=False),
        sa.Column("party", sa.Text),
        sa.Column("site", sa.Text),
        sa.Column("kg", sa.Float),
        sa.Column("is_primary", sa.SmallInteger, nullable=False, server_default="0"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "supervision_retractions",
        sa.Column("event_seq", sa.BigInteger, primary_key=True),
        sa.Column("capture_seq", sa.BigInteger, nullable=False),
        sa.Column("record_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "supervision_stock",
        sa.Column("epc", sa.Text, primary_key=True),
        sa.Column("site", sa.Text, nullable=False),
        sa.Column("kg", sa.Float, nullable=False),
        sa.Column("in_time", sa.BigInteger, nullable=False),
        sa.Column("in_seq", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_supervision_stock_site", "supervision_stock", ["site"])
    op.create_table(
        "supervision_meta",
        sa.Column("key", sa.String(40), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("key", sa.String(24), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("rule_id", sa.String(80), nullable=False),
        sa.Column("rule_version", sa.Integer, nullable=False),
        sa.Column("citation", sa.Text, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("enterprise", sa.String(18)),
        sa.Column("province", sa.String(2)),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("evidence_seqs", sa.Text, nullable=False),
        sa.Column("detected_at", TS, nullable=False),
        sa.Column("due", sa.String(10)),
        sa.Column("provisional", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("resolved_at", TS),
        sa.Column("resolved_by", sa.String(100)),
        sa.Column("resolved_seq", sa.BigInteger),
        sa.Column("detail", sa.Text, nullable=False, server_default="{}"),
        sa.Column("engine_state", sa.String(10), nullable=False, server_default="active"),
        sa.Column("stage", sa.String(12), nullable=False, server_default="new"),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_alerts_unit", "alerts", ["unit"])
    op.create_index("ix_alerts_kind_detected", "alerts", ["kind", "detected_at"])
    op.create_index("ix_alerts_province", "alerts", ["province"])
    op.create_index("ix_alerts_enterprise", "alerts", ["enterprise"])
    op.create_table(
        "alert_actions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("alert_key", sa.String(24), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("actor_role", sa.String(32), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("notice_id", sa.BigInteger),
    )
    op.create_index("ix_alert_actions_alert", "alert_actions", ["alert_key"])
    op.create_table(
        "rectification_notices",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("alert_key", sa.String(24), nullable=False),
        sa.Column("issued_by", sa.Text, nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("due_date", sa.String(10), nullable=False),
        sa.Column("requirement", sa.Text, nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="issued"),
        sa.Column("answer", sa.Text),
        sa.Column("answered_by", sa.Text),
        sa.Column("answered_at", TS),
    )
    op.create_index("ix_rectification_notices_alert", "rectification_notices", ["alert_key"])
    op.create_table(
        "code_specifications",
        sa.Column("manufacturer_code", sa.String(3), primary_key=True),
        sa.Column("specification", sa.String(2), primary_key=True),
    )


def downgrade() -> None:
    for table in (
        "code_specifications",
        "rectification_notices",
        "alert_actions",
        "alerts",
        "supervision_meta",
        "supervision_stock",
        "supervision_retractions",
        "supervision_facts",
    ):
        op.drop_table(table)
