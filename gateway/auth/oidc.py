"""Bearer JWTs from one configured OIDC issuer, checked against the issuer's published keys.

Customers reach the onboarding API with an access token from their identity provider. The
keys come only from the issuer's discovery document and JWKS (never from the token), are
cached, and are refetched on expiry or when a token names a key we have not seen, so the
issuer can rotate keys without a restart. Every check that libraries have got wrong before
is explicit here: the size cap before parsing (CVE-2025-61920), an allow-list of public-key
algorithms only (no ``none``, no HMAC key confusion), no keys from ``jwk``/``jku``/``x5u``/
``x5c`` headers (CVE-2026-27962), no unknown ``crit`` extensions, and authlib's
``claims.validate()`` with ``iss``/``aud``/``exp``/``sub`` essential, since ``decode()``
alone checks only the signature. Without keys the validator fails closed (503); with
stale keys and an unreachable issuer it keeps using the stale keys.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
import structlog
from authlib.deprecate import AuthlibDeprecationWarning  # type: ignore[import-untyped]
from pyreqwest.client import Client, ClientBuilder

from ..errors import ServiceUnavailable, Unauthorized

with warnings.catch_warnings():
    # authlib.jose points at its successor, joserfc; it stays supported until authlib 2.0,
    # which pyproject excludes. The warning would otherwise greet every process.
    warnings.filterwarnings("ignore", "authlib.jose module is deprecated", AuthlibDeprecationWarning)
    from authlib.jose import JsonWebKey, JsonWebToken, JWTClaims, Key, KeySet  # type: ignore[import-untyped]
    from authlib.jose.errors import (  # type: ignore[import-untyped]
        BadSignatureError,
        ExpiredTokenError,
        InvalidClaimError,
        InvalidTokenError,
        JoseError,
        MissingClaimError,
    )

__all__ = ["ALLOWED_ALGORITHMS", "Claims", "OIDCValidator"]

_log = structlog.get_logger(__name__)

# alg -> (kty, the curves a key of that type may have; empty: any).
_KEY_TYPES: dict[str, tuple[str, frozenset[str]]] = {
    **{f"{p}{n}": ("RSA", frozenset()) for p in ("RS", "PS") for n in (256, 384, 512)},
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
}
ALLOWED_ALGORITHMS = frozenset(_KEY_TYPES)

# Header parameters that carry or point at a key: an attacker would name their own.
_KEY_CARRYING_HEADERS = ("jwk", "jku", "x5u", "x5c")
_ESSENTIAL = ("iss", "aud", "exp", "sub")
_MAX_DOCUMENT_BYTES = 1 << 20  # discovery and JWKS documents are a few KiB
_COLD_RETRY_SECONDS = 1.0  # with no keys at all, retry a failed fetch at most this often


class Claims(msgspec.Struct, frozen=True):
    issuer: str
    subject: str
    audience: tuple[str, ...]
    expires_at: int
    email: str | None = None
    name: str | None = None
    scopes: tuple[str, ...] = ()
    """OAuth 2.0 scopes granted (``scope``, space-separated, or ``scp``); a client-credentials token
    names what its client may do with them."""


class TokenHeader(msgspec.Struct, frozen=True):
    alg: str
    kid: str | None


class _Payload(msgspec.Struct):
    iss: str
    sub: str
    aud: str | list[str]
    exp: int | float
    email: str | None = None
    name: str | None = None
    scope: str | None = None
    scp: str | list[str] | None = None


class _Discovery(msgspec.Struct):
    issuer: str
    jwks_uri: str


class _Jwks(msgspec.Struct):
    keys: list[dict[str, Any]]


class _FetchFailed(Exception):
    """Discovery or JWKS could not be fetched or made no sense."""


def _invalid(message: str) -> Unauthorized:
    return Unauthorized(message, code="invalid_token")


def _shown(value: object, limit: int = 80) -> str:
    """A token-supplied value, quoted and cut short, for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _when(timestamp: float) -> str:
    try:
        return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return str(timestamp)


def _b64url(segment: str) -> bytes:
    return base64.b64decode(segment + "=" * (-len(segment) % 4), altchars=b"-_", validate=True)


# -- pure decisions -------------------------------------------------------------------------------


def check_algorithms(algorithms: Sequence[str]) -> frozenset[str]:
    """The configured algorithms, or ValueError for any outside the public-key allow-list."""
    if isinstance(algorithms, str) or not algorithms:
        raise ValueError("algorithms must be a non-empty sequence of algorithm names")
    for alg in algorithms:
        if alg not in ALLOWED_ALGORITHMS:
            raise ValueError(
                f"algorithm {alg!r} is not allowed for OIDC tokens; use public-key algorithms only: "
                + ", ".join(sorted(ALLOWED_ALGORITHMS))
            )
    return frozenset(algorithms)


def parse_header(token: str, algorithms: frozenset[str]) -> TokenHeader:
    """The protected header of a compact JWS, refused unless it is safe to act on."""
    parts = token.split(".")
    if len(parts) != 3:
        raise _invalid(f"the token is malformed: a signed JWT has 3 dot-separated parts, not {len(parts)}")
    try:
        header = msgspec.json.decode(_b64url(parts[0]))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise _invalid("the token is malformed: its header is not base64url-encoded JSON") from None
    if not isinstance(header, dict):
        raise _invalid("the token is malformed: its header is not a JSON object")
    for name in _KEY_CARRYING_HEADERS:
        if name in header:
            raise _invalid(
                f"the token header carries {name!r}; keys are taken only from the issuer's published JWKS"
            )
    if "crit" in header:
        crit = _shown(header["crit"])
        raise _invalid(f"the token header marks {crit} as critical; no extension is supported")
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise _invalid("the token is malformed: its header has no 'alg'")
    if alg not in algorithms:
        raise _invalid(
            f"the token's algorithm {_shown(alg)} is not allowed (allowed: {', '.join(sorted(algorithms))})"
        )
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise _invalid("the token is malformed: its 'kid' is not a string")
    return TokenHeader(alg, kid)


def jwks_uri_from_discovery(body: bytes, issuer: str) -> str:
    """The JWKS address from a discovery document that names exactly our issuer."""
    try:
        doc = msgspec.json.decode(body, type=_Discovery)
    except msgspec.DecodeError as exc:
        raise _FetchFailed(f"the discovery document is invalid: {exc}") from None
    if doc.issuer != issuer:
        raise _FetchFailed(f"the discovery document names issuer {doc.issuer!r}, not {issuer!r}")
    # Keys over plain HTTP only from an issuer that is itself plain HTTP (a loopback test issuer).
    allowed = ("https://", "http://") if issuer.startswith("http://") else ("https://",)
    if not doc.jwks_uri.startswith(allowed):
        raise _FetchFailed(f"the discovery document's jwks_uri {doc.jwks_uri!r} is not an https URL")
    return doc.jwks_uri


def parse_jwks(body: bytes) -> KeySet:
    """The signing keys of a JWKS; symmetric and encryption-only keys are dropped."""
    try:
        doc = msgspec.json.decode(body, type=_Jwks)
    except msgspec.DecodeError as exc:
        raise _FetchFailed(f"the JWKS is invalid: {exc}") from None
    usable = [
        jwk
        for jwk in doc.keys
        if jwk.get("kty") in ("RSA", "EC", "OKP")
        and jwk.get("use", "sig") == "sig"
        and "verify" in jwk.get("key_ops", ("verify",))
    ]
    if not usable:
        raise _FetchFailed(f"the JWKS holds no public signing keys ({len(doc.keys)} keys in all)")
    try:
        return JsonWebKey.import_key_set({"keys": usable})
    except Exception as exc:  # whatever authlib raises, a bad key set is a failed fetch
        raise _FetchFailed(f"the JWKS could not be imported: {type(exc).__name__}: {exc}") from None


def key_fits(key: Key, alg: str) -> bool:
    kty, curves = _KEY_TYPES[alg]
    tokens = key.tokens
    return bool(
        key.kty == kty and (not curves or tokens.get("crv") in curves) and tokens.get("alg", alg) == alg
    )


def select_key(keys: KeySet, header: TokenHeader) -> Key | None:
    """The key the token names; None when its ``kid`` is not (yet) published."""
    if header.kid is None:
        if len(keys.keys) != 1:
            raise _invalid(f"the token names no key ('kid') and the issuer publishes {len(keys.keys)} keys")
        key = keys.keys[0]
    else:
        key = next((k for k in keys.keys if k.kid == header.kid), None)
        if key is None:
            return None
    if not key_fits(key, header.alg):
        raise _invalid(
            f"the token's algorithm {header.alg} does not fit the issuer's {key.kty} key {key.kid!r}"
        )
    return key


def should_refresh(
    *,
    now: float,
    have_keys: bool,
    fetched_at: float,
    attempted_at: float,
    failed: bool,
    in_flight: bool,
    kid_unknown: bool,
    cache_seconds: float,
    min_refresh_seconds: float,
) -> bool:
    """Whether to fetch the issuer's keys now (or wait for the fetch in flight).

    Rate-limited, so that no stream of tokens can make us hammer the issuer.
    """
    if in_flight and (kid_unknown or not have_keys):
        return True  # the fetch under way may bring the key: wait for it rather than refuse
    if not have_keys:
        return not (failed and now - attempted_at < min(_COLD_RETRY_SECONDS, min_refresh_seconds))
    if now - attempted_at < min_refresh_seconds:
        return False
    return kid_unknown or now - fetched_at >= cache_seconds


# -- the validator --------------------------------------------------------------------------------


class OIDCValidator:
    """Validates bearer JWTs from one issuer; one instance per issuer, shared by all requests."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        algorithms: Sequence[str] = ("RS256", "ES256"),
        *,
        fetch: Callable[[str], Awaitable[bytes]] | None = None,
        cache_seconds: float = 300.0,
        min_refresh_seconds: float = 30.0,
        leeway_seconds: int = 30,
        max_token_bytes: int = 8192,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("issuer and audience must be non-empty")
        self._algorithms = check_algorithms(algorithms)
        self._issuer = issuer
        self._audience = audience
        self._discovery_url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        self._fetch = fetch if fetch is not None else self._http_get
        self._client: Client | None = None
        self._cache_seconds = cache_seconds
        self._min_refresh = min_refresh_seconds
        self._leeway = leeway_seconds
        self._max_token_bytes = max_token_bytes
        self._clock = clock
        self._jwt = JsonWebToken(sorted(self._algorithms))
        self._claims_options = {
            "iss": {"essential": True, "value": issuer},
            "aud": {"essential": True, "value": audience},
            "exp": {"essential": True},
            "sub": {"essential": True},
        }
        self._lock = asyncio.Lock()
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._completed = 0  # fetches finished (either way): waiters compare it to share an outcome
        self._last_error: str | None = None
        self._closed = False

    async def validate(self, token: str) -> Claims:
        """The token's claims, or Unauthorized (401) / ServiceUnavailable (503) saying why not."""
        return (await self.validate_all(token))[0]

    async def validate_all(self, token: str) -> tuple[Claims, dict[str, Any]]:
        """As :meth:`validate`, with every claim the token carries (an ID token's ``nonce``, roles)."""
        # Size first, before any parsing (CVE-2025-61920). A char is at least one byte, and a JWT
        # is ASCII, so for any token that gets further, chars are bytes.
        if len(token) > self._max_token_bytes:
            limit = self._max_token_bytes
            raise _invalid(f"the token is too large: {len(token)} characters, over the {limit}-byte limit")
        if not token.isascii():
            raise _invalid("the token is malformed: it is not ASCII")
        header = parse_header(token, self._algorithms)
        now = self._clock()
        key = select_key(await self._key_set(now, kid_unknown=False), header)
        if key is None:
            key = select_key(await self._key_set(now, kid_unknown=True), header)
        if key is None:
            raise _invalid(f"the token's key {_shown(header.kid)} is not among the issuer's published keys")
        return self._check(token, header, key, now)

    async def close(self) -> None:
        self._closed = True
        if self._client is not None:
            await self._client.close()
            self._client = None

    # -- signature and claims ---------------------------------------------------------------------

    def _check(self, token: str, header: TokenHeader, key: Key, now: float) -> tuple[Claims, dict[str, Any]]:
        def load_key(parsed: dict[str, Any], _payload: object) -> Key:
            # authlib parses the header again; act only if it reads the same alg and kid as we did.
            if parsed.get("alg") != header.alg or parsed.get("kid") != header.kid:
                raise _invalid("the token is malformed: its header is ambiguous")
            return key

        try:
            claims: JWTClaims = self._jwt.decode(token, load_key, claims_options=self._claims_options)
        except BadSignatureError:
            raise _invalid(
                f"the token's signature does not verify with the issuer's key {key.kid!r}"
            ) from None
        except (JoseError, ValueError) as exc:
            detail = exc.description if isinstance(exc, JoseError) else str(exc)
            raise _invalid(f"the token is malformed: {detail}") from None
        try:
            claims.validate(now=now, leeway=self._leeway)
        except ExpiredTokenError:
            raise _invalid(
                f"the token expired at {_when(claims['exp'])} (now {_when(now)}, leeway {self._leeway} s)"
            ) from None
        except MissingClaimError:
            missing = next(name for name in _ESSENTIAL if name not in claims)
            raise _invalid(f"the token has no {missing!r} claim") from None
        except InvalidClaimError as exc:
            raise self._invalid_claim(exc.claim_name, claims) from None
        except InvalidTokenError:
            nbf = claims.get("nbf")
            if isinstance(nbf, int | float) and nbf > now + self._leeway:
                raise _invalid(f"the token is not valid before {_when(nbf)} (now {_when(now)})") from None
            raise _invalid(f"the token was issued in the future, at {_when(claims['iat'])}") from None
        try:
            payload = msgspec.convert(dict(claims), _Payload)
        except msgspec.ValidationError as exc:
            raise _invalid(f"the token's claims are malformed: {exc}") from None
        audience = (payload.aud,) if isinstance(payload.aud, str) else tuple(payload.aud)
        granted = payload.scp if payload.scp is not None else payload.scope
        scopes = tuple(granted.split() if isinstance(granted, str) else granted or ())
        return Claims(
            payload.iss, payload.sub, audience, int(payload.exp), payload.email, payload.name, scopes
        ), dict(claims)

    def _invalid_claim(self, name: str, claims: JWTClaims) -> Unauthorized:
        if name == "iss":
            return _invalid(f"the token was issued by {_shown(claims.get('iss'))}, not by {self._issuer!r}")
        if name == "aud":
            return _invalid(f"the token is for audience {_shown(claims.get('aud'))}, not {self._audience!r}")
        return _invalid(f"the token's {name!r} claim is invalid: {_shown(claims.get(name))}")

    # -- keys -------------------------------------------------------------------------------------

    async def _key_set(self, now: float, *, kid_unknown: bool) -> KeySet:
        """The cached keys, refreshed first when due; 503 when there are none at all."""
        due = should_refresh(
            now=now,
            have_keys=self._keys is not None,
            fetched_at=self._fetched_at,
            attempted_at=self._attempted_at,
            failed=self._last_error is not None,
            in_flight=self._lock.locked(),
            kid_unknown=kid_unknown,
            cache_seconds=self._cache_seconds,
            min_refresh_seconds=self._min_refresh,
        )
        if due:
            await self._refresh(seen=self._completed)
        if self._keys is None:
            raise ServiceUnavailable(
                f"the identity provider's signing keys are unavailable: {self._last_error}",
                code="oidc_unavailable",
            )
        return self._keys

    async def _refresh(self, seen: int) -> None:
        # One fetch in flight: whoever waited on the lock while another fetched shares that outcome.
        async with self._lock:
            if self._completed != seen:
                return
            self._attempted_at = self._clock()
            try:
                keys = await self._download()
            except _FetchFailed as exc:
                self._completed += 1
                self._last_error = str(exc)
                _log.warning(
                    "oidc_keys_refresh_failed",
                    issuer=self._issuer,
                    error=self._last_error,
                    cached_keys=0 if self._keys is None else len(self._keys.keys),
                )
                return
            self._completed += 1
            self._keys, self._fetched_at, self._last_error = keys, self._clock(), None
            _log.info("oidc_keys_refreshed", issuer=self._issuer, keys=[k.kid for k in keys.keys])

    async def _download(self) -> KeySet:
        jwks_uri = jwks_uri_from_discovery(await self._get(self._discovery_url), self._issuer)
        return parse_jwks(await self._get(jwks_uri))

    async def _get(self, url: str) -> bytes:
        try:
            return await self._fetch(url)
        except _FetchFailed:
            raise
        except Exception as exc:  # a fetch callable may fail any way it likes: all mean "unavailable"
            raise _FetchFailed(f"GET {url} failed: {type(exc).__name__}: {exc}") from None

    async def _http_get(self, url: str) -> bytes:
        if self._closed:
            raise _FetchFailed("the validator is closed")
        if self._client is None:
            self._client = (
                ClientBuilder()
                .connect_timeout(dt.timedelta(seconds=2))
                .timeout(dt.timedelta(seconds=5))
                .follow_redirects(False)
                .build()
            )
        request = self._client.get(url).header("accept", "application/json").build_streamed()
        async with request as response:
            if response.status != 200:
                raise _FetchFailed(f"GET {url} answered HTTP {response.status}")
            body = bytearray()
            while (chunk := await response.body_reader.read_chunk()) is not None:
                body += bytes(chunk)
                if len(body) > _MAX_DOCUMENT_BYTES:
                    raise _FetchFailed(f"GET {url} answered more than {_MAX_DOCUMENT_BYTES} bytes")
            return bytes(body)
