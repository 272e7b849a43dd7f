"""Identifiers battrace validates: GB/T 34014 battery codes, VINs, USCCs, divisions and URIs.

All functions are pure (no I/O) and raise :class:`battrace.domain.errors.IdentityError` naming the
field, the 1-based position of a faulty character and what was expected. See docs/identifiers.md.
"""

from battrace.domain.identities.divisions import (
    NATIONAL_DIVISION_CODE,
    PROVINCES,
    Province,
    province_by_code,
    province_of_uscc,
)
from battrace.domain.identities.gbt34014 import (
    DEFAULT_BATTERY_TYPES,
    DEFAULT_RULES,
    BatteryCode,
    CodeRules,
    format_battery_code,
    format_cascade_code,
    is_battery_code,
    parse_battery_code,
    validate_battery_code,
)
from battrace.domain.identities.uris import (
    MATERIALS,
    Identifier,
    UriCheck,
    battery_uri,
    check_uri,
    digital_link_uri,
    gtin_check_digit,
    make_uri_checker,
    material_uri,
    parse_uri,
    party_uri,
    site_uri,
    vehicle_uri,
)
from battrace.domain.identities.uscc import (
    REGISTRATION_AUTHORITIES,
    Uscc,
    is_uscc,
    make_uscc,
    organisation_code_check_character,
    parse_uscc,
    uscc_check_character,
    validate_uscc,
)
from battrace.domain.identities.vin import is_vin, make_vin, validate_vin, vin_check_digit

__all__ = [
    "DEFAULT_BATTERY_TYPES",
    "DEFAULT_RULES",
    "MATERIALS",
    "NATIONAL_DIVISION_CODE",
    "PROVINCES",
    "REGISTRATION_AUTHORITIES",
    "BatteryCode",
    "CodeRules",
    "Identifier",
    "Province",
    "UriCheck",
    "Uscc",
    "battery_uri",
    "check_uri",
    "digital_link_uri",
    "format_battery_code",
    "format_cascade_code",
    "gtin_check_digit",
    "is_battery_code",
    "is_uscc",
    "is_vin",
    "make_uri_checker",
    "make_uscc",
    "make_vin",
    "material_uri",
    "organisation_code_check_character",
    "parse_battery_code",
    "parse_uri",
    "parse_uscc",
    "party_uri",
    "province_by_code",
    "province_of_uscc",
    "site_uri",
    "uscc_check_character",
    "validate_battery_code",
    "validate_uscc",
    "validate_vin",
    "vehicle_uri",
    "vin_check_digit",
]
