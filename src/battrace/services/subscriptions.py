"""Webhook subscriptions to named queries, and the deliverer that sends them new events.

**Subscribing** (``POST /queries/{name}/subscriptions``, EPCIS 2.0 REST binding): ``dest`` (an
``http``/``https`` URL), optional ``signatureToken``, ``initialRecordTime`` and ``reportIfEmpty``,
and ``stream: true``. Scheduled subscriptions (``schedule``) are not supported: refused with a
problem naming the field. A subscription belongs to the enterprise of the named query and reads
with *its* read scope at delivery time (services.authorisation), so a subscriber only ever
receives what it could read with ``GET /events``.

**Untrusted destinations**: ``dest`` must be ``http(s)``, without a fragment; loopback, private,
link-local, shared and other non-global addresses are refused — when the subscription is made (a
literal address or ``localhost``) and again before every delivery (every address the host name
resolves to) — unless the operator sets ``BATTRACE_WEBHOOK_ALLOW_PRIVATE=true``. Redirects are
not followed.

**Delivery** (:class:`Deliverer`, one background thread per server worker): every poll it looks
for active subscriptions whose ``cursor`` (seq of the last event examined) is behind the ledger
and claims each with a compare-and-set on its lease (``UPDATE … WHERE lease_until < now AND
cursor = :seen``), so two workers never deliver the same subscription at once. It then reads the
events after the cursor in capture order that match the query, keeps those the subscriber's scope
may read, and POSTs them as one EPCISQueryDocument (JSON-LD, at most the query's ``perPage``
events; ``queryName`` and ``subscriptionID`` set) with ``GS1-Signature: sha256=<hex HMAC-SHA256 of
the body bytes keyed with the signatureToken>``. A 2xx answer moves the cursor past the events
sent (again a compare-and-set on the lease and the old cursor); anything else — a timeout, a
refused address, a 3xx/4xx/5xx — counts a failure and schedules a retry after
``base × 2^(failures-1)`` seconds (capped); after ``max_failures`` in a row the subscription is
``disabled`` (shown by ``GET``; delete and subscribe again to resume). Events captured by any
channel (HTTP, CLI, demo) are delivered: the cursor follows the ledger's event seq, which grows in
commit order because captures are serialised.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import socket
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

import orjson
from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from battrace import __version__
from battrace.domain.epcis.event import parse_timestamp
from battrace.domain.errors import BattraceError, InvalidInput
from battrace.persistence import queries as q
from battrace.persistence import schema as t
from battrace.persistence.base import Store
from battrace.persistence.schema_queries import named_queries as nq
from battrace.persistence.schema_queries import query_subscriptions as qsub
from battrace.services import named_queries as named
from battrace.services import query as qs
from battrace.services.authorisation import scope_for

log = logging.getLogger("battrace.webhooks")

ALLOW_PRIVATE_SETTING: Final = "BATTRACE_WEBHOOK_ALLOW_PRIVATE"
SIGNATURE_HEADER: Final = "GS1-Signature"
MAX_SUBSCRIPTIONS: Final = 20  # per named query
MAX_DEST: Final = 2048
MAX_SIGNATURE_TOKEN: Final = 1024
FIELDS: Final = (
    "dest",
    "signatureToken",
    "reportIfEmpty",
    "initialRecordTime",
    "stream",
    "schedule",
)
ACTIVE, DISABLED = "active", "disabled"


class SubscriptionNotFound(BattraceError):
    def __init__(self, sid: str) -> None:
        super().__init__(f"no subscription {sid!r} of this named query")


class DeliveryRefused(BattraceError):
    """The destination may not be delivered to (a non-global address)."""


def allow_private_from_env(env: Mapping[str, str] | None = None) -> bool:
    raw = (os.environ if env is None else env).get(ALLOW_PRIVATE_SETTING, "false")
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise InvalidInput(ALLOW_PRIVATE_SETTING, f"must be true or false, got {raw!r}")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_s: float = 2.0  # first retry after this long
    max_s: float = 900.0  # never wait longer than this between attempts
    max_failures: int = 10  # disabled after this many failures in a row
    timeout_s: float = 10.0  # per HTTP request (connect, write, read)
    lease_s: float = 120.0  # a claim expires after this long (a worker that died mid-delivery)
    poll_s: float = 1.0  # how often an idle deliverer looks for new events

    def backoff(self, failures: int) -> float:
        return float(min(self.max_s, self.base_s * 2 ** max(0, failures - 1)))


def _iso(text: str | None) -> str | None:
    return text[:23] + "Z" if text is not None and len(text) == 27 else text


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    query_id: int
    query_name: str
    owner: str
    dest: str
    signed: bool
    stream: bool
    report_if_empty: bool
    initial_record_time: str | None
    created_at: str
    state: str
    cursor: int
    delivered: int
    failures: int
    next_attempt_at: str | None
    last_notified_at: str | None
    last_error: str | None
    disabled_at: str | None

    def to_json(self) -> dict[str, Any]:
        """The binding's QueryStreamSubscription response, plus the delivery state. The
        signatureToken is never shown (``signed`` says whether there is one)."""
        out: dict[str, Any] = {
            "subscriptionID": self.id,
            "queryName": self.query_name,
            "dest": self.dest,
            "stream": self.stream,
            "reportIfEmpty": self.report_if_empty,
            "signed": self.signed,
            "createdAt": _iso(self.created_at),
            "state": self.state,
            "eventsDelivered": self.delivered,
            "failures": self.failures,
        }
        for key, value in (
            ("initialRecordTime", self.initial_record_time),
            ("lastNotifiedAt", self.last_notified_at),
            ("nextAttemptAt", self.next_attempt_at),
            ("disabledAt", self.disabled_at),
        ):
            if value is not None:
                out[key] = _iso(value)
        if self.last_error is not None:
            out["lastError"] = self.last_error
        return out


def _subscription(r: Any, name: str) -> Subscription:
    return Subscription(
        id=r.id,
        query_id=int(r.query_id),
        query_name=name,
        owner=r.owner,
        dest=r.dest,
        signed=r.signature_token is not None,
        stream=bool(r.stream),
        report_if_empty=bool(r.report_if_empty),
        initial_record_time=r.initial_record_time,
        created_at=r.created_at,
        state=r.state,
        cursor=int(r.cursor),
        delivered=int(r.delivered),
        failures=int(r.failures),
        next_attempt_at=r.next_attempt_at,
        last_notified_at=r.last_notified_at,
        last_error=r.last_error,
        disabled_at=r.disabled_at,
    )


# -- destinations -------------------------------------------------------------------------------


def is_public(address: str) -> bool:
    """A globally routable unicast address (not loopback, private, link-local, shared, …)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_global and not ip.is_multicast)


def _private_reason(host: str) -> str:
    return (
        f"{host} is a loopback, private or link-local address; the operator may allow such "
        f"destinations with {ALLOW_PRIVATE_SETTING}=true"
    )


def check_dest(dest: object, allow_private: bool) -> str:
    """A webhook URL as given, or InvalidInput naming ``dest``."""
    if not isinstance(dest, str):
        raise InvalidInput("dest", "must be a string: the http(s) URL to deliver to")
    if len(dest) > MAX_DEST:
        raise InvalidInput("dest", f"is longer than {MAX_DEST} characters")
    if any(c.isspace() or not c.isprintable() for c in dest):
        raise InvalidInput("dest", "must not contain spaces or control characters")
    try:
        parts = urlsplit(dest)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise InvalidInput("dest", f"is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("dest", "must be an http or https URL")
    host = parts.hostname
    if not host:
        raise InvalidInput("dest", "must name a host")
    if parts.fragment or dest.endswith("#"):
        raise InvalidInput("dest", "must not have a fragment")
    if not allow_private:
        name = host.lower().rstrip(".")
        if name == "localhost" or name.endswith(".localhost"):
            raise InvalidInput("dest", _private_reason(host))
        try:
            literal = not is_public(host)
        except ValueError:  # a host name: checked again when it is resolved, before each POST
            literal = False
        if literal:
            raise InvalidInput("dest", _private_reason(host))
    return dest


def check_resolved(dest: str, allow_private: bool) -> None:
    """Before a delivery: every address the host resolves to must be public (a name may point
    anywhere, e.g. 127.0.0.1.nip.io). DeliveryRefused otherwise."""
    if allow_private:
        return
    parts = urlsplit(dest)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise DeliveryRefused(f"{host} does not resolve: {exc}") from None
    for info in infos:
        address = str(info[4][0])
        if not is_public(address):
            raise DeliveryRefused(f"{host} resolves to {address}: " + _private_reason(address))


def sign(body: bytes, token: str) -> str:
    """The ``GS1-Signature`` header: ``sha256=`` and the lowercase hex HMAC-SHA256 of the exact
    body bytes, keyed with the UTF-8 bytes of the signatureToken."""
    return "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


# -- subscribing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Request:
    dest: str
    token: str | None
    report_if_empty: bool
    initial_record_time: str | None


def _bool(body: Mapping[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise InvalidInput(name, "must be true or false")
    return value


def validate(body: object, allow_private: bool) -> _Request:
    if not isinstance(body, Mapping):
        raise InvalidInput("body", "must be a JSON object")
    for name in body:
        if name not in FIELDS:
            raise InvalidInput(name, f"is not a subscription field ({', '.join(FIELDS)})")
    if "schedule" in body:
        raise InvalidInput(
            "schedule",
            "scheduled subscriptions are not supported by this server; subscribe with "
            '"stream": true to receive new events as they are captured',
        )
    if body.get("stream") is not True:
        raise InvalidInput(
            "stream",
            "must be true: this server delivers streaming subscriptions (every new matching "
            "event); scheduled subscriptions are not supported",
        )
    if "dest" not in body:
        raise InvalidInput("dest", "is required")
    dest = check_dest(body["dest"], allow_private)
    token = body.get("signatureToken")
    if token is not None:
        if not isinstance(token, str) or not token:
            raise InvalidInput("signatureToken", "must be a non-empty string")
        if len(token) > MAX_SIGNATURE_TOKEN:
            raise InvalidInput("signatureToken", f"is longer than {MAX_SIGNATURE_TOKEN} characters")
        qs.check_text(token, "signatureToken")
    initial = body.get("initialRecordTime")
    initial_text = None
    if initial is not None:
        initial_text = qs.utc_text(parse_timestamp(initial, "initialRecordTime"))
    return _Request(dest, token, _bool(body, "reportIfEmpty", False), initial_text)


def create(
    store: Store, owner: str, query_name: str, body: object, *, allow_private: bool
) -> Subscription:
    """Subscribe to ``owner``'s named query (QueryNotFound if there is none; InvalidInput naming
    the field, nothing written). Without ``initialRecordTime`` only events captured from now on
    are delivered; with it, every event recorded at or after it."""
    query = named.get(store, owner, query_name)
    request = validate(body, allow_private)
    sid = str(uuid.uuid4())
    now = qs.utc_text(datetime.now(UTC))
    with named.transaction(store) as conn:
        named.find(conn, owner, query_name)  # not deleted meanwhile
        count = conn.execute(
            select(func.count()).select_from(qsub).where(qsub.c.query_id == query.id)
        ).scalar_one()
        if count >= MAX_SUBSCRIPTIONS:
            raise InvalidInput(
                "dest", f"the named query has {MAX_SUBSCRIPTIONS} subscriptions already"
            )
        cursor = 0
        if request.initial_record_time is None:
            cursor = int(conn.execute(select(func.max(t.events.c.seq))).scalar() or 0)
        conn.execute(
            insert(qsub).values(
                id=sid,
                query_id=query.id,
                owner=owner,
                dest=request.dest,
                signature_token=request.token,
                stream=1,
                report_if_empty=int(request.report_if_empty),
                initial_record_time=request.initial_record_time,
                created_at=now,
                state=ACTIVE,
                cursor=cursor,
                delivered=0,
                failures=0,
            )
        )
        return _load(conn, owner, query_name, sid)


def _load(conn: Connection, owner: str, query_name: str, sid: str) -> Subscription:
    row = conn.execute(
        select(qsub)
        .join(nq, nq.c.id == qsub.c.query_id)
        .where(nq.c.owner == owner, nq.c.name == query_name, qsub.c.id == sid)
    ).first()
    if row is None:
        raise SubscriptionNotFound(sid)
    return _subscription(row, query_name)


def get(store: Store, owner: str, query_name: str, sid: str) -> Subscription:
    query = named.get(store, owner, query_name)
    if len(sid) > 36:
        raise SubscriptionNotFound(sid)
    with named.reading(store) as conn:
        return _load(conn, owner, query.name, sid)


def list_page(
    store: Store, owner: str, query_name: str, after: str | None, limit: int
) -> list[Subscription]:
    query = named.get(store, owner, query_name)
    stmt = select(qsub).where(qsub.c.query_id == query.id)
    if after is not None:
        stmt = stmt.where(qsub.c.id > after)
    stmt = stmt.order_by(qsub.c.id).limit(limit)
    with named.reading(store) as conn:
        return [_subscription(r, query.name) for r in conn.execute(stmt)]


def remove(store: Store, owner: str, query_name: str, sid: str) -> None:
    query = named.get(store, owner, query_name)
    with named.transaction(store) as conn:
        gone = conn.execute(
            delete(qsub).where(qsub.c.query_id == query.id, qsub.c.id == sid)
        ).rowcount
    if not gone:
        raise SubscriptionNotFound(sid)


# -- delivering ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Claimed:
    sub: Subscription
    token: str | None
    query: dict[str, Any]


def _text(moment: datetime) -> str:
    return qs.utc_text(moment)


class Deliverer:
    """Delivers new events to the webhook subscriptions (see the module docstring). ``run_once``
    is one pass (tests call it directly, with ``now``); ``start`` / ``stop`` run passes in a
    background thread until stopped."""

    def __init__(
        self,
        store: Store,
        *,
        allow_private: bool = False,
        policy: RetryPolicy | None = None,
        worker: str | None = None,
    ) -> None:
        self.store = store
        self.allow_private = allow_private
        self.policy = policy or RetryPolicy()
        self.worker = worker or f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: Any = None

    @classmethod
    def from_env(cls, store: Store) -> Deliverer:
        return cls(store, allow_private=allow_private_from_env())

    # -- the background thread --------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="battrace-webhooks", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.policy.timeout_s + 5)
            self._thread = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.run_once()
            except Exception:  # a failing pass must not end delivery for good
                log.exception("webhook delivery pass failed")
                sent = 0
            if not sent:
                self._wake.wait(self.policy.poll_s)
                self._wake.clear()

    # -- one pass ---------------------------------------------------------------------------
    def run_once(self, now: datetime | None = None) -> int:
        """Deliver to every subscription that is due and behind the ledger; returns how many
        POSTs succeeded."""
        now = now or datetime.now(UTC)
        sent = 0
        for claimed in self._claim(now):
            if self._stop.is_set():
                break
            try:
                sent += self._deliver(claimed, now)
            except Exception as exc:  # recorded as a failure, never lost
                log.exception("webhook delivery to %s failed", claimed.sub.dest)
                self._failed(claimed.sub, now, f"internal error: {type(exc).__name__}")
        return sent

    def _claim(self, now: datetime) -> list[_Claimed]:
        s = qsub.c
        now_text = _text(now)
        with named.reading(self.store) as conn:
            head = int(conn.execute(select(func.max(t.events.c.seq))).scalar() or 0)
            rows = conn.execute(
                select(qsub, nq.c.name, nq.c.query.label("definition"))
                .join(nq, nq.c.id == s.query_id)
                .where(
                    s.state == ACTIVE,
                    s.cursor < head,
                    or_(s.next_attempt_at.is_(None), s.next_attempt_at <= now_text),
                    or_(s.lease_until.is_(None), s.lease_until < now_text),
                )
                .order_by(s.created_at)
                .limit(100)
            ).all()
        out: list[_Claimed] = []
        lease = _text(now + timedelta(seconds=self.policy.lease_s))
        for r in rows:
            with named.transaction(self.store) as conn:
                won = conn.execute(
                    update(qsub)
                    .where(
                        s.id == r.id,
                        s.state == ACTIVE,
                        s.cursor == r.cursor,
                        or_(s.lease_until.is_(None), s.lease_until < now_text),
                    )
                    .values(lease_owner=self.worker, lease_until=lease)
                ).rowcount
            if won:
                out.append(
                    _Claimed(
                        _subscription(r, r.name), r.signature_token, orjson.loads(r.definition)
                    )
                )
        return out

    def _deliver(self, claimed: _Claimed, now: datetime) -> int:
        sub = claimed.sub
        enterprise = self.store.get_enterprise(sub.owner)
        if enterprise is None:
            self._disable(sub, now, f"enterprise {sub.owner} is no longer registered")
            return 0
        scope = scope_for(enterprise)
        try:
            query = named.parse(claimed.query)
        except InvalidInput as exc:
            self._disable(sub, now, f"the named query no longer validates: {exc}")
            return 0
        flt = replace(query.filter, order="seq", descending=False)
        if sub.initial_record_time is not None and (
            flt.ge_record_time is None or flt.ge_record_time < sub.initial_record_time
        ):
            flt = replace(flt, ge_record_time=sub.initial_record_time)
        flt = qs.scoped_filter(flt, scope)
        if scope.kind == "national":
            with named.reading(self.store) as conn:
                cap = int(conn.execute(select(func.max(t.events.c.seq))).scalar() or 0)
        else:
            qs.ensure_index(self.store)  # events captured by the CLI or the demo loader
            cap = q.index_lag(self.store)[0]  # only events the read-scope index covers
        records, position = self._scan(sub, flt, scope, query.per_page, cap)
        if not records:
            self._advance(sub, position, now, 0)
            return 0
        body = self._document(sub, records)
        error = self._post(sub.dest, body, claimed.token)
        if error is not None:
            self._failed(sub, now, error)
            return 0
        self._advance(sub, position, now, len(records))
        return 1

    def _scan(
        self, sub: Subscription, flt: q.EventFilter, scope: Any, batch: int, cap: int
    ) -> tuple[list[q.EventRecord], int]:
        """Up to ``batch`` visible events after the cursor (capture order, seq ≤ ``cap``), and
        the position the cursor may move to once they are delivered."""
        position = sub.cursor
        found: list[q.EventRecord] = []
        chunk = max(2 * batch, 100)
        scanned = 0
        while True:
            rows = q.select_events(self.store, flt, (position, position), chunk)
            keep = qs.visible_records(self.store, scope, rows)
            for r in rows:
                if r.seq > cap:
                    return found, max(position, cap)
                position = r.seq
                scanned += 1
                if r.seq in keep:
                    found.append(r)
                    if len(found) >= batch:
                        return found, position
            if len(rows) < chunk:  # nothing else matches up to the cap
                return found, max(position, cap)
            if scanned >= qs.SCAN_BUDGET:
                return found, position

    @staticmethod
    def _document(sub: Subscription, records: list[q.EventRecord]) -> bytes:
        doc = qs.query_document(records)
        results = doc["epcisBody"]["queryResults"]
        results["queryName"] = sub.query_name
        results["subscriptionID"] = sub.id
        return orjson.dumps(doc)

    def _post(self, dest: str, body: bytes, token: str | None) -> str | None:
        """None when the receiver answered 2xx, else what went wrong."""
        import httpx

        try:
            check_resolved(dest, self.allow_private)
        except DeliveryRefused as exc:
            return str(exc)
        headers = {
            "Content-Type": "application/json",
            "GS1-EPCIS-Version": "2.0.0",
            "GS1-CBV-Version": "2.0.0",
            "User-Agent": f"battrace/{__version__} (webhook)",
        }
        if token is not None:
            headers[SIGNATURE_HEADER] = sign(body, token)
        if self._client is None:
            self._client = httpx.Client(
                timeout=httpx.Timeout(self.policy.timeout_s),
                follow_redirects=False,
                trust_env=False,
            )
        try:
            with self._client.stream("POST", dest, content=body, headers=headers) as response:
                status = response.status_code  # the body is not read: it is of no interest
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {str(exc)[:300] or 'no answer'}"
        if 200 <= status < 300:
            return None
        return f"the receiver answered HTTP {status}"

    # -- recording the outcome (each guarded by this worker's lease) --------------------------
    def _mine(self, sub: Subscription) -> Any:
        s = qsub.c
        return and_(s.id == sub.id, s.lease_owner == self.worker, s.cursor == sub.cursor)

    def _advance(self, sub: Subscription, position: int, now: datetime, sent: int) -> None:
        s = qsub.c
        values: dict[str, Any] = {"cursor": position, "lease_owner": None, "lease_until": None}
        if sent:
            values |= {
                "delivered": s.delivered + sent,
                "failures": 0,
                "next_attempt_at": None,
                "last_notified_at": _text(now),
                "last_error": None,
            }
        with named.transaction(self.store) as conn:
            done = conn.execute(update(qsub).where(self._mine(sub)).values(**values)).rowcount
        if not done and sent:
            log.warning("subscription %s: lease lost while delivering to %s", sub.id, sub.dest)

    def _failed(self, sub: Subscription, now: datetime, error: str) -> None:
        failures = sub.failures + 1
        if failures >= self.policy.max_failures:
            self._disable(sub, now, f"{failures} failures in a row; last: {error}")
            return
        retry = _text(now + timedelta(seconds=self.policy.backoff(failures)))
        log.info("subscription %s: delivery failed (%s); retry at %s", sub.id, error, retry)
        with named.transaction(self.store) as conn:
            conn.execute(
                update(qsub)
                .where(self._mine(sub))
                .values(
                    failures=failures,
                    next_attempt_at=retry,
                    last_error=error[:1000],
                    lease_owner=None,
                    lease_until=None,
                )
            )

    def _disable(self, sub: Subscription, now: datetime, error: str) -> None:
        log.warning("subscription %s disabled: %s", sub.id, error)
        with named.transaction(self.store) as conn:
            conn.execute(
                update(qsub)
                .where(self._mine(sub))
                .values(
                    state=DISABLED,
                    failures=sub.failures + 1,
                    disabled_at=_text(now),
                    last_error=error[:1000],
                    next_attempt_at=None,
                    lease_owner=None,
                    lease_until=None,
                )
            )
