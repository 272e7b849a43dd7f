"""Published passport versions on SQLite and PostgreSQL: numbered, immutable, signed, verifiable
against the ledger; a tampered passport fails."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from battrace.domain.lifecycle import builders as b
from battrace.domain.passport import Audience, signing
from battrace.persistence.base import Store
from battrace.services import checkpoint as checkpoints
from battrace.services import passport as service
from battrace.services.capture import Ledger
from tests import scenario as sc
from tests.integration.test_passport_lifecycle import build_stage


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "platform-ed25519.pem"


def _payload(token: str) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(signing.unb64url(token.split(".")[1], "payload"))
    return doc


def _tamper(token: str, change: dict[str, object]) -> str:
    """Re-encode a token's payload with ``change`` merged into its passport's attributes,
    keeping the original header and signature (what a forger without the key can do)."""
    h, p, s = token.split(".")
    doc = orjson.loads(signing.unb64url(p, "payload"))
    doc["passport"]["attributes"].update(change)
    forged = base64.urlsafe_b64encode(signing.canonical_json(doc)).rstrip(b"=").decode()
    return f"{h}.{forged}.{s}"


def test_publish_verify_and_tamper(store: Store, key_file: Path) -> None:
    build_stage(store, "in_service")
    first = service.publish(store, key_file, sc.PACK)
    assert first.created and first.version == 1
    assert sorted(first.tokens) == ["authority", "legitimate", "public"]
    public_key = checkpoints.load_or_create_key(key_file).public_key()

    for audience, token in first.tokens.items():
        report = service.verify_token(token, public_key, store)
        assert (report.version, report.audience, report.key_source) == (1, audience, "pinned")
        assert report.ledger.head == store.head().head and report.ledger_checked
        payload = _payload(token)
        assert payload["audience"] == audience
        assert payload["checkpoint"]["head"] == store.head().head

    public = first.tokens["public"]
    assert "batteryStatus" not in _payload(public)["passport"]["attributes"]

    # A forger edits the mass (a public value) without the key: the signature breaks.
    forged = _tamper(public, {"batteryMass": {"value": 350}})
    with pytest.raises(service.VerificationFailed, match="signature"):
        service.verify_token(forged, public_key)
    with pytest.raises(service.VerificationFailed, match="signature"):
        service.verify_token(forged)  # even against the key embedded in the token
    # ... or re-signs it with a key of their own: refused once the platform key is pinned.
    forged_payload = forged.split(".")[1]
    rogue = Ed25519PrivateKey.generate()
    resigned = signing.sign(
        signing.unb64url(forged_payload, "payload"), rogue, content_type=service.CONTENT_TYPE
    )
    with pytest.raises(service.VerificationFailed, match="trusted key"):
        service.verify_token(resigned, public_key)
    # Unpinned, the rogue signature holds but the embedded checkpoint was signed by the platform.
    with pytest.raises(service.VerificationFailed, match="checkpoint"):
        service.verify_token(resigned)


def test_versions_are_numbered_immutable_and_only_made_when_something_changed(
    store: Store, key_file: Path
) -> None:
    build_stage(store, "in_service")
    first = service.publish(store, key_file, sc.PACK)
    again = service.publish(store, key_file, sc.PACK)
    assert (again.version, again.created) == (1, False)
    assert again.tokens == first.tokens

    # Events about another battery move the head but not this passport: still version 1.
    ledger = Ledger(store)
    assert ledger.capture_document(
        sc.doc(b.commission([sc.PACK2], site=sc.site(sc.MAKER), time=sc.at(30))), sc.MAKER
    ).ok
    unchanged = service.publish(store, key_file, sc.PACK)
    assert (unchanged.version, unchanged.created) == (1, False)
    assert unchanged.ledger == first.ledger  # the version names the head it was built from
    assert store.head().head != first.ledger.head

    # The battery retires: version 2, signed over the new head; version 1 is unchanged.
    dis = sc.site(sc.DISMANTLER)
    assert ledger.capture_document(
        sc.doc(
            b.remove(sc.PACK, sc.VIN, site=dis, time=sc.at(900), disposition=None),
            b.retire(sc.PACK, site=dis, time=sc.at(901)),
        ),
        sc.DISMANTLER,
    ).ok
    second = service.publish(store, key_file, sc.PACK)
    assert (second.version, second.created) == (2, True)
    assert second.ledger.head == store.head().head != first.ledger.head
    for audience in Audience:
        assert service.version_token(store, sc.PACK, 1, audience) == first.tokens[audience.value]
        assert service.version_token(store, sc.PACK, 2, audience) == second.tokens[audience.value]
    listed = service.versions(store, sc.PACK)
    assert [v["version"] for v in listed] == [1, 2]
    assert listed[0]["audiences"] == ["authority", "legitimate", "public"]
    # Version 1 still verifies against the grown ledger: its head is in the chain.
    public_key = checkpoints.load_or_create_key(key_file).public_key()
    service.verify_token(first.tokens["legitimate"], public_key, store)

    # A published version exports in every model, as published (metadata says so).
    cx = service.export(store, sc.PACK, "catenax", Audience.LEGITIMATE, version=1)
    meta = cx["aspects"]["BatteryPass"]["payload"]["metadata"]
    assert (meta["version"], meta["status"]) == ("1", "approved")
    assert cx["aspects"]["BatteryPass"]["payload"]["sustainability"]["status"] == "original"
    assert cx["publication"]["version"] == 1


def test_verification_against_another_ledger_fails(
    store: Store, key_file: Path, tmp_path: Path
) -> None:
    build_stage(store, "produced")
    token = service.publish(store, key_file, sc.PACK).tokens["public"]
    public_key = checkpoints.load_or_create_key(key_file).public_key()

    from battrace.persistence.sqlite import SqliteStore

    other = SqliteStore(f"sqlite:///{tmp_path / 'other.sqlite'}")
    other.migrate()
    with pytest.raises(service.VerificationFailed, match="ledger: has no capture"):
        service.verify_token(token, public_key, other)
    build_stage(other, "in_service")  # same captures count, different history
    with pytest.raises(service.VerificationFailed, match="ledger: capture 1 has head"):
        service.verify_token(token, public_key, other)
    other.close()


def _resign(token: str, key: Ed25519PrivateKey, **changes: object) -> str:
    """The token's payload with ``changes`` applied consistently, signed with ``key``."""
    doc = orjson.loads(signing.unb64url(token.split(".")[1], "payload"))
    for name, value in changes.items():
        doc[name] = value
        if name in ("version", "issuedAt"):
            doc["passport"]["publication"][name] = value
    return signing.sign(signing.canonical_json(doc), key, content_type=service.CONTENT_TYPE)


def test_the_ledger_knows_which_versions_it_published(store: Store, key_file: Path) -> None:
    build_stage(store, "in_service")
    token = service.publish(store, key_file, sc.PACK).tokens["public"]
    key = checkpoints.load_or_create_key(key_file)
    # Signed with the platform key (say by a second deployment sharing it), same ledger head:
    # version 1 with another content is refused; an unknown version 9 is only noted.
    other_time = _resign(token, key, issuedAt="2030-01-01T00:00:00.000000Z")
    with pytest.raises(service.VerificationFailed, match="differs from version 1"):
        service.verify_token(other_time, key.public_key(), store)
    assert service.verify_token(other_time, key.public_key()).version == 1  # offline: fine
    unknown = _resign(token, key, version=9)
    report = service.verify_token(unknown, key.public_key(), store)
    assert report.notes and "did not publish" in report.notes[0]
    # Inconsistent payloads are refused even when properly signed.
    with pytest.raises(service.VerificationFailed, match="another battery or passport"):
        service.verify_token(
            _resign(token, key, passportIdentifier="urn:uuid:00000000-0000-0000-0000-000000000000"),
            key.public_key(),
        )
    with pytest.raises(service.VerificationFailed, match="audience"):
        service.verify_token(_resign(token, key, audience="authority"), key.public_key())


def test_unknown_battery_and_version(store: Store, key_file: Path) -> None:
    build_stage(store, "produced")
    from battrace.domain.errors import InvalidInput

    with pytest.raises(InvalidInput, match="not in the ledger"):
        service.publish(store, key_file, sc.PACK2)
    with pytest.raises(InvalidInput, match="no published version 3"):
        service.version_token(store, sc.PACK, 3, Audience.PUBLIC)
    assert service.versions(store, sc.PACK) == []
    with pytest.raises(InvalidInput, match="vehicle, not a battery"):
        service.build(store, sc.VIN)
