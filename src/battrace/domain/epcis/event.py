"""The validated EPCIS 2.0 event that the rest of battrace works with.

:func:`parse_event` turns one untrusted JSON object into an :class:`Event` or raises
:class:`~battrace.domain.errors.EventError` naming the field path (``eventList[3].epcList[0]``) and
the reason. The original JSON object is kept unchanged in ``Event.raw``: the ledger stores events
*as captured*, and the Event Hash ID is computed from that object, never from this summary.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from battrace.domain.epcis import vocab
from battrace.domain.errors import EventError, InvalidInput

_OFFSET = re.compile(r"^[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00)$")
# xsd:dateTimeStamp: the offset is mandatory.
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
# No whitespace and no control characters (PostgreSQL text cannot even store NUL).
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s\x00-\x1f\x7f]+$")
_UOM = re.compile(r"^[A-Z0-9]{2,3}$")

#: How far into the future an eventTime may lie (clock skew between enterprise and platform).
DEFAULT_FUTURE_TOLERANCE = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Quantity:
    epc_class: str
    quantity: float | None
    uom: str | None


@dataclass(frozen=True, slots=True)
class Party:
    """An entry of sourceList/destinationList; ``type`` is the bare CBV word or a URI."""

    type: str
    id: str


@dataclass(slots=True)
class Event:
    """A validated event. Identifier lists keep document order."""

    raw: Mapping[str, Any]
    event_type: str
    event_time: datetime  # aware, UTC
    time_zone_offset: str
    action: str | None = None
    biz_step: str | None = None  # bare CBV word, or a full URI for private steps
    disposition: str | None = None
    read_point: str | None = None
    biz_location: str | None = None
    epc_list: tuple[str, ...] = ()
    parent_id: str | None = None
    child_epcs: tuple[str, ...] = ()
    input_epcs: tuple[str, ...] = ()
    output_epcs: tuple[str, ...] = ()
    quantities: tuple[Quantity, ...] = ()
    child_quantities: tuple[Quantity, ...] = ()
    input_quantities: tuple[Quantity, ...] = ()
    output_quantities: tuple[Quantity, ...] = ()
    sources: tuple[Party, ...] = ()
    destinations: tuple[Party, ...] = ()
    biz_transactions: tuple[Party, ...] = ()
    has_sensor_data: bool = False
    ilmd: Mapping[str, Any] | None = None
    error_declaration: Mapping[str, Any] | None = None
    event_id: str = ""  # the Event Hash ID, filled in by the capture service
    extra: dict[str, Any] = field(default_factory=dict)
    _roles: tuple[tuple[str, str], ...] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def epcs_with_roles(self) -> list[tuple[str, str]]:
        """Every instance-level identifier the event names, with its role.

        Roles: ``epc`` (epcList), ``parent``, ``child``, ``input``, ``output``. (Computed once:
        capture, authorisation, projection and alerts all ask; the identifier lists are fixed
        once the event is parsed.)
        """
        roles = self._roles
        if roles is None:
            out = [(e, "epc") for e in self.epc_list]
            if self.parent_id:
                out.append((self.parent_id, "parent"))
            out.extend((e, "child") for e in self.child_epcs)
            out.extend((e, "input") for e in self.input_epcs)
            out.extend((e, "output") for e in self.output_epcs)
            roles = self._roles = tuple(out)
        return list(roles)

    @property
    def source_owner(self) -> str | None:
        return _first(self.sources, "owning_party")

    @property
    def destination_owner(self) -> str | None:
        return _first(self.destinations, "owning_party")

    @property
    def source_possessor(self) -> str | None:
        return _first(self.sources, "possessing_party")

    @property
    def destination_possessor(self) -> str | None:
        return _first(self.destinations, "possessing_party")


def _first(parties: Sequence[Party], kind: str) -> str | None:
    for p in parties:
        if p.type == kind:
            return p.id
    return None


UriCheck = Callable[[str, str], None]
"""``check(uri, field_path)`` raises :class:`InvalidInput` for an identifier that is not acceptable."""


def _no_check(uri: str, path: str) -> None:
    return None


def parse_timestamp(value: object, path: str) -> datetime:
    """Parse an xsd:dateTimeStamp (offset mandatory) into an aware UTC datetime."""
    if not isinstance(value, str):
        raise EventError(path, "must be a string timestamp with a UTC offset")
    if not _TIMESTAMP.match(value):
        raise EventError(
            path,
            f"{value!r} is not an ISO 8601 timestamp with a UTC offset (e.g. 2025-03-01T08:00:00+08:00)",
        )
    text = value
    # Python accepts at most 6 fractional digits: drop nanoseconds (the hash keeps milliseconds).
    dot = text.find(".")
    if dot != -1:
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        if end - dot > 7:
            text = text[: dot + 7] + text[end:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise EventError(path, f"{value!r} is not a valid date and time ({exc})") from None
    return parsed.astimezone(UTC)


def _str(obj: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise EventError(f"{path}.{key}", "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise EventError(f"{path}.{key}", "must be a non-empty string")
    return value.strip()


# URIs that passed _uri() unchanged, per check: the verdict on an identifier does not depend on
# where it occurs, and the same batteries, sites and parties recur in event after event, so a
# bulk capture validates each one once. Bounded; only exact, already-stripped strings go in.
_ACCEPTED: dict[UriCheck, set[str]] = {}
_ACCEPTED_MAX = 200_000


def _accepted(check: UriCheck) -> set[str]:
    found = _ACCEPTED.get(check)
    if found is None:
        if len(_ACCEPTED) >= 16:
            _ACCEPTED.clear()
        found = _ACCEPTED[check] = set()
    elif len(found) >= _ACCEPTED_MAX:
        found.clear()
    return found


def _uri(value: object, path: str, check: UriCheck) -> str:
    if type(value) is str and value in _accepted(check):
        return value
    if not isinstance(value, str):
        raise EventError(path, "must be a URI string")
    text = value.strip()
    if not _URI.match(text):
        raise EventError(path, f"{text[:80]!r} is not a URI")
    check(text, path)
    if text == value:
        _accepted(check).add(text)
    return text


def _uri_list(obj: Mapping[str, Any], key: str, path: str, check: UriCheck) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise EventError(f"{path}.{key}", "must be a list of URIs")
    accepted = _accepted(check)
    try:
        if accepted.issuperset(value):
            return tuple(value)
    except TypeError:  # an unhashable item: the item-by-item path names it
        pass
    out: list[str] = []
    for i, v in enumerate(value):
        if type(v) is str and v in accepted:
            out.append(v)
        else:
            out.append(_uri(v, f"{path}.{key}[{i}]", check))
    return tuple(out)


def _quantities(obj: Mapping[str, Any], key: str, path: str) -> tuple[Quantity, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise EventError(f"{path}.{key}", "must be a list of quantity elements")
    out = []
    for i, q in enumerate(value):
        p = f"{path}.{key}[{i}]"
        if not isinstance(q, dict):
            raise EventError(p, "must be an object with epcClass, quantity and uom")
        cls = _uri(q.get("epcClass"), f"{p}.epcClass", _no_check)
        qty = q.get("quantity")
        if qty is not None and (isinstance(qty, bool) or not isinstance(qty, int | float)):
            raise EventError(f"{p}.quantity", "must be a number")
        if qty is not None and qty < 0:
            raise EventError(f"{p}.quantity", "must not be negative")
        uom = q.get("uom")
        if uom is not None and (not isinstance(uom, str) or not _UOM.match(uom)):
            raise EventError(f"{p}.uom", "must be a UN/CEFACT Rec 20 code such as KGM")
        out.append(Quantity(cls, None if qty is None else float(qty), uom))
    return tuple(out)


def _parties(obj: Mapping[str, Any], key: str, path: str, check: UriCheck) -> tuple[Party, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise EventError(f"{path}.{key}", "must be a list")
    inner = {"sourceList": "source", "destinationList": "destination"}.get(key, "bizTransaction")
    kind = "btt" if inner == "bizTransaction" else "sdt"
    out = []
    item_check = check if inner != "bizTransaction" else _no_check
    accepted = _accepted(item_check)
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise EventError(f"{path}.{key}[{i}]", "must be an object")
        ident = item.get(inner)
        if type(ident) is not str or ident not in accepted:
            ident = _uri(ident, f"{path}.{key}[{i}].{inner}", item_check)
        typ = item.get("type")
        if typ is not None and typ.__class__ is str:
            known = _PARTY_TYPES.get((kind, typ))
            if known is not None:
                out.append(Party(known, ident))
                continue
        p = f"{path}.{key}[{i}]"
        if typ is None and inner != "bizTransaction":
            raise EventError(
                f"{p}.type", "is required (owning_party, possessing_party or location)"
            )
        if typ is not None:
            if not isinstance(typ, str):
                raise EventError(f"{p}.type", "must be a string")
            given = typ
            typ = vocab.short_cbv(kind, typ)
            allowed = vocab.BIZ_TRANSACTION_TYPES if kind == "btt" else vocab.SOURCE_DEST_TYPES
            if typ not in allowed and ":" not in typ:
                raise EventError(f"{p}.type", f"{typ!r} is not a CBV type")
            if len(_PARTY_TYPES) < 4096:
                _PARTY_TYPES[(kind, given)] = typ
        out.append(Party(typ or "", ident))
    return tuple(out)


# (btt|sdt, type as written) -> accepted short type: a handful of spellings recur in every event.
_PARTY_TYPES: dict[tuple[str, str], str] = {}


def _parent_id(raw: Mapping[str, Any], path: str, check: UriCheck) -> str | None:
    value = raw.get("parentID")
    if value is None:
        return None
    if type(value) is str and value in _accepted(check):
        return value
    return _uri(value, f"{path}.parentID", check)


def _vocab_value(obj: Mapping[str, Any], key: str, path: str, kind: str) -> str | None:
    given = obj.get(key)
    if type(given) is str:
        found = _VOCAB_WORDS.get((kind, given))
        if found is not None:
            return found
    value = _str(obj, key, path)
    if value is None:
        return None
    word = vocab.short_cbv(kind, value)
    allowed = vocab.BIZ_STEPS if kind == "bizstep" else vocab.DISPOSITIONS
    if word not in allowed and not _URI.match(word):
        raise EventError(f"{path}.{key}", f"{value!r} is neither a CBV {key} nor a URI")
    if len(_VOCAB_WORDS) < 4096:
        _VOCAB_WORDS[(kind, given)] = word
    return word


# (bizstep|disp, value as written) -> accepted word: steps and dispositions are a small set.
_VOCAB_WORDS: dict[tuple[str, Any], str] = {}


def _location(obj: Mapping[str, Any], key: str, path: str, check: UriCheck) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise EventError(f"{path}.{key}", "must be an object with an id")
    ident = value.get("id")
    if type(ident) is str and ident in _accepted(check):
        return ident
    return _uri(ident, f"{path}.{key}.id", check)


def parse_event(
    raw: object,
    path: str = "event",
    *,
    now: datetime | None = None,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
    check_uri: UriCheck = _no_check,
) -> Event:
    """Validate one EPCIS 2.0 event (JSON object) and summarise it.

    ``check_uri`` validates identifiers against battrace's identity rules (GB/T 34014, VIN, USCC …);
    the default accepts any URI so this module has no dependency on those rules.
    """
    if not isinstance(raw, dict):
        raise EventError(path, "must be a JSON object")
    typ = raw.get("type")
    if typ not in vocab.EVENT_TYPES:
        raise EventError(
            f"{path}.type",
            f"{typ!r} is not an EPCIS 2.0 event type ({', '.join(sorted(vocab.EVENT_TYPES))})",
        )
    event_time = parse_timestamp(raw.get("eventTime"), f"{path}.eventTime")
    reference_now = now or datetime.now(UTC)
    if event_time > reference_now + future_tolerance:
        raise EventError(f"{path}.eventTime", f"{raw['eventTime']} lies in the future")
    offset = raw.get("eventTimeZoneOffset")
    if not isinstance(offset, str) or not _OFFSET.match(offset):
        raise EventError(f"{path}.eventTimeZoneOffset", "is required, e.g. +08:00")

    action = raw.get("action")
    if typ == "TransformationEvent":
        if action is not None:
            raise EventError(f"{path}.action", "is not allowed on a TransformationEvent")
    elif action not in vocab.ACTIONS:
        raise EventError(f"{path}.action", "is required: ADD, OBSERVE or DELETE")

    try:
        ev = Event(
            raw=raw,
            event_type=typ,
            event_time=event_time,
            time_zone_offset=offset,
            action=action,
            biz_step=_vocab_value(raw, "bizStep", path, "bizstep"),
            disposition=_vocab_value(raw, "disposition", path, "disp"),
            read_point=_location(raw, "readPoint", path, check_uri),
            biz_location=_location(raw, "bizLocation", path, check_uri),
            epc_list=_uri_list(raw, "epcList", path, check_uri),
            parent_id=_parent_id(raw, path, check_uri),
            child_epcs=_uri_list(raw, "childEPCs", path, check_uri),
            input_epcs=_uri_list(raw, "inputEPCList", path, check_uri),
            output_epcs=_uri_list(raw, "outputEPCList", path, check_uri),
            quantities=_quantities(raw, "quantityList", path),
            child_quantities=_quantities(raw, "childQuantityList", path),
            input_quantities=_quantities(raw, "inputQuantityList", path),
            output_quantities=_quantities(raw, "outputQuantityList", path),
            sources=_parties(raw, "sourceList", path, check_uri),
            destinations=_parties(raw, "destinationList", path, check_uri),
            biz_transactions=_parties(raw, "bizTransactionList", path, check_uri),
        )
    except InvalidInput:
        raise
    _check_shape(ev, raw, path)
    return ev


def _check_shape(ev: Event, raw: Mapping[str, Any], path: str) -> None:
    """The per-type 'at least one of' rules of the EPCIS 2.0 JSON Schema (epcis.md §1.2)."""
    sensors = raw.get("sensorElementList")
    if sensors is not None:
        if not isinstance(sensors, list) or not all(isinstance(s, dict) for s in sensors):
            raise EventError(f"{path}.sensorElementList", "must be a list of sensorElement objects")
        for i, s in enumerate(sensors):
            reports = s.get("sensorReport")
            if not isinstance(reports, list) or not reports:
                raise EventError(
                    f"{path}.sensorElementList[{i}].sensorReport", "must be a non-empty list"
                )
            if not all(isinstance(r, dict) for r in reports):
                raise EventError(f"{path}.sensorElementList[{i}].sensorReport", "must hold objects")
        ev.has_sensor_data = True
    ilmd = raw.get("ilmd")
    if ilmd is not None:
        if not isinstance(ilmd, dict):
            raise EventError(f"{path}.ilmd", "must be an object")
        if ev.event_type == "ObjectEvent" and ev.action != "ADD":
            raise EventError(f"{path}.ilmd", "is allowed only with action ADD")
        if ev.event_type not in ("ObjectEvent", "TransformationEvent"):
            raise EventError(f"{path}.ilmd", f"is not allowed on an {ev.event_type}")
        ev.ilmd = ilmd
    err = raw.get("errorDeclaration")
    if err is not None:
        if not isinstance(err, dict):
            raise EventError(f"{path}.errorDeclaration", "must be an object")
        parse_timestamp(err.get("declarationTime"), f"{path}.errorDeclaration.declarationTime")
        reason = err.get("reason")
        if reason is not None and (
            not isinstance(reason, str)
            or (vocab.short_cbv("er", reason) not in vocab.ERROR_REASONS and not _URI.match(reason))
        ):
            raise EventError(
                f"{path}.errorDeclaration.reason", "must be did_not_occur, incorrect_data or a URI"
            )
        ids = err.get("correctiveEventIDs")
        if ids is not None and (
            not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)
        ):
            raise EventError(
                f"{path}.errorDeclaration.correctiveEventIDs", "must be a list of event IDs"
            )
        ev.error_declaration = err

    deleting = ev.action == "DELETE"
    t = ev.event_type
    if t == "ObjectEvent":
        if not (ev.epc_list or ev.quantities or (sensors and ev.read_point)):
            raise EventError(
                path, "an ObjectEvent needs epcList, quantityList or sensor data with readPoint"
            )
    elif t in ("AggregationEvent", "AssociationEvent"):
        if t == "AssociationEvent" and not ev.parent_id:
            raise EventError(f"{path}.parentID", "is required on an AssociationEvent")
        if not deleting and not (ev.child_epcs or ev.child_quantities):
            raise EventError(f"{path}.childEPCs", "childEPCs or childQuantityList is required")
    elif t == "TransactionEvent":
        if not ev.biz_transactions:
            raise EventError(f"{path}.bizTransactionList", "is required on a TransactionEvent")
        if not deleting and not (ev.epc_list or ev.quantities):
            raise EventError(f"{path}.epcList", "epcList or quantityList is required")
    else:  # TransformationEvent
        has_in = bool(ev.input_epcs or ev.input_quantities)
        has_out = bool(ev.output_epcs or ev.output_quantities)
        tid = raw.get("transformationID")
        if not ((has_in and has_out) or (tid and (has_in or has_out))):
            raise EventError(
                path,
                "a TransformationEvent needs inputs and outputs, or a transformationID with either",
            )
