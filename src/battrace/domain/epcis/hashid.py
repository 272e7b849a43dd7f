"""EPCIS Event Hash ID (CBV 2.0): ``ni:///sha-256;<hex>?ver=CBV2.0``.

The hash is the SHA-256 of a *pre-hash string*, a canonical text form of one event (epcis.md §3).
Interoperability is the whole point of the ID, so this module computes exactly what the reference
implementation (PyPI ``epcis-event-hash-generator`` 1.9.3, tested differentially in
``tests/integration/test_hashid_reference.py``) computes for JSON-LD input, quirks included, except
where that implementation fails or contradicts the rules written down in epcis.md §3.2. Every such
difference is listed in :data:`DIFFERENCES_FROM_REFERENCE` and pinned by a test.

Two renderers produce the pre-hash string:

* :func:`_render_general` mirrors the reference's data flow: the JSON object becomes a tree of
  ``(name, text, children)`` nodes, list-valued keys are flattened into repeated children,
  ``…List`` keys are regrouped the way the XML model has them, then the canonical property order
  consumes what it knows and every leftover is appended, sorted, at the end. It handles anything.
* :class:`_Fast` handles the common event shape (standard fields, extensions with declared
  prefixes, plain sensor reports) straight from the JSON, with per-key-set plans and per-context
  caches of canonical values, and gives up on anything unusual, which then goes to the general
  renderer. The tests check both against each other and against the reference.

Values that are bare CBV words (``"shipping"``) are expanded the way the reference does it: the
event is JSON-LD-expanded (offline, :mod:`battrace.domain.epcis.jsonld`), every expanded value in
the CBV or GS1 vocabulary is collected, and any string value of the event that is the tail of
exactly one of them after a ``-`` or ``/`` is replaced by it. The reference does this across the
whole document; battrace does it per event, so that an event's ID never depends on its neighbours
(identical results on every official example).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from battrace.domain.epcis import jsonld
from battrace.domain.epcis.gs1 import canonical_digital_link
from battrace.domain.epcis.jsonld import Context, resolve_context
from battrace.domain.errors import EventError

__all__ = [
    "DIFFERENCES_FROM_REFERENCE",
    "EventHasher",
    "document_events",
    "event_hash_id",
    "hash_document",
    "hash_events",
    "prehash_document",
    "prehash_string",
]

DIFFERENCES_FROM_REFERENCE: Final[Mapping[str, str]] = {
    "query-document": "EPCISQueryDocument (queryResults.resultsBody.eventList) is hashed like an "
    "EPCISDocument; the reference raises KeyError.",
    "ignore-fields": "Extension fields named in a document-level ignoreFields list (or passed as "
    "ignore_fields) are left out; the reference ignores the list and hashes them.",
    "source-type-first": "bizTransaction/source/destination entries render type first whatever "
    "the JSON key order (§3.2 rule 8); the reference follows the key order.",
    "typeless-biz-transaction": "A bizTransaction without type renders as bizTransaction=… "
    "(§3.2 rule 8); the reference raises IndexError for the whole document.",
    "entry-extensions": "Further keys of a bizTransaction/source/destination entry are rendered "
    "after type and id, sorted; the reference silently keeps only the first two keys.",
    "millisecond-rounding": "Fractional seconds are rounded half-up at the 4th digit (§3.2 rule "
    "10); the reference rounds ties (…x5 exactly) half-to-even and drops the whole event when "
    "rounding reaches the next second (….9995).",
    "empty-values": "null, empty strings, empty objects are omitted everywhere (§3.2 rule 3); "
    "the reference writes null as 'None' and empty extension fields as a bare key.",
    "infinite-numbers": "A value such as 'inf' or '1e999' is kept verbatim; the reference drops "
    "the event (OverflowError).",
    "event-context": "An event's own @context declares prefixes for that event and is not hashed; "
    "the reference hashes it as an extension field and ignores its prefixes.",
    "context-forms": "Prefixes are taken from an @context object even when it is not inside a "
    "list, and term definitions that are objects are accepted; the reference ignores the first "
    "and raises TypeError on the second.",
    "protected-prefix": "Redefining a prefix of the EPCIS context (e.g. cbvmda) is accepted and "
    "the document's definition is used; the reference fails (JSON-LD protected term).",
    "per-event-expansion": "Bare-word expansion looks at the event itself, not at the whole "
    "document, so an ID never depends on the other events (same result on all GS1 examples).",
    "implicit-epcis-context": "The EPCIS context is assumed even if a document omits it, and "
    "timestamps without offset are read as UTC (the reference uses the machine's local zone).",
}

_VERSION = "?ver=CBV2.0"
_CBV_WEB = ("https://ref.gs1.org/cbv", "https://gs1.org/voc")
_CBV_URN = "urn:epcglobal:cbv:"
_EVENT_TYPES = frozenset(
    {
        "ObjectEvent",
        "AggregationEvent",
        "TransformationEvent",
        "TransactionEvent",
        "AssociationEvent",
    }
)
# Never part of the hash (§3.2 rule 4).
_EXCLUDED_TOP = frozenset({"recordTime", "eventID", "type", "errorDeclaration"})
# Dropped while reading JSON, at any depth (the reference treats them as comments or XML artefacts).
_COMMENT_KEYS = frozenset({"rdfs:comment", "comment"})
_ENTRY_LISTS: Final[Mapping[str, str]] = {
    "bizTransactionList": "bizTransaction",
    "sourceList": "source",
    "destinationList": "destination",
}
_CACHE_MAX = 200_000

Order = tuple[tuple[str, "Order | None"], ...]

_EPC: Order = (("epc", None),)
_QUANTITY: Order = (("quantityElement", (("epcClass", None), ("quantity", None), ("uom", None))),)
_SENSOR_METADATA: Order = tuple(
    (name, None)
    for name in (
        "time startTime endTime deviceID deviceMetadata rawData dataProcessingMethod bizRules"
    ).split()
)
_SENSOR_REPORT: Order = tuple(
    (name, None)
    for name in (
        "type exception deviceID deviceMetadata rawData dataProcessingMethod time microorganism "
        "chemicalSubstance value component stringValue booleanValue hexBinaryValue uriValue "
        "minValue maxValue meanValue sDev percRank percValue uom coordinateReferenceSystem"
    ).split()
)
#: The canonical property order (§3.2 rule 5). bizTransactionList, sourceList and destinationList
#: sit in the reference's table too, but its entries never match there, so they always end up in
#: the sorted remainder (rule 7); they are left out here to the same effect.
PROPERTY_ORDER: Final[Order] = (
    ("eventTime", None),
    ("eventTimeZoneOffset", None),
    ("certificationInfo", None),
    ("parentID", None),
    ("epcList", _EPC),
    ("inputEPCList", _EPC),
    ("childEPCs", _EPC),
    ("quantityList", _QUANTITY),
    ("childQuantityList", _QUANTITY),
    ("inputQuantityList", _QUANTITY),
    ("outputEPCList", _EPC),
    ("outputQuantityList", _QUANTITY),
    ("action", None),
    ("transformationID", None),
    ("bizStep", None),
    ("disposition", None),
    ("persistentDisposition", (("set", None), ("unset", None))),
    ("readPoint", (("id", None),)),
    ("bizLocation", (("id", None),)),
    (
        "sensorElementList",
        (
            (
                "sensorElement",
                (("sensorMetadata", _SENSOR_METADATA), ("sensorReport", _SENSOR_REPORT)),
            ),
        ),
    ),
)


# --------------------------------------------------------------------------------------------
# Value canonicalisation (§3.2 rules 10-13)


_NUMERIC_START: Final = frozenset("+-.0123456789iInN")


def _numeric(text: str) -> str:
    """Re-print anything Python's float() accepts without trailing zeros (rule 11).

    The reference applies float() to every value, so "007" becomes "7" and "1e3" "1000"; that is
    reproduced, including float's acceptance of underscores and non-ASCII digits.
    """
    first = text[0]
    if first not in _NUMERIC_START and not (first > "\x7f" and first.isdecimal()):
        return text  # cannot be a float: skip the costly exception
    try:
        number = float(text)
    except ValueError:
        return text
    try:
        if int(number) == number:
            return str(int(number))
    except ValueError:  # nan
        return text
    except OverflowError:  # inf: the reference crashes here; keep the text
        return text
    return str(number)


def canonical_value(text: str) -> str:
    """Canonical form of one stripped, non-empty value (not a timestamp)."""
    if _CBV_URN in text:
        # Legacy CBV URNs become web URIs; the reference replaces anywhere in the string.
        text = (
            text.replace("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-")
            .replace("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-")
            .replace("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-")
            .replace("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-")
            .replace("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-")
        )
    text = _numeric(text)
    return canonical_digital_link(text) or text


# Lookup tables that both validate and convert the fixed-width parts of an ISO timestamp.
_MINUTE_OF_DAY: Final = {f"{m // 60:02d}:{m % 60:02d}": m for m in range(1440)}
_HH_MM: Final = tuple(_MINUTE_OF_DAY)
_SECONDS: Final = frozenset(f"{s:02d}" for s in range(60))
_MONTH_DAY: Final = frozenset(f"{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 32)) - {
    "02-30",
    "02-31",
    "04-31",
    "06-31",
    "09-31",
    "11-31",
}
_ZONES: dict[str, int] = {"Z": 0}
_DAY_SHIFT: dict[tuple[str, int], str] = {}


def _zone_minutes(zone: str) -> int | None:
    """Offset in minutes of ``Z`` or ``±HH:MM`` (memoised: a document uses a handful)."""
    found = _ZONES.get(zone)
    if found is None:
        if len(zone) != 6 or zone[0] not in "+-" or zone[3] != ":":
            return None
        hours = _MINUTE_OF_DAY.get(zone[1:])
        if hours is None:
            return None
        found = -hours if zone[0] == "-" else hours
        _ZONES[zone] = found
    return found


def canonical_timestamp(text: str) -> str:
    """UTC with ``Z`` and exactly three fractional digits, rounded half-up (rule 10).

    The common ``YYYY-MM-DDTHH:MM:SS[.f…](Z|±HH:MM)`` form is handled with table lookups and
    slicing (this runs for every event); anything else goes through
    :meth:`datetime.fromisoformat`. Unparseable text is kept as is, like the reference does.
    """
    minute = _MINUTE_OF_DAY.get(text[11:16])
    month_day = text[5:10]
    if (
        minute is None
        or text[10:11] != "T"
        or text[4:5] != "-"
        or text[16:17] != ":"
        or month_day not in _MONTH_DAY
        or text[17:19] not in _SECONDS
        or not text[:4].isdigit()
        or not text[:4].isascii()
    ):
        return _timestamp_fallback(text)
    if text[-1] == "Z":
        offset = 0
        frac = text[19:-1]
    else:
        found = _ZONES.get(text[-6:]) or _zone_minutes(text[-6:])
        if found is None:
            return _timestamp_fallback(text)
        offset = found
        frac = text[19:-6]
    if frac:
        digits = frac[1:]
        if frac[0] != "." or not digits.isdigit() or not digits.isascii():
            return _timestamp_fallback(text)
        if len(digits) > 3 and digits[3] >= "5":  # half-up at the 4th digit
            millis = int(digits[:3]) + 1
            if millis == 1000:  # carries into the seconds: let datetime do the arithmetic
                return _timestamp_fallback(text)
            ms = f"{millis:03d}"
        else:
            ms = digits[:3].ljust(3, "0")
    else:
        ms = "000"
    if month_day == "02-29":
        year = int(text[:4])
        if year % 4 or (year % 100 == 0 and year % 400):
            return text  # no such day: the reference keeps the text too
    if offset:
        minute -= offset
        day_part = text[:10]
        if not 0 <= minute < 1440:
            shift, minute = divmod(minute, 1440)
            key = (day_part, shift)
            shifted = _DAY_SHIFT.get(key)
            if shifted is None:
                try:
                    ordinal = date.fromisoformat(day_part).toordinal() + shift
                    shifted = date.fromordinal(ordinal).isoformat()
                except (ValueError, OverflowError):
                    return text  # before year 1 or after 9999 in UTC
                if len(_DAY_SHIFT) < 100_000:
                    _DAY_SHIFT[key] = shifted
            day_part = shifted
        return day_part + "T" + _HH_MM[minute] + text[16:19] + "." + ms + "Z"
    return text[:19] + "." + ms + "Z"


def _timestamp_fallback(text: str) -> str:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return text
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
        millis, rest = divmod(parsed.microsecond, 1000)
        parsed = parsed.replace(microsecond=0)
        if rest >= 500:
            millis += 1
        if millis == 1000:
            parsed += timedelta(seconds=1)
            millis = 0
    except (ValueError, OverflowError):
        return text
    return f"{parsed.year:04d}-{parsed:%m-%dT%H:%M:%S}.{millis:03d}Z"


def _is_time_key(name: str) -> bool:
    lowered = name.lower()
    return "time" in lowered and "offset" not in lowered


# --------------------------------------------------------------------------------------------
# Bare-word expansion: collect the expanded CBV/GS1 vocabulary values of one event


def _vocab_iris(event: Mapping[str, Any], ctx: Context) -> set[str]:
    """Every JSON-LD-expanded string value of the event that lies in the CBV or GS1 vocabulary."""
    found: set[str] = set()
    _walk_object(event, (jsonld.EPCIS_TERMS,), ctx, found)
    return found


def _walk_object(
    obj: Mapping[str, Any],
    scopes: tuple[Mapping[str, jsonld.Term], ...],
    ctx: Context,
    found: set[str],
) -> None:
    for key, value in obj.items():
        if key == "@context":
            continue
        term = ctx.key_kind(key, scopes)
        if term is None:
            continue  # JSON-LD expansion drops keys that are not IRIs
        inner = scopes if term.scope is None else (term.scope, *scopes)
        _walk_value(value, term.kind, inner, ctx, found)


def _walk_value(
    value: object,
    kind: str | Mapping[str, str],
    scopes: tuple[Mapping[str, jsonld.Term], ...],
    ctx: Context,
    found: set[str],
) -> None:
    if isinstance(value, str):
        if kind == jsonld.PLAIN:
            iri = value
        elif kind == jsonld.ID:
            iri = ctx.expand_iri(value)
        elif kind == jsonld.TYPE:
            iri = ctx.expand_vocab(value, None)
        else:
            assert not isinstance(kind, str)
            iri = ctx.expand_vocab(value, kind)
        if iri.startswith(_CBV_WEB):
            found.add(iri)
    elif isinstance(value, list):
        for item in value:
            _walk_value(item, kind, scopes, ctx, found)
    elif isinstance(value, Mapping):
        _walk_object(value, scopes, ctx, found)


class _Replacements:
    """value -> expanded IRI, for values that are the tail of exactly one collected IRI.

    The reference replaces a value v by the IRI x if exactly one collected x ends with "-v" or
    "/v" (a heuristic standing in for JSON-LD's @vocab expansion of bare words). One instance per
    distinct collected set and context; ``canon`` memoises the canonical text of every value seen
    under it, so the fast renderer needs a single dict probe per value.
    """

    __slots__ = ("canon", "entries", "get", "known", "safe")

    def __init__(self, iris: Iterable[str]) -> None:
        table: dict[str, str | None] = {}
        for iri in iris:
            for tail in _tails(iri):
                seen = table.get(tail, iri)
                table[tail] = iri if seen == iri else None  # None: ambiguous, keep the value
        self.get: Callable[[str], str | None] = table.get
        # The fast renderer assumes a replaced value contributes nothing to the collected set;
        # true unless a tail contains ':' (could be a compact IRI or a vocabulary URI itself).
        self.safe = not any(":" in tail for tail in table)
        # Only tails of the CBV/GS1 tables can be replaced (see _Fast.value).
        self.known = all(iri in _TABLE_IRIS for iri in iris)
        self.canon: dict[str, str] = {}
        self.entries: dict[tuple[str, Any, Any], str] = {}


def _tails(iri: str) -> Iterable[str]:
    return (iri[i + 1 :] for i, ch in enumerate(iri) if ch == "-" or ch == "/")


_TABLE_IRIS: Final = frozenset(
    iri
    for table in (
        jsonld.BIZ_STEP,
        jsonld.DISPOSITION,
        jsonld.BIZ_TRANSACTION_TYPE,
        jsonld.SOURCE_DEST_TYPE,
        jsonld.ERROR_REASON,
        jsonld.MEASUREMENT_TYPE,
        jsonld.SENSOR_ALERT,
        jsonld.COMPONENT,
    )
    for iri in table.values()
)
#: Every value that the bare-word replacement for a table IRI could touch.
_TAILS: Final = frozenset(tail for iri in _TABLE_IRIS for tail in _tails(iri))
_MEMO_MAX = 4096


def _replacements(ctx: Context, iris: set[str]) -> _Replacements:
    memo = ctx.memo
    key = frozenset(iris)
    found = memo.get(key)
    if found is None:
        if len(memo) > _MEMO_MAX:
            memo.clear()  # bounded, whatever stream of documents a server sees
        found = memo[key] = _Replacements(key)
    return found


# --------------------------------------------------------------------------------------------
# Keys and namespaces


def _key_name(key: str, ctx: Context) -> str:
    """``prefix:local`` -> ``{namespace}local`` for prefixes the document declares (rule 9)."""
    colon = key.find(":")
    if colon >= 0:
        namespace = ctx.namespaces.get(key[:colon])
        if namespace is not None:
            return "{" + namespace + "}" + key[colon + 1 :]
    return key


def _value_text(value: str, ctx: Context) -> str:
    """A string value with a declared prefix expanded (the reference does it for values too)."""
    colon = value.find(":")
    if colon >= 0:
        namespace = ctx.namespaces.get(value[:colon])
        if namespace is not None:
            # The reference stores namespaces as "{iri}" and strips every brace when expanding.
            return namespace.replace("{", "").replace("}", "") + value[colon + 1 :]
    return value


def _ignored(key: str, ignore: Collection[str], ctx: Context) -> bool:
    """Is ``key`` an extension field named in ``ignore`` (as written, ``{ns}local`` or IRI)?"""
    if ":" not in key:
        return False  # only extension fields may be ignored, never standard ones
    if key in ignore:
        return True
    name = _key_name(key, ctx)
    return name in ignore or name.replace("{", "").replace("}", "") in ignore


# --------------------------------------------------------------------------------------------
# General renderer: the reference's tree model


Node = tuple[str, str, list[Any]]  # (name, text, children: Node | _Entry)


class _Entry:
    """One bizTransaction/source/destination: ``type`` first, then the id, then the rest."""

    __slots__ = ("fixed", "rest")

    def __init__(self, fixed: list[Node], rest: list[Node]) -> None:
        self.fixed = fixed
        self.rest = rest


class _General:
    """The reference's algorithm on its own data model (see the module docstring).

    The hash is defined on the XML shape of an event, so JSON is first turned into that shape:
    a list becomes repeated elements, ``epcList`` a list of ``epc`` elements and so on.
    """

    def __init__(self, ctx: Context, replace: _Replacements, ignore: Collection[str]) -> None:
        self.ctx = ctx
        self.replace = replace
        self.ignore = ignore

    # JSON -> tree ----------------------------------------------------------------------------

    def kids(self, obj: Mapping[str, Any]) -> list[Any]:
        out: list[Any] = []
        for key, value in obj.items():
            if (
                key in _COMMENT_KEYS
                or key == "#text"
                or key == "@context"
                or key.startswith("@xmlns")
                or value is None
                or (self.ignore and _ignored(key, self.ignore, self.ctx))
            ):
                continue
            name = _key_name(key, self.ctx)
            if isinstance(value, list):
                # A list is flattened into repeated children of the same name (XML model).
                for item in value:
                    if item is not None:
                        text, sub = self.convert(item)
                        out.append((name, text, sub))
            else:
                text, sub = self.convert(value)
                out.append((name, text, sub))
        return out

    def convert(self, value: object) -> tuple[str, list[Any]]:
        if isinstance(value, str):
            return _value_text(self.replace.get(value) or value, self.ctx), []
        if isinstance(value, Mapping):
            text = value.get("#text")
            if isinstance(text, str):
                text = self.replace.get(text) or text
            return ("" if text is None else str(text)), self.kids(value)
        if isinstance(value, list):
            return "", [("", *self.convert(item)) for item in value if item is not None]
        return str(value), []  # numbers; booleans as True/False like the reference

    def correct(self, node: Node) -> Node:
        """Reshape JSON into the XML model, like the reference's structure correction."""
        name, text, kids = node
        rest: list[Any] = []
        groups: dict[str, list[Any]] = {}
        child_epcs: list[Any] = []
        for kid in kids:
            kid_name = kid[0]
            if kid_name.endswith("List"):
                groups.setdefault(kid_name, []).append((kid_name[:-4], kid[1], kid[2]))
            elif kid_name == "childEPCs":
                child_epcs.append(("epc", kid[1], []))
            else:
                rest.append(self.correct(kid))
        for group, members in groups.items():
            id_key = _ENTRY_LISTS.get(group)
            if id_key is None:
                rest.append(self.correct((group, "", members)))
            else:
                rest.append((group, "", [self.entry(m, id_key) for m in members]))
        if child_epcs:
            rest.append(("childEPCs", "", child_epcs))
        if name in ("inputEPC", "outputEPC"):
            name = "epc"
        elif name in ("inputQuantity", "outputQuantity", "childQuantity") or (
            name == "quantity" and rest
        ):
            name = "quantityElement"
        return name, text, rest

    @staticmethod
    def entry(member: Node, id_key: str) -> _Entry:
        _, text, kids = member
        fixed = [k for k in kids if k[0] == "type"] + [k for k in kids if k[0] == id_key]
        rest = [k for k in kids if k[0] != "type" and k[0] != id_key]
        if text:  # an entry given as a bare string: it is the id
            fixed.append((id_key, text, []))
        return _Entry(fixed, rest)

    # tree -> text ----------------------------------------------------------------------------

    def ordered(self, kids: list[Any], order: Order) -> str:
        """Render and consume the children named in ``order``; leftovers stay in ``kids``."""
        extensions = self.gather_extensions(kids)
        out: list[str] = []
        for name, sub in order:
            values = []
            for kid in [k for k in kids if type(k) is tuple and k[0] == name]:
                rendered = self.ordered_one(kid, sub)
                if rendered:
                    values.append(rendered)
                if not kid[2]:
                    kids.remove(kid)
            # Repeated elements (several epc, quantityElement, sensorReport …) are unordered in
            # EPCIS, so the reference sorts their renderings (rule 6).
            values.sort()
            out.extend(values)
        if extensions:
            out.append(self.generic(extensions))
        return "".join(out)

    @staticmethod
    def gather_extensions(kids: list[Any]) -> list[Any]:
        """User extensions inside readPoint, sensorReport … go right after that element's fields.

        As in the reference: only when the element has more than one child, none whose name
        contains "eventTime" or "action", and only for names with a namespace ending in "/".
        Others stay behind and are rendered in the remainder (§3.2 rule 15).
        """
        if len(kids) <= 1:
            return []
        names = [k[0] for k in kids if type(k) is tuple]
        if any("eventTime" in n or "action" in n for n in names):
            return []
        found = [k for k in kids if type(k) is tuple and "{" in k[0] and "/}" in k[0]]
        for k in found:
            kids.remove(k)
        return found

    def ordered_one(self, node: Node, sub: Order | None) -> str:
        name, text, kids = node
        below = self.ordered(kids, sub) if sub else ""
        value = ""
        stripped = text.strip()
        if stripped:
            if _is_time_key(name):
                value = "=" + canonical_timestamp(stripped)
            else:
                value = "=" + canonical_value(stripped)
        if value or below:
            return name + value + below
        return ""

    def generic(self, kids: Sequence[Any]) -> str:
        """Everything outside the canonical order: rendered and sorted (§3.2 rules 7, 9, 15)."""
        parts = []
        sort = True
        for kid in kids:
            if type(kid) is _Entry:
                rendered = "".join(self.generic_one(n) for n in kid.fixed) + "".join(
                    sorted(self.generic_one(n) for n in kid.rest)
                )
            else:
                if kid[0] in ("bizTransaction", "source", "destination"):
                    sort = False  # the reference keeps document order here
                rendered = self.generic_one(kid)
            if rendered:
                parts.append(rendered)
        if sort:
            # Outside the canonical order nothing has a defined position: the reference sorts
            # the renderings, which puts bizTransactionList < destinationList < ilmd <
            # sourceList < {namespace}extensions (rule 7).
            parts.sort()
        return "".join(parts)

    def generic_one(self, node: Node) -> str:
        name, text, kids = node
        stripped = text.strip()
        value = "=" + canonical_value(stripped) if stripped else ""
        below = self.generic(kids)
        if value or below:
            return name + value + below
        return ""  # empty: omitted (rule 3), where the reference would still write the name


def _render_general(
    event: Mapping[str, Any], ctx: Context, replace: _Replacements, ignore: Collection[str]
) -> str:
    general = _General(ctx, replace, ignore)
    event_type = event.get("type")
    if not isinstance(event_type, str):
        raise EventError("type", "an EPCIS event needs a string type")
    name = replace.get(event_type) or event_type
    _, _, kids = general.correct((name, "", general.kids(event)))
    ordered = general.ordered(kids, PROPERTY_ORDER)
    remainder = general.generic(
        [k for k in kids if type(k) is not tuple or k[0] not in _EXCLUDED_TOP]
    )
    return "eventType=" + name + ordered + remainder


# --------------------------------------------------------------------------------------------
# Fast renderer


class _GiveUp(Exception):
    """The event is not of the shape the fast renderer handles; use the general one."""


_GIVE_UP = _GiveUp()

_SIMPLE_FIELDS: Final = ("action", "transformationID", "parentID", "eventTimeZoneOffset")
_EPC_LISTS: Final = ("epcList", "inputEPCList", "childEPCs", "outputEPCList")
_QUANTITY_LISTS: Final = (
    "quantityList",
    "childQuantityList",
    "inputQuantityList",
    "outputQuantityList",
)
_QUANTITY_KEYS: Final = ("epcClass", "quantity", "uom")
_META_KEYS: Final = tuple(n for n, _ in _SENSOR_METADATA)
_REPORT_KEYS: Final = tuple(n for n, _ in _SENSOR_REPORT)
_META_ID: Final = frozenset("deviceID deviceMetadata rawData dataProcessingMethod bizRules".split())
_REPORT_ID: Final = frozenset(
    "deviceID deviceMetadata rawData dataProcessingMethod microorganism chemicalSubstance "
    "uriValue coordinateReferenceSystem".split()
)
_REPORT_VOCAB: Final[Mapping[str, Mapping[str, str]]] = {
    "type": jsonld.MEASUREMENT_TYPE,
    "exception": jsonld.SENSOR_ALERT,
    "component": jsonld.COMPONENT,
}
_ENTRY_VOCAB: Final[Mapping[str, Mapping[str, str]]] = {
    "bizTransactionList": jsonld.BIZ_TRANSACTION_TYPE,
    "sourceList": jsonld.SOURCE_DEST_TYPE,
    "destinationList": jsonld.SOURCE_DEST_TYPE,
}
# Keys the general renderer treats specially wherever they occur.
_SPECIAL_NAMES: Final = frozenset(
    "childEPCs inputEPC outputEPC inputQuantity outputQuantity childQuantity quantity "
    "bizTransaction source destination #text".split()
)
_QUANTITY_SET: Final = frozenset(_QUANTITY_KEYS)
_ELEMENT_SET: Final = frozenset({"sensorMetadata", "sensorReport"})
_REPORT_VOCAB_ITEMS: Final = tuple(_REPORT_VOCAB.items())
_UNHASHED: Final = frozenset(
    {"errorDeclaration", "recordTime", "eventID", "rdfs:comment", "comment"}
)
_TOP_KNOWN: Final = frozenset(
    (
        "type eventTime recordTime eventID errorDeclaration certificationInfo bizStep "
        "disposition persistentDisposition readPoint bizLocation sensorElementList ilmd"
    ).split()
    + list(_SIMPLE_FIELDS)
    + list(_EPC_LISTS)
    + list(_QUANTITY_LISTS)
    + list(_ENTRY_LISTS)
)


# Field order of a sensorMetadata/sensorReport by its key tuple: (name, 0 plain|1 @id|2 time).
_META_PLANS: dict[tuple[str, ...], Any] = {}
_REPORT_PLANS: dict[tuple[str, ...], Any] = {}
_PLAN_SPECS: Final = {
    id(_META_PLANS): (_META_KEYS, _META_ID),
    id(_REPORT_PLANS): (_REPORT_KEYS, _REPORT_ID),
}


def _field_plan(shape: tuple[str, ...], plans: dict[tuple[str, ...], Any]) -> Any:
    order, ids = _PLAN_SPECS[id(plans)]
    if not set(shape) <= set(order):
        raise _GIVE_UP  # an extension or unknown field: the general renderer places it
    plan = tuple(
        (name, 2 if name in ("time", "startTime", "endTime") else int(name in ids))
        for name in order
        if name in shape
    )
    if len(plans) < 1000:
        plans[shape] = plan
    return plan


class _Caches:
    """Per-context memo of canonical values, shared by all collected sets of the context.

    Bounded: past :data:`_CACHE_MAX` entries (these dicts plus what the collected sets memoise,
    counted in ``stored``) the context's memo is dropped and filled afresh, so a long-running
    server does not grow whatever the stream of events.
    """

    __slots__ = (
        "expanded",
        "floats",
        "ints",
        "names",
        "plain",
        "plans",
        "prefixes",
        "replacements",
        "stored",
        "tails",
        "vocab",
    )

    def __init__(self, ctx: Context) -> None:
        self.replacements = ctx.memo  # collected set -> _Replacements, among other things
        self.prefixes = frozenset(ctx.namespaces) | frozenset(ctx.prefixes)
        self.stored = 0  # entries put in the memos of the collected sets
        self.vocab: dict[str, str] = {}  # value of an @vocab property outside its table
        self.plans: dict[tuple[str, ...], _Plan] = {}
        self.names: dict[str, str] = {}  # extension key -> "{namespace}local"
        # Unreplaced value -> canonical text, for values without a vocabulary IRI: ``plain``
        # for those no bare-word replacement can touch, ``tails`` for the others.
        self.plain: dict[str, str] = {}
        self.tails: dict[str, str] = {}
        self.expanded: dict[str, str] = {}  # expansion of a bare word -> canonical
        # JSON numbers by type: 1, 1.0 and True are equal dict keys but print differently.
        self.floats: dict[float, str] = {}
        self.ints: dict[int, str] = {}

    def full(self) -> bool:
        held = len(self.plain) + len(self.tails) + len(self.floats) + len(self.ints)
        held += len(self.names) + len(self.vocab) + len(self.expanded)
        return self.stored + held > _CACHE_MAX


def _caches(ctx: Context) -> _Caches:
    found = ctx.memo.get("caches")
    if found is None or found.full():
        ctx.memo.clear()  # including the collected sets' memos
        found = ctx.memo["caches"] = _Caches(ctx)
    return found


class _Fast:
    """Renders common-shape events of one context; raises :class:`_GiveUp` for anything else.

    Written for speed (it runs for every captured event): locals instead of attribute lookups, a
    direct cache probe before any call, parts collected in one list and joined once.
    """

    __slots__ = ("c", "ctx", "ignore", "iris", "prefixes", "probe", "replace")

    def __init__(self, ctx: Context, ignore: Collection[str]) -> None:
        self.ctx = ctx
        self.ignore = ignore
        self.c = _caches(ctx)
        # Every prefix that could rewrite or expand "prefix:…" (declared or JSON-LD).
        self.prefixes = self.c.prefixes
        self.iris: set[str] = set()
        self.replace = _replacements(ctx, self.iris)
        # The memo that holds a value's canonical text, if any (see value()).
        self.probe: Callable[[Any], str | None] = self.c.plain.get

    # values -----------------------------------------------------------------------------

    def value(self, raw: object, as_id: bool = False) -> str:
        """Canonical text of a scalar value ("" if it renders nothing).

        Callers probe ``self.probe`` first; this is the miss path, which fills the memos.
        """
        if type(raw) is not str:
            # Numbers are never bare words; booleans print as True/False like the reference.
            if type(raw) is float:
                found = self.c.floats.get(raw)
                if found is None:
                    # = canonical_value(str(raw)): repr round-trips, so float() gives raw back
                    # and no Digital Link can come out of a number.
                    found = str(int(raw)) if raw.is_integer() else repr(raw)
                    self.c.floats[raw] = found
                return found
            if type(raw) is int:
                found = self.c.ints.get(raw)
                if found is None:
                    found = self.c.ints[raw] = canonical_value(str(raw))
                return found
            if type(raw) is bool:
                return str(raw)
            raise _GIVE_UP
        replace = self.replace
        # Bare-word replacement can touch only tails of the collected IRIs, which are tails of
        # the CBV tables when ``known``: every other value is memoised once for the context.
        per_set = not replace.known or raw in _TAILS
        if per_set:
            found = replace.canon.get(raw)
            if found is not None:
                return found
            expansion = replace.get(raw)
            if expansion is not None:
                # A replaced bare word contributes nothing itself (_Replacements.safe).
                found = self.c.expanded.get(expansion)
                if found is None:
                    found = _value_text(expansion, self.ctx).strip()
                    found = canonical_value(found) if found else ""
                    self.c.expanded[expansion] = found
                replace.canon[raw] = found
                self.c.stored += 1
                return found
        store = self.c.tails if raw in _TAILS else self.c.plain  # unreplaced canonical text
        found = store.get(raw)
        if found is None:
            colon = raw.find(":")
            if (colon < 0 or raw[:colon] not in self.prefixes) and not raw.startswith(_CBV_WEB):
                # No prefix to expand, not a vocabulary IRI: the usual case, kept cheap.
                found = raw.strip()
                if found and (
                    "." in found
                    or found[0] in _NUMERIC_START
                    or found[0] > "\x7f"
                    or _CBV_URN in found
                ):
                    found = canonical_value(found)
                # else: no number, no Digital Link, no CBV URN: canonical as it stands
            else:
                cacheable = self._check(raw, as_id)
                found = _value_text(raw, self.ctx).strip()
                found = canonical_value(found) if found else ""
                if not cacheable:
                    return found
            store[raw] = found
        if per_set:
            replace.canon[raw] = found
            self.c.stored += 1
        return found

    def _check(self, raw: str, as_id: bool) -> bool:
        """May the canonical form of ``raw`` be cached? Gives up if it is unaccounted for.

        A value that is itself a CBV/GS1 vocabulary IRI (or, in an @id position, a compact IRI
        expanding to one) belongs to the collected set that drives bare-word replacement; if the
        first pass did not see it, the replacements computed for this event are incomplete.
        """
        plain = raw.startswith(_CBV_WEB)
        expanded = self.ctx.expand_iri(raw) if ":" in raw else raw
        curie = expanded is not raw and expanded.startswith(_CBV_WEB)
        if not plain and not curie:
            return True
        contribution = expanded if as_id else (raw if plain else None)
        if contribution is not None and contribution not in self.iris:
            raise _GIVE_UP
        return False

    def time(self, raw: object) -> str:
        """Canonical timestamp (not memoised: event times are nearly all distinct)."""
        if type(raw) is not str:
            raise _GIVE_UP
        colon = raw.find(":")
        if colon > 0 and raw[:colon] not in self.prefixes and not raw.startswith(_CBV_WEB):
            # The usual case: no declared prefix, no vocabulary IRI, no bare word (has ':').
            text = raw.strip()
        else:
            expansion = self.replace.get(raw)
            if expansion is None:
                self._check(raw, False)
            text = _value_text(expansion or raw, self.ctx).strip()
        return canonical_timestamp(text) if text else ""

    def vocab(self, raw: object, table: Mapping[str, str]) -> None:
        """Collect the expansion of a value of an @vocab-typed property."""
        iri = table.get(raw)  # type: ignore[call-overload]
        if iri is None:
            if type(raw) is not str:
                raise _GIVE_UP
            # Outside the table the expansion no longer depends on it: memoise by value.
            iri = self.c.vocab.get(raw)
            if iri is None:
                iri = self.ctx.expand_vocab(raw, None)
                if not iri.startswith(_CBV_WEB):
                    iri = ""
                self.c.vocab[raw] = iri
            if not iri:
                return
        self.iris.add(iri)

    # structure ----------------------------------------------------------------------------

    def plan(self, shape: tuple[str, ...]) -> _Plan:
        """What to do with an event of these keys (memoised: a document has few shapes)."""
        found = self.c.plans.get(shape)
        if found is None:
            found = _Plan(shape, self.ctx)
            if len(self.c.plans) < 4096:
                self.c.plans[shape] = found
        return found

    def render(self, event: dict[str, Any]) -> str:
        """The pre-hash string; raises :class:`_GiveUp` or TypeError for an unusual shape.

        (TypeError: an unhashable list/object where a scalar was probed in a cache.)
        """
        shape = tuple(event)
        plan = self.c.plans.get(shape) or self.plan(shape)
        if plan.give_up:
            raise _GIVE_UP
        event_type = event["type"]
        if event_type not in _EVENT_TYPES:
            raise _GIVE_UP

        # Pass 1: the @vocab-typed values, which decide the bare-word replacements.
        iris: set[str] = set()
        self.iris = iris
        vocab = self.vocab
        for code, key in plan.vocab:
            raw = event[key]
            if raw is None:
                continue
            if code == _V_BIZ_STEP:
                iri = jsonld.BIZ_STEP.get(raw)
                if iri is None:
                    vocab(raw, jsonld.BIZ_STEP)
                else:
                    iris.add(iri)
            elif code == _V_DISPOSITION:
                iri = jsonld.DISPOSITION.get(raw)
                if iri is None:
                    vocab(raw, jsonld.DISPOSITION)
                else:
                    iris.add(iri)
            elif code == _V_ENTRIES:
                if type(raw) is not list:
                    raise _GIVE_UP
                table = _ENTRY_TYPES[key]
                for entry in raw:
                    if type(entry) is not dict:
                        raise _GIVE_UP
                    kind = entry.get("type")
                    if kind is not None:
                        iri = table.get(kind)
                        if iri is None:
                            vocab(kind, table)
                        else:
                            iris.add(iri)
            elif code == _V_PERSISTENT:
                if type(raw) is not dict or not raw.keys() <= _SET_UNSET:
                    raise _GIVE_UP
                for words in raw.values():
                    if type(words) is not list:
                        raise _GIVE_UP
                    for word in words:
                        vocab(word, jsonld.DISPOSITION)
            elif code == _V_SENSORS:
                if type(raw) is not list:
                    raise _GIVE_UP
                for element in raw:
                    if type(element) is not dict:
                        raise _GIVE_UP
                    reports = element.get("sensorReport")
                    if type(reports) is not list:
                        if reports is None:
                            continue
                        raise _GIVE_UP
                    for report in reports:
                        if type(report) is not dict:
                            raise _GIVE_UP
                        for field, table in _REPORT_VOCAB_ITEMS:
                            word = report.get(field)
                            if word is not None:
                                vocab(word, table)
            else:  # not hashed, but JSON-LD expands them too (they may be vocabulary IRIs)
                if key == "recordTime" and type(raw) is str:
                    if raw.startswith(_CBV_WEB):
                        iris.add(raw)
                elif key == "eventID" and type(raw) is str:
                    iri = self.ctx.expand_iri(raw)
                    if iri.startswith(_CBV_WEB):
                        iris.add(iri)
                else:
                    iris |= _vocab_iris({key: raw}, self.ctx)
        replace = self.c.replacements.get(frozenset(iris)) or _replacements(self.ctx, iris)
        if not replace.safe:
            raise _GIVE_UP
        self.replace = replace
        plain = self.probe = self.c.plain.get if replace.known else replace.canon.get
        canon = replace.canon.get  # second probe, for bare words (steps, types)
        value = self.value

        # Pass 2: the canonical order (§3.2 rule 5), only over the keys the event has.
        out = ["eventType=", replace.get(event_type) or event_type]
        for code, key in plan.ordered:
            raw = event[key]
            if raw is None:
                continue
            if code == _R_SIMPLE:
                text = plain(raw) or canon(raw) or value(raw)
                if text:
                    out += (key, "=", text)
            elif code == _R_LOCATION:
                if type(raw) is not dict:
                    raise _GIVE_UP
                if raw:
                    ident = raw.get("id")
                    if len(raw) != 1 or ident is None:
                        raise _GIVE_UP
                    text = plain(ident) or value(ident, True)
                    if text:
                        out += (key, "id=", text)
            elif code == _R_EPCS:
                if type(raw) is not list:
                    raise _GIVE_UP
                texts = [plain(v) or value(v, True) for v in raw]
                if len(texts) > 1:
                    texts.sort()
                    if not texts[0]:
                        texts = [t for t in texts if t]
                if texts and texts[0]:
                    out += (key, "epc=", "epc=".join(texts))
            elif code == _R_TIME:
                text = self.time(raw)
                if text:
                    out += (key, "=", text)
            elif code == _R_ID:
                text = plain(raw) or value(raw, True)
                if text:
                    out += (key, "=", text)
            elif code == _R_QUANTITIES:
                self.quantities(out, key, raw, plain)
            elif code == _R_SENSORS:
                self.sensors(out, raw)
            elif code == _R_PERSISTENT:
                parts = []
                for word_key in ("set", "unset"):
                    words = raw.get(word_key)
                    if words:
                        parts += sorted(word_key + "=" + t for t in map(value, words) if t)
                if parts:
                    out.append(key)
                    out += parts
            else:  # certificationInfo: one URI or a list
                items = raw if type(raw) is list else [raw]
                out += sorted(
                    key + "=" + t for t in (plain(v) or value(v, True) for v in items) if t
                )

        # Everything else, sorted (rule 7).
        if not plan.rest:
            return "".join(out)
        rest: list[str] = []
        ignore = self.ignore
        for code, key in plan.rest:
            raw = event[key]
            if raw is None:
                continue
            if code == _X_EXTENSION:
                if ignore and _ignored(key, ignore, self.ctx):
                    continue
                rest += self.generic(key, raw)
            elif code == _X_ENTRIES:
                id_key = _ENTRY_LISTS[key]
                entries = replace.entries  # (list, type, id) -> rendering, under this replacement
                rendered = []
                for entry in raw:
                    kind = entry.get("type")
                    ident = entry.get(id_key)
                    if len(entry) != (kind is not None) + (ident is not None):
                        raise _GIVE_UP  # a further key (or an explicit null): not common
                    cache_key = (key, kind, ident)
                    text = entries.get(cache_key)
                    if text is None:
                        text = ""
                        if kind is not None:
                            t = plain(kind) or canon(kind) or value(kind)
                            if t:
                                text = "type=" + t
                        if ident is not None:
                            t = plain(ident) or value(ident, True)
                            if t:
                                text += id_key + "=" + t
                        entries[cache_key] = text
                        self.c.stored += 1
                    if text:
                        rendered.append(text)
                if rendered:
                    if len(rendered) > 1:
                        rendered.sort()
                    rest.append(key + "".join(rendered))
            else:  # ilmd
                if type(raw) is not dict:
                    raise _GIVE_UP
                rendered = self.members(raw)
                if rendered:
                    rest.append("ilmd" + "".join(rendered))
        if rest:
            rest.sort()
            out += rest
        return "".join(out)

    def quantities(
        self, out: list[str], key: str, raw: list[Any], plain: Callable[[str], str | None]
    ) -> None:
        if type(raw) is not list:
            raise _GIVE_UP
        value = self.value
        rendered = []
        for element in raw:
            if type(element) is not dict or not element or not element.keys() <= _QUANTITY_SET:
                raise _GIVE_UP
            parts = ["quantityElement"]
            item = element.get("epcClass")
            if item is not None:
                text = plain(item) or value(item, True)
                if text:
                    parts += ("epcClass=", text)
            for name in ("quantity", "uom"):
                item = element.get(name)
                if item is not None:
                    text = plain(item) or value(item)
                    if text:
                        parts += (name, "=", text)
            if len(parts) > 1:
                rendered.append("".join(parts))
        if rendered:
            rendered.sort()
            out.append(key)
            out += rendered

    def fields(self, obj: dict[str, Any], plans: dict[tuple[str, ...], Any]) -> str:
        """``name=value…`` of a sensorMetadata/sensorReport in canonical order."""
        shape = tuple(obj)
        plan = plans.get(shape)
        if plan is None:
            plan = _field_plan(shape, plans)
        plain = self.probe
        parts: list[str] = []
        for name, kind in plan:
            item = obj[name]
            if item is None:
                continue
            if kind == 2:
                text = self.time(item)
            elif type(item) is float:
                text = self.c.floats.get(item) or self.value(item)
            else:
                text = plain(item) or self.value(item, kind == 1)
            if text:
                parts += (name, "=", text)
        return "".join(parts)

    def sensors(self, out: list[str], elements: list[Any]) -> None:
        rendered = []
        for element in elements:
            if type(element) is not dict or not element.keys() <= _ELEMENT_SET:
                raise _GIVE_UP
            parts = []
            meta = element.get("sensorMetadata")
            if meta is not None:
                if type(meta) is not dict:
                    raise _GIVE_UP
                text = self.fields(meta, _META_PLANS)
                if text:
                    parts.append("sensorMetadata" + text)
            reports = element.get("sensorReport")
            if reports is not None:
                if type(reports) is not list:
                    raise _GIVE_UP
                texts = []
                for report in reports:
                    if type(report) is not dict:
                        raise _GIVE_UP
                    text = self.fields(report, _REPORT_PLANS)
                    if text:
                        texts.append("sensorReport" + text)
                texts.sort()
                parts += texts
            if parts:
                rendered.append("sensorElement" + "".join(parts))
        if rendered:
            rendered.sort()
            out.append("sensorElementList")
            out += rendered

    def members(self, obj: dict[str, Any]) -> list[str]:
        """Sorted renderings of the members of an extension object (or of ilmd)."""
        ignore = self.ignore
        names = self.c.names
        plain = self.probe
        out: list[str] = []
        for key, raw in obj.items():
            if raw is None or (ignore and _ignored(key, ignore, self.ctx)):
                continue
            name = names.get(key)
            if name is not None and type(raw) is str and name[-4:] != "List":
                # The usual member: a known key with a string value (inline of generic()).
                text = plain(raw) or self.value(raw)
                if text:
                    out.append(name + "=" + text)
            else:
                out += self.generic(key, raw)
        out.sort()
        return out

    def generic(self, key: str, raw: object) -> list[str]:
        """Renderings of one extension member (a list gives one per item, like repeated XML)."""
        name = self.c.names.get(key)
        if name is None:
            name = self.c.names[key] = _member_name(key, self.ctx)
        if name[-4:] != "List":
            if type(raw) is str:
                text = self.probe(raw) or self.value(raw)
                return [name + "=" + text] if text else []
            return self.generic_named(name, raw)
        # The reference regroups "xList" keys into an "xList" element holding "x" children.
        inner = name[:-4]
        if inner.endswith("List") or inner in _SPECIAL_NAMES:
            raise _GIVE_UP
        parts = []
        for item in raw if type(raw) is list else [raw]:
            if type(item) is list:
                raise _GIVE_UP
            if item is not None:
                parts += self.generic_named(inner, item)
        if not parts:
            return []
        parts.sort()
        return [name + "".join(parts)]

    def generic_named(self, name: str, raw: object) -> list[str]:
        if type(raw) is list:
            out = []
            for item in raw:
                if type(item) is list:
                    raise _GIVE_UP
                if item is not None:
                    out += self.generic_named(name, item)
            return out
        if type(raw) is dict:
            parts = self.members(raw)
            return [name + "".join(parts)] if parts else []
        if raw is None:
            return []
        text = self.probe(raw) or self.value(raw)
        return [name + "=" + text] if text else []


def _member_name(key: str, ctx: Context) -> str:
    """``{namespace}local`` for a member key, or give up on keys the fast path cannot place."""
    if ":" not in key:
        # Standard terms nest JSON-LD semantics the fast path does not track.
        if key in jsonld.EPCIS_TERMS or key in ctx.terms or key in _COMMENT_KEYS:
            raise _GIVE_UP
    elif key in ctx.term_kinds or key in _COMMENT_KEYS:
        raise _GIVE_UP
    if "{" in key or key[:1] == "@":
        raise _GIVE_UP
    name = _key_name(key, ctx)
    if name in _SPECIAL_NAMES:
        raise _GIVE_UP
    return name


# Codes of the plan steps.
_V_BIZ_STEP, _V_DISPOSITION, _V_ENTRIES, _V_PERSISTENT, _V_SENSORS, _V_UNHASHED = range(6)
(
    _R_SIMPLE,
    _R_LOCATION,
    _R_EPCS,
    _R_TIME,
    _R_ID,
    _R_QUANTITIES,
    _R_SENSORS,
    _R_PERSISTENT,
    _R_CERTIFICATION,
) = range(9)
_X_EXTENSION, _X_ENTRIES, _X_ILMD = range(3)

_ORDERED_CODES: Final[Mapping[str, int]] = {
    "eventTime": _R_TIME,
    "eventTimeZoneOffset": _R_SIMPLE,
    "certificationInfo": _R_CERTIFICATION,
    "parentID": _R_ID,
    "epcList": _R_EPCS,
    "inputEPCList": _R_EPCS,
    "childEPCs": _R_EPCS,
    "quantityList": _R_QUANTITIES,
    "childQuantityList": _R_QUANTITIES,
    "inputQuantityList": _R_QUANTITIES,
    "outputEPCList": _R_EPCS,
    "outputQuantityList": _R_QUANTITIES,
    "action": _R_SIMPLE,
    "transformationID": _R_ID,
    "bizStep": _R_SIMPLE,
    "disposition": _R_SIMPLE,
    "persistentDisposition": _R_PERSISTENT,
    "readPoint": _R_LOCATION,
    "bizLocation": _R_LOCATION,
    "sensorElementList": _R_SENSORS,
}
_VOCAB_CODES: Final[Mapping[str, int]] = {
    "bizStep": _V_BIZ_STEP,
    "disposition": _V_DISPOSITION,
    "bizTransactionList": _V_ENTRIES,
    "sourceList": _V_ENTRIES,
    "destinationList": _V_ENTRIES,
    "persistentDisposition": _V_PERSISTENT,
    "sensorElementList": _V_SENSORS,
} | dict.fromkeys(_UNHASHED, _V_UNHASHED)
_ENTRY_TYPES: Final[Mapping[str, Mapping[str, str]]] = _ENTRY_VOCAB
_SET_UNSET: Final = frozenset({"set", "unset"})


class _Plan:
    """The steps for an event with a given key tuple, or ``give_up`` for an unusual one."""

    __slots__ = ("give_up", "ordered", "rest", "vocab")

    def __init__(self, shape: tuple[str, ...], ctx: Context) -> None:
        keys = set(shape)
        self.give_up = "type" not in keys or "eventTime" not in keys
        for key in keys - _TOP_KNOWN - _COMMENT_KEYS - {"@context"}:
            if ":" not in key or key in ctx.term_kinds or "{" in key or key[0] == "@":
                self.give_up = True
        self.vocab = tuple((_VOCAB_CODES[k], k) for k in shape if k in _VOCAB_CODES)
        self.ordered = tuple((_ORDERED_CODES[k], k) for k in _ORDERED_CODES if k in keys)
        rest = [(_X_ENTRIES, k) for k in _ENTRY_LISTS if k in keys]
        if "ilmd" in keys:
            rest.append((_X_ILMD, "ilmd"))
        rest += (
            (_X_EXTENSION, k)
            for k in shape
            if ":" in k and k not in _COMMENT_KEYS and k not in _TOP_KNOWN
        )
        self.rest = tuple(rest)


# --------------------------------------------------------------------------------------------
# Public API


# The fast renderer signals an unusual shape with _GiveUp; a TypeError/AttributeError/KeyError
# can only come from a value of an unexpected JSON type on its fast path: same hand-over.
_HAND_OVER = (_GiveUp, TypeError, AttributeError, KeyError)


class _Hasher:
    """Pre-hash strings for events sharing one resolved context (and ignore list)."""

    __slots__ = ("count", "ctx", "fast", "ignore")

    def __init__(self, ctx: Context, ignore: Collection[str]) -> None:
        self.ctx = ctx
        self.ignore = ignore
        self.fast = _Fast(ctx, ignore)
        self.count = 0

    def prehash(self, event: object) -> str:
        self.count += 1
        if not self.count & 4095:  # now and then, within a long batch: keep the memo bounded
            self.fast.c = _caches(self.ctx)
        if type(event) is dict:
            if "@context" not in event:
                try:
                    return self.fast.render(event)
                except _HAND_OVER:
                    return _render_with(event, self.ctx, self.ignore)
        elif not isinstance(event, Mapping):
            raise EventError("event", "must be a JSON object")
        ctx = self._context_for(event)
        if type(event) is dict:
            try:
                return _Fast(ctx, self.ignore).render(event)
            except _HAND_OVER:
                pass
        return _render_with(event, ctx, self.ignore)

    def _context_for(self, event: Mapping[str, Any]) -> Context:
        """The document's context with the event's own ``@context`` processed after it."""
        own = event.get("@context")
        if own is None:
            return self.ctx
        memo = self.ctx.memo
        key = ("event-context", jsonld._cache_key(own))
        merged = memo.get(key)
        if merged is None:
            try:
                merged = memo[key] = self.ctx.merged(own)
            except ValueError as exc:
                raise EventError("@context", str(exc)) from None
        return merged


def _render_with(event: Mapping[str, Any], ctx: Context, ignore: Collection[str]) -> str:
    replace = _replacements(ctx, _vocab_iris(event, ctx))
    return _render_general(event, ctx, replace, ignore)


def _prehash(event: object, ctx: Context, ignore: Collection[str]) -> str:
    return _Hasher(ctx, ignore).prehash(event)


def _resolve(context: object) -> Context:
    try:
        return resolve_context(context)
    except ValueError as exc:
        raise EventError("@context", str(exc)) from None


def _digest(prehash: str) -> str:
    return "ni:///sha-256;" + hashlib.sha256(prehash.encode()).hexdigest() + _VERSION


def prehash_string(
    event: Mapping[str, Any], context: object = None, *, ignore_fields: Collection[str] = ()
) -> str:
    """The canonical pre-hash string of one event (epcis.md §3.2).

    ``context`` is the document's ``@context`` (URI, object or list); ``None`` stands for the
    standard EPCIS 2.0 context. ``ignore_fields`` names extension fields to leave out.
    """
    return _prehash(event, _resolve(context), frozenset(ignore_fields))


def event_hash_id(
    event: Mapping[str, Any], context: object = None, *, ignore_fields: Collection[str] = ()
) -> str:
    """The Event Hash ID ``ni:///sha-256;<hex>?ver=CBV2.0`` of one EPCIS 2.0 JSON-LD event."""
    return _digest(prehash_string(event, context, ignore_fields=ignore_fields))


class EventHasher:
    """Event Hash IDs of events arriving one by one under one document ``@context``.

    The same IDs as :func:`event_hash_id`, but the context is resolved and the renderer set up
    once, not per event (the capture service hashes every event it receives). An unusable
    context raises its :class:`EventError` for every event, as :func:`event_hash_id` would.
    """

    __slots__ = ("_error", "_hasher")

    def __init__(self, context: object = None, *, ignore_fields: Collection[str] = ()) -> None:
        self._hasher: _Hasher | None = None
        self._error: EventError | None = None
        try:
            self._hasher = _Hasher(_resolve(context), frozenset(ignore_fields))
        except EventError as exc:
            self._error = exc

    def __call__(self, event: Mapping[str, Any]) -> str:
        hasher = self._hasher
        if hasher is None:
            assert self._error is not None
            raise EventError(self._error.field, self._error.reason)
        return _digest(hasher.prehash(event))


def hash_events(
    events: Iterable[Mapping[str, Any]],
    context: object = None,
    *,
    ignore_fields: Collection[str] = (),
) -> list[str]:
    """Event Hash IDs of many events sharing one ``@context`` (resolved once)."""
    prehash = _Hasher(_resolve(context), frozenset(ignore_fields)).prehash
    sha256 = hashlib.sha256
    return [
        "ni:///sha-256;" + sha256(prehash(event).encode()).hexdigest() + _VERSION
        for event in events
    ]


def _ignore_list(holder: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for key, value in holder.items():
        if key == "ignoreFields" or key.endswith(":ignoreFields"):
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise EventError(key, "must be a list of field names")
            found += (i.strip() for i in items if i.strip())
    return found


def document_events(
    doc: Mapping[str, Any],
) -> tuple[object, list[Mapping[str, Any]], tuple[str, ...]]:
    """``(context, events, ignore_fields)`` of an EPCISDocument, EPCISQueryDocument or bare event.

    Events come in document order: ``epcisBody.eventList`` (EPCISDocument),
    ``epcisBody.queryResults.resultsBody.eventList`` (EPCISQueryDocument), the legacy single
    ``epcisBody.event``, or ``doc`` itself when it is an event. ``ignore_fields`` comes from a
    document-level ``ignoreFields`` (or ``prefix:ignoreFields``) list, also accepted in
    ``epcisHeader``.
    """
    if not isinstance(doc, Mapping):
        raise EventError("document", "must be a JSON object")
    context = doc.get("@context")
    body = doc.get("epcisBody")
    if body is None:
        if doc.get("type") in _EVENT_TYPES:
            return context, [doc], ()
        raise EventError("epcisBody", "is required (or pass a single event)")
    if not isinstance(body, Mapping):
        raise EventError("epcisBody", "must be an object")
    if "eventList" in body:
        events, where = body["eventList"], "epcisBody.eventList"
    elif "queryResults" in body:
        results = body["queryResults"]
        results_body = results.get("resultsBody") if isinstance(results, Mapping) else None
        if not isinstance(results_body, Mapping):
            raise EventError("epcisBody.queryResults.resultsBody", "is required")
        events = results_body.get("eventList", [])
        where = "epcisBody.queryResults.resultsBody.eventList"
    elif "event" in body:
        events, where = [body["event"]], "epcisBody.event"
    else:
        raise EventError("epcisBody", "has no eventList")
    if not isinstance(events, list):
        raise EventError(where, "must be a list of events")
    ignore = _ignore_list(doc)
    header = doc.get("epcisHeader")
    if isinstance(header, Mapping):
        ignore += _ignore_list(header)
    return context, events, tuple(ignore)


def prehash_document(doc: Mapping[str, Any]) -> list[str]:
    """Pre-hash strings of every event of a document, in document order."""
    context, events, ignore = document_events(doc)
    prehash = _Hasher(_resolve(context), frozenset(ignore)).prehash
    return [prehash(event) for event in events]


def hash_document(doc: Mapping[str, Any]) -> list[str]:
    """Event Hash IDs of every event of a document, in document order."""
    context, events, ignore = document_events(doc)
    return hash_events(events, context, ignore_fields=ignore)
