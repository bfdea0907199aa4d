"""Detached JWS (RFC 7515 §7.1 compact serialization, payload detached per Appendix F), EdDSA.

Regulator reports are signed with the audit log's own Ed25519 keys, in the form JOSE tooling
reads: ``<b64url(header)>..<b64url(signature)>``, the signature over
``b64url(header) || "." || b64url(payload)`` (RFC 7515 §5.1), ``alg`` ``EdDSA`` (RFC 8037) and
``kid`` the key's C2SP key id in hex, the same ``kid`` the JWK Set of ``gateway audit keys --json``
publishes. The payload travels beside the signature (the report's JSON body), so the signature
file stays small and the body stays the exact bytes that were hashed and logged.

Verification needs nothing but the JWK Set: the ``kid`` picks the key, and only ``OKP``/``Ed25519``
keys are accepted; the header's ``alg`` must be ``EdDSA`` and no other header member may change
how the signature is read (``b64: false``, ``crit``, an embedded ``jwk``/``jku``/``x5u`` are
refused: a key named by the token itself is never trusted). Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG = "EdDSA"
_ALLOWED_HEADER = frozenset({"alg", "kid", "typ", "cty"})


class JwsError(ValueError):
    """A detached JWS that is malformed or does not verify, and why."""


def b64url(data: bytes) -> str:
    """RFC 7515 §2 base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str, what: str) -> bytes:
    """Strict base64url: the URL-safe alphabet, no padding, canonical (re-encodes to ``text``)."""
    if not text or "=" in text or any(c in text for c in "+/ \n"):
        raise JwsError(f"{what} is not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise JwsError(f"{what} is not base64url") from None
    if b64url(data) != text:
        raise JwsError(f"{what} is not canonical base64url")
    return data


def header_bytes(kid: str, typ: str | None = None) -> bytes:
    """The protected header, compact JSON with sorted keys: the same key and ``typ`` give the same
    bytes, so that a signature over the same body is the same text (Ed25519 is deterministic)."""
    header = {"alg": ALG, "kid": kid}
    if typ is not None:
        header["typ"] = typ
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def sign_detached(key: Ed25519PrivateKey, kid: str, payload: bytes, *, typ: str | None = None) -> str:
    """``<b64url header>..<b64url signature>`` over ``payload``."""
    protected = b64url(header_bytes(kid, typ))
    signature = key.sign(f"{protected}.{b64url(payload)}".encode("ascii"))
    return f"{protected}..{b64url(signature)}"


def _header(protected: str) -> dict[str, Any]:
    raw = unb64url(protected, "the protected header")
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise JwsError("the protected header is not JSON") from None
    if not isinstance(header, dict):
        raise JwsError("the protected header is not a JSON object")
    unknown = sorted(set(header) - _ALLOWED_HEADER)
    if unknown:
        raise JwsError(f"the header has members this verifier does not accept: {', '.join(unknown)}")
    if header.get("alg") != ALG:
        raise JwsError(f"the header's alg is {header.get('alg')!r}, not {ALG!r}")
    if not isinstance(header.get("kid"), str):
        raise JwsError("the header names no kid")
    return header


def _public_key(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise JwsError(f"key {jwk.get('kid')!r} is not an OKP Ed25519 key")
    if jwk.get("alg", ALG) != ALG or jwk.get("use", "sig") != "sig":
        raise JwsError(f"key {jwk.get('kid')!r} is not for {ALG} signatures")
    raw = unb64url(str(jwk.get("x", "")), f"key {jwk.get('kid')!r}'s x")
    if len(raw) != 32:
        raise JwsError(f"key {jwk.get('kid')!r} is not 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_detached(payload: bytes, jws: str, jwks: Mapping[str, Any]) -> str:
    """Check ``jws`` over ``payload`` with the JWK Set ``jwks``; return the ``kid`` that signed.

    Raises :class:`JwsError` naming what is wrong: the form, the header, an unknown ``kid``, or a
    signature that does not verify (another key, another body).
    """
    parts = jws.strip().split(".")
    if len(parts) != 3 or parts[1] != "":
        raise JwsError("not a detached JWS (<header>..<signature>)")
    protected, _, signature_text = parts
    header = _header(protected)
    kid = header["kid"]
    keys = [k for k in jwks.get("keys", []) if isinstance(k, Mapping) and k.get("kid") == kid]
    if not keys:
        raise JwsError(f"no key with kid {kid!r} in the JWK Set")
    if len(keys) > 1:
        raise JwsError(f"two keys have kid {kid!r} in the JWK Set")
    signature = unb64url(signature_text, "the signature")
    try:
        _public_key(keys[0]).verify(signature, f"{protected}.{b64url(payload)}".encode("ascii"))
    except InvalidSignature:
        raise JwsError(
            f"the signature does not verify with key {kid!r}: another key or another body"
        ) from None
    return str(kid)
