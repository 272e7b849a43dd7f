"""``battrace simulate`` and ``battrace forecast --from-ledger`` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from battrace.cli.forecast import forecast_app
from battrace.cli.main import main as main_callback
from battrace.cli.main import verify
from battrace.cli.simulate import simulate_app

# The lead registers sub-apps in cli/main.py; this test builds the same shape around them.
app = typer.Typer()
app.callback()(main_callback)
app.command()(verify)
app.add_typer(simulate_app, name="simulate")
app.add_typer(forecast_app, name="forecast")
runner = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    out = tmp_path_factory.mktemp("sim") / "small.jsonl"
    code, stdout, stderr = _run(
        "simulate", "run", "--packs", "120", "--seed", "3", "--out", str(out),
        "--violations", "0.1", "--violation", "late-report=0.4", "--json",
    )  # fmt: skip
    assert code == 0, stderr
    return out, orjson.loads(stdout)


def test_run_writes_events_enterprises_and_ground_truth(
    written: tuple[Path, dict[str, object]],
) -> None:
    out, summary = written
    lines = out.read_bytes().splitlines()
    assert len(lines) == summary["events"] > 1_000
    first = orjson.loads(lines[0])
    assert (
        first["type"] and first["recordTime"] and first["readPoint"]["id"].startswith("urn:uscc:")
    )
    enterprises = orjson.loads(out.with_name("small.enterprises.json").read_bytes())
    assert len(enterprises) == summary["enterprises"]
    truth = [orjson.loads(x) for x in out.with_name("small.truth.jsonl").read_bytes().splitlines()]
    assert len(truth) == sum(summary["truth_records"].values())  # type: ignore[attr-defined]
    assert any(r["alert"] == "late-report" for r in truth)
    assert summary["violations"]["rates"]["late-report"] == 0.4  # type: ignore[index]


def test_load_then_verify_and_forecast_from_the_ledger(
    written: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    out, summary = written
    db = f"sqlite:///{tmp_path / 'sim.sqlite'}"
    code, stdout, stderr = _run("simulate", "load", str(out), "--db", db)
    assert code == 0, stderr
    assert f"loaded {summary['events']:,} events" in stdout
    code, stdout, _ = _run("--db", db, "verify")
    assert code == 0 and "ledger OK" in stdout
    chart = tmp_path / "retired.svg"
    code, stdout, stderr = _run(
        "--db", db, "forecast", "run", "--from-ledger", "--to", "2030", "--draws", "0",
        "--json", "--chart", str(chart), "--chart-metric", "packs",
    )  # fmt: skip
    assert code == 0, stderr
    data = orjson.loads(stdout)
    assert data["scope"]["source"] == "ledger"
    assert data["scope"]["ledger"]["packs"] > 100
    assert [r["year"] for r in data["years"]] == list(range(2020, 2031))
    assert data["years"][-1]["packs"] > data["years"][0]["packs"] > 0
    svg = chart.read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "<polyline" in svg and "2030" in svg
    png = tmp_path / "capacity.png"
    code, stdout, stderr = _run(
        "--db", db, "forecast", "capacity", "--from-ledger", "--year", "2030", "--json",
        "--chart", str(png),
    )  # fmt: skip
    assert code == 0, stderr
    report = orjson.loads(stdout)
    assert report["national"]["capacity_t"] > 0 and report["national"]["retired_t"] > 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_straight_into_a_database(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'direct.sqlite'}"
    truth = tmp_path / "truth.jsonl"
    code, stdout, stderr = _run(
        "simulate", "run", "--packs", "40", "--seed", "4", "--db", db, "--truth", str(truth)
    )
    assert code == 0, stderr
    assert "simulation: demo, seed 4" in stdout and truth.exists()
    code, stdout, _ = _run("--db", db, "verify")
    assert code == 0 and "ledger OK" in stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "run", "--scale", "city"], "scale"),
        (["simulate", "run", "--violation", "nope=0.1"], "unknown alert kind"),
        (["simulate", "run", "--violation", "late-report"], "KIND=RATE"),
        (["simulate", "run", "--until", "2099-01-01", "--out", "x.jsonl"], "future"),
        (["simulate", "run", "--until", "soon"], "--until"),
        (["simulate", "run", "--out", "a.jsonl", "--db", "sqlite:///b"], "not both"),
        (["forecast", "run", "--chart-metric", "joy"], "--chart-metric"),
        (["forecast", "capacity"], "capacity CSV"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    code, _, stderr = _run(*args)
    assert code == 2
    assert message in stderr
    assert "Traceback" not in stderr


def test_loading_a_bad_file_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "ObjectEvent"}\nnot json\n', encoding="utf-8")
    (tmp_path / "bad.enterprises.json").write_text("[]", encoding="utf-8")
    code, _, stderr = _run(
        "simulate", "load", str(bad), "--db", f"sqlite:///{tmp_path / 'x.sqlite'}"
    )
    assert code == 2
    assert "bad.jsonl:1" in stderr  # the first line has no recordTime
    code, _, stderr = _run("simulate", "load", str(tmp_path / "none.jsonl"), "--db", "sqlite:///y")
    assert code != 0 and "Traceback" not in stderr


def test_forecast_from_an_empty_ledger_says_so(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    code, _, stderr = _run("--db", db, "forecast", "run", "--from-ledger")
    assert code == 2 and "battrace init" in stderr
