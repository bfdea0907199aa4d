"""The ledger on a full disk (a real one: a small tmpfs, filled): the journal keeps whole lines and
knows which events it missed; with the database up the writer serves on; with the database down too
it stops accepting calls, and accepts again once the spool or the database takes what it holds."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import msgspec
import pytest

from gateway.ledger.journal import PREFIX, Journal
from gateway.ledger.writer import LedgerWriter
from tests.integration.test_ledger_writer import count, event
from tests.small_disk import SmallDisk, unavailable
from tests.tcp_proxy import TcpProxy

DEAD = "postgresql://postgres@127.0.0.1:1/none"


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)
    small = SmallDisk(tmp_path / "spool", size="64k").mount()
    try:
        yield small
    finally:
        small.unmount()


def journal_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"{PREFIX}-*.jsonl"))


async def until(condition: Callable[[], bool], what: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.01)


def test_the_journal_keeps_whole_lines_and_knows_what_it_missed(disk: SmallDisk) -> None:
    journal = Journal(disk.folder)
    journal.open()
    line = b'{"n": %5d, "pad": "' + b"x" * 90 + b'"}\n'
    results = [journal.append(line % 0)]
    disk.fill()
    # The segment's last page may still have room: lines go in until it is used up, one of them
    # perhaps cut short at its edge; then every write fails.
    results += [journal.append(line % i) for i in range(1, 200)]
    disk.free()
    results += [journal.append(line % i) for i in range(200, 210)]
    assert results[0] and not all(results) and all(results[-10:])
    missed = [i for i, ok in enumerate(results) if not ok]
    assert [n for n, _ in journal.missed] == [i + 1 for i in missed]  # numbered from 1
    assert journal.error is None and journal.failures == len(missed)
    (segment,) = journal_files(disk.folder)
    whole = []
    for text in segment.read_bytes().splitlines():
        # The part of a line a short write left stands on a line of its own, and is not JSON.
        with contextlib.suppress(msgspec.DecodeError):
            whole.append(msgspec.json.decode(text)["n"])
    assert whole == [i for i, ok in enumerate(results) if ok]
    assert journal.pending == len(whole)
    journal.consumed(len(results))
    assert not journal.missed and journal.exposed_since is None and journal.pending == 0
    journal.close()
    assert journal_files(disk.folder) == []


def test_a_segment_is_kept_until_its_own_events_are_in_whatever_was_missed_before(disk: SmallDisk) -> None:
    journal = Journal(disk.folder)
    journal.open()
    for i in range(10):
        assert journal.append(b"%d\n" % i)
    journal.rotate()  # a new, empty segment: with the disk full, not a byte goes into it
    first, second = journal_files(disk.folder)
    disk.fill()
    assert not any(journal.append(b"missed\n") for _ in range(10))
    assert journal.error is not None
    disk.free()
    assert all(journal.append(b"%d\n" % i) for i in range(20, 30))
    journal.consumed(20)  # the first ten and the ten missed are in the database
    assert not first.exists() and not journal.missed
    assert second.read_bytes().splitlines()[0] == b"20"  # its ten are not in yet: kept
    journal.close()
    assert second.exists()
    assert journal.pending == 10


async def test_with_the_database_up_a_full_disk_costs_no_event_and_no_call(
    database_url: str, conn: asyncpg.Connection, disk: SmallDisk
) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    writer = LedgerWriter(pool, disk.folder, batch_size=100, flush_interval=0.01, journal=True)
    try:
        await writer.start()
        disk.fill()
        customer = uuid.uuid4()
        for i in range(300):  # more than the segment's last page holds
            writer.record(event(customer, i))
            assert writer.accepting  # the database takes them within a flush or two
        assert writer.health()["journal"] != "ok"
        await until(lambda: writer.unjournaled == 0, "the database never took the events the journal missed")
        assert writer.accepting and writer.health()["database"] == "ok"
        await until(lambda: writer.depth == 0, "not everything was written")
        assert await count(conn, customer) == 300
    finally:
        await writer.stop()
        await pool.close()


async def test_with_the_database_down_a_full_disk_refuses_calls_until_the_spool_takes_the_events(
    database_url: str, conn: asyncpg.Connection, disk: SmallDisk
) -> None:
    parts = urlsplit(database_url)
    proxy = await TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
    through = database_url.replace(f":{parts.port}/", f":{proxy.port}/")
    pool = await asyncpg.create_pool(through, min_size=0, max_size=2)
    writer = LedgerWriter(pool, disk.folder, batch_size=100, flush_interval=0.01, journal=True)
    customer = uuid.uuid4()
    try:
        await writer.start()
        await proxy.cut()
        disk.fill()
        writer.record(first := event(customer, 0))
        assert writer.unjournaled == 1  # a fresh segment has no page to spare
        await until(lambda: not writer.accepting, "a call was still accepted with nowhere to keep its event")
        refusal = writer.refusal()
        assert (refusal.status, refusal.code) == (503, "ledger_unavailable")
        health = writer.health()
        assert health["database"] == "failing" and health["in_memory_only"] == 1
        assert str(health["journal"]).startswith("failing") and str(health["spool"]).startswith("failing")
        assert list(disk.folder.glob("usage-*.jsonl")) == []  # a spool file cut short is not left behind
        writer.record(refused := event(customer, 1))  # the refusal's own event
        disk.free()
        # The writer tries the spool every round: as soon as it takes them, calls are accepted again,
        # the database still down.
        await until(lambda: writer.accepting, "space came back, yet calls were still refused")
        assert writer.unjournaled == 0 and writer.health()["spool"] == "ok"
        (spooled,) = disk.folder.glob("usage-*.jsonl")
        ids = [msgspec.json.decode(line)["request_id"] for line in spooled.read_bytes().splitlines()]
        assert ids == [str(first.request_id), str(refused.request_id)]
        assert await count(conn, customer) == 0
        # The database back: the next flush that works brings in what this process spooled.
        await proxy.restore()
        writer.record(event(customer, 2))
        await until(
            lambda: not spooled.exists(), "the spool file was not replayed once the database was back"
        )
        await until(lambda: writer.depth == 0, "the last event was not written")
        assert await count(conn, customer) == 3
    finally:
        await writer.stop()
        await pool.close()
        await proxy.cut()
    assert list(disk.folder.glob("*.jsonl")) == []


async def test_without_the_journal_a_spool_the_disk_refuses_stops_calls_while_the_database_is_down(
    disk: SmallDisk,
) -> None:
    dead = await asyncpg.create_pool(DEAD, min_size=0, max_size=1)
    writer = LedgerWriter(dead, disk.folder, batch_size=1, flush_interval=0.01, max_buffer=1)
    try:
        await writer.start()
        disk.fill()
        customer = uuid.uuid4()
        writer.record(event(customer, 0))
        assert writer.accepting  # held in memory by design (no journal): not yet over the bound
        writer.record(event(customer, 1))
        await until(lambda: not writer.accepting, "past the bound, with no spool, calls were still accepted")
        assert str(writer.health()["spool"]).startswith("failing") and writer.health()["journal"] == "off"
        disk.free()
        await until(lambda: writer.accepting, "the spool took the events, yet calls were still refused")
        assert writer.spooled == 2
    finally:
        await writer.stop()
        await dead.close()
