"""Writing JSON-LD-shaped EPCIS 2.0 events as an EPCIS 2.0 XML document.

:func:`events_to_xml` is the inverse of :func:`~battrace.domain.epcis.xml_read.parse_xml_document`:
parsing its output gives back events with the same Event Hash IDs (tests/unit/test_epcis_xml.py
checks this on the official examples and on generated battery events). Elements follow the XSD's
sequence order per event type; bare CBV words are written as the CBV URNs
(``urn:epcglobal:cbv:bizstep:shipping``, or the web URIs with ``cbv_format="web"``), GS1 sensor
terms as their ``https://gs1.org/voc/`` URIs, and compact IRIs whose prefix the ``@context``
declares are written out in full, because XML has no notion of a CURIE value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, Literal

from battrace.domain.epcis import jsonld, vocab
from battrace.domain.epcis.jsonld import Context, resolve_context
from battrace.domain.epcis.xml_read import (
    ENTRY_LISTS,
    EPCIS_NS,
    QUERY_NS,
    SENSOR_METADATA_FIELDS,
    SENSOR_NUMBERS,
    SENSOR_REPORT_FIELDS,
    XML_NS,
    XSI_NS,
)
from battrace.domain.errors import InvalidInput

__all__ = ["events_to_xml"]

_BASE: Final = (
    "eventTime recordTime eventTimeZoneOffset eventID errorDeclaration certificationInfo".split()
)
#: Element order of each event type (EPCglobal-epcis-2_0.xsd), after the common fields.
_ORDER: Final[Mapping[str, tuple[str, ...]]] = {
    name: tuple(_BASE + fields.split())
    for name, fields in {
        "ObjectEvent": "epcList action bizStep disposition readPoint bizLocation "
        "bizTransactionList quantityList sourceList destinationList sensorElementList "
        "persistentDisposition ilmd",
        "AggregationEvent": "parentID childEPCs action bizStep disposition readPoint bizLocation "
        "bizTransactionList childQuantityList sourceList destinationList sensorElementList "
        "persistentDisposition",
        "TransactionEvent": "bizTransactionList parentID epcList action bizStep disposition "
        "readPoint bizLocation quantityList sourceList destinationList sensorElementList "
        "persistentDisposition",
        "TransformationEvent": "inputEPCList inputQuantityList outputEPCList outputQuantityList "
        "transformationID bizStep disposition readPoint bizLocation bizTransactionList "
        "sourceList destinationList sensorElementList persistentDisposition ilmd",
        "AssociationEvent": "parentID childEPCs childQuantityList action bizStep disposition "
        "readPoint bizLocation bizTransactionList sourceList destinationList sensorElementList "
        "persistentDisposition",
    }.items()
}
# Every standard field in one order, for fields the XSD does not place in an event type (kept,
# so the hash survives the round trip; parse_event decides whether they are allowed).
_ALL_FIELDS: Final = tuple(dict.fromkeys(f for order in _ORDER.values() for f in order))
_LEAVES: Final = frozenset(
    "eventTime recordTime eventTimeZoneOffset eventID action parentID transformationID".split()
)
_EPC_LISTS: Final = frozenset({"epcList", "childEPCs", "inputEPCList", "outputEPCList"})
_QUANTITY_LISTS: Final = frozenset(
    {"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"}
)
_CBV_URN: Final[Mapping[str, str]] = {
    kind: f"urn:epcglobal:cbv:{kind}:" for kind in ("bizstep", "disp", "btt", "sdt", "er")
}
_CBV_WEB: Final[Mapping[str, str]] = {
    "bizstep": jsonld.CBV + "BizStep-",
    "disp": jsonld.CBV + "Disp-",
    "btt": jsonld.CBV + "BTT-",
    "sdt": jsonld.CBV + "SDT-",
    "er": jsonld.CBV + "ER-",
}
_CBV_WORDS: Final[Mapping[str, frozenset[str]]] = {
    "bizstep": vocab.BIZ_STEPS,
    "disp": vocab.DISPOSITIONS,
    "btt": vocab.BIZ_TRANSACTION_TYPES,
    "sdt": vocab.SOURCE_DEST_TYPES,
    "er": vocab.ERROR_REASONS,
}
_SENSOR_TERMS: Final[Mapping[str, tuple[frozenset[str], str]]] = {
    "type": (jsonld.MEASUREMENT_TYPES, jsonld.GS1),
    "exception": (jsonld.SENSOR_ALERTS, jsonld.GS1),
    "component": (jsonld.COMPONENTS, jsonld.CBV + "Comp-"),
}
# Comments are not event data: the hash ignores them and XML has its own comments.
_COMMENTS: Final = frozenset({"comment"})
_NCNAME = re.compile(r"[^\W\d][\w.\-]*\Z")
# Characters XML 1.0 cannot carry at all, escaped or not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_TEXT_ESCAPES: Final = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR_ESCAPES: Final = str.maketrans(
    {"&": "&amp;", "<": "&lt;", '"': "&quot;", "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}
)
_RESERVED_XML_PREFIXES: Final[Mapping[str, str]] = {
    "epcis": EPCIS_NS,
    "epcisq": QUERY_NS,
    "xml": XML_NS,
}


def _escape_text(text: str, path: str) -> str:
    if _NOT_XML.search(text):
        raise InvalidInput(path, "contains a character XML 1.0 cannot represent")
    return text.translate(_TEXT_ESCAPES)


def _escape_attr(text: str, path: str) -> str:
    if _NOT_XML.search(text):
        raise InvalidInput(path, "contains a character XML 1.0 cannot represent")
    return text.translate(_ATTR_ESCAPES)


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


class _Writer:
    def __init__(self, context: object, cbv_format: Literal["urn", "web"]) -> None:
        try:
            self.ctx: Context = resolve_context(context)
        except ValueError as exc:
            raise InvalidInput("@context", str(exc)) from None
        self.cbv = _CBV_URN if cbv_format == "urn" else _CBV_WEB
        self.lines: list[str] = []
        self.indent = 0
        self.prefix_of: dict[str, str] = {}  # namespace -> XML prefix
        self.iri_of: dict[str, str] = dict(_RESERVED_XML_PREFIXES)  # XML prefix -> namespace

    # -- names ---------------------------------------------------------------------------------

    def xml_prefix(self, iri: str, wanted: str) -> str:
        found = self.prefix_of.get(iri)
        if found is not None:
            return found
        if iri == XML_NS:
            return "xml"
        # XML reserves names starting with "xml"; the root's prefixes are taken too.
        usable = bool(_NCNAME.match(wanted)) and not wanted.lower().startswith("xml")
        base = wanted if usable else "ns"
        prefix = base
        n = 0
        while prefix in self.iri_of or not usable:
            n += 1
            prefix = f"{base}_{n}"
            usable = True
        self.prefix_of[iri] = prefix
        self.iri_of[prefix] = iri
        return prefix

    def name(self, key: str, path: str) -> str:
        """The XML name of an extension key: ``prefix:local`` with a declared namespace."""
        prefix, colon, local = key.partition(":")
        if not colon:
            if not _NCNAME.match(key):
                raise InvalidInput(path, f"{key!r} is not a valid XML element name")
            return key
        iri = self.ctx.namespaces.get(prefix) or jsonld.GS1_PREFIXES.get(prefix)
        if iri is None:
            raise InvalidInput(
                path, f"prefix {prefix!r} is not declared in @context, so it has no XML namespace"
            )
        if not _NCNAME.match(local):
            raise InvalidInput(path, f"{local!r} is not a valid XML name")
        return f"{self.xml_prefix(iri, prefix)}:{local}"

    def iri_of_key(self, key: str) -> tuple[str, str]:
        prefix, _, local = key.partition(":")
        return self.ctx.namespaces.get(prefix) or jsonld.GS1_PREFIXES.get(prefix, ""), local

    # -- values --------------------------------------------------------------------------------

    def text(self, value: object, path: str) -> str:
        """A scalar as XML text; compact IRIs with a declared prefix are expanded (the hash does)."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise InvalidInput(path, f"{value} cannot be written as a number")
            return repr(value)
        if isinstance(value, str):
            colon = value.find(":")
            if colon > 0:
                namespace = self.ctx.namespaces.get(value[:colon])
                if namespace is not None:
                    return namespace + value[colon + 1 :]
            return value
        raise InvalidInput(path, f"must be a string, number or boolean, not {type(value).__name__}")

    def decimal(self, value: object, path: str) -> str:
        """xsd:decimal has no exponent: 1e-07 is written 0.0000001."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(path, "must be a number")
        if isinstance(value, int):
            return str(value)
        if not math.isfinite(value):
            raise InvalidInput(path, f"{value} cannot be written as a number")
        return format(Decimal(repr(value)), "f")

    def cbv_value(self, kind: str, value: object, path: str) -> str:
        if isinstance(value, str) and value in _CBV_WORDS[kind]:
            return self.cbv[kind] + value
        return self.text(value, path)

    # -- output --------------------------------------------------------------------------------

    def open(self, name: str, attrs: Sequence[tuple[str, str]] = (), *, path: str = "") -> None:
        self.lines.append(f"{'  ' * self.indent}<{name}{self._attrs(attrs, path)}>")
        self.indent += 1

    def close(self, name: str) -> None:
        self.indent -= 1
        self.lines.append(f"{'  ' * self.indent}</{name}>")

    def leaf(self, name: str, text: str, path: str, attrs: Sequence[tuple[str, str]] = ()) -> None:
        body = _escape_text(text, path)
        pad = "  " * self.indent
        if body:
            self.lines.append(f"{pad}<{name}{self._attrs(attrs, path)}>{body}</{name}>")
        else:
            self.lines.append(f"{pad}<{name}{self._attrs(attrs, path)}/>")

    @staticmethod
    def _attrs(attrs: Sequence[tuple[str, str]], path: str) -> str:
        return "".join(f' {k}="{_escape_attr(v, path)}"' for k, v in attrs)

    # -- events --------------------------------------------------------------------------------

    def event(self, event: object, path: str) -> None:
        if not isinstance(event, Mapping):
            raise InvalidInput(path, "must be an object")
        typ = event.get("type")
        if not isinstance(typ, str) or typ not in _ORDER:
            raise InvalidInput(f"{path}.type", f"{typ!r} is not an EPCIS 2.0 event type")
        outer = self.ctx
        own = event.get("@context")
        if own is not None:
            try:
                self.ctx = outer.merged(own)
            except ValueError as exc:
                raise InvalidInput(f"{path}.@context", str(exc)) from None
        try:
            self.open(typ)
            order = _ORDER[typ]
            for name in (*order, *(f for f in _ALL_FIELDS if f not in order)):
                value = event.get(name)
                if value is not None:
                    self.field(name, value, f"{path}.{name}")
            for key, value in event.items():
                if key in ("type", "@context") or key in _ALL_FIELDS or key in _COMMENTS:
                    continue
                if ":" not in key:
                    raise InvalidInput(
                        f"{path}.{key}",
                        "is not an EPCIS 2.0 field and has no namespace prefix, so XML cannot "
                        "carry it",
                    )
                self.extension(key, value, f"{path}.{key}")
            self.close(typ)
        finally:
            self.ctx = outer

    def field(self, name: str, value: Any, path: str) -> None:
        if name in _LEAVES:
            self.leaf(name, self.text(value, path), path)
        elif name == "certificationInfo":
            for i, item in enumerate(value if isinstance(value, list) else [value]):
                self.leaf(name, self.text(item, f"{path}[{i}]"), path)
        elif name in ("bizStep", "disposition"):
            kind = "bizstep" if name == "bizStep" else "disp"
            self.leaf(name, self.cbv_value(kind, value, path), path)
        elif name in _EPC_LISTS:
            self.open(name)
            for i, epc in enumerate(self.items(value, path)):
                self.leaf("epc", self.text(epc, f"{path}[{i}]"), f"{path}[{i}]")
            self.close(name)
        elif name in _QUANTITY_LISTS:
            self.quantity_list(name, value, path)
        elif name in ("readPoint", "bizLocation"):
            self.location(name, value, path)
        elif name in ENTRY_LISTS:
            self.entry_list(name, value, path)
        elif name == "persistentDisposition":
            self.persistent_disposition(value, path)
        elif name == "sensorElementList":
            self.sensor_element_list(value, path)
        elif name == "ilmd":
            self.ilmd(value, path)
        elif name == "errorDeclaration":
            self.error_declaration(value, path)

    @staticmethod
    def items(value: object, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise InvalidInput(path, "must be a list")
        return value

    @staticmethod
    def mapping(value: object, path: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise InvalidInput(path, "must be an object")
        return value

    def only(self, obj: Mapping[str, Any], allowed: Sequence[str], path: str) -> Iterator[str]:
        """The extension keys of ``obj``; anything else that is not in ``allowed`` is refused."""
        for key in obj:
            if key in allowed or obj[key] is None:
                continue
            if ":" not in key:
                raise InvalidInput(
                    f"{path}.{key}",
                    f"is not allowed here (only {', '.join(allowed)} and extensions)",
                )
            yield key

    def quantity_list(self, name: str, value: object, path: str) -> None:
        self.open(name)
        for i, item in enumerate(self.items(value, path)):
            item_path = f"{path}[{i}]"
            element = self.mapping(item, item_path)
            extra = [k for k in element if k not in ("epcClass", "quantity", "uom")]
            if extra:
                raise InvalidInput(f"{item_path}.{extra[0]}", "XML has no place for it")
            self.open("quantityElement")
            self.leaf("epcClass", self.text(element.get("epcClass"), f"{item_path}.epcClass"), path)
            if element.get("quantity") is not None:
                qty_path = f"{item_path}.quantity"
                self.leaf("quantity", self.decimal(element["quantity"], qty_path), qty_path)
                if element.get("uom") is not None:
                    self.leaf("uom", self.text(element["uom"], f"{item_path}.uom"), path)
            elif element.get("uom") is not None:
                raise InvalidInput(f"{item_path}.uom", "needs a quantity (XSD)")
            self.close("quantityElement")
        self.close(name)

    def location(self, name: str, value: object, path: str) -> None:
        obj = self.mapping(value, path)
        self.open(name)
        if obj.get("id") is not None:
            self.leaf("id", self.text(obj["id"], f"{path}.id"), f"{path}.id")
        for key in self.only(obj, ("id",), path):
            self.extension(key, obj[key], f"{path}.{key}")
        self.close(name)

    def entry_list(self, name: str, value: object, path: str) -> None:
        entry, kind = ENTRY_LISTS[name]
        self.open(name)
        for i, item in enumerate(self.items(value, path)):
            item_path = f"{path}[{i}]"
            obj = self.mapping(item, item_path)
            extra = [k for k in obj if k not in ("type", entry)]
            if extra:
                raise InvalidInput(f"{item_path}.{extra[0]}", "XML has no place for it")
            attrs = []
            if obj.get("type") is not None:
                attrs.append(("type", self.cbv_value(kind, obj["type"], f"{item_path}.type")))
            ident = self.text(obj.get(entry), f"{item_path}.{entry}")
            self.leaf(entry, ident, item_path, attrs)
        self.close(name)

    def persistent_disposition(self, value: object, path: str) -> None:
        obj = self.mapping(value, path)
        extra = [k for k in obj if k not in ("set", "unset")]
        if extra:
            raise InvalidInput(f"{path}.{extra[0]}", "only set and unset are allowed")
        self.open("persistentDisposition")
        for key in ("unset", "set"):  # the XSD's order
            for i, word in enumerate(self.items(obj.get(key) or [], f"{path}.{key}")):
                item_path = f"{path}.{key}[{i}]"
                self.leaf(key, self.cbv_value("disp", word, item_path), item_path)
        self.close("persistentDisposition")

    def sensor_element_list(self, value: object, path: str) -> None:
        self.open("sensorElementList")
        for i, item in enumerate(self.items(value, path)):
            item_path = f"{path}[{i}]"
            element = self.mapping(item, item_path)
            self.open("sensorElement")
            meta = element.get("sensorMetadata")
            if meta is not None:
                self.sensor_fields("sensorMetadata", meta, f"{item_path}.sensorMetadata")
            for j, report in enumerate(self.items(element.get("sensorReport") or [], item_path)):
                self.sensor_fields("sensorReport", report, f"{item_path}.sensorReport[{j}]")
            for key in self.only(element, ("sensorMetadata", "sensorReport"), item_path):
                self.extension(key, element[key], f"{item_path}.{key}")
            self.close("sensorElement")
        self.close("sensorElementList")

    def sensor_fields(self, name: str, value: object, path: str) -> None:
        obj = self.mapping(value, path)
        report = name == "sensorReport"
        fields = SENSOR_REPORT_FIELDS if report else SENSOR_METADATA_FIELDS
        attrs: list[tuple[str, str]] = []
        for field in fields:
            item = obj.get(field)
            if item is None:
                continue
            field_path = f"{path}.{field}"
            if report and field in SENSOR_NUMBERS and not isinstance(item, bool):
                text = self.text(item, field_path)
            elif report and field in _SENSOR_TERMS and isinstance(item, str):
                words, namespace = _SENSOR_TERMS[field]
                text = namespace + item if item in words else self.text(item, field_path)
            else:
                text = self.text(item, field_path)
            attrs.append((field, text))
        for key in self.only(obj, (*fields, "#text"), path):
            item = obj[key]
            if not _is_scalar(item):
                raise InvalidInput(
                    f"{path}.{key}", f"must be a plain value: <{name}> is an XML attribute list"
                )
            attrs.append((self.name(key, f"{path}.{key}"), self.text(item, f"{path}.{key}")))
        own_text = obj.get("#text")
        text = "" if own_text is None else self.text(own_text, f"{path}.#text")
        self.leaf(name, text, path, attrs)

    def ilmd(self, value: object, path: str) -> None:
        obj = self.mapping(value, path)
        self.open("ilmd")
        for key in self.only(obj, (), path):
            self.extension(key, obj[key], f"{path}.{key}")
        self.close("ilmd")

    def error_declaration(self, value: object, path: str) -> None:
        obj = self.mapping(value, path)
        self.open("errorDeclaration")
        if obj.get("declarationTime") is not None:
            self.leaf("declarationTime", self.text(obj["declarationTime"], path), path)
        if obj.get("reason") is not None:
            self.leaf("reason", self.cbv_value("er", obj["reason"], f"{path}.reason"), path)
        ids = obj.get("correctiveEventIDs")
        if ids is not None:
            self.open("correctiveEventIDs")
            for i, ident in enumerate(self.items(ids, f"{path}.correctiveEventIDs")):
                item_path = f"{path}.correctiveEventIDs[{i}]"
                self.leaf("correctiveEventID", self.text(ident, item_path), item_path)
            self.close("correctiveEventIDs")
        allowed = ("declarationTime", "reason", "correctiveEventIDs")
        for key in self.only(obj, allowed, path):
            self.extension(key, obj[key], f"{path}.{key}")
        self.close("errorDeclaration")

    # -- extensions ----------------------------------------------------------------------------

    def extension(self, key: str, value: Any, path: str) -> None:
        """One extension field: an element per value (a list means repeated elements)."""
        if key.startswith(("@", "#")):
            raise InvalidInput(path, "JSON-LD keywords cannot be written as XML")
        if value is None:
            return
        name = self.name(key, path)
        if isinstance(value, list):
            local = key.partition(":")[2] or key
            if local.endswith("List") and len(local) > 4:
                # "xList": [a, b] is <xList><x>a</x><x>b</x></xList>, the way the hash and the
                # XML reader regroup it (the EPCIS lists themselves work the same way).
                inner = key[:-4]
                self.open(name)
                for i, item in enumerate(value):
                    if isinstance(item, list):
                        raise InvalidInput(f"{path}[{i}]", "a list inside a list has no XML form")
                    self.extension(inner, item, f"{path}[{i}]")
                self.close(name)
                return
            for i, item in enumerate(value):
                if isinstance(item, list):
                    raise InvalidInput(f"{path}[{i}]", "a list inside a list has no XML form")
                self.element(name, item, f"{path}[{i}]")
            return
        self.element(name, value, path)

    def element(self, name: str, value: Any, path: str) -> None:
        if value is None:
            return
        if not isinstance(value, Mapping):
            self.leaf(name, self.text(value, path), path)
            return
        text_value = value.get("#text")
        attrs: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()
        children: list[str] = []
        for key, item in value.items():
            if key == "#text" or item is None:
                continue
            if key.startswith("@"):
                raise InvalidInput(f"{path}.{key}", "JSON-LD keywords cannot be written as XML")
            iri, local = self.iri_of_key(key) if ":" in key else ("", key)
            # Attributes where XML had them (xsi:*, or beside a text); elements otherwise. The
            # hash cannot tell the two apart, both are children in its tree.
            if (
                _is_scalar(item)
                and (iri == XSI_NS or text_value is not None)
                and (iri, local) not in seen
            ):
                seen.add((iri, local))
                attrs.append((self.name(key, f"{path}.{key}"), self.text(item, f"{path}.{key}")))
            else:
                children.append(key)
        text = "" if text_value is None else self.text(text_value, f"{path}.#text")
        if not children:
            self.leaf(name, text, path, attrs)
            return
        pad = "  " * self.indent
        self.lines.append(f"{pad}<{name}{self._attrs(attrs, path)}>{_escape_text(text, path)}")
        self.indent += 1
        for key in children:
            self.extension(key, value[key], f"{path}.{key}")
        self.close(name)


def events_to_xml(
    events: Sequence[Mapping[str, Any]],
    context: object = None,
    *,
    query_name: str | None = None,
    subscription_id: str | None = None,
    creation_date: str | None = None,
    cbv_format: Literal["urn", "web"] = "urn",
) -> bytes:
    """Serialise JSON-LD-shaped events to an EPCIS 2.0 XML document (UTF-8 bytes).

    ``context`` is the events' JSON-LD ``@context``; its declared prefixes become the XML
    namespaces of the extension fields. With ``query_name`` the result is an
    ``EPCISQueryDocument`` (query results), otherwise an ``EPCISDocument``. ``creation_date``
    defaults to now (UTC). Raises :class:`~battrace.domain.errors.InvalidInput` for what XML
    cannot carry (keys without a namespace, lists of lists, characters outside XML 1.0).
    """
    writer = _Writer(context, cbv_format)
    query = query_name is not None
    writer.indent = 5 if query else 3
    where = "queryResults.resultsBody.eventList" if query else "eventList"
    for i, event in enumerate(events):
        writer.event(event, f"{where}[{i}]")
    body = writer.lines

    created = creation_date or datetime.now(UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )
    root_prefix, root_ns, root = (
        ("epcisq", QUERY_NS, "EPCISQueryDocument")
        if query
        else ("epcis", EPCIS_NS, "EPCISDocument")
    )
    declarations = [(f"xmlns:{root_prefix}", root_ns)]
    declarations += [(f"xmlns:{p}", iri) for iri, p in writer.prefix_of.items() if p != "xml"]
    declarations += [("schemaVersion", "2.0"), ("creationDate", created)]
    head = writer
    head.lines = ['<?xml version="1.0" encoding="UTF-8"?>']
    head.indent = 0
    head.open(f"{root_prefix}:{root}", declarations, path="document")
    head.open("EPCISBody")
    if query:
        head.open("epcisq:QueryResults")
        head.leaf("queryName", str(query_name), "queryName")
        if subscription_id is not None:
            head.leaf("subscriptionID", subscription_id, "subscriptionID")
        head.open("resultsBody")
    if body:
        head.open("EventList")
        head.lines += body
        head.close("EventList")
    else:
        head.leaf("EventList", "", "EventList")
    if query:
        head.close("resultsBody")
        head.close("epcisq:QueryResults")
    head.close("EPCISBody")
    head.close(f"{root_prefix}:{root}")
    return ("\n".join(head.lines) + "\n").encode("utf-8")
