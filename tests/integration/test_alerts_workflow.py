"""The supervision workflow (service and CLI): acknowledge, rectification notice, answer,
close — every step recorded, each actor confined to its jurisdiction."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from battrace.cli.alerts import alerts_app, report_app
from battrace.cli.common import state
from battrace.domain.errors import InvalidInput, NotAuthorised
from battrace.persistence.sqlite import SqliteStore
from battrace.services import alerts as engine
from battrace.services import supervision as workflow
from tests.integration.test_alerts_world import (
    BIG_OUTLET,
    CASCADE,
    DISMANTLER,
    GD_REGULATOR,
    JS_REGULATOR,
    LOCAL_RULES,
    MIIT,
    REPAIRER,
    World,
    cst,
    generate,
    load,
    local_rules,
)

WHEN = datetime(2026, 11, 21, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One loaded world per module; each test gets a copy of its database file."""
    folder = tmp_path_factory.mktemp("alerts-world")
    store = SqliteStore(f"sqlite:///{folder / 'world.sqlite'}")
    store.migrate()
    load(World(store, local_rules(folder)), generate(packs=2, rate=0.5, seed=9))
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return folder / "world.sqlite"


@pytest.fixture
def world(template: Path, tmp_path: Path) -> Iterator[World]:
    copy = tmp_path / "world.sqlite"
    shutil.copyfile(template, copy)
    store = SqliteStore(f"sqlite:///{copy}")
    yield World(store, local_rules(tmp_path))
    store.close()


def _alert(world: World, kind: str) -> engine.Alert:
    (alert,) = world.alerts(cst(2026, 11, 20), kind=kind)
    return alert


def test_full_workflow_is_recorded(world: World) -> None:
    store = world.store
    alert = _alert(world, "late-report")
    js = workflow.actor_of(store, JS_REGULATOR)
    dismantler = workflow.actor_of(store, DISMANTLER)
    workflow.acknowledge(store, alert.id, js, "seen", now=WHEN)
    notice = workflow.issue_notice(
        store, alert.id, js, date(2026, 12, 31), "report within deadlines", now=WHEN
    )
    assert engine.get_alert(store, alert.id).status == "rectifying"  # type: ignore[union-attr]
    (mine,) = workflow.notices(store, dismantler, status="issued", today=date(2026, 12, 1))
    assert mine.id == notice and not mine.overdue
    assert workflow.notices(store, dismantler, today=date(2027, 1, 2))[0].overdue
    workflow.answer_notice(store, notice, dismantler, "staff retrained", now=WHEN)
    assert engine.get_alert(store, alert.id).status == "answered"  # type: ignore[union-attr]
    workflow.close(store, alert.id, js, "done", now=WHEN)
    assert engine.get_alert(store, alert.id).status == "closed"  # type: ignore[union-attr]
    steps = workflow.history(store, alert.id, dismantler)
    assert [s.action for s in steps] == ["acknowledge", "notice", "answer", "close"]
    assert [s.actor for s in steps] == [JS_REGULATOR, JS_REGULATOR, DISMANTLER, JS_REGULATOR]
    assert steps[1].notice_id == notice and steps[2].note == "staff retrained"
    assert workflow.notices(store, dismantler)[0].status == "closed"
    # Closed alerts are listed as closed, and a re-evaluation keeps the workflow.
    assert [a.status for a in world.alerts(cst(2026, 11, 20), status="closed")] == ["closed"]
    engine.rebuild(store, world.rules)
    assert engine.get_alert(store, alert.id).status == "closed"  # type: ignore[union-attr]


def test_workflow_permissions(world: World) -> None:
    store = world.store
    alert = _alert(world, "late-report")  # a Jiangsu dismantler's alert
    gd = workflow.actor_of(store, GD_REGULATOR)
    with pytest.raises(NotAuthorised, match="outside the jurisdiction"):
        workflow.acknowledge(store, alert.id, gd)
    with pytest.raises(NotAuthorised, match="not a regulator"):
        workflow.acknowledge(store, alert.id, workflow.actor_of(store, DISMANTLER))
    miit = workflow.actor_of(store, MIIT)
    workflow.acknowledge(store, alert.id, miit)
    with pytest.raises(InvalidInput, match="already acknowledged"):
        workflow.acknowledge(store, alert.id, miit)
    with pytest.raises(InvalidInput, match="in the past"):
        workflow.issue_notice(store, alert.id, miit, date(2020, 1, 1), "x")
    with pytest.raises(InvalidInput, match="requirement: is required"):
        workflow.issue_notice(store, alert.id, miit, date(2030, 1, 1), "  ")
    notice = workflow.issue_notice(store, alert.id, miit, date(2030, 1, 1), "fix it")
    with pytest.raises(InvalidInput, match="awaiting an answer"):
        workflow.issue_notice(store, alert.id, miit, date(2030, 1, 1), "again")
    with pytest.raises(NotAuthorised, match="addressed to"):
        workflow.answer_notice(store, notice, workflow.actor_of(store, BIG_OUTLET), "not mine")
    with pytest.raises(NotAuthorised, match="not visible"):
        workflow.history(store, alert.id, workflow.actor_of(store, CASCADE))
    with pytest.raises(InvalidInput, match="no alert"):
        workflow.close(store, "nope", miit)
    with pytest.raises(InvalidInput, match="not a registered"):
        workflow.actor_of(store, "91110000000000000X")
    # Nothing of the refused steps was recorded.
    assert [s.action for s in workflow.history(store, alert.id, miit)] == ["acknowledge", "notice"]


def test_specification_registration_raises_code_alerts(world: World) -> None:
    store = world.store
    assert workflow.register_specifications(store, "ABC", ["02", "03"]) == 2
    assert workflow.register_specifications(store, "abc", ["02"]) == 0
    with pytest.raises(InvalidInput, match="not a registered manufacturer code"):
        workflow.register_specifications(store, "QQQ", ["01"])
    with pytest.raises(InvalidInput, match="specification"):
        workflow.register_specifications(store, "ABC", ["1"])
    engine.rebuild(store, world.rules)
    codes = world.alerts(cst(2026, 11, 20), kind="code-not-registered")
    # every ABC pack is specification 01, now unregistered; plus the ZZZ pack
    assert len(codes) > 10 and all(
        "specification 01" in a.detail["reason"] or a.subject.startswith("ZZZ") for a in codes
    )


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------

runner = CliRunner(env={"COLUMNS": "250", "NO_COLOR": "1"})


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main(db: str = typer.Option(..., "--db")) -> None:
        state.reset(db)

    app.add_typer(alerts_app, name="alerts")
    app.add_typer(report_app, name="report")
    return app


@pytest.fixture
def cli(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[typer.Typer, str]:
    rulebook = tmp_path / "cli-local.toml"
    rulebook.write_text(LOCAL_RULES, encoding="utf-8")
    monkeypatch.setenv("BATTRACE_RULEBOOKS", str(rulebook))
    return _cli(), world.store.url


def test_cli_lists_alerts_as_json_with_the_required_fields(cli: tuple[typer.Typer, str]) -> None:
    app, url = cli
    result = runner.invoke(app, ["--db", url, "alerts", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data) == 9  # one of each kind
    for item in data:
        assert {"kind", "rule", "subject", "enterprise", "province", "status", "evidence"} <= set(
            item
        )
        assert item["evidence"][0].startswith("ni:///sha-256;")
    one = runner.invoke(
        app, ["--db", url, "alerts", "--json", "--kind", "missing-follow-up", "--province", "32"]
    )
    assert [a["kind"] for a in json.loads(one.output)] == ["missing-follow-up"]
    scoped = runner.invoke(app, ["--db", url, "alerts", "--json", "--as", GD_REGULATOR])
    assert [a["kind"] for a in json.loads(scoped.output)] == ["retired-not-collected"]
    table = runner.invoke(app, ["--db", url, "alerts", "--status", "open"])
    assert table.exit_code == 0 and "working-day calendar covers" in table.output


def test_cli_as_of_replays_history(cli: tuple[typer.Typer, str]) -> None:
    app, url = cli
    early = runner.invoke(app, ["--db", url, "alerts", "--json", "--as-of", "2026-04-01"])
    assert early.exit_code == 0 and json.loads(early.output) == []
    later = json.loads(
        runner.invoke(app, ["--db", url, "alerts", "--json", "--as-of", "2026-08-31"]).output
    )
    assert 0 < len(later) < 8 or all(a["status"] in ("open", "resolved") for a in later)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["alerts", "--kind", "lateness"], "kind: 'lateness' is not one of"),
        (["alerts", "--as-of", "someday"], "as_of:"),
        (["alerts", "--status", "done"], "status:"),
        (["alerts", "--as", "91110000000000000X"], "not a registered"),
        (["alerts", "ack", "nope", "--as", MIIT], "no alert"),
        (["alerts", "notice", "x", "--as", MIIT, "--due", "soon", "--requirement", "r"], "due:"),
        (["report", "summary", "--period", "week"], "period:"),
        (["report", "summary", "--format", "pdf"], "format:"),
        (["report", "flow", "--format", "xlsx"], "needs --out"),
    ],
)
def test_cli_bad_input_is_one_readable_line(
    cli: tuple[typer.Typer, str], args: list[str], message: str
) -> None:
    app, url = cli
    result = runner.invoke(app, ["--db", url, *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_workflow_round_trip(cli: tuple[typer.Typer, str], world: World) -> None:
    app, url = cli
    alert = _alert(world, "unreported-source")  # the cascade user's, in Hunan (43)
    ok = runner.invoke(app, ["--db", url, "alerts", "ack", alert.id, "--as", MIIT, "--note", "n"])
    assert ok.exit_code == 0, ok.output
    notice = runner.invoke(
        app,
        ["--db", url, "alerts", "notice", alert.id, "--as", MIIT, "--due", "2030-01-31",
         "--requirement", "show where the battery came from"],
    )  # fmt: skip
    assert notice.exit_code == 0, notice.output
    notice_id = notice.output.split()[2]
    answered = runner.invoke(
        app, ["--db", url, "alerts", "answer", notice_id, "--as", CASCADE, "--text", "from R"]
    )
    assert answered.exit_code == 0, answered.output
    listed = runner.invoke(app, ["--db", url, "alerts", "notices", "--as", CASCADE, "--json"])
    assert json.loads(listed.output)[0]["answer"] == "from R"
    shown = runner.invoke(app, ["--db", url, "alerts", "show", alert.id, "--json"])
    assert [h["action"] for h in json.loads(shown.output)["history"]] == [
        "acknowledge",
        "notice",
        "answer",
    ]
    refused = runner.invoke(app, ["--db", url, "alerts", "close", alert.id, "--as", REPAIRER])
    assert refused.exit_code == 2 and "not a regulator" in refused.output
    closed = runner.invoke(app, ["--db", url, "alerts", "close", alert.id, "--as", MIIT])
    assert closed.exit_code == 0


def test_cli_rebuild_and_obligations(cli: tuple[typer.Typer, str]) -> None:
    app, url = cli
    result = runner.invoke(app, ["--db", url, "alerts", "rebuild", "--from-events"])
    assert result.exit_code == 0, result.output
    assert "facts rebuilt" in result.output and "0 new, 0 changed" in result.output
    assert runner.invoke(app, ["--db", url, "alerts", "obligations", "--json"]).exit_code == 0


def test_cli_reports_and_exports(cli: tuple[typer.Typer, str], tmp_path: Path) -> None:
    app, url = cli
    summary = runner.invoke(app, ["--db", url, "report", "summary", "--format", "json"])
    assert summary.exit_code == 0, summary.output
    rows = json.loads(summary.output)
    assert {r["group"] for r in rows} >= {"32", "35", "44"}
    csv_out = runner.invoke(app, ["--db", url, "report", "producers", "--format", "csv"])
    assert csv_out.output.splitlines()[0].startswith("producer,name,role,province,retired")
    flow = json.loads(
        runner.invoke(app, ["--db", url, "report", "flow", "--format", "json"]).output
    )
    assert {n["id"] for n in flow["nodes"]} >= {"produced", "retired", "formal_collection"}
    book = tmp_path / "all.xlsx"
    exported = runner.invoke(app, ["--db", url, "report", "export", str(book)])
    assert exported.exit_code == 0, exported.output
    from openpyxl import load_workbook

    wb = load_workbook(book)
    assert wb.sheetnames == ["statistics", "producers", "coverage", "flow"]
    assert wb["statistics"]["A1"].value == "group"


# HTTP: tests/http/test_supervision.py (the real app, bearer keys, both backends).
