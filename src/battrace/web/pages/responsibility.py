"""Producer-responsibility tables for regulators, with CSV/XLSX downloads.

For each automaker: batteries retired from vehicles it sold and the share recovered through its
own or shared outlets (and through any formal channel); the same for battery makers. Outlet
coverage (2026 rule): prefecture-level cities where an automaker's vehicles were sold vs cities
where an outlet serves it; for battery makers by province. The numbers are
:func:`battrace.services.stats.producer_responsibility` and
:func:`~battrace.services.stats.outlet_coverage`, cut to the regulator's jurisdiction (a
provincial regulator sees the producers registered in its province).

A snapshot reads every pack's facts, so the tables are cached per (scope, period, ledger head)
for a short while: the page and its downloads then cost one computation.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from battrace.domain.identities.divisions import province_by_code
from battrace.services import stats
from battrace.services.alerts import Scope
from battrace.web.i18n import Translator
from battrace.web.pages.alerts import Names, actor_of
from battrace.web.pages.context import Page, PageError, PageRoute, get_page, render
from battrace.web.pages.tables import DataTable, download

router = APIRouter(route_class=PageRoute)
PageDep = Annotated[Page, Depends(get_page)]

CACHE_SECONDS = 60.0
CACHE_SIZE = 16
TABLES = ("automakers", "battery-makers", "coverage-automakers", "coverage-battery-makers")

_cache: OrderedDict[tuple[Any, ...], tuple[float, list[dict[str, Any]], list[dict[str, Any]]]]
_cache = OrderedDict()
_lock = threading.Lock()


def _rows(
    page: Page, scope: Scope, start: date | None, end: date | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(producer responsibility, outlet coverage) rows, cached briefly per ledger head."""
    key = (id(page.store), page.store.head().head, scope, start, end)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1], hit[2]
    snap = stats.snapshot(page.store, with_reports=False)
    producers = stats.producer_responsibility(snap, scope, start=start, end=end)
    coverage = stats.outlet_coverage(snap, scope)
    with _lock:
        _cache[key] = (now, producers, coverage)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return producers, coverage


def _day(page: Page, value: str, field: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise PageError(400, page.t._("Unknown filter value"), f"{field}: {value[:20]!r}") from None


def _place(t: Translator, code: str) -> str:
    """A prefecture code (6 digits) or province code (2 digits) as people read it."""
    prov = province_by_code(code)
    name = t.pick(prov.name_zh, prov.name_en) if prov else ""
    if len(code) == 2:
        return name or code
    return f"{code} {name}".strip()


def tables(
    t: Translator,
    names: Names,
    producers: list[dict[str, Any]],
    coverage: list[dict[str, Any]],
) -> dict[str, DataTable]:
    def share(value: float | None) -> float | None:
        return None if value is None else round(value, 4)

    def responsibility(role: str, key: str, title: str) -> DataTable:
        return DataTable(
            key,
            title,
            [
                t._("Producer"),
                t._("USCC"),
                t._("Province"),
                t._("Retired (packs)"),
                t._("Retired (kWh)"),
                t._("Recovered through own or shared outlets (packs)"),
                t._("Share through own or shared outlets"),
                t._("Recovered through any formal channel (packs)"),
                t._("Share through formal channels"),
            ],
            [
                [
                    names.enterprise(r["producer"]),
                    r["producer"],
                    names.province(r["province"]),
                    r["retired"],
                    r["retired_kwh"],
                    r["recovered_own_or_shared_outlets"],
                    share(r["outlet_share"]),
                    r["recovered_formal"],
                    share(r["formal_share"]),
                ]
                for r in producers
                if r["role"] == role
            ],
            (False, False, False, True, True, True, True, True, True),
        )

    def covered(role: str, key: str, title: str, unit: str) -> DataTable:
        return DataTable(
            key,
            title,
            [
                t._("Producer"),
                t._("USCC"),
                t._("Sold in (%(unit)s)") % {"unit": unit},
                t._("With an outlet serving it"),
                t._("Coverage"),
                t._("Not covered"),
            ],
            [
                [
                    names.enterprise(r["producer"]),
                    r["producer"],
                    len(r["sold_in"]),
                    len(set(r["sold_in"]) & set(r["outlets_in"])),
                    share(r["coverage"]),
                    ", ".join(_place(t, c) for c in r["uncovered"]),
                ]
                for r in coverage
                if r["role"] == role
            ],
            (False, False, True, True, True, False),
        )

    return {
        d.key: d
        for d in (
            responsibility(
                "automaker", "automakers", t._("Automakers: retired batteries recovered")
            ),
            responsibility(
                "battery_maker",
                "battery-makers",
                t._("Battery makers: retired batteries recovered"),
            ),
            covered(
                "automaker",
                "coverage-automakers",
                t._("Automakers: outlet coverage by prefecture-level city"),
                t._("cities"),
            ),
            covered(
                "battery_maker",
                "coverage-battery-makers",
                t._("Battery makers: outlet coverage by province"),
                t._("provinces"),
            ),
        )
    }


def _tables(
    page: Page, start: str, end: str
) -> tuple[dict[str, DataTable], date | None, date | None]:
    user = page.require_regulator()
    actor = actor_of(page, user)
    first, until = _day(page, start, "from"), _day(page, end, "to")
    producers, coverage = _rows(page, actor.scope(), first, until)
    return tables(page.t, Names(page), producers, coverage), first, until


@router.get("/regulator/responsibility")
def responsibility_page(
    page: PageDep,
    start: Annotated[str, Query(alias="from", max_length=10)] = "",
    end: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    data, first, until = _tables(page, start, end)
    query = "&".join(
        f"{k}={v.isoformat()}" for k, v in (("from", first), ("to", until)) if v is not None
    )
    return render(
        page,
        "responsibility.html",
        tables=data,
        start=first.isoformat() if first else "",
        end=until.isoformat() if until else "",
        query=f"?{query}" if query else "",
        shares=[
            page.t._("Share through own or shared outlets"),
            page.t._("Share through formal channels"),
            page.t._("Coverage"),
        ],
    )


@router.get("/regulator/responsibility/{name}.{fmt}")
def responsibility_download(
    page: PageDep,
    name: str,
    fmt: str,
    start: Annotated[str, Query(alias="from", max_length=10)] = "",
    end: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    data, _first, _until = _tables(page, start, end)
    table = data.get(name)
    if table is None or fmt not in ("csv", "xlsx"):
        raise PageError(404, page.t._("Not found"))
    stem = f"battrace-{name}"
    return download(table, stem, fmt)
