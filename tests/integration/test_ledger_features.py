"""Call features: the ledger's third table, batched by COPY, spooled and replayed, duplicates skipped."""

import datetime as dt
import uuid
from pathlib import Path

import asyncpg
import msgspec

from gateway.detect.features import CallFeatures, extract
from gateway.ledger.events import UsageEvent
from gateway.ledger.writer import LedgerWriter, insert_calls


def event(customer: uuid.UUID, ip: str | None = "203.0.113.7") -> UsageEvent:
    return UsageEvent(
        request_id=uuid.uuid4(), occurred_at=dt.datetime.now(dt.UTC), customer_id=customer,
        project_id=uuid.uuid4(), key_id="0123456789abcdef", upstream="up", route="/v1/chat/completions",
        model="m", stream=False, status=200, error_code=None, prompt_tokens=5, completion_tokens=7,
        usage_complete=True, duration_ms=1.5, bytes_in=10, bytes_out=20, client_ip=ip, origin_country="US",
    )  # fmt: skip


BODY = msgspec.json.encode(
    {
        "model": "m",
        "messages": [
            {"role": "system", "content": "You are a careful tutor."},
            {"role": "user", "content": "Solve 12 + 7 step by step for Ada Lovelace."},
        ],
        "temperature": 0.2,
        "n": 2,
        "logprobs": True,
        "top_logprobs": 4,
        "logit_bias": {"50256": -100},
    }
)


def features(customer: uuid.UUID, body: bytes | None = BODY, ip: str | None = "203.0.113.7") -> CallFeatures:
    return extract(event(customer, ip), body)


async def rows(conn: asyncpg.Connection, customer: uuid.UUID) -> list[CallFeatures]:
    found = await conn.fetch(
        "select * from call_features where customer_id = $1 order by request_id", customer
    )
    return [
        CallFeatures(
            **{
                **dict(r),
                "client_ip": None if r["client_ip"] is None else str(r["client_ip"]),
                "network": None if r["network"] is None else str(r["network"]),
                "bands": tuple(r["bands"]),
            }
        )
        for r in found
    ]


def as_stored(f: CallFeatures) -> CallFeatures:
    # real is single precision: 0.2 comes back as the nearest float4.
    t = None if f.temperature is None else float(__import__("numpy").float32(f.temperature))
    return msgspec.structs.replace(f, temperature=t)


async def test_features_are_copied_and_read_back_unchanged(database_url: str, conn, tmp_path: Path) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    writer = LedgerWriter(pool, tmp_path, batch_size=10, flush_interval=60)
    await writer.start()
    customer = uuid.uuid4()
    made = [features(customer) for _ in range(23)]
    made.append(features(customer, body=None, ip=None))  # no prompt, no address: empty bands, nulls
    made.append(features(customer, ip="2001:db8:1234:5678::1"))
    for f in made:
        writer.record_features(f)
    assert writer.depth == 25
    await writer.stop()
    await pool.close()
    stored = await rows(conn, customer)
    assert stored == sorted((as_stored(f) for f in made), key=lambda f: f.request_id)
    by_ip = {f.client_ip: f for f in stored}
    assert by_ip["203.0.113.7"].network == "203.0.113.0/24"
    assert by_ip["2001:db8:1234:5678::1"].network == "2001:db8:1234::/48"
    assert by_ip[None].bands == () and by_ip[None].template_fp is None
    assert len(by_ip["203.0.113.7"].bands) == 16


async def test_features_spool_when_the_database_is_down_and_replay_once(
    database_url: str, conn, tmp_path: Path
) -> None:
    dead = await asyncpg.create_pool("postgresql://postgres@127.0.0.1:1/none", min_size=0, max_size=1)
    writer = LedgerWriter(dead, tmp_path, batch_size=10, flush_interval=0.01)
    customer = uuid.uuid4()
    made = [features(customer) for _ in range(12)]
    made.append(features(customer, body=None, ip=None))
    for f in made:
        writer.record_features(f)
    await writer.stop()
    await dead.close()
    assert writer.spooled == 13
    assert len(list(tmp_path.glob("features-*.jsonl"))) == 1

    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    first = LedgerWriter(pool, tmp_path / "other", batch_size=10)
    await first.start()
    first.record_features(made[0])  # already in before the replay: not duplicated
    await first.stop()
    replayer = LedgerWriter(pool, tmp_path, batch_size=10)
    assert await replayer.replay_spool() == 13
    await pool.close()
    assert list(tmp_path.glob("features-*.jsonl")) == []
    assert len(await rows(conn, customer)) == 13


async def test_a_duplicate_row_does_not_block_its_batch(database_url: str, conn, tmp_path: Path) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    customer = uuid.uuid4()
    made = [features(customer) for _ in range(5)]
    writer = LedgerWriter(pool, tmp_path, batch_size=10, flush_interval=60)
    await writer.start()
    writer.record_features(made[2])
    await writer.stop()
    again = LedgerWriter(pool, tmp_path, batch_size=10, flush_interval=60)
    await again.start()
    for f in made:
        again.record_features(f)  # COPY fails on the duplicate; the tolerant insert takes the rest
    await again.stop()
    await pool.close()
    assert [f.request_id for f in await rows(conn, customer)] == sorted(f.request_id for f in made)
    assert (await rows(conn, customer))[0].bands == as_stored(min(made, key=lambda f: f.request_id)).bands


async def test_insert_calls_writes_events_and_features_and_skips_what_is_there(conn) -> None:
    customer = uuid.uuid4()
    events = [event(customer) for _ in range(4)]
    made = [extract(e, BODY) for e in events]
    async with conn.transaction():
        assert await insert_calls(conn, events, made) == 4
    assert await insert_calls(conn, events, made) == 0
    assert len(await rows(conn, customer)) == 4
    assert await conn.fetchval("select count(*) from usage_events where customer_id = $1", customer) == 4
