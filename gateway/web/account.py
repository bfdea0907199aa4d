"""The customer's account (``/web/account``): its projects and API keys (create, shown once;
revoke), its quotas, and its usage over the last 30 days as charts.

Everything is the signed-in person's own customer, found from the session's issuer and subject:
a key id in a URL is looked up within that customer only, so another customer's key answers 404,
exactly like a key that does not exist. Keys, quotas and usage come from the same repositories
the CLI and the admin API read (``identity.repository``, ``quota.report``, the ledger).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import asyncpg
import msgspec
from litestar import Response, get, post

from ..errors import Forbidden, NotFoundInStore
from ..identity.repository import ApiKey, create_key, list_keys, revoke_key
from ..kyc import repository as kyc_repo
from ..kyc.models import CustomerRecord
from ..kyc.states import effective_status
from ..ledger.daily import daily_usage
from ..quota.report import quota_view
from .apply_steps import standing
from .charts import days_back, layout, svg
from .common import AnyRequest, Party, page, read_form, redirect, require, services
from .forms import Form

__all__ = ["account_routes"]

DAYS = 30
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_NAME_MAX = 200
"""A project's name (``identity.repository``: 1-200 printable characters), and a key's."""


class Project(msgspec.Struct, frozen=True):
    id: uuid.UUID
    name: str
    active: int
    revoked: int


class DayRow(msgspec.Struct, frozen=True):
    day: str
    requests: int
    prompt_tokens: int
    completion_tokens: int

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def projects_of(keys: list[ApiKey]) -> list[Project]:
    """A project comes into being with its first key (``create_key``): its keys list them all."""
    found: dict[uuid.UUID, Project] = {}
    for k in keys:
        p = found.get(k.project_id, Project(k.project_id, k.project, 0, 0))
        revoked = k.revoked_at is not None
        found[k.project_id] = Project(p.id, p.name, p.active + (not revoked), p.revoked + revoked)
    return sorted(found.values(), key=lambda p: p.name.casefold())


async def _customer(request: AnyRequest, conn: asyncpg.Connection, party: Party) -> CustomerRecord | None:
    found = await kyc_repo.customer_for_subject(conn, party.session.issuer, party.subject)
    return None if found is None else await kyc_repo.get_customer(conn, found)


def _verified(customer: CustomerRecord) -> bool:
    return effective_status(customer.kyc_status, customer.expires_at, dt.datetime.now(dt.UTC)) == "verified"


def _scope_name(limit: dict[str, Any], projects: dict[str, str]) -> str:
    scope, scope_id = limit["scope"], limit["scope_id"]
    if scope == "customer":
        return "All your use"
    if scope_id == "*":
        return f"Each {scope}"
    if scope == "project":
        return f"Project {projects.get(scope_id, scope_id)}"
    return f"Key {scope_id}"


def _window(limit: dict[str, Any]) -> str:
    if limit.get("period") is not None:
        return f"per {limit['period']}"
    return f"per {limit['rolling_days']} days (rolling)"


def _usage_rows(usage: list[Any], today: dt.date) -> list[DayRow]:
    by_day = {u.day: u for u in usage}
    rows = []
    for day in days_back(today, DAYS):
        u = by_day.get(day)
        rows.append(
            DayRow(
                day.isoformat(),
                u.requests if u else 0,
                u.prompt_tokens if u else 0,
                u.completion_tokens if u else 0,
            )
        )
    return rows


async def _account_page(
    request: AnyRequest,
    conn: asyncpg.Connection,
    party: Party,
    customer: CustomerRecord,
    form: Form,
    status: int = 200,
) -> Response[str]:
    svc = services(request)
    keys = await list_keys(conn, str(customer.id))
    projects = projects_of(keys)
    facts = await kyc_repo.policy_facts(conn, customer.id)
    quota = await quota_view(conn, customer.id, facts, svc.policies.policy)
    names = {str(p.id): p.name for p in projects}
    limits = [{**x, "who": _scope_name(x, names), "window": _window(x)} for x in quota.limits]
    today = dt.datetime.now(dt.UTC).date()
    rows = _usage_rows(
        await daily_usage(conn, customer.id, first=today - dt.timedelta(days=DAYS - 1), last=today), today
    )
    total_requests = sum(r.requests for r in rows)
    total_tokens = sum(r.tokens for r in rows)
    requests_chart = svg(
        layout([(r.day, r.requests) for r in rows]),
        ident="chart-requests",
        title=f"Requests per day, last {DAYS} days (UTC)",
        desc=f"{total_requests:,} requests in the last {DAYS} days; busiest day"
        f" {max(rows, key=lambda r: r.requests).day if total_requests else 'none'}.",
        unit="requests",
    )
    tokens_chart = svg(
        layout([(r.day, r.tokens) for r in rows]),
        ident="chart-tokens",
        title=f"Tokens per day (prompt and completion), last {DAYS} days (UTC)",
        desc=f"{total_tokens:,} tokens in the last {DAYS} days.",
        unit="tokens",
    )
    return page(
        "account/index.html",
        request,
        party,
        status=status,
        customer=customer,
        keys=keys,
        projects=projects,
        quota=quota,
        limits=limits,
        rows=rows,
        total_requests=total_requests,
        total_tokens=total_tokens,
        requests_chart=requests_chart,
        tokens_chart=tokens_chart,
        form=form,
        days=DAYS,
    )


def _not_verified(request: AnyRequest, party: Party, customer: CustomerRecord | None) -> Response[str]:
    found = None
    if customer is not None:
        found = standing(
            effective_status(customer.kyc_status, customer.expires_at, dt.datetime.now(dt.UTC)), []
        )
    return page("account/none.html", request, party, customer=customer, standing=found)


@get("/web/account", include_in_schema=False)
async def account(request: AnyRequest) -> Response[str]:
    party = await require(request)
    async with services(request).pool.acquire() as conn:
        customer = await _customer(request, conn, party)
        if customer is None or not _verified(customer):
            return _not_verified(request, party, customer)
        return await _account_page(request, conn, party, customer, Form({}))


@post("/web/account/keys", include_in_schema=False)
async def new_key(request: AnyRequest) -> Response[str]:
    party = await require(request)
    form = await read_form(request, party)
    async with services(request).pool.acquire() as conn:
        customer = await _customer(request, conn, party)
        if customer is None or not _verified(customer):
            raise Forbidden(
                "keys are for verified customers: complete your application first", code="kyc_not_verified"
            )
        project = form.text("project", "project name", max_len=_NAME_MAX)
        name = form.text("key_name", "key name", required=False, max_len=_NAME_MAX)
        if not form.ok or project is None:
            return await _account_page(request, conn, party, customer, form, status=400)
        created = await create_key(conn, str(customer.id), project, name, actor=party.actor)
    # Shown in this answer only: the key's secret is stored as a hash, and this page is never cached.
    return page("account/key_created.html", request, party, status=201, created=created, key_name=name)


@post("/web/account/keys/{key_id:str}/revoke", include_in_schema=False)
async def revoke(request: AnyRequest, key_id: str) -> Response[str]:
    party = await require(request)
    await read_form(request, party)
    async with services(request).pool.acquire() as conn:
        customer = await _customer(request, conn, party)
        if customer is None or not _KEY_ID.fullmatch(key_id):
            raise NotFoundInStore(f"no API key with id {key_id[:40]!r}", code="key_not_found")
        # Scoped to this customer: another's key is not found, and nothing changes.
        await revoke_key(conn, key_id, str(customer.id), actor=party.actor)
    return redirect("/web/account#keys")


account_routes = [account, new_key, revoke]
