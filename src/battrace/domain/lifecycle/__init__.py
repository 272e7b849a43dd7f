"""Battery lifecycle on EPCIS 2.0: event builders, states and the per-object projection.

The mapping of lifecycle steps to events is documented in ``docs/epcis-mapping.md``.
"""

from battrace.domain.lifecycle import builders, states
from battrace.domain.lifecycle.projection import (
    ObjectView,
    apply,
    apply_event,
    is_late,
    new_view,
    replay,
)

__all__ = [
    "ObjectView",
    "apply",
    "apply_event",
    "builders",
    "is_late",
    "new_view",
    "replay",
    "states",
]
