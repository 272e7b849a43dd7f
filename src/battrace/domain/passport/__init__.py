"""The EU battery passport (Regulation (EU) 2023/1542, Art. 77-78, Annex XIII) from ledger facts.

Pure: no database, web or file access. The service (:mod:`battrace.services.passport`) gathers the
facts, signs and stores published versions; this package derives, filters and exports.

* :mod:`.attributes`: the attribute registry (long list v1.2 + battrace's extras), Annex XIII access
  groups and the three audiences.
* :mod:`.status`: the internal battery status, its derivation and its spelling in each model.
* :mod:`.model`: :class:`Facts` → :class:`Passport` (values with provenance, nothing invented).
* :mod:`.export` and the exporters :mod:`.batterypass`, :mod:`.catenax`, :mod:`.idta`.
* :mod:`.signing`: compact JWS with Ed25519.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final
from urllib.parse import quote

from battrace.domain.errors import InvalidInput
from battrace.domain.passport import batterypass, catenax, idta
from battrace.domain.passport.attributes import (
    ATTRIBUTES,
    AUDIENCE_GROUPS,
    EXTRAS,
    LONG_LIST,
    Attribute,
    Audience,
    Group,
    parse_audience,
    visible,
)
from battrace.domain.passport.export import Export, FieldNote
from battrace.domain.passport.model import (
    FORMAT,
    ILMD_KEYS,
    EventFact,
    Facts,
    LedgerAnchor,
    Party,
    Passport,
    Publication,
    Related,
    Subject,
    Value,
    build_passport,
    from_json,
    passport_id,
    published,
    subject_for,
)
from battrace.domain.passport.status import BatteryStatus, PassportStatus, status_for

#: The canonical model (battrace's own, with provenance) and the three exported data models.
BATTRACE: Final = "battrace"
EXPORTERS: Final[dict[str, Callable[[Passport], Export]]] = {
    batterypass.MODEL: batterypass.export,
    catenax.MODEL: catenax.export,
    idta.MODEL: idta.export,
}
MODELS: Final = (BATTRACE, *EXPORTERS)

#: Accept-header profiles (RFC 6906) per model: the model name or a prefix of its SAMM URNs.
PROFILES: Final = {
    BATTRACE: ("battrace", "https://battrace.org/passport/v1"),
    batterypass.MODEL: ("batterypass", "urn:samm:io.BatteryPass"),
    catenax.MODEL: ("catenax", "urn:samm:io.catenax.battery.battery_pass"),
    idta.MODEL: ("idta", "urn:samm:io.admin-shell.idta"),
}

SEMANTIC_IDS: Final = {
    batterypass.MODEL: batterypass.SEMANTIC_IDS,
    catenax.MODEL: catenax.SEMANTIC_IDS,
    idta.MODEL: idta.SEMANTIC_IDS,
}


def parse_model(value: str | None) -> str:
    if value is None or value == "":
        return BATTRACE
    model = value.strip().lower()
    if model not in MODELS:
        raise InvalidInput("model", f"{value[:40]!r} is not one of {', '.join(MODELS)}")
    return model


def model_for_profile(profile: str) -> str | None:
    """The model an ``Accept`` profile names, or None."""
    profile = profile.strip()
    for model, names in PROFILES.items():
        if profile == names[0] or any(profile.startswith(p) for p in names[1:]):
            return model
    return None


def render(passport: Passport, model: str, audience: Audience) -> dict[str, Any]:
    """The passport as ``audience`` may see it, in ``model`` (JSON-ready)."""
    view = passport if passport.audience == audience else passport.for_audience(audience)
    if model == BATTRACE:
        return view.to_json()
    return EXPORTERS[model](view).to_json()


def passport_url(base_url: str, subject: Subject) -> str:
    """Where the passport of ``subject`` is served: ``{base}/passport/{code}``."""
    base = base_url.rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise InvalidInput("base_url", "must be an http(s) URL")
    code = subject.code if subject.scheme == "gbt34014" else subject.uri
    return f"{base}/passport/{quote(code, safe=':')}"


def label_url(subject: Subject, base_url: str | None, resolver: str | None = None) -> str:
    """What the QR code on the battery's label encodes.

    A GS1-identified battery gets its GS1 Digital Link (ISO/IEC 18975), on ``resolver`` if given
    (a brand's own resolver; battrace answers ``/01/{gtin}/21/{serial}`` itself) or on GS1's
    ``id.gs1.org``. Any other battery gets its passport URL under ``base_url``.
    """
    link = subject.digital_link
    if link is not None:
        if resolver:
            root = resolver.rstrip("/")
            if not root.startswith(("https://", "http://")):
                raise InvalidInput("resolver", "must be an http(s) URL")
            return root + link.removeprefix("https://id.gs1.org")
        return link
    if not base_url:
        raise InvalidInput(
            "base_url", "is required for a battery without a GS1 identifier (the passport URL)"
        )
    return passport_url(base_url, subject)


#: Enterprise roles (services.enterprises.ROLES) whose holders have a legitimate interest in the
#: sense of Art. 77(9) use cases (re-use, repurposing, remanufacturing, recycling, residual value);
#: web.passport.granted_audiences applies it to interface keys and web users.
LEGITIMATE_ROLES: Final = frozenset(
    {
        "battery_maker",
        "automaker",
        "importer",
        "repairer",
        "swap_operator",
        "dismantler",
        "recycling_outlet",
        "cascade_user",
        "recycler",
    }
)
AUTHORITY_ROLES: Final = frozenset({"regulator_national", "regulator_provincial"})


def audiences_for_roles(roles: Iterable[str]) -> frozenset[Audience]:
    """The audiences an enterprise with these roles may ask for (always including public)."""
    granted = {Audience.PUBLIC}
    roles = set(roles)
    if roles & LEGITIMATE_ROLES:
        granted.add(Audience.LEGITIMATE)
    if roles & AUTHORITY_ROLES:
        granted.add(Audience.AUTHORITY)
    return frozenset(granted)


__all__ = [
    "ATTRIBUTES",
    "AUDIENCE_GROUPS",
    "AUTHORITY_ROLES",
    "BATTRACE",
    "EXPORTERS",
    "EXTRAS",
    "FORMAT",
    "ILMD_KEYS",
    "LEGITIMATE_ROLES",
    "LONG_LIST",
    "MODELS",
    "PROFILES",
    "SEMANTIC_IDS",
    "Attribute",
    "Audience",
    "BatteryStatus",
    "EventFact",
    "Export",
    "Facts",
    "FieldNote",
    "Group",
    "LedgerAnchor",
    "Party",
    "Passport",
    "PassportStatus",
    "Publication",
    "Related",
    "Subject",
    "Value",
    "audiences_for_roles",
    "build_passport",
    "from_json",
    "label_url",
    "model_for_profile",
    "parse_audience",
    "parse_model",
    "passport_id",
    "passport_url",
    "published",
    "render",
    "status_for",
    "subject_for",
    "visible",
]
