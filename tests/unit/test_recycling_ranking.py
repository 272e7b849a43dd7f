"""Model-enterprise scoring (domain.recycling.ranking): every component by hand, weights as data."""

from __future__ import annotations

from dataclasses import replace

import pytest

from battrace.domain.errors import InvalidInput
from battrace.domain.recycling.ranking import Measured, Weights, default_weights, rank


def m(uscc: str, **kw: object) -> Measured:
    base: dict[str, object] = {
        "recovery": 1.0,
        "recovery_applicable": True,
        "timeliness": 1.0,
        "open_alerts": 0,
        "packs": 100,
    }
    base.update(kw)
    return Measured(uscc, **base)  # type: ignore[arg-type]


def test_default_weights_are_documented_assumptions() -> None:
    w = default_weights()
    assert w.roles == ("recycler", "cascade_user")
    assert {n: c.weight for n, c in w.components.items()} == {
        "recovery": 0.35,
        "timeliness": 0.25,
        "alerts": 0.20,
        "volume": 0.20,
    }
    assert all(c.status == "assumption" and c.note for c in w.components.values())
    assert w.alerts_zero_at == 10.0


def test_score_by_hand() -> None:
    a = m("A", recovery=0.75, timeliness=0.9, open_alerts=5, packs=100)
    b = m("B", recovery=None, timeliness=None, open_alerts=0, packs=50)
    c = m("C", recovery_applicable=False, recovery=None, timeliness=1.0, packs=0)
    ranked = {r.enterprise: r for r in rank([a, b, c])}
    # A: alerts 5 per 100 packs -> 1 - 5/10 = 0.5; volume 100/100 = 1.
    # (0.35*0.75 + 0.25*0.9 + 0.2*0.5 + 0.2*1) / 1.0 * 100 = 78.75
    assert ranked["A"].score == pytest.approx(78.75)
    # B: no recovery data and no reports score 0; alerts 1; volume 0.5 -> (0.2 + 0.1) * 100 = 30.
    assert ranked["B"].score == pytest.approx(30.0)
    # C: recovery not applicable: (0.25*1 + 0.2*1 + 0.2*0) / 0.65 * 100
    assert ranked["C"].score == pytest.approx(45 / 0.65)
    assert [r.enterprise for r in rank([a, b, c])] == ["A", "C", "B"]
    parts = {p.name: p for p in ranked["C"].components}
    assert parts["recovery"].score is None and "not applicable" in parts["recovery"].note
    assert ranked["B"].to_json()["components"][0] == {
        "name": "recovery",
        "value": None,
        "score": 0.0,
        "weight": 0.35,
        "note": "no data: scores 0",
    }


def test_alerts_component_floors_at_zero_and_ties_rank_by_volume() -> None:
    many = m("X", open_alerts=50, packs=10)
    parts = {p.name: p for p in rank([many])[0].components}
    assert parts["alerts"].score == 0.0 and parts["alerts"].value == 50
    same = [m("Z", packs=10), m("Y", packs=10)]
    assert [r.enterprise for r in rank(same)] == ["Y", "Z"]  # equal: by USCC
    assert [r.rank for r in rank(same)] == [1, 2]


def test_weights_from_toml_are_validated() -> None:
    good = """
roles = ["recycler"]
[component.recovery]
weight = 1
note = "n"
[component.timeliness]
weight = 0
note = "n"
[component.alerts]
weight = 0
note = "n"
zero_at = 5
[component.volume]
weight = 0
note = "n"
"""
    w = Weights.from_toml(good)
    assert rank([m("A", recovery=0.5)], w)[0].score == pytest.approx(50.0)
    with pytest.raises(InvalidInput, match="weight"):
        Weights.from_toml(good.replace("weight = 1", "weight = -1"))
    with pytest.raises(InvalidInput, match="note"):
        Weights.from_toml(
            good.replace('note = "n"\n[component.timeliness]', "[component.timeliness]")
        )
    with pytest.raises(InvalidInput, match="component"):
        Weights.from_toml(good.replace("weight = 1", "weight = 0"))
    with pytest.raises(InvalidInput, match="roles"):
        Weights.from_toml(good.replace('roles = ["recycler"]', "roles = []"))
    with pytest.raises(InvalidInput):
        rank([replace(m("A"), timeliness=1.5)])
