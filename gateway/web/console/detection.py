"""Training-scale flags and detection clusters: the flags raised (and where every linked group stands
now, as ``gateway compute flags`` computes it), the clusters the detector recorded, and one cluster's
evidence (score, signals, reasons, links, members, actions) with the review the admin API offers:
confirm or dismiss with a reason, act on the members, reverse an action."""

from __future__ import annotations

import datetime as dt
import time
import uuid

from litestar import Response, get, post

from ...compute.flagger import raised_flags
from ...compute.records import accounting_pass
from ...detect.actions import reverse
from ...detect.findings import CLUSTER_STATUSES
from ...detect.repository import cluster_detail, get_action, list_clusters
from ...detect.review import act, review
from ...errors import BadRequest, Conflict, NotFoundInStore
from ...identity.repository import list_customers
from ...policy.detection import ACTION_NAMES
from ..common import AnyRequest, Party, page, read_form, redirect, require, services
from ..forms import Form
from .shared import BASE, parse_id, read_reason

__all__ = ["detection_routes"]

VERDICTS = {"confirm": "Confirm: the detector is right", "dismiss": "Dismiss: a false alert"}
ACTIONS: dict[str, str] = {a: a for a in ACTION_NAMES}
DONE = {
    "confirm": "The cluster is confirmed.",
    "dismiss": "The cluster is dismissed; its automatic actions are reversed.",
    "act": "The action is taken.",
    "reverse": "The action is reversed.",
}


def _cluster_path(cluster_id: uuid.UUID) -> str:
    return f"{BASE}/clusters/{cluster_id}"


@get(BASE + "/flags", include_in_schema=False)
async def flags(request: AnyRequest) -> Response[str]:
    party = await require(request, "operator")
    wanted = request.query_params.get("status")
    status = wanted if wanted in CLUSTER_STATUSES else None
    svc = services(request)
    async with svc.pool.acquire() as conn:
        clusters = await list_clusters(conn, status, limit=200)
        raised = await raised_flags(conn)
        now = await accounting_pass(conn, svc.policies.policy, now=time.time())
        names = {str(c.id): c.name for c in await list_customers(conn)}
    return page(
        "console/flags.html",
        request,
        party,
        clusters=clusters,
        shown=status,
        statuses=CLUSTER_STATUSES,
        raised=raised,
        current=now.flags,
        names=names,
        base=BASE,
    )


async def render_cluster(
    request: AnyRequest,
    party: Party,
    cluster_id: uuid.UUID,
    *,
    form: Form | None = None,
    status: int = 200,
    problem: str | None = None,
    notice: str | None = None,
) -> Response[str]:
    async with services(request).pool.acquire() as conn:
        detail = await cluster_detail(conn, cluster_id)  # cluster_not_found for an unknown id
        names = {str(c.id): c.name for c in await list_customers(conn)}
    return page(
        "console/cluster.html",
        request,
        party,
        status=status,
        detail=detail,
        cluster=detail.cluster,
        names=names,
        form=form,
        problem=problem,
        notice=notice,
        verdicts=VERDICTS,
        actions=ACTIONS,
        members={"": "every member", **{str(m): names.get(str(m), str(m)) for m in detail.cluster.members}},
        base=BASE,
    )


@get(BASE + "/clusters/{cluster_id:str}", include_in_schema=False)
async def cluster(request: AnyRequest, cluster_id: str) -> Response[str]:
    party = await require(request, "operator")
    done = request.query_params.get("done") or ""
    return await render_cluster(request, party, parse_id(cluster_id, "cluster"), notice=DONE.get(done))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@post(BASE + "/clusters/{cluster_id:str}/review", include_in_schema=False)
async def review_cluster(request: AnyRequest, cluster_id: str) -> Response[str]:
    party = await require(request, "operator")
    form = await read_form(request, party)
    cid = parse_id(cluster_id, "cluster")
    verdict = form.choice("verdict", "verdict", VERDICTS)
    reason = read_reason(form, "review_reason")
    if not form.ok or reason is None or verdict not in ("confirm", "dismiss"):
        return await render_cluster(request, party, cid, form=form, status=400)
    svc = services(request)
    try:
        async with svc.pool.acquire() as conn:
            await review(
                conn,
                svc.kyc,
                cid,
                "confirm" if verdict == "confirm" else "dismiss",
                actor=party.actor,
                reason=reason,
                now=_now(),
            )
    except (Conflict, BadRequest) as exc:
        return await render_cluster(request, party, cid, form=form, status=exc.status, problem=exc.message)
    return redirect(f"{_cluster_path(cid)}?done={verdict}")


@post(BASE + "/clusters/{cluster_id:str}/act", include_in_schema=False)
async def act_on_cluster(request: AnyRequest, cluster_id: str) -> Response[str]:
    party = await require(request, "operator")
    form = await read_form(request, party)
    cid = parse_id(cluster_id, "cluster")
    action = form.choice("action", "action", ACTIONS)
    member = form.raw("member")
    customer: uuid.UUID | None = None
    if member:
        try:
            customer = uuid.UUID(member)
        except ValueError:
            form.fail("member", "Choose a member of the cluster, or every member.")
    reason = read_reason(form, "act_reason")
    if not form.ok or action is None or reason is None:
        return await render_cluster(request, party, cid, form=form, status=400)
    svc = services(request)
    rpm = svc.policies.policy.detection.actions.throttle_requests_per_minute
    try:
        async with svc.pool.acquire() as conn:
            await act(
                conn,
                svc.kyc,
                cid,
                action,
                actor=party.actor,
                reason=reason,
                throttle_rpm=rpm,
                now=_now(),
                customer_id=customer,
            )
    except (Conflict, BadRequest) as exc:
        return await render_cluster(request, party, cid, form=form, status=exc.status, problem=exc.message)
    return redirect(f"{_cluster_path(cid)}?done=act")


@post(BASE + "/clusters/{cluster_id:str}/actions/{action_id:str}/reverse", include_in_schema=False)
async def reverse_action(request: AnyRequest, cluster_id: str, action_id: str) -> Response[str]:
    party = await require(request, "operator")
    form = await read_form(request, party)
    cid = parse_id(cluster_id, "cluster")
    if not action_id.isdigit() or not 1 <= int(action_id) <= 2**63 - 1:
        raise NotFoundInStore(f"no detection action {action_id[:30]!r}", code="action_not_found")
    aid = int(action_id)
    svc = services(request)
    async with svc.pool.acquire() as conn:
        found = await get_action(conn, aid)
    if found.cluster_id != cid:  # another cluster's action is not found from this page
        raise NotFoundInStore(f"no detection action {aid} in this cluster", code="action_not_found")
    reason = read_reason(form, f"reverse{aid}_reason")
    if not form.ok or reason is None:
        return await render_cluster(request, party, cid, form=form, status=400)
    try:
        async with svc.pool.acquire() as conn:
            await reverse(conn, svc.kyc, aid, actor=party.actor, reason=reason, now=_now())
    except (Conflict, BadRequest) as exc:
        return await render_cluster(request, party, cid, form=form, status=exc.status, problem=exc.message)
    return redirect(f"{_cluster_path(cid)}?done=reverse")


detection_routes = [flags, cluster, review_cluster, act_on_cluster, reverse_action]
