"""Deterministic synthetic demo data: enterprises of every role and battery lifecycles as events.

``generate(packs, seed)`` is pure (no I/O, no database, no global random state): it returns the
enterprise records and a lazy stream of ``(reporting USCC, EPCIS event dict)`` in chronological
order. The stream is produced by per-pack generators merged on a heap, so memory stays a small,
constant amount per pack that still has events ahead; ``packs=100_000`` streams fine.

Each pack: cells → modules → pack at a battery maker, shipped to an automaker (or importer),
installed in a vehicle, shipped to a dealer and sold. Then, by configurable shares: repairs,
pack replacement (by a repairer or a battery-swap operator, with a spare pack produced for it),
vehicle scrapping at a dismantler, removal and retirement of the pack, shipping to a recycling
service outlet, collection, residual-capacity inspection at a cascade user, cascade re-coding
under the cascade user's manufacturer code, and dismantling and recycling into material lots.

Lifetimes are compressed on purpose: with real ones (Weibull k = 3.5, λ ≈ 7–10 years,
forecast-data §1.1) almost nothing produced after 2019 would reach end of life by 2025, and the
demo must show every stage. Figures come from the shared domain reference where one exists
(sources next to each table); everything else is marked ASSUMPTION.
"""

from __future__ import annotations

import heapq
import random
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from battrace.domain.identities.gbt34014 import format_battery_code, format_cascade_code
from battrace.domain.identities.uris import party_uri, site_uri, vehicle_uri
from battrace.domain.identities.uscc import make_uscc
from battrace.domain.identities.vin import make_vin
from battrace.domain.lifecycle import builders as b

CST = timezone(timedelta(hours=8))

# --- reference figures ---------------------------------------------------------------------------

#: NEV sales by year (CAAM; china-regulation.md §6.1, 2018 from forecast-data.md §3.1): the weight
#: of each production year. Years outside the table use the nearest one.
NEV_SALES = {
    2015: 331_092,
    2016: 507_000,
    2017: 777_000,
    2018: 1_260_000,
    2019: 1_206_000,
    2020: 1_367_000,
    2021: 3_521_000,
    2022: 6_887_000,
    2023: 9_495_000,
    2024: 12_866_000,
    2025: 16_490_000,
}
#: LFP share of installed capacity (CABIA; china-regulation §6.2, forecast-data §3.3). 2019 is not
#: published: mean of 2018 and 2020 (DERIVED); 2022 = H1 2022; 2023 = May 2023 (full year
#: UNCONFIRMED); 2025 = Jan-Sep 2025.
LFP_SHARE = {
    2018: 0.390,
    2019: 0.387,
    2020: 0.383,
    2021: 0.517,
    2022: 0.585,
    2023: 0.678,
    2024: 0.746,
    2025: 0.815,
}


@dataclass(frozen=True, slots=True)
class Chemistry:
    name: str
    letter: str  # GB/T 34014 position 5
    cell_voltage_v: float  # ASSUMPTION: typical nominal cell voltage
    cell_ah: tuple[float, float]  # ASSUMPTION: range of prismatic cell capacities
    pack_kg_per_kwh: float  # BatPaC 5.2 pack mass (china-regulation §6.3)
    black_mass_kg_per_kwh: float  # DERIVED: cathode kg/kWh (§6.6) + graphite (forecast §2.1)
    copper_kg_per_kwh: float  # BatPaC 5.2 cell level (forecast-data §2.1)


LFP = Chemistry("LFP", "B", 3.2, (100.0, 230.0), 6.66, 2.00 + 0.955, 0.566)
# NCM is modelled as NMC811, the BatPaC row closest to current Chinese ternary packs.
NCM = Chemistry("NCM", "E", 3.65, (60.0, 180.0), 4.99, 1.30 + 0.854, 0.364)

MODULE_MASS_SHARE = 0.85  # ASSUMPTION: modules' share of pack mass (rest: housing, BMS, wiring)
CELL_MASS_SHARE = 0.90  # ASSUMPTION: cells' share of module mass
#: ASSUMPTION: split of module mass that is neither black mass nor copper; 5 % is process loss.
MODULE_REST_SPLIT = {"aluminium": 0.45, "steel": 0.25, "plastics": 0.15, "electrolyte": 0.10}
#: ASSUMPTION: split of the pack housing and parts left after taking the modules out.
HOUSING_SPLIT = {"steel": 0.50, "aluminium": 0.30, "plastics": 0.10, "copper": 0.10}
CELL_DCIR_MOHM = (0.4, 0.9)  # ASSUMPTION: fresh cell DC resistance range

#: Whitelist batches (china-regulation §3.3): batch 1 date and batch 4 (draft list) date are
#: sourced; the others are placeholders for the demo.
WHITELIST_BATCH_DATES = {
    1: date(2018, 9, 3),
    2: date(2020, 12, 15),
    3: date(2021, 12, 20),
    4: date(2022, 11, 16),
    5: date(2024, 6, 28),
}

_SERIALS = 9_999_999  # serial numbers per traceability batch (1-9999999)

#: VIN model-year characters (ISO 3779 cycle) from 2010.
_VIN_YEARS = "ABCDEFGHJKLMNPRSTVWXY123456789"


@dataclass(frozen=True, slots=True)
class DemoConfig:
    """Shapes and shares of the synthetic population (all ASSUMPTION unless noted)."""

    modules_per_pack: tuple[int, int] = (4, 12)
    cells_per_module: tuple[int, int] = (4, 12)
    import_share: float = 0.04  # vehicles brought in by the importer
    repair_share: float = 0.12  # vehicles with a repair (no replacement)
    replacement_share: float = 0.06  # vehicles whose pack is replaced (at most once)
    swap_share: float = 0.3  # replacements done by the swap operator instead of a repairer
    end_of_life_share: float = 0.35  # vehicles scrapped within the window (compressed lifetimes)
    outlet_share: float = 0.7  # retired packs that pass through a recycling service outlet
    cascade_share: float = 0.5  # retired packs offered to a cascade user for testing
    #: UNCONFIRMED heuristic (forecast-data §4: "60 % lower bound"); below it: recycling.
    cascade_min_soh: float = 60.0
    soh_at_retirement: tuple[float, float, float] = (50.0, 92.0, 76.0)  # triangular low/high/mode
    cascade_end_share: float = 0.4  # cascade products that end their second life in the window
    disposal_share: float = 0.03  # packs the recycler destroys instead of recycling

    def __post_init__(self) -> None:
        for name in ("modules_per_pack", "cells_per_module"):
            lo, hi = getattr(self, name)
            if not 1 <= lo <= hi:
                raise ValueError(f"DemoConfig.{name}: need 1 <= low <= high, got {(lo, hi)}")


@dataclass(frozen=True, slots=True)
class DemoData:
    packs: int
    seed: int
    start: date
    end: date
    config: DemoConfig
    enterprises: list[dict[str, Any]]
    #: (reporting enterprise USCC, event) in chronological order; one pass only.
    events: Iterator[tuple[str, dict[str, Any]]]

    def fresh_events(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """The same event stream again, from the beginning."""
        return generate(self.packs, self.seed, self.start, self.end, config=self.config).events


# --- enterprises -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Cast:
    name_zh: str
    name_en: str
    division: str  # 6-digit GB/T 2260 code of the registering authority
    roles: tuple[str, ...]
    sites: tuple[str, ...] = ("s1",)
    codes: tuple[str, ...] = ()  # manufacturer codes (battery makers, cascade users)
    wmi: str = ""  # automakers and importer: world manufacturer identifier of their VINs
    weight: float = 1.0
    qualifications: tuple[tuple[str, int], ...] = ()
    government: bool = False


# Synthetic names; any likeness to real companies is unintended.
_CAST: tuple[_Cast, ...] = (
    _Cast("闽江动力电池有限公司", "Minjiang Power Battery Co., Ltd.", "350900",
          ("battery_maker",), ("cell1", "pack1"), ("M1J",), weight=0.45),
    _Cast("粤海动力电池股份有限公司", "Yuehai Power Battery Co., Ltd.", "440300",
          ("battery_maker",), ("cell1", "pack1"), ("Y2H",), weight=0.35),
    _Cast("皖江锂电科技有限公司", "Wanjiang Lithium Technology Co., Ltd.", "340100",
          ("battery_maker",), ("cell1", "pack1"), ("W3J",), weight=0.20),
    _Cast("南粤新能源汽车有限公司", "Nanyue New Energy Vehicle Co., Ltd.", "440300",
          ("automaker",), ("plant1",), wmi="LNY", weight=0.45),
    _Cast("沪申电动汽车有限公司", "Hushen Electric Vehicle Co., Ltd.", "310115",
          ("automaker",), ("plant1",), wmi="LHS", weight=0.35),
    _Cast("天府汽车制造有限公司", "Tianfu Automobile Manufacturing Co., Ltd.", "510100",
          ("automaker",), ("plant1",), wmi="LTF", weight=0.20),
    _Cast("申港进口汽车贸易有限公司", "Shengang Imported Vehicle Trading Co., Ltd.", "310115",
          ("importer",), ("port1",), wmi="WZE"),
    _Cast("广州粤行汽车销售服务有限公司", "Guangzhou Yuexing Auto Sales Co., Ltd.", "440100",
          ("dealer",), ("shop1",), weight=0.35),
    _Cast("杭州之江汽车销售有限公司", "Hangzhou Zhijiang Auto Sales Co., Ltd.", "330100",
          ("dealer",), ("shop1",), weight=0.20),
    _Cast("南京金陵汽车销售服务有限公司", "Nanjing Jinling Auto Sales Co., Ltd.", "320100",
          ("dealer",), ("shop1",), weight=0.20),
    _Cast("北京京通汽车销售有限公司", "Beijing Jingtong Auto Sales Co., Ltd.", "110105",
          ("dealer",), ("shop1",), weight=0.15),
    _Cast("成都锦城汽车销售服务有限公司", "Chengdu Jincheng Auto Sales Co., Ltd.", "510100",
          ("dealer",), ("shop1",), weight=0.10),
    _Cast("深圳鹏程新能源汽车维修有限公司", "Shenzhen Pengcheng NEV Repair Co., Ltd.", "440300",
          ("repairer",), ("ws1",)),
    _Cast("苏州姑苏汽车维修服务有限公司", "Suzhou Gusu Auto Repair Co., Ltd.", "320500",
          ("repairer",), ("ws1",)),
    _Cast("北京京能换电科技有限公司", "Beijing Jingneng Battery Swap Technology Co., Ltd.",
          "110108", ("swap_operator",), ("st01", "st02")),
    _Cast("苏州报废汽车回收拆解有限公司", "Suzhou End-of-Life Vehicle Dismantling Co., Ltd.",
          "320500", ("dismantler",), ("yard1",)),
    _Cast("广东南方报废机动车回收有限公司", "Guangdong Nanfang ELV Recycling Co., Ltd.",
          "440100", ("dismantler",), ("yard1",)),
    _Cast("四川蜀通报废汽车拆解有限公司", "Sichuan Shutong ELV Dismantling Co., Ltd.", "510100",
          ("dismantler",), ("yard1",)),
    _Cast("广州绿源电池回收服务有限公司", "Guangzhou Lvyuan Battery Take-back Co., Ltd.",
          "440100", ("recycling_outlet",), ("depot1",)),
    _Cast("杭州净源电池回收有限公司", "Hangzhou Jingyuan Battery Take-back Co., Ltd.", "330100",
          ("recycling_outlet",), ("depot1",)),
    _Cast("南京宁回电池回收服务有限公司", "Nanjing Ninghui Battery Take-back Co., Ltd.", "320100",
          ("recycling_outlet",), ("depot1",)),
    _Cast("北京京回电池回收有限公司", "Beijing Jinghui Battery Take-back Co., Ltd.", "110105",
          ("recycling_outlet",), ("depot1",)),
    _Cast("江苏梯能储能科技有限公司", "Jiangsu Tineng Energy Storage Technology Co., Ltd.",
          "320500", ("cascade_user",), ("works1",), ("T5N",),
          qualifications=(("cascade_use", 2),)),
    _Cast("湖南循能新能源有限公司", "Hunan Xunneng New Energy Co., Ltd.", "430100",
          ("cascade_user", "recycler"), ("works1", "plant1"), ("X6N",),
          qualifications=(("cascade_use", 3), ("recycling", 3))),
    _Cast("江西赣循新材料有限公司", "Jiangxi Ganxun New Materials Co., Ltd.", "360700",
          ("recycler",), ("plant1",), qualifications=(("recycling", 1),)),
    _Cast("浙江衢循资源再生有限公司", "Zhejiang Quxun Resource Recycling Co., Ltd.", "330800",
          ("recycler",), ("plant1",), qualifications=(("recycling", 4),)),
    _Cast("中华人民共和国工业和信息化部", "Ministry of Industry and Information Technology",
          "110000", ("regulator_national",), (), government=True),
    _Cast("广东省工业和信息化厅", "Department of Industry and Information Technology of "
          "Guangdong Province", "440000", ("regulator_provincial",), (), government=True),
    _Cast("江苏省工业和信息化厅", "Department of Industry and Information Technology of "
          "Jiangsu Province", "320000", ("regulator_provincial",), (), government=True),
)  # fmt: skip


@dataclass(slots=True)
class _Ent:
    uscc: str
    party: str
    sites: list[str]  # site URIs
    province: str
    roles: tuple[str, ...]
    codes: tuple[str, ...]
    wmi: str
    weight: float


def _enterprises(rng: random.Random) -> tuple[list[dict[str, Any]], list[_Ent]]:
    records: list[dict[str, Any]] = []
    ents: list[_Ent] = []
    seen: set[str] = set()
    for cast in _CAST:
        while True:
            body = "".join(rng.choice("0123456789") for _ in range(8))
            if cast.government:  # registration authority 1 (机构编制), type 1 (机关)
                uscc = make_uscc(cast.division, body, "1", "1")
            else:
                uscc = make_uscc(cast.division, body)
            if uscc not in seen:
                seen.add(uscc)
                break
        records.append(
            {
                "uscc": uscc,
                "name_zh": cast.name_zh,
                "name_en": cast.name_en,
                "province": cast.division[:2],
                "roles": list(cast.roles),
                "manufacturer_codes": list(cast.codes),
                "sites": list(cast.sites),
                "qualifications": [
                    {"kind": kind, "batch": batch, "date": WHITELIST_BATCH_DATES[batch].isoformat()}
                    for kind, batch in cast.qualifications
                ],
            }
        )
        ents.append(
            _Ent(
                uscc=uscc,
                party=party_uri(uscc),
                sites=[site_uri(uscc, s) for s in cast.sites],
                province=cast.division[:2],
                roles=cast.roles,
                codes=cast.codes,
                wmi=cast.wmi,
                weight=cast.weight,
            )
        )
    return records, ents


# --- packs -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Run:
    """Consecutive codes under one 17-character prefix: kept as numbers, built when needed."""

    prefix: str
    first: int  # serial of the first code
    count: int

    def codes(self, start: int = 0, stop: int | None = None) -> list[str]:
        stop = self.count if stop is None else stop
        return [f"{self.prefix}{self.first + k:07d}" for k in range(start, stop)]


@dataclass(slots=True)
class _Pack:
    code: str
    cells: _Run
    modules_run: _Run
    cells_per_module: int
    chem: Chemistry
    maker: _Ent
    cell_ah: float
    energy_kwh: float
    mass_kg: float

    @property
    def modules(self) -> list[str]:
        return self.modules_run.codes()

    @property
    def n_modules(self) -> int:
        return self.modules_run.count

    @property
    def n_cells(self) -> int:
        return self.cells.count

    @property
    def voltage_v(self) -> float:
        return self.n_cells * self.chem.cell_voltage_v


_Event = dict[str, Any]
_Item = tuple[datetime, str, "_Event | _Spawn"]


class _Spawn:
    """A further generator to merge into the stream from this point in time on."""

    __slots__ = ("gen",)

    def __init__(self, gen: Iterator[_Item]) -> None:
        self.gen = gen


class _Ctx:
    def __init__(
        self, rng: random.Random, cfg: DemoConfig, ents: list[_Ent], cutoff: datetime
    ) -> None:
        self.rng = rng
        self.cfg = cfg
        self.cutoff = cutoff
        self.by_role: dict[str, tuple[list[_Ent], list[float]]] = {}
        for role in {r for e in ents for r in e.roles}:
            members = [e for e in ents if role in e.roles]
            cum: list[float] = []
            total = 0.0
            for e in members:
                total += e.weight
                cum.append(total)
            self.by_role[role] = (members, cum)
        self.counters: dict[tuple[str, str], int] = {}

    def pick(self, rng: random.Random, role: str) -> _Ent:
        members, cum = self.by_role[role]
        return rng.choices(members, cum_weights=cum)[0]

    def pick_near(self, rng: random.Random, role: str, province: str) -> _Ent:
        members, _ = self.by_role[role]
        near = [e for e in members if e.province == province]
        if near and rng.random() < 0.8:
            return rng.choice(near)
        return self.pick(rng, role)

    def count(self, key: tuple[str, str], n: int = 1) -> int:
        """Reserve ``n`` numbers of the sequence ``key``; returns the first (from 0)."""
        first = self.counters.get(key, 0)
        self.counters[key] = first + n
        return first

    def run(self, maker: _Ent, level: str, letter: str, spec: str, day: date, n: int) -> _Run:
        """Reserve ``n`` new codes of one level under one prefix.

        The traceability field carries the counter's high part, so codes stay unique however
        many a maker issues (the serial alone has 7 digits); a run never straddles two.
        """
        key = (maker.codes[0], level)
        first = self.count(key, n)
        if first // _SERIALS != (first + n - 1) // _SERIALS:
            first = self.count(key, n)
        high, rest = divmod(first, _SERIALS)
        serial = rest + 1  # serials run 1-9999999 (china-regulation §1.3)
        prefix = format_battery_code(
            maker.codes[0], level, letter, spec, f"L1{high:05d}", day, serial
        )[:17]
        return _Run(prefix, serial, n)

    def doc_no(self, ent: _Ent, kind: str) -> str:
        return f"{ent.uscc[8:16]}-{self.count((ent.uscc, kind)) + 1:07d}"


def _later(rng: random.Random, t: datetime, lo: int, hi: int) -> datetime:
    """A working-hours time ``lo``–``hi`` days after ``t`` (always after it)."""
    day = t.date() + timedelta(days=rng.randint(lo, max(lo, hi)))
    out = datetime(day.year, day.month, day.day, 8, tzinfo=CST) + timedelta(
        seconds=rng.randrange(9 * 3600)
    )
    return out if out > t else t + timedelta(minutes=rng.randint(10, 120))


def _lfp_share(year: int) -> float:
    return LFP_SHARE[min(max(year, min(LFP_SHARE)), max(LFP_SHARE))]


def _new_pack(ctx: _Ctx, rng: random.Random, maker: _Ent, chem: Chemistry, day: date) -> _Pack:
    cfg = ctx.cfg
    n_mod = rng.randint(*cfg.modules_per_pack)
    n_cell = rng.randint(*cfg.cells_per_module)
    cell_ah = round(rng.uniform(*chem.cell_ah), 1)
    energy = n_mod * n_cell * chem.cell_voltage_v * cell_ah / 1000.0
    cell_spec = f"{int(cell_ah) // 10 % 100:02d}"
    # Serials are reserved now; the codes are built when events name them (100+ cells a pack).
    cells = ctx.run(maker, "C", chem.letter, cell_spec, day, n_mod * n_cell)
    modules = ctx.run(maker, "M", chem.letter, f"{n_cell:02d}", day, n_mod)
    pack = ctx.run(maker, "P", chem.letter, f"{n_mod:02d}", day, 1).codes()[0]
    return _Pack(
        code=pack,
        cells=cells,
        modules_run=modules,
        cells_per_module=n_cell,
        chem=chem,
        maker=maker,
        cell_ah=cell_ah,
        energy_kwh=round(energy, 2),
        mass_kg=round(energy * chem.pack_kg_per_kwh, 1),
    )


def _attrs(pack: _Pack, level: str) -> dict[str, Any]:
    chem = pack.chem
    module_mass = pack.mass_kg * MODULE_MASS_SHARE / pack.n_modules
    if level == "C":
        n, mass = 1, module_mass * CELL_MASS_SHARE / pack.cells_per_module
    elif level == "M":
        n, mass = pack.cells_per_module, module_mass
    else:
        n, mass = pack.n_cells, pack.mass_kg
    volts = n * chem.cell_voltage_v
    return {
        b.CHEMISTRY: chem.name,
        b.RATED_CAPACITY_AH: pack.cell_ah,
        b.RATED_ENERGY_KWH: round(volts * pack.cell_ah / 1000.0, 3),
        b.MASS_KG: round(mass, 2),
        b.NOMINAL_VOLTAGE_V: round(volts, 1),
    }


def _produce(pack: _Pack, t: datetime) -> Iterator[_Item]:
    """Production day at the battery maker: commission cells, modules, pack; assemble."""
    maker = pack.maker
    who = maker.uscc
    cell_site, pack_site = maker.sites[0], maker.sites[-1]
    n = pack.cells_per_module
    cells = pack.cells.codes()
    yield t, who, b.commission(cells, site=cell_site, time=t, attributes=_attrs(pack, "C"))
    del cells
    modules = pack.modules
    t += timedelta(minutes=60)
    yield t, who, b.commission(modules, site=pack_site, time=t, attributes=_attrs(pack, "M"))
    for j, module in enumerate(modules):
        t += timedelta(minutes=2)
        children = pack.cells.codes(j * n, (j + 1) * n)
        yield t, who, b.assemble(module, children, site=pack_site, time=t)
    t += timedelta(minutes=60)
    yield t, who, b.commission(pack.code, site=pack_site, time=t, attributes=_attrs(pack, "P"))
    t += timedelta(minutes=10)
    yield t, who, b.assemble(pack.code, modules, site=pack_site, time=t)


def _ship(
    ctx: _Ctx,
    rng: random.Random,
    codes: list[str],
    src: _Ent,
    dst: _Ent,
    t: datetime,
    receipt: str = "receive",
) -> Iterator[_Item]:
    """Shipping by ``src`` and receipt (or collection) by ``dst``; ends at the receipt time."""
    no = ctx.doc_no(src, "desadv")
    yield (
        t,
        src.uscc,
        b.ship(codes, sender=src.party, receiver=dst.party, site=src.sites[-1], time=t, desadv=no),
    )
    t = _later(rng, t, 1, 5)
    if receipt == "collect":
        yield (
            t,
            dst.uscc,
            b.collect(codes, site=dst.sites[0], time=t, sender=src.party, receiver=dst.party),
        )
    else:
        yield (
            t,
            dst.uscc,
            b.receive(
                codes, site=dst.sites[0], time=t, sender=src.party, receiver=dst.party, desadv=no
            ),
        )


def _pack_life(ctx: _Ctx, t0: datetime) -> Iterator[_Item]:
    # One generator for everything: the merge order is deterministic, and a Random per pack
    # would cost 2.5 kB for every pack that still has events ahead.
    rng = ctx.rng
    cfg = ctx.cfg
    chem = LFP if rng.random() < _lfp_share(t0.year) else NCM
    maker = ctx.pick(rng, "battery_maker")
    pack = _new_pack(ctx, rng, maker, chem, t0.date())
    t = t0
    for item in _produce(pack, t0):
        t = item[0]
        yield item

    oem = ctx.pick(rng, "importer" if rng.random() < cfg.import_share else "automaker")
    t = _later(rng, t, 2, 15)
    for item in _ship(ctx, rng, [pack.code], maker, oem, t):
        t = item[0]
        yield item
    t = _later(rng, t, 1, 20)
    serial = ctx.count((oem.uscc, f"vin{t.year}"))
    vin = make_vin(
        oem.wmi,
        "EV" + chem.letter + "A1",
        _VIN_YEARS[(t.year - 2010) % 30],
        "A",
        serial % 999_999 + 1,
    )
    vehicle = vehicle_uri(vin)
    yield t, oem.uscc, b.install(pack.code, vin, site=oem.sites[0], time=t)
    dealer = ctx.pick(rng, "dealer")
    t = _later(rng, t, 1, 10)
    for item in _ship(ctx, rng, [vehicle, pack.code], oem, dealer, t):
        t = item[0]
        yield item
    t = _later(rng, t, 3, 60)
    yield (
        t,
        dealer.uscc,
        b.sell(vin, pack.code, site=dealer.sites[0], time=t, invoice=ctx.doc_no(dealer, "inv")),
    )
    yield from _in_service(ctx, rng, vin, pack, dealer, t)


def _in_service(
    ctx: _Ctx, rng: random.Random, vin: str, pack: _Pack, dealer: _Ent, sold: datetime
) -> Iterator[_Item]:
    cfg = ctx.cfg
    left = (ctx.cutoff - sold).days
    scrap_at: datetime | None = None
    if left > 400 and rng.random() < cfg.end_of_life_share:
        scrap_at = _later(rng, sold, 180, left - 200)
    window = ((scrap_at or ctx.cutoff) - sold).days
    plan: list[tuple[datetime, str]] = []
    if window > 120 and rng.random() < cfg.replacement_share:
        when = _later(rng, sold, 60, window - 45)
        plan.append((when, "replace"))
        plan.append((when - timedelta(days=rng.randint(20, 35)), "spare"))
    if window > 90 and rng.random() < cfg.repair_share:
        when = _later(rng, sold, 30, window - 45)
        if all(abs((when - w).days) > 2 for w, k in plan if k == "replace"):
            plan.append((when, "repair"))
    plan.sort()

    current = pack
    spare: _Pack | None = None
    shop: _Ent | None = None
    for when, kind in plan:
        if kind == "repair":
            fixer = ctx.pick_near(rng, "repairer", dealer.province)
            yield when, fixer.uscc, b.repair(current.code, vin=vin, site=fixer.sites[0], time=when)
        elif kind == "spare":
            swap = rng.random() < cfg.swap_share
            shop = (
                ctx.pick(rng, "swap_operator")
                if swap
                else ctx.pick_near(rng, "repairer", dealer.province)
            )
            spare = _new_pack(ctx, rng, current.maker, current.chem, when.date())
            yield when, "", _Spawn(_spare(ctx, rng, spare, shop, when))
        elif spare is not None and shop is not None:  # replace
            site = shop.sites[rng.randrange(len(shop.sites))]
            yield when, shop.uscc, b.remove(current.code, vin, site=site, time=when)
            t = when + timedelta(minutes=30)
            yield t, shop.uscc, b.replace(spare.code, vin, site=site, time=t)
            t += timedelta(minutes=60)
            yield t, shop.uscc, b.retire(current.code, site=site, time=t)
            yield t, "", _Spawn(_end_of_life(ctx, rng, current, current.code, shop, t))
            current = spare

    if scrap_at is None:
        return
    dis = ctx.pick_near(rng, "dismantler", dealer.province)
    site = dis.sites[0]
    cert = f"{dis.uscc[8:16]}-{scrap_at.year}-{ctx.count((dis.uscc, 'cert')) + 1:06d}"
    yield (
        scrap_at,
        dis.uscc,
        b.scrap_vehicle(vin, site=site, time=scrap_at, certificate=cert, pack=current.code),
    )
    t = _later(rng, scrap_at, 1, 10)
    yield t, dis.uscc, b.remove(current.code, vin, site=site, time=t, disposition=None)
    t += timedelta(minutes=60)
    yield t, dis.uscc, b.retire(current.code, site=site, time=t)
    yield from _end_of_life(ctx, rng, current, current.code, dis, t)


def _spare(
    ctx: _Ctx, rng: random.Random, pack: _Pack, shop: _Ent, day: datetime
) -> Iterator[_Item]:
    """A replacement pack made by the same maker and shipped to the workshop in time."""
    t = datetime(day.year, day.month, day.day, 8, tzinfo=CST) + timedelta(
        seconds=rng.randrange(4 * 3600)
    )
    t = max(t, day)
    for item in _produce(pack, t):
        t = item[0]
        yield item
    yield from _ship(ctx, rng, [pack.code], pack.maker, shop, _later(rng, t, 2, 6))


def _end_of_life(
    ctx: _Ctx, rng: random.Random, pack: _Pack, code: str, holder: _Ent, t: datetime
) -> Iterator[_Item]:
    """From the retired pack at ``holder`` to cascade use, recycling or disposal."""
    cfg = ctx.cfg
    if rng.random() < cfg.outlet_share:
        outlet = ctx.pick_near(rng, "recycling_outlet", holder.province)
        for item in _ship(ctx, rng, [code], holder, outlet, _later(rng, t, 2, 20), "collect"):
            t = item[0]
            yield item
        holder = outlet
    if rng.random() < cfg.cascade_share:
        user = ctx.pick(rng, "cascade_user")
        for item in _ship(ctx, rng, [code], holder, user, _later(rng, t, 5, 40)):
            t = item[0]
            yield item
        holder = user
        soh = rng.triangular(*cfg.soh_at_retirement)
        rated = pack.cell_ah
        dcir = pack.n_cells * rng.uniform(*CELL_DCIR_MOHM) * (1.0 + 2.0 * (1.0 - soh / 100.0))
        keep = soh >= cfg.cascade_min_soh
        t = _later(rng, t, 1, 10)
        yield (
            t,
            user.uscc,
            b.inspect(
                code,
                capacity_ah=rated * soh / 100.0,
                rated_ah=rated,
                resistance_mohm=dcir,
                voltage_v=pack.voltage_v * rng.uniform(0.96, 1.02),
                soh_pct=soh,
                site=user.sites[0],
                time=t,
                disposition="conformant" if keep else "non_conformant",
            ),
        )
        if keep:
            yield from _cascade(ctx, rng, pack, code, user, soh, t)
            return
    yield from _recycle(ctx, rng, pack, code, holder, t)


def _cascade(
    ctx: _Ctx, rng: random.Random, pack: _Pack, code: str, user: _Ent, soh: float, t: datetime
) -> Iterator[_Item]:
    t = _later(rng, t, 3, 20)
    serial = ctx.count((user.codes[0], "R")) % _SERIALS + 1
    new = format_cascade_code(user.codes[0], "P", pack.chem.letter, "S1", t.date(), serial)
    attrs = _attrs(pack, "P")
    attrs[b.RATED_CAPACITY_AH] = round(pack.cell_ah * soh / 100.0, 1)  # newly calibrated
    attrs[b.RATED_ENERGY_KWH] = round(pack.energy_kwh * soh / 100.0, 2)
    attrs["application"] = "energy_storage"
    yield t, user.uscc, b.recode(code, new, site=user.sites[0], time=t, attributes=attrs)
    left = (ctx.cutoff - t).days
    if left > 400 and rng.random() < ctx.cfg.cascade_end_share:
        t = _later(rng, t, 300, left - 60)
        yield t, user.uscc, b.retire(new, site=user.sites[0], time=t)
        yield from _recycle(ctx, rng, pack, new, user, t)


def _recycle(
    ctx: _Ctx, rng: random.Random, pack: _Pack, code: str, holder: _Ent, t: datetime
) -> Iterator[_Item]:
    """Recycler: receive, then destroy or dismantle into modules + parts and recycle those."""
    if "recycler" in holder.roles:
        rec = holder
    else:
        rec = ctx.pick(rng, "recycler")
        for item in _ship(ctx, rng, [code], holder, rec, _later(rng, t, 3, 30)):
            t = item[0]
            yield item
    site = rec.sites[-1]
    if rng.random() < ctx.cfg.disposal_share:
        t = _later(rng, t, 3, 30)
        yield t, rec.uscc, b.dispose(code, site=site, time=t)
        return
    module_kg = pack.mass_kg * MODULE_MASS_SHARE
    housing_kg = pack.mass_kg - module_kg
    t = _later(rng, t, 5, 60)
    parts = {name: housing_kg * share for name, share in HOUSING_SPLIT.items()}
    modules = pack.modules
    yield t, rec.uscc, b.dismantle(code, modules, site=site, time=t, parts_kg=parts)
    t = _later(rng, t, 1, 30)
    yield t, rec.uscc, b.recycle(modules, _materials(pack, module_kg), site=site, time=t)


def _materials(pack: _Pack, module_kg: float) -> dict[str, float]:
    """Material lots from the modules (kg): black mass and copper per kWh, the rest split."""
    kwh = pack.energy_kwh
    black = kwh * pack.chem.black_mass_kg_per_kwh
    copper = kwh * pack.chem.copper_kg_per_kwh
    rest = max(0.0, module_kg - black - copper)
    out = {"black_mass": black, "copper": copper}
    for name, share in MODULE_REST_SPLIT.items():
        out[name] = rest * share
    return out


# --- the stream --------------------------------------------------------------------------------


def _production_times(rng: random.Random, packs: int, start: date, end: date) -> Iterator[datetime]:
    """``packs`` production start times in [start, end), weighted by NEV sales per year."""
    days = (end - start).days
    cum = [0.0]
    for d in range(days):
        year = (start + timedelta(days=d)).year
        weight = NEV_SALES[min(max(year, min(NEV_SALES)), max(NEV_SALES))]
        cum.append(cum[-1] + weight / (366 if year % 4 == 0 else 365))
    total = cum[-1]
    draws = sorted(rng.random() * total for _ in range(packs))
    for u in draws:
        d = min(bisect_right(cum, u) - 1, days - 1)
        frac = (u - cum[d]) / (cum[d + 1] - cum[d])
        day = start + timedelta(days=d)
        # Monotonic in u, so the stream of start times stays sorted; 08:00-12:00.
        yield datetime(day.year, day.month, day.day, 8, tzinfo=CST) + timedelta(
            seconds=int(frac * 4 * 3600)
        )


def _sources(ctx: _Ctx, times: Iterator[datetime]) -> Iterator[_Item]:
    for t0 in times:
        yield t0, "", _Spawn(_pack_life(ctx, t0))


def _merge(ctx: _Ctx, source: Iterator[_Item]) -> Iterator[tuple[str, _Event]]:
    """Merge every generator's items by time; stop each one at the cut-off (``end``)."""
    heap: list[tuple[datetime, int, str, _Event | _Spawn, Iterator[_Item]]] = []
    seq = 0
    cutoff = ctx.cutoff

    def push(gen: Iterator[_Item]) -> None:
        nonlocal seq
        item = next(gen, None)
        if item is None or item[0] >= cutoff:
            return  # finished, or everything after this lies beyond the end of the data
        seq += 1
        heapq.heappush(heap, (item[0], seq, item[1], item[2], gen))

    push(source)
    while heap:
        _, _, who, payload, gen = heapq.heappop(heap)
        if isinstance(payload, _Spawn):
            push(payload.gen)
        else:
            yield who, payload
        push(gen)


def generate(
    packs: int,
    seed: int,
    start: date = date(2019, 1, 1),
    end: date = date(2025, 12, 31),
    *,
    config: DemoConfig | None = None,
) -> DemoData:
    """Enterprises and a chronological event stream for ``packs`` packs, deterministic in ``seed``.

    Packs are produced in [start, end) weighted by NEV sales; ``end`` is the data's "today":
    every event lies before ``end`` 00:00 (+08:00), and lifecycles are cut there.
    """
    if packs < 0:
        raise ValueError("packs must not be negative")
    if end <= start:
        raise ValueError("end must be after start")
    cfg = config or DemoConfig()
    rng = random.Random(seed)
    records, ents = _enterprises(rng)
    cutoff = datetime(end.year, end.month, end.day, tzinfo=CST)
    ctx = _Ctx(random.Random(rng.getrandbits(64)), cfg, ents, cutoff)
    times = _production_times(random.Random(rng.getrandbits(64)), packs, start, end)
    return DemoData(
        packs=packs,
        seed=seed,
        start=start,
        end=end,
        config=cfg,
        enterprises=records,
        events=_merge(ctx, _sources(ctx, times)),
    )


__all__ = ["DemoConfig", "DemoData", "generate"]
