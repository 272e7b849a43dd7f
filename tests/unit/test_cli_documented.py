"""Every ``battrace …`` command the README and docs show exists in the installed CLI (a sub-app
that is tested on its own but never registered in cli/main.py is invisible to users)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main

from battrace.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# `battrace word [word]` at the start of a line in a code block (after an optional prompt)
COMMAND = re.compile(
    r"^\s*(?:\$\s*)?battrace\s+(?:--db\s+\S+\s+)?([a-z][a-z-]*)(?:\s+([a-z][a-z-]*))?"
)


def _documented() -> set[tuple[str, str | None]]:
    found: set[tuple[str, str | None]] = set()
    for path in DOCS:
        in_code = False
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip().startswith("```"):
                in_code = not in_code
                continue
            m = COMMAND.match(line) if in_code else None
            if m:
                found.add((m.group(1), m.group(2)))
    return found


def _subcommands(command: Any, ctx: Any) -> list[str]:
    """A group's subcommand names; [] for a plain command (its next word is an argument)."""
    lister = getattr(command, "list_commands", None)
    return list(lister(ctx)) if lister else []


def test_every_documented_command_exists() -> None:
    root = typer.main.get_command(app)
    assert hasattr(root, "get_command")  # a group of commands
    ctx = root.context_class(root)
    documented = _documented()
    assert len(documented) > 20  # the docs do show commands
    missing = []
    for name, sub in sorted(documented, key=str):
        command = root.get_command(ctx, name)
        if command is None:
            missing.append(name)
        elif sub and (subs := _subcommands(command, ctx)) and sub not in subs:
            missing.append(f"{name} {sub}")
    assert missing == []
