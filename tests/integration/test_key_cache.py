"""Keys in memory, kept current across replicas by LISTEN/NOTIFY."""

import asyncpg
import pytest

from gateway.errors import ServiceUnavailable, Unauthorized
from gateway.identity import KeyCache
from gateway.identity.cache import IdentityUnavailable
from gateway.identity.repository import create_customer, create_key, revoke_key
from tests.conftest import eventually


@pytest.fixture
async def caches(database_url: str):
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=3)
    made = [KeyCache(lambda: asyncpg.connect(database_url), pool, ping_seconds=0.2) for _ in range(2)]
    for c in made:
        await c.start()
    yield made
    for c in made:
        await c.stop()
    await pool.close()


def _accepts(cache: KeyCache, key: str) -> bool:
    try:
        cache.authenticate(key)
    except Unauthorized:
        return False
    return True


async def test_new_and_revoked_keys_reach_every_replica_within_a_second(caches, conn) -> None:
    await create_customer(conn, "cache-co")
    created = await create_key(conn, "cache-co", "p1")

    async def all_accept() -> bool:
        return all(_accepts(c, created.key) for c in caches)

    await eventually(all_accept, timeout=1.0)
    principal = caches[0].authenticate(created.key)
    assert principal.key_id == created.id

    await revoke_key(conn, created.id)

    async def all_refuse() -> bool:
        return not any(_accepts(c, created.key) for c in caches)

    await eventually(all_refuse, timeout=1.0)
    with pytest.raises(Unauthorized) as info:
        caches[1].authenticate(created.key)
    assert info.value.code == "revoked_api_key"


async def test_wrong_secret_for_a_known_id_is_refused(caches, conn) -> None:
    await create_customer(conn, "cache-co-2")
    created = await create_key(conn, "cache-co-2", "p")
    forged = created.key[:-4] + ("0000" if not created.key.endswith("0000") else "1111")

    async def known() -> bool:
        return _accepts(caches[0], created.key)

    await eventually(known, timeout=1.0)
    with pytest.raises(Unauthorized) as info:
        caches[0].authenticate(forged)
    assert info.value.code == "invalid_api_key"


async def test_missing_and_malformed_keys(caches) -> None:
    for presented, code in [
        (None, "missing_api_key"),
        ("", "missing_api_key"),
        ("sk-123", "invalid_api_key"),
    ]:
        with pytest.raises(Unauthorized) as info:
            caches[0].authenticate(presented)
        assert info.value.code == code


async def test_stale_cache_fails_closed(database_url: str) -> None:
    now = [0.0]
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    cache = KeyCache(
        lambda: asyncpg.connect(database_url),
        pool,
        max_staleness_seconds=5,
        clock=lambda: now[0],
        ping_seconds=3600,
    )
    await cache.start()
    try:
        async with pool.acquire() as c:
            await create_customer(c, "stale-co")
            created = await create_key(c, "stale-co", "p")
        await cache._reload_all()  # as the supervisor would
        assert cache.authenticate(created.key).key_id == created.id
        now[0] = 6.0  # the change feed has been silent longer than allowed
        with pytest.raises(ServiceUnavailable) as info:
            cache.authenticate(created.key)
        assert info.value.code == "identity_unavailable"
        # The key matches the one last known: the refusal can be recorded under its customer.
        assert isinstance(info.value, IdentityUnavailable)
        assert info.value.principal == cache._entries[created.id].principal
        forged = created.key[: -len("0123")] + ("0000" if not created.key.endswith("0000") else "1111")
        with pytest.raises(IdentityUnavailable) as info:
            cache.authenticate(forged)
        assert info.value.principal is None  # anyone can name a key id: only a match is attributed
    finally:
        await cache.stop()
        await pool.close()
