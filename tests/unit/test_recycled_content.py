"""Recycled content by mass balance (domain.recycling.recycled_content): shares by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from battrace.domain.errors import InvalidInput
from battrace.domain.lifecycle import builders as b
from battrace.domain.recycling.recycled_content import (
    MaterialInput,
    Minimum,
    RecyclingOutput,
    element_kg,
    recycled_content,
)
from battrace.services.recycled_content import minimums, parse_period

R, V, M, M2 = "RECYCLER", "VIRGIN", "MAKER", "MAKER2"
# NiSO4·6H2O with the CIAAW abridged weights of materials.py: 58.693 + 32.06 + 4 × 15.999
# + 6 × (2 × 1.008 + 15.999) = 262.839 g/mol.
NI_FRACTION = 58.693 / 262.839
MINIMUMS = [
    Minimum("Ni", 6, date(2031, 8, 18), date(2036, 8, 17), "ni", 1, "Art. 8(2)"),
    Minimum("Ni", 15, date(2036, 8, 18), None, "ni", 2, "Art. 8(3)"),
    Minimum("Co", 16, date(2031, 8, 18), date(2036, 8, 17), "co", 1, "Art. 8(2)"),
    Minimum("Li", 6, date(2031, 8, 18), date(2036, 8, 17), "li", 1, "Art. 8(2)"),
]


def t(month: int, day: int = 1) -> datetime:
    return datetime(2025, month, day, 12, tzinfo=UTC)


def out(
    material: str, kg: float, when: datetime, post: bool = True, who: str = R
) -> RecyclingOutput:
    return RecyclingOutput(f"r-{material}-{when:%m%d}-{kg}", when, who, material, kg, post)


def inp(
    material: str, kg: float, supplier: str | None, when: datetime, maker: str = M
) -> MaterialInput:
    return MaterialInput(
        f"p-{maker}-{material}-{when:%m%d}-{kg}", when, maker, material, kg, supplier
    )


def test_worked_example_by_hand() -> None:
    outputs = [out("nickel_sulfate", 200, t(1)), out("cobalt_sulfate", 50, t(1))]
    inputs = [
        inp("nickel_sulfate", 150, R, t(2)),
        inp("nickel_sulfate", 850, V, t(2)),
        inp("cobalt_sulfate", 100, R, t(2)),  # only 50 kg of recycled cobalt sulphate exist
        inp("lithium_carbonate", 300, V, t(2)),
    ]
    report = recycled_content(M, date(2025, 1, 1), date(2025, 12, 31), inputs, outputs, MINIMUMS)
    ni, co, li = report.share("Ni"), report.share("Co"), report.share("Li")
    assert ni.share_pct == pytest.approx(15.0)  # 150 of 1000 kg, same compound
    assert ni.total_kg == pytest.approx(1000 * NI_FRACTION)
    assert ni.recycled_kg == pytest.approx(150 * NI_FRACTION)
    assert co.share_pct == pytest.approx(50.0)  # 50 of 100 kg
    assert li.share_pct == pytest.approx(0.0)
    assert report.inputs == 4
    assert report.materials["cobalt_sulfate"] == {"kg": 100.0, "recycled_kg": 50.0}
    # Ni: 15 % meets 6 % (2031) and, on the boundary, 15 % (2036); Li 0 % meets neither.
    assert [x["meets"] for x in ni.targets] == [True, True]
    assert [x["minimum_pct"] for x in ni.targets] == [6, 15]
    assert [x["meets"] for x in li.targets] == [False]
    assert all(not x["in_force_at_period_end"] for x in ni.targets)


def test_recycled_output_is_never_counted_twice() -> None:
    outputs = [out("nickel_sulfate", 200, t(1))]
    inputs = [
        inp("nickel_sulfate", 100, R, t(2), maker=M2),  # another maker claims 100 kg first
        inp("nickel_sulfate", 500, R, t(3)),
        inp("nickel_sulfate", 500, V, t(3)),
    ]
    report = recycled_content(M, date(2025, 1, 1), date(2025, 12, 31), inputs, outputs)
    assert report.share("Ni").share_pct == pytest.approx(10.0)  # 100 left of 200, over 1000
    other = recycled_content(M2, date(2025, 1, 1), date(2025, 12, 31), inputs, outputs)
    assert other.share("Ni").share_pct == pytest.approx(100.0)


def test_output_after_the_production_and_unknown_suppliers_do_not_count() -> None:
    outputs = [out("nickel_sulfate", 200, t(6)), out("cobalt_sulfate", 10, t(1), who="ELSE")]
    inputs = [
        inp("nickel_sulfate", 100, R, t(3)),  # before the recycler produced anything
        inp("cobalt_sulfate", 10, None, t(3)),  # no supplier named
        inp("cobalt_sulfate", 10, R, t(3)),  # R recycled no cobalt sulphate
    ]
    report = recycled_content(M, date(2025, 1, 1), date(2025, 12, 31), inputs, outputs)
    assert report.share("Ni").share_pct == 0.0
    assert report.share("Co").share_pct == 0.0
    assert report.share("Li").share_pct is None  # no lithium in the production at all


def test_period_and_pre_post_consumer_split() -> None:
    outputs = [
        out("nickel_sulfate", 30, t(1), post=True),
        out("nickel_sulfate", 50, t(1), post=False),
    ]
    inputs = [inp("nickel_sulfate", 60, R, t(2)), inp("nickel_sulfate", 40, R, t(8))]
    h1 = recycled_content(M, date(2025, 1, 1), date(2025, 6, 30), inputs, outputs)
    ni = h1.share("Ni")
    assert h1.inputs == 1 and ni.share_pct == pytest.approx(100.0)
    # Post-consumer credit is drawn first: 30 post + 30 pre.
    assert ni.post_consumer_kg == pytest.approx(30 * NI_FRACTION)
    assert ni.pre_consumer_kg == pytest.approx(30 * NI_FRACTION)
    h2 = recycled_content(M, date(2025, 7, 1), date(2025, 12, 31), inputs, outputs)
    assert h2.share("Ni").share_pct == pytest.approx(50.0)  # 20 kg pre-consumer left of 40


def test_element_kg_and_classes_without_co_li_ni() -> None:
    li = element_kg("lithium_carbonate", 100)["Li"]
    assert li == pytest.approx(100 * 2 * 6.94 / (2 * 6.94 + 12.011 + 3 * 15.999))
    assert element_kg("copper", 100) == {"Co": 0.0, "Li": 0.0, "Ni": 0.0}
    report = recycled_content(
        M, date(2025, 1, 1), date(2025, 12, 31), [inp("black_mass", 20, R, t(2))], []
    )
    assert report.unassessed_kg == 20


def test_bad_input_names_the_field() -> None:
    with pytest.raises(InvalidInput) as exc:
        recycled_content(
            M, date(2025, 1, 1), date(2025, 12, 31), [inp("nickel_sulfate", -1, R, t(1))], []
        )
    assert exc.value.field == "inputs[0].kg"
    with pytest.raises(InvalidInput) as exc:
        recycled_content(M, date(2025, 2, 1), date(2025, 1, 1), [], [])
    assert exc.value.field == "period"


def test_periods() -> None:
    assert parse_period("2025") == (date(2025, 1, 1), date(2025, 12, 31))
    assert parse_period("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))
    assert parse_period("2025-12") == (date(2025, 12, 1), date(2025, 12, 31))
    assert parse_period("2025-01-01..2025-06-30") == (date(2025, 1, 1), date(2025, 6, 30))
    for bad in ("25", "2025-13", "2025-06-30..2025-01-01", "last year", "2025-02-30..2025-03-01"):
        with pytest.raises(InvalidInput) as exc:
            parse_period(bad)
        assert exc.value.field == "period"


def test_minimums_come_from_the_eu_rulebook() -> None:
    found = {(m.element, m.valid_from.year): m.pct for m in minimums()}
    assert found == {
        ("Co", 2031): 16,
        ("Co", 2036): 26,
        ("Li", 2031): 6,
        ("Li", 2036): 12,
        ("Ni", 2031): 6,
        ("Ni", 2036): 15,
    }
    assert all("2023/1542" in m.citation for m in minimums())


def test_commission_builder_lists_inputs_only_when_given() -> None:
    site = "urn:uscc:91350900587527783P:site:plant1"
    when = datetime(2025, 1, 1, tzinfo=UTC)
    plain = b.commission("ABCCB01A1B2C3DE350000001", site=site, time=when)
    assert b.INPUT_QUANTITIES not in plain
    ev = b.commission(
        "ABCCB01A1B2C3DE350000001",
        site=site,
        time=when,
        inputs_kg={"nickel_sulfate": (120.5, "914301006123456756"), "cobalt_sulfate": 20},
    )
    assert ev[b.INPUT_QUANTITIES] == [
        {
            "epcClass": "urn:battrace:material:nickel_sulfate",
            "quantity": 120.5,
            "uom": "KGM",
            "battrace:supplier": "urn:uscc:914301006123456756",
        },
        {"epcClass": "urn:battrace:material:cobalt_sulfate", "quantity": 20.0, "uom": "KGM"},
    ]


def test_one_period_grammar_for_every_report() -> None:
    """Recovery, ranking, pilots and recycled content read periods with one parser."""
    from battrace.domain.periods import parse_period as shared
    from battrace.services import recycling

    assert recycling.parse_period is shared
    q1 = shared("2025-Q1")
    assert (q1.start, q1.end) == parse_period("2025-Q1") == (date(2025, 1, 1), date(2025, 3, 31))
    span = shared("2025-01-01..2025-06-30")
    assert span.bounds() == ("2024-12-31T16:00:00.000000Z", "2025-06-30T16:00:00.000000Z")
    with pytest.raises(InvalidInput, match="outside 2000-2100"):
        shared("1999")
