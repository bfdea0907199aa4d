"""Live usage and denials: per customer, the calls, tokens and refusals (by error code) of the last
hour and the last 24 hours, and the latest refused calls, all read from the ledger."""

from __future__ import annotations

import datetime as dt

from litestar import Response, get

from ...identity.repository import list_customers
from ...ledger.repository import CustomerTraffic, recent_refusals, traffic
from ..common import AnyRequest, page, require, services
from .shared import BASE

__all__ = ["usage_routes"]

RECENT = 50


def _sorted(rows: list[CustomerTraffic]) -> list[CustomerTraffic]:
    return sorted(rows, key=lambda r: (-r.requests, str(r.customer_id)))


@get(BASE + "/usage", include_in_schema=False)
async def usage(request: AnyRequest) -> Response[str]:
    party = await require(request, "operator")
    now = dt.datetime.now(dt.UTC)
    until = now + dt.timedelta(seconds=1)  # the period ends now, this second included
    async with services(request).pool.acquire() as conn:
        hour = await traffic(conn, since=now - dt.timedelta(hours=1), until=until)
        day = await traffic(conn, since=now - dt.timedelta(days=1), until=until)
        refused = await recent_refusals(conn, since=now - dt.timedelta(days=1), limit=RECENT)
        names = {c.id: c.name for c in await list_customers(conn)}
    periods = [("hour", "Last hour", _sorted(hour)), ("day", "Last 24 hours", _sorted(day))]
    return page(
        "console/usage.html",
        request,
        party,
        periods=periods,
        refused=refused,
        names=names,
        recent=RECENT,
        base=BASE,
    )


usage_routes = [usage]
