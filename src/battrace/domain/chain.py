"""The tamper-evident hash chain over captures.

Each stored event contributes a *leaf* that commits to its Event Hash ID, the server's recordTime
and the exact stored JSON text (so a change to a non-hashed field such as a comment also shows).
A capture commits to its leaves in order (``digest``) and to the previous capture's head, so
changing, deleting, inserting or reordering any event or capture breaks every later head.

All inputs are text; the encoding is fixed here and must never change for stored data (a new
scheme would need a version field).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

GENESIS = "0" * 64


def event_leaf(event_id: str, record_time: str, body: str) -> bytes:
    body_hash = hashlib.sha256(body.encode()).digest()
    return hashlib.sha256(f"{event_id}\n{record_time}\n".encode() + body_hash).digest()


def capture_digest(leaves: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    for leaf in leaves:
        h.update(leaf)
    return h.hexdigest()


def capture_head(
    prev_head: str,
    capture_id: str,
    enterprise: str,
    record_time: str,
    context: str,
    event_count: int,
    digest: str,
) -> str:
    ctx = hashlib.sha256(context.encode()).hexdigest()
    material = "\n".join(
        (
            "battrace-capture-v1",
            prev_head,
            capture_id,
            enterprise,
            record_time,
            ctx,
            str(event_count),
            digest,
        )
    )
    return hashlib.sha256(material.encode()).hexdigest()
