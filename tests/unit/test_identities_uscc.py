"""Unified social credit codes (GB 32100-2015) and the embedded GB 11714 organisation code."""

from __future__ import annotations

import pytest

from battrace.domain.errors import IdentityError
from battrace.domain.identities import (
    is_uscc,
    make_uscc,
    organisation_code_check_character,
    parse_uscc,
    uscc_check_character,
    validate_uscc,
)

# Published codes: CATL and BYD (from the brief), and codes found online that python-stdnum's test
# suite lists as valid (tests/test_cn_uscc.doctest) - covering authority 1, individual businesses
# (92), letters in the organisation code and X as the GB 11714 check character.
PUBLISHED = [
    "91350900587527783P",  # 宁德时代 CATL
    "91440300192317458F",  # 比亚迪 BYD
    "91110000600037341L",
    "9144030071526726XG",
    "91310115MA1K3BTP2B",
    "121200004013590816",
    "91620105L015101280",
    "92340602MA2UK33127",
    "9115220107837757XE",
]
CATL = PUBLISHED[0]


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_codes_validate(code: str) -> None:
    assert validate_uscc(code) == code
    assert is_uscc(code)


def test_check_characters_of_catl() -> None:
    assert organisation_code_check_character("58752778") == "3"
    assert uscc_check_character(CATL[:17]) == "P"


def test_parse_uscc_names_the_parts() -> None:
    u = parse_uscc(CATL)
    assert (u.registration_authority, u.organisation_type) == ("9", "1")
    assert u.organisation_type_name == "企业"
    assert u.division_code == "350900"
    assert u.province is not None and u.province.name_en == "Fujian"
    assert u.organisation_code == "587527783"


def test_wrong_check_character_names_position_18_and_the_expected_one() -> None:
    with pytest.raises(IdentityError) as exc:
        validate_uscc(CATL[:17] + "Q")
    assert exc.value.position == 18
    assert "'P'" in exc.value.reason


def test_wrong_organisation_code_check_is_position_17() -> None:
    first17 = CATL[:16] + "4"  # GB 11714 wants 3
    code = first17 + uscc_check_character(first17)  # position 18 is consistent
    with pytest.raises(IdentityError) as exc:
        validate_uscc(code)
    assert exc.value.position == 17
    assert "GB 11714" in exc.value.reason and "'3'" in exc.value.reason
    assert validate_uscc(code, check_org_code=False) == code


@pytest.mark.parametrize(("pos", "char"), [(1, "I"), (5, "O"), (10, "S"), (12, "V"), (18, "Z")])
def test_excluded_letters_are_rejected_at_their_position(pos: int, char: str) -> None:
    with pytest.raises(IdentityError) as exc:
        validate_uscc(CATL[: pos - 1] + char + CATL[pos:])
    assert exc.value.position == pos
    assert "I, O, S, V, Z" in exc.value.reason


def test_lower_case_is_rejected_with_a_hint() -> None:
    with pytest.raises(IdentityError) as exc:
        validate_uscc(CATL[:17] + "p")
    assert exc.value.position == 18 and "upper case" in exc.value.reason


def test_unknown_registration_authority_is_position_1() -> None:
    with pytest.raises(IdentityError) as exc:
        validate_uscc("B" + CATL[1:])
    assert exc.value.position == 1 and "registration authority" in exc.value.reason


def test_organisation_type_must_exist_for_the_authority() -> None:
    with pytest.raises(IdentityError) as exc:
        validate_uscc("94" + CATL[2:])
    assert exc.value.position == 2 and "organisation type" in exc.value.reason
    assert validate_uscc(make_uscc("110105", "MA01ABCD", "3", "1"))  # a law firm: authority 3


@pytest.mark.parametrize("pos", [3, 8])
def test_division_must_be_digits(pos: int) -> None:
    with pytest.raises(IdentityError) as exc:
        validate_uscc(CATL[: pos - 1] + "A" + CATL[pos:])
    assert exc.value.position == pos and "digit" in exc.value.reason


@pytest.mark.parametrize("prefix", ["00", "10", "16", "39", "72", "99"])
def test_division_must_name_a_province(prefix: str) -> None:
    with pytest.raises(IdentityError) as exc:
        validate_uscc(CATL[:2] + prefix + CATL[4:])
    assert "province" in exc.value.reason and prefix in exc.value.reason


def test_national_level_division_100000_is_accepted() -> None:
    code = make_uscc("100000", "00001234", "1", "1")
    assert parse_uscc(code).province is None


@pytest.mark.parametrize("code", ["", CATL[:17], CATL + "0"])
def test_wrong_length(code: str) -> None:
    with pytest.raises(IdentityError) as exc:
        validate_uscc(code)
    assert exc.value.position is None and "18" in exc.value.reason


def test_make_uscc_round_trip_and_errors() -> None:
    assert make_uscc("350900", "58752778") == CATL
    with pytest.raises(IdentityError) as exc:
        make_uscc("350900", "5875277")
    assert exc.value.bare_field == "org_body"
    with pytest.raises(IdentityError):
        make_uscc("3509", "58752778")
    with pytest.raises(IdentityError):
        make_uscc("350900", "58752778", "9", "7")  # no such organisation type


def test_helpers_reject_bad_input() -> None:
    with pytest.raises(IdentityError):
        uscc_check_character("9135090058752778")
    with pytest.raises(IdentityError):
        organisation_code_check_character("5875277-")
    assert is_uscc(None) is False
    assert validate_uscc(f" {CATL} ") == CATL
