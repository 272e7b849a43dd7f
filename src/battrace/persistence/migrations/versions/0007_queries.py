"""Named queries and their webhook subscriptions.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.String(27)


def upgrade() -> None:
    op.create_table(
        "named_queries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("owner", sa.String(18), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ux_named_queries_owner_name", "named_queries", ["owner", "name"], unique=True)
    op.create_table(
        "query_subscriptions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("query_id", sa.BigInteger, sa.ForeignKey("named_queries.id"), nullable=False),
        sa.Column("owner", sa.String(18), nullable=False),
        sa.Column("dest", sa.Text, nullable=False),
        sa.Column("signature_token", sa.Text),
        sa.Column("stream", sa.SmallInteger, nullable=False),
        sa.Column("report_if_empty", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("initial_record_time", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("cursor", sa.BigInteger, nullable=False),
        sa.Column("delivered", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", TS),
        sa.Column("last_notified_at", TS),
        sa.Column("last_error", sa.Text),
        sa.Column("disabled_at", TS),
    )
    op.create_index("ix_query_subscriptions_query", "query_subscriptions", ["query_id"])
    op.create_index("ix_query_subscriptions_state", "query_subscriptions", ["state"])


def downgrade() -> None:
    op.drop_index("ix_query_subscriptions_state", table_name="query_subscriptions")
    op.drop_index("ix_query_subscriptions_query", table_name="query_subscriptions")
    op.drop_table("query_subscriptions")
    op.drop_index("ux_named_queries_owner_name", table_name="named_queries")
    op.drop_table("named_queries")
