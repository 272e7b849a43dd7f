"""One simulation run: configuration, the report-time ordered event stream, ground truth, summary.

The engine (:mod:`.engine`) emits events in *event* time. Enterprises report them later: a
normal report follows within hours (ASSUMPTION: exponential, mean 3 h, capped at 46 h — always
inside every known deadline), an injected late report 1–20 working days after its deadline.
This module orders the events by that report time (the ``recordTime`` the ledger will give
them), tracks outlet stock, and completes and hands on the ground-truth records.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from math import log
from typing import Any

from battrace.domain.epcis.document import DEFAULT_CONTEXT
from battrace.domain.epcis.hashid import event_hash_id
from battrace.domain.errors import InvalidInput
from battrace.domain.forecast import default_parameters
from battrace.domain.identities.divisions import province_by_code
from battrace.domain.lifecycle import builders as b
from battrace.domain.rules import add_working_days, china_today
from battrace.simulate.cast import build_cast
from battrace.simulate.engine import CST, Calendar, Engine, Ent, Flows, Meta, merge, sources
from battrace.simulate.events import iso
from battrace.simulate.population import (
    WeibullPopulation,
    chemistries,
    domestic_sales,
    production_times,
)
from battrace.simulate.violations import ALERT_KINDS, RatePolicy, RuleIndex, Violations

#: Packs per scale (the issue's sizes) and the cast built for it.
SCALES: dict[str, int] = {"demo": 1_000, "province": 100_000, "national-sample": 1_000_000}

#: Shards per scale: two lets a two-core machine generate a large run in two processes.
DEFAULT_SHARDS: dict[str, int] = {"demo": 1, "province": 2, "national-sample": 2}

#: "Regulated recycling rate below 25 %" (china-regulation §5, secondary): the default formal
#: share is a point below it (ASSUMPTION).
DEFAULT_FORMAL_SHARE = 0.2

NORMAL_DELAY_MEAN_H = 3.0  # ASSUMPTION
NORMAL_DELAY_MAX_H = 46.0  # ASSUMPTION: < 2 days, so never late against 15 working days
#: A report delay of k ms (k < 2^28: over 74 h) is ``_MS_HIGH[k >> 14] + _MS_LOW[k & 0x3FFF]``:
#: two look-ups and additions cost a third of ``timedelta(milliseconds=1) * k``, which multiplies
#: through Python integers (once an event).
_MS_HIGH = tuple(timedelta(milliseconds=k << 14) for k in range(1 << 14))
_MS_LOW = tuple(timedelta(milliseconds=k) for k in range(1 << 14))
assert NORMAL_DELAY_MAX_H * 3_600_000 < 1 << 28


@dataclass(frozen=True)
class SimConfig:
    scale: str = "demo"
    seed: int = 1
    packs: int | None = None  # default: SCALES[scale]
    first_year: int = 2015
    last_year: int = 2025  # last sales year
    until: date = date(2026, 1, 1)  # the data's "today": nothing happens or is reported after
    violations: Violations = field(default_factory=Violations)
    formal_share: float = DEFAULT_FORMAL_SHARE
    province: str | None = None  # only vehicles sold in this province (GB/T 2260 code)
    #: Sales weights per year overriding CAAM (tests: a flat market shows memory stays flat).
    sales: dict[int, float] | None = None
    spill: bool = True  # keep deferred work on disk (constant memory); off: all in memory
    bucket_days: int = 7
    spill_dir: str | None = None
    #: Independent parts of the fleet (part of the data: same seed and shards, same data).
    shards: int | None = None  # default: DEFAULT_SHARDS[scale]
    #: Processes generating the shards of a file (execution only: the output does not change).
    workers: int = 1

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise InvalidInput("scale", f"{self.scale!r}: one of {', '.join(SCALES)}")
        if self.packs is not None and not 0 <= self.packs <= 100_000_000:
            raise InvalidInput("packs", "must be between 0 and 100,000,000")
        if not 2015 <= self.first_year <= self.last_year <= 2025:
            raise InvalidInput("years", "sales years lie in 2015..2025 (CAAM data)")
        if self.until <= date(self.last_year, 1, 1):
            raise InvalidInput("until", "must be after the start of the last sales year")
        if self.until > china_today():
            raise InvalidInput("until", f"{self.until} lies in the future: events cannot")
        if not 0.0 <= self.formal_share <= 1.0:
            raise InvalidInput("formal_share", "must be in [0, 1]")
        if self.province is not None and (
            province_by_code(self.province) is None or len(self.province) != 2
        ):
            raise InvalidInput("province", f"{self.province!r} is not a 2-digit GB/T 2260 code")
        if self.bucket_days < 1:
            raise InvalidInput("bucket_days", "must be at least 1")
        if self.shards is not None and not 1 <= self.shards <= 9:
            raise InvalidInput("shards", "must be between 1 and 9")
        if not 1 <= self.workers <= 64:
            raise InvalidInput("workers", "must be between 1 and 64")

    @property
    def n_packs(self) -> int:
        return SCALES[self.scale] if self.packs is None else self.packs

    @property
    def n_shards(self) -> int:
        return DEFAULT_SHARDS[self.scale] if self.shards is None else self.shards


@dataclass(slots=True)
class Summary:
    """What a run (or one shard of it) generated, filled while it streams."""

    by_step: dict[str, int] = field(default_factory=dict)
    truth: dict[str, int] = field(default_factory=dict)
    unreported_at_end: int = 0
    tally: dict[str, int] = field(default_factory=dict)
    opportunities: dict[str, int] = field(default_factory=dict)
    injected: dict[str, int] = field(default_factory=dict)
    spilled: int = 0

    def add(self, other: Summary) -> None:
        for mine, theirs in (
            (self.by_step, other.by_step),
            (self.truth, other.truth),
            (self.tally, other.tally),
            (self.opportunities, other.opportunities),
            (self.injected, other.injected),
        ):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v
        self.unreported_at_end += other.unreported_at_end
        self.spilled += other.spilled

    def to_dict(self) -> dict[str, Any]:
        return {
            "by_step": self.by_step,
            "truth": self.truth,
            "unreported_at_end": self.unreported_at_end,
            "tally": self.tally,
            "opportunities": self.opportunities,
            "injected": self.injected,
            "spilled": self.spilled,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Summary:
        return cls(**data)


class Part:
    """One shard of a run: its own engine, random sources, outlets and number ranges."""

    def __init__(self, config: SimConfig, shard: int = 0) -> None:
        self.config = config
        self.shard = shard
        shards = config.n_shards
        params = default_parameters()
        rng = random.Random(config.seed)
        weights = _weights(config)
        vehicles = sum(weights.values()) if config.sales is None else 0.0
        self.scale_factor = config.n_packs / vehicles if vehicles else 0.0
        # The cast comes from the run's seed (every shard has the same enterprises) ...
        cast = build_cast(random.Random(rng.getrandbits(64)), config.scale, self.scale_factor)
        self.enterprises = cast.records
        # ... everything else from the shard's own.
        if shards > 1:
            rng = random.Random(f"{config.seed}/{shard}/{shards}")
        n = config.n_packs // shards + (1 if shard < config.n_packs % shards else 0)
        self.rules = RuleIndex()
        self.policy = RatePolicy(config.violations, random.Random(rng.getrandbits(64)))
        self.cutoff = datetime(config.until.year, config.until.month, config.until.day, tzinfo=CST)
        population = WeibullPopulation(
            params, unregistered=cast.unregistered, province=config.province
        )
        self.engine = Engine(
            rng=random.Random(rng.getrandbits(64)),
            ents=cast.ents,
            chemistries=chemistries(params),
            population=population,
            flows=Flows(formal_share=config.formal_share),
            cutoff=self.cutoff,
            policy=self.policy,
            outlet_limit_kg=self.rules.outlet_limit_kg,
            shard=shard,
            shards=shards,
        )
        self._times = production_times(
            random.Random(rng.getrandbits(64)),
            n,
            weights,
            date(config.first_year, 1, 1),
            min(date(config.last_year + 1, 1, 1), config.until),
        )
        self._sink_rng = random.Random(rng.getrandbits(64))
        start = datetime(config.first_year, 1, 1, tzinfo=CST)
        self.calendar = (
            Calendar(start, timedelta(days=config.bucket_days), config.spill_dir)
            if config.spill
            else None
        )
        self.summary = Summary()
        self._used = False

    # -- the stream ------------------------------------------------------------------------------
    def stream(
        self, on_truth: Callable[[dict[str, Any]], None] | None = None
    ) -> Iterator[tuple[datetime, str, dict[str, Any]]]:
        """(report time, reporting USCC, event) in report-time order; each event carries its
        ``recordTime``. Ground-truth records go to ``on_truth`` as they become known."""
        if self._used:
            raise RuntimeError("a Simulation streams once; build another for a second pass")
        self._used = True

        eng = self.engine
        rules = self.rules
        policy = self.policy
        rng = self._sink_rng
        summary = self.summary
        by_step = summary.by_step
        cutoff = self.cutoff
        limit = rules.outlet_limit_kg
        stock: dict[str, float] = {}
        episodes: dict[str, dict[str, Any]] = {}
        buffer: list[tuple[datetime, int, str, dict[str, Any]]] = []
        seq = 0
        # Milliseconds: the precision recordTime is written with, so file and ledger agree.
        mean_s = NORMAL_DELAY_MEAN_H * 3_600_000.0
        max_s = NORMAL_DELAY_MAX_H * 3_600_000.0
        max_ms = int(max_s)

        def emit(record: dict[str, Any]) -> None:
            key = record.get("alert") or record["kind"]
            summary.truth[key] = summary.truth.get(key, 0) + 1
            if on_truth is not None:
                on_truth(record)

        def complete(
            record: dict[str, Any],
            t: datetime,
            event: dict[str, Any] | None,
            who: str,
            reported: datetime | None,
        ) -> dict[str, Any]:
            day = t.astimezone(CST).date()
            actor = (record.get("detail") or {}).get("holder") or _role_of(record, eng)
            out = {
                "kind": record["kind"],
                "alert": record.get("alert"),
                "cause": record["cause"],
                "time": b.timestamp(t),
            }
            if event is not None:
                out["eventID"] = event_hash_id(event, DEFAULT_CONTEXT)
                out["reporter"] = who
                out["recordTime"] = (
                    reported.isoformat(timespec="milliseconds")
                    if reported is not None and reported < cutoff
                    else None
                )
            out.update({k: v for k, v in record.items() if k not in out})
            if record.get("alert"):
                out["rules"] = list(rules.governing(record["alert"], actor, day))
            return out

        # rng.expovariate(1.0), draw for draw, without the call: -log(1 - random()) / 1.0.
        draw = rng.random
        push, pop = heapq.heappush, heapq.heappop
        # Reporting deadlines per (actor, trigger, day): the rule index's answer, one dict look-up
        # instead of a date, a bisection and an LRU call (a quarter of the events have a duty).
        deadlines: dict[tuple[str, str, int], tuple[str, int] | None] = {}
        merged = merge(eng, sources(eng, self._times), self.calendar)
        try:
            for t, who, event, meta in merged:
                reported: datetime
                if meta is None:  # most events: no duty, stock or truth to see to
                    ms = -log(1.0 - draw()) * mean_s
                    k = int(ms) if ms < max_s else max_ms
                    reported = t + _MS_HIGH[k >> 14] + _MS_LOW[k & 0x3FFF]
                else:
                    late: dict[str, Any] | None = None
                    if meta.actor:
                        key = (meta.actor, meta.trigger, t.toordinal())
                        if key in deadlines:
                            duty = deadlines[key]
                        else:
                            if len(deadlines) > 50_000:
                                deadlines.clear()
                            # t is China time
                            duty = deadlines[key] = rules.deadline(key[0], key[1], t.date())
                        if duty is not None and event is not None and policy.inject("late-report"):
                            reported, late = self._late(t, who, event, duty)
                    if late is None:  # the same draw as above
                        ms = -log(1.0 - draw()) * mean_s
                        k = int(ms) if ms < max_s else max_ms
                        reported = t + _MS_HIGH[k >> 14] + _MS_LOW[k & 0x3FFF]
                    if meta.stock is not None and limit is not None:
                        self._stock(meta, t, event, who, reported, stock, episodes, limit, emit)
                    if meta.truth:
                        for record in meta.truth:
                            emit(complete(record, t, event, who, reported))
                    if late is not None:
                        rec = complete(late, t, event, who, reported)
                        rec["rules"] = [late["detail"]["rule"]]
                        emit(rec)
                if event is None:  # a ground-truth note (silent leakage)
                    continue
                seq += 1
                push(buffer, (reported, seq, who, event))
                while buffer[0][0] <= t:
                    rt, _, rwho, revent = pop(buffer)
                    # China time, as eventTime: ISO 8601 with offset, no conversion.
                    revent["recordTime"] = iso(rt)
                    step = revent.get("bizStep") or revent["type"]
                    by_step[step] = by_step.get(step, 0) + 1
                    yield rt, rwho, revent
                    if not buffer:
                        break
            while buffer:
                rt, _, rwho, revent = heapq.heappop(buffer)
                if rt >= cutoff:
                    summary.unreported_at_end += 1
                    continue
                yield self._out(rt, rwho, revent, by_step)
            for _uscc, ep in sorted(episodes.items()):
                emit(ep)
        finally:
            merged.close()

    def _late(
        self, t: datetime, who: str, event: dict[str, Any], duty: tuple[str, int]
    ) -> tuple[datetime, dict[str, Any]]:
        """An injected late report: (report time, 1-20 working days after the deadline, and its
        ground-truth record)."""
        rng = self._sink_rng
        rule_id, n = duty
        due = add_working_days(t, n).due
        extra = rng.randint(1, 20)
        report_day = add_working_days(due, extra).due
        reported = datetime(
            report_day.year, report_day.month, report_day.day, 9, tzinfo=CST
        ) + timedelta(seconds=rng.randrange(8 * 3600))
        ent = _ent_of(self.engine, who)
        late = {
            "kind": "violation",
            "alert": "late-report",
            "cause": "injected",
            "enterprise": who,
            "province": ent.province if ent else who[2:4],
            "epc": _first_epc(event),
            "detail": {
                "rule": rule_id,
                "deadline_working_days": n,
                "due": due.isoformat(),
                "working_days_late": extra,
                "bizStep": event.get("bizStep"),
            },
        }
        return reported, late

    def _out(
        self, rt: datetime, who: str, event: dict[str, Any], by_step: dict[str, int]
    ) -> tuple[datetime, str, dict[str, Any]]:
        # China time, as eventTime: ISO 8601 with offset, and no conversion on the hot path.
        event["recordTime"] = iso(rt)
        step = event.get("bizStep") or event["type"]
        by_step[step] = by_step.get(step, 0) + 1
        return rt, who, event

    def _stock(
        self,
        meta: Meta,
        t: datetime,
        event: dict[str, Any] | None,
        who: str,
        reported: datetime,
        stock: dict[str, float],
        episodes: dict[str, dict[str, Any]],
        limit: float,
        emit: Callable[[dict[str, Any]], None],
    ) -> None:
        """Outlet stock as events happen; an episode above the limit becomes one truth record."""
        assert meta.stock is not None
        outlet, kg = meta.stock
        held = stock.get(outlet, 0.0) + kg
        stock[outlet] = held
        ep = episodes.get(outlet)
        if held > limit + 1e-6:
            if ep is None and event is not None:
                ent = _ent_of(self.engine, outlet)
                day = t.astimezone(CST).date()
                episodes[outlet] = {
                    "kind": "violation",
                    "alert": "outlet-over-capacity",
                    "cause": "injected",
                    "time": b.timestamp(t),
                    "eventID": event_hash_id(event, DEFAULT_CONTEXT),
                    "reporter": who,
                    "recordTime": reported.isoformat(timespec="milliseconds")
                    if reported < self.cutoff
                    else None,
                    "enterprise": outlet,
                    "province": ent.province if ent else outlet[2:4],
                    "epc": _first_epc(event),
                    "detail": {
                        "limit_kg": limit,
                        "stock_kg": round(held, 1),
                        "peak_kg": round(held, 1),
                        "until": None,
                    },
                    "rules": list(
                        self.rules.governing("outlet-over-capacity", "recycling_outlet", day)
                    ),
                }
            elif ep is not None:
                ep["detail"]["peak_kg"] = max(ep["detail"]["peak_kg"], round(held, 1))
        elif ep is not None:
            ep["detail"]["until"] = b.timestamp(t)
            emit(episodes.pop(outlet))

    def snapshot(self) -> Summary:
        """This shard's counts so far (the engine's tallies included)."""
        out = Summary()
        out.add(self.summary)
        out.tally = dict(self.engine.tally)
        out.opportunities = dict(self.policy.opportunities)
        out.injected = dict(self.policy.injected)
        out.spilled = self.calendar.spilled if self.calendar else 0
        return out


def _weights(config: SimConfig) -> dict[int, float]:
    weights = config.sales or domestic_sales(config.first_year, config.last_year)
    return {y: w for y, w in weights.items() if config.first_year <= y <= config.last_year}


class Simulation:
    """A run: its shards (one by default at demo scale), merged in report-time order.

    Build with :func:`simulate`; iterate :meth:`stream` once. Ties between shards go to the
    lower shard, so the merged order — and any file written from it, by one process or several
    (:func:`battrace.simulate.output.write_files`) — is a function of the configuration only.
    """

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.parts = [Part(config, s) for s in range(config.n_shards)]
        first = self.parts[0]
        self.enterprises = first.enterprises
        self.scale_factor = first.scale_factor
        self.cutoff = first.cutoff
        self.engine = first.engine  # the first shard's (progress, memory probes)
        self.calendar = first.calendar
        self.now = datetime(config.first_year, 1, 1, tzinfo=CST)  # report time reached
        self.merged: Summary | None = None  # set when shards ran in other processes

    @property
    def policy(self) -> RatePolicy:
        return self.parts[0].policy

    def stream(
        self, on_truth: Callable[[dict[str, Any]], None] | None = None
    ) -> Iterator[tuple[datetime, str, dict[str, Any]]]:
        """(report time, reporting USCC, event) in report-time order; each event carries its
        ``recordTime``. Ground-truth records go to ``on_truth`` as they become known."""
        if len(self.parts) == 1:
            for rec in self.parts[0].stream(on_truth):
                self.now = rec[0]
                yield rec
            return
        streams = [
            ((rec[2]["recordTime"], shard, rec) for rec in part.stream(on_truth))
            for shard, part in enumerate(self.parts)
        ]
        for _, _, rec in heapq.merge(*streams, key=lambda item: (item[0], item[1])):
            self.now = rec[0]
            yield rec

    def summary(self) -> Summary:
        if self.merged is not None:
            return self.merged
        total = Summary()
        for part in self.parts:
            total.add(part.snapshot())
        return total

    def summary_dict(self) -> dict[str, Any]:
        """What the run generated (JSON-ready)."""
        s = self.summary()
        tally = dict(sorted(s.tally.items()))
        retired = tally.get("packs_retired", 0)
        formal = tally.get("packs_collected_formally", 0)
        roles: dict[str, int] = {}
        for r in self.enterprises:
            for role in r["roles"]:
                roles[role] = roles.get(role, 0) + 1
        config = self.config
        return {
            "scale": config.scale,
            "seed": config.seed,
            "packs": config.n_packs,
            "shards": config.n_shards,
            "scale_factor": self.scale_factor,
            "sales_years": [config.first_year, config.last_year],
            "until": config.until.isoformat(),
            "enterprises": len(self.enterprises),
            "enterprises_by_role": dict(sorted(roles.items())),
            "events": sum(s.by_step.values()),
            "events_by_step": {
                k.rsplit("BizStep-", 1)[-1]: v
                for k, v in sorted(s.by_step.items(), key=lambda kv: -kv[1])
            },
            "lifecycle": tally,
            "formal_share_target": config.formal_share,
            "formal_share_realised": formal / retired if retired else None,
            "violations": {
                "rates": {k: config.violations.rate(k) for k in ALERT_KINDS},
                "opportunities": {k: s.opportunities.get(k, 0) for k in ALERT_KINDS},
                "injected": {k: s.injected.get(k, 0) for k in ALERT_KINDS},
            },
            "truth_records": dict(sorted(s.truth.items())),
            "events_reported_after_end": s.unreported_at_end,
            "spilled_to_disk": s.spilled,
        }


def _ent_of(eng: Engine, uscc: str) -> Ent | None:
    return eng.by_uscc.get(uscc)


def _role_of(record: dict[str, Any], eng: Engine) -> str:
    ent = _ent_of(eng, record.get("enterprise", ""))
    return ent.roles[0] if ent is not None else ""


def _first_epc(event: dict[str, Any]) -> str | None:
    for key in ("epcList", "childEPCs", "inputEPCList"):
        values = event.get(key)
        if values:
            return str(values[0])
    parent = event.get("parentID")
    return str(parent) if parent else None


def simulate(config: SimConfig | None = None) -> Simulation:
    return Simulation(config or SimConfig())


__all__ = [
    "DEFAULT_FORMAL_SHARE",
    "DEFAULT_SHARDS",
    "SCALES",
    "Part",
    "SimConfig",
    "Simulation",
    "Summary",
    "simulate",
]
