"""The HTTP tests' cast: the scenario's enterprises plus regulators, one key each, and one pack's
whole life reported by the enterprises that really handle it (tests/scenario.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from battrace.domain.identities.uscc import make_uscc
from battrace.domain.lifecycle import builders as b
from battrace.persistence.base import Store
from battrace.services import enterprises as registry
from tests import scenario as sc

NATIONAL = make_uscc("110000", "00000019", "1", "1")
JIANGSU = make_uscc("320000", "00000027", "1", "1")  # DISMANTLER and OUTLET are in Jiangsu (32)
GUANGDONG = make_uscc("440000", "00000035", "1", "1")  # AUTOMAKER and DEALER are in Guangdong

REGULATORS: list[dict[str, Any]] = [
    {
        "uscc": NATIONAL,
        "name_zh": "工业和信息化部",
        "province": "11",
        "roles": "regulator_national",
    },
    {"uscc": JIANGSU, "name_zh": "江苏省工信厅", "province": "32", "roles": "regulator_provincial"},
    {
        "uscc": GUANGDONG,
        "name_zh": "广东省工信厅",
        "province": "44",
        "roles": "regulator_provincial",
    },
]


def enterprises() -> list[dict[str, Any]]:
    """The scenario cast, its recycler with a recycling qualification, and the regulators."""
    out = []
    for e in sc.ENTERPRISES:
        e = dict(e)
        if e["uscc"] == sc.RECYCLER:
            e["qualifications"] = [{"kind": "recycling", "batch": 1, "date": "2018-09-20"}]
        out.append(e)
    return out + REGULATORS


def register(store: Store) -> None:
    registry.register(store, enterprises())


def party(uscc: str) -> str:
    return f"urn:uscc:{uscc}"


@dataclass(frozen=True)
class Step:
    label: str
    reporter: str
    event: dict[str, Any]


def lifecycle() -> list[Step]:
    """sc.PACK from production to recycling (hours after sc.T0 in brackets)."""
    s = sc.site
    at = sc.at
    prod = sc.production()  # cells (0), module (1), pack (2), module assembly (3), pack (4)
    steps = [
        Step("c_cells", sc.MAKER, prod[0]),
        Step("c_module", sc.MAKER, prod[1]),
        Step("c_pack", sc.MAKER, prod[2]),
        Step("a_module", sc.MAKER, prod[3]),
        Step("a_pack", sc.MAKER, prod[4]),
        Step(
            "ship1",
            sc.MAKER,
            b.ship(
                sc.PACK,
                sender=party(sc.MAKER),
                receiver=party(sc.AUTOMAKER),
                site=s(sc.MAKER),
                time=at(10),
            ),
        ),
        Step(
            "recv1",
            sc.AUTOMAKER,
            b.receive(
                sc.PACK,
                site=s(sc.AUTOMAKER),
                time=at(11),
                sender=party(sc.MAKER),
                receiver=party(sc.AUTOMAKER),
            ),
        ),
        Step(
            "install", sc.AUTOMAKER, b.install(sc.PACK, sc.VIN, site=s(sc.AUTOMAKER), time=at(12))
        ),
        Step(
            "ship2",
            sc.AUTOMAKER,
            b.ship(
                [b.vehicle_uri(sc.VIN), sc.PACK],
                sender=party(sc.AUTOMAKER),
                receiver=party(sc.DEALER),
                site=s(sc.AUTOMAKER),
                time=at(20),
            ),
        ),
        Step(
            "recv2",
            sc.DEALER,
            b.receive(
                [b.vehicle_uri(sc.VIN), sc.PACK],
                site=s(sc.DEALER),
                time=at(21),
                sender=party(sc.AUTOMAKER),
                receiver=party(sc.DEALER),
            ),
        ),
        Step("sell", sc.DEALER, b.sell(sc.VIN, sc.PACK, site=s(sc.DEALER), time=at(30))),
        Step(
            "scrap",
            sc.DISMANTLER,
            b.scrap_vehicle(
                sc.VIN,
                site=s(sc.DISMANTLER),
                time=at(100),
                certificate="31234567-2024-000001",
                pack=sc.PACK,
            ),
        ),
        Step(
            "remove",
            sc.DISMANTLER,
            b.remove(sc.PACK, sc.VIN, site=s(sc.DISMANTLER), time=at(101), disposition=None),
        ),
        Step("retire", sc.DISMANTLER, b.retire(sc.PACK, site=s(sc.DISMANTLER), time=at(102))),
        Step(
            "ship3",
            sc.DISMANTLER,
            b.ship(
                sc.PACK,
                sender=party(sc.DISMANTLER),
                receiver=party(sc.RECYCLER),
                site=s(sc.DISMANTLER),
                time=at(110),
            ),
        ),
        Step(
            "recv3",
            sc.RECYCLER,
            b.receive(
                sc.PACK,
                site=s(sc.RECYCLER),
                time=at(111),
                sender=party(sc.DISMANTLER),
                receiver=party(sc.RECYCLER),
            ),
        ),
        Step(
            "dismantle",
            sc.RECYCLER,
            b.dismantle(sc.PACK, sc.MODULE, site=s(sc.RECYCLER), time=at(120)),
        ),
        Step(
            "recycle",
            sc.RECYCLER,
            b.recycle(sc.MODULE, {"black_mass": 100.0}, site=s(sc.RECYCLER), time=at(121)),
        ),
    ]
    return steps


#: Events naming sc.PACK, in time order.
PACK_EVENTS = (
    "c_pack a_pack ship1 recv1 install ship2 recv2 sell scrap remove retire ship3 recv3 dismantle"
).split()

#: Which of PACK_EVENTS each principal may read (docs/api.md, "Who may read what"): the events it
#: took part in, and the pack's history from the first to the last event it took part in.
PACK_VISIBLE: dict[str, set[str]] = {
    sc.MAKER: {"c_pack", "a_pack", "ship1", "recv1"},
    sc.AUTOMAKER: {"ship1", "recv1", "install", "ship2", "recv2"},
    sc.DEALER: {"ship2", "recv2", "sell"},
    sc.DISMANTLER: {"scrap", "remove", "retire", "ship3", "recv3"},
    sc.RECYCLER: {"ship3", "recv3", "dismantle"},
    sc.OUTLET: set(),
    sc.CASCADE: set(),
    sc.OTHER_MAKER: set(),
    # provincial regulators: events that involved an enterprise of the province
    JIANGSU: {"scrap", "remove", "retire", "ship3", "recv3"},
    GUANGDONG: {"ship1", "recv1", "install", "ship2", "recv2", "sell"},
    NATIONAL: set(PACK_EVENTS),
}
