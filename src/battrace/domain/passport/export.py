"""Exports of a passport into the external data models, with their missing and restricted lists.

An exporter (``batterypass``, ``catenax``, ``idta``) declares every field of its model against one
attribute through :meth:`Out.put`. ``put`` writes the field only if the audience may read the
attribute *and* battrace holds a value for it; otherwise the field stays absent and its path is
listed as ``restricted`` (the audience may not read it) or ``missing`` (battrace does not hold it, or
the model cannot express what battrace holds, with the reason). The exporters receive a passport
already filtered for the audience (:meth:`Passport.for_audience`), so the access check here is a
second, independent line of defence, and it is what makes the restricted list exact.

The models mark most fields required even where the regulation makes them voluntary; a field that
battrace cannot fill is never made up to satisfy a schema. An export therefore validates against its
model's JSON Schema except for ``required`` properties, and every absent required property is
named (or has a named descendant) in ``missing`` or ``restricted``. Paths are ``Aspect#/json/pointer``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from battrace.domain.passport.attributes import Audience, visible
from battrace.domain.passport.model import NOT_HELD, Passport, Value

CANNOT_EXPRESS = "the model cannot express the value battrace holds"


@dataclass(frozen=True, slots=True)
class FieldNote:
    path: str
    attribute: str | None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "attribute": self.attribute}
        if self.reason is not None:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class Aspect:
    name: str
    semantic_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Export:
    model: str
    model_version: str
    passport: Passport
    aspects: tuple[Aspect, ...]
    missing: tuple[FieldNote, ...]
    restricted: tuple[FieldNote, ...]

    def aspect(self, name: str) -> dict[str, Any]:
        for a in self.aspects:
            if a.name == name:
                return a.payload
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        p = self.passport
        assert p.audience is not None
        doc: dict[str, Any] = {
            "model": self.model,
            "modelVersion": self.model_version,
            "audience": p.audience.value,
            "passportIdentifier": p.passport_id,
            "battery": p.subject.uri,
            "ledger": p.ledger.to_json(),
        }
        if p.publication is not None:
            doc["publication"] = {
                "version": p.publication.version,
                "issuedAt": p.publication.issued_at,
            }
        doc["aspects"] = {
            a.name: {"semanticId": a.semantic_id, "payload": a.payload} for a in self.aspects
        }
        doc["missing"] = [m.to_json() for m in self.missing]
        doc["restricted"] = [r.to_json() for r in self.restricted]
        return doc


Convert = Callable[[Value], Any]


def set_pointer(doc: dict[str, Any], pointer: str, value: Any) -> None:
    """Set ``value`` at a JSON pointer, creating objects (and lists for numeric segments)."""
    parts = pointer.split("/")[1:]
    node: Any = doc
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        nxt: Any = None if last else ([] if parts[i + 1].isdigit() else {})
        if isinstance(node, list):
            index = int(part)
            while len(node) <= index:
                node.append(None)
            if last:
                node[index] = value
            elif node[index] is None:
                node[index] = nxt
            node = node[index]
        else:
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, nxt)


class Out:
    """Accumulates one export: the aspects' payloads and the missing / restricted field lists."""

    def __init__(self, passport: Passport, model: str, version: str) -> None:
        if passport.audience is None:
            raise ValueError("export a passport filtered for an audience (for_audience)")
        self.passport = passport
        self.audience: Audience = passport.audience
        self.model = model
        self.version = version
        self._aspects: dict[str, Aspect] = {}
        self.missing: list[FieldNote] = []
        self.restricted: list[FieldNote] = []

    def aspect(self, name: str, semantic_id: str) -> None:
        self._aspects[name] = Aspect(name, semantic_id, {})

    def can_read(self, attr: str) -> bool:
        return visible(attr, self.audience)

    def value(self, attr: str) -> Value | None:
        """The value of ``attr`` if the audience may read it and battrace holds it."""
        if not self.can_read(attr):
            return None
        return self.passport.values.get(attr)

    def put(
        self,
        aspect: str,
        pointer: str,
        attr: str | None,
        convert: Convert | None = None,
        *,
        optional: bool = False,
        reason: str | None = None,
    ) -> bool:
        """Write one field from ``attr``; False (and a note unless ``optional``) if it stays absent.

        ``attr=None`` declares a model field no attribute of battrace's corresponds to; it is always
        missing (with ``reason``). ``convert`` maps the :class:`Value` to the model's form and may
        return None when the model cannot express it.
        """
        path = f"{aspect}#{pointer}"
        if attr is not None and not self.can_read(attr):
            self.restricted.append(FieldNote(path, attr))
            return False
        held = None if attr is None else self.passport.values.get(attr)
        if held is None:
            if not optional:
                why = reason or (self.passport.problems.get(attr, NOT_HELD) if attr else NOT_HELD)
                self.missing.append(FieldNote(path, attr, why))
            return False
        out = convert(held) if convert is not None else held.value
        if out is None:
            if not optional:
                self.missing.append(FieldNote(path, attr, reason or CANNOT_EXPRESS))
            return False
        set_pointer(self._aspects[aspect].payload, pointer, out)
        return True

    def lack(self, aspect: str, pointer: str, attr: str | None, reason: str = NOT_HELD) -> None:
        """Declare a field that stays absent although ``attr`` may be held (e.g. a sub-field of a
        value battrace holds only in part)."""
        path = f"{aspect}#{pointer}"
        if attr is not None and not self.can_read(attr):
            self.restricted.append(FieldNote(path, attr))
        else:
            self.missing.append(FieldNote(path, attr, reason))

    def const(self, aspect: str, pointer: str, value: Any) -> None:
        """A field whose value follows from the model mapping itself (a unit, a granularity)."""
        set_pointer(self._aspects[aspect].payload, pointer, value)

    def compact(self, aspect: str, name: str) -> None:
        """Drop the holes left in the list ``name`` whose items were filled independently."""
        payload = self._aspects[aspect].payload
        items = payload.get(name)
        if isinstance(items, list):
            kept = [i for i in items if i is not None]
            if kept:
                payload[name] = kept
            else:
                del payload[name]

    def material_entries(self, aspect: str, pointer: str) -> list[tuple[str, dict[str, Any]]]:
        """The materials to list at ``pointer``, as (attribute, material): the active materials
        (PLI + Commission) carry everything; critical raw materials (public) add those the
        active list does not already name. Declares the list missing or restricted when
        neither is readable."""
        entries: list[tuple[str, dict[str, Any]]] = []
        active = self.value("activeMaterials")
        if active is not None:
            entries += [("activeMaterials", m) for m in active.value]
        else:
            self.lack(aspect, pointer, "activeMaterials")
        named = {m.get("name") for _, m in entries}
        critical = self.value("criticalRawMaterials")
        if critical is not None:
            entries += [
                ("criticalRawMaterials", m) for m in critical.value if m["name"] not in named
            ]
        elif not entries:
            self.put(aspect, pointer, "criticalRawMaterials")
        return entries

    def finish(self) -> Export:
        return Export(
            self.model,
            self.version,
            self.passport,
            tuple(self._aspects.values()),
            tuple(self.missing),
            tuple(self.restricted),
        )


# --- small converters shared by the exporters --------------------------------------------------


def date_of(v: Value) -> str | None:
    """``YYYY-MM-DD`` of a stored UTC timestamp."""
    return v.value[:10] if isinstance(v.value, str) and len(v.value) >= 10 else None


def iso_time(v: Value) -> str | None:
    """A stored timestamp as ISO 8601 UTC (``2024-03-05T09:00:00.000000Z``)."""
    return v.value if isinstance(v.value, str) else None


def key(name: str) -> Convert:
    """The field ``name`` of an object value."""

    def convert(v: Value) -> Any:
        return v.value.get(name) if isinstance(v.value, dict) else None

    return convert


def with_time(value_key: str, time_key: str) -> Convert:
    """A dynamic value as ``{<value_key>: value, <time_key>: lastUpdate}``."""

    def convert(v: Value) -> Any:
        if v.last_update is None or isinstance(v.value, dict | list):
            return None
        return {value_key: v.value, time_key: v.last_update}

    return convert


def as_list(v: Value) -> list[Any] | None:
    return v.value if isinstance(v.value, list) else [v.value]


def url_document(header: str) -> Convert:
    """A URI as the document object of Catena-X (``{header, contentType: URL, content}``)."""

    def convert(v: Value) -> Any:
        return [{"header": header, "contentType": "URL", "content": v.value}]

    return convert


__all__ = [
    "CANNOT_EXPRESS",
    "Aspect",
    "Export",
    "FieldNote",
    "Out",
    "as_list",
    "date_of",
    "iso_time",
    "key",
    "set_pointer",
    "url_document",
    "with_time",
]
