"""The whitelist core: applications as data, evaluation at every threshold boundary of the 2024
edition, UNCONFIRMED and draft items, editions in force, and the workflow state machine."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from battrace.domain.errors import InvalidInput
from battrace.domain.identities.uscc import make_uscc
from battrace.domain.rules import RuleSet, load_rulebooks, packaged_rulebooks, parse_rulebook
from battrace.domain.whitelist import (
    STATES,
    IllegalTransition,
    allowed_actions,
    criteria,
    edition_in_force,
    editions,
    evaluate,
    next_state,
    parse_application,
)
from battrace.domain.whitelist import workflow as wf

RECYCLER = make_uscc("430100", "61234567")
DAY = date(2026, 1, 5)

#: The 2024 recycling conditions (china-regulation.md §3.1): key → (comparator, threshold, unit)
EXPECTED_2024 = {
    "electrode_powder_recovery": (">=", "98", "%"),
    "powder_impurity_al": ("<", "1.5", "%"),
    "powder_impurity_cu": ("<", "1.5", "%"),
    "metal_recovery_li": (">=", "90", "%"),
    "metal_recovery_ni": (">=", "98", "%"),
    "metal_recovery_co": (">=", "98", "%"),
    "metal_recovery_mn": (">=", "98", "%"),
    "material_repair_recovery": (">=", "99", "%"),
    "process_wastewater_recycling": (">=", "90", "%"),
    "li2co3_energy_consumption": ("<", "2200", "kgce/t"),
}


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rulebooks()


def _app(indicators: dict[str, Any], kind: str = "recycling", **extra: Any) -> Any:
    return parse_application({"uscc": RECYCLER, "kind": kind, "indicators": indicators, **extra})


def _passing() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, (comp, value, unit) in EXPECTED_2024.items():
        v = Decimal(value)
        good = v if comp == ">=" else v - Decimal("0.01")
        out[key] = {"value": float(good), "unit": unit}
    return out


def test_2024_recycling_criteria_are_the_rulebook_thresholds(rules: RuleSet) -> None:
    crits = {c.key: c for c in criteria(rules, "2024", "recycling", DAY)}
    decisive = {k: c for k, c in crits.items() if c.decisive}
    assert set(decisive) == set(EXPECTED_2024)
    for key, (comp, value, unit) in EXPECTED_2024.items():
        t = decisive[key].rule.threshold
        assert t is not None
        assert (str(t.comparator), t.value, str(t.unit)) == (comp, Decimal(value), unit)
    # the 2024 draft items (Cu/Al ≥ 98 %, rare earths ≥ 97 %) are shown but never decisive
    drafts = {k for k, c in crits.items() if c.draft}
    assert drafts == {
        "metal_recovery_al",
        "metal_recovery_cu",
        "metal_recovery_rare_earths_and_other_valuable_metals",
    }


@pytest.mark.parametrize("key", sorted(EXPECTED_2024))
def test_each_threshold_at_its_boundary(rules: RuleSet, key: str) -> None:
    comp, value, unit = EXPECTED_2024[key]
    v = Decimal(value)
    cases = {v - Decimal("0.001"): comp == "<", v: comp == ">=", v + Decimal("0.001"): comp == ">="}
    for measured, passes in cases.items():
        result = evaluate(_app({key: {"value": float(measured), "unit": unit}}), rules, DAY)
        (item,) = [i for i in result.items if i.key == key]
        assert item.status == ("pass" if passes else "fail"), (key, measured)
        d = item.to_dict()
        assert d["rule"].startswith("cn-2024-whitelist-") and d["citation"]
        assert d["threshold"] == (int(v) if v == v.to_integral_value() else float(v))


def test_exact_decimal_comparison(rules: RuleSet) -> None:
    # 1.5 % of impurity is not "below 1.5 %", however it is written
    for raw in (1.5, "1.50", "1.5"):
        r = evaluate(_app({"powder_impurity_al": {"value": raw, "unit": "%"}}), rules, DAY)
        assert next(i for i in r.items if i.key == "powder_impurity_al").status == "fail"


def test_overall_result(rules: RuleSet) -> None:
    full = _passing()
    assert evaluate(_app(full), rules, DAY).result == "pass"
    partial = dict(full)
    del partial["metal_recovery_mn"]
    r = evaluate(_app(partial), rules, DAY)
    assert r.result == "incomplete" and r.count("not-provided") == 1
    bad = {**full, "metal_recovery_li": {"value": 89.9, "unit": "%"}}
    r = evaluate(_app(bad), rules, DAY)
    assert r.result == "fail" and r.failed() == ["metal_recovery_li"]
    assert r.to_dict()["counts"]["fail"] == 1


def test_draft_items_never_decide(rules: RuleSet) -> None:
    r = evaluate(_app({**_passing(), "metal_recovery_cu": {"value": 50, "unit": "%"}}), rules, DAY)
    item = next(i for i in r.items if i.key == "metal_recovery_cu")
    assert item.status == "unconfirmed" and item.met is False and item.draft
    assert r.result == "pass"


def test_cascade_use_source_verification(rules: RuleSet) -> None:
    ok = evaluate(_app({"source_verification": True}, "cascade_use"), rules, DAY)
    assert ok.result == "pass" and [i.key for i in ok.items] == ["source_verification"]
    no = evaluate(_app({"source_verification": {"value": False}}, "cascade_use"), rules, DAY)
    assert no.result == "fail"
    missing = evaluate(_app({}, "cascade_use"), rules, DAY)
    assert missing.result == "incomplete"


def test_editions_in_force(rules: RuleSet) -> None:
    assert editions(rules) == ("2019", "2024")
    assert edition_in_force(rules, date(2024, 12, 23)) == "2019"
    assert edition_in_force(rules, date(2024, 12, 24)) == "2024"
    assert evaluate(_app({}), rules, DAY).edition == "2024"
    with pytest.raises(InvalidInput, match="edition"):
        evaluate(_app({}, edition="2016"), rules, DAY)


def test_2019_values_are_unconfirmed_until_an_operator_confirms_them(
    rules: RuleSet, tmp_path: Path
) -> None:
    app = _app(
        {"metal_recovery_ni_co_mn_wet_process": {"value": 98.5, "unit": "%"}}, edition="2019"
    )
    r = evaluate(app, rules, date(2020, 6, 1))
    assert r.result == "unconfirmed"
    assert {i.status for i in r.items} == {"unconfirmed"}
    local = """
[rulebook]
schema = 1
id = "local"
title_zh = "本地"
title_en = "Local"
[documents.whitelist-2019]
title_zh = "2019年本（运营方核实）"
title_en = "2019 edition (verified by the operator)"
[[rule]]
id = "cn-2019-whitelist-wet-ni-co-mn-recovery"
version = 2
title_zh = "湿法镍钴锰回收率不低于98%"
title_en = "Wet-process Ni/Co/Mn recovery at least 98 %"
kind = "whitelist_threshold"
actor = "recycler"
trigger = "recycling"
valid_from = 2019-01-01
valid_to = 2024-12-23
confidence = "official"
source = { document = "whitelist-2019", article = "test" }
parameters = { quantity = "metal_recovery", material = "Ni/Co/Mn", scope = "wet_process", comparator = ">=", value = 98, unit = "%" }
"""
    texts = [parse_rulebook(t, o) for o, t in packaged_rulebooks()]
    confirmed = RuleSet([r for part in texts for r in part] + parse_rulebook(local, "local.toml"))
    r = evaluate(app, confirmed, date(2020, 6, 1))
    item = next(i for i in r.items if i.key == "metal_recovery_ni_co_mn_wet_process")
    assert item.status == "pass" and item.rule.version == 2
    assert r.result == "pass"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "recycling"}, "uscc"),
        ({"uscc": RECYCLER, "kind": "smelting"}, "kind"),
        ({"uscc": RECYCLER, "kind": "recycling", "edition": "24"}, "edition"),
        ({"uscc": RECYCLER, "kind": "recycling", "capacity_t": -1}, "capacity_t"),
        ({"uscc": RECYCLER, "kind": "recycling", "capacity_t": True}, "capacity_t"),
        ({"uscc": RECYCLER, "kind": "recycling", "colour": "red"}, "colour"),
        ({"uscc": RECYCLER, "kind": "recycling", "indicators": []}, "indicators"),
        ({"uscc": RECYCLER, "kind": "recycling", "indicators": {"x": 5}}, "indicators.x"),
        (
            {"uscc": RECYCLER, "kind": "recycling", "indicators": {"x": {"value": 5}}},
            "indicators.x.unit",
        ),
        (
            {
                "uscc": RECYCLER,
                "kind": "recycling",
                "indicators": {"x": {"value": "n/a", "unit": "%"}},
            },
            "indicators.x.value",
        ),
        (
            {
                "uscc": RECYCLER,
                "kind": "recycling",
                "indicators": {"x": {"value": float("nan"), "unit": "%"}},
            },
            "indicators.x.value",
        ),
    ],
)
def test_bad_applications_name_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_application(data)
    assert exc.value.field == field


@pytest.mark.parametrize(
    ("indicators", "field"),
    [
        ({"metal_recovery_zn": {"value": 99, "unit": "%"}}, "indicators.metal_recovery_zn"),
        ({"metal_recovery_li": {"value": 0.95, "unit": "fraction"}}, "indicators.metal_recovery_li.unit"),
        ({"metal_recovery_li": {"value": 101, "unit": "%"}}, "indicators.metal_recovery_li.value"),
        ({"metal_recovery_li": True}, "indicators.metal_recovery_li.value"),
        ({"li2co3_energy_consumption": {"value": -1, "unit": "kgce/t"}}, "indicators.li2co3_energy_consumption.value"),
    ],
)  # fmt: skip
def test_indicators_are_checked_against_the_edition(
    rules: RuleSet, indicators: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        evaluate(_app(indicators), rules, DAY)
    assert exc.value.field == field


def test_cascade_indicators_are_not_recycling_indicators(rules: RuleSet) -> None:
    with pytest.raises(InvalidInput, match="not an indicator of the 2024 edition for cascade_use"):
        evaluate(_app({"metal_recovery_li": {"value": 95, "unit": "%"}}, "cascade_use"), rules, DAY)


# -- the state machine -------------------------------------------------------------------------

LEGAL = {
    (wf.DRAFT, wf.SUBMIT): wf.SUBMITTED,
    (wf.SUBMITTED, wf.APPROVE): wf.APPROVED,
    (wf.SUBMITTED, wf.REJECT): wf.REJECTED,
    (wf.APPROVED, wf.ANNOUNCE): wf.ANNOUNCED,
    (wf.DRAFT, wf.WITHDRAW): wf.WITHDRAWN,
    (wf.SUBMITTED, wf.WITHDRAW): wf.WITHDRAWN,
    (wf.APPROVED, wf.WITHDRAW): wf.WITHDRAWN,
    (wf.REJECTED, wf.WITHDRAW): wf.WITHDRAWN,
}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", list(wf.TRANSITIONS))
def test_every_transition(state: str, action: str) -> None:
    if (state, action) in LEGAL:
        assert next_state(state, action) == LEGAL[(state, action)]
        assert action in allowed_actions(state)
    else:
        with pytest.raises(IllegalTransition) as exc:
            next_state(state, action)
        assert exc.value.field == "state" and state in exc.value.reason
        assert action not in allowed_actions(state)


def test_final_states_allow_nothing() -> None:
    assert allowed_actions(wf.ANNOUNCED) == () and allowed_actions(wf.WITHDRAWN) == ()


def test_unknown_action_or_state() -> None:
    with pytest.raises(InvalidInput, match="action"):
        next_state(wf.DRAFT, "publish")
    with pytest.raises(InvalidInput, match="state"):
        next_state("pending", wf.SUBMIT)
