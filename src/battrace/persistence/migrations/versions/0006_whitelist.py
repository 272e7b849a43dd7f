"""Whitelist applications, their steps, announcement batches; pilot regions and enterprises.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.String(27)
DAY = sa.String(10)


def upgrade() -> None:
    op.create_table(
        "whitelist_applications",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("province", sa.String(2), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("edition", sa.String(8), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("evaluation", sa.Text),
        sa.Column("result", sa.String(16)),
        sa.Column("batch", sa.Integer),
        sa.Column("announced_on", DAY),
        sa.Column("valid_to", DAY),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_whitelist_applications_uscc", "whitelist_applications", ["uscc"])
    op.create_index(
        "ix_whitelist_applications_state", "whitelist_applications", ["state", "province"]
    )
    op.create_table(
        "whitelist_steps",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "application_id",
            sa.BigInteger,
            sa.ForeignKey("whitelist_applications.id"),
            nullable=False,
        ),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_state", sa.String(24)),
        sa.Column("to_state", sa.String(24), nullable=False),
        sa.Column("actor", sa.String(18), nullable=False),
        sa.Column("actor_role", sa.String(32), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_whitelist_steps_application", "whitelist_steps", ["application_id"])
    op.create_table(
        "whitelist_batches",
        sa.Column("batch", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("announced_on", DAY, nullable=False),
        sa.Column("announced_by", sa.String(18), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )
    op.create_table(
        "pilot_regions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name_zh", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False, server_default=""),
        sa.Column("province", sa.String(2), nullable=False),
        sa.Column("city", sa.String(6)),
        sa.Column("model", sa.String(24)),
        sa.Column("scenarios", sa.Text, nullable=False, server_default="[]"),
        sa.Column("started_on", DAY),
        sa.Column("notes", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ux_pilot_regions_name", "pilot_regions", ["name_zh"], unique=True)
    op.create_table(
        "pilot_enterprises",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("model", sa.String(24), nullable=False),
        sa.Column("scenarios", sa.Text, nullable=False, server_default="[]"),
        sa.Column("region_id", sa.BigInteger, sa.ForeignKey("pilot_regions.id")),
        sa.Column("started_on", DAY),
        sa.Column("notes", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ux_pilot_enterprises_uscc", "pilot_enterprises", ["uscc"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_pilot_enterprises_uscc", table_name="pilot_enterprises")
    op.drop_table("pilot_enterprises")
    op.drop_index("ux_pilot_regions_name", table_name="pilot_regions")
    op.drop_table("pilot_regions")
    op.drop_table("whitelist_batches")
    op.drop_index("ix_whitelist_steps_application", table_name="whitelist_steps")
    op.drop_table("whitelist_steps")
    op.drop_index("ix_whitelist_applications_state", table_name="whitelist_applications")
    op.drop_index("ix_whitelist_applications_uscc", table_name="whitelist_applications")
    op.drop_table("whitelist_applications")
