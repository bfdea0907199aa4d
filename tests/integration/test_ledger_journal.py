"""The usage events' journal: on disk from the moment an event is recorded, a file gone once all its
events are in the database, and a killed process's files replayed at the next start."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import msgspec

from gateway.ledger.journal import PREFIX, Journal, leftovers
from gateway.ledger.writer import LedgerWriter
from tests.integration.test_ledger_writer import count, event


def files(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"{PREFIX}-*.jsonl"))


def test_a_segment_goes_once_all_its_events_are_consumed(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.open()
    for i in range(3):
        journal.append(f"{i}\n".encode())
    (first,) = files(tmp_path)
    assert first.read_bytes() == b"0\n1\n2\n"
    journal.rotate()
    journal.append(b"3\n")
    assert len(files(tmp_path)) == 2 and journal.pending == 4
    journal.consumed(2)
    assert first.exists()  # one of its events is not in yet
    journal.consumed(1)
    assert not first.exists() and journal.pending == 1
    journal.rotate()
    journal.rotate()  # an empty segment is not rotated away
    journal.consumed(1)
    journal.close()
    assert files(tmp_path) == []


def test_closing_keeps_a_segment_whose_events_are_not_all_in(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.open()
    journal.append(b"x\n")
    journal.close()
    (kept,) = files(tmp_path)
    assert kept.read_bytes() == b"x\n" and oct(kept.stat().st_mode & 0o777) == "0o600"


def test_only_the_files_of_dead_processes_are_leftovers(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    gone = tmp_path / f"{PREFIX}-1-{int(dead.stdout)}.jsonl"
    sibling = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    # A process that ended and nobody reaped yet (a zombie, as a killed worker is in a container
    # without an init): it answers kill(0), yet writes nothing more.
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    stat = Path(f"/proc/{zombie.pid}/stat")
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
        time.sleep(0.01)
    try:
        alive = tmp_path / f"{PREFIX}-2-{sibling.pid}.jsonl"
        mine = tmp_path / f"{PREFIX}-3-{os.getpid()}.jsonl"  # this pid's earlier life (a container's pid 1)
        undead = tmp_path / f"{PREFIX}-4-{zombie.pid}.jsonl"
        for path in (gone, alive, mine, undead):
            path.write_bytes(b"")
        assert leftovers(tmp_path) == [gone, mine, undead]
    finally:
        sibling.kill()
        sibling.wait()
        zombie.wait()


async def test_the_writer_journals_then_deletes_and_replays_what_a_killed_process_left(
    database_url: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    customer = uuid.uuid4()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        writer = LedgerWriter(pool, tmp_path, batch_size=100, flush_interval=60, journal=True)
        await writer.start()
        events = [event(customer, i) for i in range(5)]
        for e in events:
            writer.record(e)
        (journal,) = files(tmp_path)  # on disk before any flush
        assert [msgspec.json.decode(line)["request_id"] for line in journal.read_bytes().splitlines()] == [
            str(e.request_id) for e in events
        ]
        await writer.stop()
        assert files(tmp_path) == []  # all in the database: nothing left to replay
        assert await count(conn, customer) == 5

        # A process killed before its flush left a journal with two events in and two not.
        lost = [event(customer, i) for i in range(10, 12)]
        dead = tmp_path / f"{PREFIX}-1-999999999.jsonl"
        dead.write_bytes(b"".join(msgspec.json.encode(e) + b"\n" for e in [*events[:2], *lost]) + b'{"cut sh')
        again = LedgerWriter(pool, tmp_path, batch_size=100, flush_interval=60, journal=True)
        await again.start()
        await again.stop()
        assert not dead.exists()
        assert await count(conn, customer) == 7  # the two lost ones added, the two already in skipped
    finally:
        await pool.close()
