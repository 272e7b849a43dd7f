"""Tables for: EPCIS 2.0 named queries and their webhook subscriptions (on the shared metadata;
migration 0007).

* ``named_queries`` — one row per named query (``POST /queries``): the enterprise whose namespace
  it lives in, its name (unique per enterprise) and the query as given (JSON);
* ``query_subscriptions`` — one row per webhook subscription of a named query: where and how to
  deliver, and the delivery state — ``cursor`` (seq of the last event examined and delivered, so
  nothing is skipped or sent twice), ``lease_owner`` / ``lease_until`` (the worker delivering it
  now: claimed with a compare-and-set, so several server workers never deliver the same
  subscription at once), the failure count, the next attempt (exponential backoff) and ``state``
  (``active`` | ``disabled``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
)

from battrace.persistence.schema import BigId, metadata

TS = String(27)

named_queries = Table(
    "named_queries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("owner", String(18), nullable=False),  # USCC of the enterprise (its namespace)
    Column("name", String(100), nullable=False),
    Column("query", Text, nullable=False),  # the EPCIS query parameters as given (JSON object)
    Column("created_by", String(64), nullable=False),  # the interface key that created it
    Column("created_at", TS, nullable=False),
    Index("ux_named_queries_owner_name", "owner", "name", unique=True),
)

query_subscriptions = Table(
    "query_subscriptions",
    metadata,
    Column("id", String(36), primary_key=True),  # the subscriptionID (UUID)
    Column("query_id", BigInteger, ForeignKey("named_queries.id"), nullable=False),
    Column("owner", String(18), nullable=False),  # whose read scope the deliveries use
    Column("dest", Text, nullable=False),
    Column("signature_token", Text),  # the subscriber's HMAC key (never returned)
    Column("stream", SmallInteger, nullable=False),
    Column("report_if_empty", SmallInteger, nullable=False, server_default="0"),
    Column("initial_record_time", TS),
    Column("created_at", TS, nullable=False),
    Column("state", String(16), nullable=False),  # active | disabled
    Column("cursor", BigInteger, nullable=False),  # seq of the last event examined
    Column("delivered", BigInteger, nullable=False, server_default="0"),  # events delivered
    Column("failures", Integer, nullable=False, server_default="0"),  # consecutive failures
    Column("next_attempt_at", TS),
    Column("lease_owner", String(64)),
    Column("lease_until", TS),
    Column("last_notified_at", TS),
    Column("last_error", Text),
    Column("disabled_at", TS),
    Index("ix_query_subscriptions_query", "query_id"),
    Index("ix_query_subscriptions_state", "state"),
)
