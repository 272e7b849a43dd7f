"""A small world for the regulation-engine tests, and the tests of that world itself.

* a cast of enterprises of every role, with outlet sites, whitelist qualifications and provinces;
* a local rulebook that confirms the periods the packaged rulebooks leave UNCONFIRMED (follow-up
  and collection periods), exactly as an operator would (docs/rules.md);
* :class:`World`: a ledger with the engine attached, capturing events with explicit record times
  (the operator import path), so every test controls "when the platform learnt it";
* :func:`generate`: battery lifecycles reported on time, with each violation kind injected at a
  given rate and the ground truth returned separately (independent of ``battrace simulate``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from battrace.domain.epcis.document import DEFAULT_CONTEXT
from battrace.domain.identities.gbt34014 import format_battery_code
from battrace.domain.identities.uscc import make_uscc
from battrace.domain.identities.vin import make_vin
from battrace.domain.lifecycle import builders as b
from battrace.domain.rules import RuleSet, load_rulebooks
from battrace.domain.supervision.clock import us_of
from battrace.persistence.base import Store
from battrace.services import alerts as engine
from battrace.services import enterprises as registry
from battrace.services.capture import CaptureResult, Ledger, Submission

CST = timezone(timedelta(hours=8))

MAKER = make_uscc("350900", "58752778")
AUTOMAKER = make_uscc("440300", "19234567")
OTHER_AUTOMAKER = make_uscc("310115", "19234568")
DEALER = make_uscc("440300", "27654321")
REPAIRER = make_uscc("440300", "28654321")
SWAP = make_uscc("110108", "29654321")
DISMANTLER = make_uscc("320500", "31234567")
BIG_OUTLET = make_uscc("320500", "41234567")  # centralized storage, 1,000 t registered
SMALL_OUTLET = make_uscc("320100", "42234567")  # collection type (≤ 5 t), shared
OTHER_OUTLET = make_uscc("330100", "43234567")  # outlet of OTHER_AUTOMAKER only
CASCADE = make_uscc("430100", "51234567")
UNQUALIFIED_CASCADE = make_uscc("430100", "52234567")
RECYCLER = make_uscc("430100", "61234567")
UNQUALIFIED_RECYCLER = make_uscc("360700", "62234567")
MIIT = make_uscc("110000", "00000001", "1", "1")
GD_REGULATOR = make_uscc("440000", "00000002", "1", "1")
JS_REGULATOR = make_uscc("320000", "00000003", "1", "1")

WHITELISTED = [{"kind": "recycling", "batch": 1, "date": "2018-09-03"}]
CASCADE_OK = [{"kind": "cascade_use", "batch": 2, "date": "2020-12-15"}]

CAST: list[dict[str, Any]] = [
    {"uscc": MAKER, "name_zh": "电池", "roles": "battery_maker", "manufacturer_codes": "ABC",
     "sites": "plant"},
    {"uscc": AUTOMAKER, "name_zh": "汽车", "roles": "automaker", "sites": "line"},
    {"uscc": OTHER_AUTOMAKER, "name_zh": "另一汽车", "roles": "automaker", "sites": "line"},
    {"uscc": DEALER, "name_zh": "经销", "roles": "dealer", "sites": "shop"},
    {"uscc": REPAIRER, "name_zh": "维修", "roles": "repairer", "sites": "ws"},
    {"uscc": SWAP, "name_zh": "换电", "roles": "swap_operator", "sites": "st"},
    {"uscc": DISMANTLER, "name_zh": "拆解", "roles": "dismantler", "sites": "yard"},
    {"uscc": BIG_OUTLET, "name_zh": "集中贮存网点", "roles": "recycling_outlet",
     "sites": [{"id": "depot", "outlet_type": "centralized", "capacity_t": 1000}]},
    {"uscc": SMALL_OUTLET, "name_zh": "收集网点", "roles": "recycling_outlet",
     "sites": [{"id": "depot", "outlet_type": "collection"}]},
    {"uscc": OTHER_OUTLET, "name_zh": "他厂网点", "roles": "recycling_outlet",
     "sites": [{"id": "depot", "serves": [OTHER_AUTOMAKER]}]},
    {"uscc": CASCADE, "name_zh": "梯次", "roles": "cascade_user", "manufacturer_codes": "CAS",
     "sites": "works", "qualifications": CASCADE_OK},
    {"uscc": UNQUALIFIED_CASCADE, "name_zh": "无资质梯次", "roles": "cascade_user",
     "sites": "works"},
    {"uscc": RECYCLER, "name_zh": "再生", "roles": "recycler", "sites": "plant",
     "qualifications": WHITELISTED},
    {"uscc": UNQUALIFIED_RECYCLER, "name_zh": "无资质再生", "roles": "recycler",
     "sites": "plant"},
    {"uscc": MIIT, "name_zh": "工业和信息化部", "roles": "regulator_national", "province": "11"},
    {"uscc": GD_REGULATOR, "name_zh": "广东省工信厅", "roles": "regulator_provincial"},
    {"uscc": JS_REGULATOR, "name_zh": "江苏省工信厅", "roles": "regulator_provincial"},
]  # fmt: skip

#: Periods the packaged rulebooks leave UNCONFIRMED, confirmed here as an operator would.
LOCAL_RULES = """
[rulebook]
schema = 1
id = "test-local"
title_zh = "测试用本地规则"
title_en = "Local rules for tests"

[documents.local]
title_zh = "本地监管细则（测试）"
title_en = "Local supervision rules (test)"
number = "测试〔2026〕1号"

[[rule]]
id = "cn-assumption-dismantler-battery-follow-up"
version = 2
title_zh = "拆解企业：接收报废车辆后10个工作日内移出电池"
title_en = "Dismantler: ship the battery within 10 working days of receiving the vehicle"
kind = "follow_up_period"
actor = "dismantler"
trigger = "receiving"
alert_kind = "missing-follow-up"
valid_from = 2018-08-01
confidence = "official"
source = { document = "local", article = "Art. 1" }
parameters = { period_days = 10, day_basis = "working_days", follow_up_trigger = "shipping" }

[[rule]]
id = "cn-assumption-outlet-follow-up"
version = 2
title_zh = "回收服务网点：入库后20个工作日内出库"
title_en = "Outlet: ship on within 20 working days of receipt"
kind = "follow_up_period"
actor = "recycling_outlet"
trigger = "receiving"
alert_kind = "missing-follow-up"
valid_from = 2018-08-01
confidence = "official"
source = { document = "local", article = "Art. 2" }
parameters = { period_days = 20, day_basis = "working_days", follow_up_trigger = "shipping" }

[[rule]]
id = "local-recycler-follow-up"
version = 1
title_zh = "再生利用企业：接收后30个工作日内完成再生利用或处置"
title_en = "Recycler: recycle or dispose within 30 working days of receipt"
kind = "follow_up_period"
actor = "recycler"
trigger = "receiving"
alert_kind = "missing-follow-up"
valid_from = 2018-08-01
confidence = "official"
source = { document = "local", article = "Art. 3" }
parameters = { period_days = 30, day_basis = "working_days", follow_up_trigger = "recycling" }

[[rule]]
id = "cn-2018-measures-retired-not-collected"
version = 2
title_zh = "退役电池60日内进入回收渠道"
title_en = "A retired battery reaches a recycling channel within 60 days"
kind = "collection_period"
actor = "automaker"
trigger = "removing"
alert_kind = "retired-not-collected"
valid_from = 2018-08-01
confidence = "official"
source = { document = "local", article = "Art. 4" }
parameters = { period_days = 60, day_basis = "calendar_days" }
"""


def local_rules(tmp_path: Path) -> RuleSet:
    path = tmp_path / "local.toml"
    path.write_text(LOCAL_RULES, encoding="utf-8")
    return load_rulebooks([path])


def site(uscc: str) -> str:
    entry = next(e for e in CAST if e["uscc"] == uscc)
    sites = entry["sites"]
    local = sites if isinstance(sites, str) else sites[0]["id"]
    return b.site_uri(uscc, local)


def cst(y: int, m: int, d: int, h: int = 10, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=CST)


def pack_code(serial: int, maker: str = "ABC", day: date = date(2026, 3, 1)) -> str:
    return format_battery_code(maker, "P", "B", "01", "A1B2C3D", day, serial)


def vin(serial: int) -> str:
    return make_vin("LSV", "AB123", "T", "A", serial)


@dataclass
class World:
    store: Store
    rules: RuleSet
    ledger: Ledger = field(init=False)
    observer: engine.CaptureObserver = field(init=False)

    def __post_init__(self) -> None:
        registry.register(self.store, CAST)
        self.observer = engine.CaptureObserver(self.rules)
        self.ledger = Ledger(self.store, observers=[self.observer])

    def capture(
        self, at: datetime, *batches: tuple[str, Sequence[dict[str, Any]]]
    ) -> list[CaptureResult]:
        """Capture in one transaction, recorded at ``at`` (the operator import path)."""
        subs = [
            Submission(who, DEFAULT_CONTEXT, list(evs), [orjson.dumps(e).decode() for e in evs])
            for who, evs in batches
            if evs
        ]
        results = self.ledger.capture_many(subs, imported=True, record_time=at)
        problems = [p for r in results for p in r.rejected]
        assert not problems, problems
        return results

    def alerts(self, now: datetime, **filters: Any) -> list[engine.Alert]:
        return engine.list_alerts(
            self.store,
            engine.Scope.everything(),
            engine.AlertFilter(**filters),
            now=us_of(now),
        )


# --------------------------------------------------------------------------------------------
# Lifecycles with injected violations
# --------------------------------------------------------------------------------------------

KINDS = (
    "late-report",
    "missing-follow-up",
    "unqualified-transfer",
    "outlet-over-capacity",
    "battery-missing-at-scrapping",
    "retired-not-collected",
    "unreported-source",
    "code-not-registered",
    "mass-balance",
)
BURST = 20  # packs collected together to push a collection outlet over 5 t (20 × 300 kg)
PACK_KG = 300.0


@dataclass
class Generated:
    #: (record time, reporter, event) in any order; :func:`load` captures them by record day.
    events: list[tuple[datetime, str, dict[str, Any]]]
    #: ground truth: (alert kind, subject as the alert names it), one entry per expected alert
    truth_list: list[tuple[str, str]]
    packs: int

    @property
    def truth(self) -> set[tuple[str, str]]:
        return set(self.truth_list)


def _record(t: datetime) -> datetime:
    """Reported the same day, at 20:00 China time."""
    return datetime(t.year, t.month, t.day, 20, tzinfo=CST)


def generate(packs: int, rate: float, seed: int) -> Generated:
    """``packs`` normal lifecycles plus, per violation kind, ``round(rate * packs)`` injections.

    Each injection is built so that it causes exactly one alert of its kind and nothing else
    (see the comments); outlet-over-capacity injections are bursts of 20 packs.
    """
    rng = random.Random(seed)
    out: list[tuple[datetime, str, dict[str, Any]]] = []
    truth: list[tuple[str, str]] = []
    serial = iter(range(1, 10**6))
    start = date(2026, 4, 6)

    def emit(t: datetime, who: str, ev: dict[str, Any], recorded: datetime | None = None) -> None:
        out.append((recorded or _record(t), who, ev))

    def make_pack(d: date, maker_code: str = "ABC") -> tuple[str, str]:
        n = next(serial)
        code = pack_code(n, maker_code)
        v = vin(n)
        t = datetime(d.year, d.month, d.day, 9, tzinfo=CST)
        if maker_code == "ABC":
            emit(
                t,
                MAKER,
                b.commission(code, site=site(MAKER), time=t, attributes={"massKg": PACK_KG}),
            )
            t1 = t + timedelta(days=1)
            emit(
                t1, MAKER, b.ship(code, sender=MAKER, receiver=AUTOMAKER, site=site(MAKER), time=t1)
            )
            t2 = t + timedelta(days=2)
            emit(t2, AUTOMAKER, b.receive(code, site=site(AUTOMAKER), time=t2, sender=MAKER))
            t3 = t + timedelta(days=3)
            emit(t3, AUTOMAKER, b.install(code, v, site=site(AUTOMAKER), time=t3))
        return code, v

    def scrap_and_remove(
        code: str, v: str, d: date, *, late_days: int = 0, list_pack: bool = True
    ) -> datetime:
        t = datetime(d.year, d.month, d.day, 10, tzinfo=CST) + timedelta(days=30)
        recorded = _record(t) + timedelta(days=late_days) if late_days else None
        emit(
            t,
            DISMANTLER,
            b.scrap_vehicle(
                v,
                site=site(DISMANTLER),
                time=t,
                certificate=f"C{code[-7:]}",
                pack=code if list_pack else None,
            ),
            recorded,
        )
        if not list_pack:
            return t
        t1 = t + timedelta(days=1)
        emit(t1, DISMANTLER, b.remove(code, v, site=site(DISMANTLER), time=t1, disposition=None))
        t2 = t1 + timedelta(hours=1)
        emit(t2, DISMANTLER, b.retire(code, site=site(DISMANTLER), time=t2))
        return t2

    def to_outlet(code: str, t: datetime, outlet: str) -> datetime:
        t1 = t + timedelta(days=2)
        emit(
            t1,
            DISMANTLER,
            b.ship(code, sender=DISMANTLER, receiver=outlet, site=site(DISMANTLER), time=t1),
        )
        t2 = t1 + timedelta(days=2)
        emit(
            t2,
            outlet,
            b.collect(code, site=site(outlet), time=t2, sender=DISMANTLER, receiver=outlet),
        )
        return t2

    def to_recycler(
        codes: list[str], t: datetime, outlet: str, material: str = "black_mass", kg: float = 100.0
    ) -> None:
        t1 = t + timedelta(days=5)
        emit(
            t1, outlet, b.ship(codes, sender=outlet, receiver=RECYCLER, site=site(outlet), time=t1)
        )
        t2 = t1 + timedelta(days=2)
        emit(t2, RECYCLER, b.receive(codes, site=site(RECYCLER), time=t2, sender=outlet))
        t3 = t2 + timedelta(days=7)
        emit(
            t3,
            RECYCLER,
            b.recycle(codes, {material: kg * len(codes)}, site=site(RECYCLER), time=t3),
        )

    def day() -> date:
        return start + timedelta(days=rng.randrange(80))

    def normal(d: date, outlet: str = BIG_OUTLET) -> None:
        code, v = make_pack(d)
        t = scrap_and_remove(code, v, d)
        t = to_outlet(code, t, outlet)
        to_recycler([code], t, outlet)

    for _ in range(packs):
        normal(day())
    n = round(rate * packs)
    for _ in range(n):
        # late-report: the dismantler reports the scrapped vehicle 25 days (> 15 working days)
        # late; everything after it is reported on time.
        d = day()
        code, v = make_pack(d)
        t = scrap_and_remove(code, v, d, late_days=25)
        t = to_outlet(code, t, BIG_OUTLET)
        to_recycler([code], t, BIG_OUTLET)
        truth.append(("late-report", code))

        # missing-follow-up: the outlet collects the battery and never ships it on.
        d = day()
        code, v = make_pack(d)
        t = scrap_and_remove(code, v, d)
        to_outlet(code, t, BIG_OUTLET)
        truth.append(("missing-follow-up", code))

        # unqualified-transfer: the dismantler hands the battery to another automaker's outlet.
        d = day()
        code, v = make_pack(d)
        t = scrap_and_remove(code, v, d)
        t = to_outlet(code, t, OTHER_OUTLET)
        to_recycler([code], t, OTHER_OUTLET)
        truth.append(("unqualified-transfer", code))

        # battery-missing-at-scrapping: the vehicle is scrapped without its pack (2026 rule).
        d = day()
        code, v = make_pack(d)
        scrap_and_remove(code, v, d, list_pack=False)
        truth.append(("battery-missing-at-scrapping", v))

        # retired-not-collected: a repairer takes the pack out, retires it, and nothing follows.
        d = day()
        code, v = make_pack(d)
        t = datetime(d.year, d.month, d.day, 11, tzinfo=CST) + timedelta(days=20)
        emit(t, REPAIRER, b.remove(code, v, site=site(REPAIRER), time=t))
        emit(
            t + timedelta(hours=1),
            REPAIRER,
            b.retire(code, site=site(REPAIRER), time=t + timedelta(hours=1)),
        )
        truth.append(("retired-not-collected", code))

        # unreported-source: ... and a cascade user reports receiving it, with no sender and no
        # shipment to it on record (it is a recycling channel, so the battery counts as collected).
        d = day()
        code, v = make_pack(d)
        t = datetime(d.year, d.month, d.day, 11, tzinfo=CST) + timedelta(days=20)
        emit(t, REPAIRER, b.remove(code, v, site=site(REPAIRER), time=t))
        emit(
            t + timedelta(hours=1),
            REPAIRER,
            b.retire(code, site=site(REPAIRER), time=t + timedelta(hours=1)),
        )
        t2 = t + timedelta(days=5)
        emit(t2, CASCADE, b.receive(code, site=site(CASCADE), time=t2))
        truth.append(("unreported-source", code))

        # code-not-registered: a recycler receives and recycles a pack under an unknown maker code.
        d = day()
        code, _ = make_pack(d, maker_code="ZZZ")
        t = datetime(d.year, d.month, d.day, 11, tzinfo=CST) + timedelta(days=40)
        emit(t, RECYCLER, b.receive(code, site=site(RECYCLER), time=t))
        t2 = t + timedelta(days=3)
        emit(t2, RECYCLER, b.recycle([code], {"black_mass": 90.0}, site=site(RECYCLER), time=t2))
        truth.append(("code-not-registered", code))

        # mass-balance: the recycler reports 200 kg of copper out of a 300 kg LFP pack, far more
        # copper than such a pack holds; the alert is the recycler's (the event has no battery).
        d = day()
        code, v = make_pack(d)
        t = to_outlet(code, scrap_and_remove(code, v, d), BIG_OUTLET)
        to_recycler([code], t, BIG_OUTLET, material="copper", kg=200.0)
        truth.append(("mass-balance", RECYCLER))

    # outlet-over-capacity: bursts of 20 packs collected by the small outlet on one day (6 t > 5 t),
    # shipped on together a week later; bursts are a month apart so they never overlap.
    for k in range(n):
        d = start + timedelta(days=30 * k)
        codes = []
        for _ in range(BURST):
            code, v = make_pack(d)
            t = scrap_and_remove(code, v, d)
            to_outlet(code, t, SMALL_OUTLET)
            codes.append(code)
        burst_t = datetime(d.year, d.month, d.day, 10, tzinfo=CST) + timedelta(days=35, hours=2)
        to_recycler(codes, burst_t, SMALL_OUTLET)
        truth.append(("outlet-over-capacity", SMALL_OUTLET))
    return Generated(out, truth, packs)


def load(world: World, data: Generated) -> None:
    """Capture the generated events, one transaction per record time, in record-time order."""
    by_time: dict[datetime, dict[str, list[dict[str, Any]]]] = {}
    for recorded, who, ev in data.events:
        by_time.setdefault(recorded, {}).setdefault(who, []).append(ev)
    for recorded in sorted(by_time):
        world.capture(recorded, *by_time[recorded].items())


# --------------------------------------------------------------------------------------------
# Tests of the world itself
# --------------------------------------------------------------------------------------------


def test_generator_is_deterministic_and_counts_injections() -> None:
    a = generate(10, 0.2, seed=3)
    b2 = generate(10, 0.2, seed=3)
    assert [orjson.dumps(e) for _, _, e in a.events] == [orjson.dumps(e) for _, _, e in b2.events]
    kinds = sorted(k for k, _ in a.truth_list)
    assert all(kinds.count(k) == 2 for k in KINDS)  # two injections of each kind
    assert len({s for k, s in a.truth_list if k == "outlet-over-capacity"}) == 1  # one outlet


def test_generated_events_are_accepted_by_the_ledger(sqlite_store: Store, tmp_path: Path) -> None:
    world = World(sqlite_store, local_rules(tmp_path))
    data = generate(3, 0.0, seed=1)
    load(world, data)
    assert sqlite_store.head().event_count == len(data.events)
