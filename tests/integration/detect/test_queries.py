"""read_window's aggregates, exactly, on a handful of hand-written call_features rows."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from gateway.db.migrate import migrate
from gateway.detect.features import FEATURE_COLUMNS, CallFeatures
from gateway.detect.queries import read_window

SINCE = dt.datetime(2031, 5, 1, tzinfo=dt.UTC)
UNTIL = SINCE + dt.timedelta(days=1)
A, B, C = uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3)
SHARED = tuple(range(100, 116))  # one skeleton's band keys, sent by A and B
NEAR = (100, *range(201, 216))  # A's variant of it: shares the first band key


def _row(customer: uuid.UUID, minute: int, **kw: object) -> CallFeatures:
    fields: dict[str, object] = {
        "request_id": uuid.uuid4(), "occurred_at": SINCE + dt.timedelta(minutes=minute),
        "customer_id": customer, "key_id": "k1", "model": "m", "status": 200, "prompt_tokens": 10,
        "completion_tokens": 20, "client_ip": "198.51.100.7", "network": "198.51.100.0/24", "country": "DE",
        "temperature": None, "n": None, "logprobs": False, "top_logprobs": None, "logit_bias": False,
        "reasoning": False, "family": "chat", "system_fp": 7, "template_fp": 4, "bands": SHARED,
    }  # fmt: skip
    fields.update(kw)
    return CallFeatures(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def db(empty_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(empty_database_url)
    await migrate(conn)
    rows = [
        _row(A, 0, reasoning=True, family="math"),
        _row(A, 1, family="math", logprobs=True, logit_bias=True),
        _row(
            A,
            61,
            key_id="k2",
            network="203.0.113.0/24",
            client_ip="203.0.113.9",
            country="FR",
            system_fp=8,
            template_fp=8,
            bands=NEAR,
        ),
        _row(
            A,
            62,
            key_id="k2",
            network="192.0.2.0/24",
            client_ip="192.0.2.1",
            system_fp=None,
            template_fp=12,
            bands=tuple(range(300, 316)),
        ),
        _row(B, 5),
        _row(B, 6, template_fp=None, bands=()),
        _row(
            C, 30, network="192.0.2.0/24", client_ip="192.0.2.2", template_fp=16, bands=tuple(range(400, 416))
        ),
        _row(C, 60 * 24 + 5),  # the next day: outside the window
    ]
    await conn.copy_records_to_table(
        "call_features", records=[tuple(getattr(r, c) for c in FEATURE_COLUMNS) for r in rows],
        columns=list(FEATURE_COLUMNS),
    )  # fmt: skip
    await conn.execute("insert into customers (id, name, created_at) values ($1, 'a', $2)", A, SINCE)
    await conn.execute("insert into customers (id, name) values ($1, 'b'), ($2, 'c')", B, C)
    await conn.execute(
        "insert into payment_fingerprints values ($1, 'card'), ($2, 'card'), ($3, 'other')", A, B, C
    )
    yield conn
    await conn.close()


async def test_read_window_aggregates_each_account(db: asyncpg.Connection) -> None:
    window = await read_window(db, SINCE, UNTIL)
    a, b, c = window.stats
    assert (a.customer_id, b.customer_id, c.customer_id) == (A, B, C)
    assert (a.calls, a.prompt_tokens, a.completion_tokens) == (4, 40, 80)
    assert (a.reasoning_calls, a.extraction_calls, a.logit_bias_logprobs_calls) == (1, 1, 1)
    assert a.families == {"math": 2, "chat": 2}
    assert a.hourly == {0: 2, 1: 2}
    assert (a.keys, a.networks, a.max_networks_per_key, a.countries) == (2, 3, 2, 2)
    assert (a.system_prompts, a.system_top_share) == (2, 2 / 3)
    assert a.first_seen == SINCE and a.created_at == SINCE
    # Skeletons 4 (twice), 8 and 12: the top one and the repeated one carry half the calls.
    assert (a.templates, a.top_template_share, a.repeat_share) == (3, 0.5, 0.5)
    # Sampled: repeated skeleton 4, and 8 and 12 (fingerprints divisible by 4). 8 shares a band key
    # with 4 (a variant), and 4 shares all its keys with B.
    assert a.band_calls == 4 and a.variant_share == 0.75 and a.shared_template_share == 0.75
    assert (b.calls, b.templates, b.band_calls, b.shared_template_share) == (2, 1, 1, 1.0)
    assert c.calls == 1 and c.shared_template_share == 0.0
    bands = {(p.customer_id, p.key): (p.calls, p.holders) for p in window.postings if p.kind == "band"}
    assert bands[(A, "100")] == (3, 2) and bands[(B, "100")] == (1, 2)  # A: skeleton 4 twice, 8 once
    assert bands[(A, "107")] == (2, 2) and (C, "400") not in bands
    nets = {(p.customer_id, p.key): (p.calls, p.holders) for p in window.postings if p.kind == "network"}
    assert nets == {(A, "198.51.100.0/24"): (2, 2), (B, "198.51.100.0/24"): (2, 2),
                    (A, "192.0.2.0/24"): (1, 2), (C, "192.0.2.0/24"): (1, 2)}  # fmt: skip
    assert window.hard == [(A, ("payment", "card")), (B, ("payment", "card"))]


async def test_an_empty_window_reads_nothing(db: asyncpg.Connection) -> None:
    window = await read_window(db, UNTIL + dt.timedelta(days=1), UNTIL + dt.timedelta(days=2))
    assert window.stats == [] and window.postings == [] and window.hard == []
