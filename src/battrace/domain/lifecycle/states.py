"""Lifecycle states and object kinds (plain strings: they are stored and compared as such).

The state machine is documented in ``docs/epcis-mapping.md``; the transitions live in
:mod:`battrace.domain.lifecycle.projection`.
"""

from __future__ import annotations

from typing import Final

from battrace.domain.identities import uris

# Battery states (exact strings, agreed with the lead; stored in the views table).
PRODUCED: Final = "produced"
ASSEMBLED: Final = "assembled"
INSTALLED: Final = "installed"
IN_SERVICE: Final = "in_service"
REMOVED: Final = "removed"
RETIRED: Final = "retired"
COLLECTED: Final = "collected"
IN_TRANSIT: Final = "in_transit"
CASCADE_USE: Final = "cascade_use"
DISMANTLED: Final = "dismantled"
RECYCLED: Final = "recycled"
DISPOSED: Final = "disposed"

BATTERY_STATES: Final = (
    PRODUCED,
    ASSEMBLED,
    INSTALLED,
    IN_SERVICE,
    REMOVED,
    RETIRED,
    COLLECTED,
    IN_TRANSIT,
    CASCADE_USE,
    DISMANTLED,
    RECYCLED,
    DISPOSED,
)

# Vehicle states: a vehicle is "produced" by its first event (the pack installation), goes into
# service when sold and is "scrapped" by the dismantler. Shipping a vehicle uses IN_TRANSIT too.
SCRAPPED: Final = "scrapped"
VEHICLE_STATES: Final = (PRODUCED, IN_TRANSIT, IN_SERVICE, SCRAPPED)

#: Views that have seen no event yet (an identifier only named so far).
UNKNOWN: Final = "unknown"

ALL_STATES: Final = frozenset((*BATTERY_STATES, *VEHICLE_STATES, UNKNOWN))

#: After these, any further event for the object is an inconsistency.
TERMINAL: Final = frozenset({RECYCLED, DISPOSED})
#: A child in one of these states can no longer be assembled or installed.
UNUSABLE: Final = frozenset({RECYCLED, DISPOSED, DISMANTLED})

# Object kinds.
BATTERY: Final = "battery"
VEHICLE: Final = "vehicle"
OTHER: Final = "other"
KINDS: Final = (BATTERY, VEHICLE, OTHER)

BATTERY_URN: Final = uris.BATTERY_PREFIX
VEHICLE_URN: Final = uris.VEHICLE_PREFIX
PARTY_URN: Final = uris.PARTY_PREFIX
SITE_INFIX: Final = ":site:"
MATERIAL_URN: Final = uris.MATERIAL_PREFIX


def kind_of(epc: str) -> str:
    """``battery`` / ``vehicle`` / ``other`` from the URI scheme (prefix tests only: hot path)."""
    if epc.startswith(BATTERY_URN) or "/obj/gbt34014/" in epc:
        return BATTERY
    if epc.startswith(VEHICLE_URN) or "/obj/vin/" in epc:
        return VEHICLE
    return OTHER


def party_of(location: str) -> str | None:
    """The party URI of a site URI (``urn:uscc:X:site:Y`` → ``urn:uscc:X``); None if unknown.

    A bare party URI used as a location is its own party. Other location schemes (SGLN …) name
    no party battrace knows, so the caller keeps the previous holder.
    """
    if not location.startswith(PARTY_URN):
        return None
    cut = location.find(SITE_INFIX, len(PARTY_URN))
    return location if cut == -1 else location[:cut]
