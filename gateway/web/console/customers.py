"""The review queue, the customers list and one customer's page: facts beside screening hits, the
ownership graph, decisions with their reason, the status history, entitlements and quotas.

Every read and decision goes through the KYC service, the quota report and the override store the
admin API and the CLI use; the actor is ``operator:<subject>``.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from litestar import Response, get, post
from markupsafe import Markup

from ...errors import BadRequest, Conflict, NotFoundInStore
from ...identity.repository import list_customers
from ...kyc.models import Review
from ...kyc.repository import policy_facts
from ...kyc.service import Action
from ...policy.decide import compile_entitlement
from ...quota.model import DIMENSIONS, PERIODS, SCOPES
from ...quota.overrides import list_overrides
from ...quota.report import quota_view
from ...runtime import Services
from ..common import AnyRequest, Party, page, read_form, redirect, require, services
from ..forms import Form
from ..graph import ROOT, GraphEdge, GraphNode, layout, svg
from .shared import BASE, customer_path, parse_id, read_reason

__all__ = ["customer_routes", "render_customer"]

DECISIONS: dict[str, str] = {
    "approve": "Approve",
    "request_info": "Request information",
    "reject": "Reject",
    "suspend": "Suspend",
    "reinstate": "Reinstate",
    "reopen": "Reopen",
}
_ACTIONS: dict[str, Action] = {
    "approve": "approve",
    "request_info": "request_info",
    "reject": "reject",
    "suspend": "suspend",
    "reinstate": "reinstate",
    "reopen": "reopen",
}
VERDICTS = {"confirm": "Confirm the match", "dismiss": "Dismiss as a false positive"}
LEVELS = {"standard": "Standard due diligence", "enhanced": "Enhanced due diligence"}
WINDOWS: dict[str, str] = {**{p: f"per {p}" for p in PERIODS}, "rolling": "rolling days"}
# What a redirect after a decision says; only these keys are shown, never text from the URL.
DONE = {
    "approve": "Approved: the customer is verified.",
    "request_info": "Information requested: the application is back with the customer.",
    "reject": "Rejected.",
    "suspend": "Suspended.",
    "reinstate": "Reinstated: the customer is verified again.",
    "reopen": "Reopened: the application is pending again.",
    "confirm": "The screening hit is confirmed.",
    "dismiss": "The screening hit is dismissed.",
    "level": "The due-diligence level is set.",
    "override": "The quota override is saved.",
    "override_removed": "The quota override is removed.",
}
MAX_LISTED = 500


def ownership_svg(review: Review) -> tuple[Markup, list[str]]:
    """The graph as a picture and the same facts as sentences (listed owners marked in both)."""
    listed = {
        str(h.subject_id)
        for h in review.status.screening.hits
        if h.subject_type == "owner" and h.state in ("open", "confirmed")
    }
    nodes = [
        GraphNode(str(o.id), o.name or "(erased)", o.kind, listed=str(o.id) in listed) for o in review.owners
    ]
    edges = [
        GraphEdge(str(e.owner_id), ROOT if e.owned_id is None else str(e.owned_id), e.percent, e.role)
        for e in review.edges
    ]
    drawing = layout(review.status.name, nodes, edges)
    # svg() escapes every name it writes: the markup is ours.
    return Markup(svg(drawing)), drawing.sentences  # noqa: S704


async def customer_context(svc: Services, conn: asyncpg.Connection, customer_id: uuid.UUID) -> dict[str, Any]:
    review = await svc.kyc.review(conn, customer_id)  # customer_not_found for an unknown id
    policy = svc.policies.policy
    facts = await policy_facts(conn, customer_id)
    picture, sentences = ownership_svg(review)
    names = {str(o.id): o.name or "(erased)" for o in review.owners}
    return {
        "review": review,
        "kyc": review.status,
        "facts": review.facts,
        "owner_names": names,
        "graph_svg": picture,
        "graph_sentences": sentences,
        "entitlement": compile_entitlement(facts, policy),
        "quota": await quota_view(conn, customer_id, facts, policy),
        "overrides": await list_overrides(conn, customer_id),
    }


async def render_customer(
    request: AnyRequest,
    party: Party,
    customer_id: uuid.UUID,
    *,
    form: Form | None = None,
    status: int = 200,
    problem: str | None = None,
    notice: str | None = None,
) -> Response[str]:
    """The customer's page; after a refused form, with its messages and the values typed."""
    svc = services(request)
    async with svc.pool.acquire() as conn:
        context = await customer_context(svc, conn, customer_id)
    return page(
        "console/customer.html",
        request,
        party,
        status=status,
        form=form,
        problem=problem,
        notice=notice,
        decisions=DECISIONS,
        verdicts=VERDICTS,
        levels=LEVELS,
        dimensions={d: d.replace("_", " ") for d in DIMENSIONS},
        windows=WINDOWS,
        scopes={s: s for s in reversed(SCOPES)},
        base=BASE,
        **context,
    )


@get(BASE + "/queue", include_in_schema=False)
async def queue(request: AnyRequest) -> Response[str]:
    party = await require(request, "operator")
    svc = services(request)
    async with svc.pool.acquire() as conn:
        items = await svc.kyc.queue(conn)
    return page("console/queue.html", request, party, items=items, base=BASE)


@get(BASE + "/customers", include_in_schema=False)
async def customers(request: AnyRequest) -> Response[str]:
    """Every customer, or those whose name (or id) holds the search words."""
    party = await require(request, "operator")
    query = (request.query_params.get("q") or "").strip()[:200]
    async with services(request).pool.acquire() as conn:
        everyone = await list_customers(conn)
    needle = query.casefold()
    found = [c for c in everyone if needle in c.name.casefold() or str(c.id).startswith(needle)]
    found.sort(key=lambda c: c.created_at, reverse=True)
    return page(
        "console/customers.html",
        request,
        party,
        query=query,
        found=found[:MAX_LISTED],
        total=len(found),
        limit=MAX_LISTED,
        base=BASE,
    )


@get(BASE + "/customers/{customer_id:str}", include_in_schema=False)
async def customer(request: AnyRequest, customer_id: str) -> Response[str]:
    party = await require(request, "operator")
    done = request.query_params.get("done")
    return await render_customer(request, party, parse_id(customer_id), notice=DONE.get(done or ""))


@post(BASE + "/customers/{customer_id:str}/decision", include_in_schema=False)
async def decide(request: AnyRequest, customer_id: str) -> Response[str]:
    """Approve, reject, request information (or suspend, reinstate, reopen), always with a reason."""
    party = await require(request, "operator")
    form = await read_form(request, party)
    cid = parse_id(customer_id)
    action = form.choice("action", "decision", DECISIONS)
    reason = read_reason(form)
    if not form.ok or action is None or reason is None:
        return await render_customer(request, party, cid, form=form, status=400)
    svc = services(request)
    try:
        async with svc.pool.acquire() as conn:
            await svc.kyc.decide(conn, cid, _ACTIONS[action], party.actor, reason)
    except (Conflict, BadRequest) as exc:  # not allowed now (open hits, wrong state): said on the page
        return await render_customer(request, party, cid, form=form, status=exc.status, problem=exc.message)
    return redirect(f"{customer_path(cid)}?done={action}#decision")


def _hit_id(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 2**63 - 1:
        raise NotFoundInStore(f"no screening hit {value[:30]!r}", code="hit_not_found")
    return int(value)


@post(BASE + "/customers/{customer_id:str}/hits/{hit_id:str}", include_in_schema=False)
async def decide_hit(request: AnyRequest, customer_id: str, hit_id: str) -> Response[str]:
    """Confirm or dismiss one of this customer's hits (another customer's hit is not found)."""
    party = await require(request, "operator")
    form = await read_form(request, party)
    cid, hid = parse_id(customer_id), _hit_id(hit_id)
    verdict = form.choice("verdict", "verdict", VERDICTS)
    reason = read_reason(form, f"hit{hid}_reason")
    if not form.ok or verdict is None or reason is None:
        return await render_customer(request, party, cid, form=form, status=400)
    svc = services(request)
    try:
        async with svc.pool.acquire() as conn:
            await svc.kyc.decide_hit(conn, hid, verdict == "confirm", party.actor, reason, customer_id=cid)
    except (Conflict, BadRequest) as exc:
        return await render_customer(request, party, cid, form=form, status=exc.status, problem=exc.message)
    return redirect(f"{customer_path(cid)}?done={verdict}#screening")


@post(BASE + "/customers/{customer_id:str}/level", include_in_schema=False)
async def set_level(request: AnyRequest, customer_id: str) -> Response[str]:
    """Standard or enhanced due diligence, as ``gateway kyc level`` sets it."""
    party = await require(request, "operator")
    form = await read_form(request, party)
    cid = parse_id(customer_id)
    level = form.choice("level", "due-diligence level", LEVELS)
    reason = read_reason(form, "level_reason")
    if not form.ok or level is None or reason is None:
        return await render_customer(request, party, cid, form=form, status=400)
    svc = services(request)
    async with svc.pool.acquire() as conn:
        await svc.kyc.set_level(conn, cid, level, party.actor, reason)
    return redirect(f"{customer_path(cid)}?done=level#entitlements")


customer_routes = [queue, customers, customer, decide, decide_hit, set_level]
