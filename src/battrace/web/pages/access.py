"""What a visitor may see of a battery's trace.

The same scoping as the HTTP interface's (issue 3, "who may do what"):

* the public sees the battery's identity, its ratings, its current state and the lifecycle steps
  with their dates and province — never which enterprise reported them, never a VIN;
* an enterprise sees the events it reported and the battery's history while it held it (from
  its first report to its last, and on to today while it still holds the battery);
* a provincial regulator sees the events reported by enterprises registered in its province —
  a battery no such enterprise ever reported on is another province's data: access denied;
* the national regulator sees everything.
"""

from __future__ import annotations

from typing import Any

from battrace.domain.errors import InvalidInput
from battrace.domain.identities.divisions import province_by_code
from battrace.domain.identities.gbt34014 import parse_battery_code
from battrace.persistence.base import EnterpriseRow, Store
from battrace.services.authorisation import scope_for
from battrace.services.query import scope_trace
from battrace.services.trace import trace
from battrace.services.users import Principal
from battrace.web.pages.vocab import step_key


class Denied(Exception):
    """The principal may not see this battery."""


def registry(store: Store) -> dict[str, EnterpriseRow]:
    return {e.uscc: e for e in store.list_enterprises()}


def province_of(uscc: str | None, ents: dict[str, EnterpriseRow]) -> str | None:
    if not uscc:
        return None
    uscc = uscc.removeprefix("urn:uscc:").split(":", 1)[0]
    ent = ents.get(uscc)
    if ent is not None:
        return ent.province
    return uscc[2:4] if len(uscc) == 18 else None


def public_record(store: Store, code: str) -> dict[str, Any]:
    """The public part of a battery's record. Raises InvalidInput for a bad or unknown code."""
    code = code.strip().upper()
    parsed = parse_battery_code(code)  # IdentityError names the position at fault
    data = trace(store, parsed.code)
    ents = registry(store)
    owners = store.manufacturer_owners([parsed.code[:3]])
    maker = ents.get(owners.get(parsed.code[:3], ""))
    events = []
    for e in data["events"]:
        if e["errorDeclaration"] or e["retracted"]:
            continue
        prov = province_by_code(province_of(e["reporter"], ents) or "")
        events.append(
            {
                "time": e["eventTime"],
                "step": e["bizStep"],
                "province_zh": prov.name_zh if prov else None,
                "province_en": prov.name_en if prov else None,
            }
        )
    attrs = data["attributes"]
    return {
        "code": parsed.code,
        "explain": parsed.explain(),
        "cascade": parsed.is_cascade,
        "state": data["state"],
        "kind": data["kind"],
        "maker_zh": maker.name_zh if maker else None,
        "maker_en": (maker.name_en or maker.name_zh) if maker else None,
        "chemistry": attrs.get("chemistry"),
        "energy_kwh": attrs.get("ratedEnergyKWh"),
        "capacity_ah": attrs.get("ratedCapacityAh"),
        "mass_kg": attrs.get("massKg"),
        "voltage_v": attrs.get("nominalVoltageV"),
        "recoded_as": _bare(attrs.get("recodedAs")),
        "originals": [_bare(o) for o in attrs.get("originals") or []],
        "parent": _bare(data["parent"])
        if data["parent"] and "gbt34014" in data["parent"]
        else None,
        "events": events,
    }


def _bare(uri: Any) -> Any:
    if isinstance(uri, str):
        return uri.removeprefix("urn:gbt34014:")
    if isinstance(uri, list):
        return [_bare(u) for u in uri]
    return uri


def scoped_trace(store: Store, user: Principal, code: str) -> dict[str, Any]:
    """The trace of ``code`` as ``user`` may see it; raises :class:`Denied` or InvalidInput.

    The same cut as ``GET /api/batteries/{code}`` (``services.query.scope_trace`` with the read
    scope of the user's organisation): only visible events, and the current state, holder and
    genealogy only when every event is visible. ``hidden_events`` counts what was cut."""
    data = trace(store, code)
    organisation = store.get_enterprise(user.organisation)
    if organisation is None:
        raise Denied(code)
    scoped = scope_trace(store, scope_for(organisation), data)
    if scoped is None:
        raise Denied(code)
    scoped["hidden_events"] = len(data["events"]) - len(scoped["events"])
    return scoped


def lookup_code(raw: str) -> str:
    """Normalise what a person typed or a scanner read: a bare code, a URI or a label URL."""
    value = raw.strip()
    for sep in ("/b/", "code="):
        if sep in value:
            value = value.rsplit(sep, 1)[-1]
    value = value.split("&", 1)[0].split("?", 1)[0].strip().removeprefix("urn:gbt34014:")
    if not value:
        raise InvalidInput("code", "enter a battery code")
    return value.upper()


def step_of(event: dict[str, Any]) -> str:
    return step_key(event.get("bizStep") or event.get("step"))
