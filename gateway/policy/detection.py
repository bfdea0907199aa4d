"""Detection policy as typed data: ``[parameters.<name>]`` (extraction-friendly request parameters,
limited per tier and KYC level, checked on every request) and ``[detection]`` (how the detector
scores accounts and linked clusters, and what it does at each score).

Both live in ``policies/detection.toml``; the loader validates them like every other section and
they are part of the policy's hash.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

KycLevel = Literal["standard", "enhanced"]
DetectionMode = Literal["enforce", "shadow", "off"]
ActionName = Literal["flag", "throttle", "edd", "suspend"]
ACTION_NAMES: tuple[ActionName, ...] = ("flag", "throttle", "edd", "suspend")
"""From the mildest to the strongest; a score earns every action whose cutoff it reaches."""

_Fraction = Annotated[float, msgspec.Meta(ge=0, le=1)]


class ParameterRule(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Limits on the request parameters that make extraction cheap (logit-bias plus logprobs
    recovers a model's output layer: Carlini et al. 2024, Finlayson et al. 2024) for customers of
    some tiers and KYC levels. Every rule that matches a customer applies; for each limit the
    tightest wins."""

    tiers: tuple[str, ...] = ()
    """The tiers it applies to; empty: every tier."""
    kyc_levels: tuple[KycLevel, ...] = ()
    """The KYC levels it applies to; empty: both."""
    deny_logit_bias_with_logprobs: bool = False
    """Refuse a request that sets ``logit_bias`` and asks for log probabilities."""
    deny_logit_bias: bool = False
    deny_logprobs: bool = False
    max_top_logprobs: Annotated[int, msgspec.Meta(ge=0)] | None = None
    max_n: Annotated[int, msgspec.Meta(ge=1)] | None = None
    """Most completions per request."""
    notes: str = ""


class DetectionActions(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """The score (0..1) at which each action is taken; None: never taken automatically (an operator
    still can)."""

    flag: _Fraction = 0.5
    throttle: _Fraction | None = 0.8
    edd: _Fraction | None = None
    """Require enhanced due diligence: the customer goes back to review until an operator decides."""
    suspend: _Fraction | None = None
    throttle_requests_per_minute: Annotated[float, msgspec.Meta(gt=0)] = 6.0
    """The request rate a throttled account keeps (a quota override, removed when reversed)."""
    reseller: ActionName = "edd"
    """What a reseller finding asks for: reseller due diligence by default."""


class Detection(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """How the detector runs (``[detection]``)."""

    mode: DetectionMode = "enforce"
    """``enforce``: take the actions; ``shadow``: record what would be done; ``off``: do not run."""
    window_days: Annotated[int, msgspec.Meta(ge=1, le=90)] = 7
    """How much history each run scores."""
    scope: Literal["account", "cluster"] = "cluster"
    """Act on the account that scored, or on every account of its linked cluster."""
    actions: DetectionActions = DetectionActions()
