"""Signing in to the web pages: OIDC authorization code with PKCE (RFC 7636, S256), via authlib.

``/web/login`` keeps a new state, PKCE verifier and nonce on the server (``sessions.begin_login``)
and sends the browser to the provider; ``/web/callback`` takes that sign-in back (once), exchanges
the code with the verifier, and accepts the ID token only if it is signed by the issuer's published
keys, for this client, unexpired, with the same nonce (the validator of ``auth/oidc.py``). The
session opened then lives in PostgreSQL; the browser holds only its random token, in a cookie that
is ``Secure``, ``HttpOnly`` and ``SameSite=Lax`` (sent on the provider's redirect back, a top-level
GET, and on nothing another site posts).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from typing import Annotated, Any

import httpx2
import msgspec
import structlog
from authlib.integrations.base_client.errors import OAuthError  # type: ignore[import-untyped]
from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]
from litestar import Response, get, post
from litestar.datastructures import Cookie
from litestar.params import Parameter

from ..audit.entry import entry as audit_entry
from ..auth import OIDCValidator
from ..errors import BadRequest, GatewayError, ServiceUnavailable, Unauthorized
from ..settings import Settings
from .common import COOKIE, AnyRequest, page, party_of, read_form, redirect, runtime, services
from .roles import party_roles, roles_in
from .sessions import begin_login, close_session, open_session, take_login

__all__ = ["WebAuth", "signin_routes"]

_log = structlog.get_logger(__name__)
_DISCOVERY_SECONDS = 3600.0
_TIMEOUT = 10.0  # seconds, each request to the provider


class _Endpoints(msgspec.Struct, frozen=True):
    issuer: str
    authorization_endpoint: str
    token_endpoint: str


class SignInFailed(GatewayError):
    status = 401
    type = "authentication_error"
    code = "sign_in_failed"


class WebAuth:
    """The provider's endpoints (from discovery, cached) and the ID-token validator, per app."""

    def __init__(self, settings: Settings) -> None:
        assert settings.oidc_issuer is not None and settings.web_client_id is not None
        self.settings = settings
        self.issuer = settings.oidc_issuer
        self.client_id = settings.web_client_id
        self.redirect_uri = (settings.web_public_url or "").rstrip("/") + "/web/callback"
        # The ID token's audience is this client (OIDC Core 3.1.3.7), not the onboarding API's.
        self.validator = OIDCValidator(self.issuer, self.client_id, settings.oidc_algorithms)
        self._endpoints: _Endpoints | None = None
        self._fetched = float("-inf")
        self._lock = asyncio.Lock()

    def client(self) -> AsyncOAuth2Client:
        env = self.settings.web_client_secret_env
        secret = (os.environ.get(env) or None) if env is not None else None
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=secret,
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
            scope="openid",
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=_TIMEOUT,
        )

    async def endpoints(self) -> _Endpoints:
        async with self._lock:
            if self._endpoints is None or time.monotonic() - self._fetched > _DISCOVERY_SECONDS:
                url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
                try:
                    async with httpx2.AsyncClient(timeout=_TIMEOUT) as http:
                        answer = await http.get(url)
                    answer.raise_for_status()
                    found = msgspec.json.decode(answer.content, type=_Endpoints)
                except (httpx2.HTTPError, msgspec.ValidationError, msgspec.DecodeError) as exc:
                    if self._endpoints is not None:
                        return self._endpoints  # the provider is down: its endpoints rarely move
                    raise ServiceUnavailable(
                        f"the identity provider cannot be reached ({type(exc).__name__}); try again shortly",
                        code="identity_provider_unavailable",
                    ) from None
                if found.issuer != self.issuer:
                    raise ServiceUnavailable(
                        f"the identity provider names itself {found.issuer!r}, not {self.issuer!r}",
                        code="identity_provider_unavailable",
                    )
                self._endpoints, self._fetched = found, time.monotonic()
            return self._endpoints

    async def close(self) -> None:
        await self.validator.close()


def web_auth(request: AnyRequest) -> WebAuth:
    state = request.app.state
    auth: WebAuth | None = state.get("web_auth")
    if auth is None:
        auth = state["web_auth"] = WebAuth(runtime(request).settings)
    return auth


def _return_to(value: str | None) -> str:
    """Back to a page of ours only: an absolute or protocol-relative URL here would be an open redirect."""
    if value and value.startswith("/web") and not value.startswith("//") and "\\" not in value:
        return value[:1000]
    return "/web/"


@get("/web/login", include_in_schema=False)
async def login(
    request: AnyRequest, next_page: Annotated[str | None, Parameter(query="next")] = None
) -> Response[str]:
    if runtime(request).settings.web_client_id is None:
        raise BadRequest("the web pages are disabled: set web_client_id", code="web_disabled", status=403)
    auth = web_auth(request)
    endpoints = await auth.endpoints()
    async with services(request).pool.acquire() as conn:
        started = await begin_login(conn, _return_to(next_page))
    async with auth.client() as client:
        url, _ = client.create_authorization_url(
            endpoints.authorization_endpoint,
            state=started.state,
            code_verifier=started.code_verifier,
            nonce=started.nonce,
        )
    return redirect(url)


@get("/web/callback", include_in_schema=False)
async def callback(
    request: AnyRequest,
    login_state: Annotated[str | None, Parameter(query="state")] = None,  # "state" itself is Litestar's
    code: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> Response[str]:
    if login_state is None or len(login_state) > 200:
        raise BadRequest(
            "this page is where the identity provider sends you back; sign in first", code="sign_in_expired"
        )
    svc = services(request)
    async with svc.pool.acquire() as conn:
        started = await take_login(conn, login_state)
    if started is None:
        raise BadRequest(
            "this sign-in has expired or was already used: sign in again", code="sign_in_expired"
        )
    if error is not None:
        raise SignInFailed(
            f"the identity provider refused the sign-in: {error} {error_description or ''}".strip()[:300]
        )
    if not code:
        raise SignInFailed("the identity provider sent no authorization code")
    auth = web_auth(request)
    endpoints = await auth.endpoints()
    try:
        async with auth.client() as client:
            token: dict[str, Any] = await client.fetch_token(
                endpoints.token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=started.code_verifier,
            )
    except OAuthError as exc:
        raise SignInFailed(f"the identity provider refused the code: {exc.error}") from None
    except httpx2.HTTPError as exc:
        raise ServiceUnavailable(
            f"the identity provider cannot be reached ({type(exc).__name__}); try again shortly",
            code="identity_provider_unavailable",
        ) from None
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise SignInFailed("the identity provider sent no ID token (is the 'openid' scope allowed?)")
    try:
        claims, raw = await auth.validator.validate_all(id_token)
    except Unauthorized as exc:
        raise SignInFailed(f"the ID token was refused: {exc.message}") from None
    if raw.get("nonce") != started.nonce:
        raise SignInFailed("the ID token does not answer this sign-in (its nonce differs)")
    settings = runtime(request).settings
    role_names = roles_in(raw, settings.web_roles_claim)
    async with svc.pool.acquire() as conn:
        cookie_token, session = await open_session(
            conn, claims.issuer, claims.subject, role_names, settings.web_session_minutes
        )
    roles = party_roles(role_names, settings.web_operator_role, settings.web_regulator_role_prefix)
    kind = "operator" if roles.operator else "regulator" if roles.regulator else "customer"
    svc.audit.record(
        audit_entry(
            "web.sign_in",
            actor=f"{kind}:{claims.subject}",
            at=dt.datetime.now(dt.UTC),
            data={"session": session.id, "roles": sorted(role_names)},
        )
    )
    cookie = Cookie(
        key=COOKIE,
        value=cookie_token,
        path="/",
        secure=True,
        httponly=True,
        samesite="lax",
        max_age=settings.web_session_minutes * 60,
    )
    return redirect(started.return_to, cookies=[cookie])


@post("/web/logout", include_in_schema=False)
async def logout(request: AnyRequest) -> Response[str]:
    party = await party_of(request)
    await read_form(request, party)  # a sign-out is a form too: no other site may sign you out
    if party is not None:
        async with services(request).pool.acquire() as conn:
            await close_session(conn, party.session.token_hash)
    gone = Cookie(key=COOKIE, value="", path="/", secure=True, httponly=True, samesite="lax", max_age=0)
    return redirect("/web/", cookies=[gone])


@get("/web/", include_in_schema=False)
async def home(request: AnyRequest) -> Response[str]:
    enabled = runtime(request).settings.web_client_id is not None
    party = await party_of(request) if enabled else None
    return page("home.html", request, party, enabled=enabled)


signin_routes = [login, callback, logout, home]
