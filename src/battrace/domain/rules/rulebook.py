"""Regulatory rules as versioned data: the model, the TOML loader and its validation.

A rulebook is a TOML file (``rulebooks/*.toml`` in this package, or a local file supplied by an
operator). Deadlines and thresholds live in those files, never in code, because regulators change
them and because several are UNCONFIRMED (china-regulation.md §7): an operator who verifies a
number supersedes the packaged rule by id with a higher ``version`` in a local file, and nothing
has to be redeployed.

Semantics (documented for operators in ``docs/rules.md``):

* A rule id is stable; each id has one or more versions. A version is in force from ``valid_from``
  to ``valid_to`` inclusive (no ``valid_to`` = open-ended). When several versions of one id are in
  force on a date, the highest ``version`` governs, so a local file can override a packaged rule
  from a date on without editing the packaged file.
* A version may list other rule ids in ``supersedes``: while it is in force, those rules are not.
* A number that is not known is written ``"UNCONFIRMED"`` (TOML has no null) and is allowed only
  in a rule whose ``confidence`` is ``UNCONFIRMED``: an unknown value is never silently zero.
* Every error names the file, the rule id and the field (:class:`RulebookError`).
"""

from __future__ import annotations

import builtins
import difflib
import math
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, Final, TypeVar

from battrace.domain.errors import InvalidInput

SCHEMA_VERSION: Final = 1
UNCONFIRMED: Final = "UNCONFIRMED"
PACKAGED_ORIGIN_PREFIX: Final = "battrace:rulebooks/"


class Actor(StrEnum):
    """Enterprise roles that carry duties (the same strings as the enterprise registry's roles)."""

    BATTERY_MAKER = "battery_maker"
    AUTOMAKER = "automaker"
    IMPORTER = "importer"
    DEALER = "dealer"
    REPAIRER = "repairer"
    SWAP_OPERATOR = "swap_operator"
    DISMANTLER = "dismantler"
    RECYCLING_OUTLET = "recycling_outlet"
    CASCADE_USER = "cascade_user"
    RECYCLER = "recycler"


class Trigger(StrEnum):
    """The business step a rule binds.

    CBV 2.0 bizStep words where CBV has one; battrace's own steps otherwise (certificate of
    conformity, customs clearance, vehicle sale, battery swap, recycling), because CBV has no word
    for them (epcis.md §1.4). Closed set: a typo in a rulebook must fail loudly, not make a rule
    that never matches.
    """

    CERTIFICATE_OF_CONFORMITY = "certificate_of_conformity"
    CUSTOMS_CLEARANCE = "customs_clearance"
    VEHICLE_SELLING = "vehicle_selling"
    COMMISSIONING = "commissioning"
    INSTALLING = "installing"
    REPAIRING = "repairing"
    REPLACING = "replacing"
    SWAPPING = "swapping"
    REMOVING = "removing"
    INSPECTING = "inspecting"
    RECEIVING = "receiving"
    SHIPPING = "shipping"
    STORING = "storing"
    DECOMMISSIONING = "decommissioning"
    RECYCLING = "recycling"


class RuleKind(StrEnum):
    REPORTING_DEADLINE = "reporting_deadline"
    STORAGE_LIMIT = "storage_limit"
    OUTLET_NETWORK = "outlet_network"
    WHITELIST_THRESHOLD = "whitelist_threshold"
    EU_TARGET = "eu_target"
    RECYCLED_CONTENT = "recycled_content"
    GRADING_THRESHOLD = "grading_threshold"
    CODE_REGISTRATION = "code_registration"
    TRANSFER_RESTRICTION = "transfer_restriction"
    SCRAPPING_COMPLETENESS = "scrapping_completeness"
    SOURCE_VERIFICATION = "source_verification"
    COLLECTION_PERIOD = "collection_period"
    FOLLOW_UP_PERIOD = "follow_up_period"
    MASS_BALANCE = "mass_balance"


class Confidence(StrEnum):
    """As in the domain reference: official text, secondary source, or not verified."""

    OFFICIAL = "official"
    SECONDARY = "secondary"
    UNCONFIRMED = "UNCONFIRMED"


class AlertKind(StrEnum):
    LATE_REPORT = "late-report"
    MISSING_FOLLOW_UP = "missing-follow-up"
    UNQUALIFIED_TRANSFER = "unqualified-transfer"
    OUTLET_OVER_CAPACITY = "outlet-over-capacity"
    BATTERY_MISSING_AT_SCRAPPING = "battery-missing-at-scrapping"
    RETIRED_NOT_COLLECTED = "retired-not-collected"
    UNREPORTED_SOURCE = "unreported-source"
    CODE_NOT_REGISTERED = "code-not-registered"
    MASS_BALANCE = "mass-balance"


class Comparator(StrEnum):
    """The requirement is met when ``measured <comparator> value``."""

    GE = ">="
    GT = ">"
    LE = "<="
    LT = "<"


class Unit(StrEnum):
    PERCENT = "%"
    TONNE = "t"
    SQUARE_METRE = "m2"
    KGCE_PER_TONNE = "kgce/t"
    VEHICLES = "vehicles"


class DayBasis(StrEnum):
    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"


_THRESHOLD_KINDS: Final = frozenset(
    {
        RuleKind.STORAGE_LIMIT,
        RuleKind.OUTLET_NETWORK,
        RuleKind.WHITELIST_THRESHOLD,
        RuleKind.EU_TARGET,
        RuleKind.RECYCLED_CONTENT,
        RuleKind.GRADING_THRESHOLD,
        RuleKind.MASS_BALANCE,
    }
)
_THRESHOLD_REQUIRED: Final = frozenset({"quantity", "comparator", "value", "unit"})
_THRESHOLD_OPTIONAL: Final = frozenset({"material", "scope"})

# (required, optional) parameter keys per kind.
_KIND_PARAMETERS: Final[Mapping[RuleKind, tuple[frozenset[str], frozenset[str]]]] = {
    RuleKind.REPORTING_DEADLINE: (frozenset({"deadline_working_days"}), frozenset()),
    **{k: (_THRESHOLD_REQUIRED, _THRESHOLD_OPTIONAL) for k in _THRESHOLD_KINDS},
    RuleKind.TRANSFER_RESTRICTION: (frozenset({"allowed_recipients"}), frozenset()),
    RuleKind.COLLECTION_PERIOD: (frozenset({"period_days", "day_basis"}), frozenset()),
    RuleKind.FOLLOW_UP_PERIOD: (
        frozenset({"period_days", "day_basis", "follow_up_trigger"}),
        frozenset(),
    ),
    RuleKind.CODE_REGISTRATION: (frozenset(), frozenset()),
    RuleKind.SCRAPPING_COMPLETENESS: (frozenset(), frozenset()),
    RuleKind.SOURCE_VERIFICATION: (frozenset(), frozenset()),
}

# Which alert each kind may raise: a rule that pairs, say, a whitelist threshold with late-report
# is a data mistake, and catching it at load time is cheaper than a wrong alert later.
_KIND_ALERTS: Final[Mapping[RuleKind, frozenset[AlertKind]]] = {
    RuleKind.REPORTING_DEADLINE: frozenset({AlertKind.LATE_REPORT, AlertKind.MISSING_FOLLOW_UP}),
    RuleKind.STORAGE_LIMIT: frozenset({AlertKind.OUTLET_OVER_CAPACITY}),
    RuleKind.TRANSFER_RESTRICTION: frozenset({AlertKind.UNQUALIFIED_TRANSFER}),
    RuleKind.SCRAPPING_COMPLETENESS: frozenset({AlertKind.BATTERY_MISSING_AT_SCRAPPING}),
    RuleKind.COLLECTION_PERIOD: frozenset({AlertKind.RETIRED_NOT_COLLECTED}),
    RuleKind.FOLLOW_UP_PERIOD: frozenset({AlertKind.MISSING_FOLLOW_UP}),
    RuleKind.SOURCE_VERIFICATION: frozenset({AlertKind.UNREPORTED_SOURCE}),
    RuleKind.CODE_REGISTRATION: frozenset({AlertKind.CODE_NOT_REGISTERED}),
    RuleKind.MASS_BALANCE: frozenset({AlertKind.MASS_BALANCE}),
}

_RULE_KEYS_REQUIRED: Final = frozenset(
    {
        "id",
        "version",
        "title_zh",
        "title_en",
        "kind",
        "actor",
        "trigger",
        "valid_from",
        "confidence",
        "source",
    }
)
_RULE_KEYS_OPTIONAL: Final = frozenset(
    {"valid_to", "alert_kind", "parameters", "supersedes", "unconfirmed_fields", "notes"}
)
_DOCUMENT_KEYS_REQUIRED: Final = frozenset({"title_zh", "title_en"})
_DOCUMENT_KEYS_OPTIONAL: Final = frozenset({"number", "number_en", "issued", "urls"})
_SOURCE_KEYS_REQUIRED: Final = frozenset({"document"})
_SOURCE_KEYS_OPTIONAL: Final = frozenset({"article", "evidence"})
_FILE_KEYS: Final = frozenset({"rulebook", "documents", "rule"})
_HEADER_KEYS_REQUIRED: Final = frozenset({"schema", "id", "title_zh", "title_en"})
_HEADER_KEYS_OPTIONAL: Final = frozenset({"notes"})

_ID_RE: Final = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_KEY_RE: Final = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
_ID_MAX: Final = 80


class RulebookError(InvalidInput):
    """A rulebook file that cannot be accepted; names the file, the rule id and the field."""

    def __init__(self, path: str, rule_id: str | None, field: str, reason: str) -> None:
        where = path
        if rule_id is not None:
            where += f": rule {rule_id!r}"
        super().__init__(f"{where}: {field}" if field else where, reason)
        self.path = path
        self.rule_id = rule_id
        self.rule_field = field


class UnknownRule(LookupError):
    """No rule with this id was loaded; ``suggestions`` are close ids, for a helpful message."""

    def __init__(self, rule_id: str, suggestions: Sequence[str] = ()) -> None:
        hint = f" (did you mean {', '.join(suggestions)}?)" if suggestions else ""
        super().__init__(f"unknown rule id {rule_id!r}{hint}")
        self.rule_id = rule_id
        self.suggestions = tuple(suggestions)


@dataclass(frozen=True, slots=True)
class Document:
    """A legal or normative document a rule cites."""

    key: str
    title_zh: str
    title_en: str
    number: str | None = None  # as issued, e.g. 工信部联节〔2018〕43号
    number_en: str | None = None  # e.g. MIIT Announcement 2018 No. 35
    issued: date | None = None
    urls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Source:
    document: Document
    article: str | None = None
    evidence: tuple[str, ...] = ()  # the pages the number was read from (domain reference)

    def label(self) -> str:
        doc = self.document.number_en or self.document.number or self.document.title_en
        return f"{doc}, {self.article}" if self.article else doc


def _fmt_decimal(value: Decimal) -> str:
    # normalize() drops trailing zeros ("98.0" -> "98"); "f" avoids "2.2E+3" for 2200.
    return format(value.normalize(), "f")


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


_COMPARATOR_SIGNS: Final = {
    Comparator.GE: "≥",
    Comparator.GT: ">",
    Comparator.LE: "≤",
    Comparator.LT: "<",
}


@dataclass(frozen=True, slots=True)
class Threshold:
    """``quantity [material] comparator value unit``; ``value`` is None when UNCONFIRMED."""

    quantity: str
    comparator: Comparator
    value: Decimal | None
    unit: Unit
    material: str | None = None
    scope: str | None = None

    def is_met(self, measured: Decimal | int | float | str) -> bool | None:
        """Whether ``measured`` meets the requirement; None when the threshold is not known.

        Decimal, not float, so that 1.5 % against a limit of 1.5 % compares exactly.
        """
        if self.value is None:
            return None
        m = measured if isinstance(measured, Decimal) else Decimal(str(measured))
        if self.comparator is Comparator.GE:
            return m >= self.value
        if self.comparator is Comparator.GT:
            return m > self.value
        if self.comparator is Comparator.LE:
            return m <= self.value
        return m < self.value

    def describe(self) -> str:
        what = self.quantity if self.material is None else f"{self.quantity} {self.material}"
        if self.scope is not None:
            what += f" ({self.scope})"
        value = UNCONFIRMED if self.value is None else _fmt_decimal(self.value)
        unit = "" if self.value is None else f" {self.unit}"
        return f"{what} {_COMPARATOR_SIGNS[self.comparator]} {value}{unit}"


@dataclass(frozen=True, slots=True)
class Period:
    """A waiting period; ``days`` and ``basis`` are None when UNCONFIRMED."""

    days: int | None
    basis: DayBasis | None


@dataclass(frozen=True, slots=True)
class Rule:
    """One version of one rule."""

    id: str
    version: int
    title_zh: str
    title_en: str
    kind: RuleKind
    actor: Actor
    trigger: Trigger
    source: Source
    valid_from: date
    valid_to: date | None
    confidence: Confidence
    alert_kind: AlertKind | None = None
    deadline_working_days: int | None = None
    threshold: Threshold | None = None
    allowed_recipients: tuple[Actor, ...] = ()
    period: Period | None = None
    follow_up_trigger: Trigger | None = None
    supersedes: tuple[str, ...] = ()
    unconfirmed_fields: tuple[str, ...] = ()
    notes: str = ""
    origin: str = ""  # the file this version came from

    def in_force_on(self, day: date) -> bool:
        """Date range only; supersession by another rule is the RuleSet's business."""
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    @property
    def packaged(self) -> bool:
        return self.origin.startswith(PACKAGED_ORIGIN_PREFIX)

    def unknown_parameters(self) -> tuple[str, ...]:
        """Parameter names whose value is UNCONFIRMED (written "UNCONFIRMED" in the rulebook)."""
        unknown: builtins.list[str] = []
        if self.kind is RuleKind.REPORTING_DEADLINE and self.deadline_working_days is None:
            unknown.append("deadline_working_days")
        if self.threshold is not None and self.threshold.value is None:
            unknown.append("value")
        if self.period is not None:
            if self.period.days is None:
                unknown.append("period_days")
            if self.period.basis is None:
                unknown.append("day_basis")
        return tuple(unknown)

    @property
    def known(self) -> bool:
        """True when every number the rule needs is known, so an engine may act on it."""
        return not self.unknown_parameters()

    def parameters(self) -> dict[str, Any]:
        """The parameters as written in a rulebook (JSON-ready; unknown values as "UNCONFIRMED")."""
        out: dict[str, Any] = {}
        if self.kind is RuleKind.REPORTING_DEADLINE:
            d = self.deadline_working_days
            out["deadline_working_days"] = UNCONFIRMED if d is None else d
        if self.threshold is not None:
            t = self.threshold
            out["quantity"] = t.quantity
            out["comparator"] = str(t.comparator)
            out["value"] = UNCONFIRMED if t.value is None else _json_number(t.value)
            out["unit"] = str(t.unit)
            if t.material is not None:
                out["material"] = t.material
            if t.scope is not None:
                out["scope"] = t.scope
        if self.kind is RuleKind.TRANSFER_RESTRICTION:
            out["allowed_recipients"] = [str(a) for a in self.allowed_recipients]
        if self.period is not None:
            p = self.period
            out["period_days"] = UNCONFIRMED if p.days is None else p.days
            out["day_basis"] = UNCONFIRMED if p.basis is None else str(p.basis)
        if self.follow_up_trigger is not None:
            out["follow_up_trigger"] = str(self.follow_up_trigger)
        return out

    def describe_parameters(self) -> str:
        """One line for tables and alert texts."""
        if self.kind is RuleKind.REPORTING_DEADLINE:
            d = self.deadline_working_days
            return f"{UNCONFIRMED} working days" if d is None else f"{d} working days"
        if self.threshold is not None:
            return self.threshold.describe()
        if self.kind is RuleKind.TRANSFER_RESTRICTION:
            return "to: " + ", ".join(self.allowed_recipients)
        if self.period is not None:
            days = UNCONFIRMED if self.period.days is None else str(self.period.days)
            basis = "days" if self.period.basis is None else self.period.basis.replace("_", " ")
            text = f"{days} {basis}"
            if self.follow_up_trigger is not None:
                text += f" until {self.follow_up_trigger}"
            return text
        return "—"

    def to_dict(self) -> dict[str, Any]:
        doc = self.source.document
        return {
            "id": self.id,
            "version": self.version,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "kind": str(self.kind),
            "actor": str(self.actor),
            "trigger": str(self.trigger),
            "alert_kind": None if self.alert_kind is None else str(self.alert_kind),
            "confidence": str(self.confidence),
            "valid_from": self.valid_from.isoformat(),
            "valid_to": None if self.valid_to is None else self.valid_to.isoformat(),
            "parameters": self.parameters(),
            "source": {
                "document_zh": doc.title_zh,
                "document_en": doc.title_en,
                "number": doc.number,
                "number_en": doc.number_en,
                "issued": None if doc.issued is None else doc.issued.isoformat(),
                "article": self.source.article,
                "evidence": list(self.source.evidence or doc.urls),
            },
            "supersedes": list(self.supersedes),
            "unconfirmed_fields": sorted({*self.unconfirmed_fields, *self._unknown_paths()}),
            "notes": self.notes,
            "origin": self.origin,
        }

    def _unknown_paths(self) -> tuple[str, ...]:
        return tuple(f"parameters.{p}" for p in self.unknown_parameters())


# --------------------------------------------------------------------------------------------
# RuleSet
# --------------------------------------------------------------------------------------------


class RuleSet:
    """All loaded rule versions, queried by id, date, kind, actor and trigger."""

    def __init__(self, rules: Iterable[Rule], files: Sequence[str] = ()) -> None:
        by_id: dict[str, builtins.list[Rule]] = {}
        for rule in rules:
            versions = by_id.setdefault(rule.id, [])
            for other in versions:
                if other.version == rule.version:
                    raise RulebookError(
                        rule.origin,
                        rule.id,
                        "version",
                        f"version {rule.version} is already defined in {other.origin}; "
                        "to supersede it, give this rule a higher version",
                    )
            versions.append(rule)
        self._versions: dict[str, tuple[Rule, ...]] = {
            rid: tuple(sorted(vs, key=lambda r: r.version)) for rid, vs in sorted(by_id.items())
        }
        self.files: tuple[str, ...] = tuple(files)
        self._check_versions_agree()
        self._check_supersedes()
        self._check_deadline_ambiguity()

    # -- queries ---------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Rule]:
        for versions in self._versions.values():
            yield from versions

    def __len__(self) -> int:
        return sum(len(v) for v in self._versions.values())

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._versions

    def ids(self) -> builtins.list[str]:
        return builtins.list(self._versions)

    def versions(self, rule_id: str) -> tuple[Rule, ...]:
        """Every version of a rule, lowest version first. Raises :class:`UnknownRule`."""
        try:
            return self._versions[rule_id]
        except KeyError:
            close = difflib.get_close_matches(rule_id, self._versions, n=3, cutoff=0.6)
            raise UnknownRule(rule_id, close) from None

    def get(self, rule_id: str, as_of: date) -> Rule | None:
        """The version of ``rule_id`` in force on ``as_of`` (None if none is).

        Among versions whose date range contains ``as_of`` the highest version governs. Raises
        :class:`UnknownRule` for an id that was never loaded, so a typo is not mistaken for "no
        rule in force".
        """
        candidates = [r for r in self.versions(rule_id) if r.in_force_on(as_of)]
        return max(candidates, key=lambda r: r.version) if candidates else None

    def superseded_by(self, rule_id: str, as_of: date) -> Rule | None:
        """Another rule in force on ``as_of`` that lists ``rule_id`` in ``supersedes``."""
        for other_id in self._versions:
            if other_id == rule_id:
                continue
            other = self.get(other_id, as_of)
            if other is not None and rule_id in other.supersedes:
                return other
        return None

    def in_force(self, as_of: date) -> builtins.list[Rule]:
        """The governing version of every rule in force on ``as_of``, superseded rules left out."""
        current = {rid: self.get(rid, as_of) for rid in self._versions}
        superseded = {
            sid for rule in current.values() if rule is not None for sid in rule.supersedes
        }
        return [r for rid, r in current.items() if r is not None and rid not in superseded]

    def list(
        self,
        kind: RuleKind | str | None = None,
        actor: Actor | str | None = None,
        as_of: date | None = None,
        trigger: Trigger | str | None = None,
    ) -> builtins.list[Rule]:
        """Rules filtered by kind, actor and trigger.

        Without ``as_of``: every version of every rule. With ``as_of``: the version in force on
        that date of each rule, superseded rules left out.
        """
        pool = builtins.list(self) if as_of is None else self.in_force(as_of)
        k = None if kind is None else RuleKind(kind)
        a = None if actor is None else Actor(actor)
        t = None if trigger is None else Trigger(trigger)
        return [
            r
            for r in pool
            if (k is None or r.kind is k)
            and (a is None or r.actor is a)
            and (t is None or r.trigger is t)
        ]

    def deadline(self, actor: Actor | str, trigger: Trigger | str, as_of: date) -> Rule | None:
        """The reporting-deadline rule for ``actor`` doing ``trigger``, in force on ``as_of``.

        When several rules apply (say a 2018 provision and a 2026 placeholder), a rule whose
        deadline is known beats one whose deadline is UNCONFIRMED, and then the rule that came into
        force last governs (lex posterior). An UNCONFIRMED rule is returned only when nothing known
        applies, so the caller sees "there is a duty, its deadline is unknown" rather than None.
        """
        a, t = Actor(actor), Trigger(trigger)
        candidates = [
            r
            for r in self.in_force(as_of)
            if r.kind is RuleKind.REPORTING_DEADLINE and r.actor is a and r.trigger is t
        ]
        if not candidates:
            return None
        # id is only a deterministic last resort; load-time checks forbid real ties among knowns.
        return max(candidates, key=lambda r: (r.known, r.valid_from, r.id))

    # -- cross-rule validation -------------------------------------------------------------

    def _check_versions_agree(self) -> None:
        # An id names one duty: if a later version changed actor, trigger or kind, deadline()
        # would silently switch duties between dates.
        for versions in self._versions.values():
            first = versions[0]
            for r in versions[1:]:
                for name in ("kind", "actor", "trigger"):
                    if getattr(r, name) != getattr(first, name):
                        raise RulebookError(
                            r.origin,
                            r.id,
                            name,
                            f"{getattr(r, name)!s} differs from version {first.version} "
                            f"({getattr(first, name)!s} in {first.origin}); a new duty needs a "
                            "new rule id",
                        )

    def _check_supersedes(self) -> None:
        for rule in self:
            for sid in rule.supersedes:
                if sid == rule.id:
                    raise RulebookError(
                        rule.origin,
                        rule.id,
                        "supersedes",
                        "a rule cannot supersede itself; use a higher version instead",
                    )
                if sid not in self._versions:
                    close = difflib.get_close_matches(sid, self._versions, n=3, cutoff=0.6)
                    hint = f" (did you mean {', '.join(close)}?)" if close else ""
                    raise RulebookError(
                        rule.origin, rule.id, "supersedes", f"unknown rule id {sid!r}{hint}"
                    )

    def _check_deadline_ambiguity(self) -> None:
        # Two different rules with known deadlines for the same actor and trigger, in force
        # together and starting on the same day, leave deadline() no principled choice.
        deadlines = [r for r in self if r.kind is RuleKind.REPORTING_DEADLINE and r.known]
        for i, a in enumerate(deadlines):
            for b in deadlines[i + 1 :]:
                if (
                    a.id != b.id
                    and a.actor is b.actor
                    and a.trigger is b.trigger
                    and a.valid_from == b.valid_from
                    and b.id not in a.supersedes
                    and a.id not in b.supersedes
                ):
                    raise RulebookError(
                        b.origin,
                        b.id,
                        "trigger",
                        f"ambiguous deadline: {a.id!r} ({a.origin}) also binds {a.actor} / "
                        f"{a.trigger} from {a.valid_from}; give one a different valid_from or "
                        "list the other in supersedes",
                    )


# --------------------------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------------------------


class _Ctx:
    """Where we are in a file, so every error can say it."""

    def __init__(self, path: str, rule_id: str | None = None) -> None:
        self.path = path
        self.rule_id = rule_id

    def fail(self, field: str, reason: str) -> RulebookError:
        return RulebookError(self.path, self.rule_id, field, reason)


def _check_keys(
    ctx: _Ctx, table: Any, where: str, required: frozenset[str], optional: frozenset[str]
) -> Mapping[str, Any]:
    if not isinstance(table, dict):
        raise ctx.fail(where, f"must be a table, not {type(table).__name__}")
    prefix = f"{where}." if where else ""
    missing = sorted(required - table.keys())
    if missing:
        raise ctx.fail(prefix + missing[0], "is required")
    unknown = sorted(table.keys() - required - optional)
    if unknown:
        key = unknown[0]
        allowed = sorted(required | optional)
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f"; allowed: {', '.join(allowed)}"
        raise ctx.fail(prefix + key, f"unknown field{hint}")
    return table


def _text(ctx: _Ctx, value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ctx.fail(field, "must be a non-empty string")
    return value.strip()


def _opt_text(ctx: _Ctx, table: Mapping[str, Any], key: str, field: str) -> str | None:
    return _text(ctx, table[key], field) if key in table else None


def _date(ctx: _Ctx, value: Any, field: str) -> date:
    # TOML datetimes are datetime subclasses of date: reject them, a rule starts on a day.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ctx.fail(field, f"must be a date like 2018-08-01, not {value!r}")


_E = TypeVar("_E", bound=StrEnum)


def _enum(ctx: _Ctx, enum: type[_E], value: Any, field: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise ctx.fail(field, f"{value!r} is not one of: {allowed}") from None


def _int(ctx: _Ctx, value: Any, field: str, *, minimum: int) -> int:
    # bool is an int subclass; `deadline_working_days = true` must not mean 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ctx.fail(field, f"must be an integer, not {value!r}")
    if value < minimum:
        raise ctx.fail(field, f"must be at least {minimum}, not {value}")
    return value


def _is_unconfirmed_marker(value: Any) -> bool:
    return isinstance(value, str) and value == UNCONFIRMED


def _id(ctx: _Ctx, value: Any, field: str) -> str:
    if not isinstance(value, str) or not _ID_RE.fullmatch(value) or len(value) > _ID_MAX:
        raise ctx.fail(
            field,
            f"{value!r} is not a rule id (lower-case letters, digits and single hyphens, "
            f"at most {_ID_MAX} characters)",
        )
    return value


def _str_list(ctx: _Ctx, value: Any, field: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ctx.fail(field, "must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _urls(ctx: _Ctx, value: Any, field: str) -> tuple[str, ...]:
    urls = _str_list(ctx, value, field)
    for u in urls:
        if not u.startswith(("http://", "https://")):
            raise ctx.fail(field, f"{u!r} is not an http(s) URL")
    return urls


def _document(ctx: _Ctx, key: str, raw: Any) -> Document:
    field = f"documents.{key}"
    if not _KEY_RE.fullmatch(key):
        raise ctx.fail(field, "document keys use lower-case letters, digits, '-' and '_'")
    t = _check_keys(ctx, raw, field, _DOCUMENT_KEYS_REQUIRED, _DOCUMENT_KEYS_OPTIONAL)
    return Document(
        key=key,
        title_zh=_text(ctx, t["title_zh"], f"{field}.title_zh"),
        title_en=_text(ctx, t["title_en"], f"{field}.title_en"),
        number=_opt_text(ctx, t, "number", f"{field}.number"),
        number_en=_opt_text(ctx, t, "number_en", f"{field}.number_en"),
        issued=_date(ctx, t["issued"], f"{field}.issued") if "issued" in t else None,
        urls=_urls(ctx, t["urls"], f"{field}.urls") if "urls" in t else (),
    )


def _source(ctx: _Ctx, raw: Any, documents: Mapping[str, Document]) -> Source:
    t = _check_keys(ctx, raw, "source", _SOURCE_KEYS_REQUIRED, _SOURCE_KEYS_OPTIONAL)
    key = _text(ctx, t["document"], "source.document")
    if key not in documents:
        known = ", ".join(sorted(documents)) or "none"
        raise ctx.fail(
            "source.document",
            f"{key!r} is not defined under [documents] in this file (defined: {known})",
        )
    return Source(
        document=documents[key],
        article=_opt_text(ctx, t, "article", "source.article"),
        evidence=_urls(ctx, t["evidence"], "source.evidence") if "evidence" in t else (),
    )


def _threshold(ctx: _Ctx, params: Mapping[str, Any]) -> Threshold:
    raw_value = params["value"]
    value: Decimal | None
    if _is_unconfirmed_marker(raw_value):
        value = None
    elif isinstance(raw_value, bool) or not isinstance(raw_value, int | float):
        raise ctx.fail("parameters.value", f'must be a number or "{UNCONFIRMED}"')
    elif isinstance(raw_value, float) and not math.isfinite(raw_value):
        raise ctx.fail("parameters.value", "must be a finite number")
    else:
        # str() first: Decimal(1.5) is exact binary, Decimal("1.5") is what the operator wrote.
        value = Decimal(str(raw_value))
    unit = _enum(ctx, Unit, params["unit"], "parameters.unit")
    if value is not None:
        if value < 0:
            raise ctx.fail("parameters.value", f"must not be negative, not {raw_value}")
        if unit is Unit.PERCENT and value > 100:
            raise ctx.fail("parameters.value", f"a percentage cannot exceed 100, not {raw_value}")
    quantity = _text(ctx, params["quantity"], "parameters.quantity")
    if not _KEY_RE.fullmatch(quantity):
        raise ctx.fail("parameters.quantity", "use snake_case, e.g. electrode_powder_recovery")
    return Threshold(
        quantity=quantity,
        comparator=_enum(ctx, Comparator, params["comparator"], "parameters.comparator"),
        value=value,
        unit=unit,
        material=_opt_text(ctx, params, "material", "parameters.material"),
        scope=_opt_text(ctx, params, "scope", "parameters.scope"),
    )


def _period(ctx: _Ctx, params: Mapping[str, Any]) -> Period:
    raw_days, raw_basis = params["period_days"], params["day_basis"]
    days = (
        None
        if _is_unconfirmed_marker(raw_days)
        else _int(ctx, raw_days, "parameters.period_days", minimum=1)
    )
    basis = (
        None
        if _is_unconfirmed_marker(raw_basis)
        else _enum(ctx, DayBasis, raw_basis, "parameters.day_basis")
    )
    if days is not None and basis is None:
        raise ctx.fail("parameters.day_basis", "a known period needs a known day basis")
    return Period(days=days, basis=basis)


def _rule(ctx: _Ctx, raw: Any, index: int, documents: Mapping[str, Document], origin: str) -> Rule:
    if not isinstance(raw, dict):
        raise ctx.fail(f"rule[{index}]", "must be a table ([[rule]])")
    # Name the rule by id in every later message; before the id is known, by its position.
    ctx = _Ctx(ctx.path, f"#{index + 1}")
    rule_id = _id(ctx, raw.get("id"), "id") if "id" in raw else None
    if rule_id is not None:
        ctx = _Ctx(ctx.path, rule_id)
    t = _check_keys(ctx, raw, "", _RULE_KEYS_REQUIRED, _RULE_KEYS_OPTIONAL)
    assert rule_id is not None  # "id" is required, so _check_keys raised otherwise

    kind = _enum(ctx, RuleKind, t["kind"], "kind")
    confidence = _enum(ctx, Confidence, t["confidence"], "confidence")
    valid_from = _date(ctx, t["valid_from"], "valid_from")
    valid_to = _date(ctx, t["valid_to"], "valid_to") if "valid_to" in t else None
    if valid_to is not None and valid_to < valid_from:
        raise ctx.fail("valid_to", f"{valid_to} is before valid_from {valid_from}")

    alert_kind = _enum(ctx, AlertKind, t["alert_kind"], "alert_kind") if "alert_kind" in t else None
    if alert_kind is not None and alert_kind not in _KIND_ALERTS.get(kind, frozenset()):
        allowed = ", ".join(sorted(_KIND_ALERTS.get(kind, frozenset()))) or "none"
        raise ctx.fail("alert_kind", f"{alert_kind} does not fit kind {kind} (allowed: {allowed})")

    required, optional = _KIND_PARAMETERS[kind]
    params = _check_keys(ctx, t.get("parameters", {}), "parameters", required, optional)
    deadline: int | None = None
    threshold: Threshold | None = None
    recipients: tuple[Actor, ...] = ()
    period: Period | None = None
    follow_up: Trigger | None = None
    if kind is RuleKind.REPORTING_DEADLINE:
        raw_deadline = params["deadline_working_days"]
        if not _is_unconfirmed_marker(raw_deadline):
            deadline = _int(ctx, raw_deadline, "parameters.deadline_working_days", minimum=0)
    elif kind in _THRESHOLD_KINDS:
        threshold = _threshold(ctx, params)
    elif kind is RuleKind.TRANSFER_RESTRICTION:
        names = _str_list(ctx, params["allowed_recipients"], "parameters.allowed_recipients")
        if not names:
            raise ctx.fail("parameters.allowed_recipients", "must name at least one actor")
        recipients = tuple(_enum(ctx, Actor, n, "parameters.allowed_recipients") for n in names)
    if kind in (RuleKind.COLLECTION_PERIOD, RuleKind.FOLLOW_UP_PERIOD):
        period = _period(ctx, params)
    if kind is RuleKind.FOLLOW_UP_PERIOD:
        follow_up = _enum(ctx, Trigger, params["follow_up_trigger"], "parameters.follow_up_trigger")

    supersedes = (
        tuple(_id(ctx, s, "supersedes") for s in _str_list(ctx, t["supersedes"], "supersedes"))
        if "supersedes" in t
        else ()
    )
    unconfirmed = (
        _str_list(ctx, t["unconfirmed_fields"], "unconfirmed_fields")
        if "unconfirmed_fields" in t
        else ()
    )
    allowed_paths = (_RULE_KEYS_REQUIRED | _RULE_KEYS_OPTIONAL) | {
        f"parameters.{p}" for p in required | optional
    }
    for path in unconfirmed:
        if path not in allowed_paths:
            raise ctx.fail("unconfirmed_fields", f"{path!r} is not a field of this rule")
    notes = _text(ctx, t["notes"], "notes") if "notes" in t else ""

    rule = Rule(
        id=rule_id,
        version=_int(ctx, t["version"], "version", minimum=1),
        title_zh=_text(ctx, t["title_zh"], "title_zh"),
        title_en=_text(ctx, t["title_en"], "title_en"),
        kind=kind,
        actor=_enum(ctx, Actor, t["actor"], "actor"),
        trigger=_enum(ctx, Trigger, t["trigger"], "trigger"),
        source=_source(ctx, t["source"], documents),
        valid_from=valid_from,
        valid_to=valid_to,
        confidence=confidence,
        alert_kind=alert_kind,
        deadline_working_days=deadline,
        threshold=threshold,
        allowed_recipients=recipients,
        period=period,
        follow_up_trigger=follow_up,
        supersedes=supersedes,
        unconfirmed_fields=unconfirmed,
        notes=notes,
        origin=origin,
    )
    # The point of the UNCONFIRMED marker: an unknown number may only sit in a rule that says so.
    unknown = rule.unknown_parameters()
    if unknown and confidence is not Confidence.UNCONFIRMED:
        raise ctx.fail(
            f"parameters.{unknown[0]}",
            f'is "{UNCONFIRMED}" but the rule\'s confidence is {confidence}; '
            f'set confidence = "{UNCONFIRMED}" or give the number',
        )
    return rule


def parse_rulebook(text: str, origin: str) -> builtins.list[Rule]:
    """Parse and validate one rulebook's TOML text; ``origin`` names it in errors."""
    ctx = _Ctx(origin)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ctx.fail("", f"not valid TOML: {exc}") from None
    _check_keys(ctx, data, "", frozenset({"rulebook"}), _FILE_KEYS - {"rulebook"})
    header = _check_keys(
        ctx, data["rulebook"], "rulebook", _HEADER_KEYS_REQUIRED, _HEADER_KEYS_OPTIONAL
    )
    schema = header["schema"]
    if schema != SCHEMA_VERSION or isinstance(schema, bool):
        raise ctx.fail(
            "rulebook.schema", f"this battrace reads schema {SCHEMA_VERSION}, not {schema!r}"
        )
    _id(ctx, header["id"], "rulebook.id")
    _text(ctx, header["title_zh"], "rulebook.title_zh")
    _text(ctx, header["title_en"], "rulebook.title_en")

    raw_docs = data.get("documents", {})
    if not isinstance(raw_docs, dict):
        raise ctx.fail("documents", "must be a table of [documents.KEY] tables")
    documents = {key: _document(ctx, key, raw) for key, raw in raw_docs.items()}

    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list):
        raise ctx.fail("rule", "rules are written as [[rule]] tables")
    rules = [_rule(ctx, raw, i, documents, origin) for i, raw in enumerate(raw_rules)]
    if not rules:
        raise ctx.fail("rule", "a rulebook needs at least one [[rule]]")
    return rules


def load_rulebook_file(path: Path) -> builtins.list[Rule]:
    """Parse one local rulebook file."""
    origin = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulebookError(origin, None, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulebookError(origin, None, "", f"cannot read: {exc}") from None
    return parse_rulebook(text, origin)


def packaged_rulebooks() -> builtins.list[tuple[str, str]]:
    """(origin, TOML text) of every rulebook shipped in the package, in name order."""
    folder = resources.files("battrace.domain.rules").joinpath("rulebooks")
    entries = sorted(
        (e for e in folder.iterdir() if e.name.endswith(".toml") and e.is_file()),
        key=lambda e: e.name,
    )
    return [(PACKAGED_ORIGIN_PREFIX + e.name, e.read_text(encoding="utf-8")) for e in entries]


def _expand(paths: Sequence[Path]) -> builtins.list[Path]:
    # A directory stands for its *.toml files in name order, so an operator can drop files into
    # one folder; order matters only for error messages, never for which version wins.
    out: builtins.list[Path] = []
    for p in paths:
        if p.is_dir():
            files = sorted(p.glob("*.toml"))
            if not files:
                raise RulebookError(str(p), None, "", "directory holds no *.toml rulebook")
            out.extend(files)
        else:
            out.append(p)
    return out


def load_rulebooks(extra_paths: Sequence[Path] = ()) -> RuleSet:
    """Load the packaged rulebooks plus operator files (or folders of them).

    A local file may add rules, or add a higher version of a packaged rule id to supersede it
    (from that version's ``valid_from``). Raises :class:`RulebookError` naming file, rule id and
    field for anything that does not validate.
    """
    rules: builtins.list[Rule] = []
    files: builtins.list[str] = []
    for origin, text in packaged_rulebooks():
        rules.extend(parse_rulebook(text, origin))
        files.append(origin)
    for path in _expand(extra_paths):
        rules.extend(load_rulebook_file(path))
        files.append(str(path))
    return RuleSet(rules, files)
