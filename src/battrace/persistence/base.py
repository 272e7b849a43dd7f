"""The storage interface of the ledger, independent of the database.

The capture service talks to a :class:`WriteTxn` (one serialised write transaction: everything in it
commits or nothing does); readers use :class:`Store` directly. :mod:`battrace.persistence.sql`
implements both on SQLAlchemy Core for SQLite and PostgreSQL; nothing above this package imports a
database driver.

Errors: driver errors are translated into :class:`StorageError` at this boundary.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from battrace.domain.errors import BattraceError

GENESIS = "0" * 64


class StorageError(BattraceError):
    """The database failed (unreachable, full, locked too long, schema missing …)."""


class SchemaMissing(StorageError):
    """The database has not been initialised; run ``battrace init``."""


@dataclass(frozen=True, slots=True)
class Head:
    capture_seq: int
    head: str
    event_count: int


@dataclass(frozen=True, slots=True)
class CaptureRow:
    capture_id: str
    enterprise: str
    record_time: str
    context: str
    event_count: int
    digest: str
    prev_head: str
    head: str
    imported: bool = False
    seq: int = 0


@dataclass(slots=True)
class EventRow:
    event_id: str
    position: int
    record_time: str
    event_time: str
    event_type: str
    action: str | None
    biz_step: str | None
    disposition: str | None
    read_point: str | None
    biz_location: str | None
    reporter: str
    is_declaration: bool
    body: str
    epcs: Sequence[tuple[str, str]] = ()
    seq: int = 0
    capture_seq: int = 0


@dataclass(slots=True)
class EnterpriseRow:
    uscc: str
    name_zh: str
    name_en: str
    province: str
    roles: list[str]
    manufacturer_codes: list[str] = field(default_factory=list)
    sites: list[dict[str, Any]] = field(default_factory=list)
    qualifications: list[dict[str, Any]] = field(default_factory=list)
    created_at: str = ""


@dataclass(frozen=True, slots=True)
class InconsistencyRow:
    epc: str
    event_id: str
    reason: str
    detected_at: str


@dataclass(frozen=True, slots=True)
class ObjectSummary:
    epc: str
    parent: str | None
    state: str
    holder: str | None


@dataclass(frozen=True, slots=True)
class CheckpointRow:
    capture_seq: int
    head: str
    event_count: int
    created_at: str
    public_key: str
    signature: str
    seq: int = 0


class WriteTxn(ABC):
    """One write transaction. Writers are serialised, so :meth:`head` is stable inside it."""

    @abstractmethod
    def head(self) -> Head: ...

    @abstractmethod
    def existing_event_ids(self, ids: Collection[str], *, declarations: bool) -> set[str]: ...

    @abstractmethod
    def append(self, capture: CaptureRow, events: Sequence[EventRow]) -> int:
        """Insert the capture and its events, advance the head; returns the capture's seq."""

    @abstractmethod
    def load_views(self, epcs: Collection[str]) -> dict[str, str]:
        """Stored view JSON by EPC, for those that exist."""

    @abstractmethod
    def events_of(self, epcs: Collection[str]) -> list[tuple[str, str, EventRow]]:
        """(epc, role, event) for every stored non-declaration event naming these EPCs."""

    @abstractmethod
    def declared_ids(self, ids: Collection[str]) -> set[str]:
        """Which of these event IDs have an error declaration stored."""

    @abstractmethod
    def upsert_views(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Rows in the column order epc, kind, state, holder, location, parent,
        last_event_time, view."""

    @abstractmethod
    def replace_inconsistencies(
        self, epcs: Collection[str], rows: Sequence[InconsistencyRow]
    ) -> None:
        """Delete the inconsistencies of ``epcs`` and insert ``rows``."""

    @abstractmethod
    def add_inconsistencies(self, rows: Sequence[InconsistencyRow]) -> None: ...

    @abstractmethod
    def manufacturer_owners(self, codes: Collection[str]) -> dict[str, str]: ...

    @abstractmethod
    def enterprise(self, uscc: str) -> EnterpriseRow | None: ...


class Store(ABC):
    """A ledger database."""

    url: str

    @abstractmethod
    def migrate(self) -> None:
        """Create or upgrade the schema (Alembic)."""

    @abstractmethod
    def write(self) -> AbstractContextManager[WriteTxn]: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def optimize(self) -> None:
        """Refresh planner statistics after a bulk load (the planner picks bad plans on
        freshly loaded PostgreSQL tables until they are analysed)."""

    # -- enterprises ----------------------------------------------------------------------------
    @abstractmethod
    def put_enterprises(self, rows: Sequence[EnterpriseRow]) -> None:
        """Insert or replace enterprises with their manufacturer codes, all or none."""

    @abstractmethod
    def get_enterprise(self, uscc: str) -> EnterpriseRow | None: ...

    @abstractmethod
    def list_enterprises(self, role: str | None = None) -> list[EnterpriseRow]: ...

    @abstractmethod
    def manufacturer_owners(self, codes: Collection[str]) -> dict[str, str]:
        """USCC of the enterprise each registered manufacturer code belongs to."""

    # -- reading the ledger ---------------------------------------------------------------------
    @abstractmethod
    def head(self) -> Head: ...

    @abstractmethod
    def get_view(self, epc: str) -> str | None: ...

    @abstractmethod
    def descendants(self, root: str, max_depth: int) -> list[ObjectSummary]:
        """Every object below ``root`` (children, their children …), sorted by EPC per level."""

    @abstractmethod
    def events_for(self, epc: str) -> list[tuple[str, EventRow]]:
        """(role, event) for every event naming ``epc``, in (event_time, seq) order."""

    @abstractmethod
    def epcs_of_events(self, seqs: Collection[int]) -> dict[int, list[tuple[str, str]]]: ...

    @abstractmethod
    def inconsistencies_for(self, epc: str) -> list[InconsistencyRow]: ...

    @abstractmethod
    def declared_ids(self, ids: Collection[str]) -> set[str]: ...

    @abstractmethod
    def count_events(self) -> int: ...

    @abstractmethod
    def iter_captures(self) -> Iterator[CaptureRow]: ...

    @abstractmethod
    def iter_events(self) -> Iterator[EventRow]:
        """Every event in (capture_seq, position) order, without EPC lists."""

    # -- checkpoints ----------------------------------------------------------------------------
    @abstractmethod
    def add_checkpoint(self, row: CheckpointRow) -> None: ...

    @abstractmethod
    def latest_checkpoint(self) -> CheckpointRow | None: ...
