"""GS1 identifier canonicalisation for the Event Hash ID (epcis.md §3.2 rule 13).

:func:`canonical_digital_link` turns an EPC URN (``urn:epc:id:``, ``urn:epc:class:``,
``urn:epc:idpat:``) or a GS1 Digital Link URI into the constrained canonical Digital Link on
``https://id.gs1.org``, or returns ``None`` when the value is not a GS1 identifier.

The Event Hash ID is only useful if every party computes the same bytes, so this module reproduces
the reference implementation (``epcis-event-hash-generator`` 1.9.3) *exactly*, including its
quirks: which company-prefix lengths it accepts, the fixed string offsets it slices at, the
characters it percent-encodes, the unescaped ``.`` in ``id.gs1.org`` of its patterns and its final
syntax check. ``tests/unit/test_hashid.py`` fuzzes this module against the reference.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# One serial/lot character as the EPC Tag Data Standard allows it: a literal from the GS1 AI
# encodable set or a percent-escape of a few others.
_SER = (
    r"(?:%2[125-9A-Fa-f]|%3[0-9A-Fa-f]|%4[1-9A-Fa-f]|%5[0-9AaFf]|%6[1-9A-Fa-f]|%7[0-9Aa]"
    r"|[!')(*+,.0-9:;=A-Za-z_-])"
)
# One component-part-reference character (CPI): fewer characters are allowed.
_CPI = r"(?:%2[3dfDF]|%3[0-9]|%4[1-9A-Fa-f]|%5[0-9Aa]|[0-9A-Z-])"


def _split(total: int, twelve: str | None = None) -> str:
    r"""``CompanyPrefix.Reference`` with 6..12 prefix digits and ``total`` digits altogether.

    ``twelve`` replaces the alternative for a 12-digit company prefix where the reference spells it
    specially (``\d{12}\.`` or, for GRAI/GDTI, a doubled dot).
    """
    alts = [rf"\d{{{n}}}\.\d{{{total - n}}}" for n in range(6, 12)]
    alts.append(twelve if twelve is not None else rf"\d{{12}}\.\d{{{total - 12}}}")
    return "(?:" + "|".join(alts) + ")"


def _units(unit: str, room: int) -> str:
    """A 6..12-digit company prefix followed by at most ``room - len(prefix)`` units."""
    return "(?:" + "|".join(rf"\d{{{n}}}\.{unit}{{1,{room - n}}}" for n in range(6, 13)) + ")"


def check_digit(digits: str) -> int:
    """GS1 mod-10 check digit: weights 3,1,3,… from the rightmost digit."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return (10 - total % 10) % 10


def _pct(value: str) -> str:
    # GS1 Digital Link Table 7-1, restricted to what the reference encodes (EPC URNs already
    # forbid the rest).
    return (
        value.replace("!", "%21")
        .replace("(", "%28")
        .replace(")", "%29")
        .replace("*", "%2A")
        .replace("+", "%2B")
        .replace(",", "%2C")
        .replace(":", "%3A")
    )


def _gtin(uri: str, start: int, dot: int) -> str:
    """GTIN-14 from ``CompanyPrefix.IndicatorItemRef`` (indicator digit moves to the front)."""
    prefix = uri[start:dot]
    item = uri[dot + 1 : dot + 1 + (13 - len(prefix))]
    raw = item[:1] + prefix + item[1:]
    return raw + str(check_digit(raw))


def _key12(uri: str, start: int, dot: int) -> str:
    """12 digits from ``CompanyPrefix.Reference`` (GLN, GDTI, SGCN …), without check digit."""
    prefix = uri[start:dot]
    return prefix + uri[dot + 1 : dot + 1 + (12 - len(prefix))]


def _with_cd(raw: str) -> str:
    return raw + str(check_digit(raw))


_Builder = Callable[[str, int], str]

# scheme -> (pattern after the scheme prefix, builder(uri, first_dot)). The slicing offsets are the
# reference's (they assume the fixed length of the scheme prefix plus 12/13/17 digits).
_EPC: dict[str, tuple[str, _Builder]] = {
    "urn:epc:id:sgtin:": (
        _split(13) + rf"\.{_SER}{{1,20}}$",
        lambda u, p: "https://id.gs1.org/01/" + _gtin(u, 17, p) + "/21/" + _pct(u[32:]),
    ),
    "urn:epc:id:sscc:": (
        _split(17) + "$",
        lambda u, p: "https://id.gs1.org/00/" + _with_cd(u[p + 1 : p + 2] + u[16:p] + u[p + 2 :]),
    ),
    "urn:epc:id:sgln:": (
        _split(12, r"\d{12}\.") + rf"\.{_SER}{{1,20}}$",
        lambda u, p: (
            "https://id.gs1.org/414/"
            + _with_cd(_key12(u, 16, p))
            + ("" if u[30:] == "0" else "/254/" + _pct(u[30:]))
        ),
    ),
    "urn:epc:id:grai:": (
        _split(12, r"\d{12}\.\.") + rf"\.{_SER}{{1,16}}$",
        lambda u, p: "https://id.gs1.org/8003/" + _with_cd("0" + _key12(u, 16, p)) + _pct(u[30:]),
    ),
    "urn:epc:id:giai:": (
        _units(_SER, 30) + "$",
        lambda u, p: "https://id.gs1.org/8004/" + u[16:p] + _pct(u[p + 1 :]),
    ),
    "urn:epc:id:gsrn:": (
        _split(17) + "$",
        lambda u, p: "https://id.gs1.org/8018/" + _with_cd(u[16:p] + u[p + 1 :]),
    ),
    "urn:epc:id:gsrnp:": (
        _split(17) + "$",
        lambda u, p: "https://id.gs1.org/8017/" + _with_cd(u[17:p] + u[p + 1 :]),
    ),
    # No dot between document type and serial in the reference's pattern: the serial's first
    # character may be the dot itself (that is what the official examples rely on).
    "urn:epc:id:gdti:": (
        _split(12, r"\d{12}\.\.") + rf"{_SER}{{1,20}}$",
        lambda u, p: "https://id.gs1.org/253/" + _with_cd(_key12(u, 16, p)) + _pct(u[30:]),
    ),
    "urn:epc:id:cpi:": (
        _units(_CPI, 30) + r"\.\d{1,12}$",
        lambda u, p: (
            "https://id.gs1.org/8010/"
            + _pct(u[15:p] + u[p + 1 : u.rfind(".")])
            + "/8011/"
            + u[u.rfind(".") + 1 :]
        ),
    ),
    "urn:epc:id:sgcn:": (
        _split(12, r"\d{12}\.") + r"\.\d{1,12}$",
        lambda u, p: "https://id.gs1.org/255/" + _with_cd(_key12(u, 16, p)) + u[30:],
    ),
    "urn:epc:id:ginc:": (
        _units(_SER, 30) + "$",
        lambda u, p: "https://id.gs1.org/401/" + u[16:p] + _pct(u[p + 1 :]),
    ),
    "urn:epc:id:gsin:": (
        _split(16) + "$",
        lambda u, p: "https://id.gs1.org/402/" + _with_cd(u[16:p] + u[p + 1 :]),
    ),
    "urn:epc:id:itip:": (
        _split(13) + rf"\.\d{{2}}\.\d{{2}}\.{_SER}{{1,20}}$",
        lambda u, p: (
            "https://id.gs1.org/8006/"
            + _gtin(u, 16, p)
            + u[31:33]
            + u[34:36]
            + "/21/"
            + _pct(u[37:])
        ),
    ),
    "urn:epc:id:upui:": (
        _split(13) + rf"\.{_SER}{{1,28}}$",
        lambda u, p: "https://id.gs1.org/01/" + _gtin(u, 16, p) + "/235/" + _pct(u[31:]),
    ),
    "urn:epc:id:pgln:": (
        _split(12, r"\d{12}\.") + "$",
        lambda u, p: "https://id.gs1.org/417/" + _with_cd(_key12(u, 16, p)),
    ),
    "urn:epc:class:lgtin:": (
        _split(13) + rf"\.{_SER}{{1,20}}$",
        lambda u, p: "https://id.gs1.org/01/" + _gtin(u, 20, p) + "/10/" + _pct(u[35:]),
    ),
    "urn:epc:idpat:sgtin:": (
        _split(13) + r"\.\*$",
        lambda u, p: "https://id.gs1.org/01/" + _gtin(u, 20, p),
    ),
    "urn:epc:idpat:grai:": (
        _split(12, r"\d{12}\.\.") + r"\.\*$",
        lambda u, p: "https://id.gs1.org/8003/" + _with_cd("0" + _key12(u, 19, p)),
    ),
    "urn:epc:idpat:gdti:": (
        _split(12, r"\d{12}\.\.") + r"\.\*$",
        lambda u, p: "https://id.gs1.org/253/" + _with_cd(_key12(u, 19, p)),
    ),
    "urn:epc:idpat:sgcn:": (
        _split(12, r"\d{12}\.\.") + r"\.\*$",
        lambda u, p: "https://id.gs1.org/255/" + _with_cd(_key12(u, 19, p)),
    ),
    "urn:epc:idpat:cpi:": (
        _units(_CPI, 30) + r"\.\*$",
        lambda u, p: "https://id.gs1.org/8010/" + _pct(u[18:p] + u[p + 1 : u.rfind(".")]),
    ),
    "urn:epc:idpat:itip:": (
        _split(13) + r"\.\d{2}\.\d{2}\.\*$",
        lambda u, p: "https://id.gs1.org/8006/" + _gtin(u, 19, p) + u[34:36] + u[37:39],
    ),
    "urn:epc:idpat:upui:": (
        _split(13) + r"\.\*$",
        lambda u, p: "https://id.gs1.org/01/" + _gtin(u, 19, p),
    ),
}
_EPC_COMPILED = {
    scheme: (re.compile(re.escape(scheme) + pattern), build)
    for scheme, (pattern, build) in _EPC.items()
}
_EPC_SCHEME = re.compile(r"urn:epc:(?:id|class|idpat):[a-z]+:")

_KEYS = (
    "01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|gdti"
    "|401|ginc|402|gsin|8003|grai|8004|giai"
)
# Anything that looks like a Digital Link: optional authority, then ``/<key>/<4 digits>…`` before
# any query/fragment (or a 10-character compressed path).
_DL = re.compile(
    r"https?:(//((([^/?#]*)@)?([^/?#:]*)(:([^/?#]*))?))?"
    rf"((([^?#]*)(/({_KEYS})/)(\d{{4}}[^/]+)(/[^/]+/[^/]+)?[/]?(\?([^?\n]*))?(#([^\n]*))?)"
    r"|(/[A-Za-z_-]{10}$))"
)
_SHORT_NAMES = (
    ("/gtin/", "/01/"),
    ("/itip/", "/8006/"),
    ("/cpid/", "/8010/"),
    ("/gln/", "/414/"),
    ("/party/", "/417/"),
    ("/gsrnp/", "/8017/"),
    ("/gsrn/", "/8018/"),
    ("/gcn/", "/255/"),
    ("/sscc/", "/00/"),
    ("/gdti/", "/253/"),
    ("/ginc/", "/401/"),
    ("/gsin/", "/402/"),
    ("/grai/", "/8003/"),
    ("/giai/", "/8004/"),
    ("/cpv/", "/22/"),
    ("/lot/", "/10/"),
    ("/ser/", "/21/"),
)
# The reference's patterns leave the dots of "id.gs1.org" unescaped; kept so that the same inputs
# are accepted.
_ID = r"https://id.gs1.org/"
_CANONICAL = re.compile(
    _ID + r"(01|8006|8010|414|417|8017|8018|255|00|253|401|402|8003|8004)/(\d{4}[^/]+)"
    r"(/[^/]+/[^/]+)?[/]?(\?([^?\n]*))?(#([^\n]*))?|(/[A-Za-z_-]{10}$)"
)
# Rewriting a custom domain keeps the path from the first AI found, in this order.
_DOMAIN_AIS = tuple(
    f"/{ai}/" for ai in "00 01 253 255 401 402 414 417 8003 8004 8006 8010 8017 8018".split()
)
_GTIN14 = re.compile(_ID + r"01/\d{14}")
_GTIN_PAD = (
    (re.compile(_ID + r"01/\d{13}"), "/01/0"),
    (re.compile(_ID + r"01/\d{12}"), "/01/00"),
    (re.compile(_ID + r"01/\d{8}"), "/01/000000"),
)
_C = r"[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"
_CS = r"[\x2F\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"
_CPV_ONLY = re.compile(_ID + rf"(?:8006/\d{{18}}|01/\d{{14}})/22/{_C}{{0,20}}$")
_CPV_THEN = re.compile(_ID + rf"(?:8006/\d{{18}}|01/\d{{14}})/22/{_CS}{{0,20}}$")
_LOT_AND_SERIAL = re.compile(
    _ID + rf"(?:8006/\d{{18}}|01/\d{{14}})/10/{_C}{{0,20}}/21/{_C}{{0,20}}$"
)
_VALID = re.compile(
    _ID
    + "(?:"
    + "|".join(
        (
            r"00/\d{18}",
            rf"01/\d{{14}}/21/{_C}{{0,20}}",
            rf"01/\d{{14}}/10/{_C}{{0,20}}",
            r"01/\d{14}",
            rf"01/\d{{14}}/235/{_C}{{0,28}}",
            rf"253/\d{{13}}{_C}{{0,17}}",
            r"255/\d{13}\d{0,12}",
            rf"401/{_C}{{0,30}}",
            r"402/\d{17}",
            r"414/\d{13}",
            rf"414/\d{{13}}/254/{_C}{{0,20}}",
            r"417/\d{13}",
            rf"8003/\d{{14}}{_C}{{0,16}}",
            rf"8004/{_C}{{0,30}}",
            rf"8006/\d{{18}}/21/{_C}{{0,20}}",
            rf"8006/\d{{18}}/10/{_C}{{0,20}}",
            r"8006/\d{18}",
            r"8010/[\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30}/8011/\d{0,12}",
            r"8010/[\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30}",
            r"8017/\d{18}",
            r"8018/\d{18}",
        )
    )
    + ")$"
)


def canonical_digital_link(uri: str) -> str | None:
    """The constrained canonical GS1 Digital Link for ``uri``, or ``None`` if it is not a GS1 key."""
    dot = uri.find(".")
    if dot < 0:  # every GS1 EPC URN and Digital Link host contains a dot
        return None
    if uri.startswith("urn:epc:"):
        scheme = _EPC_SCHEME.match(uri)
        if scheme is None:
            return None
        entry = _EPC_COMPILED.get(scheme.group())
        if entry is None or entry[0].match(uri) is None:
            return None
        return entry[1](uri, dot)
    if not uri.startswith("http") or _DL.match(uri) is None:
        return None
    return _constrain_digital_link(uri)


def _constrain_digital_link(uri: str) -> str | None:
    query = uri.find("?")
    if query >= 0:
        uri = uri[:query]
    for short, ai in _SHORT_NAMES:
        uri = uri.replace(short, ai)
    if _CANONICAL.match(uri) is None:
        for ai in _DOMAIN_AIS:
            at = uri.find(ai)
            if at != -1:
                uri = "https://id.gs1.org" + uri[at:]
                break
    if _GTIN14.match(uri) is None:
        for pattern, padded in _GTIN_PAD:
            if pattern.match(uri) is not None:
                uri = uri.replace("/01/", padded)
                break
    # Drop the consumer product variant (AI 22), keeping any qualifier that follows it.
    if _CPV_ONLY.match(uri) is not None:
        uri = uri[: uri.find("/22/")]
    elif _CPV_THEN.match(uri) is not None:
        after = uri[uri.find("/22/") + 4 :]
        slash = after.find("/")
        uri = uri[: uri.find("/22/")] + (after[slash:] if slash >= 0 else after[-1:])
    # Only the finest identification level: a serial makes the lot redundant.
    if _LOT_AND_SERIAL.match(uri) is not None:
        after = uri[uri.find("/10/") + 4 :]
        uri = uri[: uri.find("/10/")] + after[after.find("/") :]
    return uri if _VALID.match(uri) is not None else None
