"""A simulation through the ledger's own capture path, then forecasts from what the ledger holds
(both backends)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from battrace.config import Settings
from battrace.domain.epcis.event import parse_timestamp
from battrace.domain.forecast import CohortKind, FutureSales, default_parameters, forecast
from battrace.domain.rules import china_date
from battrace.persistence import schema as t
from battrace.persistence.base import Store
from battrace.services.forecast_ledger import (
    ledger_capacity_match,
    ledger_cohorts,
    ledger_forecast,
    registered_capacity,
    with_future,
)
from battrace.services.verify import verify
from battrace.simulate import SimConfig, Violations, simulate
from battrace.simulate.output import load_into_ledger


def _load(
    store: Store,
) -> tuple[list[dict[str, Any]], list[tuple[datetime, str, dict[str, Any]]], list[dict[str, Any]]]:
    sim = simulate(
        SimConfig(
            seed=11,
            packs=100,
            formal_share=0.6,
            violations=Violations.uniform(0.1, {"late-report": 0.5}),
        )
    )
    truth: list[dict[str, Any]] = []
    records: list[tuple[datetime, str, dict[str, Any]]] = []

    def tee() -> Any:
        for rec in sim.stream(truth.append):
            records.append((rec[0], rec[1], dict(rec[2])))
            yield rec

    captured = load_into_ledger(store, Settings.from_env(store.url), sim.enterprises, tee())
    assert captured == len(records) > 1_500
    return sim.enterprises, records, truth


def test_captured_with_the_simulated_report_times_and_verifiable(store: Store) -> None:
    _enterprises, records, truth = _load(store)
    assert verify(store).ok
    engine = store.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        captures = conn.execute(select(t.captures.c.imported, t.captures.c.record_time)).all()
        rows = {
            r.event_id: r.record_time
            for r in conn.execute(select(t.events.c.event_id, t.events.c.record_time))
        }
    assert captures and all(c.imported for c in captures)
    recorded = sorted(c.record_time for c in captures)
    assert recorded[0] >= "2015" and recorded[-1] < "2026"
    # Each late report is recorded after its due date; the ledger's recordTime is the group's,
    # never before the simulated report and never more than the group span after it.
    late = [r for r in truth if r["alert"] == "late-report" and r["recordTime"]]
    assert late
    for r in late:
        stored = parse_timestamp(rows[r["eventID"]], "record_time")
        assert china_date(stored) > datetime.fromisoformat(r["detail"]["due"]).date()
        wanted = datetime.fromisoformat(r["recordTime"])
        assert wanted <= stored and (stored - wanted).days <= 10
    assert len(rows) == len(records)


def test_ledger_cohorts_count_every_installed_pack(store: Store) -> None:
    _enterprises, records, truth = _load(store)
    installs = Counter(
        raw["bizStep"] for _, _, raw in records if raw["bizStep"] in ("installing", "replacing")
    )
    unregistered = {r["epc"] for r in truth if r["alert"] == "code-not-registered"}
    data = ledger_cohorts(store)
    # Packs of an unregistered maker have no commissioning: no energy, so they are skipped.
    assert data.packs + data.skipped == sum(installs.values())
    assert data.skipped <= len(unregistered) + 2
    assert data.first_year == 2015 and data.last_year == 2025
    assert sum(c.units for c in data.cohorts) == pytest.approx(data.packs)
    assert all(c.kind is CohortKind.PACKS for c in data.cohorts)
    assert {c.segment for c in data.cohorts} >= {"passenger_bev"}
    assert sum(data.observed_retired.values()) == sum(
        1
        for _, _, raw in records
        if raw["bizStep"] == "decommissioning"
        and not any(e.startswith("urn:vin:") for e in raw["epcList"])
        and len(raw["epcList"][0]) == 13 + 24
    )
    # The forecast of the ledger is the model's forecast of its cohorts.
    result, same, cohorts = ledger_forecast(store, start=2020, end=2035)
    assert same.packs == data.packs
    direct = forecast(with_future(data, 2035), default_parameters(), start=2020, end=2035)
    assert result.total(2030).gwh == pytest.approx(direct.total(2030).gwh)
    assert len(cohorts) > len(data.cohorts)  # sales continue after the ledger's last year
    grown, _, _ = ledger_forecast(store, start=2035, end=2035, future=FutureSales(0.1))
    assert grown.total(2035).packs > result.total(2035).packs


def test_capacity_match_uses_the_registered_whitelisted_capacity(store: Store) -> None:
    enterprises, _, _ = _load(store)
    expected: Counter[str] = Counter()
    for e in enterprises:
        for q in e["qualifications"]:
            if q["kind"] == "recycling" and "capacity_t" in q:
                expected[e["province"]] += q["capacity_t"]
    caps = registered_capacity(store)
    assert caps == pytest.approx(dict(expected))
    report, _ = ledger_capacity_match(store, 2030)
    assert report.national.capacity_t == pytest.approx(sum(expected.values()))
    assert report.national.retired_t > 0
    assert report.national.utilisation == pytest.approx(
        report.national.retired_t / report.national.capacity_t
    )
