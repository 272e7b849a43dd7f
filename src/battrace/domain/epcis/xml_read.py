"""Reading untrusted EPCIS 2.0 XML into the JSON-LD event shape.

:func:`parse_xml_document` turns an ``EPCISDocument`` or ``EPCISQueryDocument`` into the same
:class:`~battrace.domain.epcis.document.ParsedDocument` the JSON-LD path produces: a JSON-LD
``@context`` (the standard context plus the prefixes of the extension namespaces) and events as
JSON-LD-shaped dicts, so :func:`~battrace.domain.epcis.event.parse_event` validates them and the
Event Hash ID is computed by one code path for both syntaxes (epcis.md §3.2 rule 14).

Safety, checked in this order: the size limit before anything is parsed; the bytes must be UTF-8
and a declared encoding must be UTF-8 (or its subset US-ASCII); the parser is defusedxml's, which
refuses entity declarations and external references, and on top of that any DTD except a bare
``<!DOCTYPE name>`` (one official example has one) is refused, so no entity can ever be
declared (billion laughs, external entities, external DTDs); element nesting is limited
(:data:`MAX_DEPTH`), which also bounds every recursion below. Events are converted as soon as
their end tag is read and their XML nodes dropped, so memory holds the result, not a DOM.

The mapping rules (docs/epcis-xml.md) follow what the reference Event Hash ID implementation
reads from XML (its ``xml_to_py``), so an event parsed here hashes like the reference hashes the
XML file; the few places where it cannot or should not are listed in :data:`XML_DEVIATIONS`.
"""

from __future__ import annotations

import codecs
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from battrace.domain.epcis import jsonld, vocab
from battrace.domain.epcis.document import DEFAULT_LIMITS, STANDARD_CONTEXT, Limits, ParsedDocument
from battrace.domain.errors import EventError, InvalidInput

__all__ = [
    "EPCIS_NS",
    "MAX_DEPTH",
    "QUERY_NS",
    "XML_DEVIATIONS",
    "parse_xml_document",
    "xml_event_path",
]

EPCIS_NS: Final = "urn:epcglobal:epcis:xsd:2"
QUERY_NS: Final = "urn:epcglobal:epcis-query:xsd:2"
XSI_NS: Final = "http://www.w3.org/2001/XMLSchema-instance"
XML_NS: Final = "http://www.w3.org/XML/1998/namespace"

#: Deepest element nesting accepted. An EPCIS event sits at depth 4 (6 in a query document);
#: the rest is room for extensions. Keeps every recursion (here, in the hash, in orjson, whose
#: limit is 254) far from its limit.
MAX_DEPTH: Final = 100

#: Where an event parsed here hashes differently from what the reference implementation
#: (``epcis-event-hash-generator`` 1.9.3) computes for the XML file, and why.
XML_DEVIATIONS: Final[Mapping[str, str]] = {
    "boolean-value": "sensorReport booleanValue becomes a JSON boolean (its JSON-LD type), which "
    "the hash renders 'True'/'False' like the reference's JSON path; the reference's XML path "
    "renders the text 'true'. Same event, two hashes in the reference (rule 14); battrace gives "
    "the JSON-LD twin's hash.",
    "xsi-on-standard-fields": "xsi:* attributes on standard EPCIS elements are XML typing, not "
    "data, and the typed JSON-LD fields cannot carry them: xsi:nil='true' makes the element "
    "absent (rule 3), xsi:type is dropped. The reference hashes them as leftover fields.",
    "typeless-biz-transaction": "A bizTransaction without type is accepted; the reference raises "
    "IndexError for the whole document.",
    "standard-namespace-extensions": "Extension elements in a namespace of the EPCIS JSON-LD "
    "context (e.g. cbvmda 'urn:epcglobal:cbv:mda:') keep that standard prefix, undeclared, as "
    "a JSON-LD twin would write them; the hash then renders 'cbvmda:lotNumber' like the "
    "reference's JSON path, not '{urn:epcglobal:cbv:mda:}lotNumber' like its XML path.",
    "empty-extension-elements": "An empty extension element becomes '' and is omitted from the "
    "hash (rule 3); the reference's XML path writes its bare name.",
    "list-named-extensions": "An extension element whose local name ends in 'List' is hashed "
    "like JSON, whose xList keys hold x items; only when its children are exactly those x "
    "elements does this equal the reference's XML path.",
    "bare-word-replacement": "The hash expands bare CBV words the way the reference's JSON path "
    "does (a string equal to the tail of a CBV value of the event is replaced by it), so an "
    "extension value such as 'receiving' next to bizStep receiving hashes as the CBV URI.",
    "not-an-event-document": "Master-data documents, capture jobs and EPCIS 1.x documents are "
    "refused; the reference reads no events from them.",
}

_EXTENSION_WRAPPERS: Final = frozenset({"extension", "baseExtension"})
# The reference expands only these CURIE prefixes in XML values (epcis.md §3.2 rule 16).
_VALUE_EXPANSIONS: Final = (("gs1:", jsonld.GS1), ("cbv:", jsonld.CBV))
_STANDARD_PREFIX_BY_IRI: Final[Mapping[str, str]] = {
    iri: name for name, iri in jsonld.GS1_PREFIXES.items()
}
_XML_DECLARATION = re.compile(rb"\A(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")
_UTF8_NAMES: Final = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_INTEGER = re.compile(r"[+-]?\d+\Z")
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)\Z")
_DOUBLE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z")


def _term_names(terms: Mapping[str, jsonld.Term], out: set[str]) -> set[str]:
    for name, term in terms.items():
        out.add(name)
        if term.scope is not None:
            _term_names(term.scope, out)
    return out


#: Names a document's own context must not (re)define: the EPCIS context is @protected.
RESERVED_PREFIXES: Final[frozenset[str]] = frozenset(
    _term_names(jsonld.EPCIS_TERMS, set()) | set(jsonld.GS1_PREFIXES) | {"_", "xmlns"}
)


@dataclass(frozen=True, slots=True)
class _Ext:
    """An extension name before its JSON-LD prefix is chosen (at the end of the document)."""

    uri: str
    local: str


Key = str | _Ext


class _Node:
    __slots__ = ("attrib", "children", "line", "tag", "text")

    def __init__(self, tag: str, attrib: dict[str, str], line: int) -> None:
        self.tag = tag
        self.attrib = attrib
        self.line = line
        self.text: list[str] = []
        self.children: list[_Node] = []

    @property
    def uri(self) -> str:
        return self.tag[1:].partition("}")[0] if self.tag[:1] == "{" else ""

    @property
    def local(self) -> str:
        return self.tag.rpartition("}")[2]

    def value(self) -> str:
        # Only the text before the first child counts, as in the reference (ElementTree .text).
        return "".join(self.text).strip()


def _split(name: str) -> tuple[str, str]:
    """``{uri}local`` -> (uri, local); unqualified names have uri ''."""
    if name[:1] == "{":
        uri, _, local = name[1:].partition("}")
        return uri, local
    return "", name


# Roles of the document skeleton while streaming.
_ROOT, _BODY, _RESULTS, _RESULTS_BODY, _EVENT_LIST, _EVENT, _INSIDE, _SKIP = range(8)


class _Reader:
    """The ElementTree parser target: builds nodes, converts each event when it ends."""

    def __init__(self, limits: Limits, max_depth: int) -> None:
        self.limits = limits
        self.max_depth = max_depth
        self.stack: list[tuple[_Node, int]] = []
        self.kind = ""
        self.body_path = ""
        self.raw_events: list[tuple[dict[Key, Any], str]] = []
        self.has_event_list = False
        self.has_results = False
        # uri -> prefixes declared for it, in document order (preferred context prefixes)
        self.declared: dict[str, list[str]] = {}
        self.prefix_of: dict[str, str] = {}  # uri -> last declared prefix, for messages
        self.line: Callable[[], int] = lambda: 0
        self.converter = _Converter(self)

    # -- target protocol ---------------------------------------------------------------------

    def start_ns(self, prefix: str, uri: str) -> None:
        names = self.declared.setdefault(uri, [])
        if prefix not in names:
            names.append(prefix)
        self.prefix_of[uri] = prefix

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        depth = len(self.stack) + 1
        if depth > self.max_depth:
            raise InvalidInput(
                self._path_here(tag),
                f"is nested {depth} elements deep; the limit is {self.max_depth} "
                f"(line {self.line()})",
            )
        node = _Node(tag, attrib, self.line())
        role = self._role(node)
        if role == _EVENT and len(self.raw_events) >= self.limits.max_events:
            raise InvalidInput(
                self.body_path, f"has more than {self.limits.max_events:,} events (the limit)"
            )
        self.stack.append((node, role))

    def data(self, text: str) -> None:
        if self.stack:
            node, role = self.stack[-1]
            if role >= _EVENT and role != _SKIP and not node.children:
                node.text.append(text)

    def end(self, tag: str) -> None:
        node, role = self.stack.pop()
        if role == _EVENT:
            index = len(self.raw_events)
            path = f"{self.body_path}.{self.converter.qname(node)}[{index}]"
            self.raw_events.append((self.converter.event(node, path), path))
        elif role == _INSIDE and self.stack:
            parent, parent_role = self.stack[-1]
            if parent_role >= _EVENT and parent_role != _SKIP:
                parent.children.append(node)

    def close(self) -> None:
        return None

    # -- the document skeleton ---------------------------------------------------------------

    def _role(self, node: _Node) -> int:
        if not self.stack:
            return self._root(node)
        parent_role = self.stack[-1][1]
        tag = node.tag
        if parent_role == _ROOT:
            return _BODY if tag == "EPCISBody" else _SKIP
        if parent_role == _BODY:
            if self.kind == "EPCISDocument" and tag == "EventList":
                self.has_event_list = True
                self.body_path = "EPCISBody.EventList"
                return _EVENT_LIST
            if self.kind == "EPCISQueryDocument" and tag == f"{{{QUERY_NS}}}QueryResults":
                self.has_results = True
                return _RESULTS
            return _SKIP
        if parent_role == _RESULTS:
            return _RESULTS_BODY if tag == "resultsBody" else _SKIP
        if parent_role == _RESULTS_BODY:
            if tag == "EventList":
                self.has_event_list = True
                self.body_path = "EPCISBody.QueryResults.resultsBody.EventList"
                return _EVENT_LIST
            return _SKIP
        if parent_role == _EVENT_LIST:
            # EPCIS 1.x wrapped newer event types in <extension> inside EventList; the
            # reference drops those wrappers, so events inside them count as events.
            return _EVENT_LIST if tag in _EXTENSION_WRAPPERS else _EVENT
        if parent_role == _SKIP:
            return _SKIP
        return _INSIDE

    def _root(self, node: _Node) -> int:
        uri, local = _split(node.tag)
        if (uri, local) in ((EPCIS_NS, "EPCISDocument"), (QUERY_NS, "EPCISQueryDocument")):
            self.kind = local
        elif uri.startswith("urn:epcglobal:epcis") and uri.endswith(":xsd:1"):
            raise InvalidInput(
                "document",
                f"is an EPCIS 1.x document (namespace {uri}); only EPCIS 2.0 "
                f"({EPCIS_NS}) is accepted",
            )
        else:
            shown = f"{local} in namespace {uri}" if uri else f"{local} (no namespace)"
            raise InvalidInput(
                "document",
                f"root element is {shown}; expected EPCISDocument ({EPCIS_NS}) or "
                f"EPCISQueryDocument ({QUERY_NS})",
            )
        return _ROOT

    def _path_here(self, tag: str) -> str:
        names = [self.converter.qname(n) for n, _ in self.stack[1:]]
        names.append(self.converter.qname(_Node(tag, {}, 0)))
        return ".".join(names) or "document"


def _expand(text: str) -> str:
    for prefix, iri in _VALUE_EXPANSIONS:
        if text.startswith(prefix):
            text = text.replace(prefix, iri)
    return text


def _cbv(kind: str, text: str) -> str:
    """The bare CBV word for a CBV URN/URI; anything else unchanged."""
    word = vocab.short_cbv(kind, text)
    return word if word != text and word in _CBV_WORDS[kind] else text


_CBV_WORDS: Final[Mapping[str, frozenset[str]]] = {
    "bizstep": vocab.BIZ_STEPS,
    "disp": vocab.DISPOSITIONS,
    "btt": vocab.BIZ_TRANSACTION_TYPES,
    "sdt": vocab.SOURCE_DEST_TYPES,
    "er": vocab.ERROR_REASONS,
}


def _gs1_word(text: str, words: frozenset[str], namespace: str) -> str:
    if text.startswith(namespace) and text[len(namespace) :] in words:
        return text[len(namespace) :]
    return text


# The standard event fields, by kind of content.
_LEAVES: Final = frozenset(
    "eventTime recordTime eventTimeZoneOffset eventID action parentID transformationID".split()
)
_VOCAB_LEAVES: Final[Mapping[str, str]] = {"bizStep": "bizstep", "disposition": "disp"}
_EPC_LISTS: Final = frozenset({"epcList", "childEPCs", "inputEPCList", "outputEPCList"})
_QUANTITY_LISTS: Final = frozenset(
    {"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"}
)
_LOCATIONS: Final = frozenset({"readPoint", "bizLocation"})
#: list element -> (entry element, CBV kind of its type attribute)
ENTRY_LISTS: Final[Mapping[str, tuple[str, str]]] = {
    "bizTransactionList": ("bizTransaction", "btt"),
    "sourceList": ("source", "sdt"),
    "destinationList": ("destination", "sdt"),
}
SENSOR_METADATA_FIELDS: Final = (
    "time startTime endTime deviceID deviceMetadata rawData dataProcessingMethod bizRules".split()
)
SENSOR_NUMBERS: Final = frozenset(
    "value minValue maxValue meanValue sDev percRank percValue".split()
)
SENSOR_REPORT_FIELDS: Final = (
    "type exception deviceID deviceMetadata rawData dataProcessingMethod bizRules time "
    "microorganism chemicalSubstance coordinateReferenceSystem value component stringValue "
    "booleanValue hexBinaryValue uriValue minValue maxValue meanValue sDev percRank percValue "
    "uom"
).split()
_BOOLEANS: Final[Mapping[str, bool]] = {"true": True, "1": True, "false": False, "0": False}


class _Converter:
    """XML nodes of one event -> JSON-LD-shaped dict (extension keys still as :class:`_Ext`)."""

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        self.extension_uris: dict[str, None] = {}  # ordered set
        self.value_prefixes: set[str] = set()

    # -- helpers ------------------------------------------------------------------------------

    def qname(self, node: _Node) -> str:
        uri, local = _split(node.tag)
        if not uri:
            return local
        prefix = self.reader.prefix_of.get(uri)
        return f"{prefix}:{local}" if prefix else f"{{{uri}}}{local}"

    def attr_name(self, name: str) -> str:
        uri, local = _split(name)
        if not uri:
            return "@" + local
        if uri == XML_NS:
            return "@xml:" + local
        prefix = self.reader.prefix_of.get(uri)
        return f"@{prefix}:{local}" if prefix else f"@{{{uri}}}{local}"

    def fail(self, path: str, node: _Node, reason: str) -> InvalidInput:
        return InvalidInput(path, f"{reason} (line {node.line})")

    def text(self, value: str) -> str:
        """A string value as the reference reads it (gs1:/cbv: expanded, rule 16)."""
        return self.note(_expand(value))

    def note(self, value: str) -> str:
        colon = value.find(":")
        if colon > 0:
            # A context prefix of this name would expand the value in the hash; XML values
            # are never CURIEs (apart from gs1:/cbv:), so such names are kept out of the context.
            self.value_prefixes.add(value[:colon])
        return value

    def ext_key(self, name: str) -> Key:
        uri, local = _split(name)
        if not uri:
            return local
        self.extension_uris.setdefault(uri, None)
        return _Ext(uri, local)

    @staticmethod
    def children(node: _Node) -> Iterator[_Node]:
        """Child elements with <extension>/<baseExtension> wrappers dissolved (as the reference)."""
        for child in node.children:
            if child.tag in _EXTENSION_WRAPPERS:
                yield from _Converter.children(child)
            else:
                yield child

    def standard_attributes(self, node: _Node, path: str, allowed: frozenset[str]) -> None:
        for name in node.attrib:
            uri, local = _split(name)
            if uri == XSI_NS or (not uri and local in allowed):
                continue
            raise self.fail(
                f"{path}.{self.attr_name(name)}", node, "is not an attribute EPCIS 2.0 allows here"
            )

    @staticmethod
    def is_nil(node: _Node) -> bool:
        return node.attrib.get(f"{{{XSI_NS}}}nil", "").strip() in ("true", "1")

    def leaf(self, node: _Node, path: str) -> str:
        self.standard_attributes(node, path, frozenset())
        if node.children:
            raise self.fail(
                f"{path}.{self.qname(node.children[0])}",
                node,
                "a child element is not allowed here",
            )
        return self.text(node.value())

    def no_text(self, node: _Node, path: str) -> None:
        if node.value():
            raise self.fail(path, node, "text is not allowed here, only child elements")

    # -- an event -----------------------------------------------------------------------------

    def event(self, node: _Node, path: str) -> dict[Key, Any]:
        uri, local = _split(node.tag)
        if uri or local not in vocab.EVENT_TYPES:
            raise self.fail(
                path,
                node,
                f"{self.qname(node)} is not an EPCIS 2.0 event type "
                f"({', '.join(sorted(vocab.EVENT_TYPES))})",
            )
        self.no_text(node, path)
        out: dict[Key, Any] = {"type": local}
        self.extension_attributes(node, path, out)
        seen: set[str] = set()
        extensions = []
        for child in self.children(node):
            name = child.tag
            child_path = f"{path}.{self.qname(child)}"
            if name[:1] == "{":
                extensions.append((child, child_path))
                continue
            if name in seen and name != "certificationInfo":
                raise self.fail(child_path, child, "appears more than once")
            seen.add(name)
            if self.is_nil(child):
                continue  # xsi:nil: no value (epcis.md §3.2 rule 3)
            value = self.field(name, child, child_path)
            if name == "certificationInfo" and name in out:
                previous = out[name]
                out[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                out[name] = value
        self.add_extensions(out, extensions)
        return out

    def field(self, name: str, node: _Node, path: str) -> Any:
        if name in _LEAVES or name == "certificationInfo":
            return self.leaf(node, path)
        kind = _VOCAB_LEAVES.get(name)
        if kind is not None:
            return _cbv(kind, self.leaf(node, path))
        if name in _EPC_LISTS:
            return self.epc_list(node, path)
        if name in _QUANTITY_LISTS:
            return self.quantity_list(node, path)
        if name in _LOCATIONS:
            return self.location(node, path)
        entry = ENTRY_LISTS.get(name)
        if entry is not None:
            return self.entry_list(node, path, *entry)
        if name == "persistentDisposition":
            return self.persistent_disposition(node, path)
        if name == "sensorElementList":
            return self.sensor_element_list(node, path)
        if name == "ilmd":
            return self.ilmd(node, path)
        if name == "errorDeclaration":
            return self.error_declaration(node, path)
        raise self.fail(
            path,
            node,
            f"<{name}> is not an EPCIS 2.0 event field; extension elements need a namespace",
        )

    def only(self, node: _Node, path: str, name: str) -> Iterator[tuple[int, _Node, str]]:
        """The children of a list element, which must all be <name>, with their paths."""
        self.standard_attributes(node, path, frozenset())
        self.no_text(node, path)
        for i, child in enumerate(self.children(node)):
            child_path = f"{path}.{self.qname(child)}[{i}]"
            if child.tag != name:
                raise self.fail(child_path, child, f"only <{name}> elements are allowed here")
            yield i, child, child_path

    def epc_list(self, node: _Node, path: str) -> list[str]:
        return [
            self.leaf(child, child_path)
            for _, child, child_path in self.only(node, path, "epc")
            if not self.is_nil(child)
        ]

    def quantity_list(self, node: _Node, path: str) -> list[dict[str, Any]]:
        out = []
        for _, element, element_path in self.only(node, path, "quantityElement"):
            self.no_text(element, element_path)
            item: dict[str, Any] = {}
            for child in self.children(element):
                child_path = f"{element_path}.{self.qname(child)}"
                name = child.tag
                if name not in ("epcClass", "quantity", "uom"):
                    raise self.fail(
                        child_path, child, "only epcClass, quantity and uom are allowed"
                    )
                if name in item:
                    raise self.fail(child_path, child, "appears more than once")
                if self.is_nil(child):
                    continue  # <quantity xsi:nil="true"/>: no quantity (rule 3)
                text = self.leaf(child, child_path)
                item[name] = (
                    _number(text, child_path, child, double=False) if name == "quantity" else text
                )
            out.append(item)
        return out

    def location(self, node: _Node, path: str) -> dict[Key, Any]:
        self.standard_attributes(node, path, frozenset())
        self.no_text(node, path)
        out: dict[Key, Any] = {}
        extensions = []
        for child in self.children(node):
            child_path = f"{path}.{self.qname(child)}"
            if child.tag[:1] == "{":
                extensions.append((child, child_path))
            elif child.tag == "id" and "id" not in out:
                out["id"] = self.leaf(child, child_path)
            else:
                raise self.fail(
                    child_path, child, "only one <id> and extension elements are allowed"
                )
        self.add_extensions(out, extensions)
        return out

    def entry_list(self, node: _Node, path: str, entry: str, kind: str) -> list[dict[str, str]]:
        out = []
        allowed = frozenset({"type"})
        for _, child, child_path in self.only(node, path, entry):
            item: dict[str, str] = {}
            typ = child.attrib.get("type")
            if typ is not None and typ.strip():
                # bizTransaction ids are not CURIE-expanded by the reference, only the type.
                item["type"] = _cbv(kind, self.text(typ.strip()))
            self.standard_attributes(child, child_path, allowed)
            if child.children:
                raise self.fail(child_path, child, "a child element is not allowed here")
            item[entry] = self.note(child.value())  # the reference expands no CURIE here
            out.append(item)
        return out

    def persistent_disposition(self, node: _Node, path: str) -> dict[str, list[str]]:
        self.standard_attributes(node, path, frozenset())
        self.no_text(node, path)
        out: dict[str, list[str]] = {}
        counts: dict[str, int] = {}
        for child in self.children(node):
            name = child.tag
            if name not in ("set", "unset"):
                raise self.fail(
                    f"{path}.{self.qname(child)}", child, "only <set> and <unset> are allowed"
                )
            i = counts[name] = counts.get(name, -1) + 1
            child_path = f"{path}.{name}[{i}]"
            if not self.is_nil(child):
                out.setdefault(name, []).append(_cbv("disp", self.leaf(child, child_path)))
        return out

    def sensor_element_list(self, node: _Node, path: str) -> list[dict[Key, Any]]:
        out = []
        for _, element, element_path in self.only(node, path, "sensorElement"):
            self.no_text(element, element_path)
            item: dict[Key, Any] = {}
            reports: list[dict[Key, Any]] = []
            extensions = []
            for child in self.children(element):
                name = child.tag
                if name == "sensorReport":
                    report_path = f"{element_path}.sensorReport[{len(reports)}]"
                    reports.append(self.sensor_fields(child, report_path, report=True))
                elif name == "sensorMetadata" and name not in item:
                    item[name] = self.sensor_fields(child, f"{element_path}.{name}", report=False)
                elif name[:1] == "{":
                    extensions.append((child, f"{element_path}.{self.qname(child)}"))
                else:
                    raise self.fail(
                        f"{element_path}.{self.qname(child)}",
                        child,
                        "only one <sensorMetadata>, <sensorReport> and extension elements are allowed",
                    )
            if reports:
                item["sensorReport"] = reports
            self.add_extensions(item, extensions)
            out.append(item)
        return out

    def sensor_fields(self, node: _Node, path: str, *, report: bool) -> dict[Key, Any]:
        if node.children:
            raise self.fail(
                f"{path}.{self.qname(node.children[0])}",
                node,
                "child elements are not allowed here",
            )
        names = SENSOR_REPORT_FIELDS if report else SENSOR_METADATA_FIELDS
        out: dict[Key, Any] = {}
        attrib = node.attrib
        for name in names:
            raw = attrib.get(name)
            if raw is None:
                continue
            text = raw.strip()
            field_path = f"{path}.@{name}"
            if report and name in SENSOR_NUMBERS:
                out[name] = _number(text, field_path, node, double=True)
            elif report and name == "booleanValue":
                flag = _BOOLEANS.get(text)
                if flag is None:
                    raise self.fail(field_path, node, f"{text!r} is not true, false, 1 or 0")
                out[name] = flag
            else:
                value = self.text(text)
                if report and name == "type":
                    value = _gs1_word(value, jsonld.MEASUREMENT_TYPES, jsonld.GS1)
                elif report and name == "exception":
                    value = _gs1_word(value, jsonld.SENSOR_ALERTS, jsonld.GS1)
                elif report and name == "component":
                    value = _gs1_word(value, jsonld.COMPONENTS, jsonld.CBV + "Comp-")
                out[name] = value
        known = set(names)
        for name, raw in attrib.items():
            uri, local = _split(name)
            if not uri and local in known:
                continue
            if not uri or uri == XSI_NS:
                if uri == XSI_NS:
                    continue
                raise self.fail(
                    f"{path}.@{local}", node, "is not an attribute EPCIS 2.0 allows here"
                )
            out[self.ext_key(name)] = self.text(raw.strip())
        text = node.value()
        if text:
            out["#text"] = self.text(text)  # simpleContent text; the reference hashes it
        return out

    def ilmd(self, node: _Node, path: str) -> dict[Key, Any]:
        self.no_text(node, path)
        out: dict[Key, Any] = {}
        self.extension_attributes(node, path, out)
        extensions = []
        for child in self.children(node):
            child_path = f"{path}.{self.qname(child)}"
            if child.tag[:1] != "{":
                raise self.fail(child_path, child, "ilmd holds only namespaced extension elements")
            extensions.append((child, child_path))
        self.add_extensions(out, extensions)
        return out

    def error_declaration(self, node: _Node, path: str) -> dict[Key, Any]:
        self.no_text(node, path)
        out: dict[Key, Any] = {}
        self.extension_attributes(node, path, out)
        extensions = []
        for child in self.children(node):
            name = child.tag
            child_path = f"{path}.{self.qname(child)}"
            if name[:1] == "{":
                extensions.append((child, child_path))
            elif name in out:
                raise self.fail(child_path, child, "appears more than once")
            elif name == "declarationTime":
                out[name] = self.leaf(child, child_path)
            elif name == "reason":
                out[name] = _cbv("er", self.leaf(child, child_path))
            elif name == "correctiveEventIDs":
                out[name] = [
                    self.leaf(c, p) for _, c, p in self.only(child, child_path, "correctiveEventID")
                ]
            else:
                raise self.fail(
                    child_path,
                    child,
                    "only declarationTime, reason, correctiveEventIDs and extension elements "
                    "are allowed",
                )
        self.add_extensions(out, extensions)
        return out

    # -- extensions ---------------------------------------------------------------------------

    def extension_attributes(self, node: _Node, path: str, out: dict[Key, Any]) -> None:
        """Namespaced attributes of an element that allows any: extension fields of it."""
        for name, raw in node.attrib.items():
            uri, local = _split(name)
            if uri == XSI_NS:
                continue
            if not uri:
                raise self.fail(
                    f"{path}.@{local}", node, "is not an attribute EPCIS 2.0 allows here"
                )
            _add(out, self.ext_key(name), self.text(raw.strip()))

    def add_extension(
        self, out: dict[Key, Any], node: _Node, path: str, *, alone: bool = True
    ) -> None:
        if node.uri in (EPCIS_NS, QUERY_NS):
            raise self.fail(
                path, node, "EPCIS 2.0 fields are unqualified; this namespace is not an extension"
            )
        _add(out, self.ext_key(node.tag), self.extension_value(node, path, alone=alone))

    def add_extensions(self, out: dict[Key, Any], nodes: list[tuple[_Node, str]]) -> None:
        """Several extension elements of one parent (repeated names become lists)."""
        counts: dict[str, int] = {}
        for node, _ in nodes:
            counts[node.tag] = counts.get(node.tag, 0) + 1
        for node, path in nodes:
            self.add_extension(out, node, path, alone=counts[node.tag] == 1)

    def extension_value(self, node: _Node, path: str, *, alone: bool = True) -> Any:
        """An extension element: its text, or an object of its attributes and children.

        Attributes are kept as fields (xsi:type included, the reference hashes it); a text
        next to attributes or children is the ``#text`` field, as the reference's JSON reader
        expects it.
        """
        children = list(self.children(node))
        text = node.value()
        if not node.attrib and not children:
            return self.text(text)
        uri, local = _split(node.tag)
        if alone and local.endswith("List") and not node.attrib and not text and children:
            item = f"{{{uri}}}{local[:-4]}" if uri else local[:-4]
            if all(c.tag == item for c in children):
                # JSON writes <xList><x>a</x><x>b</x></xList> as "xList": [a, b] (the hash
                # regroups it so); any other shape has no JSON twin (XML_DEVIATIONS).
                return [
                    self.extension_value(c, f"{path}.{self.qname(c)}[{i}]")
                    for i, c in enumerate(children)
                ]
        out: dict[Key, Any] = {}
        if text:
            out["#text"] = self.text(text)
        for name, raw in node.attrib.items():
            _add(out, self.ext_key(name), self.text(raw.strip()))
        counts: dict[str, int] = {}
        nodes = []
        for child in children:
            i = counts[child.tag] = counts.get(child.tag, -1) + 1
            nodes.append((child, f"{path}.{self.qname(child)}[{i}]"))
        self.add_extensions(out, nodes)
        return out


def _add(out: dict[Key, Any], key: Key, value: Any) -> None:
    """Set ``key``; a repeated name becomes a list (the hash flattens it back into repeats)."""
    if key not in out:
        out[key] = value
        return
    previous = out[key]
    if isinstance(previous, _Repeated):
        previous.append(value)
    else:
        out[key] = _Repeated((previous, value))


class _Repeated(list[Any]):
    """A list made of repeated elements, as opposed to one element whose value is a list."""


def _number(text: str, path: str, node: _Node, *, double: bool) -> int | float:
    """xsd:decimal (or xsd:double) text -> a JSON number; exact for integers."""
    if _INTEGER.match(text):
        try:
            return int(text)
        except ValueError:  # more digits than Python converts
            raise InvalidInput(path, f"has too many digits (line {node.line})") from None
    if not (_DOUBLE if double else _DECIMAL).match(text):
        what = "an xsd:double number" if double else "an xsd:decimal number"
        raise InvalidInput(path, f"{text[:40]!r} is not {what} (line {node.line})")
    value = float(text)
    if math.isinf(value):
        raise InvalidInput(path, f"{text[:40]!r} is out of range (line {node.line})")
    return value


# -- naming the extension namespaces -------------------------------------------------------------


def _choose_prefixes(
    uris: Iterator[str], declared: Mapping[str, list[str]], value_prefixes: set[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """uri -> JSON-LD prefix for every extension namespace, and the ones the context declares.

    A namespace of the EPCIS context itself keeps its standard prefix undeclared. Otherwise the
    document's own XML prefix is used unless the EPCIS context reserves that name (it is
    @protected) or some value starts with it (the hash would expand that value); then a
    numbered variant is made up.
    """
    names: dict[str, str] = {}
    context: dict[str, str] = {}
    taken = set(RESERVED_PREFIXES) | value_prefixes
    for uri in uris:
        standard = _STANDARD_PREFIX_BY_IRI.get(uri)
        if standard is not None:
            names[uri] = standard
            continue
        wanted = [p for p in declared.get(uri, []) if p]
        if uri == XML_NS:
            wanted.append("xml")
        chosen = next((p for p in wanted if p not in taken), None)
        if chosen is None:
            base = wanted[0] if wanted else "ns"
            n = 1
            while f"{base}_{n}" in taken:
                n += 1
            chosen = f"{base}_{n}"
        taken.add(chosen)
        context[chosen] = uri
        names[uri] = chosen
    return names, context


def _finish(value: Any, names: Mapping[str, str]) -> Any:
    """Replace :class:`_Ext` keys by ``prefix:local`` and repeated lists by plain lists."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, _Ext):
                key = f"{names[key.uri]}:{key.local}"
            out[key] = _finish(item, names)
        return out
    if isinstance(value, list):
        return [_finish(item, names) for item in value]
    return value


# -- entry point --------------------------------------------------------------------------------


def xml_event_path(kind: str, index: int, event: Mapping[str, Any]) -> str:
    """The element path of event ``index`` of a parsed XML document, e.g. for
    ``parse_event(event, xml_event_path(doc.kind, i, event))``, so validation errors name
    ``EPCISBody.EventList.ObjectEvent[3].eventTime`` like the reader's own errors do."""
    body = (
        "EPCISBody.QueryResults.resultsBody.EventList"
        if kind == "EPCISQueryDocument"
        else "EPCISBody.EventList"
    )
    typ = event.get("type")
    return f"{body}.{typ if isinstance(typ, str) else 'event'}[{index}]"


def _refuse_doctype(name: str, sysid: str | None, pubid: str | None, internal: bool) -> None:
    # A bare <!DOCTYPE name> declares nothing and occurs in the official examples; anything else
    # (an external DTD, an internal subset that could declare entities) is refused outright.
    if sysid or pubid or internal:
        raise InvalidInput(
            "document", "has a DTD (<!DOCTYPE … [ ] or SYSTEM/PUBLIC); DTDs are not accepted"
        )


def _check_encoding(data: bytes) -> None:
    declared = _XML_DECLARATION.match(data[:1024])
    if declared is not None:
        name = declared.group(1).decode("ascii", "replace").strip().lower()
        if name not in _UTF8_NAMES:
            raise InvalidInput("document", f"declares encoding {name!r}; only UTF-8 is accepted")
    # Chunked, so a large document is not copied into one big str just to be checked.
    decoder = codecs.getincrementaldecoder("utf-8")()
    chunk = 1 << 20
    for start in range(0, len(data), chunk):
        piece = data[start : start + chunk]
        try:
            decoder.decode(piece, final=start + chunk >= len(data))
        except UnicodeDecodeError as exc:
            # exc.object is the bytes held back from the last chunk followed by this one.
            offset = start + exc.start - (len(exc.object) - len(piece))
            raise InvalidInput(
                "document", f"is not valid UTF-8 (byte {offset:,}: {exc.reason})"
            ) from None


def parse_xml_document(
    data: bytes, limits: Limits = DEFAULT_LIMITS, *, max_depth: int = MAX_DEPTH
) -> ParsedDocument:
    """Parse an EPCIS 2.0 XML ``EPCISDocument`` or ``EPCISQueryDocument`` (untrusted bytes).

    Returns the JSON-LD view: ``context`` is ``[STANDARD_CONTEXT, {prefix: namespace}]`` and
    ``events`` are JSON-LD-shaped dicts in document order. Raises
    :class:`~battrace.domain.errors.InvalidInput` naming the element path
    (``EPCISBody.EventList.ObjectEvent[3].eventTime``, the index being the event's position in
    the EventList) for anything that is not a safe, well-formed EPCIS 2.0 XML event document.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInput("document", "must be bytes")
    data = bytes(data)
    if len(data) > limits.max_document_bytes:
        raise InvalidInput(
            "document", f"is {len(data):,} bytes; the limit is {limits.max_document_bytes:,}"
        )
    _check_encoding(data)
    reader = _Reader(limits, max_depth)
    parser = DefusedXMLParser(
        target=reader,
        encoding="utf-8",
        forbid_dtd=False,
        forbid_entities=True,
        forbid_external=True,
    )
    expat = parser.parser
    expat.StartDoctypeDeclHandler = _refuse_doctype
    reader.line = lambda: int(expat.CurrentLineNumber)
    try:
        parser.feed(data)
        parser.close()
    except DefusedXmlException as exc:
        raise InvalidInput(
            "document", f"declares entities or refers to external resources ({exc})"
        ) from None
    except SyntaxError as exc:  # ElementTree's ParseError
        raise InvalidInput("document", f"is not well-formed XML ({exc})") from None
    except RecursionError:
        raise InvalidInput("document", "is nested too deeply") from None
    if not reader.kind:
        raise InvalidInput("document", "has no root element")
    if reader.kind == "EPCISQueryDocument" and not reader.has_results:
        raise InvalidInput("EPCISBody.QueryResults", "is required")
    if not reader.has_event_list:
        where = (
            "EPCISBody.EventList"
            if reader.kind == "EPCISDocument"
            else "EPCISBody.QueryResults.resultsBody.EventList"
        )
        raise InvalidInput(where, "is required")

    converter = reader.converter
    names, declared = _choose_prefixes(
        iter(converter.extension_uris), reader.declared, converter.value_prefixes
    )
    events = [_finish(event, names) for event, _ in reader.raw_events]
    if len(data) > limits.max_event_bytes:
        for event, (_, path) in zip(events, reader.raw_events, strict=True):
            size = len(orjson.dumps(event))
            if size > limits.max_event_bytes:
                raise EventError(
                    path, f"is {size:,} bytes as JSON; one event may be {limits.max_event_bytes:,}"
                )
    return ParsedDocument([STANDARD_CONTEXT, declared], events, reader.kind)
