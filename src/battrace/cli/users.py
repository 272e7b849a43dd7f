"""``battrace user``: accounts of the web application (regulators and enterprise staff).

A password is never an option on the command line (it would sit in the shell history and in
``ps``): it is prompted for, or read from standard input with ``--password-stdin``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from battrace.cli.common import console, fail, handle_errors, print_json, state
from battrace.services import users

user_app = typer.Typer(
    name="user",
    help="Web application accounts (login for regulators and enterprises).",
    no_args_is_help=True,
)

PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            fail("password: nothing on standard input", 2)
        return password
    if not sys.stdin.isatty():
        fail("password: no terminal to prompt on; use --password-stdin", 2)
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@user_app.command("add")
@handle_errors
def add(
    username: Annotated[str, typer.Argument(help="Login name (3-64 of A-Z a-z 0-9 . _ @ -)")],
    organisation: Annotated[
        str,
        typer.Option(
            "--org",
            help="USCC of the user's enterprise or authority (must be registered; its roles "
            "decide what the user sees, e.g. regulator_provincial → its province)",
        ),
    ],
    name: Annotated[str, typer.Option("--name", help="Display name")] = "",
    language: Annotated[str, typer.Option(help="zh_CN or en")] = "zh_CN",
    password_stdin: PasswordStdin = False,
) -> None:
    """Create a user."""
    row = users.add_user(
        state.store,
        username,
        _password(password_stdin),
        organisation,
        display_name=name,
        language=language,
    )
    console.print(f"created user {row.username} of {row.organisation}", highlight=False)


@user_app.command("list")
@handle_errors
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List users (never their password hashes)."""
    rows = users.list_users(state.store)
    if as_json:
        print_json(
            [
                {
                    "username": r.username,
                    "display_name": r.display_name,
                    "organisation": r.organisation,
                    "language": r.language,
                    "disabled": r.disabled,
                    "locked_until": r.locked_until,
                    "last_login": r.last_login,
                }
                for r in rows
            ]
        )
        return
    table = Table("user", "name", "organisation", "language", "status", "last login")
    for r in rows:
        status = (
            "disabled"
            if r.disabled
            else (f"locked to {r.locked_until}" if r.locked_until else "active")
        )
        table.add_row(
            r.username, r.display_name, r.organisation, r.language, status, r.last_login or ""
        )
    console.print(table)


@user_app.command("passwd")
@handle_errors
def passwd(
    username: Annotated[str, typer.Argument()],
    password_stdin: PasswordStdin = False,
) -> None:
    """Set a new password (also lifts a lockout and signs the user out everywhere)."""
    users.set_password(state.store, username, _password(password_stdin))
    console.print(f"password of {username} changed")


@user_app.command("disable")
@handle_errors
def disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable a user and end their sessions."""
    users.set_disabled(state.store, username, True)
    console.print(f"{username} disabled")


@user_app.command("enable")
@handle_errors
def enable(username: Annotated[str, typer.Argument()]) -> None:
    """Enable a disabled user."""
    users.set_disabled(state.store, username, False)
    console.print(f"{username} enabled")
