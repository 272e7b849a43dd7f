"""Unified social credit codes (统一社会信用代码, GB 32100-2015).

Layout: registration authority (1), organisation type (2), GB/T 2260 division of the registering
authority (3–8), organisation code per GB 11714 (9–17, its own check character at 17), check
character (18). Alphabet: 0-9 and A-Z without I, O, S, V, Z (31 characters).

Both check characters are verified: the GB 11714 one was confirmed on ~140 codes published
online (python-stdnum's test corpus) plus CATL's and BYD's codes, all of which pass both checks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from operator import mul

from battrace.domain.errors import IdentityError
from battrace.domain.identities.divisions import (
    NATIONAL_DIVISION_CODE,
    PROVINCES,
    Province,
    province_by_code,
)

_FIELD = "uscc"
_PROVINCE_PREFIXES = frozenset(p.code for p in PROVINCES)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUES = {c: i for i, c in enumerate(USCC_ALPHABET)}
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_VALUES = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}  # GB 11714
_SHAPE = re.compile(r"[0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}").fullmatch

#: Registration authority -> (name, {organisation type -> name}). 1, 5, 9 and Y are the table of
#: GB 32100-2015 (every source agrees); 2-4, 6-8, A and N were assigned later and come from code
#: repositories only (two agree, one differs for 2-4), so they are accepted but less certain.
REGISTRATION_AUTHORITIES: Mapping[str, tuple[str, Mapping[str, str]]] = {
    "1": (
        "机构编制 (institutional staffing)",
        {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"},
    ),
    "2": ("外交 (foreign affairs)", {"1": "外国常驻新闻机构", "9": "其他"}),
    "3": (
        "司法行政 (justice)",
        {
            "1": "律师执业机构",
            "2": "公证处",
            "3": "基层法律服务所",
            "4": "司法鉴定机构",
            "5": "仲裁委员会",
            "9": "其他",
        },
    ),
    "4": ("文化 (culture)", {"1": "外国在华文化中心", "9": "其他"}),
    "5": (
        "民政 (civil affairs)",
        {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"},
    ),
    "6": (
        "旅游 (tourism)",
        {"1": "外国旅游部门常驻代表机构", "2": "港澳台地区旅游部门常驻内地代表机构", "9": "其他"},
    ),
    "7": ("宗教 (religious affairs)", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会 (trade unions)", {"1": "基层工会", "9": "其他"}),
    "9": (
        "工商/市场监管 (market regulation)",
        {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"},
    ),
    "A": (
        "中央军委改革和编制办公室 (CMC reform and staffing office)",
        {"1": "军队事业单位", "9": "其他"},
    ),
    "N": (
        "农业 (agriculture)",
        {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"},
    ),
    "Y": ("其他 (other)", {"1": "其他"}),
}


def _weighted(code: str, weights: tuple[int, ...], values: Mapping[str, int]) -> int:
    return sum(map(mul, map(values.__getitem__, code), weights))


def uscc_check_character(first17: str) -> str:
    """The 18th character for the first 17 (all from the USCC alphabet)."""
    if (
        not isinstance(first17, str)
        or len(first17) < 17
        or any(c not in _VALUES for c in first17[:17])
    ):
        raise IdentityError(_FIELD, f"need 17 characters from the USCC alphabet, got {first17!r}")
    return _c18(first17)


def _c18(code: str) -> str:
    return USCC_ALPHABET[-_weighted(code[:17], _WEIGHTS, _VALUES) % 31]


def organisation_code_check_character(body8: str) -> str:
    """GB 11714 check character for an 8-character organisation-code body: 0-9 or X."""
    if not isinstance(body8, str) or len(body8) != 8 or any(c not in _ORG_VALUES for c in body8):
        raise IdentityError("organisation_code", f"need 8 characters [0-9A-Z], got {body8!r}")
    return _c17(body8)


def _c17(body8: str) -> str:
    r = 11 - _weighted(body8, _ORG_WEIGHTS, _ORG_VALUES) % 11
    return "X" if r == 10 else "0" if r == 11 else str(r)


def _error(code: str, check_org_code: bool) -> IdentityError | None:
    """The first fault in ``code`` (stripped), or None."""
    if not _SHAPE(code):
        return _shape_error(code)
    authority = REGISTRATION_AUTHORITIES.get(code[0])
    if authority is None:
        known = ", ".join(REGISTRATION_AUTHORITIES)
        return IdentityError(_FIELD, f"registration authority {code[0]!r} is not one of {known}", 1)
    if code[1] not in authority[1]:
        return IdentityError(
            _FIELD,
            f"organisation type {code[1]!r} does not exist for authority {code[0]} "
            f"(expected one of {', '.join(authority[1])})",
            2,
        )
    division = code[2:8]
    if division[:2] not in _PROVINCE_PREFIXES and division != NATIONAL_DIVISION_CODE:
        return IdentityError(
            _FIELD, f"division code {division}: positions 3-4 {division[:2]!r} name no province"
        )
    expected = _c18(code)
    if code[17] != expected:
        return IdentityError(_FIELD, f"check character is {code[17]!r}, expected {expected!r}", 18)
    if check_org_code:
        org = _c17(code[8:16])
        if code[16] != org:
            return IdentityError(
                _FIELD,
                f"organisation-code (GB 11714) check character is {code[16]!r}, expected {org!r}",
                17,
            )
    return None


def _shape_error(code: str) -> IdentityError:
    """Length, alphabet and division digits (slow path, only on failure)."""
    if len(code) != 18:
        return IdentityError(_FIELD, f"must be 18 characters, got {len(code)}")
    for pos, ch in enumerate(code, start=1):
        if ch not in _VALUES:
            if ch != ch.upper() and ch.upper() in _VALUES:
                why = f"lower-case {ch!r}; codes are upper case ({ch.upper()!r})"
            else:
                why = f"{ch!r} is not allowed; expected 0-9 or A-Z without I, O, S, V, Z"
            return IdentityError(_FIELD, why, pos)
    for pos in range(3, 9):
        if not "0" <= code[pos - 1] <= "9":
            return IdentityError(_FIELD, f"division code: {code[pos - 1]!r} is not a digit", pos)
    return IdentityError(_FIELD, "is not a unified social credit code")  # unreachable


def _validate(code: str) -> str:
    code = code.strip()
    err = _error(code, True)
    if err:
        raise err
    return code


_validated = lru_cache(maxsize=16384)(_validate)


def validate_uscc(code: str, *, check_org_code: bool = True) -> str:
    """Return the USCC (surrounding whitespace removed) or raise :class:`IdentityError`."""
    if not isinstance(code, str):
        raise IdentityError(_FIELD, "must be a string")
    if check_org_code:
        return _validated(code)
    code = code.strip()
    err = _error(code, False)
    if err:
        raise err
    return code


def is_uscc(code: object) -> bool:
    if not isinstance(code, str):
        return False
    try:
        _validated(code)
    except IdentityError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Uscc:
    code: str
    registration_authority: str
    authority_name: str
    organisation_type: str
    organisation_type_name: str
    division_code: str
    province: Province | None  # None for national-level registration (division 100000)
    organisation_code: str  # 9 characters, GB 11714


def parse_uscc(code: str) -> Uscc:
    """Validate and split a USCC into its named parts."""
    code = validate_uscc(code)
    name, types = REGISTRATION_AUTHORITIES[code[0]]
    return Uscc(
        code,
        code[0],
        name,
        code[1],
        types[code[1]],
        code[2:8],
        province_by_code(code[2:8]),
        code[8:17],
    )


def make_uscc(
    division: str, org_body: str, registration_authority: str = "9", organisation_type: str = "1"
) -> str:
    """Assemble a valid USCC from a 6-digit division and an 8-character organisation-code body.

    Both check characters are computed. The body must use the USCC alphabet.
    """
    if (
        not isinstance(org_body, str)
        or len(org_body) != 8
        or any(c not in _VALUES for c in org_body)
    ):
        raise IdentityError(
            "org_body", f"must be 8 characters from the USCC alphabet, got {org_body!r}"
        )
    if not isinstance(division, str) or len(division) != 6:
        raise IdentityError("division", f"must be 6 digits, got {division!r}")
    first17 = registration_authority + organisation_type + division + org_body
    first17 += organisation_code_check_character(org_body)
    if any(c not in _VALUES for c in first17):
        raise IdentityError(_FIELD, f"{first17!r} has characters outside the USCC alphabet")
    return validate_uscc(first17 + uscc_check_character(first17))
