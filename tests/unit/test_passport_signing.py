"""Compact JWS with EdDSA: round trip, and every way a token can be wrong."""

from __future__ import annotations

import base64
import hashlib

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from battrace.domain.errors import InvalidInput
from battrace.domain.passport import signing


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_round_trip_with_pinned_and_embedded_key(key: Ed25519PrivateKey) -> None:
    payload = signing.canonical_json({"b": 1, "a": "电池"})
    token = signing.sign(payload, key, content_type="application/json")
    pinned = signing.verify(token, key.public_key())
    assert pinned.payload == payload and pinned.pinned
    assert pinned.header["alg"] == "EdDSA" and pinned.header["kid"] == pinned.kid
    embedded = signing.verify(token)
    assert embedded.payload == payload and not embedded.pinned
    assert payload == '{"a":"电池","b":1}'.encode()  # canonical: sorted keys, no whitespace


def test_rfc8037_test_vector() -> None:
    """RFC 8037 appendix A.4: Ed25519 signature of the JWS example, byte for byte."""
    d = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
    priv = Ed25519PrivateKey.from_private_bytes(signing.unb64url(d, "d"))
    jwk = signing.public_jwk(priv.public_key())
    assert jwk["x"] == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    # RFC 7638 thumbprint of the RFC 8037 A.2 key (appendix A.3).
    assert signing.thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    header = _b64(b'{"alg":"EdDSA"}')
    assert header == "eyJhbGciOiJFZERTQSJ9"
    signing_input = f"{header}.{_b64(b'Example of Ed25519 signing')}"
    signature = _b64(priv.sign(signing_input.encode()))
    assert signature == (
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
    )
    assert signing.verify(f"{signing_input}.{signature}", priv.public_key()).pinned


def _parts(token: str) -> list[str]:
    return token.split(".")


def test_a_changed_payload_fails(key: Ed25519PrivateKey) -> None:
    token = signing.sign(b'{"soh":76.2}', key, content_type="application/json")
    h, _, s = _parts(token)
    changed = _b64(b'{"soh":96.2}')
    forged = f"{h}.{changed}.{s}"
    with pytest.raises(InvalidInput, match="signature: does not verify"):
        signing.verify(forged)
    with pytest.raises(InvalidInput, match="signature: does not verify"):
        signing.verify(forged, key.public_key())


def test_a_token_signed_by_another_key_fails_when_a_key_is_pinned(key: Ed25519PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    token = signing.sign(b"{}", other, content_type="application/json")
    assert not signing.verify(token).pinned  # self-consistent, but not ours
    with pytest.raises(InvalidInput, match="jwk: is not the trusted key"):
        signing.verify(token, key.public_key())
    # Strip the embedded key: then the signature itself must fail under the pinned key.
    h, p, s = _parts(token)
    header = orjson.loads(signing.unb64url(h, "h"))
    del header["jwk"], header["kid"]
    with pytest.raises(InvalidInput, match="does not verify"):
        signing.verify(f"{_b64(orjson.dumps(header))}.{p}.{s}", key.public_key())


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"alg": "none"}, "alg: must be EdDSA"),
        ({"alg": "HS256"}, "alg: must be EdDSA"),
        ({"alg": "EdDSA", "crit": ["b64"]}, "crit"),
        ({"alg": "EdDSA", "jwk": {"kty": "RSA"}}, "Ed25519 OKP"),
        ({"alg": "EdDSA"}, "no trusted key"),
    ],
)
def test_headers_that_are_refused(header: dict[str, object], message: str) -> None:
    token = f"{_b64(orjson.dumps(header))}.{_b64(b'{}')}."
    with pytest.raises(InvalidInput, match=message):
        signing.verify(token)


def test_wrong_kid_and_malformed_tokens(key: Ed25519PrivateKey) -> None:
    token = signing.sign(b"{}", key, content_type="application/json")
    h, p, s = _parts(token)
    header = orjson.loads(signing.unb64url(h, "h"))
    header["kid"] = "not-the-thumbprint"
    with pytest.raises(InvalidInput, match="kid"):
        signing.verify(f"{_b64(orjson.dumps(header))}.{p}.{s}")
    for bad in ("", "a.b", "a.b.c.d", f"{h}.{p}.{s}=", f"{h}.{p}+.{s}", "!!!.x.y"):
        with pytest.raises(InvalidInput):
            signing.verify(bad)
    with pytest.raises(InvalidInput, match="header: is not JSON"):
        signing.verify(f"{_b64(b'not json')}.{p}.{s}")


def test_thumbprint_is_rfc7638() -> None:
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    expected = _b64(
        hashlib.sha256(
            b'{"crv":"Ed25519","kty":"OKP","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}'
        ).digest()
    )
    assert signing.thumbprint(jwk) == expected
