"""The rules, evaluated: from facts to findings (pure; no I/O).

Two entry points:

* :func:`evaluate_subject` — everything about one battery or vehicle (and the reporting deadline
  of every event whose primary fact it holds): late reports, missing follow-ups, batteries
  retired and not collected, unqualified transfers, unreported sources, unregistered codes and
  vehicles scrapped without their battery.
* :class:`OutletSweep` — the stock of every recycling service outlet site, swept in the order the
  ledger learnt the facts, for ``outlet-over-capacity``.

Policy (docs/rules.md): a rule raises findings only when every number it needs is known and its
confidence is not ``UNCONFIRMED``; an UNCONFIRMED rule is shown, never enforced — except a
*declared assumption*: a rule whose source is battrace's own assumption document
(:data:`ASSUMPTION_DOCUMENT`), with every number given. Those are the defaults battrace ships
where no regulation gives a number (follow-up and collection periods), enforced so that their
alerts are not silent, and superseded by an operator's own rule by id. Rule versions are chosen on
the day the duty arose (the trigger event's date in China).

Knowledge: every fact carries the instant the ledger recorded it; a finding is detected at the
instant the violation could first be seen (a late report: when it arrived; an unmet deadline: when
the deadline passed, or when the trigger was reported if later) and resolved at the instant the
first satisfying fact was recorded. A finding resolved no later than it would be detected is no
finding at all. See :mod:`.findings`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, NamedTuple

from battrace.domain.lifecycle import states as S
from battrace.domain.rules import (
    Actor,
    AlertKind,
    Confidence,
    DayBasis,
    Rule,
    RuleKind,
    RuleSet,
    Trigger,
    working_days_between,
)
from battrace.domain.supervision import facts as F
from battrace.domain.supervision.clock import (
    CHINA_OFFSET_US,
    DAY_US,
    china_day,
    due_after,
    end_of_day,
    text_of,
)
from battrace.domain.supervision.facts import (
    LEDGER_ORDER,
    RECORD_ORDER,
    TIME_ORDER,
    Fact,
    knowledge_key,
)
from battrace.domain.supervision.findings import (
    OUTLET_UNIT_PREFIX,
    Finding,
    citation,
    display,
    finding_key,
)
from battrace.domain.supervision.registry import CENTRALIZED, Registry

_ACTORS = frozenset(a.value for a in Actor)
#: Enterprises that are recycling channels: reaching one of them is formal collection.
CHANNEL_ROLES = frozenset({"recycling_outlet", "cascade_user", "recycler"})
#: Who may lawfully take a traction battery out of a vehicle before it is scrapped.
LAWFUL_REMOVERS = frozenset({"repairer", "swap_operator", "dismantler", "automaker", "importer"})
_VEHICLE_MAKERS = frozenset({"automaker", "importer"})


@cache  # pure, and asked for the same few (step, actor) pairs millions of times
def triggers(step: str, actor: str) -> tuple[Trigger, ...]:
    """The rulebook triggers a step of ``actor`` can bind.

    A dismantler's scrapping report is its receipt of the scrapped vehicle (2018 Provisions Art. 13:
    "receiving the scrapped NEV and issuing the 报废汽车回收证明"); a swap operator's removal and
    replacement are a battery swap.
    """
    if step in (F.RECEIVE, F.COLLECT):
        return (Trigger.RECEIVING,)
    if step == F.SHIP:
        return (Trigger.SHIPPING,)
    if step in (F.RECYCLE, F.DESTROY):
        return (Trigger.RECYCLING,)
    if step == F.SCRAP:
        if actor == Actor.DISMANTLER:
            return (Trigger.RECEIVING, Trigger.DECOMMISSIONING)
        return (Trigger.DECOMMISSIONING,)
    if step == F.RETIRE:
        return (Trigger.DECOMMISSIONING,)
    if step == F.REMOVE:
        if actor == Actor.SWAP_OPERATOR:
            return (Trigger.REMOVING, Trigger.SWAPPING)
        return (Trigger.REMOVING,)
    if step == F.REPLACE:
        if actor == Actor.SWAP_OPERATOR:
            return (Trigger.REPLACING, Trigger.SWAPPING)
        return (Trigger.REPLACING,)
    return _SIMPLE_TRIGGERS.get(step, ())


_SIMPLE_TRIGGERS: dict[str, tuple[Trigger, ...]] = {
    F.COMMISSION: (Trigger.COMMISSIONING,),
    F.RECODE: (Trigger.COMMISSIONING,),
    F.INSTALL: (Trigger.INSTALLING,),
    F.SELL: (Trigger.VEHICLE_SELLING,),
    F.REPAIR: (Trigger.REPAIRING,),
    F.INSPECT: (Trigger.INSPECTING,),
}


def satisfies(step: str, actor: str, target: Trigger) -> bool:
    """Whether a fact with ``step`` is the follow-up ``target`` (dismantling counts as recycling)."""
    return target in triggers(step, actor) or (target is Trigger.RECYCLING and step == F.DISMANTLE)


def moves_on(step: str, actor: str, target: Trigger, roles: frozenset[str]) -> bool:
    """Whether a step of the enterprise that received the battery ends its follow-up duty: the
    follow-up itself, shipping the battery on (the next holder's duty starts), or — for an
    enterprise that is also a cascade user — re-coding it into a cascade product: a receipt does
    not say in which capacity it was made, so the most lenient reading applies (as for deadlines).
    """
    if satisfies(step, actor, target) or step == F.SHIP:
        return True
    return step == F.RECODE and Actor.CASCADE_USER.value in roles


#: The rulebook document key of battrace's own assumptions (cn-grading-and-follow-up.toml).
ASSUMPTION_DOCUMENT = "battrace-assumption"


def assumption(rule: Rule) -> bool:
    """A default battrace ships where no regulation gives a number (cited to its own document)."""
    return rule.source.document.key == ASSUMPTION_DOCUMENT


def usable(rule: Rule | None) -> bool:
    """A rule may raise findings: every number known, and either not UNCONFIRMED or a declared
    battrace assumption (docs/rules.md)."""
    if rule is None or not rule.known:
        return False
    return rule.confidence is not Confidence.UNCONFIRMED or assumption(rule)


def _duty(rule: Rule) -> tuple[RuleKind, Actor, Trigger, Trigger | None]:
    return (rule.kind, rule.actor, rule.trigger, rule.follow_up_trigger)


def without_displaced_assumptions(rules: Sequence[Rule]) -> list[Rule]:
    """Drop each assumption that another usable rule for the same duty (kind, actor, trigger,
    follow-up) replaces: an operator's own period, under any id, beats battrace's default."""
    decided = {_duty(r) for r in rules if not assumption(r)}
    return [r for r in rules if not assumption(r) or _duty(r) not in decided]


@dataclass(frozen=True, slots=True)
class Deadline:
    rule: Rule
    due: date
    end: int  # the instant the deadline passes (24:00 China time on ``due``)
    provisional: bool


class FollowUpDuty(NamedTuple):
    """A follow-up period that a fact starts: due by ``end``, met by a later fact of the same
    reporter whose step is in ``moving`` (see :func:`moves_on`)."""

    rule: Rule
    target: Trigger
    due: date
    provisional: bool
    end: int
    moving: frozenset[str]


class CollectionDuty(NamedTuple):
    """The collection period that a removal or retirement on some day starts."""

    rule: Rule
    due: date
    provisional: bool
    end: int


#: A cached lookup's "not computed yet" (None is a valid cached answer).
_MISSING: Any = object()
#: Per-day caches are cleared past this size (a ledger repeats a few thousand keys millions of
#: times; the bound only guards against a pathological one).
_CACHE_LIMIT = 500_000


class Context:
    """The rules and the registry, with the lookups the engine repeats millions of times cached.

    Which rules are in force changes only on the days some rule starts or ends, so rule lookups
    are cached per *epoch* (the span between two such days), not per day: a ledger of ten years
    costs a few dozen lookups per question instead of thousands. The questions the rules ask of
    every fact (which deadline, which follow-up duty, which collection period) are cached per
    (reporter, step, China day number), so a fact costs one dictionary lookup per rule instead
    of date arithmetic; enterprises with a role that matters to a hot rule are precomputed sets.
    """

    def __init__(self, rules: RuleSet, registry: Registry) -> None:
        self.rules = rules
        self.registry = registry
        edges: set[date] = set()
        for r in rules:
            edges.add(r.valid_from)
            if r.valid_to is not None:
                edges.add(r.valid_to + timedelta(days=1))
        self._edges = sorted(edges)
        self._epochs: dict[date, int] = {}
        self._deadlines: dict[tuple[str, Trigger, int], Rule | None] = {}
        self._kinds: dict[tuple[RuleKind, int], list[Rule]] = {}
        self._reporting: dict[tuple[str, str, date], Deadline | None] = {}
        self._actors: dict[str, frozenset[str]] = {}
        self._bound_actors: dict[tuple[RuleKind, str], frozenset[str]] = {}
        # Actors bound by any usable rule of a kind (at any time): a fact whose reporter has none
        # of these roles cannot raise that kind, and most facts are rejected on this alone.
        self.bound: dict[RuleKind, frozenset[str]] = {
            kind: frozenset(r.actor.value for r in rules if r.kind is kind and usable(r))
            for kind in RuleKind
        }
        enterprises = registry.enterprises
        #: Enterprises some usable rule of a kind binds (any role of theirs among ``bound``).
        self.bound_reporters: dict[RuleKind, frozenset[str]] = {
            kind: frozenset(u for u, info in enterprises.items() if info.roles & actors)
            for kind, actors in self.bound.items()
        }
        #: Recycling channels (reaching one is formal collection) and vehicle makers.
        self.channels = frozenset(u for u, i in enterprises.items() if i.roles & CHANNEL_ROLES)
        self.vehicle_makers = frozenset(
            u for u, i in enterprises.items() if i.roles & _VEHICLE_MAKERS
        )
        self.outlet_enterprises = frozenset(
            u for u, i in enterprises.items() if "recycling_outlet" in i.roles
        )
        self._outlet_sites: dict[str | None, bool] = {}
        #: An event reported less than this long after it happened cannot be late: a deadline
        #: of n working days ends at least n calendar days after the end of the event's day.
        #: Spares most events the deadline lookup.
        self.late_floor = DAY_US * min(
            (
                r.deadline_working_days
                for r in rules
                if r.kind is RuleKind.REPORTING_DEADLINE and r.deadline_working_days is not None
            ),
            default=0,
        )
        #: :meth:`reporting_at`'s answers by (reporter, step, China day number).
        self.late_cache: dict[tuple[str, str, int], Deadline | None] = {}
        self._follow_ups: dict[tuple[str, str, int], tuple[FollowUpDuty, ...]] = {}
        self._follow_up_rules: dict[
            tuple[str, str, int], tuple[tuple[Rule, Trigger, frozenset[str]], ...]
        ] = {}
        self._collection: dict[int, CollectionDuty | None] = {}
        self._transfer: dict[tuple[str, int], Rule | None] = {}
        self._unqualified: dict[tuple[Any, ...], str | None] = {}
        self._sources: dict[tuple[str, str, int], Rule | None] = {}
        self._limits: dict[tuple[str, int], tuple[Rule, Decimal, str] | None] = {}
        self._deadline_candidates: dict[tuple[str, str, int], tuple[tuple[Rule, int], ...]] = {}
        self._follow_up_any = tuple(
            r
            for r in rules
            if r.kind is RuleKind.FOLLOW_UP_PERIOD
            and r.alert_kind is AlertKind.MISSING_FOLLOW_UP
            and r.follow_up_trigger is not None
            and usable(r)
        )
        #: Per reporter, the steps that start a follow-up duty on some day (see
        #: :meth:`follow_up_steps`); read directly in the hot loop, filled on a miss.
        self.follow_up_starters: dict[str, frozenset[str]] = {}

    def epoch(self, day: date) -> int:
        e = self._epochs.get(day)
        if e is None:
            e = self._epochs[day] = bisect_right(self._edges, day)
        return e

    def deadline_rule(self, actor: str, trigger: Trigger, day: date) -> Rule | None:
        key = (actor, trigger, self.epoch(day))
        if key not in self._deadlines:
            rule = self.rules.deadline(actor, trigger, day)
            ok = usable(rule) and rule is not None and rule.alert_kind is AlertKind.LATE_REPORT
            self._deadlines[key] = rule if ok else None
        return self._deadlines[key]

    def in_force(self, kind: RuleKind, day: date) -> list[Rule]:
        """Usable rules of ``kind`` in force on ``day``, the one in force latest first."""
        key = (kind, self.epoch(day))
        hit = self._kinds.get(key)
        if hit is None:
            hit = without_displaced_assumptions(
                [r for r in self.rules.list(kind=kind, as_of=day) if usable(r)]
            )
            hit.sort(key=lambda r: (r.valid_from, r.id), reverse=True)
            self._kinds[key] = hit
        return hit

    def bound_actors(self, kind: RuleKind, uscc: str) -> frozenset[str]:
        """The roles of ``uscc`` that some usable rule of ``kind`` binds (cached)."""
        key = (kind, uscc)
        hit = self._bound_actors.get(key)
        if hit is None:
            hit = self._bound_actors[key] = self.actors(uscc) & self.bound[kind]
        return hit

    def actors(self, uscc: str) -> frozenset[str]:
        hit = self._actors.get(uscc)
        if hit is None:
            hit = self._actors[uscc] = self.registry.roles(uscc) & _ACTORS
        return hit

    def reporting_at(self, reporter: str, step: str, event_time: int) -> Deadline | None:
        """:meth:`reporting` for an event at ``event_time``, cached by China day number."""
        key = (reporter, step, (event_time + CHINA_OFFSET_US) // DAY_US)
        hit = self.late_cache.get(key, _MISSING)
        if hit is _MISSING:
            if len(self.late_cache) > _CACHE_LIMIT:
                self.late_cache.clear()
            hit = self.late_cache[key] = self.reporting(reporter, step, china_day(event_time))
        return hit  # type: ignore[no-any-return]

    def follow_up_duties(
        self, reporter: str, step: str, event_time: int
    ) -> tuple[FollowUpDuty, ...]:
        """The follow-up periods a fact of ``reporter`` with ``step`` at ``event_time`` starts,
        in the order of :meth:`in_force` (cached by China day number)."""
        key = (reporter, step, (event_time + CHINA_OFFSET_US) // DAY_US)
        hit = self._follow_ups.get(key)
        if hit is None:
            if len(self._follow_ups) > _CACHE_LIMIT:
                self._follow_ups.clear()
            hit = self._follow_ups[key] = self._follow_up_duties(
                reporter, step, china_day(event_time)
            )
        return hit

    def follow_up_steps(self, reporter: str) -> frozenset[str]:
        """The steps of ``reporter`` that start a follow-up duty under some usable rule on some
        day (a superset of any one day's): most facts start none, and this set rejects them
        without the per-day lookup of :meth:`follow_up_duties`."""
        hit = self.follow_up_starters.get(reporter)
        if hit is None:
            actors = self.bound_actors(RuleKind.FOLLOW_UP_PERIOD, reporter)
            hit = self.follow_up_starters[reporter] = frozenset(
                step
                for step in F.STEPS
                for r in self._follow_up_any
                if r.actor in actors and r.trigger in triggers(step, r.actor)
            )
        return hit

    def _follow_up_duties(self, reporter: str, step: str, day: date) -> tuple[FollowUpDuty, ...]:
        key = (reporter, step, self.epoch(day))
        rules = self._follow_up_rules.get(key)
        if rules is None:
            rules = self._follow_up_rules[key] = self._follow_up_rules_of(reporter, step, day)
        out: list[FollowUpDuty] = []
        for rule, target, moving in rules:
            timing = _period_due(rule, day)
            if timing is None:
                continue
            due, provisional = timing
            out.append(FollowUpDuty(rule, target, due, provisional, end_of_day(due), moving))
        return tuple(out)

    def _follow_up_rules_of(
        self, reporter: str, step: str, day: date
    ) -> tuple[tuple[Rule, Trigger, frozenset[str]], ...]:
        """The follow-up rules a fact can start (they depend on the day's epoch only), each with
        its follow-up trigger and the steps that meet it."""
        actors = self.bound_actors(RuleKind.FOLLOW_UP_PERIOD, reporter)
        if not actors:
            return ()
        roles = self.actors(reporter)
        out: list[tuple[Rule, Trigger, frozenset[str]]] = []
        for rule in self.in_force(RuleKind.FOLLOW_UP_PERIOD, day):
            if rule.alert_kind is not AlertKind.MISSING_FOLLOW_UP or rule.actor not in actors:
                continue
            target = rule.follow_up_trigger
            if target is None or rule.trigger not in triggers(step, rule.actor):
                continue
            # moves_on depends on the later fact's step alone: precompute the steps it accepts.
            moving = frozenset(s for s in F.STEPS if moves_on(s, rule.actor, target, roles))
            out.append((rule, target, moving))
        return tuple(out)

    def collection_duty(self, event_time: int) -> CollectionDuty | None:
        """The collection period a removal or retirement at ``event_time`` starts (cached)."""
        key = (event_time + CHINA_OFFSET_US) // DAY_US
        hit = self._collection.get(key, _MISSING)
        if hit is _MISSING:
            hit = self._collection[key] = self._collection_duty(china_day(event_time))
        return hit  # type: ignore[no-any-return]

    def _collection_duty(self, day: date) -> CollectionDuty | None:
        rules = [
            r
            for r in self.in_force(RuleKind.COLLECTION_PERIOD, day)
            if r.alert_kind is AlertKind.RETIRED_NOT_COLLECTED
        ]
        if not rules:
            return None
        timing = _period_due(rules[0], day)
        if timing is None:
            return None
        due, provisional = timing
        return CollectionDuty(rules[0], due, provisional, end_of_day(due))

    def transfer_rule(self, reporter: str, event_time: int) -> Rule | None:
        """The ``unqualified-transfer`` rule that binds a shipment of ``reporter`` (cached)."""
        key = (reporter, (event_time + CHINA_OFFSET_US) // DAY_US)
        hit = self._transfer.get(key, _MISSING)
        if hit is _MISSING:
            if len(self._transfer) > _CACHE_LIMIT:
                self._transfer.clear()
            actors = self.bound_actors(RuleKind.TRANSFER_RESTRICTION, reporter)
            rules = [
                r
                for r in self.in_force(RuleKind.TRANSFER_RESTRICTION, china_day(event_time))
                if r.alert_kind is AlertKind.UNQUALIFIED_TRANSFER
                and r.actor in actors
                and r.trigger is Trigger.SHIPPING
            ]
            # The one that came into force last (lex posterior).
            hit = self._transfer[key] = rules[0] if rules else None
        return hit  # type: ignore[no-any-return]

    def unqualified(
        self, receiver: str | None, allowed: Sequence[Actor], producers: Sequence[str], day: date
    ) -> str | None:
        """:func:`_unqualified`, cached: a ledger ships to few receivers for few producers."""
        key = (receiver, tuple(allowed), tuple(producers), day)
        hit = self._unqualified.get(key, _MISSING)
        if hit is _MISSING:
            if len(self._unqualified) > _CACHE_LIMIT:
                self._unqualified.clear()
            hit = self._unqualified[key] = _unqualified(receiver, allowed, producers, day, self)
        return hit  # type: ignore[no-any-return]

    def source_rule(self, holder: str, step: str, event_time: int) -> Rule | None:
        """The ``unreported-source`` rule that binds ``holder``'s custody step (cached)."""
        key = (holder, step, (event_time + CHINA_OFFSET_US) // DAY_US)
        hit = self._sources.get(key, _MISSING)
        if hit is _MISSING:
            if len(self._sources) > _CACHE_LIMIT:
                self._sources.clear()
            actors = self.actors(holder)
            rules = [
                r
                for r in self.in_force(RuleKind.SOURCE_VERIFICATION, china_day(event_time))
                if r.alert_kind is AlertKind.UNREPORTED_SOURCE
                and r.actor in actors
                and (r.trigger is Trigger.RECEIVING or r.trigger in triggers(step, r.actor))
            ]
            hit = self._sources[key] = rules[0] if rules else None
        return hit  # type: ignore[no-any-return]

    def storage_limit(self, site: str, day: date) -> tuple[Rule, Decimal, str] | None:
        """The storage limit of an outlet site on ``day`` (cached per site and epoch)."""
        key = (site, self.epoch(day))
        hit = self._limits.get(key, _MISSING)
        if hit is _MISSING:
            hit = self._limits[key] = _storage_limit(self, site, day)
        return hit  # type: ignore[no-any-return]

    def outlet_site(self, site: str | None) -> bool:
        """Whether ``site`` is a site of a registered recycling service outlet (cached)."""
        hit = self._outlet_sites.get(site)
        if hit is None:
            hit = self._outlet_sites[site] = self.registry.outlet_site(site) is not None
        return hit

    def _deadline_rules(self, reporter: str, step: str, day: date) -> tuple[tuple[Rule, int], ...]:
        """The deadline rules (and their working days) that may bind a step of ``reporter``:
        they depend on the day's epoch only, so a new day costs the due dates alone."""
        key = (reporter, step, self.epoch(day))
        hit = self._deadline_candidates.get(key)
        if hit is None:
            found: list[tuple[Rule, int]] = []
            for actor in self.actors(reporter):
                for trig in triggers(step, actor):
                    rule = self.deadline_rule(actor, trig, day)
                    if rule is not None and rule.deadline_working_days is not None:
                        found.append((rule, rule.deadline_working_days))
            hit = self._deadline_candidates[key] = tuple(found)
        return hit

    def reporting(self, reporter: str, step: str, day: date) -> Deadline | None:
        key = (reporter, step, day)
        if key in self._reporting:
            return self._reporting[key]
        best: Deadline | None = None
        for rule, days in self._deadline_rules(reporter, step, day):
            due, provisional = due_after(day, days, working=True)
            end = end_of_day(due)
            if best is None or (end, rule.id) > (best.end, best.rule.id):
                best = Deadline(rule, due, end, provisional)
        if len(self._reporting) > 500_000:
            self._reporting.clear()
        self._reporting[key] = best
        return best


# --------------------------------------------------------------------------------------------
# One subject
# --------------------------------------------------------------------------------------------


def evaluate_subject(subject: str, facts: Sequence[Fact], ctx: Context) -> list[Finding]:
    """All findings about one subject from its (known, not retracted) facts, in any order."""
    ordered = sorted(facts, key=TIME_ORDER)
    out: list[Finding] = []
    # reporting_at's cache read here, without a call per event: this runs for every event.
    cached, reporting, floor = ctx.late_cache, ctx.reporting_at, ctx.late_floor
    for f in ordered:
        if f.primary and f.record_time - f.event_time >= floor:
            day = (f.event_time + CHINA_OFFSET_US) // DAY_US
            deadline = cached.get((f.reporter, f.step, day), _MISSING)
            if deadline is _MISSING:
                deadline = reporting(f.reporter, f.step, f.event_time)
            if deadline is not None and f.record_time >= deadline.end:
                out.append(_late(f, deadline, ctx))
    kind = S.kind_of(subject)
    if kind == S.BATTERY and ordered:
        out.extend(_code_registration(subject, ordered, ctx))
        out.extend(_follow_ups(subject, ordered, ctx))
        out.extend(_not_collected(subject, ordered, ctx))
        out.extend(_transfers(subject, ordered, ctx))
        out.extend(_sources(subject, ordered, ctx))
    elif kind == S.VEHICLE and ordered:
        out.extend(_scrapping(subject, ordered, ctx))
    return out


def _finding(
    kind: AlertKind,
    rule: Rule,
    unit: str,
    anchor: int,
    *,
    subject: str | None = None,
    enterprise: str | None,
    ctx: Context,
    evidence: Iterable[int],
    detected_at: int,
    due: date | None = None,
    provisional: bool = False,
    resolving: Fact | None = None,
    resolved_at: int | None = None,
    detail: dict[str, Any] | None = None,
) -> Finding:
    ev = tuple(dict.fromkeys(evidence))
    if resolving is not None:
        resolved_at = resolving.record_time if resolved_at is None else resolved_at
        if resolving.event_seq not in ev:
            ev = (*ev, resolving.event_seq)
    return Finding(
        key=finding_key(kind, rule.id, unit, anchor),
        kind=kind,
        rule_id=rule.id,
        rule_version=rule.version,
        citation=citation(rule),
        unit=unit,
        subject=subject if subject is not None else display(unit),
        enterprise=enterprise,
        province=ctx.registry.province(enterprise),
        evidence=ev,
        detected_at=detected_at,
        due=due,
        provisional=provisional,
        resolved_at=resolved_at,
        resolved_by=None if resolving is None else resolving.event_seq,
        detail=detail or {},
    )


# -- late-report ---------------------------------------------------------------------------------


def reporting_deadline(f: Fact, ctx: Context) -> Deadline | None:
    """The reporting deadline that binds the event of ``f``, if a usable rule sets one.

    An enterprise with several roles is judged under the most lenient applicable deadline: the
    event does not say in which capacity it acted, and an alert must not rest on a guess.
    """
    return ctx.reporting_at(f.reporter, f.step, f.event_time)


def late_report(f: Fact, ctx: Context) -> Finding | None:
    """The event of a primary fact, reported after its reporting deadline."""
    deadline = reporting_deadline(f, ctx)
    if deadline is None or f.record_time < deadline.end:
        return None
    return _late(f, deadline, ctx)


def _late(f: Fact, deadline: Deadline, ctx: Context) -> Finding:
    rule, due, provisional = deadline.rule, deadline.due, deadline.provisional
    reported = china_day(f.record_time)
    late_by = working_days_between(due, reported)
    return _finding(
        AlertKind.LATE_REPORT,
        rule,
        f.subject,
        f.event_seq,
        enterprise=f.reporter,
        ctx=ctx,
        evidence=(f.event_seq,),
        detected_at=f.record_time,
        due=due,
        provisional=provisional or late_by.provisional,
        detail={
            "step": f.step,
            "event_time": text_of(f.event_time),
            "record_time": text_of(f.record_time),
            "deadline_working_days": rule.deadline_working_days,
            "working_days_late": late_by.days,
        },
    )


# -- obligations with a period (missing-follow-up, retired-not-collected) ------------------------


@dataclass(frozen=True, slots=True)
class _Outcome:
    detected_at: int
    resolving: Fact | None
    resolved_at: int | None


def _obligation(trigger: Fact, deadline: int, satisfying: Sequence[Fact]) -> _Outcome | None:
    """When an obligation due at ``deadline`` is an alert, and when it stopped being one.

    Met in time and known before the deadline passed (or before the trigger itself was known):
    no finding. Met in time but reported only later: an alert from the deadline until the report.
    Met late: an alert from the deadline, resolved by the late fact. Not met: an open alert (a
    pending obligation while the deadline is in the future).
    """
    recorded = trigger.record_time
    detected = deadline if deadline >= recorded else recorded
    if not satisfying:
        return _Outcome(detected, None, None)
    if len(satisfying) == 1:  # the usual case, without min()'s key calls and generator
        first_known = satisfying[0]
        done_in_time = first_known.event_time < deadline
    else:
        first_known = min(satisfying, key=RECORD_ORDER)
        done_in_time = min(g.event_time for g in satisfying) < deadline
    if done_in_time and first_known.record_time <= detected:
        return None
    return _Outcome(detected, first_known, max(first_known.record_time, detected))


def _period_due(rule: Rule, day: date) -> tuple[date, bool] | None:
    period = rule.period
    if period is None or period.days is None or period.basis is None:
        return None
    return due_after(day, period.days, working=period.basis is DayBasis.WORKING_DAYS)


def _follow_ups(subject: str, facts: Sequence[Fact], ctx: Context) -> list[Finding]:
    """Missing follow-ups; ``facts`` in time order (:data:`TIME_ORDER`)."""
    out: list[Finding] = []
    if not ctx.bound_reporters[RuleKind.FOLLOW_UP_PERIOD]:
        return out
    duties_of = ctx.follow_up_duties
    starters = ctx.follow_up_starters
    for i, f in enumerate(facts):
        reporter = f.reporter
        steps = starters.get(reporter)
        if steps is None:
            steps = ctx.follow_up_steps(reporter)
        if f.step not in steps:
            continue
        duties = duties_of(reporter, f.step, f.event_time)
        if not duties:
            continue
        # The facts at or after the trigger's event time: from the first of its ties on (the
        # facts are in time order), not the whole history, for each duty.
        start, lo = f.event_time, i
        while lo and facts[lo - 1].event_time == start:
            lo -= 1
        later = facts[lo:]
        for duty in duties:
            moving = duty.moving
            sat = [g for g in later if g.step in moving and g.reporter == reporter and g is not f]
            outcome = _obligation(f, duty.end, sat)
            if outcome is None:
                continue
            rule = duty.rule
            out.append(
                _finding(
                    AlertKind.MISSING_FOLLOW_UP,
                    rule,
                    subject,
                    f.event_seq,
                    enterprise=f.reporter,
                    ctx=ctx,
                    evidence=(f.event_seq,),
                    detected_at=outcome.detected_at,
                    due=duty.due,
                    provisional=duty.provisional,
                    resolving=outcome.resolving,
                    resolved_at=outcome.resolved_at,
                    detail={"after": str(rule.trigger), "expected": str(duty.target)},
                )
            )
    return out


_BACK_IN_VEHICLE = frozenset({F.INSTALL, F.REPLACE})


def _closes_collection(f: Fact, ctx: Context) -> bool:
    if f.step in _BACK_IN_VEHICLE:
        return True  # back in a vehicle: not waste any more
    return f.step in F.CUSTODY_STEPS and f.reporter in ctx.channels


def _producers(subject: str, facts: Sequence[Fact], ctx: Context, before: int | None) -> list[str]:
    """The automaker(s) that installed the battery (latest first), then its battery maker."""
    out: list[str] = []
    makers, back = ctx.vehicle_makers, _BACK_IN_VEHICLE
    for f in reversed(facts):
        if (
            f.step in back  # the rarest condition first: this runs for every fact
            and f.reporter in makers
            and (before is None or f.event_time <= before)
            and f.reporter not in out
        ):
            out.append(f.reporter)
    owner = _code_owner(subject, ctx)
    if owner is not None and owner not in out:
        out.append(owner)
    return out


def _code_owner(subject: str, ctx: Context) -> str | None:
    if not subject.startswith(S.BATTERY_URN):
        return None
    return ctx.registry.code_owners.get(subject[_CODE_AT : _CODE_AT + 3])


_CODE_AT = len(S.BATTERY_URN)


_RETIRING = frozenset({F.REMOVE, F.RETIRE})


def _not_collected(subject: str, facts: Sequence[Fact], ctx: Context) -> list[Finding]:
    if not ctx.bound[RuleKind.COLLECTION_PERIOD]:
        return []
    # Episodes: from a removal or retirement until the battery reaches a recycling channel (or a
    # vehicle again); a second retirement inside an open episode does not start another one.
    episodes: list[tuple[Fact, list[Fact]]] = []
    start: Fact | None = None
    closers: list[Fact] = []
    channels = ctx.channels
    for f in facts:
        if start is None:
            if f.step in _RETIRING and f.role in ("child", "epc"):
                start, closers = f, []
        elif f.step in _BACK_IN_VEHICLE or (f.step in F.CUSTODY_STEPS and f.reporter in channels):
            closers.append(f)  # as _closes_collection, inline: this runs for every fact
            episodes.append((start, closers))
            start = None
    if start is not None:
        episodes.append((start, closers))
    out: list[Finding] = []
    for begin, closing in episodes:
        duty = ctx.collection_duty(begin.event_time)
        if duty is None:
            continue
        outcome = _obligation(begin, duty.end, closing)
        if outcome is None:
            continue
        producers = _producers(subject, facts, ctx, begin.event_time)
        responsible = producers[0] if producers else begin.reporter
        out.append(
            _finding(
                AlertKind.RETIRED_NOT_COLLECTED,
                duty.rule,
                subject,
                begin.event_seq,
                enterprise=responsible,
                ctx=ctx,
                evidence=(begin.event_seq,),
                detected_at=outcome.detected_at,
                due=duty.due,
                provisional=duty.provisional,
                resolving=outcome.resolving,
                resolved_at=outcome.resolved_at,
                detail={"retired_by": begin.reporter, "step": begin.step},
            )
        )
    return out


# -- unqualified-transfer ---------------------------------------------------------------------------


def _is_waste(facts: Sequence[Fact], shipment: Fact) -> bool:
    waste = False
    limit = TIME_ORDER(shipment)
    for f in facts:
        if f is shipment or TIME_ORDER(f) > limit:
            break
        if f.step in (F.REMOVE, F.RETIRE, F.SCRAP, F.COLLECT):
            waste = True
        elif f.step in (F.INSTALL, F.REPLACE) or (f.step == F.RECODE and f.role == "output"):
            waste = False
    return waste


def _unqualified(
    receiver: str | None,
    allowed: Sequence[Actor],
    producers: Sequence[str],
    day: date,
    ctx: Context,
) -> str | None:
    """Why ``receiver`` may not take this waste battery on ``day`` (None: it may)."""
    if receiver is None:
        return "the shipment names no receiver"
    info = ctx.registry.get(receiver)
    if info is None:
        return f"receiver {receiver} is not a registered enterprise"
    fitting = [a for a in allowed if a in info.roles]
    if not fitting:
        roles = ", ".join(sorted(info.roles)) or "none"
        return f"receiver {receiver} ({roles}) is none of: " + ", ".join(str(a) for a in allowed)
    reasons: list[str] = []
    for actor in fitting:
        if actor == Actor.RECYCLING_OUTLET:
            if info.serves(producers):
                return None
            reasons.append(
                f"{receiver} is not a recycling outlet of the battery's producers "
                f"({', '.join(producers) or 'unknown'})"
            )
        elif actor == Actor.CASCADE_USER:
            if info.qualified("cascade_use", day):
                return None
            reasons.append(f"{receiver} holds no cascade-use whitelist qualification on {day}")
        elif actor == Actor.RECYCLER:
            if info.qualified("recycling", day):
                return None
            reasons.append(f"{receiver} holds no recycling whitelist qualification on {day}")
        else:
            return None
    return "; ".join(reasons)


def _transfers(subject: str, facts: Sequence[Fact], ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    bound, ship = ctx.bound_reporters[RuleKind.TRANSFER_RESTRICTION], F.SHIP
    for f in facts:
        if f.step != ship or f.reporter not in bound:
            continue
        rule = ctx.transfer_rule(f.reporter, f.event_time)
        if rule is None:
            continue
        if rule.actor != Actor.DISMANTLER and not _is_waste(facts, f):
            continue  # a repairer returning a working pack is not handing over waste
        producers = _producers(subject, facts, ctx, f.event_time)
        day = china_day(f.event_time)
        reason = ctx.unqualified(f.party, rule.allowed_recipients, producers, day)
        if reason is None:
            continue
        out.append(
            _finding(
                AlertKind.UNQUALIFIED_TRANSFER,
                rule,
                subject,
                f.event_seq,
                enterprise=f.reporter,
                ctx=ctx,
                evidence=(f.event_seq,),
                detected_at=f.record_time,
                detail={"receiver": f.party, "reason": reason},
            )
        )
    return out


# -- unreported-source ------------------------------------------------------------------------------


def _inbound(h: Fact, holder: str) -> bool:
    """``h`` records how the battery came to ``holder``."""
    if h.step == F.SHIP:
        return h.party == holder and h.reporter != holder
    if h.step in F.RECEIPT_STEPS:
        return h.reporter == holder and h.party is not None and h.party != holder
    if h.step == F.SCRAP:
        return h.reporter == holder  # a dismantler's intake of a scrapped vehicle
    if h.step in (F.RECODE, F.DISMANTLE):
        # Its own cascade product, or a module it took out of a pack it held.
        return h.reporter == holder and h.role == "output"
    return False


def _sources(subject: str, facts: Sequence[Fact], ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    seen: set[str] = set()
    owner = _code_owner(subject, ctx)
    bound = ctx.bound_reporters[RuleKind.SOURCE_VERIFICATION]
    for g in facts:
        if g.step not in F.CUSTODY_STEPS or g.role not in ("epc", "input"):
            continue
        if g.reporter not in bound:
            continue
        holder = g.reporter
        if holder in seen:
            continue
        seen.add(holder)  # judged where the battery first appears at this enterprise
        if holder == owner:
            continue  # its own product
        rule = ctx.source_rule(holder, g.step, g.event_time)
        if rule is None:
            continue
        inbound = [h for h in facts if h.event_time <= g.event_time and _inbound(h, holder)]
        first = min(inbound, key=RECORD_ORDER, default=None)
        if first is not None and first.record_time <= g.record_time:
            continue
        out.append(
            _finding(
                AlertKind.UNREPORTED_SOURCE,
                rule,
                subject,
                g.event_seq,
                enterprise=holder,
                ctx=ctx,
                evidence=(g.event_seq,),
                detected_at=g.record_time,
                resolving=first,
                detail={"step": g.step, "sender": g.party},
            )
        )
    return out


# -- code-not-registered ----------------------------------------------------------------------------


def _code_registration(subject: str, facts: Sequence[Fact], ctx: Context) -> list[Finding]:
    if not subject.startswith(S.BATTERY_URN):
        return []
    code = subject[len(S.BATTERY_URN) :]
    maker, spec = code[:3], code[5:7]
    owner = ctx.registry.code_owners.get(maker)
    if owner is None:
        reason = f"manufacturer code {maker} is not registered"
    else:
        specs = ctx.registry.specifications.get(maker)
        if specs is None or spec in specs:
            return []
        reason = f"specification {spec} is not registered for manufacturer code {maker}"
    first = min(facts, key=knowledge_key)
    day = china_day(first.event_time)
    actor = Actor.CASCADE_USER if len(code) == 19 else Actor.BATTERY_MAKER
    rules = [
        r
        for r in ctx.in_force(RuleKind.CODE_REGISTRATION, day)
        if r.alert_kind is AlertKind.CODE_NOT_REGISTERED and r.actor is actor
    ]
    if not rules:
        return []
    return [
        _finding(
            AlertKind.CODE_NOT_REGISTERED,
            rules[0],
            subject,
            0,  # one finding per code
            enterprise=owner or first.reporter,
            ctx=ctx,
            evidence=(first.event_seq,),
            detected_at=first.record_time,
            detail={"reason": reason, "manufacturer_code": maker, "specification": spec},
        )
    ]


# -- battery-missing-at-scrapping -------------------------------------------------------------------


def _battery_present(facts: Iterable[Fact], scrap: Fact, ctx: Context) -> tuple[bool, str | None]:
    """Whether ``scrap`` is lawful given ``facts``: the battery was removed afterwards by the
    dismantler, or lawfully removed before. Also returns the last pack recorded in the vehicle."""
    pack: str | None = None
    lawful = False
    limit = TIME_ORDER(scrap)
    for h in sorted(facts, key=TIME_ORDER):
        if h.step == F.REMOVE and h.reporter == scrap.reporter and h.event_time >= scrap.event_time:
            return True, h.party
        if TIME_ORDER(h) >= limit:
            continue
        if h.step in (F.INSTALL, F.REPLACE):
            pack, lawful = h.party, False
        elif h.step == F.REMOVE:
            pack, lawful = None, bool(ctx.registry.roles(h.reporter) & LAWFUL_REMOVERS)
    return (pack is None and lawful), pack


def _scrapping(subject: str, facts: Sequence[Fact], ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    bound = ctx.bound_reporters[RuleKind.SCRAPPING_COMPLETENESS]
    for s in facts:
        if s.step != F.SCRAP or s.role != "epc" or s.party is not None:
            continue  # a scrapping that names the pack has its battery
        if s.reporter not in bound:
            continue
        day = china_day(s.event_time)
        actors = ctx.actors(s.reporter)
        rules = [
            r
            for r in ctx.in_force(RuleKind.SCRAPPING_COMPLETENESS, day)
            if r.alert_kind is AlertKind.BATTERY_MISSING_AT_SCRAPPING and r.actor in actors
        ]
        if not rules:
            continue
        known = [h for h in facts if h.record_time <= s.record_time]
        present, pack = _battery_present(known, s, ctx)
        if present:
            continue
        resolving: Fact | None = None
        later = sorted(
            (h for h in facts if h.record_time > s.record_time and h.step == F.REMOVE),
            key=RECORD_ORDER,
        )
        for h in later:
            known.append(h)
            if _battery_present(known, s, ctx)[0]:
                resolving = h
                break
        out.append(
            _finding(
                AlertKind.BATTERY_MISSING_AT_SCRAPPING,
                rules[0],
                subject,
                s.event_seq,
                enterprise=s.reporter,
                ctx=ctx,
                evidence=(s.event_seq,),
                detected_at=s.record_time,
                resolving=resolving,
                detail={"last_recorded_pack": None if pack is None else display(pack)},
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Outlets
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class StockEntry:
    site: str
    kg: float
    in_time: int  # event time of the receipt
    in_seq: int  # event seq of the receipt


@dataclass(slots=True)
class SiteTotal:
    kg: float = 0.0
    count: int = 0


@dataclass(frozen=True, slots=True)
class Retraction:
    """An error declaration recorded at ``record_time`` retracting event ``event_seq``."""

    event_seq: int
    capture_seq: int
    record_time: int


class Delta(NamedTuple):
    """One battery entering or leaving an outlet site's stock, at a point of the ledger's order.

    ``phase`` orders a retraction after the facts of its own capture. ``event_seq`` is the
    receipt (entering) or the departing fact (leaving; None when a retraction removed it).
    """

    capture_seq: int
    phase: int
    position: int
    record_time: int
    site: str
    kg: float
    step: int  # +1 entering, -1 leaving
    event_seq: int | None
    epc: str


def _holder(site: str) -> str | None:
    outlet = S.party_of(site)
    return None if outlet is None else outlet[len(S.PARTY_URN) :]


def departs(f: Fact, entry: StockEntry) -> bool:
    """Whether ``f`` takes the battery of ``entry`` out of the outlet's reported stock: the outlet
    ships it, or another enterprise reports holding it after the receipt."""
    return _departs(f, entry, _holder(entry.site))


def _departs(f: Fact, entry: StockEntry, holder: str | None) -> bool:
    # departs() with the entry's holder worked out once per entry, not once per fact.
    if f.reporter == holder:
        return f.step == F.SHIP and f.event_time >= entry.in_time and f.event_seq != entry.in_seq
    return f.step in F.CUSTODY_STEPS and f.event_time > entry.in_time


def is_outlet_receipt(f: Fact, ctx: Context) -> bool:
    return (
        f.step in F.RECEIPT_STEPS
        and f.reporter in ctx.outlet_enterprises
        and ctx.outlet_site(f.site)
        and S.kind_of(f.subject) == S.BATTERY
    )


def membership(
    facts: Sequence[Fact],
    retractions: Sequence[Retraction],
    start: StockEntry | None,
    ctx: Context,
) -> tuple[list[Delta], StockEntry | None]:
    """One battery's moves in and out of outlet stocks, replayed in ledger order.

    ``facts`` in ledger order (capture, position); ``retractions`` of this battery's facts;
    ``start`` its stock entry before them. The stock of a battery depends on its own facts only,
    which is what lets a full re-evaluation compute these per subject and the sweep add them up.
    """
    out: list[Delta] = []
    entry = start
    holder = None if entry is None else _holder(entry.site)
    pending = sorted(retractions, key=lambda r: r.capture_seq)
    k = 0

    def retract_until(capture_seq: int | None) -> None:
        nonlocal entry, k
        while k < len(pending) and (capture_seq is None or pending[k].capture_seq < capture_seq):
            r = pending[k]
            k += 1
            if entry is not None and entry.in_seq == r.event_seq:
                out.append(
                    Delta(r.capture_seq, 1, 0, r.record_time, entry.site, -entry.kg, -1, None, "")
                )
                entry = None

    custody, ship, receipts = F.CUSTODY_STEPS, F.SHIP, F.RECEIPT_STEPS
    outlets, retracting = ctx.outlet_enterprises, len(pending)
    for f in facts:
        if k < retracting:
            retract_until(f.capture_seq)
        if entry is not None:
            # _departs(f, entry, holder), inline: this runs for every fact of a battery that
            # reached an outlet.
            if not (
                (f.step == ship and f.event_time >= entry.in_time and f.event_seq != entry.in_seq)
                if f.reporter == holder
                else (f.step in custody and f.event_time > entry.in_time)
            ):
                continue
            out.append(
                Delta(
                    f.capture_seq, 0, f.position, f.record_time, entry.site, -entry.kg, -1,
                    f.event_seq, f.subject,
                )
            )  # fmt: skip
            entry = None
        if f.step in receipts and f.reporter in outlets and is_outlet_receipt(f, ctx):
            assert f.site is not None
            entry = StockEntry(f.site, f.kg or 0.0, f.event_time, f.event_seq)
            holder = _holder(entry.site)
            out.append(
                Delta(
                    f.capture_seq, 0, f.position, f.record_time, f.site, entry.kg, 1,
                    f.event_seq, f.subject,
                )
            )  # fmt: skip
    retract_until(None)
    return out, entry


def _storage_limit(ctx: Context, site: str, day: date) -> tuple[Rule, Decimal, str] | None:
    """The storage limit of an outlet site on ``day``: (rule, tonnes, outlet type)."""
    info = ctx.registry.outlet_site(site)
    if info is None:
        return None
    rules = ctx.in_force(RuleKind.STORAGE_LIMIT, day)
    if info.outlet_type == CENTRALIZED:
        if info.capacity_t is None:
            return None  # no registered capacity: nothing to judge against
        for r in rules:
            if r.threshold is not None and r.threshold.scope == "centralized_outlet":
                return r, Decimal(str(info.capacity_t)), info.outlet_type
        return None
    for r in rules:
        t = r.threshold
        if (
            r.alert_kind is AlertKind.OUTLET_OVER_CAPACITY
            and t is not None
            and t.quantity == "stock"
            and t.scope in (None, "collection_outlet")
            and t.value is not None
        ):
            return r, t.value, info.outlet_type
    return None


@dataclass(slots=True)
class OutletSweep:
    """Stock of every outlet site, judged one ledger transaction at a time.

    Stock is what the outlet has reported receiving and not yet reported shipping (or what
    another enterprise has since reported holding): regulators see the stock *as reported*, so
    an outlet that does not report its shipments shows a growing stock. It is judged after each
    transaction (one observer call; in a full re-evaluation, each run of the ledger with one
    record time), so a receipt and a shipment reported together never raise an alert.

    The incremental engine loads only the entries and sites a transaction touches (``members``,
    ``totals`` and ``open``) and calls :meth:`apply`; a full re-evaluation starts empty and feeds
    every battery's :func:`membership` deltas to :meth:`apply_deltas`.
    """

    ctx: Context
    members: dict[str, StockEntry] = field(default_factory=dict)
    totals: dict[str, SiteTotal] = field(default_factory=dict)
    open: dict[str, Finding] = field(default_factory=dict)
    added: dict[str, StockEntry] = field(default_factory=dict)
    removed: dict[str, StockEntry] = field(default_factory=dict)
    findings: dict[str, Finding] = field(default_factory=dict)  # key → new or changed

    def is_receipt(self, f: Fact) -> bool:
        return is_outlet_receipt(f, self.ctx)

    def apply(
        self, facts: Sequence[Fact], record_time: int, retractions: Sequence[Retraction] = ()
    ) -> None:
        """One transaction's facts (in ledger order) and retractions, then judge (incremental)."""
        by_subject: dict[str, list[Fact]] = {}
        for f in facts:
            if S.kind_of(f.subject) == S.BATTERY:
                by_subject.setdefault(f.subject, []).append(f)
        if retractions:
            gone = {r.event_seq for r in retractions}
            for epc, entry in self.members.items():
                if entry.in_seq in gone:
                    by_subject.setdefault(epc, [])
        deltas: list[Delta] = []
        for epc, mine in by_subject.items():
            start = self.members.get(epc)
            moves, end = membership(mine, retractions, start, self.ctx)
            if not moves:
                continue
            deltas.extend(moves)
            if start is not None:
                del self.members[epc]
                if self.added.get(epc) is start:
                    del self.added[epc]
                else:
                    self.removed.setdefault(epc, start)
            if end is not None:
                self.members[epc] = end
                self.added[epc] = end
        deltas.sort()
        self.apply_deltas(deltas, record_time)

    def apply_deltas(self, deltas: Sequence[Delta], record_time: int) -> None:
        """One transaction's stock changes (in ledger order), then judge the touched sites."""
        receipts: dict[str, Delta] = {}
        departures: dict[str, Delta | None] = {}
        for d in deltas:
            total = self.totals.get(d.site)
            if total is None:
                total = self.totals[d.site] = SiteTotal()
            total.kg += d.kg
            total.count += d.step
            if d.step > 0:
                receipts[d.site] = d
                departures.setdefault(d.site, None)
            else:
                departures[d.site] = d if d.event_seq is not None else departures.get(d.site)
        for site, departure in departures.items():
            self._judge(site, record_time, receipts.get(site), departure)

    def _limit(self, site: str, day: date) -> tuple[Rule, Decimal, str] | None:
        return self.ctx.storage_limit(site, day)

    def _judge(
        self, site: str, record_time: int, receipt: Delta | None, departure: Delta | None
    ) -> None:
        total = self.totals.get(site, SiteTotal())
        stock_t = Decimal(str(round(total.kg, 3))) / 1000
        current = self.open.get(site)
        limit = self._limit(site, china_day(record_time))
        over = limit is not None and stock_t > limit[1]
        if over and current is None and receipt is not None and limit is not None:
            assert receipt.event_seq is not None
            rule, value, outlet_type = limit
            outlet = S.party_of(site) or site
            finding = _finding(
                AlertKind.OUTLET_OVER_CAPACITY,
                rule,
                OUTLET_UNIT_PREFIX + site,
                receipt.event_seq,
                subject=display(outlet),
                enterprise=display(outlet),
                ctx=self.ctx,
                evidence=(receipt.event_seq,),
                detected_at=record_time,
                detail={
                    "site": site,
                    "outlet_type": outlet_type,
                    "stock_t": float(stock_t),
                    "limit_t": float(value),
                    "batteries": total.count,
                },
            )
            self.open[site] = finding
            self.findings[finding.key] = finding
        elif not over and current is not None:
            seq = None if departure is None else departure.event_seq
            ev = current.evidence
            if seq is not None and seq not in ev:
                ev = (*ev, seq)
            resolved = replace(current, evidence=ev, resolved_at=record_time, resolved_by=seq)
            del self.open[site]
            self.findings[resolved.key] = resolved


def evaluate_subjects(
    subjects: Iterable[tuple[str, Sequence[Fact]]],
    ctx: Context,
    retracted: Mapping[int, Retraction],
    as_of: int | None = None,
) -> tuple[list[Finding], list[Delta], dict[str, StockEntry]]:
    """Every subject's findings; every battery's outlet-stock deltas and, where it is still in a
    stock at the end, its entry. ``retracted`` must already be limited to ``as_of``."""
    findings: list[Finding] = []
    deltas: list[Delta] = []
    members: dict[str, StockEntry] = {}
    receipts = F.RECEIPT_STEPS
    outlets = ctx.outlet_enterprises
    for subject, all_facts in subjects:
        known = all_facts if as_of is None else [f for f in all_facts if f.record_time <= as_of]
        if not known:
            continue
        live = [f for f in known if f.event_seq not in retracted] if retracted else known
        if live:
            findings.extend(evaluate_subject(subject, live, ctx))
        for f in known:  # any outlet receipt (the cheap tests first: this runs for every fact)
            if f.step in receipts and f.reporter in outlets and is_outlet_receipt(f, ctx):
                break
        else:
            continue
        mine = (
            [retracted[f.event_seq] for f in known if f.event_seq in retracted] if retracted else []
        )
        moves, end = membership(sorted(known, key=LEDGER_ORDER), mine, None, ctx)
        deltas.extend(moves)
        if end is not None:
            members[subject] = end
    return findings, deltas, members


def sweep_outlets(
    deltas: Iterable[Delta], ctx: Context, members: Mapping[str, StockEntry] | None = None
) -> OutletSweep:
    """The outlet stocks over the whole ledger: ``deltas`` in ledger order, judged at the end of
    each run that shares a record time. The findings are ``sweep.findings``."""
    sweep = OutletSweep(ctx, dict(members or {}))
    group: list[Delta] = []
    for d in sorted(deltas):
        if group and group[-1].record_time != d.record_time:
            sweep.apply_deltas(group, group[-1].record_time)
            group = []
        group.append(d)
    if group:
        sweep.apply_deltas(group, group[-1].record_time)
    return sweep


def evaluate_all(
    subjects: Iterable[tuple[str, Sequence[Fact]]],
    ctx: Context,
    retracted: Mapping[int, Retraction],
    as_of: int | None = None,
) -> tuple[list[Finding], OutletSweep]:
    """A full evaluation: every subject's findings, then the outlet sweep.

    ``subjects`` streams (subject, facts) pairs (any order within a subject); ``retracted`` maps
    event seqs to the declaration that retracted them. With ``as_of``, only what the ledger knew
    then counts: facts and retractions recorded later are ignored.
    """
    live = {seq: r for seq, r in retracted.items() if as_of is None or r.record_time <= as_of}
    findings, deltas, members = evaluate_subjects(subjects, ctx, live, as_of)
    sweep = sweep_outlets(deltas, ctx, members)
    findings.extend(sweep.findings.values())
    return findings, sweep
