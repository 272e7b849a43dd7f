"""GB/T 2260 province-level divisions."""

from __future__ import annotations

import pytest

from battrace.domain.errors import IdentityError
from battrace.domain.identities import PROVINCES, province_by_code, province_of_uscc


def test_thirty_four_province_level_units_with_unique_codes() -> None:
    assert len(PROVINCES) == 34
    assert len({p.code for p in PROVINCES}) == 34
    assert all(p.division_code == p.code + "0000" for p in PROVINCES)
    assert {p.kind for p in PROVINCES} == {"province", "municipality", "autonomous region", "SAR"}
    assert sum(p.kind == "municipality" for p in PROVINCES) == 4
    assert sum(p.kind == "autonomous region" for p in PROVINCES) == 5


@pytest.mark.parametrize(
    ("code", "en", "zh"),
    [
        ("11", "Beijing", "北京市"),
        ("35", "Fujian", "福建省"),
        ("350900", "Fujian", "福建省"),
        ("44", "Guangdong", "广东省"),
        ("50", "Chongqing", "重庆市"),
        ("65", "Xinjiang", "新疆维吾尔自治区"),
        ("71", "Taiwan", "台湾省"),
        ("81", "Hong Kong", "香港特别行政区"),
        ("82", "Macao", "澳门特别行政区"),
    ],
)
def test_lookup(code: str, en: str, zh: str) -> None:
    p = province_by_code(code)
    assert p is not None and (p.name_en, p.name_zh) == (en, zh)


@pytest.mark.parametrize("code", ["10", "00", "24", "100000", "990000"])
def test_unknown_prefix_is_none(code: str) -> None:
    assert province_by_code(code) is None


@pytest.mark.parametrize("code", ["1", "110", "11000", "1100000", "ab", "１１", "Fujian", None])
def test_malformed_codes_are_none(code: str) -> None:
    assert province_by_code(code) is None


def test_province_of_uscc() -> None:
    p = province_of_uscc("91440300192317458F")
    assert p is not None and p.code == "44"
    with pytest.raises(IdentityError):
        province_of_uscc("91440300192317458G")
