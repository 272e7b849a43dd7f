"""The regulation engine is attached wherever real data is captured (CLI ``capture``, the demo
loader, the simulator; HTTP in tests/http/test_supervision.py), and demo and simulated data are
judged as of their own time."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from typer.testing import CliRunner

from battrace.cli.main import app
from battrace.config import Settings, rulebook_paths
from battrace.domain.supervision.clock import us_of_text
from battrace.persistence import schema as t
from battrace.persistence.base import Store
from battrace.persistence.sqlite import SqliteStore
from battrace.services import alerts as engine
from battrace.services import enterprises as registry
from battrace.services.demo_loader import load_demo
from battrace.simulate import SimConfig, Violations, simulate
from battrace.simulate.output import load_into_ledger
from tests import scenario as sc
from tests.http import cast

runner = CliRunner()
DEMO_END = "2025-12-31"  # the demo data's last day (battrace.demo.generate)


def test_demo_is_judged_as_of_its_own_time(store: Store) -> None:
    load_demo(store, Settings.from_env(store.url), packs=300, seed=1)
    assert engine.coverage(store).complete  # the engine saw every capture
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(
            select(t.events.c.event_time, t.events.c.record_time, t.captures.c.imported).join(
                t.captures, t.captures.c.seq == t.events.c.capture_seq
            )
        ).all()
    assert rows and all(r.imported for r in rows)
    lag = [
        us_of_text(r.record_time) - us_of_text(r.event_time) for r in rows
    ]  # µs; a capture group spans at most 7 days of event time
    assert min(lag) >= 0 and max(lag) <= 7 * 86_400 * 10**6

    everything = engine.Scope.everything()
    # As of the data's own last day: only what the data itself shows — a dismantler shipping to
    # a recycler before its whitelist date. No late report (loaded today, all would be late).
    at_end = engine.list_alerts(store, everything, as_of=engine.as_of_argument(DEMO_END))
    assert [(a.kind, a.rule, a.status) for a in at_end] == [
        ("unqualified-transfer", "cn-2020-mofcom-dismantler-transfer", "open")
    ]
    # Today: besides, the lifecycles the data cut off at its end — batteries received in
    # December 2025 and never shipped on or recycled since (the default follow-up periods).
    now = engine.list_alerts(store, everything)
    assert Counter((a.kind, a.rule) for a in now) == {
        ("unqualified-transfer", "cn-2020-mofcom-dismantler-transfer"): 1,
        ("missing-follow-up", "cn-assumption-outlet-follow-up"): 1,
        ("missing-follow-up", "cn-assumption-recycler-follow-up"): 1,
    }
    for a in now:
        if a.kind == "missing-follow-up":
            assert a.due is not None and a.due > DEMO_END


def test_simulated_data_raises_only_injected_late_reports(sqlite_store: Store) -> None:
    # Loaded with the simulated report times, no on-time report is late: every late-report alert
    # is an injected one. The simulator's ground truth is stricter in two places the engine
    # deliberately is not: a repairer's *removal* (the 30-day rule binds the replacement), and a
    # receipt by an enterprise with several roles (judged under its most lenient deadline).
    sim = simulate(
        SimConfig(
            seed=11,
            packs=100,
            formal_share=1.0,
            violations=Violations.uniform(0.0, {"late-report": 0.3}),
        )
    )
    truth: list[dict[str, Any]] = []
    load_into_ledger(
        sqlite_store, Settings.from_env(sqlite_store.url), sim.enterprises, sim.stream(truth.append)
    )
    assert engine.coverage(sqlite_store).complete
    roles = {e["uscc"]: e["roles"] for e in sim.enterprises}
    injected = {r["eventID"]: r for r in truth if r["alert"] == "late-report"}
    found = engine.list_alerts(
        sqlite_store, engine.Scope.everything(), engine.AlertFilter(kind="late-report")
    )
    assert found and {a.evidence[0] for a in found} <= set(injected)
    for missed in set(injected) - {a.evidence[0] for a in found}:
        r = injected[missed]
        assert r["detail"]["bizStep"] == "removing" or len(roles[r["enterprise"]]) > 1, r


def test_cli_capture_runs_the_engine(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    assert runner.invoke(app, ["--db", url, "init"]).exit_code == 0
    store = SqliteStore(url)
    registry.register(store, cast.enterprises())
    store.close()
    production = tmp_path / "production.jsonld"
    production.write_bytes(sc.doc(*sc.production()))
    scrap = tmp_path / "scrap.jsonld"
    scrap.write_bytes(sc.doc(next(s.event for s in cast.lifecycle() if s.label == "scrap")))
    for path, who in ((production, sc.MAKER), (scrap, sc.DISMANTLER)):
        result = runner.invoke(app, ["--db", url, "capture", str(path), "--as", who])
        assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["--db", url, "alerts", "--json", "--as", cast.JIANGSU])
    assert listed.exit_code == 0, listed.output
    alerts = orjson.loads(listed.stdout)
    # Reported today for 2024: late; and the battery was never shipped on since.
    assert sorted((a["kind"], a["enterprise"]) for a in alerts) == [
        ("late-report", sc.DISMANTLER),
        ("missing-follow-up", sc.DISMANTLER),
    ]
    assert "warning" not in listed.output  # the facts cover every event
    assert date.fromisoformat(alerts[0]["first_detected"][:10]) >= date(2024, 3, 5)


LOCAL = """
[rulebook]
schema = 1
id = "local"
title_zh = "本地"
title_en = "Local"

[documents.local]
title_zh = "本地细则"
title_en = "Local rules"

[[rule]]
id = "cn-assumption-dismantler-battery-follow-up"
version = 2
title_zh = "拆解企业10个工作日内移出电池"
title_en = "Dismantler ships the battery within 10 working days"
kind = "follow_up_period"
actor = "dismantler"
trigger = "receiving"
alert_kind = "missing-follow-up"
valid_from = 2018-08-01
confidence = "official"
source = { document = "local" }
parameters = { period_days = 10, day_basis = "working_days", follow_up_trigger = "shipping" }
"""


def test_battrace_rulebooks_reaches_every_capture_path(tmp_path: Path) -> None:
    assert rulebook_paths({"BATTRACE_RULEBOOKS": "a.toml:/etc/r"}) == (
        Path("a.toml"),
        Path("/etc/r"),
    )
    assert rulebook_paths({}) == ()
    local = tmp_path / "local.toml"
    local.write_text(LOCAL, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    env = {"BATTRACE_RULEBOOKS": str(local)}
    assert runner.invoke(app, ["--db", url, "init"]).exit_code == 0
    store = SqliteStore(url)
    registry.register(store, cast.enterprises())
    store.close()
    scrap = tmp_path / "scrap.jsonld"
    scrap.write_bytes(sc.doc(next(s.event for s in cast.lifecycle() if s.label == "scrap")))
    result = runner.invoke(
        app, ["--db", url, "capture", str(scrap), "--as", sc.DISMANTLER], env=env
    )
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["--db", url, "alerts", "--json", "--kind", "missing-follow-up"])
    (alert,) = orjson.loads(listed.stdout)
    assert (alert["rule"], alert["rule_version"]) == (
        "cn-assumption-dismantler-battery-follow-up",
        2,
    )
    shown = runner.invoke(app, ["rules", "show", alert["rule"], "--json"], env=env)
    assert shown.exit_code == 0 and '"version": 2' in shown.stdout
    bad = runner.invoke(
        app,
        ["--db", url, "capture", str(scrap), "--as", sc.DISMANTLER],
        env={"BATTRACE_RULEBOOKS": str(tmp_path / "missing.toml")},
    )
    assert bad.exit_code == 2 and "missing.toml" in bad.output
