"""Battery passports: building, exporting, signing and serving them.

Baseline in the same run: ``trace`` of the same pack (the ledger read a passport is built on).
Figures printed, per backend, as medians over the demo's packs:
- export per data model (battrace, batterypass, catenax, idta) for the public and the
  authority audience, and the ratio to the baseline (the cost of the passport layer);
- publish: a new signed version (three audiences, Ed25519 JWS, stored) per pack;
- HTTP: ``GET /passport/{code}?model=batterypass`` through the real app (p50 and p99), with and
  without an interface key (a key adds authentication to the request).

No target in the issue; the figures go to docs/performance.md.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from battrace.config import Settings
from battrace.domain.passport import MODELS, Audience
from battrace.persistence.base import Store
from battrace.services import keys
from battrace.services import passport as service
from battrace.services.demo_loader import load_demo
from battrace.services.trace import trace
from battrace.web.app import create_app
from battrace.web.runtime import ApiSettings
from bench.common import backends, percentile


def _median(fn: Callable[[str], object], codes: list[str]) -> float:
    samples = []
    for code in codes:
        start = time.perf_counter()
        fn(code)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _packs(store: Store, limit: int) -> list[str]:
    from sqlalchemy import text

    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(
            text(
                "SELECT epc FROM objects WHERE length(epc) = 37 AND substr(epc, 17, 1) = 'P' "
                "ORDER BY epc LIMIT :n"
            ),
            {"n": limit},
        )
        return [r[0].removeprefix("urn:gbt34014:") for r in rows]


def _run(name: str, store: Store, settings: Settings, packs: int) -> None:
    load_demo(store, settings, packs=packs, seed=11)
    codes = _packs(store, packs)
    base = _median(lambda c: trace(store, c), codes)
    print(f"[{name}] {len(codes)} packs; baseline trace median {base * 1000:.2f} ms")
    for audience in (Audience.PUBLIC, Audience.AUTHORITY):
        for model in MODELS:
            took = _median(lambda c: service.export(store, c, model, audience), codes)  # noqa: B023
            print(
                f"  export {model:<11} {audience.value:<9} {took * 1000:7.2f} ms"
                f"  ({took / base:.2f}× trace)"
            )
    took = _median(lambda c: service.publish(store, settings.key_file, c), codes)
    print(f"  publish (3 signed audiences)  {took * 1000:7.2f} ms  ({took / base:.2f}× trace)")

    enterprise = store.list_enterprises()[0].uscc
    token = keys.create_key(store, enterprise, "bench")[1]
    app = create_app(settings, ApiSettings(rate_limit=1e9, rate_burst=10**9), store=store)
    with TestClient(app) as client:
        for label, headers in (
            ("anonymous", {}),
            ("with key", {"Authorization": f"Bearer {token}"}),
        ):
            samples = []
            for code in codes * 3:
                start = time.perf_counter()
                response = client.get(f"/passport/{code}?model=batterypass", headers=headers)
                samples.append(time.perf_counter() - start)
                assert response.status_code == 200, response.text
            print(
                f"  GET /passport ({label:<9}) p50 {percentile(samples, 50) * 1000:6.2f} ms"
                f"  p99 {percentile(samples, 99) * 1000:6.2f} ms"
            )


def main(quick: bool) -> None:
    packs = 40 if quick else 200
    for name, factory in backends():
        with factory() as store, tempfile.TemporaryDirectory() as tmp:
            settings = Settings.from_env(store.url)
            settings = dataclasses.replace(settings, key_file=Path(tmp) / "k.pem")
            _run(name, store, settings, packs)
