"""What the engine finds: a :class:`Finding` is an alert in its engine form.

A finding has an instant it is *detected* (the report arrived late; the deadline of a missing
follow-up passed; the shipment to an unqualified receiver was recorded …) and, if the obligation
was later met, the instant and event that *resolved* it. A finding detected in the future is a
pending obligation: it becomes an alert when its deadline passes unless something resolves it
first. So the alerts "as of" any moment T are exactly the findings detected at or before T, open
if not resolved by T. This is what lets the incremental engine store findings once and the full
re-evaluation reproduce them, and what makes ``--as-of`` a filter rather than a different engine.

Times are microseconds since the epoch (see :mod:`.clock`); evidence is event sequence numbers
(the service turns them into Event Hash IDs).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from battrace.domain.lifecycle import states as S
from battrace.domain.rules import AlertKind, Rule
from battrace.domain.supervision.facts import EVENT_SUBJECT_PREFIX

#: Statuses an alert can have (``status`` of the public alert).
OPEN = "open"
RESOLVED = "resolved"
ACKNOWLEDGED = "acknowledged"
RECTIFYING = "rectifying"  # a rectification notice (整改通知) is out
ANSWERED = "answered"  # the enterprise answered the notice
CLOSED = "closed"
WITHDRAWN = "withdrawn"  # its evidence was retracted or the rules changed: no longer a finding
STATUSES = (OPEN, ACKNOWLEDGED, RECTIFYING, ANSWERED, RESOLVED, CLOSED, WITHDRAWN)

OUTLET_UNIT_PREFIX = "outlet:"


def finding_key(kind: str, rule_id: str, unit: str, anchor: int) -> str:
    """Stable identity of a finding: the same violation keeps its key (and workflow) across
    re-evaluations. ``anchor`` is the event that gave rise to it."""
    raw = f"{kind}|{rule_id}|{unit}|{anchor}".encode()
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


def display(subject: str) -> str:
    """A battery code, VIN or USCC as people write it (URI prefixes removed)."""
    for prefix in (S.BATTERY_URN, S.VEHICLE_URN, S.PARTY_URN, OUTLET_UNIT_PREFIX):
        if subject.startswith(prefix):
            return subject[len(prefix) :]
    return subject


def citation(rule: Rule) -> str:
    doc = rule.source.document
    zh = doc.number or doc.title_zh
    if rule.source.article:
        zh = f"{zh} {rule.source.article}"
    return f"{zh} / {rule.source.label()}"


@dataclass(frozen=True, slots=True)
class Finding:
    key: str
    kind: AlertKind
    rule_id: str
    rule_version: int
    citation: str
    unit: str  # the evaluation unit: a subject URI, or "outlet:" + site URI
    subject: str  # battery code, VIN or USCC, bare
    enterprise: str | None  # the responsible enterprise (USCC)
    province: str | None  # its province (GB/T 2260 two digits)
    evidence: tuple[int, ...]  # event sequence numbers
    detected_at: int
    due: date | None = None
    provisional: bool = False
    resolved_at: int | None = None
    resolved_by: int | None = None
    detail: dict[str, Any] = field(default_factory=dict, compare=False)

    def signature(self) -> tuple[Any, ...]:
        """Everything an observer of the alert would notice changing (detail excluded)."""
        return (
            self.key,
            str(self.kind),
            self.rule_id,
            self.rule_version,
            self.unit,
            self.subject,
            self.enterprise,
            self.province,
            self.evidence,
            self.detected_at,
            self.due,
            self.provisional,
            self.resolved_at,
            self.resolved_by,
        )

    def status_at(self, as_of: int) -> str | None:
        """``open`` or ``resolved`` as of an instant; None if not yet detected then."""
        if self.detected_at > as_of:
            return None
        if self.resolved_at is not None and self.resolved_at <= as_of:
            return RESOLVED
        return OPEN


def is_event_subject(unit: str) -> bool:
    return unit.startswith(EVENT_SUBJECT_PREFIX)
