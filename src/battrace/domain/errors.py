"""Errors raised by the domain core.

Every error that reaches a user names *where* (a field path, or a character position in a code)
and *why*, so the CLI can print one readable line and the HTTP layer a problem-details body.

* BattraceError
  + InvalidInput          -- bad input: always the caller's fault, nothing is written
    + IdentityError       -- a battery code, VIN, USCC or URI that does not validate
    + EventError          -- an EPCIS event or document that does not validate
  + NotAuthorised         -- well-formed, but the reporting enterprise may not do this
  + LedgerCorrupted       -- `verify` found a changed, deleted, inserted or reordered record
"""

from __future__ import annotations


class BattraceError(Exception):
    """Base of every error battrace raises on purpose."""


class InvalidInput(BattraceError):
    """Input that cannot be accepted. ``field`` is a dotted/indexed path, ``reason`` plain text."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


class IdentityError(InvalidInput):
    """An identifier failed validation; ``position`` is 1-based where one character is at fault."""

    def __init__(self, field: str, reason: str, position: int | None = None) -> None:
        where = f"{field} (position {position})" if position is not None else field
        super().__init__(where, reason)
        self.position = position
        self.bare_field = field


class EventError(InvalidInput):
    """An EPCIS event failed validation."""


class NotAuthorised(BattraceError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class LedgerCorrupted(BattraceError):
    """Raised (or reported) by verification; ``where`` names the first bad record."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason
