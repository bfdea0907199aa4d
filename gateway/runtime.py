"""Everything a running gateway holds: built at start-up, torn down at shutdown.

No module-level state: two runtimes (two apps in one test process) never share anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import structlog

from .auth import OIDCValidator
from .db import connect_pool, migrate, resolve_database_url
from .identity import KeyCache
from .kyc.service import KycService
from .kyc.standing import StandingCache
from .ledger import LedgerWriter
from .ops.metrics import Metrics
from .policy.loader import shipped_policy_dir
from .policy.store import PolicyStore, ReloadResult
from .proxy import ProxyApp, UpstreamRegistry
from .proxy.origin import OriginResolver
from .proxy.stages import Identify, KnowCustomer, Meter, Place, ReadBody, ResolveOrigin, RouteToUpstream
from .quota.meter import QuotaMeter
from .quota.overrides import OverrideCache
from .settings import Settings

if TYPE_CHECKING:
    from .clusters.cluster import Cluster
    from .clusters.follower import Follower
    from .clusters.proxy import ClusterProxy
    from .proxy.stages import Stage

_log = structlog.get_logger("gateway")
POLICY_CHANNEL = "gateway_policy"


def policy_dirs(settings: Settings) -> list[Path]:
    """The shipped policy, then the deployment's folder that overrides or extends it."""
    dirs = [shipped_policy_dir()]
    if settings.policy_dir is not None:
        dirs.append(Path(settings.policy_dir).expanduser())
    return dirs


class Runtime:
    def __init__(self, settings: Settings, environ: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.environ = os.environ if environ is None else environ
        self.metrics = Metrics()
        self.database_url: str | None = None
        self.pool: asyncpg.Pool | None = None
        self.keys: KeyCache | None = None
        self.standings: StandingCache | None = None
        self.kyc: KycService | None = None
        self.oidc: OIDCValidator | None = None
        self.policies: PolicyStore | None = None
        self.overrides: OverrideCache | None = None
        self.meter: QuotaMeter | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.ledger: LedgerWriter | None = None
        self.registry: UpstreamRegistry | None = None
        self.proxy: ProxyApp | None = None
        self.cluster_proxy: ClusterProxy | None = None
        self.follower: Follower | None = None
        self._clusters: list[Cluster] = []

    def pipeline(self) -> list[Stage]:
        """The request pipeline, in order. Each later capability is one more stage here."""
        assert self.keys is not None and self.standings is not None and self.registry is not None
        mode = self.settings.policy_mode
        stages: list[Stage] = [
            ResolveOrigin(OriginResolver(self.settings.trusted_proxies)),  # from where
            Identify(self.keys),  # who is calling
            KnowCustomer(self.standings),  # verified, and clear of sanctions?
            ReadBody(self.settings.max_body_bytes),  # what they ask for
            RouteToUpstream(self.registry),  # which upstream serves it
        ]
        if mode != "off":
            stages.append(Place(self.standings, shadow=mode == "shadow"))  # may they use it from here?
        if self.meter is not None:
            policies = self.policies
            assert policies is not None
            stages.append(  # within quota?
                Meter(self.meter, self.settings.quota_default_max_tokens, lambda: policies.policy.prices)
            )
        return stages

    async def start(self) -> None:
        s = self.settings
        self.database_url = resolve_database_url(s)
        self.pool = await connect_pool(self.database_url, s)
        async with self.pool.acquire() as conn:
            applied = await migrate(conn)
        if applied:
            _log.info("migrations_applied", versions=[m.version for m in applied])
        url = self.database_url
        self.keys = KeyCache(
            lambda: asyncpg.connect(url),
            self.pool,
            resync_seconds=s.key_cache_resync_seconds,
            max_staleness_seconds=s.key_cache_max_staleness_seconds,
        )
        await self.keys.start()
        self.policies = policies = PolicyStore(policy_dirs(s), s.state_path / "policy-last-good")
        self.standings = StandingCache(
            lambda: asyncpg.connect(url),
            self.pool,
            resync_seconds=s.key_cache_resync_seconds,
            max_staleness_seconds=s.key_cache_max_staleness_seconds,
            policy=lambda: policies.policy,
        )
        policies.subscribe(self.standings.recompile)
        # A reload on any replica or worker is announced here, so that all of them reload.
        self.standings.also_listen(POLICY_CHANNEL, self._on_policy_notice)
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
        self._sweeper = asyncio.create_task(self._expire_verifications(), name="kyc-expiry")
        self.ledger = LedgerWriter(
            self.pool,
            s.state_path / "spool",
            batch_size=s.ledger_batch_size,
            flush_interval=s.ledger_flush_interval_seconds,
            max_buffer=s.ledger_max_buffer,
        )
        ledger = self.ledger
        self.metrics.bind_ledger(lambda: ledger.depth, lambda: ledger.written, lambda: ledger.spooled)
        await self.ledger.start()
        self.registry = UpstreamRegistry(s.upstreams, self.environ)
        self.proxy = ProxyApp(
            self.pipeline(), self.registry, self.ledger, self.metrics, access_log=s.access_log
        )
        if s.clusters:
            from .clusters.admission import JobAdmission
            from .clusters.follower import Follower
            from .clusters.proxy import ClusterProxy
            from .clusters.registry import open_cluster

            self._clusters = [open_cluster(c, self.environ) for c in s.clusters]
            # Who, and verified: the same stages as the model APIs; the rest is the job's own.
            front = self.pipeline()[:3]
            jobs = JobAdmission(pool=self.pool, policy=lambda: policies.policy, meter=self.meter)
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

    def reload_policy(self, *, announce: bool = True) -> ReloadResult:
        """Load the policy folders again; on success every replica is told to do the same."""
        assert self.policies is not None
        result = self.policies.reload()
        if announce and result.ok and self.pool is not None:
            task = asyncio.get_running_loop().create_task(self._announce_policy(result.policy_hash))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return result

    def _on_policy_notice(self, _payload: str) -> None:
        self.reload_policy(announce=False)

    async def _announce_policy(self, policy_hash: str) -> None:
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            await conn.execute("select pg_notify($1, $2)", POLICY_CHANNEL, policy_hash)

    async def _expire_verifications(self) -> None:
        """Record expiries as they fall due; requests already see them (the cache compares dates)."""
        assert self.kyc is not None
        while True:
            try:
                assert self.pool is not None
                async with self.pool.acquire() as conn:
                    expired = await self.kyc.expire_due(conn)
                if expired:
                    _log.info("kyc_expired", customers=len(expired))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.warning("kyc_expiry_sweep_failed", error=type(exc).__name__)
            await asyncio.sleep(60)

    async def stop(self) -> None:
        """Called after the server has finished in-flight requests: flush, then close."""
        self.proxy = None
        self.cluster_proxy = None
        if self.follower is not None:
            await self.follower.stop()
        for cluster in self._clusters:
            await cluster.close()
        if self.meter is not None:
            await self.meter.stop()
        if self.ledger is not None:
            await self.ledger.stop()
            _log.info("ledger_flushed", written=self.ledger.written, spooled=self.ledger.spooled)
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for cache in (self.keys, self.standings, self.overrides):
            if cache is not None:
                await cache.stop()
        if self.registry is not None:
            await self.registry.close()
        if self.oidc is not None:
            await self.oidc.close()
        if self.pool is not None:
            with contextlib.suppress(Exception):
                await self.pool.close()
