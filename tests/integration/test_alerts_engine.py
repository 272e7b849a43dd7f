"""The regulation engine on a real ledger: incremental at capture, full re-evaluation, as-of,
out-of-order arrival, corrections, jurisdiction scoping, and the injected-violation ground truth."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest

from battrace.domain.lifecycle import builders as b
from battrace.domain.supervision.clock import us_of
from battrace.domain.supervision.findings import Finding
from battrace.persistence.base import Store
from battrace.services import alerts as engine
from battrace.services.capture import Ledger
from tests.integration.test_alerts_world import (
    AUTOMAKER,
    BIG_OUTLET,
    CASCADE,
    DISMANTLER,
    GD_REGULATOR,
    JS_REGULATOR,
    MAKER,
    MIIT,
    OTHER_OUTLET,
    RECYCLER,
    REPAIRER,
    World,
    cst,
    generate,
    load,
    local_rules,
    pack_code,
    site,
    vin,
)

NOW = cst(2026, 11, 20)


@pytest.fixture
def world(sqlite_store: Store, tmp_path: Path) -> World:
    return World(sqlite_store, local_rules(tmp_path))


def _installed(world: World, n: int = 1) -> tuple[str, str]:
    code, v = pack_code(n), vin(n)
    t = cst(2026, 4, 1, 9)
    world.capture(
        t + timedelta(hours=8),
        (MAKER, [b.commission(code, site=site(MAKER), time=t, attributes={"massKg": 300})]),
        (AUTOMAKER, [b.install(code, v, site=site(AUTOMAKER), time=t + timedelta(hours=2))]),
    )
    return code, v


def _keys(findings: list[Finding], moment: datetime) -> dict[str, str]:
    """key → status of the findings detected by ``moment``."""
    t = us_of(moment)
    return {f.key: f.status_at(t) or "" for f in findings if f.detected_at <= t}


def _stored(world: World, moment: datetime) -> dict[str, str]:
    return {a.id: a.status for a in world.alerts(moment)}


# --------------------------------------------------------------------------------------------
# Ground truth and agreement
# --------------------------------------------------------------------------------------------


def test_engine_finds_exactly_the_injected_violations(store: Store, tmp_path: Path) -> None:
    world = World(store, local_rules(tmp_path))
    data = generate(packs=12, rate=1 / 6, seed=11)  # 2 injections of each kind
    load(world, data)
    found = Counter((a.kind, a.subject) for a in world.alerts(NOW))
    expected = Counter(data.truth_list)
    assert found == expected
    assert sum(expected.values()) == 18


def test_incremental_and_full_reevaluation_agree(store: Store, tmp_path: Path) -> None:
    world = World(store, local_rules(tmp_path))
    data = generate(packs=8, rate=0.25, seed=5)
    load(world, data)
    by_events = engine.evaluate(store, world.rules, source="events")
    by_facts = engine.evaluate(store, world.rules, source="facts")
    assert {f.signature() for f in by_events} == {f.signature() for f in by_facts}
    # At several moments, the stored (incremental) alerts are the full evaluation's findings.
    for moment in (cst(2026, 5, 20), cst(2026, 7, 1), cst(2026, 8, 15), NOW):
        assert _stored(world, moment) == _keys(by_events, moment)
        # ... and --as-of re-runs the rules on what the ledger knew then: same answer.
        historical = engine.list_alerts(
            store,
            engine.Scope.everything(),
            as_of=us_of(moment),
            rules=world.rules,
            now=us_of(NOW),
        )
        assert {a.id: a.status for a in historical} == _keys(by_events, moment)
    report = engine.rebuild(store, world.rules, now=us_of(NOW))
    assert (report.reconcile.inserted, report.reconcile.updated) == (0, 0)
    assert (report.reconcile.withdrawn, report.reconcile.deleted) == (0, 0)


def test_ledger_captured_without_the_engine_is_rebuilt_from_its_events(
    sqlite_store: Store, tmp_path: Path
) -> None:
    rules = local_rules(tmp_path)
    world = World(sqlite_store, rules)
    world.ledger = Ledger(sqlite_store)  # engine not attached, as for a ledger from before it
    data = generate(packs=3, rate=0.34, seed=2)
    load(world, data)
    assert not engine.coverage(sqlite_store).complete
    with pytest.raises(Exception, match="rebuild"):
        engine.evaluate(sqlite_store, rules)
    report = engine.rebuild(sqlite_store, rules, from_events=True, now=us_of(NOW))
    assert report.facts and report.reconcile.inserted == report.findings
    assert engine.coverage(sqlite_store).complete
    assert Counter((a.kind, a.subject) for a in world.alerts(NOW)) == Counter(data.truth_list)


# --------------------------------------------------------------------------------------------
# Resolution, out-of-order arrival, corrections, as-of
# --------------------------------------------------------------------------------------------


def _to_outlet(world: World, code: str, v: str, when: datetime) -> None:
    t = when
    world.capture(
        t + timedelta(hours=9),
        (
            DISMANTLER,
            [
                b.scrap_vehicle(v, site=site(DISMANTLER), time=t, certificate="C1", pack=code),
                b.remove(
                    code, v, site=site(DISMANTLER), time=t + timedelta(hours=1), disposition=None
                ),
                b.retire(code, site=site(DISMANTLER), time=t + timedelta(hours=2)),
                b.ship(
                    code,
                    sender=DISMANTLER,
                    receiver=BIG_OUTLET,
                    site=site(DISMANTLER),
                    time=t + timedelta(hours=3),
                ),
            ],
        ),
        (
            BIG_OUTLET,
            [
                b.collect(
                    code, site=site(BIG_OUTLET), time=t + timedelta(hours=5), sender=DISMANTLER
                )
            ],
        ),
    )


def test_missing_follow_up_is_resolved_by_the_late_shipment(world: World) -> None:
    code, v = _installed(world)
    # The outlet must ship within 20 working days of Wed 2026-05-06: Saturday 05-09 is an
    # adjusted working day (after the Labour Day holiday), so the due date is Tue 06-02.
    _to_outlet(world, code, v, cst(2026, 5, 6, 9))
    (alert,) = world.alerts(cst(2026, 6, 10), kind="missing-follow-up")
    assert alert.status == "open" and alert.due == "2026-06-02"
    assert alert.enterprise == BIG_OUTLET and alert.province == "32"
    assert world.alerts(cst(2026, 6, 2, 23), kind="missing-follow-up") == []  # not yet overdue
    (pending,) = engine.obligations(
        world.store, engine.Scope(enterprise=BIG_OUTLET), now=us_of(cst(2026, 6, 1))
    )
    assert pending.id == alert.id and pending.status == "pending"
    ship = b.ship(
        code, sender=BIG_OUTLET, receiver=RECYCLER, site=site(BIG_OUTLET), time=cst(2026, 6, 12)
    )
    (result,) = world.capture(cst(2026, 6, 12, 20), (BIG_OUTLET, [ship]))
    (alert,) = world.alerts(cst(2026, 6, 13), kind="missing-follow-up")
    assert alert.status == "resolved"
    assert alert.resolved_by == result.event_ids[0]
    assert result.event_ids[0] in alert.evidence
    # Before the shipment was known the same alert is open (as of a past moment).
    (before,) = world.alerts(cst(2026, 6, 11), kind="missing-follow-up")
    assert before.id == alert.id and before.status == "open"


def test_out_of_order_arrival_the_shipment_before_the_receipt(world: World) -> None:
    code, v = _installed(world)
    t = cst(2026, 5, 6, 9)
    ship = b.ship(
        code,
        sender=BIG_OUTLET,
        receiver=RECYCLER,
        site=site(BIG_OUTLET),
        time=t + timedelta(days=3),
    )
    world.capture(t + timedelta(days=3, hours=9), (BIG_OUTLET, [ship]))
    _to_outlet(world, code, v, t)  # the earlier receipt, reported after the shipment
    assert [a.kind for a in world.alerts(NOW)] == []


def test_error_declaration_withdraws_the_alert(world: World) -> None:
    code, _ = _installed(world)
    t = cst(2026, 5, 6, 9)
    bad = b.ship(code, sender=DISMANTLER, receiver=OTHER_OUTLET, site=site(DISMANTLER), time=t)
    world.capture(
        t + timedelta(hours=9),
        (DISMANTLER, [b.retire(code, site=site(DISMANTLER), time=t - timedelta(hours=1)), bad]),
    )
    (alert,) = world.alerts(cst(2026, 5, 7), kind="unqualified-transfer")
    assert alert.detail["receiver"] == OTHER_OUTLET
    declaration = b.declare_error(bad, time=t + timedelta(days=1))
    world.capture(t + timedelta(days=1, hours=9), (DISMANTLER, [declaration]))
    assert world.alerts(cst(2026, 5, 8), kind="unqualified-transfer") == []
    (gone,) = world.alerts(cst(2026, 5, 8), kind="unqualified-transfer", status="withdrawn")
    assert gone.id == alert.id
    full = engine.evaluate(world.store, world.rules, source="events")
    assert alert.id not in {f.key for f in full}


def test_late_report_judged_by_when_the_platform_learnt_it(world: World) -> None:
    code, v = _installed(world)
    t = cst(2026, 5, 6, 9)
    scrap = b.scrap_vehicle(v, site=site(DISMANTLER), time=t, certificate="C2", pack=code)
    # An operator import with the original record time: on time, no alert.
    world.capture(t + timedelta(days=10), (DISMANTLER, [scrap]))
    assert world.alerts(NOW, kind="late-report") == []
    # The same kind of report captured today (the live path) is 15+ working days late.
    code2, v2 = _installed(world, 2)
    scrap2 = b.scrap_vehicle(v2, site=site(DISMANTLER), time=t, certificate="C3", pack=code2)
    live = Ledger(world.store, observers=[world.observer], clock=lambda: cst(2026, 6, 30))
    body = orjson.dumps(scrap2).decode()
    assert live.capture_events(b.CONTEXT, [scrap2], [body], DISMANTLER).ok
    (late,) = world.alerts(NOW, kind="late-report")
    assert late.subject == code2 and late.due == "2026-05-26"  # Sat 05-09 worked (调休)


def test_outlet_capacity_alert_opens_and_resolves(world: World) -> None:
    from tests.integration.test_alerts_world import SMALL_OUTLET

    t = cst(2026, 5, 6, 9)
    codes = []
    for n in range(1, 19):  # 18 × 300 kg = 5.4 t at a ≤ 5 t collection outlet
        code, _ = _installed(world, n)
        codes.append(code)
    world.capture(
        t + timedelta(hours=9),
        (SMALL_OUTLET, [b.collect(codes, site=site(SMALL_OUTLET), time=t, sender=DISMANTLER)]),
    )
    (alert,) = world.alerts(cst(2026, 5, 7), kind="outlet-over-capacity")
    assert alert.status == "open" and alert.subject == SMALL_OUTLET
    assert alert.detail["stock_t"] == 5.4
    ship = b.ship(
        codes[:2],
        sender=SMALL_OUTLET,
        receiver=RECYCLER,
        site=site(SMALL_OUTLET),
        time=t + timedelta(days=2),
    )
    (result,) = world.capture(t + timedelta(days=2, hours=9), (SMALL_OUTLET, [ship]))
    (alert,) = world.alerts(cst(2026, 5, 9), kind="outlet-over-capacity")
    assert alert.status == "resolved" and alert.resolved_by == result.event_ids[0]


# --------------------------------------------------------------------------------------------
# Jurisdiction
# --------------------------------------------------------------------------------------------


def test_alerts_are_scoped_by_jurisdiction(world: World) -> None:
    data = generate(packs=2, rate=0.5, seed=9)
    load(world, data)
    store = world.store
    moment = us_of(NOW)

    def seen(scope: engine.Scope) -> set[str]:
        return {a.kind for a in engine.list_alerts(store, scope, now=moment)}

    everything = seen(engine.Scope.everything())
    assert len(everything) == 9
    assert "mass-balance" in seen(engine.Scope(enterprise=RECYCLER))  # the recycler's own
    # Jiangsu (32): the dismantler and the outlets there.
    jiangsu = engine.list_alerts(store, engine.Scope(province="32"), now=moment)
    assert jiangsu and {a.province for a in jiangsu} == {"32"}
    assert "retired-not-collected" not in {a.kind for a in jiangsu}
    # Guangdong (44): the automaker responsible for the battery that was never collected.
    assert seen(engine.Scope(province="44")) == {"retired-not-collected"}
    # An enterprise sees its own alerts only; an empty scope sees nothing.
    assert seen(engine.Scope(enterprise=CASCADE)) == {"unreported-source"}
    assert seen(engine.Scope(enterprise=REPAIRER)) == set()
    assert seen(engine.Scope()) == set()
    # The filters narrow within a scope, never widen it.
    wide = engine.AlertFilter(province="44")
    assert engine.list_alerts(store, engine.Scope(province="32"), wide, now=moment) == []
    # Regulators of the registry resolve to their jurisdictions.
    from battrace.services.supervision import scope_of

    assert scope_of(store, MIIT) == engine.Scope.everything()
    assert scope_of(store, JS_REGULATOR) == engine.Scope(province="32")
    assert scope_of(store, GD_REGULATOR) == engine.Scope(province="44")
    assert scope_of(store, CASCADE) == engine.Scope(enterprise=CASCADE)


def test_bad_filters_name_the_field() -> None:
    with pytest.raises(Exception, match="kind"):
        engine.AlertFilter(kind="late")
    with pytest.raises(Exception, match="province"):
        engine.AlertFilter(province="Guangdong")
    with pytest.raises(Exception, match="as_of"):
        engine.as_of_argument("2026-13-01")


def test_parallel_full_evaluation_matches_in_process(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(world, generate(packs=6, rate=0.34, seed=4))
    single = engine.evaluate(world.store, world.rules, workers=1)
    monkeypatch.setattr(engine, "PARALLEL_MIN_EVENTS", 0)
    with world.store.engine.connect() as conn:  # type: ignore[attr-defined]
        plan = engine._parallel_plan(engine.sql_store(world.store), conn, 3)
    assert len(plan) == 3 and plan[0][0] is None and plan[-1][1] is None
    with world.store.engine.connect() as conn:  # type: ignore[attr-defined]
        per_subject = [
            n
            for _, n in conn.exec_driver_sql(
                "SELECT subject, count(*) FROM supervision_facts GROUP BY subject ORDER BY subject"
            )
        ]
        ranges = [
            conn.exec_driver_sql(
                "SELECT count(*) FROM supervision_facts WHERE (? IS NULL OR subject >= ?)"
                " AND (? IS NULL OR subject < ?)",
                (lo, lo, hi, hi),
            ).scalar_one()
            for lo, hi in plan
        ]
    # Cut by facts, not events, give or take one subject's: the parent's range is smaller by the
    # serial work it does after (PARENT_EXTRA), the workers' ranges are equal.
    total = sum(per_subject)
    first = (1 - engine.PARENT_EXTRA * 2) / 3
    expected = [total * first, total * (1 - first) / 2, total * (1 - first) / 2]
    assert sum(ranges) == total
    assert all(abs(n - e) <= 2 * max(per_subject) for n, e in zip(ranges, expected, strict=True))
    parallel = engine.evaluate(world.store, world.rules, workers=3)
    assert sorted(f.signature() for f in parallel) == sorted(f.signature() for f in single)
    report = engine.rebuild(world.store, world.rules, workers=2, now=us_of(NOW))
    assert report.reconcile.inserted == report.reconcile.updated == 0
