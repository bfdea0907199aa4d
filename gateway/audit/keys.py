"""The audit log's signing keys: Ed25519, versioned, rotated with an overlap, published as JWKS.

Configured as ``audit_keys = "<version>:<base64 32-byte seed>,..."`` (``GATEWAY_AUDIT_KEYS``); unset,
a key is generated once in the state folder (one host only: every replica must sign with the same
keys). Every configured key signs every checkpoint: to rotate, add the new version, let both sign
for the overlap (verifiers that know either key accept the checkpoints), then remove the old one.
Each key's name in a note is the log's origin (C2SP: the log's identity is its origin, not a key).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .jws import sign_detached
from .note import NoteSigner

if TYPE_CHECKING:
    from ..settings import Settings


class AuditKeyError(ValueError):
    """Signing keys that cannot be used, and why."""


def new_key_spec(version: int = 1) -> str:
    return f"{version}:{base64.b64encode(os.urandom(32)).decode()}"


class SigningKeys:
    def __init__(self, origin: str, keys: Sequence[tuple[int, Ed25519PrivateKey]]) -> None:
        if not keys:
            raise AuditKeyError("no audit signing key")
        self.origin = origin
        self.versions = [v for v, _ in keys]
        self._public = [key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) for _, key in keys]
        self.signers = [NoteSigner(origin, key) for _, key in keys]

    @classmethod
    def parse(cls, origin: str, spec: str) -> SigningKeys:
        keys: list[tuple[int, Ed25519PrivateKey]] = []
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            version_text, sep, seed_text = part.partition(":")
            if not sep or not version_text.isdigit():
                raise AuditKeyError(f"an audit key is '<version>:<base64 seed>', got {part[:12]!r}...")
            try:
                seed = base64.b64decode(seed_text, validate=True)
            except ValueError:
                raise AuditKeyError(f"audit key version {version_text}: the seed is not base64") from None
            if len(seed) != 32:
                raise AuditKeyError(
                    f"audit key version {version_text}: the seed is {len(seed)} bytes, not 32"
                )
            keys.append((int(version_text), Ed25519PrivateKey.from_private_bytes(seed)))
        versions = [v for v, _ in keys]
        if len(set(versions)) != len(versions):
            raise AuditKeyError("two audit keys have the same version")
        return cls(origin, sorted(keys, key=lambda k: k[0]))

    @classmethod
    def from_file(cls, origin: str, path: Path) -> SigningKeys:
        """The key file in the state folder, created (mode 0600) with one key on first use."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls.parse(origin, path.read_text().strip())
        with os.fdopen(fd, "w") as f:
            f.write(new_key_spec() + "\n")
        return cls.parse(origin, path.read_text().strip())

    def vkeys(self) -> list[str]:
        """The verifier keys (C2SP vkey text) a regulator or witness pins."""
        return [s.vkey() for s in self.signers]

    @property
    def jws_kid(self) -> str:
        """The ``kid`` reports are signed with: the newest key's C2SP key id, hex (as in :meth:`jwks`)."""
        return self.signers[-1].key_id.hex()

    def sign_jws(self, payload: bytes, *, typ: str | None = None) -> str:
        """A detached JWS (RFC 7515, EdDSA) over ``payload`` with the newest key (the highest version):
        a report signed during a rotation's overlap verifies with the JWK Set of either side that
        knows the new key, and stops depending on the old key once it is removed."""
        signer = self.signers[-1]
        return sign_detached(signer.key, signer.key_id.hex(), payload, typ=typ)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public keys as a JWK Set (RFC 8037 OKP Ed25519); ``kid`` is the note key id, hex."""
        keys = []
        for signer, raw in zip(self.signers, self._public, strict=True):
            keys.append(
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode(),
                    "kid": signer.key_id.hex(),
                    "use": "sig",
                    "alg": "EdDSA",
                }
            )
        return {"keys": keys}


def signing_keys(settings: Settings) -> SigningKeys:
    """The configured keys, or the state folder's."""
    if settings.audit_keys:
        return SigningKeys.parse(settings.audit_origin, settings.audit_keys)
    return SigningKeys.from_file(settings.audit_origin, settings.state_path / "audit-signing-keys")
