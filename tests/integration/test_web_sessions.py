"""Sign-ins under way and sessions in PostgreSQL: used once, lapsing, bounded, only digests kept."""

from __future__ import annotations

import hashlib

import asyncpg
import pytest

from gateway.errors import ServiceUnavailable
from gateway.web.sessions import (
    MAX_PENDING_LOGINS,
    begin_login,
    close_session,
    find_session,
    open_session,
    take_login,
)


@pytest.fixture
async def clean(conn: asyncpg.Connection) -> asyncpg.Connection:
    await conn.execute("delete from web_logins")
    await conn.execute("delete from web_sessions")
    return conn


async def test_a_sign_in_is_taken_back_once(clean: asyncpg.Connection) -> None:
    started = await begin_login(clean, "/web/account")
    assert len(started.code_verifier) >= 43 and started.state != started.nonce
    stored = await clean.fetchrow("select * from web_logins")
    assert bytes(stored["state_hash"]) == hashlib.sha256(started.state.encode()).digest()  # not the state
    taken = await take_login(clean, started.state)
    assert taken == started
    assert await take_login(clean, started.state) is None


async def test_a_sign_in_lapses_after_ten_minutes(clean: asyncpg.Connection) -> None:
    started = await begin_login(clean, "/web/")
    await clean.execute("update web_logins set created_at = now() - interval '11 minutes'")
    assert await take_login(clean, started.state) is None
    assert await clean.fetchval("select count(*) from web_logins") == 0


async def test_pending_sign_ins_are_bounded_and_lapsed_ones_make_room(clean: asyncpg.Connection) -> None:
    await clean.execute(
        "insert into web_logins (state_hash, code_verifier, nonce, return_to)"
        " select sha256(i::text::bytea), 'v', 'n', '/web/' from generate_series(1, $1) i",
        MAX_PENDING_LOGINS,
    )
    with pytest.raises(ServiceUnavailable) as info:
        await begin_login(clean, "/web/")
    assert info.value.code == "sign_in_busy"
    assert await clean.fetchval("select count(*) from web_logins") == MAX_PENDING_LOGINS
    await clean.execute("update web_logins set created_at = now() - interval '11 minutes'")
    await begin_login(clean, "/web/")
    assert await clean.fetchval("select count(*) from web_logins") == 1


async def test_a_session_is_found_by_its_token_until_it_ends(clean: asyncpg.Connection) -> None:
    token, session = await open_session(clean, "https://idp", "alice", ("gateway-operator",), 5)
    assert (
        await clean.fetchval("select count(*) from web_sessions where token_hash = $1", token.encode()) == 0
    )
    found = await find_session(clean, token)
    assert found == session and found.roles == ("gateway-operator",)
    assert await find_session(clean, token + "x") is None
    await close_session(clean, session.token_hash)
    assert await find_session(clean, token) is None


async def test_an_expired_session_is_not_found(clean: asyncpg.Connection) -> None:
    token, _ = await open_session(clean, "https://idp", "bob", (), 5)
    await clean.execute("update web_sessions set created_at = now() - interval '1 day', expires_at = now()")
    assert await find_session(clean, token) is None
