"""Settings, read once from the environment (``BATTRACE_*``) with documented defaults.

Every setting is listed in ``SETTINGS`` with its help text; ``docs/operations.md`` documents each one
and a test keeps the two in step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from battrace.domain.errors import InvalidInput


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str


SETTINGS = (
    Setting(
        "BATTRACE_DATABASE_URL",
        "sqlite:///var/battrace.sqlite",
        "Ledger database: sqlite:///PATH (embedded default) or postgresql://USER@HOST/DB.",
    ),
    Setting(
        "BATTRACE_KEY_FILE",
        "",
        "Ed25519 private key (PEM) that signs checkpoints; default: beside the SQLite file, "
        "or var/battrace-ed25519.pem.",
    ),
    Setting(
        "BATTRACE_FUTURE_TOLERANCE_S",
        "900",
        "How many seconds an eventTime may lie in the future (clock skew).",
    ),
    Setting(
        "BATTRACE_PUBLIC_URL",
        "",
        "Public https URL of this platform (behind a proxy), encoded in passport URLs and label "
        "QR codes; default: the URL the request came in on (CLI: --base-url is then required).",
    ),
    Setting("BATTRACE_MAX_EVENT_BYTES", "1048576", "Largest single event accepted, in bytes."),
    Setting("BATTRACE_MAX_DOCUMENT_BYTES", "268435456", "Largest capture document, in bytes."),
    Setting(
        "BATTRACE_JSONL_BATCH",
        "10000",
        "Events per capture (one atomic, chained batch) when capturing JSON Lines.",
    ),
    Setting(
        "BATTRACE_RULEBOOKS",
        "",
        "Local rulebook files or folders of *.toml (several separated by ':'), loaded after the "
        "packaged rulebooks by the regulation engine, the CLI and the web app; a rule with a "
        "packaged id and a higher version supersedes it (docs/rules.md).",
    ),
    # The HTTP interface (web/runtime.py ApiSettings; docs/api.md).
    Setting(
        "BATTRACE_CAPTURE_LIMIT", "10000", "Most events one POST /capture may carry (413 beyond)."
    ),
    Setting(
        "BATTRACE_CAPTURE_MAX_BYTES",
        "67108864",
        "Largest POST /capture body in bytes (413 beyond; also capped by "
        "BATTRACE_MAX_DOCUMENT_BYTES).",
    ),
    Setting("BATTRACE_RATE_LIMIT", "50", "Requests per second one API key may make on average."),
    Setting("BATTRACE_RATE_BURST", "200", "Requests one API key may make in a burst."),
    Setting(
        "BATTRACE_WEBHOOK_ALLOW_PRIVATE",
        "false",
        "true: webhook subscriptions may deliver to loopback, private and link-local addresses "
        "(default: refused; services/subscriptions.py).",
    ),
)


def _int(name: str) -> int:
    default = next(s.default for s in SETTINGS if s.name == name)
    raw = os.environ.get(name, default)
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(name, f"must be an integer, got {raw!r}") from None
    if value <= 0:
        raise InvalidInput(name, "must be positive")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str
    key_file: Path
    future_tolerance_s: int
    max_event_bytes: int
    max_document_bytes: int
    jsonl_batch: int
    public_url: str | None = None
    rulebooks: tuple[Path, ...] = ()

    @classmethod
    def from_env(cls, database_url: str | None = None) -> Settings:
        url = database_url or os.environ.get("BATTRACE_DATABASE_URL") or SETTINGS[0].default
        key = os.environ.get("BATTRACE_KEY_FILE") or default_key_file(url)
        return cls(
            database_url=url,
            key_file=Path(key),
            future_tolerance_s=_int("BATTRACE_FUTURE_TOLERANCE_S"),
            max_event_bytes=_int("BATTRACE_MAX_EVENT_BYTES"),
            max_document_bytes=_int("BATTRACE_MAX_DOCUMENT_BYTES"),
            jsonl_batch=_int("BATTRACE_JSONL_BATCH"),
            public_url=_public_url(),
            rulebooks=rulebook_paths(),
        )


def rulebook_paths(env: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """``BATTRACE_RULEBOOKS``: local rulebook files or folders, ``os.pathsep``-separated."""
    raw = (os.environ if env is None else env).get("BATTRACE_RULEBOOKS", "")
    return tuple(Path(p.strip()) for p in raw.split(os.pathsep) if p.strip())


def _public_url() -> str | None:
    raw = os.environ.get("BATTRACE_PUBLIC_URL", "").strip()
    if not raw:
        return None
    if not raw.startswith(("https://", "http://")) or any(c in raw for c in " \t\r\n?#"):
        raise InvalidInput("BATTRACE_PUBLIC_URL", f"must be an http(s) URL, got {raw[:80]!r}")
    return raw.rstrip("/")


def default_key_file(url: str) -> str:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        db = Path(url.removeprefix("sqlite:///"))
        return str(db.with_name(db.stem + "-ed25519.pem"))
    return "var/battrace-ed25519.pem"
