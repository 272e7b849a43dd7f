"""Injected violations: their kinds (the regulation engine's alert ids), rates and rule look-ups.

Every kind has an *opportunity* — the situation in which it can happen — and a rate: the share of
opportunities where it is injected. The ground truth records each case with the rules of the
packaged rulebooks that govern it on its date (``rules`` is empty where no rule is in force yet,
e.g. 车电一体报废 before 2026-04-01: the case happened, an engine applying the law of the day
should not alert on it).

| alert | opportunity | what is injected |
|---|---|---|
| late-report | an event whose reporter's duty has a known deadline | reported 1–20 working days after the deadline |
| missing-follow-up | a collection at a recycling service outlet | the outlet never ships the pack on |
| unqualified-transfer | a shipment of a retired pack by its remover | sent to a firm without whitelist qualification, which keeps it |
| outlet-over-capacity | a collection at an outlet | sent to the fullest outlet, kept 180–720 days, its stock limit ignored |
| battery-missing-at-scrapping | a vehicle whose pack leaks informally | the vehicle reaches a formal dismantler without it |
| retired-not-collected | a formal removal | retired, then never shipped or collected |
| unreported-source | a vehicle whose pack leaks informally | the pack re-emerges at a cascade user, origin unreported |
| code-not-registered | a pack produced | made by a battery maker that is not registered; first seen at the automaker |

Outlet stock is tracked as events happen: an ``outlet-over-capacity`` case is recorded when a
collection takes an outlet's stock above the limit of the rulebook (5 t), so the truth holds the
realised cases — an injection into an outlet that still had room is not one.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

from battrace.domain.errors import InvalidInput
from battrace.domain.rules import AlertKind, RuleKind, RuleSet, load_rulebooks

ALERT_KINDS: tuple[str, ...] = tuple(k.value for k in AlertKind)

#: Default rate of every kind (ASSUMPTION: no compliance rates are published, china-regulation
#: §5 "quantified reporting-compliance rates: not found").
DEFAULT_RATE = 0.02


@dataclass(frozen=True)
class Violations:
    """Injection rate per alert kind, each in [0, 1]."""

    rates: Mapping[str, float] = field(
        default_factory=lambda: dict.fromkeys(ALERT_KINDS, DEFAULT_RATE)
    )

    def __post_init__(self) -> None:
        for kind, rate in self.rates.items():
            if kind not in ALERT_KINDS:
                raise InvalidInput(
                    "violations", f"unknown alert kind {kind!r}; known: {', '.join(ALERT_KINDS)}"
                )
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise InvalidInput(f"violations.{kind}", f"rate must be in [0, 1], got {rate!r}")

    @classmethod
    def uniform(cls, rate: float, overrides: Mapping[str, float] | None = None) -> Violations:
        rates = dict.fromkeys(ALERT_KINDS, rate)
        rates.update(overrides or {})
        return cls(rates)  # a plain dict: configurations travel to worker processes

    @classmethod
    def none(cls) -> Violations:
        return cls.uniform(0.0)

    def rate(self, kind: str) -> float:
        return float(self.rates.get(kind, 0.0))

    @staticmethod
    def parse_overrides(items: Iterable[str]) -> dict[str, float]:
        """``["late-report=0.1", …]`` → ``{"late-report": 0.1}`` (raises InvalidInput)."""
        out: dict[str, float] = {}
        for item in items:
            kind, sep, value = item.partition("=")
            kind = kind.strip()
            if not sep:
                raise InvalidInput(
                    "--violation", f"{item!r}: write KIND=RATE, e.g. late-report=0.1"
                )
            if kind not in ALERT_KINDS:
                raise InvalidInput(
                    "--violation", f"unknown alert kind {kind!r}; known: {', '.join(ALERT_KINDS)}"
                )
            try:
                out[kind] = float(value)
            except ValueError:
                raise InvalidInput("--violation", f"{item!r}: {value!r} is not a number") from None
        return out


class RatePolicy:
    """Draws injections from its own random source (so the decisions are seeded too) and counts
    opportunities and injections per kind."""

    def __init__(self, violations: Violations, rng: random.Random) -> None:
        self.violations = violations
        self.rng = rng
        self.opportunities: dict[str, int] = dict.fromkeys(ALERT_KINDS, 0)
        self.injected: dict[str, int] = dict.fromkeys(ALERT_KINDS, 0)
        self._rates = {k: violations.rate(k) for k in ALERT_KINDS}

    def inject(self, kind: str) -> bool:
        self.opportunities[kind] += 1
        rate = self._rates[kind]
        if rate <= 0.0 or self.rng.random() >= rate:
            return False
        self.injected[kind] += 1
        return True


class RuleIndex:
    """Which packaged rules govern a duty or an alert on a date (cached: dates repeat a lot)."""

    def __init__(self, rules: RuleSet | None = None) -> None:
        self.rules = rules if rules is not None else load_rulebooks()
        # Which rules are in force changes only on the dates rules start or end: look-ups are
        # cached per (duty, epoch between two such dates), exact and cheap.
        edges = {r.valid_from for r in self.rules}
        edges |= {r.valid_to + timedelta(days=1) for r in self.rules if r.valid_to is not None}
        self._edges = sorted(edges)
        self._deadline_cached = lru_cache(maxsize=4096)(self._deadline)
        self._governing_cached = lru_cache(maxsize=4096)(self._governing)
        limit = None
        for rule in self.rules:
            if (
                rule.alert_kind is AlertKind.OUTLET_OVER_CAPACITY
                and rule.kind is RuleKind.STORAGE_LIMIT
                and rule.threshold is not None
                and rule.threshold.value is not None
            ):
                limit = float(rule.threshold.value) * 1000.0  # t -> kg
        self.outlet_limit_kg = limit

    def _epoch(self, day: date) -> date:
        """The first day of the period (between two rule dates) that holds ``day``."""
        i = bisect_right(self._edges, day)
        return self._edges[i - 1] if i else date.min

    def deadline(self, actor: str, trigger: str, day: date) -> tuple[str, int] | None:
        """(rule id, working days) of the reporting deadline, when one is known."""
        return self._deadline_cached(actor, trigger, self._epoch(day))

    def governing(self, alert: str, actor: str, day: date) -> tuple[str, ...]:
        """Ids of the rules in force on ``day`` that raise ``alert`` (see :meth:`_governing`)."""
        return self._governing_cached(alert, actor, self._epoch(day))

    def _deadline(self, actor: str, trigger: str, day: date) -> tuple[str, int] | None:
        """(rule id, working days) of the reporting deadline, when one is known."""
        try:
            rule = self.rules.deadline(actor, trigger, day)
        except ValueError:  # not an actor or trigger the rulebooks know
            return None
        if rule is None or rule.deadline_working_days is None:
            return None
        return rule.id, rule.deadline_working_days

    def _governing(self, alert: str, actor: str, day: date) -> tuple[str, ...]:
        """Ids of the rules in force on ``day`` that raise ``alert`` — the actor's own if it has
        any, else every one (a retired pack's collection duty lies with the automaker)."""
        matching = [r for r in self.rules.in_force(day) if r.alert_kind == alert]
        own = [r for r in matching if r.actor == actor]
        return tuple(sorted({r.id for r in (own or matching)}))


__all__ = ["ALERT_KINDS", "DEFAULT_RATE", "RatePolicy", "RuleIndex", "Violations"]
