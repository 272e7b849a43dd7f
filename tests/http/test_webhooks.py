"""Webhook delivery of subscriptions to named queries, to a real HTTP receiver on 127.0.0.1
(allowed with BATTRACE_WEBHOOK_ALLOW_PRIVATE): exactly the matching events the subscriber may
read, signed, nothing twice — with three deliverers racing; retries with backoff, refusal of
private addresses, and disabling after repeated failures (both backends)."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from battrace.domain.lifecycle import builders as b
from battrace.persistence.base import Store
from battrace.services.subscriptions import Deliverer, RetryPolicy
from tests import scenario as sc
from tests.http import cast
from tests.http.conftest import Api, make_api

PACK = f"urn:gbt34014:{sc.PACK}"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def doc(self) -> dict[str, Any]:
        return orjson.loads(self.body)  # type: ignore[no-any-return]

    @property
    def event_ids(self) -> list[str]:
        events = self.doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        return [e["eventID"] for e in events]


@dataclass
class Receiver:
    """An HTTP server in a thread that records every POST and answers ``status``."""

    status: int = 200
    got: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.got.append(Received(self.path, dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.got if r.path == path]

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


@pytest.fixture
def hooked(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    monkeypatch.setenv("BATTRACE_WEBHOOK_ALLOW_PRIVATE", "true")
    yield from make_api(store)


def _subscribe(api: Api, who: str, name: str, query: dict[str, Any], **sub: Any) -> str:
    r = api.client.post("/queries", json={"name": name, "query": query}, headers=api.headers(who))
    assert r.status_code == 201, r.text
    r = api.client.post(
        f"/queries/{name}/subscriptions", json={"stream": True, **sub}, headers=api.headers(who)
    )
    assert r.status_code == 201, r.text
    return str(r.headers["location"])


def _ids(api: Api, who: str, **params: str) -> list[str]:
    r = api.get("/events", who, params={"perPage": "1000", **params})
    assert r.status_code == 200
    return [e["eventID"] for e in r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]


def _inspection(hours: int) -> bytes:
    event = b.inspect(
        sc.PACK,
        capacity_ah=120.0,
        rated_ah=150.0,
        resistance_mohm=80.0,
        voltage_v=380.0,
        site=sc.site(sc.AUTOMAKER),
        time=sc.at(hours),
    )
    return orjson.dumps(b.document([event]))


def _signature_ok(r: Received, token: str) -> bool:
    expected = "sha256=" + hmac.new(token.encode(), r.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(r.headers.get("GS1-Signature", ""), expected)


def test_delivers_exactly_the_matching_visible_events_once(hooked: Api, receiver: Receiver) -> None:
    api = hooked
    dealer = _subscribe(
        api,
        sc.DEALER,
        "moves",
        {"EQ_bizStep": ["shipping", "receiving"]},
        dest=f"{receiver.url}/dealer",
        signatureToken="token-d",
    )
    guangdong = _subscribe(
        api,
        cast.GUANGDONG,
        "pack",
        {"MATCH_anyEPC": [PACK]},
        dest=f"{receiver.url}/guangdong",
        signatureToken="token-g",
    )
    # Two more server workers delivering the same subscriptions at the same time.
    extra = [
        Deliverer(api.store, allow_private=True, policy=RetryPolicy(poll_s=0.05)) for _ in range(2)
    ]
    for d in extra:
        d.start()
    try:
        api.load_lifecycle()  # in-process, as the CLI and the demo loader capture
        r = api.capture(sc.AUTOMAKER, _inspection(200))  # and over HTTP
        assert r.status_code == 202 and r.json()["success"], r.text
        api.client.app.state.runtime.extra["deliverer"].wake()  # type: ignore[attr-defined]

        want_d = _ids(api, sc.DEALER, EQ_bizStep="shipping|receiving")
        want_g = _ids(api, cast.GUANGDONG, MATCH_anyEPC=PACK)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            got_d = [i for r in receiver.at("/dealer") for i in r.event_ids]
            got_g = [i for r in receiver.at("/guangdong") for i in r.event_ids]
            if len(got_d) >= len(want_d) and len(got_g) >= len(want_g):
                break
            time.sleep(0.1)
        time.sleep(1.5)  # anything sent twice would arrive now
    finally:
        for d in extra:
            d.stop()

    got_d = [i for r in receiver.at("/dealer") for i in r.event_ids]
    got_g = [i for r in receiver.at("/guangdong") for i in r.event_ids]
    by_id = {v: k for k, v in api.ids.items()}
    assert sorted(got_d) == sorted(want_d) and len(set(got_d)) == len(got_d)
    assert {by_id[i] for i in got_d} == {"ship2", "recv2"}
    assert sorted(got_g) == sorted(want_g) and len(set(got_g)) == len(got_g)
    assert receiver.at("/dealer") and receiver.at("/guangdong")
    assert len(got_g) == len(cast.PACK_VISIBLE[cast.GUANGDONG]) + 1  # + the inspection
    # Nothing outside the subscriber's scope: the national regulator sees more of both.
    assert set(got_d) < set(_ids(api, cast.NATIONAL, EQ_bizStep="shipping|receiving"))
    assert set(got_g) < set(_ids(api, cast.NATIONAL, MATCH_anyEPC=PACK))

    for path, token, name in (  # every request signed with its own subscription's token
        ("/dealer", "token-d", "moves"),
        ("/guangdong", "token-g", "pack"),
    ):
        assert receiver.at(path)
        for r in receiver.at(path):
            assert _signature_ok(r, token)
            assert not _signature_ok(r, "another token")
            assert r.headers["Content-Type"] == "application/json"
            results = r.doc["epcisBody"]["queryResults"]
            assert r.doc["type"] == "EPCISQueryDocument" and results["queryName"] == name

    state = api.get(dealer, sc.DEALER).json()
    assert state["eventsDelivered"] == len(want_d) and state["failures"] == 0
    assert state["state"] == "active" and "lastNotifiedAt" in state
    assert api.get(guangdong, cast.GUANGDONG).json()["eventsDelivered"] == len(want_g)
    sub_id = dealer.rsplit("/", 1)[1]
    assert all(
        r.doc["epcisBody"]["queryResults"]["subscriptionID"] == sub_id
        for r in receiver.at("/dealer")
    )


def test_retry_backoff_refusal_and_disable(hooked: Api, receiver: Receiver) -> None:
    api = hooked
    api.client.app.state.runtime.extra["deliverer"].stop()  # type: ignore[attr-defined]
    api.load_lifecycle()
    location = _subscribe(
        api,
        cast.NATIONAL,
        "everything",
        {},
        dest=f"{receiver.url}/hook",
        signatureToken="t",
        initialRecordTime="2000-01-01T00:00:00Z",  # the events captured already, too
    )
    policy = RetryPolicy(base_s=10, max_failures=3, timeout_s=5)
    strict = Deliverer(api.store, allow_private=False, policy=policy)
    lenient = Deliverer(api.store, allow_private=True, policy=policy)

    def state() -> dict[str, Any]:
        return api.get(location, cast.NATIONAL).json()  # type: ignore[no-any-return]

    t0 = datetime.now(UTC)
    try:
        # A deliverer that does not allow private addresses refuses 127.0.0.1 without a request.
        assert strict.run_once(t0) == 0
        assert receiver.got == []
        s = state()
        assert s["failures"] == 1 and "127.0.0.1" in s["lastError"] and s["state"] == "active"

        assert lenient.run_once(t0 + timedelta(seconds=5)) == 0  # backing off: not due yet
        assert receiver.got == []

        receiver.status = 500
        assert lenient.run_once(t0 + timedelta(seconds=11)) == 0
        assert len(receiver.got) == 1
        s = state()
        assert s["failures"] == 2 and "HTTP 500" in s["lastError"]
        assert s["nextAttemptAt"] > (t0 + timedelta(seconds=30)).isoformat()[:19]

        receiver.status = 200
        assert lenient.run_once(t0 + timedelta(seconds=20)) == 0  # 20 s backoff after 2
        assert lenient.run_once(t0 + timedelta(seconds=32)) == 1
        assert len(receiver.got) == 2
        delivered = receiver.got[1].event_ids
        assert len(delivered) == len(set(delivered)) == len(cast.lifecycle())
        s = state()
        assert (
            s["failures"] == 0 and "lastError" not in s and s["eventsDelivered"] == len(delivered)
        )
        assert lenient.run_once(t0 + timedelta(seconds=40)) == 0  # nothing new: no request
        assert len(receiver.got) == 2

        # A receiver that keeps failing: disabled after max_failures attempts in a row.
        assert api.capture(sc.AUTOMAKER, _inspection(200)).json()["success"]
        receiver.status = 503
        t2 = t0 + timedelta(seconds=100)
        for after in (0, 11, 32):
            assert lenient.run_once(t2 + timedelta(seconds=after)) == 0
        assert len(receiver.got) == 5
        assert [len(r.event_ids) for r in receiver.got[2:]] == [1, 1, 1]  # the same event
        s = state()
        assert s["state"] == "disabled" and "disabledAt" in s and "HTTP 503" in s["lastError"]
        receiver.status = 200
        assert lenient.run_once(t2 + timedelta(days=1)) == 0
        assert len(receiver.got) == 5
    finally:
        strict.stop()
        lenient.stop()
