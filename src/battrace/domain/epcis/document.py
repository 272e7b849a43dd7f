"""Reading untrusted EPCIS 2.0 input: JSON-LD documents and JSON Lines of events.

Limits are enforced before anything is parsed further: the document size, the size of one event,
and nesting depth (orjson refuses nesting deeper than 1,024 levels, which also bounds the
recursion of everything downstream). Non-UTF-8 input is refused with the byte offset.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from battrace.domain.errors import EventError, InvalidInput

STANDARD_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
DEFAULT_CONTEXT: list[Any] = [STANDARD_CONTEXT, {"battrace": "https://battrace.org/voc/"}]


@dataclass(frozen=True, slots=True)
class Limits:
    max_document_bytes: int = 256 * 1024 * 1024
    max_event_bytes: int = 1024 * 1024
    max_events: int = 1_000_000


DEFAULT_LIMITS = Limits()


@dataclass(slots=True)
class ParsedDocument:
    context: Any
    events: list[Any]
    kind: str  # EPCISDocument | EPCISQueryDocument | event


def loads(data: bytes | str, what: str = "document") -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        msg = str(exc)
        if "utf-8" in msg.lower() or "surrogate" in msg.lower():
            raise InvalidInput(what, f"is not valid UTF-8 ({msg})") from None
        if "recursion" in msg.lower() or "depth limit" in msg.lower():
            raise InvalidInput(what, "is nested too deeply (more than 1,024 levels)") from None
        raise InvalidInput(what, f"is not valid JSON ({msg})") from None


def parse_document(data: bytes, limits: Limits = DEFAULT_LIMITS) -> ParsedDocument:
    """Parse an EPCISDocument, an EPCISQueryDocument or one bare event."""
    if len(data) > limits.max_document_bytes:
        raise InvalidInput(
            "document", f"is {len(data):,} bytes; the limit is {limits.max_document_bytes:,}"
        )
    doc = loads(data)
    if not isinstance(doc, dict):
        raise InvalidInput("document", "must be a JSON object (an EPCISDocument)")
    kind = doc.get("type")
    context = doc.get("@context", DEFAULT_CONTEXT)
    if kind == "EPCISDocument":
        body = doc.get("epcisBody")
        if not isinstance(body, dict):
            raise InvalidInput("epcisBody", "is required and must be an object")
        events = body.get("eventList")
        if events is None and "event" in body:  # single-event form used by some senders
            events = [body["event"]]
        path = "epcisBody.eventList"
    elif kind == "EPCISQueryDocument":
        try:
            events = doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        except (KeyError, TypeError):
            raise InvalidInput(
                "epcisBody.queryResults.resultsBody.eventList", "is required"
            ) from None
        path = "epcisBody.queryResults.resultsBody.eventList"
    elif isinstance(kind, str) and kind.endswith("Event"):
        return ParsedDocument(context, [doc], "event")
    else:
        raise InvalidInput("type", f"{kind!r} is not EPCISDocument, EPCISQueryDocument or an event")
    if not isinstance(events, list):
        raise InvalidInput(path, "must be a list of events")
    if len(events) > limits.max_events:
        raise InvalidInput(path, f"has {len(events):,} events; the limit is {limits.max_events:,}")
    if len(data) > limits.max_event_bytes:
        for i, ev in enumerate(events):
            size = len(orjson.dumps(ev))
            if size > limits.max_event_bytes:
                raise EventError(
                    f"{path}[{i}]",
                    f"is {size:,} bytes; one event may be {limits.max_event_bytes:,}",
                )
    return ParsedDocument(context, events, str(kind))


def iter_json_lines(
    lines: Iterator[bytes], limits: Limits = DEFAULT_LIMITS, start_line: int = 1
) -> Iterator[tuple[int, Any | InvalidInput, bytes]]:
    """Yield (line number, parsed event or the error for that line, raw line) for non-blank lines."""
    for number, line in enumerate(lines, start_line):
        stripped = line.strip()
        if not stripped:
            continue
        if len(stripped) > limits.max_event_bytes:
            yield (
                number,
                InvalidInput(
                    f"line {number}",
                    f"is {len(stripped):,} bytes; one event may be {limits.max_event_bytes:,}",
                ),
                stripped,
            )
            continue
        try:
            yield number, loads(stripped, f"line {number}"), stripped
        except InvalidInput as exc:
            yield number, exc, stripped
