"""Battery passports from the ledger: build, export, publish signed versions, verify, label QR.

* :func:`build` gathers a battery's facts (its events with their bodies, the enterprise registry,
  the fate of modules dismantled out of it) and derives the passport
  (:func:`battrace.domain.passport.build_passport`). Nothing is stored.
* :func:`publish` freezes the passport as a numbered, immutable version: one compact JWS per
  audience, signed with the platform's Ed25519 key, each naming the ledger head it was built from
  and carrying the signed checkpoint of that head. Publishing again when nothing changed returns the
  latest version instead of numbering a copy.
* :func:`verify_token` checks such a JWS offline (signature, embedded checkpoint, internal
  consistency) and, given the ledger, that the ledger holds that head at that capture.

Consistency: :func:`publish` holds the ledger's writer lock (``Store.write``) while it reads, so no
capture can commit between reading the head and building the passport from it; readers on other
connections are not blocked (WAL / MVCC), so the build itself uses the ordinary read API.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy import exc as sa_exc

from battrace.domain.errors import BattraceError, IdentityError, InvalidInput
from battrace.domain.identities.uris import digital_link_uri, parse_uri
from battrace.domain.passport import (
    Audience,
    EventFact,
    Facts,
    LedgerAnchor,
    Party,
    Passport,
    Related,
    build_passport,
    from_json,
    label_url,
    passport_id,
    published,
    render,
    signing,
    subject_for,
)
from battrace.persistence import schema as t
from battrace.persistence.base import Head, StorageError, Store
from battrace.persistence.schema_passport import passport_versions as pv
from battrace.persistence.sql import SqlStore, SqlWriteTxn
from battrace.services import checkpoint as checkpoints
from battrace.services.trace import to_uri, trace

VERSION_FORMAT: Final = "battrace-passport-version-v1"
CONTENT_TYPE: Final = "application/vnd.battrace.passport-version+json"
MAX_RELATED: Final = 200  # modules and cells followed after dismantling (a pack has ~10-20)
PUBLISH_ATTEMPTS: Final = 5


class VerificationFailed(BattraceError):
    """A passport version that does not verify; ``field`` names the check that failed."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# --- gathering facts ---------------------------------------------------------------------------


def _step(biz_step: str | None) -> str | None:
    if biz_step is None:
        return None
    cut = biz_step.rfind("BizStep-")
    return biz_step[cut + 8 :] if cut != -1 else biz_step


def _engine(store: Store) -> Engine:
    if not isinstance(store, SqlStore):
        raise StorageError("passport versions need an SQL store")
    return store.engine


def resolve(store: Store, code: str) -> str:
    """The ledger identifier of a battery given as code, URI or GS1 key; InvalidInput if unknown.

    A GS1 item may have been reported as an SGTIN URN or as a Digital Link: both name the same
    GTIN and serial, so the other spelling is tried too.
    """
    if not isinstance(code, str) or not code.strip() or len(code) > 300:
        raise InvalidInput("code", "must be a battery code or identifier URI")
    uri = to_uri(code)
    subject = subject_for(uri)
    if store.get_view(uri) is not None:
        return uri
    if subject.gtin is not None and subject.gs1_serial is not None:
        found = find_gs1(store, subject.gtin, subject.gs1_serial)
        if found is not None:
            return found
    raise InvalidInput("code", f"{subject.code} is not in the ledger")


def find_gs1(store: Store, gtin: str, serial: str) -> str | None:
    """The ledger URI of the item (GTIN, serial), in either GS1 spelling, or None."""
    link = digital_link_uri(gtin, serial)
    if store.get_view(link) is not None:
        return link
    tail = "".join(c for c in reversed(serial) if c.isalnum())[::-1][-20:]
    o = t.objects.c
    q = select(o.epc).where(o.epc.like("urn:epc:id:sgtin:%"), o.epc.like(f"%{tail}")).limit(1000)
    try:
        with _engine(store).connect() as conn:
            candidates: list[str] = list(conn.execute(q).scalars())
    except sa_exc.DBAPIError as exc:
        raise StorageError(f"database error: {str(exc).splitlines()[0]}") from exc
    for epc in candidates:
        try:
            ident = parse_uri(epc)
        except IdentityError:
            continue
        if ident.gtin == gtin and ident.gs1_serial == serial:
            return epc
    return None


def _events(store: Store, uri: str) -> list[EventFact]:
    rows = store.events_for(uri)
    declared = store.declared_ids({r.event_id for _, r in rows if not r.is_declaration})
    out = []
    for role, row in rows:
        if row.is_declaration or row.event_id in declared:
            continue  # an error declaration retracts the event: it is not a fact
        body = orjson.loads(row.body)
        out.append(
            EventFact(
                event_id=row.event_id,
                time=row.event_time,
                event_type=row.event_type,
                action=row.action,
                step=_step(row.biz_step),
                disposition=row.disposition,
                reporter=row.reporter,
                role=role,
                body=body if isinstance(body, dict) else {},
            )
        )
    return out


def _outputs(events: Sequence[EventFact], step: str) -> list[str]:
    out: list[str] = []
    for e in events:
        if e.step == step and e.role == "input":
            out += [x for x in e.body.get("outputEPCList") or () if isinstance(x, str)]
    return out


def _related(store: Store, events: Sequence[EventFact]) -> list[Related]:
    """Modules (and their cells) dismantled out of the battery, with their own events."""
    out: list[Related] = []
    seen: set[str] = set()
    level = _outputs(events, "disassembling")
    for _ in range(2):
        nxt: list[str] = []
        for uri in level:
            if uri in seen or len(out) >= MAX_RELATED:
                continue
            seen.add(uri)
            view = store.get_view(uri)
            state = orjson.loads(view).get("state") if view else None
            evs = _events(store, uri)
            out.append(Related(uri, state, tuple(evs)))
            nxt += _outputs(evs, "disassembling")
        level = nxt
    return out


def _parties(store: Store, events: Sequence[EventFact]) -> dict[str, Party]:
    out: dict[str, Party] = {}
    for uscc in sorted({e.reporter for e in events}):
        row = store.get_enterprise(uscc)
        if row is not None:
            out[uscc] = Party(row.uscc, row.name_zh, row.name_en, row.province, tuple(row.sites))
    return out


def gather(store: Store, code: str, head: Head | None = None) -> Facts:
    """Everything the ledger says about one battery, as :class:`Facts`."""
    uri = resolve(store, code)
    head = head or store.head()
    data = trace(store, uri)  # state and genealogy, exactly as `battrace trace` reports them
    view_text = store.get_view(uri)
    view = orjson.loads(view_text) if view_text else {}
    events = _events(store, uri)
    related = _related(store, events)
    everything = [*events, *(e for r in related for e in r.events)]
    return Facts(
        uri=uri,
        state=data.get("state"),
        resting_state=view.get("resting_state"),
        events=tuple(events),
        parties=_parties(store, everything),
        ledger=LedgerAnchor(head.capture_seq, head.event_count, head.head),
        related=tuple(related),
    )


def build(store: Store, code: str) -> Passport:
    """The live passport of a battery (unfiltered: filter with ``for_audience`` before use)."""
    return build_passport(gather(store, code))


def export(
    store: Store,
    code: str,
    model: str,
    audience: Audience,
    version: int | None = None,
) -> dict[str, Any]:
    """The passport of ``code`` for ``audience`` in ``model``: live, or a published version."""
    if version is None:
        return render(build(store, code), model, audience)
    token = version_token(store, code, version, audience)
    payload = orjson.loads(signing.verify(token).payload)
    return render(from_json(payload["passport"]), model, audience)


# --- publishing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    battery: str
    passport_id: str
    version: int
    issued_at: str
    created: bool  # False: nothing changed since this (existing) version
    ledger: LedgerAnchor
    tokens: dict[str, str] = field(default_factory=dict)  # audience -> compact JWS

    def to_json(self) -> dict[str, Any]:
        return {
            "battery": self.battery,
            "passportIdentifier": self.passport_id,
            "version": self.version,
            "issuedAt": self.issued_at,
            "created": self.created,
            "ledger": self.ledger.to_json(),
            "audiences": sorted(self.tokens),
        }


def _content_digest(passport: Passport) -> str:
    # The ledger head moves with every capture anywhere; the content is what the audience reads.
    doc = passport.to_json()
    doc.pop("ledger", None)
    doc.pop("publication", None)
    return hashlib.sha256(signing.canonical_json(doc)).hexdigest()


def _checkpoint(store: Store, key_file: Path, key: Ed25519PrivateKey) -> tuple[int, dict[str, Any]]:
    """A signed checkpoint of the current head (the latest one if it already is), with its seq."""
    head = store.head()
    public = signing.b64url(signing.raw_public(key.public_key()))
    cp = store.latest_checkpoint()
    if cp is None or cp.head != head.head or cp.public_key != public:
        checkpoints.create_checkpoint(store, key_file)
        cp = store.latest_checkpoint()
        assert cp is not None
    return cp.seq, checkpoints.to_json(cp)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def publish(store: Store, key_file: Path, code: str, *, now: str | None = None) -> Published:
    """Publish the battery's passport as a new signed version (or return the unchanged latest)."""
    uri = resolve(store, code)
    key = checkpoints.load_or_create_key(key_file)
    for _ in range(PUBLISH_ATTEMPTS):
        cp_seq, statement = _checkpoint(store, key_file, key)
        with store.write() as txn:
            assert isinstance(txn, SqlWriteTxn)
            head = txn.head()  # takes the writer lock: no capture commits until we are done
            if head.head != statement["head"] or head.capture_seq != statement["captureSeq"]:
                continue  # a capture committed since the checkpoint: sign the new head
            passport = build_passport(gather(store, uri, head))
            return _store_version(txn.conn, key, passport, cp_seq, statement, now or _now())
    raise StorageError("the ledger kept changing while publishing; try again")


@dataclass(frozen=True)
class _Latest:
    version: int
    issued_at: str
    digests: dict[str, str]  # audience -> content digest
    tokens: dict[str, str]  # audience -> JWS
    ledger: LedgerAnchor


def _latest(conn: Connection, battery: str) -> _Latest | None:
    version = conn.execute(select(func.max(pv.c.version)).where(pv.c.battery == battery)).scalar()
    if version is None:
        return None
    rows = conn.execute(
        select(
            pv.c.audience,
            pv.c.data_digest,
            pv.c.issued_at,
            pv.c.jws,
            pv.c.capture_seq,
            pv.c.event_count,
            pv.c.head,
        ).where(pv.c.battery == battery, pv.c.version == version)
    ).all()
    first = rows[0]
    return _Latest(
        int(version),
        first.issued_at,
        {r.audience: r.data_digest for r in rows},
        {r.audience: r.jws for r in rows},
        LedgerAnchor(first.capture_seq, first.event_count, first.head),
    )


def _store_version(
    conn: Connection,
    key: Ed25519PrivateKey,
    passport: Passport,
    cp_seq: int,
    statement: dict[str, Any],
    issued_at: str,
) -> Published:
    battery = passport.subject.uri
    views = {a: passport.for_audience(a) for a in Audience}
    digests = {a.value: _content_digest(v) for a, v in views.items()}
    latest = _latest(conn, battery)
    if latest is not None and latest.digests == digests:
        return Published(
            battery,
            passport.passport_id,
            latest.version,
            latest.issued_at,
            False,
            latest.ledger,
            latest.tokens,
        )
    number = (latest.version if latest else 0) + 1
    tokens: dict[str, str] = {}
    for audience, view in views.items():
        view = published(view, number, issued_at)
        payload = {
            "format": VERSION_FORMAT,
            "passportIdentifier": passport.passport_id,
            "battery": battery,
            "version": number,
            "audience": audience.value,
            "issuedAt": issued_at,
            "ledger": passport.ledger.to_json(),
            "checkpoint": statement,
            "passport": view.to_json(),
        }
        token = signing.sign(signing.canonical_json(payload), key, content_type=CONTENT_TYPE)
        tokens[audience.value] = token
        conn.execute(
            insert(pv).values(
                battery=battery,
                version=number,
                audience=audience.value,
                passport_id=passport.passport_id,
                issued_at=issued_at,
                capture_seq=passport.ledger.capture_seq,
                event_count=passport.ledger.event_count,
                head=passport.ledger.head,
                checkpoint_seq=cp_seq,
                data_digest=digests[audience.value],
                jws=token,
            )
        )
    return Published(
        battery, passport.passport_id, number, issued_at, True, passport.ledger, tokens
    )


def versions(store: Store, code: str) -> list[dict[str, Any]]:
    """Published versions of a battery's passport, oldest first."""
    uri = resolve(store, code)
    q = (
        select(pv.c.version, pv.c.issued_at, pv.c.audience, pv.c.capture_seq, pv.c.head)
        .where(pv.c.battery == uri)
        .order_by(pv.c.version, pv.c.audience)
    )
    out: dict[int, dict[str, Any]] = {}
    for r in _read(store, lambda conn: conn.execute(q).all()):
        entry = out.setdefault(
            r.version,
            {
                "version": r.version,
                "issuedAt": r.issued_at,
                "captureSeq": r.capture_seq,
                "head": r.head,
                "audiences": [],
            },
        )
        entry["audiences"].append(r.audience)
    return list(out.values())


def version_token(store: Store, code: str, version: int, audience: Audience) -> str:
    """The compact JWS of one published version for one audience; InvalidInput if none."""
    uri = resolve(store, code)
    q = select(pv.c.jws).where(
        pv.c.battery == uri, pv.c.version == version, pv.c.audience == audience.value
    )
    token = _read(store, lambda conn: conn.execute(q).scalar())
    if token is None:
        raise InvalidInput("version", f"{uri} has no published version {version}")
    return str(token)


def _read(store: Store, fn: Any) -> Any:
    try:
        with _engine(store).connect() as conn:
            return fn(conn)
    except sa_exc.DBAPIError as exc:
        text = str(exc).lower()
        if "no such table" in text or "does not exist" in text:
            raise StorageError("the database has no passport tables; run `battrace init`") from exc
        raise StorageError(f"database error: {str(exc).splitlines()[0]}") from exc


# --- verification ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    battery: str
    passport_id: str
    version: int
    audience: str
    issued_at: str
    kid: str
    key_source: str  # 'pinned' (given by the verifier), or 'embedded' (only the token's own key)
    ledger: LedgerAnchor
    ledger_checked: bool
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": True,
            "battery": self.battery,
            "passportIdentifier": self.passport_id,
            "version": self.version,
            "audience": self.audience,
            "issuedAt": self.issued_at,
            "kid": self.kid,
            "key": self.key_source,
            "ledger": self.ledger.to_json(),
            "ledgerChecked": self.ledger_checked,
            "notes": list(self.notes),
        }


def _fail(field: str, reason: str) -> VerificationFailed:
    return VerificationFailed(field, reason)


def verify_token(
    token: str, trusted: Ed25519PublicKey | None = None, store: Store | None = None
) -> Verification:
    """Check a published passport version; raise :class:`VerificationFailed` naming the check.

    1. The JWS signature (EdDSA) under ``trusted`` (or, unpinned, the key in the header).
    2. The payload is a passport version whose identifiers agree with each other and with the
       battery (the passport identifier is derived from the battery's URI), and that holds no
       attribute its audience may not read.
    3. The embedded checkpoint is signed by the same key and names the same ledger head.
    4. With ``store``: the ledger has that head at that capture, and if it published this version,
       it is this exact token.
    """
    try:
        checked = signing.verify(token, trusted)
    except InvalidInput as exc:
        raise _fail(exc.field, exc.reason) from None
    try:
        payload = orjson.loads(checked.payload)
    except orjson.JSONDecodeError:
        raise _fail("payload", "is not JSON") from None
    if not isinstance(payload, dict) or payload.get("format") != VERSION_FORMAT:
        raise _fail("payload.format", f"is not {VERSION_FORMAT}")
    try:
        passport = from_json(payload.get("passport"))
        battery = str(payload["battery"])
        version = int(payload["version"])
        audience = str(payload["audience"])
        issued_at = str(payload["issuedAt"])
        ledger_doc = payload["ledger"]
        ledger = LedgerAnchor(
            int(ledger_doc["captureSeq"]), int(ledger_doc["eventCount"]), str(ledger_doc["head"])
        )
    except InvalidInput as exc:
        raise _fail(f"payload.passport.{exc.field}", exc.reason) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail("payload", f"is malformed ({exc!r})") from None
    if passport.subject.uri != battery or passport.passport_id != payload.get("passportIdentifier"):
        raise _fail("payload.passport", "names another battery or passport")
    if passport_id(battery) != passport.passport_id:
        raise _fail("payload.passportIdentifier", "is not the identifier of this battery")
    if passport.audience is None or passport.audience.value != audience:
        raise _fail("payload.audience", "differs from the passport's audience")
    pub = passport.publication
    if pub is None or pub.version != version or pub.issued_at != issued_at:
        raise _fail("payload.version", "differs from the passport's publication")
    if passport.ledger != ledger:
        raise _fail("payload.ledger", "differs from the ledger head the passport names")
    statement = payload.get("checkpoint")
    public = signing.b64url(signing.raw_public(checked.key))
    try:
        checkpoints.check_checkpoint(statement, public)
    except InvalidInput as exc:
        raise _fail(f"checkpoint.{exc.field}", exc.reason) from None
    assert isinstance(statement, dict)
    if (
        statement.get("head") != ledger.head
        or statement.get("captureSeq") != ledger.capture_seq
        or statement.get("eventCount") != ledger.event_count
    ):
        raise _fail("checkpoint", "signs another ledger head than the passport names")
    notes: list[str] = []
    if store is not None:
        _check_ledger(store, ledger, battery, version, audience, token, notes)
    return Verification(
        battery,
        passport.passport_id,
        version,
        audience,
        issued_at,
        checked.kid,
        "pinned" if checked.pinned else "embedded",
        ledger,
        store is not None,
        tuple(notes),
    )


def _check_ledger(
    store: Store,
    ledger: LedgerAnchor,
    battery: str,
    version: int,
    audience: str,
    token: str,
    notes: list[str],
) -> None:
    c = t.captures.c
    head = _read(
        store, lambda conn: conn.execute(select(c.head).where(c.seq == ledger.capture_seq)).scalar()
    )
    if head is None:
        raise _fail("ledger", f"has no capture {ledger.capture_seq}")
    if head != ledger.head:
        raise _fail("ledger", f"capture {ledger.capture_seq} has head {head}, not {ledger.head}")
    q = select(pv.c.jws).where(
        pv.c.battery == battery, pv.c.version == version, pv.c.audience == audience
    )
    stored = _read(store, lambda conn: conn.execute(q).scalar())
    if stored is None:
        notes.append("this ledger did not publish this version (another deployment may have)")
    elif stored.strip() != token.strip():
        raise _fail("version", f"differs from version {version} as published by this ledger")


# --- keys and labels ---------------------------------------------------------------------------


def platform_public_key(key_file: Path) -> Ed25519PublicKey | None:
    """The platform's public key if its key file exists (never creates one)."""
    if not key_file.exists():
        return None
    return checkpoints.load_or_create_key(key_file).public_key()


def jwks(key_file: Path) -> dict[str, Any]:
    """The platform's signing key as a JWK Set (RFC 7517), for pinning by verifiers."""
    key = platform_public_key(key_file)
    if key is None:
        return {"keys": []}
    jwk = signing.public_jwk(key)
    return {"keys": [{**jwk, "kid": signing.thumbprint(jwk), "alg": "EdDSA", "use": "sig"}]}


def read_public_key(data: bytes) -> Ed25519PublicKey:
    """A trusted key given as PEM (public or private), a JWK, a JWK Set with one key, or the
    base64url raw key that ``battrace checkpoint`` prints."""
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        if b"PRIVATE KEY" in text:
            priv = serialization.load_pem_private_key(text, password=None)
            if not isinstance(priv, Ed25519PrivateKey):
                raise InvalidInput("public_key", "is not an Ed25519 key")
            return priv.public_key()
        pub = serialization.load_pem_public_key(text)
        if not isinstance(pub, Ed25519PublicKey):
            raise InvalidInput("public_key", "is not an Ed25519 key")
        return pub
    if text.startswith(b"{"):
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise InvalidInput("public_key", "is not JSON") from None
        if isinstance(doc, dict) and isinstance(doc.get("keys"), list):
            if len(doc["keys"]) != 1:
                raise InvalidInput("public_key", "the key set must hold exactly one key")
            doc = doc["keys"][0]
        return signing.key_from_jwk(doc, "public_key")
    raw = signing.unb64url(text.decode("ascii", "replace"), "public_key")
    if len(raw) != 32:
        raise InvalidInput("public_key", "must be a 32-byte Ed25519 public key")
    return Ed25519PublicKey.from_public_bytes(raw)


def qr_target(store: Store, code: str, base_url: str | None, resolver: str | None = None) -> str:
    """The URL the battery's label QR code encodes (GS1 Digital Link, or the passport URL)."""
    return label_url(subject_for(resolve(store, code)), base_url, resolver)


def write_qr(url: str, out: Path, *, scale: int = 8) -> None:
    """Render ``url`` as a QR code (ISO/IEC 18004, error correction M) to a .png or .svg file."""
    import segno

    suffix = out.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise InvalidInput("out", "must end in .png or .svg")
    # Error correction M (15 %) survives the scuffs a label on a battery pack gets; boost_error
    # stays off so the symbol, and so the file, depends on the URL alone.
    qr = segno.make(url, error="m", micro=False, boost_error=False)
    qr.save(str(out), scale=scale, border=4, kind=suffix[1:])


__all__ = [
    "CONTENT_TYPE",
    "VERSION_FORMAT",
    "Published",
    "Verification",
    "VerificationFailed",
    "build",
    "export",
    "find_gs1",
    "gather",
    "jwks",
    "platform_public_key",
    "publish",
    "qr_target",
    "read_public_key",
    "resolve",
    "verify_token",
    "version_token",
    "versions",
    "write_qr",
]
