"""Tables for: web application users and sessions (on the shared metadata; migration 0005)."""

from __future__ import annotations

from battrace.persistence.schema import metadata

__all__ = ["metadata"]
