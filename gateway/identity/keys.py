"""API key format: ``gk_<id>_<secret>``.

``id`` (16 hex digits) is public and indexes the key; ``secret`` (48 hex digits,
192 bits) is shown once. Only SHA-256 of the whole key is stored: with this much
entropy a slow password hash adds cost per request and no security.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import NamedTuple

PREFIX = "gk_"
ID_HEX = 16
SECRET_HEX = 48
_HEX = frozenset("0123456789abcdef")


class KeyMaterial(NamedTuple):
    id: str
    key: str
    """The full secret key, to show once to its owner."""
    hash: bytes


class ParsedKey(NamedTuple):
    id: str
    hash: bytes


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def generate_key() -> KeyMaterial:
    key_id = secrets.token_hex(ID_HEX // 2)
    key = f"{PREFIX}{key_id}_{secrets.token_hex(SECRET_HEX // 2)}"
    return KeyMaterial(key_id, key, hash_key(key))


def parse_key(presented: str) -> ParsedKey | None:
    """The key's id and hash, or None when it is not of our form (no lookup needed to refuse it)."""
    if len(presented) != len(PREFIX) + ID_HEX + 1 + SECRET_HEX or not presented.startswith(PREFIX):
        return None
    key_id = presented[3 : 3 + ID_HEX]
    if presented[3 + ID_HEX] != "_" or not _HEX.issuperset(key_id) or not _HEX.issuperset(presented[20:]):
        return None
    return ParsedKey(key_id, hash_key(presented))
