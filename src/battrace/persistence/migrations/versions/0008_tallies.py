"""Running tallies for the regulator overview.

Revision ID: 0008
Revises: 0007

``objects`` gains ``rated_kwh`` and ``mass_kg`` (the view's attributes ``ratedEnergyKWh`` and
``massKg`` when they are JSON numbers), written by the projection with the view.
``pack_tallies`` counts packs per (state, holder) with their rated energy and mass;
``event_tallies`` counts events (not declarations) per (month, business step, reporter). The
write transaction keeps both (``persistence/tallies.py``); here they are filled from the rows the
ledger already holds.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: Which objects rows are packs (24-character GB/T 34014 codes with product type P).
PACK = "kind = 'battery' AND length(epc) = 37 AND substr(epc, 17, 1) = 'P'"


def _sqlite_number(field: str) -> str:
    # Only JSON numbers count, as in the projection (services/projector.view_row).
    path = f"'$.attributes.{field}'"
    return (
        f"(CASE WHEN json_type(view, {path}) IN ('integer', 'real') "
        f"THEN json_extract(view, {path}) END)"
    )


def _pg_number(field: str) -> str:
    value = f"(CAST(view AS jsonb) -> 'attributes' -> '{field}')"
    return f"(CASE WHEN jsonb_typeof({value}) = 'number' THEN CAST({value} AS float8) END)"


def upgrade() -> None:
    op.add_column("objects", sa.Column("rated_kwh", sa.Float))
    op.add_column("objects", sa.Column("mass_kg", sa.Float))
    op.create_table(
        "pack_tallies",
        sa.Column("state", sa.String(16), primary_key=True),
        sa.Column("holder", sa.Text, primary_key=True),
        sa.Column("packs", sa.BigInteger, nullable=False),
        sa.Column("kwh", sa.Float, nullable=False),
        sa.Column("kg", sa.Float, nullable=False),
    )
    op.create_table(
        "event_tallies",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("biz_step", sa.Text, primary_key=True),
        sa.Column("reporter", sa.String(18), primary_key=True),
        sa.Column("events", sa.BigInteger, nullable=False),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    number = _sqlite_number if sqlite else _pg_number
    # Fill from what the ledger already holds; from here on the write transaction keeps them.
    op.execute(
        f"UPDATE objects SET rated_kwh = {number('ratedEnergyKWh')}, mass_kg = {number('massKg')}"
    )
    op.execute(
        "INSERT INTO pack_tallies (state, holder, packs, kwh, kg) "
        "SELECT state, coalesce(holder, ''), count(*), "
        "sum(coalesce(rated_kwh, 0)), sum(coalesce(mass_kg, 0)) "
        f"FROM objects WHERE {PACK} GROUP BY 1, 2"
    )
    op.execute(
        "INSERT INTO event_tallies (month, biz_step, reporter, events) "
        "SELECT substr(event_time, 1, 7), coalesce(biz_step, ''), reporter, count(*) "
        "FROM events WHERE is_declaration = 0 GROUP BY 1, 2, 3"
    )


def downgrade() -> None:
    op.drop_table("event_tallies")
    op.drop_table("pack_tallies")
    with op.batch_alter_table("objects") as batch:
        batch.drop_column("mass_kg")
        batch.drop_column("rated_kwh")
