"""Answering "where has this battery been, what is it part of, what state is it in"."""

from __future__ import annotations

from typing import Any

import orjson

from battrace.domain.errors import InvalidInput
from battrace.domain.identities.uris import parse_uri
from battrace.persistence.base import Store

MAX_DEPTH = 8  # vehicle > pack > module > cell is 4; cascade products add links, not depth


def to_uri(code: str) -> str:
    """Accept a bare battery code, a VIN, or any identifier URI."""
    code = code.strip()
    if ":" in code:
        parse_uri(code)  # raises IdentityError for a malformed battrace URI
        return code
    if len(code) == 17:
        return f"urn:vin:{code}"
    return f"urn:gbt34014:{code}"


def _bare(uri: str | None) -> str | None:
    if uri is None:
        return None
    for prefix in ("urn:gbt34014:", "urn:vin:"):
        if uri.startswith(prefix):
            return uri[len(prefix) :]
    return uri


def _summary(store: Store, uri: str) -> dict[str, Any]:
    text = store.get_view(uri)
    view = orjson.loads(text) if text else {}
    return {
        "uri": uri,
        "code": _bare(uri),
        "state": view.get("state"),
        "holder": view.get("holder"),
    }


def _children(store: Store, uri: str) -> list[dict[str, Any]]:
    nodes: dict[str, dict[str, Any]] = {uri: {"children": []}}
    for row in store.descendants(uri, MAX_DEPTH):
        node: dict[str, Any] = {
            "uri": row.epc,
            "code": _bare(row.epc),
            "state": row.state,
            "holder": row.holder,
            "children": [],
        }
        nodes[row.epc] = node
        if row.parent in nodes:
            nodes[row.parent]["children"].append(node)
    children: list[dict[str, Any]] = nodes[uri]["children"]
    return children


def trace(store: Store, code: str) -> dict[str, Any]:
    """Everything known about one battery (or vehicle): state, timeline, genealogy, inconsistencies.

    Raises :class:`InvalidInput` when the identifier is unknown to the ledger.
    """
    uri = to_uri(code)
    text = store.get_view(uri)
    if text is None:
        raise InvalidInput("code", f"{_bare(uri)} is not in the ledger")
    view = orjson.loads(text)

    ancestors: list[dict[str, Any]] = []
    parent = view.get("parent")
    seen = {uri}
    vehicle = view.get("vehicle")
    while parent and parent not in seen and len(ancestors) < MAX_DEPTH:
        seen.add(parent)
        node = _summary(store, parent)
        ancestors.append(node)
        if parent.startswith("urn:vin:"):
            vehicle = vehicle or parent
            break
        ptext = store.get_view(parent)
        pview = orjson.loads(ptext) if ptext else {}
        vehicle = vehicle or pview.get("vehicle")
        parent = pview.get("parent")

    rows = store.events_for(uri)
    declared = store.declared_ids({r.event_id for _, r in rows if not r.is_declaration})
    transformation_seqs = [r.seq for _, r in rows if r.event_type == "TransformationEvent"]
    links = store.epcs_of_events(transformation_seqs) if transformation_seqs else {}
    events = []
    origins: list[str] = []
    successors: list[str] = []
    materials: list[dict[str, Any]] = []
    for role, row in rows:
        events.append(
            {
                "eventID": row.event_id,
                "eventTime": row.event_time,
                "recordTime": row.record_time,
                "type": row.event_type,
                "action": row.action,
                "bizStep": row.biz_step,
                "disposition": row.disposition,
                "bizLocation": row.biz_location,
                "reporter": row.reporter,
                "role": role,
                "errorDeclaration": row.is_declaration,
                "retracted": (not row.is_declaration) and row.event_id in declared,
            }
        )
        if row.seq in links:
            others = links[row.seq]
            if role == "input":
                successors.extend(e for e, r in others if r == "output")
                body = orjson.loads(row.body)
                for q in body.get("outputQuantityList") or []:
                    if isinstance(q, dict):
                        materials.append(
                            {
                                "material": q.get("epcClass"),
                                "quantity": q.get("quantity"),
                                "uom": q.get("uom"),
                                "eventID": row.event_id,
                            }
                        )
            elif role == "output":
                origins.extend(e for e, r in others if r == "input")

    return {
        "code": _bare(uri),
        "uri": uri,
        "kind": view.get("kind"),
        "state": view.get("state"),
        "holder": view.get("holder"),
        "location": view.get("location"),
        "parent": view.get("parent"),
        "vehicle": _bare(vehicle),
        "attributes": view.get("attributes") or {},
        "ancestors": ancestors,
        "children": _children(store, uri),
        "origins": sorted(set(origins)),
        "successors": sorted(set(successors)),
        "materials": materials,
        "events": events,
        "inconsistencies": [
            {"eventID": i.event_id, "reason": i.reason, "detectedAt": i.detected_at}
            for i in store.inconsistencies_for(uri)
        ],
    }
