"""``battrace rules``: list and show the regulatory rulebooks (packaged plus local files).

Read-only: nothing here touches the database. ``--json`` gives the same data for scripts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from battrace.config import rulebook_paths
from battrace.domain.rules import (
    Actor,
    Confidence,
    Rule,
    RulebookError,
    RuleKind,
    RuleSet,
    UnknownRule,
    china_today,
    load_rulebooks,
)

rules_app = typer.Typer(
    name="rules",
    help="Regulatory rules (deadlines, limits, thresholds, targets) as versioned rulebooks.",
    no_args_is_help=True,
)

RulebookOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--rulebook",
        help="A local rulebook file or folder of *.toml files; repeatable. Adds rules or "
        "supersedes packaged ones by id with a higher version.",
        show_default=False,
    ),
]
AsOfOption = Annotated[
    str | None,
    typer.Option("--as-of", metavar="YYYY-MM-DD", help="The date the rules must be in force on."),
]
KindOption = Annotated[RuleKind | None, typer.Option("--kind", help="Only rules of this kind.")]
ActorOption = Annotated[Actor | None, typer.Option("--actor", help="Only rules for this actor.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

_CONFIDENCE_STYLE = {
    Confidence.OFFICIAL: "green",
    Confidence.SECONDARY: "yellow",
    Confidence.UNCONFIRMED: "bold red",
}


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date like 2026-04-01", param_hint=option
        ) from None


def _load(paths: Sequence[Path] | None) -> RuleSet:
    try:
        return load_rulebooks((*rulebook_paths(), *(paths or ())))
    except RulebookError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _in_force_text(rule: Rule) -> str:
    end = "open" if rule.valid_to is None else rule.valid_to.isoformat()
    return f"{rule.valid_from.isoformat()} → {end}"


def _source_text(rule: Rule) -> str:
    doc = rule.source.document
    lines = [doc.number or doc.title_zh]
    if doc.number_en and doc.number_en != doc.number:
        lines.append(doc.number_en)
    if rule.source.article:
        lines.append(rule.source.article)
    return "\n".join(lines)


def _confidence(rule: Rule) -> Text:
    return Text(str(rule.confidence), style=_CONFIDENCE_STYLE[rule.confidence])


def _dump(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


@rules_app.command("list")
def list_rules(
    kind: KindOption = None,
    actor: ActorOption = None,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
    rulebook: RulebookOption = None,
) -> None:
    """List rules. Without --as-of every version is listed; with it, the versions in force."""
    day = _parse_date(as_of, "--as-of")
    ruleset = _load(rulebook)
    rules = ruleset.list(kind=kind, actor=actor, as_of=day)
    if as_json:
        _dump([r.to_dict() for r in rules])
        return
    title = "Rules in force on " + day.isoformat() if day else "All rule versions"
    table = Table(title=f"{title} ({len(rules)})", show_lines=True)
    table.add_column("ID", ratio=2, overflow="fold")
    # "fold": Chinese text has no spaces to wrap at, and an ellipsis would hide the rule's title.
    table.add_column("Title (zh / en)", ratio=3, overflow="fold")
    table.add_column("Actor", ratio=1, min_width=10, overflow="fold")
    table.add_column("Parameters", ratio=2, overflow="fold")
    table.add_column("Source", ratio=2, overflow="fold")
    table.add_column("Confidence", min_width=11, overflow="fold")
    table.add_column("In force", min_width=10, overflow="fold")
    for r in rules:
        table.add_row(
            f"{r.id}\nv{r.version}",
            f"{r.title_zh}\n{r.title_en}",
            f"{r.actor}\n{r.trigger}",
            r.describe_parameters(),
            _source_text(r),
            _confidence(r),
            _in_force_text(r).replace(" → ", "\n→ "),
        )
    Console().print(table)


@rules_app.command("show")
def show_rule(
    rule_id: Annotated[str, typer.Argument(metavar="RULE_ID", help="A rule id.")],
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
    rulebook: RulebookOption = None,
) -> None:
    """Show one rule: the version in force on --as-of (default: today, China time) and all versions."""
    day = _parse_date(as_of, "--as-of") or china_today()
    ruleset = _load(rulebook)
    try:
        versions = ruleset.versions(rule_id)
    except UnknownRule as exc:
        typer.echo(f"error: {exc.args[0]}", err=True)
        raise typer.Exit(1) from None
    current = ruleset.get(rule_id, day)
    superseding = ruleset.superseded_by(rule_id, day)
    if as_json:
        _dump(
            {
                "as_of": day.isoformat(),
                "in_force": None if current is None or superseding else current.to_dict(),
                "superseded_by": None if superseding is None else superseding.id,
                "versions": [v.to_dict() for v in versions],
            }
        )
        return

    console = Console()
    shown = current or versions[-1]
    if current is None:
        console.print(f"[bold]{rule_id}[/]: no version in force on {day}; latest version shown.")
    elif superseding is not None:
        console.print(f"[bold]{rule_id}[/]: superseded on {day} by [bold]{superseding.id}[/].")
    detail = Table(show_header=False, title=f"{shown.id} v{shown.version}", show_lines=False)
    detail.add_column("field", style="bold", no_wrap=True)
    detail.add_column("value", overflow="fold")
    d = shown.to_dict()
    source = d["source"]
    detail.add_row("title", f"{shown.title_zh}\n{shown.title_en}")
    detail.add_row("kind", d["kind"])
    detail.add_row("actor / trigger", f"{d['actor']} / {d['trigger']}")
    detail.add_row("alert", d["alert_kind"] or "—")
    detail.add_row("parameters", shown.describe_parameters())
    detail.add_row("confidence", _confidence(shown))
    if d["unconfirmed_fields"]:
        detail.add_row("unconfirmed", ", ".join(d["unconfirmed_fields"]))
    detail.add_row("in force", _in_force_text(shown))
    detail.add_row("document", f"{source['document_zh']}\n{source['document_en']}")
    if source["number"] or source["number_en"]:
        numbers = dict.fromkeys(n for n in (source["number"], source["number_en"]) if n)
        detail.add_row("number", " / ".join(numbers))
    if source["article"]:
        detail.add_row("article", source["article"])
    for url in source["evidence"]:
        detail.add_row("evidence", url)
    if shown.supersedes:
        detail.add_row("supersedes", ", ".join(shown.supersedes))
    if shown.notes:
        detail.add_row("notes", shown.notes)
    detail.add_row("file", shown.origin)
    console.print(detail)

    history = Table(title="Versions")
    for col in ("version", "in force", "parameters", "confidence", "file"):
        history.add_column(col, overflow="fold")
    for v in versions:
        mark = " ◀" if current is not None and v.version == current.version else ""
        history.add_row(
            f"v{v.version}{mark}",
            _in_force_text(v),
            v.describe_parameters(),
            _confidence(v),
            v.origin,
        )
    console.print(history)
