"""The seam between the gateway's cluster side and each kind of cluster API: one adapter per kind.

The cluster proxy and the follower know no cluster's API. The proxy hands a customer's call to its
cluster's adapter (:meth:`ClusterAdapter.serve`), which reads a submission into a
:class:`~gateway.clusters.workload.Workload` (:meth:`ClusterAdapter.read_job`) and has it admitted
(:class:`~gateway.clusters.admission.JobAdmission`) before the cluster sees it. The follower asks the
adapter what became of the open jobs (:meth:`ClusterAdapter.observe`) and of submissions whose
answer was lost (:meth:`ClusterAdapter.find_lost`), and settles what it says through
:mod:`.settlement`. The adapters (:mod:`.slurm`, :mod:`.kubernetes`) never import each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Literal, Protocol

import msgspec

from ..errors import GatewayError
from .repository import OpenWorkload, Submitting
from .workload import Workload

if TYPE_CHECKING:
    from ..proxy.context import RequestContext
    from .admission import JobAdmission
    from .cluster import Cluster


class Observation(msgspec.Struct, frozen=True, kw_only=True):
    """What the cluster says of one open job now."""

    state: Literal["queued", "running", "ended", "gone"]
    """``gone``: the cluster no longer knows the job (forgotten, deleted) and cannot say how it ended."""
    native: str
    """The cluster's own word for it (``RUNNING``, ``COMPLETED``, ``Failed``, ``UNKNOWN`` ...)."""
    started_at: int | None = None
    """Epoch seconds, when it says."""
    ended_at: int | None = None
    run_seconds: float | None = None
    """For an ended job: how long it ran."""


Found = tuple[int, str | None]
"""How many cluster jobs could be a lost submission (-1: ambiguous), and its job id when exactly one."""

Claimed = Callable[[Sequence[str]], Awaitable[set[str]]]
"""Which of these job ids a workload of the gateway already has."""


class ClusterCall:
    """One customer call to a cluster's API, as the adapter serves it."""

    __slots__ = ("body", "cluster", "ctx", "jobs", "method", "path")

    def __init__(
        self, ctx: RequestContext, cluster: Cluster, jobs: JobAdmission, method: str, path: str, body: bytes
    ) -> None:
        self.ctx = ctx
        self.cluster = cluster
        self.jobs = jobs
        """Admits submissions, and holds the database pool for whose-job-is-it lookups."""
        self.method = method
        self.path = path
        """The API path under ``/clusters/<name>``, without a trailing ``/``."""
        self.body = body

    @property
    def customer(self) -> uuid.UUID:
        principal = self.ctx.principal
        assert principal is not None  # the front stages identify every caller first
        return principal.customer_id


class ClusterAdapter(Protocol):
    """What each kind of cluster API provides."""

    kind: str

    def auth_headers(self, user: str | None) -> list[tuple[str, str]]:
        """The cluster's own credential, for ``user`` (a customer's cluster identity) or, when None,
        the gateway's own. The customer's key never reaches a cluster."""

    def read_job(self, path: str, body: bytes) -> Workload:
        """A submission to ``path``, read into the workload that bounds it (400 naming the field)."""

    async def serve(self, call: ClusterCall) -> tuple[int, bytes, str]:
        """Answer a customer's call: ``(status, body, route)``, the route as the ledger names it."""

    def error_body(self, err: GatewayError, request_id: str) -> bytes:
        """A refusal in the shape the cluster's own clients read."""

    async def observe(
        self, cluster: Cluster, rows: Sequence[OpenWorkload], now: int
    ) -> list[tuple[OpenWorkload, Observation]]:
        """What the cluster says of each open job. A job that cannot be read now is left out (and
        logged); it is asked again on the next pass."""

    async def find_lost(
        self, cluster: Cluster, rows: Sequence[Submitting], *, window_seconds: float, claimed: Claimed
    ) -> dict[uuid.UUID, Found] | None:
        """For each submission whose answer was lost, the jobs that could be it (see
        :mod:`.reconcile`); None when the cluster could not be read (nothing can be concluded)."""
