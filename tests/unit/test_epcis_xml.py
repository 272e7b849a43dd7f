"""EPCIS 2.0 XML binding: mapping to the JSON-LD shape, safety, writing and round trips.

The official examples are checked against the reference implementation in
tests/integration/test_xml_reference.py; here the rules are pinned one by one on small documents.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from battrace.domain.epcis import vocab
from battrace.domain.epcis.document import STANDARD_CONTEXT, Limits
from battrace.domain.epcis.event import parse_event
from battrace.domain.epcis.hashid import hash_events, prehash_string
from battrace.domain.epcis.xml import (
    MAX_DEPTH,
    XML_DEVIATIONS,
    events_to_xml,
    parse_xml_document,
    xml_event_path,
)
from battrace.domain.errors import InvalidInput
from battrace.domain.identities import check_uri, format_battery_code, make_uscc
from battrace.domain.identities.uris import material_uri, party_uri, site_uri
from battrace.domain.lifecycle import builders

FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
BATTRACE = {"battrace": vocab.BATTRACE_VOCAB}


def doc(events: str, namespaces: str = "", root: str = "epcis:EPCISDocument") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<{root} xmlns:epcis="urn:epcglobal:epcis:xsd:2" {namespaces} schemaVersion="2.0" '
        'creationDate="2025-01-01T00:00:00Z">'
        f"<EPCISBody><EventList>{events}</EventList></EPCISBody></{root}>"
    ).encode()


OBJECT_EVENT = """
<ObjectEvent>
  <eventTime>2025-03-01T08:00:00.000+08:00</eventTime>
  <eventTimeZoneOffset>+08:00</eventTimeZoneOffset>
  <epcList><epc>urn:gbt34014:ABCPB010000001E310000042</epc></epcList>
  <action>ADD</action>
  <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
  <disposition>https://ref.gs1.org/cbv/Disp-active</disposition>
  <readPoint><id>urn:uscc:91110105MA01ABCD5F:site:plant-1</id></readPoint>
  {extra}
</ObjectEvent>"""


def one(extra: str = "", namespaces: str = "") -> tuple[Any, dict[str, Any]]:
    parsed = parse_xml_document(doc(OBJECT_EVENT.format(extra=extra), namespaces))
    assert len(parsed.events) == 1
    return parsed.context, parsed.events[0]


def xml_error(data: bytes, **kwargs: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        parse_xml_document(data, **kwargs)
    return info.value


# -- mapping ------------------------------------------------------------------------------------


def test_standard_fields_take_the_json_ld_shape() -> None:
    context, event = one()
    assert context == [STANDARD_CONTEXT, {}]
    assert event == {
        "type": "ObjectEvent",
        "eventTime": "2025-03-01T08:00:00.000+08:00",
        "eventTimeZoneOffset": "+08:00",
        "epcList": ["urn:gbt34014:ABCPB010000001E310000042"],
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": {"id": "urn:uscc:91110105MA01ABCD5F:site:plant-1"},
    }
    parse_event(event, check_uri=check_uri, now=FUTURE)


def test_every_cbv_spelling_becomes_the_bare_word_and_private_values_stay() -> None:
    events = "".join(
        OBJECT_EVENT.replace("urn:epcglobal:cbv:bizstep:commissioning", step).format(extra="")
        for step in (
            "urn:epcglobal:cbv:bizstep:shipping",
            "https://ref.gs1.org/cbv/BizStep-shipping",
            "cbv:BizStep-shipping",
            "  urn:epcglobal:cbv:bizstep:shipping\n",
            "urn:epcglobal:cbv:bizstep:not_a_cbv_step",
            "https://battrace.org/voc/BizStep-recycling",
        )
    )
    steps = [e["bizStep"] for e in parse_xml_document(doc(events)).events]
    assert steps == [
        "shipping",
        "shipping",
        "shipping",
        "shipping",
        "urn:epcglobal:cbv:bizstep:not_a_cbv_step",
        "https://battrace.org/voc/BizStep-recycling",
    ]


def test_quantities_are_numbers_and_lists_keep_their_order() -> None:
    _, event = one(
        """<quantityList>
          <quantityElement><epcClass>urn:battrace:material:black_mass</epcClass>
            <quantity>1250.500</quantity><uom>KGM</uom></quantityElement>
          <quantityElement><epcClass>urn:battrace:material:copper</epcClass>
            <quantity>+12</quantity></quantityElement>
          <quantityElement><epcClass>urn:battrace:material:steel</epcClass></quantityElement>
        </quantityList>"""
    )
    assert event["quantityList"] == [
        {"epcClass": "urn:battrace:material:black_mass", "quantity": 1250.5, "uom": "KGM"},
        {"epcClass": "urn:battrace:material:copper", "quantity": 12},
        {"epcClass": "urn:battrace:material:steel"},
    ]


def test_transactions_sources_and_destinations() -> None:
    _, event = one(
        """<bizTransactionList>
          <bizTransaction type="urn:epcglobal:cbv:btt:desadv">urn:battrace:desadv:0042</bizTransaction>
          <bizTransaction>
              http://transaction.example.com/po/1</bizTransaction>
          <bizTransaction type="https://battrace.org/voc/BTT-scrapping_certificate">urn:x:1</bizTransaction>
        </bizTransactionList>
        <sourceList><source type="urn:epcglobal:cbv:sdt:owning_party">urn:uscc:A</source></sourceList>
        <destinationList>
          <destination type="cbv:SDT-possessing_party">urn:uscc:B</destination>
        </destinationList>"""
    )
    assert event["bizTransactionList"] == [
        {"type": "desadv", "bizTransaction": "urn:battrace:desadv:0042"},
        {"bizTransaction": "http://transaction.example.com/po/1"},
        {"type": vocab.BTT_SCRAPPING_CERTIFICATE, "bizTransaction": "urn:x:1"},
    ]
    assert event["sourceList"] == [{"type": "owning_party", "source": "urn:uscc:A"}]
    assert event["destinationList"] == [{"type": "possessing_party", "destination": "urn:uscc:B"}]


def test_sensor_reports_are_typed_and_gs1_terms_become_bare_words() -> None:
    _, event = one(
        """<sensorElementList><sensorElement>
          <sensorMetadata time="2025-03-01T08:00:00+08:00" deviceID="urn:x:bms-1"/>
          <sensorReport type="gs1:Voltage" value="3.70" uom="VLT"/>
          <sensorReport type="https://gs1.org/voc/Dimensionless" value="96" uom="P1"
              exception="gs1:ALARM_CONDITION" booleanValue="1" component="cbv:Comp-x"
              stringValue=" ok " hexBinaryValue="F0" battrace:ratedCapacityAh="150.0"/>
          <sensorReport type="example:private" minValue="-1.5E2" percRank="50"/>
        </sensorElement></sensorElementList>""",
        'xmlns:battrace="https://battrace.org/voc/"',
    )
    element = event["sensorElementList"][0]
    assert element["sensorMetadata"] == {
        "time": "2025-03-01T08:00:00+08:00",
        "deviceID": "urn:x:bms-1",
    }
    assert element["sensorReport"] == [
        {"type": "Voltage", "value": 3.7, "uom": "VLT"},
        {
            "type": "Dimensionless",
            "exception": "ALARM_CONDITION",
            "value": 96,
            "component": "x",
            "stringValue": "ok",
            "booleanValue": True,
            "hexBinaryValue": "F0",
            "uom": "P1",
            "battrace:ratedCapacityAh": "150.0",
        },
        {"type": "example:private", "minValue": -150.0, "percRank": 50},
    ]


def test_ilmd_and_extensions_use_the_documents_prefixes() -> None:
    context, event = one(
        """<ilmd>
          <battrace:chemistry>LFP</battrace:chemistry>
          <battrace:ratedEnergyKWh>75.5</battrace:ratedEnergyKWh>
          <battrace:cells><battrace:count>96</battrace:count><battrace:maker>CATL</battrace:maker></battrace:cells>
        </ilmd>
        <battrace:note>first</battrace:note>
        <battrace:note>second</battrace:note>""",
        'xmlns:battrace="https://battrace.org/voc/"',
    )
    assert context == [STANDARD_CONTEXT, BATTRACE]
    assert event["ilmd"] == {
        "battrace:chemistry": "LFP",
        "battrace:ratedEnergyKWh": "75.5",
        "battrace:cells": {"battrace:count": "96", "battrace:maker": "CATL"},
    }
    assert event["battrace:note"] == ["first", "second"]
    parse_event(event, check_uri=check_uri, now=FUTURE)


def test_attributes_of_extension_elements_are_fields_and_text_goes_to_hash_text() -> None:
    # The reference hashes xsi:type like any other attribute, so it is kept (XML_DEVIATIONS
    # lists only what differs); "#text" is the reference's JSON convention for such a text.
    _, event = one(
        """<ex:mass unit="kg" xsi:type="xsd:decimal">412.5</ex:mass>
        <ex:flag xsi:nil="true"/>""",
        'xmlns:ex="https://example.com/ext/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"',
    )
    assert event["ex:mass"] == {"#text": "412.5", "unit": "kg", "xsi:type": "xsd:decimal"}
    assert event["ex:flag"] == {"xsi:nil": "true"}


def test_xsi_on_standard_fields_is_typing_not_data() -> None:
    _, event = one(
        """<quantityList><quantityElement><epcClass>urn:x:c</epcClass>
          <quantity xsi:nil="true"/></quantityElement></quantityList>
        <bizLocation xsi:type="epcis:BusinessLocationType"><id>urn:x:loc</id></bizLocation>""",
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"',
    )
    assert event["quantityList"] == [{"epcClass": "urn:x:c"}]
    assert event["bizLocation"] == {"id": "urn:x:loc"}
    assert "xsi-on-standard-fields" in XML_DEVIATIONS


def test_extension_wrappers_dissolve_like_in_the_reference() -> None:
    _, event = one(
        """<extension><ilmd><ex:lot>L1</ex:lot></ilmd></extension>
        <baseExtension><ex:a>1</ex:a></baseExtension>""",
        'xmlns:ex="https://example.com/ext/"',
    )
    assert event["ilmd"] == {"ex:lot": "L1"}
    assert event["ex:a"] == "1"


def test_list_named_extensions_take_the_json_list_shape() -> None:
    _, event = one(
        """<ex:cellList><ex:cell>C1</ex:cell><ex:cell>C2</ex:cell></ex:cellList>
        <ex:otherList><ex:x>1</ex:x></ex:otherList>
        <ex:pairList><ex:pair>1</ex:pair></ex:pairList><ex:pairList><ex:pair>2</ex:pair></ex:pairList>""",
        'xmlns:ex="https://example.com/ext/"',
    )
    assert event["ex:cellList"] == ["C1", "C2"]
    assert event["ex:otherList"] == {"ex:x": "1"}
    assert event["ex:pairList"] == [{"ex:pair": "1"}, {"ex:pair": "2"}]


def test_unqualified_children_and_mixed_text_inside_extensions() -> None:
    _, event = one(
        '<ex:address kind="plant">Building 3<Street>1 Road</Street><City>Ningde</City></ex:address>',
        'xmlns:ex="https://example.com/ext/"',
    )
    assert event["ex:address"] == {
        "#text": "Building 3",
        "kind": "plant",
        "Street": "1 Road",
        "City": "Ningde",
    }


def test_context_prefixes_avoid_protected_terms_and_value_prefixes() -> None:
    # cbvmda with another IRI would redefine a protected term; "example" is used as a value
    # prefix, which the hash would expand if the context declared it (epcis.md §3.2 rule 16).
    context, event = one(
        """<ilmd><cbvmda:lotNumber>L1</cbvmda:lotNumber></ilmd>
        <example:ref>example:x</example:ref>
        <std:lotNumber>L2</std:lotNumber>
        <def:x xmlns:def="https://default.example/">1</def:x>
        <y xmlns="https://default2.example/">2</y>""",
        'xmlns:cbvmda="urn:epcglobal:cbv:mda" xmlns:example="https://example.com/ns/" '
        'xmlns:std="urn:epcglobal:cbv:mda:"',
    )
    assert context[1] == {
        "cbvmda_1": "urn:epcglobal:cbv:mda",
        "example_1": "https://example.com/ns/",
        "def": "https://default.example/",
        "ns_1": "https://default2.example/",
    }
    assert event["ilmd"] == {"cbvmda_1:lotNumber": "L1"}
    assert event["example_1:ref"] == "example:x"
    # The EPCIS context's own namespace keeps its standard, undeclared prefix.
    assert event["cbvmda:lotNumber"] == "L2"
    assert event["def:x"] == "1" and event["ns_1:y"] == "2"
    assert prehash_string(event, context).endswith(
        "{https://default.example/}x=1{https://default2.example/}y=2"
        "{https://example.com/ns/}ref=example:x"
    )


def test_gs1_and_cbv_curies_in_values_are_expanded_like_the_reference() -> None:
    _, event = one("<ex:unit>gs1:Temperature</ex:unit>", 'xmlns:ex="https://example.com/ext/"')
    assert event["ex:unit"] == "https://gs1.org/voc/Temperature"


def test_event_attributes_comments_and_processing_instructions() -> None:
    data = doc(
        '<!-- a comment --><?pi data?><ObjectEvent ex:origin="bms">'
        + OBJECT_EVENT.format(extra="<!-- inside -->").split("<ObjectEvent>", 1)[1],
        'xmlns:ex="https://example.com/ext/"',
    )
    event = parse_xml_document(data).events[0]
    assert event["ex:origin"] == "bms"
    assert "comment" not in str(event)


def test_every_event_type_and_the_error_declaration() -> None:
    t = "<eventTime>2025-03-01T08:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>"
    events = f"""
    <AggregationEvent>{t}<parentID>urn:x:p</parentID><childEPCs><epc>urn:x:c</epc></childEPCs>
      <action>ADD</action><childQuantityList><quantityElement><epcClass>urn:x:k</epcClass>
      <quantity>2</quantity><uom>EA</uom></quantityElement></childQuantityList></AggregationEvent>
    <TransformationEvent>{t}<inputEPCList><epc>urn:x:i</epc></inputEPCList>
      <outputQuantityList><quantityElement><epcClass>urn:x:o</epcClass><quantity>1.5</quantity>
      <uom>KGM</uom></quantityElement></outputQuantityList>
      <transformationID>urn:x:t</transformationID></TransformationEvent>
    <TransactionEvent>{t}<bizTransactionList><bizTransaction type="urn:epcglobal:cbv:btt:po">urn:x:po</bizTransaction></bizTransactionList>
      <epcList><epc>urn:x:e</epc></epcList><action>OBSERVE</action></TransactionEvent>
    <AssociationEvent>{t}<errorDeclaration><declarationTime>2025-03-02T00:00:00Z</declarationTime>
      <reason>urn:epcglobal:cbv:er:incorrect_data</reason><correctiveEventIDs>
      <correctiveEventID>urn:uuid:1</correctiveEventID></correctiveEventIDs>
      <ex:by>auditor</ex:by></errorDeclaration>
      <certificationInfo>urn:x:cert</certificationInfo>
      <parentID>urn:x:vehicle</parentID><childEPCs><epc>urn:x:pack</epc></childEPCs>
      <action>ADD</action><bizStep>urn:epcglobal:cbv:bizstep:installing</bizStep>
      <persistentDisposition><unset>urn:epcglobal:cbv:disp:inactive</unset><set>urn:epcglobal:cbv:disp:active</set>
      <set>https://battrace.org/voc/Disp-x</set></persistentDisposition></AssociationEvent>"""
    parsed = parse_xml_document(doc(events, 'xmlns:ex="https://example.com/ext/"'))
    for i, event in enumerate(parsed.events):
        parse_event(event, f"eventList[{i}]", now=FUTURE)
    association = parsed.events[3]
    assert association["errorDeclaration"] == {
        "declarationTime": "2025-03-02T00:00:00Z",
        "reason": "incorrect_data",
        "correctiveEventIDs": ["urn:uuid:1"],
        "ex:by": "auditor",
    }
    assert association["persistentDisposition"] == {
        "unset": ["inactive"],
        "set": ["active", "https://battrace.org/voc/Disp-x"],
    }
    assert parsed.events[1]["outputQuantityList"][0]["quantity"] == 1.5


def test_query_documents() -> None:
    data = (
        b'<epcisq:EPCISQueryDocument xmlns:epcisq="urn:epcglobal:epcis-query:xsd:2" '
        b'schemaVersion="2.0" creationDate="2025-01-01T00:00:00Z"><EPCISBody>'
        b"<epcisq:QueryResults><queryName>SimpleEventQuery</queryName><resultsBody><EventList>"
        + OBJECT_EVENT.format(extra="").encode()
        + b"</EventList></resultsBody></epcisq:QueryResults></EPCISBody></epcisq:EPCISQueryDocument>"
    )
    parsed = parse_xml_document(data)
    assert parsed.kind == "EPCISQueryDocument"
    assert parsed.events[0]["bizStep"] == "commissioning"
    bad = data.replace(b"<eventTime>", b"<eventTime xmlns:q='urn:x' q:a='1'>")
    err = xml_error(bad)
    assert err.field == "EPCISBody.QueryResults.resultsBody.EventList.ObjectEvent[0].eventTime.@q:a"


def test_the_header_and_other_body_content_are_ignored() -> None:
    data = doc(OBJECT_EVENT.format(extra="")).replace(
        b"<EPCISBody>",
        b"<EPCISHeader><sbdh:StandardBusinessDocumentHeader xmlns:sbdh='urn:sbdh'>"
        b"<sbdh:HeaderVersion>1.0</sbdh:HeaderVersion></sbdh:StandardBusinessDocumentHeader>"
        b"</EPCISHeader><EPCISBody>",
    )
    assert len(parse_xml_document(data).events) == 1


# -- errors name the element ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "field", "reason"),
    [
        (
            "<quantityList><quantityElement><epcClass>urn:x</epcClass><quantity>12kg</quantity>"
            "</quantityElement></quantityList>",
            "EPCISBody.EventList.ObjectEvent[1].quantityList.quantityElement[0].quantity",
            "is not an xsd:decimal",
        ),
        ("<colour>red</colour>", "EPCISBody.EventList.ObjectEvent[1].colour", "need a namespace"),
        (
            "<action>ADD</action>",
            "EPCISBody.EventList.ObjectEvent[1].action",
            "appears more than once",
        ),
        (
            "<epcList><id>urn:x</id></epcList>",
            "EPCISBody.EventList.ObjectEvent[1].epcList",
            "appears more than once",
        ),
        (
            '<sensorElementList><sensorElement><sensorReport value="hot"/></sensorElement></sensorElementList>',
            "EPCISBody.EventList.ObjectEvent[1].sensorElementList.sensorElement[0].sensorReport[0].@value",
            "xsd:double",
        ),
        (
            '<sensorElementList><sensorElement><sensorReport booleanValue="yes"/></sensorElement></sensorElementList>',
            "EPCISBody.EventList.ObjectEvent[1].sensorElementList.sensorElement[0].sensorReport[0].@booleanValue",
            "not true, false",
        ),
        ("<ilmd><lot>1</lot></ilmd>", "EPCISBody.EventList.ObjectEvent[1].ilmd.lot", "namespaced"),
        (
            "<epcis:eventTime>2025-01-01T00:00:00Z</epcis:eventTime>",
            "EPCISBody.EventList.ObjectEvent[1].epcis:eventTime",
            "unqualified",
        ),
        (
            "<readPoint><id>a</id><id>b</id></readPoint>",
            "EPCISBody.EventList.ObjectEvent[1].readPoint",
            "appears more than once",
        ),
    ],
)
def test_errors_name_the_element_path(extra: str, field: str, reason: str) -> None:
    good = OBJECT_EVENT.format(extra="")
    err = xml_error(doc(good + OBJECT_EVENT.format(extra=extra)))
    assert err.field == field, err
    assert reason in err.reason and "(line " in err.reason


def test_validation_errors_can_name_the_xml_element() -> None:
    late = OBJECT_EVENT.format(extra="").replace(
        "2025-03-01T08:00:00.000+08:00", "2999-01-01T00:00:00Z"
    )
    parsed = parse_xml_document(doc(OBJECT_EVENT.format(extra="") * 3 + late))
    paths = [xml_event_path(parsed.kind, i, e) for i, e in enumerate(parsed.events)]
    assert paths[3] == "EPCISBody.EventList.ObjectEvent[3]"
    with pytest.raises(InvalidInput) as info:
        for event, path in zip(parsed.events, paths, strict=True):
            parse_event(event, path)
    assert info.value.field == "EPCISBody.EventList.ObjectEvent[3].eventTime"
    assert xml_event_path("EPCISQueryDocument", 0, {}) == (
        "EPCISBody.QueryResults.resultsBody.EventList.event[0]"
    )


def test_the_event_index_counts_every_event_type() -> None:
    bad = "<TransactionEvent><bogus/></TransactionEvent>"
    err = xml_error(doc(OBJECT_EVENT.format(extra="") * 2 + bad))
    assert err.field == "EPCISBody.EventList.TransactionEvent[2].bogus"


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        (doc("<QuantityEvent/>"), "EPCISBody.EventList.QuantityEvent[0]", "not an EPCIS 2.0 event"),
        (
            b'<epcismd:EPCISMasterDataDocument xmlns:epcismd="urn:epcglobal:epcis-masterdata:xsd:2"/>',
            "document",
            "root element is EPCISMasterDataDocument",
        ),
        (
            b'<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:1"><EPCISBody/></epcis:EPCISDocument>',
            "document",
            "EPCIS 1.x",
        ),
        (
            b'<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2"><EPCISBody/></epcis:EPCISDocument>',
            "EPCISBody.EventList",
            "is required",
        ),
        (b"<EPCISDocument/>", "document", "(no namespace)"),
        (b"", "document", "not well-formed"),
        (doc("<ObjectEvent></Object>"), "document", "not well-formed"),
        (doc("<ObjectEvent>&undefined;</ObjectEvent>"), "document", "not well-formed"),
    ],
)
def test_documents_that_are_not_epcis_2_event_documents(
    data: bytes, field: str, reason: str
) -> None:
    err = xml_error(data)
    assert err.field == field and reason in err.reason, err


# -- attacks: every one is an InvalidInput, nothing else ------------------------------------------


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2"><EPCISBody><EventList>
<ObjectEvent><eventTime>&lol9;</eventTime></ObjectEvent></EventList></EPCISBody></epcis:EPCISDocument>
"""


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(BILLION_LAUGHS, id="billion-laughs"),
        pytest.param(
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            + doc("<ObjectEvent><eventTime>&xxe;</eventTime></ObjectEvent>").split(b"?>", 1)[1],
            id="external-entity",
        ),
        pytest.param(
            b'<?xml version="1.0"?><!DOCTYPE d SYSTEM "file:///etc/passwd">'
            + doc("").split(b"?>", 1)[1],
            id="external-dtd",
        ),
        pytest.param(
            b'<!DOCTYPE d PUBLIC "-//X//DTD X//EN" "http://127.0.0.1:9/x.dtd">' + doc(""),
            id="public-dtd",
        ),
        pytest.param(
            b'<!DOCTYPE d [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>' + doc(""),
            id="parameter-entity",
        ),
        pytest.param(
            b'<!DOCTYPE d [<!ENTITY e "harmless">]>' + doc("<ObjectEvent>&e;</ObjectEvent>"),
            id="any-internal-entity",
        ),
        pytest.param(
            b'<!DOCTYPE d [<!ENTITY u SYSTEM "x" NDATA n><!NOTATION n SYSTEM "x">]>' + doc(""),
            id="unparsed-entity",
        ),
    ],
)
def test_dtds_and_entities_are_refused(data: bytes) -> None:
    err = xml_error(data)
    assert err.field == "document"
    assert "root:" not in str(err)  # nothing of /etc/passwd leaks into the message


def test_a_bare_doctype_is_harmless_and_accepted() -> None:
    # One official example (object_event_all_possible_fields.xml) starts like this.
    data = doc(OBJECT_EVENT.format(extra="")).replace(b"?>\n", b"?>\n<!DOCTYPE project>\n", 1)
    assert b"<!DOCTYPE project>" in data
    assert parse_xml_document(data).events


def test_size_is_checked_before_parsing() -> None:
    data = doc(OBJECT_EVENT.format(extra="")) + b" " * 100
    err = xml_error(data, limits=Limits(max_document_bytes=len(data) - 1))
    assert err.field == "document" and "limit" in err.reason
    # ... before parsing: not-even-XML of that size gets the same answer
    err = xml_error(b"\xff" * 2000, limits=Limits(max_document_bytes=1000))
    assert "limit" in err.reason


def test_deep_nesting_is_refused() -> None:
    depth = 10_000
    nested = "<ex:a>" * depth + "</ex:a>" * depth
    err = xml_error(doc(OBJECT_EVENT.format(extra=nested), 'xmlns:ex="urn:x:"'))
    assert f"the limit is {MAX_DEPTH}" in err.reason
    assert err.field.startswith("EPCISBody.EventList.ObjectEvent.ex:a.ex:a")
    ok = "<ex:a>" * 20 + "</ex:a>" * 20
    assert parse_xml_document(doc(OBJECT_EVENT.format(extra=ok), 'xmlns:ex="urn:x:"'))
    err = xml_error(doc(OBJECT_EVENT.format(extra=ok), 'xmlns:ex="urn:x:"'), max_depth=10)
    assert "the limit is 10" in err.reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            doc(OBJECT_EVENT.format(extra="<ex:n>caf\xe9</ex:n>")).replace(b"\xc3\xa9", b"\xe9"),
            "UTF-8",
        ),
        (
            doc("").replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"'),
            "declares encoding 'iso-8859-1'",
        ),
        (
            '<?xml version="1.0" encoding="UTF-16"?>'.encode("utf-16") + "<a/>".encode("utf-16"),
            "UTF-8",
        ),
        (b"<a>\xed\xa0\x80</a>", "UTF-8"),  # an encoded surrogate
    ],
)
def test_non_utf8_is_refused(data: bytes, reason: str) -> None:
    err = xml_error(data)
    assert err.field == "document" and reason in err.reason


def test_utf8_bom_and_ascii_declaration_are_fine() -> None:
    data = b"\xef\xbb\xbf" + doc(OBJECT_EVENT.format(extra="")).replace(b"UTF-8", b"us-ascii")
    assert parse_xml_document(data).events


def test_event_count_and_event_size_limits() -> None:
    three = doc(OBJECT_EVENT.format(extra="") * 3)
    err = xml_error(three, limits=Limits(max_events=2))
    assert err.field == "EPCISBody.EventList" and "more than 2 events" in err.reason
    big = OBJECT_EVENT.format(extra=f"<ex:blob>{'x' * 5000}</ex:blob>")
    data = doc(OBJECT_EVENT.format(extra="") + big, 'xmlns:ex="urn:x:"')
    err = xml_error(data, limits=Limits(max_event_bytes=2000))
    assert err.field == "EPCISBody.EventList.ObjectEvent[1]" and "one event may be" in err.reason


def test_non_bytes_input_is_refused() -> None:
    with pytest.raises(InvalidInput):
        parse_xml_document("<a/>")  # type: ignore[arg-type]


# -- writing -------------------------------------------------------------------------------------


def roundtrip(events: list[dict[str, Any]], context: Any, **kwargs: Any) -> Any:
    data = events_to_xml(events, context, creation_date="2025-01-01T00:00:00Z", **kwargs)
    parsed = parse_xml_document(data)
    assert hash_events(parsed.events, parsed.context) == hash_events(events, context)
    return parsed


def test_written_documents_use_cbv_urns_and_the_xsd_order() -> None:
    event = builders.commission(
        format_battery_code("ABC", "P", "B", "01", "0000001", date(2024, 3, 1), 42),
        site=site_uri(make_uscc("110105", "MA01ABCD"), "plant-1"),
        time=datetime(2025, 3, 1, 8, tzinfo=timezone(timedelta(hours=8))),
        attributes={"chemistry": "LFP", "ratedEnergyKWh": 75.5},
    )
    data = events_to_xml([event], builders.CONTEXT, creation_date="2025-01-01T00:00:00Z")
    text = data.decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<epcis:EPCISDocument')
    assert 'xmlns:epcis="urn:epcglobal:epcis:xsd:2"' in text
    assert 'xmlns:battrace="https://battrace.org/voc/"' in text
    assert "<bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>" in text
    assert "<disposition>urn:epcglobal:cbv:disp:active</disposition>" in text
    assert "<battrace:ratedEnergyKWh>75.5</battrace:ratedEnergyKWh>" in text
    tags = re.findall(r"^ {8}<(\w+)", text, re.MULTILINE)
    assert tags == [
        "eventTime",
        "eventTimeZoneOffset",
        "epcList",
        "action",
        "bizStep",
        "disposition",
        "readPoint",
        "bizLocation",
        "ilmd",
    ]
    parsed = roundtrip([event], builders.CONTEXT)
    # XML text has no number type: extension values come back as their text.
    assert parsed.events == [
        event | {"ilmd": {"battrace:chemistry": "LFP", "battrace:ratedEnergyKWh": "75.5"}}
    ]
    web = events_to_xml([event], builders.CONTEXT, cbv_format="web").decode()
    assert "<bizStep>https://ref.gs1.org/cbv/BizStep-commissioning</bizStep>" in web


def test_query_documents_are_written_with_the_query_namespace() -> None:
    event = parse_xml_document(doc(OBJECT_EVENT.format(extra=""))).events[0]
    data = events_to_xml(
        [event], None, query_name="SimpleEventQuery", subscription_id="sub-1", creation_date="x"
    )
    text = data.decode()
    assert '<epcisq:EPCISQueryDocument xmlns:epcisq="urn:epcglobal:epcis-query:xsd:2"' in text
    assert "<queryName>SimpleEventQuery</queryName>" in text
    assert "<subscriptionID>sub-1</subscriptionID>" in text
    parsed = parse_xml_document(data)
    assert parsed.kind == "EPCISQueryDocument" and parsed.events == [event]
    empty = parse_xml_document(events_to_xml([], None, query_name="q"))
    assert empty.events == []


def test_writing_escapes_and_expands_declared_curies() -> None:
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": "2025-03-01T08:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": ["urn:x:a&b<c>"],
        "action": "OBSERVE",
        "bizStep": "battrace:BizStep-recycling",
        "battrace:note": 'quote " and\ttab\r\nnewline & <tag>',
        "battrace:mass": {"#text": "12", "unit": "kg", "battrace:q": 'a"b'},
        "battrace:partList": [{"battrace:id": "1"}, {"battrace:id": "2"}],
        "battrace:empty": [],
        "battrace:none": None,
        "sensorElementList": [
            {
                "sensorReport": [
                    {"type": "Temperature", "value": 1e-7, "component": "x", "stringValue": "a\tb"}
                ],
                "battrace:probe": {"battrace:id": "p1"},
            }
        ],
        "quantityList": [{"epcClass": "urn:x:k", "quantity": 1e-7, "uom": "KGM"}],
        "comment": "not data",
    }
    data = events_to_xml([event], builders.CONTEXT)
    text = data.decode()
    assert "<epc>urn:x:a&amp;b&lt;c&gt;</epc>" in text
    assert "<bizStep>https://battrace.org/voc/BizStep-recycling</bizStep>" in text
    assert "<quantity>0.0000001</quantity>" in text
    assert 'type="https://gs1.org/voc/Temperature"' in text
    assert 'component="https://ref.gs1.org/cbv/Comp-x"' in text
    assert '<battrace:mass unit="kg" battrace:q="a&quot;b">12</battrace:mass>' in text
    assert "not data" not in text
    parsed = roundtrip([event], builders.CONTEXT)
    back = parsed.events[0]
    assert back["battrace:note"] == event["battrace:note"].strip()
    assert back["battrace:partList"] == [{"battrace:id": "1"}, {"battrace:id": "2"}]
    assert back["sensorElementList"][0]["sensorReport"][0]["stringValue"] == "a\tb"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lot": "1"}, "eventList[0].lot"),
        ({"other:lot": "1"}, "eventList[0].other:lot"),
        ({"battrace:x": [[1, 2]]}, "eventList[0].battrace:x[0]"),
        ({"battrace:x": "\x00"}, "eventList[0].battrace:x"),
        ({"battrace:bad name": "1"}, "eventList[0].battrace:bad name"),
        ({"type": "QuantityEvent"}, "eventList[0].type"),
        (
            {"quantityList": [{"epcClass": "urn:x", "quantity": float("nan")}]},
            "eventList[0].quantityList[0].quantity",
        ),
        (
            {"bizTransactionList": [{"bizTransaction": "urn:x", "note": "n"}]},
            "eventList[0].bizTransactionList[0].note",
        ),
        ({"readPoint": {"id": "urn:x", "name": "n"}}, "eventList[0].readPoint.name"),
        (
            {"sensorElementList": [{"sensorReport": [{"battrace:x": {"a": 1}}]}]},
            "eventList[0].sensorElementList[0].sensorReport[0].battrace:x",
        ),
    ],
)
def test_what_xml_cannot_carry_is_refused(change: dict[str, Any], field: str) -> None:
    event = {
        "type": "ObjectEvent",
        "eventTime": "2025-03-01T08:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "epcList": ["urn:x:a"],
        **change,
    }
    with pytest.raises(InvalidInput) as info:
        events_to_xml([event], builders.CONTEXT)
    assert info.value.field == field


def test_an_events_own_context_declares_its_prefixes() -> None:
    event = {
        "@context": {"own": "https://own.example/"},
        "type": "ObjectEvent",
        "eventTime": "2025-03-01T08:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "epcList": ["urn:x:a"],
        "own:field": "v",
    }
    parsed = roundtrip([event], None)
    assert parsed.events[0]["own:field"] == "v"


def test_json_booleans_in_extensions_are_a_known_limit() -> None:
    # The reference renders a JSON true as "True" but the XML text "true" as "true" (rule 14
    # broken by the reference itself); XML keeps the standard spelling, so the hash changes.
    event = {
        "type": "ObjectEvent",
        "eventTime": "2025-03-01T08:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "epcList": ["urn:x:a"],
        "battrace:flag": True,
    }
    parsed = parse_xml_document(events_to_xml([event], builders.CONTEXT))
    assert parsed.events[0]["battrace:flag"] == "true"
    assert prehash_string(event, builders.CONTEXT).endswith("flag=True")
    assert prehash_string(parsed.events[0], parsed.context).endswith("flag=true")


# -- round trips of battery events (hypothesis) ------------------------------------------------


ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
USCC_BODY = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _chars(alphabet: str, n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=n, max_size=n)


battery_uris = st.builds(
    lambda m, p, b, s, t, d, n: "urn:gbt34014:" + format_battery_code(m, p, b, s, t, d, n),
    _chars(ALNUM, 3),
    st.sampled_from("PMC"),
    st.sampled_from("ABCDEFGZ"),
    _chars(ALNUM, 2),
    _chars(ALNUM, 7),
    st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31)),
    st.integers(0, 9_999_999),
)
usccs = st.builds(make_uscc, st.sampled_from(["110105", "320505", "440305"]), _chars(USCC_BODY, 8))
sites = st.builds(site_uri, usccs, st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True))
parties = st.builds(party_uri, usccs)
offsets = st.sampled_from(["+08:00", "+00:00", "-05:00", "+05:45"])
# Text XML can carry; values that start with gs1:/cbv: are left out on purpose (see the
# known-limit test above and docs/epcis-xml.md).
texts = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=20,
).filter(lambda s: not s.strip().startswith(("gs1:", "cbv:")))
numbers = st.one_of(
    st.integers(-(10**12), 10**12), st.floats(allow_nan=False, allow_infinity=False, width=64)
)
scalars = st.one_of(texts, numbers)
local_names = st.from_regex(r"[a-z][A-Za-z0-9]{0,10}", fullmatch=True).filter(
    lambda s: not s.endswith("List")
)
ext_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.dictionaries(local_names.map(lambda n: "battrace:" + n), inner, min_size=1, max_size=3),
        st.lists(
            st.one_of(
                scalars,
                st.dictionaries(
                    local_names.map(lambda n: "battrace:" + n), scalars, min_size=1, max_size=2
                ),
            ),
            min_size=1,
            max_size=3,
        ),
    ),
    max_leaves=6,
)
ilmds = st.dictionaries(local_names.map(lambda n: "battrace:" + n), ext_values, max_size=4)
measurements = st.sampled_from(
    [
        "Voltage",
        "ElectricCurrent",
        "ElectricCharge",
        "Energy",
        "Resistance",
        "Temperature",
        "Dimensionless",
        "Mass",
    ]
)
sensor_reports = st.fixed_dictionaries(
    {"type": measurements, "value": numbers.filter(lambda v: abs(v) < 1e300)},
    optional={
        "uom": st.sampled_from(["VLT", "AMP", "AMH", "KWH", "OHM", "CEL", "P1", "KGM"]),
        "booleanValue": st.booleans(),
        "stringValue": texts,
        "exception": st.sampled_from(["ALARM_CONDITION", "ERROR_CONDITION"]),
        "minValue": numbers,
        "battrace:ratedCapacityAh": st.floats(1, 500),
    },
)
sensor_elements = st.fixed_dictionaries(
    {"sensorReport": st.lists(sensor_reports, min_size=1, max_size=3)},
    optional={
        "sensorMetadata": st.fixed_dictionaries(
            {"deviceID": st.just("urn:battrace:device:bms-1")},
            optional={"time": st.just("2025-03-01T08:00:00.123+08:00")},
        ),
        "battrace:probe": ext_values,
    },
)
quantities = st.lists(
    st.fixed_dictionaries(
        {
            "epcClass": st.sampled_from(["black_mass", "copper", "lithium_carbonate"]).map(
                material_uri
            ),
            "quantity": st.floats(0, 1e6).map(lambda q: round(q, 3)),
            "uom": st.just("KGM"),
        }
    ),
    min_size=1,
    max_size=3,
)


@st.composite
def battery_events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            [
                "ObjectEvent",
                "AggregationEvent",
                "TransformationEvent",
                "TransactionEvent",
                "AssociationEvent",
            ]
        )
    )
    moment = draw(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)))
    offset = draw(offsets)
    sign = 1 if offset[0] == "+" else -1
    zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:])))
    site = draw(sites)
    event: dict[str, Any] = {
        "type": kind,
        "eventTime": moment.replace(tzinfo=zone).isoformat(timespec="milliseconds"),
        "eventTimeZoneOffset": offset,
        "bizStep": draw(st.sampled_from([*sorted(vocab.BIZ_STEPS), vocab.BIZSTEP_RECYCLING])),
        "readPoint": {"id": site},
        "bizLocation": {"id": site},
    }
    if draw(st.booleans()):
        event["disposition"] = draw(st.sampled_from(sorted(vocab.DISPOSITIONS)))
    batteries = draw(st.lists(battery_uris, min_size=1, max_size=4, unique=True))
    action = draw(st.sampled_from(["ADD", "OBSERVE", "DELETE"]))
    if kind == "ObjectEvent":
        event |= {"epcList": batteries, "action": action}
        if action == "ADD":
            event["ilmd"] = draw(ilmds)
    elif kind in ("AggregationEvent", "AssociationEvent"):
        event |= {"parentID": batteries[0], "childEPCs": batteries[1:] or [draw(battery_uris)]}
        event["action"] = action
    elif kind == "TransactionEvent":
        event |= {"epcList": batteries, "action": action}
    else:
        event |= {"inputEPCList": batteries, "outputQuantityList": draw(quantities)}
        event["ilmd"] = draw(ilmds)
    if kind == "TransactionEvent" or draw(st.booleans()):
        event["bizTransactionList"] = [
            {
                "type": draw(st.sampled_from(["desadv", "inv", vocab.BTT_SCRAPPING_CERTIFICATE])),
                "bizTransaction": f"urn:battrace:desadv:{draw(st.integers(1, 10**6))}",
            }
        ]
    if draw(st.booleans()):
        owner = draw(parties)
        event["sourceList"] = [{"type": "owning_party", "source": owner}]
        event["destinationList"] = [
            {"type": "possessing_party", "destination": draw(parties)},
            {"type": "location", "destination": draw(sites)},
        ]
    if draw(st.booleans()):
        event["sensorElementList"] = draw(st.lists(sensor_elements, min_size=1, max_size=2))
    if draw(st.booleans()):
        event["persistentDisposition"] = {"set": ["needs_replacement"], "unset": ["active"]}
    for name, value in draw(st.dictionaries(local_names, ext_values, max_size=2)).items():
        event["battrace:" + name] = value
    return event


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(battery_events(), min_size=1, max_size=3))
def test_generated_battery_events_survive_the_round_trip(events: list[dict[str, Any]]) -> None:
    context = builders.CONTEXT
    for i, event in enumerate(events):
        parse_event(event, f"eventList[{i}]", check_uri=check_uri, now=FUTURE)
    parsed = roundtrip(events, context)
    for i, event in enumerate(parsed.events):
        parse_event(event, f"eventList[{i}]", check_uri=check_uri, now=FUTURE)
    # and once more: XML -> events -> XML is stable text
    first = events_to_xml(parsed.events, parsed.context, creation_date="x")
    again = parse_xml_document(first)
    assert events_to_xml(again.events, again.context, creation_date="x") == first


def test_builder_events_survive_the_round_trip() -> None:
    site = site_uri(make_uscc("110105", "MA01ABCD"), "plant-1")
    when = datetime(2025, 3, 1, 8, tzinfo=timezone(timedelta(hours=8)))
    code = format_battery_code("ABC", "P", "B", "01", "0000001", date(2024, 3, 1), 42)
    events = [
        builders.commission(code, site=site, time=when, attributes={"chemistry": "LFP"}),
        builders.inspect(
            code,
            site=site,
            time=when,
            voltage_v=3.7,
            resistance_mohm=0.8,
            capacity_ah=140.0,
            rated_ah=150.0,
        ),
    ]
    parsed = roundtrip(events, builders.CONTEXT)
    # Equal but for the typing of extension values, which XML text does not carry.
    assert parsed.events[0] == events[0]
    report = parsed.events[1]["sensorElementList"][0]["sensorReport"][2]
    assert report["battrace:ratedCapacityAh"] == "150.0"
    assert {k: v for k, v in parsed.events[1].items() if k != "sensorElementList"} == {
        k: v for k, v in events[1].items() if k != "sensorElementList"
    }
