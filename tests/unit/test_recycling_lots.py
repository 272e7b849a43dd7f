"""Reading recycling events into balance lots, periods, and batch test results (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from battrace.domain.errors import InvalidInput
from battrace.domain.lifecycle import builders as b
from battrace.domain.recycling.lots import event_lots, stages_of
from battrace.domain.recycling.massbalance import mass_balance
from battrace.services import recycling as rs

SITE = "urn:uscc:914301006123456756:site:plant"
T = datetime(2025, 2, 10, tzinfo=UTC)
PACK = "ABCPB01A1B2C3DE350000021"
NCM = "ABCPE01A1B2C3DE350000022"
VIEWS: dict[str, dict[str, Any]] = {
    "urn:gbt34014:" + PACK: {"attributes": {"chemistry": "LFP", "ratedEnergyKWh": 50.0}},
    "urn:gbt34014:" + NCM: {"attributes": {"massKg": 300.0}},
}


def test_outputs_map_to_compounds_with_stated_purity_and_assay() -> None:
    ev = b.recycle(
        PACK,
        {"black_mass": 99.0, "lithium_carbonate": 21.0, "steel": 10.0, "nickel_sulfate": 1.0},
        site=SITE,
        time=T,
    )
    ev["battrace:lots"] = {
        "black_mass": {"internal": True, "assay": {"Li": 0.04}},
        "lithium_carbonate": {"purity": 0.995},
    }
    ev["battrace:electrodePowderKg"] = 100.0
    lots = event_lots("E1", ev, VIEWS)
    (lot_in,) = lots.inputs
    assert (lot_in.chemistry, lot_in.energy_kwh, lot_in.electrode_powder_kg) == ("LFP", 50.0, 100.0)
    out = {o.compound: o for o in lots.outputs}
    assert out["black_mass"].internal and out["black_mass"].assay == {"Li": 0.04}
    assert out["Li2CO3"].purity == 0.995 and out["NiSO4·6H2O"].purity == 1.0
    assert out["other"].mass_kg == 10.0
    assert stages_of(lots.outputs) == ("pretreatment", "smelting")
    report = mass_balance("R", date(2025, 1, 1), date(2025, 1, 1), lots.inputs, lots.outputs)
    assert report.element("Li").input_kg == pytest.approx(4.45)


def test_unassessable_inputs_name_the_reason() -> None:
    # Battery-type letter E (ternary) gives no chemistry: its Ni:Mn:Co ratio matters.
    with pytest.raises(InvalidInput, match="chemistry unknown"):
        event_lots("E", b.recycle(NCM, {"copper": 1.0}, site=SITE, time=T), VIEWS)
    # Letter B stands in for LFP, but the mass or energy must be known.
    with pytest.raises(InvalidInput, match="massKg nor ratedEnergyKWh"):
        event_lots(
            "E", b.recycle("ABCPB01A1B2C3DE350000099", {"copper": 1.0}, site=SITE, time=T), {}
        )
    loose = b.recycle((), {"copper": 1.0}, inputs_kg={"black_mass": 5.0}, site=SITE, time=T)
    with pytest.raises(InvalidInput, match="assay"):
        event_lots("E", loose, {})
    loose["battrace:inputLots"] = {"black_mass": {"assay": {"Cu": 0.2}}}
    lots = event_lots("E", loose, {})
    assert lots.inputs[0].element_kg == {"Cu": 1.0} and lots.inputs[0].electrode_powder_kg == 5.0
    bad = b.recycle(PACK, {"copper": 1.0}, site=SITE, time=T)
    bad["battrace:lots"] = {"copper": {"purity": "high"}}
    with pytest.raises(InvalidInput) as exc:
        event_lots("E", bad, VIEWS)
    assert exc.value.field == "battrace:lots.copper.purity"
    bad["outputQuantityList"][0]["uom"] = "LTR"
    with pytest.raises(InvalidInput, match="KGM"):
        event_lots("E", bad, VIEWS)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2025", date(2025, 1, 1), date(2025, 12, 31)),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("2025-12", date(2025, 12, 1), date(2025, 12, 31)),
        ("2025-Q4", date(2025, 10, 1), date(2025, 12, 31)),
        ("2025-Q1", date(2025, 1, 1), date(2025, 3, 31)),
    ],
)
def test_periods(text: str, start: date, end: date) -> None:
    p = rs.parse_period(text)
    assert (p.start, p.end) == (start, end)


def test_period_bounds_are_china_days() -> None:
    assert rs.parse_period("2025-02").bounds() == (
        "2025-01-31T16:00:00.000000Z",
        "2025-02-28T16:00:00.000000Z",
    )


@given(st.text(max_size=12))
def test_period_parser_never_fails_other_than_by_invalid_input(text: str) -> None:
    try:
        p = rs.parse_period(text)
    except InvalidInput as exc:
        assert exc.field == "period"
    else:
        assert p.start <= p.end and p.label == text.strip()


@given(st.integers(2000, 2100), st.integers(1, 12))
def test_months_tile_the_year(year: int, month: int) -> None:
    p = rs.parse_period(f"{year}-{month:02d}")
    q = rs.parse_period(f"{year}-Q{(month - 1) // 3 + 1}")
    assert q.start <= p.start <= p.end <= q.end


ROW = {
    "measured_capacity_ah": "72",
    "rated_capacity_ah": "100",
    "internal_resistance_mohm": "2",
    "temperature_c": "25",
    "safety.leakage": "no",
}


def test_batch_rows_csv_and_json() -> None:
    csv = "code," + ",".join(ROW) + "\nM1," + ",".join(ROW.values()) + "\n"
    rows = rs.read_batch(csv.encode(), "csv")
    assert rs.grade_rows(rows) == [
        {
            "row": 0,
            "code": "M1",
            "soh_pct": 72.0,
            "grade": "cascade_a",
            "reasons": rs.grade_rows(rows)[0]["reasons"],
        }
    ]
    assert rs.read_batch(b'{"a": 1}', "json") == [{"a": 1}]
    with pytest.raises(InvalidInput, match="JSON"):
        rs.read_batch(b"[", "json")
    with pytest.raises(InvalidInput, match="csv, json"):
        rs.read_batch(b"", "xml")


def test_every_bad_row_is_named() -> None:
    rows = [ROW, {**ROW, "safety.leakage": "maybe"}, {**ROW, "colour": "red"}, {"code": "x"}]
    with pytest.raises(rs.BatchInvalid) as exc:
        rs.grade_rows(rows)
    assert [(i, f) for i, f, _ in exc.value.errors] == [
        (1, "safety_checks.leakage"),
        (2, "colour"),
        (3, "measured_capacity_ah"),
    ]
    assert exc.value.field == "rows[1].safety_checks.leakage" and "2 more" in exc.value.reason
    # The grading domain's own checks count too: a capacity measured at 40 degC is not comparable.
    with pytest.raises(rs.BatchInvalid, match="temperature_c"):
        rs.grade_rows([{**ROW, "temperature_c": "40"}])
    with pytest.raises(InvalidInput, match="no test results"):
        rs.grade_rows([])


@given(
    st.dictionaries(
        st.sampled_from([*rs.GRADE_FIELDS, "safety.x", "other"]),
        st.one_of(st.none(), st.text(max_size=6), st.floats(), st.booleans(), st.integers()),
    )
)
def test_batch_rows_fail_only_with_named_fields(row: dict[str, object]) -> None:
    try:
        rs.grade_rows([row])
    except rs.BatchInvalid as exc:
        assert exc.errors and all(i == 0 and f for i, f, _ in exc.errors)


def test_the_mass_balance_rule_sets_the_alert_tolerance() -> None:
    from battrace.domain.supervision import massbalance as alert_rule
    from battrace.domain.supervision.evaluate import Context
    from battrace.domain.supervision.registry import Registry
    from battrace.services.alerts import default_rules

    ctx = Context(default_rules(), Registry({}, {}))
    rule = alert_rule.rule_for(ctx, date(2025, 6, 1))
    assert rule is not None and rule.id == "cn-2024-recycling-mass-balance"
    assert alert_rule.tolerance(rule) == pytest.approx(0.02)
    assert alert_rule.rule_for(ctx, date(2024, 12, 23)) is None  # before the 2024 conditions
