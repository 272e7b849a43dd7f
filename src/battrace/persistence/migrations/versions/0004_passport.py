"""Published battery passport versions.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "passport_versions",
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("battery", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("passport_id", sa.String(45), nullable=False),
        sa.Column("issued_at", sa.String(27), nullable=False),
        sa.Column("capture_seq", sa.BigInteger, nullable=False),
        sa.Column("event_count", sa.BigInteger, nullable=False),
        sa.Column("head", sa.String(64), nullable=False),
        sa.Column("checkpoint_seq", sa.BigInteger, nullable=False),
        sa.Column("data_digest", sa.String(64), nullable=False),
        sa.Column("jws", sa.Text, nullable=False),
    )
    op.create_index(
        "ux_passport_versions",
        "passport_versions",
        ["battery", "version", "audience"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ux_passport_versions", table_name="passport_versions")
    op.drop_table("passport_versions")
