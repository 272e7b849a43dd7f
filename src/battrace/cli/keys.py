"""``battrace key create|list|revoke``: interface keys of the HTTP API.

A key is printed once, by ``create``; only its hash is stored. ``list`` shows ids, never secrets.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from battrace.cli.common import console, handle_errors, print_json, state
from battrace.services import keys

key_app = typer.Typer(
    name="key", help="Interface keys of the HTTP API (Bearer authentication).", no_args_is_help=True
)


@key_app.command("create")
@handle_errors
def create(
    enterprise: Annotated[
        str, typer.Option("--enterprise", help="USCC of the registered enterprise")
    ],
    name: Annotated[str, typer.Option("--name", help="What the key is for")] = "",
) -> None:
    """Create a key and print it once (store it now: it cannot be shown again)."""
    row, token = keys.create_key(state.store, enterprise, name)
    # The key alone on stdout, so `KEY=$(battrace key create …)` works; the rest on stderr.
    typer.echo(token)
    typer.echo(
        f"key {row.key_id} for enterprise {row.enterprise} created; it is shown only now",
        err=True,
    )


@key_app.command("list")
@handle_errors
def list_(
    enterprise: Annotated[str | None, typer.Option("--enterprise", help="Only this USCC")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List keys (ids, enterprises, names, dates; never the secrets)."""
    rows = keys.list_keys(state.store, enterprise.strip() if enterprise else None)
    if as_json:
        print_json(
            [
                {
                    "key_id": r.key_id,
                    "enterprise": r.enterprise,
                    "name": r.name,
                    "created_at": r.created_at,
                    "revoked_at": r.revoked_at,
                }
                for r in rows
            ]
        )
        return
    table = Table("key id", "enterprise", "name", "created", "revoked")
    for r in rows:
        table.add_row(r.key_id, r.enterprise, r.name, r.created_at, r.revoked_at or "")
    console.print(table)


@key_app.command("revoke")
@handle_errors
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (from `battrace key list`)")],
) -> None:
    """Revoke a key: requests with it are refused from now on."""
    row = keys.revoke_key(state.store, key_id)
    console.print(f"key {row.key_id} of {row.enterprise} revoked at {row.revoked_at}")
