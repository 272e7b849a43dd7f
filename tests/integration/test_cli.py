"""The `battrace` command as a user runs it: exit codes, one-line errors, JSON output."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from battrace.cli.main import app
from battrace.domain.lifecycle import builders as b
from tests import scenario as sc

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    assert runner.invoke(app, ["--db", url, "init"]).exit_code == 0
    return url


def _run(db: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--db", db, *args])
    return result.exit_code, result.stdout, result.stderr


def _register(db: str, tmp_path: Path) -> None:
    csv = tmp_path / "e.csv"
    lines = ["uscc,name_zh,name_en,province,roles,manufacturer_codes,sites"]
    for e in sc.ENTERPRISES:
        lines.append(
            f"{e['uscc']},{e['name_zh']},,{e['province']},{e['roles']},{e.get('manufacturer_codes', '')},{e['sites']}"
        )
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, _ = _run(db, "enterprise", "import", str(csv))
    assert code == 0 and f"imported {len(sc.ENTERPRISES)}" in out


def test_capture_trace_verify_checkpoint(db: str, tmp_path: Path) -> None:
    _register(db, tmp_path)
    doc = tmp_path / "production.jsonld"
    doc.write_bytes(sc.doc(*sc.production()))
    code, out, _ = _run(db, "capture", str(doc), "--as", sc.MAKER)
    assert code == 0 and "captured 5, duplicates 0, rejected 0" in out
    code, out, _ = _run(db, "capture", str(doc), "--as", sc.MAKER)
    assert code == 0 and "captured 0, duplicates 5" in out

    code, out, _ = _run(db, "trace", sc.PACK, "--json")
    data = orjson.loads(out)
    assert code == 0
    for key in (
        "code",
        "state",
        "holder",
        "parent",
        "children",
        "vehicle",
        "events",
        "inconsistencies",
    ):
        assert key in data
    assert data["code"] == sc.PACK and data["state"] == "produced"
    assert {"eventID", "eventTime", "type", "bizStep"} <= set(data["events"][0])

    code, out, _ = _run(db, "trace", sc.PACK)
    assert code == 0 and sc.MODULE in out

    code, out, _ = _run(db, "verify")
    assert code == 0 and "ledger OK" in out and "5 events" in out

    code, out, _ = _run(db, "checkpoint")
    assert code == 0
    statement = tmp_path / "cp.json"
    statement.write_text(out)
    code, out, _ = _run(db, "checkpoint", "--check", str(statement))
    assert code == 0 and "signature OK" in out
    forged = orjson.loads(statement.read_text())
    forged["eventCount"] = 6
    statement.write_bytes(orjson.dumps(forged))
    code, _, err = _run(db, "checkpoint", "--check", str(statement))
    assert code != 0 and "signature" in err


def test_rejected_capture_exits_1_and_names_the_field(db: str, tmp_path: Path) -> None:
    _register(db, tmp_path)
    events = sc.production()
    events[2]["epcList"] = ["urn:vin:LSVAB123XRA000001"]
    doc = tmp_path / "bad.jsonld"
    doc.write_bytes(sc.doc(*events))
    code, out, _ = _run(db, "capture", str(doc), "--as", sc.MAKER)
    assert code == 1
    assert "rejected, nothing written" in out and "eventList[2].epcList[0]" in out


def test_json_lines_capture(db: str, tmp_path: Path) -> None:
    _register(db, tmp_path)
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in sc.production()))
    code, out, _ = _run(db, "capture", str(path), "--as", sc.MAKER)
    assert code == 0 and "captured 5" in out


def test_hash_prints_one_id_per_event(db: str, tmp_path: Path) -> None:
    doc = tmp_path / "d.jsonld"
    doc.write_bytes(sc.doc(*sc.production()))
    code, out, _ = _run(db, "hash", str(doc))
    lines = out.splitlines()
    assert code == 0 and len(lines) == 5
    assert all(line.startswith("ni:///sha-256;") and line.endswith("?ver=CBV2.0") for line in lines)


def test_code_explains_or_names_the_position(db: str) -> None:
    code, out, _ = _run(db, "code", sc.PACK, "--json")
    assert code == 0 and orjson.loads(out)["valid"] is True
    code, _, err = _run(db, "code", sc.PACK[:3] + "X" + sc.PACK[4:])
    assert code == 2 and "position 4" in err and len(err.strip().splitlines()) == 1


def test_unknown_battery_and_missing_file_are_one_line_errors(db: str, tmp_path: Path) -> None:
    code, _, err = _run(db, "trace", sc.PACK)
    assert code != 0 and "not in the ledger" in err
    code, _, err = _run(db, "capture", str(tmp_path / "nope.jsonld"), "--as", sc.MAKER)
    assert code != 0 and "nope.jsonld" in err and "Traceback" not in err


def test_uninitialised_database_says_run_init(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    code, _, err = _run(url, "verify")
    assert code == 1 and "battrace init" in err


def test_enterprise_add_rejects_a_bad_uscc(db: str) -> None:
    code, _, err = _run(
        db, "enterprise", "add", "91350900587527783X", "--name-zh", "x", "--roles", "recycler"
    )
    assert code == 2 and "uscc" in err.lower()


def test_demo_is_loaded_and_verifies(db: str) -> None:
    code, out, _ = _run(db, "demo", "--packs", "5", "--seed", "3")
    assert code == 0 and "demo loaded" in out
    code, out, _ = _run(db, "verify")
    assert code == 0
    code, out, _ = _run(db, "demo", "--packs", "5", "--if-empty")
    assert code == 0 and "not loaded" in out


def test_builders_module_is_used_for_events() -> None:
    # Guard: the CLI tests rely on builders producing documents the capture path accepts.
    assert b.document([])["type"] == "EPCISDocument"


def test_enterprise_qualifications_are_validated_and_listed(db: str) -> None:
    uscc = sc.RECYCLER
    code, _, err = _run(
        db,
        "enterprise",
        "add",
        uscc,
        "--name-zh",
        "再生",
        "--roles",
        "recycler",
        "--qualification",
        "recycling:0:2021-12-24",
    )
    assert code == 2 and "qualifications" in err and "batch" in err
    code, out, _ = _run(
        db,
        "enterprise",
        "add",
        uscc,
        "--name-zh",
        "再生",
        "--roles",
        "recycler",
        "--qualification",
        "recycling:3:2021-12-24",
        "--qualification",
        "cascade_use:4:2022-11-16",
    )
    assert code == 0
    code, out, _ = _run(db, "enterprise", "list", "--json")
    (row,) = orjson.loads(out)
    assert row["qualifications"] == [
        {"kind": "recycling", "batch": 3, "date": "2021-12-24"},
        {"kind": "cascade_use", "batch": 4, "date": "2022-11-16"},
    ]
