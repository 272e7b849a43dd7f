"""Capturing events into the ledger: validate, authorise, hash, chain, project — atomically.

A capture (one document, or one batch of a JSON Lines file) is all-or-nothing: if any event is
malformed or not authorised, nothing is written and every bad event is reported with its index,
field and reason. Otherwise the capture, its events and the updated projections are committed in
one transaction, and only then is the result returned (acknowledged).

Events already stored (same Event Hash ID) are reported as duplicates and skipped. An event that
carries an ``errorDeclaration`` has the same Event Hash ID as the event it retracts (the hash
ignores ``errorDeclaration``), so it is stored as a *declaration* beside the original; projections
of the objects it names are then re-derived without the retracted event.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson

from battrace.config import Settings
from battrace.domain import chain
from battrace.domain.epcis import vocab
from battrace.domain.epcis.document import (
    DEFAULT_CONTEXT,
    Limits,
    iter_json_lines,
    parse_document,
)
from battrace.domain.epcis.event import Event, parse_event
from battrace.domain.epcis.hashid import EventHasher
from battrace.domain.errors import InvalidInput, NotAuthorised
from battrace.domain.identities.uris import check_uri
from battrace.persistence.base import CaptureRow, EnterpriseRow, EventRow, Store, WriteTxn
from battrace.persistence.queries import reading
from battrace.services import authorisation
from battrace.services.gcpause import gc_paused
from battrace.services.projector import Projector, time_text


def utc_text(moment: datetime) -> str:
    """The fixed-width UTC text form every stored timestamp uses."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class Problem:
    index: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"event {self.index}: {self.field}: {self.reason}"


@dataclass(slots=True)
class CaptureResult:
    capture_id: str | None
    captured: int = 0
    duplicates: list[tuple[int, str]] = field(default_factory=list)
    rejected: list[Problem] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    label: str = ""
    prepared: list[Event] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return not self.rejected


class CaptureObserver(Protocol):
    """Runs inside the capture's transaction, after the projections are updated (e.g. the
    regulation engine's incremental alerts). Raising aborts the whole capture."""

    def on_capture(
        self, txn: WriteTxn, events: Sequence[tuple[str, Event]], record_time: str
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Submission:
    """One capture to be: who reports it, the document's @context, the events and their text."""

    enterprise: str
    context: Any
    events: Sequence[Any]
    bodies: Sequence[str]
    path: str = "epcisBody.eventList"


class Ledger:
    """The capture service. Shared by the CLI, the HTTP API and the tests."""

    def __init__(
        self,
        store: Store,
        settings: Settings | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        observers: Sequence[CaptureObserver] = (),
    ) -> None:
        self.store = store
        self.settings = settings or Settings.from_env(store.url)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.limits = Limits(
            max_document_bytes=self.settings.max_document_bytes,
            max_event_bytes=self.settings.max_event_bytes,
        )
        self.tolerance = timedelta(seconds=self.settings.future_tolerance_s)
        self.observers = list(observers)

    # -- entry points -------------------------------------------------------------------------
    def capture_document(self, data: bytes, enterprise: str) -> CaptureResult:
        """Capture one EPCIS document (JSON-LD) as one atomic capture."""
        try:
            doc = parse_document(data, self.limits)
        except InvalidInput as exc:
            return CaptureResult(None, rejected=[Problem(-1, exc.field, exc.reason)])
        path = "epcisBody.eventList" if doc.kind != "event" else "event"
        bodies = [orjson.dumps(e).decode() if isinstance(e, dict) else "" for e in doc.events]
        return self.capture_events(doc.context, doc.events, bodies, enterprise, path=path)

    def capture_json_lines(
        self, lines: Iterable[bytes], enterprise: str, batch_size: int | None = None
    ) -> Iterator[CaptureResult]:
        """Capture a JSON Lines stream in batches; each batch is its own atomic capture.

        Streams: only one batch is held in memory at a time.
        """
        size = batch_size or self.settings.jsonl_batch
        batch: list[Any] = []
        bodies: list[str] = []
        errors: list[Problem] = []
        first_line = 0
        for number, item, raw in iter_json_lines(iter(lines), self.limits):
            if not batch and not errors:
                first_line = number
            if isinstance(item, InvalidInput):
                errors.append(Problem(len(batch) + len(errors), item.field, item.reason))
                batch.append(None)
                bodies.append("")
            else:
                batch.append(item)
                bodies.append(raw.decode())
            if len(batch) >= size:
                yield self._line_batch(batch, bodies, errors, enterprise, first_line, number)
                batch, bodies, errors = [], [], []
        if batch:
            yield self._line_batch(
                batch, bodies, errors, enterprise, first_line, first_line + len(batch) - 1
            )

    def _line_batch(
        self,
        batch: list[Any],
        bodies: list[str],
        errors: list[Problem],
        enterprise: str,
        first: int,
        last: int,
    ) -> CaptureResult:
        if errors:
            result = CaptureResult(None, rejected=errors)
        else:
            result = self.capture_events(DEFAULT_CONTEXT, batch, bodies, enterprise, path="line")
        result.label = f"lines {first}-{last}"
        return result

    # -- the pipeline -------------------------------------------------------------------------
    def capture_events(
        self,
        context: Any,
        raw_events: Sequence[Any],
        bodies: Sequence[str],
        enterprise: str,
        *,
        path: str = "epcisBody.eventList",
        imported: bool = False,
    ) -> CaptureResult:
        """Validate, authorise and hash ``raw_events``, then commit them as one capture."""
        return self.capture_many(
            [Submission(enterprise, context, raw_events, bodies, path)], imported=imported
        )[0]

    def capture_many(
        self,
        submissions: Sequence[Submission],
        *,
        imported: bool = False,
        record_time: datetime | None = None,
    ) -> list[CaptureResult]:
        """Commit several captures (each chained on its own) in ONE transaction.

        Used by bulk loads (demo, imports, benchmarks): events of different reporters that
        interleave in time are projected in eventTime order across the whole group, and the
        fsync of the commit is paid once. All-or-nothing for the group: if any submission has a
        bad event, nothing is written and every submission reports its problems.

        ``record_time`` is for the operator-only import of a backlog with its original capture
        times; such captures are marked ``imported`` in the ledger.
        """
        if record_time is not None and not imported:
            raise ValueError("a supplied record_time is only allowed for imported captures")
        with gc_paused():
            return self._capture_many(submissions, imported, record_time)

    def _capture_many(
        self, submissions: Sequence[Submission], imported: bool, record_time: datetime | None
    ) -> list[CaptureResult]:
        now = record_time or self.clock()
        record_text = utc_text(now)
        # The checks' reads on one connection, each reporter looked up once: a bulk load's group
        # holds many small submissions of the same few enterprises.
        reporters: dict[str, EnterpriseRow | None] = {}
        with reading(self.store):
            prepared = [self._prepare(sub, now, reporters) for sub in submissions]
        if any(p.rejected for p in prepared):
            return [
                p
                if p.rejected
                else CaptureResult(
                    None,
                    rejected=[
                        Problem(
                            -1,
                            "capture",
                            "not written: another capture in the same group was rejected",
                        )
                    ],
                )
                for p in prepared
            ]
        all_kept: list[tuple[str, Event]] = []
        with self.store.write() as txn:
            for sub, result in zip(submissions, prepared, strict=True):
                kept = self._commit(txn, sub, result, record_text, imported)
                all_kept.extend((sub.enterprise, ev) for ev in kept)
            Projector(txn, record_text).apply([ev for _, ev in all_kept])
            for observer in self.observers:
                observer.on_capture(txn, all_kept, record_text)
        return prepared

    def _prepare(
        self, sub: Submission, now: datetime, reporters: dict[str, EnterpriseRow | None]
    ) -> CaptureResult:
        if sub.enterprise not in reporters:
            reporters[sub.enterprise] = self.store.get_enterprise(sub.enterprise)
        reporter = reporters[sub.enterprise]
        if reporter is None:
            return CaptureResult(
                None,
                rejected=[
                    Problem(-1, "enterprise", f"{sub.enterprise} is not a registered enterprise")
                ],
            )
        codes = self._manufacturer_codes(sub.events)
        owners = self.store.manufacturer_owners(codes) if codes else {}
        result = CaptureResult(str(uuid.uuid4()))
        hash_id = EventHasher(sub.context)  # the event's own @context applies on top
        for i, raw in enumerate(sub.events):
            where = f"{sub.path}[{i}]" if sub.path != "event" else "event"
            try:
                ev = parse_event(
                    raw, where, now=now, future_tolerance=self.tolerance, check_uri=check_uri
                )
                authorisation.check_event(ev, where, reporter, owners.get)
                ev.event_id = hash_id(raw)
            except (InvalidInput, NotAuthorised) as exc:
                result.rejected.append(Problem(i, exc.field, exc.reason))
                continue
            result.prepared.append(ev)
        if result.rejected:
            result.capture_id = None
            result.prepared = []
        return result

    def _commit(
        self,
        txn: WriteTxn,
        sub: Submission,
        result: CaptureResult,
        record_time: str,
        imported: bool,
    ) -> list[Event]:
        events = result.prepared
        result.prepared = []
        plain_ids = [e.event_id for e in events if e.error_declaration is None]
        decl_ids = [e.event_id for e in events if e.error_declaration is not None]
        seen_plain = txn.existing_event_ids(plain_ids, declarations=False) if plain_ids else set()
        seen_decl = txn.existing_event_ids(decl_ids, declarations=True) if decl_ids else set()
        rows: list[EventRow] = []
        kept: list[Event] = []
        for i, ev in enumerate(events):
            is_decl = ev.error_declaration is not None
            seen = seen_decl if is_decl else seen_plain
            if ev.event_id in seen:
                result.duplicates.append((i, ev.event_id))
                continue
            seen.add(ev.event_id)
            kept.append(ev)
            rows.append(
                EventRow(
                    event_id=ev.event_id,
                    position=len(rows),
                    record_time=record_time,
                    event_time=time_text(ev.event_time),
                    event_type=ev.event_type,
                    action=ev.action,
                    biz_step=ev.biz_step,
                    disposition=ev.disposition,
                    read_point=ev.read_point,
                    biz_location=ev.biz_location,
                    reporter=sub.enterprise,
                    is_declaration=is_decl,
                    body=sub.bodies[i],
                    epcs=ev.epcs_with_roles(),
                )
            )
        if not rows:
            # Nothing new: no capture record, the chain does not move.
            result.capture_id = None
            return kept
        capture_id = result.capture_id or str(uuid.uuid4())
        context_text = orjson.dumps(sub.context).decode()
        head = txn.head()
        digest = chain.capture_digest(
            chain.event_leaf(r.event_id, r.record_time, r.body) for r in rows
        )
        capture = CaptureRow(
            capture_id=capture_id,
            enterprise=sub.enterprise,
            record_time=record_time,
            context=context_text,
            event_count=len(rows),
            digest=digest,
            prev_head=head.head,
            head=chain.capture_head(
                head.head, capture_id, sub.enterprise, record_time, context_text, len(rows), digest
            ),
            imported=imported,
        )
        txn.append(capture, rows)
        result.captured = len(rows)
        result.event_ids = [r.event_id for r in rows]
        return kept

    @staticmethod
    def _manufacturer_codes(raw_events: Sequence[Any]) -> set[str]:
        """Manufacturer codes of batteries this capture creates (to look their owners up once)."""
        codes: set[str] = set()
        for raw in raw_events:
            if not isinstance(raw, dict):
                continue
            lists: list[Any] = []
            if raw.get("bizStep") in (
                "commissioning",
                "https://ref.gs1.org/cbv/BizStep-commissioning",
            ):
                lists.append(raw.get("epcList"))
            if raw.get("bizStep") == vocab.BIZSTEP_RECODING:
                lists.append(raw.get("outputEPCList"))
            for lst in lists:
                if isinstance(lst, list):
                    for uri in lst:
                        if isinstance(uri, str) and uri.startswith("urn:gbt34014:"):
                            codes.add(uri[13:16])
        return codes

    # -- XML (EPCIS 2.0 XML binding) ------------------------------------------------------------
    def capture_xml(self, data: bytes, enterprise: str) -> CaptureResult:
        """Capture one EPCIS 2.0 XML document as one atomic capture (docs/epcis-xml.md).

        The XML is read safely (no DTDs or entities, size and depth limits) into the JSON-LD
        event shape, so validation, the Event Hash ID and storage are those of JSON-LD: the
        same event captured as XML or as JSON-LD is one event (a duplicate the second time).
        """
        from battrace.domain.epcis.xml import parse_xml_document

        try:
            doc = parse_xml_document(data, self.limits)
        except InvalidInput as exc:
            return CaptureResult(None, rejected=[Problem(-1, exc.field, exc.reason)])
        path = (
            "EPCISBody.QueryResults.resultsBody.EventList"
            if doc.kind == "EPCISQueryDocument"
            else "EPCISBody.EventList"
        )
        bodies = [orjson.dumps(e).decode() for e in doc.events]
        return self.capture_events(doc.context, doc.events, bodies, enterprise, path=path)
