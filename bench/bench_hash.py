"""Event Hash ID throughput: battrace vs. the reference implementation on the same document.

A deterministic EPCIS document of battery lifecycle events (commissioning, packing into packs,
installation in vehicles, shipping/receiving with business transactions and parties, inspections
with voltage/temperature readings, recycling into material lots) is hashed in-process by the
reference implementation (``epcis-event-hash-generator``, the test-only dependency) and by
:func:`battrace.domain.epcis.hashid.hash_document`; both must give the same list of IDs.

Run: ``python -m bench hash`` (``--quick`` for 2,000 instead of 10,000 events).
"""

from __future__ import annotations

import copy
import gc
import logging
import random
import string
import time
from collections.abc import Callable
from typing import Any

from battrace.domain.epcis import hashid, jsonld

CONTEXT: list[Any] = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"battrace": "https://battrace.org/voc/"},
]
_ALNUM = string.ascii_uppercase + string.digits
_OFFSETS = ("+08:00", "Z", "+00:00", "-05:00", "+05:30", "+09:00", "-03:00")


def _code(rng: random.Random, n: int, alphabet: str = _ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _timestamp(rng: random.Random) -> tuple[str, str]:
    """A local timestamp with 0-6 fractional digits (never a rounding tie) and its offset."""
    offset = rng.choice(_OFFSETS)
    day = rng.randint(1, 28)
    frac_len = rng.choice((0, 0, 3, 3, 3, 1, 2, 4, 6))
    frac = _code(rng, frac_len, string.digits)
    if len(frac) >= 4 and (frac[3] == "5" or (frac[:3] == "999" and frac[3] > "5")):
        # Exact ties and .9995+ are where battrace deliberately differs (hashid.DIFFERENCES…).
        frac = frac[:3] + "4" + frac[4:]
    stamp = (
        f"2024-{rng.randint(1, 12):02d}-{day:02d}T{rng.randint(0, 23):02d}:"
        f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}" + (f".{frac}" if frac else "")
    )
    tz = "+00:00" if offset == "Z" else offset
    return stamp + offset, tz


class BatteryWorld:
    """A small deterministic population of enterprises, sites, packs and vehicles."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        rng = self.rng
        self.enterprises = [_code(rng, 18) for _ in range(12)]
        self.sites = [
            f"urn:uscc:{e}:site:{rng.randint(1, 9)}" for e in self.enterprises for _ in range(2)
        ]
        self.packs = [f"urn:gbt34014:{_code(rng, 24)}" for _ in range(600)]
        self.vins = [f"urn:vin:{_code(rng, 17)}" for _ in range(300)]
        self.orders = [f"urn:battrace:po:{rng.randint(10000, 99999)}" for _ in range(200)]

    def party(self) -> str:
        return "urn:uscc:" + self.rng.choice(self.enterprises)

    def common(self, event_type: str, step: str, disposition: str | None) -> dict[str, Any]:
        rng = self.rng
        stamp, tz = _timestamp(rng)
        event: dict[str, Any] = {
            "type": event_type,
            "eventTime": stamp,
            "eventTimeZoneOffset": tz,
        }
        if rng.random() < 0.3:
            event["recordTime"] = stamp
        event["bizStep"] = step
        if disposition:
            event["disposition"] = disposition
        event["readPoint"] = {"id": rng.choice(self.sites)}
        if rng.random() < 0.7:
            event["bizLocation"] = {"id": rng.choice(self.sites)}
        if rng.random() < 0.5:
            event["battrace:operator"] = f"OP-{rng.randint(1, 400):04d}"
        return event

    def event(self) -> dict[str, Any]:
        rng = self.rng
        roll = rng.random()
        packs = rng.sample(self.packs, rng.randint(1, 6))
        if roll < 0.2:
            event = self.common("ObjectEvent", "commissioning", "active")
            event["epcList"] = packs
            event["action"] = "ADD"
            event["ilmd"] = {
                "battrace:chemistry": rng.choice(("LFP", "NCM811", "NCM523", "LMO")),
                "battrace:nominalCapacityAh": rng.choice((100, 150, 202, 280)),
                "battrace:productionLine": f"L{rng.randint(1, 9)}",
            }
        elif roll < 0.55:
            step, disp = rng.choice(
                (("shipping", "in_transit"), ("receiving", "in_progress"), ("storing", None))
            )
            event = self.common("ObjectEvent", step, disp)
            event["epcList"] = packs
            event["action"] = "OBSERVE"
            event["bizTransactionList"] = [
                {
                    "type": rng.choice(("po", "desadv", "inv")),
                    "bizTransaction": rng.choice(self.orders),
                }
                for _ in range(rng.randint(1, 2))
            ]
            event["sourceList"] = [
                {"type": "owning_party", "source": self.party()},
                {"type": "possessing_party", "source": self.party()},
            ]
            event["destinationList"] = [{"type": "owning_party", "destination": self.party()}]
        elif roll < 0.75:
            event = self.common(
                "ObjectEvent", "inspecting", rng.choice(("conformant", "needs_replacement"))
            )
            event["epcList"] = packs[:1]
            event["action"] = "OBSERVE"
            stamp, _ = _timestamp(rng)
            event["sensorElementList"] = [
                {
                    "sensorMetadata": {"time": stamp},
                    "sensorReport": [
                        {"type": "Voltage", "value": round(rng.uniform(3.0, 3.6), 3), "uom": "VLT"},
                        {
                            "type": "Temperature",
                            "value": round(rng.uniform(-10, 45), 1),
                            "uom": "CEL",
                        },
                    ],
                }
            ]
        elif roll < 0.92:
            step, action = rng.choice((("installing", "ADD"), ("removing", "DELETE")))
            event = self.common("AssociationEvent", step, None)
            event["parentID"] = rng.choice(self.vins)
            event["childEPCs"] = packs[:2]
            event["action"] = action
        else:
            event = self.common(
                "TransformationEvent", "https://battrace.org/voc/BizStep-recycling", None
            )
            event["inputEPCList"] = packs
            event["outputQuantityList"] = [
                {
                    "epcClass": f"urn:battrace:lot:{material}:{rng.randint(1000, 9999)}",
                    "quantity": round(rng.uniform(5, 500), 2),
                    "uom": "KGM",
                }
                for material in rng.sample(("Li2CO3", "NiSO4", "CoSO4", "Cu", "Al"), 3)
            ]
        return event


def battery_document(n_events: int, seed: int = 34014) -> dict[str, Any]:
    world = BatteryWorld(seed)
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-12-31T00:00:00Z",
        "epcisBody": {"eventList": [world.event() for _ in range(n_events)]},
    }


def reference_hashes(doc: dict[str, Any]) -> list[str]:
    """The reference implementation's in-process API, the way its command line uses it."""
    from epcis_event_hash_generator import hash_generator, json_to_py

    json_to_py._namespaces.clear()  # module-global state that would leak between documents
    events = json_to_py.event_list_from_epcis_document_json(copy.deepcopy(doc))
    prehashes = hash_generator.derive_prehashes_from_events(events)
    hashes: list[str] = hash_generator.calculate_hashes_from_pre_hashes(prehashes)
    return hashes


def _best_of(runs: int, fn: Callable[[], list[str]], before: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(runs):
        before()
        gc.collect()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _forget() -> None:
    """Drop battrace's memoised contexts and canonical values: as for a never-seen document."""
    jsonld._CACHE.clear()


def main(quick: bool) -> None:
    logging.disable(logging.CRITICAL)  # the reference logs every event at DEBUG/INFO level
    n = 2_000 if quick else 10_000
    doc = battery_document(n)
    size = sum(len(str(e)) for e in doc["epcisBody"]["eventList"]) // n
    print(f"{n} battery events, about {size} characters each")

    start = time.perf_counter()
    expected = reference_hashes(doc)
    ref_time = time.perf_counter() - start
    _forget()
    ours = hashid.hash_document(doc)
    if ours != expected:
        if len(ours) != len(expected):
            raise SystemExit(f"MISMATCH: {len(ours)} hashes, reference {len(expected)}")
        bad = next(i for i, (a, b) in enumerate(zip(ours, expected, strict=True)) if a != b)
        raise SystemExit(f"MISMATCH at event {bad}: {doc['epcisBody']['eventList'][bad]}")

    runs = 3 if quick else 5
    # cold: every run starts with nothing memoised (the figure for new data);
    # warm: the same document again, values memoised (e.g. re-verifying stored events).
    cold = _best_of(runs, lambda: hashid.hash_document(doc), _forget)
    warm = _best_of(runs, lambda: hashid.hash_document(doc), lambda: None)
    rates = {"reference": n / ref_time, "cold": n / cold, "warm": n / warm}
    print(f"reference (epcis-event-hash-generator 1.9.3): {rates['reference']:>9,.0f} events/s")
    for label in ("cold", "warm"):
        rate = rates[label]
        print(
            f"battrace, {label} caches: {rate:>30,.0f} events/s  {1e6 / rate:5.1f} µs/event  "
            f"{rate / rates['reference']:5.0f}x the reference"
        )
    print(f"identical Event Hash IDs for all {len(ours)} events")
