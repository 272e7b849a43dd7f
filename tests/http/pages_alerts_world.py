"""Alerts and obligations on the page tests' demo site (the demo itself is clean).

The HTTP tests' cast (tests/http/cast.py) joins the demo registry and its pack's life (2024) is
captured today through a ledger with the regulation engine, so the Jiangsu dismantler and the
Hunan recycler each have two late reports. A second pack is scrapped (2024, reported today) by a
Guangdong dismantler — a Guangdong alert — which removes it and ships it to the recycler today:
the recycler now owes its recycling report, a pending obligation with a working-day countdown.

Web users: ``dismantler`` and ``recycler`` (besides the demo's miit/jiangsu/guangdong/maker/dealer).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from battrace.domain.identities.uscc import make_uscc
from battrace.domain.lifecycle import builders as b
from battrace.services import enterprises as registry
from battrace.services import users
from battrace.services.capture import Submission
from battrace.services.ledgers import ledger_for
from tests import scenario as sc
from tests.http import cast
from tests.http.pages_fixtures import PASSWORD, Site

GD_DISMANTLER = make_uscc("440100", "39876543")


def _party(uscc: str) -> str:
    return cast.party(uscc)


def _gd_site() -> str:
    return b.site_uri(GD_DISMANTLER, "yard")


def second_pack(now: datetime) -> list[tuple[str, dict[str, Any]]]:
    """sc.PACK2 from production (2024) to the recycler's receipt (an hour before ``now``)."""
    s, at = sc.site, sc.at
    pack, vin = sc.PACK2, sc.VIN2
    return [
        (
            sc.MAKER,
            b.commission([pack], site=s(sc.MAKER), time=at(200), attributes={"massKg": 300}),
        ),
        (
            sc.MAKER,
            b.ship(
                pack,
                sender=_party(sc.MAKER),
                receiver=_party(sc.AUTOMAKER),
                site=s(sc.MAKER),
                time=at(210),
            ),
        ),
        (
            sc.AUTOMAKER,
            b.receive(
                pack,
                site=s(sc.AUTOMAKER),
                time=at(211),
                sender=_party(sc.MAKER),
                receiver=_party(sc.AUTOMAKER),
            ),
        ),
        (sc.AUTOMAKER, b.install(pack, vin, site=s(sc.AUTOMAKER), time=at(212))),
        (
            sc.AUTOMAKER,
            b.ship(
                [b.vehicle_uri(vin), pack],
                sender=_party(sc.AUTOMAKER),
                receiver=_party(sc.DEALER),
                site=s(sc.AUTOMAKER),
                time=at(220),
            ),
        ),
        (
            sc.DEALER,
            b.receive(
                [b.vehicle_uri(vin), pack],
                site=s(sc.DEALER),
                time=at(221),
                sender=_party(sc.AUTOMAKER),
                receiver=_party(sc.DEALER),
            ),
        ),
        (sc.DEALER, b.sell(vin, pack, site=s(sc.DEALER), time=at(230))),
        (
            GD_DISMANTLER,
            b.scrap_vehicle(
                vin,
                site=_gd_site(),
                time=at(300),
                certificate="44123456-2024-000002",
                pack=pack,
            ),
        ),
        (
            GD_DISMANTLER,
            b.remove(pack, vin, site=_gd_site(), time=now - timedelta(hours=4), disposition=None),
        ),
        (GD_DISMANTLER, b.retire(pack, site=_gd_site(), time=now - timedelta(hours=3))),
        (
            GD_DISMANTLER,
            b.ship(
                pack,
                sender=_party(GD_DISMANTLER),
                receiver=_party(sc.RECYCLER),
                site=_gd_site(),
                time=now - timedelta(hours=2),
            ),
        ),
        (
            sc.RECYCLER,
            b.receive(
                pack,
                site=s(sc.RECYCLER),
                time=now - timedelta(hours=1),
                sender=_party(GD_DISMANTLER),
                receiver=_party(sc.RECYCLER),
            ),
        ),
    ]


def add_alerts(site: Site) -> None:
    """Register the cast, capture both packs' lives, add the ``dismantler``/``recycler`` users."""
    known = {e.uscc for e in site.store.list_enterprises()}
    extra = [
        {
            "uscc": GD_DISMANTLER,
            "name_zh": "示例广东拆解",
            "name_en": "Example Guangdong Dismantler",
            "province": "44",
            "roles": "dismantler",
            "sites": "yard",
        }
    ]
    registry.register(
        site.store,
        [
            e
            for e in cast.enterprises() + extra
            if e["uscc"] not in known and "regulator" not in e["roles"]
        ],
    )
    steps = [(s.reporter, s.event) for s in cast.lifecycle()]
    steps += second_pack(datetime.now(UTC))
    subs = [
        Submission(reporter, b.CONTEXT, [event], [orjson.dumps(event).decode()])
        for reporter, event in steps
    ]
    results = ledger_for(site.store).capture_many(subs)
    assert all(r.ok for r in results), [r.rejected for r in results if not r.ok]
    for name, org in (("dismantler", sc.DISMANTLER), ("recycler", sc.RECYCLER)):
        users.add_user(site.store, name, PASSWORD, org, display_name=name.title())
        site.orgs[name] = org
