"""docs/passport.md stays true: its ilmd table is the code's, and its third-party verification
recipes (Python, OpenSSL) accept a published passport and reject a tampered one."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from battrace.domain.passport import ILMD_KEYS
from battrace.persistence.sqlite import SqliteStore
from battrace.services import passport as service
from tests import scenario as sc
from tests.integration.test_passport_lifecycle import build_stage

DOC = Path(__file__).resolve().parents[2] / "docs" / "passport.md"


def _block(after: str, language: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(after)
    m = re.compile(rf"```{language}\n(.*?)```", re.S).search(text, start)
    assert m is not None
    return m[1]


def test_the_ilmd_table_lists_exactly_the_keys_understood() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("| ilmd key |") : text.index("A site record in the registry")]
    documented = re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", table, re.M)
    assert {k for k, _ in documented} == set(ILMD_KEYS)
    for key, attribute in documented:
        target = ILMD_KEYS[key][0]
        if target not in ("materials", "recycledContent"):
            assert attribute == target, key


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a published public version, the key set, and a tampered copy."""
    folder = tmp_path_factory.mktemp("recipe")
    store = SqliteStore(f"sqlite:///{folder / 'ledger.sqlite'}")
    store.migrate()
    build_stage(store, "in_service")
    token = service.publish(store, folder / "key.pem", sc.PACK).tokens["public"]
    (folder / "jwks.json").write_bytes(orjson.dumps(service.jwks(folder / "key.pem")))
    (folder / "passport.jws").write_text(token + "\n")
    h, p, s = token.split(".")
    (folder / "tampered.jws").write_text(
        f"{h}.{p[:-3]}{'x' if p[-3] != 'x' else 'y'}{p[-2:]}.{s}\n"
    )
    store.close()
    return folder


def test_python_recipe(published: Path) -> None:
    script = published / "verify_passport.py"
    script.write_text(_block("**With Python and `cryptography` only**", "python"))
    ok = subprocess.run(
        [sys.executable, str(script), "passport.jws", "jwks.json"],
        cwd=published,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert f"urn:gbt34014:{sc.PACK} version 1 public" in ok.stdout
    bad = subprocess.run(
        [sys.executable, str(script), "tampered.jws", "jwks.json"],
        cwd=published,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode != 0 and "InvalidSignature" in bad.stderr


@pytest.mark.skipif(
    not (shutil.which("openssl") and shutil.which("jq") and shutil.which("sh")),
    reason="openssl, jq or sh not installed",
)
def test_openssl_recipe(published: Path) -> None:
    script = published / "recipe.sh"
    script.write_text("set -eu\n" + _block("**With OpenSSL 3 and jq**", "sh"))
    ok = subprocess.run(
        ["sh", str(script)], cwd=published, capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stderr + ok.stdout
    assert ok.stdout.count("Signature Verified Successfully") == 2 and "true" in ok.stdout
    (published / "passport.jws").rename(published / "good.jws")
    (published / "tampered.jws").rename(published / "passport.jws")
    try:
        bad = subprocess.run(
            ["sh", str(script)], cwd=published, capture_output=True, text=True, check=False
        )
    finally:
        (published / "passport.jws").rename(published / "tampered.jws")
        (published / "good.jws").rename(published / "passport.jws")
    assert bad.returncode != 0 and "Signature Verification Failure" in bad.stdout + bad.stderr
