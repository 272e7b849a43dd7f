"""Element mass balance and recovery checks: two worked examples by hand, then the rules."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pytest

from battrace.domain.errors import InvalidInput
from battrace.domain.recycling.massbalance import (
    InputLot,
    OutputLot,
    default_targets,
    load_targets,
    mass_balance,
)

H1_2026 = (date(2026, 1, 1), date(2026, 6, 30))
Y2028 = (date(2028, 1, 1), date(2028, 12, 31))


def kinds(report: Any) -> list[tuple[str, str]]:
    return [(f.kind, f.subject) for f in report.findings]


def test_worked_example_lfp() -> None:
    """One 50 kWh LFP pack weighing 333 kg, 100 kg electrode powder, first half of 2026.

    In (BatPaC 5.2 per kWh): Li 0.089 x 50 = 4.45 kg; Ni = Co = Mn = 0; Cu 0.566 x 50 = 28.3 kg;
    Al unknown (not in the source).

    Out:
    * BM-1 black mass 99.0 kg, fed to own refining (internal): powder recovery 99.0/100 = 99.0 %
      (>= 98 met); Al 0.8 % and Cu 1.2 % (< 1.5 met).
    * LC-1 Li2CO3 21.0 kg at 99.5 %: 20.895 kg x 13.88/73.888 (0.187852) = 3.925165 kg Li
      -> Li recovery 3.925165/4.45 = 88.2060 %: CN >= 90 NOT met; EU 50 % not in force until
      2027-12-31.
    * CU-1 Cu 27.5 kg at 99.0 %: 27.225 kg Cu -> 27.225/28.3 = 96.2014 %.
    * FP-1 other (iron phosphate, casing, ...) 150.0 kg, counted in full as recycled.

    Recycling efficiency = (3.925165 + 27.225 + 150.0)/333 = 181.150165/333 = 54.3994 %: EU
    Li-based 65 % (in force from 2025-12-31) NOT met; 70 % not yet in force.
    Ni/Co/Mn checks: not applicable (none in the input). Balance: possible.
    """
    report = mass_balance(
        "R-LFP",
        *H1_2026,
        [
            InputLot(
                "IN-1", chemistry="LFP", energy_kwh=50.0, mass_kg=333.0, electrode_powder_kg=100.0
            )
        ],
        [
            OutputLot(
                "BM-1",
                "black_mass",
                99.0,
                assay={"Li": 0.04, "Cu": 0.012, "Al": 0.008},
                internal=True,
            ),
            OutputLot("LC-1", "Li2CO3", 21.0, purity=0.995),
            OutputLot("CU-1", "Cu", 27.5, purity=0.99),
            OutputLot("FP-1", "other", 150.0),
        ],
    )
    li, cu, al = report.element("Li"), report.element("Cu"), report.element("Al")
    assert li.input_kg == 4.45
    assert round(li.recovered_kg, 6) == 3.925165
    assert li.recovery_pct is not None and round(li.recovery_pct, 4) == 88.2060
    assert cu.input_kg is not None and round(cu.input_kg, 6) == 28.3
    assert cu.output_kg == 27.225
    assert cu.recovery_pct is not None and round(cu.recovery_pct, 4) == 96.2014
    assert (al.input_kg, al.recovery_pct, al.balanced) == (None, None, None)
    assert [report.element(e).input_kg for e in ("Ni", "Co", "Mn")] == [0.0, 0.0, 0.0]
    assert report.electrode_powder_recovery_pct == 99.0
    assert report.input_battery_kg == 333.0
    assert round(report.recycled_kg, 6) == 181.150165
    assert report.recycling_efficiency_pct is not None
    assert round(report.recycling_efficiency_pct, 4) == 54.3994

    status = {c.target.id: (c.status, c.in_force) for c in report.checks}
    assert status["CN-2024-powder"] == ("met", True)
    assert status["CN-2024-impurity-Al"] == ("met", True)
    assert status["CN-2024-impurity-Cu"] == ("met", True)
    assert status["CN-2024-recovery-Li"] == ("not-met", True)
    assert status["CN-2024-recovery-Ni"] == ("not-applicable", True)
    assert status["EU-XII-B-Li-based-2025"] == ("not-met", True)
    assert status["EU-XII-B-Li-based-2030"] == ("not-met", False)
    assert status["EU-XII-C-Li-2027"] == ("met", False)
    assert report.balanced
    assert not report.ok
    assert kinds(report) == [
        ("threshold", "CN-2024-recovery-Li"),
        ("threshold", "EU-XII-B-Li-based-2025"),
    ]


def test_worked_example_ncm811() -> None:
    """A 60 kWh NMC811 pack, mass not weighed, 110 kg electrode powder, year 2028.

    In (per kWh x 60): Li 0.092 -> 5.52; Ni 0.608 -> 36.48; Co 0.076 -> 4.56; Mn 0.071 (derived)
    -> 4.26; Cu 0.364 -> 21.84 kg. Battery mass derived: 60 kWh x 4.99 kg/kWh = 299.4 kg.

    Out (fractions from atomic weights):
    * BM-1 black mass 108.5 kg, internal: powder 108.5/110 = 98.6364 % (met); Al 1.6 % -> CN
      impurity < 1.5 % NOT met; Cu 0.5 % met.
    * LiOH·H2O 30.5 kg at 99.5 %: 30.3475 x 6.94/41.962 (0.165388) = 5.019104 kg Li
      -> 90.9258 %: CN >= 90 met; EU 50 % (2027) met.
    * NiSO4·6H2O 160.0 kg at 99.8 %: 159.68 x 58.693/262.839 (0.223304) = 35.657183 kg Ni
      -> 97.7445 %: CN >= 98 NOT met; EU 90 % (2027) met.
    * CoSO4·7H2O 21.5 kg at 99.8 %: 21.457 x 58.933/281.094 (0.209656) = 4.498585 kg Co
      -> 98.6532 %: met (CN 98, EU 90).
    * MnSO4·H2O 13.0 kg at 99.5 %: 12.935 x 54.938/169.009 (0.325060) = 4.204646 kg Mn
      -> 98.7006 %: met.
    * Cu 21.0 kg at 99.9 %: 20.979 kg -> 96.0577 %: EU 90 % (2027) met.
    * other 130.0 kg.

    Recycled = 5.019104 + 35.657183 + 4.498585 + 4.204646 + 20.979 + 130 = 200.358518 kg;
    efficiency 200.358518/299.4 = 66.9200 %: EU 65 % met, 70 % (2030-12-31) not yet in force.
    """
    report = mass_balance(
        "R-NCM",
        *Y2028,
        [InputLot("IN-1", chemistry="NCM811", energy_kwh=60.0, electrode_powder_kg=110.0)],
        [
            OutputLot(
                "BM-1",
                "black_mass",
                108.5,
                assay={"Li": 0.05, "Ni": 0.33, "Cu": 0.005, "Al": 0.016},
                internal=True,
            ),
            OutputLot("LH-1", "LiOH·H2O", 30.5, purity=0.995),
            OutputLot("NS-1", "NiSO4·6H2O", 160.0, purity=0.998),
            OutputLot("CS-1", "CoSO4·7H2O", 21.5, purity=0.998),
            OutputLot("MS-1", "MnSO4·H2O", 13.0, purity=0.995),
            OutputLot("CU-1", "Cu", 21.0, purity=0.999),
            OutputLot("OT-1", "other", 130.0),
        ],
    )
    expected = {
        "Li": (5.52, 5.019104, 90.9258),
        "Ni": (36.48, 35.657183, 97.7445),
        "Co": (4.56, 4.498585, 98.6532),
        "Mn": (4.26, 4.204646, 98.7006),
        "Cu": (21.84, 20.979, 96.0577),
    }
    for element, (received, recovered, pct) in expected.items():
        balance = report.element(element)
        assert balance.input_kg is not None and round(balance.input_kg, 6) == received
        assert round(balance.recovered_kg, 6) == recovered
        assert balance.recovery_pct is not None and round(balance.recovery_pct, 4) == pct
        assert balance.balanced is True
        assert balance.input_basis == ("per-kWh intensity",)
    assert report.input_battery_kg is not None and round(report.input_battery_kg, 6) == 299.4
    assert report.electrode_powder_recovery_pct is not None
    assert round(report.electrode_powder_recovery_pct, 4) == 98.6364
    assert round(report.recycled_kg, 6) == 200.358518
    assert report.recycling_efficiency_pct is not None
    assert round(report.recycling_efficiency_pct, 4) == 66.9200

    status = {c.target.id: (c.status, c.in_force) for c in report.checks}
    assert status["CN-2024-recovery-Li"] == ("met", True)
    assert status["CN-2024-recovery-Ni"] == ("not-met", True)
    assert status["CN-2024-recovery-Co"] == ("met", True)
    assert status["CN-2024-recovery-Mn"] == ("met", True)
    assert status["CN-2024-impurity-Al"] == ("not-met", True)
    assert status["CN-2024-impurity-Cu"] == ("met", True)
    assert status["CN-2024-powder"] == ("met", True)
    assert status["EU-XII-C-Ni-2027"] == ("met", True)
    assert status["EU-XII-C-Ni-2031"] == ("met", False)
    assert status["EU-XII-C-Li-2027"] == ("met", True)
    assert status["EU-XII-B-Li-based-2025"] == ("met", True)
    assert status["EU-XII-B-Li-based-2030"] == ("not-met", False)
    assert kinds(report) == [
        ("threshold", "CN-2024-impurity-Al"),
        ("threshold", "CN-2024-recovery-Ni"),
    ]


def lfp_pack(**overrides: Any) -> InputLot:
    values: dict[str, Any] = {"chemistry": "LFP", "energy_kwh": 50.0, "mass_kg": 333.0}
    values.update(overrides)
    return InputLot("IN-1", **values)


def test_nickel_out_of_lfp_is_an_impossible_balance_not_a_success() -> None:
    report = mass_balance(
        "R",
        *H1_2026,
        [lfp_pack()],
        [OutputLot("NS-1", "NiSO4·6H2O", 10.0)],
    )
    assert ("mass-balance", "Ni") in kinds(report)
    assert not report.balanced
    assert not report.ok
    assert report.element("Ni").balanced is False
    ni = report.check("CN-2024-recovery-Ni")
    assert (ni.status, ni.value_pct) == ("unverifiable", None)
    assert ("incomplete", "CN-2024-recovery-Ni") in kinds(report)


@pytest.mark.parametrize(
    ("copper_out", "tolerance", "balanced"),
    [
        (102.0, 0.02, True),  # exactly 100 x (1 + 2 %)
        (math.nextafter(102.0, 0.0), 0.02, True),
        (math.nextafter(102.0, math.inf), 0.02, False),
        (100.0, 0.0, True),
        (math.nextafter(100.0, math.inf), 0.0, False),
        (104.0, 0.05, True),
    ],
)
def test_balance_tolerance_boundary(copper_out: float, tolerance: float, balanced: bool) -> None:
    report = mass_balance(
        "R",
        *H1_2026,
        [InputLot("IN-1", element_kg={"Cu": 100.0})],
        [OutputLot("CU-1", "Cu", copper_out)],
        tolerance=tolerance,
    )
    assert report.element("Cu").balanced is balanced
    assert (("mass-balance", "Cu") in kinds(report)) is not balanced
    assert report.balanced is balanced


def test_absolute_tolerance_absorbs_traces() -> None:
    trace = [OutputLot("LC-1", "Li2CO3", 20.0, purity=0.995, impurities={"Ni": 0.0001})]  # 2 g Ni
    strict = mass_balance("R", *H1_2026, [lfp_pack()], trace)
    assert ("mass-balance", "Ni") in kinds(strict)
    lenient = mass_balance("R", *H1_2026, [lfp_pack()], trace, absolute_tolerance_kg=0.01)
    assert lenient.balanced


def test_black_mass_beyond_powder_input_is_impossible() -> None:
    report = mass_balance(
        "R",
        *H1_2026,
        [lfp_pack(electrode_powder_kg=100.0)],
        [OutputLot("BM-1", "black_mass", 103.0, assay={"Li": 0.04, "Al": 0.01, "Cu": 0.01})],
    )
    assert ("mass-balance", "electrode-powder") in kinds(report)
    assert report.check("CN-2024-powder").status == "unverifiable"


def test_recycled_mass_beyond_battery_mass_is_impossible() -> None:
    report = mass_balance("R", *H1_2026, [lfp_pack()], [OutputLot("OT-1", "other", 400.0)])
    assert ("mass-balance", "battery-mass") in kinds(report)
    assert report.check("EU-XII-B-Li-based-2025").status == "unverifiable"


def test_impurities_leave_but_are_not_recovered() -> None:
    nmc = InputLot("IN-1", chemistry="NMC811", energy_kwh=60.0)
    report = mass_balance(
        "R",
        *Y2028,
        [nmc],
        [OutputLot("LH-1", "LiOH·H2O", 10.0, purity=0.98, impurities={"Ni": 0.01})],
    )
    ni = report.element("Ni")
    assert ni.output_kg == 10.0 * 0.01
    assert ni.recovered_kg == 0.0


def test_shipped_black_mass_is_output_but_not_recovered_unless_marked() -> None:
    assay = {"Li": 0.04, "Cu": 0.01, "Al": 0.01}
    shipped = mass_balance(
        "R", *H1_2026, [lfp_pack()], [OutputLot("BM", "black_mass", 100.0, assay=assay)]
    )
    assert round(shipped.element("Li").output_kg, 9) == 4.0
    assert shipped.element("Li").recovered_kg == 0.0
    assert shipped.recycled_kg == 0.0
    marked = mass_balance(
        "R",
        *H1_2026,
        [lfp_pack()],
        [OutputLot("BM", "black_mass", 100.0, assay=assay, recovered=True)],
    )
    assert round(marked.element("Li").recovered_kg, 9) == 4.0
    assert marked.recycled_kg == 100.0


def test_internal_black_mass_is_not_counted_twice() -> None:
    report = mass_balance(
        "R",
        *H1_2026,
        [lfp_pack()],
        [
            OutputLot(
                "BM", "black_mass", 90.0, assay={"Li": 0.04, "Cu": 0.01, "Al": 0.01}, internal=True
            ),
            OutputLot("LC", "Li2CO3", 10.0),
        ],
    )
    assert report.element("Li").output_kg == report.element("Li").recovered_kg
    assert report.electrode_powder_out_kg == 90.0


@pytest.mark.parametrize(
    ("end", "in_force"),
    [(date(2027, 12, 30), False), (date(2027, 12, 31), True), (date(2028, 1, 1), True)],
)
def test_targets_apply_from_their_date(end: date, in_force: bool) -> None:
    report = mass_balance(
        "R", date(2027, 1, 1), end, [InputLot("IN", chemistry="NMC811", energy_kwh=60.0)], []
    )
    check = report.check("EU-XII-C-Ni-2027")
    assert check.in_force is in_force
    assert check.status == "not-met"  # nothing recovered
    assert (("threshold", "EU-XII-C-Ni-2027") in kinds(report)) is in_force


def test_stages_the_recycler_does_not_run_are_not_applicable() -> None:
    report = mass_balance(
        "R",
        *Y2028,
        [InputLot("IN", chemistry="NMC811", energy_kwh=60.0, electrode_powder_kg=100.0)],
        [OutputLot("BM", "black_mass", 99.0, assay={"Ni": 0.3, "Al": 0.01, "Cu": 0.01})],
        stages=("pretreatment",),
    )
    assert report.check("CN-2024-recovery-Ni").status == "not-applicable"
    assert report.check("CN-2024-powder").status == "met"
    # EU recovery targets are about the whole process, whatever the stage.
    assert report.check("EU-XII-C-Ni-2027").status == "not-met"


def test_mass_only_input_uses_derived_per_kg_intensity() -> None:
    """666 kg of LFP pack: 666 x (0.089/6.66) = 8.9 kg Li."""
    report = mass_balance("R", *H1_2026, [InputLot("IN", chemistry="LFP", mass_kg=666.0)], [])
    li = report.element("Li")
    assert li.input_kg is not None and round(li.input_kg, 9) == 8.9
    assert li.input_basis == ("per-kg intensity (derived)",)


def test_measured_content_overrides_intensities_and_enables_aluminium() -> None:
    lot = lfp_pack(element_kg={"Al": 40.0, "Li": 4.0})
    report = mass_balance("R", *H1_2026, [lot], [OutputLot("AL", "Al", 38.0)])
    assert report.element("Al").recovery_pct == 95.0
    assert report.element("Li").input_kg == 4.0
    assert report.element("Li").input_basis == ("measured",)


def test_unknown_content_makes_checks_unverifiable() -> None:
    # Only copper was measured: lithium input is unknown, so its thresholds cannot be judged.
    report = mass_balance(
        "R", *Y2028, [InputLot("IN", element_kg={"Cu": 10.0})], [OutputLot("LC", "Li2CO3", 5.0)]
    )
    assert report.element("Li").input_kg is None
    assert report.check("CN-2024-recovery-Li").status == "unverifiable"
    assert ("incomplete", "CN-2024-recovery-Li") in kinds(report)
    assert report.check("EU-XII-B-Li-based-2025").status == "unverifiable"  # no battery mass


def test_missing_impurity_level_is_unverifiable() -> None:
    report = mass_balance(
        "R",
        *H1_2026,
        [lfp_pack(electrode_powder_kg=100.0)],
        [OutputLot("BM", "black_mass", 99.0, assay={"Li": 0.04, "Cu": 0.01})],
    )
    assert report.check("CN-2024-impurity-Al").status == "unverifiable"
    assert report.check("CN-2024-impurity-Cu").status == "met"


def test_impurity_boundary_is_strict() -> None:
    def al_check(level: float) -> str:
        report = mass_balance(
            "R",
            *H1_2026,
            [lfp_pack(electrode_powder_kg=100.0)],
            [OutputLot("BM", "black_mass", 99.0, assay={"Al": level, "Cu": 0.0})],
        )
        return report.check("CN-2024-impurity-Al").status

    assert al_check(0.015) == "not-met"  # 1.5 % is not < 1.5 %
    assert al_check(0.0149) == "met"
    assert al_check(0.0151) == "not-met"


def test_default_targets_carry_the_reference_values() -> None:
    targets = {t.id: t for t in default_targets()}
    values = {key: (t.value_pct, t.comparison, t.in_force) for key, t in targets.items()}
    assert values["CN-2024-recovery-Li"] == (90.0, ">=", date(2024, 12, 24))
    for element in ("Ni", "Co", "Mn"):
        assert values[f"CN-2024-recovery-{element}"][0] == 98.0
    assert values["CN-2024-powder"][0] == 98.0
    assert values["CN-2024-impurity-Al"][:2] == (1.5, "<")
    assert values["CN-2024-impurity-Cu"][:2] == (1.5, "<")
    assert values["EU-XII-B-Li-based-2025"] == (65.0, ">=", date(2025, 12, 31))
    assert values["EU-XII-B-Li-based-2030"] == (70.0, ">=", date(2030, 12, 31))
    for element in ("Co", "Cu", "Ni"):
        assert values[f"EU-XII-C-{element}-2027"] == (90.0, ">=", date(2027, 12, 31))
        assert values[f"EU-XII-C-{element}-2031"] == (95.0, ">=", date(2031, 12, 31))
    assert values["EU-XII-C-Li-2027"][0] == 50.0
    assert values["EU-XII-C-Li-2031"][0] == 80.0
    assert all(t.source and t.status for t in targets.values())


def test_custom_targets() -> None:
    text = """
[schemes.X]
title = "test scheme"
reference = "here"
[[target]]
id = "X-Li"
scheme = "X"
metric = "recovery"
element = "Li"
comparison = ">="
value_pct = 10.0
stage = "any"
in_force = 2020-01-01
status = "assumption"
"""
    report = mass_balance(
        "R", *H1_2026, [lfp_pack()], [OutputLot("LC", "Li2CO3", 5.0)], targets=load_targets(text)
    )
    assert [c.target.id for c in report.checks] == ["X-Li"]
    assert report.ok
    with pytest.raises(InvalidInput) as err:
        load_targets(text.replace('metric = "recovery"', 'metric = "magic"'))
    assert err.value.field == "target[0].metric"
    with pytest.raises(InvalidInput) as err:
        load_targets(text.replace('element = "Li"\n', ""))
    assert err.value.field == "target[0].element"
    with pytest.raises(InvalidInput) as err:
        load_targets(text.replace("in_force = 2020-01-01\n", ""))
    assert err.value.field == "target[0].in_force"


@pytest.mark.parametrize(
    ("inputs", "outputs", "field"),
    [
        ([lfp_pack(), lfp_pack()], [], "inputs[1].lot_id"),
        ([lfp_pack(mass_kg=-1.0)], [], "inputs[0].mass_kg"),
        ([lfp_pack(energy_kwh=math.nan)], [], "inputs[0].energy_kwh"),
        ([lfp_pack(chemistry="NCM")], [], "inputs[0].chemistry"),
        ([InputLot("IN")], [], "inputs[0]"),
        ([InputLot("IN", chemistry="LFP")], [], "inputs[0]"),
        ([InputLot("IN", element_kg={"Fe": 1.0})], [], "inputs[0].element_kg"),
        ([lfp_pack()], [OutputLot("A", "Cu", -1.0)], "outputs[0].mass_kg"),
        ([lfp_pack()], [OutputLot("A", "Cu", 1.0, purity=1.5)], "outputs[0].purity"),
        ([lfp_pack()], [OutputLot("A", "Cu", 1.0, purity=0.0)], "outputs[0].purity"),
        ([lfp_pack()], [OutputLot("A", "LiCO3", 1.0)], "outputs[0].compound"),
        ([lfp_pack()], [OutputLot("A", "black_mass", 1.0)], "outputs[0].assay"),
        (
            [lfp_pack()],
            [OutputLot("A", "black_mass", 1.0, purity=0.9, assay={"Li": 0.1})],
            "outputs[0].purity",
        ),
        (
            [lfp_pack()],
            [OutputLot("A", "black_mass", 1.0, assay={"Al": 0.1}, impurities={"Al": 0.1})],
            "outputs[0].impurities",
        ),
        (
            [lfp_pack()],
            [OutputLot("A", "Cu", 1.0, purity=0.99, impurities={"Al": 0.02})],
            "outputs[0]",
        ),
        ([lfp_pack()], [OutputLot("A", "Li2CO3", 1.0, internal=True)], "outputs[0].internal"),
        ([lfp_pack()], [OutputLot("A", "Cu", 1.0), OutputLot("A", "Cu", 1.0)], "outputs[1].lot_id"),
        ([lfp_pack()], [OutputLot("A", "other", 1.0, assay={"Li": 0.1})], "outputs[0].assay"),
    ],
)
def test_invalid_lots(inputs: list[InputLot], outputs: list[OutputLot], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        mass_balance("R", *H1_2026, inputs, outputs)
    assert err.value.field == field


def test_invalid_call() -> None:
    with pytest.raises(InvalidInput) as err:
        mass_balance("R", date(2026, 2, 1), date(2026, 1, 1), [lfp_pack()], [])
    assert err.value.field == "period_start"
    with pytest.raises(InvalidInput) as err:
        mass_balance("R", *H1_2026, [lfp_pack()], [], stages=("mining",))
    assert err.value.field == "stages"
    with pytest.raises(InvalidInput) as err:
        mass_balance("R", *H1_2026, [], [])
    assert err.value.field == "inputs"
    with pytest.raises(InvalidInput) as err:
        mass_balance("R", *H1_2026, [lfp_pack()], [], tolerance=-0.1)
    assert err.value.field == "tolerance"
