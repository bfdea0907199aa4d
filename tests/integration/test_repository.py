import pytest

from gateway.errors import BadRequest, Conflict, NotFoundInStore
from gateway.identity.keys import hash_key
from gateway.identity.repository import create_customer, create_key, find_customer, list_keys, revoke_key


async def test_customer_found_by_id_or_name(conn) -> None:
    c = await create_customer(conn, "Acme Compute")
    assert (await find_customer(conn, "Acme Compute")).id == c.id
    assert (await find_customer(conn, str(c.id))).name == "Acme Compute"
    with pytest.raises(NotFoundInStore):
        await find_customer(conn, "nobody")
    with pytest.raises(Conflict):
        await create_customer(conn, "Acme Compute")
    with pytest.raises(BadRequest):
        await create_customer(conn, "  ")


async def test_only_the_hash_of_a_key_is_stored(conn) -> None:
    await create_customer(conn, "hash-co")
    created = await create_key(conn, "hash-co", "proj")
    row = await conn.fetchrow("select * from api_keys where id = $1", created.id)
    assert bytes(row["secret_hash"]) == hash_key(created.key)
    stored = " ".join(str(v) for v in row.values())
    assert created.key not in stored and created.key.split("_")[2] not in stored


async def test_revocation_is_scoped_to_the_customer(conn) -> None:
    await create_customer(conn, "owner-co")
    await create_customer(conn, "other-co")
    created = await create_key(conn, "owner-co", "proj")
    with pytest.raises(NotFoundInStore):
        await revoke_key(conn, created.id, customer="other-co")
    assert (await list_keys(conn, "owner-co"))[0].revoked_at is None
    revoked = await revoke_key(conn, created.id, customer="owner-co")
    assert revoked.revoked_at is not None
    assert await list_keys(conn, "other-co") == []
