"""Evaluate a whitelist application, indicator by indicator, against the edition of the standard
conditions (行业规范条件) in the rulebooks.

The criteria are rulebook data (``domain/rules/rulebooks/cn-whitelist.toml``), never code:

* an **edition** is the year of the rule's source document ``whitelist-YYYY``; rules of
  ``whitelist-YYYY-draft`` belong to that edition too but are marked draft;
* a **criterion** is a rule of kind ``whitelist_threshold`` (quantitative: ``quantity [material]
  [scope] comparator value unit``) or ``source_verification`` (a yes/no condition) whose actor
  matches the kind applied for (recycling → ``recycler``, cascade use → ``cascade_user``);
* its **indicator key** is ``quantity[_material][_scope]`` in snake_case (``metal_recovery_li``,
  ``powder_impurity_al``, ``li2co3_energy_consumption``) or ``source_verification``;
* the version used is the highest whose ``valid_from`` is on or before the evaluation date (an
  operator confirms an UNCONFIRMED value with a higher version in a local rulebook).

Per item: ``pass``, ``fail``, ``not-provided`` — or ``unconfirmed`` when the threshold value or
the rule itself is UNCONFIRMED (2019 values, 2024 draft items): shown, never decisive. Overall:
``fail`` if a decisive item fails, else ``incomplete`` if one is not provided, else ``pass``;
``unconfirmed`` when the edition has no decisive item at all.
Comparisons are decimal, so 98 % against "≥ 98 %" passes and 1.5 % against "< 1.5 %" fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Final

from battrace.domain.errors import InvalidInput
from battrace.domain.rules import Actor, Confidence, Rule, RuleKind, RuleSet
from battrace.domain.whitelist.application import CASCADE_USE, RECYCLING, Application

PASS: Final = "pass"
FAIL: Final = "fail"
NOT_PROVIDED: Final = "not-provided"
UNCONFIRMED: Final = "unconfirmed"
INCOMPLETE: Final = "incomplete"
ITEM_STATUSES: Final = (PASS, FAIL, NOT_PROVIDED, UNCONFIRMED)
RESULTS: Final = (PASS, FAIL, INCOMPLETE, UNCONFIRMED)

ACTOR_OF_KIND: Final = {RECYCLING: Actor.RECYCLER, CASCADE_USE: Actor.CASCADE_USER}
_KINDS: Final = frozenset({RuleKind.WHITELIST_THRESHOLD, RuleKind.SOURCE_VERIFICATION})
_DOCUMENT: Final = re.compile(r"whitelist-(\d{4})(-draft)?")
_SNAKE: Final = re.compile(r"[^a-z0-9]+")


def _edition_of(rule: Rule) -> tuple[str, bool] | None:
    if rule.kind not in _KINDS:
        return None
    m = _DOCUMENT.fullmatch(rule.source.document.key)
    return None if m is None else (m.group(1), m.group(2) is not None)


def indicator_key(rule: Rule) -> str:
    """The application's indicator name for ``rule`` (see the module doc)."""
    t = rule.threshold
    if t is None:
        return str(rule.kind)
    parts = [t.quantity, t.material or "", t.scope or ""]
    return "_".join(p for p in (_SNAKE.sub("_", x.lower()).strip("_") for x in parts) if p)


@dataclass(frozen=True, slots=True)
class Criterion:
    key: str
    rule: Rule
    draft: bool

    @property
    def decisive(self) -> bool:
        """Counts for the result: confirmed rule, known value, not a draft item."""
        return (
            not self.draft
            and self.rule.confidence is not Confidence.UNCONFIRMED
            and (self.rule.known)
        )

    @property
    def unit(self) -> str | None:
        return None if self.rule.threshold is None else str(self.rule.threshold.unit)


def editions(rules: RuleSet) -> tuple[str, ...]:
    """Every edition the rulebooks know, oldest first."""
    found = {e[0] for r in rules if (e := _edition_of(r)) is not None}
    return tuple(sorted(found))


def edition_in_force(rules: RuleSet, day: date) -> str | None:
    """The newest edition with a (non-draft) criterion in force on ``day``."""
    found = [e[0] for r in rules.in_force(day) if (e := _edition_of(r)) is not None and not e[1]]
    return max(found) if found else None


def _version(rules: RuleSet, rule_id: str, as_of: date) -> Rule:
    versions = rules.versions(rule_id)
    started = [r for r in versions if r.valid_from <= as_of]
    return max(started or versions, key=lambda r: r.version)


def criteria(rules: RuleSet, edition: str, kind: str, as_of: date) -> list[Criterion]:
    """The criteria of ``edition`` for ``kind``, by indicator key."""
    actor = ACTOR_OF_KIND[kind]
    out: dict[str, Criterion] = {}
    for rule_id in rules.ids():
        rule = _version(rules, rule_id, as_of)
        found = _edition_of(rule)
        if found is None or found[0] != edition or rule.actor is not actor:
            continue
        crit = Criterion(indicator_key(rule), rule, found[1])
        known = out.get(crit.key)
        # Two rules on one indicator (a draft and a final item): the final one decides.
        if known is None or (known.draft and not crit.draft):
            out[crit.key] = crit
    return [out[k] for k in sorted(out)]


def resolve_edition(rules: RuleSet, app: Application, as_of: date) -> str:
    if app.edition is None:
        found = edition_in_force(rules, as_of)
        if found is None:
            raise InvalidInput(
                "edition", f"no edition of the standard conditions is in force on {as_of}"
            )
        return found
    known = editions(rules)
    if app.edition not in known:
        raise InvalidInput("edition", f"{app.edition} is not an edition ({', '.join(known)})")
    return app.edition


def check_indicators(app: Application, crits: list[Criterion], edition: str) -> None:
    """Every indicator must be a criterion of the edition, in its unit and range."""
    by_key = {c.key: c for c in crits}
    for ind in app.indicators:
        field = f"indicators.{ind.key}"
        crit = by_key.get(ind.key)
        if crit is None:
            names = ", ".join(by_key) or "none"
            raise InvalidInput(
                field, f"is not an indicator of the {edition} edition for {app.kind} ({names})"
            )
        if crit.unit is None:
            if not isinstance(ind.value, bool):
                raise InvalidInput(f"{field}.value", "must be true or false")
            continue
        if isinstance(ind.value, bool):
            raise InvalidInput(f"{field}.value", f"must be a number in {crit.unit}")
        if ind.unit != crit.unit:
            raise InvalidInput(f"{field}.unit", f"must be {crit.unit!r}, not {ind.unit!r}")
        if ind.value < 0 or (crit.unit == "%" and ind.value > 100):
            bounds = "0 to 100" if crit.unit == "%" else "0 or more"
            raise InvalidInput(f"{field}.value", f"must be {bounds} {crit.unit}")


@dataclass(frozen=True, slots=True)
class ItemResult:
    key: str
    rule: Rule
    draft: bool
    measured: Decimal | bool | None
    status: str
    met: bool | None  # the comparison itself, also for an unconfirmed (non-decisive) item

    def to_dict(self) -> dict[str, Any]:
        r = self.rule
        t = r.threshold
        measured: Any = self.measured
        if isinstance(measured, Decimal):
            measured = (
                int(measured) if measured == measured.to_integral_value() else float(measured)
            )
        params = r.parameters()
        return {
            "indicator": self.key,
            "status": self.status,
            "measured": measured,
            "unit": None if t is None else str(t.unit),
            "comparator": None if t is None else str(t.comparator),
            "threshold": params.get("value"),
            "requirement": r.describe_parameters() if t is not None else r.title_en,
            "met": self.met,
            "rule": r.id,
            "version": r.version,
            "title_zh": r.title_zh,
            "title_en": r.title_en,
            "confidence": str(r.confidence),
            "draft": self.draft,
            "citation": r.source.label(),
            "document_zh": r.source.document.title_zh,
            "evidence": list(r.source.evidence or r.source.document.urls),
        }


@dataclass(frozen=True, slots=True)
class Evaluation:
    edition: str
    kind: str
    as_of: date
    items: tuple[ItemResult, ...]
    result: str

    def count(self, status: str) -> int:
        return sum(1 for i in self.items if i.status == status)

    def failed(self) -> list[str]:
        return [i.key for i in self.items if i.status == FAIL]

    def to_dict(self) -> dict[str, Any]:
        return {
            "edition": self.edition,
            "kind": self.kind,
            "as_of": self.as_of.isoformat(),
            "result": self.result,
            "counts": {s: self.count(s) for s in ITEM_STATUSES},
            "items": [i.to_dict() for i in self.items],
        }


def _judge(crit: Criterion, app: Application) -> ItemResult:
    ind = app.indicator(crit.key)
    measured = None if ind is None else ind.value
    met: bool | None = None
    if measured is not None:
        if crit.rule.threshold is None:
            met = measured is True
        elif not isinstance(measured, bool):
            met = crit.rule.threshold.is_met(measured)
    if not crit.decisive:
        status = UNCONFIRMED
    elif measured is None:
        status = NOT_PROVIDED
    else:
        status = PASS if met else FAIL
    return ItemResult(crit.key, crit.rule, crit.draft, measured, status, met)


def evaluate(app: Application, rules: RuleSet, as_of: date) -> Evaluation:
    """Judge every criterion of the edition (InvalidInput for an indicator it does not know)."""
    edition = resolve_edition(rules, app, as_of)
    crits = criteria(rules, edition, app.kind, as_of)
    check_indicators(app, crits, edition)
    items = tuple(_judge(c, app) for c in crits)
    decisive = [i for i in items if i.status != UNCONFIRMED]
    if not decisive:
        result = UNCONFIRMED
    elif any(i.status == FAIL for i in decisive):
        result = FAIL
    elif any(i.status == NOT_PROVIDED for i in decisive):
        result = INCOMPLETE
    else:
        result = PASS
    return Evaluation(edition, app.kind, as_of, items, result)
