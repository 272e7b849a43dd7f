"""What the HTTP interface runs on: its settings and the objects shared by all requests."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from fastapi import Request

from battrace.config import SETTINGS, Settings
from battrace.domain.errors import InvalidInput
from battrace.persistence.base import Store
from battrace.services.audit import AuditLog
from battrace.services.capture import Ledger
from battrace.web.ratelimit import Limiter

#: Settings of the HTTP interface (environment, read once at start-up): name → (default, help).
#: Declared in :data:`battrace.config.SETTINGS` with every other setting (docs/operations.md);
#: docs/api.md explains them.
API_SETTING_NAMES = (
    "BATTRACE_CAPTURE_LIMIT",
    "BATTRACE_CAPTURE_MAX_BYTES",
    "BATTRACE_RATE_LIMIT",
    "BATTRACE_RATE_BURST",
)
API_SETTINGS = {s.name: (s.default, s.help) for s in SETTINGS if s.name in API_SETTING_NAMES}


def _int(env: Mapping[str, str], name: str) -> int:
    raw = env.get(name, API_SETTINGS[name][0])
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(name, f"must be an integer, got {raw!r}") from None
    if value <= 0:
        raise InvalidInput(name, "must be positive")
    return value


@dataclass(frozen=True)
class ApiSettings:
    capture_limit: int = 10_000
    capture_max_bytes: int = 64 * 1024 * 1024
    rate_limit: float = 50.0
    rate_burst: int = 200

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ApiSettings:
        env = os.environ if env is None else env
        return cls(
            capture_limit=_int(env, "BATTRACE_CAPTURE_LIMIT"),
            capture_max_bytes=_int(env, "BATTRACE_CAPTURE_MAX_BYTES"),
            rate_limit=float(_int(env, "BATTRACE_RATE_LIMIT")),
            rate_burst=_int(env, "BATTRACE_RATE_BURST"),
        )


@dataclass
class Runtime:
    store: Store
    settings: Settings
    api: ApiSettings
    ledger: Ledger
    audit: AuditLog
    limiter: Limiter
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def max_capture_bytes(self) -> int:
        return min(self.api.capture_max_bytes, self.settings.max_document_bytes)


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt
