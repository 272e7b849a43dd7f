"""Tables of the HTTP interface (on the shared metadata; created by migration 0002).

- ``api_keys``: interface keys. Only the SHA-256 of the secret part is stored; the key itself is
  shown once, when it is created.
- ``capture_jobs``: one row per ``POST /capture`` that reached the ledger (``GET /capture/{id}``),
  with every error of a failed capture.
- ``audit_log``: who read or wrote ledger data, what, when, and the outcome. Append-only: the
  migration installs triggers that refuse UPDATE and DELETE on both backends.
- ``api_event_access`` / ``api_custody`` / ``api_index_state``: the read-scope index, derived from
  the events (rebuildable). ``api_event_access`` lists, per event, the enterprises that took part in
  it (reporter, parties of readPoint/bizLocation/source/destination) and their provinces
  (``province:35``); ``api_custody`` gives, per enterprise and object it took part in, the first
  and last eventTime it did: the window of the object's history it may read (open-ended while it
  still holds the object); ``api_index_state`` is how far the index has got.
- One index on the ledger's ``events`` table: ``record_time`` (``GE_recordTime``/``orderBy``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, SmallInteger, String, Table, Text

from battrace.persistence.schema import BigId, events, metadata

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("enterprise", String(18), nullable=False),
    Column("name", Text, nullable=False, server_default=""),
    Column("secret_hash", String(64), nullable=False),  # hex SHA-256 of the secret part
    Column("created_at", String(27), nullable=False),
    Column("revoked_at", String(27)),
    Index("ix_api_keys_enterprise", "enterprise"),
)

capture_jobs = Table(
    "capture_jobs",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("capture_id", String(36), nullable=False, unique=True),
    Column("enterprise", String(18), nullable=False),
    Column("key_id", String(16)),
    Column("behaviour", String(8), nullable=False),  # rollback | proceed
    Column("created_at", String(27), nullable=False),
    Column("finished_at", String(27)),
    Column("running", SmallInteger, nullable=False, server_default="0"),
    Column("success", SmallInteger, nullable=False),
    Column("event_count", Integer, nullable=False),
    Column("captured", Integer, nullable=False, server_default="0"),
    Column("duplicates", Integer, nullable=False, server_default="0"),
    Column("errors", Text, nullable=False, server_default="[]"),  # JSON list of problems
    Index("ix_capture_jobs_enterprise", "enterprise", "seq"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("at", String(27), nullable=False),
    Column("key_id", String(16)),
    Column("enterprise", String(18)),
    Column("method", String(8), nullable=False),
    Column("path", Text, nullable=False),
    Column("query", Text, nullable=False, server_default=""),
    Column("status", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),  # ok | rejected | denied | unauthenticated …
    Column("detail", Text, nullable=False, server_default=""),
    Column("client", Text, nullable=False, server_default=""),
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_enterprise", "enterprise", "at"),
)

api_event_access = Table(
    "api_event_access",
    metadata,
    Column("principal", String(24), primary_key=True),  # USCC, or province:NN
    Column("event_seq", BigInteger, primary_key=True),
    sqlite_with_rowid=False,
)

api_custody = Table(
    "api_custody",
    metadata,
    Column("party", String(18), primary_key=True),
    Column("epc", Text, primary_key=True),
    Column("since_time", String(27), nullable=False),
    Column("until_time", String(27), nullable=False),
    sqlite_with_rowid=False,
)

api_index_state = Table(
    "api_index_state",
    metadata,
    Column("id", SmallInteger, primary_key=True),
    Column("last_event_seq", BigInteger, nullable=False),
)

ix_events_record_time = Index("ix_events_record_time", events.c.record_time)

__all__ = [
    "api_custody",
    "api_event_access",
    "api_index_state",
    "api_keys",
    "audit_log",
    "capture_jobs",
    "ix_events_record_time",
    "metadata",
]
