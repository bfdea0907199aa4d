"""A customer's quota overrides from the console: add one (a dimension, a limit, a period or a number
of rolling days, for the customer or one of its projects or keys) or remove one, through the same
override store as ``gateway quota set`` and the admin API (each change audited there)."""

from __future__ import annotations

from litestar import Response, post

from ...errors import BadRequest, NotFoundInStore
from ...quota.model import DIMENSIONS, PERIODS, SCOPES
from ...quota.overrides import delete_override, set_override, time_zone
from ..common import AnyRequest, read_form, redirect, require, services
from ..forms import Form
from .customers import WINDOWS, render_customer
from .shared import BASE, customer_path, parse_id

__all__ = ["quota_routes"]

MAX_ROLLING_DAYS = 3660


class OverrideForm:
    """The override form's fields, read and checked as a whole before anything is saved."""

    def __init__(self, form: Form) -> None:
        self.dimension = form.choice("dimension", "dimension", {d: d for d in DIMENSIONS})
        self.limit = form.number("limit", "limit", minimum=0)
        self.window = form.choice("window", "window", WINDOWS)
        self.rolling_days: int | None = None
        self.period: str | None = None
        if self.window == "rolling":
            days = form.number("rolling_days", "number of rolling days", minimum=1)
            if days is not None:
                if days != int(days) or days > MAX_ROLLING_DAYS:
                    form.fail(
                        "rolling_days",
                        f"The number of rolling days must be a whole number from 1 to {MAX_ROLLING_DAYS}.",
                    )
                else:
                    self.rolling_days = int(days)
        elif self.window in PERIODS:
            self.period = self.window
            if form.raw("rolling_days"):
                form.fail("rolling_days", "Leave the rolling days empty when the window is a period.")
        self.scope = form.choice("scope", "scope", {s: s for s in SCOPES})
        self.scope_name = form.text("scope_name", "project or key", required=self.scope in ("project", "key"))
        if self.scope == "customer" and self.scope_name is not None:
            form.fail("scope_name", "Leave the project or key empty for an override of the whole customer.")
        self.hard = form.raw("hard") == "on"


@post(BASE + "/customers/{customer_id:str}/overrides", include_in_schema=False)
async def add_override(request: AnyRequest, customer_id: str) -> Response[str]:
    party = await require(request, "operator")
    form = await read_form(request, party)
    cid = parse_id(customer_id)
    fields = OverrideForm(form)
    if not form.ok or fields.dimension is None or fields.limit is None or fields.scope is None:
        return await render_customer(request, party, cid, form=form, status=400)
    try:
        async with services(request).pool.acquire() as conn, conn.transaction():
            await time_zone(conn, cid)  # customer_not_found rather than a foreign key error
            await set_override(
                conn,
                cid,
                dimension=fields.dimension,
                limit=fields.limit,
                period=fields.period,
                rolling_days=fields.rolling_days,
                scope=fields.scope,
                scope_name=fields.scope_name,
                hard=fields.hard,
                actor=party.actor,
            )
    except NotFoundInStore as exc:
        if exc.code == "customer_not_found":
            raise
        form.fail("scope_name", exc.message[:1].upper() + exc.message[1:] + ".")
        return await render_customer(request, party, cid, form=form, status=400)
    except BadRequest as exc:  # what the store refuses that the form did not catch
        return await render_customer(request, party, cid, form=form, status=400, problem=exc.message)
    return redirect(f"{customer_path(cid)}?done=override#quotas")


@post(BASE + "/customers/{customer_id:str}/overrides/{override_id:str}/delete", include_in_schema=False)
async def remove_override(request: AnyRequest, customer_id: str, override_id: str) -> Response[str]:
    party = await require(request, "operator")
    await read_form(request, party)
    cid = parse_id(customer_id)
    if not override_id.isdigit() or not 1 <= int(override_id) <= 2**63 - 1:
        raise NotFoundInStore(
            f"this customer has no override {override_id[:30]!r}", code="override_not_found"
        )
    async with services(request).pool.acquire() as conn:
        if not await delete_override(conn, cid, int(override_id), actor=party.actor):
            raise NotFoundInStore(f"this customer has no override {override_id}", code="override_not_found")
    return redirect(f"{customer_path(cid)}?done=override_removed#quotas")


quota_routes = [add_override, remove_override]
