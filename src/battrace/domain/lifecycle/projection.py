"""The current state of one identified object, derived from its events.

:func:`apply` folds one validated event into an :class:`ObjectView` for one role the object plays
in it (``epc``, ``parent``, ``child``, ``input``, ``output``; see ``Event.epcs_with_roles``).
It never refuses an event: the ledger is the truth, so anything that contradicts the history
is applied anyway and reported as an *inconsistency reason* for the supervisor to look at.

Events arrive out of order (late uploads within the reporting deadlines), so :func:`replay`
rebuilds a view from all its events sorted by event time; the capture service calls it when
:func:`is_late` says an event precedes what the view has already seen.

Speed matters (bulk capture): one dict lookup on (event type, action, bizStep, role) picks the
transition; no regular expressions, no parsing of identifiers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from battrace.domain.epcis import vocab
from battrace.domain.epcis.event import Event
from battrace.domain.lifecycle import states as S

# Attribute keys the projection writes (besides the ilmd keys copied at commissioning).
ATTR_SOH = "soh"  # percent, latest inspection
ATTR_MEASURED_AH = "measuredCapacityAh"
ATTR_RESISTANCE_OHM = "resistanceOhm"
ATTR_VOLTAGE_V = "voltageV"
ATTR_INSPECTED_AT = "inspectedAt"
ATTR_RECODED_AS = "recodedAs"  # on an original code: its cascade-use code
ATTR_ORIGINALS = "originals"  # on a cascade-use code: the original codes
ATTR_PACK = "pack"  # on a vehicle: the pack installed now
ATTR_SCRAP_CERTIFICATE = "scrapCertificate"  # on a vehicle

_ILMD_PREFIXES = (vocab.BATTRACE_PREFIX + ":", vocab.BATTRACE_VOCAB)


@dataclass(slots=True)
class ObjectView:
    """What battrace knows now about one battery, vehicle or other object.

    ``resting_state`` is the state outside transport: it equals ``state`` except while the
    object is ``in_transit``, and receiving restores it. ``vehicle`` is the VIN URI of the vehicle
    a pack is installed in. ``attributes`` holds JSON values only (chemistry, ratedEnergyKWh,
    massKg, soh …).
    """

    epc: str
    kind: str
    state: str = S.UNKNOWN
    holder: str | None = None
    location: str | None = None
    parent: str | None = None
    vehicle: str | None = None
    resting_state: str | None = None
    first_event_time: datetime | None = None
    last_event_time: datetime | None = None
    last_event_id: str | None = None
    commissioned: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        """A flat dict for storage: scalars, aware UTC datetimes, and ``attributes`` (JSON)."""
        return {
            "epc": self.epc,
            "kind": self.kind,
            "state": self.state,
            "holder": self.holder,
            "location": self.location,
            "parent": self.parent,
            "vehicle": self.vehicle,
            "resting_state": self.resting_state,
            "first_event_time": self.first_event_time,
            "last_event_time": self.last_event_time,
            "last_event_id": self.last_event_id,
            "commissioned": self.commissioned,
            "attributes": dict(self.attributes),
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ObjectView:
        """Inverse of :meth:`to_row`; also accepts ISO strings for times and JSON attributes."""
        attrs = row.get("attributes")
        if isinstance(attrs, str | bytes):
            attrs = json.loads(attrs)
        epc = row["epc"]
        return cls(
            epc=epc,
            kind=row.get("kind") or S.kind_of(epc),
            state=row.get("state") or S.UNKNOWN,
            holder=row.get("holder"),
            location=row.get("location"),
            parent=row.get("parent"),
            vehicle=row.get("vehicle"),
            resting_state=row.get("resting_state"),
            first_event_time=_time(row.get("first_event_time")),
            last_event_time=_time(row.get("last_event_time")),
            last_event_id=row.get("last_event_id"),
            commissioned=bool(row.get("commissioned")),
            attributes=dict(attrs or {}),
        )


def _time(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    # Some databases hand back naive UTC; views always hold aware UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_view(epc: str) -> ObjectView:
    return ObjectView(epc=epc, kind=S.kind_of(epc))


def is_late(view: ObjectView, event: Event) -> bool:
    """True if ``event`` precedes the view's last event: the view must then be replayed."""
    return view.last_event_time is not None and event.event_time < view.last_event_time


# --- transitions -------------------------------------------------------------------------------

Handler = Callable[[ObjectView, Event], str | None]

# Holder policies.
_SITE = 0  # the party of bizLocation (commissioning and most events)
_KEEP = 1  # shipping: possession changes only on receipt
_RECEIVER = 2  # receiving / collecting: destination possessing party, else party of bizLocation


_parties: dict[str, str | None] = {}


def _party(where: str) -> str | None:
    party = _parties.get(where, "")
    if party == "":
        if len(_parties) > 10_000:  # locations are few; bound the cache against odd input
            _parties.clear()
        party = _parties[where] = S.party_of(where)
    return party


def _set(view: ObjectView, state: str) -> None:
    view.state = state
    view.resting_state = state


def _step(event: Event) -> str:
    step = event.biz_step or event.event_type
    cut = step.rfind("BizStep-")
    return step[cut + 8 :] if cut != -1 else step


# One-entry cache: an event that commissions 100 cells carries one ilmd object for all of them.
_ilmd_cache: tuple[object, dict[str, Any]] = (None, {})


def _ilmd_attributes(view: ObjectView, event: Event) -> None:
    global _ilmd_cache
    ilmd = event.ilmd
    if not ilmd:
        return
    source, attrs = _ilmd_cache
    if source is not ilmd:  # the cache holds a reference, so identity cannot be reused
        attrs = {}
        for key, value in ilmd.items():
            for prefix in _ILMD_PREFIXES:
                if key.startswith(prefix):
                    key = key[len(prefix) :]
                    break
            attrs[key] = value
        _ilmd_cache = (ilmd, attrs)
    view.attributes.update(attrs)


def _commission(view: ObjectView, event: Event) -> str | None:
    if view.commissioned:
        # Two physical objects with one code, or a duplicate upload: keep the first history.
        return "commissioned again; the code was already commissioned"
    view.commissioned = True
    _set(view, S.PRODUCED)
    _ilmd_attributes(view, event)
    return None


def _unusable(view: ObjectView, verb: str, event: Event) -> str | None:
    if view.state in S.UNUSABLE:
        return f"{verb} {event.parent_id} although it is {view.state}"
    return None


def _assemble_child(view: ObjectView, event: Event) -> str | None:
    reason = _unusable(view, "assembled into", event)
    view.parent = event.parent_id
    _set(view, S.ASSEMBLED)
    return reason


def _fit_child(view: ObjectView, event: Event, state: str, verb: str) -> str | None:
    new = event.parent_id
    reason = _unusable(view, verb, event)
    if reason is None and view.vehicle is not None and view.vehicle != new:
        reason = f"{verb} {new} while still installed in {view.vehicle}"
    view.parent = new
    view.vehicle = new if new is not None and S.kind_of(new) == S.VEHICLE else None
    _set(view, state)
    return reason


def _install_child(view: ObjectView, event: Event) -> str | None:
    return _fit_child(view, event, S.INSTALLED, "installed in")


def _replace_child(view: ObjectView, event: Event) -> str | None:
    # A replacement pack goes straight into service: the vehicle is already on the road.
    return _fit_child(view, event, S.IN_SERVICE, "installed in")


def _fit_parent(view: ObjectView, event: Event) -> str | None:
    if view.state == S.UNKNOWN:
        _set(view, S.PRODUCED)  # a vehicle is known from its first pack installation
    if view.kind == S.VEHICLE and event.child_epcs:
        view.attributes[ATTR_PACK] = event.child_epcs[0]
    return None


def _detach_child(view: ObjectView, event: Event) -> str | None:
    view.parent = None
    view.vehicle = None
    _set(view, S.REMOVED)
    return None


def _detach_parent(view: ObjectView, event: Event) -> str | None:
    if view.attributes.get(ATTR_PACK) in event.child_epcs or not event.child_epcs:
        view.attributes.pop(ATTR_PACK, None)
    return None


def _sell(view: ObjectView, event: Event) -> str | None:
    _set(view, S.IN_SERVICE)
    return None


def _decommission(view: ObjectView, event: Event) -> str | None:
    if view.kind == S.VEHICLE:
        _set(view, S.SCRAPPED)
        for btt in event.biz_transactions:
            if btt.type == vocab.BTT_SCRAPPING_CERTIFICATE:
                view.attributes[ATTR_SCRAP_CERTIFICATE] = btt.id
        return None
    # A pack listed in the vehicle's scrapping event is still inside it: only its own
    # decommissioning (after removal) retires it.
    for epc in event.epc_list:
        if epc.startswith(S.VEHICLE_URN):
            return None
    _set(view, S.RETIRED)
    return None


def _scrap(view: ObjectView, event: Event) -> str | None:
    if view.kind == S.VEHICLE:
        return _decommission(view, event)
    return None


def _ship(view: ObjectView, event: Event) -> str | None:
    if view.state != S.IN_TRANSIT:
        view.resting_state = view.state
        view.state = S.IN_TRANSIT
    return None


def _receive(view: ObjectView, event: Event) -> str | None:
    # Receiving without a prior shipping event is fine: the sender may not report.
    if view.state == S.IN_TRANSIT:
        view.state = view.resting_state or S.UNKNOWN
    return None


def _collect(view: ObjectView, event: Event) -> str | None:
    _set(view, S.COLLECTED)
    return None


_MEASURES = {
    ("Dimensionless", "P1"): ATTR_SOH,
    ("ElectricCharge", "AMH"): ATTR_MEASURED_AH,
    ("Resistance", "OHM"): ATTR_RESISTANCE_OHM,
    ("Voltage", "VLT"): ATTR_VOLTAGE_V,
}


def _inspect(view: ObjectView, event: Event) -> str | None:
    if not event.has_sensor_data:
        return None
    attrs = view.attributes
    for element in event.raw.get("sensorElementList") or ():
        for report in element.get("sensorReport") or ():
            kind = report.get("type")
            value = report.get("value")
            if not isinstance(kind, str) or isinstance(value, bool):
                continue
            if not isinstance(value, int | float):
                continue
            if kind.startswith("gs1:"):
                kind = kind[4:]
            key = _MEASURES.get((kind, report.get("uom")))
            if key is not None:
                attrs[key] = value
    attrs[ATTR_INSPECTED_AT] = event.event_time.isoformat()
    return None


def _destroy(view: ObjectView, event: Event) -> str | None:
    _set(view, S.DISPOSED)
    return None


def _recode_input(view: ObjectView, event: Event) -> str | None:
    _set(view, S.CASCADE_USE)
    if event.output_epcs:
        view.attributes[ATTR_RECODED_AS] = event.output_epcs[0]
    return None


def _recode_output(view: ObjectView, event: Event) -> str | None:
    # The re-coding transformation is the new code's commissioning (docs/epcis-mapping.md).
    if view.commissioned:
        return "commissioned again; the code was already commissioned"
    view.commissioned = True
    _set(view, S.CASCADE_USE)
    _ilmd_attributes(view, event)
    view.attributes[ATTR_ORIGINALS] = list(event.input_epcs)
    return None


def _dismantle_input(view: ObjectView, event: Event) -> str | None:
    view.parent = None
    view.vehicle = None
    _set(view, S.DISMANTLED)
    return None


def _dismantle_output(view: ObjectView, event: Event) -> str | None:
    # A module freed from its pack: "removed" (taken out of a composite, CBV removing).
    view.parent = None
    view.vehicle = None
    _set(view, S.REMOVED)
    return None


def _recycle_input(view: ObjectView, event: Event) -> str | None:
    view.parent = None
    view.vehicle = None
    _set(view, S.RECYCLED)
    return None


def _new_lot(view: ObjectView, event: Event) -> str | None:
    # A serialised output lot of recycling is a new object, commissioned by the transformation.
    view.commissioned = True
    _set(view, S.PRODUCED)
    _ilmd_attributes(view, event)
    return None


@dataclass(frozen=True, slots=True)
class _Rule:
    handler: Handler | None
    holder: int = _SITE
    commissions: bool = False  # the event is this object's commissioning
    fits_child: bool = False  # the handler reports on unusable children itself


_GENERIC = _Rule(None)
_RULES: dict[tuple[str, str | None, str | None, str], _Rule] = {}


def _rule(
    types: Iterable[str],
    actions: Iterable[str | None],
    steps: Iterable[str],
    role: str,
    rule: _Rule,
) -> None:
    for t in types:
        for a in actions:
            for s in steps:
                _RULES[(t, a, s, role)] = rule


_OBJ = ("ObjectEvent",)
_ASSOC = ("AssociationEvent", "AggregationEvent")
_XF = ("TransformationEvent",)
_ADD = ("ADD",)
_SEEN = ("OBSERVE", "ADD")
_NO_ACTION = (None,)

_rule(_OBJ, _ADD, ("commissioning",), "epc", _Rule(_commission, commissions=True))
_rule(_ASSOC, _ADD, ("assembling",), "child", _Rule(_assemble_child, fits_child=True))
_rule(
    _ASSOC, ("DELETE",), ("assembling", "removing", "disassembling"), "child", _Rule(_detach_child)
)
_rule(_ASSOC, _ADD, ("installing",), "child", _Rule(_install_child, fits_child=True))
_rule(_ASSOC, _ADD, ("replacing",), "child", _Rule(_replace_child, fits_child=True))
_rule(_ASSOC, _ADD, ("installing", "replacing"), "parent", _Rule(_fit_parent))
_rule(_ASSOC, ("DELETE",), ("removing",), "parent", _Rule(_detach_parent))
_rule(_OBJ, _SEEN, ("retail_selling", vocab.BIZSTEP_SELLING), "epc", _Rule(_sell))
_rule(_OBJ, _SEEN, ("decommissioning",), "epc", _Rule(_decommission))
_rule(_OBJ, _SEEN, (vocab.BIZSTEP_SCRAPPING,), "epc", _Rule(_scrap))
_rule(_OBJ, _SEEN, ("shipping",), "epc", _Rule(_ship, holder=_KEEP))
_rule(_OBJ, _SEEN, ("receiving", "accepting"), "epc", _Rule(_receive, holder=_RECEIVER))
_rule(_OBJ, _SEEN, ("collecting",), "epc", _Rule(_collect, holder=_RECEIVER))
_rule(_OBJ, _SEEN, ("inspecting", "sensor_reporting"), "epc", _Rule(_inspect))
_rule(_OBJ, _SEEN, ("destroying",), "epc", _Rule(_destroy))
_rule(_XF, _NO_ACTION, (vocab.BIZSTEP_RECODING,), "input", _Rule(_recode_input))
_rule(_XF, _NO_ACTION, (vocab.BIZSTEP_RECODING,), "output", _Rule(_recode_output, commissions=True))
_rule(_XF, _NO_ACTION, ("disassembling",), "input", _Rule(_dismantle_input))
_rule(_XF, _NO_ACTION, ("disassembling",), "output", _Rule(_dismantle_output))
_rule(_XF, _NO_ACTION, (vocab.BIZSTEP_RECYCLING,), "input", _Rule(_recycle_input))
_rule(_XF, _NO_ACTION, (vocab.BIZSTEP_RECYCLING,), "output", _Rule(_new_lot, commissions=True))


# What one (event, role) means for every object in it: the rule, the location and the new
# holder (None: keep). Events name many objects in a row (100 cells), so the last one is kept;
# the reference to the event makes the identity test safe.
_Plan = tuple[object, str, _Rule, str | None, str | None]
_plan: _Plan = (None, "", _GENERIC, None, None)


def _plan_for(event: Event, role: str) -> _Plan:
    global _plan
    rule = _RULES.get((event.event_type, event.action, event.biz_step, role), _GENERIC)
    where = event.biz_location or event.read_point
    holder: str | None = None
    if rule.holder == _SITE:
        holder = _party(where) if where is not None else None
    elif rule.holder == _RECEIVER:
        holder = event.destination_possessor
        if holder is None and where is not None:
            holder = _party(where)
    _plan = (event, role, rule, where, holder)
    return _plan


def apply(view: ObjectView, event: Event, role: str) -> list[str]:
    """Fold ``event`` (in which ``view.epc`` plays ``role``) into ``view``.

    Returns the inconsistency reasons (usually none). Events carrying an ``errorDeclaration``
    are skipped: the ledger keeps them, but they no longer count.
    """
    if event.error_declaration is not None:
        return []
    plan = _plan
    if plan[0] is not event or plan[1] != role:
        plan = _plan_for(event, role)
    _, _, rule, where, holder = plan
    reasons: list[str] = []
    state = view.state
    if view.last_event_time is None:
        if view.kind == S.BATTERY and not rule.commissions:
            reasons.append(f"first event is {_step(event)}, not its commissioning")
    elif state in S.TERMINAL and not rule.fits_child:
        reasons.append(f"{_step(event)} after the object was {state}")

    if rule.handler is not None:
        reason = rule.handler(view, event)
        if reason is not None:
            reasons.append(reason)

    if where is not None:
        view.location = where
    if holder is not None:
        view.holder = holder
    t = event.event_time
    if view.first_event_time is None or t < view.first_event_time:
        view.first_event_time = t
    if view.last_event_time is None or t >= view.last_event_time:
        view.last_event_time = t
        view.last_event_id = event.event_id or None
    return reasons


def replay(
    epc: str, events_with_roles: Iterable[tuple[Event, str]]
) -> tuple[ObjectView, list[tuple[str, str]]]:
    """Rebuild the view of ``epc`` from all its events (any order) and their roles.

    Sorting is by (event time, given order), so give events in capture order: two events with
    the same time then apply in the order they were received. Returns the view and the
    inconsistencies as (event_id, reason).
    """
    ordered = sorted(events_with_roles, key=lambda pair: pair[0].event_time)  # stable
    view = new_view(epc)
    found: list[tuple[str, str]] = []
    for event, role in ordered:
        for reason in apply(view, event, role):
            found.append((event.event_id, reason))
    return view, found


def apply_event(event: Event, views: MutableMapping[str, ObjectView]) -> list[tuple[str, str]]:
    """Apply ``event`` to the views of every object it names, creating missing views.

    Returns the inconsistencies as (epc, reason).
    """
    found: list[tuple[str, str]] = []
    for epc, role in event.epcs_with_roles():
        view = views.get(epc)
        if view is None:
            view = views[epc] = new_view(epc)
        for reason in apply(view, event, role):
            found.append((epc, reason))
    return found
