"""Tables for: API keys, audit log and other tables of the HTTP interface (defined on the shared metadata; created by migration 0002)."""

from __future__ import annotations

from battrace.persistence.schema import metadata

__all__ = ["metadata"]
