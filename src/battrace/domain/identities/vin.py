"""Vehicle identification numbers (GB 16735 / ISO 3779).

17 characters from 0-9 and A-Z without I, O and Q; position 9 is the check digit computed from
the transliterated values and weights below (mod 11, 10 written as X). GB 16735 requires the
check digit; ``verify_check_digit=False`` exists for imported vehicles whose VIN lacks one.
Like battery codes, VINs are upper case: lower case is rejected rather than folded.
"""

from __future__ import annotations

import re
from functools import lru_cache
from operator import mul

from battrace.domain.errors import IdentityError

_FIELD = "vin"
_VALUES: dict[str, int] = {str(d): d for d in range(10)} | dict(
    zip(
        "ABCDEFGHJKLMNPRSTUVWXYZ",
        (1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9),
        strict=True,
    )
)
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_ALPHABET = frozenset(_VALUES)
_SHAPE = re.compile(r"[0-9A-HJ-NPR-Z]{17}").fullmatch


def _bad_char(vin: str) -> IdentityError | None:
    for pos, ch in enumerate(vin, start=1):
        if ch in _VALUES:
            continue
        if ch in "IOQ":
            why = f"{ch!r} is not used in VINs (I, O and Q are excluded)"
        elif ch.upper() in _VALUES and ch != ch.upper():
            why = f"lower-case {ch!r}; VINs are upper case ({ch.upper()!r})"
        else:
            why = f"{ch!r} is not allowed; expected 0-9 or A-Z without I, O, Q"
        return IdentityError(_FIELD, why, pos)
    return None


def _length(vin: str) -> IdentityError | None:
    if len(vin) != 17:
        return IdentityError(_FIELD, f"must be 17 characters, got {len(vin)}")
    return None


def vin_check_digit(vin: str) -> str:
    """The check digit for a 17-character VIN; whatever is at position 9 is ignored."""
    if not isinstance(vin, str):
        raise IdentityError(_FIELD, "must be a string")
    err = _length(vin)
    if err:
        raise err
    vin = vin[:8] + "0" + vin[9:]  # position 9 has weight 0: any placeholder will do
    err = _bad_char(vin)
    if err:
        raise err
    return _check_digit(vin)


def _check_digit(vin: str) -> str:
    r = sum(map(mul, map(_VALUES.__getitem__, vin), _WEIGHTS)) % 11
    return "X" if r == 10 else str(r)


def _validate(vin: str) -> str:
    vin = vin.strip()
    if not _SHAPE(vin):
        raise _length(vin) or _bad_char(vin) or IdentityError(_FIELD, "is not a VIN")
    expected = _check_digit(vin)
    if vin[8] != expected:
        raise IdentityError(_FIELD, f"check digit is {vin[8]!r}, expected {expected!r}", 9)
    return vin


_validated = lru_cache(maxsize=16384)(_validate)


def validate_vin(vin: str, *, verify_check_digit: bool = True) -> str:
    """Return the VIN (surrounding whitespace removed) or raise :class:`IdentityError`."""
    if not isinstance(vin, str):
        raise IdentityError(_FIELD, "must be a string")
    if verify_check_digit:
        return _validated(vin)
    vin = vin.strip()
    err = _length(vin) or _bad_char(vin)
    if err:
        raise err
    return vin


def is_vin(vin: object) -> bool:
    if not isinstance(vin, str):
        return False
    try:
        _validated(vin)
    except IdentityError:
        return False
    return True


def make_vin(wmi: str, vds: str, year_char: str, plant: str, serial: str | int) -> str:
    """Assemble a valid VIN: WMI (3), VDS (5, positions 4–8), model year (10), plant (11), serial.

    An int ``serial`` is zero-padded to 6 digits (positions 12–17); the check digit is computed.
    """
    if isinstance(serial, bool):
        raise IdentityError("serial", "must be a string or an int")
    if isinstance(serial, int):
        if not 0 <= serial <= 999_999:
            raise IdentityError("serial", f"{serial} does not fit in 6 digits")
        serial = f"{serial:06d}"
    parts = (
        ("wmi", wmi, 3),
        ("vds", vds, 5),
        ("year_char", year_char, 1),
        ("plant", plant, 1),
        ("serial", serial, 6),
    )
    for name, value, length in parts:
        if not isinstance(value, str) or len(value) != length:
            raise IdentityError(name, f"must be {length} characters, got {value!r}")
    draft = wmi + vds + "0" + year_char + plant + serial
    vin = draft[:8] + vin_check_digit(draft) + draft[9:]
    return validate_vin(vin)
