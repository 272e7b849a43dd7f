"""CBV 2.0 vocabulary as plain data (the standard's enumerations, not code).

Bare words are what EPCIS 2.0 JSON-LD uses; the web URI and legacy URN forms are normalised to the
bare word by :func:`short_cbv`, so the rest of battrace compares one form only.
"""

from __future__ import annotations

EVENT_TYPES = frozenset(
    {
        "ObjectEvent",
        "AggregationEvent",
        "TransformationEvent",
        "TransactionEvent",
        "AssociationEvent",
    }
)
ACTIONS = frozenset({"ADD", "OBSERVE", "DELETE"})

BIZ_STEPS = frozenset(
    [
        "accepting",
        "arriving",
        "assembling",
        "collecting",
        "commissioning",
        "consigning",
        "creating_class_instance",
        "cycle_counting",
        "decommissioning",
        "departing",
        "destroying",
        "disassembling",
        "dispensing",
        "encoding",
        "entering_exiting",
        "holding",
        "inspecting",
        "installing",
        "killing",
        "loading",
        "other",
        "packing",
        "picking",
        "receiving",
        "removing",
        "repackaging",
        "repairing",
        "replacing",
        "reserving",
        "retail_selling",
        "shipping",
        "staging_outbound",
        "stock_taking",
        "stocking",
        "storing",
        "transporting",
        "unloading",
        "unpacking",
        "void_shipping",
        "sensor_reporting",
        "sampling",
    ]
)
DISPOSITIONS = frozenset(
    [
        "active",
        "container_closed",
        "damaged",
        "destroyed",
        "dispensed",
        "disposed",
        "encoded",
        "expired",
        "in_progress",
        "in_transit",
        "inactive",
        "no_pedigree_match",
        "non_sellable_other",
        "partially_dispensed",
        "recalled",
        "reserved",
        "retail_sold",
        "returned",
        "sellable_accessible",
        "sellable_not_accessible",
        "stolen",
        "unknown",
        "available",
        "completeness_verified",
        "completeness_inferred",
        "conformant",
        "container_open",
        "mismatch_instance",
        "mismatch_class",
        "mismatch_quantity",
        "needs_replacement",
        "non_conformant",
        "unavailable",
    ]
)
BIZ_TRANSACTION_TYPES = frozenset(
    [
        "bol",
        "cert",
        "desadv",
        "inv",
        "pedigree",
        "po",
        "poc",
        "prodorder",
        "recadv",
        "rma",
        "testprd",
        "testres",
        "upevt",
    ]
)
SOURCE_DEST_TYPES = frozenset({"owning_party", "possessing_party", "location"})
ERROR_REASONS = frozenset({"did_not_occur", "incorrect_data"})

# battrace's private business steps (CBV has no "recycling"; epcis.md §1.4). Full URIs, because bare
# words are reserved for CBV values.
BATTRACE_VOCAB = "https://battrace.org/voc/"
BIZSTEP_RECYCLING = BATTRACE_VOCAB + "BizStep-recycling"
BIZSTEP_RECODING = BATTRACE_VOCAB + "BizStep-cascade_recoding"
BIZSTEP_SCRAPPING = BATTRACE_VOCAB + "BizStep-vehicle_scrapping"
BIZSTEP_SELLING = BATTRACE_VOCAB + "BizStep-vehicle_selling"

_PREFIXES = {
    "bizstep": ("https://ref.gs1.org/cbv/BizStep-", "urn:epcglobal:cbv:bizstep:", "cbv:BizStep-"),
    "disp": ("https://ref.gs1.org/cbv/Disp-", "urn:epcglobal:cbv:disp:", "cbv:Disp-"),
    "btt": ("https://ref.gs1.org/cbv/BTT-", "urn:epcglobal:cbv:btt:", "cbv:BTT-"),
    "sdt": ("https://ref.gs1.org/cbv/SDT-", "urn:epcglobal:cbv:sdt:", "cbv:SDT-"),
    "er": ("https://ref.gs1.org/cbv/ER-", "urn:epcglobal:cbv:er:", "cbv:ER-"),
}


def short_cbv(kind: str, value: str) -> str:
    """Return the bare CBV word for any of its three spellings; other URIs are returned unchanged."""
    for prefix in _PREFIXES[kind]:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


# battrace's private bizTransaction type for the 报废汽车回收证明, the certificate a
# dismantler issues when it takes in a scrapped vehicle (china-regulation.md §2.2 Art. 13).
# CBV has no such type.
BTT_SCRAPPING_CERTIFICATE = BATTRACE_VOCAB + "BTT-scrapping_certificate"
#: JSON-LD prefix under which battrace's extension keys (ilmd, sensor reports) are written.
BATTRACE_PREFIX = "battrace"
