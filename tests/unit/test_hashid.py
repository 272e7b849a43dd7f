"""Event Hash ID: canonicalisation rules (epcis.md §3.2), API and the offline context tables.

Expected pre-hash strings here were produced by the reference implementation
(``epcis-event-hash-generator`` 1.9.3) and checked by hand against §3.2; the differential tests
against the reference itself are in ``tests/integration/test_hashid_reference.py``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

import pytest

from battrace.domain.epcis import hashid, jsonld, vocab
from battrace.domain.epcis.gs1 import canonical_digital_link, check_digit
from battrace.domain.epcis.hashid import (
    canonical_timestamp,
    canonical_value,
    document_events,
    event_hash_id,
    hash_document,
    hash_events,
    prehash_document,
    prehash_string,
)
from battrace.domain.errors import EventError
from tests.reference_data import EPCIS

CTX: list[Any] = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"battrace": "https://battrace.org/voc/"},
]
REFERENCE = EPCIS
HASH_ID = re.compile(r"^ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0$")


def shipping_event() -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2024-03-01T08:00:00.5+08:00",
        "eventTimeZoneOffset": "+08:00",
        "epcList": ["urn:gbt34014:B", "urn:gbt34014:A"],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": "urn:uscc:91310000MA1FL0001X:site:1"},
        "bizTransactionList": [{"type": "po", "bizTransaction": "urn:battrace:po:1"}],
        "sourceList": [{"type": "owning_party", "source": "urn:uscc:A"}],
        "destinationList": [{"type": "owning_party", "destination": "urn:uscc:B"}],
        "ilmd": {"battrace:chemistry": "LFP", "battrace:capacityAh": 280.0},
        "battrace:operator": "OP-1",
        "recordTime": "2024-03-01T09:00:00Z",
        "eventID": "urn:uuid:1",
    }


SHIPPING_PREHASH = (
    "eventType=ObjectEvent"
    "eventTime=2024-03-01T00:00:00.500Z"
    "eventTimeZoneOffset=+08:00"
    "epcListepc=urn:gbt34014:Aepc=urn:gbt34014:B"
    "action=OBSERVE"
    "bizStep=https://ref.gs1.org/cbv/BizStep-shipping"
    "disposition=https://ref.gs1.org/cbv/Disp-in_transit"
    "readPointid=urn:uscc:91310000MA1FL0001X:site:1"
    # the remainder, sorted: b < d < i < s < {
    "bizTransactionListtype=https://ref.gs1.org/cbv/BTT-pobizTransaction=urn:battrace:po:1"
    "destinationListtype=https://ref.gs1.org/cbv/SDT-owning_partydestination=urn:uscc:B"
    "ilmd{https://battrace.org/voc/}capacityAh=280{https://battrace.org/voc/}chemistry=LFP"
    "sourceListtype=https://ref.gs1.org/cbv/SDT-owning_partysource=urn:uscc:A"
    "{https://battrace.org/voc/}operator=OP-1"
)


def general(event: dict[str, Any], context: object = CTX) -> str:
    """The pre-hash string from the general (reference-model) renderer alone."""
    ctx = jsonld.resolve_context(context)
    replace = hashid._replacements(ctx, hashid._vocab_iris(event, ctx))
    return hashid._render_general(event, ctx, replace, frozenset())


def fast(event: dict[str, Any], context: object = CTX) -> str | None:
    """The pre-hash string from the fast renderer, or None where it hands over."""
    try:
        return hashid._Fast(jsonld.resolve_context(context), frozenset()).render(event)
    except hashid._HAND_OVER:
        return None


# -- the whole string ------------------------------------------------------------------------


def test_prehash_string_of_a_battery_shipping_event() -> None:
    assert prehash_string(shipping_event(), CTX) == SHIPPING_PREHASH


def test_event_hash_id_is_sha256_of_the_prehash_in_ni_form() -> None:
    digest = hashlib.sha256(SHIPPING_PREHASH.encode()).hexdigest()
    assert event_hash_id(shipping_event(), CTX) == f"ni:///sha-256;{digest}?ver=CBV2.0"
    assert HASH_ID.match(event_hash_id(shipping_event(), CTX))


def test_fast_and_general_renderers_agree() -> None:
    event = shipping_event()
    assert fast(event) == general(event) == SHIPPING_PREHASH


def test_hash_events_and_hash_document_keep_document_order() -> None:
    first = shipping_event()
    second = {**shipping_event(), "epcList": ["urn:gbt34014:C"]}
    doc = {"@context": CTX, "type": "EPCISDocument", "epcisBody": {"eventList": [first, second]}}
    expected = [event_hash_id(first, CTX), event_hash_id(second, CTX)]
    assert hash_events([first, second], CTX) == expected
    assert hash_document(doc) == expected
    assert expected[0] != expected[1]


def test_the_event_is_not_modified() -> None:
    event = shipping_event()
    before = copy.deepcopy(event)
    event_hash_id(event, CTX)
    general(event)
    assert event == before


# -- rules of §3.2 ------------------------------------------------------------------------------


def test_excluded_fields_do_not_change_the_hash() -> None:
    base = shipping_event()
    changed = {
        **base,
        "recordTime": "2030-01-01T00:00:00Z",
        "eventID": "ni:///sha-256;00?ver=CBV2.0",
        "errorDeclaration": {"declarationTime": "2030-01-01T00:00:00Z", "reason": "incorrect_data"},
        "rdfs:comment": "checked by QA",
        "comment": "also a comment",
    }
    assert event_hash_id(changed, CTX) == event_hash_id(base, CTX)


def test_key_order_does_not_matter() -> None:
    event = shipping_event()
    reordered = dict(reversed(list(event.items())))
    reordered["sourceList"] = [{"source": "urn:uscc:A", "type": "owning_party"}]  # id first
    assert prehash_string(reordered, CTX) == prehash_string(event, CTX)


def test_bare_words_urns_and_web_uris_of_cbv_values_hash_alike() -> None:
    bare = {"type": "ObjectEvent", "eventTime": "2024-01-01T00:00:00Z", "bizStep": "receiving"}
    urn = {**bare, "bizStep": "urn:epcglobal:cbv:bizstep:receiving"}
    web = {**bare, "bizStep": "https://ref.gs1.org/cbv/BizStep-receiving"}
    assert prehash_string(bare) == prehash_string(urn) == prehash_string(web)
    assert "bizStep=https://ref.gs1.org/cbv/BizStep-receiving" in prehash_string(bare)


def test_private_biz_step_uri_is_kept() -> None:
    event = {
        "type": "TransformationEvent",
        "eventTime": "2024-01-01T00:00:00Z",
        "bizStep": vocab.BIZSTEP_RECYCLING,
    }
    assert f"bizStep={vocab.BIZSTEP_RECYCLING}" in prehash_string(event, CTX)


def test_epc_urns_become_canonical_digital_links() -> None:
    event = {
        "type": "ObjectEvent",
        "eventTime": "2024-01-01T00:00:00Z",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],
        "quantityList": [
            {
                "epcClass": "urn:epc:class:lgtin:4012345.012345.998877",
                "quantity": 200.0,
                "uom": "KGM",
            }
        ],
    }
    text = prehash_string(event)
    assert "epcListepc=https://id.gs1.org/01/10614141073464/21/2017" in text
    assert (
        "quantityListquantityElementepcClass=https://id.gs1.org/01/04012345123456/10/998877"
        "quantity=200uom=KGM"
    ) in text


def test_non_gs1_battery_identifiers_pass_unchanged() -> None:
    ids = ["urn:gbt34014:ABCDEFGHIJKLMNOPQRSTUVWX", "urn:vin:LSVAU2180N2183294"]
    event = {"type": "ObjectEvent", "eventTime": "2024-01-01T00:00:00Z", "epcList": ids}
    assert f"epcListepc={ids[0]}epc={ids[1]}" in prehash_string(event)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T08:00:00+08:00", "2024-03-01T00:00:00.000Z"),
        ("2024-03-01T00:30:00.1+01:00", "2024-02-29T23:30:00.100Z"),  # leap day, previous day
        ("2023-12-31T23:00:00.000-05:00", "2024-01-01T04:00:00.000Z"),
        ("2024-03-01T08:00:00Z", "2024-03-01T08:00:00.000Z"),
        ("2024-03-01T08:00:00.1234Z", "2024-03-01T08:00:00.123Z"),
        ("2024-03-01T08:00:00.1235Z", "2024-03-01T08:00:00.124Z"),
        ("2024-03-01T08:00:00.1245Z", "2024-03-01T08:00:00.125Z"),  # half-up (§3.2 rule 10)
        ("2024-03-01T08:00:00.12449999Z", "2024-03-01T08:00:00.124Z"),
        ("2024-03-01T23:59:59.9996+00:00", "2024-03-02T00:00:00.000Z"),  # carries to next day
        ("2024-03-01T08:00:00.123456789+05:30", "2024-03-01T02:30:00.123Z"),
        ("2024-03-01T08:00:00", "2024-03-01T08:00:00.000Z"),  # no offset: read as UTC
        ("2024-03-01 08:00:00+0800", "2024-03-01T00:00:00.000Z"),  # other ISO forms
        ("2023-02-29T08:00:00Z", "2023-02-29T08:00:00Z"),  # no such day: kept
        ("yesterday", "yesterday"),
    ],
)
def test_canonical_timestamp(text: str, expected: str) -> None:
    assert canonical_timestamp(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("26.0", "26"),
        ("0.10", "0.1"),
        ("1e3", "1000"),
        ("007", "7"),  # numeric-looking strings too, as the reference does
        ("+5", "5"),
        ("1_000", "1000"),
        ("nan", "nan"),
        ("inf", "inf"),  # the reference crashes here
        ("1e999", "1e999"),
        ("LFP", "LFP"),
        ("urn:epcglobal:cbv:disp:in_transit", "https://ref.gs1.org/cbv/Disp-in_transit"),
        ("urn:epc:id:sscc:0614141.1234567890", "https://id.gs1.org/00/106141412345678908"),
    ],
)
def test_canonical_value(text: str, expected: str) -> None:
    assert canonical_value(text) == expected


def test_json_numbers_and_booleans() -> None:
    event = {
        "type": "ObjectEvent",
        "eventTime": "2024-01-01T00:00:00Z",
        "battrace:soh": 97.50,
        "battrace:cycles": 1200,
        "battrace:big": 12345678901234567890,  # through float, like the reference
        "battrace:ok": True,  # Python spelling, like the reference 1.9.3
    }
    text = prehash_string(event, CTX)
    assert "{https://battrace.org/voc/}soh=97.5" in text
    assert "{https://battrace.org/voc/}cycles=1200" in text
    assert "{https://battrace.org/voc/}big=12345678901234567168" in text
    assert "{https://battrace.org/voc/}ok=True" in text


def test_values_are_trimmed_and_empty_values_omitted() -> None:
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": "2024-01-01T00:00:00Z",
        "action": "  OBSERVE ",
        "epcList": [],
        "bizLocation": {},
        "ilmd": {},
        "battrace:empty": "",
        "battrace:none": None,
        "battrace:blank": {"battrace:inner": " "},
    }
    assert prehash_string(event, CTX) == (
        "eventType=ObjectEventeventTime=2024-01-01T00:00:00.000Zaction=OBSERVE"
    )


def test_sensor_reports_are_sorted_and_vocabulary_expanded() -> None:
    event = {
        "type": "ObjectEvent",
        "eventTime": "2024-01-01T00:00:00Z",
        "action": "OBSERVE",
        "sensorElementList": [
            {
                "sensorMetadata": {"time": "2024-01-01T08:00:00+08:00", "deviceID": "urn:dev:1"},
                "sensorReport": [
                    {"type": "Voltage", "value": 3.30, "uom": "VLT"},
                    {
                        "type": "Temperature",
                        "value": 25.0,
                        "uom": "CEL",
                        "exception": "ALARM_CONDITION",
                    },
                ],
            }
        ],
    }
    assert prehash_string(event).endswith(
        "sensorElementListsensorElement"
        "sensorMetadatatime=2024-01-01T00:00:00.000ZdeviceID=urn:dev:1"
        "sensorReporttype=https://gs1.org/voc/Temperatureexception=https://gs1.org/voc/"
        "ALARM_CONDITIONvalue=25uom=CEL"
        "sensorReporttype=https://gs1.org/voc/Voltagevalue=3.3uom=VLT"
    )
    assert fast(event, None) == general(event, None)


def test_extension_namespaces_come_from_the_documents_own_prefixes() -> None:
    event = {
        "type": "ObjectEvent",
        "eventTime": "2024-01-01T00:00:00Z",
        "ilmd": {"cbvmda:lotNumber": "L1", "battrace:line": "L3"},
        "battrace:ref": "battrace:thing",
    }
    text = prehash_string(event, CTX)
    # The reference expands only prefixes the document declares (cbvmda comes from the EPCIS
    # context and stays as written, as in the official examples); values are expanded too.
    assert "ilmdcbvmda:lotNumber=L1{https://battrace.org/voc/}line=L3" in text
    assert "{https://battrace.org/voc/}ref=https://battrace.org/voc/thing" in text


def test_event_level_context_declares_prefixes_and_is_not_hashed() -> None:
    event = {
        "@context": {"batt": "https://battrace.org/voc/"},
        "type": "ObjectEvent",
        "eventTime": "2024-01-01T00:00:00Z",
        "batt:operator": "OP-1",
    }
    same = {"type": "ObjectEvent", "eventTime": "2024-01-01T00:00:00Z", "battrace:operator": "OP-1"}
    assert prehash_string(event, CTX) == prehash_string(same, CTX)


def test_ignore_fields_leaves_out_named_extension_fields_only() -> None:
    event = {**shipping_event(), "battrace:captureID": "c-17", "battrace:hash": "x"}
    ignored = ("battrace:captureID", "{https://battrace.org/voc/}hash", "epcList")
    assert prehash_string(event, CTX, ignore_fields=ignored) == SHIPPING_PREHASH


def test_an_event_is_hashed_on_its_own_not_with_its_neighbours() -> None:
    # "shipping" as a plain extension value is expanded only if the event itself has a value
    # that expands to .../BizStep-shipping (the reference looks at the whole document).
    plain = {"type": "ObjectEvent", "eventTime": "2024-01-01T00:00:00Z", "battrace:x": "shipping"}
    neighbour = {"type": "ObjectEvent", "eventTime": "2024-01-01T00:00:00Z", "bizStep": "shipping"}
    doc = {"@context": CTX, "epcisBody": {"eventList": [plain, neighbour]}}
    assert prehash_document(doc)[0].endswith("{https://battrace.org/voc/}x=shipping")
    both = {**plain, "bizStep": "shipping"}
    assert prehash_string(both, CTX).endswith(
        "{https://battrace.org/voc/}x=https://ref.gs1.org/cbv/BizStep-shipping"
    )


def test_rejects_what_is_not_an_event() -> None:
    with pytest.raises(EventError):
        event_hash_id(["not", "an", "event"], CTX)  # type: ignore[arg-type]
    with pytest.raises(EventError):
        event_hash_id({"eventTime": "2024-01-01T00:00:00Z"}, CTX)


# -- documents ----------------------------------------------------------------------------------


def test_document_events_of_each_document_kind() -> None:
    event = shipping_event()
    capture = {"@context": CTX, "type": "EPCISDocument", "epcisBody": {"eventList": [event]}}
    query = {
        "@context": CTX,
        "type": "EPCISQueryDocument",
        "epcisBody": {
            "queryResults": {"queryName": "SimpleEventQuery", "resultsBody": {"eventList": [event]}}
        },
    }
    legacy = {"@context": CTX, "type": "EPCISDocument", "epcisBody": {"event": event}}
    bare = {"@context": CTX, **event}
    for doc in (capture, query, legacy):
        assert document_events(doc) == (CTX, [event], ())
    context, events, ignore = document_events(bare)
    assert (context, events[0]["epcList"], ignore) == (CTX, event["epcList"], ())
    assert hash_document(capture) == hash_document(query) == hash_document(bare)


def test_document_ignore_fields_list() -> None:
    doc = {
        "@context": CTX,
        "type": "EPCISDocument",
        "hashGen:ignoreFields": ["battrace:captureID"],
        "epcisHeader": {"ignoreFields": "battrace:hash, battrace:other"},
        "epcisBody": {
            "eventList": [{**shipping_event(), "battrace:captureID": "c-17", "battrace:hash": "h"}]
        },
    }
    _, _, ignore = document_events(doc)
    assert ignore == ("battrace:captureID", "battrace:hash", "battrace:other")
    assert prehash_document(doc) == [SHIPPING_PREHASH]


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {"epcisBody": {}},
        {"epcisBody": {"eventList": "x"}},
        {"epcisBody": {"queryResults": {}}},
        {"ignoreFields": 3, "epcisBody": {"eventList": []}},
    ],
)
def test_document_events_rejects_malformed_documents(doc: Any) -> None:
    with pytest.raises(EventError):
        document_events(doc)


# -- the general renderer's reference quirks (§3.2 rules 9, 15) --------------------------------


def test_extensions_inside_read_point_follow_its_id() -> None:
    event = {
        "type": "ObjectEvent",
        "eventTime": "2024-01-01T00:00:00Z",
        "readPoint": {"id": "urn:uscc:X:site:1", "battrace:dock": "7"},
    }
    assert prehash_string(event, CTX).endswith(
        "readPointid=urn:uscc:X:site:1{https://battrace.org/voc/}dock=7"
    )


def test_leftovers_are_appended_not_dropped() -> None:
    # A namespace not ending in "/" is not recognised as an extension inside readPoint, so the
    # reference leaves it behind and renders it again, under its parent, in the remainder.
    context = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"ex": "urn:ex:"}]
    event = {
        "type": "ObjectEvent",
        "eventTime": "2024-01-01T00:00:00Z",
        "readPoint": {"id": "urn:uscc:X:site:1", "ex:dock": "7"},
    }
    assert prehash_string(event, context).endswith(
        "readPointid=urn:uscc:X:site:1readPoint{urn:ex:}dock=7"
    )


def test_extension_lists_are_regrouped_like_xml() -> None:
    event = {
        "type": "ObjectEvent",
        "eventTime": "2024-01-01T00:00:00Z",
        "battrace:cellList": ["c2", "c1"],
        "battrace:tags": ["b", "a"],
    }
    text = prehash_string(event, CTX)
    assert text.endswith(
        "{https://battrace.org/voc/}cellList{https://battrace.org/voc/}cell=c1"
        "{https://battrace.org/voc/}cell=c2"
        "{https://battrace.org/voc/}tags=a{https://battrace.org/voc/}tags=b"
    )
    assert fast(event) == general(event) == text


def test_memo_stays_bounded_in_a_long_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashid, "_CACHE_MAX", 100)
    context = [*CTX, {"bounded": "urn:test:bounded:"}]  # a context of its own, fresh memo
    steps = sorted(vocab.BIZ_STEPS)
    events = [
        {
            "type": "ObjectEvent",
            "eventTime": "2024-01-01T00:00:00Z",
            "epcList": [f"urn:gbt34014:{i:024d}"],
            "bizStep": steps[i % len(steps)],
            "bounded:n": f"v{i}",
        }
        for i in range(10_000)
    ]
    hashes = hash_events(events, context)
    caches = jsonld.resolve_context(context).memo["caches"]
    # Checked every 4096 events: at most the limit plus what one such stretch adds.
    assert caches.stored + len(caches.plain) < 100 + 4096 * 4
    assert hashes[::997] == [event_hash_id(e, context) for e in events[::997]]


# -- offline JSON-LD context --------------------------------------------------------------------


def test_context_resolution_is_cached_and_offline() -> None:
    assert jsonld.resolve_context(CTX) is jsonld.resolve_context(json.loads(json.dumps(CTX)))
    unknown = jsonld.resolve_context(["https://example.com/never-fetched.jsonld"])
    assert unknown.namespaces == {}
    with pytest.raises(ValueError):
        jsonld.resolve_context([3])
    with pytest.raises(EventError):
        event_hash_id(shipping_event(), [3])


def test_inline_context_prefixes() -> None:
    ctx = jsonld.resolve_context(
        [CTX[0], {"ex": "base:ns/", "base": "https://x.example/", "term": {"@id": "ex:t"}}]
    )
    assert ctx.expand_iri("ex:a") == "https://x.example/ns/a"  # defined in any order
    assert ctx.expand_iri("gs1:Voltage") == "https://gs1.org/voc/Voltage"
    assert ctx.expand_vocab("term", None) == "https://x.example/ns/t"
    assert (
        ctx.expand_vocab("shipping", jsonld.BIZ_STEP) == "https://ref.gs1.org/cbv/BizStep-shipping"
    )
    # Keys and values are rewritten with the declared prefixes only (as the reference does).
    assert ctx.namespaces == {"ex": "base:ns/", "base": "https://x.example/"}


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="GS1 reference data not available")
def test_builtin_tables_match_the_gs1_context_file() -> None:
    context = json.loads((REFERENCE / "epcis-context.jsonld").read_text())["@context"]

    def scoped(term: str, *path: str) -> dict[str, str]:
        node = context[term]["@context"]
        for step in path:
            node = node[step]["@context"]
        return {k: v for k, v in node.items() if not k.startswith("@") and isinstance(v, str)}

    def expand(table: dict[str, str]) -> dict[str, str]:
        return {
            k: jsonld.GS1_PREFIXES[v.split(":")[0]] + v.split(":", 1)[1] for k, v in table.items()
        }

    assert expand(scoped("bizStep")) == jsonld.BIZ_STEP
    assert expand(scoped("disposition")) == jsonld.DISPOSITION
    persistent = context["persistentDisposition"]["@context"][0]
    assert expand(persistent) == jsonld.DISPOSITION
    assert expand(scoped("bizTransactionList", "type")) == jsonld.BIZ_TRANSACTION_TYPE
    assert expand(scoped("sourceList", "type")) == jsonld.SOURCE_DEST_TYPE
    assert expand(scoped("destinationList", "type")) == jsonld.SOURCE_DEST_TYPE
    assert expand(scoped("errorDeclaration", "reason")) == jsonld.ERROR_REASON
    report = context["sensorElementList"]["@context"]["sensorReport"]["@context"]
    for term, table in (
        ("type", jsonld.MEASUREMENT_TYPE),
        ("exception", jsonld.SENSOR_ALERT),
        ("component", jsonld.COMPONENT),
    ):
        assert expand(report[term]["@context"]) == table
    prefixes = {
        k: v for k, v in context.items() if isinstance(v, str) and not v.startswith(("@", "epcis:"))
    }
    assert {k: v for k, v in prefixes.items() if k in jsonld.GS1_PREFIXES} == dict(
        jsonld.GS1_PREFIXES
    )
    # Which properties take IRIs (compact IRIs in their values expand) and which take words.
    for term, definition in context.items():
        if isinstance(definition, dict) and definition.get("@type") in ("@id", "@vocab"):
            assert term in jsonld.EPCIS_TERMS, term
            kind = jsonld.EPCIS_TERMS[term].kind
            assert (kind == jsonld.ID) == (definition["@type"] == "@id"), term


# -- GS1 identifiers ----------------------------------------------------------------------------


def test_check_digit() -> None:
    assert check_digit("1061414107346") == 4
    assert check_digit("061414100000") == 5  # GLN 0614141000005
    assert check_digit("00614141123456789") == 0


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("urn:epc:id:sgtin:0614141.107346.2017", "https://id.gs1.org/01/10614141073464/21/2017"),
        ("urn:epc:id:sgln:0614141.07346.1234", "https://id.gs1.org/414/0614141073467/254/1234"),
        ("urn:epc:id:sgln:0012345.11111.0", "https://id.gs1.org/414/0012345111112"),
        ("urn:epc:id:pgln:4012345.00225", "https://id.gs1.org/417/4012345002256"),
        ("urn:epc:id:giai:4000001.111", "https://id.gs1.org/8004/4000001111"),
        ("urn:epc:id:gdti:0614141.00001.1618034", "https://id.gs1.org/253/06141410000121618034"),
        ("urn:epc:idpat:sgtin:4012345.012345.*", "https://id.gs1.org/01/04012345123456"),
        (
            "urn:epc:id:sgtin:0614141.107346.a(b)",
            "https://id.gs1.org/01/10614141073464/21/a%28b%29",
        ),
        (
            "https://brand.example/gtin/9506000134352/ser/A1?linkType=all",
            "https://id.gs1.org/01/09506000134352/21/A1",
        ),
        (
            "https://id.gs1.org/01/09506000134352/10/L1/21/A1",
            "https://id.gs1.org/01/09506000134352/21/A1",
        ),
        (
            "https://id.gs1.org/01/09506000134352/22/V1/10/L1",
            "https://id.gs1.org/01/09506000134352/10/L1",
        ),
        ("urn:epc:id:sgtin:0614141.107346", None),
        ("urn:gbt34014:ABC", None),
        ("http://transaction.acme.com/po/12345678", None),
        ("3.14", None),
    ],
)
def test_canonical_digital_link(uri: str, expected: str | None) -> None:
    assert canonical_digital_link(uri) == expected
