"""What the rules need to know about registered enterprises, as plain data.

Built by the service layer from the enterprise registry (``enterprises`` table); the domain never
reads the database. The registry keeps free-form site and qualification objects, and the engine
reads a few optional keys from them, documented in ``docs/supervision.md``:

* qualification ``{"kind": "recycling" | "cascade_use", "date": "2020-12-15", "valid_to": …}`` —
  a whitelist entry (行业规范条件公告), valid from ``date`` (absent: always) to ``valid_to``;
* site of a recycling service outlet ``{"id": "depot1", "outlet_type": "collection" |
  "centralized", "capacity_t": 30, "serves": [USCC, …], "city": "320500"}`` — the outlet type
  (default ``collection``, the ≤ 5 t kind), the registered capacity of a centralized-storage
  outlet, the automakers and battery makers whose outlet it is (absent or empty: a shared outlet
  open to every producer, 共建共享), and the prefecture-level city (GB/T 2260; default: the city of
  the registering authority in the USCC).

Anything malformed in those optional keys is ignored rather than guessed: a capacity that is not a
positive number is "not registered", and the engine then raises no capacity alert for that site.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from battrace.domain.lifecycle import states as S

COLLECTION = "collection"
CENTRALIZED = "centralized"
OUTLET_TYPES = (COLLECTION, CENTRALIZED)


@dataclass(frozen=True, slots=True)
class Qualification:
    kind: str  # "recycling" | "cascade_use"
    valid_from: date | None
    valid_to: date | None

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


@dataclass(frozen=True, slots=True)
class OutletSite:
    site: str  # site URI, as it appears in events' bizLocation
    outlet_type: str
    capacity_t: float | None
    serves: frozenset[str]  # USCCs of the producers; empty = shared outlet
    city: str  # 6-digit GB/T 2260 division code of the prefecture-level city


@dataclass(frozen=True, slots=True)
class EnterpriseInfo:
    uscc: str
    name_zh: str
    province: str
    roles: frozenset[str]
    qualifications: tuple[Qualification, ...] = ()
    outlets: Mapping[str, OutletSite] = field(default_factory=dict)

    @property
    def city(self) -> str:
        """Prefecture-level city of the registering authority (USCC positions 3–6)."""
        return self.uscc[2:6] + "00"

    def qualified(self, kind: str, day: date) -> bool:
        return any(q.kind == kind and q.valid_on(day) for q in self.qualifications)

    def serves(self, producers: Iterable[str]) -> bool:
        """Whether this outlet enterprise takes batteries of any of ``producers``.

        An outlet that names no producers on any site is shared (open to all).
        """
        named = (
            frozenset().union(*(o.serves for o in self.outlets.values()))
            if self.outlets
            else (frozenset())
        )
        if not named:
            return True
        return any(p in named for p in producers)


def _day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def _qualifications(raw: Iterable[Any]) -> tuple[Qualification, ...]:
    out = []
    for q in raw:
        if isinstance(q, Mapping) and q.get("kind") in ("recycling", "cascade_use"):
            out.append(
                Qualification(
                    str(q["kind"]),
                    _day(q.get("date") or q.get("valid_from")),
                    _day(q.get("valid_to") or q.get("until")),
                )
            )
    return tuple(out)


def _capacity(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number > 0 and number == number and number != float("inf") else None


def _outlets(uscc: str, sites: Iterable[Any]) -> dict[str, OutletSite]:
    out: dict[str, OutletSite] = {}
    for s in sites:
        if isinstance(s, str):
            s = {"id": s}
        if not isinstance(s, Mapping) or not isinstance(s.get("id"), str):
            continue
        kind = s.get("outlet_type")
        serves = s.get("serves")
        city = s.get("city")
        uri = f"{S.PARTY_URN}{uscc}{S.SITE_INFIX}{s['id']}"
        out[uri] = OutletSite(
            site=uri,
            outlet_type=kind if kind in OUTLET_TYPES else COLLECTION,
            capacity_t=_capacity(s.get("capacity_t")),
            serves=frozenset(x for x in serves if isinstance(x, str))
            if isinstance(serves, list)
            else frozenset(),
            city=city
            if isinstance(city, str) and len(city) == 6 and city.isdigit()
            else uscc[2:6] + "00",
        )
    return out


def enterprise_info(
    uscc: str,
    name_zh: str,
    province: str,
    roles: Iterable[str],
    sites: Iterable[Any] = (),
    qualifications: Iterable[Any] = (),
) -> EnterpriseInfo:
    role_set = frozenset(roles)
    return EnterpriseInfo(
        uscc=uscc,
        name_zh=name_zh,
        province=province,
        roles=role_set,
        qualifications=_qualifications(qualifications),
        outlets=_outlets(uscc, sites) if "recycling_outlet" in role_set else {},
    )


@dataclass(frozen=True, slots=True)
class Registry:
    """Enterprises by USCC, manufacturer-code owners and registered code specifications."""

    enterprises: Mapping[str, EnterpriseInfo]
    code_owners: Mapping[str, str]  # manufacturer code → USCC
    #: manufacturer code → registered specification codes (positions 6–7); a code absent here
    #: has registered none, and its specifications are then not checked.
    specifications: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def get(self, uscc: str | None) -> EnterpriseInfo | None:
        return None if uscc is None else self.enterprises.get(uscc)

    def roles(self, uscc: str | None) -> frozenset[str]:
        info = self.get(uscc)
        return frozenset() if info is None else info.roles

    def province(self, uscc: str | None) -> str | None:
        info = self.get(uscc)
        return None if info is None else info.province

    def outlet_site(self, site: str | None) -> OutletSite | None:
        if site is None:
            return None
        party = S.party_of(site)
        if party is None:
            return None
        info = self.enterprises.get(party[len(S.PARTY_URN) :])
        if info is None or "recycling_outlet" not in info.roles:
            return None
        found = info.outlets.get(site)
        if found is None:
            # A site not listed in the registration: an outlet of the default kind.
            found = OutletSite(site, COLLECTION, None, frozenset(), info.city)
        return found
