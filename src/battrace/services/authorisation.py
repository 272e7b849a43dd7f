"""Who may report what, and who may read what.

Reporting (checked for every event before anything is written, by every capture channel):

1. **Role × business step** (:data:`STEP_RULES`): an enterprise reports only the lifecycle steps its
   registered roles allow (only dismantlers scrap vehicles, only qualified recyclers recycle, …).
   Regulators report nothing. The table is documented in ``docs/api.md`` and tested row by row.
2. **As itself**: the parties of ``readPoint``/``bizLocation`` are the reporter; an event that names
   a battery or vehicle carries the reporter's own site in one of them (docs/epcis-mapping.md §1);
   a shipment's ``sourceList`` parties are the reporter (one ships only from oneself).
3. **New codes**: only the holder of a manufacturer code commissions (or re-codes into) codes under
   it.

Reading (:class:`ReadScope`): the national regulator reads everything; a provincial regulator reads
events that involved an enterprise of its province; any other enterprise reads the events it took
part in, and the history of an object it took part in up to the last time it did (its custody).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from battrace.domain.epcis import vocab
from battrace.domain.epcis.event import Event
from battrace.domain.errors import NotAuthorised
from battrace.domain.identities.uris import parse_uri
from battrace.persistence.base import EnterpriseRow

CodeOwner = Callable[[str], str | None]

NATIONAL = "regulator_national"
PROVINCIAL = "regulator_provincial"
REGULATOR_ROLES = frozenset({NATIONAL, PROVINCIAL})
#: Every role that reports events (all roles of services.enterprises.ROLES but the regulators).
REPORTING_ROLES = frozenset(
    {
        "battery_maker",
        "automaker",
        "importer",
        "dealer",
        "repairer",
        "swap_operator",
        "dismantler",
        "recycling_outlet",
        "cascade_user",
        "recycler",
    }
)
BATTERY_PREFIX = "urn:gbt34014:"
VEHICLE_PREFIX = "urn:vin:"
PARTY_PREFIX = "urn:uscc:"


@dataclass(frozen=True, slots=True)
class StepRule:
    """Who may report one lifecycle step. ``key`` is the bizStep (bare CBV word or private URI),
    or one of the pseudo keys ``vehicle-decommissioning`` / ``*`` (any other step or none)."""

    key: str
    step: str  # the lifecycle step, in words
    roles: frozenset[str]
    qualification: str | None = None  # an enterprise qualification kind that is also required
    note: str = ""


def _rule(
    key: str, step: str, roles: Iterable[str], qualification: str | None = None, note: str = ""
) -> StepRule:
    return StepRule(key, step, frozenset(roles), qualification, note)


_AFTER_SALES = ("repairer", "dealer", "automaker", "swap_operator")
ANY_STEP = "*"
VEHICLE_SCRAPPING = "vehicle-decommissioning"

#: The role × business-step table (docs/api.md renders it; tests check every row).
STEP_RULES: tuple[StepRule, ...] = (
    _rule(
        "commissioning",
        "commissioning a battery code",
        ["battery_maker"],
        note="only codes under the enterprise's own registered manufacturer codes",
    ),
    _rule(
        "assembling",
        "cells into modules, modules into packs (also regrouping for second life)",
        ["battery_maker", "cascade_user"],
    ),
    _rule("installing", "pack into a vehicle", ["automaker", "importer"]),
    _rule("retail_selling", "vehicle sale", ["dealer", "automaker", "importer"]),
    _rule(vocab.BIZSTEP_SELLING, "vehicle sale", ["dealer", "automaker", "importer"]),
    _rule("repairing", "repair", _AFTER_SALES),
    _rule("removing", "pack out of a vehicle", (*_AFTER_SALES, "dismantler")),
    _rule("replacing", "replacement pack into a vehicle", _AFTER_SALES),
    _rule(
        VEHICLE_SCRAPPING,
        "vehicle scrapping (decommissioning that names a VIN)",
        ["dismantler"],
    ),
    _rule(vocab.BIZSTEP_SCRAPPING, "vehicle scrapping", ["dismantler"]),
    _rule(
        "decommissioning",
        "retirement of a battery (end of first or second life)",
        (*_AFTER_SALES, "dismantler", "cascade_user"),
    ),
    _rule(
        "collecting",
        "collection of a waste battery",
        ["recycling_outlet", "recycler", "cascade_user"],
    ),
    _rule(
        vocab.BIZSTEP_RECODING,
        "cascade-use re-coding",
        ["cascade_user"],
        note="only into codes under the enterprise's own manufacturer codes",
    ),
    _rule("disassembling", "dismantling a pack", ["recycler", "cascade_user"]),
    _rule(vocab.BIZSTEP_RECYCLING, "recycling", ["recycler"], qualification="recycling"),
    _rule("destroying", "final disposal", ["recycler"], qualification="recycling"),
    _rule(
        ANY_STEP,
        "any other step, or none (shipping, receiving, inspecting, storing …)",
        REPORTING_ROLES,
        note="a shipment's sourceList parties must be the reporter",
    ),
)
_RULES = {r.key: r for r in STEP_RULES}


def rule_for(event: Event) -> StepRule:
    """The row of :data:`STEP_RULES` that governs ``event``."""
    step = event.biz_step
    if step == "decommissioning" and any(e.startswith(VEHICLE_PREFIX) for e in event.epc_list):
        return _RULES[VEHICLE_SCRAPPING]
    if step is not None and step in _RULES:
        return _RULES[step]
    return _RULES[ANY_STEP]


def may_report(rule: StepRule, reporter: EnterpriseRow) -> bool:
    """Whether the reporter's roles (and, for whitelisted steps, a qualification of the kind)
    allow the step. The qualification's dates are deliberately not checked here: a recycling
    outside the qualification's window is still a fact the ledger must record, and the
    regulation engine judges it by the event's date (``unqualified-transfer``)."""
    if not rule.roles.intersection(reporter.roles):
        return False
    if rule.qualification is None:
        return True
    return any(
        isinstance(q, dict) and q.get("kind") == rule.qualification for q in reporter.qualifications
    )


def _party_of(uri: str | None) -> str | None:
    if uri is None or not uri.startswith(PARTY_PREFIX):
        return None
    return parse_uri(uri).party


def _check_role(event: Event, path: str, reporter: EnterpriseRow) -> None:
    rule = rule_for(event)
    if may_report(rule, reporter):
        return
    what = f"bizStep {event.biz_step!r}" if event.biz_step else "an event without bizStep"
    roles = ", ".join(sorted(reporter.roles)) or "none"
    if rule.roles.intersection(reporter.roles):
        reason = (
            f"{what} ({rule.step}) needs a {rule.qualification!r} qualification, which "
            f"enterprise {reporter.uscc} does not have"
        )
    else:
        reason = (
            f"enterprise {reporter.uscc} (roles: {roles}) may not report {what} "
            f"({rule.step}); allowed roles: {', '.join(sorted(rule.roles))}"
        )
    raise NotAuthorised(f"{path}.bizStep" if event.biz_step else path, reason)


def _check_sites(event: Event, path: str, reporter: EnterpriseRow) -> None:
    own = 0
    for field, uri in (("readPoint.id", event.read_point), ("bizLocation.id", event.biz_location)):
        party = _party_of(uri)
        if party is None:
            continue
        if party != reporter.uscc:
            raise NotAuthorised(
                f"{path}.{field}",
                f"{uri} belongs to enterprise {party.removeprefix('urn:uscc:')}, "
                f"not to the reporting enterprise {reporter.uscc}",
            )
        own += 1
    if own:
        return
    # The platform knows who reported an event about a battery or vehicle from its site URI
    # (docs/epcis-mapping.md §1); without one the event could not be attributed or scoped.
    for epc, _role in event.epcs_with_roles():
        if epc.startswith((BATTERY_PREFIX, VEHICLE_PREFIX)):
            raise NotAuthorised(
                f"{path}.bizLocation",
                f"an event naming {epc} must carry a site of the reporting enterprise "
                f"(urn:uscc:{reporter.uscc}:site:…) in bizLocation or readPoint",
            )


def _check_sources(event: Event, path: str, reporter: EnterpriseRow) -> None:
    if event.biz_step != "shipping":
        return
    for i, party in enumerate(event.sources):
        owner = _party_of(party.id)
        if owner is not None and owner != reporter.uscc:
            raise NotAuthorised(
                f"{path}.sourceList[{i}].source",
                f"a shipment is reported by its sender: {party.id} is not the reporting "
                f"enterprise {reporter.uscc}",
            )


def _check_new_codes(event: Event, path: str, reporter: EnterpriseRow, owner_of: CodeOwner) -> None:
    new_codes: list[tuple[str, str]] = []
    if event.biz_step == "commissioning" and event.action == "ADD":
        new_codes = [(f"{path}.epcList[{i}]", e) for i, e in enumerate(event.epc_list)]
    elif event.biz_step == vocab.BIZSTEP_RECODING:
        # Cascade re-coding creates new codes: the same rule as commissioning applies to them.
        # (Other transformations, such as dismantling, output codes that already exist.)
        new_codes = [(f"{path}.outputEPCList[{i}]", e) for i, e in enumerate(event.output_epcs)]
    for field, uri in new_codes:
        if not uri.startswith(BATTERY_PREFIX):
            continue
        maker = uri[len(BATTERY_PREFIX) :][:3]
        owner = owner_of(maker)
        if owner is None:
            raise NotAuthorised(field, f"manufacturer code {maker} is not registered to anyone")
        if owner != reporter.uscc:
            raise NotAuthorised(
                field,
                f"manufacturer code {maker} is registered to {owner}, not to the reporting "
                f"enterprise {reporter.uscc}",
            )


def check_event(event: Event, path: str, reporter: EnterpriseRow, owner_of: CodeOwner) -> None:
    """Raise :class:`NotAuthorised` when ``reporter`` may not report ``event``."""
    # "As itself" first: a report from someone else's site is refused as such, whatever the step.
    _check_sites(event, path, reporter)
    _check_sources(event, path, reporter)
    _check_role(event, path, reporter)
    _check_new_codes(event, path, reporter, owner_of)


# -- reading -------------------------------------------------------------------------------------

ScopeKind = Literal["national", "provincial", "enterprise"]


@dataclass(frozen=True, slots=True)
class ReadScope:
    """What one enterprise (or authority) may read; see the module docstring."""

    kind: ScopeKind
    uscc: str
    province: str

    @property
    def principal(self) -> str | None:
        """The key of ``api_event_access`` rows this scope may read; None = everything."""
        if self.kind == "national":
            return None
        if self.kind == "provincial":
            return province_principal(self.province)
        return self.uscc

    @property
    def is_regulator(self) -> bool:
        return self.kind != "enterprise"


def province_principal(province: str) -> str:
    return f"province:{province}"


def scope_for(enterprise: EnterpriseRow) -> ReadScope:
    if NATIONAL in enterprise.roles:
        return ReadScope("national", enterprise.uscc, enterprise.province)
    if PROVINCIAL in enterprise.roles:
        return ReadScope("provincial", enterprise.uscc, enterprise.province)
    return ReadScope("enterprise", enterprise.uscc, enterprise.province)


def may_capture(enterprise: EnterpriseRow) -> bool:
    return bool(REPORTING_ROLES.intersection(enterprise.roles))


def participants(
    reporter: str, read_point: str | None, biz_location: str | None, body: Mapping[str, Any]
) -> set[str]:
    """USCCs of the enterprises that took part in an event: the reporter, the parties of its
    readPoint and bizLocation, and the parties named in sourceList / destinationList."""
    out = {reporter}
    for uri in (read_point, biz_location):
        party = _uscc_of(uri)
        if party:
            out.add(party)
    for key, member in (("sourceList", "source"), ("destinationList", "destination")):
        items = body.get(key)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    party = _uscc_of(item.get(member))
                    if party:
                        out.add(party)
    return out


def _uscc_of(uri: object) -> str | None:
    # Stored events were validated at capture, so a prefix cut is enough here (hot path of the
    # read-scope index): urn:uscc:{18 characters}[:site:…].
    if isinstance(uri, str) and uri.startswith(PARTY_PREFIX) and len(uri) >= 27:
        return uri[9:27]
    return None


def object_ids(body: Mapping[str, Any]) -> set[str]:
    """Every instance identifier an event body names (epcList, parentID, childEPCs, inputs and
    outputs) — the objects whose history a participant may read (custody)."""
    out: set[str] = set()
    for key in ("epcList", "childEPCs", "inputEPCList", "outputEPCList"):
        items = body.get(key)
        if isinstance(items, list):
            out.update(i for i in items if isinstance(i, str))
    parent = body.get("parentID")
    if isinstance(parent, str):
        out.add(parent)
    return out
