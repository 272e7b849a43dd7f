"""A whitelist application as validated data: who applies, for what, under which edition, with
which indicator values.

Input (JSON or TOML, from the CLI or the HTTP interface)::

    {"uscc": "914301006123456756", "kind": "recycling", "edition": "2024",
     "capacity_t": 20000,
     "indicators": {"metal_recovery_li": {"value": 91.5, "unit": "%"},
                    "electrode_powder_recovery": {"value": 98.2, "unit": "%"},
                    "source_verification": {"value": true}},
     "note": "…"}

``edition`` may be left out (the edition in force is used). Which indicator keys exist, and their
units, depends on the edition and kind (:mod:`.evaluation` checks them against the rulebook).
Every error names the field and the reason.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from battrace.domain.errors import InvalidInput
from battrace.domain.identities.uscc import validate_uscc

CASCADE_USE: Final = "cascade_use"
RECYCLING: Final = "recycling"
KINDS: Final = (CASCADE_USE, RECYCLING)
FIELDS: Final = ("uscc", "kind", "edition", "capacity_t", "indicators", "note")
MAX_NOTE: Final = 4000
MAX_INDICATORS: Final = 100
MAX_CAPACITY_T: Final = 1e9
_EDITION = re.compile(r"\d{4}")
_KEY = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")


@dataclass(frozen=True, slots=True)
class Indicator:
    """One indicator value: a number with its unit, or a yes/no for a qualitative condition."""

    key: str
    value: Decimal | bool
    unit: str | None = None

    def to_dict(self) -> dict[str, Any]:
        if isinstance(self.value, bool):
            return {"value": self.value}
        number = (
            int(self.value) if self.value == self.value.to_integral_value() else float(self.value)
        )
        return {"value": number, "unit": self.unit}


@dataclass(frozen=True, slots=True)
class Application:
    uscc: str
    kind: str
    edition: str | None  # None: the edition in force when it is evaluated
    indicators: tuple[Indicator, ...] = ()
    capacity_t: float | None = None  # treatment capacity, t/yr (recycling)
    note: str = ""

    def indicator(self, key: str) -> Indicator | None:
        return next((i for i in self.indicators if i.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "uscc": self.uscc,
            "kind": self.kind,
            "edition": self.edition,
            "capacity_t": self.capacity_t,
            "indicators": {i.key: i.to_dict() for i in self.indicators},
            "note": self.note,
        }


def _number(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput(field, "must be a number")
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        raise InvalidInput(field, f"{str(value)[:40]!r} is not a number") from None
    if not number.is_finite():
        raise InvalidInput(field, "must be a finite number")
    if abs(number) >= Decimal(10) ** 12:
        raise InvalidInput(field, "is out of range")
    return number


def _indicator(key: Any, raw: Any) -> Indicator:
    if not isinstance(key, str) or not _KEY.fullmatch(key) or len(key) > 100:
        raise InvalidInput(f"indicators.{str(key)[:100]}", "is not an indicator name (snake_case)")
    field = f"indicators.{key}"
    if isinstance(raw, bool):
        return Indicator(key, raw)
    if not isinstance(raw, Mapping):
        raise InvalidInput(field, 'must be {"value": …, "unit": …} (or true/false)')
    extra = sorted(str(k) for k in raw if k not in ("value", "unit"))
    if extra:
        raise InvalidInput(f"{field}.{extra[0]}", "is not a field (value, unit)")
    if "value" not in raw:
        raise InvalidInput(f"{field}.value", "is required")
    value = raw["value"]
    if isinstance(value, bool):
        if raw.get("unit") is not None:
            raise InvalidInput(f"{field}.unit", "a yes/no indicator has no unit")
        return Indicator(key, value)
    number = _number(value, f"{field}.value")
    unit = raw.get("unit")
    if not isinstance(unit, str) or not unit.strip() or len(unit) > 20:
        raise InvalidInput(f"{field}.unit", "is required with a number (e.g. % or kgce/t)")
    return Indicator(key, number, unit.strip())


def parse_application(data: Any) -> Application:
    """Validate the structure of an application (not yet its indicators against an edition)."""
    if not isinstance(data, Mapping):
        raise InvalidInput("application", "must be an object")
    extra = sorted(str(k) for k in data if k not in FIELDS)
    if extra:
        raise InvalidInput(extra[0], f"is not a field of an application ({', '.join(FIELDS)})")
    uscc = data.get("uscc")
    if not isinstance(uscc, str):
        raise InvalidInput("uscc", "is required (the applicant's USCC)")
    uscc = validate_uscc(uscc.strip().upper())
    kind = data.get("kind")
    if kind not in KINDS:
        raise InvalidInput("kind", f"must be one of: {', '.join(KINDS)}")
    edition = data.get("edition")
    if edition is not None:
        if isinstance(edition, int) and not isinstance(edition, bool):
            edition = str(edition)
        if not isinstance(edition, str) or not _EDITION.fullmatch(edition.strip()):
            raise InvalidInput("edition", "must be the edition year, e.g. 2024")
        edition = edition.strip()
    capacity = data.get("capacity_t")
    cap: float | None = None
    if capacity is not None:
        if isinstance(capacity, bool) or not isinstance(capacity, int | float):
            raise InvalidInput("capacity_t", "must be a number (t/yr)")
        if not math.isfinite(capacity) or not 0 < capacity < MAX_CAPACITY_T:
            raise InvalidInput("capacity_t", "must be more than 0 and less than 1e9 (t/yr)")
        cap = float(capacity)
    raw = data.get("indicators")
    raw = {} if raw is None else raw
    if not isinstance(raw, Mapping):
        raise InvalidInput("indicators", 'must be an object {"name": {"value": …, "unit": …}}')
    if len(raw) > MAX_INDICATORS:
        raise InvalidInput("indicators", f"at most {MAX_INDICATORS}")
    indicators = tuple(_indicator(k, v) for k, v in raw.items())
    note = data.get("note") or ""
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise InvalidInput("note", f"must be text of at most {MAX_NOTE} characters")
    return Application(uscc, str(kind), edition, indicators, cap, note.strip())
