"""Tables of the regulation engine and supervision workflow (on the shared metadata; migration 0003).

* ``supervision_facts`` — the compact per-subject facts the rules read (``domain/supervision/facts``),
  derived from the events like ``objects`` and rebuildable from them (``battrace alerts rebuild
  --from-events``). Times are integer microseconds since the epoch (UTC). Clustered by subject so
  that one subject's history is one range read.
* ``supervision_retractions`` — events retracted by an error declaration, with when that was learnt.
* ``supervision_stock`` — the reported stock of each recycling-outlet site (one row per battery).
* ``supervision_meta`` — bookkeeping (up to which event the facts are complete).
* ``alerts`` — findings of the engine with their workflow stage. ``key`` is stable across
  re-evaluations, so acknowledging or closing an alert survives a rebuild. Instants are the
  ledger's fixed-width UTC text.
* ``alert_actions`` — every step of the supervision workflow (append-only).
* ``rectification_notices`` — 整改通知 with their due date and the enterprise's answer.
* ``code_specifications`` — battery specification codes registered (备案) per manufacturer code.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
)

from battrace.persistence.schema import BigId, metadata

TS = String(27)

supervision_facts = Table(
    "supervision_facts",
    metadata,
    Column("subject", Text, primary_key=True),
    Column("event_seq", BigInteger, primary_key=True),
    Column("role", String(6), primary_key=True),
    Column("capture_seq", BigInteger, nullable=False),
    Column("position", Integer, nullable=False),
    Column("event_time", BigInteger, nullable=False),
    Column("record_time", BigInteger, nullable=False),
    Column("step", String(10), nullable=False),
    Column("reporter", String(18), nullable=False),
    Column("party", Text),
    Column("site", Text),
    Column("kg", Float),
    Column("is_primary", SmallInteger, nullable=False, server_default="0"),
    sqlite_with_rowid=False,
)

supervision_retractions = Table(
    "supervision_retractions",
    metadata,
    Column("event_seq", BigInteger, primary_key=True),
    Column("capture_seq", BigInteger, nullable=False),
    Column("record_time", BigInteger, nullable=False),
)

supervision_stock = Table(
    "supervision_stock",
    metadata,
    Column("epc", Text, primary_key=True),
    Column("site", Text, nullable=False),
    Column("kg", Float, nullable=False),
    Column("in_time", BigInteger, nullable=False),
    Column("in_seq", BigInteger, nullable=False),
    Index("ix_supervision_stock_site", "site"),
)

supervision_meta = Table(
    "supervision_meta",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("value", Text, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("key", String(24), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("rule_id", String(80), nullable=False),
    Column("rule_version", Integer, nullable=False),
    Column("citation", Text, nullable=False),
    Column("unit", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("enterprise", String(18)),
    Column("province", String(2)),
    Column("evidence", Text, nullable=False),  # JSON list of Event Hash IDs
    Column("evidence_seqs", Text, nullable=False),  # JSON list of event seqs
    Column("detected_at", TS, nullable=False),
    Column("due", String(10)),
    Column("provisional", SmallInteger, nullable=False, server_default="0"),
    Column("resolved_at", TS),
    Column("resolved_by", String(100)),  # Event Hash ID of the resolving event
    Column("resolved_seq", BigInteger),
    Column("detail", Text, nullable=False, server_default="{}"),
    Column("engine_state", String(10), nullable=False, server_default="active"),
    Column("stage", String(12), nullable=False, server_default="new"),
    Column("updated_at", TS, nullable=False),
    Index("ix_alerts_unit", "unit"),
    Index("ix_alerts_kind_detected", "kind", "detected_at"),
    Index("ix_alerts_province", "province"),
    Index("ix_alerts_enterprise", "enterprise"),
)

alert_actions = Table(
    "alert_actions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("alert_key", String(24), nullable=False),
    Column("action", String(16), nullable=False),
    Column("actor", Text, nullable=False),
    Column("actor_role", String(32), nullable=False),
    Column("at", TS, nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("notice_id", BigInteger),
    Index("ix_alert_actions_alert", "alert_key"),
)

rectification_notices = Table(
    "rectification_notices",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("alert_key", String(24), nullable=False),
    Column("issued_by", Text, nullable=False),
    Column("issued_at", TS, nullable=False),
    Column("due_date", String(10), nullable=False),
    Column("requirement", Text, nullable=False),
    Column("status", String(10), nullable=False, server_default="issued"),
    Column("answer", Text),
    Column("answered_by", Text),
    Column("answered_at", TS),
    Index("ix_rectification_notices_alert", "alert_key"),
)

code_specifications = Table(
    "code_specifications",
    metadata,
    Column("manufacturer_code", String(3), primary_key=True),
    Column("specification", String(2), primary_key=True),
)

__all__ = [
    "alert_actions",
    "alerts",
    "code_specifications",
    "metadata",
    "rectification_notices",
    "supervision_facts",
    "supervision_meta",
    "supervision_retractions",
    "supervision_stock",
]
