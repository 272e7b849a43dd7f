"""Signed checkpoints: the ledger head signed with the platform's Ed25519 key.

A checkpoint is a small JSON statement that anyone holding the platform's public key can check
offline (``battrace checkpoint --check FILE``); publishing it pins the ledger's history up to that
head, so a later rewrite of the database cannot go unnoticed.
"""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from battrace.domain.errors import InvalidInput
from battrace.persistence.base import CheckpointRow, Store

FORMAT = "battrace-checkpoint-v1"


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidInput(str(path), "is not an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def message(capture_seq: int, event_count: int, head: str, created_at: str) -> bytes:
    return f"{FORMAT}\n{capture_seq}\n{event_count}\n{head}\n{created_at}".encode()


def create_checkpoint(store: Store, key_file: Path) -> dict[str, Any]:
    key = load_or_create_key(key_file)
    head = store.head()
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    msg = message(head.capture_seq, head.event_count, head.head, created)
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    row = CheckpointRow(
        head.capture_seq, head.head, head.event_count, created, _b64(public), _b64(key.sign(msg))
    )
    store.add_checkpoint(row)
    return to_json(row)


def to_json(row: CheckpointRow) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "captureSeq": row.capture_seq,
        "eventCount": row.event_count,
        "head": row.head,
        "createdAt": row.created_at,
        "algorithm": "Ed25519",
        "publicKey": row.public_key,
        "signature": row.signature,
    }


def check_checkpoint(doc: Any, trusted_public_key: str | None = None) -> None:
    """Raise :class:`InvalidInput` unless ``doc`` is a checkpoint with a valid signature."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InvalidInput("format", f"is not a {FORMAT} statement")
    try:
        msg = message(
            int(doc["captureSeq"]), int(doc["eventCount"]), str(doc["head"]), str(doc["createdAt"])
        )
        public = _unb64(trusted_public_key or str(doc["publicKey"]))
        Ed25519PublicKey.from_public_bytes(public).verify(_unb64(str(doc["signature"])), msg)
    except KeyError as exc:
        raise InvalidInput(str(exc.args[0]), "is missing") from None
    except (InvalidSignature, ValueError) as exc:
        raise InvalidInput("signature", f"does not verify ({exc.__class__.__name__})") from None
