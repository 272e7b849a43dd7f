"""``battrace passport …`` as a user runs it: export, publish, verify (and a tampered file), qr."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import pytest
import segno
import typer
from typer.testing import CliRunner

from battrace.cli.common import state
from battrace.cli.passport import passport_app
from battrace.domain.lifecycle import builders as b
from battrace.persistence.sqlite import SqliteStore
from battrace.services import passport as service
from battrace.services.capture import Ledger
from tests import scenario as sc
from tests.integration.test_passport_lifecycle import build_stage, register

# The sub-app under a root with the global --db option, as cli/main.py mounts it.
app = typer.Typer()


@app.callback()
def _root(db: Annotated[str | None, typer.Option("--db")] = None) -> None:
    state.reset(db)


app.add_typer(passport_app, name="passport")
runner = CliRunner()
SGTIN = "urn:epc:id:sgtin:0614141.112345.400"


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    store = SqliteStore(url)
    store.migrate()
    build_stage(store, "in_service")
    store.close()
    return url


def run(db: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--db", db, "passport", *args])
    return result.exit_code, result.stdout, result.stderr


def test_export_every_model_and_audience(db: str) -> None:
    for model in ("battrace", "batterypass", "catenax", "idta"):
        for audience in ("public", "legitimate", "authority"):
            code, out, err = run(db, "export", sc.PACK, "--model", model, "--audience", audience)
            assert code == 0, err
            doc = orjson.loads(out)
            assert doc["audience"] == audience
    code, out, _ = run(db, "export", sc.PACK, "--model", "batterypass")
    gpi = orjson.loads(out)["aspects"]["GeneralProductInformation"]["payload"]
    assert gpi["productIdentifier"] == f"urn:gbt34014:{sc.PACK}" and "batteryStatus" not in gpi


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", sc.PACK, "--model", "xml"], "model: 'xml' is not one of"),
        (["export", sc.PACK, "--audience", "everyone"], "audience: 'everyone' is not one of"),
        (["export", sc.PACK2], "is not in the ledger"),
        (["export", "NOT-A-CODE"], "code"),
        (["export", sc.PACK, "--version", "1"], "no published version 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(db: str, args: list[str], message: str) -> None:
    code, out, err = run(db, *args)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_publish_and_verify_a_file_then_a_tampered_copy(db: str, tmp_path: Path) -> None:
    outdir = tmp_path / "published"
    code, out, err = run(db, "publish", sc.PACK, "--out", str(outdir))
    assert code == 0, err
    summary = orjson.loads(out)
    assert summary["version"] == 1 and summary["created"] is True
    files = sorted(p.name for p in outdir.iterdir())
    assert files == [f"{sc.PACK}-v1-{a}.jws" for a in ("authority", "legitimate", "public")]
    public = outdir / f"{sc.PACK}-v1-public.jws"

    # The platform's own key file is found through the settings (beside the SQLite file).
    code, out, err = run(db, "verify", str(public), "--ledger")
    assert code == 0, err
    assert f"{sc.PACK} version 1 (public)" in out and "(pinned)" in out
    assert "ledger holds that head" in out

    # A third party pins the published key set and has no ledger.
    code, jwks, _ = run(db, "key")
    assert code == 0 and orjson.loads(jwks)["keys"][0]["crv"] == "Ed25519"
    key_file = tmp_path / "jwks.json"
    key_file.write_text(jwks)
    code, out, err = run(
        "sqlite:///" + str(tmp_path / "none.sqlite"),
        "verify",
        str(public),
        "--public-key",
        str(key_file),
    )
    assert code == 0, err

    # One character of the payload changed: exit 1, one line naming the signature.
    h, p, s = public.read_text().strip().split(".")
    tampered = tmp_path / "tampered.jws"
    tampered.write_text(f"{h}.{p[:-2]}{'A' if p[-2] != 'A' else 'B'}{p[-1]}.{s}")
    code, out, err = run(db, "verify", str(tampered))
    assert code == 1 and "signature" in err and len(err.strip().splitlines()) == 1

    code, out, _ = run(db, "versions", sc.PACK)
    assert [v["version"] for v in orjson.loads(out)] == [1]
    code, out, _ = run(db, "export", sc.PACK, "--model", "idta", "--version", "1")
    assert code == 0 and orjson.loads(out)["publication"]["version"] == 1


def test_verify_without_a_trusted_key_warns(db: str, tmp_path: Path) -> None:
    code, out, _ = run(db, "publish", sc.PACK, "--out", str(tmp_path))
    token = next(tmp_path.glob("*-public.jws"))
    elsewhere = "sqlite:///" + str(tmp_path / "elsewhere" / "x.sqlite")  # no key file there
    code, out, err = run(elsewhere, "verify", str(token))
    assert code == 0 and "(embedded)" in out and "warning: no trusted key" in err


def test_qr_encodes_the_passport_url(db: str, tmp_path: Path) -> None:
    png, svg = tmp_path / "label.png", tmp_path / "label.svg"
    base = "https://battrace.example"
    code, out, err = run(db, "qr", sc.PACK, "--out", str(png), "--base-url", base)
    assert code == 0, err
    url = f"{base}/passport/{sc.PACK}"
    assert url in out
    expected = tmp_path / "expected.png"
    segno.make(url, error="m", micro=False, boost_error=False).save(
        str(expected), scale=8, border=4, kind="png"
    )
    assert png.read_bytes() == expected.read_bytes()  # the same symbol, so the same URL
    code, _, _ = run(db, "qr", sc.PACK, "--out", str(svg), "--base-url", base)
    assert code == 0 and svg.read_text().startswith("<?xml")
    code, _, err = run(db, "qr", sc.PACK, "--out", str(tmp_path / "label.gif"), "--base-url", base)
    assert code == 2 and "png or .svg" in err
    code, _, err = run(db, "qr", sc.PACK, "--out", str(png))
    assert code == 2 and "base_url" in err


def test_qr_of_a_gs1_battery_is_its_digital_link(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gs1.sqlite'}"
    store = SqliteStore(url)
    store.migrate()
    register(store)
    event = b.commission(SGTIN, site=sc.site(sc.MAKER), time=sc.at(0), attributes={"massKg": 9})
    assert Ledger(store).capture_document(sc.doc(event), sc.MAKER).ok
    link = "https://id.gs1.org/01/10614141123459/21/400"
    assert service.qr_target(store, SGTIN, None) == link
    assert service.qr_target(store, link, None) == link  # found under its other spelling
    assert (
        service.qr_target(store, SGTIN, None, "https://resolver.example/")
        == "https://resolver.example/01/10614141123459/21/400"
    )
    store.close()
    png = tmp_path / "gs1.png"
    code, out, err = run(url, "qr", SGTIN, "--out", str(png))
    assert code == 0 and link in out, err


def test_qr_takes_the_public_url_from_the_environment(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    png = tmp_path / "label.png"
    monkeypatch.setenv("BATTRACE_PUBLIC_URL", "https://trace.example.cn/")
    code, out, err = run(db, "qr", sc.PACK, "--out", str(png))
    assert code == 0, err
    assert f"https://trace.example.cn/passport/{sc.PACK}" in out
    code, out, _ = run(db, "qr", sc.PACK, "--out", str(png), "--base-url", "https://x.example")
    assert code == 0 and "https://x.example/passport/" in out  # the option wins
    monkeypatch.setenv("BATTRACE_PUBLIC_URL", "ftp://trace.example.cn")
    code, _, err = run(db, "qr", sc.PACK, "--out", str(png))
    assert code == 2 and "BATTRACE_PUBLIC_URL" in err and "Traceback" not in err
