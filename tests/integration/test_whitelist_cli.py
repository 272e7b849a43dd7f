"""``battrace whitelist …`` and ``battrace pilot …`` as a user runs them: the workflow from a TOML
application to the public list, one-line errors with exit code ≠ 0, JSON output."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from battrace.cli.main import app
from battrace.persistence import open_store
from tests import scenario as sc
from tests.http import cast

runner = CliRunner()

APPLICATION = f"""
uscc = "{sc.CASCADE}"
kind = "cascade_use"
edition = "2024"
note = "梯次利用储能"

[indicators.source_verification]
value = true
"""


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    assert runner.invoke(app, ["--db", url, "init"]).exit_code == 0
    store = open_store(url)
    cast.register(store)
    store.close()
    return url


def _run(db: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--db", db, *args])
    return result.exit_code, result.stdout, result.stderr


def test_whitelist_workflow_from_the_command_line(db: str, tmp_path: Path) -> None:
    file = tmp_path / "apply.toml"
    file.write_text(APPLICATION, encoding="utf-8")
    code, out, err = _run(db, "whitelist", "apply", str(file), "--json")
    assert code == 0, err
    view = orjson.loads(out)
    app_id = str(view["id"])
    assert view["state"] == "draft" and view["evaluation"]["result"] == "pass"
    code, out, _ = _run(db, "whitelist", "evaluate", app_id)
    assert code == 0 and "edition 2024 · cascade_use" in out and out.rstrip().endswith("pass")
    code, out, _ = _run(db, "whitelist", "evaluate", app_id, "--json")
    assert orjson.loads(out)["items"][0]["rule"] == "cn-2024-whitelist-cascade-source"
    assert _run(db, "whitelist", "submit", app_id)[0] == 0
    # Jiangsu's regulator does not see a Hunan application: exit 2, one line
    code, _, err = _run(db, "whitelist", "review", app_id, "--approve", "--as", cast.JIANGSU)
    assert code == 2 and "no whitelist application" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(db, "whitelist", "review", app_id, "--reject", "--as", cast.NATIONAL)
    assert code == 2 and "reason" in err
    code, out, err = _run(db, "whitelist", "review", app_id, "--approve", "--reason", "ok",
                          "--as", cast.NATIONAL)  # fmt: skip
    assert code == 0 and "provincially_approved" in out, err
    code, out, err = _run(db, "whitelist", "announce", "--batch", "6", "--date", "2026-05-01",
                          app_id, "--as", cast.NATIONAL)  # fmt: skip
    assert code == 0 and "1 application(s) announced" in out, err
    code, _, err = _run(db, "whitelist", "submit", app_id)
    assert code == 2 and "announced" in err
    code, out, _ = _run(db, "whitelist", "list", "--batch", "6", "--json")
    (batch,) = orjson.loads(out)
    assert batch["entries"][0]["uscc"] == sc.CASCADE
    code, out, _ = _run(db, "whitelist", "list")
    assert code == 0 and "batch" in out
    code, out, _ = _run(db, "whitelist", "show", app_id)
    assert code == 0 and "announced · batch 6" in out
    steps = orjson.loads(_run(db, "whitelist", "show", app_id, "--json")[1])["steps"]
    assert [s["actor"] for s in steps][-1] == cast.NATIONAL
    code, out, _ = _run(db, "whitelist", "applications", "--as", cast.GUANGDONG, "--json")
    assert orjson.loads(out) == []


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("{not json", ".json", "not JSON"),
        ("kind = ", ".toml", "not TOML"),
        (orjson.dumps({"uscc": sc.RECYCLER, "kind": "recycling", "indicators": {
            "metal_recovery_li": {"value": 0.9, "unit": "fraction"}}}).decode(),
         ".json", "must be '%'"),
        (orjson.dumps({"uscc": sc.CASCADE, "kind": "recycling"}).decode(), ".json",
         "recycler role"),
    ],
)  # fmt: skip
def test_bad_applications_exit_non_zero_and_write_nothing(
    db: str, tmp_path: Path, content: str, suffix: str, message: str
) -> None:
    file = tmp_path / f"bad{suffix}"
    file.write_text(content, encoding="utf-8")
    code, _, err = _run(db, "whitelist", "apply", str(file))
    assert code != 0 and message in err
    assert orjson.loads(_run(db, "whitelist", "applications", "--json")[1]) == []


def test_pilots_from_the_command_line(db: str) -> None:
    code, out, err = _run(db, "pilot", "add", "region", "湖南试点", "--province", "43",
                          "--model", "third-party", "--scenario", "grid-storage")  # fmt: skip
    assert code == 0 and "pilot region 1" in out, err
    code, out, err = _run(db, "pilot", "add", "enterprise", sc.AUTOMAKER,
                          "--model", "automaker-led", "--region", "湖南试点")  # fmt: skip
    assert code == 0, err
    code, _, err = _run(db, "pilot", "add", "enterprise", sc.MAKER, "--model", "maker-led")
    assert code == 2 and "model" in err
    code, out, _ = _run(db, "pilot", "list", "--json")
    data = orjson.loads(out)
    assert [r["name_zh"] for r in data["regions"]] == ["湖南试点"]
    assert data["enterprises"][0]["region"] == 1
    code, out, _ = _run(db, "pilot", "compare", "--json")
    rows = orjson.loads(out)
    assert [r["pilot"] for r in rows] == ["region", "enterprise"]
    code, out, _ = _run(db, "pilot", "compare")
    assert code == 0 and "region" in out
