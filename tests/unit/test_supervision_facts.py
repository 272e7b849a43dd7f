"""Facts and instants of the regulation engine (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from battrace.domain.epcis import vocab
from battrace.domain.supervision import facts as F
from battrace.domain.supervision.clock import (
    china_day,
    due_after,
    end_of_day,
    parse_as_of,
    text_of,
    us_of,
    us_of_text,
)

CST = timezone(timedelta(hours=8))
PACK = "urn:gbt34014:ABCPB01A1B2C3DG310000001"
MODULE = "urn:gbt34014:ABCMB01A1B2C3DG310000001"
VIN = "urn:vin:LSVAB123XTA000014"


def build(step: str, epcs: list[tuple[str, str]], **kw: object) -> list[F.Fact]:
    args: dict[str, object] = {
        "event_seq": 7,
        "capture_seq": 3,
        "position": 0,
        "event_time": 1,
        "record_time": 2,
        "event_type": "ObjectEvent",
        "action": "OBSERVE",
        "biz_step": step,
        "reporter": "R",
        "location": "urn:uscc:R:site:s",
        "epcs": epcs,
        "sender": None,
        "receiver": None,
    }
    args.update(kw)
    return F.build_facts(**args)  # type: ignore[arg-type]


def test_instants_round_trip_the_ledger_text_exactly() -> None:
    text = "2024-02-29T23:59:59.123456Z"
    assert text_of(us_of_text(text)) == text
    assert us_of(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    with pytest.raises(ValueError, match="naive"):
        us_of(datetime(2024, 1, 1))


def test_china_day_and_end_of_day() -> None:
    # 23:30 UTC on 1 March is already 2 March in China.
    assert china_day(us_of(datetime(2024, 3, 1, 23, 30, tzinfo=UTC))) == date(2024, 3, 2)
    end = end_of_day(date(2024, 3, 4))
    assert text_of(end) == "2024-03-04T16:00:00.000000Z"  # 24:00 China time
    assert china_day(end - 1) == date(2024, 3, 4)
    assert china_day(end) == date(2024, 3, 5)


def test_due_after_counts_chinese_working_days_and_calendar_days() -> None:
    # Spring Festival 2024: 10-17 Feb off, Sundays 4 and 18 Feb worked (调休).
    assert due_after(date(2024, 2, 1), 15, working=True) == (date(2024, 2, 27), False)
    assert due_after(date(2024, 2, 1), 15, working=False) == (date(2024, 2, 16), False)
    # A year the calendar does not cover: weekdays, provisional.
    assert due_after(date(2026, 12, 20), 15, working=True) == (date(2027, 1, 8), True)


def test_parse_as_of() -> None:
    assert parse_as_of("2025-06-30") == end_of_day(date(2025, 6, 30))
    assert parse_as_of("2025-06-30T18:00:00+08:00") == us_of(datetime(2025, 6, 30, 18, tzinfo=CST))
    # A clock time without an offset is China time, never the server's.
    assert parse_as_of("2025-06-30T18:00:00") == parse_as_of("2025-06-30T18:00:00+08:00")
    with pytest.raises(ValueError, match="not a date"):
        parse_as_of("last tuesday")


@pytest.mark.parametrize(
    ("event_type", "action", "biz_step", "vehicle", "step"),
    [
        ("ObjectEvent", "ADD", "commissioning", False, F.COMMISSION),
        ("ObjectEvent", "OBSERVE", "commissioning", False, F.OTHER),
        ("ObjectEvent", "OBSERVE", "decommissioning", True, F.SCRAP),
        ("ObjectEvent", "OBSERVE", "decommissioning", False, F.RETIRE),
        ("ObjectEvent", "OBSERVE", "accepting", False, F.RECEIVE),
        ("ObjectEvent", "OBSERVE", "collecting", False, F.COLLECT),
        ("AssociationEvent", "DELETE", "removing", True, F.REMOVE),
        ("AggregationEvent", "ADD", "installing", True, F.INSTALL),
        ("AssociationEvent", "DELETE", "assembling", False, F.DETACH),
        ("TransformationEvent", None, vocab.BIZSTEP_RECYCLING, False, F.RECYCLE),
        ("TransformationEvent", None, vocab.BIZSTEP_RECODING, False, F.RECODE),
        ("TransformationEvent", None, "disassembling", False, F.DISMANTLE),
        ("ObjectEvent", "OBSERVE", "storing", False, F.OTHER),
    ],
)
def test_classify(
    event_type: str, action: str | None, biz_step: str, vehicle: bool, step: str
) -> None:
    assert F.classify(event_type, action, biz_step, vehicle) == step


def test_shipping_fact_names_the_receiver_and_is_primary_once() -> None:
    facts = build("shipping", [(PACK, "epc"), (MODULE, "epc")], receiver="RCV", sender="R")
    assert [f.subject for f in facts] == [MODULE, PACK]  # canonical order, not document order
    assert [f.primary for f in facts] == [True, False]
    assert {f.party for f in facts} == {"RCV"}
    assert {f.step for f in facts} == {F.SHIP}


def test_scrapping_links_vehicle_and_pack_both_ways() -> None:
    facts = build("decommissioning", [(VIN, "epc"), (PACK, "epc")])
    by = {f.subject: f for f in facts}
    assert by[PACK].party == VIN and by[PACK].step == F.SCRAP
    assert by[VIN].party == PACK and by[VIN].step == F.SCRAP


def test_commissioning_makes_facts_for_packs_only_but_always_one_primary() -> None:
    cells = [(f"urn:gbt34014:ABCCB01A1B2C3DG31000000{i}", "epc") for i in range(1, 4)]
    facts = build("commissioning", cells, action="ADD")
    assert len(facts) == 1 and facts[0].primary and facts[0].step == F.COMMISSION
    packs = build("commissioning", [(PACK, "epc"), *cells], action="ADD")
    assert [f.subject for f in packs] == [PACK]


def test_an_event_naming_nothing_is_its_own_subject() -> None:
    facts = build("recycling", [], event_type="TransformationEvent", action=None)
    assert [f.subject for f in facts] == ["event:7"]


def test_receipt_takes_the_mass_and_the_sender() -> None:
    facts = build("receiving", [(PACK, "epc")], sender="S", mass_of={PACK: 380.0}.get)
    assert facts[0].kg == 380.0 and facts[0].party == "S"


def test_parties_from_a_raw_body_prefer_the_possessing_party() -> None:
    body = {
        "sourceList": [
            {"type": "owning_party", "source": "urn:uscc:OWNER"},
            {"type": "https://ref.gs1.org/cbv/SDT-possessing_party", "source": "urn:uscc:HOLDER"},
        ],
        "destinationList": [{"type": "owning_party", "destination": "urn:uscc:DEST:site:x"}],
    }
    assert F.parties_from_body(body) == ("HOLDER", "DEST")
    assert F.parties_from_body({}) == (None, None)
