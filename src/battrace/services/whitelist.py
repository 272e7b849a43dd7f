"""Whitelist applications through provincial review to the national announcement, and the
public whitelist by batch.

* **apply** — a registered enterprise applies for itself (cascade use: role ``cascade_user``;
  recycling: role ``recycler``); the application is validated and evaluated against the edition
  (domain.whitelist) and stored as ``draft``.
* **evaluate** — judge it again against the rulebooks of today (stored while draft or submitted;
  after a decision the evaluation it was decided on stays on record).
* **submit** / **withdraw** — the applicant.
* **review** — a provincial regulator of the applicant's province, or the national regulator:
  approve (refused while a decisive item fails) or reject with reasons.
* **announce** — the national regulator announces a batch (公告批次: number and date) of approved
  applications, all or none. Each announced application becomes a qualification in the enterprise
  registry (``kind``, ``batch``, ``date``, ``application``, and ``capacity_t`` / ``valid_to``
  when given), which the regulation engine and the capacity forecast read.

Every step is kept in ``whitelist_steps`` with who, when and the comment. What a caller sees:
the national regulator everything, a provincial regulator its province, an enterprise its own;
an application outside that is reported as not found. ``actor=None`` is the operator at the
server (the CLI without ``--as``), who sees everything but takes no review decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final

import orjson
from sqlalchemy import Connection, insert, select, update

from battrace.domain.errors import InvalidInput, NotAuthorised
from battrace.domain.rules import RuleSet, china_today
from battrace.domain.whitelist import Evaluation, evaluate, parse_application
from battrace.domain.whitelist import workflow as wf
from battrace.domain.whitelist.evaluation import ACTOR_OF_KIND, FAIL
from battrace.persistence import schema_whitelist as tw
from battrace.persistence.base import Store
from battrace.services import enterprises as registry
from battrace.services.alerts import default_rules
from battrace.services.sidetables import new_id as _new_id
from battrace.services.sidetables import read as _read
from battrace.services.sidetables import write as _write
from battrace.services.supervision import NATIONAL, PROVINCIAL, Actor

MAX_TEXT: Final = 4000
MAX_BATCH_IDS: Final = 1000


class ApplicationNotFound(InvalidInput):
    """No such application, or not one the caller may see (field ``id``)."""

    def __init__(self, app_id: int) -> None:
        super().__init__("id", f"no whitelist application {app_id}")
        self.app_id = app_id


@dataclass(frozen=True, slots=True)
class Step:
    action: str
    from_state: str | None
    to_state: str
    actor: str
    actor_role: str
    at: str
    comment: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "actor": self.actor,
            "actor_role": self.actor_role,
            "at": self.at,
            "comment": self.comment,
        }


@dataclass(frozen=True, slots=True)
class ApplicationView:
    id: int
    uscc: str
    province: str
    kind: str
    edition: str
    state: str
    application: dict[str, Any]
    evaluation: dict[str, Any] | None
    result: str | None
    batch: int | None
    announced_on: str | None
    valid_to: str | None
    created_at: str
    updated_at: str
    steps: tuple[Step, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uscc": self.uscc,
            "province": self.province,
            "kind": self.kind,
            "edition": self.edition,
            "state": self.state,
            "allowed_actions": list(wf.allowed_actions(self.state)),
            "application": self.application,
            "evaluation": self.evaluation,
            "result": self.result,
            "batch": self.batch,
            "announced_on": self.announced_on,
            "valid_to": self.valid_to,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "steps": [s.to_dict() for s in self.steps],
        }


# -- plumbing ----------------------------------------------------------------------------------


def _now_text(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _text(value: str | None, name: str, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(name, "is required")
    if len(text) > MAX_TEXT:
        raise InvalidInput(name, f"at most {MAX_TEXT} characters, not {len(text)}")
    return text


def _view(row: Any, steps: Sequence[Step] = ()) -> ApplicationView:
    return ApplicationView(
        id=int(row.id),
        uscc=row.uscc,
        province=row.province,
        kind=row.kind,
        edition=row.edition,
        state=row.state,
        application=orjson.loads(row.body),
        evaluation=None if row.evaluation is None else orjson.loads(row.evaluation),
        result=row.result,
        batch=row.batch,
        announced_on=row.announced_on,
        valid_to=row.valid_to,
        created_at=row.created_at,
        updated_at=row.updated_at,
        steps=tuple(steps),
    )


def _steps(conn: Connection, app_id: int) -> list[Step]:
    s = tw.whitelist_steps.c
    rows = conn.execute(select(tw.whitelist_steps).where(s.application_id == app_id).order_by(s.id))
    return [
        Step(r.action, r.from_state, r.to_state, r.actor, r.actor_role, r.at, r.comment)
        for r in rows
    ]


def may_see(actor: Actor | None, province: str, uscc: str) -> bool:
    if actor is None or NATIONAL in actor.roles:
        return True
    if PROVINCIAL in actor.roles and actor.province == province:
        return True
    return actor.uscc == uscc


def _row(conn: Connection, app_id: int, actor: Actor | None) -> Any:
    row = conn.execute(
        select(tw.whitelist_applications).where(tw.whitelist_applications.c.id == app_id)
    ).first()
    if row is None or not may_see(actor, row.province, row.uscc):
        raise ApplicationNotFound(app_id)
    return row


def _record(
    conn: Connection,
    app_id: int,
    action: str,
    before: str | None,
    after: str,
    actor: Actor,
    at: str,
    comment: str = "",
) -> None:
    conn.execute(
        insert(tw.whitelist_steps).values(
            application_id=app_id,
            action=action,
            from_state=before,
            to_state=after,
            actor=actor.uscc,
            actor_role=actor.role,
            at=at,
            comment=comment,
        )
    )


def _move(
    conn: Connection,
    row: Any,
    action: str,
    actor: Actor,
    at: str,
    comment: str = "",
    **values: Any,
) -> str:
    """Apply ``action`` to the application (IllegalTransition names the state) and record it.
    The update is conditional on the state read, so two concurrent reviews cannot both win."""
    after = wf.next_state(row.state, action)
    a = tw.whitelist_applications.c
    done = conn.execute(
        update(tw.whitelist_applications)
        .where(a.id == row.id, a.state == row.state)
        .values(state=after, updated_at=at, **values)
    )
    if done.rowcount != 1:
        now_state = conn.execute(select(a.state).where(a.id == row.id)).scalar_one()
        raise wf.IllegalTransition(action, now_state)
    _record(conn, int(row.id), action, row.state, after, actor, at, comment)
    return after


def _applicant(actor: Actor | None, row: Any) -> Actor:
    """Submit and withdraw: the applicant itself (the operator acts as the applicant)."""
    if actor is None:
        return Actor(row.uscc, frozenset(), row.province)
    if actor.uscc != row.uscc:
        raise NotAuthorised("actor", f"only the applicant {row.uscc} may do this")
    return actor


def _evaluate(body: Mapping[str, Any], rules: RuleSet, day: date) -> Evaluation:
    return evaluate(parse_application(body), rules, day)


# -- use cases ---------------------------------------------------------------------------------


def apply(
    store: Store,
    data: Any,
    actor: Actor | None = None,
    *,
    rules: RuleSet | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> ApplicationView:
    """Validate, evaluate and store an application as ``draft`` (nothing is written on error)."""
    app = parse_application(data)
    ent = store.get_enterprise(app.uscc)
    if ent is None:
        raise InvalidInput("uscc", f"{app.uscc} is not a registered enterprise")
    role = str(ACTOR_OF_KIND[app.kind])
    if role not in ent.roles:
        raise InvalidInput(
            "kind", f"{app.kind} needs the {role} role; {app.uscc} has {', '.join(ent.roles)}"
        )
    who = actor or Actor.of(ent)
    if who.uscc != app.uscc:
        raise NotAuthorised("uscc", f"{who.uscc} may apply only for itself, not for {app.uscc}")
    result = evaluate(app, rules or default_rules(), today or china_today())
    body = {**app.to_dict(), "edition": result.edition}
    at = _now_text(now)

    def fn(conn: Connection) -> ApplicationView:
        done = conn.execute(
            insert(tw.whitelist_applications).values(
                uscc=app.uscc,
                province=ent.province,
                kind=app.kind,
                edition=result.edition,
                state=wf.DRAFT,
                body=orjson.dumps(body).decode(),
                evaluation=orjson.dumps(result.to_dict()).decode(),
                result=result.result,
                created_at=at,
                updated_at=at,
            )
        )
        app_id = int(_new_id(done))
        _record(conn, app_id, wf.APPLY, None, wf.DRAFT, who, at)
        return _view(_row(conn, app_id, None), _steps(conn, app_id))

    return _write(store, fn)


def evaluate_application(
    store: Store,
    app_id: int,
    actor: Actor | None = None,
    *,
    rules: RuleSet | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> tuple[ApplicationView, Evaluation]:
    """Judge the application against the rulebooks of ``today``; the evaluation is stored while
    the application is a draft or submitted."""
    rules = rules or default_rules()
    day = today or china_today()
    at = _now_text(now)

    def fn(conn: Connection) -> tuple[ApplicationView, Evaluation]:
        row = _row(conn, app_id, actor)
        result = _evaluate(orjson.loads(row.body), rules, day)
        if row.state in (wf.DRAFT, wf.SUBMITTED):
            conn.execute(
                update(tw.whitelist_applications)
                .where(tw.whitelist_applications.c.id == app_id)
                .values(
                    evaluation=orjson.dumps(result.to_dict()).decode(),
                    result=result.result,
                    updated_at=at,
                )
            )
            row = _row(conn, app_id, None)
        return _view(row, _steps(conn, app_id)), result

    return _write(store, fn)


def submit(
    store: Store,
    app_id: int,
    actor: Actor | None = None,
    comment: str = "",
    *,
    rules: RuleSet | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> ApplicationView:
    """The applicant submits its draft for provincial review (evaluated again on submission)."""
    comment = _text(comment, "comment", required=False)
    rules = rules or default_rules()
    day = today or china_today()
    at = _now_text(now)

    def fn(conn: Connection) -> ApplicationView:
        row = _row(conn, app_id, actor)
        who = _applicant(actor, row)
        wf.next_state(row.state, wf.SUBMIT)  # the state first, then the evaluation
        result = _evaluate(orjson.loads(row.body), rules, day)
        _move(
            conn,
            row,
            wf.SUBMIT,
            who,
            at,
            comment,
            evaluation=orjson.dumps(result.to_dict()).decode(),
            result=result.result,
        )
        return _view(_row(conn, app_id, None), _steps(conn, app_id))

    return _write(store, fn)


def review(
    store: Store,
    app_id: int,
    actor: Actor,
    *,
    approve: bool,
    reason: str = "",
    now: datetime | None = None,
) -> ApplicationView:
    """Provincial review: the regulator of the applicant's province (or the national one)
    approves or rejects; a rejection needs reasons. Approval is refused while a decisive item of
    the evaluation fails."""
    reason = _text(reason, "reason", required=not approve)
    at = _now_text(now)

    def fn(conn: Connection) -> ApplicationView:
        row = _row(conn, app_id, actor)
        if NATIONAL not in actor.roles and not (
            PROVINCIAL in actor.roles and actor.province == row.province
        ):
            raise NotAuthorised(
                "actor",
                f"only the regulator of province {row.province} or the national regulator "
                f"reviews application {app_id}",
            )
        action = wf.APPROVE if approve else wf.REJECT
        wf.next_state(row.state, action)
        evaluation = orjson.loads(row.evaluation) if row.evaluation else {}
        if approve and row.result == FAIL:
            failed = [i["indicator"] for i in evaluation.get("items", []) if i["status"] == FAIL]
            raise InvalidInput(
                "evaluation", f"cannot approve: failed item(s) {', '.join(failed) or '?'}"
            )
        _move(conn, row, action, actor, at, reason)
        return _view(_row(conn, app_id, None), _steps(conn, app_id))

    return _write(store, fn)


def withdraw(
    store: Store,
    app_id: int,
    actor: Actor | None = None,
    reason: str = "",
    *,
    now: datetime | None = None,
) -> ApplicationView:
    reason = _text(reason, "reason", required=False)
    at = _now_text(now)

    def fn(conn: Connection) -> ApplicationView:
        row = _row(conn, app_id, actor)
        _move(conn, row, wf.WITHDRAW, _applicant(actor, row), at, reason)
        return _view(_row(conn, app_id, None), _steps(conn, app_id))

    return _write(store, fn)


def _batch_ids(ids: Iterable[int]) -> list[int]:
    out: list[int] = []
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, int) or not 1 <= i <= 2**53:
            raise InvalidInput("applications", f"{i!r} is not an application id")
        if i in out:
            raise InvalidInput("applications", f"application {i} is listed twice")
        out.append(i)
    if not out:
        raise InvalidInput("applications", "name at least one approved application")
    if len(out) > MAX_BATCH_IDS:
        raise InvalidInput("applications", f"at most {MAX_BATCH_IDS} per call")
    return out


def announce(
    store: Store,
    batch: int,
    day: date,
    ids: Iterable[int],
    actor: Actor,
    *,
    valid_to: date | None = None,
    note: str = "",
    now: datetime | None = None,
) -> list[ApplicationView]:
    """The national regulator announces ``batch`` on ``day``: every listed application must be
    provincially approved; all are announced and recorded in the registry, or none."""
    if NATIONAL not in actor.roles:
        raise NotAuthorised("actor", "only the national regulator announces whitelist batches")
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 100_000:
        raise InvalidInput("batch", "must be a whole number from 1")
    if valid_to is not None and valid_to < day:
        raise InvalidInput("valid_to", f"{valid_to} is before the announcement date {day}")
    app_ids = _batch_ids(ids)
    note = _text(note, "note", required=False)
    at = _now_text(now)

    def fn(conn: Connection) -> list[ApplicationView]:
        b = tw.whitelist_batches.c
        known = conn.execute(select(tw.whitelist_batches).where(b.batch == batch)).first()
        if known is None:
            conn.execute(
                insert(tw.whitelist_batches).values(
                    batch=batch,
                    announced_on=day.isoformat(),
                    announced_by=actor.uscc,
                    created_at=at,
                    note=note,
                )
            )
        elif known.announced_on != day.isoformat():
            raise InvalidInput("date", f"batch {batch} was announced on {known.announced_on}")
        out = []
        for app_id in app_ids:
            row = _row(conn, app_id, actor)
            _move(
                conn,
                row,
                wf.ANNOUNCE,
                actor,
                at,
                f"batch {batch}, {day.isoformat()}",
                batch=batch,
                announced_on=day.isoformat(),
                valid_to=None if valid_to is None else valid_to.isoformat(),
            )
            body = orjson.loads(row.body)
            qual: dict[str, Any] = {
                "kind": row.kind,
                "batch": batch,
                "date": day.isoformat(),
                "application": app_id,
            }
            if body.get("capacity_t") is not None:
                qual["capacity_t"] = body["capacity_t"]
            if valid_to is not None:
                qual["valid_to"] = valid_to.isoformat()
            registry.record_qualification(conn, row.uscc, qual)
            out.append(_view(_row(conn, app_id, None), _steps(conn, app_id)))
        return out

    return _write(store, fn)


def get_application(store: Store, app_id: int, actor: Actor | None = None) -> ApplicationView:
    return _read(store, lambda conn: _view(_row(conn, app_id, actor), _steps(conn, app_id)))


def list_applications(
    store: Store,
    actor: Actor | None = None,
    *,
    state: str | None = None,
    kind: str | None = None,
    limit: int = 1000,
) -> list[ApplicationView]:
    """Applications the caller may see, newest first."""
    if state is not None and state not in wf.STATES:
        raise InvalidInput("state", f"{state!r} is not one of: {', '.join(wf.STATES)}")
    if kind is not None and kind not in ACTOR_OF_KIND:
        raise InvalidInput("kind", f"{kind!r} is not one of: {', '.join(ACTOR_OF_KIND)}")
    a = tw.whitelist_applications.c
    q = select(tw.whitelist_applications).order_by(a.id.desc()).limit(limit)
    if state is not None:
        q = q.where(a.state == state)
    if kind is not None:
        q = q.where(a.kind == kind)
    if actor is not None and NATIONAL not in actor.roles:
        if PROVINCIAL in actor.roles:
            q = q.where(a.province == actor.province)
        else:
            q = q.where(a.uscc == actor.uscc)
    return _read(store, lambda conn: [_view(r) for r in conn.execute(q)])


def public_whitelist(
    store: Store, batch: int | None = None, *, today: date | None = None
) -> list[dict[str, Any]]:
    """The whitelist by batch, from the enterprise registry (the qualifications in force or
    expired, whether announced through battrace or registered from an earlier announcement).
    Each batch: number, date, entries (enterprise, kind, capacity, valid_to, in force today)."""
    if batch is not None and (isinstance(batch, bool) or batch < 1):
        raise InvalidInput("batch", "must be a whole number from 1")
    day = today or china_today()
    dates = _read(
        store,
        lambda conn: {r.batch: r.announced_on for r in conn.execute(select(tw.whitelist_batches))},
    )
    batches: dict[int, dict[str, Any]] = {}
    for ent in store.list_enterprises():
        for q in ent.qualifications:
            if not isinstance(q, dict) or not isinstance(q.get("batch"), int):
                continue
            n = q["batch"]
            if batch is not None and n != batch:
                continue
            entry = batches.setdefault(n, {"batch": n, "announced_on": dates.get(n), "entries": []})
            entry["entries"].append(
                {
                    "uscc": ent.uscc,
                    "name_zh": ent.name_zh,
                    "name_en": ent.name_en,
                    "province": ent.province,
                    "kind": q.get("kind"),
                    "date": q.get("date"),
                    "valid_to": q.get("valid_to"),
                    "capacity_t": q.get("capacity_t"),
                    "application": q.get("application"),
                    "in_force": registry.in_force(q, day),
                }
            )
    out = []
    for n in sorted(batches):
        b = batches[n]
        if b["announced_on"] is None:
            b["announced_on"] = min((e["date"] for e in b["entries"] if e["date"]), default=None)
        b["entries"].sort(key=lambda e: (e["kind"], e["province"], e["uscc"]))
        b["counts"] = {
            k: sum(1 for e in b["entries"] if e["kind"] == k) for k in sorted(ACTOR_OF_KIND)
        }
        out.append(b)
    return out
