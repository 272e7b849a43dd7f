"""The audit log: who read or wrote ledger data, what, when, and with what outcome.

The HTTP interface records every request that reads or writes ledger data (and every refused
one). Entries are buffered and written in batches by a background thread — at most
``interval`` seconds after the request — so that a read never waits for a write lock (on SQLite a
single write lock serves the whole database, and a large capture can hold it for a second). The
cost: entries of the last fraction of a second are lost if the process is killed; captures
themselves are also recorded in the ledger (the ``captures`` table) and in ``capture_jobs``.

The table is append-only (database triggers refuse UPDATE and DELETE); ``battrace audit`` reads it.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from datetime import UTC, datetime

from battrace.persistence import queries as q
from battrace.persistence.base import StorageError, Store
from battrace.persistence.queries import AuditRow

log = logging.getLogger("battrace.audit")

#: Entries kept in memory at most while the database refuses them (then the oldest are dropped,
#: with an error in the log): the platform keeps serving rather than run out of memory.
MAX_PENDING = 100_000


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AuditLog:
    """A buffered writer of :class:`AuditRow` entries (thread-safe)."""

    def __init__(self, store: Store, *, interval: float = 0.2, batch: int = 500) -> None:
        self.store = store
        self.interval = interval
        self.batch = batch
        self._pending: deque[AuditRow] = deque()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None

    def record(self, row: AuditRow) -> None:
        with self._lock:
            self._pending.append(row)
            if len(self._pending) > MAX_PENDING:
                self._pending.popleft()
                log.error("audit log backlog over %d entries: oldest entry dropped", MAX_PENDING)
            if self._thread is None and not self._stop:
                self._thread = threading.Thread(
                    target=self._run, name="battrace-audit", daemon=True
                )
                self._thread.start()
            if len(self._pending) >= self.batch:
                self._wake.set()

    def flush(self) -> None:
        """Write everything recorded so far (synchronously)."""
        with self._flush_lock:
            while True:
                with self._lock:
                    rows = [self._pending.popleft() for _ in range(min(5000, len(self._pending)))]
                if not rows:
                    return
                try:
                    q.insert_audit(self.store, rows)
                except StorageError:
                    with self._lock:
                        self._pending.extendleft(reversed(rows))
                    raise

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
            except StorageError as exc:  # the database is away: keep the entries, try again
                log.error("audit log not written yet: %s", exc)
            except Exception:  # never let the writer thread die silently
                log.exception("audit log writer failed")


def read_audit(
    store: Store, *, enterprise: str | None = None, since: str | None = None, limit: int = 1000
) -> list[AuditRow]:
    return q.read_audit(store, enterprise=enterprise, since=since, limit=limit)
