"""GB/T 34014 battery codes: layout, configurable tables, error positions, generator."""

from __future__ import annotations

import dataclasses
import re
from datetime import date

import pytest

from battrace.domain.errors import IdentityError
from battrace.domain.identities import (
    DEFAULT_RULES,
    CodeRules,
    format_battery_code,
    format_cascade_code,
    is_battery_code,
    parse_battery_code,
    validate_battery_code,
)

# Catena-X io.catenax.traction_battery_code 2.0.0, TractionBatteryCodeTrait pattern (CC-BY-4.0),
# copied from shared/reference/catenax/…/TractionBatteryCode-schema.json.
CATENAX = re.compile(
    r"(^[A-Z0-9]{3}[PMC]{1}[A-GZ]{1}[A-Z0-9]{2}[A-Z0-9]{7}[1-9A-GH-NPR-Y]{1}[1-9A-C]{1}"
    r"[0-9A-GH-NPR-Y]{1}[0-9]{7}$)|(^[A-Z0-9]{3}[PMC]{1}[A-GZ]{1}[A-Z0-9]{2}[1-9A-GH-NPR-Y]{1}"
    r"[1-9A-C]{1}[0-9A-GH-NPR-Y]{1}[0-9]{7}[R]{1}[PMC]{1}$)"
)

# Every example code of domain/china-regulation.md §1.6 with the parse the reference gives.
# The third example is printed there as "001PF000000000B11 + 7 random chars".
REFERENCE_EXAMPLES = [
    # code, manufacturer, type, battery type, spec, traceability, date, serial
    ("X12MCPM27KLPCLX2M2382320", "X12", "M", "C", "PM", "27KLPCL", date(2039, 2, 21), "2382320"),
    ("03UPE01000011C85A00FTY45", "03U", "P", "E", "01", "000011C", date(2018, 5, 10), "00FTY45"),
    (
        "001PF000000000B11" + "4711042",
        "001",
        "P",
        "F",
        "00",
        "0000000",
        date(2021, 1, 1),
        "4711042",
    ),
]

NIO = "03UPE01000011C85A00FTY45"  # 8-5-A = 2018-05-10, letters in the serial
CASCADE = "ABCMB01E3F0001234RM"  # 2024-03-15, module, LFP


@pytest.mark.parametrize(
    ("code", "manufacturer", "ptype", "btype", "spec", "trace", "made", "serial"),
    REFERENCE_EXAMPLES,
)
def test_every_reference_example_parses(
    code: str,
    manufacturer: str,
    ptype: str,
    btype: str,
    spec: str,
    trace: str,
    made: date,
    serial: str,
) -> None:
    b = parse_battery_code(code)
    assert (b.manufacturer, b.product_type, b.battery_type, b.specification) == (
        manufacturer,
        ptype,
        btype,
        spec,
    )
    assert (b.traceability, b.production_date, b.serial) == (trace, made, serial)
    assert b.code == code and not b.is_cascade and b.cascade_suffix is None


def test_catenax_example_and_regex_agree_with_default_rules() -> None:
    # The digits-only reference examples match Catena-X; the NIO one does not (serial letters).
    assert CATENAX.match(REFERENCE_EXAMPLES[0][0]) and CATENAX.match(REFERENCE_EXAMPLES[2][0])
    assert not CATENAX.match(NIO)
    assert CATENAX.match(CASCADE)
    assert is_battery_code(CASCADE)


def test_nio_example_fields_and_kinds() -> None:
    b = parse_battery_code(NIO)
    assert b.product_kind == "pack"
    assert b.chemistry == "NCM"
    assert b.date_code == "85A"


def test_cascade_layout_has_no_traceability_and_ends_with_r_plus_type() -> None:
    b = parse_battery_code(CASCADE)
    assert b.is_cascade
    assert b.traceability is None
    assert (b.manufacturer, b.product_type, b.battery_type, b.specification) == (
        "ABC",
        "M",
        "B",
        "01",
    )
    assert b.production_date == date(2024, 3, 15)
    assert b.serial == "0001234"
    assert b.cascade_suffix == "RM"
    assert b.chemistry == "LFP" and b.product_kind == "module"


def test_surrounding_whitespace_is_stripped() -> None:
    assert parse_battery_code(f"  {NIO}\r\n").code == NIO


@pytest.mark.parametrize(
    ("char", "kind", "chemistry"),
    [("B", "pack", "LFP"), ("E", "pack", "NCM"), ("Z", "pack", "other"), ("A", "pack", "unknown")]
    + [(c, "pack", "unknown") for c in "CDFG"],
)
def test_battery_type_letters(char: str, kind: str, chemistry: str) -> None:
    b = parse_battery_code(NIO[:4] + char + NIO[5:])
    assert (b.product_kind, b.chemistry) == (kind, chemistry)


@pytest.mark.parametrize(("char", "kind"), [("P", "pack"), ("M", "module"), ("C", "cell")])
def test_product_types(char: str, kind: str) -> None:
    assert parse_battery_code(NIO[:3] + char + NIO[4:]).product_kind == kind


@pytest.mark.parametrize(
    ("char", "year"),
    [
        *[("1", 2011), ("7", 2017), ("9", 2019), ("A", 2020), ("F", 2025), ("H", 2027)],
        *[("J", 2028), ("P", 2033), ("R", 2034), ("T", 2036), ("V", 2037), ("Y", 2040)],
    ],
)
def test_default_year_table(char: str, year: int) -> None:
    assert parse_battery_code(NIO[:14] + char + NIO[15:]).production_date == date(year, 5, 10)


@pytest.mark.parametrize(("char", "month"), [("1", 1), ("9", 9), ("A", 10), ("B", 11), ("C", 12)])
def test_month_characters(char: str, month: int) -> None:
    assert parse_battery_code(NIO[:15] + char + NIO[16:]).production_date == date(2018, month, 10)


@pytest.mark.parametrize(
    ("char", "day"),
    [
        *[("1", 1), ("9", 9), ("A", 10), ("H", 17), ("J", 18), ("N", 22), ("P", 23)],
        *[("R", 24), ("T", 26), ("V", 27), ("Y", 30), ("0", 31)],
    ],
)
def test_default_day_table(char: str, day: int) -> None:
    # month 1 (January) has 31 days, so every day character maps to a real date
    code = NIO[:15] + "1" + char + NIO[17:]
    assert parse_battery_code(code).production_date == date(2018, 1, day)


@pytest.mark.parametrize(("pos", "char"), [(15, "I"), (15, "U"), (17, "I"), (17, "U")])
def test_catenax_only_characters_parse_without_a_date(pos: int, char: str) -> None:
    code = NIO[: pos - 1] + char + NIO[pos:]
    b = parse_battery_code(code)
    assert b.production_date is None
    meaning = {row[1]: row[3] for row in b.explain()}
    field = "production year" if pos == 15 else "production day"
    assert "not mapped" in meaning[field]
    assert CATENAX.match(code[:17] + "0000000")  # Catena-X admits them too


def test_impossible_date_is_rejected_at_the_day_position() -> None:
    code = NIO[:15] + "20" + NIO[17:]  # 31 February 2018
    with pytest.raises(IdentityError) as exc:
        parse_battery_code(code)
    assert exc.value.position == 17
    assert "31" in exc.value.reason and "2018-02" in exc.value.reason
    lenient = CodeRules(strict_dates=False)
    assert parse_battery_code(code, lenient).production_date is None


def test_impossible_date_in_cascade_code_points_at_position_10() -> None:
    code = CASCADE[:8] + "2V" + CASCADE[10:]  # 27 February is fine …
    assert parse_battery_code(code).production_date == date(2024, 2, 27)
    with pytest.raises(IdentityError) as exc:  # … 30 February is not
        parse_battery_code(CASCADE[:8] + "2Y" + CASCADE[10:])
    assert exc.value.position == 10


# (mutated position, replacement, words the reason must contain)
FULL_ERRORS = [
    (1, "-", "manufacturer"),
    (3, "_", "manufacturer"),
    (4, "X", "product type"),
    (5, "H", "battery type"),
    (5, "Y", "A-G, Z"),
    (6, "#", "specification"),
    (7, "é", "specification"),
    (8, "-", "traceability"),
    (14, "*", "traceability"),
    (15, "0", "production year"),
    (15, "O", "production year"),
    (15, "Z", "production year"),
    (16, "0", "production month"),
    (16, "D", "1-9, A-C"),
    (17, "O", "production day"),
    (17, "Q", "production day"),
    (17, "Z", "production day"),
    (18, "-", "serial"),
    (24, "/", "serial"),
]


@pytest.mark.parametrize(("pos", "char", "words"), FULL_ERRORS)
def test_each_24_char_field_reports_its_position(pos: int, char: str, words: str) -> None:
    code = NIO[: pos - 1] + char + NIO[pos:]
    with pytest.raises(IdentityError) as exc:
        parse_battery_code(code)
    assert exc.value.position == pos
    assert exc.value.bare_field == "battery_code"
    assert words in exc.value.reason
    assert f"(position {pos})" in str(exc.value)


CASCADE_ERRORS = [
    (4, "X", "product type"),
    (8, "Q", "production year"),
    (9, "0", "production month"),
    (10, "Z", "production day"),
    (11, "-", "serial"),
    (17, "-", "serial"),
    (18, "Q", "cascade-use"),
    (19, "R", "cascade product type"),
]


@pytest.mark.parametrize(("pos", "char", "words"), CASCADE_ERRORS)
def test_each_19_char_field_reports_its_position(pos: int, char: str, words: str) -> None:
    with pytest.raises(IdentityError) as exc:
        parse_battery_code(CASCADE[: pos - 1] + char + CASCADE[pos:])
    assert exc.value.position == pos
    assert words in exc.value.reason


@pytest.mark.parametrize("length", [0, 1, 18, 20, 23, 25])
def test_wrong_length_names_both_lengths(length: int) -> None:
    with pytest.raises(IdentityError) as exc:
        parse_battery_code((NIO * 2)[:length])
    assert exc.value.position is None
    assert ("24" in exc.value.reason and "19" in exc.value.reason) or "empty" in exc.value.reason


def test_lower_case_is_rejected_with_the_upper_case_hint() -> None:
    with pytest.raises(IdentityError) as exc:
        parse_battery_code(NIO[:4] + "e" + NIO[5:])
    assert exc.value.position == 5
    assert "upper case" in exc.value.reason and "'E'" in exc.value.reason


def test_inner_whitespace_is_reported() -> None:
    with pytest.raises(IdentityError) as exc:
        parse_battery_code(NIO[:9] + " " + NIO[10:])
    assert exc.value.position == 10
    assert "whitespace" in exc.value.reason


def test_non_string_input_raises_identity_error() -> None:
    with pytest.raises(IdentityError):
        parse_battery_code(12345)  # type: ignore[arg-type]
    assert is_battery_code(None) is False


def test_serial_letters_accepted_by_default_and_rejected_when_strict() -> None:
    strict = CodeRules(serial_digits_only=True)
    assert parse_battery_code(NIO).serial == "00FTY45"
    with pytest.raises(IdentityError) as exc:
        parse_battery_code(NIO, strict)
    assert exc.value.position == 20  # first letter of 00FTY45
    assert "digit" in exc.value.reason
    assert is_battery_code(REFERENCE_EXAMPLES[0][0], strict)


def test_alternative_day_table_with_u() -> None:
    # The other reading of §1.4: A-Y without I, O, Q, Z but with U gives 31 day characters.
    rules = CodeRules(day_chars="123456789ABCDEFGHJKLMNPRSTUVWXY", unmapped_day_chars="I0")
    assert parse_battery_code(NIO[:15] + "1U" + NIO[17:], rules).production_date == date(
        2018, 1, 27
    )
    assert parse_battery_code(NIO[:15] + "1Y" + NIO[17:], rules).production_date == date(
        2018, 1, 31
    )
    assert parse_battery_code(NIO[:15] + "10" + NIO[17:], rules).production_date is None
    # Under the defaults U has no meaning and Y is the 30th.
    assert parse_battery_code(NIO[:15] + "1Y" + NIO[17:]).production_date == date(2018, 1, 30)


def test_alternative_year_table() -> None:
    # Kotlin cellscanner reading: 1-9 = 2011-2019, 0 = 2020, A = 2021 …
    rules = CodeRules(year_chars="1234567890ABCDEFGHJKLMNPRSTVWXY", unmapped_year_chars="IU")
    assert parse_battery_code(NIO[:14] + "0" + NIO[15:], rules).production_date == date(2020, 5, 10)
    assert parse_battery_code(NIO[:14] + "A" + NIO[15:], rules).production_date == date(2021, 5, 10)


def test_unmapped_characters_can_be_made_errors() -> None:
    rules = CodeRules(unmapped_year_chars="", unmapped_day_chars="")
    with pytest.raises(IdentityError) as exc:
        parse_battery_code(NIO[:14] + "I" + NIO[15:], rules)
    assert exc.value.position == 15


def test_battery_type_table_is_configurable() -> None:
    types = (("A", "NiMH", "nickel-metal hydride"), ("B", "LFP", "LFP"), ("E", "NCM", "NCM"))
    rules = CodeRules(battery_types=types)
    assert parse_battery_code(NIO[:4] + "A" + NIO[5:], rules).chemistry == "NiMH"
    with pytest.raises(IdentityError) as exc:
        parse_battery_code(NIO[:4] + "Z" + NIO[5:], rules)
    assert exc.value.position == 5 and "A, B, E" in exc.value.reason


def test_cascade_suffix_rules() -> None:
    other_type = CASCADE[:18] + "P"  # module code whose suffix names a pack
    assert parse_battery_code(other_type).cascade_suffix == "RP"
    with pytest.raises(IdentityError) as exc:
        parse_battery_code(other_type, CodeRules(cascade_suffix_must_match=True))
    assert exc.value.position == 19
    marker_t = CodeRules(cascade_marker="T")
    assert parse_battery_code(CASCADE[:17] + "TM", marker_t).cascade_suffix == "TM"
    with pytest.raises(IdentityError) as exc:
        parse_battery_code(CASCADE, marker_t)
    assert exc.value.position == 18


@pytest.mark.parametrize(
    "changes",
    [
        {"year_chars": "1123"},
        {"day_chars": "12I", "unmapped_day_chars": "I"},
        {"month_chars": "123"},
        {"day_chars": "1234567890ABCDEFGHJKLMNPRSTUVWXY"},
        {"cascade_marker": "RR"},
        {"cascade_suffix_types": "PX"},
        {"battery_types": (("BB", "LFP", "x"),)},
        {"year_chars": "12a"},
    ],
)
def test_inconsistent_rules_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(DEFAULT_RULES, **changes)  # type: ignore[arg-type]


def test_rules_equality_ignores_the_compiled_cache() -> None:
    assert CodeRules() == DEFAULT_RULES
    assert hash(CodeRules()) == hash(DEFAULT_RULES)
    assert CodeRules(serial_digits_only=True) != DEFAULT_RULES


def test_explain_lists_every_field_with_positions() -> None:
    rows = parse_battery_code(NIO).explain()
    assert [r[0] for r in rows] == [
        "1-3",
        "4",
        "5",
        "6-7",
        "8-14",
        "15",
        "16",
        "17",
        "18-24",
        "15-17",
    ]
    assert [r[2] for r in rows] == [
        "03U",
        "P",
        "E",
        "01",
        "000011C",
        "8",
        "5",
        "A",
        "00FTY45",
        "85A",
    ]
    meanings = {r[1]: r[3] for r in rows}
    assert meanings["product type"] == "pack"
    assert "三元" in meanings["battery type"]
    assert meanings["production year"] == "2018"
    assert meanings["production month"].startswith("05")
    assert meanings["production day"] == "10"
    assert meanings["production date"] == "2018-05-10"


def test_explain_cascade_positions() -> None:
    rows = parse_battery_code(CASCADE).explain()
    assert [r[0] for r in rows] == [
        "1-3",
        "4",
        "5",
        "6-7",
        "8",
        "9",
        "10",
        "11-17",
        "18",
        "19",
        "8-10",
    ]
    assert "traceability" not in [r[1] for r in rows]
    assert "UNCONFIRMED" in rows[8][3]


def test_format_round_trip_with_words_and_int_serial() -> None:
    code = format_battery_code("03U", "pack", "NCM", "01", "000011C", date(2018, 5, 10), 42)
    assert code == "03UPE01000011C85A0000042"
    assert (
        format_battery_code("03U", "P", "E", "01", "000011C", date(2018, 5, 10), "00FTY45") == NIO
    )


def test_format_cascade_defaults_suffix_to_product_type() -> None:
    code = format_cascade_code("ABC", "module", "LFP", "01", date(2024, 3, 15), 1234)
    assert code == CASCADE
    assert format_cascade_code("ABC", "M", "B", "01", date(2024, 3, 15), 1234, "P")[-2:] == "RP"


def test_format_uses_day_31_character() -> None:
    code = format_battery_code("03U", "P", "B", "01", "0000001", date(2024, 12, 31), 1)
    assert code[14:17] == "EC0"
    assert parse_battery_code(code).production_date == date(2024, 12, 31)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"manufacturer": "03"}, "manufacturer"),
        ({"product_type": "battery"}, "product_type"),
        ({"battery_type": "unknown"}, "battery_type"),
        ({"specification": "1"}, "specification"),
        ({"traceability": "123"}, "traceability"),
        ({"production_date": date(2010, 1, 1)}, "production_date"),
        ({"production_date": date(2041, 1, 1)}, "production_date"),
        ({"serial": 10_000_000}, "serial"),
        ({"serial": "12"}, "serial"),
        ({"serial": True}, "serial"),
    ],
)
def test_format_names_the_bad_argument(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {
        "manufacturer": "03U",
        "product_type": "P",
        "battery_type": "E",
        "specification": "01",
        "traceability": "000011C",
        "production_date": date(2018, 5, 10),
        "serial": 1,
    }
    args.update(kwargs)
    with pytest.raises(IdentityError) as exc:
        format_battery_code(**args)  # type: ignore[arg-type]
    assert exc.value.bare_field == field


def test_format_validates_its_output() -> None:
    with pytest.raises(IdentityError) as exc:
        format_battery_code("03u", "P", "E", "01", "000011C", date(2018, 5, 10), 1)
    assert exc.value.position == 3


def test_validate_battery_code_agrees_with_parse() -> None:
    assert validate_battery_code(NIO) == NIO
    with pytest.raises(IdentityError) as exc:
        validate_battery_code(NIO[:16] + "Z" + NIO[17:])
    assert exc.value.position == 17


def test_parsed_codes_are_cached_and_immutable() -> None:
    a, b = parse_battery_code(NIO), parse_battery_code(NIO)
    assert a is b
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.serial = "x"  # type: ignore[misc]
