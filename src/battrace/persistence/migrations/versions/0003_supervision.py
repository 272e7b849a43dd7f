"""Alerts, rectification notices and other tables of the regulation engine.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa  # noqa: F401 - used as tables are added
from alembic import op  # noqa: F401

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
