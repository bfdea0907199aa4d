"""A database of its own per test, a ledger filled by hand, and an issuer with a test key."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence

import asyncpg
import pytest

from gateway.audit.keys import SigningKeys, new_key_spec
from gateway.db.migrate import migrate
from gateway.kyc.facts import AddressIn, FactsIn, IdentifierIn
from gateway.kyc.models import OwnerIn
from gateway.policy import load_policy
from gateway.reports.generate import Issuer
from gateway.reports.model import Provider
from tests.conftest import kyc_service, make_database

ORIGIN = "reports.test/audit"
SINCE = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
UNTIL = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
ISSUED = dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)
POLICY = load_policy()


@pytest.fixture
async def db(empty_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """Reports are counted over every customer: these tests need a database no other test fills."""
    conn = await asyncpg.connect(empty_database_url)
    await migrate(conn)
    yield conn
    await conn.close()


@pytest.fixture
def second_database_url(admin_url: str) -> Iterator[str]:
    url, drop = make_database(admin_url)
    yield url
    drop()


@pytest.fixture(scope="session")
def keys() -> SigningKeys:
    return SigningKeys.parse(ORIGIN, new_key_spec(1))


def issuer(keys: SigningKeys, when: dt.datetime = ISSUED) -> Issuer:
    return Issuer(
        policy=POLICY,
        keys=keys,
        kyc=kyc_service(),
        provider=Provider(name="reports.test", country="US", audit_log=ORIGIN),
        actor="test:reports",
        clock=lambda: when,
    )


async def customer(conn: asyncpg.Connection, name: str, country: str | None, *,
                   owner: str | None = None, facts: FactsIn | None = None) -> uuid.UUID:  # fmt: skip
    """A customer created before the period (its owner named so that groups can be linked)."""
    kyc = kyc_service()
    made = await kyc.create_customer(conn, name, "organisation", country, facts=facts)
    if owner is not None:
        await kyc.add_owner(conn, made.id, OwnerIn(name=owner, kind="person", country="AT", percent=60))
    await conn.execute(
        "update customers set created_at = $2 where id = $1", made.id, SINCE - dt.timedelta(days=30)
    )
    return made.id


NIMBUS_FACTS = FactsIn(
    legal_name="Nimbus Compute GmbH",
    addresses=[AddressIn(line1="Torstrasse 1", city="Berlin", country="DE", postal_code="10119")],
    identifiers=[IdentifierIn(type="lei", value="5493001KJTIIGC8Y1R12")],
    incorporation_country="DE",
    email="legal@nimbus.example",
)


async def calls(
    conn: asyncpg.Connection, rows: Sequence[tuple[uuid.UUID, dt.datetime, int, str | None, int, int]]
) -> None:
    """Usage events: (customer, when, status, error code, prompt tokens, completion tokens)."""
    await conn.copy_records_to_table(
        "usage_events",
        columns=[
            "request_id",
            "occurred_at",
            "customer_id",
            "project_id",
            "key_id",
            "route",
            "status",
            "error_code",
            "prompt_tokens",
            "completion_tokens",
            "usage_complete",
            "duration_ms",
            "bytes_in",
            "bytes_out",
        ],
        records=[
            (
                uuid.uuid4(),
                when,
                cid,
                cid,
                "0123456789abcdef",
                "/v1/chat/completions",
                status,
                code,
                prompt,
                completion,
                True,
                12.5,
                100,
                200,
            )
            for cid, when, status, code, prompt, completion in rows
        ],
    )


async def jobs_ended(
    conn: asyncpg.Connection, rows: Sequence[tuple[uuid.UUID, dt.datetime, float, float]]
) -> None:
    """Compute events: (customer, ended at, GPU-seconds, settled FLOP)."""
    await conn.copy_records_to_table(
        "compute_events",
        columns=[
            "workload_id",
            "occurred_at",
            "customer_id",
            "cluster",
            "kind",
            "job_id",
            "accelerator",
            "gpus",
            "submitted_at",
            "run_seconds",
            "gpu_seconds",
            "flop_bound",
            "flop_expected",
            "flop_settled",
            "bio",
        ],
        records=[
            (
                uuid.uuid4(),
                when,
                cid,
                "hpc",
                "slurm",
                uuid.uuid4().hex[:8],
                "h100",
                8,
                when - dt.timedelta(hours=1),
                gpu_s / 8,
                gpu_s,
                flop * 2,
                flop * 1.5,
                flop,
                False,
            )
            for cid, when, gpu_s, flop in rows
        ],
    )


async def workload(conn: asyncpg.Connection, cid: uuid.UUID, job: str, state: str, *, expected: float,
                   settled: float = 0.0, submitted: dt.datetime, ended: dt.datetime | None = None,
                   gpus: int = 4096, limit_days: int = 30) -> None:  # fmt: skip
    await conn.execute(
        """
        insert into workloads
            (id, cluster, job_id, customer_id, kind, api_version, state, accelerator, gpus,
             time_limit_seconds, peak_flops_per_gpu, utilisation, gpu_seconds_bound, flop_bound,
             flop_expected, flop_settled, gpu_seconds_settled, submitted_at, started_at, ended_at)
        values ($1, 'hpc', $2, $3, 'slurm', 'v0.0.40', $4, 'h100', $5::int, $6::int, 989e12, 0.4, $5::float8 * $6::int,
                $7::float8 / 0.4, $7, $8, $9, $10, $10, $11)
        """,
        uuid.uuid4(), job, cid, state, gpus, limit_days * 86400, expected, settled,
        settled / (989e12 * 0.4), submitted, ended,
    )  # fmt: skip
