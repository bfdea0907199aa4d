"""Call features COPYed from our own binary encoding are stored exactly as asyncpg's codecs store
them (issue 20): the same rows written both ways compare equal as PostgreSQL prints them; what the
encoding leaves to asyncpg is refused, and the writer then takes asyncpg's path."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from pathlib import Path

import asyncpg
import msgspec
import pytest

from gateway.detect.features import FEATURE_COLUMNS, CallFeatures, network_of
from gateway.ledger.copy_binary import Unencodable, features_copy
from gateway.ledger.writer import LedgerWriter, _features_row

ADDRESSES = [
    None, "203.0.113.9", "0.0.0.0", "255.255.255.255", "10.1.2.3", "2001:db8::1", "::1", "::",
    "2001:db8:1234:5678:9abc:def0:1234:5678", "::ffff:192.0.2.1", "fe80::1",
]  # fmt: skip
TEXTS = [None, "", "m", "gpt-4o-mini", "ünïcödé ✓ 模型", "a" * 300, "quote ' and \" and \\ and {,}"]
INT4 = [None, 0, 1, -1, 2**31 - 1, -(2**31), 123456]
INT2 = [None, 0, 1, -1, 32767, -32767, 5]
INT8 = [None, 0, 1, -1, 2**63 - 1, -(2**63), 8426385003033558578]
FLOATS = [None, 0.0, -0.0, 0.2, 0.7, 1.0, 2.0, 1e-45, 3.4e38, 1e6, -1e6, 1 / 3, 0.1 + 0.2]


def random_features(rng: random.Random, customer: uuid.UUID) -> CallFeatures:
    ip = rng.choice(ADDRESSES)
    zone = rng.choice(
        [dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(-dt.timedelta(hours=8))]
    )
    at = dt.datetime(2026, 12, 7, tzinfo=dt.UTC) + dt.timedelta(microseconds=rng.randint(-(10**13), 10**13))
    return CallFeatures(
        request_id=uuid.uuid4(),
        occurred_at=at.astimezone(zone),
        customer_id=customer,
        key_id=rng.choice([t for t in TEXTS if t is not None]),
        model=rng.choice(TEXTS),
        status=rng.choice([200, 400, 0, 2**31 - 1]),
        prompt_tokens=rng.choice(INT4),
        completion_tokens=rng.choice(INT4),
        client_ip=ip,
        network=rng.choice(
            [network_of(ip), None, "10.0.0.0/8", "2001:db8::/32", "0.0.0.0/0", "192.0.2.1/32"]
        ),
        country=rng.choice([None, "US", "DE"]),
        temperature=rng.choice([*FLOATS, rng.uniform(-2, 2)]),
        n=rng.choice(INT2),
        logprobs=rng.random() < 0.5,
        top_logprobs=rng.choice(INT2),
        logit_bias=rng.random() < 0.5,
        reasoning=rng.random() < 0.5,
        family=rng.choice(["chat", "code", "other"]),
        system_fp=rng.choice(INT8),
        template_fp=rng.choice(INT8),
        bands=tuple(
            rng.choice([*INT8[1:], rng.getrandbits(64) - 2**63])
            for _ in range(rng.choice([0, 1, 16, 16, 40]))
        ),
    )


async def stored(conn: asyncpg.Connection, customer: uuid.UUID) -> list[str]:
    """Every column but the ids, as PostgreSQL prints the row."""
    columns = ", ".join(c for c in FEATURE_COLUMNS if c not in ("request_id", "customer_id"))
    return [
        r[0]
        for r in await conn.fetch(
            f"select row({columns})::text from call_features where customer_id = $1 order by 1",
            customer,
        )
    ]


async def test_the_binary_copy_stores_what_asyncpg_stores(conn: asyncpg.Connection) -> None:
    rng = random.Random(20)
    ours, theirs = uuid.uuid4(), uuid.uuid4()
    made = [random_features(rng, ours) for _ in range(400)]
    twins = [msgspec.structs.replace(f, request_id=uuid.uuid4(), customer_id=theirs) for f in made]
    await conn.copy_to_table(
        "call_features", source=memoryview(features_copy(made)), columns=FEATURE_COLUMNS, format="binary"
    )
    await conn.copy_records_to_table(
        "call_features", records=[_features_row(f) for f in twins], columns=FEATURE_COLUMNS
    )
    mine, asyncpgs = await stored(conn, ours), await stored(conn, theirs)
    assert len(mine) == len(made) and mine == asyncpgs
    assert any("{}" in row for row in mine) and any("::1" in row for row in mine)
    # And read back through asyncpg, the values are the ones written (real is single precision).
    back = await conn.fetchrow(
        "select bands, client_ip, network from call_features where request_id = $1", made[0].request_id
    )
    assert tuple(back["bands"]) == made[0].bands


@pytest.mark.parametrize(
    "change",
    [
        {"client_ip": "not an address"},
        {"network": "203.0.113.9/24"},  # host bits: asyncpg's ip_network refuses it
        {"network": "203.0.113.0"},
        {"occurred_at": dt.datetime(2026, 12, 7)},  # naive: asyncpg reads it in the local zone
        {"occurred_at": dt.datetime.max.replace(tzinfo=dt.UTC)},  # asyncpg sends infinity
        {"status": 2**31},
        {"n": 40000},
        {"system_fp": 2**63},
        {"temperature": 1e39},
        {"model": "\ud800"},
        {"bands": (2**64,)},
    ],
)
def test_values_left_to_asyncpg_are_refused(change: dict[str, object]) -> None:
    f = random_features(random.Random(1), uuid.uuid4())
    features_copy([f])
    with pytest.raises(Unencodable):
        features_copy([f, msgspec.structs.replace(f, **change)])


async def test_the_writer_takes_asyncpgs_path_for_a_batch_it_does_not_encode(
    database_url: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    customer = uuid.uuid4()
    rng = random.Random(3)
    made = [random_features(rng, customer) for _ in range(5)]
    made.append(
        msgspec.structs.replace(made[0], request_id=uuid.uuid4(), occurred_at=dt.datetime(2026, 1, 2))
    )
    pool = await asyncpg.create_pool(
        database_url, min_size=1, max_size=1, server_settings={"timezone": "UTC"}
    )
    writer = LedgerWriter(pool, tmp_path, batch_size=100, flush_interval=60)
    await writer.start()
    for f in made:
        writer.record_features(f)
    await writer.stop()
    await pool.close()
    assert writer.written == 6 and writer.failures == 0
    assert await conn.fetchval("select count(*) from call_features where customer_id = $1", customer) == 6
