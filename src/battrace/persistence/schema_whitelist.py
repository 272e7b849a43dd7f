"""Tables for: whitelist applications and their review, announcement batches, and pilots
(on the shared metadata; migration 0006).

* ``whitelist_applications`` — one row per application (行业规范条件申报): the applicant, kind,
  edition, state, the application as submitted (JSON), the latest evaluation (JSON) and, once
  announced, its batch and date;
* ``whitelist_steps`` — append-only history of every step (apply, submit, approve, reject,
  announce, withdraw) with who, when and the comment or reason;
* ``whitelist_batches`` — announcement batches (公告批次) made through battrace;
* ``pilot_regions`` / ``pilot_enterprises`` — pilot regions and enterprises (试点) with their
  recycling model and cascade-use scenarios.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from battrace.persistence.schema import BigId, metadata

whitelist_applications = Table(
    "whitelist_applications",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("uscc", String(18), nullable=False),
    Column("province", String(2), nullable=False),  # the applicant's, when it applied
    Column("kind", String(16), nullable=False),  # cascade_use | recycling
    Column("edition", String(8), nullable=False),
    Column("state", String(24), nullable=False),
    Column("body", Text, nullable=False),  # the application (JSON)
    Column("evaluation", Text),  # the latest evaluation (JSON)
    Column("result", String(16)),  # pass | fail | incomplete | unconfirmed
    Column("batch", Integer),
    Column("announced_on", String(10)),
    Column("valid_to", String(10)),
    Column("created_at", String(27), nullable=False),
    Column("updated_at", String(27), nullable=False),
    Index("ix_whitelist_applications_uscc", "uscc"),
    Index("ix_whitelist_applications_state", "state", "province"),
)

whitelist_steps = Table(
    "whitelist_steps",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("application_id", BigInteger, ForeignKey("whitelist_applications.id"), nullable=False),
    Column("action", String(16), nullable=False),
    Column("from_state", String(24)),
    Column("to_state", String(24), nullable=False),
    Column("actor", String(18), nullable=False),  # USCC of the enterprise or authority
    Column("actor_role", String(32), nullable=False),
    Column("at", String(27), nullable=False),
    Column("comment", Text, nullable=False, server_default=""),
    Index("ix_whitelist_steps_application", "application_id"),
)

whitelist_batches = Table(
    "whitelist_batches",
    metadata,
    Column("batch", Integer, primary_key=True, autoincrement=False),
    Column("announced_on", String(10), nullable=False),
    Column("announced_by", String(18), nullable=False),
    Column("created_at", String(27), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
)

pilot_regions = Table(
    "pilot_regions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name_zh", String(200), nullable=False),
    Column("name_en", String(200), nullable=False, server_default=""),
    Column("province", String(2), nullable=False),
    Column("city", String(6)),  # GB/T 2260 prefecture-level city, if the pilot is a city
    Column("model", String(24)),  # the main recycling model, if one
    Column("scenarios", Text, nullable=False, server_default="[]"),  # JSON list
    Column("started_on", String(10)),
    Column("notes", Text, nullable=False, server_default=""),
    Column("created_at", String(27), nullable=False),
    Index("ux_pilot_regions_name", "name_zh", unique=True),
)

pilot_enterprises = Table(
    "pilot_enterprises",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("uscc", String(18), nullable=False),
    Column("model", String(24), nullable=False),
    Column("scenarios", Text, nullable=False, server_default="[]"),  # JSON list
    Column("region_id", BigInteger, ForeignKey("pilot_regions.id")),
    Column("started_on", String(10)),
    Column("notes", Text, nullable=False, server_default=""),
    Column("created_at", String(27), nullable=False),
    Index("ux_pilot_enterprises_uscc", "uscc", unique=True),
)

__all__ = [
    "metadata",
    "pilot_enterprises",
    "pilot_regions",
    "whitelist_applications",
    "whitelist_batches",
    "whitelist_steps",
]
