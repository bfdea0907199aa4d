"""Everything a running gateway holds: built at start-up, torn down at shutdown.

:class:`Services` are the parts a started gateway runs on. Only :meth:`Services.start` makes
them, and hands them over complete, so no part is ``None`` but those the configuration leaves
out. :class:`Runtime` is what the app holds from its first request to its last: the settings,
the metrics, and the services while they run (``None`` while the gateway starts or stops, when
every request is answered 503 ``not_ready``).

No module-level state: two runtimes (two apps in one test process) never share anything.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import os
import socket
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING

import asyncpg
import structlog

from .audit.checkpoints import Checkpointer
from .audit.keys import signing_keys
from .audit.writer import AuditWriter
from .auth import OIDCValidator
from .compute.flagger import Flagger
from .db import connect_pool, migrate, resolve_database_url
from .detect.runner import Detector, engine
from .detect.tap import FeatureTap
from .errors import ServiceUnavailable
from .identity import KeyCache
from .kyc.expiry import ExpirySweeper
from .kyc.service import KycService
from .kyc.standing import StandingCache
from .ledger.partitions import PartitionKeeper
from .ledger.writer import LedgerWriter
from .metrics import Metrics
from .policy import trail as policy_trail
from .policy.reloads import CHANNEL as POLICY_CHANNEL
from .policy.reloads import PolicyReloads
from .policy.store import PolicyStore, policy_dirs
from .proxy.handler import ProxyApp
from .proxy.origin import OriginResolver
from .proxy.stages import (
    CheckLedger,
    GuardParameters,
    Identify,
    KnowCustomer,
    Meter,
    Place,
    ReadBody,
    ResolveOrigin,
    RouteToUpstream,
)
from .proxy.upstreams import UpstreamRegistry
from .quota.meter import QuotaMeter
from .quota.overrides import OverrideCache
from .settings import Settings

if TYPE_CHECKING:
    from .clusters.cluster import Cluster
    from .clusters.follower import Follower
    from .clusters.proxy import ClusterProxy
    from .policy.model import Policy
    from .proxy.stages import Stage

_log = structlog.get_logger("gateway")


def not_ready() -> ServiceUnavailable:
    """The answer to any request while the gateway is starting or stopping."""
    return ServiceUnavailable("the gateway is starting or stopping", code="not_ready")


class Services:
    """The parts of a started gateway. Each is assigned once, in the order :meth:`_start` reads,
    and only :meth:`start` hands the object out, complete: so each part is typed as what it is,
    not ``X | None``, and no caller checks it."""

    database_url: str
    pool: asyncpg.Pool
    keys: KeyCache
    policies: PolicyStore
    policy_reloads: PolicyReloads
    standings: StandingCache
    kyc: KycService
    expiry: ExpirySweeper
    checkpointer: Checkpointer
    flagger: Flagger
    partitions: PartitionKeeper
    detector: Detector
    audit: AuditWriter
    ledger: LedgerWriter
    registry: UpstreamRegistry
    proxy: ProxyApp
    # Left out by configuration: quotas (quota_mode off), the onboarding and regulator APIs' token
    # validation (no oidc_issuer, no regulator_issuer), the cluster proxy and its follower (no clusters).
    overrides: OverrideCache | None = None
    meter: QuotaMeter | None = None
    oidc: OIDCValidator | None = None
    regulator_oidc: OIDCValidator | None = None
    cluster_proxy: ClusterProxy | None = None
    follower: Follower | None = None
    features: FeatureTap | None = None
    """Feature extraction off the hot path (``detect_features``)."""

    def __init__(self, settings: Settings, environ: Mapping[str, str], metrics: Metrics) -> None:
        """Not started: use :meth:`start`, which returns the services only once all are running."""
        self.settings = settings
        self.environ = environ
        self.metrics = metrics
        self._clusters: list[Cluster] = []

    @classmethod
    async def start(cls, settings: Settings, environ: Mapping[str, str], metrics: Metrics) -> Services:
        services = cls(settings, environ, metrics)
        await services._start()
        return services

    def pipeline(self) -> list[Stage]:
        """The request pipeline, in order. Each later capability is one more stage here."""
        mode = self.settings.policy_mode
        policies = self.policies
        stages: list[Stage] = [
            ResolveOrigin(OriginResolver(self.settings.trusted_proxies)),  # from where
            Identify(self.keys),  # who is calling
            KnowCustomer(self.standings),  # verified, and clear of sanctions?
            CheckLedger(self.ledger),  # can the call be recorded?
            ReadBody(self.settings.max_body_bytes),  # what they ask for
        ]
        if mode != "off":
            stages.append(  # extraction-friendly parameters within the customer's limits?
                GuardParameters(lambda: policies.policy, shadow=mode == "shadow")
            )
        stages.append(RouteToUpstream(self.registry))  # which upstream serves it
        if mode != "off":
            stages.append(  # may they use it from here?
                Place(self.standings, shadow=mode == "shadow", audit=self.audit.record)
            )
        if self.meter is not None:
            stages.append(  # within quota?
                Meter(self.meter, self.settings.quota_default_max_tokens, lambda: policies.policy.prices)
            )
        return stages

    async def _start(self) -> None:
        s = self.settings
        self.database_url = resolve_database_url(s)
        self.pool = await connect_pool(self.database_url, s)
        # Straight to PostgreSQL, past any pooler: migrations hold a session lock, and a LISTEN
        # hears only in the server session that issued it.
        url = s.database_direct_url or self.database_url
        conn = await asyncpg.connect(url, timeout=30)
        try:
            applied = await migrate(conn)
        finally:
            await conn.close()
        if applied:
            _log.info("migrations_applied", versions=[m.version for m in applied])
        self.keys = KeyCache(
            lambda: asyncpg.connect(url),
            self.pool,
            resync_seconds=s.key_cache_resync_seconds,
            max_staleness_seconds=s.key_cache_max_staleness_seconds,
        )
        await self.keys.start()
        self.policies = policies = PolicyStore(policy_dirs(s), s.state_path / "policy-last-good")
        self.policy_reloads = PolicyReloads(policies, self.pool)
        self.standings = StandingCache(
            lambda: asyncpg.connect(url),
            self.pool,
            resync_seconds=s.key_cache_resync_seconds,
            max_staleness_seconds=s.key_cache_max_staleness_seconds,
            policy=lambda: policies.policy,
        )
        policies.subscribe(self.standings.recompile)
        # A reload on any replica or worker is announced here, so that all of them reload.
        self.standings.also_listen(POLICY_CHANNEL, self.policy_reloads.heard)
        await self.standings.start()
        if s.quota_mode != "off":
            self.overrides = OverrideCache(
                lambda: asyncpg.connect(url),
                self.pool,
                resync_seconds=s.key_cache_resync_seconds,
                max_staleness_seconds=s.key_cache_max_staleness_seconds,
            )
            await self.overrides.start()
            self.meter = QuotaMeter(
                self.pool,
                self.overrides,
                lambda: policies.policy,
                replica=f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}",
                lease_ttl=s.quota_lease_ttl_seconds,
                lease_fraction=s.quota_lease_fraction,
                lease_share=s.quota_lease_share,
            )
            self.meter.start()
        self.kyc = await KycService.open(self.pool, s)
        if s.oidc_issuer is not None:
            self.oidc = OIDCValidator(s.oidc_issuer, s.oidc_audience, s.oidc_algorithms)
        if s.regulator_issuer is not None:
            self.regulator_oidc = OIDCValidator(
                s.regulator_issuer, s.regulator_audience, s.regulator_algorithms
            )
        self.expiry = ExpirySweeper(self.kyc, self.pool)
        self.expiry.start()
        self.checkpointer = Checkpointer(self.pool, signing_keys(s), interval=s.audit_checkpoint_seconds)
        self.checkpointer.start()
        self.audit = AuditWriter(self.pool, s.state_path / "spool")
        await self.audit.start()
        replica = f"gateway:{socket.gethostname()}:{os.getpid()}"

        def loaded(policy: Policy) -> None:
            at = dt.datetime.now(dt.UTC)
            self.audit.record(policy_trail.loaded(policy.hash, list(policy.sources), actor=replica, at=at))

        loaded(policies.policy)
        policies.subscribe(loaded)
        self.flagger = Flagger(self.pool, lambda: policies.policy, interval=s.compute_flag_seconds)
        self.flagger.start()
        self.partitions = PartitionKeeper(
            self.pool, retention_days=s.ledger_retention_days, audit_retention_days=s.audit_retention_days
        )
        self.partitions.start()
        # Built always (the admin API runs it on demand); in the background unless detect_seconds is 0.
        self.detector = Detector(
            self.pool, lambda: policies.policy, self.kyc, engine(), interval=s.detect_seconds
        )
        if s.detect_seconds > 0:
            self.detector.start()
        self.ledger = LedgerWriter(
            self.pool,
            s.state_path / "spool",
            batch_size=s.ledger_batch_size,
            flush_interval=s.ledger_flush_interval_seconds,
            max_buffer=s.ledger_max_buffer,
            journal=s.ledger_journal,
        )
        ledger = self.ledger
        self.metrics.bind_ledger(lambda: ledger.depth, lambda: ledger.written, lambda: ledger.spooled)
        self.metrics.bind_ledger_disk(lambda: ledger.unjournaled, lambda: float(ledger.accepting))
        await self.ledger.start()
        if s.detect_features:
            self.features = tap = FeatureTap(self.ledger.record_features)
            self.metrics.bind_features(lambda: tap.depth, lambda: tap.dropped)
            tap.start()
        self.registry = UpstreamRegistry(s.upstreams, self.environ)
        self.proxy = ProxyApp(
            self.pipeline(),
            self.registry,
            self.ledger,
            self.metrics,
            access_log=s.access_log,
            features=self.features.take if self.features is not None else None,
        )
        if s.clusters:
            from .clusters.admission import JobAdmission
            from .clusters.follower import Follower
            from .clusters.proxy import ClusterProxy
            from .clusters.registry import open_cluster

            self._clusters = [open_cluster(c, self.environ) for c in s.clusters]
            # Who, and verified: the same stages as the model APIs; the rest is the job's own.
            front = self.pipeline()[:4]
            jobs = JobAdmission(
                pool=self.pool, policy=lambda: policies.policy, meter=self.meter, audit=self.audit.record
            )
            self.cluster_proxy = ClusterProxy(
                self._clusters,
                front,
                jobs,
                self.ledger,
                max_body_bytes=s.max_body_bytes,
                refused_unattributed=self.metrics.refused_unattributed,
            )
            self.follower = Follower(self._clusters, self.pool, self.ledger)
            self.follower.start()
        # Everything allocated so far lives as long as the process: keep it out of the
        # collector's generations so each collection scans only per-request garbage.
        gc.freeze()
        _log.info(
            "gateway_started",
            upstreams=[u.name for u in s.upstreams],
            models=sorted(self.registry.by_model),
            keys=self.keys.size,
            pid=os.getpid(),
        )

    async def stop(self) -> None:
        """Called after the server has finished in-flight requests: flush, then close."""
        if self.follower is not None:
            await self.follower.stop()
        for cluster in self._clusters:
            await cluster.close()
        if self.meter is not None:
            await self.meter.stop()
        if self.features is not None:
            await self.features.stop()  # its last features go to the ledger, which is flushed next
        await self.ledger.stop()
        _log.info("ledger_flushed", written=self.ledger.written, spooled=self.ledger.spooled)
        await self.audit.stop()
        await self.expiry.stop()
        await self.checkpointer.stop()
        await self.flagger.stop()
        await self.partitions.stop()
        await self.detector.stop()
        for cache in (self.keys, self.standings, self.overrides):
            if cache is not None:
                await cache.stop()
        await self.registry.close()
        for validator in (self.oidc, self.regulator_oidc):
            if validator is not None:
                await validator.close()
        with contextlib.suppress(Exception):
            await self.pool.close()


class Runtime:
    """What the app holds for its whole life: the services only while they run."""

    def __init__(self, settings: Settings, environ: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.environ = os.environ if environ is None else environ
        self.metrics = Metrics()
        self.services: Services | None = None

    def running(self) -> Services:
        """The services, or 503 ``not_ready`` while the gateway is starting or stopping."""
        services = self.services
        if services is None:
            raise not_ready()
        return services

    async def start(self) -> None:
        self.services = await Services.start(self.settings, self.environ, self.metrics)

    async def stop(self) -> None:
        """Called after the server has finished in-flight requests: flush, then close."""
        services, self.services = self.services, None  # from here on, every request is not_ready
        if services is not None:
            await services.stop()
