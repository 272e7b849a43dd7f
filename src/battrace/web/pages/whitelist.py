"""The public whitelist page: enterprises announced as meeting the standard conditions for
cascade use or recycling, by announcement batch (issue 5: "the whitelist, by batch, is public").

Served at ``GET /whitelist`` when a browser asks for HTML (the same URL answers JSON to other
clients, web/whitelist.py), so a link shared from the page is also the data's address.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from battrace.domain.identities.divisions import province_by_code
from battrace.services import whitelist as service
from battrace.web.i18n import N_
from battrace.web.pages.context import get_page, render

KINDS = {"cascade_use": N_("Cascade use"), "recycling": N_("Recycling")}


def wants_html(request: Request) -> bool:
    """Whether the client prefers HTML to JSON (a browser following a link)."""
    accept = request.headers.get("accept", "").lower()
    html = accept.find("text/html")
    json = min((i for i in (accept.find("application/json"), accept.find("+json")) if i >= 0),
               default=-1)  # fmt: skip
    return html >= 0 and (json < 0 or html < json)


def whitelist_page(request: Request, batch: int | None) -> Response:
    page = get_page(request)
    t = page.t
    every: list[dict[str, Any]] = service.public_whitelist(page.store)
    batches = [b for b in every if batch is None or b["batch"] == batch]
    for b in batches:
        for e in b["entries"]:
            prov = province_by_code(e["province"] or "")
            e["province_name"] = t.pick(prov.name_zh, prov.name_en) if prov else e["province"]
            e["name"] = t.pick(e["name_zh"], e["name_en"])
            label = KINDS.get(e["kind"])
            e["kind_label"] = t._(label) if label else e["kind"]
    return render(
        page,
        "whitelist.html",
        batches=batches,
        numbers=[b["batch"] for b in every],
        batch=batch,
    )
