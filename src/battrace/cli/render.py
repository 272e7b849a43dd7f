"""Human-readable rendering of a trace for the terminal."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.tree import Tree

from battrace.cli.common import console


def _tree(node: dict[str, Any], tree: Tree) -> None:
    for child in node.get("children", []):
        sub = tree.add(f"{child['code']}  [dim]{child.get('state') or ''}[/]")
        _tree(child, sub)


def render_trace(data: dict[str, Any]) -> None:
    console.print(f"[bold]{data['code']}[/]  state [bold]{data['state']}[/]")
    for label in ("holder", "location", "parent", "vehicle"):
        if data.get(label):
            console.print(f"  {label}: {data[label]}", highlight=False)
    for label in ("origins", "successors"):
        if data.get(label):
            console.print(f"  {label}: {', '.join(data[label])}", highlight=False)
    for m in data.get("materials", []):
        console.print(
            f"  material: {m['material']} {m['quantity']} {m['uom'] or ''}", highlight=False
        )
    if data.get("children"):
        tree = Tree(f"{data['code']}")
        _tree(data, tree)
        console.print(tree)
    table = Table(
        "eventTime (UTC)", "type", "bizStep", "role", "reporter", "eventID", title="timeline"
    )
    for e in data["events"]:
        flag = (
            " (retracted)"
            if e.get("retracted")
            else " (error declaration)"
            if e.get("errorDeclaration")
            else ""
        )
        table.add_row(
            e["eventTime"][:19],
            e["type"],
            f"{e['bizStep'] or ''}{flag}",
            e["role"],
            e["reporter"],
            e["eventID"][15:31] + "…",
        )
    console.print(table)
    for inc in data.get("inconsistencies", []):
        console.print(
            f"[yellow]inconsistency[/]: {inc['reason']} ({inc['eventID']})", highlight=False
        )
