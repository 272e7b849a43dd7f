"""Recycled content from a real ledger (SQLite and PostgreSQL): a recycler's recycling outputs
and a battery maker's production inputs captured as events, shares computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from battrace.cli.main import app
from battrace.domain.errors import InvalidInput
from battrace.domain.lifecycle import builders as b
from battrace.persistence.base import Store
from battrace.services.capture import Ledger
from battrace.services.recycled_content import recycled_content_report
from tests import scenario as sc
from tests.http import cast

# NiSO4·6H2O and CoSO4·7H2O, CIAAW abridged weights (materials.py).
NI = 58.693 / (58.693 + 32.06 + 4 * 15.999 + 6 * (2 * 1.008 + 15.999))
CO = 58.933 / (58.933 + 32.06 + 4 * 15.999 + 7 * (2 * 1.008 + 15.999))


def when(month: int, day: int = 10) -> datetime:
    return datetime(2025, month, day, 2, tzinfo=UTC)


def recycling(month: int, outputs: dict[str, float]) -> dict:
    return b.recycle(
        (), outputs, inputs_kg={"black_mass": 900.0}, site=sc.site(sc.RECYCLER), time=when(month)
    )


def production(month: int, serial: int, inputs: dict) -> dict:
    return b.commission(
        [sc.code("C", serial)],
        site=sc.site(sc.MAKER),
        time=when(month),
        attributes={"chemistry": "NCM811"},
        inputs_kg=inputs,
    )


def capture(store: Store, reporter: str, *events: dict) -> None:
    result = Ledger(store).capture_document(sc.doc(*events), reporter)
    assert result.ok, result.rejected


def world(store: Store) -> dict:
    """Recycler: 200 kg NiSO4·6H2O and 40 kg CoSO4·7H2O in March; a second run in June whose
    event is then declared in error. Maker: two productions in 2025, one in 2026."""
    cast.register(store)  # the scenario cast; its recycler holds a recycling qualification
    retracted = recycling(6, {"nickel_sulfate": 1000.0})
    capture(store, sc.RECYCLER, recycling(3, {"nickel_sulfate": 200.0, "cobalt_sulfate": 40.0}))
    capture(store, sc.RECYCLER, retracted)
    capture(store, sc.RECYCLER, b.declare_error(retracted, time=when(6, 20)))
    capture(
        store,
        sc.MAKER,
        production(
            4,
            101,
            {
                "nickel_sulfate": (300.0, sc.RECYCLER),
                "cobalt_sulfate": (100.0, sc.RECYCLER),
                "lithium_hydroxide": (250.0, sc.OTHER_MAKER),
            },
        ),
        production(7, 102, {"nickel_sulfate": (500.0, sc.RECYCLER)}),  # the retracted run
        production(1, 103, {"nickel_sulfate": (100.0, sc.RECYCLER)}),  # before any output
    )
    return {}


def test_shares_from_the_ledger(store: Store) -> None:
    world(store)
    report = recycled_content_report(store, sc.MAKER, "2025")
    ni, co, li = report.share("Ni"), report.share("Co"), report.share("Li")
    # Ni: 900 kg of sulphate used in 2025; 200 kg recycled exist (the June run was retracted)
    # and the January production came before them: 200 / 900.
    assert report.inputs == 5
    assert ni.total_kg == pytest.approx(900 * NI)
    assert ni.recycled_kg == pytest.approx(200 * NI)
    assert ni.share_pct == pytest.approx(200 / 900 * 100)
    assert co.share_pct == pytest.approx(40.0) and co.recycled_kg == pytest.approx(40 * CO)
    assert li.share_pct == 0.0  # bought from a supplier that recycles nothing
    assert [t["meets"] for t in ni.targets] == [True, True]  # 22.2 % >= 6 % and 15 %
    assert [t["meets"] for t in co.targets] == [True, True]
    assert [t["meets"] for t in li.targets] == [False, False]
    h1 = recycled_content_report(store, sc.MAKER, "2025-01-01..2025-06-30")
    assert h1.inputs == 4 and h1.share("Ni").share_pct == pytest.approx(50.0)  # 200 of 400
    assert recycled_content_report(store, sc.MAKER, "2026").inputs == 0


def test_bad_requests_name_the_field(store: Store) -> None:
    world(store)
    for uscc, period, field in (
        (sc.RECYCLER, "2025", "enterprise"),  # not a battery maker
        ("91350900587527783X", "2025", "uscc"),
        (sc.MAKER, "2025-13", "period"),
    ):
        with pytest.raises(InvalidInput) as exc:
            recycled_content_report(store, uscc, period)
        assert exc.value.field.startswith(field), (uscc, period)


def test_cli(tmp_path: Path) -> None:
    from battrace.persistence.sqlite import SqliteStore

    url = f"sqlite:///{tmp_path / 'rc.sqlite'}"
    store = SqliteStore(url)
    store.migrate()
    world(store)
    store.close()
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})
    args = ["--db", url, "recycled-content", "--enterprise", sc.MAKER, "--period", "2025"]
    result = runner.invoke(app, [*args, "--json", "--xlsx", str(tmp_path / "rc.xlsx")])
    assert result.exit_code == 0, result.output
    doc = orjson.loads(result.stdout)
    assert doc["enterprise"] == sc.MAKER
    shares = {e["element"]: e["share_pct"] for e in doc["elements"]}
    assert shares["Co"] == pytest.approx(40.0) and shares["Li"] == 0.0
    from openpyxl import load_workbook

    sheet = load_workbook(tmp_path / "rc.xlsx").active
    assert sheet is not None and sheet.cell(1, 4).value == "element"
    table = runner.invoke(app, args)
    assert table.exit_code == 0 and "40.00" in table.stdout and "NOT" in table.stdout
    bad = runner.invoke(
        app, ["--db", url, "recycled-content", "--enterprise", sc.MAKER, "--period", "soon"]
    )
    assert bad.exit_code == 2 and "period" in bad.stderr and "Traceback" not in bad.output
