"""What a detection run finds: :class:`Finding`, one account or one linked cluster, scored as a whole.

The engine (pure scoring over the ledger's call features) produces findings; the runner records them
as ``detect_clusters`` rows with stable ids and takes the policy's actions (``detect_actions``), each
in the audit log with its evidence.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

import msgspec

ClusterStatus = Literal["open", "confirmed", "dismissed"]
"""A flagged cluster's review state (``detect_clusters.status``); defined here, with no database
driver imported, so that the ``gateway`` command's parser can offer it without importing asyncpg."""
CLUSTER_STATUSES: tuple[ClusterStatus, ...] = ("open", "confirmed", "dismissed")

FindingKind = Literal["ring", "extractor", "reseller"]
"""``ring``: many linked accounts extracting together; ``extractor``: one account extracting;
``reseller``: one customer whose traffic looks like many end users behind its keys."""


class Link(msgspec.Struct, frozen=True, kw_only=True):
    """Why two accounts are in one cluster."""

    a: uuid.UUID
    b: uuid.UUID
    kind: str
    """``payment``, ``owner``, ``network``, ``template``, ``timing``, ..."""
    hard: bool
    """A hard link (same payment instrument, same beneficial owner) merges outright; soft links
    are weighed and clustered."""
    weight: float
    detail: str = ""


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    kind: FindingKind
    members: tuple[uuid.UUID, ...]
    """The accounts (customer ids), sorted."""
    score: float
    """0..1: how sure the detector is; the policy's action cutoffs apply to it."""
    signals: dict[str, float]
    """The named figures the score came from (e.g. ``reasoning_share``, ``volume_z``)."""
    reasons: tuple[str, ...]
    """The evidence in plain sentences, strongest first."""
    links: tuple[Link, ...] = ()
    """The links that hold the cluster together (the strongest, bounded)."""
    first_seen: dt.datetime
    """The earliest call in the evidence: when the campaign began, as far as the ledger shows."""
    since: dt.datetime
    until: dt.datetime
    """The window the run scored."""
