"""Fixtures that start real things: a PostgreSQL database per test run.

The server at 127.0.0.1:5432 (trust auth) is used when it answers; otherwise the
embedded PostgreSQL, the gateway's own default. Each run gets a fresh database.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest

from gateway.db.database import embedded_database_url
from gateway.db.migrate import migrate
from gateway.identity.repository import Customer
from gateway.kyc.crypto import new_key_spec
from gateway.kyc.service import KycService
from gateway.settings import load_settings

T = TypeVar("T")
pytest_plugins = ["tests.oidc_fixtures", "tests.slurm_fixtures"]  # loopback OIDC issuer, real Slurm
# One master key for the whole run: the gateways it starts and the tests that read the
# same database must agree on it (the database records a check value per key version).
TEST_KYC_KEYS = new_key_spec(1)
os.environ["GATEWAY_KYC_KEYS"] = TEST_KYC_KEYS
ADMIN_URL = os.environ.get("GATEWAY_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _run(coro: Awaitable[T]) -> T:
    return asyncio.new_event_loop().run_until_complete(coro)


async def _reachable(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


@pytest.fixture(scope="session")
def admin_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if _run(_reachable(ADMIN_URL)):
        return ADMIN_URL
    return embedded_database_url(tmp_path_factory.mktemp("embedded-admin"))


def _with_db(admin: str, name: str) -> str:
    base, _, query = admin.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


def make_database(admin: str) -> tuple[str, Callable[[], None]]:
    name = f"gw_test_{secrets.token_hex(4)}"

    async def create() -> None:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'create database "{name}"')
        await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'drop database if exists "{name}" with (force)')
        await conn.close()

    _run(create())
    return _with_db(admin, name), lambda: _run(drop())


@pytest.fixture(scope="session")
def database_url(admin_url: str) -> Iterator[str]:
    """A fresh, migrated database for the whole run."""
    url, drop = make_database(admin_url)

    async def up() -> None:
        conn = await asyncpg.connect(url)
        await migrate(conn)
        await conn.close()

    _run(up())
    yield url
    drop()


@pytest.fixture
def empty_database_url(admin_url: str) -> Iterator[str]:
    """A fresh database with no schema, for migration tests."""
    url, drop = make_database(admin_url)
    yield url
    drop()


@pytest.fixture
async def conn(database_url: str) -> asyncpg.Connection:
    c = await asyncpg.connect(database_url)
    yield c
    await c.close()


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 5.0, interval: float = 0.02) -> T:
    """Poll until ``check`` returns a truthy value: for properties that hold *within* a bound."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
        await asyncio.sleep(interval)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def kyc_service(**overrides: object) -> KycService:
    """The service as the gateway builds it, with this run's master key."""
    settings = load_settings(None, environ={"GATEWAY_KYC_KEYS": TEST_KYC_KEYS}, **overrides)
    return KycService.from_settings(settings)


async def verified_customer(
    conn: asyncpg.Connection, name: str, *, kind: str = "individual", country: str = "US"
) -> Customer:
    """A customer taken through submit and approval, as an operator would."""
    kyc = kyc_service()
    customer = await kyc.create_customer(conn, name, kind, country)
    if kind == "organisation":
        from gateway.kyc.models import OwnerIn

        await kyc.add_owner(conn, customer.id, OwnerIn(name=f"{name} owner", kind="person", percent=100))
    await kyc.submit(conn, customer.id, "test")
    await kyc.decide(conn, customer.id, "approve", "test", "verified for the test")
    return customer
