"""Locale number formatting: the fast path formats exactly as Babel's patterns do."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_decimal, format_percent
from hypothesis import given
from hypothesis import strategies as st

from battrace.web.i18n import Translator

LOCALES = st.sampled_from(["en", "zh_CN"])
NUMBERS = st.one_of(
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
    st.decimals(min_value=-(10**9), max_value=10**9, places=4).map(float),
    st.sampled_from([0.5, 1.5, 2.5, 2.675, 1.005, -0.4, -0.0, 0.0, 999.995, 1e-9]),
)


def _pattern(digits: int) -> str:
    return "#,##0" + ("." + "0" * digits if digits else "")


@given(NUMBERS, st.integers(min_value=0, max_value=3), LOCALES)
def test_numbers_match_babel(value: float, digits: int, locale: str) -> None:
    expected = format_decimal(value, format=_pattern(digits), locale=locale)
    assert Translator(locale).number(value, digits) == expected


@given(
    st.one_of(
        st.floats(min_value=-100, max_value=100, allow_nan=False),
        st.sampled_from([0.125, 0.0005, 0.9995, 1 / 3, 2 / 3, -0.0]),
    ),
    st.integers(min_value=0, max_value=2),
    LOCALES,
)
def test_percents_match_babel(value: float, digits: int, locale: str) -> None:
    expected = format_percent(value, format=_pattern(digits) + "%", locale=locale)
    assert Translator(locale).percent(value, digits) == expected


def test_missing_and_special_values() -> None:
    t = Translator("en")
    assert t.number(None) == "—" and t.percent(None) == "—"
    assert t.number(float("inf")) == format_decimal(float("inf"), format="#,##0", locale="en")
    assert t.number(Decimal("1234.5"), 1) == "1,234.5"
    assert t.number(1234567) == "1,234,567"
