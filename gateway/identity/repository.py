"""Customers, projects and API keys in PostgreSQL. Every key lookup is scoped to its customer."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import msgspec
import pycountry

from ..audit import log as audit_log
from ..audit.entry import entry as audit_entry
from ..errors import BadRequest, Conflict, NotFoundInStore
from .keys import generate_key


class Customer(msgspec.Struct, frozen=True):
    id: uuid.UUID
    name: str
    created_at: dt.datetime
    kind: str = "organisation"
    country: str | None = None
    kyc_status: str = "pending"


class Project(msgspec.Struct, frozen=True):
    id: uuid.UUID
    customer_id: uuid.UUID
    name: str


class ApiKey(msgspec.Struct, frozen=True):
    """A key as listed: never its secret, nor its hash."""

    id: str
    customer_id: uuid.UUID
    customer: str
    project_id: uuid.UUID
    project: str
    name: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class CreatedKey(msgspec.Struct, frozen=True):
    id: str
    key: str
    customer: str
    project: str


class KeyRow(msgspec.Struct, frozen=True, array_like=True):
    """What the in-memory cache holds per key."""

    id: str
    secret_hash: bytes
    customer_id: uuid.UUID
    project_id: uuid.UUID
    revoked: bool


_NAME_MAX = 200


def _check_name(kind: str, name: str) -> str:
    name = name.strip()
    if not name or len(name) > _NAME_MAX or any(ord(c) < 32 for c in name):
        raise BadRequest(f"{kind} name must be 1-{_NAME_MAX} printable characters", code="invalid_name")
    return name


_CUSTOMER = "select id, name, created_at, kind, country, kyc_status from customers"
_INSERT_CUSTOMER = """
insert into customers (id, name, kind, country, oidc_issuer, oidc_subject) values ($1, $2, $3, $4, $5, $6)
returning id, name, created_at, kind, country, kyc_status
"""


def check_country(country: str | None, what: str = "country") -> str | None:
    """An ISO 3166-1 alpha-2 code, upper-cased, or a clear error."""
    if country is None:
        return None
    code = country.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise BadRequest(f"{what} {country!r} is not an ISO 3166-1 alpha-2 code", code="invalid_country")
    return code


async def create_customer(
    conn: asyncpg.Connection,
    name: str,
    kind: str = "organisation",
    country: str | None = None,
    *,
    oidc: tuple[str, str] | None = None,
) -> Customer:
    name = _check_name("customer", name)
    if kind not in ("organisation", "individual"):
        raise BadRequest("kind must be 'organisation' or 'individual'", code="invalid_kind")
    country = check_country(country)
    issuer, subject = oidc if oidc is not None else (None, None)
    try:
        row = await conn.fetchrow(
            _INSERT_CUSTOMER,
            uuid.uuid4(),
            name,
            kind,
            country,
            issuer,
            subject,
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "customers_oidc_subject":
            raise Conflict("this account already has an application", code="application_exists") from None
        raise Conflict(f"a customer named {name!r} already exists", code="customer_exists") from None
    return Customer(**dict(row))


async def list_customers(conn: asyncpg.Connection) -> list[Customer]:
    rows = await conn.fetch(_CUSTOMER + " order by created_at, name")
    return [Customer(**dict(r)) for r in rows]


async def find_customer(conn: asyncpg.Connection, id_or_name: str) -> Customer:
    """By id (a UUID) or by its unique name."""
    try:
        as_id: uuid.UUID | None = uuid.UUID(id_or_name)
    except ValueError:
        as_id = None
    row = await conn.fetchrow(
        _CUSTOMER + " where id = $1 or name = $2 order by id = $1 desc limit 1",
        as_id,
        id_or_name,
    )
    if row is None:
        raise NotFoundInStore(f"no customer with id or name {id_or_name!r}", code="customer_not_found")
    return Customer(**dict(row))


async def ensure_project(conn: asyncpg.Connection, customer_id: uuid.UUID, name: str) -> Project:
    name = _check_name("project", name)
    row = await conn.fetchrow(
        """
        insert into projects (id, customer_id, name) values ($1, $2, $3)
        on conflict (customer_id, name) do update set name = excluded.name
        returning id, customer_id, name
        """,
        uuid.uuid4(),
        customer_id,
        name,
    )
    return Project(**dict(row))


async def create_key(
    conn: asyncpg.Connection, customer: str, project: str, name: str | None = None, *, actor: str = "gateway"
) -> CreatedKey:
    async with conn.transaction():
        cust = await find_customer(conn, customer)
        proj = await ensure_project(conn, cust.id, project)
        material = generate_key()
        await conn.execute(
            "insert into api_keys (id, customer_id, project_id, name, secret_hash)"
            " values ($1, $2, $3, $4, $5)",
            material.id,
            cust.id,
            proj.id,
            name,
            material.hash,
        )
        await audit_log.append(
            conn,
            [
                audit_entry(
                    "key.created",
                    actor=actor,
                    at=dt.datetime.now(dt.UTC),
                    subject=f"key:{material.id}",
                    data={"customer": str(cust.id), "project": str(proj.id)},
                )
            ],
        )
    return CreatedKey(id=material.id, key=material.key, customer=cust.name, project=proj.name)


_LIST_KEYS = """
select k.id, k.customer_id, c.name as customer, k.project_id, p.name as project,
       k.name, k.created_at, k.revoked_at
from api_keys k join customers c on c.id = k.customer_id join projects p on p.id = k.project_id
"""


async def list_keys(conn: asyncpg.Connection, customer: str | None = None) -> list[ApiKey]:
    if customer is None:
        rows = await conn.fetch(_LIST_KEYS + " order by k.created_at")
    else:
        cust = await find_customer(conn, customer)
        rows = await conn.fetch(_LIST_KEYS + " where k.customer_id = $1 order by k.created_at", cust.id)
    return [ApiKey(**dict(r)) for r in rows]


async def revoke_key(
    conn: asyncpg.Connection, key_id: str, customer: str | None = None, *, actor: str = "gateway"
) -> ApiKey:
    """Revoke a key (idempotent). With ``customer``, only that customer's key can be revoked."""
    customer_id = (await find_customer(conn, customer)).id if customer is not None else None
    async with conn.transaction():
        row = await conn.fetchrow(
            """
            update api_keys k set revoked_at = coalesce(k.revoked_at, now())
            from (select revoked_at from api_keys where id = $1 for update) before
            where k.id = $1 and ($2::uuid is null or k.customer_id = $2)
            returning k.customer_id, before.revoked_at is null as now_revoked
            """,
            key_id,
            customer_id,
        )
        if row is None:
            raise NotFoundInStore(f"no API key with id {key_id!r}", code="key_not_found")
        if row["now_revoked"]:
            await audit_log.append(
                conn,
                [
                    audit_entry(
                        "key.revoked",
                        actor=actor,
                        at=dt.datetime.now(dt.UTC),
                        subject=f"key:{key_id}",
                        data={"customer": str(row["customer_id"])},
                    )
                ],
            )
    rows = await conn.fetch(_LIST_KEYS + " where k.id = $1", key_id)
    return ApiKey(**dict(rows[0]))


_KEY_ROWS = "select id, secret_hash, customer_id, project_id, revoked_at is not null from api_keys"


async def load_key_rows(conn: asyncpg.Connection, key_ids: list[str] | None = None) -> list[KeyRow]:
    if key_ids is None:
        rows = await conn.fetch(_KEY_ROWS)
    else:
        rows = await conn.fetch(_KEY_ROWS + " where id = any($1::text[])", key_ids)
    return [KeyRow(*r) for r in rows]
