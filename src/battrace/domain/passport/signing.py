"""Compact JWS (RFC 7515) with EdDSA / Ed25519 (RFC 8037), done by hand on ``cryptography``.

Why not a JOSE library: battrace needs one algorithm and the compact serialisation only, which is
base64url, one JSON header and one Ed25519 signature over ``header.payload``. Doing it here keeps the
verifier small enough to audit and to restate in a dozen lines for third parties (docs/passport.md),
and it cannot be talked into another algorithm: a JOSE library that reads ``alg`` from the token is
what made "alg: none" and key-confusion attacks possible. Verification accepts ``EdDSA`` and nothing
else, rejects any ``crit`` extension, and checks the signature before the payload is parsed.

The header carries the public key (``jwk``, RFC 7517 OKP) and its RFC 7638 thumbprint (``kid``) so
that a reader can see which key signed; trusting that key is a separate decision (a pinned key, or
the platform's published key set).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Final

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from battrace.domain.errors import InvalidInput

ALGORITHM: Final = "EdDSA"
MAX_TOKEN: Final = 16 * 1024 * 1024  # a passport with its full event history stays far below
_B64URL = re.compile(r"[A-Za-z0-9_-]*").fullmatch


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str, field: str) -> bytes:
    """Strict base64url without padding (RFC 7515 §2); :class:`InvalidInput` otherwise."""
    if not _B64URL(text) or len(text) % 4 == 1:
        raise InvalidInput(field, "is not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidInput(field, "is not base64url") from None


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw_public(key))}


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order."""
    canonical = orjson.dumps({"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]})
    return b64url(hashlib.sha256(canonical).digest())


def key_from_jwk(jwk: Any, field: str = "jwk") -> Ed25519PublicKey:
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise InvalidInput(field, "must be an Ed25519 OKP JSON Web Key")
    x = jwk.get("x")
    raw = unb64url(x if isinstance(x, str) else "", f"{field}.x")
    if len(raw) != 32:
        raise InvalidInput(f"{field}.x", "must be a 32-byte Ed25519 public key")
    return Ed25519PublicKey.from_public_bytes(raw)


def canonical_json(doc: Any) -> bytes:
    """The payload bytes battrace signs: sorted keys, no whitespace, UTF-8."""
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def sign(payload: bytes, key: Ed25519PrivateKey, *, content_type: str) -> str:
    """Compact JWS of ``payload``."""
    jwk = public_jwk(key.public_key())
    header = {"alg": ALGORITHM, "cty": content_type, "jwk": jwk, "kid": thumbprint(jwk)}
    signing_input = b64url(canonical_json(header)) + "." + b64url(payload)
    return signing_input + "." + b64url(key.sign(signing_input.encode("ascii")))


@dataclass(frozen=True, slots=True)
class Verified:
    header: dict[str, Any]
    payload: bytes
    key: Ed25519PublicKey
    kid: str
    pinned: bool  # True when a trusted key was given and it is the one that signed


def verify(token: str, trusted: Ed25519PublicKey | None = None) -> Verified:
    """Check a compact JWS; raise :class:`InvalidInput` naming what is wrong.

    With ``trusted`` the signature must verify under that key (the embedded ``jwk`` is only
    compared with it); without, it is checked against the embedded key and ``pinned`` is False.
    """
    token = token.strip()
    if len(token) > MAX_TOKEN:
        raise InvalidInput("jws", f"is larger than {MAX_TOKEN} bytes")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidInput("jws", "is not a compact JWS (three base64url parts separated by '.')")
    try:
        header = orjson.loads(unb64url(parts[0], "jws.header"))
    except orjson.JSONDecodeError:
        raise InvalidInput("jws.header", "is not JSON") from None
    if not isinstance(header, dict):
        raise InvalidInput("jws.header", "must be a JSON object")
    if header.get("alg") != ALGORITHM:
        raise InvalidInput("jws.header.alg", f"must be {ALGORITHM}, got {header.get('alg')!r}")
    if "crit" in header:
        raise InvalidInput("jws.header.crit", "no critical extensions are understood")
    embedded = key_from_jwk(header["jwk"], "jws.header.jwk") if "jwk" in header else None
    key = trusted or embedded
    if key is None:
        raise InvalidInput("jws.header.jwk", "is missing and no trusted key was given")
    jwk = public_jwk(key)
    if embedded is not None and raw_public(embedded) != raw_public(key):
        raise InvalidInput("jws.header.jwk", "is not the trusted key")
    kid = thumbprint(jwk)
    if "kid" in header and header["kid"] != kid:
        raise InvalidInput("jws.header.kid", "does not match the signing key's thumbprint")
    signature = unb64url(parts[2], "jws.signature")
    payload = unb64url(parts[1], "jws.payload")
    try:
        key.verify(signature, (parts[0] + "." + parts[1]).encode("ascii"))
    except InvalidSignature:
        raise InvalidInput(
            "jws.signature", "does not verify: the content was altered or another key signed it"
        ) from None
    return Verified(header, payload, key, kid, trusted is not None)


__all__ = [
    "ALGORITHM",
    "Verified",
    "b64url",
    "canonical_json",
    "key_from_jwk",
    "public_jwk",
    "raw_public",
    "sign",
    "thumbprint",
    "unb64url",
    "verify",
]
