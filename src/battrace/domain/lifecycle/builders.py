"""One function per lifecycle step, returning the EPCIS 2.0 JSON-LD event an enterprise sends.

The shapes follow ``docs/epcis-mapping.md`` (agreed with the lead). Every event carries
``readPoint`` and ``bizLocation`` = the reporting enterprise's site URI, because that is how the
platform identifies the reporting party; the default ``eventTimeZoneOffset`` is ``+08:00``.

Identifiers may be given bare or as URIs: a string without ``:`` is a bare GB/T 34014 code
(``urn:gbt34014:``), a bare VIN for ``vin=`` arguments (``urn:vin:``) and a bare USCC for
party arguments (``urn:uscc:``). Vehicles in generic ``codes`` lists must be given as URIs.
The builders do not validate identifiers: the capture service does, exactly as for events that
enterprises build themselves.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from battrace.domain.epcis import vocab
from battrace.domain.epcis.document import STANDARD_CONTEXT
from battrace.domain.errors import InvalidInput
from battrace.domain.lifecycle import states

DEFAULT_OFFSET = "+08:00"
#: The battrace JSON-LD prefix object that goes next to the standard context.
BATTRACE_CONTEXT: dict[str, str] = {vocab.BATTRACE_PREFIX: vocab.BATTRACE_VOCAB}
CONTEXT: list[Any] = [STANDARD_CONTEXT, BATTRACE_CONTEXT]

# ilmd / extension keys (written with the ``battrace:`` prefix).
CHEMISTRY = "chemistry"
RATED_CAPACITY_AH = "ratedCapacityAh"
RATED_ENERGY_KWH = "ratedEnergyKWh"
MASS_KG = "massKg"
NOMINAL_VOLTAGE_V = "nominalVoltageV"
#: Extension of a commissioning event: the material it consumed (QuantityElements, kg), each with
#: the party it was bought from under ``SUPPLIER``.
INPUT_QUANTITIES = vocab.BATTRACE_PREFIX + ":inputQuantityList"
SUPPLIER = vocab.BATTRACE_PREFIX + ":supplier"

_P = vocab.BATTRACE_PREFIX + ":"
# Kept as bizTransaction identifiers when the caller passes a bare document number.
_DESADV_URN = "urn:battrace:desadv:"
_INVOICE_URN = "urn:battrace:invoice:"
_SCRAP_CERT_URN = "urn:battrace:scrapcert:"

_TZ: dict[str, timezone] = {}

Event = dict[str, Any]


# --- identifiers ------------------------------------------------------------------------------


def battery_uri(code: str) -> str:
    return code if ":" in code else states.BATTERY_URN + code


def vehicle_uri(vin: str) -> str:
    return vin if ":" in vin else states.VEHICLE_URN + vin


def party_uri(uscc: str) -> str:
    return uscc if ":" in uscc else states.PARTY_URN + uscc


def site_uri(uscc: str, site_id: str) -> str:
    return f"{party_uri(uscc)}{states.SITE_INFIX}{site_id}"


def material_uri(name: str) -> str:
    return name if ":" in name else states.MATERIAL_URN + name


def _batteries(codes: str | Iterable[str]) -> list[str]:
    if isinstance(codes, str):
        codes = (codes,)
    out = [battery_uri(c) for c in codes]
    if not out:
        raise InvalidInput("codes", "name at least one object")
    return out


# --- times -------------------------------------------------------------------------------------


def _tz(offset: str) -> timezone:
    tz = _TZ.get(offset)
    if tz is None:
        try:
            if len(offset) != 6 or offset[0] not in "+-" or offset[3] != ":":
                raise ValueError(offset)
            delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
            tz = timezone(-delta if offset[0] == "-" else delta)
        except ValueError:
            raise InvalidInput("offset", f"{offset!r} is not a UTC offset like +08:00") from None
        _TZ[offset] = tz
    return tz


def timestamp(time: datetime, offset: str = DEFAULT_OFFSET) -> str:
    """ISO 8601 with milliseconds, rendered in ``offset`` (``2024-05-01T09:30:00.000+08:00``)."""
    if time.tzinfo is None or time.utcoffset() is None:
        raise InvalidInput("time", "must be timezone-aware")
    return time.astimezone(_tz(offset)).isoformat(timespec="milliseconds")


# --- common parts ------------------------------------------------------------------------------


def _event(
    event_type: str,
    time: datetime,
    offset: str,
    action: str | None,
    body: Event,
    biz_step: str,
    site: str,
    disposition: str | None = None,
) -> Event:
    if ":" not in site:
        raise InvalidInput("site", f"{site!r} is not a site URI (urn:uscc:{{USCC}}:site:{{id}})")
    ev: Event = {
        "type": event_type,
        "eventTime": timestamp(time, offset),
        "eventTimeZoneOffset": offset,
    }
    ev.update(body)
    if action is not None:
        ev["action"] = action
    ev["bizStep"] = biz_step
    if disposition is not None:
        ev["disposition"] = disposition
    ev["readPoint"] = {"id": site}
    ev["bizLocation"] = {"id": site}
    return ev


def _ilmd(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    # Bare keys go under the battrace prefix; already prefixed keys pass unchanged.
    return {(k if ":" in k else _P + k): v for k, v in (attributes or {}).items()}


def _quantities(kg: Mapping[str, float]) -> list[dict[str, Any]]:
    return [
        {"epcClass": material_uri(name), "quantity": round(float(q), 3), "uom": "KGM"}
        for name, q in kg.items()
    ]


def _parties(party: str, key: str) -> list[dict[str, str]]:
    uri = party_uri(party)
    return [{"type": "owning_party", key: uri}, {"type": "possessing_party", key: uri}]


def _btt(kind: str, ident: str, urn: str) -> dict[str, str]:
    return {"type": kind, "bizTransaction": ident if ":" in ident else urn + ident}


# --- production --------------------------------------------------------------------------------


def commission(
    codes: str | Iterable[str],
    *,
    site: str,
    time: datetime,
    attributes: Mapping[str, Any] | None = None,
    inputs_kg: Mapping[str, float | tuple[float, str]] | None = None,
    offset: str = DEFAULT_OFFSET,
) -> Event:
    """Step 1: the battery maker serialises cells/modules/packs (ObjectEvent ADD commissioning).

    ``attributes`` (chemistry, ratedCapacityAh, ratedEnergyKWh, massKg, nominalVoltageV …) go
    into ``ilmd`` under the ``battrace:`` prefix: ilmd is the place for data fixed at production.
    ``inputs_kg`` (optional) lists the material consumed: material name (``nickel_sulfate`` …)
    or class URI -> kg, or -> (kg, supplier USCC or party URI); it becomes the extension
    ``battrace:inputQuantityList`` (docs/epcis-mapping.md §1, recycled content).
    """
    body: Event = {"epcList": _batteries(codes)}
    ev = _event("ObjectEvent", time, offset, "ADD", body, "commissioning", site, "active")
    if attributes:
        ev["ilmd"] = _ilmd(attributes)
    if inputs_kg:
        ev[INPUT_QUANTITIES] = _input_quantities(inputs_kg)
    return ev


def _input_quantities(inputs: Mapping[str, float | tuple[float, str]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, value in inputs.items():
        kg, supplier = value if isinstance(value, tuple) else (value, None)
        item: dict[str, Any] = {
            "epcClass": material_uri(name),
            "quantity": round(float(kg), 3),
            "uom": "KGM",
        }
        if supplier:
            item[SUPPLIER] = party_uri(supplier)
        out.append(item)
    return out


def assemble(
    parent: str,
    children: str | Iterable[str],
    *,
    site: str,
    time: datetime,
    offset: str = DEFAULT_OFFSET,
) -> Event:
    """Step 2: cells into a module or modules into a pack (AssociationEvent ADD assembling)."""
    body: Event = {"parentID": battery_uri(parent), "childEPCs": _batteries(children)}
    return _event("AssociationEvent", time, offset, "ADD", body, "assembling", site)


# --- vehicle -----------------------------------------------------------------------------------


def install(
    pack: str, vin: str, *, site: str, time: datetime, offset: str = DEFAULT_OFFSET
) -> Event:
    """Step 3: the automaker installs a pack in a vehicle (AssociationEvent ADD installing)."""
    body: Event = {"parentID": vehicle_uri(vin), "childEPCs": [battery_uri(pack)]}
    return _event("AssociationEvent", time, offset, "ADD", body, "installing", site)


def sell(
    vin: str,
    pack: str | None = None,
    *,
    site: str,
    time: datetime,
    invoice: str | None = None,
    offset: str = DEFAULT_OFFSET,
) -> Event:
    """Step 4: the dealer sells the vehicle (ObjectEvent OBSERVE retail_selling retail_sold)."""
    epcs = [vehicle_uri(vin)]
    if pack is not None:
        epcs.append(battery_uri(pack))
    ev = _event(
        "ObjectEvent",
        time,
        offset,
        "OBSERVE",
        {"epcList": epcs},
        "retail_selling",
        site,
        "retail_sold",
    )
    if invoice:
        ev["bizTransactionList"] = [_btt("inv", invoice, _INVOICE_URN)]
    return ev


def repair(
    pack: str,
    *,
    site: str,
    time: datetime,
    vin: str | None = None,
    offset: str = DEFAULT_OFFSET,
) -> Event:
    """Step 5a: a repair without replacement (ObjectEvent OBSERVE repairing); no state change."""
    epcs = [vehicle_uri(vin)] if vin else []
    epcs.append(battery_uri(pack))
    return _event("ObjectEvent", time, offset, "OBSERVE", {"epcList": epcs}, "repairing", site)


def remove(
    pack: str,
    vin: str,
    *,
    site: str,
    time: datetime,
    disposition: str | None = "needs_replacement",
    offset: str = DEFAULT_OFFSET,
) -> Event:
    """Step 5b/6b: a pack taken out of a vehicle (AssociationEvent DELETE removing).

    The repairer's removal before a replacement carries ``needs_replacement``; the dismantler's
    removal at scrapping passes ``disposition=None``.
    """
    body: Event = {"parentID": vehicle_uri(vin), "childEPCs": [battery_uri(pack)]}
    return _event("AssociationEvent", time, offset, "DELETE", body, "removing", site, disposition)


def replace(
    pack: str, vin: str, *, site: str, time: datetime, offset: str = DEFAULT_OFFSET
) -> Event:
    """Step 5c: the new pack goes into the vehicle (AssociationEvent ADD replacing)."""
    body: Event = {"parentID": vehicle_uri(vin), "childEPCs": [battery_uri(pack)]}
    return _event("AssociationEvent", time, offset, "ADD", body, "replacing", site)


def scrap_vehicle(
    vin: str,
    *,
    site: str,
    time: datetime,
    certificate: str,
    pack: str | None = None,
    offset: str = DEFAULT_OFFSET,
) -> Event:
    """Step 6a: the dismantler takes in a scrapped vehicle and issues the 报废汽车回收证明.

    ObjectEvent OBSERVE decommissioning inactive on the vehicle (and the pack if still inside);
    the certificate number travels as a bizTransaction of battrace's private type. The pack in
    the list is *not* retired by this event: that takes its own decommissioning event.
    """
    epcs = [vehicle_uri(vin)]
    if pack is not None:
        epcs.append(battery_uri(pack))
    ev = _event(
        "ObjectEvent",
        time,
        offset,
        "OBSERVE",
        {"epcList": epcs},
        "decommissioning",
        site,
        "inactive",
    )
    ev["bizTransactionList"] = [_btt(vocab.BTT_SCRAPPING_CERTIFICATE, certificate, _SCRAP_CERT_URN)]
    return ev


def retire(
    codes: str | Iterable[str], *, site: str, time: datetime, offset: str = DEFAULT_OFFSET
) -> Event:
    """Step 6c: end of first life (ObjectEvent OBSERVE decommissioning inactive on batteries)."""
    return _event(
        "ObjectEvent",
        time,
        offset,
        "OBSERVE",
        {"epcList": _batteries(codes)},
        "decommissioning",
        site,
        "inactive",
    )


# --- logistics ---------------------------------------------------------------------------------


def ship(
    codes: str | Iterable[str],
    *,
    sender: str,
    receiver: str,
    site: str,
    time: datetime,
    desadv: str | None = None,
    offset: str = DEFAULT_OFFSET,
) -> Event:
    """Step 7a: ObjectEvent OBSERVE shipping in_transit; ownership and possession go to receiver.

    ``sender``/``receiver`` are party URIs (or bare USCCs). ``desadv`` is the despatch-advice
    number (bare numbers become ``urn:battrace:desadv:{number}``).
    """
    ev = _event(
        "ObjectEvent",
        time,
        offset,
        "OBSERVE",
        {"epcList": _batteries(codes)},
        "shipping",
        site,
        "in_transit",
    )
    if desadv:
        ev["bizTransactionList"] = [_btt("desadv", desadv, _DESADV_URN)]
    ev["sourceList"] = _parties(sender, "source")
    ev["destinationList"] = _parties(receiver, "destination")
    return ev


def receive(
    codes: str | Iterable[str],
    *,
    site: str,
    time: datetime,
    sender: str | None = None,
    receiver: str | None = None,
    desadv: str | None = None,
    offset: str = DEFAULT_OFFSET,
) -> Event:
    """Step 7b: ObjectEvent OBSERVE receiving; the holder becomes the receiver."""
    ev = _event(
        "ObjectEvent", time, offset, "OBSERVE", {"epcList": _batteries(codes)}, "receiving", site
    )
    if desadv:
        ev["bizTransactionList"] = [_btt("desadv", desadv, _DESADV_URN)]
    if sender:
        ev["sourceList"] = _parties(sender, "source")
    if receiver:
        ev["destinationList"] = _parties(receiver, "destination")
    return ev


def collect(
    codes: str | Iterable[str],
    *,
    site: str,
    time: datetime,
    sender: str | None = None,
    receiver: str | None = None,
    offset: str = DEFAULT_OFFSET,
) -> Event:
    """Step 8: a recycling service outlet takes in waste batteries (collecting, disposed)."""
    ev = _event(
        "ObjectEvent",
        time,
        offset,
        "OBSERVE",
        {"epcList": _batteries(codes)},
        "collecting",
        site,
        "disposed",
    )
    if sender:
        ev["sourceList"] = _parties(sender, "source")
    if receiver:
        ev["destinationList"] = _parties(receiver, "destination")
    return ev


# --- second life and end of life ---------------------------------------------------------------


def inspect(
    code: str,
    *,
    capacity_ah: float,
    rated_ah: float,
    resistance_mohm: float,
    voltage_v: float,
    site: str,
    time: datetime,
    soh_pct: float | None = None,
    disposition: str | None = None,
    temperature_c: float | None = None,
    safety_checks: Mapping[str, bool] | None = None,
    offset: str = DEFAULT_OFFSET,
) -> Event:
    """Step 9: residual-capacity inspection (ObjectEvent OBSERVE inspecting + sensor data).

    SoH is not a GS1 measurement type: it travels as ``Dimensionless`` with uom ``P1`` (percent);
    by default it is measured / rated capacity. Resistance is reported in ohm (``OHM``). The test
    temperature (``Temperature``, ``CEL``) and the GB/T 38698.1 Annex A safety checklist
    (``battrace:safetyChecks``: item → true when the battery failed it) make the inspection
    gradable (services.recycling, docs/recycling.md §6).
    """
    if rated_ah <= 0:
        raise InvalidInput("rated_ah", "must be positive")
    if safety_checks is not None and not all(
        isinstance(k, str) and k and isinstance(v, bool) for k, v in safety_checks.items()
    ):
        raise InvalidInput("safety_checks", "must map item names to true (failed) or false")
    soh = soh_pct if soh_pct is not None else capacity_ah / rated_ah * 100.0
    ev = _event(
        "ObjectEvent",
        time,
        offset,
        "OBSERVE",
        {"epcList": [battery_uri(code)]},
        "inspecting",
        site,
        disposition,
    )
    ev["sensorElementList"] = [
        {
            "sensorMetadata": {"time": ev["eventTime"]},
            "sensorReport": [
                {"type": "Voltage", "value": round(voltage_v, 3), "uom": "VLT"},
                {"type": "Resistance", "value": round(resistance_mohm / 1000.0, 6), "uom": "OHM"},
                {
                    "type": "ElectricCharge",
                    "value": round(capacity_ah, 3),
                    "uom": "AMH",
                    _P + RATED_CAPACITY_AH: round(rated_ah, 3),
                },
                {"type": "Dimensionless", "value": round(soh, 2), "uom": "P1"},
            ],
        }
    ]
    if temperature_c is not None:
        report = {"type": "Temperature", "value": round(temperature_c, 2), "uom": "CEL"}
        ev["sensorElementList"][0]["sensorReport"].append(report)
    if safety_checks is not None:
        ev[_P + "safetyChecks"] = dict(safety_checks)
    return ev


def recode(
    originals: str | Iterable[str],
    new_code: str,
    *,
    site: str,
    time: datetime,
    attributes: Mapping[str, Any] | None = None,
    offset: str = DEFAULT_OFFSET,
) -> Event:
    """Step 10: cascade-use re-coding (TransformationEvent, battrace's recoding bizStep).

    Inputs are the original 24-char codes, the output the new 19-char cascade-use code; the
    transformation *is* the output's commissioning (no separate commissioning event), and the
    ``ilmd`` carries the newly calibrated rating (GB/T 34014 keeps the original code linked).
    """
    body: Event = {"inputEPCList": _batteries(originals), "outputEPCList": [battery_uri(new_code)]}
    ev = _event("TransformationEvent", time, offset, None, body, vocab.BIZSTEP_RECODING, site)
    if attributes:
        ev["ilmd"] = _ilmd(attributes)
    return ev


def dismantle(
    pack: str | Iterable[str],
    modules: str | Iterable[str] = (),
    *,
    site: str,
    time: datetime,
    parts_kg: Mapping[str, float] | None = None,
    offset: str = DEFAULT_OFFSET,
) -> Event:
    """Step 11: a pack (or module) broken down into modules and/or parts (disassembling).

    ``parts_kg`` maps material names (``pack_housing`` …) or class URIs to kilograms.
    """
    body: Event = {"inputEPCList": _batteries(pack)}
    outs = [battery_uri(m) for m in ((modules,) if isinstance(modules, str) else modules)]
    if outs:
        body["outputEPCList"] = outs
    if parts_kg:
        body["outputQuantityList"] = _quantities(parts_kg)
    if not outs and not parts_kg:
        raise InvalidInput("modules", "name output modules or parts_kg")
    return _event("TransformationEvent", time, offset, None, body, "disassembling", site)


def recycle(
    inputs: str | Iterable[str],
    outputs_kg: Mapping[str, float],
    *,
    site: str,
    time: datetime,
    inputs_kg: Mapping[str, float] | None = None,
    offset: str = DEFAULT_OFFSET,
) -> Event:
    """Step 12: recycling into material lots (TransformationEvent, battrace's recycling bizStep).

    ``outputs_kg`` maps material names (``black_mass``, ``copper`` …) to kilograms; ``inputs_kg``
    adds class-level inputs (loose scrap) when there are no or not only serialised inputs.
    """
    if not outputs_kg:
        raise InvalidInput("outputs_kg", "name at least one material output")
    ins = [battery_uri(c) for c in ((inputs,) if isinstance(inputs, str) else inputs)]
    body: Event = {}
    if ins:
        body["inputEPCList"] = ins
    if inputs_kg:
        body["inputQuantityList"] = _quantities(inputs_kg)
    if not body:
        raise InvalidInput("inputs", "name serialised inputs or inputs_kg")
    body["outputQuantityList"] = _quantities(outputs_kg)
    return _event("TransformationEvent", time, offset, None, body, vocab.BIZSTEP_RECYCLING, site)


def dispose(
    codes: str | Iterable[str], *, site: str, time: datetime, offset: str = DEFAULT_OFFSET
) -> Event:
    """Step 13: final disposal (ObjectEvent OBSERVE destroying destroyed)."""
    return _event(
        "ObjectEvent",
        time,
        offset,
        "OBSERVE",
        {"epcList": _batteries(codes)},
        "destroying",
        site,
        "destroyed",
    )


# --- corrections and documents -----------------------------------------------------------------


def declare_error(
    event: Mapping[str, Any],
    *,
    time: datetime,
    reason: str = "did_not_occur",
    corrective_event_ids: Sequence[str] = (),
    offset: str = DEFAULT_OFFSET,
) -> Event:
    """The error declaration for a captured event: the same event plus ``errorDeclaration``.

    EPCIS never deletes: the sender re-sends the event unchanged with the declaration (reason
    ``did_not_occur`` or ``incorrect_data``) and, for wrong data, captures corrective events
    first and lists their event IDs.
    """
    ev: Event = copy.deepcopy(dict(event))
    decl: dict[str, Any] = {"declarationTime": timestamp(time, offset), "reason": reason}
    if corrective_event_ids:
        decl["correctiveEventIDs"] = list(corrective_event_ids)
    ev["errorDeclaration"] = decl
    return ev


def standalone(event: Mapping[str, Any]) -> Event:
    """One event with its own ``@context`` (single-event capture, ``POST /events``)."""
    return {"@context": CONTEXT, **event}


def document(
    events: Iterable[Mapping[str, Any]],
    *,
    creation_date: datetime | None = None,
    sender: str | None = None,
    receiver: str | None = None,
) -> Event:
    """An EPCISDocument with the standard context and the battrace prefix."""
    doc: Event = {
        "@context": [STANDARD_CONTEXT, dict(BATTRACE_CONTEXT)],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": timestamp(creation_date or datetime.now(UTC), DEFAULT_OFFSET),
    }
    if sender:
        doc["sender"] = party_uri(sender)
    if receiver:
        doc["receiver"] = party_uri(receiver)
    doc["epcisBody"] = {"eventList": list(events)}
    return doc
