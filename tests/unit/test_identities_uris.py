"""Identifier URIs inside EPCIS events: builders, parse_uri, check_uri, GS1 keys."""

from __future__ import annotations

import pytest

from battrace.domain.errors import IdentityError
from battrace.domain.identities import (
    MATERIALS,
    CodeRules,
    battery_uri,
    check_uri,
    digital_link_uri,
    gtin_check_digit,
    make_uri_checker,
    material_uri,
    parse_battery_code,
    parse_uri,
    party_uri,
    site_uri,
    vehicle_uri,
)

CODE = "03UPE01000011C85A00FTY45"
VIN = "1M8GDM9AXKP042788"
CATL = "91350900587527783P"
FIELD = "eventList[3].epcList[0]"


def test_builders_and_parse_round_trip() -> None:
    b = parse_uri(battery_uri(CODE))
    assert (b.kind, b.value, b.uri) == ("battery", CODE, f"urn:gbt34014:{CODE}")
    assert b.battery == parse_battery_code(CODE)
    v = parse_uri(vehicle_uri(VIN))
    assert (v.kind, v.value, v.battery, v.party) == ("vehicle", VIN, None, None)
    p = parse_uri(party_uri(CATL))
    assert (p.kind, p.value, p.party) == ("party", CATL, CATL)
    s = parse_uri(site_uri(CATL, "Ningde-WH_1.a"))
    assert (s.kind, s.value, s.party) == ("site", "Ningde-WH_1.a", CATL)
    assert s.uri == f"urn:uscc:{CATL}:site:Ningde-WH_1.a"
    m = parse_uri(material_uri("black_mass"))
    assert (m.kind, m.value, m.uri) == (
        "material",
        "black_mass",
        "urn:battrace:material:black_mass",
    )


def test_battery_uri_accepts_a_parsed_code_and_cascade_codes() -> None:
    assert battery_uri(parse_battery_code(CODE)) == f"urn:gbt34014:{CODE}"
    assert parse_uri("urn:gbt34014:ABCMB01E3F0001234RM").battery.is_cascade  # type: ignore[union-attr]


def test_material_names_are_the_twelve_agreed_ones() -> None:
    assert {
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
    } == MATERIALS
    with pytest.raises(IdentityError):
        material_uri("gold")


@pytest.mark.parametrize("local", ["", "a" * 65, "WH 1", "WH/1", "仓库"])
def test_site_local_id_rules(local: str) -> None:
    with pytest.raises(IdentityError):
        site_uri(CATL, local)
    with pytest.raises(IdentityError) as exc:
        check_uri(f"urn:uscc:{CATL}:site:{local}", FIELD)
    assert exc.value.bare_field == FIELD


def test_site_local_id_of_64_characters_is_fine() -> None:
    assert parse_uri(site_uri(CATL, "a" * 64)).value == "a" * 64


@pytest.mark.parametrize(
    ("uri", "position", "words"),
    [
        (f"urn:gbt34014:{CODE[:16]}Z{CODE[17:]}", 13 + 17, "battery code character 17"),
        (f"urn:gbt34014:{CODE[:20]}", None, "24 characters"),
        (f"urn:gbt34014:{CODE.lower()}", 13 + 3, "upper case"),
        (f"urn:vin:{VIN[:8]}1{VIN[9:]}", 8 + 9, "expected 'X'"),
        (f"urn:vin:{VIN[:4]}O{VIN[5:]}", 8 + 5, "I, O and Q"),
        (f"urn:uscc:{CATL[:17]}Q", 9 + 18, "expected 'P'"),
        (f"urn:uscc:{CATL}:store:1", 29, "site"),
        ("urn:battrace:material:gold", None, "material 'gold'"),
        ("urn:battrace:material:", None, "material ''"),
        ("urn:vin:", None, "17 characters"),
    ],
)
def test_check_uri_reports_field_position_and_reason(
    uri: str, position: int | None, words: str
) -> None:
    with pytest.raises(IdentityError) as exc:
        check_uri(uri, FIELD)
    assert exc.value.bare_field == FIELD
    assert exc.value.position == position
    assert words in exc.value.reason
    assert str(exc.value).startswith(FIELD)
    with pytest.raises(IdentityError):  # parse_uri agrees
        parse_uri(uri)


@pytest.mark.parametrize(
    "uri",
    [
        f"URN:GBT34014:{CODE}",
        f"urn:GBT34014:{CODE}",
        f"urn:Vin:{VIN}",
        f"Urn:uscc:{CATL}",
        "urn:battrace:MATERIAL:copper",
        "urn:vin",
        "urn:gbt34014",
    ],
)
def test_battrace_namespaces_in_another_case_are_rejected(uri: str) -> None:
    with pytest.raises(IdentityError) as exc:
        check_uri(uri, FIELD)
    assert "must start exactly with" in exc.value.reason


@pytest.mark.parametrize(
    "uri",
    [
        "urn:epc:id:sgtin:0614141.107346.2017",
        "https://id.gs1.org/01/10614141073464/21/2017",
        "https://example.com/obj/gbt34014/03UPE01000011C85A00FTY45",
        "urn:epc:id:sgln:0614141.00777.0",
        "urn:battrace:bizstep:recycling",
        "http://example.org/anything?x=1",
        "urn:vinyl:record",
    ],
)
def test_other_uris_pass_unchanged(uri: str) -> None:
    check_uri(uri, FIELD)  # does not raise
    assert parse_uri(uri).uri == uri


@pytest.mark.parametrize("value", ["", "no scheme", " urn:vin:" + VIN, "1abc:x", "urn:", None, []])
def test_non_uris_are_rejected(value: object) -> None:
    with pytest.raises(IdentityError) as exc:
        check_uri(value, FIELD)  # type: ignore[arg-type]
    assert exc.value.bare_field == FIELD


def test_parse_uri_strips_and_classifies_other() -> None:
    assert parse_uri(f"  urn:vin:{VIN} ").value == VIN
    o = parse_uri("https://example.com/x")
    assert (o.kind, o.value, o.battery, o.party) == ("other", "https://example.com/x", None, None)
    with pytest.raises(IdentityError):
        parse_uri(42)  # type: ignore[arg-type]


def test_invalid_codes_raise_every_time_not_only_once() -> None:
    bad = f"urn:vin:{VIN[:8]}1{VIN[9:]}"
    for _ in range(2):
        with pytest.raises(IdentityError):
            check_uri(bad, FIELD)


def test_gtin_check_digit_of_the_reference_example() -> None:
    # epcis.md §4.1 [verified]: urn:epc:id:sgtin:0614141.107346.2017 -> GTIN 10614141073464
    assert gtin_check_digit("1061414107346") == "4"
    assert gtin_check_digit("629104150021") == "3"  # EAN-13 6291041500213
    with pytest.raises(IdentityError):
        gtin_check_digit("12a")


def test_sgtin_and_digital_link_name_the_same_item() -> None:
    s = parse_uri("urn:epc:id:sgtin:0614141.107346.2017")
    d = parse_uri("https://id.gs1.org/01/10614141073464/21/2017")
    assert s.kind == d.kind == "gs1"
    assert s.value == d.value == "(01)10614141073464(21)2017"
    assert (s.gtin, s.gs1_serial) == ("10614141073464", "2017")


def test_gs1_serial_escapes_are_decoded() -> None:
    uri = digital_link_uri("10614141073464", "A/B%1")
    assert uri == "https://id.gs1.org/01/10614141073464/21/A%2FB%251"
    assert parse_uri(uri).gs1_serial == "A/B%1"
    assert parse_uri("urn:epc:id:sgtin:0614141.107346.A%2FB").gs1_serial == "A/B"


@pytest.mark.parametrize(
    "uri",
    [
        "https://id.gs1.org/01/10614141073463/21/2017",  # wrong GTIN check digit
        "urn:epc:id:sgtin:0614141.10734.2017",  # 12 digits, not 13
        "urn:epc:id:sgtin:0614141.107346." + "1" * 21,  # serial longer than 20
        "https://id.gs1.org/01/10614141073464/21/%FF",  # not UTF-8
    ],
)
def test_invalid_gs1_keys_fail_parse_uri(uri: str) -> None:
    with pytest.raises(IdentityError):
        parse_uri(uri)


def test_digital_link_gtin_error_position() -> None:
    with pytest.raises(IdentityError) as exc:
        parse_uri("https://id.gs1.org/01/10614141073463/21/2017")
    assert exc.value.position == 22 + 14
    with pytest.raises(IdentityError):
        digital_link_uri("10614141073463", "1")
    with pytest.raises(IdentityError):
        digital_link_uri("10614141073464", "")


def test_other_digital_links_are_other() -> None:
    assert parse_uri("https://id.gs1.org/01/10614141073464").kind == "other"


def test_checker_for_custom_rules() -> None:
    strict = make_uri_checker(CodeRules(serial_digits_only=True))
    uri = f"urn:gbt34014:{CODE}"
    check_uri(uri, FIELD)  # letters in the serial are fine by default
    with pytest.raises(IdentityError) as exc:
        strict(uri, FIELD)
    assert exc.value.position == 13 + 20
    strict("urn:gbt34014:X12MCPM27KLPCLX2M2382320", FIELD)
    assert parse_uri(uri, CodeRules(serial_digits_only=False)).kind == "battery"
    with pytest.raises(IdentityError):
        parse_uri(uri, CodeRules(serial_digits_only=True))
