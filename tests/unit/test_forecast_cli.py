"""``battrace forecast run|compare|capacity`` through Typer's CliRunner."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from battrace.cli.forecast import forecast_app

# Wide enough that Rich does not fold cells.
runner = CliRunner(env={"COLUMNS": "250", "NO_COLOR": "1"})


def app() -> typer.Typer:
    # The lead registers forecast_app under the main app as `battrace forecast`; mimic that.
    root = typer.Typer()
    root.add_typer(forecast_app, name="forecast")
    return root


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app(), ["forecast", *args])
    return result.exit_code, result.stdout, result.stderr


def test_run_table() -> None:
    code, out, _ = invoke("run", "--to", "2030", "--draws", "20")
    assert code == 0, out
    assert "Retired power batteries, China" in out
    for heading in ("year", "packs (k)", "GWh", "kt", "Li t", "Ni t", "Co t", "Mn t", "p10–p90"):
        assert heading in out
    assert "2025" in out and "2030" in out and "2031" not in out
    assert " 111 " in out  # the 2025 GWh of of tests/unit/test_forecast_validation.py


def test_run_json_is_deterministic() -> None:
    args = ("run", "--from", "2024", "--to", "2027", "--draws", "20", "--seed", "5", "--json")
    code, out, _ = invoke(*args)
    assert code == 0
    doc = json.loads(out)
    assert [row["year"] for row in doc["years"]] == [2024, 2025, 2026, 2027]
    row = doc["years"][1]
    assert set(row["recoverable_t"]) == {"Li", "Ni", "Co", "Mn"}
    assert row["band"]["gwh"]["low"] <= row["gwh"] <= row["band"]["gwh"]["high"]
    assert doc["scope"]["band"] == "monte-carlo" and doc["scope"]["seed"] == 5
    assert invoke(*args)[1] == out


def test_run_filters_and_csv(tmp_path: Path) -> None:
    target = tmp_path / "gd.csv"
    code, out, _ = invoke(
        "run",
        "--province",
        "广东",
        "--chemistry",
        "nmc811",
        "--from",
        "2025",
        "--to",
        "2026",
        "--draws",
        "0",
        "--csv",
        str(target),
    )
    assert code == 0, out
    assert "Guangdong · NCM811" in out and "min–max" in out
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert [r["year"] for r in rows] == ["2025", "2026"]
    assert {"packs", "gwh", "tonnes", "Li_t", "Co_t", "gwh_low", "gwh_high"} <= set(rows[0])
    national = json.loads(
        invoke("run", "--from", "2025", "--to", "2025", "--draws", "0", "--json")[1]
    )
    gd = json.loads(
        invoke(
            "run", "--province", "44", "--from", "2025", "--to", "2025", "--draws", "0", "--json"
        )[1]
    )
    assert 0 < gd["years"][0]["gwh"] < national["years"][0]["gwh"]


def test_run_scenario_options() -> None:
    def gwh(*extra: str) -> float:
        out = invoke("run", "--from", "2035", "--to", "2035", "--draws", "0", "--json", *extra)[1]
        return float(json.loads(out)["years"][0]["gwh"])

    base = gwh()
    assert gwh("--growth", "0.05") > base
    assert gwh("--life-extension") < base
    assert gwh("--timing", "end") != base


def test_run_bad_input() -> None:
    for args in (
        ("--province", "Atlantis"),
        ("--chemistry", "ternary"),
        ("--segment", "tractor"),
        ("--draws", "1"),
        ("--from", "2030", "--to", "2020"),
    ):
        code, _, err = invoke("run", *args)
        assert code == 2, args
        assert "error" in err.lower() or "invalid" in err.lower(), args


def test_compare() -> None:
    code, out, _ = invoke("compare", "--draws", "20", "--json")
    assert code == 0
    summary = json.loads(out)["summary"]
    assert summary["within_range"] is True
    assert summary["published_range_gwh"] == [90.0, 175.0]
    assert summary["closest"] == "Peng, Meng, Tian et al. code (BS)"
    code, out, _ = invoke("compare", "--draws", "0")
    assert code == 0 and "TrendForce" in out and "inside" in out


def test_capacity(tmp_path: Path) -> None:
    caps = tmp_path / "caps.csv"
    caps.write_text("province,capacity_t\n44,200000\nJiangxi,150000\n320000,50000\n", "utf-8")
    code, out, _ = invoke("capacity", str(caps), "--year", "2030", "--json")
    assert code == 0, out
    doc = json.loads(out)
    rows = {r["province"]: r for r in doc["provinces"]}
    assert rows["36"]["capacity_t"] == 150000
    assert rows["11"]["utilisation"] is None  # Beijing: retirements, no capacity listed
    assert doc["national"]["capacity_t"] == 400000
    code, out, _ = invoke("capacity", str(caps))
    assert code == 0 and "Guangdong" in out and "no capacity" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("prov,cap\n44,1\n", "utf-8")
    assert invoke("capacity", str(bad))[0] == 2
    assert invoke("capacity", str(tmp_path / "missing.csv"))[0] == 2
