"""Rulebooks: the packaged data, version resolution, local overrides and validation errors."""

from __future__ import annotations

import re
import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from battrace.domain.rules import (
    UNCONFIRMED,
    Actor,
    AlertKind,
    Confidence,
    Rule,
    RulebookError,
    RuleKind,
    RuleSet,
    Trigger,
    UnknownRule,
    add_working_days,
    load_rulebooks,
    packaged_rulebooks,
    parse_rulebook,
)

TODAY = date(2026, 11, 26)


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rulebooks()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


HEADER = """\
[rulebook]
schema = 1
id = "local"
title_zh = "本地规则"
title_en = "Local rules"

[documents.local]
title_zh = "本地文件"
title_en = "Local document"
"""


def rule_toml(**overrides: str) -> str:
    """A valid local reporting-deadline rule; overrides replace whole lines (value = TOML)."""
    fields = {
        "id": '"local-test-rule"',
        "version": "1",
        "title_zh": '"测试"',
        "title_en": '"Test"',
        "kind": '"reporting_deadline"',
        "actor": '"swap_operator"',
        "trigger": '"swapping"',
        "alert_kind": '"late-report"',
        "valid_from": "2026-04-01",
        "confidence": '"official"',
        "source": '{ document = "local", article = "Art. 1" }',
        "parameters": "{ deadline_working_days = 10 }",
    }
    fields.update(overrides)
    body = "\n".join(f"{k} = {v}" for k, v in fields.items() if v != "")
    return HEADER + "\n[[rule]]\n" + body + "\n"


# -- packaged rulebooks ----------------------------------------------------------------------------


def test_packaged_rulebooks_load_and_are_named(rules: RuleSet) -> None:
    names = [origin for origin, _ in packaged_rulebooks()]
    assert "battrace:rulebooks/cn-2018-traceability.toml" in names
    assert "battrace:rulebooks/eu-2023-1542.toml" in names
    assert len(rules.ids()) >= 60
    assert all(r.packaged for r in rules)


@pytest.mark.parametrize(
    ("actor", "trigger", "days", "rule_id"),
    [
        ("automaker", "certificate_of_conformity", 15, "cn-2018-trace-automaker-coc"),
        ("importer", "customs_clearance", 15, "cn-2018-trace-importer-customs"),
        ("repairer", "repairing", 30, "cn-2018-trace-repairer-repair"),
        ("repairer", "replacing", 30, "cn-2018-trace-repairer-replacement"),
        ("recycling_outlet", "receiving", 30, "cn-2018-trace-outlet-receipt"),
        ("recycling_outlet", "shipping", 30, "cn-2018-trace-outlet-shipment"),
        ("dismantler", "receiving", 15, "cn-2018-trace-dismantler-receipt"),
        ("dismantler", "shipping", 15, "cn-2018-trace-dismantler-shipment"),
        ("cascade_user", "shipping", 15, "cn-2018-trace-cascade-shipment"),
        ("cascade_user", "receiving", 15, "cn-2018-trace-cascade-waste-receipt"),
        ("recycler", "receiving", 30, "cn-2018-trace-recycler-receipt"),
        ("recycler", "recycling", 30, "cn-2018-trace-recycler-disposal"),
    ],
)
def test_2018_reporting_deadlines(
    rules: RuleSet, actor: str, trigger: str, days: int, rule_id: str
) -> None:
    for as_of in (date(2018, 8, 1), date(2022, 6, 1), TODAY):
        rule = rules.deadline(actor, trigger, as_of)
        assert rule is not None
        assert (rule.id, rule.deadline_working_days) == (rule_id, days)
        assert rule.alert_kind is AlertKind.LATE_REPORT
    assert rules.deadline(actor, trigger, date(2018, 7, 31)) is None  # before the regime


def test_2018_sources(rules: RuleSet) -> None:
    rule = rules.get("cn-2018-trace-dismantler-receipt", TODAY)
    assert rule is not None
    assert rule.source.document.number == "工业和信息化部公告2018年第35号"
    assert rule.source.document.number_en == "MIIT Announcement 2018 No. 35"
    assert rule.source.article is not None and "13" in rule.source.article
    assert rule.confidence is Confidence.OFFICIAL
    measures = rules.get("cn-2018-measures-retired-not-collected", TODAY)
    assert measures is not None
    assert measures.source.document.number == "工信部联节〔2018〕43号"


def test_unknown_deadlines_are_unconfirmed_placeholders_without_numbers(rules: RuleSet) -> None:
    for rid in ("cn-2018-trace-dealer-sale", "cn-2018-trace-battery-maker-shipment"):
        rule = rules.get(rid, TODAY)
        assert rule is not None
        assert rule.deadline_working_days is None
        assert rule.confidence is Confidence.UNCONFIRMED
        assert rule.parameters()["deadline_working_days"] == UNCONFIRMED
    placeholders = [r for r in rules if r.id.startswith("cn-2026-report-")]
    assert len(placeholders) >= 5
    for rule in placeholders:
        assert rule.deadline_working_days is None
        assert rule.confidence is Confidence.UNCONFIRMED
        assert rule.valid_from == date(2026, 4, 1)


def test_known_deadline_beats_unconfirmed_placeholder(rules: RuleSet) -> None:
    # Both the 2018 rule (30) and the 2026 placeholder (unknown) bind repairer/replacing.
    rule = rules.deadline("repairer", "replacing", date(2026, 6, 1))
    assert rule is not None and rule.id == "cn-2018-trace-repairer-replacement"
    # Nothing known for a swap: the placeholder comes back, so the caller sees an unknown duty.
    swap = rules.deadline(Actor.SWAP_OPERATOR, Trigger.SWAPPING, date(2026, 6, 1))
    assert swap is not None and swap.id == "cn-2026-report-swap-operator-swap"
    assert swap.known is False
    assert rules.deadline("swap_operator", "swapping", date(2026, 3, 31)) is None


def test_outlet_limits(rules: RuleSet) -> None:
    stock = rules.get("cn-2019-outlet-collection-stock", TODAY)
    assert stock is not None and stock.threshold is not None
    assert (stock.threshold.comparator, stock.threshold.value, stock.threshold.unit) == (
        "<=",
        Decimal(5),
        "t",
    )
    assert stock.alert_kind is AlertKind.OUTLET_OVER_CAPACITY
    assert stock.threshold.is_met(5) is True
    assert stock.threshold.is_met("5.01") is False
    area = rules.get("cn-2019-outlet-collection-area", TODAY)
    assert area is not None and area.threshold is not None
    assert area.threshold.describe() == "storage_area (collection_outlet) ≥ 10 m2"
    central = rules.get("cn-2019-outlet-centralized-capacity", TODAY)
    assert central is not None and central.threshold is not None
    assert central.threshold.value == 30


@pytest.mark.parametrize(
    ("rule_id", "comparator", "value", "unit", "passing", "failing"),
    [
        ("cn-2024-whitelist-powder-recovery", ">=", "98", "%", "98", "97.99"),
        ("cn-2024-whitelist-powder-al-impurity", "<", "1.5", "%", "1.49", "1.5"),
        ("cn-2024-whitelist-powder-cu-impurity", "<", "1.5", "%", "1.4", "1.5"),
        ("cn-2024-whitelist-li-recovery", ">=", "90", "%", "90", "89.9"),
        ("cn-2024-whitelist-ni-recovery", ">=", "98", "%", "99", "97"),
        ("cn-2024-whitelist-co-recovery", ">=", "98", "%", "98", "97"),
        ("cn-2024-whitelist-mn-recovery", ">=", "98", "%", "98", "97"),
        ("cn-2024-whitelist-material-repair", ">=", "99", "%", "99", "98.9"),
        ("cn-2024-whitelist-wastewater-recycling", ">=", "90", "%", "95", "89"),
        ("cn-2024-whitelist-li2co3-energy", "<", "2200", "kgce/t", "2199", "2200"),
    ],
)
def test_2024_whitelist(
    rules: RuleSet,
    rule_id: str,
    comparator: str,
    value: str,
    unit: str,
    passing: str,
    failing: str,
) -> None:
    rule = rules.get(rule_id, date(2025, 6, 1))
    assert rule is not None and rule.threshold is not None
    assert rule.kind is RuleKind.WHITELIST_THRESHOLD
    t = rule.threshold
    assert (str(t.comparator), t.value, str(t.unit)) == (comparator, Decimal(value), unit)
    assert t.is_met(passing) is True
    assert t.is_met(failing) is False
    assert rules.get(rule_id, date(2024, 12, 23)) is None  # before publication


def test_2019_whitelist_values_are_unknown(rules: RuleSet) -> None:
    olds = [r for r in rules if r.id.startswith("cn-2019-whitelist-")]
    assert olds
    for rule in olds:
        assert rule.threshold is not None and rule.threshold.value is None
        assert rule.threshold.is_met(100) is None
        assert rule.confidence is Confidence.UNCONFIRMED
        assert rule.valid_to == date(2024, 12, 23)


def test_heuristics_are_configurable_and_marked(rules: RuleSet) -> None:
    soh = rules.get("cn-heuristic-cascade-soh-floor", TODAY)
    assert soh is not None and soh.threshold is not None
    assert soh.confidence is Confidence.UNCONFIRMED
    assert soh.threshold.value == 60
    retired = rules.get("cn-2018-measures-retired-not-collected", TODAY)
    assert retired is not None and retired.period is not None
    assert retired.period.days is None and retired.known is False
    assert retired.alert_kind is AlertKind.RETIRED_NOT_COLLECTED


@pytest.mark.parametrize(
    ("rule_id", "as_of", "value"),
    [
        ("eu-2023-1542-efficiency-lithium", date(2025, 12, 30), None),
        ("eu-2023-1542-efficiency-lithium", date(2025, 12, 31), 65),
        ("eu-2023-1542-efficiency-lithium", date(2030, 12, 30), 65),
        ("eu-2023-1542-efficiency-lithium", date(2030, 12, 31), 70),
        ("eu-2023-1542-efficiency-lead-acid", date(2026, 1, 1), 75),
        ("eu-2023-1542-efficiency-lead-acid", date(2031, 1, 1), 80),
        ("eu-2023-1542-efficiency-nickel-cadmium", date(2035, 1, 1), 80),
        ("eu-2023-1542-efficiency-other", date(2026, 1, 1), 50),
        ("eu-2023-1542-recovery-cobalt", date(2028, 1, 1), 90),
        ("eu-2023-1542-recovery-cobalt", date(2031, 12, 31), 95),
        ("eu-2023-1542-recovery-copper", date(2028, 1, 1), 90),
        ("eu-2023-1542-recovery-lead", date(2032, 1, 1), 95),
        ("eu-2023-1542-recovery-nickel", date(2031, 12, 30), 90),
        ("eu-2023-1542-recovery-lithium", date(2027, 12, 31), 50),
        ("eu-2023-1542-recovery-lithium", date(2031, 12, 31), 80),
        ("eu-2023-1542-recycled-content-cobalt", date(2031, 8, 17), None),
        ("eu-2023-1542-recycled-content-cobalt", date(2031, 8, 18), 16),
        ("eu-2023-1542-recycled-content-cobalt", date(2036, 8, 18), 26),
        ("eu-2023-1542-recycled-content-lead", date(2040, 1, 1), 85),
        ("eu-2023-1542-recycled-content-lithium", date(2031, 8, 18), 6),
        ("eu-2023-1542-recycled-content-lithium", date(2036, 8, 18), 12),
        ("eu-2023-1542-recycled-content-nickel", date(2036, 8, 17), 6),
        ("eu-2023-1542-recycled-content-nickel", date(2036, 8, 18), 15),
    ],
)
def test_eu_targets_by_date(rules: RuleSet, rule_id: str, as_of: date, value: int | None) -> None:
    rule = rules.get(rule_id, as_of)
    if value is None:
        assert rule is None
        return
    assert rule is not None and rule.threshold is not None
    assert rule.threshold.value == value
    assert rule.threshold.unit == "%"


def test_every_packaged_rule_is_complete(rules: RuleSet) -> None:
    for rule in rules:
        assert re.fullmatch(r"(cn|eu)-[a-z0-9-]+", rule.id), rule.id
        assert rule.title_zh and rule.title_en
        assert rule.source.document.title_zh and rule.source.document.title_en
        if not rule.known:
            assert rule.confidence is Confidence.UNCONFIRMED, rule.id
        if rule.kind is RuleKind.REPORTING_DEADLINE:
            assert rule.alert_kind is AlertKind.LATE_REPORT
        assert rule.to_dict()["id"] == rule.id


def test_list_filters(rules: RuleSet) -> None:
    deadlines = rules.list(kind="reporting_deadline", actor="dismantler", as_of=TODAY)
    assert {r.id for r in deadlines} == {
        "cn-2018-trace-dismantler-receipt",
        "cn-2018-trace-dismantler-shipment",
        "cn-2026-report-dismantler-scrapping",
    }
    all_versions = rules.list(kind=RuleKind.EU_TARGET)
    assert len(all_versions) > len(rules.list(kind=RuleKind.EU_TARGET, as_of=date(2032, 1, 1)))
    transfers = rules.list(actor="dismantler", trigger="shipping", as_of=TODAY)
    assert {r.kind for r in transfers} == {
        RuleKind.REPORTING_DEADLINE,
        RuleKind.TRANSFER_RESTRICTION,
    }


def test_get_unknown_id_raises_with_suggestions(rules: RuleSet) -> None:
    with pytest.raises(UnknownRule) as err:
        rules.get("cn-2018-trace-dismantler-receit", TODAY)
    assert "cn-2018-trace-dismantler-receipt" in err.value.suggestions


# -- local rulebooks: data changes change results ----------------------------------------------


def test_modified_copy_of_a_packaged_rulebook_changes_the_deadline(tmp_path: Path) -> None:
    # Take the packaged file, raise the version and change the number: a pure data change.
    text = dict(packaged_rulebooks())["battrace:rulebooks/cn-2018-traceability.toml"]
    start = text.index('id = "cn-2018-trace-dismantler-receipt"')
    block_end = text.index("[[rule]]", start)
    block = text[start:block_end]
    changed = block.replace("version = 1", "version = 2").replace(
        "deadline_working_days = 15", "deadline_working_days = 10"
    )
    changed = changed.replace("valid_from = 2018-08-01", "valid_from = 2027-01-01")
    header_end = text.index("# ----")
    path = write(tmp_path, "dismantler.toml", text[:header_end] + "[[rule]]\n" + changed)

    before = load_rulebooks()
    after = load_rulebooks([path])
    event = date(2027, 3, 1)
    old = before.deadline("dismantler", "receiving", event)
    new = after.deadline("dismantler", "receiving", event)
    assert old is not None and new is not None
    assert (old.version, old.deadline_working_days) == (1, 15)
    assert (new.version, new.deadline_working_days) == (2, 10)
    assert add_working_days(event, new.deadline_working_days or 0).due < (
        add_working_days(event, old.deadline_working_days or 0).due
    )
    # Before the new version's valid_from the packaged version still governs.
    earlier = after.deadline("dismantler", "receiving", date(2026, 12, 31))
    assert earlier is not None and earlier.version == 1
    assert [v.version for v in after.versions("cn-2018-trace-dismantler-receipt")] == [1, 2]
    assert not after.get("cn-2018-trace-dismantler-receipt", event).packaged  # type: ignore[union-attr]


def test_modified_threshold_changes_the_verdict(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "stock.toml",
        HEADER
        + """
[[rule]]
id = "cn-2019-outlet-collection-stock"
version = 2
title_zh = "收集型网点贮存量不超过3吨（地方要求）"
title_en = "Collection outlet stock at most 3 t (local requirement)"
kind = "storage_limit"
actor = "recycling_outlet"
trigger = "storing"
alert_kind = "outlet-over-capacity"
valid_from = 2025-01-01
confidence = "official"
source = { document = "local" }
parameters = { quantity = "stock", comparator = "<=", value = 3, unit = "t", scope = "collection_outlet" }
""",
    )
    before = load_rulebooks().get("cn-2019-outlet-collection-stock", TODAY)
    after = load_rulebooks([path]).get("cn-2019-outlet-collection-stock", TODAY)
    assert before is not None and before.threshold is not None
    assert after is not None and after.threshold is not None
    assert before.threshold.is_met(4) is True
    assert after.threshold.is_met(4) is False


def test_operator_confirms_a_2026_deadline(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "confirmed.toml",
        rule_toml(
            id='"cn-2026-report-repairer-replacement"',
            version="2",
            actor='"repairer"',
            trigger='"replacing"',
            parameters="{ deadline_working_days = 20 }",
        ),
    )
    ruleset = load_rulebooks([path])
    rule = ruleset.deadline("repairer", "replacing", date(2026, 6, 1))
    assert rule is not None
    # Known now, and in force since later than the 2018 rule: it governs.
    assert (rule.id, rule.deadline_working_days) == ("cn-2026-report-repairer-replacement", 20)
    before = ruleset.deadline("repairer", "replacing", date(2026, 3, 31))
    assert before is not None and before.id == "cn-2018-trace-repairer-replacement"


def test_local_rule_added_and_supersedes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "swap.toml",
        rule_toml(supersedes='["cn-2026-report-swap-operator-swap"]'),
    )
    ruleset = load_rulebooks([path])
    rule = ruleset.deadline("swap_operator", "swapping", TODAY)
    assert rule is not None and rule.id == "local-test-rule"
    assert rule.deadline_working_days == 10
    in_force = {r.id for r in ruleset.list(as_of=TODAY)}
    assert "cn-2026-report-swap-operator-swap" not in in_force
    assert "local-test-rule" in in_force
    superseding = ruleset.superseded_by("cn-2026-report-swap-operator-swap", TODAY)
    assert superseding is not None and superseding.id == "local-test-rule"
    assert str(path) in ruleset.files


def test_directory_of_local_rulebooks(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", rule_toml())
    write(tmp_path, "b.toml", rule_toml(id='"local-other"', trigger='"inspecting"'))
    ruleset = load_rulebooks([tmp_path])
    assert "local-test-rule" in ruleset and "local-other" in ruleset


# -- validation errors name file, rule and field ---------------------------------------------------


def error_for(tmp_path: Path, text: str) -> RulebookError:
    path = write(tmp_path, "bad.toml", text)
    with pytest.raises(RulebookError) as err:
        load_rulebooks([path])
    assert str(path) in str(err.value)
    return err.value


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"actor": '"scrapyard"'}, "actor", "not one of"),
        ({"trigger": '"selling"'}, "trigger", "not one of"),
        ({"kind": '"deadline"'}, "kind", "not one of"),
        ({"confidence": '"unconfirmed"'}, "confidence", "not one of"),
        ({"alert_kind": '"late"'}, "alert_kind", "not one of"),
        ({"alert_kind": '"outlet-over-capacity"'}, "alert_kind", "does not fit kind"),
        ({"title_en": ""}, "title_en", "is required"),
        ({"title_zh": '""'}, "title_zh", "non-empty"),
        ({"version": "0"}, "version", "at least 1"),
        ({"version": '"2"'}, "version", "integer"),
        ({"valid_from": '"2026-13-01"'}, "valid_from", "date like"),
        ({"valid_from": "2026-04-01T08:00:00"}, "valid_from", "date like"),
        ({"valid_to": "2026-01-01"}, "valid_to", "before valid_from"),
        ({"parameters": "{ deadline_working_days = -1 }"}, "parameters.deadline_working_days", ""),
        (
            {"parameters": "{ deadline_working_days = true }"},
            "parameters.deadline_working_days",
            "",
        ),
        ({"parameters": "{ deadline_days = 15 }"}, "parameters.deadline_working_days", "required"),
        (
            {"parameters": "{ deadline_working_days = 15, limit = 3 }"},
            "parameters.limit",
            "unknown field",
        ),
        (
            {"parameters": '{ deadline_working_days = "UNCONFIRMED" }'},
            "parameters.deadline_working_days",
            "confidence",
        ),
        ({"deadline": "15"}, "deadline", "unknown field"),
        ({"source": '{ document = "nowhere" }'}, "source.document", "not defined"),
        ({"source": '{ document = "local", evidence = ["ftp://x"] }'}, "source.evidence", "URL"),
        ({"supersedes": '["no-such-rule"]'}, "supersedes", "unknown rule id"),
        ({"supersedes": '["local-test-rule"]'}, "supersedes", "itself"),
        ({"unconfirmed_fields": '["parameters.foo"]'}, "unconfirmed_fields", "not a field"),
        ({"id": '"Bad_ID"'}, "id", "not a rule id"),
    ],
)
def test_field_errors(tmp_path: Path, overrides: dict[str, str], field: str, fragment: str) -> None:
    err = error_for(tmp_path, rule_toml(**overrides))
    assert err.rule_field == field
    assert fragment in err.reason
    if field != "id":
        assert err.rule_id == "local-test-rule"
        assert "rule 'local-test-rule'" in str(err)


@pytest.mark.parametrize(
    ("parameters", "field", "fragment"),
    [
        ('{ quantity = "stock", comparator = "=<", value = 5, unit = "t" }', "comparator", ""),
        ('{ quantity = "stock", comparator = "<=", value = 5, unit = "tonnes" }', "unit", ""),
        ('{ quantity = "stock", comparator = "<=", value = "five", unit = "t" }', "value", ""),
        ('{ quantity = "share", comparator = "<=", value = 120, unit = "%" }', "value", "100"),
        ('{ quantity = "stock", comparator = "<=", value = -1, unit = "t" }', "value", "negative"),
        ('{ quantity = "Stock Level", comparator = "<=", value = 5, unit = "t" }', "quantity", ""),
        ('{ quantity = "stock", value = 5, unit = "t" }', "comparator", "required"),
    ],
)
def test_threshold_errors(tmp_path: Path, parameters: str, field: str, fragment: str) -> None:
    err = error_for(
        tmp_path,
        rule_toml(
            kind='"storage_limit"',
            alert_kind='"outlet-over-capacity"',
            parameters=parameters,
        ),
    )
    assert err.rule_field == f"parameters.{field}"
    assert fragment in err.reason


def test_duplicate_version_names_both_files(tmp_path: Path) -> None:
    text = rule_toml(id='"cn-2018-trace-dismantler-receipt"', actor='"dismantler"')
    err = error_for(tmp_path, text.replace('"swapping"', '"receiving"'))
    assert err.rule_field == "version"
    assert "cn-2018-traceability.toml" in err.reason
    assert "higher version" in err.reason


def test_new_version_must_keep_actor_trigger_kind(tmp_path: Path) -> None:
    err = error_for(tmp_path, rule_toml(id='"cn-2018-trace-dismantler-receipt"', version="2"))
    assert err.rule_field == "actor"
    assert "new rule id" in err.reason


def test_ambiguous_deadline_is_refused(tmp_path: Path) -> None:
    err = error_for(
        tmp_path,
        rule_toml(actor='"dismantler"', trigger='"receiving"', valid_from="2018-08-01"),
    )
    assert err.rule_field == "trigger"
    assert "ambiguous" in err.reason


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ("this is = = not toml", "", "not valid TOML"),
        (HEADER.replace("schema = 1", "schema = 2") + "[[rule]]\n", "rulebook.schema", "schema"),
        (HEADER.replace('id = "local"\n', ""), "rulebook.id", "required"),
        (HEADER, "rule", "at least one"),
        (HEADER + "\n[extra]\nx = 1\n", "extra", "unknown field"),
    ],
)
def test_file_level_errors(tmp_path: Path, text: str, field: str, fragment: str) -> None:
    err = error_for(tmp_path, text)
    assert err.rule_id is None
    assert err.rule_field == field
    assert fragment in err.reason


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RulebookError, match="file not found"):
        load_rulebooks([tmp_path / "nope.toml"])


def test_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(RulebookError, match=r"no \*\.toml"):
        load_rulebooks([tmp_path])


def test_rule_objects_are_immutable(rules: RuleSet) -> None:
    rule = rules.get("cn-2018-trace-automaker-coc", TODAY)
    assert isinstance(rule, Rule)
    with pytest.raises(AttributeError):
        rule.deadline_working_days = 7  # type: ignore[misc]


# -- robustness: any value in any field gives a RulebookError, never another exception ------------


def _toml_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


_TOML_VALUES = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.text(
        alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "Zs"]), max_size=12
    ).map(_toml_string),
    st.sampled_from(
        [
            "nan",
            "inf",
            "2026-04-01",
            "2026-04-01T08:00:00",
            "[]",
            "[1, 2]",
            '["a"]',
            "{}",
            "{ a = 1 }",
            '"UNCONFIRMED"',
            '"official"',
            '"dismantler"',
        ]
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    field=st.sampled_from(
        [
            "id",
            "version",
            "title_zh",
            "kind",
            "actor",
            "trigger",
            "alert_kind",
            "valid_from",
            "valid_to",
            "confidence",
            "source",
            "parameters",
            "supersedes",
            "unconfirmed_fields",
            "notes",
        ]
    ),
    value=_TOML_VALUES,
)
def test_any_value_is_accepted_or_a_rulebook_error(field: str, value: str) -> None:
    text = rule_toml(**{field: value})
    # Either stage may refuse: parsing checks one rule, RuleSet checks rules against each other
    # (e.g. ``supersedes`` naming an unknown id). Both must refuse with a RulebookError.
    try:
        RuleSet(parse_rulebook(text, "fuzz.toml"))
    except RulebookError as err:
        assert err.path == "fuzz.toml"
