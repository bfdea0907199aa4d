"""The web pages (``/web``): customer onboarding and account, the operator console, the regulator
portal. Server-rendered, no script needed; signed in with OIDC (``signin``), every page scoped to
the signed-in party (``common``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Litestar, Router
from litestar.static_files import create_static_files_router

from ..errors import GatewayError
from .account import account_routes
from .apply import apply_routes
from .common import SignInNeeded, on_gateway_error, on_sign_in_needed
from .console import console_routes
from .regulator import regulator_routes
from .signin import WebAuth, signin_routes

__all__ = ["close_web", "web_routes"]

_handlers: list[Any] = [*signin_routes, *apply_routes, *account_routes, *console_routes, *regulator_routes]

web_routes: list[Any] = [
    Router(
        path="/",
        route_handlers=_handlers,
        exception_handlers={GatewayError: on_gateway_error, SignInNeeded: on_sign_in_needed},
    ),
    create_static_files_router(
        path="/web/static",
        directories=[Path(__file__).parent / "static"],
        name="web_static",
        include_in_schema=False,
        after_request=None,
    ),
]


async def close_web(app: Litestar) -> None:
    auth: WebAuth | None = app.state.get("web_auth")
    if auth is not None:
        await auth.close()
