"""Property tests for whitelist applications: any input either parses and evaluates or fails
with InvalidInput naming a field — never another exception; and the evaluation is monotone."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from battrace.domain.errors import InvalidInput
from battrace.domain.identities.uscc import make_uscc
from battrace.domain.rules import load_rulebooks
from battrace.domain.whitelist import evaluate, parse_application

RULES = load_rulebooks()
USCC = make_uscc("430100", "61234567")
DAY = date(2026, 1, 5)
KEYS = [
    "metal_recovery_li",
    "powder_impurity_al",
    "li2co3_energy_consumption",
    "source_verification",
    "x",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
indicator = st.one_of(
    scalars,
    st.fixed_dictionaries(
        {"value": scalars},
        optional={"unit": st.sampled_from(["%", "kgce/t", "", "t"]) | scalars, "extra": scalars},
    ),
)
applications = st.fixed_dictionaries(
    {},
    optional={
        "uscc": st.just(USCC) | scalars,
        "kind": st.sampled_from(["recycling", "cascade_use"]) | scalars,
        "edition": st.sampled_from(["2024", "2019", 2024, "20x4"]) | scalars,
        "capacity_t": scalars,
        "indicators": st.dictionaries(
            st.sampled_from(KEYS) | st.text(max_size=8), indicator, max_size=5
        )
        | scalars,
        "note": scalars,
    },
)


@given(applications)
def test_any_input_is_accepted_or_named(data: dict[str, Any]) -> None:
    try:
        evaluate(parse_application(data), RULES, DAY)
    except InvalidInput as exc:
        assert exc.field


@given(
    st.decimals(min_value=0, max_value=100, places=3),
    st.decimals(min_value=0, max_value=100, places=3),
)
def test_a_higher_recovery_never_fails_where_a_lower_passes(a: Any, b: Any) -> None:
    low, high = sorted((a, b))

    def status(v: Any) -> str:
        app = parse_application(
            {"uscc": USCC, "kind": "recycling",
             "indicators": {"metal_recovery_li": {"value": str(v), "unit": "%"}}}
        )  # fmt: skip
        return next(
            i.status for i in evaluate(app, RULES, DAY).items if i.key == "metal_recovery_li"
        )

    if status(low) == "pass":
        assert status(high) == "pass"
