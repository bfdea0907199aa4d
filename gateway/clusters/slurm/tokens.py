"""Short-lived Slurm JWTs, minted per cluster user with the key slurmctld verifies them with.

Slurm's ``auth/jwt`` accepts an HS256 token whose ``sun`` claim names the user, signed with the
cluster's ``jwt_key`` (what ``scontrol token username=...`` does). Minting them here lets every
customer's job run as the customer's own user without the gateway holding one long-lived token
per user. Tokens are cached per user and renewed at half their lifespan.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import jwt

LIFESPAN_SECONDS = 600


class SlurmTokens:
    def __init__(
        self, key: bytes, *, lifespan: int = LIFESPAN_SECONDS, clock: Callable[[], float] = time.time
    ) -> None:
        if len(key) < 16:
            raise ValueError("a Slurm JWT key must be at least 16 bytes")
        self._key = key
        self._lifespan = lifespan
        self._clock = clock
        self._cache: dict[str, tuple[str, float]] = {}

    @classmethod
    def from_file(cls, path: str) -> SlurmTokens:
        """The key file slurmctld reads (``AuthAltParameters=jwt_key=<path>``); it must not be
        readable by others, as slurmctld itself demands."""
        file = Path(path)
        try:
            mode = file.stat().st_mode
            key = file.read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read the Slurm JWT key {path}: {exc.strerror}") from None
        if mode & 0o077:
            raise ValueError(
                f"the Slurm JWT key {path} is readable by others (mode {mode & 0o777:o}); chmod 600"
            )
        return cls(key)

    def token(self, user: str) -> str:
        now = self._clock()
        cached = self._cache.get(user)
        if cached is not None and cached[1] > now:
            return cached[0]
        issued = int(now)
        token = jwt.encode(
            {"sun": user, "iat": issued, "exp": issued + self._lifespan}, self._key, algorithm="HS256"
        )
        self._cache[user] = (token, now + self._lifespan / 2)
        return token
