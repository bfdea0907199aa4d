"""Envelope encryption of personal data, with versioned master keys.

Each customer has its own random data key (DEK). Personal fields are sealed with
it (AES-256-GCM, bound to the row they belong to); the DEK is stored wrapped by a
master key (KEK) from configuration, tagged with the KEK's version so keys can be
rotated. Erasure destroys the wrapped DEK: every sealed field of that customer
becomes unreadable at once (crypto-shredding), while the audit trail stays intact.

A keyed hash (blind index) of normalised values lets the gateway match things
(the same card, the same owner) across customers without decrypting them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_FORMAT = b"\x01"  # leading byte of every sealed value: the layout below, version 1
_NONCE = 12


class KeyringError(Exception):
    """The master keys are missing, malformed, or do not match what the database holds."""


class SealError(Exception):
    """A sealed value cannot be opened: wrong key, tampered, or erased."""


class Keyring:
    """Master keys by version; the highest version wraps new data keys."""

    def __init__(self, keys: dict[int, bytes]) -> None:
        if not keys:
            raise KeyringError("no master key")
        self._keys = dict(keys)
        self.current = max(keys)
        # Derived from the lowest version so that it survives rotation: blind indexes
        # and payment fingerprints must stay comparable across the years.
        self.index_key = hmac.new(keys[min(keys)], b"gateway-kyc-index-v1", hashlib.sha256).digest()

    @property
    def versions(self) -> list[int]:
        return sorted(self._keys)

    def check_value(self, version: int) -> bytes:
        """A value that identifies the key of `version` without revealing it."""
        return hmac.new(self._keys[version], b"gateway-kyc-key-check", hashlib.sha256).digest()

    def wrap_new(self, customer_id: str) -> tuple[bytes, int, bytes]:
        """A fresh data key: (plain key, master version, wrapped key)."""
        dek = secrets.token_bytes(32)
        return dek, self.current, _seal(self._keys[self.current], dek, b"dek:" + customer_id.encode())

    def unwrap(self, version: int, wrapped: bytes, customer_id: str) -> bytes:
        key = self._keys.get(version)
        if key is None:
            raise SealError(f"data key wrapped with master key version {version}, which is not configured")
        return _open(key, wrapped, b"dek:" + customer_id.encode())

    def rewrap(self, version: int, wrapped: bytes, customer_id: str) -> tuple[int, bytes]:
        """The same data key, wrapped with the current master key (rotation)."""
        dek = self.unwrap(version, wrapped, customer_id)
        return self.current, _seal(self._keys[self.current], dek, b"dek:" + customer_id.encode())

    def blind_index(self, purpose: str, value: str) -> bytes:
        return hmac.new(self.index_key, f"{purpose}:{value}".encode(), hashlib.sha256).digest()


def seal(dek: bytes, plaintext: bytes, context: str) -> bytes:
    """Encrypt `plaintext` for the row named by `context` (e.g. ``"owner:<id>"``)."""
    return _seal(dek, plaintext, context.encode())


def open_sealed(dek: bytes, sealed: bytes, context: str) -> bytes:
    return _open(dek, sealed, context.encode())


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return _FORMAT + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) < 1 + _NONCE + 16 or sealed[:1] != _FORMAT:
        raise SealError("not a sealed value")
    try:
        return AESGCM(key).decrypt(sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :], aad)
    except InvalidTag:
        raise SealError("sealed value does not open with this key (wrong key or tampered)") from None


def parse_keyring(spec: str) -> Keyring:
    """``"1:<base64>,2:<base64>"``: each key 32 random bytes, standard or URL-safe base64."""
    keys: dict[int, bytes] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        version_text, sep, encoded = part.partition(":")
        if not sep or not version_text.isdigit() or int(version_text) < 1:
            raise KeyringError("each key must be written <version>:<base64>, version a positive integer")
        version = int(version_text)
        if version in keys:
            raise KeyringError(f"key version {version} is given twice")
        try:
            standard = encoded.strip().replace("-", "+").replace("_", "/").rstrip("=")
            key = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise KeyringError(f"key version {version} is not base64") from None
        if len(key) != 32:
            raise KeyringError(f"key version {version} must be 32 bytes, got {len(key)}")
        keys[version] = key
    if not keys:
        raise KeyringError("no key given")
    return Keyring(keys)


def new_key_spec(version: int = 1) -> str:
    return f"{version}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}"


def keyring_from_file(path: Path) -> Keyring:
    """The key file in the state directory, created (mode 0600) on first use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return parse_keyring(path.read_text().strip())
    with os.fdopen(fd, "w") as f:
        f.write(new_key_spec() + "\n")
    return parse_keyring(path.read_text().strip())
