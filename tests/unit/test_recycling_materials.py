"""Element content of inputs (by chemistry) and outputs (compounds from their formulae)."""

from __future__ import annotations

import pytest

from battrace.domain.errors import InvalidInput
from battrace.domain.recycling.materials import (
    ATOMIC_WEIGHTS,
    ELEMENTS,
    OUTPUT_COMPOUNDS,
    chemistries,
    chemistry_data,
    element_fractions,
    lot_element_kg,
    molar_mass,
    normalise_chemistry,
    parse_formula,
)


@pytest.mark.parametrize(
    ("formula", "atoms"),
    [
        ("Li2CO3", {"Li": 2, "C": 1, "O": 3}),
        ("LiOH·H2O", {"Li": 1, "O": 2, "H": 3}),
        ("NiSO4·6H2O", {"Ni": 1, "S": 1, "O": 10, "H": 12}),
        ("CoSO4*7H2O", {"Co": 1, "S": 1, "O": 11, "H": 14}),
        ("Ni(OH)2", {"Ni": 1, "O": 2, "H": 2}),
        ("Al2(SO4)3·18H2O", {"Al": 2, "S": 3, "O": 30, "H": 36}),
        ("LiNi0.8Mn0.1Co0.1O2", {"Li": 1, "Ni": 0.8, "Mn": 0.1, "Co": 0.1, "O": 2}),
    ],
)
def test_parse_formula(formula: str, atoms: dict[str, float]) -> None:
    assert parse_formula(formula) == atoms


@pytest.mark.parametrize("bad", ["", "  ", "X2", "Li(", "Li)", "li2", "2", "LiOH··H2O", "Li-O"])
def test_parse_formula_rejects(bad: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_formula(bad)
    assert err.value.field == "formula"


def test_molar_masses_by_hand() -> None:
    """With H 1.008, Li 6.94, C 12.011, O 15.999, S 32.06, Mn 54.938, Co 58.933, Ni 58.693:

    Li2CO3      = 2(6.94) + 12.011 + 3(15.999)                 =  73.888
    LiOH·H2O    = 6.94 + 15.999 + 1.008 + 2(1.008) + 15.999    =  41.962
    NiSO4·6H2O  = 58.693 + 32.06 + 4(15.999) + 6(18.015)       = 262.839
    CoSO4·7H2O  = 58.933 + 32.06 + 63.996 + 7(18.015)          = 281.094
    MnSO4·H2O   = 54.938 + 32.06 + 63.996 + 18.015             = 169.009
    """
    assert ATOMIC_WEIGHTS["Li"] == 6.94
    expected = {
        "Li2CO3": 73.888,
        "LiOH·H2O": 41.962,
        "NiSO4·6H2O": 262.839,
        "CoSO4·7H2O": 281.094,
        "MnSO4·H2O": 169.009,
        "Cu": 63.546,
        "Al": 26.982,
    }
    assert set(expected) == set(OUTPUT_COMPOUNDS)
    for compound, mass in expected.items():
        assert round(molar_mass(compound), 3) == mass


def test_metal_fractions_by_hand() -> None:
    """Li: 13.88/73.888 = 0.187852 and 6.94/41.962 = 0.165388; Ni 58.693/262.839 = 0.223304;
    Co 58.933/281.094 = 0.209656; Mn 54.938/169.009 = 0.325060; fractions of a formula sum to 1."""
    assert round(element_fractions("Li2CO3")["Li"], 6) == 0.187852
    assert round(element_fractions("LiOH·H2O")["Li"], 6) == 0.165388
    assert round(element_fractions("NiSO4·6H2O")["Ni"], 6) == 0.223304
    assert round(element_fractions("CoSO4·7H2O")["Co"], 6) == 0.209656
    assert round(element_fractions("MnSO4·H2O")["Mn"], 6) == 0.325060
    assert element_fractions("Cu") == {"Cu": 1.0}
    for compound in OUTPUT_COMPOUNDS:
        assert abs(sum(element_fractions(compound).values()) - 1.0) < 1e-12


def test_lot_element_kg() -> None:
    # 100 kg Li2CO3 at 99.5 %: 99.5 kg x 0.187852 = 18.6913 kg Li; carbon and oxygen not tracked.
    assert {k: round(v, 4) for k, v in lot_element_kg(100.0, "Li2CO3", purity=0.995).items()} == {
        "Li": 18.6913
    }
    assert lot_element_kg(10.0, "Cu", purity=0.999) == {"Cu": 10.0 * 0.999}
    # ASCII spellings of the middle dot are the same product.
    assert lot_element_kg(5.0, "LiOH.H2O") == lot_element_kg(5.0, "LiOH·H2O")
    assert lot_element_kg(100.0, "black_mass", assay={"Li": 0.04, "Al": 0.01}) == {
        "Li": 4.0,
        "Al": 1.0,
    }


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        ((10.0, "black_mass"), {}, "assay"),
        ((10.0, "LiCO3"), {}, "compound"),
        ((10.0, "Li2CO3"), {"assay": {"Li": 0.1}}, "assay"),
    ],
)
def test_lot_element_kg_rejects(
    args: tuple[float, str], kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        lot_element_kg(*args, **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


# forecast-data.md §2.1 (BatPaC 5.2), kg per kWh: Li, Ni, Co, Mn, Cu; None = not in the source.
REFERENCE_PER_KWH = {
    "LFP": (0.089, 0.0, 0.0, 0.0, 0.566),
    "LMO": (0.097, 0.0, 0.0, None, 0.525),
    "NCA": (0.099, 0.656, 0.123, 0.0, 0.381),
    "NMC111": (0.115, 0.318, 0.319, 0.297, 0.417),
    "NMC532": (0.106, 0.436, 0.175, 0.245, 0.398),
    "NMC622": (0.103, 0.512, 0.171, 0.160, 0.394),
    "NMC811": (0.092, 0.608, 0.076, 0.071, 0.364),
    "NMCA": (0.093, 0.681, 0.031, None, 0.373),
}


@pytest.mark.parametrize("chemistry", sorted(REFERENCE_PER_KWH))
def test_per_kwh_matches_the_domain_reference(chemistry: str) -> None:
    data = chemistry_data(chemistry)
    got = tuple(
        None if data.per_kwh[e] is None else data.per_kwh[e].value  # type: ignore[union-attr]
        for e in ("Li", "Ni", "Co", "Mn", "Cu")
    )
    assert got == REFERENCE_PER_KWH[chemistry]
    # Aluminium is not in the source for any chemistry: unknown, never zero.
    assert data.per_kwh["Al"] is None
    assert set(data.per_kwh) == set(ELEMENTS)


def test_every_chemistry_is_in_the_reference_table() -> None:
    assert set(chemistries()) == set(REFERENCE_PER_KWH)


@pytest.mark.parametrize(
    ("chemistry", "mn_per_co"), [("NMC111", 1.0), ("NMC532", 1.5), ("NMC622", 1.0), ("NMC811", 1.0)]
)
def test_derived_manganese_is_labelled_and_recomputes(chemistry: str, mn_per_co: float) -> None:
    """Mn = Co x molar Mn/Co x 54.938/58.933; stored to 3 decimals, NMC622 as printed (0.160 vs
    0.1594 recomputed from the rounded Co), so agreement is within 0.001 kg/kWh."""
    data = chemistry_data(chemistry)
    mn, co = data.per_kwh["Mn"], data.per_kwh["Co"]
    assert mn is not None and co is not None
    assert mn.status == "derived"
    assert co.status == "code"
    recomputed = co.value * mn_per_co * ATOMIC_WEIGHTS["Mn"] / ATOMIC_WEIGHTS["Co"]
    assert abs(mn.value - recomputed) <= 0.001


def test_per_kg_of_pack_is_derived() -> None:
    """NMC811: 0.092 kg Li/kWh ÷ 4.99 kg/kWh = 0.018437 kg Li per kg of pack;
    LFP: 0.566 kg Cu/kWh ÷ 6.66 = 0.084985 kg Cu per kg of pack."""
    nmc = chemistry_data("NMC811").per_kg_pack()
    assert nmc["Li"] is not None
    assert round(nmc["Li"].value, 6) == 0.018437
    assert nmc["Li"].status == "derived"
    lfp = chemistry_data("LFP").per_kg_pack()
    assert lfp["Cu"] is not None
    assert round(lfp["Cu"].value, 6) == 0.084985
    assert lfp["Al"] is None
    # No pack mass in the source for NMC532 (and LMO, NMCA): per kg is unknown, not guessed.
    assert all(v is None for v in chemistry_data("NMC532").per_kg_pack().values())


def test_every_value_names_its_source() -> None:
    for name in chemistries():
        data = chemistry_data(name)
        for value in data.per_kwh.values():
            if value is not None:
                assert "BatPaC 5.2" in value.source
        parse_formula(data.cathode)  # the recorded cathode formula is well-formed


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("NCM523", "NMC532"),
        ("ncm 811", "NMC811"),
        ("NCM-622", "NMC622"),
        ("LiFePO4", "LFP"),
        ("lfp", "LFP"),
    ],
)
def test_chemistry_aliases(alias: str, canonical: str) -> None:
    assert normalise_chemistry(alias) == canonical


@pytest.mark.parametrize("bad", ["NCM", "ternary", "LTO", ""])
def test_unknown_or_ambiguous_chemistry(bad: str) -> None:
    with pytest.raises(InvalidInput) as err:
        normalise_chemistry(bad)
    assert err.value.field == "chemistry"
