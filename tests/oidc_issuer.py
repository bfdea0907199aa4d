"""A real OIDC issuer on loopback for tests: discovery, JWKS, and tokens signed with its keys.

It signs with PyJWT, a different library from the validator's authlib, so the tests also
check that the two agree on the wire format. Tests steer it: ``rotate()`` the RSA key,
set ``outage`` to make discovery and JWKS answer 500, hold JWKS answers back to keep a
fetch in flight (``holding_jwks()``), and count ``jwks_fetches``.
It also signs people in, as a provider's login page does: the authorization-code flow with PKCE
(RFC 7636, S256 required) for the clients and users a test registers (``register_client``,
``add_user``), a plain HTML sign-in form, and a token endpoint that checks the code, the client,
the redirect URI and the verifier before it hands out an ID token (aud: the client, with the nonce
and the user's claims) and an access token (aud: the onboarding API).
``SigningKey`` and ``forge_token`` make tokens the issuer would never sign (an impostor's
key under the issuer's ``kid``, ``alg: none``, HMAC with the public key as the secret).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

AUDIENCE = "gateway-kyc"
SUBJECT = "customer-7f3a"
REALM_PATH = "/realms/test"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def forge_token(
    header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes] | None = None
) -> str:
    """A compact JWS built by hand: ``sign`` gets the signing input; no ``sign``, no signature."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = sign(signing_input.encode("ascii")) if sign is not None else b""
    return f"{signing_input}.{b64url(signature)}"


@dataclass
class SigningKey:
    """A private key with its ``kid``; its public half is what a JWKS publishes."""

    kid: str
    private: PrivateKey

    @classmethod
    def generate(cls, kty: str = "RSA", kid: str | None = None) -> SigningKey:
        private: PrivateKey
        if kty == "RSA":
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif kty == "EC":
            private = ec.generate_private_key(ec.SECP256R1())
        else:
            raise ValueError(f"unsupported key type {kty!r}")
        return cls(kid or f"{kty.lower()}-{secrets.token_hex(4)}", private)

    @property
    def kty(self) -> str:
        return "RSA" if isinstance(self.private, rsa.RSAPrivateKey) else "EC"

    def public_jwk(self) -> dict[str, Any]:
        if isinstance(self.private, rsa.RSAPrivateKey):
            jwk = dict(RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True))
        else:
            jwk = dict(ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True))
        jwk.update(kid=self.kid, use="sig")
        return jwk

    def sign(self, claims: dict[str, Any], alg: str = "RS256", headers: dict[str, Any] | None = None) -> str:
        return jwt.encode(claims, self.private, algorithm=alg, headers={"kid": self.kid, **(headers or {})})


@dataclass
class Hold:
    """JWKS requests that arrive are held until ``release()``: a fetch kept in flight on purpose."""

    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    async def wait_arrived(self) -> None:
        assert await asyncio.to_thread(self.arrived.wait, 10), "no JWKS request arrived"

    def release(self) -> None:
        self.released.set()


@dataclass
class TestIssuer:
    """Discovery and JWKS over HTTP on 127.0.0.1, as an ASGI app; start with ``start()``."""

    __test__ = False  # not a test class, whatever its name says

    rsa_keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.generate("RSA")])
    ec_keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.generate("EC")])
    outage: bool = False
    jwks_fetches: int = 0
    discovery_fetches: int = 0
    paths: list[str] = field(default_factory=list)
    port: int = 0
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    id_token_tamper: dict[str, Any] = field(default_factory=dict)
    """Claims forced into the next ID tokens (a test's misbehaving provider); None drops a claim."""
    _hold: Hold | None = None
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    # -- what tests use ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return self.base_url + REALM_PATH

    @property
    def jwks_uri(self) -> str:
        return self.issuer + "/protocol/openid-connect/certs"

    def current_kid(self, kty: str = "RSA") -> str:
        return (self.rsa_keys if kty == "RSA" else self.ec_keys)[-1].kid

    def claims(self, claims: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
        """Default claims (iss, aud, sub, iat, exp = now + 300), updated; an override of None drops a claim."""
        now = int(time.time())
        out: dict[str, Any] = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": SUBJECT,
            "iat": now,
            "exp": now + 300,
        }
        out.update(claims or {})
        out.update(overrides)
        return {k: v for k, v in out.items() if v is not None}

    def sign(
        self,
        claims: dict[str, Any] | None = None,
        *,
        kid: str | None = None,
        alg: str = "RS256",
        headers: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> str:
        """A token signed by this issuer: its current key for ``alg``, or the key named ``kid``."""
        keys = self.ec_keys if alg.startswith("ES") else self.rsa_keys
        key = keys[-1] if kid is None else next(k for k in keys if k.kid == kid)
        return key.sign(self.claims(claims, **overrides), alg, headers)

    def rotate(self, kty: str = "RSA", *, keep_old: bool = True) -> SigningKey:
        """A new key becomes current; the old ones stay published only if ``keep_old``."""
        new = SigningKey.generate(kty)
        keys = self.rsa_keys if kty == "RSA" else self.ec_keys
        # Replace the list whole: the server thread reads it concurrently.
        updated = [*keys, new] if keep_old else [new]
        if kty == "RSA":
            self.rsa_keys = updated
        else:
            self.ec_keys = updated
        return new

    @contextmanager
    def down(self) -> Iterator[None]:
        """Discovery and JWKS answer 500 inside the block."""
        self.outage = True
        try:
            yield
        finally:
            self.outage = False

    @contextmanager
    def holding_jwks(self) -> Iterator[Hold]:
        """JWKS requests wait inside the block until the test releases them (or the block ends)."""
        hold = self._hold = Hold()
        try:
            yield hold
        finally:
            self._hold = None
            hold.release()

    def register_client(self, client_id: str, redirect_uri: str, secret: str | None = None) -> None:
        self.clients[client_id] = {"redirect_uri": redirect_uri, "secret": secret}

    def add_user(self, username: str, **claims: Any) -> None:
        """A person who can sign in as ``username`` (their ``sub``), with extra ID-token claims."""
        self.users[username] = claims

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": self.jwks_uri,
            "authorization_endpoint": self.issuer + "/protocol/openid-connect/auth",
            "token_endpoint": self.issuer + "/protocol/openid-connect/token",
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in (*self.rsa_keys, *self.ec_keys)]}

    # -- HTTP ----------------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        path = scope["path"]
        self.paths.append(path)
        status, body = 404, {"error": "not_found"}
        if path == REALM_PATH + "/protocol/openid-connect/auth":
            return await self._authorize(scope, receive, send)
        if path == REALM_PATH + "/protocol/openid-connect/token":
            status, body = self._token(await _body(receive), _headers(scope))
        elif path == REALM_PATH + "/.well-known/openid-configuration":
            self.discovery_fetches += 1
            status, body = 200, self.discovery()
        elif path == REALM_PATH + "/protocol/openid-connect/certs":
            self.jwks_fetches += 1
            if (hold := self._hold) is not None:
                hold.arrived.set()
                await asyncio.to_thread(hold.released.wait, 10)
            status, body = 200, self.jwks()
        if self.outage and status == 200:
            status, body = 500, {"error": "server_error"}
        data = json.dumps(body).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    # -- the authorization-code flow -------------------------------------------------------------

    async def _authorize(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        query = dict(parse_qsl(scope["query_string"].decode()))
        form = dict(parse_qsl((await _body(receive)).decode())) if scope["method"] == "POST" else {}
        params = {**query, **{k: v for k, v in form.items() if k != "username"}}
        client = self.clients.get(params.get("client_id", ""))
        problem = None
        if client is None or params.get("redirect_uri") != client["redirect_uri"]:
            problem = "unknown client or redirect URI"
        elif params.get("response_type") != "code" or "openid" not in params.get("scope", "").split():
            problem = "response_type must be code, with the openid scope"
        elif params.get("code_challenge_method") != "S256" or len(params.get("code_challenge", "")) != 43:
            problem = "PKCE with S256 is required"
        if problem is not None:  # never redirect to a URI we cannot trust
            return await _send(send, 400, problem.encode(), b"text/plain")
        username = form.get("username", "").strip()
        if scope["method"] == "POST" and username in self.users:
            code = secrets.token_urlsafe(24)
            self.codes[code] = {**params, "sub": username, "issued": time.time()}
            target = (
                params["redirect_uri"] + "?" + urlencode({"code": code, "state": params.get("state", "")})
            )
            return await _send(send, 302, b"", b"text/plain", [(b"location", target.encode())])
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        error = '<p role="alert">Unknown user.</p>' if scope["method"] == "POST" else ""
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test identity provider</title>'
            f'</head><body><h1>Sign in</h1>{error}<form method="post">{hidden}'
            '<label for="username">Username</label> <input id="username" name="username" autocomplete="username">'
            ' <button type="submit">Sign in</button></form></body></html>'
        )
        await _send(send, 200, page.encode(), b"text/html; charset=utf-8")

    def _token(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        form = dict(parse_qsl(body.decode()))
        self.token_requests.append(form)
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if headers.get("authorization", "").startswith("Basic "):
            client_id, _, secret = base64.b64decode(headers["authorization"][6:]).decode().partition(":")
        grant = self.codes.pop(form.get("code", ""), None)  # a code is good once
        if form.get("grant_type") != "authorization_code" or grant is None:
            return 400, {"error": "invalid_grant", "error_description": "unknown or used code"}
        client = self.clients.get(client_id or "")
        if (
            client is None
            or grant["client_id"] != client_id
            or (client["secret"] or None) != (secret or None)
        ):
            return 401, {"error": "invalid_client"}
        if form.get("redirect_uri") != grant["redirect_uri"] or time.time() - grant["issued"] > 60:
            return 400, {
                "error": "invalid_grant",
                "error_description": "redirect URI differs or code expired",
            }
        verifier = form.get("code_verifier", "")
        if b64url(hashlib.sha256(verifier.encode()).digest()) != grant["code_challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        user = self.users[grant["sub"]]
        id_claims = {"aud": client_id, "sub": grant["sub"], **user}
        if "nonce" in grant:
            id_claims["nonce"] = grant["nonce"]
        id_claims.update(self.id_token_tamper)
        return 200, {
            "access_token": self.sign(sub=grant["sub"]),
            "id_token": self.sign(id_claims),
            "token_type": "Bearer",
            "expires_in": 300,
        }

    def start(self) -> TestIssuer:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        config = uvicorn.Config(self, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test OIDC issuer did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    return {k.decode().lower(): v.decode() for k, v in scope["headers"]}


async def _send(
    send: Any, status: int, data: bytes, content_type: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(data)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
