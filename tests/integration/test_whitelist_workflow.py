"""Whitelist applications on a real ledger (SQLite and PostgreSQL): the full workflow to the
national announcement, the announced enterprise then qualifying in the regulation engine, valid_to,
jurisdiction, all-or-none announcements; pilots compared on measured statistics."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from battrace.domain.errors import InvalidInput, NotAuthorised
from battrace.domain.identities.uscc import make_uscc
from battrace.domain.lifecycle import builders as b
from battrace.domain.whitelist import IllegalTransition
from battrace.persistence.base import Store
from battrace.services import enterprises as registry
from battrace.services import pilots
from battrace.services import whitelist as wl
from battrace.services.forecast_ledger import registered_capacity
from battrace.services.supervision import actor_of
from tests.integration.test_alerts_world import (
    AUTOMAKER,
    BIG_OUTLET,
    DISMANTLER,
    GD_REGULATOR,
    MAKER,
    MIIT,
    UNQUALIFIED_CASCADE,
    UNQUALIFIED_RECYCLER,
    World,
    cst,
    local_rules,
    pack_code,
    site,
    vin,
)

JX_REGULATOR = make_uscc("360000", "00000004", "1", "1")  # Jiangxi, UNQUALIFIED_RECYCLER's province
NOW = cst(2026, 11, 20)

PASSING = {
    "electrode_powder_recovery": {"value": 98.4, "unit": "%"},
    "powder_impurity_al": {"value": 1.2, "unit": "%"},
    "powder_impurity_cu": {"value": 0.8, "unit": "%"},
    "metal_recovery_li": {"value": 91.5, "unit": "%"},
    "metal_recovery_ni": {"value": 98.6, "unit": "%"},
    "metal_recovery_co": {"value": 98.5, "unit": "%"},
    "metal_recovery_mn": {"value": 98.1, "unit": "%"},
    "material_repair_recovery": {"value": 99.2, "unit": "%"},
    "process_wastewater_recycling": {"value": 93, "unit": "%"},
    "li2co3_energy_consumption": {"value": 1850, "unit": "kgce/t"},
}


@pytest.fixture
def world(store: Store, tmp_path: Path) -> World:
    w = World(store, local_rules(tmp_path))
    registry.register(
        store,
        [{"uscc": JX_REGULATOR, "name_zh": "江西省工信厅", "roles": "regulator_provincial"}],
    )
    return w


def _recycling(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "uscc": UNQUALIFIED_RECYCLER,
        "kind": "recycling",
        "capacity_t": 20000,
        "indicators": PASSING,
        **(extra or {}),
    }


def _approved(store: Store, data: dict[str, Any], reviewer: str = MIIT) -> int:
    view = wl.apply(store, data)
    wl.submit(store, view.id)
    wl.review(store, view.id, actor_of(store, reviewer), approve=True, reason="材料齐全")
    return view.id


def test_full_workflow_to_announcement(world: World) -> None:
    store = world.store
    view = wl.apply(store, _recycling())
    assert (view.state, view.edition, view.result, view.province) == ("draft", "2024", "pass", "36")
    assert view.evaluation is not None and view.evaluation["counts"]["pass"] == 10
    view = wl.submit(store, view.id, comment="请审核")
    assert view.state == "submitted"
    # Another province's regulator does not even see it; an enterprise may not review.
    with pytest.raises(wl.ApplicationNotFound):
        wl.review(store, view.id, actor_of(store, GD_REGULATOR), approve=True)
    with pytest.raises(NotAuthorised):
        wl.review(store, view.id, actor_of(store, UNQUALIFIED_RECYCLER), approve=True)
    view = wl.review(store, view.id, actor_of(store, JX_REGULATOR), approve=True, reason="符合")
    assert view.state == "provincially_approved"
    with pytest.raises(NotAuthorised, match="national"):
        wl.announce(store, 6, date(2026, 5, 1), [view.id], actor_of(store, JX_REGULATOR))
    (done,) = wl.announce(store, 6, date(2026, 5, 1), [view.id], actor_of(store, MIIT))
    assert (done.state, done.batch, done.announced_on) == ("announced", 6, "2026-05-01")
    assert [(s.action, s.actor) for s in done.steps] == [
        ("apply", UNQUALIFIED_RECYCLER),
        ("submit", UNQUALIFIED_RECYCLER),
        ("approve", JX_REGULATOR),
        ("announce", MIIT),
    ]
    assert done.steps[1].comment == "请审核" and done.steps[2].actor_role == "regulator_provincial"
    ent = store.get_enterprise(UNQUALIFIED_RECYCLER)
    assert ent is not None
    assert ent.qualifications == [
        {
            "kind": "recycling",
            "batch": 6,
            "date": "2026-05-01",
            "capacity_t": 20000.0,
            "application": view.id,
        }
    ]
    assert registered_capacity(store)["36"] == 20000.0  # the capacity forecast sees it
    assert "36" not in registered_capacity(store, on=date(2026, 4, 30))  # not yet announced
    (batch,) = wl.public_whitelist(store, 6, today=date(2026, 6, 1))
    assert batch["announced_on"] == "2026-05-01"
    assert [(e["uscc"], e["in_force"]) for e in batch["entries"]] == [(UNQUALIFIED_RECYCLER, True)]
    assert {b["batch"] for b in wl.public_whitelist(store)} == {1, 2, 6}  # the registry's too
    # Who sees the application
    assert [v.id for v in wl.list_applications(store, actor_of(store, JX_REGULATOR))] == [view.id]
    assert wl.list_applications(store, actor_of(store, GD_REGULATOR)) == []
    assert len(wl.list_applications(store, actor_of(store, MIIT), state="announced")) == 1
    with pytest.raises(IllegalTransition, match="announced"):
        wl.withdraw(store, view.id)


def test_rejection_needs_reasons_and_approval_needs_no_failed_item(world: World) -> None:
    store = world.store
    bad = wl.apply(
        store,
        _recycling({"indicators": {**PASSING, "metal_recovery_li": {"value": 85, "unit": "%"}}}),
    )
    assert bad.result == "fail"
    wl.submit(store, bad.id)
    with pytest.raises(InvalidInput, match="metal_recovery_li"):
        wl.review(store, bad.id, actor_of(store, JX_REGULATOR), approve=True)
    with pytest.raises(InvalidInput, match="reason"):
        wl.review(store, bad.id, actor_of(store, JX_REGULATOR), approve=False)
    view = wl.review(
        store, bad.id, actor_of(store, JX_REGULATOR), approve=False, reason="锂回收率不足"
    )
    assert view.state == "provincially_rejected" and view.steps[-1].comment == "锂回收率不足"
    with pytest.raises(IllegalTransition, match="provincially_rejected"):
        wl.submit(store, bad.id)
    assert wl.withdraw(store, bad.id, reason="重新申报").state == "withdrawn"


def test_illegal_steps_and_bad_input_write_nothing(world: World) -> None:
    store = world.store
    view = wl.apply(store, _recycling())
    wl.submit(store, view.id)
    with pytest.raises(IllegalTransition) as exc:
        wl.submit(store, view.id)
    assert exc.value.state == "submitted"
    assert len(wl.get_application(store, view.id).steps) == 2
    with pytest.raises(wl.ApplicationNotFound):  # another enterprise does not see it
        wl.submit(store, view.id, actor_of(store, MAKER))
    with pytest.raises(InvalidInput, match="recycler role"):
        wl.apply(store, {**_recycling(), "uscc": UNQUALIFIED_CASCADE})
    with pytest.raises(NotAuthorised):
        wl.apply(store, _recycling(), actor_of(store, MAKER))
    with pytest.raises(InvalidInput, match=r"indicators\.metal_recovery_zn"):
        wl.apply(
            store, _recycling({"indicators": {"metal_recovery_zn": {"value": 1, "unit": "%"}}})
        )
    assert len(wl.list_applications(store)) == 1


def test_announcement_is_all_or_none(world: World) -> None:
    store = world.store
    ok = _approved(store, _recycling())
    draft = wl.apply(store, {"uscc": UNQUALIFIED_CASCADE, "kind": "cascade_use"}).id
    miit = actor_of(store, MIIT)
    with pytest.raises(IllegalTransition, match="draft"):
        wl.announce(store, 7, date(2026, 5, 1), [ok, draft], miit)
    assert wl.get_application(store, ok).state == "provincially_approved"
    assert wl.public_whitelist(store, 7) == []
    ent = store.get_enterprise(UNQUALIFIED_RECYCLER)
    assert ent is not None and ent.qualifications == []
    with pytest.raises(wl.ApplicationNotFound):
        wl.announce(store, 7, date(2026, 5, 1), [ok, 999], miit)
    wl.announce(store, 7, date(2026, 5, 1), [ok], miit)
    # the same batch takes more applications only on its own date
    other = _approved(store, {"uscc": UNQUALIFIED_CASCADE, "kind": "cascade_use",
                              "indicators": {"source_verification": True}})  # fmt: skip
    with pytest.raises(InvalidInput, match="2026-05-01"):
        wl.announce(store, 7, date(2026, 5, 2), [other], miit)
    wl.announce(store, 7, date(2026, 5, 1), [other], miit)
    (batch,) = wl.public_whitelist(store, 7)
    assert batch["counts"] == {"cascade_use": 1, "recycling": 1}


# -- the regulation engine ----------------------------------------------------------------------


def _ship_retired(world: World, n: int, to: str, when: datetime) -> str:
    code, v = pack_code(n), vin(n)
    t = cst(2026, 4, 1, 9)
    world.capture(
        t + timedelta(hours=8),
        (MAKER, [b.commission(code, site=site(MAKER), time=t, attributes={"massKg": 300})]),
        (AUTOMAKER, [b.install(code, v, site=site(AUTOMAKER), time=t + timedelta(hours=2))]),
    )
    ship = b.ship(code, sender=DISMANTLER, receiver=to, site=site(DISMANTLER), time=when)
    world.capture(
        when + timedelta(hours=9),
        (DISMANTLER, [b.retire(code, site=site(DISMANTLER), time=when - timedelta(hours=1)), ship]),
    )
    return code


def _unqualified(world: World) -> set[str]:
    return {a.subject for a in world.alerts(NOW, kind="unqualified-transfer")}


def test_announced_enterprise_qualifies_in_the_engine(world: World) -> None:
    store = world.store
    before = _ship_retired(world, 1, UNQUALIFIED_CASCADE, cst(2026, 5, 6, 9))
    assert _unqualified(world) == {before}
    app = _approved(store, {"uscc": UNQUALIFIED_CASCADE, "kind": "cascade_use",
                            "indicators": {"source_verification": True}})  # fmt: skip
    wl.announce(store, 8, date(2026, 5, 10), [app], actor_of(store, MIIT))
    early = _ship_retired(world, 2, UNQUALIFIED_CASCADE, cst(2026, 5, 8, 9))  # before its date
    after = _ship_retired(world, 3, UNQUALIFIED_CASCADE, cst(2026, 5, 12, 9))
    assert _unqualified(world) == {before, early}
    assert after not in _unqualified(world)


def test_a_qualification_past_its_valid_to_no_longer_qualifies(world: World) -> None:
    store = world.store
    registry.register(
        store,
        [
            {
                "uscc": UNQUALIFIED_CASCADE,
                "name_zh": "梯次（有效期至5月）",
                "roles": "cascade_user",
                "sites": "works",
                "qualifications": "cascade_use:3:2021-06-01:2026-05-15",
            }
        ],
    )
    ent = store.get_enterprise(UNQUALIFIED_CASCADE)
    assert ent is not None and ent.qualifications[0]["valid_to"] == "2026-05-15"
    assert registry.qualifies(ent, "cascade_use", date(2026, 5, 15))
    assert not registry.qualifies(ent, "cascade_use", date(2026, 5, 16))
    within = _ship_retired(world, 1, UNQUALIFIED_CASCADE, cst(2026, 5, 15, 9))
    past = _ship_retired(world, 2, UNQUALIFIED_CASCADE, cst(2026, 5, 18, 9))
    assert _unqualified(world) == {past}
    assert within != past
    # announced with valid_to: recorded on the qualification, shown as expired afterwards
    app = _approved(store, _recycling())
    wl.announce(
        store, 9, date(2026, 5, 1), [app], actor_of(store, MIIT), valid_to=date(2026, 6, 30)
    )
    (batch,) = wl.public_whitelist(store, 9, today=date(2026, 7, 1))
    assert batch["entries"][0]["valid_to"] == "2026-06-30" and not batch["entries"][0]["in_force"]
    # and its capacity no longer counts for the capacity forecast
    recycler = batch["entries"][0]["uscc"]
    province = store.get_enterprise(recycler).province  # type: ignore[union-attr]
    assert registered_capacity(store, on=date(2026, 6, 30)).get(province, 0) > 0
    assert registered_capacity(store, on=date(2026, 7, 1)).get(province, 0) == 0


def test_registry_rejects_bad_valid_to(world: World) -> None:
    for text, reason in (
        ("cascade_use:3:2021-06-01:2020-01-01", "before"),
        ("cascade_use:3:2021-06-01:soon", "YYYY-MM-DD"),
    ):
        with pytest.raises(InvalidInput, match=reason):
            registry.build_enterprise(
                {
                    "uscc": UNQUALIFIED_CASCADE,
                    "name_zh": "x",
                    "roles": "cascade_user",
                    "qualifications": text,
                }
            )


# -- pilots -------------------------------------------------------------------------------------


def test_pilots_compared_on_measured_results(world: World) -> None:
    store = world.store
    # one pack retired in Jiangsu and collected by the outlet; one retired and never collected
    _ship_retired(world, 1, BIG_OUTLET, cst(2026, 5, 6, 9))
    world.capture(
        cst(2026, 5, 7, 10),
        (BIG_OUTLET, [b.collect(pack_code(1), site=site(BIG_OUTLET), time=cst(2026, 5, 7, 9),
                                sender=DISMANTLER)]),
    )  # fmt: skip
    code, v = pack_code(2), vin(2)
    t = cst(2026, 4, 1, 9)
    world.capture(
        t + timedelta(hours=8),
        (MAKER, [b.commission(code, site=site(MAKER), time=t, attributes={"massKg": 300})]),
        (AUTOMAKER, [b.install(code, v, site=site(AUTOMAKER), time=t + timedelta(hours=2))]),
    )
    world.capture(
        cst(2026, 5, 8, 10),
        (DISMANTLER, [b.retire(code, site=site(DISMANTLER), time=cst(2026, 5, 8, 9))]),
    )
    region = pilots.add_region(
        store,
        {"name_zh": "江苏试点", "province": "32", "city": "320500", "model": "shared-outlets",
         "scenarios": ["grid-storage", "telecom-base-stations"]},
    )  # fmt: skip
    pilots.add_enterprise(store, {"uscc": AUTOMAKER, "model": "automaker-led", "region": region.id})
    pilots.add_enterprise(
        store, {"uscc": UNQUALIFIED_RECYCLER, "model": "third-party", "region": "江苏试点"}
    )
    _approved(store, _recycling())
    rows = {(r["pilot"], r["name"]): r for r in pilots.compare(store)}
    jiangsu = rows[("region", "江苏试点")]
    assert (jiangsu["retired"], jiangsu["collected"], jiangsu["collection_rate"]) == (2, 1, 0.5)
    assert jiangsu["scenarios"] == ["grid-storage", "telecom-base-stations"]
    automaker = rows[("enterprise", "汽车")]
    assert automaker["collection_rate"] == 0.5 and "automaker" in automaker["collection_basis"]
    recycler = rows[("enterprise", "无资质再生")]
    assert recycler["recovery_rates"]["Li"] == 91.5 and "declared" in recycler["recovery_source"]
    # scoped: Guangdong's regulator sees only the Guangdong automaker's row
    gd = pilots.compare(store, actor_of(store, GD_REGULATOR))
    assert [(r["pilot"], r["uscc"]) for r in gd] == [("enterprise", AUTOMAKER)]
    with pytest.raises(InvalidInput, match="already"):
        pilots.add_enterprise(store, {"uscc": AUTOMAKER, "model": "automaker-led"})
    with pytest.raises(InvalidInput, match="model"):
        pilots.add_enterprise(store, {"uscc": MAKER, "model": "state-led"})
    with pytest.raises(InvalidInput, match="city"):
        pilots.add_region(store, {"name_zh": "x", "province": "32", "city": "440300"})
    assert len(pilots.list_pilots(store)[1]) == 2
