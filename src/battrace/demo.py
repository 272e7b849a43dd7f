"""Deterministic synthetic demo data: enterprises of every role and battery lifecycles as events.

``generate(packs, seed)`` is pure (no I/O, no database, no global random state): it returns the
enterprise records and a lazy stream of ``(reporting USCC, EPCIS event dict)`` in chronological
order. The lifecycle machinery is the simulator's engine (:mod:`battrace.simulate.engine`, shared
with ``battrace simulate``); this module supplies the demo's fixed cast of enterprises, its two
chemistries and its compressed lives. Deferred work stays in memory here (a demo is small); the
stream is lazy, ``packs=100_000`` streams fine.

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

import random
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from battrace.domain.identities.uscc import make_uscc
from battrace.simulate.engine import (
    CST,
    Chemistry,
    Design,
    Engine,
    Ent,
    Episode,
    Flows,
    Pack,
    later,
    make_ent,
    merge,
    sources,
)

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


# NCM is modelled as NMC811, the BatPaC row closest to current Chinese ternary packs.
LFP = Chemistry("LFP", "B", 3.2, (100.0, 230.0), 6.66, 2.00 + 0.955, 0.566)
NCM = Chemistry("NCM", "E", 3.65, (60.0, 180.0), 4.99, 1.30 + 0.854, 0.364)
CHEMISTRIES = {"LFP": LFP, "NCM": NCM}


#: Whitelist batches (china-regulation §3.3): batch 1 date and batch 4 (draft list) date are
#: sourced; the others are placeholders for the demo.
WHITELIST_BATCH_DATES = {
    1: date(2018, 9, 3),
    2: date(2020, 12, 15),
    3: date(2021, 12, 20),
    4: date(2022, 11, 16),
    5: date(2024, 6, 28),
}


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


def _enterprises(rng: random.Random) -> tuple[list[dict[str, Any]], list[Ent]]:
    records: list[dict[str, Any]] = []
    ents: list[Ent] = []
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
            make_ent(
                len(ents),
                uscc,
                cast.division[:2],
                cast.roles,
                cast.sites,
                codes=cast.codes,
                wmi=cast.wmi,
                weight=cast.weight,
            )
        )
    return records, ents


# --- packs and lives --------------------------------------------------------------------------


def _lfp_share(year: int) -> float:
    return LFP_SHARE[min(max(year, min(LFP_SHARE)), max(LFP_SHARE))]


class _DemoPopulation:
    """Two chemistries, random pack shapes, and compressed lives that reach every stage."""

    def __init__(self, cfg: DemoConfig) -> None:
        self.cfg = cfg

    def design(self, eng: Engine, rng: random.Random, t0: datetime) -> Design:
        cfg = self.cfg
        chem = "LFP" if rng.random() < _lfp_share(t0.year) else "NCM"
        maker = eng.pick(rng, "battery_maker")
        n_mod = rng.randint(*cfg.modules_per_pack)
        n_cell = rng.randint(*cfg.cells_per_module)
        cell_ah = round(rng.uniform(*CHEMISTRIES[chem].cell_ah), 1)
        return Design(chem, maker, n_mod, n_cell, cell_ah)

    def service(self, eng: Engine, rng: random.Random, pack: Pack, sold: datetime) -> list[Episode]:
        cfg = self.cfg
        left = (eng.cutoff - sold).days
        scrap_at: datetime | None = None
        if left > 400 and rng.random() < cfg.end_of_life_share:
            scrap_at = later(rng, sold, 180, left - 200)
        window = ((scrap_at or eng.cutoff) - sold).days
        plan: list[Episode] = []
        if window > 120 and rng.random() < cfg.replacement_share:
            when = later(rng, sold, 60, window - 45)
            plan.append(Episode(when, "replace", swap=rng.random() < cfg.swap_share))
        if window > 90 and rng.random() < cfg.repair_share:
            when = later(rng, sold, 30, window - 45)
            if all(abs((when - e.when).days) > 40 for e in plan):
                plan.append(Episode(when, "repair"))
        plan.sort(key=lambda e: e.when)
        if scrap_at is not None:
            plan.append(Episode(scrap_at, "scrap"))
        return plan

    def cascade_end(self, eng: Engine, rng: random.Random, start: datetime) -> datetime | None:
        left = (eng.cutoff - start).days
        if left > 400 and rng.random() < self.cfg.cascade_end_share:
            return later(rng, start, 300, left - 60)
        return None


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
    flows = Flows(
        import_share=cfg.import_share,
        swap_share=cfg.swap_share,
        outlet_share=cfg.outlet_share,
        cascade_share=cfg.cascade_share,
        cascade_min_soh=cfg.cascade_min_soh,
        soh_at_retirement=cfg.soh_at_retirement,
        disposal_share=cfg.disposal_share,
    )
    eng = Engine(
        rng=random.Random(rng.getrandbits(64)),
        ents=ents,
        chemistries=CHEMISTRIES,
        population=_DemoPopulation(cfg),
        flows=flows,
        cutoff=cutoff,
    )
    times = _production_times(random.Random(rng.getrandbits(64)), packs, start, end)
    stream = (
        (who, event) for _, who, event, _ in merge(eng, sources(eng, times)) if event is not None
    )
    return DemoData(
        packs=packs,
        seed=seed,
        start=start,
        end=end,
        config=cfg,
        enterprises=records,
        events=stream,
    )


__all__ = ["CST", "DemoConfig", "DemoData", "generate"]
