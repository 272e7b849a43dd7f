"""``battrace rules list|show`` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from battrace.cli.rules import rules_app

# Wide enough that Rich does not fold ids inside table cells.
runner = CliRunner(env={"COLUMNS": "250", "NO_COLOR": "1"})

LOCAL = """\
[rulebook]
schema = 1
id = "local"
title_zh = "本地规则"
title_en = "Local rules"

[documents.local]
title_zh = "本地文件"
title_en = "Local document"

[[rule]]
id = "cn-2018-trace-dismantler-receipt"
version = 2
title_zh = "拆解企业接收报废车辆后10个工作日内上报（本地）"
title_en = "Dismantler receipt within 10 working days (local)"
kind = "reporting_deadline"
actor = "dismantler"
trigger = "receiving"
alert_kind = "late-report"
valid_from = 2027-01-01
confidence = "official"
source = { document = "local", article = "Art. 1" }
parameters = { deadline_working_days = 10 }
"""


def app() -> typer.Typer:
    # The lead registers rules_app under the main app as `battrace rules`; mimic that.
    root = typer.Typer()
    root.add_typer(rules_app, name="rules")
    return root


def test_list_table_has_ids_titles_and_confidence() -> None:
    result = runner.invoke(
        app(), ["rules", "list", "--actor", "dismantler", "--as-of", "2026-05-01"]
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "cn-2018-trace-dismantler-receipt" in out
    assert "15 working days" in out
    assert "Dismantler: report receipt" in out
    assert "MIIT Announcement 2018 No. 35" in out
    assert "UNCONFIRMED" in out  # the 2026 placeholder
    assert "2018-08-01" in out


def test_list_json_filters_by_kind_and_date() -> None:
    result = runner.invoke(
        app(), ["rules", "list", "--kind", "eu_target", "--as-of", "2031-12-31", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    lithium = next(r for r in data if r["id"] == "eu-2023-1542-recovery-lithium")
    assert lithium["version"] == 2
    assert lithium["parameters"]["value"] == 80
    assert {r["kind"] for r in data} == {"eu_target"}


def test_list_without_date_lists_every_version() -> None:
    result = runner.invoke(app(), ["rules", "list", "--kind", "recycled_content", "--json"])
    data = json.loads(result.output)
    versions = [r["version"] for r in data if r["id"] == "eu-2023-1542-recycled-content-cobalt"]
    assert versions == [1, 2]


def test_show_text_and_json() -> None:
    result = runner.invoke(
        app(), ["rules", "show", "cn-2024-whitelist-li2co3-energy", "--as-of", "2025-06-01"]
    )
    assert result.exit_code == 0, result.output
    assert "2200 kgce/t" in result.output
    assert "碳酸锂综合能耗" in result.output

    result = runner.invoke(
        app(), ["rules", "show", "cn-2018-trace-dealer-sale", "--as-of", "2025-06-01", "--json"]
    )
    data = json.loads(result.output)
    assert data["in_force"]["parameters"]["deadline_working_days"] == "UNCONFIRMED"
    assert data["in_force"]["confidence"] == "UNCONFIRMED"
    assert "parameters.deadline_working_days" in data["in_force"]["unconfirmed_fields"]


def test_show_not_in_force_on_date() -> None:
    result = runner.invoke(
        app(), ["rules", "show", "eu-2023-1542-recycled-content-lithium", "--as-of", "2030-01-01"]
    )
    assert result.exit_code == 0
    assert "no version in force on 2030-01-01" in result.output
    data = json.loads(
        runner.invoke(
            app(),
            [
                "rules",
                "show",
                "eu-2023-1542-recycled-content-lithium",
                "--as-of",
                "2030-01-01",
                "--json",
            ],
        ).output
    )
    assert data["in_force"] is None
    assert len(data["versions"]) == 2


def test_rulebook_option_supersedes(tmp_path: Path) -> None:
    local = tmp_path / "local.toml"
    local.write_text(LOCAL, encoding="utf-8")
    args = ["rules", "show", "cn-2018-trace-dismantler-receipt", "--as-of", "2027-06-01"]
    data = json.loads(runner.invoke(app(), [*args, "--json", "--rulebook", str(local)]).output)
    assert data["in_force"]["version"] == 2
    assert data["in_force"]["parameters"]["deadline_working_days"] == 10
    assert data["in_force"]["origin"] == str(local)

    # Repeatable option: the same file twice is a duplicate version, reported as an error.
    result = runner.invoke(app(), [*args, "--rulebook", str(local), "--rulebook", str(local)])
    assert result.exit_code == 1
    assert "version 2 is already defined" in result.output


def test_bad_rulebook_reports_file_rule_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(LOCAL.replace('actor = "dismantler"', 'actor = "scrapyard"'), encoding="utf-8")
    result = runner.invoke(app(), ["rules", "list", "--rulebook", str(bad)])
    assert result.exit_code == 1
    assert str(bad) in result.output
    assert "cn-2018-trace-dismantler-receipt" in result.output
    assert "actor" in result.output


def test_unknown_rule_suggests() -> None:
    result = runner.invoke(app(), ["rules", "show", "cn-2018-trace-dismantler-receit"])
    assert result.exit_code == 1
    assert "did you mean" in result.output
    assert "cn-2018-trace-dismantler-receipt" in result.output


def test_bad_options() -> None:
    assert runner.invoke(app(), ["rules", "list", "--as-of", "2026-13-01"]).exit_code == 2
    assert runner.invoke(app(), ["rules", "list", "--kind", "nonsense"]).exit_code == 2
    assert runner.invoke(app(), ["rules", "list", "--actor", "scrapyard"]).exit_code == 2
