"""The supervision workflow on alerts: acknowledge, rectification notice, answer, close.

Regulators see the alerts of their jurisdiction (the national regulator all, a provincial one the
alerts of enterprises registered in its province) and act on them; an enterprise sees its own
alerts and notices and answers them. Every step is recorded in ``alert_actions`` (append-only)
with who, when and what; nothing is ever deleted.

Stages of an alert (``alerts.stage``)::

    new ──acknowledge──► acknowledged ──notice──► rectifying ──answer──► answered
     │                        │                        ▲                    │
     └────────notice──────────┴────────────────────────┴──── notice again ──┘
    any stage ──close──► closed

The engine's own verdict (an obligation met late → ``resolved``) is separate from the stage: a
resolved alert can still be acknowledged and closed, and a closed alert stays closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from battrace.domain.errors import InvalidInput, NotAuthorised
from battrace.domain.rules import china_today
from battrace.domain.supervision.findings import ACKNOWLEDGED, ANSWERED, CLOSED, RECTIFYING
from battrace.persistence import schema_supervision as ts
from battrace.persistence.base import EnterpriseRow, Store
from battrace.services.alerts import Scope, sql_store, txn_connection

NATIONAL = "regulator_national"
PROVINCIAL = "regulator_provincial"
MAX_TEXT = 4000


class NotFound(InvalidInput):
    """No such alert or notice (HTTP 404; the CLI prints it like any bad input)."""


class Conflict(InvalidInput):
    """The step does not fit the alert's or notice's stage, e.g. already closed (HTTP 409)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: an enterprise or authority from the registry (its USCC, roles and province)."""

    uscc: str
    roles: frozenset[str]
    province: str

    @classmethod
    def of(cls, row: EnterpriseRow) -> Actor:
        return cls(row.uscc, frozenset(row.roles), row.province)

    @property
    def regulator(self) -> bool:
        return bool(self.roles & {NATIONAL, PROVINCIAL})

    @property
    def role(self) -> str:
        for r in (NATIONAL, PROVINCIAL):
            if r in self.roles:
                return r
        return sorted(self.roles)[0] if self.roles else "enterprise"

    def scope(self) -> Scope:
        if NATIONAL in self.roles:
            return Scope(national=True)
        if PROVINCIAL in self.roles:
            return Scope(province=self.province)
        return Scope(enterprise=self.uscc)


def actor_of(store: Store, uscc: str) -> Actor:
    """The registered enterprise or authority ``uscc`` as an actor; InvalidInput if unknown."""
    row = store.get_enterprise(uscc.strip())
    if row is None:
        raise InvalidInput("actor", f"{uscc} is not a registered enterprise or authority")
    return Actor.of(row)


def scope_of(store: Store, uscc: str) -> Scope:
    return actor_of(store, uscc).scope()


@dataclass(frozen=True, slots=True)
class Notice:
    id: int
    alert: str
    issued_by: str
    issued_at: str
    due_date: str
    requirement: str
    status: str
    answer: str | None
    answered_by: str | None
    answered_at: str | None
    overdue: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "alert": self.alert,
            "issued_by": self.issued_by,
            "issued_at": self.issued_at,
            "due_date": self.due_date,
            "requirement": self.requirement,
            "status": self.status,
            "answer": self.answer,
            "answered_by": self.answered_by,
            "answered_at": self.answered_at,
            "overdue": self.overdue,
        }


@dataclass(frozen=True, slots=True)
class Action:
    alert: str
    action: str
    actor: str
    actor_role: str
    at: str
    note: str
    notice_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert": self.alert,
            "action": self.action,
            "actor": self.actor,
            "actor_role": self.actor_role,
            "at": self.at,
            "note": self.note,
            "notice_id": self.notice_id,
        }


def _now_text(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _text(value: str, field: str, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(field, "is required")
    if len(text) > MAX_TEXT:
        raise InvalidInput(field, f"at most {MAX_TEXT} characters, not {len(text)}")
    return text


def _alert_row(conn: Connection, key: str) -> Any:
    row = conn.execute(select(ts.alerts).where(ts.alerts.c.key == key)).first()
    if row is None:
        raise NotFound("alert", f"no alert {key!r}")
    return row


def _check_regulator(actor: Actor, alert: Any) -> None:
    if not actor.regulator:
        raise NotAuthorised("actor", f"{actor.uscc} is not a regulator")
    if not actor.scope().allows(alert.province, alert.enterprise):
        raise NotAuthorised(
            "alert",
            f"alert {alert.key} concerns an enterprise of province {alert.province}, outside the "
            f"jurisdiction of {actor.uscc}",
        )


def _record(
    conn: Connection,
    key: str,
    action: str,
    actor: Actor,
    at: str,
    note: str = "",
    notice_id: int | None = None,
) -> None:
    conn.execute(
        insert(ts.alert_actions).values(
            alert_key=key,
            action=action,
            actor=actor.uscc,
            actor_role=actor.role,
            at=at,
            note=note,
            notice_id=notice_id,
        )
    )


def _set_stage(conn: Connection, key: str, stage: str, at: str) -> None:
    conn.execute(update(ts.alerts).where(ts.alerts.c.key == key).values(stage=stage, updated_at=at))


def acknowledge(
    store: Store, key: str, actor: Actor, note: str = "", *, now: datetime | None = None
) -> None:
    """A regulator confirms it has seen the alert."""
    note = _text(note, "note", required=False)
    at = _now_text(now)
    with sql_store(store).write() as txn:
        conn = txn_connection(txn)
        alert = _alert_row(conn, key)
        _check_regulator(actor, alert)
        if alert.stage != "new":
            raise Conflict("alert", f"alert {key} is already {alert.stage}")
        _set_stage(conn, key, ACKNOWLEDGED, at)
        _record(conn, key, "acknowledge", actor, at, note)


def issue_notice(
    store: Store,
    key: str,
    actor: Actor,
    due: date,
    requirement: str,
    *,
    now: datetime | None = None,
) -> int:
    """A regulator issues a rectification notice (整改通知) with a due date; returns its id."""
    requirement = _text(requirement, "requirement", required=True)
    today = china_today() if now is None else now.astimezone(UTC).date()
    if due < today:
        raise InvalidInput("due", f"{due} is in the past")
    at = _now_text(now)
    with sql_store(store).write() as txn:
        conn = txn_connection(txn)
        alert = _alert_row(conn, key)
        _check_regulator(actor, alert)
        if alert.stage == CLOSED:
            raise Conflict("alert", f"alert {key} is closed")
        if alert.stage == RECTIFYING:
            raise Conflict("alert", f"alert {key} already has a notice awaiting an answer")
        result = conn.execute(
            insert(ts.rectification_notices).values(
                alert_key=key,
                issued_by=actor.uscc,
                issued_at=at,
                due_date=due.isoformat(),
                requirement=requirement,
                status="issued",
            )
        )
        pk = result.inserted_primary_key
        assert pk is not None
        notice_id = int(pk[0])
        _set_stage(conn, key, RECTIFYING, at)
        _record(conn, key, "notice", actor, at, requirement, notice_id)
        return notice_id


def answer_notice(
    store: Store, notice_id: int, actor: Actor, answer: str, *, now: datetime | None = None
) -> None:
    """The responsible enterprise answers a rectification notice."""
    answer = _text(answer, "answer", required=True)
    at = _now_text(now)
    n = ts.rectification_notices.c
    with sql_store(store).write() as txn:
        conn = txn_connection(txn)
        notice = conn.execute(select(ts.rectification_notices).where(n.id == notice_id)).first()
        if notice is None:
            raise NotFound("notice", f"no rectification notice {notice_id}")
        alert = _alert_row(conn, notice.alert_key)
        if alert.enterprise != actor.uscc:
            raise NotAuthorised(
                "actor", f"notice {notice_id} is addressed to {alert.enterprise}, not {actor.uscc}"
            )
        if notice.status != "issued":
            raise Conflict("notice", f"notice {notice_id} is already {notice.status}")
        conn.execute(
            update(ts.rectification_notices)
            .where(n.id == notice_id)
            .values(status="answered", answer=answer, answered_by=actor.uscc, answered_at=at)
        )
        if alert.stage != CLOSED:
            _set_stage(conn, alert.key, ANSWERED, at)
        _record(conn, alert.key, "answer", actor, at, answer, notice_id)


def close(
    store: Store, key: str, actor: Actor, note: str = "", *, now: datetime | None = None
) -> None:
    """A regulator closes the alert (any open notice is closed with it)."""
    note = _text(note, "note", required=False)
    at = _now_text(now)
    n = ts.rectification_notices.c
    with sql_store(store).write() as txn:
        conn = txn_connection(txn)
        alert = _alert_row(conn, key)
        _check_regulator(actor, alert)
        if alert.stage == CLOSED:
            raise Conflict("alert", f"alert {key} is already closed")
        conn.execute(
            update(ts.rectification_notices)
            .where(n.alert_key == key, n.status != "closed")
            .values(status="closed")
        )
        _set_stage(conn, key, CLOSED, at)
        _record(conn, key, "close", actor, at, note)


def notice_alert(store: Store, notice_id: int) -> str:
    """The alert a rectification notice was issued on; NotFound if there is no such notice."""
    n = ts.rectification_notices.c
    with sql_store(store).engine.connect() as conn:
        key = conn.execute(select(n.alert_key).where(n.id == notice_id)).scalar()
    if key is None:
        raise NotFound("notice", f"no rectification notice {notice_id}")
    return str(key)


def history(store: Store, key: str, viewer: Actor) -> list[Action]:
    """Every workflow step on one alert, oldest first (visible to whoever may see the alert)."""
    a = ts.alert_actions.c
    with sql_store(store).engine.connect() as conn:
        alert = _alert_row(conn, key)
        if not viewer.scope().allows(alert.province, alert.enterprise):
            raise NotAuthorised("alert", f"alert {key} is not visible to {viewer.uscc}")
        rows = conn.execute(select(ts.alert_actions).where(a.alert_key == key).order_by(a.id))
        return [
            Action(r.alert_key, r.action, r.actor, r.actor_role, r.at, r.note, r.notice_id)
            for r in rows
        ]


def notices(
    store: Store, viewer: Actor, *, status: str | None = None, today: date | None = None
) -> list[Notice]:
    """Rectification notices on alerts the viewer may see, newest first."""
    if status is not None and status not in ("issued", "answered", "closed"):
        raise InvalidInput("status", f"{status!r} is not one of: issued, answered, closed")
    n = ts.rectification_notices.c
    al = ts.alerts.c
    q = select(ts.rectification_notices).join(ts.alerts, al.key == n.alert_key)
    cond = viewer.scope().condition()
    if cond is not None:
        q = q.where(cond)
    if status is not None:
        q = q.where(n.status == status)
    day = (today or china_today()).isoformat()
    with sql_store(store).engine.connect() as conn:
        rows: Sequence[Any] = list(conn.execute(q.order_by(n.id.desc())))
    return [
        Notice(
            r.id,
            r.alert_key,
            r.issued_by,
            r.issued_at,
            r.due_date,
            r.requirement,
            r.status,
            r.answer,
            r.answered_by,
            r.answered_at,
            r.status == "issued" and r.due_date < day,
        )
        for r in rows
    ]


def register_specifications(store: Store, manufacturer_code: str, specs: Sequence[str]) -> int:
    """Record the specification codes (positions 6–7) registered under a manufacturer code.

    Once a manufacturer code has any, battery codes under it with another specification raise
    ``code-not-registered``. Returns how many were new.
    """
    code = manufacturer_code.strip().upper()
    if store.manufacturer_owners([code]) == {}:
        raise InvalidInput("manufacturer_code", f"{code} is not a registered manufacturer code")
    clean = []
    for s in specs:
        spec = s.strip().upper()
        if len(spec) != 2 or not spec.isalnum() or not spec.isascii():
            raise InvalidInput("specification", f"{s!r} is not a 2-character specification code")
        clean.append(spec)
    if not clean:
        raise InvalidInput("specification", "name at least one")
    c = ts.code_specifications.c
    with sql_store(store).write() as txn:
        conn = txn_connection(txn)
        have = set(
            conn.execute(select(c.specification).where(c.manufacturer_code == code)).scalars()
        )
        new = sorted(set(clean) - have)
        if new:
            conn.execute(
                insert(ts.code_specifications),
                [{"manufacturer_code": code, "specification": s} for s in new],
            )
        return len(new)
