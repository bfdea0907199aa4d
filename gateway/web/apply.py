"""The customer's application (``/web/apply``): a step-by-step form over the KYC service, the same
calls the onboarding API makes (``api/onboarding.py``), for the same account: a person signed in
here is the API's bearer-token caller with the same issuer and subject, so there is one application
either way.

Every form is read whole before anything is stored; a change is one service call in one
transaction, under a lock on the application that re-checks it is still a draft (``pending``), so
that nothing is half-saved and nothing changes once it is submitted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import asyncpg
from litestar import Response, get, post

from ..errors import BadRequest, Conflict, NotFoundInStore
from ..kyc import repository as repo
from ..kyc.facts import AddressIn, FactsIn
from ..kyc.models import ApplicationView, CustomerRecord, Owner
from ..kyc.states import effective_status
from .apply_forms import (
    ID_TYPES,
    KINDS,
    OWNER_KINDS,
    ROLE_OPTIONS,
    details_values,
    direct_percent,
    facts_error,
    read_address,
    read_applicant,
    read_details,
    read_owner,
)
from .apply_steps import MISSING, first_open_step, standing, steps
from .common import AnyRequest, Party, page, read_form, redirect, require, runtime, services
from .forms import Form

__all__ = ["apply_routes"]


class Mine(NamedTuple):
    """The signed-in person's application, as the service shows it to them."""

    id: uuid.UUID
    customer: CustomerRecord
    view: ApplicationView
    transitions: list[Any]

    @property
    def status(self) -> str:
        return effective_status(self.customer.kyc_status, self.customer.expires_at, dt.datetime.now(dt.UTC))

    @property
    def editable(self) -> bool:
        return self.customer.kyc_status == "pending"


def _ip(request: AnyRequest) -> str | None:
    return request.client.host if request.client is not None else None


async def _mine(request: AnyRequest, conn: asyncpg.Connection, party: Party) -> Mine | None:
    found = await repo.customer_for_subject(conn, party.session.issuer, party.subject)
    if found is None:
        return None
    kyc = services(request).kyc
    return Mine(
        found,
        await repo.get_customer(conn, found),
        await kyc.application(conn, found),
        await repo.transitions(conn, found),
    )


async def _draft(request: AnyRequest) -> tuple[Party, Mine] | Response[str]:
    """The signed-in person's application while it is still a draft; otherwise (none yet, or
    submitted) the way back to /web/apply, which shows where it stands."""
    party = await require(request)
    async with services(request).pool.acquire() as conn:
        mine = await _mine(request, conn, party)
    if mine is None or not mine.editable:
        return redirect("/web/apply")
    return party, mine


@contextlib.asynccontextmanager
async def _change(
    conn: asyncpg.Connection, request: AnyRequest, party: Party, mine: Mine, action: str
) -> AsyncIterator[None]:
    """One change to the application, in one transaction: the application held and refused once it
    is submitted (as the onboarding API refuses, ``application_locked``), and the access logged; an
    error inside rolls all of it back."""
    async with conn.transaction():
        customer = await repo.get_customer(conn, mine.id, lock=True)
        if customer.kyc_status != "pending":
            raise Conflict(
                f"the application is {customer.kyc_status!r}: it can be changed only while it is a draft",
                code="application_locked",
            )
        await repo.log_access(conn, mine.id, _ip(request), action, party.subject)
        yield


def _context(mine: Mine | None, current: str) -> dict[str, Any]:
    view = mine.view if mine is not None else None
    return {
        "mine": mine,
        "view": view,
        "steps": steps(view, current),
        "standing": standing(mine.status, mine.transitions) if mine is not None else None,
        "missing": [MISSING.get(m, (m, "review")) for m in view.missing] if view is not None else [],
        "problem": None,
        "kinds": KINDS,
        "owner_rows": _owner_rows(mine) if mine is not None else [],
    }


def _step_page(
    request: AnyRequest,
    party: Party,
    mine: Mine | None,
    step: str,
    form: Form | None = None,
    *,
    status: int = 200,
    problem: str | None = None,
    **extra: Any,
) -> Response[str]:
    context = _context(mine, step) | extra
    context["problem"] = problem
    return page(f"apply/{step}.html", request, party, status=status, form=form, **context)


def _locked(request: AnyRequest, party: Party, mine: Mine, message: str | None = None) -> Response[str]:
    """A change to an application that is no longer a draft: its status, and why nothing changed."""
    text = message or f"Your application is {mine.status.replace('_', ' ')}: it can no longer be changed."
    return page("apply/status.html", request, party, status=409, locked=text, **_context(mine, ""))


async def _pending(request: AnyRequest, conn: asyncpg.Connection, party: Party) -> Mine | Response[str]:
    """The draft to change, or the page to answer with instead (none yet: step 1; locked: 409)."""
    mine = await _mine(request, conn, party)
    if mine is None:
        return redirect("/web/apply")
    if not mine.editable:
        return _locked(request, party, mine)
    return mine


# -- the overview and step 1 ---------------------------------------------------------------------


@get("/web/apply", include_in_schema=False)
async def overview(request: AnyRequest) -> Response[str]:
    party = await require(request)
    async with services(request).pool.acquire() as conn:
        mine = await _mine(request, conn, party)
        if mine is not None:
            await repo.log_access(conn, mine.id, _ip(request), "view", party.subject)
    if mine is None:
        return _step_page(request, party, None, "applicant", Form({}))
    if not mine.editable:
        return page("apply/status.html", request, party, locked=None, **_context(mine, ""))
    return page(
        "apply/overview.html", request, party, next_step=first_open_step(mine.view), **_context(mine, "")
    )


@get("/web/apply/applicant", include_in_schema=False)
async def applicant(request: AnyRequest) -> Response[str]:
    party = await require(request)
    async with services(request).pool.acquire() as conn:
        mine = await _mine(request, conn, party)
    return _step_page(request, party, mine, "applicant", Form({}))


@post("/web/apply/applicant", include_in_schema=False)
async def create_application(request: AnyRequest) -> Response[str]:
    party = await require(request)
    form = await read_form(request, party)
    svc = services(request)
    async with svc.pool.acquire() as conn:
        mine = await _mine(request, conn, party)
        if mine is not None:  # one account, one application: its applicant is fixed
            return redirect("/web/apply") if mine.editable else _locked(request, party, mine)
        read = read_applicant(form)
        if read is None:
            return _step_page(request, party, None, "applicant", form, status=400)
        kind, name, country = read
        try:
            async with conn.transaction():
                customer = await svc.kyc.create_customer(
                    conn, name, kind, country, oidc=(party.session.issuer, party.subject)
                )
                await repo.log_access(conn, customer.id, _ip(request), "create", party.subject)
        except Conflict as exc:
            if exc.code == "application_exists":  # a second tab got there first
                return redirect("/web/apply")
            form.fail("name", "An applicant of this name is already registered: give the full legal name.")
            return _step_page(request, party, None, "applicant", form, status=409)
        except BadRequest as exc:
            return _step_page(request, party, None, "applicant", form, status=400, problem=exc.message)
    return redirect("/web/apply/details")


# -- step 2: details -----------------------------------------------------------------------------


@get("/web/apply/details", include_in_schema=False)
async def details(request: AnyRequest) -> Response[str]:
    found = await _draft(request)
    if isinstance(found, Response):
        return found
    party, mine = found
    form = Form(details_values(mine.view.facts))
    return _step_page(request, party, mine, "details", form, id_types=ID_TYPES)


@post("/web/apply/details", include_in_schema=False)
async def save_details(request: AnyRequest) -> Response[str]:
    party = await require(request)
    form = await read_form(request, party)
    svc = services(request)
    async with svc.pool.acquire() as conn:
        mine = await _pending(request, conn, party)
        if not isinstance(mine, Mine):
            return mine
        facts = read_details(form, mine.view.kind, svc.kyc.clock().date(), mine.view.facts)
        if facts is None:
            return _step_page(request, party, mine, "details", form, status=400, id_types=ID_TYPES)
        try:
            async with _change(conn, request, party, mine, "update_facts"):
                await svc.kyc.update_facts(conn, mine.id, facts)
        except Conflict as exc:
            return _locked(request, party, mine, exc.message)
        except BadRequest as exc:
            field, text = facts_error(exc.message)
            if field is not None and field in form.values:
                form.fail(field, text)
                return _step_page(request, party, mine, "details", form, status=400, id_types=ID_TYPES)
            return _step_page(
                request, party, mine, "details", form, status=400, problem=text, id_types=ID_TYPES
            )
    return redirect("/web/apply/addresses")


# -- step 3: addresses ---------------------------------------------------------------------------


def _address_in(a: Any) -> AddressIn:
    return AddressIn(
        line1=a.line1,
        city=a.city,
        country=a.country,
        line2=a.line2,
        region=a.region,
        postal_code=a.postal_code,
    )


@get("/web/apply/addresses", include_in_schema=False)
async def addresses(request: AnyRequest) -> Response[str]:
    found = await _draft(request)
    if isinstance(found, Response):
        return found
    party, mine = found
    return _step_page(request, party, mine, "addresses", Form({}))


@post("/web/apply/addresses", include_in_schema=False)
async def add_address(request: AnyRequest) -> Response[str]:
    party = await require(request)
    form = await read_form(request, party)
    svc = services(request)
    async with svc.pool.acquire() as conn:
        mine = await _pending(request, conn, party)
        if not isinstance(mine, Mine):
            return mine
        have = [_address_in(a) for a in (mine.view.facts.addresses if mine.view.facts else ())]
        address = read_address(form, len(have))
        if address is None:
            return _step_page(request, party, mine, "addresses", form, status=400)
        try:
            async with _change(conn, request, party, mine, "update_facts"):
                # The service replaces the list whole: all of them, the new one last.
                await svc.kyc.update_facts(conn, mine.id, _facts_with([*have, address]))
        except Conflict as exc:
            return _locked(request, party, mine, exc.message)
        except BadRequest as exc:
            field, text = facts_error(exc.message, address_index=len(have))
            if field is not None:
                form.fail(field, text)
                return _step_page(request, party, mine, "addresses", form, status=400)
            return _step_page(request, party, mine, "addresses", form, status=400, problem=text)
    return redirect("/web/apply/addresses")


def _facts_with(addresses: list[AddressIn]) -> FactsIn:
    return FactsIn(addresses=addresses)


@post("/web/apply/addresses/remove", include_in_schema=False)
async def remove_address(request: AnyRequest) -> Response[str]:
    party = await require(request)
    form = await read_form(request, party)
    svc = services(request)
    async with svc.pool.acquire() as conn:
        mine = await _pending(request, conn, party)
        if not isinstance(mine, Mine):
            return mine
        have = [_address_in(a) for a in (mine.view.facts.addresses if mine.view.facts else ())]
        raw = form.raw("index")
        if not raw.isdigit() or int(raw) >= len(have):
            raise NotFoundInStore("no such address on your application", code="address_not_found")
        if len(have) == 1:
            return _step_page(
                request,
                party,
                mine,
                "addresses",
                Form({}),
                status=400,
                problem="An application needs at least one address: add the new one, then remove this one.",
            )
        del have[int(raw)]
        try:
            async with _change(conn, request, party, mine, "update_facts"):
                await svc.kyc.update_facts(conn, mine.id, _facts_with(have))
        except Conflict as exc:
            return _locked(request, party, mine, exc.message)
    return redirect("/web/apply/addresses")


# -- step 4: beneficial owners -------------------------------------------------------------------


def _owner_rows(mine: Mine) -> list[tuple[Owner, float | None, str | None]]:
    """Each owner with what it holds of the customer directly (nested links: the operator's)."""
    direct = {e.owner_id: e for e in mine.view.edges if e.owned_id is None}
    return [
        (o, direct[o.id].percent if o.id in direct else None, direct[o.id].role if o.id in direct else None)
        for o in mine.view.owners
    ]


def _owners_page(
    request: AnyRequest, party: Party, mine: Mine, form: Form, status: int = 200, problem: str | None = None
) -> Response[str]:
    return _step_page(
        request,
        party,
        mine,
        "owners",
        form,
        status=status,
        problem=problem,
        held=direct_percent(mine.view.edges),
        owner_kinds=OWNER_KINDS,
        roles=ROLE_OPTIONS,
    )


@get("/web/apply/owners", include_in_schema=False)
async def owners(request: AnyRequest) -> Response[str]:
    found = await _draft(request)
    if isinstance(found, Response):
        return found
    party, mine = found
    return _owners_page(request, party, mine, Form({"kind": "person"}))


@post("/web/apply/owners", include_in_schema=False)
async def add_owner(request: AnyRequest) -> Response[str]:
    party = await require(request)
    form = await read_form(request, party)
    svc = services(request)
    async with svc.pool.acquire() as conn:
        mine = await _pending(request, conn, party)
        if not isinstance(mine, Mine):
            return mine
        if mine.view.kind == "individual":
            raise BadRequest("an individual declares no beneficial owners", code="invalid_owner")
        owner = read_owner(form, svc.kyc.clock().date(), direct_percent(mine.view.edges))
        if owner is None:
            return _owners_page(request, party, mine, form, 400)
        try:
            async with _change(conn, request, party, mine, "add_owner"):
                # The sum is checked again under the lock: two tabs cannot pass 100 % together.
                edges = await repo.edges(conn, mine.id)
                if owner.percent is not None and direct_percent(edges) + owner.percent > 100 + 1e-9:
                    raise BadRequest("the direct owners would hold more than 100%", code="invalid_owner")
                await svc.kyc.add_owner(conn, mine.id, owner)
        except Conflict as exc:
            return _locked(request, party, mine, exc.message)
        except BadRequest as exc:
            return _owners_page(request, party, mine, form, 400, problem=exc.message)
    return redirect("/web/apply/owners")


@post("/web/apply/owners/{owner_id:uuid}/remove", include_in_schema=False)
async def remove_owner(request: AnyRequest, owner_id: uuid.UUID) -> Response[str]:
    party = await require(request)
    await read_form(request, party)
    svc = services(request)
    async with svc.pool.acquire() as conn:
        mine = await _pending(request, conn, party)
        if not isinstance(mine, Mine):
            return mine
        try:
            async with _change(conn, request, party, mine, "remove_owner"):
                await svc.kyc.remove_owner(conn, mine.id, owner_id)  # owner_not_found: not in *this* graph
        except Conflict as exc:
            return _locked(request, party, mine, exc.message)
    return redirect("/web/apply/owners")


# -- step 5: identity verification, step 6: review and submit ----------------------------------


@get("/web/apply/verification", include_in_schema=False)
async def verification(request: AnyRequest) -> Response[str]:
    party = await require(request)
    async with services(request).pool.acquire() as conn:
        mine = await _mine(request, conn, party)
    if mine is None:
        return redirect("/web/apply")
    providers = [p.name for p in runtime(request).settings.kyc_providers]
    return _step_page(request, party, mine, "verification", None, providers=providers)


@get("/web/apply/review", include_in_schema=False)
async def review(request: AnyRequest) -> Response[str]:
    found = await _draft(request)
    if isinstance(found, Response):
        return found
    party, mine = found
    return _step_page(request, party, mine, "review", None)


@post("/web/apply/submit", include_in_schema=False)
async def submit(request: AnyRequest) -> Response[str]:
    party = await require(request)
    await read_form(request, party)
    svc = services(request)
    async with svc.pool.acquire() as conn:
        mine = await _pending(request, conn, party)
        if not isinstance(mine, Mine):
            return mine
        try:
            async with _change(conn, request, party, mine, "submit"):
                await svc.kyc.submit(conn, mine.id, party.actor, require_facts=True)
        except Conflict as exc:
            if exc.code == "application_locked":
                return _locked(request, party, mine, exc.message)
            problem = "Your application is not complete yet: " + exc.message.removeprefix(
                "the application is incomplete: "
            )
            return _step_page(request, party, mine, "review", None, status=409, problem=problem)
    return redirect("/web/apply")


apply_routes = [
    overview,
    applicant,
    create_application,
    details,
    save_details,
    addresses,
    add_address,
    remove_address,
    owners,
    add_owner,
    remove_owner,
    verification,
    review,
    submit,
]
