"""Model-enterprise ranking: a transparent weighted score from measured components (pure).

Components (each scored 0-1; the weights and scales are data, ``data/ranking.toml``, every one a
battrace assumption because no official scoring method is known):

* ``recovery`` — share of the CN 2024 standard-conditions checks met by the period's mass balance
  (recyclers only; not applicable to others, whose weights are then renormalised);
* ``timeliness`` — share of reports with a deadline that arrived in time;
* ``alerts`` — ``max(0, 1 - open alerts per 100 packs / zero_at)``;
* ``volume`` — packs recycled or re-coded, relative to the largest among those ranked.

A component without data scores 0 (no data, no credit) and says so in its note. The score is
``100 × Σ weight·score / Σ weight`` over the applicable components; ties rank by volume, then USCC.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from battrace.domain.errors import InvalidInput

__all__ = [
    "COMPONENTS",
    "Component",
    "Measured",
    "Ranked",
    "Weights",
    "default_weights",
    "rank",
]

COMPONENTS = ("recovery", "timeliness", "alerts", "volume")


@dataclass(frozen=True, slots=True)
class ComponentWeight:
    weight: float
    status: str
    note: str


@dataclass(frozen=True, slots=True)
class Weights:
    roles: tuple[str, ...]
    components: Mapping[str, ComponentWeight]
    alerts_zero_at: float

    @classmethod
    def from_toml(cls, text: str) -> Weights:
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput("ranking", f"not valid TOML: {exc}") from exc
        roles = doc.get("roles")
        if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
            raise InvalidInput("roles", "must be a non-empty list of role names")
        table = doc.get("component")
        if not isinstance(table, dict):
            raise InvalidInput("component", "missing table")
        components: dict[str, ComponentWeight] = {}
        for name in COMPONENTS:
            raw = table.get(name)
            if not isinstance(raw, dict):
                raise InvalidInput(f"component.{name}", "missing")
            weight = raw.get("weight")
            if (
                isinstance(weight, bool)
                or not isinstance(weight, int | float)
                or not math.isfinite(weight)
                or weight < 0
            ):
                raise InvalidInput(f"component.{name}.weight", "must be a number >= 0")
            if not isinstance(raw.get("note"), str) or not raw["note"].strip():
                raise InvalidInput(f"component.{name}.note", "say where the weight comes from")
            components[name] = ComponentWeight(
                float(weight), str(raw.get("status", "assumption")), raw["note"]
            )
        unknown = set(table) - set(COMPONENTS)
        if unknown:
            raise InvalidInput("component", f"unknown components {sorted(unknown)}")
        zero_at = table["alerts"].get("zero_at", 10.0)
        if isinstance(zero_at, bool) or not isinstance(zero_at, int | float) or zero_at <= 0:
            raise InvalidInput("component.alerts.zero_at", "must be a number > 0")
        if sum(c.weight for c in components.values()) <= 0:
            raise InvalidInput("component", "at least one weight must be > 0")
        return cls(tuple(roles), components, float(zero_at))

    def to_json(self) -> dict[str, Any]:
        return {
            "roles": list(self.roles),
            "components": {
                name: {"weight": c.weight, "status": c.status, "note": c.note}
                for name, c in self.components.items()
            },
            "alerts_zero_at": self.alerts_zero_at,
        }


@cache
def default_weights() -> Weights:
    text = resources.files(__package__).joinpath("data/ranking.toml").read_text(encoding="utf-8")
    return Weights.from_toml(text)


@dataclass(frozen=True, slots=True)
class Measured:
    """What was measured for one enterprise in the period."""

    enterprise: str
    recovery: float | None  # share of checks met, 0-1; None = no data
    recovery_applicable: bool
    timeliness: float | None  # 0-1; None = no report with a deadline
    open_alerts: int
    packs: int
    kg: float = 0.0


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    value: float | int | None
    score: float | None  # None = not applicable
    weight: float
    note: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "score": None if self.score is None else round(self.score, 4),
            "weight": self.weight,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Ranked:
    rank: int
    enterprise: str
    score: float
    components: tuple[Component, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "enterprise": self.enterprise,
            "score": round(self.score, 2),
            "components": [c.to_json() for c in self.components],
        }


def _unit(value: float | None) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or not 0 <= value <= 1:
        raise InvalidInput("value", f"{value!r} is not a share between 0 and 1")
    return value


def components(m: Measured, weights: Weights, max_packs: int) -> tuple[Component, ...]:
    w = weights.components
    recovery = _unit(m.recovery)
    timeliness = _unit(m.timeliness)
    if m.open_alerts < 0 or m.packs < 0:
        raise InvalidInput("measured", "counts must be >= 0")
    per_100 = m.open_alerts * 100.0 / max(m.packs, 1)
    out = [
        Component(
            "recovery",
            None if recovery is None else round(recovery, 4),
            (recovery or 0.0) if m.recovery_applicable else None,
            w["recovery"].weight,
            ("no data: scores 0" if recovery is None else "share of CN 2024 checks met")
            if m.recovery_applicable
            else "not applicable (not a recycler)",
        ),
        Component(
            "timeliness",
            None if timeliness is None else round(timeliness, 4),
            timeliness or 0.0,
            w["timeliness"].weight,
            "no report with a deadline: scores 0" if timeliness is None else "reports in time",
        ),
        Component(
            "alerts",
            m.open_alerts,
            max(0.0, 1.0 - per_100 / weights.alerts_zero_at),
            w["alerts"].weight,
            f"{per_100:.2f} open alerts per 100 packs",
        ),
        Component(
            "volume",
            m.packs,
            m.packs / max_packs if max_packs > 0 else 0.0,
            w["volume"].weight,
            f"packs recycled or re-coded ({m.kg:.1f} kg); relative to the largest",
        ),
    ]
    return tuple(out)


def score_of(parts: Sequence[Component]) -> float:
    applicable = [c for c in parts if c.score is not None]
    total = sum(c.weight for c in applicable)
    if total <= 0:
        return 0.0
    return 100.0 * sum(c.weight * (c.score or 0.0) for c in applicable) / total


def rank(measured: Sequence[Measured], weights: Weights | None = None) -> list[Ranked]:
    """Score and rank; equal scores rank by volume (more first), then by USCC."""
    weights = weights or default_weights()
    max_packs = max((m.packs for m in measured), default=0)
    scored = []
    for m in measured:
        parts = components(m, weights, max_packs)
        scored.append((score_of(parts), m, parts))
    scored.sort(key=lambda x: (-round(x[0], 9), -x[1].packs, x[1].enterprise))
    return [Ranked(n + 1, m.enterprise, score, parts) for n, (score, m, parts) in enumerate(scored)]
