"""Property tests for battrace identifiers (hypothesis)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from battrace.domain.errors import IdentityError
from battrace.domain.identities import (
    DEFAULT_RULES,
    CodeRules,
    check_uri,
    format_battery_code,
    format_cascade_code,
    is_battery_code,
    make_uscc,
    make_vin,
    parse_battery_code,
    parse_uri,
    parse_uscc,
    province_by_code,
    validate_uscc,
    validate_vin,
)
from battrace.domain.identities.uscc import USCC_ALPHABET

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
VIN_VALUE = {c: (int(c) if c.isdigit() else None) for c in VIN_CHARS}
VIN_VALUE.update(
    zip(
        "ABCDEFGHJKLMNPRSTUVWXYZ",
        (1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9),
        strict=True,
    )
)
# Catena-X traction_battery_code 2.0.0 pattern (see tests/unit/test_identities_gbt34014.py).
CATENAX = re.compile(
    r"(^[A-Z0-9]{3}[PMC]{1}[A-GZ]{1}[A-Z0-9]{2}[A-Z0-9]{7}[1-9A-GH-NPR-Y]{1}[1-9A-C]{1}"
    r"[0-9A-GH-NPR-Y]{1}[0-9]{7}$)|(^[A-Z0-9]{3}[PMC]{1}[A-GZ]{1}[A-Z0-9]{2}[1-9A-GH-NPR-Y]{1}"
    r"[1-9A-C]{1}[0-9A-GH-NPR-Y]{1}[0-9]{7}[R]{1}[PMC]{1}$)"
)


def chars(alphabet: str, n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=n, max_size=n)


dates = st.dates(min_value=date(2011, 1, 1), max_value=date(2040, 12, 31))
serials = st.one_of(st.integers(0, 9_999_999), chars(ALNUM, 7))


@given(
    manufacturer=chars(ALNUM, 3),
    product_type=st.sampled_from("PMC"),
    battery_type=st.sampled_from("ABCDEFGZ"),
    specification=chars(ALNUM, 2),
    traceability=chars(ALNUM, 7),
    made=dates,
    serial=serials,
)
def test_formatted_codes_parse_back(
    manufacturer: str,
    product_type: str,
    battery_type: str,
    specification: str,
    traceability: str,
    made: date,
    serial: int | str,
) -> None:
    code = format_battery_code(
        manufacturer, product_type, battery_type, specification, traceability, made, serial
    )
    b = parse_battery_code(code)
    assert len(code) == 24 and not b.is_cascade
    assert (b.manufacturer, b.product_type, b.battery_type) == (
        manufacturer,
        product_type,
        battery_type,
    )
    assert (b.specification, b.traceability, b.production_date) == (
        specification,
        traceability,
        made,
    )
    assert b.serial == (f"{serial:07d}" if isinstance(serial, int) else serial)


@given(
    manufacturer=chars(ALNUM, 3),
    product_type=st.sampled_from("PMC"),
    battery_type=st.sampled_from("ABCDEFGZ"),
    specification=chars(ALNUM, 2),
    made=dates,
    serial=serials,
    suffix=st.sampled_from("PMC"),
)
def test_formatted_cascade_codes_parse_back(
    manufacturer: str,
    product_type: str,
    battery_type: str,
    specification: str,
    made: date,
    serial: int | str,
    suffix: str,
) -> None:
    code = format_cascade_code(
        manufacturer, product_type, battery_type, specification, made, serial, suffix
    )
    b = parse_battery_code(code)
    assert len(code) == 19 and b.is_cascade and b.traceability is None
    assert (b.manufacturer, b.product_type, b.specification) == (
        manufacturer,
        product_type,
        specification,
    )
    assert (b.production_date, b.cascade_suffix) == (made, "R" + suffix)


@st.composite
def near_codes(draw: st.DrawFn) -> str:
    """Valid codes of both lengths with 0-2 random substitutions (mix of good and bad)."""
    cascade = draw(st.booleans())
    made = draw(dates)
    parts = (
        draw(chars(ALNUM, 3)),
        draw(st.sampled_from("PMC")),
        draw(st.sampled_from("ABCDEFGZ")),
        draw(chars(ALNUM, 2)),
    )
    serial = draw(chars("0123456789", 7))
    if cascade:
        code = format_cascade_code(*parts, made, serial)
    else:
        code = format_battery_code(*parts, draw(chars(ALNUM, 7)), made, serial)
    for _ in range(draw(st.integers(0, 2))):
        i = draw(st.integers(0, len(code) - 1))
        code = code[:i] + draw(st.sampled_from(ALNUM)) + code[i + 1 :]
    return code


STRICT_LIKE_CATENAX = CodeRules(serial_digits_only=True, strict_dates=False)


@given(near_codes())
def test_strict_rules_accept_exactly_what_catenax_accepts(code: str) -> None:
    assert is_battery_code(code, STRICT_LIKE_CATENAX) == bool(CATENAX.match(code))


@given(near_codes())
def test_default_rules_reject_catenax_codes_only_for_impossible_dates(code: str) -> None:
    if CATENAX.match(code) and not is_battery_code(code):
        with pytest.raises(IdentityError) as exc:
            parse_battery_code(code)
        assert exc.value.position == (10 if len(code) == 19 else 17)
        assert "does not exist" in exc.value.reason


@given(near_codes())
def test_uri_check_and_parse_agree(code: str) -> None:
    uri = "urn:gbt34014:" + code
    try:
        check_uri(uri, "f")
    except IdentityError:
        with pytest.raises(IdentityError):
            parse_uri(uri)
    else:
        assert parse_uri(uri).battery == parse_battery_code(code)


vins = st.builds(
    make_vin,
    chars(VIN_CHARS, 3),
    chars(VIN_CHARS, 5),
    chars(VIN_CHARS, 1),
    chars(VIN_CHARS, 1),
    st.one_of(st.integers(0, 999_999), chars(VIN_CHARS, 6)),
)


@given(vins)
def test_made_vins_validate(vin: str) -> None:
    assert validate_vin(vin) == vin
    assert parse_uri("urn:vin:" + vin).value == vin


@given(vins, st.integers(1, 17), st.sampled_from(VIN_CHARS))
def test_any_single_checked_substitution_in_a_vin_is_rejected(vin: str, pos: int, ch: str) -> None:
    old = vin[pos - 1]
    # Position 9 is the check digit itself; elsewhere only a change of transliterated value can be
    # detected (A, J and 1 all count 1), which is the guarantee of the mod-11 scheme.
    assume(ch != old if pos == 9 else VIN_VALUE[ch] != VIN_VALUE[old])
    with pytest.raises(IdentityError) as exc:
        validate_vin(vin[: pos - 1] + ch + vin[pos:])
    assert exc.value.position == 9


# No blanks among the replacements: they are stripped at the ends.
@given(vins, st.integers(1, 17), st.sampled_from("IOQioq-*_é"))
def test_foreign_characters_in_a_vin_are_reported_where_they_are(
    vin: str, pos: int, ch: str
) -> None:
    with pytest.raises(IdentityError) as exc:
        validate_vin(vin[: pos - 1] + ch + vin[pos:])
    assert exc.value.position == pos


divisions = st.sampled_from(["110000", "110105", "350900", "440300", "650100", "820000", "100000"])
usccs = st.builds(
    lambda division, body, kind: make_uscc(division, body, *kind),
    divisions,
    chars(USCC_ALPHABET, 8),
    st.sampled_from(
        [("9", "1"), ("9", "2"), ("9", "3"), ("1", "2"), ("5", "1"), ("Y", "1"), ("N", "2")]
    ),
)


@given(usccs)
def test_made_usccs_validate(code: str) -> None:
    assert validate_uscc(code) == code
    u = parse_uscc(code)
    assert u.division_code == code[2:8]
    assert parse_uri("urn:uscc:" + code).party == code


@given(usccs, st.integers(1, 18), st.sampled_from(USCC_ALPHABET + "IOSVZ-a"))
def test_any_single_substitution_in_a_uscc_is_rejected(code: str, pos: int, ch: str) -> None:
    assume(ch != code[pos - 1])
    with pytest.raises(IdentityError) as exc:
        validate_uscc(code[: pos - 1] + ch + code[pos:])
    # the character itself, or a rule it breaks: authority/type pair (2), province (3-4, no single
    # position: the national code 100000 counts too), or a check character
    allowed = {pos, 17, 18} | ({2} if pos == 1 else set()) | ({None} if 3 <= pos <= 8 else set())
    assert exc.value.position in allowed


PARSERS: list[Callable[[str], object]] = [
    parse_battery_code,
    validate_vin,
    validate_uscc,
    parse_uscc,
    parse_uri,
    province_by_code,
    lambda s: check_uri(s, "f"),
    lambda s: parse_battery_code(s, CodeRules(serial_digits_only=True)),
]
PREFIXES = [
    "",
    "urn:gbt34014:",
    "urn:vin:",
    "urn:uscc:",
    "urn:battrace:material:",
    "urn:epc:id:sgtin:",
]


@given(st.sampled_from(PREFIXES), st.text(max_size=40), st.sampled_from(range(len(PARSERS))))
def test_arbitrary_text_raises_only_identity_error(prefix: str, text: str, which: int) -> None:
    with contextlib.suppress(IdentityError):
        PARSERS[which](prefix + text)


@given(
    st.sampled_from([*PREFIXES[1:5], "https://id.gs1.org/01/"]),
    st.text(ALNUM + ":.-_%/", max_size=30),
)
def test_check_uri_rejects_what_parse_uri_rejects_in_battrace_namespaces(
    prefix: str, text: str
) -> None:
    uri = prefix + text
    try:
        parse_uri(uri)
    except IdentityError:
        if prefix.startswith("urn:"):
            with pytest.raises(IdentityError):
                check_uri(uri, "f")
    else:
        check_uri(uri, "f")


@given(st.one_of(st.text(max_size=30), near_codes()))
def test_is_battery_code_matches_parse(text: str) -> None:
    try:
        parse_battery_code(text, DEFAULT_RULES)
    except IdentityError:
        assert is_battery_code(text, DEFAULT_RULES) is False
    else:
        assert is_battery_code(text, DEFAULT_RULES) is True
