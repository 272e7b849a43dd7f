"""Bad input writes nothing and gets a clear error naming the field and the reason."""

from __future__ import annotations

import orjson
import pytest

from battrace.persistence.base import Store
from battrace.services.capture import Ledger
from tests import scenario as sc


@pytest.fixture
def ledger(sqlite_store: Store) -> Ledger:
    sc.register_all(sqlite_store)
    return Ledger(sqlite_store)


def _event(**changes: object) -> dict[str, object]:
    ev = sc.production()[0]
    ev.update(changes)
    return ev


CASES = {
    "malformed JSON": (b'{"type": "EPCISDocument", "epcisBody": ', "document", "not valid JSON"),
    "non-UTF-8 bytes": (b'{"type": "EPCISDocument", "x": "\xff\xfe"}', "document", "UTF-8"),
    "nested 10,000 deep": (
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        "document",
        "nested too deeply",
    ),
    "not an object": (b"[1, 2, 3]", "document", "JSON object"),
    "unknown document type": (b'{"type": "Invoice"}', "type", "not EPCISDocument"),
    "eventList not a list": (
        b'{"type": "EPCISDocument", "epcisBody": {"eventList": 7}}',
        "epcisBody.eventList",
        "list",
    ),
    "unknown event type": (
        sc.doc(_event(type="RecyclingEvent")),
        "eventList[0].type",
        "not an EPCIS 2.0 event type",
    ),
    "eventTime without offset": (
        sc.doc(_event(eventTime="2024-03-05T09:00:00")),
        "eventList[0].eventTime",
        "offset",
    ),
    "eventTime far in the future": (
        sc.doc(_event(eventTime="2099-01-01T00:00:00+08:00")),
        "eventList[0].eventTime",
        "future",
    ),
    "wrong type for epcList": (
        sc.doc(_event(epcList="urn:gbt34014:X")),
        "eventList[0].epcList",
        "list",
    ),
    "wrong type for action": (sc.doc(_event(action=3)), "eventList[0].action", "ADD"),
    "invalid battery code": (
        sc.doc(_event(epcList=["urn:gbt34014:ABCPB01A1B2C3DK35000000!"])),
        "eventList[0].epcList[0]",
        "",
    ),
    "invalid VIN": (
        sc.doc(_event(epcList=["urn:vin:LSVAB123XRA000001"])),
        "eventList[0].epcList[0]",
        "",
    ),
    "invalid USCC": (
        sc.doc(_event(readPoint={"id": "urn:uscc:91350900587527783X:site:plant1"})),
        "eventList[0].readPoint.id",
        "",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_and_writes_nothing(
    ledger: Ledger, sqlite_store: Store, case: str
) -> None:
    data, field, reason = CASES[case]
    result = ledger.capture_document(data, sc.MAKER)
    assert not result.ok and result.captured == 0
    problem = result.rejected[0]
    assert field in problem.field, problem
    assert reason in problem.reason, problem
    assert sqlite_store.head().event_count == 0


def test_a_50_mb_event_is_refused(ledger: Ledger, sqlite_store: Store) -> None:
    big = _event(comment="x" * (50 * 1024 * 1024))
    result = ledger.capture_document(sc.doc(big), sc.MAKER)
    assert not result.ok
    assert result.rejected[0].field == "epcisBody.eventList[0]"
    assert "bytes" in result.rejected[0].reason
    assert sqlite_store.head().event_count == 0


def test_a_50_mb_json_line_is_refused(ledger: Ledger, sqlite_store: Store) -> None:
    line = orjson.dumps(_event(comment="x" * (50 * 1024 * 1024)))
    (result,) = ledger.capture_json_lines([line], sc.MAKER)
    assert not result.ok and result.rejected[0].field == "line 1"
    assert sqlite_store.head().event_count == 0
