"""The capture hot path's shortcuts give exactly what the plain path gives.

Bulk capture memoises accepted identifier URIs, CBV words and party types, hashes a submission's
events with one :class:`EventHasher`, caches ``Event.epcs_with_roles`` and formats projection
rows through a memo; each shortcut must be invisible in results and in error reports.
"""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from battrace.domain.epcis import event as event_module
from battrace.domain.epcis.event import parse_event
from battrace.domain.epcis.hashid import EventHasher, event_hash_id
from battrace.domain.errors import EventError, InvalidInput
from battrace.domain.identities.uris import check_uri
from battrace.domain.lifecycle.projection import ObjectView, apply, new_view
from battrace.services.projector import time_text, view_row

CELL = "urn:gbt34014:W3JCE12L1000009110000001"
SITE = "urn:uscc:91340100131860916Y:site:pack1"
PARTY = "urn:uscc:91340100131860916Y"
CTX: list[Any] = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"battrace": "https://battrace.org/voc/"},
]


def shipping(epcs: list[Any]) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2024-05-01T08:00:00.000+08:00",
        "eventTimeZoneOffset": "+08:00",
        "epcList": epcs,
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": SITE},
        "bizLocation": {"id": SITE},
        "sourceList": [{"type": "owning_party", "source": PARTY}],
        "destinationList": [{"type": "possessing_party", "destination": PARTY}],
        "bizTransactionList": [{"type": "po", "bizTransaction": "urn:example:po:1"}],
    }


def parse(raw: object) -> Any:
    return parse_event(raw, "eventList[0]", check_uri=check_uri)


def error_of(raw: object) -> tuple[str, str] | None:
    try:
        parse(raw)
    except InvalidInput as exc:
        return exc.field, exc.reason
    return None


def summary(raw: dict[str, Any]) -> tuple[Any, ...]:
    ev = parse(raw)
    return (
        ev.epc_list,
        ev.read_point,
        ev.biz_location,
        ev.biz_step,
        ev.disposition,
        ev.sources,
        ev.destinations,
        ev.biz_transactions,
    )


def test_warm_caches_parse_like_cold_ones() -> None:
    raw = shipping([CELL])
    event_module._ACCEPTED.clear()
    event_module._PARTY_TYPES.clear()
    event_module._VOCAB_WORDS.clear()
    cold = summary(raw)
    assert summary(raw) == cold  # now every URI, word and party type comes from a memo
    assert event_module._accepted(check_uri) >= {CELL, SITE, PARTY}


@pytest.mark.parametrize(
    ("epcs", "field"),
    [
        ([CELL, "urn:gbt34014:W3JCE12L100000911000000"], "eventList[0].epcList[1]"),
        ([CELL, ["not", "a", "string"]], "eventList[0].epcList[1]"),
        ([CELL, {"id": CELL}], "eventList[0].epcList[1]"),
        ([CELL, "no uri"], "eventList[0].epcList[1]"),
    ],
)
def test_a_bad_identifier_after_known_ones_is_named_where_it_is(
    epcs: list[Any], field: str
) -> None:
    parse(shipping([CELL]))  # CELL is now known
    found = error_of(shipping(epcs))
    assert found is not None
    assert found[0].startswith(field)


def test_padded_identifiers_are_stripped_and_not_memoised_as_written() -> None:
    padded = f"  {CELL} "
    ev = parse(shipping([padded, CELL]))
    assert ev.epc_list == (CELL, CELL)
    assert padded not in event_module._accepted(check_uri)


def test_a_bad_party_type_after_good_ones_is_still_refused() -> None:
    parse(shipping([CELL]))
    raw = shipping([CELL])
    raw["sourceList"] = [{"type": "owning_partyX", "source": PARTY}]
    assert error_of(raw) == ("eventList[0].sourceList[0].type", "'owning_partyX' is not a CBV type")
    raw["sourceList"] = [{"type": 3, "source": PARTY}]
    assert error_of(raw) == ("eventList[0].sourceList[0].type", "must be a string")


def test_a_bad_vocabulary_word_after_good_ones_is_still_refused() -> None:
    parse(shipping([CELL]))
    raw = shipping([CELL])
    raw["bizStep"] = "  "
    assert error_of(raw) == ("eventList[0].bizStep", "must be a non-empty string")
    raw["bizStep"] = "no such step"
    found = error_of(raw)
    assert found is not None and found[0] == "eventList[0].bizStep"


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from([CELL, SITE, PARTY, f" {CELL}", "urn:x:y", "bad uri", ""]),
            st.text(max_size=12),
            st.integers(),
            st.none(),
        ),
        max_size=4,
    ),
    st.sampled_from(["shipping", "receiving", " shipping ", "nope!", 7]),
    st.sampled_from(["owning_party", "possessing_party", "location", "x", None]),
)
def test_memoised_parse_matches_a_cold_parse(
    epcs: list[Any], step: object, party_type: object
) -> None:
    raw = shipping(epcs)
    raw["bizStep"] = step
    raw["sourceList"] = [{"type": party_type, "source": PARTY}]
    first = error_of(copy.deepcopy(raw))
    event_module._ACCEPTED.clear()
    event_module._PARTY_TYPES.clear()
    event_module._VOCAB_WORDS.clear()
    cold = error_of(copy.deepcopy(raw))
    warm = error_of(copy.deepcopy(raw))
    assert first == cold == warm
    if cold is None:
        event_module._ACCEPTED.clear()
        cold_summary = summary(raw)
        assert summary(raw) == cold_summary


def test_event_hasher_gives_the_ids_of_event_hash_id() -> None:
    events = [shipping([CELL]), shipping([SITE, CELL]), {**shipping([CELL]), "battrace:x": "1"}]
    hasher = EventHasher(CTX)
    assert [hasher(e) for e in events] == [event_hash_id(e, CTX) for e in events]


def test_event_hasher_reports_a_bad_context_for_every_event() -> None:
    bad = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", 5]
    with pytest.raises(EventError) as plain:
        event_hash_id(shipping([CELL]), bad)
    hasher = EventHasher(bad)
    for _ in range(2):
        with pytest.raises(EventError) as each:
            hasher(shipping([CELL]))
        assert (each.value.field, each.value.reason) == (plain.value.field, plain.value.reason)


def test_roles_are_computed_once_but_handed_out_as_fresh_lists() -> None:
    ev = parse(shipping([CELL, CELL.replace("001", "002")]))
    first = ev.epcs_with_roles()
    first.append(("urn:x:y", "epc"))
    assert ev.epcs_with_roles() == [(CELL, "epc"), (CELL.replace("001", "002"), "epc")]


def test_time_text_is_the_fixed_width_utc_text() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        moment = datetime(
            rng.randint(1, 9998),
            rng.randint(1, 12),
            rng.randint(1, 28),
            rng.randint(0, 23),
            rng.randint(0, 59),
            rng.randint(0, 59),
            rng.choice([0, rng.randint(0, 999_999)]),
            tzinfo=timezone(timedelta(minutes=rng.randint(-840, 840))),
        )
        assert time_text(moment) == moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_view_rows_serialise_the_whole_view() -> None:
    ev = parse(shipping([CELL]))
    ev.event_id = "ni:///sha-256;00?ver=CBV2.0"
    view: ObjectView = new_view(CELL)
    apply(view, ev, "epc")
    view.attributes["chemistry"] = "NCM"
    row = view_row(view)
    assert orjson.loads(row[-1]) == orjson.loads(orjson.dumps(view.to_row()))
    assert row[-1] == orjson.dumps(view.to_row()).decode()
    assert ObjectView.from_row(orjson.loads(row[-1])) == view
