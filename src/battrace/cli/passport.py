"""``battrace passport``: export, publish, verify and label battery passports.

The command line is an operator's tool with direct access to the ledger, so it may ask for any
audience; over HTTP the audience is bound to the caller's credentials.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from battrace.cli.common import console, err_console, fail, handle_errors, print_json, state
from battrace.domain.passport import MODELS, parse_audience, parse_model
from battrace.services import passport as service

passport_app = typer.Typer(
    name="passport",
    help="EU battery passports (Regulation (EU) 2023/1542) from the ledger.",
    no_args_is_help=True,
)

CodeArg = Annotated[str, typer.Argument(help="Battery code, identifier URI or GS1 key")]
AudienceOpt = Annotated[
    str,
    typer.Option(
        "--audience",
        help="public, legitimate (persons with a legitimate interest) "
        "or authority (notified bodies, market surveillance, Commission)",
    ),
]


@passport_app.command("export")
@handle_errors
def export_cmd(
    code: CodeArg,
    model: Annotated[str, typer.Option("--model", help=" | ".join(MODELS))] = "battrace",
    audience: AudienceOpt = "public",
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="A published version instead of live")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to FILE instead of stdout")
    ] = None,
) -> None:
    """Print the passport in a data model, as the audience may see it, with what is missing."""
    doc = service.export(state.store, code, parse_model(model), parse_audience(audience), version)
    if out is None:
        print_json(doc)
        return
    out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    console.print(f"wrote {out} ({len(doc.get('missing', []))} fields missing)", highlight=False)


@passport_app.command()
@handle_errors
def publish(
    code: CodeArg,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Also write the signed versions (one .jws per audience) to DIR"),
    ] = None,
) -> None:
    """Publish the passport as a new numbered, signed, immutable version (one JWS per audience)."""
    result = service.publish(state.store, state.settings.key_file, code)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        stem = result.battery.rsplit(":", 1)[-1].replace("/", "_")
        for audience, token in sorted(result.tokens.items()):
            (out / f"{stem}-v{result.version}-{audience}.jws").write_text(token + "\n")
    print_json(result.to_json())


@passport_app.command()
@handle_errors
def versions(code: CodeArg) -> None:
    """List the published versions of a battery's passport."""
    print_json(service.versions(state.store, code))


@passport_app.command()
@handle_errors
def verify(
    file: Annotated[Path, typer.Argument(help="A published passport version (.jws)")],
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="Trusted key: PEM, JWK, JWK Set (GET /passport/jwks.json) or base64url",
        ),
    ] = None,
    ledger: Annotated[
        bool, typer.Option("--ledger", help="Also check it against this ledger (--db)")
    ] = False,
) -> None:
    """Check a passport version's signature, its checkpoint and (--ledger) the ledger head."""
    trusted = service.read_public_key(public_key.read_bytes()) if public_key else None
    if trusted is None:
        trusted = service.platform_public_key(state.settings.key_file)
    report = service.verify_token(
        file.read_text(encoding="ascii", errors="replace"),
        trusted,
        state.store if ledger else None,
    )
    where = f"capture {report.ledger.capture_seq}, head {report.ledger.head}"
    console.print(
        f"passport OK: {report.battery} version {report.version} ({report.audience}), "
        f"issued {report.issued_at}, {where}",
        highlight=False,
    )
    console.print(f"signed by key {report.kid} ({report.key_source})", highlight=False)
    if report.key_source == "embedded":
        err_console.print(
            "warning: no trusted key given; the signature was checked against the key inside "
            "the file. Pin the platform's key with --public-key.",
            highlight=False,
        )
    if report.ledger_checked:
        console.print("ledger holds that head at that capture", highlight=False)
    for note in report.notes:
        err_console.print(f"note: {note}", highlight=False)


@passport_app.command()
@handle_errors
def key() -> None:
    """Print the platform's signing key as a JWK Set (what verifiers pin)."""
    keys = service.jwks(state.settings.key_file)
    if not keys["keys"]:
        fail(f"no signing key at {state.settings.key_file}; publish or checkpoint first")
    print_json(keys)


@passport_app.command()
@handle_errors
def qr(
    code: CodeArg,
    out: Annotated[Path, typer.Option("--out", help="FILE.png or FILE.svg")],
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="Public URL of this platform, e.g. https://battrace.example "
            "(default: BATTRACE_PUBLIC_URL)",
        ),
    ] = None,
    resolver: Annotated[
        str | None,
        typer.Option("--resolver", help="GS1 Digital Link resolver (default https://id.gs1.org)"),
    ] = None,
    scale: Annotated[int, typer.Option(min=1, max=50, help="Pixels per module")] = 8,
) -> None:
    """Write the label's QR code: the passport URL, or the GS1 Digital Link of a GS1 item."""
    url = service.qr_target(state.store, code, base_url or state.settings.public_url, resolver)
    service.write_qr(url, out, scale=scale)
    console.print(f"wrote {out}: {url}", highlight=False)


__all__ = ["passport_app"]
