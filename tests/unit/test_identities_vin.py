"""VINs (GB 16735 / ISO 3779): alphabet, length, check digit at position 9, generator."""

from __future__ import annotations

import pytest

from battrace.domain.errors import IdentityError
from battrace.domain.identities import is_vin, make_vin, validate_vin, vin_check_digit

# Widely published valid VINs: the NHTSA/Wikipedia example (check digit X) and the all-ones VIN.
VALID = ["1M8GDM9AXKP042788", "11111111111111111"]


@pytest.mark.parametrize("vin", VALID)
def test_published_vins_validate(vin: str) -> None:
    assert validate_vin(vin) == vin
    assert is_vin(vin)


def test_check_digit_ignores_position_9() -> None:
    assert vin_check_digit("1M8GDM9AXKP042788") == "X"
    assert vin_check_digit("1M8GDM9A?KP042788") == "X"
    assert vin_check_digit("11111111011111111") == "1"


def test_wrong_check_digit_names_position_9_and_the_expected_digit() -> None:
    with pytest.raises(IdentityError) as exc:
        validate_vin("1M8GDM9A1KP042788")
    assert exc.value.position == 9
    assert exc.value.bare_field == "vin"
    assert "'X'" in exc.value.reason and "'1'" in exc.value.reason


def test_check_digit_can_be_skipped_for_vins_without_one() -> None:
    assert validate_vin("1M8GDM9A1KP042788", verify_check_digit=False) == "1M8GDM9A1KP042788"
    with pytest.raises(IdentityError):  # the alphabet is still checked
        validate_vin("1M8GDM9A1KP04278O", verify_check_digit=False)


@pytest.mark.parametrize(("pos", "char"), [(1, "I"), (5, "O"), (17, "Q")])
def test_i_o_q_are_rejected_at_their_position(pos: int, char: str) -> None:
    vin = VALID[0][: pos - 1] + char + VALID[0][pos:]
    with pytest.raises(IdentityError) as exc:
        validate_vin(vin)
    assert exc.value.position == pos
    assert "I, O and Q" in exc.value.reason


@pytest.mark.parametrize(("pos", "char"), [(2, "-"), (12, " "), (16, "é")])
def test_other_characters_are_rejected_at_their_position(pos: int, char: str) -> None:
    with pytest.raises(IdentityError) as exc:
        validate_vin(VALID[0][: pos - 1] + char + VALID[0][pos:])
    assert exc.value.position == pos


def test_lower_case_is_rejected_with_a_hint() -> None:
    with pytest.raises(IdentityError) as exc:
        validate_vin(VALID[0].lower())
    assert exc.value.position == 2  # '1' is fine, 'm' is not
    assert "upper case" in exc.value.reason


@pytest.mark.parametrize("vin", ["", "1M8GDM9AXKP04278", "1M8GDM9AXKP0427880"])
def test_wrong_length(vin: str) -> None:
    with pytest.raises(IdentityError) as exc:
        validate_vin(vin)
    assert exc.value.position is None and "17" in exc.value.reason


def test_surrounding_whitespace_is_stripped_and_non_strings_rejected() -> None:
    assert validate_vin(f" {VALID[0]}\n") == VALID[0]
    with pytest.raises(IdentityError):
        validate_vin(None)  # type: ignore[arg-type]
    assert is_vin(17) is False


def test_make_vin_computes_the_check_digit() -> None:
    vin = make_vin("LSV", "AU218", "N", "2", 183294)
    assert vin == "LSVAU218XN2183294"
    assert validate_vin(vin) == vin
    assert make_vin("1M8", "GDM9A", "K", "P", "042788") == VALID[0]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("LS", "AU218", "N", "2", 1), "wmi"),
        (("LSV", "AU21", "N", "2", 1), "vds"),
        (("LSV", "AU218", "NN", "2", 1), "year_char"),
        (("LSV", "AU218", "N", "", 1), "plant"),
        (("LSV", "AU218", "N", "2", 1_000_000), "serial"),
        (("LSV", "AU218", "N", "2", "12345"), "serial"),
    ],
)
def test_make_vin_names_the_bad_part(
    args: tuple[str, str, str, str, int | str], field: str
) -> None:
    with pytest.raises(IdentityError) as exc:
        make_vin(*args)
    assert exc.value.bare_field == field


def test_make_vin_rejects_excluded_letters() -> None:
    with pytest.raises(IdentityError) as exc:
        make_vin("LSV", "AU218", "O", "2", 1)
    assert exc.value.position == 10
