"""The simulator's most frequent events, built as :mod:`battrace.domain.lifecycle.builders` builds
them — same keys in the same order, same values — but without the builders' per-call argument
checks and normalisation, which the engine's own, well-formed arguments do not need.

Production, logistics, installation and sale make > 99 % of a run's events; the rarer steps
still go through the builders. ``tests/unit/test_simulate_events.py`` checks every function here
against its builder (serialised bytes, so key order counts too).

Callers pass what the engine already has: battery identifiers as URIs (:func:`uri`), site and
party URIs, and times in China time (``CST``, +08:00: the offset every event is written with).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from battrace.domain.epcis.vocab import BATTRACE_PREFIX
from battrace.domain.lifecycle import builders as b
from battrace.domain.lifecycle.states import BATTERY_URN, VEHICLE_URN

Event = dict[str, Any]

#: China time: the engine's times, and the offset events are written with.
CST = timezone(timedelta(hours=8))
_OFFSET = b.DEFAULT_OFFSET  # "+08:00"
_P = BATTRACE_PREFIX + ":"
_DESADV = "urn:battrace:desadv:"
_INVOICE = "urn:battrace:invoice:"


def uri(code: str) -> str:
    """A battery URI from a bare code (URIs pass unchanged), as the builders write it."""
    return code if ":" in code else BATTERY_URN + code


def uris(codes: Iterable[str]) -> list[str]:
    return [c if ":" in c else BATTERY_URN + c for c in codes]


def vehicle(vin: str) -> str:
    return vin if ":" in vin else VEHICLE_URN + vin


def _document(number: str, urn: str) -> str:
    return number if ":" in number else urn + number


# ISO 8601 pieces: a day's date (cached as days come), hour and minute, second, milliseconds with
# the offset. Joined, they are datetime.isoformat(timespec="milliseconds") of a China time at a
# fifth of its cost (two a line: eventTime, recordTime).
_DAYS: dict[int, str] = {}
_HOURS_MINUTES = tuple(f"T{h:02d}:{m:02d}:" for h in range(24) for m in range(60))
_SECONDS = tuple(f"{s:02d}" for s in range(60))
_MILLIS = tuple(f".{ms:03d}{_OFFSET}" for ms in range(1000))


def iso(time: datetime) -> str:
    """``time.isoformat(timespec="milliseconds")``."""
    if time.tzinfo is not CST:
        return time.isoformat(timespec="milliseconds")
    # Inline (no helper call): once an event.
    day = _DAYS.get(time.toordinal())
    if day is None:
        if len(_DAYS) > 100_000:
            _DAYS.clear()
        day = _DAYS[time.toordinal()] = time.date().isoformat()
    return (
        f"{day}{_HOURS_MINUTES[time.hour * 60 + time.minute]}{_SECONDS[time.second]}"
        f"{_MILLIS[time.microsecond // 1000]}"
    )


def stamp(time: datetime) -> str:
    """``eventTime`` as :func:`builders.timestamp` writes it (in +08:00, milliseconds)."""
    return iso(time) if time.tzinfo is CST else b.timestamp(time)


def ilmd(attributes: dict[str, Any]) -> dict[str, Any]:
    """Attribute names under the battrace prefix (prefixed names pass unchanged)."""
    return {(k if ":" in k else _P + k): v for k, v in attributes.items()}


def commission(epcs: list[str], site: str, time: datetime, ilmd: dict[str, Any]) -> Event:
    """:func:`builders.commission` of battery URIs ``epcs`` with prefixed ``ilmd``."""
    return {
        "type": "ObjectEvent",
        "eventTime": stamp(time),
        "eventTimeZoneOffset": _OFFSET,
        "epcList": epcs,
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": {"id": site},
        "bizLocation": {"id": site},
        "ilmd": ilmd,
    }


def _association(step: str, parent: str, children: list[str], site: str, time: datetime) -> Event:
    return {
        "type": "AssociationEvent",
        "eventTime": stamp(time),
        "eventTimeZoneOffset": _OFFSET,
        "parentID": parent,
        "childEPCs": children,
        "action": "ADD",
        "bizStep": step,
        "readPoint": {"id": site},
        "bizLocation": {"id": site},
    }


def assemble(parent: str, children: list[str], site: str, time: datetime) -> Event:
    """:func:`builders.assemble` of battery URIs."""
    return _association("assembling", parent, children, site, time)


def install(pack: str, vin: str, site: str, time: datetime) -> Event:
    """:func:`builders.install` of a bare pack code and VIN."""
    return _association("installing", vehicle(vin), [uri(pack)], site, time)


def _parties(uri: str, key: str) -> list[dict[str, str]]:
    return [{"type": "owning_party", key: uri}, {"type": "possessing_party", key: uri}]


_IN_TRANSIT: Final = {"disposition": "in_transit"}


def _handover(
    step: str,
    disposition: dict[str, str],
    epcs: list[str],
    sender: str,
    receiver: str,
    site: str,
    time: datetime,
    desadv: str,
) -> Event:
    return {
        "type": "ObjectEvent",
        "eventTime": stamp(time),
        "eventTimeZoneOffset": _OFFSET,
        "epcList": epcs,
        "action": "OBSERVE",
        "bizStep": step,
        **disposition,  # in the builders' key order: shipping has one, receiving none
        "readPoint": {"id": site},
        "bizLocation": {"id": site},
        "bizTransactionList": [{"type": "desadv", "bizTransaction": _document(desadv, _DESADV)}],
        "sourceList": _parties(sender, "source"),
        "destinationList": _parties(receiver, "destination"),
    }


def ship(
    epcs: list[str], sender: str, receiver: str, site: str, time: datetime, desadv: str
) -> Event:
    """:func:`builders.ship` of battery or vehicle URIs (a list of its own) between party URIs."""
    return _handover("shipping", _IN_TRANSIT, epcs, sender, receiver, site, time, desadv)


def receive(
    epcs: list[str], sender: str, receiver: str, site: str, time: datetime, desadv: str
) -> Event:
    """:func:`builders.receive` of battery or vehicle URIs (a list of its own) between parties."""
    return _handover("receiving", {}, epcs, sender, receiver, site, time, desadv)


def sell(vin: str, pack: str, site: str, time: datetime, invoice: str) -> Event:
    """:func:`builders.sell` of a bare VIN and pack code with an invoice number."""
    return {
        "type": "ObjectEvent",
        "eventTime": stamp(time),
        "eventTimeZoneOffset": _OFFSET,
        "epcList": [vehicle(vin), uri(pack)],
        "action": "OBSERVE",
        "bizStep": "retail_selling",
        "disposition": "retail_sold",
        "readPoint": {"id": site},
        "bizLocation": {"id": site},
        "bizTransactionList": [{"type": "inv", "bizTransaction": _document(invoice, _INVOICE)}],
    }


__all__ = [
    "CST",
    "assemble",
    "commission",
    "ilmd",
    "install",
    "iso",
    "receive",
    "sell",
    "ship",
    "stamp",
    "uri",
    "uris",
    "vehicle",
]
