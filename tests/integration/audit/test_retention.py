"""The audit log's monthly partitions and retention (sql/018, gateway.audit.retention): entries land in
the month the sequencer logged them, in log order whatever the clock does; dropping the oldest months
drops a prefix of the log and keeps what it committed to, so the rest still verifies against the signed
checkpoints, still proves inclusion, and tampering after the cut is still named."""

from __future__ import annotations

import datetime as dt
import json
import time

import asyncpg
import pytest

from gateway.audit import log, merkle, retention
from gateway.audit.checkpoints import sign_checkpoint
from gateway.audit.entry import canonical
from gateway.audit.keys import SigningKeys
from gateway.audit.note import NoteVerifier
from gateway.audit.verify import verify_log
from gateway.ledger.partitions import PartitionKeeper, ensure, partitions
from gateway.settings import SettingsError, load_settings
from tests.integration.audit.conftest import fill, item

YEAR = dt.datetime.now(dt.UTC).year + 1  # January to March of it are always ahead: the tests log into them


def at(month: int, day: int) -> dt.datetime:
    return dt.datetime(YEAR, month, day, tzinfo=dt.UTC)


async def log_in(conn: asyncpg.Connection, when: dt.datetime, count: int, start: int) -> None:
    """Append ``count`` entries as the sequencer would at ``when``: its clock only moves forward, so
    setting the head's last time ahead is how a test logs into a future month."""
    await conn.execute("update audit_head set logged_at = $1", when)
    await fill(conn, count, start=start)


def verifiers(keys: SigningKeys) -> list[NoteVerifier]:
    return [NoteVerifier.from_vkey(v) for v in keys.vkeys()]


async def where(conn: asyncpg.Connection, seq: int) -> str:
    name: str = await conn.fetchval("select tableoid::regclass::text from audit_entries where seq = $1", seq)
    return name


async def build(conn: asyncpg.Connection, keys: SigningKeys) -> dict[int, bytes]:
    """10 entries now, 11 in January, 12 in February, 5 in March (of YEAR), a checkpoint after each
    run: the roots by size."""
    await ensure(conn, months_ahead=2, now=at(3, 1))
    roots: dict[int, bytes] = {}
    await fill(conn, 10)
    for when, count, start in ((None, 0, 10), (at(1, 15), 11, 10), (at(2, 10), 12, 21), (at(3, 5), 5, 33)):
        if when is not None:
            await log_in(conn, when, count, start)
        cp = await sign_checkpoint(conn, keys, now=time.time())
        assert cp is not None
        roots[cp.size] = cp.root
    return roots


async def test_entries_land_in_the_month_they_were_logged_in_log_order(fresh, keys) -> None:
    await build(fresh, keys)
    assert await where(fresh, 9) == "audit_entries_before"
    assert await where(fresh, 10) == f"audit_entries_p{YEAR}01"
    assert await where(fresh, 32) == f"audit_entries_p{YEAR}02"
    assert await where(fresh, 37) == f"audit_entries_p{YEAR}03"
    # The clock behind the last append (it is, here: YEAR is ahead) never sends an entry back.
    times = [r[0] for r in await fresh.fetch("select logged_at from audit_entries order by seq")]
    assert times == sorted(times) and times[-1] == at(3, 5)
    # Append-only holds for each partition as for the whole.
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await fresh.execute(f"delete from audit_entries_p{YEAR}02 where seq = 25")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await fresh.execute(f"update audit_entries_p{YEAR}01 set kind = 'x' where seq = 12")


async def test_dropping_the_oldest_months_keeps_the_rest_verifiable_and_provable(fresh, keys) -> None:
    roots = await build(fresh, keys)
    pruned = await retention.prune(fresh, at(2, 1), actor="operator:test")
    assert pruned is not None and pruned.size == 21 and pruned.upto == at(2, 1)
    assert "audit_entries_before" in pruned.partitions and f"audit_entries_p{YEAR}01" in pruned.partitions
    assert await fresh.fetchval("select min(seq) from audit_entries") == 21
    names = {p.name for p in await partitions(fresh, "audit")}
    assert f"audit_entries_p{YEAR}01" not in names and f"audit_entries_p{YEAR}02" in names

    # The whole walk passes from the cut: every later entry, the chain, all four checkpoints (the one
    # before the cut by its signature).
    found = await verify_log(fresh, verifiers(keys), batch=4)
    assert found.ok, found.problem
    assert (found.pruned, found.checkpoints, found.size) == (21, 4, 39)  # 38 + the drop's own entry

    # Inclusion proofs of the entries left, the first one's sibling leaf included (21 is odd).
    for seq in (21, 22, 30, 37):
        raw = bytes(await fresh.fetchval("select entry from audit_entries where seq = $1", seq))
        merkle.verify_inclusion(
            seq, 38, merkle.leaf_hash(raw), await log.inclusion_proof(fresh, seq, 38), roots[38]
        )
    merkle.verify_consistency(21, 38, roots[21], roots[38], await log.consistency_proof(fresh, 21, 38))

    # The drop is in the log: the size and the root the signed checkpoint at that size has.
    drop = json.loads(bytes(await fresh.fetchval("select entry from audit_entries where seq = 38")))
    assert drop["kind"] == "audit.partitions_dropped" and drop["actor"] == "operator:test"
    assert drop["data"]["size"] == 21 and drop["data"]["root"] == roots[21].hex()

    # The dropped month is not made again, and a second cut goes on from the first.
    await ensure(fresh, months_ahead=2, now=at(3, 1))
    assert await fresh.fetchval("select to_regclass($1)", f"audit_entries_p{YEAR}01") is None
    again = await retention.prune(fresh, at(3, 1), actor="operator:test")
    assert again is not None and again.size == 33 and again.partitions == [f"audit_entries_p{YEAR}02"]
    assert await retention.prune(fresh, at(3, 1), actor="operator:test") is None  # nothing more
    found = await verify_log(fresh, verifiers(keys))
    assert found.ok and found.pruned == 33


async def test_tampering_after_a_cut_is_still_named(fresh, keys) -> None:
    await build(fresh, keys)
    await retention.prune(fresh, at(2, 1), actor="operator:test")
    async with fresh.transaction():
        await fresh.execute("set local session_replication_role = replica")
        await fresh.execute("delete from audit_entries where seq = 25")
    found = await verify_log(fresh, verifiers(keys))
    assert not found.ok and found.problem is not None and found.problem.seq == 25


async def test_a_forged_cut_is_caught(fresh, keys) -> None:
    await build(fresh, keys)
    # As a superuser could: a cut at 25 with a made-up edge, and the entries before it gone.
    chain = await fresh.fetchval("select chain from audit_entries where seq = 24")
    async with fresh.transaction():
        await fresh.execute("set local session_replication_role = replica")
        await fresh.execute(
            "insert into audit_cuts (size, frontier, chain, upto, partitions) values (25, $1, $2, now(), '{}')",
            [bytes([n]) * 32 for n in range(len(merkle.edge(25)))],
            chain,
        )
        await fresh.execute("delete from audit_entries where seq < 25")
    found = await verify_log(fresh, verifiers(keys))
    # By the first stored subtree the made-up edge feeds (here the pair 24-25); an edge forged to fit
    # the stored subtrees would still not hash to the next signed checkpoint's root.
    assert not found.ok and found.problem is not None and found.pruned == 25
    assert found.problem.message == "entries 24-25: the stored subtree (level 1) disagrees"


async def test_a_forged_cut_that_fits_the_stored_subtrees_breaks_the_next_checkpoint(fresh, keys) -> None:
    await build(fresh, keys)
    # At 32 the edge is one subtree, (5, 0), which no later stored subtree covers until entry 63.
    chain = await fresh.fetchval("select chain from audit_entries where seq = 31")
    async with fresh.transaction():
        await fresh.execute("set local session_replication_role = replica")
        await fresh.execute(
            "insert into audit_cuts (size, frontier, chain, upto, partitions) values (32, $1, $2, now(), '{}')",
            [b"\x07" * 32],
            chain,
        )
        await fresh.execute("delete from audit_entries where seq < 32")
    found = await verify_log(fresh, verifiers(keys))
    assert not found.ok and found.problem is not None and found.problem.checkpoint is not None
    assert "checkpoint 3: the entries before it do not hash to its root" in found.problem.message


async def test_months_that_are_not_a_prefix_of_the_log_are_not_dropped(fresh, keys) -> None:
    await build(fresh, keys)
    # An entry of February moved into January behind the sequencer's back (triggers off).
    async with fresh.transaction():
        await fresh.execute("set local session_replication_role = replica")
        await fresh.execute("update audit_entries set logged_at = $1 where seq = 25", at(1, 20))
    with pytest.raises(RuntimeError, match="not a prefix of the log"):
        await retention.prune(fresh, at(2, 1), actor="operator:test")
    assert await fresh.fetchval("select count(*) from audit_entries") == 38  # nothing dropped
    assert await fresh.fetchval("select count(*) from audit_cuts") == 0


async def test_the_keeper_drops_the_audit_months_past_their_retention(
    fresh, keys, empty_database_url
) -> None:
    await build(fresh, keys)
    pool = await asyncpg.create_pool(empty_database_url, min_size=1, max_size=2)
    try:
        wall = at(2, 15) + dt.timedelta(days=365)
        await PartitionKeeper(pool, retention_days=None, audit_retention_days=365, wall=lambda: wall).once()
    finally:
        await pool.close()
    cut = await log.latest_cut(fresh)
    assert cut is not None and cut.size == 21  # the months wholly before 365 days ago: up to February
    assert (await verify_log(fresh, verifiers(keys))).ok


def test_an_audit_retention_under_a_year_is_refused() -> None:
    with pytest.raises(SettingsError, match="audit_retention_days"):
        load_settings(None, environ={"GATEWAY_AUDIT_RETENTION_DAYS": "90"})
    assert load_settings(None, environ={"GATEWAY_AUDIT_RETENTION_DAYS": "1825"}).audit_retention_days == 1825


async def test_migrating_an_audit_log_keeps_its_entries_and_it_still_verifies(
    empty_database_url: str, keys, tmp_path
) -> None:
    import shutil

    from gateway.db.migrate import migrate, sql_dir

    before = tmp_path / "sql"
    before.mkdir()
    for f in sorted(sql_dir().glob("*.sql")):
        if int(f.name[:3]) < 18:
            shutil.copy(f, before / f.name)
    conn = await asyncpg.connect(empty_database_url)
    try:
        await migrate(conn, before)
        await append_as_before_018(conn, 9)
        await sign_checkpoint(conn, keys, now=time.time())
        oid = await conn.fetchval("select 'audit_entries'::regclass::oid")
        await migrate(conn)
        # The same table, attached whole; its entries have no logged time.
        assert await conn.fetchval("select 'audit_entries_before'::regclass::oid") == oid
        assert await conn.fetchval("select count(*) from audit_entries where logged_at = '-infinity'") == 9
        await fill(conn, 4, start=9)
        assert await where(conn, 12) == "audit_entries_before"  # this month is still the old table's
        await sign_checkpoint(conn, keys, now=time.time())
        found = await verify_log(conn, verifiers(keys))
        assert found.ok and (found.size, found.checkpoints) == (13, 2)
    finally:
        await conn.close()


async def append_as_before_018(conn: asyncpg.Connection, count: int) -> None:
    """What log.append wrote before the entries had a logged time."""
    tree, chain = merkle.CompactRange(), log.CHAIN_START
    for i in range(count):
        raw = canonical(item(i))
        leaf = merkle.leaf_hash(raw)
        chain = log.chain_hash(chain, leaf)
        await conn.execute(
            "insert into audit_entries (seq, leaf_hash, chain, entry, kind, occurred_at, subject)"
            " values ($1, $2, $3, $4, 'test.event', now(), $5)",
            i, leaf, chain, raw, f"thing:{i}",
        )  # fmt: skip
        for level, index, value in tree.append(leaf):
            if level >= 1:
                await conn.execute("insert into audit_nodes values ($1, $2, $3)", level, index, value)
    await conn.execute(
        "update audit_head set size = $1, frontier = $2, chain = $3", tree.size, tree.hashes, chain
    )
