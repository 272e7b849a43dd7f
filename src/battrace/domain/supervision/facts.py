"""Facts: the few things about each event that the regulation rules look at.

The engine does not re-read EPCIS events: one event becomes one compact :class:`Fact` per object it
is about (the *subject*: a battery or a vehicle), with its times as integers, the business step
reduced to a short word, the reporting enterprise, and the one counter-party or site a rule needs
(the receiver of a shipment, the sender named in a receipt, the vehicle a pack leaves). The capture
path and the rebuild-from-ledger path both build facts with :func:`build_facts`, so the incremental
engine and a full re-evaluation see exactly the same input.

Which objects get a fact: batteries in events whose step a rule can bind (installing, removing,
scrapping, retiring, shipping, receiving, collecting, inspecting, re-coding, dismantling,
recycling, destroying, repairing, replacing) and vehicles in installing, replacing, removing and
scrapping. Every event also has exactly one *primary* fact (its first such object, else its first
identifier, else the event itself), on which the reporting deadline is judged once per event.
Commissioning and assembling of cells therefore cost one fact per event, not one per cell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

from battrace.domain.epcis import vocab
from battrace.domain.lifecycle import states as S

# Steps (short, stored): what the event did to the subject.
COMMISSION = "commission"
ASSEMBLE = "assemble"
DETACH = "detach"  # a child taken out of its parent other than a vehicle removal
INSTALL = "install"
REPLACE = "replace"
REMOVE = "remove"
SELL = "sell"
REPAIR = "repair"
SCRAP = "scrap"  # a vehicle scrapped (decommissioning naming a vehicle)
RETIRE = "retire"  # a battery decommissioned on its own
SHIP = "ship"
RECEIVE = "receive"
COLLECT = "collect"
INSPECT = "inspect"
RECODE = "recode"
DISMANTLE = "dismantle"
RECYCLE = "recycle"
DESTROY = "destroy"
OTHER = "other"
#: Every step a fact can have.
STEPS = (
    COMMISSION, ASSEMBLE, DETACH, INSTALL, REPLACE, REMOVE, SELL, REPAIR, SCRAP, RETIRE, SHIP,
    RECEIVE, COLLECT, INSPECT, RECODE, DISMANTLE, RECYCLE, DESTROY, OTHER,
)  # fmt: skip

#: Steps that make a battery a subject (a fact per battery named). Commissioning makes only packs
#: subjects (the statistics count packs; a commissioning of 100 cells stays one fact).
BATTERY_STEPS = frozenset(
    {
        SELL,
        INSTALL,
        REPLACE,
        REMOVE,
        REPAIR,
        SCRAP,
        RETIRE,
        SHIP,
        RECEIVE,
        COLLECT,
        INSPECT,
        RECODE,
        DISMANTLE,
        RECYCLE,
        DESTROY,
    }
)
#: Steps that make a vehicle a subject.
VEHICLE_STEPS = frozenset({INSTALL, REPLACE, REMOVE, SCRAP})
#: Steps in which the reporter has the battery in its hands (custody).
CUSTODY_STEPS = frozenset({RECEIVE, COLLECT, INSPECT, RECODE, DISMANTLE, RECYCLE, DESTROY})
#: Steps that process a battery in a recycling channel (its end as a battery, or a new life).
PROCESSING_STEPS = frozenset({RECODE, DISMANTLE, RECYCLE, DESTROY})
#: Receipts.
RECEIPT_STEPS = frozenset({RECEIVE, COLLECT})

EVENT_SUBJECT_PREFIX = "event:"
_ROLE_ORDER = {"epc": 0, "parent": 1, "child": 2, "input": 3, "output": 4}

_OBJECT_STEPS = {
    "retail_selling": SELL,
    vocab.BIZSTEP_SELLING: SELL,
    "repairing": REPAIR,
    "shipping": SHIP,
    "receiving": RECEIVE,
    "accepting": RECEIVE,
    "collecting": COLLECT,
    "inspecting": INSPECT,
    "sensor_reporting": INSPECT,
    "destroying": DESTROY,
    vocab.BIZSTEP_SCRAPPING: SCRAP,
}
_TRANSFORMATION_STEPS = {
    vocab.BIZSTEP_RECODING: RECODE,
    "disassembling": DISMANTLE,
    vocab.BIZSTEP_RECYCLING: RECYCLE,
}


class Fact(NamedTuple):
    """One event as seen from one subject. Times are microseconds since the epoch (UTC)."""

    subject: str
    event_seq: int
    role: str
    capture_seq: int
    position: int
    event_time: int
    record_time: int
    step: str
    reporter: str  # bare USCC
    party: str | None  # see module doc: receiver, sender, vehicle or pack
    site: str | None  # bizLocation (or readPoint)
    kg: float | None  # mass of the battery as known when a receipt was captured
    primary: bool


def classify(event_type: str, action: str | None, biz_step: str | None, names_vehicle: bool) -> str:
    """The step of an event, from its type, action and (bare or private) bizStep."""
    step = biz_step or ""
    if event_type == "ObjectEvent":
        if step == "commissioning":
            return COMMISSION if action == "ADD" else OTHER
        if step == "decommissioning":
            return SCRAP if names_vehicle else RETIRE
        return _OBJECT_STEPS.get(step, OTHER)
    if event_type in ("AssociationEvent", "AggregationEvent"):
        if action == "ADD":
            return {"assembling": ASSEMBLE, "installing": INSTALL, "replacing": REPLACE}.get(
                step, OTHER
            )
        if action == "DELETE":
            if step == "removing":
                return REMOVE
            if step in ("assembling", "disassembling"):
                return DETACH
        return OTHER
    if event_type == "TransformationEvent":
        return _TRANSFORMATION_STEPS.get(step, OTHER)
    return OTHER


def bare_party(uri: str | None) -> str | None:
    """``urn:uscc:X`` (or a site of X) → ``X``; other identifiers → None."""
    if uri is None or not uri.startswith(S.PARTY_URN):
        return None
    party = S.party_of(uri)
    return None if party is None else party[len(S.PARTY_URN) :]


def parties_from_body(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """(sender, receiver) USCCs named in a raw event's sourceList / destinationList.

    The possessing party wins over the owning party: custody is what the rules supervise.
    """

    def pick(items: Any, key: str) -> str | None:
        if not isinstance(items, list):
            return None
        found: dict[str, str] = {}
        for item in items:
            if isinstance(item, dict) and isinstance(item.get(key), str):
                typ = item.get("type")
                found.setdefault(
                    vocab.short_cbv("sdt", typ) if isinstance(typ, str) else "", item[key]
                )
        uri = found.get("possessing_party") or found.get("owning_party")
        return bare_party(uri)

    return pick(body.get("sourceList"), "source"), pick(body.get("destinationList"), "destination")


def build_facts(
    *,
    event_seq: int,
    capture_seq: int,
    position: int,
    event_time: int,
    record_time: int,
    event_type: str,
    action: str | None,
    biz_step: str | None,
    reporter: str,
    location: str | None,
    epcs: Sequence[tuple[str, str]],
    sender: str | None,
    receiver: str | None,
    mass_of: Callable[[str], float | None] | None = None,
) -> list[Fact]:
    """The facts of one stored (non-declaration) event; see the module doc.

    Identifiers are taken in a canonical order (role, then identifier), not document order: the
    event's identifier index in the ledger is a set, and a fact rebuilt from it must be the same
    fact the capture path built.
    """
    epcs = sorted(set(epcs), key=lambda p: (_ROLE_ORDER.get(p[1], 9), p[0]))
    vehicles = [e for e, _ in epcs if S.kind_of(e) == S.VEHICLE]
    step = classify(event_type, action, biz_step, bool(vehicles))
    batteries = [(e, r) for e, r in epcs if S.kind_of(e) == S.BATTERY]
    first_battery = batteries[0][0] if batteries else None
    party_for_step: str | None = None
    if step == SHIP:
        party_for_step = receiver
    elif step in RECEIPT_STEPS:
        party_for_step = sender
    out: list[Fact] = []

    def add(subject: str, role: str, party: str | None, kg: float | None = None) -> None:
        out.append(
            Fact(
                subject,
                event_seq,
                role,
                capture_seq,
                position,
                event_time,
                record_time,
                step,
                reporter,
                party,
                location,
                kg,
                not out,
            )
        )

    if step == COMMISSION:
        for epc, role in batteries:
            if is_pack(epc):
                add(epc, role, None)
    if step in BATTERY_STEPS:
        vehicle = vehicles[0] if vehicles else None
        for epc, role in batteries:
            party = vehicle if step in (INSTALL, REPLACE, REMOVE, SCRAP) else party_for_step
            kg = mass_of(epc) if mass_of is not None and step in RECEIPT_STEPS else None
            add(epc, role, party, kg)
    if step in VEHICLE_STEPS:
        for epc, role in epcs:
            if S.kind_of(epc) == S.VEHICLE:
                add(epc, role, first_battery)
    if not out:
        if epcs:
            add(epcs[0][0], epcs[0][1], party_for_step)
        else:
            add(f"{EVENT_SUBJECT_PREFIX}{event_seq}", "none", party_for_step)
    return out


def is_pack(epc: str) -> bool:
    """A GB/T 34014 pack code (product type ``P``), original or cascade-use."""
    return (
        epc.startswith(S.BATTERY_URN)
        and epc[len(S.BATTERY_URN) + 3 : len(S.BATTERY_URN) + 4] == "P"
    )


def sort_key(fact: Fact) -> tuple[int, int, int]:
    """Event-time order, ties in the order the ledger received them."""
    return (fact.event_time, fact.capture_seq, fact.position)


def knowledge_key(fact: Fact) -> tuple[int, int]:
    """The order in which the ledger learnt the facts."""
    return (fact.capture_seq, fact.position)


# The same keys as C-level getters (no Python frame per call), for the engine's hot loops.
#: :func:`sort_key`: (event_time, capture_seq, position).
TIME_ORDER = itemgetter(5, 3, 4)
#: :func:`knowledge_key`: (capture_seq, position).
LEDGER_ORDER = itemgetter(3, 4)
#: The order in which facts became known: (record_time, capture_seq, position).
RECORD_ORDER = itemgetter(6, 3, 4)


def known(facts: Iterable[Fact], as_of: int | None) -> list[Fact]:
    return [f for f in facts if as_of is None or f.record_time <= as_of]
