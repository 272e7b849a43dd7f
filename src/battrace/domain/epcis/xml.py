"""The EPCIS 2.0 XML binding: read (:mod:`.xml_read`) and write (:mod:`.xml_write`).

Both sides use the JSON-LD event shape of the rest of battrace, so one validator
(:func:`~battrace.domain.epcis.event.parse_event`) and one Event Hash ID implementation
(:mod:`~battrace.domain.epcis.hashid`) serve both syntaxes. Rules and limits: docs/epcis-xml.md.
"""

from __future__ import annotations

from battrace.domain.epcis.xml_read import (
    EPCIS_NS,
    MAX_DEPTH,
    QUERY_NS,
    XML_DEVIATIONS,
    parse_xml_document,
    xml_event_path,
)
from battrace.domain.epcis.xml_write import events_to_xml

__all__ = [
    "EPCIS_NS",
    "MAX_DEPTH",
    "QUERY_NS",
    "XML_DEVIATIONS",
    "events_to_xml",
    "parse_xml_document",
    "xml_event_path",
]
