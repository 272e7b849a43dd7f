"""Synthetic enterprises of every role, placed by province, sized to the simulated fleet.

Dealers, repairers, dismantlers and recycling service outlets are spread over the 31 mainland
provinces in proportion to the province's share of passenger NEV sales (every province has at
least one of each, so every vehicle finds them near home). Battery makers, automakers, cascade
users and recyclers sit in the provinces where the industry is (ASSUMPTION, from general
knowledge of the industry's geography; weights are not market data). Whitelisted recyclers carry
a registered treatment capacity (``qualifications[].capacity_t``, t/yr): the national 2024
whitelisted nominal capacity, 4.233 Mt (china-regulation §5), times the sample's scale factor.

Also: enterprises with a role but no whitelist qualification (picked only to inject an
``unqualified-transfer``) and one battery maker that is *not* registered (its codes inject
``code-not-registered``; it is not in the enterprise records).

Names are synthetic; any likeness to real companies is unintended.
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from battrace.domain.forecast import MAINLAND_PROVINCES, province_shares
from battrace.domain.identities.divisions import province_by_code
from battrace.domain.identities.uscc import make_uscc
from battrace.simulate.engine import Ent, make_ent

#: 2024 whitelisted nominal recycling capacity, t/yr (Greenpeace analysis cited by cinn.cn,
#: china-regulation §5; secondary).
NATIONAL_RECYCLING_CAPACITY_T = 4_233_000.0

#: Whitelist batch dates (china-regulation §3.3): batch 1 and batch 4 (draft list) are sourced,
#: the others are placeholders.
WHITELIST_BATCH_DATES = {
    1: date(2018, 9, 3),
    2: date(2020, 12, 15),
    3: date(2021, 12, 20),
    4: date(2022, 11, 16),
    5: date(2024, 6, 28),
}


@dataclass(frozen=True, slots=True)
class CastSize:
    """How many enterprises of each role (per-province roles: per unit of sales share)."""

    battery_makers: int
    automakers: int
    swap_operators: int
    cascade_users: int
    recyclers: int
    unqualified: int
    dealers_per_share: float
    repairers_per_share: float
    dismantlers_per_share: float
    outlets_per_share: float


SIZES = {
    "demo": CastSize(4, 5, 2, 3, 3, 2, 1, 1, 1, 1),
    "province": CastSize(8, 12, 4, 10, 8, 4, 60, 40, 30, 200),
    "national-sample": CastSize(12, 20, 6, 24, 16, 8, 400, 250, 150, 1200),
}

# Industry geography (ASSUMPTION): province code, weight.
_MAKERS = [
    ("35", 0.45), ("44", 0.25), ("32", 0.07), ("34", 0.06), ("51", 0.05), ("36", 0.04),
    ("42", 0.04), ("33", 0.04), ("37", 0.03), ("50", 0.03), ("43", 0.02), ("13", 0.02),
]  # fmt: skip
_AUTOMAKERS = [
    ("44", 0.22), ("31", 0.12), ("33", 0.10), ("34", 0.09), ("50", 0.07), ("45", 0.06),
    ("32", 0.06), ("11", 0.05), ("13", 0.04), ("42", 0.04), ("61", 0.04), ("41", 0.03),
    ("22", 0.02), ("35", 0.02), ("37", 0.02), ("51", 0.02), ("21", 0.02), ("12", 0.01),
    ("36", 0.01), ("43", 0.01),
]  # fmt: skip
_CASCADE = ["32", "44", "43", "33", "11", "31", "51", "42", "37", "34", "35", "36"]
_RECYCLERS = [
    ("36", 0.16), ("43", 0.14), ("42", 0.12), ("44", 0.12), ("33", 0.10), ("32", 0.07),
    ("35", 0.06), ("34", 0.05), ("37", 0.05), ("51", 0.04), ("41", 0.03), ("13", 0.02),
    ("45", 0.02), ("50", 0.02),
]  # fmt: skip
_SWAP = ["11", "31", "44", "33", "51", "32"]
_UNQUALIFIED = ["44", "36", "43", "32", "33", "41", "37", "51"]

_WORDS = (
    "华联", "瑞能", "众创", "恒通", "新源", "泰和", "博远", "中科", "永盛", "宏达", "安捷", "天合",
    "金诚", "嘉信", "鑫达", "联创", "东升", "海润", "佳宇", "盛世", "卓越", "华晨", "明阳", "锦程",
    "弘毅", "信达", "远景", "星辰", "广汇", "昌盛", "德润", "正阳", "启航", "鼎盛", "汇能", "智行",
)  # fmt: skip
_WORDS_EN = (
    "Hualian", "Ruineng", "Zhongchuang", "Hengtong", "Xinyuan", "Taihe", "Boyuan", "Zhongke",
    "Yongsheng", "Hongda", "Anjie", "Tianhe", "Jincheng", "Jiaxin", "Xinda", "Lianchuang",
    "Dongsheng", "Hairun", "Jiayu", "Shengshi", "Zhuoyue", "Huachen", "Mingyang", "Jincheng2",
    "Hongyi", "Xinda2", "Yuanjing", "Xingchen", "Guanghui", "Changsheng", "Derun", "Zhengyang",
    "Qihang", "Dingsheng", "Huineng", "Zhixing",
)  # fmt: skip

_ROLE_NAMES = {
    "battery_maker": ("动力电池有限公司", "Power Battery Co., Ltd.", ("cell1", "pack1")),
    "automaker": ("新能源汽车有限公司", "New Energy Vehicle Co., Ltd.", ("plant1",)),
    "importer": ("进口汽车贸易有限公司", "Imported Vehicle Trading Co., Ltd.", ("port1",)),
    "dealer": ("汽车销售服务有限公司", "Auto Sales Co., Ltd.", ("shop1",)),
    "repairer": ("新能源汽车维修有限公司", "NEV Repair Co., Ltd.", ("ws1",)),
    "swap_operator": ("换电科技有限公司", "Battery Swap Technology Co., Ltd.", ("st01", "st02")),
    "dismantler": ("报废汽车回收拆解有限公司", "ELV Dismantling Co., Ltd.", ("yard1",)),
    "recycling_outlet": ("电池回收服务有限公司", "Battery Take-back Co., Ltd.", ("depot1",)),
    "cascade_user": ("储能科技有限公司", "Energy Storage Technology Co., Ltd.", ("works1",)),
    "recycler": ("循环科技有限公司", "Recycling Technology Co., Ltd.", ("plant1",)),
}
_VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"


@dataclass(slots=True)
class Cast:
    records: list[dict[str, Any]]  # registry records (registered enterprises only)
    ents: list[Ent]  # every enterprise the generator knows, by index
    unregistered: list[Ent]  # the ones not in the registry


def _short(province: str) -> tuple[str, str]:
    p = province_by_code(province)
    assert p is not None
    zh = p.name_zh
    for suffix in ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "特别行政区", "省", "市"):
        if zh.endswith(suffix):
            zh = zh[: -len(suffix)]
            break
    return zh, p.name_en


def _spread(count: int, weighted: Sequence[tuple[str, float]]) -> list[str]:
    """``count`` provinces following the weights (largest first, cycling)."""
    provinces = [p for p, _ in sorted(weighted, key=lambda pw: -pw[1])]
    return [provinces[i % len(provinces)] for i in range(count)]


def build_cast(rng: random.Random, scale: str, scale_factor: float, year: int = 2023) -> Cast:
    size = SIZES[scale]
    shares = province_shares("passenger_bev", year)
    records: list[dict[str, Any]] = []
    ents: list[Ent] = []
    unregistered: list[Ent] = []
    used_uscc: set[str] = set()
    used_codes: set[str] = set()
    used_wmi: set[str] = set()
    names: dict[tuple[str, str], int] = {}

    def uscc(division: str, government: bool = False) -> str:
        while True:
            body = "".join(rng.choice(string.digits) for _ in range(8))
            code = make_uscc(division, body, "1", "1") if government else make_uscc(division, body)
            if code not in used_uscc:
                used_uscc.add(code)
                return code

    def mcode() -> str:
        while True:
            code = (
                rng.choice(string.ascii_uppercase)
                + rng.choice(string.digits)
                + rng.choice(string.ascii_uppercase)
            )
            if code not in used_codes:
                used_codes.add(code)
                return code

    def wmi(first: str) -> str:
        while True:
            code = first + rng.choice(_VIN_CHARS) + rng.choice(_VIN_CHARS)
            if code not in used_wmi:
                used_wmi.add(code)
                return code

    def add(
        province: str,
        roles: tuple[str, ...],
        *,
        weight: float = 1.0,
        codes: tuple[str, ...] = (),
        wmi_code: str = "",
        qualifications: list[dict[str, Any]] | None = None,
        registered: bool = True,
        qualified: bool = True,
    ) -> Ent:
        zh_p, en_p = _short(province)
        zh_role, en_role, sites = _ROLE_NAMES[roles[0]]
        if len(roles) > 1:
            sites = ("works1", "plant1")
        n = names.get((province, roles[0]), 0)
        names[(province, roles[0])] = n + 1
        word = _WORDS[n % len(_WORDS)]
        word_en = _WORDS_EN[n % len(_WORDS_EN)]
        if n >= len(_WORDS):
            word += str(n // len(_WORDS) + 1)
            word_en += str(n // len(_WORDS) + 1)
        code = uscc(province + "0100")
        ent = make_ent(
            len(ents),
            code,
            province,
            roles,
            sites,
            codes=codes,
            wmi=wmi_code,
            weight=weight,
            registered=registered,
            qualified=qualified,
        )
        ents.append(ent)
        if not registered:
            unregistered.append(ent)  # in the generator's list, not in the registry
            return ent
        records.append(
            {
                "uscc": code,
                "name_zh": f"{zh_p}{word}{zh_role}",
                "name_en": f"{en_p} {word_en} {en_role}",
                "province": province,
                "roles": list(roles),
                "manufacturer_codes": list(codes),
                "sites": list(sites),
                "qualifications": qualifications or [],
            }
        )
        return ent

    def qual(kind: str, **extra: Any) -> dict[str, Any]:
        batch = rng.randint(1, 5)
        return {"kind": kind, "batch": batch, "date": WHITELIST_BATCH_DATES[batch].isoformat()} | (
            extra
        )

    maker_weights = dict(_MAKERS)
    for p in _spread(size.battery_makers, _MAKERS):
        add(p, ("battery_maker",), weight=maker_weights[p], codes=(mcode(),))
    auto_weights = dict(_AUTOMAKERS)
    for p in _spread(size.automakers, _AUTOMAKERS):
        add(p, ("automaker",), weight=auto_weights[p], wmi_code=wmi("L"))
    add("31", ("importer",), wmi_code=wmi("W"))
    for p in MAINLAND_PROVINCES:
        share = shares.get(p, 0.0)
        for role, per in (
            ("dealer", size.dealers_per_share),
            ("repairer", size.repairers_per_share),
            ("dismantler", size.dismantlers_per_share),
            ("recycling_outlet", size.outlets_per_share),
        ):
            for _ in range(max(1, round(share * per))):
                add(p, (role,))
    for p in _spread(size.swap_operators, [(s, 1.0 / (i + 1)) for i, s in enumerate(_SWAP)]):
        add(p, ("swap_operator",))
    cascade = _spread(size.cascade_users, [(s, 1.0 / (i + 1)) for i, s in enumerate(_CASCADE)])
    for p in cascade:
        add(p, ("cascade_user",), codes=(mcode(),), qualifications=[qual("cascade_use")])
    capacity = NATIONAL_RECYCLING_CAPACITY_T * scale_factor
    rec_provinces = _spread(size.recyclers, _RECYCLERS)
    rec_weights = dict(_RECYCLERS)
    total_w = sum(rec_weights[p] for p in rec_provinces)
    for i, p in enumerate(rec_provinces):
        cap = round(capacity * rec_weights[p] / total_w, 1)
        if i == 0:
            # One firm holds both qualifications (12 of the 156 whitelisted firms do, §3.3).
            add(
                p,
                ("cascade_user", "recycler"),
                codes=(mcode(),),
                qualifications=[qual("cascade_use"), qual("recycling", capacity_t=cap)],
            )
        else:
            add(p, ("recycler",), qualifications=[qual("recycling", capacity_t=cap)])
    for p in _spread(size.unqualified, [(s, 1.0 / (i + 1)) for i, s in enumerate(_UNQUALIFIED)]):
        add(p, ("recycler",), qualified=False)
    add("44", ("battery_maker",), codes=(mcode(),), registered=False)
    # Regulators: the ministry and each province's department (they report nothing).
    ministry = uscc("110000", government=True)
    records.append(
        {
            "uscc": ministry,
            "name_zh": "中华人民共和国工业和信息化部",
            "name_en": "Ministry of Industry and Information Technology",
            "province": "11",
            "roles": ["regulator_national"],
            "manufacturer_codes": [],
            "sites": [],
            "qualifications": [],
        }
    )
    for p in MAINLAND_PROVINCES:
        prov = province_by_code(p)
        assert prov is not None
        records.append(
            {
                "uscc": uscc(p + "0000", government=True),
                "name_zh": f"{prov.name_zh}工业和信息化厅",
                "name_en": f"Department of Industry and Information Technology of {prov.name_en}",
                "province": p,
                "roles": ["regulator_provincial"],
                "manufacturer_codes": [],
                "sites": [],
                "qualifications": [],
            }
        )
    return Cast(records, ents, unregistered)
