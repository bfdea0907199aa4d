"""The admin API's detection routes (``/admin/v1/detect``): flagged clusters, their review, an
operator's actions and reversals, and runs on demand. Same token, guard and audit as the rest of the
admin API; the CLI (``gateway detect``) offers the same operations."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec
from litestar import get, post
from litestar.params import Parameter

from ..detect.actions import reverse
from ..detect.findings import CLUSTER_STATUSES
from ..detect.repository import (
    Action,
    Cluster,
    ClusterDetail,
    cluster_detail,
    list_clusters,
)
from ..detect.review import act, review
from ..detect.runner import Outcome
from ..errors import Conflict
from ..kyc.models import DecisionIn
from ..policy.detection import ActionName
from .admin import RowId, _guard, admin_actor
from .common import AnyRequest, decode_body, services_of
from .openapi import admin_api


class ReviewIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``confirm``: the detector is right; ``dismiss``: a false alert (its automatic actions are reversed)."""

    verdict: Literal["confirm", "dismiss"]
    reason: str


class ActIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """An operator's action on every member of the cluster, or on one (``customer``)."""

    action: ActionName
    reason: str
    customer: uuid.UUID | None = None


class RunIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The window to score (RFC 3339 with an offset); by default the policy's ``window_days`` up to now."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@get("/admin/v1/detect/clusters", guards=[_guard], **admin_api(400))
async def clusters(
    request: AnyRequest,
    status: Annotated[str | None, Parameter(schema_extra={"enum": list(CLUSTER_STATUSES)})] = None,
) -> list[Cluster]:
    """As ``gateway detect clusters --json``: newest flagged first."""
    async with services_of(request).pool.acquire() as conn:
        return await list_clusters(conn, status)


@get("/admin/v1/detect/clusters/{cluster_id:uuid}", guards=[_guard], **admin_api(404))
async def cluster(request: AnyRequest, cluster_id: uuid.UUID) -> ClusterDetail:
    """As ``gateway detect show --json``: members, score, signals, reasons, links and actions."""
    async with services_of(request).pool.acquire() as conn:
        return await cluster_detail(conn, cluster_id)


@post(
    "/admin/v1/detect/clusters/{cluster_id:uuid}/review",
    guards=[_guard],
    status_code=200,
    **admin_api(404, 409, body=ReviewIn),
)
async def review_cluster(request: AnyRequest, cluster_id: uuid.UUID) -> ClusterDetail:
    body = await decode_body(request, ReviewIn)
    services = services_of(request)
    async with services.pool.acquire() as conn:
        return await review(
            conn,
            services.kyc,
            cluster_id,
            body.verdict,
            actor=admin_actor(request),
            reason=body.reason,
            now=_now(),
        )


@post(
    "/admin/v1/detect/clusters/{cluster_id:uuid}/actions",
    guards=[_guard],
    status_code=201,
    **admin_api(404, 409, body=ActIn),
)
async def act_on_cluster(request: AnyRequest, cluster_id: uuid.UUID) -> list[Action]:
    body = await decode_body(request, ActIn)
    services = services_of(request)
    rpm = services.policies.policy.detection.actions.throttle_requests_per_minute
    async with services.pool.acquire() as conn:
        return await act(
            conn,
            services.kyc,
            cluster_id,
            body.action,
            actor=admin_actor(request),
            reason=body.reason,
            throttle_rpm=rpm,
            now=_now(),
            customer_id=body.customer,
        )


@post(
    "/admin/v1/detect/actions/{action_id:int}/reverse",
    guards=[_guard],
    status_code=200,
    **admin_api(404, 409, body=DecisionIn),
)
async def reverse_action(request: AnyRequest, action_id: RowId) -> Action:
    """Undo what the action changed, if nothing else changed since (the answer's ``effect.undone``)."""
    body = await decode_body(request, DecisionIn)
    services = services_of(request)
    async with services.pool.acquire() as conn:
        return await reverse(
            conn, services.kyc, action_id, actor=admin_actor(request), reason=body.reason, now=_now()
        )


@post("/admin/v1/detect/runs", guards=[_guard], status_code=201, **admin_api(409, body=RunIn))
async def run(request: AnyRequest) -> Outcome:
    """Run the detector now (``since`` reruns history), after a run in progress; 409 ``detection_off``."""
    body = await decode_body(request, RunIn)
    outcome = await services_of(request).detector.run(body.since, body.until)
    if outcome.status == "off":
        raise Conflict('detection is off in the policy ([detection] mode = "off")', code="detection_off")
    if outcome.status == "busy":
        raise Conflict("another replica is running the detector now; try again shortly", code="detector_busy")
    return outcome


detect_routes = [clusters, cluster, review_cluster, act_on_cluster, reverse_action, run]
