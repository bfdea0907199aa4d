"""Typed settings, from an optional TOML file and ``GATEWAY_*`` environment variables.

Environment variables win over the file. A bad value stops start-up with a
:class:`SettingsError` naming the key and where it came from.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec
import pycountry

ENV_PREFIX = "GATEWAY_"
MiB = 1024 * 1024


class SettingsError(Exception):
    """The configuration cannot be used; the message names the key."""


class UpstreamSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A model API the gateway forwards to."""

    name: str
    kind: Literal["openai", "anthropic"]
    base_url: str
    """As the provider's own SDK takes it: ``.../v1`` for OpenAI, the bare origin for Anthropic."""
    models: list[str]
    region: str
    """ISO 3166-1 alpha-2 code of the country where the compute runs."""
    api_key_env: str | None = None
    """Name of the environment variable holding the upstream's key (never the key itself)."""
    connect_timeout: float = 5.0
    read_timeout: float = 300.0
    """Longest silence between two reads from the upstream, in seconds."""

    def api_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        if self.api_key_env is None:
            return None
        return (os.environ if environ is None else environ).get(self.api_key_env)


class ClusterSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A GPU cluster whose job API the gateway fronts, at ``/clusters/<name>/...``."""

    name: str
    kind: Literal["slurm", "kubernetes"]
    base_url: str
    """slurmrestd (``http://host:6820``) or the Kubernetes API server."""
    region: str
    """ISO 3166-1 alpha-2 code of the country where the GPUs are."""
    token_env: str | None = None
    """Environment variable holding the cluster's own credential (Slurm JWT, Kubernetes bearer token)."""
    user: str = "root"
    """Slurm: the gateway's own user, which follows jobs and reads lists and accounting. Jobs are
    never submitted as it: each runs as its customer's own cluster identity (``gateway cluster
    identity set``), with a JWT the gateway mints for that user from ``jwt_key_file``."""
    jwt_key_file: str | None = None
    """Slurm: the HS256 key slurmctld verifies JWTs with (``AuthAltParameters=jwt_key=...``), to
    mint a short-lived token per cluster user. Required for a Slurm cluster."""
    node_gpus: int | None = None
    """Slurm: GPUs per node. A job that takes whole nodes (``exclusive``, all of a node's memory)
    is charged this many per node; unset, such jobs are refused."""
    partitions: list[str] = []
    """Slurm: the partitions customers may name; the first is the default. Empty: the cluster's
    default partition, and a job may not name one."""
    account: str | None = None
    """Slurm: the account of jobs whose customer's identity names none (the body never chooses)."""
    qos: str | None = None
    """Slurm: the QOS of jobs whose customer's identity names none (the body never chooses)."""
    home_root: str = "/home"
    """Slurm: where customers' areas are: an identity's home defaults to ``<home_root>/<user>``;
    working directories and output files must lie inside it."""
    default_accelerator: str = "h100"
    """The accelerator (a name in ``policies/accelerators.toml``) of jobs that do not name one."""
    poll_seconds: float = 5.0
    """How often running jobs are looked at, to follow them to their end."""
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    min_job_age_seconds: float = 300.0
    """How long the cluster still lists a job after it ended (Slurm's ``MinJobAge``, 300 s by
    default; for Kubernetes, the shortest ``ttlSecondsAfterFinished`` its jobs may set). A job
    whose submission the gateway lost (a crash before it recorded the job's id) and which is not
    listed this soon after was never created."""
    pod_security: Literal["baseline", "restricted"] = "baseline"
    """Kubernetes: the Pod Security Standard every Job's pod template must meet before the gateway
    forwards it (403 ``pod_security_violation`` otherwise); ``restricted`` adds non-root, no
    privilege escalation, seccomp, ``drop: [ALL]`` and the restricted volume types to the baseline."""

    def token(self, environ: Mapping[str, str] | None = None) -> str | None:
        if self.token_env is None:
            return None
        return (os.environ if environ is None else environ).get(self.token_env)


_SLURM_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


def _check_slurm(cl: ClusterSettings, key: str, fail: Callable[[str, str], SettingsError]) -> None:
    if cl.jwt_key_file is None:
        raise fail(
            f"{key}.jwt_key_file",
            "a Slurm cluster needs the key slurmctld verifies JWTs with (its AuthAltParameters "
            "jwt_key file), so that each customer's jobs run as the customer's own user",
        )
    if cl.token_env is not None:
        raise fail(
            f"{key}.token_env",
            "a Slurm cluster's tokens are minted per user from jwt_key_file; remove token_env",
        )
    if cl.node_gpus is not None and cl.node_gpus < 1:
        raise fail(f"{key}.node_gpus", f"must be at least 1 (got {cl.node_gpus})")
    for field, value in (
        ("user", cl.user),
        ("account", cl.account),
        ("qos", cl.qos),
        *((f"partitions[{j}]", part) for j, part in enumerate(cl.partitions)),
    ):
        if value is not None and not _SLURM_NAME.fullmatch(value):
            raise fail(f"{key}.{field}", f"{value!r} is not a Slurm name (letters, digits, '_', '.', '-')")
    if len(set(cl.partitions)) != len(cl.partitions):
        raise fail(f"{key}.partitions", "a partition is named twice")
    if not cl.home_root.startswith("/") or cl.home_root != posixpath.normpath(cl.home_root):
        raise fail(f"{key}.home_root", f"{cl.home_root!r} must be a normalised absolute path")


class KycProviderSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """An identity-verification provider that reports results by webhook to ``/kyc/v1/webhooks/<name>``."""

    name: str
    scheme: Literal["persona", "sumsub", "generic"]
    secret_env: str
    """Environment variable holding the webhook secret; several, comma-separated, while rotating."""
    tolerance_seconds: float = 300.0
    """Deliveries signed longer ago (or further ahead) than this are refused as stale."""

    def secrets(self, environ: Mapping[str, str] | None = None) -> list[bytes]:
        raw = (os.environ if environ is None else environ).get(self.secret_env, "")
        return [s.strip().encode() for s in raw.split(",") if s.strip()]


class Settings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Everything the gateway reads at start-up. Each field has an env name: ``GATEWAY_<FIELD>``."""

    database_url: str | None = None
    """PostgreSQL DSN. Unset: an embedded PostgreSQL under ``state_dir``. It may name a pooler
    (pgbouncer in transaction mode): then set ``database_direct_url`` too, and, before pgbouncer
    1.21, ``db_statement_cache_size = 0``."""
    database_direct_url: str | None = None
    """A connection straight to PostgreSQL, for what a transaction-mode pooler cannot carry: the
    caches' LISTEN connections (a notification goes to the session that listens), the migrations'
    session lock, and the ``gateway`` command. Unset: ``database_url``."""
    state_dir: str = ".gateway"
    host: str = "127.0.0.1"
    port: int = 8080
    server: Literal["gateway", "granian", "uvicorn"] = "gateway"
    workers: int = 1
    max_body_bytes: int = 32 * MiB
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = False
    """One log line per proxied request. The usage ledger records every call regardless."""
    db_pool_min: int = 1
    db_pool_max: int = 10
    db_statement_cache_size: int = 100
    """Set to 0 behind pgbouncer < 1.21 in transaction mode: asyncpg's named prepared statements
    live in one server session, and the pooler hands the next transaction another one."""
    key_cache_resync_seconds: float = 60.0
    """Full reload of the key cache, as a safety net under LISTEN/NOTIFY."""
    key_cache_max_staleness_seconds: float = 30.0
    """With the change feed down longer than this, keys are refused (503) rather than trusted."""
    ledger_retention_days: int | None = None
    """Months of the ledger (usage and compute events, call features) entirely older than this many
    days are dropped, a partition at a time. Unset: kept for ever. Mind what a regulator requires
    (the README's Deploy section)."""
    ledger_batch_size: int = 1000
    ledger_journal: bool = True
    """Append each usage event to a journal file in ``state_dir`` as it is recorded (one write per
    call, no fsync): a gateway killed outright loses none of the calls it served. Off: the events of
    the last ``ledger_flush_interval_seconds`` die with a killed process."""
    ledger_flush_interval_seconds: float = 0.25
    ledger_max_buffer: int = 200_000
    """Events held in memory while the database is down; beyond it they are spooled to disk."""
    detect_features: bool = True
    """Keep each model-API call's features beside the ledger (``call_features``: counts, parameters,
    task family, fingerprints and LSH band keys of the masked prompt; never its text), extracted off
    the hot path, for distillation and abuse detection. Off: no features are kept."""
    shutdown_timeout_seconds: float = 30.0
    http_idle_seconds: float = 75.0
    """The gateway's own server: how long a kept-alive connection may sit idle (and a new one take
    to send its head) before it is closed. Keep it above the idle timeout of any load balancer in
    front (AWS ALB 60 s, nginx's upstream keepalive 60 s), or the balancer may send a request on a
    connection being closed, and its client get a 502."""
    upstreams: list[UpstreamSettings] = []
    clusters: list[ClusterSettings] = []
    kyc_keys: str | None = None
    """Master keys for personal data, ``"<version>:<base64 32 bytes>,..."``; the highest version
    encrypts new data. Unset: a key generated once in ``state_dir`` (one replica only)."""
    kyc_reverify_days: int = 365
    """A verified customer expires this long after verification and must be verified again."""
    kyc_retention_days: int = 5 * 365
    """Personal data is kept this long after a customer is rejected (AML record keeping);
    only then can it be erased."""
    screening_review_threshold: float = 0.82
    """A name match scoring at least this puts the customer into review."""
    require_screening_list: bool = False
    """Refuse approvals while no screening list is loaded (recommended in production)."""
    oidc_issuer: str | None = None
    """Issuer of the bearer tokens the onboarding API (``/kyc/v1``) accepts. Unset: API disabled."""
    oidc_audience: str = "gateway-kyc"
    oidc_algorithms: list[str] = msgspec.field(default_factory=lambda: ["RS256", "ES256"])
    admin_token_sha256: str | None = None
    """sha256 (hex) of the bearer token the admin API (``/admin/v1``) accepts. Unset: API disabled."""
    kyc_providers: list[KycProviderSettings] = []
    trusted_proxies: list[str] = []
    """Networks (CIDR) of proxies whose ``X-Forwarded-For`` is believed; empty: the peer is the client."""
    policy_mode: Literal["enforce", "shadow", "off"] = "enforce"
    """``shadow``: decide and log what would be denied, deny nothing (to try a new policy);
    ``off``: no jurisdiction stage at all (benchmarks)."""
    policy_dir: str | None = None
    """A folder of policy files that override or extend the shipped policy."""
    quota_mode: Literal["enforce", "off"] = "enforce"
    """``off``: no quota stage at all (benchmarks, or quotas enforced elsewhere)."""
    quota_lease_ttl_seconds: float = 30.0
    """A replica returns each lease after half of this; a dead replica's lease is reclaimed after it."""
    quota_lease_fraction: float = 0.1
    """Each lease of a budget is at most this fraction of the limit (rate windows: half)."""
    quota_lease_share: float = 0.5
    """...and at most this share of what is left, so that a budget's tail is spread over replicas."""
    quota_default_max_tokens: int = 4096
    """Output tokens reserved for a request that names no ``max_tokens``."""
    audit_origin: str = "kyc-gateway.local/audit"
    """The audit log's identity: the first line of its checkpoints and its keys' name (a schemeless
    URL naming the deployment, e.g. ``gateway.example.com/audit``; no spaces, no '+')."""
    audit_keys: str | None = None
    """Ed25519 signing keys of the audit log, ``"<version>:<base64 32-byte seed>,..."``; all of them
    sign every checkpoint (add a new one, let both sign, remove the old: a rotation with overlap).
    Unset: a key generated once in ``state_dir`` (one host only)."""
    audit_retention_days: int | None = None
    """Months of the audit log entirely older than this many days are dropped, a partition at a
    time, from the front of the log; what they committed to is kept, so the rest still verifies.
    Unset: kept for ever. At least 365; AML record keeping usually asks for five years."""
    audit_checkpoint_seconds: float = 10.0
    """How often the head of the audit log is signed, when it grew."""
    compute_flag_seconds: float = 300.0
    """How often one replica looks for training-scale levels newly reached, and logs them."""
    detect_seconds: float = 300.0
    """How often one replica runs the distillation and abuse detector over the policy's window
    (``[detection]``) and takes its actions; 0: never in the background (``gateway detect run``
    still runs it)."""
    regulator_issuer: str | None = None
    """Issuer of the OAuth 2.0 access tokens regulators present to ``/regulator/v1`` (client
    credentials); a token's scopes ``reports:<JURISDICTION>`` name what it may read. Unset: API disabled."""
    regulator_audience: str = "gateway-regulator"
    regulator_algorithms: list[str] = msgspec.field(default_factory=lambda: ["RS256", "ES256", "EdDSA"])
    provider_name: str | None = None
    """Who issues regulator reports (the provider's name in every report). Unset: the host of
    ``audit_origin`` (``kyc-gateway.local`` for ``kyc-gateway.local/audit``)."""
    provider_country: str = "US"
    """The provider's home country (ISO 3166-1 alpha-2): a usage report for it covers every customer."""
    web_client_id: str | None = None
    """The OIDC client the web pages (``/web``) sign people in with at ``oidc_issuer`` (authorization
    code with PKCE). Unset: no web pages."""
    web_client_secret_env: str | None = None
    """Environment variable holding that client's secret (a confidential client); unset: a public
    client, proven by PKCE alone."""
    web_public_url: str | None = None
    """The gateway's address as browsers reach it (``https://gateway.example``): the base of the
    redirect URI and the one origin a form may be posted from. Needed with ``web_client_id``;
    ``https://`` (plain ``http://`` only on a loopback host, for trying it out)."""
    web_roles_claim: str = "roles"
    """The ID token claim listing a person's roles (a dotted path, e.g. ``realm_access.roles``)."""
    web_operator_role: str = "gateway-operator"
    """The role that opens the operator console."""
    web_regulator_role_prefix: str = "gateway-regulator:"
    """Roles ``<prefix><JURISDICTION>`` (``gateway-regulator:EU``) open the regulator portal for
    the reports addressed to that jurisdiction."""
    web_session_minutes: int = 480
    """A web session ends this long after sign-in (or at sign-out)."""

    @property
    def report_provider_name(self) -> str:
        return self.provider_name or self.audit_origin.split("/", 1)[0]

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir).expanduser().resolve()


_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def _check_web(settings: Settings, fail: Callable[[str, str], SettingsError]) -> None:
    if settings.web_client_id is None:
        return
    if settings.oidc_issuer is None:
        raise fail("web_client_id", "the web pages sign people in at oidc_issuer: set it too")
    url = settings.web_public_url
    if url is None:
        raise fail("web_public_url", "needed with web_client_id: the address browsers reach the gateway at")
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit(":", 1)[0] if not rest.startswith("[") else rest.split("]")[0] + "]"
    if scheme != "https" and not (scheme == "http" and host in _LOOPBACK_HOSTS):
        # Session cookies are Secure: a browser keeps them only over https (or on a loopback host).
        raise fail("web_public_url", f"{url!r} must be https:// (http:// only on a loopback host)")
    if "/" in rest.rstrip("/") or not host:
        raise fail("web_public_url", f"{url!r} must be an origin, like https://gateway.example")
    if settings.web_client_secret_env is not None and not _is_env_name(settings.web_client_secret_env):
        raise fail(
            "web_client_secret_env", f"{settings.web_client_secret_env!r} is not an environment variable name"
        )
    if (
        not settings.web_roles_claim
        or not settings.web_operator_role
        or not settings.web_regulator_role_prefix
    ):
        raise fail(
            "web_roles_claim", "web_roles_claim, web_operator_role and web_regulator_role_prefix must be set"
        )
    if not 5 <= settings.web_session_minutes <= 7 * 24 * 60:
        raise fail("web_session_minutes", "must be between 5 and 10080 (a week)")


_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _is_country(code: str) -> bool:
    """An ISO 3166-1 alpha-2 code, upper case, that pycountry knows."""
    return bool(_COUNTRY_RE.match(code)) and pycountry.countries.get(alpha_2=code) is not None


def _is_env_name(name: str) -> bool:
    return bool(_ENV_NAME_RE.match(name))


def _validate(settings: Settings, origin: str) -> Settings:
    def fail(key: str, reason: str) -> SettingsError:
        return SettingsError(f"invalid setting {key} ({origin}): {reason}")

    if not 1 <= settings.port <= 65535:
        raise fail("port", f"{settings.port} is not a TCP port")
    if settings.workers < 1:
        raise fail("workers", "must be at least 1")
    if not 1 <= settings.http_idle_seconds <= 3600:
        raise fail("http_idle_seconds", "must be between 1 and 3600")
    if settings.max_body_bytes < 1024:
        raise fail("max_body_bytes", "must be at least 1024")
    if settings.db_pool_min < 1 or settings.db_pool_max < settings.db_pool_min:
        raise fail("db_pool_max", "need 1 <= db_pool_min <= db_pool_max")
    if settings.ledger_retention_days is not None and settings.ledger_retention_days < 31:
        raise fail("ledger_retention_days", "must be at least 31 (a month), or unset to keep everything")
    if settings.audit_retention_days is not None and settings.audit_retention_days < 365:
        raise fail("audit_retention_days", "must be at least 365 (a year), or unset to keep everything")
    if settings.ledger_batch_size < 1 or settings.ledger_max_buffer < settings.ledger_batch_size:
        raise fail("ledger_max_buffer", "need 1 <= ledger_batch_size <= ledger_max_buffer")
    if settings.database_url is not None and not settings.database_url.startswith(
        ("postgresql://", "postgres://")
    ):
        raise fail("database_url", "must be a postgresql:// URL")
    if settings.database_direct_url is not None:
        if not settings.database_direct_url.startswith(("postgresql://", "postgres://")):
            raise fail("database_direct_url", "must be a postgresql:// URL")
        if settings.database_url is None:
            raise fail("database_direct_url", "set database_url too (the pooler's address)")
    seen_names: set[str] = set()
    seen_models: dict[str, str] = {}
    for i, up in enumerate(settings.upstreams):
        key = f"upstreams[{i}]"
        if up.name in seen_names:
            raise fail(f"{key}.name", f"duplicate upstream name {up.name!r}")
        seen_names.add(up.name)
        if not up.base_url.startswith(("http://", "https://")):
            raise fail(f"{key}.base_url", f"{up.base_url!r} is not an http(s) URL")
        if not _is_country(up.region):
            raise fail(f"{key}.region", f"{up.region!r} is not an ISO 3166-1 alpha-2 country code")
        if not up.models:
            raise fail(f"{key}.models", "an upstream must serve at least one model")
        for model in up.models:
            if model in seen_models:
                raise fail(f"{key}.models", f"model {model!r} is already served by {seen_models[model]!r}")
            seen_models[model] = up.name
        if up.connect_timeout <= 0 or up.read_timeout <= 0:
            raise fail(f"{key}.connect_timeout", "timeouts must be positive")
        if up.api_key_env is not None and not _is_env_name(up.api_key_env):
            raise fail(f"{key}.api_key_env", f"{up.api_key_env!r} is not an environment variable name")
    cluster_names: set[str] = set()
    for i, cl in enumerate(settings.clusters):
        key = f"clusters[{i}]"
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", cl.name):
            raise fail(f"{key}.name", f"{cl.name!r} must be lower-case letters, digits, '-' or '_'")
        if cl.name in cluster_names:
            raise fail(f"{key}.name", f"duplicate cluster name {cl.name!r}")
        cluster_names.add(cl.name)
        if not cl.base_url.startswith(("http://", "https://")):
            raise fail(f"{key}.base_url", f"{cl.base_url!r} is not an http(s) URL")
        if not _is_country(cl.region):
            raise fail(f"{key}.region", f"{cl.region!r} is not an ISO 3166-1 alpha-2 country code")
        if cl.token_env is not None and not _is_env_name(cl.token_env):
            raise fail(f"{key}.token_env", f"{cl.token_env!r} is not an environment variable name")
        if cl.poll_seconds <= 0 or cl.connect_timeout <= 0 or cl.read_timeout <= 0:
            raise fail(f"{key}.poll_seconds", "poll_seconds and timeouts must be positive")
        if cl.min_job_age_seconds <= 0:
            raise fail(f"{key}.min_job_age_seconds", "must be positive")
        if cl.kind == "slurm":
            _check_slurm(cl, key, fail)
    if settings.kyc_reverify_days < 1 or settings.kyc_retention_days < 0:
        raise fail("kyc_reverify_days", "need kyc_reverify_days >= 1 and kyc_retention_days >= 0")
    if not 0.0 < settings.screening_review_threshold <= 1.0:
        raise fail("screening_review_threshold", "must be in (0, 1]")
    if settings.admin_token_sha256 is not None and not re.fullmatch(
        r"[0-9a-f]{64}", settings.admin_token_sha256
    ):
        raise fail("admin_token_sha256", "must be 64 lower-case hex digits (sha256 of the token)")
    if settings.oidc_issuer is not None and not settings.oidc_issuer.startswith(("https://", "http://")):
        raise fail("oidc_issuer", f"{settings.oidc_issuer!r} is not an http(s) URL")
    bad_algs = set(settings.oidc_algorithms) - _OIDC_ALGORITHMS
    if bad_algs or not settings.oidc_algorithms:
        raise fail(
            "oidc_algorithms",
            f"{sorted(bad_algs)} not allowed; use public-key algorithms from {sorted(_OIDC_ALGORITHMS)}",
        )
    if not settings.audit_origin or any(c.isspace() or c == "+" for c in settings.audit_origin):
        raise fail("audit_origin", f"{settings.audit_origin!r}: must be non-empty, without spaces or '+'")
    if settings.audit_keys is not None:
        from .audit.keys import AuditKeyError, SigningKeys

        try:
            SigningKeys.parse(settings.audit_origin, settings.audit_keys)
        except AuditKeyError as exc:
            raise fail("audit_keys", str(exc)) from None
    if settings.regulator_issuer is not None and not settings.regulator_issuer.startswith(
        ("https://", "http://")
    ):
        raise fail("regulator_issuer", f"{settings.regulator_issuer!r} is not an http(s) URL")
    if bad := set(settings.regulator_algorithms) - _OIDC_ALGORITHMS:
        raise fail("regulator_algorithms", f"{sorted(bad)} not allowed; use public-key algorithms")
    _check_web(settings, fail)
    if not 1 <= settings.compute_flag_seconds <= 86400:
        raise fail("compute_flag_seconds", "must be between 1 and 86400")
    if settings.detect_seconds != 0 and not 1 <= settings.detect_seconds <= 86400:
        raise fail("detect_seconds", "must be 0 (off) or between 1 and 86400")
    if not 0.1 <= settings.audit_checkpoint_seconds <= 3600:
        raise fail("audit_checkpoint_seconds", "must be between 0.1 and 3600")
    if settings.provider_name is not None and not settings.provider_name.strip():
        raise fail("provider_name", "must not be empty (leave it unset for the audit origin's host)")
    if not _is_country(settings.provider_country):
        raise fail(
            "provider_country", f"{settings.provider_country!r} is not an ISO 3166-1 alpha-2 country code"
        )
    if settings.kyc_keys is not None:
        from .kyc.crypto import KeyringError, parse_keyring

        try:
            parse_keyring(settings.kyc_keys)
        except KeyringError as exc:
            raise fail("kyc_keys", str(exc)) from None
    from .proxy.origin import parse_networks

    try:
        parse_networks(settings.trusted_proxies)
    except ValueError as exc:
        raise fail("trusted_proxies", str(exc)) from None
    if settings.policy_dir is not None and not Path(settings.policy_dir).expanduser().is_dir():
        raise fail("policy_dir", f"{settings.policy_dir!r} is not a folder")
    if not 1.0 <= settings.quota_lease_ttl_seconds <= 3600:
        raise fail("quota_lease_ttl_seconds", "must be between 1 and 3600")
    if not 0 < settings.quota_lease_fraction <= 1 or not 0 < settings.quota_lease_share <= 1:
        raise fail("quota_lease_fraction", "quota_lease_fraction and quota_lease_share must be in (0, 1]")
    if settings.quota_default_max_tokens < 1:
        raise fail("quota_default_max_tokens", "must be at least 1")
    provider_names: set[str] = set()
    for i, prov in enumerate(settings.kyc_providers):
        key = f"kyc_providers[{i}]"
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", prov.name):
            raise fail(f"{key}.name", f"{prov.name!r} must be lower-case letters, digits, '-' or '_'")
        if prov.name in provider_names:
            raise fail(f"{key}.name", f"duplicate provider name {prov.name!r}")
        provider_names.add(prov.name)
        if not _is_env_name(prov.secret_env):
            raise fail(f"{key}.secret_env", f"{prov.secret_env!r} is not an environment variable name")
        if prov.tolerance_seconds <= 0:
            raise fail(f"{key}.tolerance_seconds", "must be positive")
    return settings


# Public-key algorithms only: mixing HMAC in invites key confusion (a public key used as a secret).
_OIDC_ALGORITHMS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}


# Arrays of tables come from the file only; plain lists from the environment are comma-separated.
_TABLES = {"upstreams", "kyc_providers", "clusters"}
_LISTS = {"oidc_algorithms", "regulator_algorithms", "trusted_proxies"}


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    fields = {f.name for f in msgspec.structs.fields(Settings)} - _TABLES
    out: dict[str, Any] = {}
    for name in fields:
        value = environ.get(ENV_PREFIX + name.upper())
        if value is not None:
            out[name] = value.split(",") if name in _LISTS else value
    return out


def load_settings(
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Read the TOML file (``config_file`` or ``$GATEWAY_CONFIG``), then the environment, then overrides."""
    environ = os.environ if environ is None else environ
    config_file = config_file or environ.get(ENV_PREFIX + "CONFIG") or None
    raw: dict[str, Any] = {}
    origin = "defaults"
    if config_file is not None:
        path = Path(config_file)
        origin = str(path)
        try:
            raw = msgspec.toml.decode(path.read_bytes())
        except FileNotFoundError:
            raise SettingsError(f"configuration file {path} does not exist") from None
        except msgspec.DecodeError as exc:
            raise SettingsError(f"configuration file {path} is not valid TOML: {exc}") from None
    try:
        from_file = msgspec.convert(raw, Settings)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid setting in {origin}: {_pretty(exc)}") from None

    env = _env_overrides(environ)
    merged = msgspec.structs.asdict(from_file)
    for table in _TABLES:
        merged[table] = raw.get(table, [])
    for name, value in env.items():
        try:
            one: Any = msgspec.convert({name: value}, _single_field_struct(name), strict=False)
            merged[name] = one.value
        except msgspec.ValidationError as exc:
            raise SettingsError(
                f"invalid setting {name} (environment {ENV_PREFIX}{name.upper()}={value!r}): {_pretty(exc)}"
            ) from None
    merged.update({k: v for k, v in overrides.items() if v is not None})
    try:
        settings = msgspec.convert(merged, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid setting: {_pretty(exc)}") from None
    where = origin if not env else f"{origin} + environment"
    return _validate(settings, where)


_single_cache: dict[str, type] = {}


def _single_field_struct(name: str) -> type:
    """A one-field Struct with the same type as ``Settings.<name>``, to convert one env value."""
    if name not in _single_cache:
        field = next(f for f in msgspec.structs.fields(Settings) if f.name == name)
        _single_cache[name] = msgspec.defstruct("One", [("value", field.type)], rename={"value": name})
    return _single_cache[name]


def _pretty(exc: msgspec.ValidationError) -> str:
    # msgspec says "... - at `$.upstreams[0].region`"; keep it, it points at the key.
    return str(exc)
