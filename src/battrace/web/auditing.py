"""ASGI middleware: the audit trail of every request that reads or writes ledger data, and the
GS1 version headers on every EPCIS response (errors included)."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from battrace.persistence.queries import AuditRow
from battrace.services.audit import AuditLog, now_text
from battrace.web.gs1 import VERSION_HEADERS

EPCIS_PREFIXES = (
    "/capture",
    "/events",
    "/epcs",
    "/eventTypes",
    "/bizSteps",
    "/bizLocations",
    "/readPoints",
    "/dispositions",
    "/queries",
)
AUDITED_PREFIXES = (*EPCIS_PREFIXES, "/api/")
_OUTCOMES = {401: "unauthenticated", 403: "denied", 404: "not_found", 429: "rate_limited"}


def _matches(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p if p.endswith("/") else p + "/") for p in prefixes)


def _raw_path(scope: Scope) -> str:
    raw = scope.get("raw_path")
    if isinstance(raw, bytes):
        return raw.decode("latin-1")
    return str(scope["path"]).encode("unicode_escape").decode("ascii")


def outcome(status: int) -> str:
    if status < 400:
        return "ok"
    if status in _OUTCOMES:
        return _OUTCOMES[status]
    return "invalid" if status < 500 else "error"


class AuditMiddleware:
    def __init__(self, app: ASGIApp, audit: AuditLog) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _matches(scope["path"], AUDITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        epcis = _matches(scope["path"], EPCIS_PREFIXES)
        state: dict[str, Any] = scope.setdefault("state", {})
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if epcis:
                    headers = MutableHeaders(scope=message)
                    for name, value in VERSION_HEADERS.items():
                        if name not in headers:
                            headers[name] = value
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            who = state.get("principal")
            client = scope.get("client")
            result = outcome(status)
            if status < 400 and state.get("audit_outcome"):
                result = str(state["audit_outcome"])  # e.g. a capture job that failed
            self.audit.record(
                AuditRow(
                    at=now_text(),
                    key_id=who.key.key_id if who is not None else None,
                    enterprise=who.uscc if who is not None else None,
                    method=scope["method"],
                    # the path as sent (percent-encoded): decoded it may hold any character
                    path=_raw_path(scope)[:2000],
                    query=scope.get("query_string", b"").decode("latin-1")[:2000],
                    status=status,
                    outcome=result,
                    detail=str(state.get("audit_detail", ""))[:2000],
                    client=f"{client[0]}:{client[1]}" if client else "",
                )
            )
