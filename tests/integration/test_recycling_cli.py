"""``battrace grade``, ``battrace recovery`` and ``battrace rank`` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from battrace.cli.main import app
from battrace.persistence.sqlite import SqliteStore
from tests import scenario as sc
from tests.integration.test_recycling_world import PACK_A, World, recycling_a, world

runner = CliRunner()
_ = world  # the fixture, for a database file the CLI can open


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    assert runner.invoke(app, ["--db", url, "init"]).exit_code == 0
    return url


@pytest.fixture
def filled(db: str) -> str:
    from datetime import timedelta

    from battrace.domain.lifecycle import builders as b
    from tests.http import cast
    from tests.integration.test_recycling_world import T_A, inspection

    store = SqliteStore(db)
    try:
        cast.register(store)
        w = World(store, {})
        w.capture(
            T_A - timedelta(days=30),
            sc.MAKER,
            b.commission(
                PACK_A,
                site=sc.site(sc.MAKER),
                time=T_A - timedelta(days=31),
                attributes={"chemistry": "LFP", "ratedEnergyKWh": 50.0, "massKg": 333.0},
            ),
        )
        w.capture(
            T_A - timedelta(hours=20),
            sc.RECYCLER,
            inspection(PACK_A, 72.0, safety={"leakage": False}),
        )
        w.capture(T_A + timedelta(hours=2), sc.RECYCLER, recycling_a())
    finally:
        store.close()
    return db


def _run(db: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--db", db, *args])
    return result.exit_code, result.stdout, result.stderr


def test_grade_a_battery_and_a_batch(filled: str, tmp_path: Path) -> None:
    code, out, _ = _run(filled, "grade", PACK_A, "--json")
    assert code == 0 and orjson.loads(out)["grade"] == "cascade_a"
    code, out, _ = _run(filled, "grade", PACK_A)
    assert code == 0 and "cascade_a" in out and "72.00" in out
    code, _, err = _run(filled, "grade", PACK_A, "--as", sc.DEALER)
    assert code == 2 and "not visible" in err
    batch = tmp_path / "results.csv"
    batch.write_text(
        "code,measured_capacity_ah,rated_capacity_ah,internal_resistance_mohm,temperature_c,"
        "safety.leakage\nA,85,100,2,25,no\nB,70,100,2,25,yes\n",
        encoding="utf-8",
    )
    code, out, _ = _run(filled, "grade", "--file", str(batch), "--json")
    assert code == 0
    assert [(r["code"], r["grade"]) for r in orjson.loads(out)] == [
        ("A", "vehicle"),
        ("B", "pretreat"),
    ]
    bad = tmp_path / "bad.json"
    bad.write_bytes(orjson.dumps([{"measured_capacity_ah": 1}]))
    code, _, err = _run(filled, "grade", "--file", str(bad))
    assert code == 2 and "rows[0]" in err and len(err.strip().splitlines()) <= 2
    code, _, err = _run(filled, "grade")
    assert code == 2 and "code" in err
    code, _, err = _run(filled, "grade", sc.code("P", 98))
    assert code == 2 and "not in the ledger" in err


def test_recovery_json_table_and_xlsx(filled: str, tmp_path: Path) -> None:
    code, out, _ = _run(
        filled, "recovery", "--enterprise", sc.RECYCLER, "--period", "2025-Q1", "--json"
    )
    assert code == 0
    li = next(e for e in orjson.loads(out)["balance"]["elements"] if e["element"] == "Li")
    assert li["recovery_pct"] == pytest.approx(88.2060, abs=1e-4)
    xlsx = tmp_path / "recovery.xlsx"
    code, out, _ = _run(
        filled, "recovery", "--enterprise", sc.RECYCLER, "--period", "2025", "--xlsx", str(xlsx)
    )
    assert code == 0 and "CN-2024-recovery-Li" in out and "not-met" in out
    wb = load_workbook(xlsx)
    assert wb["summary"]["A2"].value == sc.RECYCLER
    code, _, err = _run(filled, "recovery", "--enterprise", sc.RECYCLER, "--period", "25")
    assert code == 2 and "period" in err
    code, _, err = _run(
        filled, "recovery", "--enterprise", sc.RECYCLER, "--period", "2025", "--as", sc.DEALER
    )
    assert code == 2 and "not visible" in err


def test_rank(filled: str, tmp_path: Path) -> None:
    code, out, _ = _run(filled, "rank", "--period", "2025-Q1", "--json")
    assert code == 0
    data = orjson.loads(out)
    assert data["ranking"][0]["enterprise"] == sc.RECYCLER
    assert data["weights"]["components"]["recovery"]["status"] == "assumption"
    code, out, _ = _run(filled, "rank", "--period", "2025-Q1", "--province", "43", "--json")
    assert code == 0 and {r["province"] for r in orjson.loads(out)["ranking"]} == {"43"}
    xlsx = tmp_path / "rank.xlsx"
    code, out, _ = _run(filled, "rank", "--period", "2025-Q1", "--xlsx", str(xlsx))
    assert code == 0 and "assumptions" in out and "score" in out
    assert load_workbook(xlsx)["ranking"]["B2"].value == sc.RECYCLER
    code, _, err = _run(filled, "rank", "--period", "2025", "--province", "99")
    assert code == 2 and "province" in err
