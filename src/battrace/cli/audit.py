"""``battrace audit``: who read or wrote ledger data through the HTTP interface, and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from battrace.cli.common import console, handle_errors, print_json, state
from battrace.domain.epcis.event import parse_timestamp
from battrace.domain.errors import InvalidInput
from battrace.domain.identities.uscc import validate_uscc
from battrace.services.audit import read_audit

audit_app = typer.Typer(name="audit", help="The audit log of the HTTP interface.")


def _since(text: str) -> str:
    """An ISO timestamp with offset, a date (UTC midnight), or a duration like 2h / 7d."""
    text = text.strip()
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if text[:-1].isdigit() and text[-1:] in units:
        moment = datetime.now(UTC) - timedelta(**{units[text[-1]]: int(text[:-1])})
    elif len(text) == 10:
        try:
            moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
        except ValueError:
            raise InvalidInput("--since", f"{text!r} is not a date YYYY-MM-DD") from None
    else:
        moment = parse_timestamp(text, "--since")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@audit_app.callback(invoke_without_command=True)
@handle_errors
def audit(
    enterprise: Annotated[
        str | None, typer.Option("--enterprise", help="Only requests made with this USCC's keys")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="From: 2026-01-31, 2026-01-31T08:00:00+08:00, or 30m / 12h / 7d ago"),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1_000_000)] = 1000,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show the audit log, oldest first."""
    rows = read_audit(
        state.store,
        enterprise=validate_uscc(enterprise.strip()) if enterprise else None,
        since=_since(since) if since else None,
        limit=limit,
    )
    if as_json:
        print_json(
            [
                {
                    "at": r.at,
                    "enterprise": r.enterprise,
                    "key_id": r.key_id,
                    "method": r.method,
                    "path": r.path,
                    "query": r.query,
                    "status": r.status,
                    "outcome": r.outcome,
                    "detail": r.detail,
                    "client": r.client,
                }
                for r in rows
            ]
        )
        return
    table = Table()
    for name in ("at (UTC)", "enterprise", "key", "request", "status", "outcome", "detail"):
        table.add_column(name, overflow="fold")
    for r in rows:
        request = f"{r.method} {r.path}" + (f"?{r.query}" if r.query else "")
        table.add_row(
            r.at[:23],
            r.enterprise or "-",
            r.key_id or "-",
            request,
            str(r.status),
            r.outcome,
            r.detail,
        )
    console.print(table)
