"""API keys, capture jobs, the audit log and the read-scope index of the HTTP interface.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.String(27)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("enterprise", sa.String(18), nullable=False),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS),
    )
    op.create_index("ix_api_keys_enterprise", "api_keys", ["enterprise"])
    op.create_table(
        "capture_jobs",
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("capture_id", sa.String(36), nullable=False, unique=True),
        sa.Column("enterprise", sa.String(18), nullable=False),
        sa.Column("key_id", sa.String(16)),
        sa.Column("behaviour", sa.String(8), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("running", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("success", sa.SmallInteger, nullable=False),
        sa.Column("event_count", sa.Integer, nullable=False),
        sa.Column("captured", sa.Integer, nullable=False, server_default="0"),
        sa.Column("duplicates", sa.Integer, nullable=False, server_default="0"),
        sa.Column("errors", sa.Text, nullable=False, server_default="[]"),
    )
    op.create_index("ix_capture_jobs_enterprise", "capture_jobs", ["enterprise", "seq"])
    op.create_table(
        "audit_log",
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("key_id", sa.String(16)),
        sa.Column("enterprise", sa.String(18)),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("query", sa.Text, nullable=False, server_default=""),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
        sa.Column("client", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_enterprise", "audit_log", ["enterprise", "at"])
    op.create_table(
        "api_event_access",
        sa.Column("principal", sa.String(24), primary_key=True),
        sa.Column("event_seq", sa.BigInteger, primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "api_custody",
        sa.Column("party", sa.String(18), primary_key=True),
        sa.Column("epc", sa.Text, primary_key=True),
        sa.Column("since_time", TS, nullable=False),
        sa.Column("until_time", TS, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "api_index_state",
        sa.Column("id", sa.SmallInteger, primary_key=True),
        sa.Column("last_event_seq", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_events_record_time", "events", ["record_time"])

    # The audit log is append-only: refuse UPDATE and DELETE in the database itself, so neither a
    # bug nor a stray SQL session can rewrite who did what.
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
            "ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    op.drop_index("ix_events_record_time", "events")
    op.drop_table("api_index_state")
    op.drop_table("api_custody")
    op.drop_table("api_event_access")
    op.drop_index("ix_audit_log_enterprise", "audit_log")
    op.drop_index("ix_audit_log_at", "audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_capture_jobs_enterprise", "capture_jobs")
    op.drop_table("capture_jobs")
    op.drop_index("ix_api_keys_enterprise", "api_keys")
    op.drop_table("api_keys")
