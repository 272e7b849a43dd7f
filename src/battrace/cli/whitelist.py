"""``battrace whitelist …`` (applications, provincial review, national announcement, the public
whitelist by batch) and ``battrace pilot …`` (pilot regions and enterprises, side by side).

Thin shells over :mod:`battrace.services.whitelist` and :mod:`battrace.services.pilots`. The
operator at the server sees everything and acts as the applicant; ``--as USCC`` acts as (and sees
what) a registered enterprise or authority would. Review and announcement always need ``--as``.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from battrace.cli.common import console, handle_errors, print_json, state
from battrace.domain.errors import InvalidInput
from battrace.domain.rules import RuleSet
from battrace.domain.whitelist import Evaluation
from battrace.services import pilots as pilot_service
from battrace.services import whitelist as service
from battrace.services.alerts import default_rules
from battrace.services.supervision import Actor, actor_of

whitelist_app = typer.Typer(
    name="whitelist",
    help="Whitelist (standard conditions) applications, review, announcement by batch.",
    no_args_is_help=True,
)
pilot_app = typer.Typer(
    name="pilot", help="Pilot regions and enterprises and their results.", no_args_is_help=True
)
pilot_add_app = typer.Typer(
    name="add", help="Register a pilot region or enterprise.", no_args_is_help=True
)
pilot_app.add_typer(pilot_add_app, name="add")

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
AsWho = Annotated[
    str | None,
    typer.Option("--as", metavar="USCC", help="Act (and see) as this registered enterprise."),
]
AsActor = Annotated[
    str, typer.Option("--as", metavar="USCC", help="The regulator who acts (registered).")
]
AppId = Annotated[int, typer.Argument(metavar="ID", min=1, help="Application id.")]
Rulebooks = Annotated[
    list[Path] | None,
    typer.Option("--rulebook", help="A local rulebook file or folder (repeatable)."),
]
Scenarios = Annotated[
    list[str] | None,
    typer.Option(
        "--scenario",
        help=f"Cascade-use scenario (repeatable): {', '.join(pilot_service.SCENARIOS)}.",
    ),
]
Started = Annotated[str | None, typer.Option("--started", metavar="DATE", help="Start date.")]
Notes = Annotated[str, typer.Option("--notes", help="Notes.")]


def _actor(who: str | None) -> Actor | None:
    return None if who is None else actor_of(state.store, who)


def _rules(paths: list[Path] | None) -> RuleSet:
    return default_rules(tuple(paths or ()))


def _day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(field, f"{text!r} is not a date YYYY-MM-DD") from None


def read_application(path: Path) -> Any:
    """An application file: TOML (``.toml``) or JSON."""
    raw = path.read_bytes()
    if path.suffix.lower() == ".toml":
        try:
            return tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InvalidInput(path.name, f"not TOML: {exc}") from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(path.name, f"not JSON: {exc}") from None


def _print_evaluation(result: Evaluation | dict[str, Any]) -> None:
    data = result.to_dict() if isinstance(result, Evaluation) else result
    table = Table(
        "indicator", "measured", "requirement", "status", "rule", "confidence", "citation"
    )
    colour = {"pass": "green", "fail": "red", "not-provided": "yellow", "unconfirmed": "dim"}
    for item in data["items"]:
        measured = item["measured"]
        shown = "—" if measured is None else f"{measured} {item['unit'] or ''}".strip()
        status = item["status"]
        table.add_row(
            item["indicator"],
            shown,
            item["requirement"],
            f"[{colour.get(status, 'white')}]{status}[/]",
            f"{item['rule']} v{item['version']}",
            item["confidence"] + (" (draft)" if item["draft"] else ""),
            item["citation"],
        )
    console.print(table)
    console.print(
        f"edition {data['edition']} · {data['kind']} · as of {data['as_of']}: "
        f"[bold]{data['result']}[/]"
    )


def _print_view(view: service.ApplicationView) -> None:
    console.print(
        f"application {view.id}: {view.uscc} (province {view.province}) · {view.kind} · "
        f"edition {view.edition} · [bold]{view.state}[/]"
        + (f" · batch {view.batch} ({view.announced_on})" if view.batch else "")
    )


@whitelist_app.command("apply")
@handle_errors
def whitelist_apply(
    file: Annotated[Path, typer.Argument(metavar="FILE.json|toml", help="The application.")],
    who: AsWho = None,
    as_json: Json = False,
    rulebook: Rulebooks = None,
) -> None:
    """Store an application as a draft, evaluated against the edition in force."""
    view = service.apply(state.store, read_application(file), _actor(who), rules=_rules(rulebook))
    if as_json:
        print_json(view.to_dict())
        return
    _print_view(view)
    if view.evaluation is not None:
        _print_evaluation(view.evaluation)


@whitelist_app.command("evaluate")
@handle_errors
def whitelist_evaluate(
    app_id: AppId, who: AsWho = None, as_json: Json = False, rulebook: Rulebooks = None
) -> None:
    """Evaluate an application item by item (pass / fail / not-provided / unconfirmed)."""
    _, result = service.evaluate_application(
        state.store, app_id, _actor(who), rules=_rules(rulebook)
    )
    if as_json:
        print_json(result.to_dict())
    else:
        _print_evaluation(result)


@whitelist_app.command("submit")
@handle_errors
def whitelist_submit(
    app_id: AppId,
    who: AsWho = None,
    comment: Annotated[str, typer.Option("--comment", help="A comment for the record.")] = "",
    rulebook: Rulebooks = None,
) -> None:
    """The applicant submits its draft for provincial review."""
    view = service.submit(state.store, app_id, _actor(who), comment, rules=_rules(rulebook))
    _print_view(view)


@whitelist_app.command("review")
@handle_errors
def whitelist_review(
    app_id: AppId,
    who: AsActor,
    approve: Annotated[
        bool | None, typer.Option("--approve/--reject", help="The decision.", show_default=False)
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Reasons (required to reject).")] = "",
) -> None:
    """Provincial review: approve or reject (with reasons)."""
    if approve is None:
        raise InvalidInput("decision", "give --approve or --reject")
    actor = actor_of(state.store, who)
    view = service.review(state.store, app_id, actor, approve=approve, reason=reason)
    _print_view(view)


@whitelist_app.command("withdraw")
@handle_errors
def whitelist_withdraw(
    app_id: AppId,
    who: AsWho = None,
    reason: Annotated[str, typer.Option("--reason", help="Why.")] = "",
) -> None:
    """The applicant withdraws its application."""
    _print_view(service.withdraw(state.store, app_id, _actor(who), reason))


@whitelist_app.command("announce")
@handle_errors
def whitelist_announce(
    ids: Annotated[list[int], typer.Argument(metavar="ID...", help="Approved applications.")],
    batch: Annotated[int, typer.Option("--batch", min=1, help="Announcement batch number.")],
    day: Annotated[str, typer.Option("--date", metavar="DATE", help="Announcement date.")],
    who: AsActor,
    valid_to: Annotated[
        str | None,
        typer.Option("--valid-to", metavar="DATE", help="Last day the qualification holds."),
    ] = None,
    note: Annotated[str, typer.Option("--note", help="A note on the batch.")] = "",
) -> None:
    """The national regulator announces a batch; the qualifications enter the registry."""
    views = service.announce(
        state.store,
        batch,
        _day(day, "date"),
        ids,
        actor_of(state.store, who),
        valid_to=None if valid_to is None else _day(valid_to, "valid_to"),
        note=note,
    )
    console.print(f"batch {batch} ({day}): {len(views)} application(s) announced")
    for view in views:
        _print_view(view)


@whitelist_app.command("show")
@handle_errors
def whitelist_show(app_id: AppId, who: AsWho = None, as_json: Json = False) -> None:
    """One application with its evaluation and history."""
    view = service.get_application(state.store, app_id, _actor(who))
    if as_json:
        print_json(view.to_dict())
        return
    _print_view(view)
    if view.evaluation is not None:
        _print_evaluation(view.evaluation)
    table = Table("at (UTC)", "action", "from", "to", "actor", "role", "comment")
    for s in view.steps:
        table.add_row(s.at[:19], s.action, s.from_state or "", s.to_state, s.actor,
                      s.actor_role, s.comment)  # fmt: skip
    console.print(table)


@whitelist_app.command("applications")
@handle_errors
def whitelist_applications(
    who: AsWho = None,
    state_: Annotated[str | None, typer.Option("--state", help="Only this state.")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="cascade_use or recycling.")] = None,
    as_json: Json = False,
) -> None:
    """Applications visible to the caller, newest first."""
    views = service.list_applications(state.store, _actor(who), state=state_, kind=kind)
    if as_json:
        print_json([v.to_dict() for v in views])
        return
    table = Table("id", "USCC", "province", "kind", "edition", "state", "evaluation", "batch")
    for v in views:
        table.add_row(str(v.id), v.uscc, v.province, v.kind, v.edition, v.state,
                      v.result or "", str(v.batch or ""))  # fmt: skip
    console.print(table)


@whitelist_app.command("list")
@handle_errors
def whitelist_list(
    batch: Annotated[int | None, typer.Option("--batch", min=1, help="Only this batch.")] = None,
    as_json: Json = False,
) -> None:
    """The whitelist by batch (public)."""
    batches = service.public_whitelist(state.store, batch)
    if as_json:
        print_json(batches)
        return
    table = Table("batch", "date", "USCC", "名称 / name", "province", "kind", "t/yr", "valid to",
                  "in force")  # fmt: skip
    for b in batches:
        for e in b["entries"]:
            cap = "" if e["capacity_t"] is None else f"{e['capacity_t']:,.0f}"
            table.add_row(str(b["batch"]), b["announced_on"] or "", e["uscc"], e["name_zh"],
                          e["province"], e["kind"], cap, e["valid_to"] or "",
                          "yes" if e["in_force"] else "no")  # fmt: skip
    console.print(table)


# -- pilots ------------------------------------------------------------------------------------


@pilot_add_app.command("region")
@handle_errors
def pilot_add_region(
    name_zh: Annotated[str, typer.Argument(metavar="NAME", help="Name (Chinese).")],
    province: Annotated[str, typer.Option("--province", help="GB/T 2260 code, e.g. 43.")],
    name_en: Annotated[str, typer.Option("--name-en", help="Name (English).")] = "",
    city: Annotated[str | None, typer.Option("--city", help="City code, e.g. 430100.")] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help=f"Main model: {', '.join(pilot_service.MODELS)}."),
    ] = None,
    scenario: Scenarios = None,
    started: Started = None,
    notes: Notes = "",
) -> None:
    """Register a pilot region."""
    region = pilot_service.add_region(
        state.store,
        {
            "name_zh": name_zh,
            "name_en": name_en,
            "province": province,
            "city": city,
            "model": model,
            "scenarios": scenario or [],
            "started_on": started,
            "notes": notes,
        },
    )
    console.print(f"pilot region {region.id}: {region.name_zh} ({region.province})")


@pilot_add_app.command("enterprise")
@handle_errors
def pilot_add_enterprise(
    uscc: Annotated[str, typer.Argument(metavar="USCC", help="A registered enterprise.")],
    model: Annotated[
        str, typer.Option("--model", help=f"One of: {', '.join(pilot_service.MODELS)}.")
    ],
    region: Annotated[
        str | None, typer.Option("--region", help="Pilot region (id or name).")
    ] = None,
    scenario: Scenarios = None,
    started: Started = None,
    notes: Notes = "",
) -> None:
    """Register a pilot enterprise."""
    ent = pilot_service.add_enterprise(
        state.store,
        {
            "uscc": uscc,
            "model": model,
            "region": region,
            "scenarios": scenario or [],
            "started_on": started,
            "notes": notes,
        },
    )
    console.print(f"pilot enterprise {ent.id}: {ent.uscc} {ent.name_zh} ({ent.model})")


@pilot_app.command("list")
@handle_errors
def pilot_list(as_json: Json = False) -> None:
    """Pilot regions and enterprises."""
    regions, ents = pilot_service.list_pilots(state.store)
    if as_json:
        print_json(
            {"regions": [r.to_dict() for r in regions], "enterprises": [e.to_dict() for e in ents]}
        )
        return
    table = Table("pilot", "id", "name", "province", "model", "scenarios", "region", "since")
    for r in regions:
        table.add_row("region", str(r.id), r.name_zh, r.city or r.province, r.model or "",
                      ", ".join(r.scenarios), "", r.started_on or "")  # fmt: skip
    for e in ents:
        table.add_row("enterprise", str(e.id), f"{e.name_zh} {e.uscc}", e.province, e.model,
                      ", ".join(e.scenarios), str(e.region or ""), e.started_on or "")  # fmt: skip
    console.print(table)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


@pilot_app.command("compare")
@handle_errors
def pilot_compare(
    who: AsWho = None,
    as_json: Json = False,
    period: Annotated[
        str | None,
        typer.Option(
            help="Recovery rates measured in 2025, 2025-03 or 2025-Q1 (default: last year)"
        ),
    ] = None,
) -> None:
    """Pilots side by side: collection rate, timeliness, cascade share, recovery rates."""
    rows = pilot_service.compare(state.store, _actor(who), period=period)
    if as_json:
        print_json(rows)
        return
    table = Table("pilot", "name", "model", "retired", "collection", "timeliness",
                  "cascade share", "recovery")  # fmt: skip
    for r in rows:
        rec = r["recovery_rates"]
        table.add_row(
            r["pilot"],
            r["name"],
            r["model"] or "",
            str(r["retired"]),
            _pct(r["collection_rate"]),
            _pct(r["timeliness_rate"]),
            _pct(r["cascade_share"]),
            "" if not rec else ", ".join(f"{k} {v:g}%" for k, v in rec.items()),
        )
    console.print(table)
