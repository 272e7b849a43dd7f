"""EPCIS 2.0 REST binding plumbing: GS1 headers, version checks and content negotiation."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request

from battrace.web.problems import NOT_ACCEPTABLE, ApiError

EPCIS_VERSION = "2.0.0"
CBV_VERSION = "2.0.0"
VERSION_HEADERS = {"GS1-EPCIS-Version": EPCIS_VERSION, "GS1-CBV-Version": CBV_VERSION}

JSON = "application/json"
JSON_LD = "application/ld+json"
XML = "application/xml"
_VERSION = re.compile(r"\d+(\.\d+)*")


def _version(text: str, header: str) -> tuple[int, ...]:
    text = text.strip()
    if not _VERSION.fullmatch(text):
        raise ApiError(
            400,
            f"{header}: {text!r} is not a version such as 2.0.0",
            errors=[{"field": header, "reason": "is not a version such as 2.0.0"}],
        )
    parts = tuple(int(p) for p in text.split("."))
    return parts + (0,) * (3 - len(parts))


def check_versions(request: Request) -> None:
    """406 when the client asks for EPCIS/CBV versions other than 2.0 (GS1-*-Version, -Min, -Max)."""
    ours = (2, 0, 0)
    h = request.headers
    for name in ("GS1-EPCIS-Version", "GS1-CBV-Version"):
        if name in h and _version(h[name], name)[0] != 2:
            raise ApiError(406, f"{name}: only {EPCIS_VERSION} is served", type=NOT_ACCEPTABLE)
    for name in ("GS1-EPCIS-Min", "GS1-CBV-Min"):
        if name in h and _version(h[name], name) > ours:
            raise ApiError(406, f"{name}: this server serves {EPCIS_VERSION}", type=NOT_ACCEPTABLE)
    for name in ("GS1-EPCIS-Max", "GS1-CBV-Max"):
        if name in h and _version(h[name], name) < ours:
            raise ApiError(406, f"{name}: this server serves {EPCIS_VERSION}", type=NOT_ACCEPTABLE)


def negotiate(request: Request, offers: tuple[str, ...] = (JSON, JSON_LD, XML)) -> str:
    """The offered media type the Accept header prefers (the first offer for */* or none)."""
    header = request.headers.get("accept", "")
    if not header.strip():
        return offers[0]
    best: tuple[float, int, str] | None = None
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        q = 1.0
        for f in fields[1:]:
            if f.startswith("q="):
                try:
                    q = float(f[2:])
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        for rank, offer in enumerate(offers):
            kind = offer.split("/")[0]
            if media in (offer, "*/*", f"{kind}/*") or (media == "text/xml" and offer == XML):
                # Exact types beat wildcards at the same q; then the server's order.
                exact = 0 if media in (offer, "text/xml") else 1
                cand = (-q, exact * 10 + rank, offer)
                if best is None or cand < best:
                    best = cand
    if best is None:
        raise ApiError(
            406,
            f"cannot serve {header!r}; available: {', '.join(offers)}",
            type=NOT_ACCEPTABLE,
        )
    return best[2]


# -- OpenAPI snippets -------------------------------------------------------------------------

_VERSION_SCHEMA = {"type": "string", "pattern": r"^\d+(\.\d+)*$", "example": "2.0.0"}
VERSION_RESPONSE_HEADERS: dict[str, Any] = {
    "GS1-EPCIS-Version": {"description": "The EPCIS version.", "schema": _VERSION_SCHEMA},
    "GS1-CBV-Version": {"description": "The CBV version.", "schema": _VERSION_SCHEMA},
}
LINK_HEADER: dict[str, Any] = {
    "Link": {
        "description": 'RFC 8288 link to the next page: `<URL>; rel="next"` (absent on the last).',
        "schema": {"type": "string"},
    }
}


def version_request_headers(*names: str) -> list[dict[str, Any]]:
    return [
        {
            "in": "header",
            "name": name,
            "required": False,
            "description": f"{name}: only {EPCIS_VERSION} is served (406 otherwise).",
            "schema": _VERSION_SCHEMA,
        }
        for name in names
    ]
