"""A small, readable cast of enterprises and batteries shared by the ledger tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from battrace.domain.identities.gbt34014 import format_battery_code, format_cascade_code
from battrace.domain.identities.uscc import make_uscc
from battrace.domain.identities.vin import make_vin
from battrace.domain.lifecycle import builders as b
from battrace.persistence.base import Store
from battrace.services import enterprises as registry

MAKER = make_uscc("350900", "58752778")
AUTOMAKER = make_uscc("440300", "19234567")
DEALER = make_uscc("440300", "27654321")
DISMANTLER = make_uscc("320500", "31234567")
OUTLET = make_uscc("320500", "41234567")
CASCADE = make_uscc("430100", "51234567")
RECYCLER = make_uscc("430100", "61234567")
OTHER_MAKER = make_uscc("110000", "71234567")

ENTERPRISES: list[dict[str, Any]] = [
    {
        "uscc": MAKER,
        "name_zh": "示例电池",
        "province": "35",
        "roles": "battery_maker",
        "manufacturer_codes": "ABC",
        "sites": "plant1",
    },
    {
        "uscc": AUTOMAKER,
        "name_zh": "示例汽车",
        "province": "44",
        "roles": "automaker",
        "sites": "line1",
    },
    {"uscc": DEALER, "name_zh": "示例经销商", "province": "44", "roles": "dealer", "sites": "shop"},
    {
        "uscc": DISMANTLER,
        "name_zh": "示例拆解",
        "province": "32",
        "roles": "dismantler",
        "sites": "yard",
    },
    {
        "uscc": OUTLET,
        "name_zh": "示例回收网点",
        "province": "32",
        "roles": "recycling_outlet",
        "sites": "depot",
    },
    {
        "uscc": CASCADE,
        "name_zh": "示例梯次",
        "province": "43",
        "roles": "cascade_user",
        "manufacturer_codes": "CAS",
        "sites": "works",
    },
    {
        "uscc": RECYCLER,
        "name_zh": "示例再生",
        "province": "43",
        "roles": "recycler",
        "sites": "plant",
    },
    {
        "uscc": OTHER_MAKER,
        "name_zh": "另一电池",
        "province": "11",
        "roles": "battery_maker",
        "manufacturer_codes": "XYZ",
        "sites": "p",
    },
]

DAY = date(2024, 3, 5)
T0 = datetime(2024, 3, 5, 9, 0, tzinfo=UTC)


def code(kind: str, serial: int, maker: str = "ABC") -> str:
    return format_battery_code(maker, kind, "B", "01", "A1B2C3D", DAY, serial)


CELLS = [code("C", i) for i in (1, 2)]
MODULE = code("M", 1)
PACK = code("P", 1)
PACK2 = code("P", 2)
VIN = make_vin("LSV", "AB123", "R", "A", 1)
VIN2 = make_vin("LSV", "AB123", "R", "A", 2)
CASCADE_CODE = format_cascade_code("CAS", "P", "B", "01", date(2025, 5, 1), 1)


def site(uscc: str) -> str:
    local = next(e["sites"] for e in ENTERPRISES if e["uscc"] == uscc)
    return b.site_uri(uscc, local)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def register_all(store: Store) -> None:
    registry.register(store, ENTERPRISES)


def doc(*events: dict[str, Any]) -> bytes:
    return orjson.dumps(b.document(list(events)))


def production(reporter: str = MAKER) -> list[dict[str, Any]]:
    """Cells → module → pack, reported from ``reporter``'s site."""
    s = site(reporter)
    return [
        b.commission(CELLS, site=s, time=at(0), attributes={"chemistry": "LFP"}),
        b.commission([MODULE], site=s, time=at(1)),
        b.commission([PACK], site=s, time=at(2), attributes={"chemistry": "LFP", "massKg": 400}),
        b.assemble(MODULE, CELLS, site=s, time=at(3)),
        b.assemble(PACK, [MODULE], site=s, time=at(4)),
    ]
