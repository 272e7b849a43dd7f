"""GB/T 34014-2017 traction-battery codes: parse, validate, explain and generate.

Layout (domain reference china-regulation.md §1.3 and §1.5; three non-official sources agree, the
standard text itself was not available)::

    24 chars  MMM T B SS XXXXXXX Y M D NNNNNNN
    19 chars  MMM T B SS Y M D NNNNNNN R T        cascade-use (梯次利用) re-coding

M manufacturer, T product type (P pack, M module, C cell), B battery type, S specification,
X traceability, Y/M/D production date, N serial, R + T cascade-use suffix. There is no check
character, so a mistyped character is only caught when it leaves its field's character set.

Everything the reference marks UNCONFIRMED is a field of :class:`CodeRules` with a documented
default (see docs/identifiers.md). Codes are upper case: lower case is rejected, not folded, so
that one battery never gets two URIs in the ledger.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from battrace.domain.errors import IdentityError

_FIELD = "battery_code"
_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS = frozenset("0123456789")
_PRODUCT_KINDS = {"P": "pack", "M": "module", "C": "cell"}
_MONTH_NAMES = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_PARSE_CACHE_SIZE = 16384

#: Position-5 letters: (letter, chemistry, meaning). Only B and E are sourced; A C D F G are known
#: to exist (Catena-X regex, NIO test tool) but their meaning is UNCONFIRMED, so the chemistry is
#: "unknown" rather than the commonly repeated but unsourced guesses kept in the meaning text.
DEFAULT_BATTERY_TYPES: tuple[tuple[str, str, str], ...] = (
    ("A", "unknown", "UNCONFIRMED (often said to be nickel-metal hydride)"),
    ("B", "LFP", "lithium iron phosphate (磷酸铁锂)"),
    ("C", "unknown", "UNCONFIRMED (often said to be lithium manganese oxide)"),
    ("D", "unknown", "UNCONFIRMED (often said to be lithium cobalt oxide)"),
    ("E", "NCM", "ternary lithium (三元, NCM/NCA)"),
    ("F", "unknown", "UNCONFIRMED (often said to be super-capacitor)"),
    ("G", "unknown", "UNCONFIRMED (often said to be lithium titanate)"),
    ("Z", "other", "other (其他)"),
)


@dataclass(frozen=True, slots=True)
class CodeRules:
    """The configurable (UNCONFIRMED) parts of GB/T 34014; defaults per docs/identifiers.md.

    ``year_chars[i]`` denotes ``first_year + i``; ``day_chars[i]`` denotes day ``i + 1``. The
    ``unmapped_*`` characters are accepted (the Catena-X regex admits them) but have no agreed
    meaning, so a code using one parses with ``production_date=None``.
    """

    year_chars: str = "123456789ABCDEFGHJKLMNPRSTVWXY"
    first_year: int = 2011
    unmapped_year_chars: str = "IU"
    month_chars: str = "123456789ABC"
    day_chars: str = "123456789ABCDEFGHJKLMNPRSTVWXY0"
    unmapped_day_chars: str = "IU"
    battery_types: tuple[tuple[str, str, str], ...] = DEFAULT_BATTERY_TYPES
    serial_digits_only: bool = False
    cascade_marker: str = "R"
    cascade_suffix_types: str = "PMC"
    cascade_suffix_must_match: bool = False
    strict_dates: bool = True
    _compiled: _Compiled = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        _check_rules(self)
        object.__setattr__(self, "_compiled", _Compiled(self))

    def year_of(self, char: str) -> int | None:
        i = self.year_chars.find(char) if len(char) == 1 else -1
        return None if i < 0 else self.first_year + i

    def year_char(self, year: int) -> str:
        i = year - self.first_year
        if not 0 <= i < len(self.year_chars):
            last = self.first_year + len(self.year_chars) - 1
            raise IdentityError(
                "production_date",
                f"year {year} has no year character (table covers {self.first_year}-{last})",
            )
        return self.year_chars[i]


def _check_rules(r: CodeRules) -> None:
    """Reject inconsistent configuration early: it is a programming error, not bad input."""

    def chars(name: str, value: str, allowed: frozenset[str] = _ALNUM) -> None:
        if len(set(value)) != len(value) or not set(value) <= allowed:
            expected = "".join(sorted(allowed))
            raise ValueError(
                f"CodeRules.{name}: {value!r} must be distinct characters of {expected}"
            )

    for name in (
        "year_chars",
        "unmapped_year_chars",
        "month_chars",
        "day_chars",
        "unmapped_day_chars",
    ):
        chars(name, getattr(r, name))
    chars("cascade_suffix_types", r.cascade_suffix_types, frozenset("PMC"))
    chars("battery_types", "".join(t[0] for t in r.battery_types))
    both = set(r.year_chars) & set(r.unmapped_year_chars) or set(r.day_chars) & set(
        r.unmapped_day_chars
    )
    if both:
        raise ValueError("CodeRules: a character cannot be both mapped and unmapped")
    if len(r.month_chars) != 12 or not 1 <= len(r.day_chars) <= 31 or not r.year_chars:
        raise ValueError(
            "CodeRules: month_chars needs 12 characters, day_chars 1-31, year_chars 1+"
        )
    if len(r.cascade_marker) != 1 or r.cascade_marker not in _ALNUM or not r.cascade_suffix_types:
        raise ValueError("CodeRules: cascade_marker must be one character [A-Z0-9]")
    if any(len(t) != 3 or len(t[0]) != 1 for t in r.battery_types):
        raise ValueError("CodeRules.battery_types: entries are (letter, chemistry, meaning)")


def _cls(chars: str | frozenset[str]) -> str:
    return "[" + "".join(sorted(chars)) + "]"


class _Compiled:
    """Per-rules lookup tables, regexes and parse cache, built once when the rules are made."""

    def __init__(self, r: CodeRules) -> None:
        self.year = {c: r.first_year + i for i, c in enumerate(r.year_chars)}
        self.month = {c: i + 1 for i, c in enumerate(r.month_chars)}
        self.day = {c: i + 1 for i, c in enumerate(r.day_chars)}
        self.year_ok = frozenset(r.year_chars + r.unmapped_year_chars)
        self.day_ok = frozenset(r.day_chars + r.unmapped_day_chars)
        self.types = {t[0]: (t[1], t[2]) for t in r.battery_types}
        self.serial_ok = _DIGITS if r.serial_digits_only else _ALNUM
        date_re = _cls(self.year_ok) + _cls(r.month_chars) + _cls(self.day_ok)
        head = "[A-Z0-9]{3}[PMC]" + _cls(frozenset(self.types)) + "[A-Z0-9]{2}"
        serial = ("[0-9]" if r.serial_digits_only else "[A-Z0-9]") + "{7}"
        self.full = re.compile(head + "[A-Z0-9]{7}" + date_re + serial).fullmatch
        suffix = re.escape(r.cascade_marker) + _cls(r.cascade_suffix_types)
        self.cascade = re.compile(head + date_re + serial + suffix).fullmatch
        rules = r

        @lru_cache(maxsize=_PARSE_CACHE_SIZE)
        def parse(code: str) -> BatteryCode:
            return _parse(code, rules, self)

        self.parse: Callable[[str], BatteryCode] = parse


DEFAULT_RULES = CodeRules()


@dataclass(frozen=True, slots=True)
class BatteryCode:
    """A parsed GB/T 34014 code. ``code`` is the normalised text (surrounding blanks removed)."""

    code: str
    is_cascade: bool
    manufacturer: str
    product_type: str  # 'P' | 'M' | 'C'
    product_kind: str  # 'pack' | 'module' | 'cell'
    battery_type: str
    chemistry: str  # 'LFP', 'NCM', 'other' or 'unknown' under the default rules
    specification: str
    traceability: str | None  # None for a cascade-use code
    date_code: str  # the three Y, M, D characters
    production_date: date | None  # None when the year or day character is not mapped by the rules
    serial: str
    cascade_suffix: str | None  # e.g. "RP" for a cascade-use code, else None
    rules: CodeRules = field(default=DEFAULT_RULES, repr=False, compare=False)

    def explain(self) -> list[tuple[str, str, str, str]]:
        """Rows of (positions, field, value, meaning) in code order, for ``battrace code CODE``."""
        r = self.rules
        year_char, month_char, day_char = self.date_code[0], self.date_code[1], self.date_code[2]
        year = r.year_of(year_char)
        month = r.month_chars.index(month_char) + 1
        day_i = r.day_chars.find(day_char)
        d0 = 8 if self.is_cascade else 15  # position of the year character
        s0 = d0 + 3
        rows = [
            (
                "1-3",
                "manufacturer",
                self.manufacturer,
                "manufacturer code (allocated centrally, registered)",
            ),
            ("4", "product type", self.product_type, self.product_kind),
            ("5", "battery type", self.battery_type, _type_meaning(self.battery_type, r)),
            (
                "6-7",
                "specification",
                self.specification,
                "specification code (manufacturer-defined, registered)",
            ),
        ]
        if self.traceability is not None:
            rows.append(
                (
                    "8-14",
                    "traceability",
                    self.traceability,
                    "traceability information code (registered)",
                )
            )
        rows += [
            (
                str(d0),
                "production year",
                year_char,
                str(year) if year else "not mapped by the year table",
            ),
            (
                str(d0 + 1),
                "production month",
                month_char,
                f"{month:02d} ({_MONTH_NAMES[month - 1]})",
            ),
            (
                str(d0 + 2),
                "production day",
                day_char,
                f"{day_i + 1:02d}" if day_i >= 0 else "not mapped by the day table",
            ),
            (f"{s0}-{s0 + 6}", "serial", self.serial, "serial number within the production day"),
        ]
        if self.cascade_suffix is not None:
            marker, kind = self.cascade_suffix[0], self.cascade_suffix[1]
            rows += [
                (
                    str(s0 + 7),
                    "cascade-use marker",
                    marker,
                    "cascade-use (梯次利用) code; meaning UNCONFIRMED",
                ),
                (
                    str(s0 + 8),
                    "cascade product type",
                    kind,
                    f"{_PRODUCT_KINDS[kind]}; meaning UNCONFIRMED",
                ),
            ]
        if self.production_date is not None:
            rows.append(
                (
                    f"{d0}-{d0 + 2}",
                    "production date",
                    self.date_code,
                    self.production_date.isoformat(),
                )
            )
        return rows


def _type_meaning(letter: str, r: CodeRules) -> str:
    for t in r.battery_types:
        if t[0] == letter:
            return t[2]
    return "unknown"  # unreachable for a parsed code


def parse_battery_code(code: str, rules: CodeRules = DEFAULT_RULES) -> BatteryCode:
    """Parse a 24-character code or a 19-character cascade-use code.

    Surrounding whitespace is removed; anything else that does not fit raises
    :class:`IdentityError` naming the field, the 1-based position and what was expected.
    """
    if not isinstance(code, str):
        raise IdentityError(_FIELD, "must be a string")
    return rules._compiled.parse(code)


def is_battery_code(code: object, rules: CodeRules = DEFAULT_RULES) -> bool:
    if not isinstance(code, str):
        return False
    try:
        rules._compiled.parse(code)
    except IdentityError:
        return False
    return True


def _check(code: str, r: CodeRules, c: _Compiled) -> tuple[int, date | None]:
    """Validate a stripped code; return (index of the year character, production date)."""
    if c.full(code):
        at = 14
    elif c.cascade(code):
        at = 7
        if r.cascade_suffix_must_match and code[18] != code[3]:
            raise IdentityError(
                _FIELD,
                f"cascade product type {code[18]!r} must repeat the product type {code[3]!r}",
                19,
            )
    else:
        raise _diagnose(code, r, c)
    year, day = c.year.get(code[at]), c.day.get(code[at + 2])
    if year is None or day is None:
        return at, None
    month = c.month[code[at + 1]]
    try:
        return at, date(year, month, day)
    except ValueError:
        if r.strict_dates:
            raise IdentityError(
                _FIELD, f"production day {day} does not exist in {year}-{month:02d}", at + 3
            ) from None
    return at, None


def _parse(raw: str, r: CodeRules, c: _Compiled) -> BatteryCode:
    code = raw.strip()
    at, made = _check(code, r, c)
    cascade = at == 7
    return BatteryCode(
        code,
        cascade,
        code[:3],
        code[3],
        _PRODUCT_KINDS[code[3]],
        code[4],
        c.types[code[4]][0],
        code[5:7],
        None if cascade else code[7:14],
        code[at : at + 3],
        made,
        code[at + 3 : at + 10],
        code[17:] if cascade else None,
        r,
    )


def validate_battery_code(code: str, rules: CodeRules = DEFAULT_RULES) -> str:
    """Check a code without building a :class:`BatteryCode` (the capture hot path).

    ``code`` must already be stripped; returns it unchanged or raises :class:`IdentityError`.
    """
    _check(code, rules, rules._compiled)
    return code


def _expect(chars: frozenset[str] | str) -> str:
    """Compact description of a character set, e.g. '1-9, A-H, J-N, P'."""
    order = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    present = [ch in chars for ch in order]
    runs: list[str] = []
    i = 0
    while i < len(order):
        if not present[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(order) and present[j + 1] and order[j + 1] != "A":
            j += 1
        if j - i >= 2:
            runs.append(f"{order[i]}-{order[j]}")
        else:
            runs.extend(order[i : j + 1])
        i = j + 1
    return ", ".join(runs)


def _diagnose(code: str, r: CodeRules, c: _Compiled) -> IdentityError:
    """Explain why ``code`` matched neither form (slow path, only on failure)."""
    if not code:
        return IdentityError(_FIELD, "is empty")
    cascade = len(code) == 19
    if len(code) not in (19, 24):
        return IdentityError(
            _FIELD, f"must be 24 characters (19 for a cascade-use code), got {len(code)}"
        )
    serial_what = "digit" if r.serial_digits_only else "character [A-Z0-9]"
    spec: list[tuple[str, frozenset[str], str]] = [
        ("manufacturer code", _ALNUM, "[A-Z0-9]"),
        ("manufacturer code", _ALNUM, "[A-Z0-9]"),
        ("manufacturer code", _ALNUM, "[A-Z0-9]"),
        ("product type", frozenset("PMC"), "P (pack), M (module) or C (cell)"),
        ("battery type", frozenset(c.types), _expect(frozenset(c.types))),
        ("specification code", _ALNUM, "[A-Z0-9]"),
        ("specification code", _ALNUM, "[A-Z0-9]"),
    ]
    if not cascade:
        spec += [("traceability code", _ALNUM, "[A-Z0-9]")] * 7
    spec += [
        ("production year", c.year_ok, _expect(c.year_ok)),
        ("production month", frozenset(r.month_chars), _expect(r.month_chars)),
        ("production day", c.day_ok, _expect(c.day_ok)),
    ]
    spec += [("serial", c.serial_ok, serial_what)] * 7
    if cascade:
        spec += [
            ("cascade-use marker", frozenset(r.cascade_marker), repr(r.cascade_marker)),
            (
                "cascade product type",
                frozenset(r.cascade_suffix_types),
                _expect(r.cascade_suffix_types),
            ),
        ]
    for pos, (ch, (name, allowed, what)) in enumerate(zip(code, spec, strict=True), start=1):
        if ch in allowed:
            continue
        if ch.isspace():
            why = f"{name}: whitespace inside the code"
        elif ch != ch.upper() and ch.upper() in allowed:
            why = f"{name}: lower-case {ch!r}; GB/T 34014 codes are upper case ({ch.upper()!r})"
        elif cascade and pos == 18:
            why = (
                f"{name}: a 19-character code is a cascade-use code and must end with "
                f"{r.cascade_marker!r} + product type; got {ch!r}"
            )
        else:
            why = f"{name}: {ch!r} is not allowed; expected {what}"
        return IdentityError(_FIELD, why, pos)
    return IdentityError(_FIELD, "does not match GB/T 34014")  # unreachable: regex mirrors spec


def _product_letter(product_type: str) -> str:
    for letter, kind in _PRODUCT_KINDS.items():
        if product_type in (letter, kind):
            return letter
    raise IdentityError("product_type", f"{product_type!r} is not P/M/C or pack/module/cell")


def _battery_letter(battery_type: str, r: CodeRules) -> str:
    if len(battery_type) == 1:
        return battery_type
    matches = [t[0] for t in r.battery_types if t[1] == battery_type and t[1] not in ("unknown",)]
    if len(matches) != 1:
        raise IdentityError("battery_type", f"{battery_type!r} names no single battery-type letter")
    return matches[0]


def _part(name: str, value: str, length: int) -> str:
    if not isinstance(value, str) or len(value) != length:
        raise IdentityError(name, f"must be {length} characters, got {value!r}")
    return value


def _serial(serial: str | int) -> str:
    if isinstance(serial, bool):
        raise IdentityError("serial", "must be a string or an int")
    if isinstance(serial, int):
        if not 0 <= serial <= 9_999_999:
            raise IdentityError("serial", f"{serial} does not fit in 7 digits")
        return f"{serial:07d}"
    return _part("serial", serial, 7)


def _date_chars(production_date: date, r: CodeRules) -> str:
    if not isinstance(production_date, date):
        raise IdentityError("production_date", "must be a datetime.date")
    if production_date.day > len(r.day_chars):
        raise IdentityError("production_date", f"day {production_date.day} has no day character")
    return (
        r.year_char(production_date.year)
        + r.month_chars[production_date.month - 1]
        + r.day_chars[production_date.day - 1]
    )


def format_battery_code(
    manufacturer: str,
    product_type: str,
    battery_type: str,
    specification: str,
    traceability: str,
    production_date: date,
    serial: str | int,
    rules: CodeRules = DEFAULT_RULES,
) -> str:
    """Build a 24-character code; the result is parsed before it is returned.

    ``product_type`` is P/M/C or pack/module/cell; ``battery_type`` a letter or a chemistry that
    names exactly one letter (e.g. 'LFP'); an int ``serial`` is zero-padded to 7 digits.
    """
    code = (
        _part("manufacturer", manufacturer, 3)
        + _product_letter(product_type)
        + _battery_letter(battery_type, rules)
        + _part("specification", specification, 2)
        + _part("traceability", traceability, 7)
        + _date_chars(production_date, rules)
        + _serial(serial)
    )
    return parse_battery_code(code, rules).code


def format_cascade_code(
    manufacturer: str,
    product_type: str,
    battery_type: str,
    specification: str,
    production_date: date,
    serial: str | int,
    suffix_type: str | None = None,
    rules: CodeRules = DEFAULT_RULES,
) -> str:
    """Build a 19-character cascade-use code; ``suffix_type`` defaults to ``product_type``."""
    letter = _product_letter(product_type)
    code = (
        _part("manufacturer", manufacturer, 3)
        + letter
        + _battery_letter(battery_type, rules)
        + _part("specification", specification, 2)
        + _date_chars(production_date, rules)
        + _serial(serial)
        + rules.cascade_marker
        + (letter if suffix_type is None else _product_letter(suffix_type))
    )
    return parse_battery_code(code, rules).code
