"""Tables for: Published battery passport versions (defined on the shared metadata; created by migration 0004)."""

from __future__ import annotations

from battrace.persistence.schema import metadata

__all__ = ["metadata"]
