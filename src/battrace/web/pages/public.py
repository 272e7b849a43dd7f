"""Public pages: home, battery lookup, rules and standards, QR labels. No sign-in needed."""

from __future__ import annotations

import importlib.util
import io
from datetime import date
from functools import cache
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Query
from fastapi.responses import RedirectResponse, Response

from battrace.domain.errors import InvalidInput
from battrace.domain.identities.gbt34014 import parse_battery_code
from battrace.domain.recycling.grading import default_grading_policy
from battrace.domain.recycling.massbalance import default_targets
from battrace.domain.rules import Actor, Rule, RuleKind, RuleSet, load_rulebooks
from battrace.web.pages import vocab
from battrace.web.pages.access import lookup_code, public_record
from battrace.web.pages.context import Page, PageError, PageRoute, get_page, render

router = APIRouter(route_class=PageRoute)
PageDep = Annotated[Page, Depends(get_page)]

MAX_LABELS = 500


def passport_available() -> bool:
    """The passport page exists once the passport work has landed (services.passport)."""
    return importlib.util.find_spec("battrace.services.passport") is not None


@router.get("/")
def home(page: PageDep) -> Response:
    head = page.store.head()
    backend = "PostgreSQL" if page.store.url.startswith("postgres") else "SQLite"
    return render(page, "home.html", head=head, backend=backend)


@router.get("/lookup")
def lookup(page: PageDep, code: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    record: dict[str, Any] | None = None
    error: str | None = None
    if code is not None:
        try:
            record = public_record(page.store, lookup_code(code))
        except InvalidInput as exc:
            error = _code_error(page, exc)
    status = 200 if error is None else (404 if error and code and "ledger" in error else 200)
    return render(
        page,
        "lookup.html",
        status=status,
        code=code or "",
        record=record,
        error=error,
        passport=passport_available(),
        step=lambda s: vocab.step(page.t, s),
        state=lambda s: vocab.state(page.t, s),
    )


def _code_error(page: Page, exc: InvalidInput) -> str:
    t = page.t
    if "is not in the ledger" in exc.reason:
        return t._("This battery code is not in the ledger.")
    if exc.field == "code" and "enter" in exc.reason:
        return t._("Enter a battery code.")
    # The identity checks name the position at fault; their wording is kept as evidence.
    return t._("Not a valid GB/T 34014 battery code: %(reason)s") % {"reason": str(exc)}


@router.get("/b/{code}")
def short_link(code: str) -> Response:
    """The URL printed in QR labels: short, so the code stays small and easy to scan."""
    from urllib.parse import quote

    return RedirectResponse(f"/lookup?code={quote(code[:60], safe='')}", 302)


# -- rules and standards ---------------------------------------------------------------------


@cache
def ruleset() -> RuleSet:
    return load_rulebooks(())


def _parameters(t: Any, rule: Rule) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if rule.kind is RuleKind.REPORTING_DEADLINE:
        days = rule.deadline_working_days
        out.append(
            (
                t._("Deadline"),
                t._("%(n)s working days") % {"n": days} if days is not None else t._("unconfirmed"),
            )
        )
    if rule.threshold is not None:
        th = rule.threshold
        value = (
            t._("unconfirmed")
            if th.value is None
            else f"{th.comparator.value} {th.value}{th.unit.value}"
        )
        label = th.quantity.replace("_", " ")
        if th.material:
            label += f" ({th.material})"
        out.append((label, value))
    if rule.period is not None:
        basis = {"working_days": t._("working days"), "calendar_days": t._("calendar days")}
        span = "—" if rule.period.days is None else str(rule.period.days)
        out.append((t._("Period"), f"{span} {basis.get(str(rule.period.basis), '')}".strip()))
    if rule.allowed_recipients:
        out.append(
            (
                t._("Allowed recipients"),
                ", ".join(vocab.role(t, str(a)) for a in rule.allowed_recipients),
            )
        )
    if rule.follow_up_trigger is not None:
        out.append((t._("Follow-up step"), vocab.step(t, str(rule.follow_up_trigger))))
    return out


@router.get("/rules")
def rules(
    page: PageDep,
    actor: Annotated[str | None, Query(max_length=40)] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    as_of: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    t = page.t
    day: date | None = None
    if as_of:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            raise PageError(400, t._("Not a date"), t._("Use the form YYYY-MM-DD.")) from None
    try:
        chosen_actor = Actor(actor) if actor else None
        chosen_kind = RuleKind(kind) if kind else None
    except ValueError:
        raise PageError(400, t._("Unknown filter value")) from None
    listed = ruleset().list(kind=chosen_kind, actor=chosen_actor, as_of=day)
    rows = [
        {
            "rule": r,
            "title": t.pick(r.title_zh, r.title_en),
            "document": t.pick(r.source.document.title_zh, r.source.document.title_en),
            "number": (r.source.document.number if t.is_zh else r.source.document.number_en)
            or r.source.document.number,
            "parameters": _parameters(t, r),
            "actor": vocab.role(t, str(r.actor)),
            "trigger": vocab.step(t, str(r.trigger)),
            "confidence": vocab.confidence(t, str(r.confidence)),
        }
        for r in listed
    ]
    policy = default_grading_policy()
    grading = [
        (
            t._("Vehicle use: minimum state of health"),
            f"≥ {policy.vehicle_min_soh_pct} %",
            "vehicle.min_soh_pct",
        ),
        (
            t._("Vehicle use: maximum resistance ratio"),
            f"≤ {policy.vehicle_max_resistance_ratio}",
            "vehicle.max_resistance_ratio",
        ),
    ]
    for band in policy.cascade_bands:
        grading.append(
            (
                t._("Cascade band %(grade)s: minimum state of health") % {"grade": band.grade},
                f"≥ {band.min_soh_pct} %",
                f"{band.grade}.min_soh_pct",
            )
        )
    grading_rows = [
        {
            "label": label,
            "value": value,
            "status": vocab.confidence(t, policy.status(key)),
            "source": policy.provenance[key].source if key in policy.provenance else "",
        }
        for label, value, key in grading
    ]
    return render(
        page,
        "rules.html",
        rows=rows,
        actors=[(a.value, vocab.role(t, a.value)) for a in Actor],
        kinds=[k.value for k in RuleKind],
        actor=actor or "",
        kind=kind or "",
        as_of=as_of or "",
        grading=grading_rows,
        targets=default_targets(),
        confidence=lambda v: vocab.confidence(t, v),
    )


# -- QR labels ---------------------------------------------------------------------------------


def label_url(page: Page, code: str) -> str:
    """The public page a label's QR code opens: under ``BATTRACE_PUBLIC_URL`` when the platform
    runs behind a proxy (the request's own URL would be an internal address), else this host."""
    base = page.settings.public_url or str(page.request.base_url).rstrip("/")
    return f"{base}/b/{code}"


def _qr(page: Page, code: str) -> segno.QRCode:
    try:
        parsed = parse_battery_code(code.strip().upper())
    except InvalidInput as exc:
        raise PageError(
            404, page.t._("Not a valid GB/T 34014 battery code: %(reason)s") % {"reason": str(exc)}
        ) from None
    return segno.make(label_url(page, parsed.code), error="m")


@router.get("/labels/qr/{code}.png")
def qr_png(page: PageDep, code: str, scale: Annotated[int, Query(ge=1, le=40)] = 8) -> Response:
    buffer = io.BytesIO()
    _qr(page, code).save(buffer, kind="png", scale=scale, border=4)
    return Response(
        buffer.getvalue(),
        media_type="image/png",
        headers={
            "Content-Disposition": f'inline; filename="{code}.png"',
            "Cache-Control": "public, max-age=3600",
        },
    )


@router.get("/labels/qr/{code}.svg")
def qr_svg(page: PageDep, code: str, scale: Annotated[int, Query(ge=1, le=40)] = 4) -> Response:
    buffer = io.BytesIO()
    _qr(page, code).save(
        buffer, kind="svg", scale=scale, border=4, xmldecl=False, svgns=True, title=code
    )
    return Response(
        buffer.getvalue(),
        media_type="image/svg+xml",
        headers={
            "Content-Disposition": f'inline; filename="{code}.svg"',
            "Cache-Control": "public, max-age=3600",
        },
    )


def parse_codes(t: Any, text: str, count: int | None) -> tuple[list[str], list[str]]:
    """Codes from a text box (one per line, commas or spaces), or a first code and a count.

    With ``count``, the label run is the first code and the following serial numbers under the
    same 17-character prefix (a production batch), as GB/T 34014 numbers them.
    """
    codes: list[str] = []
    errors: list[str] = []
    tokens = [tok for tok in text.replace(",", " ").replace(";", " ").split() if tok]
    for n, token in enumerate(tokens[:MAX_LABELS], 1):
        try:
            codes.append(parse_battery_code(token.upper()).code)
        except InvalidInput as exc:
            errors.append(t._("Line %(n)s: %(reason)s") % {"n": n, "reason": str(exc)})
    if len(tokens) > MAX_LABELS:
        errors.append(t._("At most %(n)s labels per sheet.") % {"n": MAX_LABELS})
    if count and codes and not errors:
        first = codes[0]
        if len(first) != 24:
            errors.append(t._("A batch run needs a 24-character code."))
        else:
            serial = int(first[17:]) if first[17:].isdigit() else None
            if serial is None:
                errors.append(t._("The serial number of the first code is not numeric."))
            elif count > MAX_LABELS or serial + count - 1 > 9_999_999:
                errors.append(t._("At most %(n)s labels per sheet.") % {"n": MAX_LABELS})
            else:
                codes = [first[:17] + f"{serial + i:07d}" for i in range(count)]
                for c in codes:
                    try:
                        parse_battery_code(c)
                    except InvalidInput as exc:
                        errors.append(str(exc))
                        break
    return codes, errors


@router.get("/labels")
def labels(
    page: PageDep,
    codes: Annotated[str | None, Query(max_length=20000)] = None,
    count: Annotated[str, Query(max_length=6)] = "",
    sheet: Annotated[bool, Query()] = False,
) -> Response:
    parsed: list[str] = []
    errors: list[str] = []
    run: int | None = None
    if count.strip():
        # An empty box comes as "count=" from the form: that is "no batch run", not an error.
        if not count.strip().isdigit() or not 1 <= int(count) <= MAX_LABELS:
            errors.append(page.t._("At most %(n)s labels per sheet.") % {"n": MAX_LABELS})
        else:
            run = int(count)
    if codes and not errors:
        parsed, errors = parse_codes(page.t, codes, run)
    template = "label_sheet.html" if sheet and parsed and not errors else "labels.html"
    return render(
        page,
        template,
        status=400 if errors else 200,
        codes_text=codes or "",
        count=count,
        codes=parsed,
        errors=errors,
        url=lambda c: label_url(page, c),
    )
