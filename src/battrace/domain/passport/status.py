"""Battery status (DIN 6.1.3.7, Annex XIII 4(c)) and passport status, and how each model spells them.

battrace keeps one internal :class:`BatteryStatus` and maps it to each data model at the edge; the
three models disagree on spelling (``shared/domain/eu-passport.md`` section 3.3):

==================  ================  ===============  ===============
internal            Battery Pass      Catena-X 6.1.0   IDTA nameplate
==================  ================  ===============  ===============
``original``        ``Original``      ``original``     ``original``
``reused``          ``Reused``        ``re-used``      ``re-used``
``repurposed``      ``Repurposed``    ``repurposed``   ``repurposed``
``remanufactured``  ``Remanufactured`` ``remanufactured`` ``remanufactured``
``waste``           ``Waste``         ``waste``        ``waste``
==================  ================  ===============  ===============

The status is derived from the ledger's lifecycle state (:func:`status_for`):

* ``cascade_use`` is repurposing (GB/T 34014 re-coding gives the repurposed product a new code; the
  original code and the new one are both in cascade use).
* ``collected`` (handed to the recycling network with disposition ``disposed``), ``dismantled``,
  ``recycled`` and ``disposed`` are waste: the holder has discarded the battery.
* ``retired`` (decommissioned at the end of its first life) stays ``original``: a retired EV battery
  is graded before anyone decides between cascade use and recycling, and declaring it waste would
  move the passport responsibility (Art. 77(7)) on a guess.
* A battery installed in a vehicle again after it was removed from one is ``reused``.
* No battrace event remanufactures a battery, so ``remanufactured`` is never derived.

The passport itself is :class:`PassportStatus` ``active`` until the battery has been recycled (or
disposed of), then ``ceased`` (Art. 77(8)); Catena-X calls that ``expired``.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final


class BatteryStatus(StrEnum):
    ORIGINAL = "original"
    REUSED = "reused"
    REPURPOSED = "repurposed"
    REMANUFACTURED = "remanufactured"
    WASTE = "waste"


class PassportStatus(StrEnum):
    ACTIVE = "active"
    CEASED = "ceased"


_BY_STATE: Final = MappingProxyType(
    {
        "produced": BatteryStatus.ORIGINAL,
        "assembled": BatteryStatus.ORIGINAL,
        "installed": BatteryStatus.ORIGINAL,
        "in_service": BatteryStatus.ORIGINAL,
        "removed": BatteryStatus.ORIGINAL,
        "retired": BatteryStatus.ORIGINAL,
        "cascade_use": BatteryStatus.REPURPOSED,
        "collected": BatteryStatus.WASTE,
        "dismantled": BatteryStatus.WASTE,
        "recycled": BatteryStatus.WASTE,
        "disposed": BatteryStatus.WASTE,
    }
)

#: Lifecycle states after which the battery no longer exists as a battery.
END_STATES: Final = frozenset({"recycled", "disposed"})


def status_for(
    state: str | None, resting_state: str | None, reinstalled: bool
) -> BatteryStatus | None:
    """The battery status for a lifecycle state; None for an object the ledger knows nothing of.

    ``resting_state`` is used while the battery is in transit (shipping does not change what the
    battery is); ``reinstalled`` says it went into a vehicle again after a removal.
    """
    if state == "in_transit":
        state = resting_state
    status = _BY_STATE.get(state or "")
    if status is BatteryStatus.ORIGINAL and reinstalled:
        return BatteryStatus.REUSED
    return status


BATTERYPASS_STATUS: Final = MappingProxyType(
    {
        BatteryStatus.ORIGINAL: "Original",
        BatteryStatus.REUSED: "Reused",
        BatteryStatus.REPURPOSED: "Repurposed",
        BatteryStatus.REMANUFACTURED: "Remanufactured",
        BatteryStatus.WASTE: "Waste",
    }
)

#: Catena-X ``sustainability.status`` and IDTA ``LifeCycleStage`` use the regulation's wording.
REGULATION_STATUS: Final = MappingProxyType(
    {
        BatteryStatus.ORIGINAL: "original",
        BatteryStatus.REUSED: "re-used",
        BatteryStatus.REPURPOSED: "repurposed",
        BatteryStatus.REMANUFACTURED: "remanufactured",
        BatteryStatus.WASTE: "waste",
    }
)
