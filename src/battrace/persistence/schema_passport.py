"""Tables for: published battery passport versions (on the shared metadata; migration 0004).

A published version is immutable: rows are only ever inserted. One publication numbers a version per
battery and stores one signed document (compact JWS) per audience, because each audience sees a
different subset of the attributes and each subset must carry its own signature.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from battrace.persistence.schema import BigId, metadata

passport_versions = Table(
    "passport_versions",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("battery", Text, nullable=False),  # identifier URI (urn:gbt34014:…, GS1 …)
    Column("version", Integer, nullable=False),
    Column("audience", String(16), nullable=False),
    Column("passport_id", String(45), nullable=False),  # urn:uuid:…
    Column("issued_at", String(27), nullable=False),
    Column("capture_seq", BigInteger, nullable=False),  # the ledger head it was built from
    Column("event_count", BigInteger, nullable=False),
    Column("head", String(64), nullable=False),
    Column("checkpoint_seq", BigInteger, nullable=False),  # the signed checkpoint of that head
    Column("data_digest", String(64), nullable=False),  # SHA-256 of the passport content
    Column("jws", Text, nullable=False),
    Index("ux_passport_versions", "battery", "version", "audience", unique=True),
)

__all__ = ["metadata", "passport_versions"]
