"""The role × business-step table (services.authorisation.STEP_RULES), row by row: for every row,
every role is tried — the row's roles may report the step, every other role may not — and the
table in docs/api.md says the same."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from battrace.domain.epcis import vocab
from battrace.domain.epcis.event import Event, parse_event
from battrace.domain.errors import NotAuthorised
from battrace.domain.identities.uris import check_uri
from battrace.domain.lifecycle import builders as b
from battrace.persistence.base import EnterpriseRow
from battrace.services import authorisation as authz
from battrace.services.enterprises import ROLES
from tests import scenario as sc

ME = sc.MAKER  # the reporter in every case; only its roles change
OTHER = sc.DEALER
SITE = b.site_uri(ME, "s1")


def _private(event: dict[str, Any], step: str) -> dict[str, Any]:
    return {**event, "bizStep": step}


T = sc.at(1)
SAMPLES: dict[str, Callable[[], dict[str, Any]]] = {
    "commissioning": lambda: b.commission([sc.PACK], site=SITE, time=T),
    "assembling": lambda: b.assemble(sc.PACK, [sc.MODULE], site=SITE, time=T),
    "installing": lambda: b.install(sc.PACK, sc.VIN, site=SITE, time=T),
    "retail_selling": lambda: b.sell(sc.VIN, sc.PACK, site=SITE, time=T),
    vocab.BIZSTEP_SELLING: lambda: _private(
        b.sell(sc.VIN, sc.PACK, site=SITE, time=T), vocab.BIZSTEP_SELLING
    ),
    "repairing": lambda: b.repair(sc.PACK, site=SITE, time=T, vin=sc.VIN),
    "removing": lambda: b.remove(sc.PACK, sc.VIN, site=SITE, time=T),
    "replacing": lambda: b.replace(sc.PACK, sc.VIN, site=SITE, time=T),
    authz.VEHICLE_SCRAPPING: lambda: b.scrap_vehicle(
        sc.VIN, site=SITE, time=T, certificate="31234567-2024-000001", pack=sc.PACK
    ),
    vocab.BIZSTEP_SCRAPPING: lambda: _private(
        b.scrap_vehicle(sc.VIN, site=SITE, time=T, certificate="31234567-2024-000001"),
        vocab.BIZSTEP_SCRAPPING,
    ),
    "decommissioning": lambda: b.retire(sc.PACK, site=SITE, time=T),
    "collecting": lambda: b.collect(sc.PACK, site=SITE, time=T),
    vocab.BIZSTEP_RECODING: lambda: b.recode(sc.PACK, sc.CASCADE_CODE, site=SITE, time=T),
    "disassembling": lambda: b.dismantle(sc.PACK, sc.MODULE, site=SITE, time=T),
    vocab.BIZSTEP_RECYCLING: lambda: b.recycle(sc.MODULE, {"black_mass": 1.0}, site=SITE, time=T),
    "destroying": lambda: b.dispose(sc.PACK, site=SITE, time=T),
    authz.ANY_STEP: lambda: b.ship(
        sc.PACK, sender=f"urn:uscc:{ME}", receiver=f"urn:uscc:{OTHER}", site=SITE, time=T
    ),
}


def _event(raw: dict[str, Any]) -> Event:
    return parse_event(raw, "event", check_uri=check_uri)


def _reporter(role: str, qualified: bool = True) -> EnterpriseRow:
    quals = [{"kind": k} for k in ("recycling", "cascade_use")] if qualified else []
    return EnterpriseRow(ME, "测试", "", "35", [role], qualifications=quals)


def _owner(code: str) -> str | None:
    return ME  # every manufacturer code is the reporter's: only the role decides here


def test_every_row_has_a_sample() -> None:
    assert set(SAMPLES) == {r.key for r in authz.STEP_RULES}


@pytest.mark.parametrize("rule", authz.STEP_RULES, ids=lambda r: r.key.rsplit("/", 1)[-1])
def test_row(rule: authz.StepRule) -> None:
    event = _event(SAMPLES[rule.key]())
    assert authz.rule_for(event) is rule
    for role in ROLES:
        if role in rule.roles:
            authz.check_event(event, "event", _reporter(role), _owner)
        else:
            with pytest.raises(NotAuthorised) as err:
                authz.check_event(event, "event", _reporter(role), _owner)
            assert err.value.field == "event.bizStep"
            assert role in err.value.reason
    if rule.qualification is not None:
        for role in rule.roles:
            with pytest.raises(NotAuthorised, match="qualification"):
                authz.check_event(event, "event", _reporter(role, qualified=False), _owner)


def test_regulators_report_nothing() -> None:
    for rule in authz.STEP_RULES:
        assert not rule.roles & authz.REGULATOR_ROLES, rule.key
    assert not authz.may_capture(_reporter("regulator_national"))
    assert authz.may_capture(_reporter("dealer"))


def test_events_of_batteries_carry_the_reporters_site() -> None:
    raw = b.inspect(
        sc.PACK,
        capacity_ah=1,
        rated_ah=2,
        resistance_mohm=1,
        voltage_v=1,
        site=SITE,
        time=T,
    )
    del raw["readPoint"], raw["bizLocation"]
    with pytest.raises(NotAuthorised, match="must carry a site") as err:
        authz.check_event(_event(raw), "event", _reporter("recycler"), _owner)
    assert err.value.field == "event.bizLocation"
    # an event about other things (a GS1 key) may come from a GLN location or none
    other = {**raw, "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"]}
    authz.check_event(_event(other), "event", _reporter("recycler"), _owner)


def test_a_shipment_is_reported_by_its_sender() -> None:
    raw = b.ship(sc.PACK, sender=f"urn:uscc:{OTHER}", receiver=f"urn:uscc:{ME}", site=SITE, time=T)
    with pytest.raises(NotAuthorised, match="reported by its sender") as err:
        authz.check_event(_event(raw), "event", _reporter("dealer"), _owner)
    assert err.value.field == "event.sourceList[0].source"


def test_commissioning_codes_of_another_maker_is_refused_even_for_a_maker() -> None:
    event = _event(SAMPLES["commissioning"]())
    with pytest.raises(NotAuthorised, match="registered to"):
        authz.check_event(event, "event", _reporter("battery_maker"), lambda code: OTHER)


def _doc_row(text: str, rule: authz.StepRule) -> str:
    for line in text.splitlines():
        if rule.key == authz.ANY_STEP and line.startswith("| *any other"):
            return line
        if line.startswith(f"| `{rule.key}` |"):
            return line
    raise AssertionError(f"docs/api.md has no row for {rule.key}")


def test_docs_table_lists_every_row() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    for rule in authz.STEP_RULES:
        row = _doc_row(text, rule)
        roles_cell = row.split("|")[2]
        if rule.key == authz.ANY_STEP:
            assert "every reporting role" in roles_cell
        else:
            assert set(re.findall(r"`([a-z_]+)`", roles_cell)) == set(rule.roles), rule.key
        if rule.qualification:
            assert f"`{rule.qualification}` qualification" in row
