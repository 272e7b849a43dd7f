"""The lifecycle generator core shared by ``battrace demo`` and ``battrace simulate``.

A *population* (:class:`Population`) says when packs are produced, what they are (segment,
chemistry, size, maker, where the vehicle is sold) and how each vehicle's life goes after the
sale (repairs, a battery replacement, scrapping). The engine turns that into EPCIS 2.0 events,
every one as :mod:`battrace.domain.lifecycle.builders` builds it — the frequent ones by
:mod:`.events`, byte for byte the same — exactly as an enterprise would send it: cells → modules → pack at a battery maker, shipping to an automaker (or importer),
installation, shipping to a dealer, sale, repairs, replacement (by a repairer or a battery-swap
operator, with a spare pack produced for it), scrapping at a dismantler, removal and retirement,
collection at a recycling service outlet, residual-capacity inspection and cascade re-coding at
a cascade user, dismantling and recycling into material lots, or disposal.

Streaming and determinism
-------------------------
Per-pack generators are merged on a heap in event-time order; one :class:`random.Random` is
drawn in that (deterministic) order, so the stream is a pure function of the seed. Long waits —
years in service, years of cascade use — are not held as suspended generators: a generator
yields a :class:`Defer` (a function name and plain arguments) and the merge keeps deferred work
beyond the current time bucket in a disk-backed :class:`Calendar`. Memory is then bounded by the
work of one bucket plus the short chains in flight (weeks of logistics), not by the number of
packs or vehicles on the road, which is what lets a million-pack run stream in constant memory.

Hooks for the simulator (violations, reporting delays, ground truth) are carried on the items as
:class:`Meta`; the demo ignores them.
"""

from __future__ import annotations

import copyreg
import heapq
import io
import os
import pickle
import random
import tempfile
from bisect import bisect_right
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol, TypeVar

from battrace.domain.identities.gbt34014 import format_battery_code, format_cascade_code
from battrace.domain.identities.uris import party_uri, site_uri
from battrace.domain.identities.vin import make_vin
from battrace.domain.lifecycle import builders as b
from battrace.domain.recycling.grading import safety_checklist
from battrace.simulate import events as ev
from battrace.simulate.events import CST

_URN = b.battery_uri("")  # "urn:gbt34014:"
T = TypeVar("T")

_SERIALS = 9_999_999  # serial numbers per traceability batch (1-9999999)
#: VIN model-year characters (ISO 3779 cycle) from 2010.
_VIN_YEARS = "ABCDEFGHJKLMNPRSTVWXY123456789"

MODULE_MASS_SHARE = 0.85  # ASSUMPTION: modules' share of pack mass (rest: housing, BMS, wiring)
CELL_MASS_SHARE = 0.90  # ASSUMPTION: cells' share of module mass
#: ASSUMPTION: split of module mass that is neither black mass nor copper; 5 % is process loss.
MODULE_REST_SPLIT = {"aluminium": 0.45, "steel": 0.25, "plastics": 0.15, "electrolyte": 0.10}
#: ASSUMPTION: split of the pack housing and parts left after taking the modules out.
HOUSING_SPLIT = {"steel": 0.50, "aluminium": 0.30, "plastics": 0.10, "copper": 0.10}
CELL_DCIR_MOHM = (0.4, 0.9)  # ASSUMPTION: fresh cell DC resistance range


@dataclass(frozen=True, slots=True)
class Chemistry:
    name: str  # written to ilmd ``chemistry``
    letter: str  # GB/T 34014 position 5
    cell_voltage_v: float  # ASSUMPTION: typical nominal cell voltage
    cell_ah: tuple[float, float]  # ASSUMPTION: range of prismatic cell capacities
    pack_kg_per_kwh: float  # BatPaC 5.2 pack mass (china-regulation §6.3, forecast-data §2.1)
    black_mass_kg_per_kwh: float  # DERIVED: cathode kg/kWh (§6.6) + graphite (forecast §2.1)
    copper_kg_per_kwh: float  # BatPaC 5.2 cell level (forecast-data §2.1)


# --- enterprises ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Ent:
    """An enterprise as the generator uses it (the registry record is built beside it)."""

    index: int
    uscc: str
    party: str
    sites: list[str]  # site URIs
    province: str
    roles: tuple[str, ...]
    codes: tuple[str, ...] = ()  # manufacturer codes
    wmi: str = ""
    weight: float = 1.0
    #: False: not in the registry (an unregistered battery maker; never reports).
    registered: bool = True
    #: False: has the role but no whitelist qualification (only picked to inject a violation).
    qualified: bool = True


def make_ent(
    index: int,
    uscc: str,
    province: str,
    roles: Sequence[str],
    sites: Sequence[str],
    **extra: Any,
) -> Ent:
    return Ent(
        index=index,
        uscc=uscc,
        party=party_uri(uscc),
        sites=[site_uri(uscc, s) for s in sites] or [site_uri(uscc, "s1")],
        province=province,
        roles=tuple(roles),
        **extra,
    )


# --- packs ---------------------------------------------------------------------------------------


_DIGITS3 = tuple(f"{i:03d}" for i in range(1000))


def _numbered(prefix: str, first: int, stop: int) -> list[str]:
    """``[f"{prefix}{k:07d}" for k in range(first, stop)]``, six times faster: the serials of a
    run share their leading digits, so each thousand is one prefix joined to cached endings (a
    pack's hundred cell codes are the hot path of a national run)."""
    out: list[str] = []
    k = first
    while k < stop:
        high, low = divmod(k, 1000)
        end = min(stop - high * 1000, 1000)
        head = f"{prefix}{high:04d}"
        out += [head + digits for digits in _DIGITS3[low:end]]  # (a fifth faster than a map)
        k = high * 1000 + end
    return out


@dataclass(frozen=True, slots=True)
class Run:
    """Consecutive codes under one 17-character prefix: kept as numbers, built when needed."""

    prefix: str
    first: int  # serial of the first code
    count: int

    def codes(self, start: int = 0, stop: int | None = None) -> list[str]:
        stop = self.count if stop is None else stop
        return _numbered(self.prefix, self.first + start, self.first + stop)

    def uris(self) -> list[str]:
        """The codes as battery URIs."""
        return _numbered(_URN + self.prefix, self.first, self.first + self.count)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled with every deferred episode: a plain tuple is several times faster than the
        # dataclass default (which walks fields() on every call).
        return (Run, (self.prefix, self.first, self.count))


@dataclass(slots=True)
class Pack:
    """A pack and the codes of its modules and cells. Plain data: it is pickled when deferred."""

    code: str
    cells: Run
    modules_run: Run
    cells_per_module: int
    chem: str  # key of Engine.chemistries
    maker: int  # Ent index
    cell_ah: float
    energy_kwh: float
    mass_kg: float
    segment: str = ""

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled with most deferred work: its runs flattened into its own fields, which pickle
        # in C, instead of a reduce call (and a class reference) per run: a third of the cost.
        cells, modules = self.cells, self.modules_run
        return (
            _unpickle_pack,
            (
                self.code,
                cells.prefix,
                cells.first,
                cells.count,
                modules.prefix,
                modules.first,
                modules.count,
                self.cells_per_module,
                self.chem,
                self.maker,
                self.cell_ah,
                self.energy_kwh,
                self.mass_kg,
                self.segment,
            ),
        )

    @property
    def n_modules(self) -> int:
        return self.modules_run.count

    @property
    def n_cells(self) -> int:
        return self.cells.count


def _unpickle_pack(
    code: str,
    cells_prefix: str,
    cells_first: int,
    cells_count: int,
    modules_prefix: str,
    modules_first: int,
    modules_count: int,
    *rest: Any,
) -> Pack:
    cells = Run(cells_prefix, cells_first, cells_count)
    return Pack(code, cells, Run(modules_prefix, modules_first, modules_count), *rest)


@dataclass(frozen=True, slots=True)
class Design:
    """What the population decides for a new pack."""

    chem: str
    maker: Ent
    n_modules: int
    cells_per_module: int
    cell_ah: float
    segment: str = ""
    province: str = ""  # where the vehicle is sold ("" = anywhere)


@dataclass(slots=True)
class Episode:
    """One planned event of a vehicle's service life (repair, replacement, scrapping)."""

    when: datetime
    kind: str  # "repair", "replace", "scrap"
    swap: bool = False  # replace: by the swap operator instead of a repairer


# --- items ----------------------------------------------------------------------------------------

Event = dict[str, Any]


class Meta:
    """What the simulator needs to know about an event besides the event itself.

    ``actor``/``trigger``: the duty the report fulfils (rule lookup for deadlines); ``stock``:
    (outlet USCC, kg) added to (> 0) or taken from (< 0) an outlet's stock when the event
    happens; ``truth``: ground-truth records this event is evidence of (completed with its Event
    Hash ID when emitted).
    """

    __slots__ = ("actor", "stock", "trigger", "truth")

    def __init__(
        self,
        actor: str = "",
        trigger: str = "",
        stock: tuple[str, float] | None = None,
        truth: list[dict[str, Any]] | None = None,
    ) -> None:
        self.actor = actor
        self.trigger = trigger
        self.stock = stock
        self.truth = truth


class Spawn:
    """A further generator to merge into the stream from this point in time on."""

    __slots__ = ("gen",)

    def __init__(self, gen: Iterator[Item]) -> None:
        self.gen = gen


class Defer:
    """Work to start at the item's time: ``EPISODES[name](engine, *args)``. Plain data, so that
    it can wait on disk (:class:`Calendar`) for years of simulated time."""

    __slots__ = ("args", "name")

    def __init__(self, name: str, args: tuple[Any, ...]) -> None:
        self.name = name
        self.args = args


Item = tuple[datetime, str, "Event | Spawn | Defer | None", "Meta | None"]


class Population(Protocol):
    """Where packs come from and how vehicles live (demo: compressed; simulator: Weibull)."""

    def design(self, eng: Engine, rng: random.Random, t0: datetime) -> Design: ...

    def service(
        self, eng: Engine, rng: random.Random, pack: Pack, sold: datetime
    ) -> list[Episode]: ...

    def cascade_end(self, eng: Engine, rng: random.Random, start: datetime) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Flows:
    """Shares of the lifecycle's branches (all ASSUMPTION unless noted)."""

    import_share: float = 0.04  # vehicles brought in by the importer
    swap_share: float = 0.3  # replacements done by the swap operator instead of a repairer
    outlet_share: float = 0.7  # formally collected packs that pass through an outlet
    cascade_share: float = 0.5  # formally collected packs offered to a cascade user for testing
    #: UNCONFIRMED heuristic (forecast-data §4: "60 % lower bound"); below it: recycling.
    cascade_min_soh: float = 60.0
    soh_at_retirement: tuple[float, float, float] = (50.0, 92.0, 76.0)  # triangular low/high/mode
    disposal_share: float = 0.03  # packs the recycler destroys instead of recycling
    #: Share of retired packs that reach the formal chain (the rest leak to informal channels).
    formal_share: float = 1.0
    near_share: float = 0.8  # service partners picked in the vehicle's own province


class Policy(Protocol):
    """Violation decisions (the simulator's; the demo injects none)."""

    def inject(self, kind: str) -> bool: ...


class _NoViolations:
    def inject(self, kind: str) -> bool:
        return False


NO_VIOLATIONS: Policy = _NoViolations()


# --- the engine ------------------------------------------------------------------------------------


class Engine:
    """Shared state of one generation run: random source, enterprises, counters, reservations."""

    def __init__(
        self,
        *,
        rng: random.Random,
        ents: list[Ent],
        chemistries: Mapping[str, Chemistry],
        population: Population,
        flows: Flows,
        cutoff: datetime,
        policy: Policy = NO_VIOLATIONS,
        outlet_limit_kg: float | None = None,
        shard: int = 0,
        shards: int = 1,
    ) -> None:
        self.rng = rng
        self.ents = ents
        self.chemistries = dict(chemistries)
        self.population = population
        self.flows = flows
        self.cutoff = cutoff
        self.policy = policy
        self.outlet_limit_kg = outlet_limit_kg
        # A run may be split into shards that generate independently (in parallel): each owns
        # its number ranges (codes, VINs, documents) and its share of the outlets, whose stock
        # it alone then tracks.
        self.shard = shard
        self.shards = shards
        self.by_role: dict[str, tuple[list[Ent], list[float]]] = {}
        self.near: dict[tuple[str, str], list[Ent]] = {}
        for role in sorted({r for e in ents for r in e.roles}):
            members = [e for e in ents if role in e.roles and e.registered and e.qualified]
            if role == "recycling_outlet" and shards > 1:
                own = [e for e in members if e.index % shards == shard]
                members = own or members
            cum: list[float] = []
            total = 0.0
            for e in members:
                total += e.weight
                cum.append(total)
            self.by_role[role] = (members, cum)
            for e in members:
                self.near.setdefault((role, e.province), []).append(e)
        self.by_uscc: dict[str, Ent] = {e.uscc: e for e in ents}
        #: Checked code parts: the first 14 characters per (maker code, level, type, spec,
        #: traceability) and the 3 date characters per day.
        self._heads: dict[tuple[str, str, str, str, str], str] = {}
        self._days: dict[date, str] = {}
        self.counters: dict[tuple[str, str], int] = {}
        #: Outlet capacity reservations: USCC -> heap of (release time, kg), and the kg held.
        self._reserved: dict[str, list[tuple[datetime, float]]] = {}
        self._reserved_kg: dict[str, float] = {}
        #: Tallies for the summary (plain counters; cheap).
        self.tally: dict[str, int] = {}
        #: The time of the item being processed (set by :func:`merge`).
        self.clock = cutoff
        #: The merge's heap: items due soon and generators in flight.
        self.heap: list[Any] = []

    # -- picking partners --------------------------------------------------------------------
    def pick(self, rng: random.Random, role: str) -> Ent:
        members, cum = self.by_role[role]
        return choice(rng, members, cum)

    def pick_near(self, rng: random.Random, role: str, province: str) -> Ent:
        near = self.near.get((role, province))
        if near and rng.random() < self.flows.near_share:
            return near[0] if len(near) == 1 else rng.choice(near)
        return self.pick(rng, role)

    def pick_in(self, rng: random.Random, role: str, province: str) -> Ent:
        """An enterprise of ``role`` in ``province`` (any, if the province has none)."""
        near = self.near.get((role, province))
        if near:
            return near[0] if len(near) == 1 else rng.choice(near)
        return self.pick(rng, role)

    def count(self, key: tuple[str, str], n: int = 1) -> int:
        """Reserve ``n`` numbers of the sequence ``key``; returns the first (from 0)."""
        first = self.counters.get(key, 0)
        self.counters[key] = first + n
        return first

    def bump(self, name: str, n: int = 1) -> None:
        self.tally[name] = self.tally.get(name, 0) + n

    # -- codes and packs ---------------------------------------------------------------------
    def run(self, code: str, level: str, letter: str, spec: str, day: date, n: int) -> Run:
        """Reserve ``n`` new codes of one level under one manufacturer code.

        The traceability field carries the counter's high part, so codes stay unique however
        many a maker issues (the serial alone has 7 digits); a run never straddles two.
        """
        key = (code, level)
        first = self.count(key, n)
        if first // _SERIALS != (first + n - 1) // _SERIALS:
            first = self.count(key, n)
        high, rest = divmod(first, _SERIALS)
        serial = rest + 1  # serials run 1-9999999 (china-regulation §1.3)
        trace = f"L{self.shard + 1}{high:05d}"  # traceability field: shard and high part
        hkey = (code, level, letter, spec, trace)
        head = self._heads.get(hkey)
        chars = self._days.get(day)
        if head is None or chars is None:
            # Built (and checked) once per maker, level, specification, ... and once per day:
            # the code's fields are checked each on its own, so checked parts join into a
            # checked code, and the serial is all that changes between one day's packs.
            if len(self._heads) > 50_000:
                self._heads.clear()
            if len(self._days) > 50_000:
                self._days.clear()
            code17 = format_battery_code(code, level, letter, spec, trace, day, 1)[:17]
            head = self._heads[hkey] = code17[:14]
            chars = self._days[day] = code17[14:]
        return Run(head + chars, serial, n)

    def new_pack(self, design: Design, day: date) -> Pack:
        chem = self.chemistries[design.chem]
        maker = design.maker
        n_mod, n_cell, cell_ah = design.n_modules, design.cells_per_module, design.cell_ah
        energy = n_mod * n_cell * chem.cell_voltage_v * cell_ah / 1000.0
        cell_spec = f"{int(cell_ah) // 10 % 100:02d}"
        mcode = maker.codes[0]
        # Serials are reserved now; the codes are built when events name them (100+ cells a pack).
        cells = self.run(mcode, "C", chem.letter, cell_spec, day, n_mod * n_cell)
        modules = self.run(mcode, "M", chem.letter, f"{n_cell:02d}", day, n_mod)
        run = self.run(mcode, "P", chem.letter, f"{n_mod:02d}", day, 1)
        pack = f"{run.prefix}{run.first:07d}"  # run.codes()[0]
        return Pack(
            code=pack,
            cells=cells,
            modules_run=modules,
            cells_per_module=n_cell,
            chem=design.chem,
            maker=maker.index,
            cell_ah=cell_ah,
            energy_kwh=round(energy, 2),
            mass_kg=round(energy * chem.pack_kg_per_kwh, 1),
            segment=design.segment,
        )

    def number(self, key: tuple[str, str]) -> int:
        """The next number (from 1) of a sequence shared by all shards, without clashes."""
        return self.count(key) * self.shards + self.shard + 1

    def doc_no(self, ent: Ent, kind: str) -> str:
        return f"{ent.uscc[8:16]}-{self.number((ent.uscc, kind)):07d}"

    # -- outlet capacity -----------------------------------------------------------------------
    def outlet_room(self, outlet: Ent, now: datetime, kg: float) -> bool:
        if self.outlet_limit_kg is None:
            return True
        heap = self._reserved.get(outlet.uscc)
        held = self._reserved_kg.get(outlet.uscc, 0.0)
        while heap and heap[0][0] <= now:
            held -= heapq.heappop(heap)[1]
        self._reserved_kg[outlet.uscc] = held
        return held + kg <= self.outlet_limit_kg

    def reserve(self, outlet: Ent, until: datetime, kg: float) -> None:
        """Hold ``kg`` of ``outlet``'s stock limit until ``until`` (a superset of the real stay)."""
        heapq.heappush(self._reserved.setdefault(outlet.uscc, []), (until, kg))
        self._reserved_kg[outlet.uscc] = self._reserved_kg.get(outlet.uscc, 0.0) + kg

    def fullest_outlet(self, now: datetime, province: str) -> Ent:
        """The outlet holding the most stock now: the province's, else the country's (a hoarding
        outlet gathers what it is sent)."""
        everyone = self.by_role["recycling_outlet"][0]
        for e in everyone:
            self.outlet_room(e, now, 0.0)  # release what is due

        def held(e: Ent) -> tuple[float, int]:
            return (self._reserved_kg.get(e.uscc, 0.0), -e.index)

        local = self.near.get(("recycling_outlet", province)) or everyone
        best = max(local, key=held)
        return best if held(best)[0] > 0 else max(everyone, key=held)


# --- helpers ---------------------------------------------------------------------------------------


#: The seconds of a working day (08:00-17:00) as timedeltas: ``later`` picks one a call, and a
#: look-up costs a fifth of ``timedelta(seconds=1) * n`` (a multiplication through Python ints).
_WORKING_SECONDS = tuple(timedelta(seconds=s) for s in range(32_400))
_TWO_MINUTES = timedelta(minutes=2)
_TEN_MINUTES = timedelta(minutes=10)
_HOUR = timedelta(hours=1)
_MORNINGS: dict[int, datetime] = {}  # proleptic ordinal -> that day 08:00 China time


def _morning(ordinal: int) -> datetime:
    out = _MORNINGS.get(ordinal)
    if out is None:
        if len(_MORNINGS) > 100_000:
            _MORNINGS.clear()
        day = date.fromordinal(ordinal)
        out = _MORNINGS[ordinal] = datetime(day.year, day.month, day.day, 8, tzinfo=CST)
    return out


def choice(rng: random.Random, members: Sequence[T], cum: Sequence[float]) -> T:
    """``rng.choices(members, cum_weights=cum)[0]`` draw for draw (one ``random()``, the same
    bisection), without its per-call checks and list: partners are picked several times a pack."""
    return members[bisect_right(cum, rng.random() * (cum[-1] + 0.0), 0, len(cum) - 1)]


def later(rng: random.Random, t: datetime, lo: int, hi: int) -> datetime:
    """A working-hours time ``lo``–``hi`` days after ``t`` (always after it)."""
    # random() arithmetic instead of randint/randrange: a third of the cost, on a hot path.
    r = rng.random
    day = t.toordinal() + lo + int(r() * ((hi if hi > lo else lo) - lo + 1))  # max(lo, hi)
    morning = _MORNINGS.get(day)
    out = (morning or _morning(day)) + _WORKING_SECONDS[int(r() * 32_400)]
    if out > t:
        return out
    # Whole seconds, as every other time: eventTime is written to the millisecond.
    return (t + timedelta(minutes=rng.randint(10, 120))).replace(microsecond=0)


def attributes(
    eng: Engine, pack: Pack, level: str, keys: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """A pack's (cell's, module's) attributes; ``keys=_ILMD_KEYS`` names them as ``ilmd`` does."""
    chemistry, capacity, energy, mass_key, voltage, segment = keys or _ATTRIBUTE_KEYS
    chem = eng.chemistries[pack.chem]
    module_mass = pack.mass_kg * MODULE_MASS_SHARE / pack.modules_run.count  # (n_modules)
    if level == "C":
        n, mass = 1, module_mass * CELL_MASS_SHARE / pack.cells_per_module
    elif level == "M":
        n, mass = pack.cells_per_module, module_mass
    else:
        n, mass = pack.cells.count, pack.mass_kg  # (n_cells)
    volts = n * chem.cell_voltage_v
    out: dict[str, Any] = {
        chemistry: chem.name,
        capacity: pack.cell_ah,
        energy: round(volts * pack.cell_ah / 1000.0, 3),
        mass_key: round(mass, 2),
        voltage: round(volts, 1),
    }
    if level == "P" and pack.segment:
        out[segment] = pack.segment
    return out


#: ilmd key (``battrace:vehicleSegment``) naming the vehicle segment a pack was built for: the
#: forecast's cohorts are per segment (lifetimes differ), and only the maker knows it.
SEGMENT_ATTRIBUTE = "vehicleSegment"
_ATTRIBUTE_KEYS = (
    b.CHEMISTRY,
    b.RATED_CAPACITY_AH,
    b.RATED_ENERGY_KWH,
    b.MASS_KG,
    b.NOMINAL_VOLTAGE_V,
    SEGMENT_ATTRIBUTE,
)
_ILMD_KEYS = tuple(ev.ilmd(dict.fromkeys(_ATTRIBUTE_KEYS)))  # the same, as ilmd names them


_METAS: dict[tuple[str, str], Meta] = {}


def _meta(actor: str, trigger: str) -> Meta:
    """A shared, read-only Meta for a plain duty (most events): no allocation per event."""
    meta = _METAS.get((actor, trigger))
    if meta is None:
        meta = _METAS[(actor, trigger)] = Meta(actor, trigger)
    return meta


def materials(eng: Engine, pack: Pack, module_kg: float) -> dict[str, float]:
    """Material lots from the modules (kg): black mass and copper per kWh, the rest split."""
    chem = eng.chemistries[pack.chem]
    kwh = pack.energy_kwh
    black = kwh * chem.black_mass_kg_per_kwh
    copper = kwh * chem.copper_kg_per_kwh
    rest = max(0.0, module_kg - black - copper)
    out = {"black_mass": black, "copper": copper}
    for name, share in MODULE_REST_SPLIT.items():
        out[name] = rest * share
    return out


# --- lifecycle -----------------------------------------------------------------------------------


def produce(eng: Engine, pack: Pack, t: datetime) -> Generator[Item, None, datetime]:
    """Production day at the battery maker: commission cells, modules, pack; assemble. Returns
    the time of the last event (callers ``yield from`` it: one generator level less per item)."""
    maker = eng.ents[pack.maker]
    who = maker.uscc
    cell_site, pack_site = maker.sites[0], maker.sites[-1]
    n = pack.cells_per_module
    meta = _meta("battery_maker", "commissioning")
    # Cell URIs are built once and shared by the commissioning and the module assemblies (a
    # hundred codes a pack is the hot path of a national run), events as the builders make them.
    cells = pack.cells.uris()
    yield t, who, ev.commission(cells, cell_site, t, attributes(eng, pack, "C", _ILMD_KEYS)), meta
    modules = pack.modules_run.uris()
    t += _HOUR
    attrs = attributes(eng, pack, "M", _ILMD_KEYS)
    yield t, who, ev.commission(list(modules), pack_site, t, attrs), meta
    for j, module in enumerate(modules):
        t += _TWO_MINUTES
        yield t, who, ev.assemble(module, cells[j * n : (j + 1) * n], pack_site, t), None
    del cells
    t += _HOUR
    attrs = attributes(eng, pack, "P", _ILMD_KEYS)
    pack_uri = _URN + pack.code
    yield t, who, ev.commission([pack_uri], pack_site, t, attrs), meta
    t += _TEN_MINUTES
    yield t, who, ev.assemble(pack_uri, modules, pack_site, t), None
    eng.bump("packs_produced")
    eng.bump("modules_produced", pack.n_modules)
    eng.bump("cells_produced", pack.n_cells)
    return t


def ship(
    eng: Engine,
    rng: random.Random,
    codes: list[str],
    src: Ent,
    dst: Ent,
    t: datetime,
    receipt: str = "receive",
    *,
    src_actor: str = "",
    dst_actor: str = "",
    arrive: datetime | None = None,
    ship_meta: Meta | None = None,
    receipt_meta: Meta | None = None,
) -> Generator[Item, None, datetime]:
    """Shipping by ``src`` and receipt (or collection) by ``dst``; returns the receipt time.

    An unregistered sender does not report its shipment: only the receipt is in the ledger.
    """
    no = eng.doc_no(src, "desadv")
    if src.registered:
        yield (
            t,
            src.uscc,
            ev.ship(ev.uris(codes), src.party, dst.party, src.sites[-1], t, no),
            ship_meta or (_meta(src_actor, "shipping") if src_actor else None),
        )
    t = arrive if arrive is not None else later(rng, t, 1, 5)
    meta = receipt_meta or (_meta(dst_actor, "receiving") if dst_actor else None)
    if receipt == "collect":
        event = b.collect(codes, site=dst.sites[0], time=t, sender=src.party, receiver=dst.party)
    else:
        event = ev.receive(ev.uris(codes), src.party, dst.party, dst.sites[0], t, no)
    yield t, dst.uscc, event, meta
    return t


#: Weighted sums of a VIN's serial (positions 12-17), three digits at a time: the check digit
#: is the weighted sum of all positions mod 11 (GB 16735), and digits are their own values.
_SERIAL_HIGH = tuple(7 * (k // 100) + 6 * (k // 10 % 10) + 5 * (k % 10) for k in range(1000))
_SERIAL_LOW = tuple(4 * (k // 100) + 3 * (k // 10 % 10) + 2 * (k % 10) for k in range(1000))
#: (wmi, chemistry letter, model year) -> (positions 1-8, 10-11, weighted sum of them mod 11).
_VIN_HEADS: dict[tuple[str, str, str], tuple[str, str, int]] = {}


def _vin(wmi: str, letter: str, year_char: str, serial: int) -> str:
    """``make_vin(wmi, "EV" + letter + "A1", year_char, "A", serial)``, a VIN a pack: its fixed
    part goes through ``make_vin`` (checked) once, then only the serial's share of the check
    digit is added (the check digit of serial 000000 is the fixed part's sum mod 11)."""
    key = (wmi, letter, year_char)
    head = _VIN_HEADS.get(key)
    if head is None:
        base = make_vin(wmi, "EV" + letter + "A1", year_char, "A", "000000")
        check = base[8]
        head = _VIN_HEADS[key] = (base[:8], base[9:11], 10 if check == "X" else int(check))
    front, back, total = head
    high, low = divmod(serial, 1000)
    r = (total + _SERIAL_HIGH[high] + _SERIAL_LOW[low]) % 11
    return f"{front}{'X' if r == 10 else r}{back}{serial:06d}"


def pack_life(eng: Engine, t0: datetime) -> Iterator[Item]:
    rng = eng.rng
    flows = eng.flows
    design = eng.population.design(eng, rng, t0)
    pack = eng.new_pack(design, t0.date())
    maker = design.maker
    t = t0
    if maker.registered:
        t = yield from produce(eng, pack, t0)
    else:
        t = t0 + 3 * _HOUR
        eng.bump("packs_produced")
        eng.bump("packs_unregistered_maker")

    oem = eng.pick(rng, "importer" if rng.random() < flows.import_share else "automaker")
    t = later(rng, t, 2, 15)
    receipt_meta = None
    if not maker.registered:
        # The pack first shows up in the ledger at the automaker (its production was never
        # reported): the receipt is the evidence of code-not-registered.
        receipt_meta = Meta(
            oem.roles[0],
            "receiving",
            truth=[
                truth(
                    "code-not-registered",
                    "injected",
                    oem,
                    pack.code,
                    manufacturer_code=pack.code[:3],
                    maker_uscc=maker.uscc,
                )
            ],
        )
    t = yield from ship(eng, rng, [pack.code], maker, oem, t, receipt_meta=receipt_meta)
    t = later(rng, t, 1, 20)
    serial = eng.number((oem.uscc, f"vin{t.year}")) - 1
    chem = eng.chemistries[pack.chem]
    vin = _vin(oem.wmi, chem.letter, _VIN_YEARS[(t.year - 2010) % 30], serial % 999_999 + 1)
    yield t, oem.uscc, ev.install(pack.code, vin, oem.sites[0], t), None
    if design.province:
        dealer = eng.pick_in(rng, "dealer", design.province)
    else:
        dealer = eng.pick(rng, "dealer")
    # The weeks to the dealer and the sale wait as deferred work (on disk at scale), so that
    # memory holds only the production days in flight, not two months of every pack's sale.
    t = later(rng, t, 1, 10)
    yield t, "", Defer("deliver", (pack, vin, oem.index, dealer.index, maker.index)), None


def _deliver(
    eng: Engine, pack: Pack, vin: str, oem_index: int, dealer_index: int, maker_index: int
) -> Iterator[Item]:
    rng = eng.rng
    oem, dealer = eng.ents[oem_index], eng.ents[dealer_index]
    t = eng.clock
    t = yield from ship(eng, rng, [ev.vehicle(vin), pack.code], oem, dealer, t)
    t = later(rng, t, 3, 60)
    yield t, "", Defer("sell", (pack, vin, dealer_index, maker_index)), None


def _sell(eng: Engine, pack: Pack, vin: str, dealer_index: int, maker_index: int) -> Iterator[Item]:
    rng = eng.rng
    dealer, maker = eng.ents[dealer_index], eng.ents[maker_index]
    t = eng.clock
    yield (
        t,
        dealer.uscc,
        ev.sell(vin, pack.code, dealer.sites[0], t, eng.doc_no(dealer, "inv")),
        _meta("dealer", "vehicle_selling"),
    )
    eng.bump("vehicles_sold")
    province = dealer.province
    current = pack
    deferred: list[tuple[datetime, Defer]] = []
    for ep in eng.population.service(eng, rng, pack, t):
        if ep.kind == "repair":
            deferred.append((ep.when, Defer("repair", (current.code, vin, province))))
        elif ep.kind == "replace":
            spare_maker = maker if maker.registered else eng.pick(rng, "battery_maker")
            # The spare is made 20-35 days ahead (never before the sale: the plan is made then).
            spare_day = max(
                (ep.when - timedelta(days=rng.randint(20, 35))).date(),
                (t + timedelta(days=1)).date(),
            )
            spare = eng.new_pack(
                Design(
                    current.chem,
                    spare_maker,
                    current.n_modules,
                    current.cells_per_module,
                    current.cell_ah,
                    current.segment,
                ),
                spare_day,
            )
            start = datetime(spare_day.year, spare_day.month, spare_day.day, 8, tzinfo=CST)
            args = (current, spare, vin, province, ep.when, ep.swap)
            deferred.append((start, Defer("replace", args)))
            current = spare
        else:  # scrap
            deferred.append((ep.when, Defer("scrap", (current, vin, province))))
    # A generator's items must come in time order; a spare's production may precede a repair.
    deferred.sort(key=lambda pair: pair[0])
    for when, defer in deferred:
        yield when, "", defer, None


def _repair(eng: Engine, code: str, vin: str, province: str) -> Iterator[Item]:
    rng = eng.rng
    fixer = eng.pick_near(rng, "repairer", province)
    t = eng.clock
    yield (
        t,
        fixer.uscc,
        b.repair(code, vin=vin, site=fixer.sites[0], time=t),
        _meta("repairer", "repairing"),
    )
    eng.bump("repairs")


def _replace(
    eng: Engine, old: Pack, spare: Pack, vin: str, province: str, when: datetime, swap: bool
) -> Iterator[Item]:
    """A replacement pack made by the same maker, shipped to the workshop, fitted; the old pack
    retires."""
    rng = eng.rng
    shop = eng.pick(rng, "swap_operator") if swap else eng.pick_near(rng, "repairer", province)
    actor = "swap_operator" if swap else "repairer"
    t = eng.clock + timedelta(seconds=rng.randrange(4 * 3600))
    t = yield from produce(eng, spare, t)
    maker = eng.ents[spare.maker]
    t = yield from ship(eng, rng, [spare.code], maker, shop, later(rng, t, 2, 6))
    when = max(when, t + timedelta(hours=2))
    site = shop.sites[rng.randrange(len(shop.sites))]
    yield when, "", Defer("replace_fit", (old, spare.code, vin, shop.index, site, actor)), None


def _replace_fit(
    eng: Engine, old: Pack, spare: str, vin: str, shop_index: int, site: str, actor: str
) -> Iterator[Item]:
    rng = eng.rng
    shop = eng.ents[shop_index]
    when = eng.clock
    trigger = "swapping" if actor == "swap_operator" else "replacing"
    formal = rng.random() < eng.flows.formal_share
    removal_meta = _meta(actor, trigger)
    if not formal:
        # The workshop reports the swap but sells the old pack to an informal buyer: it was
        # removed and is never collected. (A Meta of its own: the shared ones are read-only.)
        removal_meta = Meta(
            actor,
            trigger,
            truth=[
                truth(
                    "retired-not-collected",
                    "leakage",
                    shop,
                    old.code,
                    vehicle=b.vehicle_uri(vin),
                    holder=actor,
                )
            ],
        )
    yield when, shop.uscc, b.remove(old.code, vin, site=site, time=when), removal_meta
    t = when + timedelta(minutes=30)
    yield t, shop.uscc, b.replace(spare, vin, site=site, time=t), _meta(actor, trigger)
    eng.bump("replacements")
    eng.bump("packs_retired")
    if not formal:
        eng.bump("packs_leaked")
        return
    t += _HOUR
    yield from _formal_end(eng, old, shop, actor, t, vin)


def _scrap(eng: Engine, pack: Pack, vin: str, province: str) -> Iterator[Item]:
    """End of the vehicle's life: formal scrapping at a dismantler, or informal leakage."""
    rng = eng.rng
    flows = eng.flows
    policy = eng.policy
    scrap_at = eng.clock
    eng.bump("vehicles_end_of_life")
    eng.bump("packs_retired")
    dis = eng.pick_near(rng, "dismantler", province)
    site = dis.sites[0]
    if rng.random() >= flows.formal_share:
        eng.bump("packs_leaked")
        if policy.inject("battery-missing-at-scrapping"):
            # The pack was sold off before the car reached a formal dismantler (车电一体报废).
            cert = f"{dis.uscc[8:16]}-{scrap_at.year}-{eng.number((dis.uscc, 'cert')):06d}"
            record = truth(
                "battery-missing-at-scrapping",
                "injected",
                dis,
                pack.code,
                vehicle=b.vehicle_uri(vin),
            )
            yield (
                scrap_at,
                dis.uscc,
                b.scrap_vehicle(vin, site=site, time=scrap_at, certificate=cert, pack=None),
                Meta("dismantler", "receiving", truth=[record]),
            )
            return
        if policy.inject("unreported-source"):
            # ... and re-emerges, with no reported origin, at a cascade user.
            t = later(rng, scrap_at, 30, 365)
            yield t, "", Defer("resurface", (pack,)), None
            return
        yield scrap_at, "", Defer("leak", (pack.code, vin, province)), None
        return
    cert = f"{dis.uscc[8:16]}-{scrap_at.year}-{eng.number((dis.uscc, 'cert')):06d}"
    yield (
        scrap_at,
        dis.uscc,
        b.scrap_vehicle(vin, site=site, time=scrap_at, certificate=cert, pack=pack.code),
        _meta("dismantler", "receiving"),
    )
    t = later(rng, scrap_at, 1, 10)
    yield t, dis.uscc, b.remove(pack.code, vin, site=site, time=t, disposition=None), None
    t += _HOUR
    yield from _formal_end(eng, pack, dis, "dismantler", t, vin)


def _formal_end(
    eng: Engine, pack: Pack, holder: Ent, actor: str, t: datetime, vin: str
) -> Iterator[Item]:
    """Retirement by the remover, then the formal chain (with the injected violations)."""
    rng = eng.rng
    policy = eng.policy
    code = pack.code
    retire_meta: Meta | None = None
    if policy.inject("retired-not-collected"):
        retire_meta = Meta(
            truth=[
                truth(
                    "retired-not-collected",
                    "injected",
                    holder,
                    code,
                    vehicle=b.vehicle_uri(vin),
                    holder=actor,
                )
            ]
        )
    yield t, holder.uscc, b.retire(code, site=holder.sites[0], time=t), retire_meta
    if retire_meta is not None:
        eng.bump("packs_leaked")
        return
    if policy.inject("unqualified-transfer"):
        members = [e for e in eng.ents if e.registered and not e.qualified]
        if members:
            dst = rng.choice(members)
            record = truth(
                "unqualified-transfer", "injected", holder, code, recipient=dst.uscc, holder=actor
            )
            yield from ship(
                eng,
                rng,
                [code],
                holder,
                dst,
                later(rng, t, 2, 20),
                ship_meta=Meta(actor, "shipping", truth=[record]),
            )
            eng.bump("packs_leaked")
            return
    eng.bump("packs_collected_formally")
    yield from end_of_life(eng, pack, code, holder, t, actor)


def _leak(eng: Engine, code: str, vin: str, province: str) -> Iterator[Item]:
    """Silent leakage (the vehicle is broken up informally): no event at all, only the ground
    truth records it. No rule can see it: it is the gap the formal share measures."""
    record = {
        "kind": "leakage",
        "alert": None,
        "cause": "leakage",
        "province": province,
        "epc": b.battery_uri(code),
        "detail": {"vehicle": b.vehicle_uri(vin), "route": "informal dismantling"},
    }
    yield eng.clock, "", None, Meta(truth=[record])


def _resurface(eng: Engine, pack: Pack) -> Iterator[Item]:
    rng = eng.rng
    user = eng.pick(rng, "cascade_user")
    t = eng.clock
    record = truth("unreported-source", "injected", user, pack.code)
    yield (
        t,
        user.uscc,
        b.receive([pack.code], site=user.sites[0], time=t, receiver=user.party),
        Meta("cascade_user", "receiving", truth=[record]),
    )
    yield from _inspect_and_use(eng, pack, pack.code, user, t)


def end_of_life(
    eng: Engine, pack: Pack, code: str, holder: Ent, t: datetime, actor: str = ""
) -> Iterator[Item]:
    """From the retired pack at ``holder`` to cascade use, recycling or disposal."""
    rng = eng.rng
    flows = eng.flows
    leave: datetime | None = None  # when an outlet ships the pack on (drawn with its stay)
    release: Meta | None = None  # the outlet's shipment takes the pack off its stock
    if rng.random() < flows.outlet_share:
        outlet, leave = yield from _via_outlet(eng, pack, code, holder, t, actor)
        if leave is None:
            return  # held for good: missing follow-up
        holder, actor, t = outlet, "recycling_outlet", eng.clock
        release = Meta(actor, "shipping", stock=(outlet.uscc, -pack.mass_kg))
    if rng.random() < flows.cascade_share:
        user = eng.pick(rng, "cascade_user")
        sent = leave if leave is not None else later(rng, t, 5, 40)
        t = yield from ship(
            eng,
            rng,
            [code],
            holder,
            user,
            sent,
            src_actor=actor,
            dst_actor="cascade_user",
            ship_meta=release,
        )
        yield from _inspect_and_use(eng, pack, code, user, t)
        return
    yield from _recycle(eng, pack, code, holder, t, actor, leave, release)


def _via_outlet(
    eng: Engine, pack: Pack, code: str, holder: Ent, t: datetime, actor: str
) -> Generator[Item, None, tuple[Ent, datetime | None]]:
    """Shipping to a recycling service outlet, with its stock limit respected — unless an
    over-capacity or a missing follow-up is injected. Returns (outlet, time it ships the pack
    on, or None when it never does)."""
    rng = eng.rng
    policy = eng.policy
    sent = later(rng, t, 2, 20)
    arrive = later(rng, sent, 1, 5)
    leave = later(rng, arrive, 5, 40)
    over = policy.inject("outlet-over-capacity")
    stuck = policy.inject("missing-follow-up")
    kg = pack.mass_kg
    if over:
        # Sent to the fullest outlet, which hoards it for months.
        outlet = eng.fullest_outlet(t, holder.province)
        leave = later(rng, arrive, 180, 720)
    else:
        outlet = eng.pick_near(rng, "recycling_outlet", holder.province)
        if not eng.outlet_room(outlet, t, kg):
            options = (
                eng.near.get(("recycling_outlet", holder.province), [])
                + eng.by_role["recycling_outlet"][0]
            )
            outlet = next((o for o in options if eng.outlet_room(o, t, kg)), outlet)
    eng.reserve(outlet, eng.cutoff + timedelta(days=1) if stuck else leave, kg)
    records = [truth("missing-follow-up", "injected", outlet, code, holder=actor)] if stuck else []
    receipt = Meta("recycling_outlet", "receiving", stock=(outlet.uscc, kg), truth=records or None)
    yield from ship(
        eng,
        rng,
        [code],
        holder,
        outlet,
        sent,
        "collect",
        src_actor=actor,
        arrive=arrive,
        receipt_meta=receipt,
    )
    eng.bump("outlet_intakes")
    return outlet, None if stuck else leave


def _inspect_and_use(eng: Engine, pack: Pack, code: str, user: Ent, t: datetime) -> Iterator[Item]:
    rng = eng.rng
    flows = eng.flows
    soh = rng.triangular(*flows.soh_at_retirement)
    rated = pack.cell_ah
    dcir = pack.n_cells * rng.uniform(*CELL_DCIR_MOHM) * (1.0 + 2.0 * (1.0 - soh / 100.0))
    keep = soh >= flows.cascade_min_soh
    chem = eng.chemistries[pack.chem]
    t = later(rng, t, 1, 10)
    yield (
        t,
        user.uscc,
        b.inspect(
            code,
            capacity_ah=rated * soh / 100.0,
            rated_ah=rated,
            resistance_mohm=dcir,
            voltage_v=pack.n_cells * chem.cell_voltage_v * rng.uniform(0.96, 1.02),
            soh_pct=soh,
            site=user.sites[0],
            time=t,
            disposition="conformant" if keep else "non_conformant",
            temperature_c=TEST_TEMPERATURE_C,
            safety_checks=_safety_checks(soh),
        ),
        None,
    )
    if keep:
        yield from _cascade(eng, pack, code, user, soh, t)
        return
    yield from _recycle(eng, pack, code, user, t, "cascade_user")


#: Residual-capacity tests run at the standard test temperature (GB/T 34015: 25 ± 2 °C).
TEST_TEMPERATURE_C = 25.0


def _safety_checks(soh: float) -> dict[str, bool]:
    """The checklist of a simulated inspection: deeply degraded packs (SoH below 55 %) are
    swollen, so they are pre-treated, never regrouped (deterministic: no draw from the stream)."""
    return safety_checklist("swelling" if soh < 55.0 else "")


def _cascade(
    eng: Engine, pack: Pack, code: str, user: Ent, soh: float, t: datetime
) -> Iterator[Item]:
    rng = eng.rng
    t = later(rng, t, 3, 20)
    serial = (eng.number((user.codes[0], "R")) - 1) % _SERIALS + 1
    chem = eng.chemistries[pack.chem]
    spec = f"S{eng.shard + 1}"  # the shard keeps cascade codes apart (serial per user)
    new = format_cascade_code(user.codes[0], "P", chem.letter, spec, t.date(), serial)
    attrs = attributes(eng, pack, "P")
    attrs[b.RATED_CAPACITY_AH] = round(pack.cell_ah * soh / 100.0, 1)  # newly calibrated
    attrs[b.RATED_ENERGY_KWH] = round(pack.energy_kwh * soh / 100.0, 2)
    attrs["application"] = "energy_storage"
    yield t, user.uscc, b.recode(code, new, site=user.sites[0], time=t, attributes=attrs), None
    eng.bump("cascade_products")
    end = eng.population.cascade_end(eng, rng, t)
    if end is not None:
        yield end, "", Defer("cascade_end", (pack, new, user.index)), None


def _cascade_end(eng: Engine, pack: Pack, new: str, user_index: int) -> Iterator[Item]:
    user = eng.ents[user_index]
    t = eng.clock
    yield t, user.uscc, b.retire(new, site=user.sites[0], time=t), None
    yield from _recycle(eng, pack, new, user, t, "cascade_user")


def _recycle(
    eng: Engine,
    pack: Pack,
    code: str,
    holder: Ent,
    t: datetime,
    actor: str = "",
    sent: datetime | None = None,
    release: Meta | None = None,
) -> Iterator[Item]:
    """Recycler: receive, then destroy or dismantle into modules + parts and recycle those."""
    rng = eng.rng
    if "recycler" in holder.roles and holder.qualified:
        rec = holder
    else:
        rec = eng.pick(rng, "recycler")
        t = yield from ship(
            eng,
            rng,
            [code],
            holder,
            rec,
            sent if sent is not None else later(rng, t, 3, 30),
            src_actor=actor,
            dst_actor="recycler",
            ship_meta=release,
        )
    site = rec.sites[-1]
    if rng.random() < eng.flows.disposal_share:
        t = later(rng, t, 3, 30)
        yield t, rec.uscc, b.dispose(code, site=site, time=t), _meta("recycler", "recycling")
        eng.bump("packs_disposed")
        return
    module_kg = pack.mass_kg * MODULE_MASS_SHARE
    housing_kg = pack.mass_kg - module_kg
    t = later(rng, t, 5, 60)
    parts = {name: housing_kg * share for name, share in HOUSING_SPLIT.items()}
    modules = pack.modules_run.codes()
    yield t, rec.uscc, b.dismantle(code, modules, site=site, time=t, parts_kg=parts), None
    t = later(rng, t, 1, 30)
    lots = materials(eng, pack, module_kg)
    meta = _meta("recycler", "recycling")
    if eng.policy.inject("mass-balance"):
        # An impossible report: three times the copper the modules hold (a typo, or lots
        # reported twice); the balance of this one event shows it.
        lots["copper"] *= 3
        record = truth("mass-balance", "injected", rec, modules[0], element="Cu")
        meta = Meta("recycler", "recycling", truth=[record])
    yield t, rec.uscc, b.recycle(modules, lots, site=site, time=t), meta
    eng.bump("packs_recycled")


def truth(alert: str, cause: str, ent: Ent, epc: str, **detail: Any) -> dict[str, Any]:
    """A ground-truth record (completed with time, event and rules when its event is emitted)."""
    return {
        "kind": "violation",
        "alert": alert,
        "cause": cause,
        "enterprise": ent.uscc,
        "province": ent.province,
        "epc": b.battery_uri(epc),
        **({"detail": detail} if detail else {}),
    }


EPISODES: dict[str, Callable[..., Iterator[Item]]] = {
    "deliver": _deliver,
    "sell": _sell,
    "repair": _repair,
    "replace": _replace,
    "replace_fit": _replace_fit,
    "scrap": _scrap,
    "leak": _leak,
    "resurface": _resurface,
    "cascade_end": _cascade_end,
}


# --- the stream ------------------------------------------------------------------------------------


#: Later than any time (China time, as every time of a run, so comparisons stay cheap).
NEVER = datetime.max.replace(tzinfo=CST)


def _china_time() -> timezone:
    return CST


def _reduce_timezone(tz: timezone) -> str | tuple[Any, ...]:
    # China time comes back as the one CST object: datetimes whose tzinfo is the same object
    # compare field by field, while equal but distinct ones ask both for their UTC offsets.
    same = tz == CST and tz.tzname(None) == CST.tzname(None)
    return (_china_time, ()) if same else tz.__reduce__()


_PICKLE_TABLE = copyreg.dispatch_table.copy()
_PICKLE_TABLE[timezone] = _reduce_timezone


class Calendar:
    """Deferred work waiting on disk, one pickle file per time bucket.

    Only :class:`Defer` items (plain data) go here. Records are buffered per bucket in memory up
    to ``BUFFER`` records in all, then every buffer is appended to its file as one pickled list
    (no file stays open); a bucket is read back — and its file deleted — when the merge reaches
    its first instant. One pickle per list, not per record: a third of the time and size.
    """

    BUFFER = 4096  # records held in memory across all buckets (~0.5 MB pickled)

    def __init__(self, origin: datetime, bucket: timedelta, directory: str | None = None) -> None:
        self.origin = origin
        self.width = bucket.total_seconds()
        self._tmp = tempfile.TemporaryDirectory(prefix="battrace-sim-", dir=directory)
        self.dir = Path(self._tmp.name)
        self._buffers: dict[int, list[tuple[Any, ...]]] = {}
        self._buffered = 0
        self._on_disk: set[int] = set()
        self._pending: list[int] = []
        #: Start of the next pending bucket (the merge asks before every item); NEVER if none.
        self.due = NEVER
        self.spilled = 0

    def bucket(self, t: datetime) -> int:
        return int((t - self.origin).total_seconds() // self.width)

    def start_of(self, bucket: int) -> datetime:
        return self.origin + timedelta(seconds=bucket * self.width)

    def _path(self, bucket: int) -> Path:
        return self.dir / f"{bucket:08d}.pkl"

    def put(self, bucket: int, record: tuple[Any, ...]) -> None:
        buf = self._buffers.get(bucket)
        if buf is None:
            if bucket not in self._on_disk:
                heapq.heappush(self._pending, bucket)
                if self._pending[0] == bucket:
                    self.due = self.start_of(bucket)
            buf = self._buffers[bucket] = []
        buf.append(record)
        self._buffered += 1
        self.spilled += 1
        if self._buffered > self.BUFFER:
            # Everything at once: one append per bucket per spill (flushing only the largest
            # buffer would open a file on almost every put once hundreds of weeks wait).
            for bucket in sorted(self._buffers):
                self._flush(bucket)

    def _flush(self, bucket: int) -> None:
        records = self._buffers.pop(bucket)
        data = io.BytesIO()
        pickler = pickle.Pickler(data, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.dispatch_table = _PICKLE_TABLE
        pickler.dump(records)
        with self._path(bucket).open("ab") as fh:
            fh.write(data.getbuffer())
        self._on_disk.add(bucket)
        self._buffered -= len(records)

    def next_bucket(self) -> int | None:
        return self._pending[0] if self._pending else None

    def take(self) -> list[tuple[Any, ...]]:
        bucket = heapq.heappop(self._pending)
        self.due = self.start_of(self._pending[0]) if self._pending else NEVER
        out: list[tuple[Any, ...]] = []
        if bucket in self._on_disk:
            path = self._path(bucket)
            data = path.read_bytes()
            os.unlink(path)
            self._on_disk.discard(bucket)
            view = io.BytesIO(data)
            while view.tell() < len(data):
                out += pickle.load(view)
        buf = self._buffers.pop(bucket, None)
        if buf is not None:
            self._buffered -= len(buf)
            out += buf
        return out

    def close(self) -> None:
        self._buffers.clear()
        self._tmp.cleanup()


_TIME_SEQ = itemgetter(0, 1)  # (time, order pushed) of a calendar record


def merge(
    eng: Engine, source: Iterator[Item], calendar: Calendar | None = None
) -> Generator[tuple[datetime, str, Event | None, Meta | None], None, None]:
    """Merge every generator's items by time; stop each one at the cut-off.

    Deferred work lands in the heap when it is due in the current bucket, on disk otherwise.
    ``eng.clock`` is the time of the item being processed.

    Items are taken in (time, order pushed) order. A generator's next item that comes before
    everything waiting — the next steps of a production day, mostly — is taken at once, without
    a round through the heap (a push and a pop saved; the order is the same).
    """
    heap: list[
        tuple[datetime, int, str, Event | Spawn | Defer | None, Meta | None, Iterator[Item] | None]
    ]
    heap = []
    eng.heap = heap  # what the run holds in memory (for the memory tests and the benchmark)
    seq = 0
    cutoff = eng.cutoff
    current = -1  # the last bucket loaded from the calendar
    heappush, heappop = heapq.heappush, heapq.heappop

    def advance(gen: Iterator[Item]) -> Item | None:
        """The generator's next item for the heap (deferred work for later buckets goes to the
        calendar, and the generator goes on); None when it is done or past the cut-off."""
        nonlocal seq
        while True:
            item = next(gen, None)
            if item is None or item[0] >= cutoff:
                return None  # finished, or everything after this lies beyond the end of the data
            payload = item[2]
            if calendar is not None and type(payload) is Defer:
                bucket = calendar.bucket(item[0])
                if bucket > current:
                    seq += 1
                    calendar.put(bucket, (item[0], seq, payload.name, payload.args))
                    continue
            return item

    def push(gen: Iterator[Item]) -> None:
        nonlocal seq
        item = advance(gen)
        if item is not None:
            seq += 1
            heappush(heap, (item[0], seq, item[1], item[2], item[3], gen))

    push(source)
    item: Item | None = None  # the next item, when known to come before the heap's
    gen: Iterator[Item] | None = None
    try:
        while True:
            if item is None:
                # (The bucket's start is compared first: due is NEVER when nothing waits.)
                if calendar is not None and (not heap or heap[0][0] >= calendar.due):
                    nxt = calendar.next_bucket()
                    if nxt is not None:
                        current = nxt
                        records = sorted(calendar.take(), key=_TIME_SEQ)
                        for when, _, name, args in records:
                            seq += 1
                            heappush(heap, (when, seq, "", Defer(name, args), None, None))
                        continue
                if not heap:
                    return
                when, _, who, payload, meta, gen = heappop(heap)
            else:
                when, who, payload, meta = item
            eng.clock = when
            # (Neither class has subclasses: type checks are cheaper than isinstance.)
            if type(payload) is Defer:
                push(EPISODES[payload.name](eng, *payload.args))
            elif type(payload) is Spawn:
                push(payload.gen)
            else:
                yield when, who, payload, meta  # type: ignore[misc]  # an event, or None (a note)
            item = None
            if gen is not None:
                nxt_item = advance(gen)
                if nxt_item is not None:
                    t = nxt_item[0]
                    # Taken next without the heap only if it would be popped next: before the
                    # heap's first item (a tie goes to the item pushed first) and before the
                    # calendar's next bucket is due (which loads when the heap reaches it).
                    if (not heap or t < heap[0][0]) and (calendar is None or t < calendar.due):
                        item = nxt_item
                    else:
                        seq += 1
                        heappush(heap, (t, seq, nxt_item[1], nxt_item[2], nxt_item[3], gen))
    finally:
        if calendar is not None:
            calendar.close()


def sources(eng: Engine, times: Iterator[datetime]) -> Iterator[Item]:
    for t0 in times:
        yield t0, "", Spawn(pack_life(eng, t0)), None


__all__ = [
    "CST",
    "EPISODES",
    "Calendar",
    "Chemistry",
    "Defer",
    "Design",
    "Engine",
    "Ent",
    "Episode",
    "Flows",
    "Item",
    "Meta",
    "Pack",
    "Policy",
    "Population",
    "Run",
    "Spawn",
    "end_of_life",
    "later",
    "make_ent",
    "merge",
    "pack_life",
    "produce",
    "ship",
    "sources",
    "truth",
]
