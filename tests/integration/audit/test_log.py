"""The audit log in PostgreSQL: one gap-free order, proofs from the stored tree, signed checkpoints,
append-only rows, and a verifier that names the first entry that was tampered with."""

from __future__ import annotations

import base64
import subprocess
import sys
import textwrap
import time

import asyncpg
import pytest

from gateway.audit import log, merkle
from gateway.audit.checkpoints import CheckpointError, sign_checkpoint
from gateway.audit.entry import canonical
from gateway.audit.keys import SigningKeys, new_key_spec
from gateway.audit.note import Checkpoint, NoteVerifier, open_note
from gateway.audit.verify import ExportError, export, verify_export, verify_log
from tests.integration.audit.conftest import ORIGIN, fill, item


async def test_entries_are_numbered_in_one_order_and_proven_against_signed_checkpoints(fresh, keys) -> None:
    await fill(fresh, 16)
    first = await sign_checkpoint(fresh, keys, now=time.time())
    await fill(fresh, 21, start=16)
    second = await sign_checkpoint(fresh, keys, now=time.time())
    assert first is not None and second is not None and (first.size, second.size) == (16, 37)
    assert await sign_checkpoint(fresh, keys, now=time.time()) is None  # nothing new to sign

    text, signed_by = open_note(second.note, [NoteVerifier.from_vkey(v) for v in keys.vkeys()])
    assert signed_by == [ORIGIN] and Checkpoint.parse(text) == Checkpoint(ORIGIN, 37, second.root)
    leaves = [merkle.leaf_hash(canonical(item(i))) for i in range(37)]
    assert second.root == merkle.root(leaves)  # the stored tree is the RFC 6962 tree of the entries
    for index in range(37):
        proof = await log.inclusion_proof(fresh, index, 37)
        merkle.verify_inclusion(index, 37, leaves[index], proof, second.root)
    # From a size that is a power of two (RFC 9162's special case), and from every other size too.
    for old in range(1, 38):
        proof = await log.consistency_proof(fresh, old, 37)
        merkle.verify_consistency(old, 37, merkle.root(leaves[:old]), second.root, proof)
    assert (await verify_log(fresh, [NoteVerifier.from_vkey(v) for v in keys.vkeys()])).ok


async def test_the_gateways_role_cannot_change_or_remove_an_entry(fresh) -> None:
    await fill(fresh, 3)
    for statement in (
        "update audit_entries set kind = 'nothing' where seq = 1",
        "delete from audit_entries where seq = 2",
        "truncate audit_entries cascade",
        "update audit_nodes set hash = hash",
        "delete from audit_checkpoints",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await fresh.execute(statement)
    assert await fresh.fetchval("select count(*) from audit_entries") == 3


async def _tampered(conn: asyncpg.Connection, keys: SigningKeys, statements: list[str]) -> int | None:
    await fill(conn, 20)
    await sign_checkpoint(conn, keys, now=time.time())
    await fill(conn, 12, start=20)
    await sign_checkpoint(conn, keys, now=time.time())
    assert (await verify_log(conn, [NoteVerifier.from_vkey(v) for v in keys.vkeys()])).ok
    # As a superuser could: triggers off.
    async with conn.transaction():
        await conn.execute("set local session_replication_role = replica")
        for statement in statements:
            await conn.execute(statement)
    found = await verify_log(conn, [NoteVerifier.from_vkey(v) for v in keys.vkeys()], batch=5)
    assert not found.ok and found.problem is not None
    return found.problem.seq


async def test_an_edited_entry_is_named(fresh, keys) -> None:
    edited = "convert_to(replace(convert_from(entry, 'UTF8'), '\"n\":13', '\"n\":99'), 'UTF8')"
    assert await _tampered(fresh, keys, [f"update audit_entries set entry = {edited} where seq = 13"]) == 13


async def test_an_entry_edited_with_its_leaf_hash_is_named(fresh, keys) -> None:
    forged = item(25, kind="test.forged")
    leaf = merkle.leaf_hash(canonical(forged))
    raw, hashed = canonical(forged).hex(), leaf.hex()
    statement = f"update audit_entries set entry = '\\x{raw}', leaf_hash = '\\x{hashed}' where seq = 25"
    assert await _tampered(fresh, keys, [statement]) == 25  # the chain breaks there


async def test_a_deleted_entry_is_named(fresh, keys) -> None:
    assert await _tampered(fresh, keys, ["delete from audit_entries where seq = 7"]) == 7


async def test_reordered_entries_are_named(fresh, keys) -> None:
    swap = """
        update audit_entries a set entry = b.entry, leaf_hash = b.leaf_hash, chain = b.chain
        from audit_entries b where (a.seq, b.seq) in ((4, 9), (9, 4))
    """
    assert await _tampered(fresh, keys, [swap]) == 4


async def test_an_inserted_entry_is_named(fresh, keys) -> None:
    raw = canonical(item(99)).hex()
    leaf = merkle.leaf_hash(canonical(item(99))).hex()
    insert = (
        "insert into audit_entries (seq, leaf_hash, chain, entry, kind, occurred_at, logged_at)"
        f" values (32, '\\x{leaf}', '\\x{'00' * 32}', '\\x{raw}', 'test.event', now(), now())"
    )
    assert await _tampered(fresh, keys, [insert]) == 32  # past the head: the sequencer never wrote it


async def test_a_checkpoint_signed_by_another_key_fails(fresh, keys) -> None:
    await fill(fresh, 5)
    impostor = SigningKeys.parse(ORIGIN, new_key_spec(1))
    assert await sign_checkpoint(fresh, impostor, now=time.time()) is not None
    found = await verify_log(fresh, [NoteVerifier.from_vkey(v) for v in keys.vkeys()])
    assert found.problem is not None and found.problem.checkpoint is not None
    assert "signature" in found.problem.message


async def test_rotated_keys_both_sign_during_the_overlap(fresh, keys) -> None:
    await fill(fresh, 4)
    new = SigningKeys.parse(ORIGIN, new_key_spec(2))
    spec = f"1:{base64.b64encode(b'1' * 32).decode()},2:{base64.b64encode(b'2' * 32).decode()}"
    both = SigningKeys.parse(ORIGIN, spec)
    signed = await sign_checkpoint(fresh, both, now=time.time())
    assert signed is not None and len(both.vkeys()) == 2
    for vkey in both.vkeys():  # a verifier that knows either key accepts it
        assert open_note(signed.note, [NoteVerifier.from_vkey(vkey)])[0].startswith(ORIGIN + "\n")
    with pytest.raises(ValueError):
        open_note(signed.note, [NoteVerifier.from_vkey(v) for v in new.vkeys()])  # a key it does not carry
    assert len(both.jwks()["keys"]) == 2 and {k["crv"] for k in both.jwks()["keys"]} == {"Ed25519"}


async def test_a_checkpoint_is_never_signed_over_a_rewritten_log(fresh, keys) -> None:
    await fill(fresh, 10)
    assert await sign_checkpoint(fresh, keys, now=time.time()) is not None
    await fill(fresh, 3, start=10)
    async with fresh.transaction():
        await fresh.execute("set local session_replication_role = replica")
        await fresh.execute(
            "update audit_nodes set hash = '\\x" + "11" * 32 + "' where level = 3 and index = 0"
        )
    with pytest.raises(CheckpointError):
        await sign_checkpoint(fresh, keys, now=time.time())


async def test_an_export_is_verified_with_the_public_key_alone(fresh, keys, tmp_path) -> None:
    import datetime as dt

    await fill(fresh, 30)
    await sign_checkpoint(fresh, keys, now=time.time())
    await fill(fresh, 2, start=30)  # not checkpointed yet: left out, and counted
    since = dt.datetime(2026, 12, 1, 0, 0, 10, tzinfo=dt.UTC)
    document = await export(fresh, since, since + dt.timedelta(seconds=15))
    assert [e["index"] for e in document["entries"]] == list(range(10, 25))
    checkpoint, count = verify_export(document, keys.vkeys())
    assert (checkpoint.size, count) == (30, 15)

    path = tmp_path / "export.json"
    import msgspec

    path.write_bytes(msgspec.json.encode(document))
    # A third party: a process with no database and no configuration, only the file and the key.
    script = textwrap.dedent(
        f"""
        import sys, msgspec
        from gateway.audit.verify import verify_export
        print(verify_export(msgspec.json.decode(open({str(path)!r}, 'rb').read()), [{keys.vkeys()[0]!r}])[1])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0 and done.stdout.strip() == "15", done.stderr

    document["entries"][3]["entry"]["data"]["n"] = 99  # the readable form no longer matches
    with pytest.raises(ExportError, match="entry 13"):
        verify_export(document, keys.vkeys())
    document = await export(fresh, since, since + dt.timedelta(seconds=15))
    document["entries"][0]["proof"][0] = base64.b64encode(b"\x00" * 32).decode()
    with pytest.raises(ExportError, match="entry 10 is not in the signed log"):
        verify_export(document, keys.vkeys())
    with pytest.raises(ExportError, match="checkpoint does not verify"):
        verify_export(document, SigningKeys.parse(ORIGIN, new_key_spec(1)).vkeys())


def test_four_processes_appending_at_once_make_one_unbroken_log(empty_database_url: str, keys) -> None:
    import asyncio

    async def prepare() -> None:
        conn = await asyncpg.connect(empty_database_url)
        from gateway.db.migrate import migrate

        await migrate(conn)
        await conn.close()

    asyncio.run(prepare())
    script = textwrap.dedent(
        f"""
        import asyncio, asyncpg, datetime as dt, sys
        from gateway.audit import log
        from gateway.audit.entry import entry

        async def main(worker):
            pool = await asyncpg.create_pool({empty_database_url!r}, min_size=2, max_size=2)
            async def one(i):
                async with pool.acquire() as conn:
                    at = dt.datetime.now(dt.UTC)
                    await log.append(conn, [entry("test.concurrent", actor=f"w{{worker}}", at=at, data={{"i": i}})])
            await asyncio.gather(*(one(i) for i in range(150)))
            await pool.close()

        asyncio.run(main(int(sys.argv[1])))
        """
    )
    workers = [subprocess.Popen([sys.executable, "-c", script, str(w)]) for w in range(4)]
    assert [w.wait(timeout=120) for w in workers] == [0, 0, 0, 0]

    async def check() -> None:
        conn = await asyncpg.connect(empty_database_url)
        try:
            seqs = [r[0] for r in await conn.fetch("select seq from audit_entries order by seq")]
            assert seqs == list(range(600))  # no gap, no fork
            assert await sign_checkpoint(conn, keys, now=time.time()) is not None
            assert (await verify_log(conn, [NoteVerifier.from_vkey(v) for v in keys.vkeys()])).ok
        finally:
            await conn.close()

    asyncio.run(check())


async def test_a_witness_cosignature_is_attached_and_travels_with_the_export(fresh, keys) -> None:
    import datetime as dt

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from gateway.audit.note import cosign, cosignature_vkey, split_note, verify_cosignature

    await fill(fresh, 9)
    signed = await sign_checkpoint(fresh, keys, now=time.time())
    assert signed is not None
    witness = Ed25519PrivateKey.generate()
    body = Checkpoint(ORIGIN, signed.size, signed.root)
    line = cosign(body, "witness.example", witness, 1_765_000_000)
    assert await log.add_cosignature(fresh, signed.id, "witness.example", line)
    assert not await log.add_cosignature(fresh, signed.id, "witness.example", line)  # once per witness

    document = await export(
        fresh, dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    )
    assert verify_export(document, keys.vkeys())[1] == 9  # the log's key verifies; the witness's is ignored
    _, lines = split_note(document["checkpoint"])
    vkey = cosignature_vkey("witness.example", witness)
    assert [verify_cosignature(body, lin, vkey) for lin in lines if "witness.example" in lin] == [
        1_765_000_000
    ]


async def test_appends_during_a_verification_are_not_taken_for_tampering(
    fresh, keys, empty_database_url
) -> None:
    """The walk reads the head and every entry in one snapshot: entries another replica appends
    meanwhile are simply not yet part of what is checked."""
    import asyncio
    import threading

    await fill(fresh, 12)
    await sign_checkpoint(fresh, keys, now=time.time())

    async def append_elsewhere() -> None:
        other = await asyncpg.connect(empty_database_url)
        try:
            await fill(other, 5, start=12)
        finally:
            await other.close()

    def progress(done: int, total: int) -> None:
        if done == 4:  # after the first batch: another process appends and commits, then the walk goes on
            t = threading.Thread(target=asyncio.run, args=(append_elsewhere(),))
            t.start()
            t.join()

    found = await verify_log(
        fresh, [NoteVerifier.from_vkey(v) for v in keys.vkeys()], batch=4, progress=progress
    )
    assert found.ok, found.problem
    assert found.size == 12 and await fresh.fetchval("select size from audit_head") == 17
