"""Sign-ins under way and open sessions, in PostgreSQL (``sql/016_web.sql`` says why there).

Only digests of the secrets a browser holds (the ``state`` it carries to the provider and back, the
session cookie's token) are stored, so a copy of the tables opens nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import asyncpg
import msgspec

from ..errors import ServiceUnavailable

__all__ = ["Login", "Session", "begin_login", "close_session", "find_session", "open_session", "take_login"]

LOGIN_MINUTES = 10
"""How long a person has to sign in at the provider before the attempt is void."""
MAX_PENDING_LOGINS = 10_000
"""Starting a sign-in needs no credential, so each start's row is bounded: past this many within
LOGIN_MINUTES (a flood, not people), new starts are refused until the old ones lapse."""


class Login(msgspec.Struct, frozen=True):
    state: str
    code_verifier: str
    nonce: str
    return_to: str


class Session(msgspec.Struct, frozen=True):
    token_hash: bytes
    issuer: str
    subject: str
    roles: tuple[str, ...]
    csrf: str
    expires_at: dt.datetime

    @property
    def id(self) -> str:
        """A handle for logs and audit entries that reveals nothing of the token."""
        return self.token_hash[:6].hex()


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def begin_login(conn: asyncpg.Connection, return_to: str) -> Login:
    """A new sign-in: random state, PKCE verifier (RFC 7636: 43 to 128 characters) and nonce."""
    login = Login(secrets.token_urlsafe(32), secrets.token_urlsafe(64), secrets.token_urlsafe(32), return_to)
    async with conn.transaction():
        await conn.execute(
            "delete from web_logins where created_at < now() - make_interval(mins => $1)", LOGIN_MINUTES
        )
        inserted = await conn.execute(
            "insert into web_logins (state_hash, code_verifier, nonce, return_to)"
            " select $1, $2, $3, $4 where (select count(*) from web_logins) < $5",
            _digest(login.state),
            login.code_verifier,
            login.nonce,
            login.return_to,
            MAX_PENDING_LOGINS,
        )
    if inserted != "INSERT 0 1":
        raise ServiceUnavailable(
            "too many sign-ins are under way; try again in a few minutes", code="sign_in_busy"
        )
    return login


async def take_login(conn: asyncpg.Connection, state: str) -> Login | None:
    """The sign-in this ``state`` started, used up: a second return with it finds nothing."""
    row = await conn.fetchrow(
        """
        delete from web_logins where state_hash = $1
        returning code_verifier, nonce, return_to, created_at > now() - make_interval(mins => $2) as fresh
        """,
        _digest(state),
        LOGIN_MINUTES,
    )
    if row is None or not row["fresh"]:
        return None
    return Login(state, row["code_verifier"], row["nonce"], row["return_to"])


async def open_session(
    conn: asyncpg.Connection, issuer: str, subject: str, roles: tuple[str, ...], minutes: int
) -> tuple[str, Session]:
    """A new session and the token for its cookie (shown to the browser only)."""
    token = secrets.token_urlsafe(32)
    async with conn.transaction():
        await conn.execute("delete from web_sessions where expires_at < now()")
        row = await conn.fetchrow(
            """
            insert into web_sessions (token_hash, issuer, subject, roles, csrf, expires_at)
            values ($1, $2, $3, $4, $5, now() + make_interval(mins => $6))
            returning token_hash, issuer, subject, roles, csrf, expires_at
            """,
            _digest(token),
            issuer,
            subject,
            list(roles),
            secrets.token_urlsafe(32),
            minutes,
        )
    return token, _session(row)


async def find_session(conn: asyncpg.Connection, token: str) -> Session | None:
    row = await conn.fetchrow(
        "select token_hash, issuer, subject, roles, csrf, expires_at from web_sessions"
        " where token_hash = $1 and expires_at > now()",
        _digest(token),
    )
    return None if row is None else _session(row)


async def close_session(conn: asyncpg.Connection, token_hash: bytes) -> None:
    await conn.execute("delete from web_sessions where token_hash = $1", token_hash)


def _session(row: asyncpg.Record) -> Session:
    return Session(
        bytes(row["token_hash"]),
        row["issuer"],
        row["subject"],
        tuple(row["roles"]),
        row["csrf"],
        row["expires_at"],
    )
