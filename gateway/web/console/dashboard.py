"""The console's front page: how long the review queue is, the open detection clusters, the
training-scale flags raised and the latest refused calls, each with a link to its page."""

from __future__ import annotations

import datetime as dt

from litestar import Response, get

from ...compute.flagger import raised_flags
from ...detect.repository import list_clusters
from ...identity.repository import list_customers
from ...ledger.repository import recent_refusals
from ..common import AnyRequest, page, require, services
from .shared import BASE

__all__ = ["dashboard_routes"]


@get(BASE, include_in_schema=False)
async def dashboard(request: AnyRequest) -> Response[str]:
    party = await require(request, "operator")
    svc = services(request)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    async with svc.pool.acquire() as conn:
        queue = await svc.kyc.queue(conn)
        clusters = await list_clusters(conn, "open")
        flags = await raised_flags(conn)
        refused = await recent_refusals(conn, since=since, limit=10)
        names = {c.id: c.name for c in await list_customers(conn)}
    return page(
        "console/dashboard.html",
        request,
        party,
        queue=queue,
        open_clusters=clusters,
        flags=flags,
        refused=refused,
        names=names,
        base=BASE,
    )


dashboard_routes = [dashboard]
