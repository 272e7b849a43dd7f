"""Tables for: Alerts, rectification notices and other tables of the regulation engine (defined on the shared metadata; created by migration 0003)."""

from __future__ import annotations

from battrace.persistence.schema import metadata

__all__ = ["metadata"]
