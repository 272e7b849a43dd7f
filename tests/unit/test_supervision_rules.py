"""Each alert kind, evaluated on hand-made facts (pure; no database).

For every kind: violated, satisfied on time, satisfied late (the finding is resolved by the
satisfying fact), a deadline across a public holiday and an adjusted working day (调休), and
out-of-order arrival (facts learnt in another order than they happened). Jurisdiction scoping is
tested through the ledger in tests/integration/test_alerts_engine.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone

import pytest

from battrace.domain.rules import AlertKind, RuleSet, load_rulebooks
from battrace.domain.supervision import facts as F
from battrace.domain.supervision.clock import end_of_day, us_of
from battrace.domain.supervision.evaluate import (
    Context,
    OutletSweep,
    Retraction,
    evaluate_all,
    evaluate_subject,
    late_report,
)
from battrace.domain.supervision.facts import Fact
from battrace.domain.supervision.findings import Finding
from battrace.domain.supervision.registry import Registry, enterprise_info

CST = timezone(timedelta(hours=8))
PACK = "urn:gbt34014:ABCPB01A1B2C3DG310000001"
PACK2 = "urn:gbt34014:ABCPB01A1B2C3DG310000002"
VIN = "urn:vin:LSVAB123XTA000014"

LOCAL = """
[rulebook]
schema = 1
id = "unit-local"
title_zh = "单元测试规则"
title_en = "Unit-test rules"

[documents.local]
title_zh = "测试"
title_en = "Test"

[[rule]]
id = "cn-assumption-outlet-follow-up"
version = 2
title_zh = "网点20个工作日内出库"
title_en = "Outlet ships on within 20 working days"
kind = "follow_up_period"
actor = "recycling_outlet"
trigger = "receiving"
alert_kind = "missing-follow-up"
valid_from = 2018-08-01
confidence = "official"
source = { document = "local" }
parameters = { period_days = 20, day_basis = "working_days", follow_up_trigger = "shipping" }

[[rule]]
id = "local-recycler-follow-up"
version = 1
title_zh = "再生利用企业30个工作日内完成处置"
title_en = "Recycler recycles within 30 working days"
kind = "follow_up_period"
actor = "recycler"
trigger = "receiving"
alert_kind = "missing-follow-up"
valid_from = 2018-08-01
confidence = "official"
source = { document = "local" }
parameters = { period_days = 30, day_basis = "working_days", follow_up_trigger = "recycling" }

[[rule]]
id = "cn-2018-measures-retired-not-collected"
version = 2
title_zh = "退役电池60日内进入回收渠道"
title_en = "Retired battery collected within 60 days"
kind = "collection_period"
actor = "automaker"
trigger = "removing"
alert_kind = "retired-not-collected"
valid_from = 2018-08-01
confidence = "official"
source = { document = "local" }
parameters = { period_days = 60, day_basis = "calendar_days" }
"""


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    path = tmp_path_factory.mktemp("rules") / "local.toml"
    path.write_text(LOCAL, encoding="utf-8")
    return load_rulebooks([path])


def registry() -> Registry:
    ents = [
        enterprise_info("MAKER", "电池", "35", ["battery_maker"]),
        enterprise_info("AUTO", "汽车", "44", ["automaker"]),
        enterprise_info("AUTO2", "另一汽车", "31", ["automaker"]),
        enterprise_info("DEALER", "经销", "44", ["dealer"]),
        enterprise_info("REPAIR", "维修", "44", ["repairer"]),
        enterprise_info("DISM", "拆解", "32", ["dismantler"]),
        enterprise_info(
            "OUT", "网点", "32", ["recycling_outlet"], [{"id": "d", "serves": ["AUTO"]}]
        ),
        enterprise_info("SHARED", "共享网点", "32", ["recycling_outlet"], ["d"]),
        enterprise_info(
            "BIG",
            "集中网点",
            "32",
            ["recycling_outlet"],
            [{"id": "d", "outlet_type": "centralized", "capacity_t": 1}],
        ),
        enterprise_info(
            "CASC",
            "梯次",
            "43",
            ["cascade_user"],
            [],
            [{"kind": "cascade_use", "date": "2020-01-01"}],
        ),
        enterprise_info(
            "REC", "再生", "43", ["recycler"], [], [{"kind": "recycling", "date": "2025-01-01"}]
        ),
        enterprise_info(
            "BOTH",
            "梯次再生",
            "43",
            ["cascade_user", "recycler"],
            [],
            [{"kind": "recycling"}, {"kind": "cascade_use"}],
        ),
    ]
    return Registry({e.uscc: e for e in ents}, {"ABC": "MAKER"}, {})


@pytest.fixture
def ctx(rules: RuleSet) -> Context:
    return Context(rules, registry())


_seq = itertools.count(1)


def at(y: int, m: int, d: int, h: int = 10) -> int:
    return us_of(datetime(y, m, d, h, tzinfo=CST))


def fact(
    step: str,
    reporter: str,
    when: int,
    recorded: int | None = None,
    *,
    subject: str = PACK,
    role: str = "epc",
    party: str | None = None,
    site: str | None = None,
    kg: float | None = None,
    primary: bool = True,
) -> Fact:
    seq = next(_seq)
    return Fact(
        subject,
        seq,
        role,
        seq,
        0,
        when,
        recorded if recorded is not None else when + 3600 * 10**6,
        step,
        reporter,
        party,
        site if site is not None else f"urn:uscc:{reporter}:site:d",
        kg,
        primary,
    )


def kinds(findings: list[Finding], kind: AlertKind) -> list[Finding]:
    return [f for f in findings if f.kind == kind]


def only(findings: list[Finding], kind: AlertKind) -> Finding:
    found = kinds(findings, kind)
    assert len(found) == 1, found
    return found[0]


# --------------------------------------------------------------------------------------------
# late-report
# --------------------------------------------------------------------------------------------


def test_late_report_across_spring_festival_and_both_adjusted_sundays(ctx: Context) -> None:
    # 15 working days after Thu 2024-02-01 is Tue 02-27: the holiday (10-17 Feb) does not count,
    # the adjusted working Sundays 4 and 18 Feb do (without them: 02-29; plain weekdays: 02-22).
    event = at(2024, 2, 1)
    on_time = fact(F.SCRAP, "DISM", event, at(2024, 2, 27, 23), subject=VIN)
    assert late_report(on_time, ctx) is None
    late = fact(F.SCRAP, "DISM", event, at(2024, 2, 28, 9), subject=VIN)
    finding = late_report(late, ctx)
    assert finding is not None
    assert finding.kind == AlertKind.LATE_REPORT
    assert finding.rule_id == "cn-2018-trace-dismantler-receipt"
    assert finding.due == date(2024, 2, 27)
    assert finding.detected_at == late.record_time
    assert finding.enterprise == "DISM" and finding.province == "32"
    assert finding.detail["working_days_late"] == 1
    assert not finding.provisional
    assert "第十三条" in finding.citation and "MIIT Announcement 2018 No. 35" in finding.citation


def test_late_report_after_national_day_and_adjusted_saturday(ctx: Context) -> None:
    # Outlet receipt, 30 working days after Thu 2024-09-26: Sun 09-29 and Sat 10-12 work,
    # 1-7 Oct are off → due Tue 2024-11-12 (plain weekdays: 11-07).
    event = at(2024, 9, 26)
    assert late_report(fact(F.COLLECT, "OUT", event, at(2024, 11, 12, 22)), ctx) is None
    finding = late_report(fact(F.COLLECT, "OUT", event, at(2024, 11, 13, 1)), ctx)
    assert finding is not None and finding.due == date(2024, 11, 12)


def test_a_deadline_in_an_uncovered_year_is_provisional(ctx: Context) -> None:
    finding = late_report(fact(F.SCRAP, "DISM", at(2026, 12, 20), at(2027, 1, 11)), ctx)
    assert finding is not None
    assert finding.due == date(2027, 1, 8) and finding.provisional


def test_unconfirmed_deadlines_never_raise(ctx: Context) -> None:
    # The dealer's sale deadline (Art. 9) is UNCONFIRMED: a sale reported a year late is no alert.
    assert late_report(fact(F.SELL, "DEALER", at(2024, 3, 1), at(2025, 3, 1)), ctx) is None


def test_two_roles_are_judged_under_the_more_lenient_deadline(ctx: Context) -> None:
    # Cascade-use receipt 15 working days, recycler receipt 30: BOTH gets 30.
    event = at(2024, 3, 1)
    assert late_report(fact(F.RECEIVE, "BOTH", event, at(2024, 3, 29)), ctx) is None
    assert late_report(fact(F.RECEIVE, "CASC", event, at(2024, 3, 29)), ctx) is not None


def test_late_report_is_judged_on_primary_facts_only(ctx: Context) -> None:
    late = fact(F.SCRAP, "DISM", at(2024, 3, 1), at(2024, 6, 1), primary=False)
    assert kinds(evaluate_subject(PACK, [late], ctx), AlertKind.LATE_REPORT) == []


# --------------------------------------------------------------------------------------------
# missing-follow-up
# --------------------------------------------------------------------------------------------


def test_follow_up_missing_is_an_open_finding_from_the_deadline(ctx: Context) -> None:
    receipt = fact(F.COLLECT, "OUT", at(2024, 9, 26))
    found = only(evaluate_subject(PACK, [receipt], ctx), AlertKind.MISSING_FOLLOW_UP)
    # 20 working days across National Day 2024 (Sun 09-29 and Sat 10-12 worked) → 10-29.
    assert found.due == date(2024, 10, 29)
    assert found.detected_at == end_of_day(date(2024, 10, 29))
    assert found.resolved_at is None and found.enterprise == "OUT"
    assert found.rule_id == "cn-assumption-outlet-follow-up" and found.rule_version == 2


def test_follow_up_on_time_across_the_holiday_is_no_finding(ctx: Context) -> None:
    receipt = fact(F.COLLECT, "OUT", at(2024, 9, 26))
    ship = fact(F.SHIP, "OUT", at(2024, 10, 29, 17), party="REC")
    assert kinds(evaluate_subject(PACK, [receipt, ship], ctx), AlertKind.MISSING_FOLLOW_UP) == []


def test_follow_up_done_late_resolves_the_finding(ctx: Context) -> None:
    receipt = fact(F.COLLECT, "OUT", at(2024, 9, 26))
    ship = fact(F.SHIP, "OUT", at(2024, 10, 30), party="REC")
    found = only(evaluate_subject(PACK, [receipt, ship], ctx), AlertKind.MISSING_FOLLOW_UP)
    assert found.resolved_by == ship.event_seq and found.resolved_at == ship.record_time
    assert found.evidence == (receipt.event_seq, ship.event_seq)


def test_follow_up_done_in_time_but_reported_late_is_an_alert_until_the_report(
    ctx: Context,
) -> None:
    receipt = fact(F.COLLECT, "OUT", at(2024, 9, 26))
    ship = fact(F.SHIP, "OUT", at(2024, 10, 20), recorded=at(2024, 11, 5))
    found = only(evaluate_subject(PACK, [receipt, ship], ctx), AlertKind.MISSING_FOLLOW_UP)
    assert found.detected_at == end_of_day(date(2024, 10, 29))
    assert found.resolved_at == ship.record_time


def test_follow_up_reported_before_its_trigger_arrives_out_of_order(ctx: Context) -> None:
    # The outlet reports the shipment first and the (earlier) receipt three weeks later.
    ship = fact(F.SHIP, "OUT", at(2024, 9, 30), recorded=at(2024, 9, 30, 20))
    receipt = fact(F.COLLECT, "OUT", at(2024, 9, 26), recorded=at(2024, 10, 21))
    findings = evaluate_subject(PACK, [ship, receipt], ctx)
    assert kinds(findings, AlertKind.MISSING_FOLLOW_UP) == []


def test_follow_up_must_come_from_the_same_enterprise(ctx: Context) -> None:
    receipt = fact(F.COLLECT, "OUT", at(2024, 3, 1))
    someone_else = fact(F.SHIP, "SHARED", at(2024, 3, 5))
    found = evaluate_subject(PACK, [receipt, someone_else], ctx)
    assert only(found, AlertKind.MISSING_FOLLOW_UP).resolved_at is None


def test_recycler_follow_up_is_met_by_dismantling(ctx: Context) -> None:
    receipt = fact(F.RECEIVE, "REC", at(2025, 3, 3), party="OUT")
    dismantled = fact(F.DISMANTLE, "REC", at(2025, 3, 20), role="input")
    assert (
        kinds(evaluate_subject(PACK, [receipt, dismantled], ctx), AlertKind.MISSING_FOLLOW_UP) == []
    )


def test_a_cascade_recoding_meets_the_follow_up_of_a_cascade_user_and_recycler(
    ctx: Context,
) -> None:
    # BOTH received the pack as a cascade user (the receipt does not say): re-coding it into a
    # cascade product ends the recycler's duty to recycle it (the most lenient reading).
    receipt = fact(F.RECEIVE, "BOTH", at(2025, 3, 3), party="OUT")
    recoded = fact(F.RECODE, "BOTH", at(2025, 3, 20), role="input")
    assert kinds(evaluate_subject(PACK, [receipt, recoded], ctx), AlertKind.MISSING_FOLLOW_UP) == []
    assert kinds(evaluate_subject(PACK, [receipt], ctx), AlertKind.MISSING_FOLLOW_UP)


# -- the packaged defaults (battrace assumptions, enforced until an operator decides) -----------


@pytest.fixture(scope="module")
def packaged() -> Context:
    return Context(load_rulebooks(), registry())


def test_packaged_follow_up_default_is_violated_across_national_day(packaged: Context) -> None:
    # 60 working days after Thu 2024-09-26: 1-7 Oct off, Sun 09-29 and Sat 10-12 worked → Tue
    # 12-24 (plain weekdays: 12-19).
    receipt = fact(F.COLLECT, "OUT", at(2024, 9, 26))
    found = only(evaluate_subject(PACK, [receipt], packaged), AlertKind.MISSING_FOLLOW_UP)
    assert (found.rule_id, found.rule_version) == ("cn-assumption-outlet-follow-up", 1)
    assert found.due == date(2024, 12, 24) and not found.provisional
    assert found.detected_at == end_of_day(date(2024, 12, 24)) and found.resolved_at is None
    assert "battrace" in found.citation


def test_packaged_follow_up_default_met_on_time_and_late(packaged: Context) -> None:
    receipt = fact(F.COLLECT, "OUT", at(2024, 9, 26))
    on_time = fact(F.SHIP, "OUT", at(2024, 12, 24, 17), party="REC")
    assert (
        kinds(evaluate_subject(PACK, [receipt, on_time], packaged), AlertKind.MISSING_FOLLOW_UP)
        == []
    )
    late = fact(F.SHIP, "OUT", at(2024, 12, 25, 9), party="REC")
    found = only(evaluate_subject(PACK, [receipt, late], packaged), AlertKind.MISSING_FOLLOW_UP)
    assert found.resolved_by == late.event_seq and found.resolved_at == late.record_time


def test_packaged_recycler_and_dismantler_defaults(packaged: Context) -> None:
    receipt = fact(F.RECEIVE, "REC", at(2024, 12, 20), party="OUT")
    found = only(evaluate_subject(PACK, [receipt], packaged), AlertKind.MISSING_FOLLOW_UP)
    # across the 2025 Spring Festival (Sun 01-26 and Sat 02-08 worked): Fri 2025-03-21
    assert found.rule_id == "cn-assumption-recycler-follow-up"
    assert found.due == date(2025, 3, 21)
    recycled = fact(F.RECYCLE, "REC", at(2025, 3, 21, 15), role="input")
    assert (
        kinds(evaluate_subject(PACK, [receipt, recycled], packaged), AlertKind.MISSING_FOLLOW_UP)
        == []
    )
    scrap = fact(F.SCRAP, "DISM", at(2024, 9, 26), subject=PACK, role="child", party=VIN)
    found = only(evaluate_subject(PACK, [scrap], packaged), AlertKind.MISSING_FOLLOW_UP)
    assert found.rule_id == "cn-assumption-dismantler-battery-follow-up"


def test_an_operators_rule_replaces_the_default_under_any_id(ctx: Context) -> None:
    # The local rulebook supersedes the outlet default by id (version 2, 20 working days) and
    # adds its own recycler rule (another id): each receipt raises one finding, the operator's.
    outlet = only(
        evaluate_subject(PACK, [fact(F.COLLECT, "OUT", at(2024, 9, 26))], ctx),
        AlertKind.MISSING_FOLLOW_UP,
    )
    assert (outlet.rule_id, outlet.rule_version) == ("cn-assumption-outlet-follow-up", 2)
    recycler = only(
        evaluate_subject(PACK, [fact(F.RECEIVE, "REC", at(2024, 12, 20), party="OUT")], ctx),
        AlertKind.MISSING_FOLLOW_UP,
    )
    assert recycler.rule_id == "local-recycler-follow-up"


def test_packaged_collection_default(packaged: Context) -> None:
    removed = fact(F.REMOVE, "REPAIR", at(2024, 9, 26), role="child", party=VIN)
    found = only(
        evaluate_subject(PACK, [_installed(), removed], packaged), AlertKind.RETIRED_NOT_COLLECTED
    )
    assert found.rule_id == "cn-assumption-retired-collection"
    assert found.due == date(2024, 12, 24) and found.enterprise == "AUTO"
    collected = fact(F.COLLECT, "OUT", at(2024, 12, 24, 11))
    assert (
        kinds(
            evaluate_subject(PACK, [_installed(), removed, collected], packaged),
            AlertKind.RETIRED_NOT_COLLECTED,
        )
        == []
    )
    late = fact(F.COLLECT, "OUT", at(2024, 12, 27, 11))
    found = only(
        evaluate_subject(PACK, [_installed(), removed, late], packaged),
        AlertKind.RETIRED_NOT_COLLECTED,
    )
    assert found.resolved_by == late.event_seq


def test_unconfirmed_rules_that_are_not_battrace_defaults_stay_unenforced(
    packaged: Context,
) -> None:
    # The 2018 Measures' own collection rule has no period: it is not what raised the finding.
    removed = fact(F.REMOVE, "REPAIR", at(2024, 3, 1), role="child", party=VIN)
    found = evaluate_subject(PACK, [_installed(), removed], packaged)
    assert {f.rule_id for f in found} == {"cn-assumption-retired-collection"}


# --------------------------------------------------------------------------------------------
# retired-not-collected
# --------------------------------------------------------------------------------------------


def _installed() -> Fact:
    return fact(F.INSTALL, "AUTO", at(2024, 1, 5), role="child", party=VIN)


def test_retired_and_never_collected(ctx: Context) -> None:
    removed = fact(F.REMOVE, "REPAIR", at(2024, 3, 1), role="child", party=VIN)
    retired = fact(F.RETIRE, "REPAIR", at(2024, 3, 1, 12))
    found = only(
        evaluate_subject(PACK, [_installed(), removed, retired], ctx),
        AlertKind.RETIRED_NOT_COLLECTED,
    )
    assert found.due == date(2024, 4, 30)  # 60 calendar days
    assert found.enterprise == "AUTO" and found.province == "44"  # the automaker is responsible
    assert found.resolved_at is None


def test_collected_in_time_and_collected_late(ctx: Context) -> None:
    retired = fact(F.RETIRE, "REPAIR", at(2024, 3, 1))
    in_time = fact(F.COLLECT, "OUT", at(2024, 4, 30, 18), party="REPAIR")
    assert (
        kinds(
            evaluate_subject(PACK, [_installed(), retired, in_time], ctx),
            AlertKind.RETIRED_NOT_COLLECTED,
        )
        == []
    )
    late = fact(F.RECEIVE, "CASC", at(2024, 5, 2), party="REPAIR")
    found = only(
        evaluate_subject(PACK, [_installed(), retired, late], ctx), AlertKind.RETIRED_NOT_COLLECTED
    )
    assert found.resolved_by == late.event_seq


def test_reinstalled_battery_is_not_waste(ctx: Context) -> None:
    removed = fact(F.REMOVE, "REPAIR", at(2024, 3, 1), role="child", party=VIN)
    back = fact(F.REPLACE, "REPAIR", at(2024, 3, 3), role="child", party=VIN)
    assert (
        kinds(
            evaluate_subject(PACK, [_installed(), removed, back], ctx),
            AlertKind.RETIRED_NOT_COLLECTED,
        )
        == []
    )


def test_collection_reported_out_of_order(ctx: Context) -> None:
    # The outlet's receipt is learnt before the retirement report that precedes it in time.
    collect = fact(F.COLLECT, "OUT", at(2024, 3, 10), recorded=at(2024, 3, 10, 20))
    retired = fact(F.RETIRE, "REPAIR", at(2024, 3, 1), recorded=at(2024, 3, 20))
    assert (
        kinds(evaluate_subject(PACK, [collect, retired], ctx), AlertKind.RETIRED_NOT_COLLECTED)
        == []
    )


# --------------------------------------------------------------------------------------------
# unqualified-transfer
# --------------------------------------------------------------------------------------------


def _dismantler_ship(to: str | None, when: int | None = None) -> list[Fact]:
    return [
        _installed(),
        fact(F.SCRAP, "DISM", at(2026, 5, 1), party=VIN),
        fact(F.SHIP, "DISM", when or at(2026, 5, 6), party=to),
    ]


@pytest.mark.parametrize(
    ("receiver", "reason"),
    [
        (None, "names no receiver"),
        ("NOBODY", "not a registered enterprise"),
        ("DEALER", "is none of"),
        ("AUTO2", "is none of"),
        ("REC", None),
        ("OUT", None),  # an outlet of AUTO, which installed the pack
        ("SHARED", None),  # a shared outlet
        ("CASC", None),
    ],
)
def test_dismantler_transfers(ctx: Context, receiver: str | None, reason: str | None) -> None:
    found = kinds(
        evaluate_subject(PACK, _dismantler_ship(receiver), ctx), AlertKind.UNQUALIFIED_TRANSFER
    )
    if reason is None:
        assert found == []
    else:
        assert len(found) == 1 and reason in found[0].detail["reason"]
        assert found[0].enterprise == "DISM" and found[0].rule_id == "cn-2026-transfer-dismantler"


def test_outlet_of_another_producer_is_unqualified(ctx: Context) -> None:
    facts = _dismantler_ship("OUT")
    facts[0] = fact(F.INSTALL, "AUTO2", at(2024, 1, 5), role="child", party=VIN)
    found = only(evaluate_subject(PACK, facts, ctx), AlertKind.UNQUALIFIED_TRANSFER)
    assert "not a recycling outlet of the battery's producers" in found.detail["reason"]


def test_whitelisting_after_the_shipment_does_not_count(ctx: Context) -> None:
    # REC is whitelisted from 2025-01-01; a shipment in 2024 to it is unqualified (MOFCOM 2020).
    found = only(
        evaluate_subject(PACK, _dismantler_ship("REC", at(2024, 12, 30)), ctx),
        AlertKind.UNQUALIFIED_TRANSFER,
    )
    assert found.rule_id == "cn-2020-mofcom-dismantler-transfer"
    assert "no recycling whitelist qualification on 2024-12-30" in found.detail["reason"]


def test_repairer_shipping_a_working_pack_is_not_a_waste_transfer(ctx: Context) -> None:
    ship = fact(F.SHIP, "REPAIR", at(2026, 5, 6), party="AUTO")
    assert (
        kinds(evaluate_subject(PACK, [_installed(), ship], ctx), AlertKind.UNQUALIFIED_TRANSFER)
        == []
    )
    retired = fact(F.RETIRE, "REPAIR", at(2026, 5, 5))
    found = evaluate_subject(PACK, [_installed(), retired, ship], ctx)
    assert only(found, AlertKind.UNQUALIFIED_TRANSFER).rule_id == "cn-2026-transfer-repairer"


def test_repairer_transfers_before_the_2026_rule_are_not_restricted(ctx: Context) -> None:
    retired = fact(F.RETIRE, "REPAIR", at(2026, 3, 5))
    ship = fact(F.SHIP, "REPAIR", at(2026, 3, 6), party="DEALER")
    assert kinds(evaluate_subject(PACK, [retired, ship], ctx), AlertKind.UNQUALIFIED_TRANSFER) == []


# --------------------------------------------------------------------------------------------
# battery-missing-at-scrapping
# --------------------------------------------------------------------------------------------


def _vehicle(*facts: Fact) -> list[Finding]:
    return kinds(
        evaluate_subject(VIN, list(facts), Context(RULES, registry())),
        AlertKind.BATTERY_MISSING_AT_SCRAPPING,
    )


RULES = load_rulebooks()


def _fit() -> Fact:
    return fact(F.INSTALL, "AUTO", at(2025, 1, 5), subject=VIN, role="parent", party=PACK)


def test_scrapped_without_its_battery() -> None:
    scrap = fact(F.SCRAP, "DISM", at(2026, 5, 1), subject=VIN)
    found = _vehicle(_fit(), scrap)
    assert len(found) == 1
    assert found[0].subject == VIN.removeprefix("urn:vin:")
    assert found[0].detail["last_recorded_pack"] == PACK.removeprefix("urn:gbt34014:")
    assert found[0].resolved_at is None


def test_scrapped_with_its_battery_or_after_a_lawful_removal() -> None:
    assert _vehicle(_fit(), fact(F.SCRAP, "DISM", at(2026, 5, 1), subject=VIN, party=PACK)) == []
    removal = fact(F.REMOVE, "REPAIR", at(2026, 4, 20), subject=VIN, role="parent", party=PACK)
    assert _vehicle(_fit(), removal, fact(F.SCRAP, "DISM", at(2026, 5, 1), subject=VIN)) == []


def test_removal_by_an_unregistered_party_is_not_lawful() -> None:
    removal = fact(F.REMOVE, "NOBODY", at(2026, 4, 20), subject=VIN, role="parent", party=PACK)
    assert len(_vehicle(_fit(), removal, fact(F.SCRAP, "DISM", at(2026, 5, 1), subject=VIN))) == 1


def test_battery_found_later_resolves_and_out_of_order_removal_resolves() -> None:
    scrap = fact(F.SCRAP, "DISM", at(2026, 5, 1), subject=VIN)
    later = fact(F.REMOVE, "DISM", at(2026, 5, 3), subject=VIN, role="parent", party=PACK)
    found = _vehicle(_fit(), scrap, later)
    assert len(found) == 1 and found[0].resolved_by == later.event_seq
    # A repairer's lawful removal *before* the scrapping, reported only after it.
    late_report = fact(
        F.REMOVE,
        "REPAIR",
        at(2026, 4, 20),
        recorded=at(2026, 5, 20),
        subject=VIN,
        role="parent",
        party=PACK,
    )
    found = _vehicle(_fit(), scrap, late_report)
    assert len(found) == 1 and found[0].resolved_by == late_report.event_seq


def test_same_capture_removal_is_no_alert() -> None:
    scrap = fact(F.SCRAP, "DISM", at(2026, 5, 1), at(2026, 5, 1, 20), subject=VIN)
    removal = fact(
        F.REMOVE,
        "DISM",
        at(2026, 5, 1, 11),
        at(2026, 5, 1, 20),
        subject=VIN,
        role="parent",
        party=PACK,
    )
    assert _vehicle(_fit(), scrap, removal) == []


def test_scrapping_before_the_2026_rule_is_not_judged() -> None:
    assert _vehicle(_fit(), fact(F.SCRAP, "DISM", at(2026, 3, 31), subject=VIN)) == []


# --------------------------------------------------------------------------------------------
# unreported-source
# --------------------------------------------------------------------------------------------


def test_cascade_receipt_without_origin(ctx: Context) -> None:
    receipt = fact(F.RECEIVE, "CASC", at(2025, 3, 3))
    found = only(evaluate_subject(PACK, [receipt], ctx), AlertKind.UNREPORTED_SOURCE)
    assert found.enterprise == "CASC" and found.rule_id == "cn-2024-whitelist-cascade-source"


def test_cascade_receipt_with_origin(ctx: Context) -> None:
    ship = fact(F.SHIP, "OUT", at(2025, 3, 1), party="CASC")
    receipt = fact(F.RECEIVE, "CASC", at(2025, 3, 3))
    assert kinds(evaluate_subject(PACK, [ship, receipt], ctx), AlertKind.UNREPORTED_SOURCE) == []
    named = fact(F.RECEIVE, "CASC", at(2025, 3, 3), party="OUT")
    assert kinds(evaluate_subject(PACK, [named], ctx), AlertKind.UNREPORTED_SOURCE) == []


def test_sender_reports_the_shipment_late(ctx: Context) -> None:
    receipt = fact(F.RECEIVE, "CASC", at(2025, 3, 3))
    ship = fact(F.SHIP, "OUT", at(2025, 3, 1), recorded=at(2025, 3, 20), party="CASC")
    found = only(evaluate_subject(PACK, [receipt, ship], ctx), AlertKind.UNREPORTED_SOURCE)
    assert found.resolved_by == ship.event_seq


def test_source_rule_applies_from_2024_12_24(ctx: Context) -> None:
    receipt = fact(F.RECEIVE, "CASC", at(2024, 12, 20))
    assert kinds(evaluate_subject(PACK, [receipt], ctx), AlertKind.UNREPORTED_SOURCE) == []


# --------------------------------------------------------------------------------------------
# code-not-registered
# --------------------------------------------------------------------------------------------


def test_unregistered_manufacturer_code(ctx: Context) -> None:
    code = "urn:gbt34014:ZZZPB01A1B2C3DG310000001"
    first = fact(F.RECEIVE, "REC", at(2025, 3, 3), subject=code)
    again = fact(F.RECYCLE, "REC", at(2025, 3, 9), subject=code, role="input")
    found = only(evaluate_subject(code, [again, first], ctx), AlertKind.CODE_NOT_REGISTERED)
    assert found.evidence == (first.event_seq,)
    assert found.enterprise == "REC"
    assert found.detail["manufacturer_code"] == "ZZZ"


def test_registered_code_and_registered_specifications(rules: RuleSet) -> None:
    reg = registry()
    assert (
        kinds(
            evaluate_subject(PACK, [fact(F.RECEIVE, "REC", at(2025, 3, 3))], Context(rules, reg)),
            AlertKind.CODE_NOT_REGISTERED,
        )
        == []
    )
    with_specs = Registry(reg.enterprises, reg.code_owners, {"ABC": frozenset({"02"})})
    found = only(
        evaluate_subject(
            PACK, [fact(F.RECEIVE, "REC", at(2025, 3, 3))], Context(rules, with_specs)
        ),
        AlertKind.CODE_NOT_REGISTERED,
    )
    assert found.enterprise == "MAKER" and "specification 01" in found.detail["reason"]


# --------------------------------------------------------------------------------------------
# outlet-over-capacity
# --------------------------------------------------------------------------------------------

SITE = "urn:uscc:SHARED:site:d"
BIG = "urn:uscc:BIG:site:d"


def packs(n: int) -> Iterator[str]:
    for i in range(n):
        yield f"urn:gbt34014:ABCPB01A1B2C3DG31{i:07d}"


def receipts(codes: list[str], when: int, site: str = SITE, kg: float = 300.0) -> list[Fact]:
    who = site.split(":")[2]
    return [fact(F.COLLECT, who, when, subject=c, site=site, kg=kg) for c in codes]


def test_collection_outlet_over_five_tonnes_then_back_under(ctx: Context) -> None:
    sweep = OutletSweep(ctx)
    codes = list(packs(17))
    sweep.apply(receipts(codes[:16], at(2025, 3, 3)), at(2025, 3, 3, 20))  # 4.8 t
    assert sweep.findings == {}
    sweep.apply(receipts(codes[16:], at(2025, 3, 4)), at(2025, 3, 4, 20))  # 5.1 t
    (found,) = sweep.findings.values()
    assert found.kind == AlertKind.OUTLET_OVER_CAPACITY and found.subject == "SHARED"
    assert found.detail["stock_t"] == 5.1 and found.detail["limit_t"] == 5.0
    assert found.rule_id == "cn-2019-outlet-collection-stock"
    ship = fact(F.SHIP, "SHARED", at(2025, 3, 6), subject=codes[0], party="REC")
    sweep.apply([ship], at(2025, 3, 6, 20))
    (resolved,) = sweep.findings.values()
    assert resolved.resolved_by == ship.event_seq and resolved.resolved_at == at(2025, 3, 6, 20)


def test_exactly_five_tonnes_is_within_the_limit(ctx: Context) -> None:
    sweep = OutletSweep(ctx)
    sweep.apply(receipts(list(packs(10)), at(2025, 3, 3), kg=500.0), at(2025, 3, 3, 20))
    assert sweep.findings == {}


def test_receipt_and_shipment_reported_together_raise_nothing(ctx: Context) -> None:
    sweep = OutletSweep(ctx)
    codes = list(packs(18))
    ships = [fact(F.SHIP, "SHARED", at(2025, 3, 5), subject=c, party="REC") for c in codes[:4]]
    sweep.apply(receipts(codes, at(2025, 3, 3)) + ships, at(2025, 3, 5, 20))
    assert sweep.findings == {}
    assert sweep.totals[SITE].count == 14


def test_another_holder_reporting_the_battery_takes_it_out_of_stock(ctx: Context) -> None:
    sweep = OutletSweep(ctx)
    codes = list(packs(18))
    sweep.apply(receipts(codes, at(2025, 3, 3)), at(2025, 3, 3, 20))
    assert len(sweep.findings) == 1
    elsewhere = [fact(F.RECEIVE, "REC", at(2025, 3, 8), subject=c, party=None) for c in codes[:2]]
    sweep.apply(elsewhere, at(2025, 3, 8, 20))
    assert next(iter(sweep.findings.values())).resolved_by == elsewhere[-1].event_seq


def test_centralized_outlet_uses_its_registered_capacity(ctx: Context) -> None:
    sweep = OutletSweep(ctx)
    sweep.apply(receipts(list(packs(4)), at(2025, 3, 3), site=BIG), at(2025, 3, 3, 20))  # 1.2 t
    (found,) = sweep.findings.values()
    assert found.detail["limit_t"] == 1.0 and found.rule_id == "cn-2019-outlet-centralized-capacity"


def test_retracted_receipt_leaves_the_stock(ctx: Context) -> None:
    codes = list(packs(17))
    items = receipts(codes, at(2025, 3, 3))
    findings, sweep = evaluate_all(
        [(f.subject, [f]) for f in items],
        ctx,
        {items[0].event_seq: Retraction(items[0].event_seq, 10**6, at(2025, 3, 9))},
    )
    over = kinds(findings, AlertKind.OUTLET_OVER_CAPACITY)
    assert len(over) == 1 and over[0].resolved_at == at(2025, 3, 9)
    assert sweep.totals[SITE].count == 16


def test_modules_out_of_a_pack_it_dismantled_have_a_source(ctx: Context) -> None:
    module = "urn:gbt34014:ABCMB01A1B2C3DG310000001"
    out = fact(F.DISMANTLE, "BOTH", at(2025, 3, 3), subject=module, role="output")
    used = fact(F.RECYCLE, "BOTH", at(2025, 3, 9), subject=module, role="input")
    assert kinds(evaluate_subject(module, [out, used], ctx), AlertKind.UNREPORTED_SOURCE) == []
    alone = fact(F.RECYCLE, "BOTH", at(2025, 3, 9), subject=module, role="input")
    assert len(kinds(evaluate_subject(module, [alone], ctx), AlertKind.UNREPORTED_SOURCE)) == 1


def test_calendar_day_periods_ignore_holidays(ctx: Context) -> None:
    # The collection period is in calendar days: 60 days after 2024-02-01 is 2024-04-01 although
    # the Spring Festival holiday lies inside it (working days would end much later).
    retired = fact(F.RETIRE, "REPAIR", at(2024, 2, 1))
    found = only(
        evaluate_subject(PACK, [_installed(), retired], ctx), AlertKind.RETIRED_NOT_COLLECTED
    )
    assert found.due == date(2024, 4, 1)


def test_producer_reported_after_the_transfer(ctx: Context) -> None:
    # The automaker's installation (which makes OUT the battery's outlet) arrives after the
    # dismantler's shipment: the transfer is judged on everything known, in event-time order.
    ship = fact(F.SHIP, "DISM", at(2026, 5, 6), recorded=at(2026, 5, 6, 20), party="OUT")
    install = fact(
        F.INSTALL, "AUTO", at(2024, 1, 5), recorded=at(2026, 5, 20), role="child", party=VIN
    )
    assert kinds(evaluate_subject(PACK, [ship, install], ctx), AlertKind.UNQUALIFIED_TRANSFER) == []


SCENARIOS = {
    "late and follow-up": lambda: [
        fact(F.COLLECT, "OUT", at(2024, 9, 26), recorded=at(2024, 12, 1)),
        fact(F.SHIP, "OUT", at(2024, 10, 30), party="REC"),
    ],
    "collection": lambda: [
        _installed(),
        fact(F.REMOVE, "REPAIR", at(2024, 3, 1), role="child", party=VIN),
        fact(F.RETIRE, "REPAIR", at(2024, 3, 1, 12)),
        fact(F.RECEIVE, "CASC", at(2025, 5, 2)),
    ],
    "transfer and source": lambda: [
        _installed(),
        fact(F.SCRAP, "DISM", at(2026, 5, 1), party=VIN),
        fact(F.SHIP, "DISM", at(2026, 5, 6), party="AUTO2"),
        fact(F.RECEIVE, "CASC", at(2026, 5, 9)),
    ],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_findings_do_not_depend_on_the_order_facts_are_given(ctx: Context, name: str) -> None:
    facts = SCENARIOS[name]()
    expected = sorted(f.signature() for f in evaluate_subject(PACK, facts, ctx))
    assert expected  # every scenario finds something
    for order in itertools.permutations(facts):
        assert sorted(f.signature() for f in evaluate_subject(PACK, list(order), ctx)) == expected
