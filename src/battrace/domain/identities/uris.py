"""Identifier URIs used inside EPCIS events.

=====================================  ==========  ===========================================
URI                                    kind        value
=====================================  ==========  ===========================================
urn:gbt34014:{code}                    battery     24- or 19-character GB/T 34014 code
urn:vin:{VIN}                          vehicle     VIN (check digit verified)
urn:uscc:{USCC}                        party       USCC (both check characters verified)
urn:uscc:{USCC}:site:{local}           site        local id, 1-64 of [A-Za-z0-9._-]; party=USCC
urn:battrace:material:{name}           material    one of MATERIALS
urn:epc:id:sgtin:{CP}.{IR}.{serial}    gs1         "(01){GTIN-14}(21){serial}"
https://id.gs1.org/01/{GTIN}/21/{s}    gs1         same element string (GTIN check verified)
any other URI                          other       the URI itself
=====================================  ==========  ===========================================

battrace's own namespaces are written in lower case exactly as above: a URN's namespace is
case-insensitive (RFC 8141), so ``URN:VIN:…`` is rejected with a hint instead of slipping past the
checks as an "other" URI. :func:`check_uri` is the capture-time gate (validated URIs are cached);
:func:`parse_uri` also decodes GS1 keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from urllib.parse import quote, unquote

from battrace.domain.errors import IdentityError
from battrace.domain.identities.gbt34014 import (
    DEFAULT_RULES,
    BatteryCode,
    CodeRules,
    validate_battery_code,
)
from battrace.domain.identities.uscc import _validate as uncached_uscc
from battrace.domain.identities.uscc import validate_uscc
from battrace.domain.identities.vin import _validate as uncached_vin
from battrace.domain.identities.vin import validate_vin

MATERIALS: frozenset[str] = frozenset(
    {
        "black_mass",
        "lithium_carbonate",
        "lithium_hydroxide",
        "nickel_sulfate",
        "cobalt_sulfate",
        "manganese_sulfate",
        "copper",
        "aluminium",
        "steel",
        "plastics",
        "electrolyte",
        "graphite",
    }
)

BATTERY_PREFIX = "urn:gbt34014:"
VEHICLE_PREFIX = "urn:vin:"
PARTY_PREFIX = "urn:uscc:"
MATERIAL_PREFIX = "urn:battrace:material:"
SGTIN_PREFIX = "urn:epc:id:sgtin:"
DIGITAL_LINK_PREFIX = "https://id.gs1.org/01/"
_OURS = (BATTERY_PREFIX, VEHICLE_PREFIX, PARTY_PREFIX, MATERIAL_PREFIX)

UriCheck = Callable[[str, str], None]

# Same syntax test as the EPCIS event parser: a scheme, a colon, no whitespace.
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+").fullmatch
_SITE = re.compile(r"[A-Za-z0-9._-]{1,64}").fullmatch
# GS1 AI encodable character set 82 (serials); EPC URNs and Digital Links percent-escape the rest.
_CSET82 = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}").fullmatch
_SGTIN = re.compile(r"([0-9]{6,12})\.([0-9]{1,7})\.([!'()*+,\-.0-9:;=A-Z_a-z%]+)").fullmatch
_DL = re.compile(r"([0-9]{14})/21/([!'()*+,\-.0-9:;=A-Z_a-z%]+)").fullmatch
_CACHE_SIZE = 65536


@dataclass(frozen=True, slots=True)
class Identifier:
    kind: str  # 'battery' | 'vehicle' | 'party' | 'site' | 'material' | 'gs1' | 'other'
    value: str  # bare code / VIN / USCC / site local id / material name / GS1 element string / URI
    uri: str
    battery: BatteryCode | None = None
    party: str | None = None  # the USCC, for kind 'party' and 'site'
    gtin: str | None = None  # GTIN-14, for kind 'gs1'
    gs1_serial: str | None = None  # decoded serial (AI 21), for kind 'gs1'


def gtin_check_digit(digits: str) -> str:
    """GS1 mod-10 check digit for the digits before it (weights 3,1,3,… from the right)."""
    if not digits.isascii() or not digits.isdigit():
        raise IdentityError("gtin", f"{digits!r} is not all digits")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str(-total % 10)


def _gtin(gtin: str) -> str:
    if len(gtin) != 14 or not gtin.isascii() or not gtin.isdigit():
        raise IdentityError("gtin", f"must be 14 digits, got {gtin!r}")
    expected = gtin_check_digit(gtin[:13])
    if gtin[13] != expected:
        raise IdentityError("gtin", f"check digit is {gtin[13]!r}, expected {expected!r}", 14)
    return gtin


_LABELS = {"battery_code": "battery code", "vin": "VIN", "uscc": "USCC", "site": "site id"}


def _whole(inner: IdentityError, prefix: str) -> IdentityError:
    """Re-anchor an error about a URI's payload to the whole URI (field 'uri')."""
    label = _LABELS.get(inner.bare_field, inner.bare_field)
    if inner.position is None:
        return IdentityError("uri", f"{label}: {inner.reason}")
    return IdentityError(
        "uri",
        f"{label} character {inner.position}: {inner.reason}",
        len(prefix) + inner.position,
    )


def _canonical(uri: str) -> None:
    """Reject a battrace namespace written in another case (RFC 8141: the NID is case-blind)."""
    low = uri[: len(MATERIAL_PREFIX)].lower()
    for prefix in _OURS:
        if low.startswith(prefix) or low == prefix[:-1]:
            raise IdentityError(
                "uri", f"must start exactly with {prefix!r} and carry an identifier"
            )


def _battery(uri: str, rules: CodeRules) -> Identifier:
    try:
        battery = rules._compiled.parse(uri[len(BATTERY_PREFIX) :])
    except IdentityError as exc:
        raise _whole(exc, BATTERY_PREFIX) from None
    return Identifier("battery", battery.code, uri, battery=battery)


def _vehicle(uri: str) -> Identifier:
    try:
        return Identifier("vehicle", validate_vin(uri[len(VEHICLE_PREFIX) :]), uri)
    except IdentityError as exc:
        raise _whole(exc, VEHICLE_PREFIX) from None


def _party(uri: str) -> Identifier:
    """``urn:uscc:{USCC}`` (party) or ``urn:uscc:{USCC}:site:{local}`` (site)."""
    uscc, local = _split_party(uri, validate_uscc)
    if local is None:
        return Identifier("party", uscc, uri, party=uscc)
    return Identifier("site", local, uri, party=uscc)


def _split_party(uri: str, validate: Callable[[str], str]) -> tuple[str, str | None]:
    uscc, sep, rest = uri[len(PARTY_PREFIX) :].partition(":")
    try:
        uscc = validate(uscc)
    except IdentityError as exc:
        raise _whole(exc, PARTY_PREFIX) from None
    if not sep:
        return uscc, None
    if not rest.startswith("site:"):
        raise IdentityError(
            "uri",
            "expected urn:uscc:{USCC} or urn:uscc:{USCC}:site:{local id}",
            len(PARTY_PREFIX) + 20,
        )
    local = rest[5:]
    if not _SITE(local):
        raise IdentityError("uri", f"site id {local!r} must be 1-64 characters of [A-Za-z0-9._-]")
    return uscc, local


def _material_id(uri: str) -> Identifier:
    name = uri[len(MATERIAL_PREFIX) :]
    if name not in MATERIALS:
        raise IdentityError(
            "uri", f"material {name!r} is not one of {', '.join(sorted(MATERIALS))}"
        )
    return Identifier("material", name, uri)


def _gs1(uri: str) -> Identifier | None:
    """SGTIN URN or id.gs1.org Digital Link (AI 01 + 21); None for anything else."""
    if uri.startswith(SGTIN_PREFIX):
        m = _SGTIN(uri[len(SGTIN_PREFIX) :])
        if not m or len(m[1]) + len(m[2]) != 13:
            raise IdentityError(
                "uri",
                "expected urn:epc:id:sgtin:{company prefix}.{indicator + item reference}.{serial}"
                " with 13 digits in the first two parts",
            )
        body = m[2][0] + m[1] + m[2][1:]
        gtin, escaped = body + gtin_check_digit(body), m[3]
    elif uri.startswith(DIGITAL_LINK_PREFIX):
        m = _DL(uri[len(DIGITAL_LINK_PREFIX) :])
        if not m:
            return None  # another Digital Link (class level, SSCC, GLN …): not a serialised item
        try:
            gtin, escaped = _gtin(m[1]), m[2]
        except IdentityError as exc:  # the regex leaves only the check digit to fail
            pos = None if exc.position is None else len(DIGITAL_LINK_PREFIX) + exc.position
            raise IdentityError("uri", f"GTIN {exc.reason}", pos) from None
    else:
        return None
    try:
        serial = unquote(escaped, errors="strict")
    except UnicodeDecodeError:
        serial = ""
    if not _CSET82(serial):
        raise IdentityError(
            "uri", f"GS1 serial {escaped!r} is not 1-20 characters of GS1 character set 82"
        )
    return Identifier("gs1", f"(01){gtin}(21){serial}", uri, gtin=gtin, gs1_serial=serial)


def _identify(uri: str, rules: CodeRules, *, gs1: bool) -> Identifier | None:
    """Validate ``uri``; the Identifier of a battrace or (if ``gs1``) GS1 URI, else None."""
    if not _URI(uri):
        raise IdentityError("uri", f"{uri[:80]!r} is not a URI")
    if uri.startswith("urn:"):
        if uri.startswith(BATTERY_PREFIX):
            return _battery(uri, rules)
        if uri.startswith(VEHICLE_PREFIX):
            return _vehicle(uri)
        if uri.startswith(PARTY_PREFIX):
            return _party(uri)
        if uri.startswith(MATERIAL_PREFIX):
            return _material_id(uri)
    if uri[:4].lower() == "urn:":
        _canonical(uri)
    return _gs1(uri) if gs1 else None


def _valid(uri: str, rules: CodeRules) -> bool:
    """:func:`_identify` for the capture path: same verdicts, builds no battery objects."""
    if not isinstance(uri, str):
        raise TypeError  # turned into IdentityError by the caller, like an unhashable value
    if not _URI(uri):
        raise IdentityError("uri", f"{uri[:80]!r} is not a URI")
    if uri.startswith("urn:"):
        if uri.startswith(BATTERY_PREFIX):
            try:
                validate_battery_code(uri[len(BATTERY_PREFIX) :], rules)
            except IdentityError as exc:
                raise _whole(exc, BATTERY_PREFIX) from None
            return True
        if uri.startswith(VEHICLE_PREFIX):
            try:
                uncached_vin(uri[len(VEHICLE_PREFIX) :])
            except IdentityError as exc:
                raise _whole(exc, VEHICLE_PREFIX) from None
            return True
        if uri.startswith(PARTY_PREFIX):
            _split_party(uri, uncached_uscc)
            return True
        if uri.startswith(MATERIAL_PREFIX):
            _material_id(uri)
            return True
    if uri[:4].lower() == "urn:":
        _canonical(uri)
    return True


@lru_cache(maxsize=_CACHE_SIZE)
def _parse_default(uri: str) -> Identifier:
    return _identify(uri, DEFAULT_RULES, gs1=True) or Identifier("other", uri, uri)


def parse_uri(uri: str, rules: CodeRules = DEFAULT_RULES) -> Identifier:
    """Classify and validate a URI; surrounding whitespace is removed.

    Raises :class:`IdentityError` (field 'uri') for an invalid battrace URI, an invalid GS1 key
    (SGTIN URN, or id.gs1.org Digital Link with AI 01 + 21) or text that is not a URI.
    """
    if not isinstance(uri, str):
        raise IdentityError("uri", "must be a string")
    uri = uri.strip()
    if rules is DEFAULT_RULES:
        return _parse_default(uri)
    return _identify(uri, rules, gs1=True) or Identifier("other", uri, uri)


def _checker(valid: Callable[[str], bool]) -> UriCheck:
    def check_uri(uri: str, field: str) -> None:
        try:
            valid(uri)
        except IdentityError as exc:
            raise IdentityError(field, exc.reason, exc.position) from None
        except TypeError:  # not a string (or unhashable)
            raise IdentityError(field, "must be a URI string") from None

    return check_uri


def make_uri_checker(rules: CodeRules = DEFAULT_RULES) -> UriCheck:
    """A :func:`check_uri` for other battery-code rules, with its own cache of valid URIs."""
    return _checker(lru_cache(maxsize=_CACHE_SIZE)(partial(_valid, rules=rules)))


_valid_default = lru_cache(maxsize=_CACHE_SIZE)(partial(_valid, rules=DEFAULT_RULES))


def check_uri(uri: str, field: str) -> None:
    """Capture-time check of one identifier URI, for ``parse_event(check_uri=...)``.

    Raises :class:`IdentityError` with ``field`` as given when a urn:gbt34014 / urn:vin /
    urn:uscc / urn:battrace:material URI carries an invalid payload, when one of those prefixes is
    written in another case, or when ``uri`` is not a URI at all. Every other URI (GS1 keys
    included) passes unchanged. ``position`` is 1-based within ``uri``. Valid URIs are cached,
    so repeated identifiers (parties, sites, read points) cost one dictionary lookup.
    """
    try:
        _valid_default(uri)
    except IdentityError as exc:
        raise IdentityError(field, exc.reason, exc.position) from None
    except TypeError:  # not a string (or unhashable)
        raise IdentityError(field, "must be a URI string") from None


def battery_uri(code: str | BatteryCode, rules: CodeRules = DEFAULT_RULES) -> str:
    """``urn:gbt34014:{code}`` for a parsed code or a code string (validated)."""
    if isinstance(code, BatteryCode):
        return BATTERY_PREFIX + code.code
    if not isinstance(code, str):
        raise IdentityError("battery_code", "must be a string")
    return BATTERY_PREFIX + rules._compiled.parse(code).code


def vehicle_uri(vin: str) -> str:
    return VEHICLE_PREFIX + validate_vin(vin)


def party_uri(uscc: str) -> str:
    return PARTY_PREFIX + validate_uscc(uscc)


def site_uri(uscc: str, local: str) -> str:
    if not isinstance(local, str) or not _SITE(local):
        raise IdentityError("site", f"local id {local!r} must be 1-64 characters of [A-Za-z0-9._-]")
    return f"{PARTY_PREFIX}{validate_uscc(uscc)}:site:{local}"


def material_uri(name: str) -> str:
    if name not in MATERIALS:
        raise IdentityError("material", f"{name!r} is not one of {', '.join(sorted(MATERIALS))}")
    return MATERIAL_PREFIX + name


def digital_link_uri(gtin: str, serial: str) -> str:
    """Canonical GS1 Digital Link for a serialised item (GTIN-14 check digit verified)."""
    if not isinstance(serial, str) or not _CSET82(serial):
        raise IdentityError("serial", f"{serial!r} is not 1-20 characters of GS1 character set 82")
    return f"{DIGITAL_LINK_PREFIX}{_gtin(gtin)}/21/{quote(serial, safe=_DL_SAFE)}"


# Characters of set 82 that may stay unescaped in a URI path segment (RFC 3986 sub-delims etc.).
_DL_SAFE = "!'()*+,-.:;=_"
